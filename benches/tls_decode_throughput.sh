#!/usr/bin/env bash
# Throughput and peak memory of `lagtap decode` on TLS traffic, decrypting with the
# clients' key logs, next to decoding the same kind of traffic in plain text and to
# tshark decrypting and extracting the same fields, in one run.
#
# Lab captures, made like benches/decode_throughput.sh's (time-shifted copies of the
# bundled testbed captures appended until SIZE_MB):
#   tls    captures/tls/*.pcap: RTMPS ingest (TLS 1.3), HLS over HTTPS (HTTP/1.1 on
#          TLS 1.3 and 1.2, HTTP/2), chat over TLS and wss, with the 120 kb/s test
#          stream; the key logs of every host (captures/tls/*.keys) given with
#          --keylog. The copies share their client randoms, so one key log serves all.
#   plain  captures/basic/{server,broadcaster}.pcap: the same testbed and stream in
#          plain text (the viewers' captures are SLL2, which one pcap cannot mix in)
#          (RTMP,
#          HTTP, IRC), the reference for "half the speed of plain text".
#
# Usage: benches/tls_decode_throughput.sh [SIZE_MB]   (default 150)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-150}
work=${BENCH_DIR:-$(mktemp -d /tmp/lagtap-bench.XXXXXX)}
mkdir -p "$work"
for t in tshark editcap mergecap capinfos taskset; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install tshark util-linux)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

# shellcheck source=benches/measure.sh
. benches/measure.sh

cargo build --release --quiet
bin=target/release/lagtap
keys="$work/tls.keys"
cat captures/tls/*.keys > "$keys"

lab_capture "$work/tls.pcap" captures/tls/server.pcap captures/tls/broadcaster.pcap \
    captures/tls/desktop.pcap captures/tls/legacy.pcap captures/tls/mobile.pcap
lab_capture "$work/plain.pcap" captures/basic/server.pcap captures/basic/broadcaster.pcap


for name in tls plain; do
    capture="$work/$name.pcap"
    bytes=$(stat -c %s "$capture")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    cat "$capture" > /dev/null
    events=$("$bin" decode --keylog "$keys" "$capture" | wc -l)
    echo
    echo "== $name: $capture ($mb MB, $events events)"
    results=()
    results+=("$(measure cat 5 cat "$capture")")
    results+=("$(measure lagtap-decode 5 taskset -c 0 "$bin" decode --keylog "$keys" "$capture")")
    results+=("$(measure tshark-fields 1 taskset -c 0 tshark -r "$capture" -o "tls.keylog_file:$keys" \
        -d tcp.port==6667,irc -T fields -e frame.time_epoch -e tcp.stream -e rtmpt.header.typeid \
        -e http.request.uri -e http.response.code -e http2.headers.path -e http2.headers.status \
        -e irc.request -e irc.response -e ntp.xmt -Y 'rtmpt || http || http2 || irc || ntp')")
    report "$mb" 1 decode "${results[@]}"
done
