//! The bodies of the fuzz targets (`fuzz/`), here so that the ordinary test suite
//! can run them over the seeds and over deterministic mutations (`tests/fuzz_body.rs`).

use crate::{Direction, Session};

/// Decode `data` as one direction, whole and in pieces, and check the streaming
/// contract: nothing panics, `feed` never claims more than it was given, every
/// message lies inside the stream with `start < end`, and the pieces give the same
/// events as the whole.
///
/// `data[0]` steers: bit 0 prepends a valid handshake (so mutations reach the chunk
/// layer at once), bit 1 picks the direction, the rest the piece size.
pub fn session(data: &[u8]) {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let mut stream = Vec::with_capacity(body.len() + 3073);
    if ctl & 1 == 1 {
        stream.push(3);
        stream.resize(3073, 0);
    }
    stream.extend_from_slice(body);
    let dir = if ctl & 2 == 0 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    let piece = usize::from(ctl >> 2) + 1;
    let whole = run(dir, &stream, stream.len().max(1));
    let split = run(dir, &stream, piece);
    // Compared as text: an AMF number may be NaN, which is unequal to itself.
    assert_eq!(
        format!("{whole:?}"),
        format!("{split:?}"),
        "pieces of {piece} differ from the whole"
    );
}

fn run(dir: Direction, stream: &[u8], piece: usize) -> Vec<crate::Event> {
    let mut s = Session::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    for p in stream.chunks(piece) {
        pending.extend_from_slice(p);
        let used = s.feed(dir, offset, &pending);
        assert!(used <= pending.len());
        pending.drain(..used);
        offset += used as u64;
    }
    s.end(dir, stream.len() as u64);
    let events: Vec<_> = s.drain().collect();
    for e in &events {
        if let crate::Event::Message(m) = e {
            assert!(m.start < m.end && m.end <= stream.len() as u64, "{m:?}");
        }
    }
    events
}
