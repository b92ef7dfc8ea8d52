#!/usr/bin/env python3
"""Drive a real IRC session against inspircd on loopback: alice over plain TCP
(port 16667, IRCv3 caps), bob over WebSocket (port 16668, hand-written RFC 6455
client framing with masking, fragmentation and control frames)."""
import base64, os, socket, struct, time

def recv_until(s, needle, timeout=5.0):
    s.settimeout(timeout)
    buf = b""
    end = time.time() + timeout
    while needle not in buf and time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf

def ws_frame(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if mask:
        key = os.urandom(4)
        body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        return hdr + key + body
    return hdr + payload

class WS:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Origin: http://127.0.0.1\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n" % (port, key))
        self.s.sendall(req.encode())
        print(recv_until(self.s, b"\r\n\r\n").decode(errors="replace"))
    def text(self, s):
        self.s.sendall(ws_frame(1, s.encode()))
    def raw(self, b):
        self.s.sendall(b)

a = socket.create_connection(("127.0.0.1", 16667))
a.sendall(b"CAP LS 302\r\n")
print(recv_until(a, b"CAP * LS"))
a.sendall(b"CAP REQ :server-time message-tags echo-message\r\nNICK alice\r\nUSER alice 0 * :Alice Tester\r\n")
print(recv_until(a, b"ACK"))
a.sendall(b"CAP END\r\n")
print(recv_until(a, b" 376 ").decode(errors="replace")[-300:])

bob = WS(16668)
bob.text("CAP LS 302")
time.sleep(0.2)
bob.text("CAP REQ :server-time message-tags")
time.sleep(0.2)
bob.text("NICK bob")
time.sleep(0.1)
bob.text("USER bob 0 * :Bob Tester")
time.sleep(0.2)
bob.text("CAP END")
time.sleep(0.5)
a.sendall(b"JOIN #lagtap\r\n")
time.sleep(0.3)
bob.text("JOIN #lagtap")
time.sleep(0.5)
a.sendall(b"@+client-nonce=abc123 PRIVMSG #lagtap :hello from alice\r\n")
time.sleep(0.3)
a.sendall(b"PRIVMSG #lagtap :second; with semicolon \\ and backslash\r\n")
time.sleep(0.3)
# bob answers: a fragmented text message (text + continuation), then a ping control
# frame between fragments, as RFC 6455 allows.
msg = b"PRIVMSG #lagtap :hi alice, bob here over websocket"
bob.raw(ws_frame(1, msg[:20], fin=False))
bob.raw(ws_frame(9, b"ping-mid"))
bob.raw(ws_frame(0, msg[20:], fin=True))
time.sleep(0.3)
bob.text("NOTICE #lagtap :a notice")
time.sleep(0.3)
a.sendall(b"@+client-nonce=n\\s1\\:x\\\\y PRIVMSG #lagtap :escaped tag value\r\n")
time.sleep(0.3)
a.sendall(b"PING :lagtap-1\r\n")
time.sleep(0.3)
a.sendall(b"NICK alice2\r\n")
time.sleep(0.3)
a.sendall(b"PRIVMSG #lagtap :renamed, still here\r\n")
time.sleep(0.3)
# A 16-bit-length frame from bob (over 125 bytes).
bob.text("PRIVMSG #lagtap :" + "long " * 40)
time.sleep(0.3)
bob.text("PART #lagtap :bye")
time.sleep(0.3)
bob.raw(ws_frame(8, struct.pack(">H", 1000) + b"done"))
time.sleep(0.3)
a.sendall(b"QUIT :bye\r\n")
time.sleep(0.5)
print(recv_until(a, b"ERROR", 2).decode(errors="replace")[-600:])
