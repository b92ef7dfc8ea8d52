#!/usr/bin/env bash
# Campaign scale on one machine: `lagtap correlate` over 8 hosts of TOTAL_MB in all,
# decoded in parallel on every core, against the sum of decoding each host alone on
# one core (the parallel speed-up), with peak memory, and the correlation alone
# (decode once to JSON Lines, then correlate the event files).
#
# Hosts: 8 bundled testbed captures (broadcasters, viewers, the ingest server; pcap,
# Ethernet), each grown to TOTAL_MB/8 from time-shifted copies of itself (as
# benches/decode_throughput.sh's lab captures), named host1..host8.
#
# Printed in one run:
#   decode-alone-sum   sum over hosts of `taskset -c 0 lagtap decode hostN.pcap`
#   correlate --jobs 1 the same, decoding one host at a time
#   correlate          `lagtap correlate host*.pcap` on all cores (wall, peak memory)
#   decode speed-up    decode-alone-sum / the decode phase of `correlate` (its
#                      --timings): the hosts decoded one per core, events kept
#   overall speed-up   decode-alone-sum / correlate wall (correlation included,
#                      which runs after every host is decoded)
#   correlate-events   `lagtap correlate host*.jsonl`: reading the decoded events and
#                      correlating them (the embedded correlation, no packet decoding)
#   correlate-parquet  `lagtap correlate DATASET`: the same hosts decoded once into a
#                      Parquet event dataset, correlated embedded
#   ballista           `lagtap correlate --cluster standalone DATASET`: the same
#                      correlation units run as DataFusion plans on a Ballista
#                      scheduler and executor started in the process
#   datafusion         `--cluster local`: the plans on DataFusion alone
#
# The binary is built with the `parquet` and `cluster` features (LAGTAP_BIN to use
# another; without the `cluster` feature the last two rows say so).
#
# Usage: benches/correlate_scale.sh [TOTAL_MB]   (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
total_mb=${1:-2048}
size_mb=$((total_mb / 8))
work=${BENCH_DIR:-$(mktemp -d /tmp/lagtap-scale.XXXXXX)}
mkdir -p "$work/hosts"
for t in editcap mergecap capinfos taskset; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install tshark util-linux)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

# shellcheck source=benches/measure.sh
. benches/measure.sh
if [ -z "${LAGTAP_BIN:-}" ]; then cargo build --release --quiet --features cluster; fi
bin=${LAGTAP_BIN:-target/release/lagtap}

sources=(captures/basic/server.pcap captures/basic/broadcaster.pcap
    captures/uplink/broadcaster.pcap captures/uplink/viewer.pcap
    captures/bitrates/broadcaster.pcap captures/bitrates/viewer.pcap
    captures/switch/broadcaster1.pcap captures/switch/switcher.pcap)
# Each host in its own stretch of time: copies of one testbed host share its
# addresses, and correlate takes two inputs with one address at overlapping times
# for one host given twice.
n=0
for src in "${sources[@]}"; do
    n=$((n + 1))
    LAB_START=$((1800000000 + n * 10000000)) lab_capture "$work/hosts/host$n.pcap" "$src"
done
cat "$work"/hosts/*.pcap > /dev/null
bytes=$(cat "$work"/hosts/host*.pcap | wc -c)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "== 8 hosts, $mb MB in all, $(nproc) cores"

# seconds and peak KB of one command, the best of RUNS (output to /dev/null).
timed() {
    local runs=$1; shift
    local best="" peak=0 s k
    for _ in $(seq "$runs"); do
        /usr/bin/time -o "$work/time.out" -f "%e %M" "$@" > /dev/null 2>&1
        read -r s k < "$work/time.out"
        if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
        [ "$k" -gt "$peak" ] && peak=$k
    done
    echo "$best $peak"
}

sum=0 peak_alone=0
for f in "$work"/hosts/host*.pcap; do
    read -r s k <<<"$(timed 3 taskset -c 0 "$bin" decode "$f")"
    sum=$(awk -v a="$sum" -v b="$s" 'BEGIN { print a + b }')
    [ "$k" -gt "$peak_alone" ] && peak_alone=$k
    "$bin" decode "$f" > "${f%.pcap}.jsonl"
    "$bin" decode --format parquet --output "$work/dataset" "$f" 2>/dev/null || true
done
hosts=$("$bin" correlate --json "$work"/hosts/host*.pcap 2>/dev/null | grep -c '"declared_role"' || true)
echo "correlate sees $hosts hosts"
read -r wall peak <<<"$(timed 3 "$bin" correlate "$work"/hosts/host*.pcap)"
read -r wall1 peak1 <<<"$(timed 3 "$bin" correlate --jobs 1 "$work"/hosts/host*.pcap)"
read -r ev_wall ev_peak <<<"$(timed 3 "$bin" correlate "$work"/hosts/host*.jsonl)"
# The decode phase alone (--timings), best of 3: what runs one host per core.
best_decode="" timings_line=""
for _ in 1 2 3; do
    line=$("$bin" correlate --timings "$work"/hosts/host*.pcap 2>&1 >/dev/null | grep 'timings:' || true)
    d=$(sed -n 's/.*timings: decode \([0-9.]*\) s.*/\1/p' <<<"$line")
    if [ -n "$d" ] && { [ -z "$best_decode" ] || awk -v a="$d" -v b="$best_decode" 'BEGIN { exit !(a < b) }'; }; then
        best_decode=$d timings_line=$line
    fi
done
echo "$timings_line"
# The Parquet dataset and the engines that read it, where this build has them.
pq="" bal="" df=""
if [ -d "$work/dataset" ]; then
    pq_mb=$(du -sm "$work/dataset" | cut -f1)
    echo "parquet dataset: $pq_mb MB ($(find "$work/dataset" -name '*.parquet' | wc -l) files)"
    read -r pq_wall pq_peak <<<"$(timed 3 "$bin" correlate "$work/dataset")"
    pq=1
    if "$bin" correlate --json --cluster local "$work/dataset" > "$work/df.json" 2>/dev/null; then
        "$bin" correlate --json "$work/dataset" > "$work/embedded.json" 2>/dev/null
        cmp -s "$work/df.json" "$work/embedded.json" &&
            echo "datafusion report = embedded report" ||
            echo "DATAFUSION REPORT DIFFERS from the embedded report"
        read -r df_wall df_peak <<<"$(timed 3 "$bin" correlate --cluster local "$work/dataset")"
        df=1
        if "$bin" correlate --json --cluster standalone "$work/dataset" > "$work/ballista.json" 2> "$work/ballista.err"; then
            cmp -s "$work/ballista.json" "$work/embedded.json" &&
                echo "ballista report = embedded report" ||
                echo "BALLISTA REPORT DIFFERS from the embedded report"
            read -r bal_wall bal_peak <<<"$(timed 3 "$bin" correlate --cluster standalone "$work/dataset")"
            bal=1
        else
            echo "BALLISTA FAILED:"; tail -5 "$work/ballista.err"
        fi
    else
        echo "DATAFUSION FAILED"
    fi
fi

printf '%-18s %10s %10s %10s\n' what seconds MB/s peak-MB
row() { awk -v n="$1" -v s="$2" -v k="$3" -v mb="$mb" \
    'BEGIN { printf "%-18s %10.3f %10.0f %10.1f\n", n, s, mb / s, k / 1024 }'; }
row decode-alone-sum "$sum" "$peak_alone"
row "correlate --jobs 1" "$wall1" "$peak1"
row correlate "$wall" "$peak"
row correlate-events "$ev_wall" "$ev_peak"
[ -n "$pq" ] && row correlate-parquet "$pq_wall" "$pq_peak"
[ -n "$df" ] && row datafusion "$df_wall" "$df_peak"
[ -n "$bal" ] && row ballista "$bal_wall" "$bal_peak"
awk -v a="$sum" -v b="$best_decode" 'BEGIN { printf "decode speed-up:   %.2fx (decode-alone-sum / correlate'"'"'s decode phase, %.3f s)\n", a / b, b }'
awk -v a="$sum" -v b="$wall" 'BEGIN { printf "overall speed-up:  %.2fx (decode-alone-sum / correlate wall, correlation included)\n", a / b }'
awk -v a="$wall1" -v b="$wall" 'BEGIN { printf "correlate on all cores against one: %.2fx\n", a / b }'
[ -n "$pq" ] || echo "parquet, datafusion, ballista: not measured (built without the parquet feature)"
[ -n "$pq" ] && [ -z "$bal" ] && echo "datafusion, ballista: not measured (built without the cluster feature)"
true
