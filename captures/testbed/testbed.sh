#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lagtap testbed in a box: brings up a Twitch-like platform on this machine (one
# network namespace per host, real nginx-rtmp / ffmpeg / IRC server / chronyd),
# runs a scenario, captures on every host and writes the ground truth (truth.json)
# that the hosts' own programs logged. See docs/testbed.md.
#
#   captures/testbed/testbed.sh SCENARIO OUTDIR [options]
#
# Scenarios: basic, skew, switch, uplink, bitrates, tls, lowlatency, rtmpplay.
# Needs root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# No core files from the software under test in the caller's directory (InspIRCd 3.15
# with the TLS and WebSocket modules now and then crashes while it exits, after the
# captures have stopped).
ulimit -c 0

usage() {
    cat <<EOF
usage: $0 SCENARIO OUTDIR [options]

scenarios:
  basic     1 broadcaster, desktop (K=3) and mobile (K=6) viewers, chat, NTP;
            captures: server/broadcaster tcpdump on eth0, desktop tcpdump -i any
            (LINUX_SLL2), mobile dumpcap (pcapng)
  skew      basic with one viewer; capture clocks shifted afterwards by editcap -t
  switch    2 broadcasters, a viewer switching between their channels
  uplink    OBS-like broadcaster at 4000 kb/s, its uplink shaped by tc tbf:
            none, 4000, 2000, 1000, 512 kb/s, none
  bitrates  one broadcaster streaming 800, 1600, 2400 kb/s one after another,
            a viewer following it
  tls       everything encrypted: RTMPS ingest, HLS over HTTPS (HTTP/1.1 on TLS 1.3
            and 1.2, HTTP/2 on TLS 1.3), IRC over TLS and over wss; every client
            writes a key log; OUTDIR gets <host>.keys beside each capture and
            dsb/<host>.pcapng with the keys embedded
  lowlatency  ffmpeg's dash muxer on the server repackages the ingest into fMP4
            low-latency HLS (-hls_playlist 1 -lhls 1 -streaming 1 -ldash 1, a
            fragment per frame, prft boxes) and uploads it by chunked HTTP PUT to
            a small origin (ll_origin.py, port 8080) that relays growing segments
            with chunked transfer; llviewer fetches each segment while it is
            written (EXT-X-PREFETCH), viewer fetches listed segments whole,
            partviewer plays the origin's LL-HLS playlist (parts of 6 frames cut
            from the uploads, blocking reloads, preload hints) part by part,
            rangeviewer the same with each part a byte range of its segment
            (BYTERANGE, range requests answered 206); h2viewer
            prefetches as llviewer does, over HTTP/2 on TLS 1.3 from an nginx front
            (port 8443, proxy_buffering off) that relays the origin's growing
            segments as DATA frames, and writes a key log (OUTDIR/h2viewer.keys,
            server.keys); all log every read (h2viewer: every DATA frame);
            OUTDIR/logs/segments/<host>/ keeps the bodies
  rtmpplay  an RTMP player and an HLS viewer (K=3); the player: ffmpeg plays the channel from nginx-rtmp over RTMP
            (-c copy into OUTDIR/logs/<host>.play.flv), its downlink limited to
            200 kb/s by tc tbf on its switch port; truth per received frame
            from tshark's RTMP dissection of the player's capture, ffprobe's packet
            count of what it wrote and the broadcaster's frame log

options:
  --duration S     seconds of traffic (scenario default otherwise)
  --step S         uplink: seconds per tbf step (default 10)
  --capture LIST   comma-separated hosts to capture (default: all)
  --size WxH       video size (default 320x180; uplink 480x270)
  --bitrate KBPS   video bitrate of basic, skew, switch and tls (default 120;
                   e.g. 3000 for a realistic-bitrate run, benches/tls_decode_throughput.sh)
  --mode M         broadcaster behaviour: ffmpeg (blocks) or obs (drops frames)
  --ircd NAME      IRC server: inspircd (default when installed) or ngircd
  --dsb LIST       tls, lowlatency: hosts that get dsb/<host>.pcapng (default: in
                   tls every captured host, in lowlatency none; "none" for none)
  -h, --help

OUTDIR gets <host>.pcap|.pcapng, truth.json and logs/; a previous run there is replaced.
EOF
}

# ---------------------------------------------------------------- arguments
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
(($# >= 2)) || { usage >&2; exit 2; }
COMMAND_LINE="$0 $*"
SCENARIO=$1
OUTDIR=$2
shift 2
DURATION="" STEP=10 CAPTURE_LIST=all SIZE="" MODE="" IRCD="" DSB_LIST="" BITRATE=""
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --step) STEP=$2; shift 2 ;;
        --capture) CAPTURE_LIST=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --bitrate) BITRATE=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --ircd) IRCD=$2; shift 2 ;;
        --dsb) DSB_LIST=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $SCENARIO in
    basic | skew | switch | uplink | bitrates | tls | lowlatency | rtmpplay) ;;
    *) echo "unknown scenario: $SCENARIO" >&2; usage >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- prerequisites
check_prereqs() {
    local missing=() pkgs=() entry cmd pkg
    for entry in ip:iproute2 tc:iproute2 ss:iproute2 nginx:nginx ffmpeg:ffmpeg \
        chronyd:chrony ntpdig:ntpsec-ntpdig tcpdump:tcpdump dumpcap:tshark \
        editcap:tshark tshark:tshark python3:python3; do
        cmd=${entry%%:*} pkg=${entry#*:}
        if ! command -v "$cmd" >/dev/null; then
            missing+=("$cmd")
            pkgs+=("$pkg")
        fi
    done
    if [[ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]]; then
        missing+=("ngx_rtmp_module.so")
        pkgs+=(libnginx-mod-rtmp)
    fi
    if ! command -v inspircd >/dev/null && ! command -v ngircd >/dev/null; then
        missing+=("inspircd or ngircd")
        pkgs+=(inspircd)
    fi
    if [[ $SCENARIO == tls ]]; then
        # TLS needs InspIRCd (its GnuTLS and WebSocket modules), nginx's stream module
        # (the RTMPS front), openssl (the certificate) and a Python with the h2
        # package (the HTTP/2 viewer): Debian's python3-h2 is for /usr/bin/python3.
        if [[ $IRCD == ngircd ]]; then
            echo "the tls scenario needs InspIRCd (TLS and WebSocket), not ngircd" >&2
            exit 2
        fi
        if ! command -v inspircd >/dev/null; then missing+=(inspircd); pkgs+=(inspircd); fi
        if ! command -v openssl >/dev/null; then missing+=(openssl); pkgs+=(openssl); fi
        if [[ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]]; then
            missing+=("ngx_stream_module.so")
            pkgs+=(libnginx-mod-stream)
        fi
    fi
    # lowlatency's h2viewer: HTTP/2 on TLS too (openssl for the certificate).
    if [[ $SCENARIO == lowlatency ]] && ! command -v openssl >/dev/null; then
        missing+=(openssl)
        pkgs+=(openssl)
    fi
    if [[ $SCENARIO == tls || $SCENARIO == lowlatency ]]; then
        local py
        for py in python3 /usr/bin/python3; do
            if command -v "$py" >/dev/null && "$py" -c 'import h2' 2>/dev/null; then
                PYTHON=$py
                break
            fi
        done
        if [[ -z ${PYTHON:-} ]]; then
            missing+=("python3 with h2")
            pkgs+=(python3-h2)
        fi
    fi
    if ((${#missing[@]})); then
        echo "missing: ${missing[*]}" >&2
        echo "install with: apt-get install -y $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')" >&2
        exit 3
    fi
    if ((EUID != 0)); then
        echo "needs root (network namespaces, tc, captures)" >&2
        exit 3
    fi
}
PYTHON=""  # the clients' Python; tls and lowlatency need one that has h2
check_prereqs
PYTHON=${PYTHON:-python3}

# ---------------------------------------------------------------- run state
NS_PREFIX="lt-$$"
SUBNET_PREFIX=10.77.0
SERVER_HOST=server
SERVER_ADDR=$SUBNET_PREFIX.1
IRC_CHANNEL="#lagtap"
# Video bitrate of the small scenarios: 120 kb/s keeps the sample captures lean;
# --bitrate raises it (a realistic-bitrate run for the decode benchmarks).
LOW_KBPS=${BITRATE:-120}
[[ $LOW_KBPS =~ ^[1-9][0-9]*$ ]] || { echo "--bitrate: not a positive number of kb/s: $LOW_KBPS" >&2; exit 2; }
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
LOG_DIR=$OUTDIR/logs
RUN_DIR=$(mktemp -d /tmp/lagtap-testbed.XXXXXX)
mkdir -p "$LOG_DIR" "$RUN_DIR/conf"
rm -f "$LOG_DIR"/*.jsonl "$LOG_DIR"/*.log "$LOG_DIR"/*.keys "$OUTDIR"/*.pcap "$OUTDIR"/*.pcapng \
    "$OUTDIR"/*.keys "$OUTDIR/truth.json"
rm -rf "$OUTDIR/dsb" "$LOG_DIR/segments"  # a previous run's bodies too
TESTBED_LOG=$LOG_DIR/testbed.jsonl

# shellcheck source=netns.sh
source "$HERE/netns.sh"
# shellcheck source=services.sh
source "$HERE/services.sh"

declare -A HOST_ADDR=() CAPTURE_PID=()
HOSTS=()
CLIENT_PIDS=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if ((${#CLIENT_PIDS[@]})); then stop_pids TERM "${CLIENT_PIDS[@]}"; fi
    if ((${#CAPTURE_PID[@]})); then stop_pids INT "${CAPTURE_PID[@]}"; fi
    stop_server_services
    net_cleanup
    local job
    for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done  # e.g. a pause's sleep
    rm -rf "$RUN_DIR"
    if ((rc != 0)); then echo "testbed: failed (exit $rc); logs in $LOG_DIR" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pause SECONDS: sleep in the background and wait for it, so that a signal sent to
# this script (not only Ctrl-C) is handled at once rather than after the sleep.
pause() {
    sleep "$1" &
    wait "$!"
}

say() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
now_ns() { date +%s%N; }

# tb_event JSON-OBJECT-BODY: one line of the run's own log (strings we control, no
# escaping needed), read back by make_truth.py.
tb_event() { printf '{%s}\n' "$1" >>"$TESTBED_LOG"; }

# ---------------------------------------------------------------- hosts and captures
# add_host NAME ROLE OCTET CAPTURE: CAPTURE is eth0 (tcpdump, pcap), any (tcpdump -i
# any, LINUX_SLL2 pcap) or dumpcap (pcapng); --capture may turn it off.
add_host() {
    local name=$1 role=$2 octet=$3 capture=$4
    net_add_host "$name" "$octet"
    HOSTS+=("$name")
    HOST_ADDR[$name]=$SUBNET_PREFIX.$octet
    if [[ $CAPTURE_LIST != all && ",$CAPTURE_LIST," != *",$name,"* ]]; then
        capture=none
    fi
    local file="" link="" tool=""
    case $capture in
        eth0) file=$name.pcap link=EN10MB tool="tcpdump -i eth0" ;;
        any) file=$name.pcap link=LINUX_SLL2 tool="tcpdump -i any" ;;
        dumpcap) file=$name.pcapng link=EN10MB tool="dumpcap -i eth0" ;;
        none) ;;
    esac
    tb_event "\"event\":\"host\",\"name\":\"$name\",\"role\":\"$role\",\"address\":\"${HOST_ADDR[$name]}\",\"capture\":\"$file\",\"link_type\":\"$link\",\"capture_tool\":\"$tool\""
    [[ $capture == none ]] && return 0
    # A 32 MiB kernel buffer (-B, in KiB for tcpdump, MiB for dumpcap): the default
    # 2 MiB dropped ~2% of a 3000 kb/s tls server's packets on a busy 2-core machine.
    case $capture in
        eth0) bg_in_host "$name" "capture-$name" tcpdump -n -i eth0 -s 0 -B 32768 -Z root \
            --time-stamp-precision=nano -w "$OUTDIR/$file" ;;
        any) bg_in_host "$name" "capture-$name" tcpdump -n -i any -y LINUX_SLL2 -s 0 -B 32768 \
            -Z root --time-stamp-precision=nano -w "$OUTDIR/$file" ;;
        dumpcap) bg_in_host "$name" "capture-$name" dumpcap -i eth0 -s 0 -B 32 -w "$OUTDIR/$file" ;;
    esac
    CAPTURE_PID[$name]=$LAST_PID

    for _ in $(seq 50); do
        grep -qiE "listening on|capturing on" "$LOG_DIR/capture-$name.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "capture on $name did not start:" >&2
    cat "$LOG_DIR/capture-$name.log" >&2
    return 1
}

# ---------------------------------------------------------------- clients
py_in_host() {  # py_in_host HOST LOGNAME SCRIPT ARGS...
    local host=$1 logname=$2 script=$3
    shift 3
    bg_in_host "$host" "$logname" env LAGTAP_HOST="$host" PYTHONUNBUFFERED=1 \
        PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$HERE/$script" "$@"
    CLIENT_PIDS+=("$LAST_PID")
}

run_ntp() {  # run_ntp HOST SECONDS
    py_in_host "$1" "$1.ntp" ntp_poll.py --server "$SERVER_ADDR" --duration "$2" \
        --log "$LOG_DIR/$1.ntp.jsonl"
}

run_chat() {  # run_chat HOST SECONDS [EXTRA-ARGS...]
    local host=$1 seconds=$2
    shift 2
    py_in_host "$host" "$host.chat" irc_chat.py --server "$SERVER_ADDR" --nick "$host" \
        --channel "$IRC_CHANNEL" --duration "$seconds" --log "$LOG_DIR/$host.chat.jsonl" "$@"
}

RTMP_BASE=""  # rtmp://<server> unless a scenario publishes elsewhere (tls: rtmps://)

run_broadcaster() {  # run_broadcaster HOST STREAM KBPS SECONDS [LOGSUFFIX [EXTRA-ARGS...]]
    local tag=$1.broadcaster${5:+-$5} host=$1 stream=$2 kbps=$3 seconds=$4
    shift $(($# < 5 ? $# : 5))
    py_in_host "$host" "$tag" broadcaster.py --url "${RTMP_BASE:-rtmp://$SERVER_ADDR}/live/$stream" \
        --bitrate "$kbps" --duration "$seconds" --size "${SIZE:-320x180}" \
        --mode "${MODE:-ffmpeg}" --log "$LOG_DIR/$tag.jsonl" "$@"
}

run_viewer() {  # run_viewer HOST CHANNELS PROFILE SECONDS [SWITCH_EVERY [EXTRA-ARGS...]]
    local host=$1 channels=$2 profile=$3 seconds=$4 every=${5:-0}
    shift $(($# < 5 ? $# : 5))
    py_in_host "$host" "$host.viewer" hls_viewer.py --server "$SERVER_ADDR" \
        --channels "$channels" --profile "$profile" --duration "$seconds" \
        --switch-every "$every" --log "$LOG_DIR/$host.viewer.jsonl" "$@"
}

# run_viewer_later DELAY ARGS...: run_viewer ARGS after DELAY seconds, without
# holding up the caller.
run_viewer_later() {
    local delay=$1
    shift
    (
        sleep "$delay"
        run_viewer "$@"
        wait "$LAST_PID"
    ) &
    CLIENT_PIDS+=("$!")
}

# Every non-server host polls NTP and chats for the whole run.
run_ntp_and_chat() {  # run_ntp_and_chat SECONDS
    local h
    for h in "${HOSTS[@]}"; do
        [[ $h == "$SERVER_HOST" ]] && continue
        run_ntp "$h" "$1"
        run_chat "$h" "$1"
    done
}

# Wait for the clients to finish on their own (they all have deadlines); after
# LIMIT more seconds stop whatever is left.
wait_clients() {
    local limit=$1 end pid alive
    end=$(($(date +%s) + limit))
    while (($(date +%s) < end)); do
        alive=0
        for pid in "${CLIENT_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        ((alive)) || break
        pause 0.5
    done
    stop_pids TERM "${CLIENT_PIDS[@]}"
    CLIENT_PIDS=()
}

# ---------------------------------------------------------------- tc tbf
# set_uplink HOST KBPS|none: shape HOST's egress (its eth0) with a token bucket.
set_uplink() {
    local host=$1 rate=$2 t
    t=$(now_ns)
    if [[ $rate == none ]]; then
        in_host "$host" tc qdisc del dev eth0 root 2>/dev/null || true
        tb_event "\"event\":\"tbf\",\"host\":\"$host\",\"iface\":\"eth0\",\"rate_kbps\":null,\"t_ns\":$t,\"tc\":\"(no qdisc)\""
    else
        # burst: 10 ms of tokens but at least 3 full packets; queue: 200 ms at rate.
        local burst=$((rate * 10 / 8)) latency=200ms
        ((burst < 4500)) && burst=4500
        in_host "$host" tc qdisc replace dev eth0 root tbf rate "${rate}kbit" \
            burst "$burst" latency "$latency"
        tb_event "\"event\":\"tbf\",\"host\":\"$host\",\"iface\":\"eth0\",\"rate_kbps\":$rate,\"t_ns\":$t,\"tc\":\"tbf rate ${rate}kbit burst $burst latency $latency\""
    fi
}

# ---------------------------------------------------------------- scenarios
start_platform() {
    tb_event "\"event\":\"run\",\"scenario\":\"$SCENARIO\",\"t_ns\":$(now_ns),\"ns_prefix\":\"$NS_PREFIX\",\"subnet\":\"$SUBNET_PREFIX.0/24\",\"server_addr\":\"$SERVER_ADDR\",\"irc_channel\":\"$IRC_CHANNEL\",\"command\":\"$COMMAND_LINE\""
    say "starting server software"
    start_server_services
    tb_event "\"event\":\"irc_server\",\"name\":\"$IRC_SERVER\""
}

scenario_basic() {
    local d=${DURATION:-52} delay=27
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host desktop viewer 21 any
    add_host mobile viewer 22 dumpcap
    start_platform
    run_ntp_and_chat "$d"
    run_broadcaster broadcaster lagtap "$LOW_KBPS" "$d"
    say "broadcasting; viewers join in $delay s"
    pause "$delay"
    run_viewer desktop lagtap desktop $((d - delay))
    run_viewer mobile lagtap mobile $((d - delay))
    wait_clients $((d - delay + 30))
}

scenario_skew() {
    local d=${DURATION:-60} delay=16
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host viewer viewer 21 eth0
    start_platform
    run_ntp_and_chat "$d"
    run_broadcaster broadcaster lagtap "$LOW_KBPS" "$d"
    pause "$delay"
    run_viewer viewer lagtap desktop $((d - delay))
    wait_clients $((d - delay + 30))
}

# After the run: shift capture clocks by known offsets (capture time = true time +
# offset), as if those hosts' clocks were off.
apply_skew() {
    local spec host off file format
    for spec in broadcaster:+0.250 viewer:-0.180; do
        host=${spec%%:*} off=${spec#*:}
        for file in "$OUTDIR/$host.pcap" "$OUTDIR/$host.pcapng"; do
            [[ -e $file ]] || continue
            format=nsecpcap
            [[ $file == *.pcapng ]] && format=pcapng
            editcap -F "$format" -t "$off" "$file" "$file.tmp"
            mv "$file.tmp" "$file"
            tb_event "\"event\":\"clock_offset\",\"host\":\"$host\",\"offset_s\":${off#+},\"applied_with\":\"editcap -F $format -t $off\""
        done
    done
}

scenario_switch() {
    local d=${DURATION:-75} delay=14 every=12
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster1 broadcaster 11 eth0
    add_host broadcaster2 broadcaster 12 eth0
    add_host switcher viewer 21 eth0
    start_platform
    run_ntp_and_chat "$d"
    run_broadcaster broadcaster1 alpha "$LOW_KBPS" "$d"
    run_broadcaster broadcaster2 bravo "$LOW_KBPS" "$d"
    pause "$delay"
    run_viewer switcher alpha,bravo desktop $((d - delay)) "$every"
    wait_clients $((d - delay + 30))
}

scenario_uplink() {
    local steps=(none 4000 2000 1000 512 none) delay=12 d rate
    d=$((${#steps[@]} * STEP))
    [[ -n $DURATION ]] && d=$DURATION
    SIZE=${SIZE:-480x270} MODE=${MODE:-obs}
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host viewer viewer 21 eth0
    # A modest socket send buffer (as OBS keeps) so a slow uplink backs up into the
    # broadcaster's own queue within seconds instead of into megabytes of kernel buffer.
    in_host broadcaster sysctl -qw net.ipv4.tcp_wmem="4096 16384 262144"
    start_platform
    run_ntp_and_chat $((d + 10))
    run_broadcaster broadcaster lagtap 4000 "$d"
    run_viewer_later "$delay" viewer lagtap desktop $((d - delay + 10))
    say "uplink steps of $STEP s: ${steps[*]}"
    for rate in "${steps[@]}"; do
        set_uplink broadcaster "$rate"
        pause "$STEP"
    done
    wait_clients 40
}

scenario_bitrates() {
    local phase=${DURATION:-45} rates=(800 1600 2400) delay=5 r
    phase=$((phase / 3))
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host viewer viewer 21 eth0
    start_platform
    run_ntp_and_chat $((3 * phase + delay))
    run_viewer_later "$delay" viewer rate800,rate1600,rate2400 desktop $((3 * phase + 6)) "$phase" \
        --stay-on-last
    for r in "${rates[@]}"; do
        say "broadcasting at $r kb/s for $phase s"
        run_broadcaster broadcaster "rate$r" "$r" "$phase" "$r"
        wait "$LAST_PID" || true
    done
    wait_clients $((delay + 30))
}

# ---------------------------------------------------------------- tls
# tls_args HOST CLIENT: the TLS options of a client in the tls scenario, in TLS_ARGS:
# the server name to send (SNI) and to check the run's certificate against, and the
# client's own key log, logs/<host>.<client>.keys.
tls_args() {
    TLS_ARGS=(--sni "$TLS_NAME" --cafile "$TLS_DIR/server.crt" --keylog "$LOG_DIR/$1.$2.keys")
}

scenario_tls() {
    local d=${DURATION:-36} delay=14 h subject
    TLS=1
    RTMP_BASE=rtmps://$SERVER_ADDR:$RTMPS_PORT
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host desktop viewer 21 eth0
    add_host legacy viewer 22 eth0
    add_host mobile viewer 23 eth0
    start_platform
    subject=$(openssl x509 -in "$TLS_DIR/server.crt" -noout -subject -nameopt RFC2253)
    tb_event "\"event\":\"tls\",\"https\":\"https://$SERVER_ADDR:$HTTPS_PORT\",\"wss\":\"wss://$SERVER_ADDR:$HTTPS_PORT$WS_PATH\",\"ircs\":\"$SERVER_ADDR:$IRC_TLS_PORT\",\"rtmps\":\"$RTMP_BASE/live/<channel>\",\"sni\":\"$TLS_NAME\",\"certificate\":\"${subject#subject=}, ECDSA P-256, self-signed\""
    for h in broadcaster desktop legacy mobile; do run_ntp "$h" "$d"; done
    # Chat: IRC over TLS 1.3 and 1.2 on 6697 (InspIRCd, GnuTLS), IRC over wss on 443
    # (nginx, OpenSSL) over TLS 1.3 and 1.2.
    tls_args broadcaster chat
    run_chat broadcaster "$d" --tls --tls-version 1.3 "${TLS_ARGS[@]}"
    tls_args desktop chat
    run_chat desktop "$d" --tls --websocket "$WS_PATH" --tls-version 1.3 "${TLS_ARGS[@]}"
    tls_args legacy chat
    run_chat legacy "$d" --tls --tls-version 1.2 "${TLS_ARGS[@]}"
    tls_args mobile chat
    run_chat mobile "$d" --tls --websocket "$WS_PATH" --tls-version 1.2 "${TLS_ARGS[@]}"
    # RTMPS: ffmpeg's GnuTLS writes the key log (SSLKEYLOGFILE).
    run_broadcaster broadcaster lagtap "$LOW_KBPS" "$d" "" \
        --keylog "$LOG_DIR/broadcaster.broadcaster.keys"
    say "broadcasting over RTMPS; viewers join in $delay s"
    pause "$delay"
    # HLS over HTTPS, K=3 each: HTTP/1.1 on TLS 1.3; HTTP/1.1 on TLS 1.2 (AES-128-GCM);
    # HTTP/2 on TLS 1.3.
    tls_args desktop viewer
    run_viewer desktop lagtap desktop $((d - delay)) 0 --https --tls-version 1.3 \
        "${TLS_ARGS[@]}"
    tls_args legacy viewer
    run_viewer legacy lagtap desktop $((d - delay)) 0 --https --tls-version 1.2 \
        --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 "${TLS_ARGS[@]}"
    tls_args mobile viewer
    run_viewer mobile lagtap desktop $((d - delay)) 0 --https --http2 --tls-version 1.3 \
        "${TLS_ARGS[@]}"
    wait_clients $((d - delay + 30))
}

# ---------------------------------------------------------------- lowlatency
LL_PORT=8080

# The packager: ffmpeg plays the channel from nginx-rtmp on the server itself (its
# own address: the kernel routes it over loopback, so eth0's capture has none of
# it) and writes fMP4 low-latency HLS by HTTP PUT (chunked transfer, a fragment per
# frame) to the origin; video only (-an): the viewers follow one rendition.
run_ll_packager() {  # run_ll_packager CHANNEL SECONDS
    local ch=$1 seconds=$2
    bg_in_host "$SERVER_HOST" "server.packager" timeout "$seconds" ffmpeg -nostdin \
        -hide_banner -loglevel warning -fflags nobuffer -analyzeduration 1000000 \
        -i "rtmp://$SERVER_ADDR/live/$ch" -map 0:v -c:v copy -f dash -strict experimental \
        -seg_duration 2 -streaming 1 -ldash 1 -lhls 1 -hls_playlist 1 -window_size 6 \
        -extra_window_size 4 -use_timeline 0 -write_prft 1 \
        -utc_timing_url "http://$SERVER_ADDR:$LL_PORT/time" \
        -init_seg_name "$ch-init.\$ext\$" -media_seg_name "$ch-\$Number%05d\$.\$ext\$" \
        -format_options movflags=+cmaf -method PUT \
        "http://127.0.0.1:$LL_PORT/ll/$ch/manifest.mpd"
    SERVER_PIDS+=("$LAST_PID")
}

run_ll_viewer() {  # run_ll_viewer HOST CHANNEL SECONDS [EXTRA-ARGS...]
    local host=$1 ch=$2 seconds=$3
    shift 3
    py_in_host "$host" "$host.viewer" ll_viewer.py --server "$SERVER_ADDR" --port "$LL_PORT" \
        --channel "$ch" --duration "$seconds" --save "$LOG_DIR/segments/$host" \
        --log "$LOG_DIR/$host.viewer.jsonl" "$@"
}

# h2viewer: the low-latency player (--prefetch) over HTTP/2 on TLS 1.3 through the
# nginx front (start_h2_front), its key log in logs/<host>.viewer.keys.
LL_H2_PORT=8443

run_h2_viewer() {  # run_h2_viewer HOST CHANNEL SECONDS
    tls_args "$1" viewer
    run_ll_viewer "$1" "$2" "$3" --prefetch --http2 --port "$LL_H2_PORT" --tls-version 1.3 \
        "${TLS_ARGS[@]}"
}

scenario_lowlatency() {
    local d=${DURATION:-30} delay=8 h
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host llviewer viewer 21 eth0
    add_host viewer viewer 22 eth0
    add_host h2viewer viewer 23 eth0
    add_host partviewer viewer 24 eth0
    add_host rangeviewer viewer 25 eth0
    start_platform
    # The origin: the dash muxer names its media playlist media_0.m3u8; viewers ask
    # for index.m3u8 (lagtap reads the channel from /<app>/<channel>/index.m3u8).
    bg_in_host "$SERVER_HOST" "server.origin" env LAGTAP_HOST="$SERVER_HOST" \
        PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$HERE/ll_origin.py" --port "$LL_PORT" \
        --alias "/ll/lagtap/index.m3u8=/ll/lagtap/media_0.m3u8" \
        --parts /llhls/lagtap=/ll/lagtap --byterange-parts /llbr/lagtap=/ll/lagtap \
        --part-frames 6 --fps 30 --segment-frames 60 \
        --log "$LOG_DIR/server.origin.jsonl"
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" tcp "$LL_PORT"
    tb_event "\"event\":\"ll\",\"origin\":\"http://$SERVER_ADDR:$LL_PORT/ll/<channel>/index.m3u8\""
    start_h2_front "$LL_H2_PORT" "$LL_PORT"
    tb_event "\"event\":\"ll_h2\",\"front\":\"https://$SERVER_ADDR:$LL_H2_PORT/ll/<channel>/index.m3u8\",\"sni\":\"$TLS_NAME\""
    for h in broadcaster llviewer viewer; do run_ntp "$h" "$d"; done
    run_ntp h2viewer "$d"
    run_ntp partviewer "$d"
    run_ntp rangeviewer "$d"
    run_broadcaster broadcaster lagtap "$LOW_KBPS" "$d"
    pause 2
    run_ll_packager lagtap $((d + 5))
    say "packaging low-latency HLS; viewers join in $delay s"
    pause "$delay"
    # The viewers stop 4 s before the broadcaster does: no fetch waits on a segment
    # that will never be finished.
    run_ll_viewer llviewer lagtap $((d - delay - 6)) --prefetch
    run_ll_viewer viewer lagtap $((d - delay - 6))
    run_h2_viewer h2viewer lagtap $((d - delay - 6))
    run_ll_viewer partviewer lagtap $((d - delay - 6)) --parts --app llhls
    run_ll_viewer rangeviewer lagtap $((d - delay - 6)) --parts --app llbr
    wait_clients $((d - delay + 30))
}

# ---------------------------------------------------------------- rtmpplay
# run_rtmp_player HOST CHANNEL SECONDS: ffmpeg plays rtmp://SERVER/live/CHANNEL and
# copies what it receives into logs/<host>.play.flv (-copyinkf: the frames before
# the first key frame too, so the file holds every frame the player received up
# to its stop). It stops itself after SECONDS of media (-t).
run_rtmp_player() {
    local host=$1 ch=$2 seconds=$3 url
    url="rtmp://$SERVER_ADDR/live/$ch"
    tb_event "\"event\":\"rtmp_player\",\"host\":\"$host\",\"channel\":\"$ch\",\"url\":\"$url\",\"flv\":\"logs/$host.play.flv\",\"t_ns\":$(now_ns)"
    bg_in_host "$host" "$host.player" ffmpeg -nostdin -hide_banner -loglevel info \
        -i "$url" -t "$seconds" -c copy -copyinkf -f flv -y "$LOG_DIR/$host.play.flv"
    CLIENT_PIDS+=("$LAST_PID")
}

scenario_rtmpplay() {
    local d=${DURATION:-24} delay=8 h
    add_host "$SERVER_HOST" server 1 eth0
    add_host broadcaster broadcaster 11 eth0
    add_host player viewer 21 eth0
    add_host viewer viewer 22 eth0
    # The player's downlink (the switch port towards it) limited to 200 kb/s by a
    # token bucket of one packet: the stream needs about 170 kb/s with its headers,
    # so packets queue there whenever audio and video bunch up, and the frames'
    # latency varies by tens of milliseconds rather than staying at a LAN's 0.1 ms.
    ip netns exec "$SW_NS" tc qdisc replace dev p-player root tbf rate 200kbit burst 1600 \
        latency 400ms
    tb_event "\"event\":\"tbf\",\"host\":\"player\",\"iface\":\"p-player (switch port, downlink)\",\"rate_kbps\":200,\"t_ns\":$(now_ns),\"tc\":\"tbf rate 200kbit burst 1600 latency 400ms\""
    start_platform
    for h in broadcaster player viewer; do run_ntp "$h" "$d"; done
    run_broadcaster broadcaster lagtap "$LOW_KBPS" "$d"
    say "broadcasting; the RTMP player and the HLS viewer join in $delay s"
    pause "$delay"
    # Both stop 4 s before the broadcast does: every frame they get was published.
    # The HLS viewer beside the player shows what packaging adds.
    run_rtmp_player player lagtap $((d - delay - 4))
    run_viewer viewer lagtap desktop $((d - delay - 4))
    wait_clients $((d - delay + 30))
}

# After the captures stopped: <host>.keys beside each capture of a host with TLS
# clients (their key logs; the server's holds every client's, as it saw every flow),
# and dsb/<host>.pcapng with the same keys as Decryption Secrets Blocks (--dsb;
# by default every host in tls, none in lowlatency).
publish_keys() {
    local h capture keys dsb n dsb_list=$DSB_LIST
    [[ -n $dsb_list ]] || { [[ $SCENARIO == tls ]] && dsb_list=all || dsb_list=none; }
    for h in "${HOSTS[@]}"; do
        capture=$OUTDIR/$h.pcap
        [[ -e $capture ]] || continue
        if [[ $h != "$SERVER_HOST" ]] && ! compgen -G "$LOG_DIR/$h.*.keys" >/dev/null; then
            continue  # no TLS client there
        fi
        keys=$OUTDIR/$h.keys
        if [[ $h == "$SERVER_HOST" ]]; then
            cat "$LOG_DIR"/*.keys >"$keys"
        else
            cat "$LOG_DIR/$h".*.keys >"$keys"
        fi
        n=$(grep -cv -e "^#" -e "^$" "$keys" || true)  # secrets, not comments
        dsb=""
        if [[ $dsb_list == all || ",$dsb_list," == *",$h,"* ]]; then
            mkdir -p "$OUTDIR/dsb"
            dsb=dsb/$h.pcapng
            editcap --inject-secrets "tls,$keys" "$capture" "$OUTDIR/$dsb"
        fi
        tb_event "\"event\":\"keys\",\"host\":\"$h\",\"file\":\"$h.keys\",\"secrets\":$n,\"dsb\":\"$dsb\""
    done
}

say "scenario $SCENARIO -> $OUTDIR (namespaces $NS_PREFIX-*)"
net_create_switch
"scenario_$SCENARIO"

say "stopping captures"
sleep 1
for h in "${!CAPTURE_PID[@]}"; do stop_pids INT "${CAPTURE_PID[$h]}"; done
CAPTURE_PID=()
chmod a+r "$OUTDIR"/*.pcap* 2>/dev/null || true  # dumpcap writes 0600
stop_server_services
[[ $SCENARIO == skew ]] && apply_skew
[[ $SCENARIO == tls || $SCENARIO == lowlatency ]] && publish_keys
tb_event "\"event\":\"end\",\"t_ns\":$(now_ns)"
find "$LOG_DIR" -name '*.log' -empty -delete
say "writing truth.json"
"$PYTHON" -B "$HERE/make_truth.py" "$OUTDIR"
say "done: $OUTDIR"
