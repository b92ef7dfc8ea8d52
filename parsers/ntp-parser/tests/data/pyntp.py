#!/usr/bin/env python3
"""A plain NTPv4 client (mode 3) that writes its real transmit time, like ntpd does,
so pairing by origin == transmit also carries the client's own T1. Loopback only."""
import socket, struct, time
NTP_DELTA = 2208988800
def ntp64(t):
    sec = int(t) + NTP_DELTA
    frac = int((t - int(t)) * (1 << 32)) & 0xffffffff
    return struct.pack(">II", sec, frac)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(2):
    pkt = bytes([0x23, 0, 6, 0xec]) + b"\0" * 8 + b"\0" * 4 + b"\0" * 24 + ntp64(time.time())
    s.sendto(pkt, ("127.0.0.1", 123))
    print(s.recvfrom(512)[0].hex())
    time.sleep(0.2)
# A request with 4 stray bytes after the 48-byte header (not a valid extension field):
# chronyd ignores it; the parser must still read the header.
pkt = bytes([0x23, 0, 6, 0xec]) + b"\0" * 36 + ntp64(time.time()) + b"\xde\xad\xbe\xef"
s.sendto(pkt, ("127.0.0.1", 123))
time.sleep(0.2)
# NTPv3 request too (VN=3), to show the server answers v3.
pkt = bytes([0x1b, 0, 6, 0xec]) + b"\0" * 36 + ntp64(time.time())
s.sendto(pkt, ("127.0.0.1", 123)); print(s.recvfrom(512)[0].hex())
