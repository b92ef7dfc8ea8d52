# shellcheck shell=bash disable=SC2034  # IRC_SERVER etc. are read by testbed.sh
# Server-side software for testbed.sh (sourced, not run): nginx with the RTMP module
# (ingest + HLS over HTTP), an IRC server (inspircd, else ngircd) and chronyd as the
# NTP server. Configs are generated into $RUN_DIR/conf; nothing touches /etc.
#
# With TLS=1 the same software also speaks TLS, with a self-signed certificate made
# for the run: nginx serves the HLS over HTTPS on 443 (HTTP/1.1 and HTTP/2 by ALPN)
# and proxies WebSocket chat at https://<server>/irc to InspIRCd; nginx's stream
# module terminates RTMPS on 1936 in front of nginx-rtmp; InspIRCd (GnuTLS) takes IRC
# over TLS on 6697.
#
# Needs: RUN_DIR, LOG_DIR, SERVER_HOST, SERVER_ADDR, SUBNET_PREFIX, netns.sh; IRCD
# (optional) picks the IRC server; TLS (optional, 0 or 1).

RTMP_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
SERVER_PIDS=()
IRC_SERVER=""   # which IRC daemon ran: inspircd or ngircd
TLS=${TLS:-0}
TLS_NAME=lagtap.test   # the certificate's DNS name; the clients send it as SNI
HTTPS_PORT=443 RTMPS_PORT=1936 IRC_TLS_PORT=6697
WS_PATH=/irc           # WebSocket chat: wss://<server>/irc, proxied by nginx
WS_BACKEND_PORT=8067   # InspIRCd's WebSocket listener, on the server's loopback
TLS_DIR=""             # where the certificate and key are, once made

# make_tls_cert: a self-signed ECDSA P-256 certificate for $TLS_NAME and the server
# address, valid two days, in $RUN_DIR/tls (server.crt, server.key).
make_tls_cert() {
    TLS_DIR=$RUN_DIR/tls
    mkdir -p "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$TLS_NAME" -addext "subjectAltName=DNS:$TLS_NAME,IP:$SERVER_ADDR" \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.crt" 2>"$LOG_DIR/openssl.log"
}

# nginx_hls_location DIR: the HLS location, shared by the HTTP and HTTPS servers.
nginx_hls_location() {
    cat <<EOF
        location /hls/ {
            alias $1/hls/;
            types {
                application/vnd.apple.mpegurl m3u8;
                video/mp2t ts;
            }
            add_header Cache-Control no-cache;
        }
EOF
}

# nginx_http_common DIR LOGNAME: the http block's settings every nginx of the run
# shares: its access log (LOG_DIR/LOGNAME.log), temp files under DIR/tmp, long-lived
# keep-alive connections.
nginx_http_common() {
    cat <<EOF
    access_log $LOG_DIR/$2.log;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000;
EOF
}

# nginx_https_server DIR: HTTPS on 443 (ALPN h2 or http/1.1, TLS 1.2 and 1.3) with the
# HLS, and the WebSocket chat proxied to InspIRCd (X-Real-IP carries the client).
nginx_https_server() {
    cat <<EOF
    server {
        listen $SERVER_ADDR:$HTTPS_PORT ssl http2;
        ssl_certificate $TLS_DIR/server.crt;
        ssl_certificate_key $TLS_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
$(nginx_hls_location "$1")
        location = $WS_PATH {
            proxy_pass http://127.0.0.1:$WS_BACKEND_PORT;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection upgrade;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_read_timeout 600s;
        }
    }
EOF
}

# nginx_rtmps_front: RTMPS on 1936; nginx's stream module ends TLS and passes the
# plain RTMP to nginx-rtmp over the server's own address (not on eth0).
nginx_rtmps_front() {
    cat <<EOF
stream {
    server {
        listen $SERVER_ADDR:$RTMPS_PORT ssl;
        ssl_certificate $TLS_DIR/server.crt;
        ssl_certificate_key $TLS_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        proxy_pass $SERVER_ADDR:1935;
    }
}
EOF
}

start_nginx() {
    local d=$RUN_DIR/nginx
    mkdir -p "$d/hls" "$d/tmp"
    cat >"$RUN_DIR/conf/nginx.conf" <<EOF
# lagtap testbed: RTMP ingest on 1935, HLS (4 s fragments) over HTTP on 80.
load_module $RTMP_MODULE;
$(if ((TLS)); then echo "load_module $STREAM_MODULE;"; fi)
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $LOG_DIR/nginx-error.log info;
events { worker_connections 256; }
rtmp {
    server {
        listen $SERVER_ADDR:1935;
        chunk_size 4096;
        application live {
            live on;
            record off;
            hls on;
            hls_path $d/hls;
            hls_fragment 4s;
            hls_playlist_length 40s;
        }
    }
}
http {
$(nginx_http_common "$d" nginx-access)
    server {
        listen $SERVER_ADDR:80;
$(nginx_hls_location "$d")
    }
$(if ((TLS)); then nginx_https_server "$d"; fi)
}
$(if ((TLS)); then nginx_rtmps_front; fi)
EOF
    bg_in_host "$SERVER_HOST" nginx nginx -p "$d" -e "$LOG_DIR/nginx-error.log" \
        -c "$RUN_DIR/conf/nginx.conf" -g 'daemon off;'
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" tcp 1935
    wait_for_port "$SERVER_HOST" tcp 80
    if ((TLS)); then
        wait_for_port "$SERVER_HOST" tcp "$HTTPS_PORT"
        wait_for_port "$SERVER_HOST" tcp "$RTMPS_PORT"
    fi
}

# start_h2_front PORT BACKEND: a second nginx on the server (the lowlatency
# scenario's HTTP/2 front): HTTP/2 on TLS 1.3 (ALPN h2, the run's self-signed
# certificate) on PORT, proxying every request to the HTTP/1.1 server on
# 127.0.0.1:BACKEND (over the server's loopback, not on eth0) without buffering
# (proxy_buffering off): what the backend relays of a growing file goes on at once,
# as DATA frames.
start_h2_front() {
    local port=$1 backend=$2 d=$RUN_DIR/nginx-h2
    [[ -n $TLS_DIR ]] || make_tls_cert
    mkdir -p "$d/tmp"
    cat >"$RUN_DIR/conf/nginx-h2.conf" <<EOF
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $LOG_DIR/nginx-h2-error.log warn;
events { worker_connections 64; }
http {
$(nginx_http_common "$d" nginx-h2-access)
    server {
        listen $SERVER_ADDR:$port ssl http2;
        ssl_certificate $TLS_DIR/server.crt;
        ssl_certificate_key $TLS_DIR/server.key;
        ssl_protocols TLSv1.3;
        location / {
            proxy_pass http://127.0.0.1:$backend;
            proxy_http_version 1.1;
            proxy_buffering off;
        }
    }
}
EOF
    bg_in_host "$SERVER_HOST" nginx-h2 nginx -p "$d" -e "$LOG_DIR/nginx-h2-error.log" \
        -c "$RUN_DIR/conf/nginx-h2.conf" -g 'daemon off;'
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" tcp "$port"
}

start_chronyd() {
    local d=$RUN_DIR/chrony
    mkdir -p "$d"
    cat >"$RUN_DIR/conf/chrony.conf" <<EOF
# lagtap testbed: serve this machine's clock (never adjust it: chronyd runs with -x).
local stratum 8
allow $SUBNET_PREFIX.0/24
bindaddress $SERVER_ADDR
cmdport 0
pidfile $d/chronyd.pid
driftfile $d/chrony.drift
EOF
    bg_in_host "$SERVER_HOST" chronyd chronyd -x -d -u root -f "$RUN_DIR/conf/chrony.conf"
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" udp 123
}

write_inspircd_conf() {
    cat >"$RUN_DIR/conf/inspircd.conf" <<EOF
<server name="irc.lagtap.test" description="lagtap testbed" network="lagtap">
<admin name="lagtap" nick="lagtap" email="lagtap@irc.lagtap.test">
<bind address="$SERVER_ADDR" port="6667" type="clients">
<connect name="testbed" allow="*" timeout="60" pingfreq="120" useident="no"
         threshold="100000" commandrate="1000000" fakelag="no"
         hardsendq="4194304" softsendq="1048576" recvq="65536"
         localmax="1000" globalmax="1000" maxchans="50">
<pid file="$RUN_DIR/irc/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$LOG_DIR/inspircd-server.log">
<dns server="127.0.0.1" timeout="1">
<performance clonesonconnect="no" nouserdns="yes">
<options allowmismatched="yes">
<module name="cap">
<module name="ircv3">
<module name="ircv3_ctctags">
<module name="ircv3_msgid">
<module name="ircv3_servertime">
EOF
    ((TLS)) || return 0
    # IRC over TLS (GnuTLS, ChaCha20-Poly1305 preferred so that the captures hold that
    # cipher besides nginx's AES-GCM), and IRC over WebSocket behind nginx's wss proxy.
    cat >>"$RUN_DIR/conf/inspircd.conf" <<EOF
<module name="ssl_gnutls">
<sslprofile name="testbed" provider="gnutls" certfile="$TLS_DIR/server.crt"
            keyfile="$TLS_DIR/server.key" dhfile="" hash="sha256" requestclientcert="no"
            priority="NORMAL:%SERVER_PRECEDENCE:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM">
<bind address="$SERVER_ADDR" port="$IRC_TLS_PORT" type="clients" sslprofile="testbed">
<module name="sha1">
<module name="websocket">
<websocket defaultmode="text" proxyranges="127.0.0.1/32">
<wsorigin allow="*">
<bind address="127.0.0.1" port="$WS_BACKEND_PORT" type="clients" hook="websocket">
EOF
}

write_ngircd_conf() {
    cat >"$RUN_DIR/conf/ngircd.conf" <<EOF
[Global]
    Name = irc.lagtap.test
    Info = lagtap testbed
    Listen = $SERVER_ADDR
    Ports = 6667
    PidFile = $RUN_DIR/irc/ngircd.pid
    MotdPhrase = lagtap testbed
    AdminInfo1 = lagtap testbed
    AdminInfo2 = network namespaces
    AdminEMail = lagtap@irc.lagtap.test
[Limits]
    MaxConnectionsIP = 0
    MaxNickLength = 30
[Options]
    DNS = no
    Ident = no
    PAM = no
EOF
}

start_ircd() {
    mkdir -p "$RUN_DIR/irc"
    if [[ ${IRCD:-} != ngircd ]] && command -v inspircd >/dev/null; then
        IRC_SERVER=inspircd
        write_inspircd_conf
        bg_in_host "$SERVER_HOST" inspircd inspircd --config="$RUN_DIR/conf/inspircd.conf" \
            --nofork --runasroot
    else
        IRC_SERVER=ngircd
        # ngircd drops root (to nobody) and still writes its pid file there
        chmod 711 "$RUN_DIR"
        chmod 777 "$RUN_DIR/irc"
        write_ngircd_conf
        bg_in_host "$SERVER_HOST" ngircd ngircd --nodaemon --config "$RUN_DIR/conf/ngircd.conf"
    fi
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" tcp 6667
    if ((TLS)); then
        wait_for_port "$SERVER_HOST" tcp "$IRC_TLS_PORT"
        wait_for_port "$SERVER_HOST" tcp "$WS_BACKEND_PORT"
    fi
}

start_server_services() {
    if ((TLS)); then make_tls_cert; fi
    start_chronyd
    start_ircd
    start_nginx
}

stop_server_services() {
    if ((${#SERVER_PIDS[@]})); then
        stop_pids TERM "${SERVER_PIDS[@]}"
    fi
    SERVER_PIDS=()
}
