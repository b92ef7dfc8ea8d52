# shellcheck shell=bash
# Network plumbing and process bookkeeping for testbed.sh (sourced, not run).
#
# Topology: one namespace per host, each with an `eth0` veth whose peer sits in a
# switch namespace `<prefix>-sw` on bridge `br0`. Nothing is created in the root
# namespace, and every address lives inside these namespaces.
#
# Needs: NS_PREFIX (e.g. lt-1234), SUBNET_PREFIX (e.g. 10.77.0), LOG_DIR.

SW_NS="${NS_PREFIX}-sw"
CREATED_NS=()     # namespaces this run made, for cleanup
STARTED_PIDS=()   # background processes this run started, for cleanup

ns_of() { printf '%s-%s' "$NS_PREFIX" "$1"; }

# Run a command inside a host's namespace.
in_host() {
    local host=$1
    shift
    ip netns exec "$(ns_of "$host")" "$@"
}

net_create_switch() {
    ip netns add "$SW_NS"
    CREATED_NS+=("$SW_NS")
    ip -n "$SW_NS" link set lo up
    ip -n "$SW_NS" link add br0 type bridge
    ip -n "$SW_NS" link set br0 up
}

# net_add_host NAME LAST_OCTET: namespace, veth into the bridge, address, offloads off
# (so captures show wire-sized packets and tbf shapes real packets, not 64 KB GSO blobs).
net_add_host() {
    local host=$1 octet=$2 ns
    ns=$(ns_of "$host")
    ip netns add "$ns"
    CREATED_NS+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$SW_NS" link add "p-$host" type veth peer name eth0 netns "$ns"
    ip -n "$SW_NS" link set "p-$host" master br0 up
    ip -n "$ns" addr add "$SUBNET_PREFIX.$octet/24" dev eth0
    ip -n "$ns" link set eth0 up
    if command -v ethtool >/dev/null; then
        ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
        ip netns exec "$SW_NS" ethtool -K "p-$host" tso off gso off gro off >/dev/null 2>&1 || true
    fi
}

# bg_in_host HOST LOGNAME CMD...: start CMD in HOST's namespace in the background,
# stdout+stderr to $LOG_DIR/LOGNAME.log; the pid lands in LAST_PID.
bg_in_host() {
    local host=$1 logname=$2
    shift 2
    ip netns exec "$(ns_of "$host")" "$@" >"$LOG_DIR/$logname.log" 2>&1 &
    LAST_PID=$!
    STARTED_PIDS+=("$LAST_PID")
}

# wait_for_port HOST PROTO PORT: until something listens there (max ~10 s).
wait_for_port() {
    local host=$1 proto=$2 port=$3
    for _ in $(seq 100); do
        if in_host "$host" ss -Hln"${proto:0:1}" "sport = :$port" | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    echo "timeout waiting for $proto/$port on $host" >&2
    return 1
}

# stop_pids SIGNAL PID...: signal our own processes and wait for them (max ~10 s each).
stop_pids() {
    local sig=$1 pid
    shift
    for pid in "$@"; do
        kill -s "$sig" "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -s KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# Tear everything down: processes we started, anything still running inside our
# namespaces (by pid), then the namespaces themselves (their veths go with them).
net_cleanup() {
    local ns pids
    if ((${#STARTED_PIDS[@]})); then
        stop_pids TERM "${STARTED_PIDS[@]}"
    fi
    for ns in "${CREATED_NS[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086  # one pid per word
            kill -s KILL $pids 2>/dev/null || true
        fi
        ip netns del "$ns" 2>/dev/null || true
    done
    CREATED_NS=()
    STARTED_PIDS=()
}
