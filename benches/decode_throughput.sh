#!/usr/bin/env bash
# Throughput and peak memory of `lagtap decode` (and `inspect`) on lab captures, next
# to `cat` and tshark extracting the same fields, printed as MB/s and ratios in one run.
#
# Two lab captures, made from the bundled testbed captures (real nginx-rtmp ingest,
# HLS to viewers, chat, NTP), each source shifted in time with editcap and appended
# until the capture is at least SIZE_MB:
#   dense      captures/basic/server.pcap: the ingest server of the basic scenario,
#              a 300 kb/s test stream (frames of ~500 bytes), so about 940 events per
#              MB: the per-event costs dominate. The worst case.
#   realistic  captures/bitrates/* and captures/uplink/*: broadcasters and viewers at
#              0.8 to 4 Mb/s (frames of 6 to 17 KB, as a 720p stream), so about 100
#              events per MB.
# Override with BENCH_CAPTURE=FILE (one capture, named "given").
# With BASE_BIN=PATH (a lagtap built from an earlier commit, e.g. in a git worktree)
# its decode and inspect are timed beside this tree's, so a change's cost shows as the
# ratio of the two rows on the same capture, in the same run.
#
# Usage: benches/decode_throughput.sh [SIZE_MB]   (default 150)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-150}
work=${BENCH_DIR:-$(mktemp -d /tmp/lagtap-bench.XXXXXX)}
mkdir -p "$work"
for t in tshark editcap mergecap capinfos; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install tshark)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

cargo build --release --quiet
bin=target/release/lagtap

# shellcheck source=benches/measure.sh
. benches/measure.sh  # the script has cd-ed to the repository root

bench() {
    local name=$1 capture=$2 bytes mb events
    bytes=$(stat -c %s "$capture")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    cat "$capture" > /dev/null
    events=$("$bin" decode "$capture" | wc -l)
    echo
    echo "== $name: $capture ($mb MB, $(awk -v e="$events" -v m="$mb" 'BEGIN { printf "%d events, %.0f per MB", e, e / m }'))"
    local results=()
    results+=("$(measure cat 5 cat "$capture")")
    results+=("$(measure lagtap-decode 5 taskset -c 0 "$bin" decode "$capture")")
    results+=("$(measure lagtap-inspect 5 taskset -c 0 "$bin" inspect "$capture")")
    if [ -n "${BASE_BIN:-}" ]; then
        results+=("$(measure base-decode 5 taskset -c 0 "$BASE_BIN" decode "$capture")")
        results+=("$(measure base-inspect 5 taskset -c 0 "$BASE_BIN" inspect "$capture")")
    fi
    # The same facts from tshark: RTMP messages, HTTP requests/responses, IRC lines, NTP.
    results+=("$(measure tshark-fields 1 taskset -c 0 tshark -r "$capture" -d tcp.port==6667,irc -T fields \
        -e frame.time_epoch -e tcp.stream -e rtmpt.header.typeid -e rtmpt.header.timestamp \
        -e http.request.uri -e http.response.code -e irc.request -e irc.response -e ntp.xmt \
        -Y 'rtmpt || http || irc || ntp')")
    report "$mb" 1 decode "${results[@]}"
}

if [ -n "${BENCH_CAPTURE:-}" ]; then
    bench given "$BENCH_CAPTURE"
else
    lab_capture "$work/dense.pcap" captures/basic/server.pcap
    lab_capture "$work/realistic.pcap" captures/bitrates/broadcaster.pcap \
        captures/bitrates/viewer.pcap captures/uplink/broadcaster.pcap captures/uplink/viewer.pcap
    bench dense "$work/dense.pcap"
    bench realistic "$work/realistic.pcap"
fi
