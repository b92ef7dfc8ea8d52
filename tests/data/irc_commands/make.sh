#!/bin/sh
# Makes carol.pcap, dave.pcap and client.log: InspIRCd on loopback, each client's
# connection captured by its own tcpdump (as if on its own host). Needs root,
# inspircd, tcpdump, python3. Run from this directory.
set -eu
dir=/tmp/lagtap-irc-commands
rm -rf "$dir" && mkdir -p "$dir"
inspircd --nofork --runasroot --config="$PWD/insp.conf" >"$dir/inspircd.out" 2>&1 &
insp=$!
sleep 2
tcpdump -i lo -s0 -U -w carol.pcap 'tcp port 40001' 2>/dev/null &
t1=$!
tcpdump -i lo -s0 -U -w dave.pcap 'tcp port 40002' 2>/dev/null &
t2=$!
sleep 1
python3 client.py >client.log
sleep 1
kill "$t1" "$t2" "$insp"
wait
