#!/usr/bin/env python3
"""Extract each direction of each TCP stream in irc.pcap as raw bytes with tshark.

Writes <name>.c2s.bin / <name>.s2c.bin for stream 0 (plain IRC, port 16667) and
stream 1 (IRC over WebSocket, port 16668). The client is node 0 in tshark's follow
output (it sent the first byte); server chunks are indented with a tab."""
import subprocess, sys, os
here = os.path.dirname(os.path.abspath(__file__))
for stream, name in ((0, "plain"), (1, "websocket")):
    out = subprocess.run(["tshark", "-r", os.path.join(here, "irc.pcap"), "-q", "-z",
                          "follow,tcp,raw,%d" % stream], capture_output=True, text=True, check=True).stdout
    body = out.split("=" * 67)[1].splitlines()
    c2s, s2c = bytearray(), bytearray()
    for line in body:
        if not line or line.startswith(("Follow:", "Filter:", "Node ")):
            continue
        if line.startswith("\t"):
            s2c += bytes.fromhex(line.strip())
        else:
            c2s += bytes.fromhex(line.strip())
    open(os.path.join(here, name + ".c2s.bin"), "wb").write(c2s)
    open(os.path.join(here, name + ".s2c.bin"), "wb").write(s2c)
    print(name, len(c2s), len(s2c))
