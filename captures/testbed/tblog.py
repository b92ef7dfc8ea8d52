"""Shared bits of the testbed's Python clients: wall-clock time and JSON Lines logs.

Every record carries `t_ns` (time.time_ns(): wall clock, integer ns since the epoch,
the same clock the captures on this machine use) and the `host` that wrote it.
"""

import json
import os
import signal
import threading
import time


def now_ns():
    return time.time_ns()


class JsonlLog:
    """Append-only JSON Lines log; flushed after every record so a killed client
    still leaves everything it logged."""

    def __init__(self, path, host):
        self.host = host
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, event, **fields):
        rec = {"event": event, "host": self.host}
        rec.setdefault("t_ns", now_ns())
        rec.update(fields)
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()

    def close(self):
        self.f.close()


class Deadline:
    """Run until a wall-clock deadline or until SIGTERM/SIGINT, whichever is first."""

    def __init__(self, duration_s):
        self.end_ns = now_ns() + int(duration_s * 1e9)
        self.stopped = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, _signum, _frame):
        self.stopped = True

    def remaining_s(self):
        return max(0.0, (self.end_ns - now_ns()) / 1e9)

    def done(self):
        return self.stopped or now_ns() >= self.end_ns


def host_name():
    """The testbed host this client runs on (set by testbed.sh), else the hostname."""
    return os.environ.get("LAGTAP_HOST") or os.uname().nodename
