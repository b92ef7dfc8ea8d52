#!/usr/bin/env bash
# Throughput and peak memory of `lagtap decode` (and `inspect`) on a lab capture, next
# to `cat` and tshark extracting the same fields, printed as MB/s and ratios in one run.
#
# The lab capture is the bundled `captures/basic/server.pcap` (real nginx-rtmp ingest,
# HLS out to two viewers, chat, NTP) concatenated with itself, each copy shifted in time
# with editcap, until it is at least SIZE_MB. Override with BENCH_CAPTURE=FILE.
#
# Usage: benches/decode_throughput.sh [SIZE_MB]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-200}
work=${BENCH_DIR:-$(mktemp -d /tmp/lagtap-bench.XXXXXX)}
mkdir -p "$work"
for t in tshark editcap mergecap; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install tshark)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

capture=${BENCH_CAPTURE:-}
if [ -z "$capture" ]; then
    src=captures/basic/server.pcap
    capture="$work/lab.pcap"
    span=$(capinfos -u -M "$src" 2>/dev/null | awk -F: '/Capture duration/ { gsub(/[^0-9.]/, "", $2); print int($2) + 10 }')
    copies=$(( (size_mb * 1000000) / $(stat -c %s "$src") + 1 ))
    echo "making a lab capture from $copies time-shifted copies of $src ..." >&2
    parts=()
    for i in $(seq 0 $((copies - 1))); do
        editcap -t $((i * span)) "$src" "$work/part$i.pcap"
        parts+=("$work/part$i.pcap")
    done
    mergecap -a -F pcap -w "$capture" "${parts[@]}"
    rm -f "${parts[@]}"
fi

cargo build --release --quiet
bin=target/release/lagtap
bytes=$(stat -c %s "$capture")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
cat "$capture" > /dev/null

# shellcheck source=benches/measure.sh
. benches/measure.sh  # the script has cd-ed to the repository root

echo "capture: $capture ($mb MB)"
results=()
results+=("$(measure cat 5 cat "$capture")")
results+=("$(measure lagtap-decode 3 taskset -c 0 "$bin" decode "$capture")")
results+=("$(measure lagtap-inspect 3 taskset -c 0 "$bin" inspect "$capture")")
# The same facts from tshark: RTMP messages, HTTP requests/responses, IRC lines, NTP.
results+=("$(measure tshark-fields 1 taskset -c 0 tshark -r "$capture" -d tcp.port==6667,irc -T fields \
    -e frame.time_epoch -e tcp.stream -e rtmpt.header.typeid -e rtmpt.header.timestamp \
    -e http.request.uri -e http.response.code -e irc.request -e irc.response -e ntp.xmt \
    -Y 'rtmpt || http || irc || ntp')")
report "$mb" 1 decode "${results[@]}"
