//! What the tests share: the real capture read into per-connection byte streams
//! (tests/data/README.md says how it was made), and feeding a session the way the
//! flow layer does.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;

use etherparse::{SlicedPacket, TransportSlice};
use h2_parser::{Direction, Message, Session};

pub const C2S: Direction = Direction::ClientToServer;
pub const S2C: Direction = Direction::ServerToClient;
pub const PCAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/h2c.pcap");
/// The HTTP/2 servers of the capture: nginx, nghttpd.
pub const PORTS: [u16; 2] = [18082, 18083];

/// One TCP connection of the capture.
pub struct Conn {
    pub server_port: u16,
    /// Payloads in capture order with their direction (loopback: no loss, no
    /// reordering; retransmissions dropped).
    pub segments: Vec<(Direction, Vec<u8>)>,
}

impl Conn {
    /// The whole stream of one direction.
    pub fn stream(&self, dir: Direction) -> Vec<u8> {
        self.segments
            .iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, p)| p.iter().copied())
            .collect()
    }
}

/// The next expected sequence number of each direction.
type NextSeq = [Option<u32>; 2];

/// The connections to [`PORTS`] in order of their SYN (tshark's `tcp.stream` order).
pub fn connections() -> Vec<Conn> {
    let file = std::fs::read(PCAP).expect("tests/data/h2c.pcap");
    let capture = pcap_parser::PcapCapture::from_file(&file).expect("a pcap file");
    assert_eq!(capture.header.network.0, 1, "Ethernet link type");
    // Per (client port, server port): index into `conns`, next sequence number of
    // each direction.
    let mut index: HashMap<(u16, u16), (usize, NextSeq)> = HashMap::new();
    let mut conns: Vec<Conn> = Vec::new();
    for block in &capture.blocks {
        let Ok(packet) = SlicedPacket::from_ethernet(block.data) else {
            continue;
        };
        let Some(TransportSlice::Tcp(tcp)) = packet.transport else {
            continue;
        };
        let (src, dst) = (tcp.source_port(), tcp.destination_port());
        let (key, dir) = if PORTS.contains(&dst) {
            ((src, dst), C2S)
        } else if PORTS.contains(&src) {
            ((dst, src), S2C)
        } else {
            continue;
        };
        let (conn, next) = index.entry(key).or_insert_with(|| {
            conns.push(Conn {
                server_port: key.1,
                segments: Vec::new(),
            });
            (conns.len() - 1, [None, None])
        });
        let next = &mut next[dir as usize];
        let seq = tcp.sequence_number();
        if tcp.syn() {
            *next = Some(seq.wrapping_add(1));
            continue;
        }
        let payload = tcp.payload();
        if payload.is_empty() || *next != Some(seq) {
            continue;
        }
        *next = Some(seq.wrapping_add(payload.len() as u32));
        conns[*conn].segments.push((dir, payload.to_vec()));
    }
    conns
}

/// Feeds `bytes` of `dir` cut at `cuts`, keeping unconsumed tails as the flow layer
/// does, then ends the direction; returns the messages drained after each feed.
pub fn feed_pieces(
    session: &mut Session,
    dir: Direction,
    bytes: &[u8],
    cuts: &[usize],
) -> Vec<Message> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        tail.extend_from_slice(&bytes[last..cut]);
        last = cut;
        let n = session.feed(dir, offset, &tail);
        assert!(n <= tail.len());
        out.extend(session.drain());
        offset += n as u64;
        tail.drain(..n);
    }
    session.end(dir, offset + tail.len() as u64);
    out.extend(session.drain());
    out
}

/// The client's stream and then the server's, each cut at its cuts.
pub fn run_split(
    c2s: &[u8],
    s2c: &[u8],
    c2s_cuts: &[usize],
    s2c_cuts: &[usize],
) -> (Vec<Message>, Session) {
    let mut s = Session::new();
    let mut out = feed_pieces(&mut s, C2S, c2s, c2s_cuts);
    out.extend(feed_pieces(&mut s, S2C, s2c, s2c_cuts));
    (out, s)
}

/// Both directions in capture order, one feed per TCP segment (what lagtap's flow
/// layer does on this loopback capture), ends after the last.
pub fn run_in_capture_order(conn: &Conn, mut session: Session) -> (Vec<Message>, Session) {
    let mut out = Vec::new();
    let mut offsets = [0u64; 2];
    let mut tails: [Vec<u8>; 2] = Default::default();
    for (dir, payload) in &conn.segments {
        let d = *dir as usize;
        tails[d].extend_from_slice(payload);
        let n = session.feed(*dir, offsets[d], &tails[d]);
        out.extend(session.drain());
        offsets[d] += n as u64;
        tails[d].drain(..n);
    }
    for (d, dir) in [C2S, S2C].into_iter().enumerate() {
        session.end(dir, offsets[d] + tails[d].len() as u64);
    }
    out.extend(session.drain());
    (out, session)
}

/// Body chunks merged while consecutive and of one stream, with wire ranges
/// dropped: their boundaries follow the feeds, so only the bytes compare between
/// splits.
pub fn normalized(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for mut m in messages {
        if let Message::BodyChunk(c) = &mut m {
            c.wire = 0..0;
            if let Some(Message::BodyChunk(prev)) = out.last_mut() {
                if prev.id == c.id {
                    prev.data.extend_from_slice(&c.data);
                    continue;
                }
            }
        }
        out.push(m);
    }
    out
}

/// The exchanges among `messages`.
pub fn exchanges(messages: &[Message]) -> Vec<&h2_parser::Exchange> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Exchange(e) => Some(&**e),
            _ => None,
        })
        .collect()
}

/// A file of another parser crate's test data (the bodies nginx served).
pub fn sibling_data(path: &str) -> Vec<u8> {
    let p = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// A frame as an independent reading of the bytes sees it: (offset of its header,
/// payload length, type, flags, stream id). `skip` is where the first frame starts
/// (24 after the client's preface).
pub fn frames(stream: &[u8], skip: usize) -> Vec<(usize, usize, u8, u8, u32)> {
    let mut out = Vec::new();
    let mut at = skip;
    while at + 9 <= stream.len() {
        let h = &stream[at..at + 9];
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let id = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        out.push((at, len, h[3], h[4], id));
        at += 9 + len;
    }
    out
}
