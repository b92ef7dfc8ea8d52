#!/usr/bin/env python3
"""A chat client for the lagtap testbed: joins one IRC channel, sends uniquely worded
PRIVMSGs at jittered times, and logs what it sent and every PRIVMSG it received.

It asks for the IRCv3 caps `server-time` and `message-tags` when the server offers
them (inspircd does; ngircd does not), so received lines may carry `time=` and
`msgid=` tags.

--tls speaks IRC over TLS (Python's ssl; --tls-version, --keylog as in hls_viewer.py);
--websocket PATH speaks IRC over a WebSocket (RFC 6455, one IRC line per text
message, no CRLF), over TLS too with --tls (wss://server:port/PATH).

Log (JSON Lines), all times wall-clock ns:
  caps:   offered, acked
  joined: channel, t_ns
  send:   t_ns (just before the line was written to the socket), nick, channel,
          text, line (the raw line without CRLF)
  recv:   t_ns (recv() returned the bytes completing the line -- over TLS, the
          decrypted bytes; over a WebSocket, the bytes completing its message), raw,
          nick (sender), channel, text, tags {name: value}
  tls:    proto (ircs|wss), version, cipher, alpn, sni, local, remote,
          handshake_start_ns, t_ns (handshake done)        [--tls only]
  websocket: url, status (the handshake's HTTP status line), t_ns  [--websocket only]
"""

import argparse
import base64
import hashlib
import os
import random
import select
import socket
import ssl

from tblog import Deadline, JsonlLog, TlsClient, add_tls_args, host_name, now_ns

WANTED_CAPS = ("server-time", "message-tags")
WORDS = ("amber", "basil", "cobalt", "dune", "ember", "fjord", "garnet", "harbor",
         "indigo", "juniper", "kelp", "lumen", "meadow", "nectar", "onyx", "pebble")


def parse_line(line):
    """(tags, prefix, command, params) of one IRC line."""
    tags = {}
    if line.startswith("@"):
        raw_tags, _, line = line[1:].partition(" ")
        for item in raw_tags.split(";"):
            name, _, value = item.partition("=")
            tags[name] = value
    prefix = ""
    if line.startswith(":"):
        prefix, _, line = line[1:].partition(" ")
    head, sep, trailing = line.partition(" :")
    params = head.split()
    command = params.pop(0) if params else ""
    if sep:
        params.append(trailing)
    return tags, prefix, command, params


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


def ws_frame(payload, opcode=1):
    """One client-to-server WebSocket frame (FIN set, masked as RFC 6455 requires)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WsReader:
    """Reassembles server-to-client WebSocket messages from the bytes received."""

    def __init__(self):
        self.buf = b""
        self.fragments = b""

    def feed(self, data):
        """Complete frames in the buffer so far: [(opcode, payload)], continuation
        frames joined to their message."""
        self.buf += data
        out = []
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            n, pos = b1 & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    break
                n, pos = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                if len(self.buf) < 10:
                    break
                n, pos = int.from_bytes(self.buf[2:10], "big"), 10
            mask = b""
            if b1 & 0x80:  # servers do not mask, but allow it
                mask, pos = self.buf[pos:pos + 4], pos + 4
            if len(self.buf) < pos + n:
                break
            payload = self.buf[pos:pos + n]
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.buf = self.buf[pos + n:]
            opcode = b0 & 0x0F
            if opcode in (0, 1, 2) and not b0 & 0x80:
                self.fragments += payload
                continue
            if opcode == 0:
                payload, self.fragments = self.fragments + payload, b""
            out.append((opcode, payload))
        return out


class Client:
    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.tls = None
        if args.tls:  # ALPN only for wss, as browsers do
            self.tls = TlsClient(args, ["http/1.1"] if args.websocket else [])
        if self.tls:
            proto = "wss" if args.websocket else "ircs"
            self.sock = self.tls.connect(args.server, args.port, log, proto)
        else:
            self.sock = socket.create_connection((args.server, args.port), timeout=15)
        self.buf = b""
        self.offered = []
        self.ws = None
        if args.websocket:
            self.ws = WsReader()
            self.ws.buf = self._ws_handshake()  # frames that came with the handshake

    def _ws_handshake(self):
        """The client's opening handshake (RFC 6455, section 4.1); returns whatever
        came after the server's response (the first frames, if any)."""
        a = self.args
        scheme = "wss" if a.tls else "ws"
        default_port = 443 if a.tls else 80
        host = a.server if a.port == default_port else f"{a.server}:{a.port}"
        key = base64.b64encode(os.urandom(16))
        request = (f"GET {a.websocket} HTTP/1.1\r\nHost: {host}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Origin: {'https' if a.tls else 'http'}://{host}\r\n"
                   "User-Agent: lagtap-testbed-chat\r\n\r\n")
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection during the handshake")
            response += data
        head, _, rest = response.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        self.log.write("websocket", url=f"{scheme}://{host}{a.websocket}", status=lines[0])
        if lines[0].split()[1:2] != ["101"] or headers.get("sec-websocket-accept") != accept:
            raise ConnectionError(f"WebSocket handshake refused: {lines[0]}")
        return rest

    def send(self, line):
        if self.ws:
            self.sock.sendall(ws_frame(line.encode()))
        else:
            self.sock.sendall(line.encode() + b"\r\n")

    def _recv(self):
        """The bytes select() said are there (b"" when the server closed), or None
        when over TLS they were only records without application data (e.g. TLS 1.3
        session tickets)."""
        if not self.tls:
            return self.sock.recv(65536)
        self.sock.settimeout(0.0)
        try:
            return self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return None
        finally:
            self.sock.settimeout(15)

    def lines(self, timeout):
        """Lines that arrive within `timeout` seconds, each with its receive time."""
        if not (self.tls and self.sock.pending()):
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return []
        data = self._recv()
        t_ns = now_ns()
        if data is None:
            return []
        if not data:
            raise ConnectionError("server closed the connection")
        if self.ws:
            out = []
            for opcode, payload in self.ws.feed(data):
                if opcode in (1, 2):
                    out += [(t_ns, raw.decode("utf-8", "replace"))
                            for raw in payload.split(b"\r\n") if raw]
                elif opcode == 9:  # ping
                    self.sock.sendall(ws_frame(payload, opcode=10))
                elif opcode == 8:
                    raise ConnectionError("server closed the WebSocket")
            return out
        self.buf += data
        *complete, self.buf = self.buf.split(b"\r\n")
        return [(t_ns, raw.decode("utf-8", "replace")) for raw in complete if raw]

    def handle(self, t_ns, raw):
        tags, prefix, command, params = parse_line(raw)
        if command == "PING":
            self.send("PONG :" + (params[-1] if params else ""))
        elif command == "CAP" and len(params) >= 3 and params[1] == "LS":
            self.offered += params[-1].split()
            if params[2] != "*":  # last line of a multi-line LS
                names = {c.split("=")[0] for c in self.offered}
                want = [c for c in WANTED_CAPS if c in names]
                self.send("CAP REQ :" + " ".join(want) if want else "CAP END")
                if not want:
                    self.log.write("caps", offered=self.offered, acked=[])
        elif command == "CAP" and len(params) >= 3 and params[1] in ("ACK", "NAK"):
            acked = params[-1].split() if params[1] == "ACK" else []
            self.log.write("caps", offered=self.offered, acked=acked)
            self.send("CAP END")
        elif command == "001":
            self.send("JOIN " + self.args.channel)
        elif command == "366":
            self.log.write("joined", channel=self.args.channel, t_ns=t_ns)
            return "joined"
        elif command == "PRIVMSG":
            self.log.write("recv", t_ns=t_ns, raw=raw, nick=prefix.split("!")[0],
                           channel=params[0], text=params[-1], tags=tags)
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, help="default 6667, 6697 with --tls, or 80/443 "
                                             "with --websocket")
    ap.add_argument("--tls", action="store_true", help="over TLS (ircs, or wss)")
    ap.add_argument("--websocket", metavar="PATH",
                    help="IRC over a WebSocket at this path (e.g. /irc)")
    add_tls_args(ap)
    ap.add_argument("--nick", required=True)
    ap.add_argument("--channel", default="#lagtap")
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--first-after", type=float, default=5.0,
                    help="seconds after joining before the first message")
    ap.add_argument("--interval", type=float, default=4.0,
                    help="mean seconds between messages (jittered +-50%%)")
    ap.add_argument("--quiet-tail", type=float, default=3.0,
                    help="stop sending this many seconds before the end")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    if args.port is None:
        args.port = {(False, False): 6667, (True, False): 6697,
                     (False, True): 80, (True, True): 443}[(args.tls, bool(args.websocket))]

    host = host_name()
    log = JsonlLog(args.log, host)
    deadline = Deadline(args.duration)
    rng = random.Random(f"{host}-{args.nick}-{now_ns()}")
    client = Client(args, log)
    client.send("CAP LS 302")
    client.send(f"NICK {args.nick}")
    client.send(f"USER {args.nick} 0 * :lagtap testbed {host}")

    next_send = None
    count = 0
    while not deadline.done():
        wait = deadline.remaining_s()
        if next_send is not None:
            wait = min(wait, max(0.0, (next_send - now_ns()) / 1e9))
        for t_ns, raw in client.lines(wait):
            if client.handle(t_ns, raw) == "joined":
                next_send = now_ns() + int(args.first_after * 1e9)
        if next_send is not None and now_ns() >= next_send:
            if deadline.remaining_s() > args.quiet_tail:
                count += 1
                text = (f"{args.nick} #{count:04d} {rng.choice(WORDS)} "
                        f"{rng.choice(WORDS)} {rng.randrange(16**6):06x}")
                line = f"PRIVMSG {args.channel} :{text}"
                t_ns = now_ns()
                client.send(line)
                log.write("send", t_ns=t_ns, nick=args.nick, channel=args.channel,
                          text=text, line=line)
            jitter = rng.uniform(0.5, 1.5) * args.interval
            next_send = now_ns() + int(jitter * 1e9)
    client.send("QUIT :lagtap testbed done")
    if client.ws:
        client.sock.sendall(ws_frame(b"\x03\xe8", opcode=8))  # close, 1000 (normal)
    client.sock.close()
    log.write("stop")
    log.close()


if __name__ == "__main__":
    main()
