#!/usr/bin/env bash
# CI check of the testbed: runs the `basic` scenario for a minute into a temp dir,
# then checks that every capture opens in tshark, that each protocol is dissected
# where it should be, and that truth.json holds chat, segments and frames.
#
#   sudo captures/testbed/ci-scenario.sh [--keep]    (--keep: leave the output dir)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(mktemp -d /tmp/lagtap-ci.XXXXXX)
[[ ${1:-} == --keep ]] || trap 'rm -rf "$OUT"' EXIT

"$HERE/testbed.sh" basic "$OUT" --duration 60

fail=0
check() {  # check FILE DISPLAY-FILTER MIN-PACKETS
    local n
    n=$(tshark -r "$1" -Y "$2" 2>/dev/null | wc -l)
    if ((n < $3)); then
        echo "FAIL $(basename "$1"): $n packets match '$2' (want >= $3)"
        fail=1
    else
        echo "ok   $(basename "$1"): $n packets match '$2'"
    fi
}

for f in "$OUT"/*.pcap "$OUT"/*.pcapng; do
    tshark -r "$f" -q -z conv,tcp >/dev/null 2>&1 || { echo "FAIL $f does not open"; fail=1; }
    check "$f" irc 10
    check "$f" ntp 4
done
check "$OUT/server.pcap" rtmpt 100
check "$OUT/broadcaster.pcap" rtmpt 100
check "$OUT/server.pcap" http 4
check "$OUT/desktop.pcap" http 4
check "$OUT/mobile.pcapng" http 4

python3 - "$OUT/truth.json" <<'EOF' || fail=1
import json, sys
t = json.load(open(sys.argv[1]))
problems = []
if not any(m["receivers"] for m in t["chat"]):
    problems.append("no chat message was received")
if not t["segments"]:
    problems.append("no segment was fetched")
if not t["frames"]:
    problems.append("no frame was logged")
for p in problems:
    print("FAIL truth.json:", p)
if not problems:
    print("ok   truth.json: %d chat, %d segments, %d frames"
          % (len(t["chat"]), len(t["segments"]), len(t["frames"])))
sys.exit(1 if problems else 0)
EOF

((fail == 0)) && echo "ci-scenario: all checks passed"
exit "$fail"
