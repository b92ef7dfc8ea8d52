#!/usr/bin/env python3
"""An RTMPT server in front of a plain RTMP server: RTMP tunnelled over HTTP.

nginx-rtmp speaks no RTMPT, so this gateway ends the HTTP side and opens one TCP
connection to the RTMP server per tunnel. Written from the protocol as Adobe's
clients and servers use it (no code of any other implementation):

- ``POST /fcs/ident2``: the client probing for a server; answered 404 as FMS does.
- ``POST /open/1``: a new tunnel; the response body is its id and a newline.
- ``POST /send/<id>/<seq>``: the request body is RTMP bytes for the server.
- ``POST /idle/<id>/<seq>``: a poll, nothing to send.
- ``POST /close/<id>/<seq>``: the client ends the tunnel.

Every response to send/idle/close has content type ``application/x-fcs`` and a body
of one byte, the polling interval the client should wait before its next idle poll
(1 when there was data, growing while there is none, as FMS does), followed by the
RTMP bytes the server sent since the last response. Bodies are Content-Length
framed, connections kept alive (HTTP/1.1).

Usage: rtmpt_gateway.py LISTEN_HOST LISTEN_PORT RTMP_HOST RTMP_PORT [LOG.jsonl]
The log has one JSON line per request (time, path, the client's port, bytes in,
bytes out, whether it waited in vain for its turn).

Requests of a tunnel are served in the order of their sequence numbers: a client
that spreads a tunnel over several connections (rtmpt_pool_client.py) may have
request n+1 arrive before request n, which then waits for its turn.
"""

import http.server
import json
import secrets
import socket
import sys
import threading
import time


class Tunnel:
    """One RTMP connection behind an RTMPT session; a reader thread collects what
    the server sends until the next response takes it."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = bytearray()
        self.lock = threading.Condition()
        self.closed = False
        self.interval = 1
        # Requests are served in the order of their numbers, whatever connection
        # and order they came in (a client may use several connections): the RTMP
        # bytes of a send go to the server, and what the server sent goes to the
        # client, in that order.
        self.turn = threading.Condition()
        self.next_seq = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.lock:
                if not data:
                    self.closed = True
                    self.lock.notify_all()
                    return
                self.buf += data
                self.lock.notify_all()

    def take(self, wait):
        """What the server sent so far, waiting up to `wait` seconds for some."""
        with self.lock:
            if not self.buf and not self.closed and wait > 0:
                self.lock.wait(wait)
            data = bytes(self.buf)
            self.buf.clear()
        # FMS-style interval: 1 after data, doubling up to 0x21 while idle.
        self.interval = 1 if data else min(self.interval * 2, 0x21)
        return bytes([self.interval]) + data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnels = {}
    upstream = None
    log = None

    def log_message(self, *args):
        pass

    def _reply(self, status, body, ctype="application/x-fcs"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.strip("/").split("/")
        out = None
        waited = False
        if parts[0] == "open":
            sid = secrets.token_hex(8)
            Handler.tunnels[sid] = Tunnel(*Handler.upstream)
            out = (sid + "\n").encode()
            self._reply(200, out)
        elif parts[0] in ("send", "idle", "close") and len(parts) >= 3:
            t = Handler.tunnels.get(parts[1])
            seq = int(parts[2]) if parts[2].isdigit() else None
            if t is not None and seq is not None:
                with t.turn:
                    # A request numbered past the next one waits for its turn (at
                    # most 5 s: a lost request must not stop the tunnel).
                    waited = not t.turn.wait_for(lambda: t.next_seq >= seq, timeout=5)
            if t is None:
                self._reply(404, b"", "text/plain")
            else:
                if parts[0] == "send" and body:
                    t.sock.sendall(body)
                if parts[0] == "close":
                    t.close()
                    Handler.tunnels.pop(parts[1], None)
                    out = bytes([0])
                else:
                    # A send may get the answer to what it carried; a poll waits a
                    # little for data rather than answer empty at once.
                    out = t.take(0.005 if parts[0] == "send" else 0.02)
                self._reply(200, out)
                if seq is not None:
                    with t.turn:
                        t.next_seq = max(t.next_seq, seq + 1)
                        t.turn.notify_all()
        else:
            self._reply(404, b"", "text/plain")
        if Handler.log:
            rec = {
                "t_ns": time.time_ns(),
                "path": self.path,
                "client_port": self.client_address[1],
                "in": len(body),
                "out": len(out) if out is not None else 0,
                "turn_timeout": waited,
            }
            Handler.log.write(json.dumps(rec) + "\n")
            Handler.log.flush()


def main():
    listen_host, listen_port, rtmp_host, rtmp_port = sys.argv[1:5]
    Handler.upstream = (rtmp_host, int(rtmp_port))
    if len(sys.argv) > 5:
        Handler.log = open(sys.argv[5], "a", encoding="utf-8")
    server = http.server.ThreadingHTTPServer((listen_host, int(listen_port)), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
