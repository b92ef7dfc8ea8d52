#!/bin/sh
# Regenerates the real-bytes fixtures of http-parser, hls-parser and mpegts-parser.
# Everything runs on loopback: nginx (with the RTMP module) ingests an ffmpeg push
# and serves HLS over HTTP on 127.0.0.1:18080 while tcpdump records port 18080.
# Usage: sh make-fixtures.sh OUTDIR   (needs root for tcpdump on lo)
set -eu
OUT=${1:?outdir}
T=$(mktemp -d /tmp/lagtap-hls.XXXXXX)
mkdir -p "$T/hls" "$OUT"
cat > "$T/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:19351;
  application live { live on; hls on; hls_path $T/hls; hls_fragment 4s; } } }
http {
  access_log $T/access.log;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server { listen 127.0.0.1:18080;
    gzip on; gzip_min_length 1; gzip_types application/vnd.apple.mpegurl;
    location /hls { root $T; } } }
CONF
nginx -c "$T/nginx.conf" -p "$T" & NGINX=$!
sleep 1
tcpdump -i lo -s0 -U -w "$OUT/hls.pcap" port 18080 2>/dev/null & TCPDUMP=$!
ffmpeg -loglevel error -re -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine -t 14 \
  -c:v libx264 -b:v 300k -g 60 -keyint_min 60 -sc_threshold 0 -c:a aac \
  -f flv rtmp://127.0.0.1:19351/live/test & FFMPEG=$!
sleep 11
U=http://127.0.0.1:18080/hls
# 1. one playlist request on its own connection
curl -s -o "$OUT/test.m3u8" $U/test.m3u8
# 2. keep-alive: playlist, first segment, a missing file, on one connection
SEG=$(grep -v '^#' "$OUT/test.m3u8" | head -1)
curl -s -o /dev/null -o "$OUT/segment.ts" -o /dev/null $U/test.m3u8 $U/$SEG $U/missing.m3u8
# 3. gzip-compressed playlist
curl -s --compressed -o /dev/null $U/test.m3u8
# 4. HEAD, and a conditional GET answered 304
curl -s -I -o /dev/null $U/test.m3u8
LM=$(curl -s -I $U/$SEG | tr -d '\r' | sed -n 's/^Last-Modified: //p')
curl -s -o /dev/null -H "If-Modified-Since: $LM" $U/$SEG
sleep 1
kill $TCPDUMP; wait $FFMPEG || true; kill $NGINX; wait || true
rm -rf "$T"
