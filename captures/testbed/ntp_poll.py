#!/usr/bin/env python3
"""Query the testbed's NTP server every few seconds with ntpdig (ntpsec), so that
every host's capture holds NTP client/server exchanges. Never sets the clock.

Log (JSON Lines): ntp: t_ns (just before ntpdig ran), rc, result (ntpdig's JSON:
offset and precision in seconds, stratum, ...) or stderr on failure.
"""

import argparse
import json
import random
import subprocess
import time

from tblog import Deadline, JsonlLog, host_name, now_ns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--interval", type=float, default=5.0, help="mean seconds between queries")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    log = JsonlLog(args.log, host_name())
    deadline = Deadline(args.duration)
    rng = random.Random()
    while not deadline.done():
        t_ns = now_ns()
        proc = subprocess.run(["ntpdig", "-j", "-t", "2", args.server],
                              capture_output=True, text=True, check=False)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            result = None
        log.write("ntp", t_ns=t_ns, rc=proc.returncode, result=result,
                  stderr=proc.stderr.strip() or None)
        time.sleep(min(deadline.remaining_s(), rng.uniform(0.8, 1.2) * args.interval))
    log.write("stop")
    log.close()


if __name__ == "__main__":
    main()
