//! Request bodies streamed on request ([`Session::streaming_request_bodies`]) on a
//! real RTMPT session: ffmpeg 5.1 publishing over `rtmpt://` through the testbed's
//! RTMPT gateway (captures/testbed/rtmpt_gateway.py) to nginx-rtmp, its first six
//! requests and responses (tests/data/README.md). The gateway logged how many body
//! bytes each request brought; the bodies reported must be those, and the same
//! whole, split at every byte, in one-byte pieces, copied or borrowed.

use http_parser::{BodyChunk, BodyMode, Direction, Message, Session};

const C2S: Direction = Direction::ClientToServer;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn session(borrow: bool) -> Session {
    let s = Session::with_body_policy(|_, _| BodyMode::Skip)
        .streaming_request_bodies(|r| r.uri.starts_with("/send/") || r.uri.starts_with("/open/"));
    if borrow {
        s.borrowing_bodies()
    } else {
        s
    }
}

/// Feeds c2s cut at `cuts`; returns (uri, body) per streamed request, borrowed
/// chunks resolved against the input of the feed that reported them.
fn bodies(c2s: &[u8], cuts: &[usize], borrow: bool) -> Vec<(String, Vec<u8>)> {
    let mut s = session(borrow);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut take = |s: &mut Session, at: u64, input: &[u8]| {
        for m in s.drain() {
            match m {
                Message::RequestBodyStart { uri, .. } => out.push((uri, Vec::new())),
                Message::RequestBodyChunk(c) => {
                    let body = &mut out.last_mut().expect("a start first").1;
                    assert_eq!(c.body_offset, body.len() as u64);
                    body.extend_from_slice(chunk_bytes(&c, at, input));
                }
                Message::RequestBodyGap { .. } => panic!("no gap here"),
                _ => {}
            }
        }
    };
    let (mut offset, mut tail, mut last) = (0u64, Vec::new(), 0);
    for &cut in cuts.iter().chain(std::iter::once(&c2s.len())) {
        tail.extend_from_slice(&c2s[last..cut]);
        last = cut;
        let n = s.feed(C2S, offset, &tail);
        take(&mut s, offset, &tail);
        offset += n as u64;
        tail.drain(..n);
    }
    s.end(C2S, offset);
    take(&mut s, offset, &[]);
    assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
    out
}

fn chunk_bytes<'a>(c: &'a BodyChunk, at: u64, input: &'a [u8]) -> &'a [u8] {
    c.bytes(at, input).expect("chunk within the input")
}

#[test]
fn rtmpt_request_bodies_are_what_the_gateway_received() {
    let c2s = data("rtmpt.c2s");
    let got = bodies(&c2s, &[], false);
    // The gateway's log (captures/rtmpt/logs/gateway.jsonl): path and body bytes.
    let truth = [
        ("/open/1", 1),
        ("/send/7fd7f7c94501b7ca/0", 1537),
        ("/send/7fd7f7c94501b7ca/1", 1689),
        ("/send/7fd7f7c94501b7ca/2", 131),
        ("/send/7fd7f7c94501b7ca/3", 48),
        ("/send/7fd7f7c94501b7ca/4", 6956),
    ];
    let sizes: Vec<(&str, usize)> = got.iter().map(|(u, b)| (u.as_str(), b.len())).collect();
    assert_eq!(sizes, truth);
    // RTMP 1.0 §5.2.5: the tunnel's first RTMP bytes are C0 (version 3) and C1.
    assert_eq!(got[1].1[0], 3);
}

#[test]
fn rtmpt_request_bodies_split_at_every_byte_in_pieces_and_borrowed_are_the_same() {
    let c2s = data("rtmpt.c2s");
    let whole = bodies(&c2s, &[], false);
    assert_eq!(bodies(&c2s, &[], true), whole);
    for cut in 0..=c2s.len() {
        assert_eq!(bodies(&c2s, &[cut], cut % 2 == 0), whole, "cut at {cut}");
    }
    let ones: Vec<usize> = (1..c2s.len()).collect();
    assert_eq!(bodies(&c2s, &ones, true), whole);
}

#[test]
fn requests_the_filter_leaves_out_report_no_body() {
    let c2s = data("rtmpt.c2s");
    let mut s = Session::new();
    s.feed(C2S, 0, &c2s);
    assert!(s.drain().all(|m| !matches!(
        m,
        Message::RequestBodyStart { .. } | Message::RequestBodyChunk(_)
    )));
}
