#!/bin/sh
# Write ntp.tsv: one line per UDP datagram of ntp.pcap:
#   <capture time, integer ns since the Unix epoch> <TAB> <src port> <TAB> <payload hex>
# The tests parse the payloads from here, so they need no pcap reader.
set -e
cd "$(dirname "$0")"
tshark -r ntp.pcap -T fields -e frame.time_epoch -e udp.srcport -e udp.payload 2>/dev/null |
  awk -F'\t' '{ split($1, t, "."); printf "%s%s\t%s\t%s\n", t[1], substr(t[2] "000000000", 1, 9), $2, $3 }' > ntp.tsv
