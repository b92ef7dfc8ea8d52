#!/usr/bin/env bash
# The highest packet rate `lagtap capture` keeps without drops, next to tcpdump and
# dumpcap on the same traffic: small UDP packets (64-byte payload) sent by a paced
# python sender from one namespace to another over a veth pair, at rising rates, each
# capturer run alone on the receiving end (same snaplen, 32 MiB kernel buffer, pcapng
# or pcap to /tmp). For each rate and tool: packets sent, packets in the file, and the
# drops the tool itself reports.
#
#   sudo benches/capture_rate.sh [--rates "20000 50000 ..."] [--seconds S]
#
# Needs root, iproute2, python3, tcpdump, dumpcap (wireshark-common), capinfos, and
# builds lagtap with `--features live` (libpcap-dev). Namespaces are named
# lt-bench-<pid>-* and removed on exit.
#
# A 2-core shared VM, 3 s per rate, 64-byte datagrams (packets lost / tool-reported
# kernel drops; "lost" beyond the tool's drops was lost before the capture point):
#   rate/s    lagtap      tcpdump   dumpcap
#   100000    48/48       0/0       0/0
#   200000    207/207     226/0     0/0
#   300000    468/468     0/0       0/0
# i.e. lagtap capture drops a few hundred packets per million from 100 kpps on, where
# tcpdump and dumpcap drop none: it reads packet by packet (pcap_next_ex) and writes
# every second; dumpcap and tcpdump use pcap_dispatch batches. Testbed rates (a few
# thousand packets/s per host) are far below either.
set -euo pipefail
cd "$(dirname "$0")/.."

rates="20000 50000 100000 150000 200000 300000"
seconds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --rates) rates=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "usage: $0 [--rates \"R1 R2 ...\"] [--seconds S]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in ip python3 tcpdump dumpcap capinfos; do
    command -v "$t" >/dev/null || { echo "$t is not installed" >&2; exit 1; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p lagtap --features live
lagtap=$CARGO_TARGET_DIR/release/lagtap

tx=lt-bench-$$-tx
rx=lt-bench-$$-rx
work=$(mktemp -d /tmp/lagtap-capture-rate.XXXXXX)
cleanup() {
    ip netns del "$tx" 2>/dev/null || true
    ip netns del "$rx" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$tx"
ip netns add "$rx"
ip link add bt$$ netns "$tx" type veth peer name br$$ netns "$rx"
ip -n "$tx" addr add 10.97.0.1/24 dev bt$$
ip -n "$rx" addr add 10.97.0.2/24 dev br$$
ip -n "$tx" link set bt$$ up
ip -n "$rx" link set br$$ up
# Nobody listens on the port: the receiver drops the datagrams after the capture
# point (ICMP errors are rate-limited and filtered out).
ip netns exec "$rx" sysctl -qw net.ipv4.icmp_ratelimit=1000000 >/dev/null || true

cat >"$work/send.py" <<'EOF'
import socket, sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * 64
start = time.perf_counter()
sent = 0
total = int(rate * secs)
while sent < total:
    due = min(total, int((time.perf_counter() - start) * rate) + 1)
    while sent < due:
        try:
            s.sendto(payload, ("10.97.0.2", 9999))
            sent += 1
        except BlockingIOError:
            break
print(sent, f"{time.perf_counter() - start:.2f}")
EOF

filter="udp port 9999"
count() { capinfos -M -c "$1" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}'; }

capture_with() { # tool file; run in the background, exec so $! is the capturer
    case "$1" in
        lagtap) exec ip netns exec "$rx" "$lagtap" capture -i br$$ -f "$filter" -w "$2" --buffer-size 32 ;;
        tcpdump) exec ip netns exec "$rx" tcpdump -n -s 262144 -B 32768 -i br$$ -w "$2" "$filter" ;;
        dumpcap) exec ip netns exec "$rx" dumpcap -q -n -s 262144 -B 32 -i br$$ -f "$filter" -w "$2" ;;
    esac
}

drops_of() { # tool stderr-file
    case "$1" in
        lagtap) sed -n 's/.*dropped by kernel \([0-9]*\),.*/\1/p' "$2" | tail -1 ;;
        tcpdump) sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$2" | tail -1 ;;
        dumpcap) sed -n 's|.*(pcap:\([0-9]*\)/dumpcap:\([0-9]*\)/.*|\1+\2|p' "$2" | tail -1 ;;
    esac
}

printf '%-8s %10s %10s %10s %10s %8s\n' tool "rate/s" sent "in file" "lost" "drops"
for rate in $rates; do
    for tool in lagtap tcpdump dumpcap; do
        out=$work/$tool-$rate.pcap
        capture_with "$tool" "$out" 2>"$work/err" &
        pid=$!
        sleep 1.5
        read -r sent _ < <(ip netns exec "$tx" python3 "$work/send.py" "$rate" "$seconds")
        sleep 0.5
        # SIGTERM: background jobs of a script ignore SIGINT.
        kill -TERM "$pid"
        wait "$pid" || true
        n=$(count "$out")
        printf '%-8s %10s %10s %10s %10s %8s\n' "$tool" "$rate" "$sent" "$n" \
            "$((sent - n))" "$(drops_of "$tool" "$work/err")"
        rm -f "$out"
    done
done
