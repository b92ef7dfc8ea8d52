#!/usr/bin/env bash
# RTMPT capture: ffmpeg publishes over rtmpt:// (RTMP tunnelled over HTTP) through
# rtmpt_gateway.py to nginx-rtmp, all on the loopback of a network namespace of its
# own, captured by tcpdump on that loopback. Makes captures/rtmpt/:
#   broadcaster.pcap       the capture (HTTP on 8080 and the gateway's RTMP on 1935)
#   sent.json              what ffmpeg and ffprobe say was sent (not a scenario
#                          truth.json: this run has no viewers, chat or NTP)
#   logs/                  ffmpeg's -progress output, the gateway's request log,
#                          nginx's logs (and with POOL, the pool client's log)
# With POOL (2 or more), ffmpeg publishes plain RTMP on the loopback to
# rtmpt_pool_client.py, which carries the one tunnel over POOL keep-alive HTTP
# connections (requests on whichever is free, so out of order on the wire): what
# captures/rtmpt-multi/ holds.
# Usage (root): captures/testbed/rtmpt.sh [OUT_DIR] [SECONDS] [POOL]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../rtmpt}
SECONDS_LONG=${2:-4}
POOL=${3:-0}
NS=lagtap-rtmpt
WORK=$(mktemp -d)
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
# Started with `ip netns exec` itself (it execs the program), never through a
# function, so that $! is the program and can be stopped.

# The broadcast: libx264 (key frame every 25 frames) and AAC, encoded to a file
# first so that what is sent can be counted by ffprobe.
ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=320x180:rate=25" \
    -f lavfi -i "sine=frequency=440:sample_rate=44100" -t "$SECONDS_LONG" \
    -c:v libx264 -preset veryfast -g 25 -b:v 300k -pix_fmt yuv420p \
    -c:a aac -b:a 64k -f flv "$WORK/source.flv"

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $OUT/logs/nginx-error.log info;
events { worker_connections 64; }
rtmp {
    server {
        listen 127.0.0.1:1935;
        application live { live on; record off; }
    }
}
EOF
ip netns exec "$NS" nginx -p "$WORK/nginx" -e "$OUT/logs/nginx-error.log" -c "$WORK/nginx.conf" -g 'daemon off;' &
pids+=($!)
rm -f "$OUT/logs/gateway.jsonl"
ip netns exec "$NS" python3 "$HERE/rtmpt_gateway.py" 127.0.0.1 8080 127.0.0.1 1935 "$OUT/logs/gateway.jsonl" &
pids+=($!)
ip netns exec "$NS" tcpdump -i lo -s 0 -U -w "$OUT/broadcaster.pcap" 'tcp port 8080' \
    2>"$OUT/logs/tcpdump.log" &
tcpdump_pid=$!
pids+=($tcpdump_pid)
sleep 1

KEY=tunnel
URL=rtmpt://127.0.0.1:8080/live/$KEY
client_pid=
if [ "$POOL" -gt 0 ]; then
    KEY=multi
    URL=rtmp://127.0.0.1:1936/live/$KEY
    ip netns exec "$NS" python3 "$HERE/rtmpt_pool_client.py" 1936 127.0.0.1 8080 "$POOL" \
        "$OUT/logs/client.jsonl" &
    client_pid=$!
    pids+=($client_pid)
    sleep 0.5
fi
ip netns exec "$NS" ffmpeg -hide_banner -loglevel info -re -i "$WORK/source.flv" -c copy -f flv \
    -progress "$OUT/logs/ffmpeg-progress.txt" \
    "$URL" 2>"$OUT/logs/ffmpeg.log"
# The pool client closes the tunnel once ffmpeg has hung up and every request is in.
if [ -n "$client_pid" ]; then wait "$client_pid" || true; fi
sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true

# Truth: ffprobe's packets of what ffmpeg sent, ffmpeg's own frame count.
count() { ffprobe -v error -select_streams "$1" -show_entries packet=flags -of csv=p=0 "$WORK/source.flv" | grep -c "$2" || true; }
video=$(count v .)
key=$(count v K)
audio=$(count a .)
frames=$(grep '^frame=' "$OUT/logs/ffmpeg-progress.txt" | tail -1 | cut -d= -f2)
cat >"$OUT/sent.json" <<EOF
{
  "stream_key": "$KEY",
  "url": "$URL",
  "pool_connections": $POOL,
  "ffprobe_video_packets": $video,
  "ffprobe_key_packets": $key,
  "ffprobe_audio_packets": $audio,
  "ffmpeg_progress_frames": ${frames:-0},
  "versions": {
    "ffmpeg": "$(ffmpeg -version | head -1)",
    "nginx": "$(nginx -v 2>&1)",
    "tcpdump": "$(tcpdump --version 2>&1 | head -1)",
    "python": "$(python3 --version)"
  }
}
EOF
cat "$OUT/sent.json"
