#!/bin/sh
# Makes the real HTTP/2 captures of h2-parser's tests: nginx serving h2c (HTTP/2 over
# plain TCP, prior knowledge) on 127.0.0.1:18082, curl and nghttp as clients, tcpdump
# on lo. Everything runs inside a network namespace of its own, so no other traffic
# gets into the captures. Usage: sh make-captures.sh OUTDIR   (as root)
set -eu
OUT=$(realpath "${1:?outdir}")
HERE=$(dirname "$(realpath "$0")")
DATA=$HERE/../../..
NS=lagtap-h2cap
T=$(mktemp -d /tmp/lagtap-h2.XXXXXX)
mkdir -p "$T/www/hls" "$OUT"
# Bodies: the real nginx-rtmp playlist and segment of the other parsers' fixtures.
cp "$DATA/hls-parser/tests/data/nginx-live.m3u8" "$T/www/hls/test.m3u8"
cp "$DATA/mpegts-parser/tests/data/nginx-test-0.ts" "$T/www/hls/test-0.ts"
cat > "$T/nginx.conf" <<CONF
daemon off;
master_process off;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 64; }
http {
  access_log $T/access.log;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server { listen 127.0.0.1:18082 http2;
    root $T/www;
    gzip on; gzip_min_length 1; gzip_types application/vnd.apple.mpegurl;
    location = /hls/push.m3u8 { alias $T/www/hls/test.m3u8; http2_push /hls/test.m3u8; }
    location = /hls/reset { return 444; }
  }
}
CONF
ip netns add $NS
trap 'ip netns del $NS; rm -rf "$T"' EXIT
IN="ip netns exec $NS"
$IN ip link set lo up
$IN nginx -c "$T/nginx.conf" -p "$T" & NGINX=$!
# nghttpd (nghttp2's server) on 18083: pads every frame it sends (-b 17), encodes
# response headers with HPACK's dynamic table, sends trailers after bodies.
$IN nghttpd --no-tls -b 17 --trailer 'x-lagtap-trailer: end' -d "$T/www" 18083 & NGHTTPD=$!
printf 'lagtap upload\n%.0s' $(seq 64) > "$T/upload"
sleep 1
U=http://127.0.0.1:18082/hls
U2=http://127.0.0.1:18083/hls

$IN tcpdump -i lo -s0 -U -w "$OUT/h2c.pcap" 'tcp port 18082 or tcp port 18083' 2>/dev/null & TCPDUMP=$!
sleep 1
# Connection 0: nghttp sends every request at once (4 concurrent streams: each URI
# twice, -m 2, so the second HEADERS of each refer to the first's HPACK dynamic table
# entries), pads every frame it sends (-b 17) and sends a header block too big for one
# frame (--continuation: HEADERS + CONTINUATION).
$IN nghttp -n -b 17 --continuation -m 2 $U/test.m3u8 $U/missing.m3u8
# Connection 1: the segment (199656 bytes) concurrently with playlists, a 404 and a
# stream nginx resets (return 444 -> RST_STREAM); nghttp announces a 8192-byte HPACK
# table (-c) and makes its own encoder's table 1024 bytes (a dynamic table size
# update in its first header block).
$IN nghttp -n -c 8192 --encoder-header-table-size=1024 \
  $U/test-0.ts $U/test.m3u8 "$U/test.m3u8?again" $U/reset $U/missing.m3u8 || true
# Connection 2: a server push (nginx's http2_push: PUSH_PROMISE for the playlist).
$IN nghttp -n $U/push.m3u8
# Connection 3: curl, prior knowledge, gzip-compressed playlist. (curl 7.88.1 fails
# with "Error in the HTTP2 framing layer" on a second transfer over an h2c
# prior-knowledge connection, so curl makes just one.)
$IN curl -s --http2-prior-knowledge --compressed -o /dev/null $U/test.m3u8
# Connection 4: nghttpd. nghttp pads its frames too; each URI twice (-m 2).
$IN nghttp -n -b 17 -m 2 $U2/test.m3u8 $U2/missing.m3u8
# Connection 5: nghttpd; a POST with a padded request body and request trailers.
$IN nghttp -n -b 17 -d "$T/upload" --trailer 'x-lagtap-sum: 896' $U2/test.m3u8
sleep 1
kill $TCPDUMP; wait $TCPDUMP || true
kill $NGHTTPD; wait $NGHTTPD || true
kill $NGINX; wait $NGINX || true
