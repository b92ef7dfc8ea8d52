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

/// Each connection's TCP payloads in capture order, with their direction (the
/// client is the side that sent the SYN), connections in the order they opened.
/// Loopback captures hold no loss.
pub fn connections(name: &str) -> Vec<Vec<(Direction, Vec<u8>)>> {
    let bytes = data(&format!("{name}.pcap"));
    let (_, pcap) = pcap_parser::pcap::parse_pcap(&bytes).unwrap();
    let mut clients: Vec<u16> = Vec::new();
    let mut out: Vec<Vec<(Direction, Vec<u8>)>> = Vec::new();
    for block in pcap.blocks {
        let p = etherparse::SlicedPacket::from_ethernet(block.data).unwrap();
        let Some(etherparse::TransportSlice::Tcp(tcp)) = p.transport else {
            continue;
        };
        if tcp.syn() && !tcp.ack() {
            clients.push(tcp.source_port());
            out.push(Vec::new());
        }
        let (conn, dir) = match clients.iter().position(|&c| c == tcp.source_port()) {
            Some(i) => (i, C2S),
            None => match clients.iter().position(|&c| c == tcp.destination_port()) {
                Some(i) => (i, S2C),
                None => continue,
            },
        };
        if !tcp.payload().is_empty() {
            out[conn].push((dir, tcp.payload().to_vec()));
        }
    }
    out
}

/// The one connection of a capture.
pub fn segments(name: &str) -> Vec<(Direction, Vec<u8>)> {
    connections(name).remove(0)
}

pub fn keylog(name: &str) -> Arc<KeyLog> {
    let mut k = KeyLog::new();
    k.add(name, &data(&format!("{name}.keys")));
    Arc::new(k)
}
