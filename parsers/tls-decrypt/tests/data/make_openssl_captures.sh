#!/bin/sh
# The TLS 1.3 corner cases of tls-decrypt's tests, with OpenSSL's own s_server and
# s_client on loopback (run as root: tcpdump on lo), the client writing a key log:
#   tls13-keyupdate.*  one connection; the client sends a line, a KeyUpdate (the
#                      s_client command "k"), then another line.
#   tls13-resume-0rtt.* two connections; the second resumes the first's session and
#                      sends a line as 0-RTT early data, which the server accepts.
# What the client sent is in the .sent files (plaintext, one per connection).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" \
    -days 2 -subj /CN=lagtap.test 2>/dev/null

capture() {  # NAME PORT: starts tcpdump, echoes its pid
    rm -f "$1.pcap" "$1.keys"
    tcpdump -i lo -s 0 -U -w "$1.pcap" "tcp port $2" >/dev/null 2>&1 &
    echo $!
    sleep 1
}

pid=$(capture tls13-keyupdate 24501)
(sleep 5 | openssl s_server -accept 24501 -cert "$tmp/c.pem" -key "$tmp/k.pem" -tls1_3 \
    -naccept 1 >/dev/null 2>&1 &)
sleep 0.5
(printf 'hello before\n'; sleep 0.5; printf 'k\n'; sleep 0.5; printf 'after update\n'; sleep 0.5
 printf 'Q\n') | openssl s_client -connect 127.0.0.1:24501 -keylogfile tls13-keyupdate.keys \
    -servername lagtap.test >/dev/null 2>&1
sleep 1; kill "$pid"
printf 'hello before\nafter update\n' > tls13-keyupdate.sent

pid=$(capture tls13-resume-0rtt 24502)
printf 'early hello\n' > "$tmp/early.txt"
(sleep 8 | openssl s_server -accept 24502 -cert "$tmp/c.pem" -key "$tmp/k.pem" -tls1_3 \
    -early_data -naccept 2 >/dev/null 2>&1 &)
sleep 0.5
(printf 'first\n'; sleep 0.7; printf 'Q\n') | openssl s_client -connect 127.0.0.1:24502 \
    -keylogfile tls13-resume-0rtt.keys -sess_out "$tmp/sess.pem" -servername lagtap.test \
    >/dev/null 2>&1
sleep 0.3
(printf 'second\n'; sleep 0.7; printf 'Q\n') | openssl s_client -connect 127.0.0.1:24502 \
    -keylogfile tls13-resume-0rtt.keys -sess_in "$tmp/sess.pem" -early_data "$tmp/early.txt" \
    -servername lagtap.test >/dev/null 2>&1
sleep 1; kill "$pid"
printf 'first\n' > tls13-resume-0rtt.1.sent
printf 'early hello\nsecond\n' > tls13-resume-0rtt.2.sent
