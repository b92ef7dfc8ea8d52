//! Reading the test captures (tests/data) for the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use tls_decrypt::{Direction, KeyLog};

pub const C2S: Direction = Direction::ClientToServer;
pub const S2C: Direction = Direction::ServerToClient;

pub fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The connection's TCP payloads in capture order, with their direction (the
/// client is the side that sent the SYN). Loopback captures hold no loss.
pub fn segments(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let bytes = data(&format!("{name}.pcap"));
    let (_, pcap) = pcap_parser::pcap::parse_pcap(&bytes).unwrap();
    let mut client_port = None;
    let mut out = Vec::new();
    for block in pcap.blocks {
        let p = etherparse::SlicedPacket::from_ethernet(block.data).unwrap();
        let Some(etherparse::TransportSlice::Tcp(tcp)) = p.transport else {
            continue;
        };
        if tcp.syn() && !tcp.ack() {
            client_port = Some(tcp.source_port());
        }
        let dir = if Some(tcp.source_port()) == client_port {
            C2S
        } else {
            S2C
        };
        if !tcp.payload().is_empty() {
            out.push((dir, tcp.payload().to_vec()));
        }
    }
    out
}

pub fn keylog(name: &str) -> Arc<KeyLog> {
    let mut k = KeyLog::new();
    k.add(name, &data(&format!("{name}.keys")));
    Arc::new(k)
}
