#!/usr/bin/env python3
"""An RTMPT client for a plain RTMP client: one tunnel over a pool of HTTP connections.

ffmpeg's ``rtmpt://`` client keeps a whole tunnel on one keep-alive connection. Other
clients (Flash Player through a browser's connection pool) send each request on
whichever connection is free, so one tunnel is spread over several connections and
its requests may reach the server out of order. This shim does that for any RTMP
client: it accepts one plain RTMP connection (ffmpeg publishing to
``rtmp://127.0.0.1:PORT/app/key``), opens a tunnel with ``POST /open/1`` and carries
the RTMP bytes both ways over ``POOL`` keep-alive HTTP/1.1 connections:

- a request is numbered (``/send/<id>/<seq>`` with what the RTMP client sent since
  the last request, at most ``MAX_SEND`` bytes, or ``/idle/<id>/<seq>`` when it sent
  nothing for a poll interval) when a connection is free to take it, numbers
  counting from 0 in the order the bytes came;
- a random delay of up to ``JITTER_MS`` between numbering and sending stands for
  the scheduling of a real client's connection pool, so that a request often goes
  out before the one numbered just below it;
- each response body is one polling-interval byte and the server's RTMP bytes; they
  are handed to the RTMP client in the order of the requests' numbers.

Written from the protocol as Adobe's clients use it (no code of any other
implementation). Usage:
  rtmpt_pool_client.py LISTEN_PORT HTTP_HOST HTTP_PORT POOL LOG.jsonl [JITTER_MS]
The log has one JSON line per request: time sent and answered, the pool connection
(and its local port), seq, kind, request and response body lengths.
"""

import http.client
import json
import random
import socket
import sys
import threading
import time

MAX_SEND = 4096
POLL_S = 0.02


class Tunnel:
    def __init__(self, host, port, pool, log, jitter_ms):
        self.host, self.port = host, port
        self.log = log
        self.jitter = jitter_ms / 1000.0
        self.lock = threading.Condition()
        self.out = bytearray()  # from the RTMP client, not yet sent
        self.client_done = False
        self.seq = 0
        self.replies = {}  # seq -> server bytes, until their turn
        self.next_reply = 0
        self.in_flight = 0
        self.log_lock = threading.Lock()
        conn = http.client.HTTPConnection(host, port)
        conn.request("POST", "/open/1", body=b"\0", headers=self._headers())
        r = conn.getresponse()
        self.id = r.read().decode().strip()
        conn.close()
        self.pool = [http.client.HTTPConnection(host, port) for _ in range(pool)]

    @staticmethod
    def _headers():
        return {"Content-Type": "application/x-fcs", "Connection": "Keep-Alive"}

    def record(self, **rec):
        with self.log_lock:
            self.log.write(json.dumps(rec) + "\n")
            self.log.flush()

    def take(self):
        """The next request: (seq, kind, body), or None when the tunnel is over."""
        with self.lock:
            if not self.out and not self.client_done:
                self.lock.wait(POLL_S)
            if self.client_done and not self.out:
                return None
            body = bytes(self.out[:MAX_SEND])
            del self.out[: len(body)]
            seq = self.seq
            self.seq += 1
            self.in_flight += 1
        return seq, ("send" if body else "idle"), body

    def worker(self, index, rtmp_sock):
        conn = self.pool[index]
        while True:
            job = self.take()
            if job is None:
                return
            seq, kind, body = job
            time.sleep(random.uniform(0, self.jitter))
            sent_ns = time.time_ns()
            conn.request(
                "POST", f"/{kind}/{self.id}/{seq}", body=body or b"\0", headers=self._headers()
            )
            reply = conn.getresponse().read()
            local = conn.sock.getsockname()[1] if conn.sock else None
            self.record(
                sent_ns=sent_ns, answered_ns=time.time_ns(), conn=index, local_port=local,
                seq=seq, kind=kind, **{"in": len(body) if body else 1, "out": len(reply)},
            )
            with self.lock:
                self.replies[seq] = reply[1:]
                while self.next_reply in self.replies:
                    data = self.replies.pop(self.next_reply)
                    self.next_reply += 1
                    if data:
                        try:
                            rtmp_sock.sendall(data)
                        except OSError:
                            pass
                self.in_flight -= 1
                self.lock.notify_all()

    def close(self):
        with self.lock:
            while self.in_flight:
                self.lock.wait(1)
            seq = self.seq
            self.seq += 1
        conn = self.pool[0]
        sent_ns = time.time_ns()
        conn.request("POST", f"/close/{self.id}/{seq}", body=b"\0", headers=self._headers())
        reply = conn.getresponse().read()
        self.record(sent_ns=sent_ns, answered_ns=time.time_ns(), conn=0,
                    local_port=conn.sock.getsockname()[1] if conn.sock else None,
                    seq=seq, kind="close", **{"in": 1, "out": len(reply)})
        for c in self.pool:
            c.close()


def main():
    listen_port, host, port, pool, log_path = sys.argv[1:6]
    jitter = float(sys.argv[6]) if len(sys.argv) > 6 else 8.0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(listen_port)))
    srv.listen(1)
    rtmp, _ = srv.accept()
    with open(log_path, "w", encoding="utf-8") as log:
        t = Tunnel(host, int(port), int(pool), log, jitter)
        t.record(open=t.id, pool=int(pool), max_send=MAX_SEND, jitter_ms=jitter)
        workers = [
            threading.Thread(target=t.worker, args=(i, rtmp), daemon=True)
            for i in range(int(pool))
        ]
        for w in workers:
            w.start()
        while True:
            data = rtmp.recv(65536)
            with t.lock:
                if not data:
                    t.client_done = True
                    t.lock.notify_all()
                    break
                t.out += data
                t.lock.notify_all()
        for w in workers:
            w.join()
        t.close()
        rtmp.close()


if __name__ == "__main__":
    main()
