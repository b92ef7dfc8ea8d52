//! The session against real nginx traffic captured on loopback (see
//! tests/data/README.md for how the files were made).

use http_parser::{BodyMode, Direction, Exchange, Message, Session};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A connection as two direction streams (from `tshark -z follow,tcp,raw`).
fn conn(n: usize) -> (Vec<u8>, Vec<u8>) {
    (data(&format!("tcp{n}.c2s")), data(&format!("tcp{n}.s2c")))
}

/// Feeds one direction in pieces cut at `cuts`, the way the flow layer does:
/// unconsumed tails are kept and passed again with the next piece.
fn feed_pieces(session: &mut Session, dir: Direction, bytes: &[u8], cuts: &[usize]) {
    let mut offset = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        tail.extend_from_slice(&bytes[last..cut]);
        last = cut;
        let n = session.feed(dir, offset, &tail);
        offset += n as u64;
        tail.drain(..n);
    }
    session.end(dir, offset + tail.len() as u64);
}

/// Body chunks merged per exchange (their boundaries follow the feed boundaries,
/// so only the concatenation is comparable between splits).
fn normalized(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in messages {
        if let (Message::BodyChunk(c), Some(Message::BodyChunk(prev))) = (&m, out.last_mut()) {
            if prev.id == c.id && prev.body_offset + prev.data.len() as u64 == c.body_offset {
                prev.data.extend_from_slice(&c.data);
                prev.wire = 0..0;
                continue;
            }
        }
        let mut m = m;
        if let Message::BodyChunk(c) = &mut m {
            c.wire = 0..0;
        }
        out.push(m);
    }
    out
}

fn run(c2s: &[u8], s2c: &[u8], c2s_cuts: &[usize], s2c_cuts: &[usize]) -> Vec<Message> {
    // Client first, then server: every request is known before its response, as
    // in time order.
    let mut all = Vec::new();
    let mut c = Session::new();
    feed_pieces(&mut c, C2S, c2s, c2s_cuts);
    all.extend(c.drain());
    feed_pieces(&mut c, S2C, s2c, s2c_cuts);
    all.extend(c.drain());
    assert!(c.anomalies().is_empty(), "anomalies: {:?}", c.anomalies());
    all
}

fn exchanges(messages: &[Message]) -> Vec<&Exchange> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Exchange(e) => Some(&**e),
            _ => None,
        })
        .collect()
}

#[test]
fn keep_alive_connection_pairs_playlist_segment_and_404_with_their_requests() {
    let (c2s, s2c) = conn(1);
    let messages = run(&c2s, &s2c, &[], &[]);
    let ex = exchanges(&messages);
    let summary: Vec<(&str, &str, u16)> = ex
        .iter()
        .map(|e| {
            let r = e.request.as_ref().unwrap();
            (
                r.method.as_str(),
                r.uri.as_str(),
                e.response.as_ref().unwrap().status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("GET", "/hls/test.m3u8", 200),
            ("GET", "/hls/test-0.ts", 200),
            ("GET", "/hls/missing.m3u8", 404)
        ]
    );
    // Offsets tile both streams: each request starts where the last one ended,
    // and the last response ends at the end of the server stream.
    assert_eq!(ex[0].request.as_ref().unwrap().start, 0);
    for w in ex.windows(2) {
        let (a, b) = (
            w[0].request.as_ref().unwrap(),
            w[1].request.as_ref().unwrap(),
        );
        assert_eq!(a.end, b.start);
        let (a, b) = (
            w[0].response.as_ref().unwrap(),
            w[1].response.as_ref().unwrap(),
        );
        assert_eq!(a.end, b.start);
    }
    assert_eq!(ex[2].request.as_ref().unwrap().end, c2s.len() as u64);
    assert_eq!(ex[2].response.as_ref().unwrap().end, s2c.len() as u64);

    // The playlist is kept, the segment streamed, and the stream is exactly the
    // bytes between the segment's head end and its end.
    let playlist = ex[0].response.as_ref().unwrap();
    assert_eq!(playlist.body_mode, BodyMode::Keep);
    let body = playlist.body.as_deref().unwrap();
    assert!(body.starts_with(b"#EXTM3U\n"));
    assert_eq!(body.len() as u64, playlist.content_length.unwrap());
    assert_eq!(
        playlist.content_type.as_deref(),
        Some("application/vnd.apple.mpegurl")
    );
    let segment = ex[1].response.as_ref().unwrap();
    assert_eq!(segment.body_mode, BodyMode::Stream);
    assert_eq!(segment.content_type.as_deref(), Some("video/mp2t"));
    assert_eq!(segment.content_length, Some(segment.end - segment.head_end));
    let streamed: Vec<u8> = messages
        .iter()
        .filter_map(|m| match m {
            Message::BodyChunk(c) if c.id == ex[1].id => Some(c.data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        streamed,
        &s2c[segment.head_end as usize..segment.end as usize]
    );
    assert_eq!(streamed[0], 0x47, "an MPEG-TS sync byte starts the segment");
    assert_eq!(
        ex[1].request.as_ref().unwrap().host.as_deref(),
        Some("127.0.0.1:18080")
    );
}

#[test]
fn gzip_chunked_playlist_decodes_to_the_same_text_as_the_plain_one() {
    let (c2s, s2c) = conn(2);
    let messages = run(&c2s, &s2c, &[], &[]);
    let gz = exchanges(&messages)[0].response.clone().unwrap();
    assert!(gz.chunked);
    assert_eq!(gz.content_encoding.as_deref(), Some("gzip"));
    assert_eq!(gz.end, s2c.len() as u64);
    let (c2s, s2c) = conn(0);
    let messages = run(&c2s, &s2c, &[], &[]);
    let plain = exchanges(&messages)[0].response.clone().unwrap();
    assert_eq!(gz.body, plain.body);
    assert_eq!(gz.body_decoded_len, plain.body_wire_len);
    assert!(gz.body_wire_len < gz.body_decoded_len);
}

#[test]
fn head_requests_and_304_end_at_the_blank_line() {
    for n in [3, 4, 5] {
        let (c2s, s2c) = conn(n);
        let messages = run(&c2s, &s2c, &[], &[]);
        let ex = exchanges(&messages);
        assert_eq!(ex.len(), 1, "tcp{n}");
        let r = ex[0].response.as_ref().unwrap();
        assert_eq!(r.end, s2c.len() as u64, "tcp{n}");
        assert_eq!(r.head_end, r.end, "tcp{n}");
        assert_eq!(r.body_wire_len, 0);
    }
    let (c2s, s2c) = conn(5);
    let ex = run(&c2s, &s2c, &[], &[]);
    assert_eq!(exchanges(&ex)[0].response.as_ref().unwrap().status, 304);
}

#[test]
fn small_connections_split_at_every_byte_give_the_same_messages() {
    for n in [0, 2, 3, 4, 5] {
        let (c2s, s2c) = conn(n);
        let whole = normalized(run(&c2s, &s2c, &[], &[]));
        for cut in 0..=c2s.len() {
            assert_eq!(
                normalized(run(&c2s, &s2c, &[cut], &[])),
                whole,
                "tcp{n} c2s cut {cut}"
            );
        }
        for cut in 0..=s2c.len() {
            assert_eq!(
                normalized(run(&c2s, &s2c, &[], &[cut])),
                whole,
                "tcp{n} s2c cut {cut}"
            );
        }
        let ones_c: Vec<usize> = (1..c2s.len()).collect();
        let ones_s: Vec<usize> = (1..s2c.len()).collect();
        assert_eq!(
            normalized(run(&c2s, &s2c, &ones_c, &ones_s)),
            whole,
            "tcp{n} one-byte pieces"
        );
    }
}

#[test]
fn segment_connection_split_anywhere_in_its_heads_or_in_one_byte_pieces_gives_the_same_messages() {
    let (c2s, s2c) = conn(1);
    let whole = normalized(run(&c2s, &s2c, &[], &[]));
    // Every split of the requests; every split in the first 1200 response bytes
    // (playlist response and the segment head); then every 997th byte.
    for cut in 0..=c2s.len() {
        assert_eq!(
            normalized(run(&c2s, &s2c, &[cut], &[])),
            whole,
            "c2s cut {cut}"
        );
    }
    let cuts = (0..1200)
        .chain((1200..s2c.len()).step_by(997))
        .chain(s2c.len() - 600..=s2c.len());
    for cut in cuts {
        assert_eq!(
            normalized(run(&c2s, &s2c, &[], &[cut])),
            whole,
            "s2c cut {cut}"
        );
    }
    let ones_c: Vec<usize> = (1..c2s.len()).collect();
    let ones_s: Vec<usize> = (1..s2c.len()).collect();
    assert_eq!(
        normalized(run(&c2s, &s2c, &ones_c, &ones_s)),
        whole,
        "one-byte pieces"
    );
}

/// Like [`feed_pieces`] with a session that borrows body bytes: every chunk is
/// resolved against the input of the feed that produced it, right after that feed,
/// and turned back into an owned chunk.
fn feed_pieces_borrowing(
    session: &mut Session,
    dir: Direction,
    bytes: &[u8],
    cuts: &[usize],
    out: &mut Vec<Message>,
) -> usize {
    let mut borrowed = 0;
    let mut offset = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    let mut last = 0;
    let mut resolve = |session: &mut Session, at: u64, input: &[u8], out: &mut Vec<Message>| {
        for mut m in session.drain() {
            if let Message::BodyChunk(c) = &mut m {
                if c.in_input {
                    borrowed += 1;
                    c.data = c.bytes(at, input).expect("chunk within the input").to_vec();
                    c.in_input = false;
                }
            }
            out.push(m);
        }
    };
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        tail.extend_from_slice(&bytes[last..cut]);
        last = cut;
        let n = session.feed(dir, offset, &tail);
        resolve(session, offset, &tail, out);
        offset += n as u64;
        tail.drain(..n);
    }
    session.end(dir, offset + tail.len() as u64);
    resolve(session, offset, &[], out);
    borrowed
}

#[test]
fn borrowed_body_chunks_hold_the_same_bytes_as_copied_ones_at_any_split() {
    let mut borrowed_chunks = 0;
    for n in 0..6 {
        let (c2s, s2c) = conn(n);
        for step in [1usize, 7, 100, 1448, 65536] {
            let cuts: Vec<usize> = (step..s2c.len()).step_by(step).collect();
            let copied = normalized(run(&c2s, &s2c, &[], &cuts));
            let mut borrowed = Vec::new();
            let mut s = Session::new().borrowing_bodies();
            feed_pieces_borrowing(&mut s, C2S, &c2s, &[], &mut borrowed);
            borrowed_chunks += feed_pieces_borrowing(&mut s, S2C, &s2c, &cuts, &mut borrowed);
            assert_eq!(normalized(borrowed), copied, "tcp{n}, pieces of {step}");
        }
    }
    assert!(borrowed_chunks > 0, "no streamed body was borrowed");
}
