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

measure() { # label runs command...: "label seconds maxrss_kb" (best of runs)
    local label=$1 runs=$2; shift 2
    local best=999999 rss=0 t0 t1 s
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$work/time.txt" "$@" > /dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
        t1=$(date +%s%N)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        best=$(awk -v a="$best" -v b="$s" 'BEGIN { print (b < a) ? b : a }')
        rss=$(cat "$work/time.txt")
    done
    echo "$label $best $rss"
}

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
printf '%-16s %10s %10s %12s %14s\n' what seconds MB/s peak-MB "vs decode"
ref=$(echo "${results[1]}" | awk '{print $2}')
for r in "${results[@]}"; do
    set -- $r
    awk -v n="$1" -v s="$2" -v k="$3" -v mb="$mb" -v l="$ref" \
        'BEGIN { s = (s < 0.001) ? 0.001 : s; printf "%-16s %10.3f %10.0f %12.1f %13.2fx\n", n, s, mb / s, k / 1024, s / l }'
done
