//! The body of the fuzz target (this crate's `fuzz/fuzz_targets/session.rs`),
//! here so that `cargo test` runs it over the seeds too. Not part of the API.

use super::{Direction, Session};

/// Interprets `data` as: one control byte (piece size seed), then the bytes of
/// a connection where every piece alternates direction; control bits also insert
/// gaps. Feeds them the way the flow layer would (keeping unconsumed tails) and
/// checks the invariants that must hold for any input.
pub fn session(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    // Request bodies streamed too (as lagtap reads RTMPT): only more messages.
    let mut session = Session::new().streaming_request_bodies(|_| true);
    let mut tails: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut offsets = [0u64; 2];
    let piece = usize::from(control % 61) + 1;
    for (k, chunk) in rest.chunks(piece).enumerate() {
        let d = (k + usize::from(control >> 7)) % 2;
        let dir = [Direction::ClientToServer, Direction::ServerToClient][d];
        if control & 0x40 != 0 && k % 13 == 12 {
            let lost = chunk.len() as u64;
            session.gap(dir, offsets[d] + tails[d].len() as u64, lost);
            offsets[d] += tails[d].len() as u64 + lost;
            tails[d].clear();
            continue;
        }
        tails[d].extend_from_slice(chunk);
        let n = session.feed(dir, offsets[d], &tails[d]);
        assert!(n <= tails[d].len(), "consumed more than given");
        offsets[d] += n as u64;
        tails[d].drain(..n);
        for m in session.drain() {
            check(&m);
        }
    }
    session.end(
        Direction::ClientToServer,
        offsets[0] + tails[0].len() as u64,
    );
    session.end(
        Direction::ServerToClient,
        offsets[1] + tails[1].len() as u64,
    );
    for m in session.drain() {
        check(&m);
    }
}

/// A fuzz input from a real connection: control byte 16 (17-byte pieces, no
/// gaps, client first), then c2s and s2c pieces alternating; the shorter
/// direction is padded with spaces at its end.
pub fn seed(c2s: &[u8], s2c: &[u8]) -> Vec<u8> {
    const PIECE: usize = 17;
    let mut out = vec![16u8];
    let pieces = c2s.len().max(s2c.len()).div_ceil(PIECE);
    for k in 0..pieces {
        for stream in [c2s, s2c] {
            let start = (k * PIECE).min(stream.len());
            let piece = &stream[start..(start + PIECE).min(stream.len())];
            out.extend_from_slice(piece);
            out.resize(out.len() + PIECE - piece.len(), b' ');
        }
    }
    out
}

fn check(m: &super::Message) {
    if let super::Message::RequestBodyChunk(c) = m {
        assert_eq!(c.wire.end - c.wire.start, c.data.len() as u64);
    }
    if let super::Message::Exchange(e) = m {
        if let Some(r) = &e.request {
            assert!(r.start <= r.head_end && r.head_end <= r.end);
        }
        if let Some(r) = &e.response {
            assert!(r.start <= r.head_end && r.head_end <= r.end);
            if let Some(body) = &r.body {
                assert!(body.len() <= super::MAX_KEPT_BODY);
            }
        }
    }
}
