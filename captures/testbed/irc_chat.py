#!/usr/bin/env python3
"""A chat client for the lagtap testbed: joins one IRC channel, sends uniquely worded
PRIVMSGs at jittered times, and logs what it sent and every PRIVMSG it received.

It asks for the IRCv3 caps `server-time` and `message-tags` when the server offers
them (inspircd does; ngircd does not), so received lines may carry `time=` and
`msgid=` tags.

Log (JSON Lines), all times wall-clock ns:
  caps:   offered, acked
  joined: channel, t_ns
  send:   t_ns (just before the line was written to the socket), nick, channel,
          text, line (the raw line without CRLF)
  recv:   t_ns (recv() returned the bytes completing the line), raw, nick (sender),
          channel, text, tags {name: value}
"""

import argparse
import random
import select
import socket

from tblog import Deadline, JsonlLog, host_name, now_ns

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


class Client:
    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.sock = socket.create_connection((args.server, args.port), timeout=15)
        self.buf = b""
        self.offered = []

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def lines(self, timeout):
        """Lines that arrive within `timeout` seconds, each with its receive time."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        data = self.sock.recv(65536)
        t_ns = now_ns()
        if not data:
            raise ConnectionError("server closed the connection")
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
    ap.add_argument("--port", type=int, default=6667)
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
    client.sock.close()
    log.write("stop")
    log.close()


if __name__ == "__main__":
    main()
