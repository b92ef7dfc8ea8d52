//! The body of the fuzz target (this crate's `fuzz/fuzz_targets/session.rs`),
//! here so that `cargo test` runs it over the seeds too. Not part of the API.

use super::{BodyMode, Direction, Message, Session, C2S, PREFACE, S2C};

/// Interprets `data` as: a control byte, two bytes of big-endian client stream
/// length, the client's bytes, the server's bytes. Control bits 0-4 pick a piece
/// size (1-32), bit 5 puts a preface and empty SETTINGS frames in front of both
/// streams (so mutations reach the frame layer at once), bit 6 inserts a gap
/// every 7th piece, bit 7 makes the session borrow body bytes.
///
/// Feeds the client's stream whole and then the server's, and again both in
/// pieces the way the flow layer would (unconsumed tails kept), and checks what
/// must hold for any input: nothing consumed beyond the input, offsets ordered,
/// borrowed chunks inside the input they came with, caps kept, and (without
/// gaps) the same messages and anomalies from pieces as from the whole.
pub fn session(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    if control & 0x20 != 0 {
        c2s.extend_from_slice(PREFACE);
        for stream in [&mut c2s, &mut s2c] {
            stream.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        }
    }
    c2s.extend_from_slice(&rest[..split]);
    s2c.extend_from_slice(&rest[split..]);
    let piece = usize::from(control & 0x1f) + 1;
    let gaps = control & 0x40 != 0;
    let borrow = control & 0x80 != 0;
    let whole = run(&c2s, &s2c, usize::MAX, false, borrow);
    let pieces = run(&c2s, &s2c, piece, gaps, borrow);
    if !gaps {
        assert_eq!(whole, pieces, "pieces of {piece} differ from the whole");
    }
}

/// A decoded name and value, as bytes.
pub type RawField = (Vec<u8>, Vec<u8>);

/// Decodes `blocks` in order with one HPACK decoder whose size updates may go up
/// to `bound`: the fields of each block, until the first error (`None`, last).
pub fn hpack(bound: usize, blocks: &[&[u8]]) -> Vec<Option<Vec<RawField>>> {
    let mut decoder = super::hpack::Decoder::new(super::DEFAULT_HEADER_TABLE_SIZE as usize);
    decoder.set_bound(bound);
    let mut out = Vec::new();
    for block in blocks {
        let mut fields = Vec::new();
        let ok = decoder.decode(block, |n, v| fields.push((n.to_vec(), v.to_vec())));
        out.push(ok.is_ok().then_some(fields));
        if ok.is_err() {
            break;
        }
    }
    out
}

/// A fuzz input from a real connection: control byte 16 (17-byte pieces, no
/// gaps), the client's stream (at most 65 535 bytes), the server's.
pub fn seed(c2s: &[u8], s2c: &[u8]) -> Vec<u8> {
    let c2s = &c2s[..c2s.len().min(usize::from(u16::MAX))];
    let mut out = vec![16];
    out.extend_from_slice(&(c2s.len() as u16).to_be_bytes());
    out.extend_from_slice(c2s);
    out.extend_from_slice(s2c);
    out
}

/// Messages (chunks merged per stream, as text) and anomalies of one run.
fn run(c2s: &[u8], s2c: &[u8], piece: usize, gaps: bool, borrow: bool) -> Vec<String> {
    let mut session = Session::with_body_policy(|_, r| match r.status {
        200 => BodyMode::Stream,
        _ => BodyMode::Keep,
    });
    if borrow {
        session = session.borrowing_bodies();
    }
    let mut out = Vec::new();
    for (d, stream) in [(C2S, c2s), (S2C, s2c)] {
        let dir = [Direction::ClientToServer, Direction::ServerToClient][d];
        let mut offset = 0u64;
        let mut tail: Vec<u8> = Vec::new();
        for (k, chunk) in stream.chunks(piece).enumerate() {
            if gaps && k % 7 == 6 {
                session.gap(dir, offset + tail.len() as u64, chunk.len() as u64);
                offset += (tail.len() + chunk.len()) as u64;
                tail.clear();
                continue;
            }
            tail.extend_from_slice(chunk);
            let n = session.feed(dir, offset, &tail);
            assert!(n <= tail.len(), "consumed more than given");
            collect(&mut session, offset, &tail, &mut out);
            offset += n as u64;
            tail.drain(..n);
        }
        session.end(dir, offset + tail.len() as u64);
        collect(&mut session, offset, &[], &mut out);
    }
    // Direction ends close every stream.
    assert_eq!(session.open_streams(), 0);
    out.push(format!("{:?}", session.anomalies()));
    out
}

fn collect(session: &mut Session, at: u64, input: &[u8], out: &mut Vec<String>) {
    for m in session.drain() {
        match m {
            Message::BodyChunk(c) => {
                let bytes = c.bytes(at, input).expect("chunk inside its input");
                assert_eq!(bytes.len() as u64, c.wire.end - c.wire.start);
                // Merge with the previous chunk of the same stream.
                let merged = out.last_mut().and_then(|last| {
                    let prefix = format!("body {} ", c.id);
                    last.starts_with(&prefix).then_some(last)
                });
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                match merged {
                    Some(last) => last.push_str(&hex),
                    None => out.push(format!("body {} {hex}", c.id)),
                }
            }
            Message::Exchange(e) => {
                if let Some(r) = &e.request {
                    assert!(r.start <= r.head_end && r.head_end <= r.end);
                }
                if let Some(r) = &e.response {
                    assert!(r.start <= r.head_end && r.head_end <= r.end);
                    if let (Some(a), Some(b)) = (r.body_start, r.body_end) {
                        assert!(r.head_end <= a && a < b && b <= r.end);
                    }
                    assert!(r
                        .body
                        .as_ref()
                        .is_none_or(|b| b.len() <= super::MAX_KEPT_BODY));
                }
                out.push(format!("{e:?}"));
            }
            m => out.push(format!("{m:?}")),
        }
    }
}
