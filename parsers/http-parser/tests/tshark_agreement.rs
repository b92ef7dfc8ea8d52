//! The requests and response codes decoded from the real capture equal tshark's.
//!
//! The test reads tests/data/hls.pcap itself (loopback, so no reordering: a tiny
//! in-order reassembly that drops retransmissions is enough), runs the session on
//! every connection, and compares with `tshark -Y http.request/response`. Without
//! tshark the test is skipped with a `SKIP` line, or fails if `CI` is set.

#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::process::Command;

use etherparse::{SlicedPacket, TransportSlice};
use http_parser::{BodyMode, Direction, Message, Session};

const PCAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hls.pcap");
/// Testbed viewer captures (captures/README.md), used when present in the
/// checkout and complete (the testbed writes `truth.json` last).
const TESTBED_VIEWERS: &[&str] = &[
    "basic/desktop.pcap",
    "bitrates/viewer.pcap",
    "skew/viewer.pcap",
    "switch/switcher.pcap",
    "uplink/viewer.pcap",
];

/// One direction: next expected sequence number and the bytes so far.
type Half = (Option<u32>, Vec<u8>);

/// Per connection to `port` (keyed by client port, in order of appearance): both
/// streams.
fn streams(pcap: &str, port: u16) -> Vec<(Vec<u8>, Vec<u8>)> {
    let file = std::fs::read(pcap).unwrap();
    let capture = pcap_parser::PcapCapture::from_file(&file).expect("pcap");
    let mut order: Vec<u16> = Vec::new();
    let mut conns: BTreeMap<u16, [Half; 2]> = BTreeMap::new();
    for block in &capture.blocks {
        let packet = match capture.header.network.0 {
            1 => SlicedPacket::from_ethernet(block.data),
            113 => SlicedPacket::from_linux_sll(block.data),
            // Linux cooked v2: protocol in bytes 0-1, 20-byte header.
            276 if block.data.len() >= 20 => SlicedPacket::from_ether_type(
                etherparse::EtherType(u16::from_be_bytes([block.data[0], block.data[1]])),
                &block.data[20..],
            ),
            other => panic!("link type {other} not handled by this test"),
        };
        let Ok(packet) = packet else { continue };
        let Some(TransportSlice::Tcp(tcp)) = packet.transport else {
            continue;
        };
        let (client, d) = if tcp.destination_port() == port {
            (tcp.source_port(), 0)
        } else if tcp.source_port() == port {
            (tcp.destination_port(), 1)
        } else {
            continue;
        };
        if !conns.contains_key(&client) {
            order.push(client);
        }
        let conn = conns.entry(client).or_default();
        let (next, bytes) = &mut conn[d];
        if tcp.syn() {
            *next = Some(tcp.sequence_number().wrapping_add(1));
            continue;
        }
        let payload = tcp.payload();
        if payload.is_empty() || *next != Some(tcp.sequence_number()) {
            continue; // pure ACK or a retransmission
        }
        bytes.extend_from_slice(payload);
        *next = Some(tcp.sequence_number().wrapping_add(payload.len() as u32));
    }
    order
        .into_iter()
        .map(|port| {
            let [(_, c), (_, s)] = conns.remove(&port).unwrap();
            (c, s)
        })
        .collect()
}

fn tshark(pcap: &str, port: u16, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    let decode_as = format!("tcp.port=={port},http");
    cmd.args(["-r", pcap, "-d", &decode_as, "-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let text = tools::output(&mut cmd);
    // tshark numbers every TCP stream (RTMP, IRC too); renumber the HTTP ones densely
    // in order of appearance, as `streams` does.
    let mut ids: Vec<String> = Vec::new();
    text.lines()
        .map(|line| {
            let (id, rest) = line.split_once('\t').unwrap_or((line, ""));
            let dense = ids.iter().position(|i| i == id).unwrap_or_else(|| {
                ids.push(id.to_string());
                ids.len() - 1
            });
            format!("{dense}\t{rest}")
        })
        .collect()
}

/// Requests (stream, method, URI) and responses (stream, code) as tshark sees
/// them and as the session decodes them; `None` without tshark.
fn compare(pcap: &str, port: u16) -> Option<usize> {
    if !tools::require(
        "tshark",
        "HTTP requests and response codes against tshark's",
    ) {
        return None;
    }
    let requests = tshark(
        pcap,
        port,
        "http.request",
        &["tcp.stream", "http.request.method", "http.request.uri"],
    );
    let responses = tshark(
        pcap,
        port,
        "http.response",
        &["tcp.stream", "http.response.code"],
    );
    let (mut ours_req, mut ours_resp) = (Vec::new(), Vec::new());
    for (n, (c2s, s2c)) in streams(pcap, port).into_iter().enumerate() {
        let mut s = Session::with_body_policy(|_, _| BodyMode::Skip);
        assert_eq!(s.feed(Direction::ClientToServer, 0, &c2s), c2s.len());
        assert_eq!(s.feed(Direction::ServerToClient, 0, &s2c), s2c.len());
        s.end(Direction::ClientToServer, c2s.len() as u64);
        s.end(Direction::ServerToClient, s2c.len() as u64);
        for m in s.drain() {
            if let Message::Exchange(e) = m {
                if let Some(r) = e.request {
                    ours_req.push(format!("{n}\t{}\t{}", r.method, r.uri));
                }
                if let Some(r) = e.response {
                    ours_resp.push(format!("{n}\t{}", r.status));
                }
            }
        }
        assert!(
            s.anomalies().is_empty(),
            "{pcap} stream {n}: {:?}",
            s.anomalies()
        );
    }
    assert_eq!(ours_req, requests, "{pcap}: requests differ from tshark's");
    assert_eq!(
        ours_resp, responses,
        "{pcap}: responses differ from tshark's"
    );
    Some(ours_req.len())
}

#[test]
fn requests_and_response_codes_equal_tsharks_on_the_real_capture() {
    if let Some(n) = compare(PCAP, 18080) {
        assert_eq!(n, 8);
    }
}

#[test]
fn requests_and_response_codes_equal_tsharks_on_the_testbed_viewer_captures() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../captures");
    for name in TESTBED_VIEWERS {
        let pcap = format!("{root}/{name}");
        let dir = std::path::Path::new(&pcap).parent().unwrap();
        if !std::path::Path::new(&pcap).exists() || !dir.join("truth.json").exists() {
            tools::missing(
                &format!("HTTP on {name} against tshark's"),
                "the capture or its truth.json is absent (still being made?)",
            );
            continue;
        }
        if let Some(n) = compare(&pcap, 80) {
            eprintln!("{name}: {n} requests agree with tshark");
        }
    }
}
