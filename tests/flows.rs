//! The flow table: who is client and server, when a flow ends, and what `inspect`
//! reports for each flow. Packets are built by the test; their fields are known.

mod common;

use common::write::*;
use lagtap::flow::Protocol;
use lagtap::inspect::{inspect_file, FlowRow};

const T0: i64 = 1_764_000_000_000_000_000;

fn frames(pkts: Vec<Vec<u8>>) -> Vec<Frame> {
    pkts.into_iter()
        .enumerate()
        .map(|(i, ip)| Frame {
            ts_ns: T0 + i as i64 * 1_000_000,
            link_type: 101,
            data: ip,
        })
        .collect()
}

fn inspect(name: &str, pkts: Vec<Vec<u8>>) -> (Vec<FlowRow>, lagtap::anomalies::Anomalies) {
    let dir = common::scratch("flows");
    let p = dir.join(name);
    std::fs::write(&p, pcap(&frames(pkts), false, true, 65535)).unwrap();
    let r = inspect_file(&p).unwrap();
    (r.flows, r.anomalies)
}

const VIEWER: ([u8; 4], u16) = ([10, 77, 0, 20], 51000);
const SERVER_HTTP: ([u8; 4], u16) = ([10, 77, 0, 1], 80);
const SERVER_RTMP: ([u8; 4], u16) = ([10, 77, 0, 1], 1935);

#[test]
fn the_syn_sender_is_the_client_even_when_the_server_talks_first() {
    let (rows, _) = inspect(
        "syn.pcap",
        vec![
            ipv4_tcp(VIEWER, ([10, 77, 0, 1], 6667), 1, "S", b""),
            ipv4_tcp(([10, 77, 0, 1], 6667), VIEWER, 9, "SA", b""),
            ipv4_tcp(
                ([10, 77, 0, 1], 6667),
                VIEWER,
                10,
                "A",
                b":irc.lagtap NOTICE * :*** Looking up your hostname\r\n",
            ),
        ],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].client, "10.77.0.20:51000");
    assert_eq!(rows[0].protocol, Protocol::Irc);
    assert!(rows[0].saw_syn);
}

#[test]
fn without_a_syn_the_well_known_port_is_the_server() {
    // The capture starts mid-connection with the server's data.
    let (rows, anomalies) = inspect(
        "midstream.pcap",
        vec![
            ipv4_tcp(SERVER_HTTP, VIEWER, 5000, "A", b"HTTP/1.1 200 OK\r\n\r\n"),
            ipv4_tcp(VIEWER, SERVER_HTTP, 700, "A", b"GET /b HTTP/1.1\r\n\r\n"),
        ],
    );
    assert_eq!(rows[0].client, "10.77.0.20:51000");
    assert_eq!(rows[0].server, "10.77.0.1:80");
    assert_eq!(rows[0].s2c_bytes, 19);
    assert_eq!(anomalies.get("tcp_midstream_start"), 1);
}

#[test]
fn fin_in_both_directions_ends_the_flow_and_a_new_syn_starts_another() {
    let c = VIEWER;
    let s = SERVER_RTMP;
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 40]);
    let (rows, _) = inspect(
        "reuse.pcap",
        vec![
            ipv4_tcp(c, s, 100, "S", b""),
            ipv4_tcp(s, c, 900, "SA", b""),
            ipv4_tcp(c, s, 101, "A", &c0c1),
            ipv4_tcp(c, s, 142, "FA", b""),
            ipv4_tcp(s, c, 901, "FA", b""),
            ipv4_tcp(c, s, 143, "A", b""), // last ACK: absorbed by the closed flow
            ipv4_tcp(c, s, 5000, "S", b""), // same 5-tuple, new connection
            ipv4_tcp(s, c, 7000, "SA", b""),
            ipv4_tcp(c, s, 5001, "A", &c0c1),
            ipv4_tcp(s, c, 7001, "R", b""),
        ],
    );
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.protocol == Protocol::Rtmp && r.c2s_bytes == 41));
    // The row is the flow as it closed; the stray last ACK is absorbed, not counted.
    assert_eq!(rows[0].c2s_packets, 3);
}

#[test]
fn retransmissions_out_of_order_and_zero_windows_are_counted_per_flow() {
    let c = VIEWER;
    let s = SERVER_HTTP;
    let mut zero_window = ipv4_tcp(c, s, 101, "A", b"");
    // TCP window field: IPv4 header 20 bytes + offset 14 in the TCP header.
    zero_window[34] = 0;
    zero_window[35] = 0;
    let (rows, _) = inspect(
        "counters.pcap",
        vec![
            ipv4_tcp(c, s, 100, "S", b""),
            ipv4_tcp(s, c, 900, "SA", b""),
            ipv4_tcp(c, s, 101, "A", b"GET / HTTP/1.1\r\n\r\n"),
            ipv4_tcp(s, c, 911, "A", b"world"), // out of order
            ipv4_tcp(s, c, 901, "A", b"HTTP/1.1 2"),
            ipv4_tcp(s, c, 901, "A", b"HTTP/1.1 2"), // retransmission
            zero_window,
        ],
    );
    let r = &rows[0];
    assert_eq!((r.c2s_bytes, r.s2c_bytes), (18, 15));
    assert_eq!(r.out_of_order, 1);
    assert_eq!(r.retransmissions, 1);
    assert_eq!(r.zero_windows, 1);
    assert_eq!(r.gaps, 0);
}
