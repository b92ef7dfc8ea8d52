#!/usr/bin/env bash
# Throughput and peak memory of `lagtap inspect` next to `cat` and tshark on the same
# capture, printed as MB/s and ratios in one run.
#
# The capture is made for the occasion by real software: a 1500-MTU veth pair between
# two network namespaces, nginx... no: python's http.server serving a file to curl,
# captured with tcpdump on the client side. Override with BENCH_CAPTURE=FILE.
#
# Usage: benches/inspect_throughput.sh [SIZE_MB]   (default 160; needs root for netns)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-160}
work=${BENCH_DIR:-$(mktemp -d /tmp/lagtap-bench.XXXXXX)}
ns_a="ltbench-$$-a"
ns_b="ltbench-$$-b"

cleanup() {
    ip netns pids "$ns_b" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns pids "$ns_a" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "missing $1 (apt-get install $2)" >&2; exit 1; }; }
need tshark tshark
need tcpdump tcpdump
need curl curl
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

capture=${BENCH_CAPTURE:-}
if [ -z "$capture" ]; then
    capture="$work/bulk.pcap"
    echo "making a ${size_mb} MB transfer capture in $work ..." >&2
    head -c "$((size_mb * 1000 * 1000))" /dev/urandom > "$work/blob.bin"
    ip netns add "$ns_a"
    ip netns add "$ns_b"
    ip link add "v$$a" netns "$ns_a" type veth peer name "v$$b" netns "$ns_b"
    ip -n "$ns_a" addr add 10.231.0.1/24 dev "v$$a"
    ip -n "$ns_b" addr add 10.231.0.2/24 dev "v$$b"
    for ns in "$ns_a" "$ns_b"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" ethtool -K "v$$$( [ "$ns" = "$ns_a" ] && echo a || echo b )" tso off gso off gro off 2>/dev/null || true
    done
    ip -n "$ns_a" link set "v$$a" up
    ip -n "$ns_b" link set "v$$b" up
    ip netns exec "$ns_b" python3 -m http.server 8000 --bind 10.231.0.2 --directory "$work" >/dev/null 2>&1 &
    sleep 1
    ip netns exec "$ns_a" tcpdump -i "v$$a" -s 0 -B 65536 -w "$capture" tcp port 8000 2>/dev/null &
    dump=$!
    sleep 1
    ip netns exec "$ns_a" curl -s -o /dev/null "http://10.231.0.2:8000/blob.bin"
    sleep 1
    kill -INT "$dump"; wait "$dump" || true
    rm -f "$work/blob.bin"
fi

cargo build --release --quiet
bin=target/release/lagtap
bytes=$(stat -c %s "$capture")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
cat "$capture" > /dev/null  # warm the page cache

# shellcheck source=benches/measure.sh
. benches/measure.sh  # the script has cd-ed to the repository root

echo "capture: $capture ($mb MB, $(tshark -r "$capture" -T fields -e frame.number 2>/dev/null | tail -1) packets)"
results=()
results+=("$(measure cat 5 cat "$capture")")
results+=("$(measure lagtap-inspect 5 taskset -c 0 "$bin" inspect "$capture")")
# tshark as configured out of the box (it reassembles TCP and HTTP bodies), and with
# TCP reassembly off (packet dissection only): one run each, they are slow.
results+=("$(measure tshark-conv 1 taskset -c 0 tshark -r "$capture" -q -z conv,tcp)")
results+=("$(measure tshark-noreasm 1 taskset -c 0 tshark -r "$capture" -q -z conv,tcp -o tcp.desegment_tcp_streams:FALSE)")
report "$mb" 1 lagtap "${results[@]}"
