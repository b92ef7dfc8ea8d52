//! The requests and response codes decoded from the real capture equal tshark's.
//!
//! The test reads tests/data/hls.pcap itself (loopback, so no reordering: a tiny
//! in-order reassembly that drops retransmissions is enough), runs the session on
//! every connection, and compares with `tshark -Y http.request/response`. Without
//! tshark the test is skipped with a note, or fails if `CI` is set.

use std::collections::BTreeMap;
use std::process::Command;

use etherparse::{SlicedPacket, TransportSlice};
use http_parser::{BodyMode, Direction, Message, Session};

const PCAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hls.pcap");

/// One direction: next expected sequence number and the bytes so far.
type Half = (Option<u32>, Vec<u8>);

/// Per connection (keyed by client port, in order of appearance): both streams.
fn streams() -> Vec<(Vec<u8>, Vec<u8>)> {
    let file = std::fs::read(PCAP).unwrap();
    let capture = pcap_parser::PcapCapture::from_file(&file).expect("pcap");
    let mut order: Vec<u16> = Vec::new();
    let mut conns: BTreeMap<u16, [Half; 2]> = BTreeMap::new();
    for block in &capture.blocks {
        let packet = SlicedPacket::from_ethernet(block.data).expect("ethernet");
        let Some(TransportSlice::Tcp(tcp)) = packet.transport else {
            continue;
        };
        let (client, d) = if tcp.destination_port() == 18080 {
            (tcp.source_port(), 0)
        } else {
            (tcp.destination_port(), 1)
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

fn tshark(filter: &str, fields: &[&str]) -> Option<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-r",
        PCAP,
        "-d",
        "tcp.port==18080,http",
        "-Y",
        filter,
        "-T",
        "fields",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => Some(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        Ok(out) => panic!("tshark failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("tshark is needed for this test in CI (apt-get install tshark): {e}")
        }
        Err(e) => {
            eprintln!("note: tshark not runnable ({e}); skipping the tshark comparison");
            None
        }
    }
}

#[test]
fn requests_and_response_codes_equal_tsharks_on_the_real_capture() {
    let Some(requests) = tshark(
        "http.request",
        &["tcp.stream", "http.request.method", "http.request.uri"],
    ) else {
        return;
    };
    let responses = tshark("http.response", &["tcp.stream", "http.response.code"]).unwrap();
    let (mut ours_req, mut ours_resp) = (Vec::new(), Vec::new());
    for (n, (c2s, s2c)) in streams().into_iter().enumerate() {
        let mut s = Session::with_body_policy(|_, _| BodyMode::Skip);
        assert_eq!(s.feed(Direction::ClientToServer, 0, &c2s), c2s.len());
        assert_eq!(s.feed(Direction::ServerToClient, 0, &s2c), s2c.len());
        s.end(Direction::ClientToServer, c2s.len() as u64);
        s.end(Direction::ServerToClient, s2c.len() as u64);
        for m in s.drain() {
            if let Message::Exchange(e) = m {
                let r = e.request.unwrap();
                ours_req.push(format!("{n}\t{}\t{}", r.method, r.uri));
                ours_resp.push(format!("{n}\t{}", e.response.unwrap().status));
            }
        }
        assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
    }
    assert_eq!(ours_req, requests);
    assert_eq!(ours_resp, responses);
    assert_eq!(ours_req.len(), 8);
}
