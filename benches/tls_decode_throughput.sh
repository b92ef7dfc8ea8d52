#!/usr/bin/env bash
# Throughput and peak memory of `lagtap decode` on TLS traffic, decrypting with the
# clients' key logs, next to decoding the same kind of traffic in plain text and to
# tshark decrypting and extracting the same fields, in one run.
#
# Lab captures, made like benches/decode_throughput.sh's (time-shifted copies of
# testbed captures appended until SIZE_MB), in pairs: the same testbed traffic
# encrypted and in plain text.
#   tls              captures/tls/*.pcap: RTMPS ingest (TLS 1.3), HLS over HTTPS
#                    (HTTP/1.1 on TLS 1.3 and 1.2, HTTP/2), chat over TLS and wss, with
#                    the 120 kb/s test stream; the key logs of every host
#                    (captures/tls/*.keys) given with --keylog. The copies share their
#                    client randoms, so one key log serves all.
#   plain            captures/basic/{server,broadcaster}.pcap: the same testbed and
#                    stream in plain text (RTMP, HTTP, IRC; the viewers' captures are
#                    SLL2, which one pcap cannot mix in). Both are dense: 120 kb/s
#                    makes ~500-byte frames, so per-event costs dominate.
#   tls-realistic    a `tls` testbed run at 3000 kb/s (12 KB frames, 16 KB TLS
#                    records: what a 720p stream sends), server and broadcaster
#                    captures: the encrypted case the issue's 1 GB/s is about.
#   plain-realistic  a `basic` run at 3000 kb/s, server and broadcaster captures.
# The two realistic runs are made here by captures/testbed/testbed.sh (root, and the
# testbed's packages: see docs/testbed.md), once, under $BENCH_DIR/runs; without root
# they are skipped with a note. BENCH_RUNS=DIR reuses runs made earlier
# (DIR/tls-3000, DIR/basic-3000).
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

# LAGTAP_BIN=PATH measures a binary built elsewhere (another commit, say).
if [ -z "${LAGTAP_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${LAGTAP_BIN:-target/release/lagtap}
keys="$work/tls.keys"
cat captures/tls/*.keys > "$keys"

lab_capture "$work/tls.pcap" captures/tls/server.pcap captures/tls/broadcaster.pcap \
    captures/tls/desktop.pcap captures/tls/legacy.pcap captures/tls/mobile.pcap
lab_capture "$work/plain.pcap" captures/basic/server.pcap captures/basic/broadcaster.pcap
names=(tls plain)

runs=${BENCH_RUNS:-$work/runs}
# realistic_run SCENARIO [testbed options]: a 3000 kb/s testbed run, server and
# broadcaster captured, in $runs/SCENARIO-3000 (made unless it is there).
realistic_run() {
    local scenario=$1 dir=$runs/$1-3000; shift
    [ -s "$dir/server.pcap" ] && return 0
    [ "$(id -u)" = 0 ] || return 1
    echo "making a 3000 kb/s $scenario testbed run in $dir ..." >&2
    captures/testbed/testbed.sh "$scenario" "$dir" --bitrate 3000 \
        --capture server,broadcaster "$@" >"$work/testbed-$scenario.log" 2>&1 ||
        { tail -20 "$work/testbed-$scenario.log" >&2; return 1; }
}
if realistic_run tls --dsb none && realistic_run basic; then
    lab_capture "$work/tls-realistic.pcap" "$runs/tls-3000/server.pcap" \
        "$runs/tls-3000/broadcaster.pcap"
    cat "$runs"/tls-3000/*.keys > "$work/tls-realistic.keys"
    lab_capture "$work/plain-realistic.pcap" "$runs/basic-3000/server.pcap" \
        "$runs/basic-3000/broadcaster.pcap"
    names+=(tls-realistic plain-realistic)
else
    echo "note: the realistic-bitrate runs need root and the testbed (or BENCH_RUNS=DIR): skipped" >&2
fi

for name in "${names[@]}"; do
    capture="$work/$name.pcap"
    keys="$work/tls.keys"
    [ "$name" = tls-realistic ] && keys="$work/tls-realistic.keys"
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
