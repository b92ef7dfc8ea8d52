//! The frame layer on hand-made connections: padding, CONTINUATION, a header block
//! split over frames, RST_STREAM, GOAWAY, SETTINGS_MAX_FRAME_SIZE and
//! SETTINGS_HEADER_TABLE_SIZE, huge declared lengths, gaps, bad prefaces. Header
//! blocks are made with loona-hpack's encoder (plain literals and table indices).

use h2_parser::{BodyMode, Direction, End, Exchange, Message, Session, PREFACE};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let p: Vec<u8> = params
        .iter()
        .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
        .collect();
    frame(SETTINGS, 0, 0, &p)
}

/// Client preface and SETTINGS with `params`.
fn client(params: &[(u16, u32)]) -> Vec<u8> {
    let mut c = PREFACE.to_vec();
    c.extend(settings(params));
    c
}

/// Client preface, SETTINGS with `params` and a GET of `path` on stream 1.
fn client_get(params: &[(u16, u32)], path: &str) -> Vec<u8> {
    let mut c = client(params);
    let blk = req_block(&mut loona_hpack::Encoder::new(), path);
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &blk));
    c
}

fn block(enc: &mut loona_hpack::Encoder, fields: &[(&str, &str)]) -> Vec<u8> {
    enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

fn get(path: &str) -> Vec<(&'static str, String)> {
    vec![
        (":method", "GET".into()),
        (":scheme", "https".into()),
        (":authority", "cdn.example".into()),
        (":path", path.into()),
        ("user-agent", "test".into()),
    ]
}

fn req_block(enc: &mut loona_hpack::Encoder, path: &str) -> Vec<u8> {
    let fields = get(path);
    let f: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    block(enc, &f)
}

fn stream_all() -> Session {
    Session::with_body_policy(|_, _| BodyMode::Stream)
}

/// Client stream whole, then server stream whole, then both ends.
fn run(mut s: Session, c2s: &[u8], s2c: &[u8]) -> (Vec<Message>, Session) {
    assert_eq!(s.feed(C2S, 0, c2s), c2s.len());
    let mut out: Vec<Message> = s.drain().collect();
    assert_eq!(s.feed(S2C, 0, s2c), s2c.len());
    s.end(C2S, c2s.len() as u64);
    s.end(S2C, s2c.len() as u64);
    out.extend(s.drain());
    (out, s)
}

fn exchanges(m: &[Message]) -> Vec<Exchange> {
    m.iter()
        .filter_map(|m| match m {
            Message::Exchange(e) => Some((**e).clone()),
            _ => None,
        })
        .collect()
}

fn body(m: &[Message], id: u32) -> Vec<u8> {
    m.iter()
        .filter_map(|m| match m {
            Message::BodyChunk(c) if c.id == u64::from(id) => Some(c.data.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn status_block(enc: &mut loona_hpack::Encoder, status: &str) -> Vec<u8> {
    block(enc, &[(":status", status), ("content-type", "video/mp2t")])
}

#[test]
fn padded_headers_and_data_give_the_data_without_padding() {
    let (mut ce, mut se) = (loona_hpack::Encoder::new(), loona_hpack::Encoder::new());
    let mut c2s = client(&[]);
    // HEADERS with PADDED and PRIORITY: pad length 3, 5 priority bytes, block, pad.
    let mut p = vec![3, 0, 0, 0, 0, 200];
    p.extend(req_block(&mut ce, "/seg.ts"));
    p.extend([0; 3]);
    let request_start = c2s.len() as u64;
    c2s.extend(frame(
        HEADERS,
        PADDED | PRIORITY | END_HEADERS | END_STREAM,
        1,
        &p,
    ));
    let mut s2c = settings(&[]);
    let mut p = vec![7];
    p.extend(status_block(&mut se, "200"));
    p.extend([0; 7]);
    s2c.extend(frame(HEADERS, PADDED | END_HEADERS, 1, &p));
    let data_at = s2c.len() as u64;
    s2c.extend(frame(
        DATA,
        PADDED,
        1,
        b"\x0ahello world\0\0\0\0\0\0\0\0\0\0",
    ));
    s2c.extend(frame(DATA, PADDED | END_STREAM, 1, b"\x00!"));
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
    assert_eq!(body(&m, 1), b"hello world!");
    let e = &exchanges(&m)[0];
    let (r, p) = (e.request.as_ref().unwrap(), e.response.as_ref().unwrap());
    assert_eq!(
        (r.path.as_str(), r.start, r.end),
        ("/seg.ts", request_start, c2s.len() as u64)
    );
    assert_eq!(p.body_len, 12);
    assert_eq!(p.body_start, Some(data_at + 10));
    assert_eq!(p.body_end, Some(s2c.len() as u64));
    assert_eq!((p.end, e.end), (s2c.len() as u64, End::Closed));
}

#[test]
fn padding_longer_than_the_frame_loses_the_direction() {
    let mut s2c = settings(&[]);
    s2c.extend(frame(DATA, PADDED, 1, &[9, 1, 2]));
    let (_, s) = run(stream_all(), &client(&[]), &s2c);
    assert_eq!(
        s.anomalies(),
        [("h2.data_on_idle_stream", 1), ("h2.bad_padding", 1)]
    );
}

#[test]
fn a_header_block_split_over_headers_and_continuations_decodes_as_one_frame() {
    let whole = {
        let mut c2s = client(&[]);
        c2s.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &req_block(&mut loona_hpack::Encoder::new(), "/a.m3u8"),
        ));
        exchanges(&run(stream_all(), &c2s, &settings(&[])).0)
    };
    let blk = req_block(&mut loona_hpack::Encoder::new(), "/a.m3u8");
    // Every way to cut the block into HEADERS + CONTINUATION + CONTINUATION.
    for a in 0..=blk.len() {
        for b in [a, (a + blk.len()) / 2, blk.len()] {
            let mut c2s = client(&[]);
            c2s.extend(frame(HEADERS, END_STREAM, 1, &blk[..a]));
            c2s.extend(frame(CONTINUATION, 0, 1, &blk[a..b]));
            c2s.extend(frame(CONTINUATION, END_HEADERS, 1, &blk[b..]));
            let (m, s) = run(stream_all(), &c2s, &settings(&[]));
            assert!(s.anomalies().is_empty());
            let got = exchanges(&m);
            let (r, w) = (
                got[0].request.as_ref().unwrap(),
                whole[0].request.as_ref().unwrap(),
            );
            assert_eq!(
                (&r.method, &r.path, &r.headers),
                (&w.method, &w.path, &w.headers)
            );
            assert_eq!((r.start, r.head_end), (33, c2s.len() as u64));
        }
    }
}

#[test]
fn a_frame_inside_a_header_block_or_a_stray_continuation_loses_the_direction() {
    let blk = req_block(&mut loona_hpack::Encoder::new(), "/x");
    let mut c2s = client(&[]);
    c2s.extend(frame(HEADERS, 0, 1, &blk[..3]));
    c2s.extend(frame(PING, 0, 0, &[0; 8]));
    let (_, s) = run(stream_all(), &c2s, &settings(&[]));
    assert_eq!(s.anomalies(), [("h2.continuation_expected", 1)]);
    let mut c2s = client(&[]);
    c2s.extend(frame(CONTINUATION, END_HEADERS, 1, &blk));
    let (_, s) = run(stream_all(), &c2s, &settings(&[]));
    assert_eq!(s.anomalies(), [("h2.unexpected_continuation", 1)]);
}

#[test]
fn rst_stream_ends_a_response_and_later_data_on_it_is_ignored() {
    let (mut ce, mut se) = (loona_hpack::Encoder::new(), loona_hpack::Encoder::new());
    let mut c2s = client(&[]);
    c2s.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &req_block(&mut ce, "/big.ts"),
    ));
    let mut s2c = settings(&[]);
    s2c.extend(frame(
        HEADERS,
        END_HEADERS,
        1,
        &status_block(&mut se, "200"),
    ));
    s2c.extend(frame(DATA, 0, 1, b"first"));
    let mut s = stream_all();
    assert_eq!(s.feed(C2S, 0, &c2s), c2s.len());
    assert_eq!(s.feed(S2C, 0, &s2c), s2c.len());
    // The client cancels (CANCEL = 8); data in flight still arrives.
    let rst_at = c2s.len() as u64;
    let rst = frame(RST_STREAM, 0, 1, &8u32.to_be_bytes());
    assert_eq!(s.feed(C2S, rst_at, &rst), rst.len());
    let late = frame(DATA, END_STREAM, 1, b"late");
    assert_eq!(s.feed(S2C, s2c.len() as u64, &late), late.len());
    let m: Vec<Message> = s.drain().collect();
    assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
    assert_eq!(body(&m, 1), b"first");
    let e = &exchanges(&m)[0];
    assert_eq!(
        e.end,
        End::Reset {
            by: C2S,
            error_code: 8,
            offset: rst_at
        }
    );
    assert!(!e.response.as_ref().unwrap().complete);
}

#[test]
fn goaway_refuses_the_streams_above_its_last_id() {
    let mut ce = loona_hpack::Encoder::new();
    let mut c2s = client(&[]);
    for id in [1, 3, 5] {
        c2s.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            id,
            &req_block(&mut ce, "/p"),
        ));
    }
    let mut s2c = settings(&[]);
    let mut p = 1u32.to_be_bytes().to_vec();
    p.extend(0u32.to_be_bytes());
    p.extend(b"shutting down");
    s2c.extend(frame(GOAWAY, 0, 0, &p));
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert!(s.anomalies().is_empty());
    let ends: Vec<(u32, End)> = exchanges(&m).iter().map(|e| (e.stream_id, e.end)).collect();
    let refused = End::Refused { by: S2C, offset: 9 };
    assert_eq!(ends, [(3, refused), (5, refused), (1, End::Cut)]);
    assert!(m
        .iter()
        .any(|m| matches!(m, Message::GoAway(g) if g.last_stream_id == 1)));
}

/// A server stream with one response whose DATA frame is `len` bytes long.
fn response_with_data(len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut s2c = settings(&[]);
    s2c.extend(frame(
        HEADERS,
        END_HEADERS,
        1,
        &status_block(&mut loona_hpack::Encoder::new(), "200"),
    ));
    s2c.extend(frame(DATA, END_STREAM, 1, &vec![0x47; len]));
    let mut c2s = Vec::new();
    c2s.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &req_block(&mut loona_hpack::Encoder::new(), "/s.ts"),
    ));
    (c2s, s2c)
}

#[test]
fn settings_max_frame_size_is_what_the_receiver_announced() {
    let (req, s2c) = response_with_data(20_000);
    // The client announced nothing: 16 384 is the limit.
    let mut c2s = client(&[]);
    c2s.extend(&req);
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert_eq!(s.anomalies(), [("h2.frame_too_large", 1)]);
    assert!(s.is_closed(S2C));
    let e = &exchanges(&m)[0];
    assert_eq!(e.end, End::Cut);
    assert_eq!(body(&m, 1), b"", "nothing of the oversized frame is used");
    // After SETTINGS_MAX_FRAME_SIZE 32 768 (id 5) the frame is fine.
    let mut c2s = client(&[(5, 32_768)]);
    c2s.extend(&req);
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
    assert_eq!(body(&m, 1).len(), 20_000);
    // Values outside 2^14..2^24-1 are connection errors.
    let (_, s) = run(stream_all(), &client(&[(5, 1000)]), &s2c);
    assert_eq!(s.anomalies()[0], ("h2.bad_max_frame_size", 1));
}

#[test]
fn huge_declared_lengths_are_refused_or_streamed_never_buffered() {
    // A HEADERS frame declaring 16 MiB - 1 against the default limit.
    let mut c2s = client(&[]);
    c2s.extend([0xff, 0xff, 0xff, HEADERS, 0, 0, 0, 0, 1]);
    let (_, s) = run(stream_all(), &c2s, &settings(&[]));
    assert_eq!(s.anomalies(), [("h2.frame_too_large", 1)]);
    // The server allows 16 MiB frames: a header block that large is still refused
    // at its frame header, before any byte of it is held.
    let mut c2s = client(&[]);
    c2s.extend([0xff, 0xff, 0xff, HEADERS, END_HEADERS, 0, 0, 0, 1]);
    let mut s = stream_all();
    let s2c = settings(&[(5, (1 << 24) - 1)]);
    assert_eq!(s.feed(S2C, 0, &s2c), s2c.len());
    assert_eq!(s.feed(C2S, 0, &c2s), c2s.len());
    assert_eq!(s.anomalies(), [("h2.header_block_too_long", 1)]);
    // A 16 MiB DATA frame is streamed as it comes; the connection ending inside it
    // is counted and cuts the response.
    let (req, mut s2c) = response_with_data(0);
    let mut c2s = client(&[(5, (1 << 24) - 1)]);
    c2s.extend(req);
    let at = s2c.len() - 9;
    s2c.truncate(at);
    s2c.extend([0xff, 0xff, 0xff, DATA, END_STREAM, 0, 0, 0, 1]);
    s2c.extend([0x47; 5000]);
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert_eq!(s.anomalies(), [("h2.truncated_frame", 1)]);
    assert_eq!(body(&m, 1).len(), 5000);
    let e = &exchanges(&m)[0];
    assert_eq!(
        (e.end, e.response.as_ref().unwrap().complete),
        (End::Cut, false)
    );
    // A GOAWAY with 16 KB of debug data keeps only its head.
    let mut p = vec![0; 8];
    p.extend(vec![b'x'; 16_000]);
    let mut s2c = settings(&[]);
    s2c.extend(frame(GOAWAY, 0, 0, &p));
    let (m, s) = run(stream_all(), &client(&[]), &s2c);
    assert!(s.anomalies().is_empty());
    assert!(matches!(m[..], [Message::GoAway(_)]));
}

#[test]
fn gaps_in_data_are_skipped_gaps_elsewhere_lose_the_direction() {
    let (req, s2c) = response_with_data(1000);
    let mut c2s = client(&[]);
    c2s.extend(req);
    let data_payload = s2c.len() - 1000;
    // Inside the DATA payload: 100 bytes lost, the rest decodes.
    let mut s = stream_all();
    assert_eq!(s.feed(C2S, 0, &c2s), c2s.len());
    let at = data_payload + 300;
    assert_eq!(s.feed(S2C, 0, &s2c[..at]), at);
    s.gap(S2C, at as u64, 100);
    assert_eq!(
        s.feed(S2C, at as u64 + 100, &s2c[at + 100..]),
        s2c.len() - at - 100
    );
    let m: Vec<Message> = s.drain().collect();
    assert_eq!(s.anomalies(), [("h2.gap", 1)]);
    assert!(m.iter().any(|m| matches!(
        m,
        Message::BodyGap {
            stream_id: 1,
            body_offset: 300,
            len: 100
        }
    )));
    assert_eq!(body(&m, 1).len(), 900);
    let e = &exchanges(&m)[0];
    assert_eq!(e.end, End::Closed);
    let r = e.response.as_ref().unwrap();
    assert_eq!((r.body_len, r.complete), (1000, false));
    // Over the DATA frame's header: the server's side is lost, the stream cut.
    let mut s = stream_all();
    assert_eq!(s.feed(C2S, 0, &c2s), c2s.len());
    let at = data_payload - 5;
    // The 4 bytes of the cut frame header stay with the caller.
    assert_eq!(s.feed(S2C, 0, &s2c[..at]), at - 4);
    s.gap(S2C, at as u64, 10);
    assert_eq!(
        s.feed(S2C, at as u64 + 10, &s2c[at + 10..]),
        s2c.len() - at - 10
    );
    let m: Vec<Message> = s.drain().collect();
    assert_eq!(s.anomalies(), [("h2.gap", 1), ("h2.gap_lost_sync", 1)]);
    assert_eq!(exchanges(&m)[0].end, End::Cut);
    // An unannounced jump in offsets is a gap too.
    let mut s = stream_all();
    assert_eq!(s.feed(C2S, 0, &c2s[..30]), 24);
    assert_eq!(s.feed(C2S, 40, &c2s[40..]), c2s.len() - 40);
    assert_eq!(
        s.anomalies(),
        [
            ("h2.offset_skipped", 1),
            ("h2.gap", 1),
            ("h2.gap_lost_sync", 1)
        ]
    );
}

#[test]
fn dynamic_table_size_updates_are_bounded_by_the_receivers_setting() {
    // Server block: size update to 8192 (0x3f e1 3f), then :status 200 (0x88).
    let update = [0x3f, 0xe1, 0x3f, 0x88];
    let c2s = client_get(&[], "/");
    let mut s2c = settings(&[]);
    s2c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &update));
    let (_, s) = run(stream_all(), &c2s, &s2c);
    assert_eq!(s.anomalies(), [("h2.hpack_table_size_over_bound", 1)]);
    // The client announced SETTINGS_HEADER_TABLE_SIZE 8192 (id 1).
    let c2s = client_get(&[(1, 8192)], "/");
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert!(s.anomalies().is_empty());
    assert_eq!(exchanges(&m)[0].response.as_ref().unwrap().status, 200);
}

#[test]
fn interim_responses_unknown_frames_and_bad_prefaces() {
    let mut se = loona_hpack::Encoder::new();
    let c2s = client_get(&[], "/");
    let mut s2c = settings(&[]);
    s2c.extend(frame(0x20, 0xff, 1, b"an extension frame"));
    s2c.extend(frame(
        HEADERS,
        END_HEADERS,
        1,
        &block(&mut se, &[(":status", "103")]),
    ));
    s2c.extend(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &block(&mut se, &[(":status", "204")]),
    ));
    let (m, s) = run(stream_all(), &c2s, &s2c);
    assert!(s.anomalies().is_empty());
    let e = &exchanges(&m)[0];
    assert_eq!(
        (
            e.interim_statuses.clone(),
            e.response.as_ref().unwrap().status
        ),
        (vec![103], 204)
    );
    let (_, s) = run(stream_all(), b"GET / HTTP/1.1\r\n\r\n", &settings(&[]));
    assert_eq!(s.anomalies(), [("h2.bad_preface", 1)]);
    let (_, s) = run(stream_all(), &client(&[]), &frame(PING, 0, 0, &[0; 8]));
    assert_eq!(s.anomalies(), [("h2.preface_not_settings", 1)]);
}
