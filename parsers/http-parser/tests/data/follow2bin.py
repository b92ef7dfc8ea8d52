# Convert `tshark -q -z follow,tcp,raw,N` output into two binary files (c2s, s2c).
# In that output, client-to-server data lines start at column 0 and
# server-to-client lines are indented by one tab.
import sys
text, prefix = sys.stdin.read(), sys.argv[1]
body = text.split("=" * 20)[-2] if False else text
c2s, s2c = bytearray(), bytearray()
started = False
for line in text.splitlines():
    if line.startswith("Node 1:"):
        started = True
        continue
    if not started or line.startswith("=") or not line.strip():
        continue
    (s2c if line.startswith("\t") else c2s).extend(bytes.fromhex(line.strip()))
open(prefix + ".c2s", "wb").write(c2s)
open(prefix + ".s2c", "wb").write(s2c)
