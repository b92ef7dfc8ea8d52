#!/usr/bin/env python3
"""Two IRC clients on loopback against InspIRCd (port 16670), from fixed source
ports so each can be captured on its own as if on its own host: carol (40001) and
dave (40002). carol asks for IRCv3 server-time, message tags and echo-message; dave
is a plain RFC 1459 client, whose untagged lines tshark's IRC dissector reads
whole. carol's first NOTICE goes out before dave joins, and later lines repeat
its words as a PRIVMSG and as an ACTION, so only matching by command pairs each copy
with the line that was really sent. Every line sent is printed with its send time
(client.log)."""
import socket, sys, time

PORT = 16670

def connect(nick, sport, caps):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", sport))
    s.connect(("127.0.0.1", PORT))
    if caps:
        send(s, nick, "CAP REQ :server-time message-tags echo-message")
    send(s, nick, "NICK %s" % nick)
    send(s, nick, "USER %s 0 * :%s" % (nick, nick))
    if caps:
        send(s, nick, "CAP END")
    # End of MOTD, or no MOTD: registration is complete.
    wait(s, (b" 376 ", b" 422 "))
    return s

def send(s, who, line):
    print("%.6f %s > %r" % (time.time(), who, line), flush=True)
    s.sendall(line.encode() + b"\r\n")

def wait(s, needles, timeout=5.0):
    s.settimeout(timeout)
    buf, end = b"", time.time() + timeout
    while not any(n in buf for n in needles) and time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf

clients = {
    "carol": connect("carol", 40001, caps=True),
    "dave": connect("dave", 40002, caps=False),
}
STEPS = [
    ("carol", "JOIN #cmd"),
    ("carol", "NOTICE #cmd :same words"),
    ("dave", "JOIN #cmd"),
    ("carol", "PRIVMSG #cmd :same words"),
    ("carol", "PRIVMSG #cmd :\x01ACTION waves\x01"),
    ("carol", "PRIVMSG #cmd :waves"),
    ("carol", "NOTICE #cmd :a notice"),
    ("dave", "NOTICE #cmd :same words"),
    ("dave", "PRIVMSG #cmd :\x01ACTION nods\x01"),
    ("dave", "PRIVMSG #cmd :same words"),
]
for who, line in STEPS:
    send(clients[who], who, line)
    time.sleep(0.3)
for who, s in clients.items():
    send(s, who, "QUIT :bye")
    wait(s, (b"ERROR",), 2)
    s.close()
