//! End to end on the real keep-alive connection: the HTTP session streams the
//! segment body in pieces, the TS demuxer runs on them without the whole segment,
//! and every access unit is placed on the wire (s2c offsets) through the body
//! chunks' offsets — what the flow layer does to time each frame's arrival.

use std::collections::HashMap;

use http_parser::{Direction, Message, Session};
use mpegts_parser::{TsDemuxer, TsMessage};

fn data(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../http-parser/tests/data");
    std::fs::read(format!("{dir}/{name}")).unwrap()
}

/// A streamed body being demuxed: the demuxer, the bytes it held back, and the
/// body → wire offset map of every chunk (identity coding: linear per chunk).
struct Body {
    demuxer: TsDemuxer,
    tail: Vec<u8>,
    tail_offset: u64,
    wire_map: Vec<(u64, u64)>, // (body offset, wire offset) at each chunk start
}

impl Body {
    fn wire_offset(&self, body_offset: u64) -> u64 {
        let i = self.wire_map.partition_point(|&(b, _)| b <= body_offset) - 1;
        let (b, w) = self.wire_map[i];
        w + (body_offset - b)
    }
}

#[test]
fn segment_streamed_over_http_demuxes_into_frames_placed_on_the_wire() {
    let (c2s, s2c) = (data("tcp1.c2s"), data("tcp1.s2c"));
    let mut session = Session::new();
    session.feed(Direction::ClientToServer, 0, &c2s);
    let mut bodies: HashMap<u64, Body> = HashMap::new();
    let mut frames: Vec<(u64, u64)> = Vec::new(); // (body end, wire end) per frame
    let mut segment_end = None;
    let mut handle = |session: &mut Session, frames: &mut Vec<(u64, u64)>| {
        for m in session.drain() {
            match m {
                Message::BodyStart { id, .. } => {
                    bodies.insert(
                        id,
                        Body {
                            demuxer: TsDemuxer::new(),
                            tail: Vec::new(),
                            tail_offset: 0,
                            wire_map: Vec::new(),
                        },
                    );
                }
                Message::BodyChunk(c) => {
                    let b = bodies.get_mut(&c.id).unwrap();
                    b.wire_map.push((c.body_offset, c.wire.start));
                    b.tail.extend_from_slice(&c.data);
                    let n = b.demuxer.feed(b.tail_offset, &b.tail);
                    b.tail.drain(..n);
                    b.tail_offset += n as u64;
                    let aus: Vec<_> = b.demuxer.drain().collect();
                    for m in aus {
                        if let TsMessage::AccessUnit(a) = m {
                            frames.push((a.end, b.wire_offset(a.end - 1) + 1));
                        }
                    }
                }
                Message::Exchange(e) => {
                    if let Some(mut b) = bodies.remove(&e.id) {
                        b.demuxer.end(b.tail_offset + b.tail.len() as u64);
                        let aus: Vec<_> = b.demuxer.drain().collect();
                        for m in aus {
                            if let TsMessage::AccessUnit(a) = m {
                                frames.push((a.end, b.wire_offset(a.end - 1) + 1));
                            }
                        }
                        segment_end = e.response.map(|r| r.end);
                    }
                }
                _ => {}
            }
        }
    };
    // TCP-segment-sized pieces, as reassembly delivers them.
    let mut offset = 0;
    let mut tail: Vec<u8> = Vec::new();
    for piece in s2c.chunks(1448) {
        tail.extend_from_slice(piece);
        let n = session.feed(Direction::ServerToClient, offset, &tail);
        offset += n as u64;
        tail.drain(..n);
        handle(&mut session, &mut frames);
    }
    session.end(Direction::ServerToClient, offset + tail.len() as u64);
    handle(&mut session, &mut frames);

    assert_eq!(frames.len(), 120);
    let segment_end = segment_end.unwrap();
    assert!(
        frames.windows(2).all(|w| w[0].1 <= w[1].1),
        "frames arrive in order"
    );
    assert!(frames.iter().all(|&(_, wire)| wire <= segment_end));
    // Wire offset = body offset + the response head length (identity coding).
    let head = frames[0].1 - frames[0].0;
    assert!(frames.iter().all(|&(body, wire)| wire - body == head));
}
