"""Shared bits of the testbed's Python clients: wall-clock time, JSON Lines logs,
sockets that say when the kernel received what they read, and TLS client
connections that write their secrets to a key log.

Every record carries `t_ns` (time.time_ns(): wall clock, integer ns since the epoch,
the same clock the captures on this machine use) and the `host` that wrote it.
"""

import json
import os
import signal
import socket
import ssl
import struct
import threading
import time

# Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS), which Python's socket module does not
# name: recvmsg() then carries the receive time of the newest skb it consumed.
SO_TIMESTAMPNS = 35


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


class TimedSocket:
    """A connected TCP socket (TCP_NODELAY) whose every read says when recvmsg()
    returned and when the kernel received the newest packet it consumed
    (SO_TIMESTAMPNS: when the bytes reached this host, whatever the scheduler did to
    the Python process after)."""

    def __init__(self, server, port, timeout=5):
        self.sock = socket.create_connection((server, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def recv(self):
        """(data, t_ns, kernel_ns); ConnectionError when the peer closed."""
        data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        t = now_ns()
        if not data:
            raise ConnectionError("closed")
        kernel_ns = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                sec, nsec = struct.unpack("qq", value[:16])
                kernel_ns = sec * 1_000_000_000 + nsec
        return data, t, kernel_ns

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class TimedTls:
    """TLS on a TimedSocket through memory BIOs (an SSLSocket has no recvmsg(), so no
    receive times): each read gives the plaintext of the records the last recvmsg()
    completed, with that recvmsg()'s times."""

    def __init__(self, ctx, raw, server_hostname):
        self.raw = raw
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
        self._flush()

    def _flush(self):
        out = self.outgoing.read()
        if out:
            self.raw.sendall(out)

    def _fill(self):
        data, t, kernel_ns = self.raw.recv()
        self.incoming.write(data)
        return t, kernel_ns

    def recv(self):
        """(plaintext, t_ns, kernel_ns) of the first recvmsg() that completed records
        with application data; ConnectionError at the peer's close_notify."""
        t, kernel_ns = now_ns(), None  # records already in hand: no packet to name
        while True:
            out = bytearray()
            try:
                while True:
                    piece = self.obj.read(65536)
                    if not piece:
                        raise ConnectionError("close_notify")
                    out += piece
            except ssl.SSLWantReadError:
                pass
            self._flush()  # e.g. a key update's reply
            if out:
                return bytes(out), t, kernel_ns
            t, kernel_ns = self._fill()

    def sendall(self, data):
        self.obj.write(data)
        self._flush()

    def close(self):
        self.raw.close()


TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def add_tls_args(ap):
    """The TLS options the viewer and the chat client share."""
    ap.add_argument("--tls-version", choices=sorted(TLS_VERSIONS),
                    help="allow only this TLS version (default: 1.2 or 1.3, as agreed)")
    ap.add_argument("--keylog", help="append the TLS secrets to FILE (NSS key log format)")
    ap.add_argument("--sni", help="server name to send (default: none when --server is an "
                                  "address) and to check the certificate against")
    ap.add_argument("--cafile", help="verify the server's certificate against FILE "
                                     "instead of the system's CAs")
    ap.add_argument("--insecure", action="store_true",
                    help="do not verify the server's certificate")
    ap.add_argument("--ciphers", help="OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites "
                                      "stay OpenSSL's default)")


class TlsClient:
    """Client TLS settings: an ssl.SSLContext, the server name to send, and a log
    record per connection (version, cipher, ALPN, both endpoints)."""

    def __init__(self, args, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, name (or address) too
        if args.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif args.cafile:
            ctx.load_verify_locations(args.cafile)
        else:
            ctx.load_default_certs()
        if args.tls_version:
            ctx.minimum_version = ctx.maximum_version = TLS_VERSIONS[args.tls_version]
        if args.ciphers:
            ctx.set_ciphers(args.ciphers)
        if args.keylog:
            ctx.keylog_filename = args.keylog  # appends; OpenSSL writes each secret at once
        ctx.set_alpn_protocols(alpn)
        self.ctx = ctx
        self.sni = args.sni

    def connect(self, server, port, log, proto, timeout=15):
        """TCP connect and TLS handshake; logs a `tls` record; returns the SSLSocket."""
        start_ns = now_ns()
        raw = socket.create_connection((server, port), timeout=timeout)
        sock = self.ctx.wrap_socket(raw, server_hostname=self.sni or server)
        self._log(log, proto, sock, sock, start_ns)
        return sock

    def connect_timed(self, server, port, log, proto, timeout=15):
        """As connect, on a TimedSocket: returns a TimedTls (reads with receive times)."""
        start_ns = now_ns()
        raw = TimedSocket(server, port, timeout)
        tls = TimedTls(self.ctx, raw, self.sni or server)
        self._log(log, proto, tls.obj, raw.sock, start_ns)
        return tls

    def _log(self, log, proto, tls, sock, start_ns):
        """The `tls` record of a connection: tls is the SSLSocket or SSLObject, sock
        the TCP socket under it."""
        local, remote = sock.getsockname(), sock.getpeername()
        log.write("tls", proto=proto, version=tls.version(), cipher=tls.cipher()[0],
                  alpn=tls.selected_alpn_protocol(), sni=self.sni,
                  local=f"{local[0]}:{local[1]}", remote=f"{remote[0]}:{remote[1]}",
                  handshake_start_ns=start_ns)
