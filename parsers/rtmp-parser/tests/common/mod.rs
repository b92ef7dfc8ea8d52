//! Helpers shared by the integration tests: the real-stream fixtures and ways of
//! feeding them.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use rtmp_parser::{Direction, Event, Session};

pub const PUBLISH_C2S: &[u8] = include_bytes!("../data/publish.c2s.bin");
pub const PUBLISH_S2C: &[u8] = include_bytes!("../data/publish.s2c.bin");
pub const PLAY_C2S: &[u8] = include_bytes!("../data/play.c2s.bin");
pub const PLAY_S2C: &[u8] = include_bytes!("../data/play.s2c.bin");

/// The four fixture streams: (name, direction, bytes).
pub fn fixtures() -> [(&'static str, Direction, &'static [u8]); 4] {
    [
        ("publish.c2s", Direction::ClientToServer, PUBLISH_C2S),
        ("publish.s2c", Direction::ServerToClient, PUBLISH_S2C),
        ("play.c2s", Direction::ClientToServer, PLAY_C2S),
        ("play.s2c", Direction::ServerToClient, PLAY_S2C),
    ]
}

/// Feed `data` in pieces cut at `cuts` (sorted stream offsets), the way the flow
/// layer does: keep the unconsumed tail and prepend it to the next piece.
pub fn feed_in_pieces(session: &mut Session, dir: Direction, data: &[u8], cuts: &[usize]) {
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_offset = 0u64;
    let mut last = 0usize;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        if cut < last {
            continue;
        }
        pending.extend_from_slice(&data[last..cut]);
        last = cut;
        let used = session.feed(dir, pending_offset, &pending);
        assert!(used <= pending.len());
        pending.drain(..used);
        pending_offset += used as u64;
    }
    session.end(dir, data.len() as u64);
}

/// Decode one direction fed whole.
pub fn decode_whole(dir: Direction, data: &[u8]) -> (Vec<Event>, Vec<(&'static str, u64)>) {
    let mut s = Session::new();
    feed_in_pieces(&mut s, dir, data, &[]);
    let events = s.drain().collect();
    (events, s.anomalies().to_vec())
}

/// One message as chunks (RTMP 1.0 5.3.1): a type-0 header on chunk stream `csid`,
/// then type-3 headers every 128 bytes.
pub fn chunks(csid: u8, ts: u32, type_id: u8, msid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![csid];
    v.extend(&ts.to_be_bytes()[1..]);
    v.extend(&(payload.len() as u32).to_be_bytes()[1..]);
    v.push(type_id);
    v.extend(msid.to_le_bytes());
    for (i, c) in payload.chunks(128).enumerate() {
        if i > 0 {
            v.push(0xc0 | csid);
        }
        v.extend(c);
    }
    v
}

/// An FLV AVC sequence header (key frame, AVCPacketType 0, composition time 0)
/// holding an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) with one
/// SPS and one PPS and 4-byte NAL lengths.
pub fn avc_sequence_header(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut seq = vec![0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    seq.extend((sps.len() as u16).to_be_bytes());
    seq.extend_from_slice(sps);
    seq.push(1);
    seq.extend((pps.len() as u16).to_be_bytes());
    seq.extend_from_slice(pps);
    seq
}

/// NAL units with 4-byte big-endian lengths (AVCC framing).
pub fn avcc4(nals: &[&[u8]]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [&(n.len() as u32).to_be_bytes()[..], n].concat())
        .collect()
}
