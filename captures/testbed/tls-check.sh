#!/usr/bin/env bash
# Checks a tls scenario run with tshark: every encrypted TLS record in every capture
# decrypts with the key file beside it (<host>.pcap + <host>.keys) and, without any
# key file, with the keys embedded in dsb/<host>.pcapng; and the decrypted traffic
# holds what the clients logged (truth.json): HTTP/1.1 requests, HTTP/2 requests,
# IRC PRIVMSG lines over TLS and over wss, the RTMPS publish, NTP.
#
#   captures/testbed/tls-check.sh OUTDIR     (exit 1 if a check fails)
#
# tshark 4.0 has no IRC or RTMP dissector for TLS ports (its tls.port table offers
# neither), so decrypted IRC-over-TLS and RTMPS show as `data`: the PRIVMSG lines and
# the RTMP command names are found in the decrypted bytes.
set -euo pipefail

(($# == 1)) || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$1
[[ -e $OUT/truth.json ]] || { echo "$OUT/truth.json: no such file" >&2; exit 2; }
command -v tshark >/dev/null || { echo "needs tshark (apt-get install tshark)" >&2; exit 3; }

# tshark as every check runs it: TCP segments reassembled out of order too, since a
# capture can hold a lost segment and its retransmission, and without this tshark
# feeds the TLS layer the wrong bytes after the gap (records fail their tag).
ts() { tshark -o tcp.reassemble_out_of_order:TRUE "$@"; }

fail=0
say() { printf '%-4s %-26s %s\n' "$1" "$2" "$3"; }
check() {  # check LABEL WHAT GOT WANT: equal counts pass
    if [[ $3 == "$4" ]]; then
        say ok "$1" "$2: $3"
    else
        say FAIL "$1" "$2: $3 (want $4)"
        fail=1
    fi
}

# expect HOST: "h1 h2 ircs wss ws ntp" -- what the clients' logs say this capture
# holds: HLS requests over HTTP/1.1 and over HTTP/2, PRIVMSG lines over IRC/TLS and
# over wss (each sent line once, each received line once), WebSocket handshakes, NTP
# queries. The server saw every host's.
expect() {
    python3 - "$OUT/truth.json" "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
host = sys.argv[2]
mine = lambda h: host == "server" or h == host
chat_proto = {s["host"]: s["proto"] for s in t["tls_sessions"] if s["client"] == "chat"}
h2_viewers = {s["host"] for s in t["tls_sessions"] if s["alpn"] == "h2"}
requests = t["segments"] + t["playlists"]
n = {"h1": 0, "h2": 0, "ircs": 0, "wss": 0, "ws": 0, "ntp": 0}
for r in requests:
    if mine(r["viewer"]):
        n["h2" if r["viewer"] in h2_viewers else "h1"] += 1
for m in t["chat"]:
    if mine(m["sender"]):
        n[chat_proto[m["sender"]]] += 1
    for rcv in m["receivers"]:
        if mine(rcv):
            n[chat_proto[rcv]] += 1
n["ws"] = sum(1 for s in t["tls_sessions"] if s["proto"] == "wss" and mine(s["host"]))
n["ntp"] = sum(1 for q in t["ntp_queries"] if mine(q["host"]) and q["ok"])
print(n["h1"], n["h2"], n["ircs"], n["wss"], n["ws"], n["ntp"])
EOF
}

# records FILE [KEYLOG]: "encrypted decrypted undecryptable bad-tag" over the TLS
# records of outer type 23 (all of TLS 1.3's encrypted records, TLS 1.2's
# application data), from tshark's TLS debug log.
records() {
    local dbg
    dbg=$(mktemp /tmp/lagtap-tls-debug.XXXXXX)
    ts -r "$1" ${2:+-o "tls.keylog_file:$2"} -o "tls.debug_file:$dbg" >/dev/null 2>&1
    awk '/^dissect_ssl3_record: content_type / { ct = $3; if (ct == 23) n++ }
         /^decrypt_ssl3_record: no decoder available/ { if (ct == 23) nodec++ }
         /auth_tag\(OK\)/ { if (ct == 23) ok++ }
         /auth_tag\(expect\)/ { if (ct == 23) bad++ }
         END { printf "%d %d %d %d\n", n, ok, nodec, bad }' "$dbg"
    rm -f "$dbg"
}

# count FILE KEYLOG FILTER FIELD PATTERN: occurrences of PATTERN in FIELD over the
# packets matching FILTER.
count() {
    ts -r "$1" ${2:+-o "tls.keylog_file:$2"} -o data.show_as_text:TRUE -Y "$3" \
        -T fields -e "$4" 2>/dev/null | { grep -o -- "$5" || true; } | wc -l
}

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

check_capture() {  # check_capture FILE HOST [KEYLOG]
    local f=$1 host=$2 keys=${3:-} label n ok nodec bad h1 h2 ircs wss ws ntp got
    label=${f#"$OUT"/}
    read -r n ok nodec bad < <(records "$f" "$keys")
    if ((n > 0 && ok == n && nodec == 0 && bad == 0)); then
        say ok "$label" "TLS records decrypted: $ok of $n"
    else
        say FAIL "$label" "TLS records decrypted: $ok of $n ($nodec without keys, $bad bad tag)"
        fail=1
    fi
    read -r h1 h2 ircs wss ws ntp < <(expect "$host")
    check "$label" "HLS over HTTP/1.1 requests" "$(count "$f" "$keys" 'http.request' http.request.uri /hls/)" "$h1"
    check "$label" "HTTP/1.1 200 responses" "$(count "$f" "$keys" 'http.response' http.response.code 200)" "$h1"
    check "$label" "WebSocket upgrades (101)" "$(count "$f" "$keys" 'http.response' http.response.code 101)" "$ws"
    check "$label" "HLS over HTTP/2 requests" "$(count "$f" "$keys" 'http2.type == 1' http2.headers.path /hls/)" "$h2"
    check "$label" "HTTP/2 200 responses" "$(count "$f" "$keys" 'http2.type == 1' http2.headers.status 200)" "$h2"
    check "$label" "PRIVMSG over IRC/TLS" "$(count "$f" "$keys" 'tcp.port == 6697 && data' data.text 'PRIVMSG #')" "$ircs"
    check "$label" "PRIVMSG over wss" "$(count "$f" "$keys" 'websocket' websocket.payload.text 'PRIVMSG #')" "$wss"
    got=$(ts -r "$f" -Y 'ntp.flags.mode == 3' 2>/dev/null | wc -l)
    check "$label" "NTP client queries" "$got" "$ntp"
    if [[ $host == server || $host == broadcaster ]]; then
        # The RTMP commands of a publish, as AMF0 strings in the decrypted bytes.
        local name missing="" dump
        dump=$(mktemp /tmp/lagtap-rtmps.XXXXXX)
        ts -r "$f" ${keys:+-o "tls.keylog_file:$keys"} -Y 'tcp.port == 1936 && data' \
            -T fields -e data.data >"$dump" 2>/dev/null
        for name in connect releaseStream FCPublish createStream publish @setDataFrame \
            onMetaData; do
            grep -q "$(hex "$name")" "$dump" || missing+=" $name"
        done
        rm -f "$dump"
        if [[ -z $missing ]]; then
            say ok "$label" "RTMPS decrypted: connect ... publish, @setDataFrame onMetaData"
        else
            say FAIL "$label" "RTMPS: not in the decrypted bytes:$missing"
            fail=1
        fi
    fi
}

for f in "$OUT"/*.pcap; do
    host=$(basename "$f" .pcap)
    check_capture "$f" "$host" "$OUT/$host.keys"
    # The same capture without keys: nothing decrypts (the check above is no accident).
    read -r n ok _ _ < <(records "$f")
    if ((ok == 0)); then
        say ok "${f#"$OUT"/}" "without keys: 0 of $n records decrypt"
    else
        say FAIL "${f#"$OUT"/}" "without keys $ok records decrypted"
        fail=1
    fi
done
for f in "$OUT"/dsb/*.pcapng; do
    [[ -e $f ]] || continue
    check_capture "$f" "$(basename "$f" .pcapng)"
done

# What each TLS connection agreed on, from the server's capture (ServerHello).
if [[ -e $OUT/server.pcap ]]; then
    echo "TLS connections in server.pcap (client, server port, SNI, version, cipher suite, ALPN):"
    local_tmp=$(mktemp -d /tmp/lagtap-tls-check.XXXXXX)
    ts -r "$OUT/server.pcap" -Y 'tls.handshake.type == 1' -T fields -e tcp.stream \
        -e ip.src -e tcp.dstport -e tls.handshake.extensions_server_name \
        >"$local_tmp/hello" 2>/dev/null
    # With the keys, TLS 1.3's EncryptedExtensions (ALPN) is in the ServerHello's frame.
    ts -r "$OUT/server.pcap" -o "tls.keylog_file:$OUT/server.keys" \
        -Y 'tls.handshake.type == 2' -T fields -e tcp.stream -e tls.handshake.version \
        -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite \
        -e tls.handshake.extensions_alpn_str >"$local_tmp/server-hello" 2>/dev/null
    awk -F'\t' '
        BEGIN {
            v["0x0303"] = "TLS 1.2"; v["0x0304"] = "TLS 1.3"
            c["0x1301"] = "TLS_AES_128_GCM_SHA256"; c["0x1302"] = "TLS_AES_256_GCM_SHA384"
            c["0x1303"] = "TLS_CHACHA20_POLY1305_SHA256"
            c["0xc02b"] = "ECDHE-ECDSA-AES128-GCM-SHA256"
            c["0xc02c"] = "ECDHE-ECDSA-AES256-GCM-SHA384"
            c["0xcca9"] = "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        FILENAME ~ /server-hello$/ {  # a second ServerHello: the first was a HelloRetryRequest
            hrr[$1] = $1 in sh; sh[$1] = $0; next }
        !($1 in seen) { seen[$1] = 1; order[++n] = $1; client[$1] = $2; port[$1] = $3; sni[$1] = $4 }
        END {
            for (i = 1; i <= n; i++) {
                s = order[i]; split(sh[s], f, "\t"); ver = f[3] != "" ? f[3] : f[2]
                printf "     %-11s %-5s %-12s %-8s %-30s %-9s%s\n", client[s], port[s],
                       (sni[s] != "" ? sni[s] : "-"), (ver in v ? v[ver] : ver),
                       (f[4] in c ? c[f[4]] : f[4]), (f[5] != "" ? f[5] : "-"),
                       (hrr[s] ? "(after a HelloRetryRequest)" : "")
            }
        }' "$local_tmp/server-hello" "$local_tmp/hello"
    rm -rf "$local_tmp"
fi

((fail == 0)) && echo "tls-check: all checks passed"
exit "$fail"
