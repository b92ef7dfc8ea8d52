# shellcheck shell=bash disable=SC2034  # IRC_SERVER etc. are read by testbed.sh
# Server-side software for testbed.sh (sourced, not run): nginx with the RTMP module
# (ingest + HLS over HTTP), an IRC server (inspircd, else ngircd) and chronyd as the
# NTP server. Configs are generated into $RUN_DIR/conf; nothing touches /etc.
#
# Needs: RUN_DIR, LOG_DIR, SERVER_HOST, SERVER_ADDR, SUBNET_PREFIX, netns.sh; IRCD
# (optional) picks the IRC server.

RTMP_MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
SERVER_PIDS=()
IRC_SERVER=""   # which IRC daemon ran: inspircd or ngircd

start_nginx() {
    local d=$RUN_DIR/nginx
    mkdir -p "$d/hls" "$d/tmp"
    cat >"$RUN_DIR/conf/nginx.conf" <<EOF
# lagtap testbed: RTMP ingest on 1935, HLS (4 s fragments) over HTTP on 80.
load_module $RTMP_MODULE;
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
    access_log $LOG_DIR/nginx-access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    server {
        listen $SERVER_ADDR:80;
        location /hls/ {
            alias $d/hls/;
            types {
                application/vnd.apple.mpegurl m3u8;
                video/mp2t ts;
            }
            add_header Cache-Control no-cache;
        }
    }
}
EOF
    bg_in_host "$SERVER_HOST" nginx nginx -p "$d" -e "$LOG_DIR/nginx-error.log" \
        -c "$RUN_DIR/conf/nginx.conf" -g 'daemon off;'
    SERVER_PIDS+=("$LAST_PID")
    wait_for_port "$SERVER_HOST" tcp 1935
    wait_for_port "$SERVER_HOST" tcp 80
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
}

start_server_services() {
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
