//! The session on real HTTP/2 traffic (tests/data/README.md): what each connection
//! holds, the bodies against the files the servers sent, offsets against an
//! independent walk over the frames, any split of the streams, borrowed bodies, gaps.

mod common;

use common::*;
use h2_parser::{BodyMode, End, Exchange, Message, Session};

const PLAYLIST: &str = "hls-parser/tests/data/nginx-live.m3u8";
const SEGMENT: &str = "mpegts-parser/tests/data/nginx-test-0.ts";

/// (stream, method, path, status, body bytes on the wire) per exchange, in the
/// order they ended.
fn summary(ex: &[&Exchange]) -> Vec<(u32, String, String, u16, u64)> {
    ex.iter()
        .map(|e| {
            let r = e.request.as_ref().unwrap();
            let p = e.response.as_ref();
            (
                e.stream_id,
                r.method.clone(),
                r.path.clone(),
                p.map_or(0, |p| p.status),
                p.map_or(0, |p| p.body_len),
            )
        })
        .collect()
}

fn s(v: &[(u32, &str, &str, u16, u64)]) -> Vec<(u32, String, String, u16, u64)> {
    v.iter()
        .map(|&(id, m, p, st, n)| (id, m.to_string(), p.to_string(), st, n))
        .collect()
}

#[test]
fn every_connection_gives_its_exchanges_without_anomalies() {
    let conns = connections();
    assert_eq!(conns.len(), 6);
    let (pl, gz, nf, nf2) = ("/hls/test.m3u8", 117, "/hls/missing.m3u8", 148);
    let expected = [
        s(&[
            (13, "GET", pl, 200, gz),
            (15, "GET", pl, 200, gz),
            (17, "GET", nf, 404, 114),
            (19, "GET", nf, 404, 114),
        ]),
        s(&[
            (19, "GET", "/hls/reset", 0, 0),
            (15, "GET", pl, 200, gz),
            (17, "GET", "/hls/test.m3u8?again", 200, gz),
            (21, "GET", nf, 404, 114),
            (13, "GET", "/hls/test-0.ts", 200, 199_656),
        ]),
        s(&[
            (13, "GET", "/hls/push.m3u8", 200, gz),
            (2, "GET", pl, 200, gz),
        ]),
        s(&[(1, "GET", pl, 200, gz)]),
        s(&[
            (13, "GET", pl, 200, 144),
            (15, "GET", pl, 200, 144),
            (17, "GET", nf, 404, nf2),
            (19, "GET", nf, 404, nf2),
        ]),
        s(&[(13, "POST", pl, 200, 144)]),
    ];
    for (n, conn) in conns.iter().enumerate() {
        let (messages, session) = run_in_capture_order(conn, Session::new());
        assert!(
            session.anomalies().is_empty(),
            "conn {n}: {:?}",
            session.anomalies()
        );
        assert_eq!(session.open_streams(), 0);
        assert_eq!(summary(&exchanges(&messages)), expected[n], "conn {n}");
        for e in exchanges(&messages) {
            let want_end = match (n, e.stream_id) {
                (1, 19) => End::Reset {
                    by: S2C,
                    error_code: 1,
                    offset: 66032,
                },
                _ => End::Closed,
            };
            assert_eq!(e.end, want_end, "conn {n} stream {}", e.stream_id);
            assert_eq!(
                e.request.as_ref().unwrap().authority.as_deref(),
                Some(if conn.server_port == 18082 {
                    "127.0.0.1:18082"
                } else {
                    "127.0.0.1:18083"
                })
            );
            assert_eq!(e.request.as_ref().unwrap().scheme.as_deref(), Some("http"));
        }
        // Every client ends with GOAWAY (curl closes without one).
        let goaways = messages
            .iter()
            .filter(|m| matches!(m, Message::GoAway(_)))
            .count();
        assert_eq!(goaways, usize::from(n != 3), "conn {n}");
    }
}

#[test]
fn bodies_are_the_files_the_servers_sent() {
    let playlist = sibling_data(PLAYLIST);
    let segment = sibling_data(SEGMENT);
    let mut kept = 0;
    for (n, conn) in connections().iter().enumerate() {
        let (messages, _) = run_in_capture_order(conn, Session::new());
        for e in exchanges(&messages) {
            let Some(r) = e.response.as_ref() else {
                continue; // the stream nginx reset
            };
            if r.status != 200 || r.body_mode != BodyMode::Keep {
                continue;
            }
            // nginx gzips playlists for nghttp and curl --compressed; nghttpd does not.
            let gzip = conn.server_port == 18082;
            assert_eq!(
                r.content_encoding.as_deref(),
                gzip.then_some("gzip"),
                "conn {n}"
            );
            assert_eq!(
                r.body.as_deref(),
                Some(&playlist[..]),
                "conn {n} stream {}",
                e.stream_id
            );
            assert_eq!(r.body_decoded_len, playlist.len() as u64);
            assert!(r.complete && !r.body_truncated);
            kept += 1;
        }
        if n == 1 {
            let streamed: Vec<u8> = messages
                .iter()
                .filter_map(|m| match m {
                    Message::BodyChunk(c) => {
                        assert_eq!(c.id, 13);
                        Some(c.data.clone())
                    }
                    _ => None,
                })
                .flatten()
                .collect();
            assert!(
                streamed == segment,
                "the segment streamed from conn 1 is not the file"
            );
            assert!(matches!(
                &messages[0],
                Message::BodyStart { stream_id: 13, path: Some(p), content_type: Some(t) }
                    if p == "/hls/test-0.ts" && t == "video/mp2t"
            ));
        }
    }
    assert_eq!(kept, 10);
}

#[test]
fn offsets_point_at_the_frames_that_carried_each_exchange() {
    for (n, conn) in connections().iter().enumerate() {
        let (c2s, s2c) = (conn.stream(C2S), conn.stream(S2C));
        let c_frames = frames(&c2s, 24);
        let s_frames = frames(&s2c, 0);
        let (messages, _) = run_in_capture_order(conn, Session::new());
        for e in exchanges(&messages) {
            let id = e.stream_id;
            let (frames_of_request, request_bytes) = match e.promised_on {
                None => (&c_frames, &c2s),
                Some(_) => (&s_frames, &s2c),
            };
            let r = e.request.as_ref().unwrap();
            let first = frames_of_request
                .iter()
                .find(|f| f.0 as u64 == r.start)
                .unwrap_or_else(|| panic!("conn {n} stream {id}: no frame at {}", r.start));
            match e.promised_on {
                None => assert_eq!((first.2, first.4), (1, id), "conn {n}: HEADERS of {id}"),
                Some(on) => assert_eq!((first.2, first.4), (5, on), "conn {n}: PUSH_PROMISE"),
            }
            // The block ends at the end of a frame of its stream (CONTINUATION on
            // conn 0), and so does the request.
            for at in [r.head_end, r.end] {
                assert!(
                    frames_of_request
                        .iter()
                        .any(|f| (f.0 + 9 + f.1) as u64 == at),
                    "conn {n} stream {id}: {at} is not a frame end"
                );
            }
            assert!(r.end <= request_bytes.len() as u64);
            let Some(p) = e.response.as_ref() else {
                continue;
            };
            let head = s_frames.iter().find(|f| f.0 as u64 == p.start).unwrap();
            assert_eq!(
                (head.2, head.4),
                (1, id),
                "conn {n}: response HEADERS of {id}"
            );
            // The last body byte is the last data byte of this stream's last DATA
            // frame, before its padding.
            let last_data = s_frames
                .iter()
                .rfind(|f| f.2 == 0 && f.4 == id && f.1 > 0)
                .unwrap();
            let pad = if last_data.3 & 0x8 != 0 {
                usize::from(s2c[last_data.0 + 9])
            } else {
                0
            };
            assert_eq!(
                p.body_end,
                Some((last_data.0 + 9 + last_data.1 - pad) as u64),
                "conn {n} {id}"
            );
            let first_data = s_frames.iter().find(|f| f.2 == 0 && f.4 == id).unwrap();
            let lead = usize::from(first_data.3 & 0x8 != 0);
            assert_eq!(p.body_start, Some((first_data.0 + 9 + lead) as u64));
            // The response ends with the frame that carries END_STREAM.
            let last = s_frames.iter().rfind(|f| f.4 == id).unwrap();
            assert!(last.3 & 0x1 != 0);
            assert_eq!(p.end, (last.0 + 9 + last.1) as u64, "conn {n} {id}");
        }
    }
}

#[test]
fn continuation_padding_trailers_push_and_a_post_body_decode() {
    let conns = connections();
    let fields = |n: usize| {
        let (m, _) = run_in_capture_order(&conns[n], Session::new());
        exchanges(&m).into_iter().cloned().collect::<Vec<_>>()
    };
    // Conn 0: 18.6 KB request header blocks over HEADERS + CONTINUATION, the second
    // request of each URI mostly from the dynamic table.
    let ex = fields(0);
    for e in &ex {
        let r = e.request.as_ref().unwrap();
        assert_eq!(r.header("user-agent"), Some("nghttp2/1.52.0"));
        let big = r
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("continuation-test-"))
            .count();
        assert_eq!(big, 6, "stream {}", e.stream_id);
        assert!(r.head_end - r.start > 18_000);
    }
    // Conn 4, 5: nghttpd pads every frame and sends trailers; nghttp pads its POST
    // body and sends request trailers.
    for e in fields(4).iter().chain(&fields(5)) {
        let p = e.response.as_ref().unwrap();
        assert_eq!(
            p.trailers,
            [("x-lagtap-trailer".to_string(), "end".to_string())]
        );
        assert!(p.body_end.unwrap() < p.end, "trailers after the body");
    }
    let post = &fields(5)[0];
    let r = post.request.as_ref().unwrap();
    assert_eq!((r.method.as_str(), r.body_len), ("POST", 896));
    assert_eq!(
        r.trailers,
        [("x-lagtap-sum".to_string(), "896".to_string())]
    );
    // Conn 2: the pushed playlist, promised on stream 13.
    let push = &fields(2)[1];
    assert_eq!((push.stream_id, push.promised_on), (2, Some(13)));
    // Conn 3: curl's request.
    let curl = &fields(3)[0];
    assert_eq!(
        curl.request.as_ref().unwrap().header("user-agent"),
        Some("curl/7.88.1")
    );
}

/// Client stream cut at `c`, server stream at `s`, compared with the whole.
fn check_split(n: usize, whole: &[Message], c2s: &[u8], s2c: &[u8], c: &[usize], s: &[usize]) {
    let (m, session) = run_split(c2s, s2c, c, s);
    assert!(
        session.anomalies().is_empty(),
        "conn {n} cuts {c:?} {s:?}: {:?}",
        session.anomalies()
    );
    assert!(
        normalized(m) == whole,
        "conn {n}: cuts {c:?} / {s:?} differ from the whole"
    );
}

/// Every cut of each direction in `cuts` (empty: every byte), then one-byte pieces.
fn splits(n: usize, c_cuts: Option<Vec<usize>>, s_cuts: Option<Vec<usize>>) {
    let conn = &connections()[n];
    let (c2s, s2c) = (conn.stream(C2S), conn.stream(S2C));
    let whole = normalized(run_split(&c2s, &s2c, &[], &[]).0);
    assert!(!exchanges(&whole).is_empty());
    for cut in c_cuts.unwrap_or_else(|| (0..=c2s.len()).collect()) {
        check_split(n, &whole, &c2s, &s2c, &[cut], &[]);
    }
    for cut in s_cuts.unwrap_or_else(|| (0..=s2c.len()).collect()) {
        check_split(n, &whole, &c2s, &s2c, &[], &[cut]);
    }
    let ones = |len: usize| (1..len).collect::<Vec<_>>();
    check_split(n, &whole, &c2s, &s2c, &ones(c2s.len()), &ones(s2c.len()));
}

/// Cuts at every frame boundary of `stream` and `around` bytes either side.
fn around_frames(stream: &[u8], skip: usize, around: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = frames(stream, skip)
        .iter()
        .flat_map(|f| f.0.saturating_sub(around)..=(f.0 + 9 + around).min(stream.len()))
        .chain(0..=skip)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

// Connections 2-5 are split at every byte of both directions, and so is the client
// stream of 1. Connection 0's client stream (74 KB) and 1's server stream (200 KB)
// would take tens of thousands of runs: they are cut at every byte within 40 of a
// frame boundary (where a split can go wrong) and at every 97th byte elsewhere.

fn sparse(stream: &[u8], skip: usize) -> Vec<usize> {
    let mut cuts = around_frames(stream, skip, 40);
    cuts.extend((0..stream.len()).step_by(97));
    cuts
}

#[test]
fn conn0_split_around_its_frames_or_in_one_byte_pieces_gives_the_same_messages() {
    let c2s = connections()[0].stream(C2S);
    splits(0, Some(sparse(&c2s, 24)), None);
}

#[test]
fn conn1_split_around_its_frames_or_in_one_byte_pieces_gives_the_same_messages() {
    let s2c = connections()[1].stream(S2C);
    splits(1, None, Some(sparse(&s2c, 0)));
}

#[test]
fn conn2_push_split_at_every_byte_gives_the_same_messages() {
    splits(2, None, None);
}

#[test]
fn conn3_curl_split_at_every_byte_gives_the_same_messages() {
    splits(3, None, None);
}

#[test]
fn conn4_padding_and_trailers_split_at_every_byte_give_the_same_messages() {
    splits(4, None, None);
}

#[test]
fn conn5_post_split_at_every_byte_gives_the_same_messages() {
    splits(5, None, None);
}

#[test]
fn feeding_in_capture_order_gives_the_same_exchanges_as_each_direction_whole() {
    for (n, conn) in connections().iter().enumerate() {
        let (in_order, _) = run_in_capture_order(conn, Session::new());
        let (whole, _) = run_split(&conn.stream(C2S), &conn.stream(S2C), &[], &[]);
        let mut a: Vec<String> = exchanges(&in_order)
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        let mut b: Vec<String> = exchanges(&whole).iter().map(|e| format!("{e:?}")).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "conn {n}");
    }
}

#[test]
fn borrowed_body_chunks_hold_the_same_bytes_as_copied_ones() {
    let conn = &connections()[1];
    let (c2s, s2c) = (conn.stream(C2S), conn.stream(S2C));
    for step in [1usize, 9, 1000, 16_393, 65_536] {
        let cuts: Vec<usize> = (step..s2c.len()).step_by(step).collect();
        let copied = normalized(run_split(&c2s, &s2c, &[], &cuts).0);
        let mut s = Session::new().borrowing_bodies();
        let mut borrowed = feed_pieces(&mut s, C2S, &c2s, &[]);
        // Feed the server's stream resolving each chunk against its own input.
        let (mut offset, mut tail, mut last, mut chunks) = (0u64, Vec::new(), 0, 0);
        for &cut in cuts.iter().chain([s2c.len()].iter()) {
            tail.extend_from_slice(&s2c[last..cut]);
            last = cut;
            let fed = s.feed(S2C, offset, &tail);
            for mut m in s.drain() {
                if let Message::BodyChunk(c) = &mut m {
                    assert!(c.in_input && c.data.is_empty());
                    c.data = c.bytes(offset, &tail).expect("inside the input").to_vec();
                    chunks += 1;
                }
                borrowed.push(m);
            }
            offset += fed as u64;
            tail.drain(..fed);
        }
        s.end(S2C, offset + tail.len() as u64);
        borrowed.extend(s.drain());
        assert!(chunks >= 13, "pieces of {step}: {chunks} chunks");
        let borrowed: Vec<Message> = normalized(borrowed)
            .into_iter()
            .map(|mut m| {
                if let Message::BodyChunk(c) = &mut m {
                    c.in_input = false;
                }
                m
            })
            .collect();
        assert!(borrowed == copied, "pieces of {step}");
    }
}

/// The server stream of conn 1 with `len` bytes at `at` missing (a gap instead).
fn with_gap(at: usize, len: usize) -> (Vec<Message>, Session) {
    let conn = &connections()[1];
    let (c2s, s2c) = (conn.stream(C2S), conn.stream(S2C));
    let mut s = Session::new();
    let mut out = feed_pieces(&mut s, C2S, &c2s, &[]);
    assert_eq!(s.feed(S2C, 0, &s2c[..at]), at);
    s.gap(S2C, at as u64, len as u64);
    let rest = &s2c[at + len..];
    assert_eq!(s.feed(S2C, (at + len) as u64, rest), rest.len());
    s.end(S2C, s2c.len() as u64);
    out.extend(s.drain());
    (out, s)
}

#[test]
fn a_gap_inside_the_segment_data_becomes_a_body_gap_and_decoding_goes_on() {
    let conn = &connections()[1];
    let s2c = conn.stream(S2C);
    // The fifth DATA frame of the segment (stream 13): lose 3000 bytes in its middle.
    let data: Vec<_> = frames(&s2c, 0)
        .into_iter()
        .filter(|f| f.2 == 0 && f.4 == 13)
        .collect();
    let f = data[4];
    let (at, len) = (f.0 + 9 + 100, 3000);
    assert!(f.1 > 100 + len);
    let (messages, session) = with_gap(at, len);
    assert_eq!(session.anomalies(), [("h2.gap", 1)]);
    let segment = sibling_data(SEGMENT);
    let body_offset = (data.iter().take(4).map(|f| f.1).sum::<usize>() + 100) as u64;
    let mut streamed = Vec::new();
    for m in &messages {
        match m {
            Message::BodyChunk(c) => streamed.extend_from_slice(&c.data),
            Message::BodyGap {
                stream_id,
                body_offset: o,
                len: l,
            } => {
                assert_eq!((*stream_id, *o, *l), (13, body_offset, len as u64));
                assert_eq!(streamed.len() as u64, body_offset);
                streamed.extend(std::iter::repeat_n(0, len));
            }
            _ => {}
        }
    }
    let hole = body_offset as usize..body_offset as usize + len;
    assert_eq!(streamed[..hole.start], segment[..hole.start]);
    assert_eq!(streamed[hole.end..], segment[hole.end..]);
    let ex = exchanges(&messages);
    let seg = ex.iter().find(|e| e.stream_id == 13).unwrap();
    let r = seg.response.as_ref().unwrap();
    assert!(!r.complete);
    assert_eq!(
        (r.body_len, r.end, seg.end),
        (199_656, s2c.len() as u64, End::Closed)
    );
    // The other streams, whose frames follow the gap, decode as without it.
    assert_eq!(ex.len(), 5);
    assert!(ex
        .iter()
        .filter(|e| e.stream_id != 13)
        .all(|e| e.response.as_ref().is_none_or(|r| r.complete)));
}

#[test]
fn a_gap_over_a_frame_header_loses_the_server_side_and_cuts_its_open_streams() {
    let conn = &connections()[1];
    let s2c = conn.stream(S2C);
    let whole = exchanges(&run_split(&conn.stream(C2S), &s2c, &[], &[]).0)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    // Lose from 10 bytes before the header of the frame after stream 15's
    // response HEADERS to 10 bytes after it.
    let fr = frames(&s2c, 0);
    let k = fr.iter().position(|f| f.2 == 1 && f.4 == 15).unwrap();
    let next = fr[k + 1].0;
    let (messages, session) = with_gap(next - 10, 20);
    assert_eq!(
        session.anomalies(),
        [("h2.gap", 1), ("h2.gap_lost_sync", 1)]
    );
    assert!(session.is_closed(S2C));
    let ex = exchanges(&messages);
    assert_eq!(ex.len(), 5, "every stream still reported");
    for e in ex {
        let same = whole.iter().find(|w| w.stream_id == e.stream_id).unwrap();
        let r = e.response.as_ref();
        if e.end == End::Cut {
            // Cut at the gap: whatever had been decoded is as without the gap.
            assert!(r.is_none_or(|r| !r.complete && r.end < next as u64));
            if let (Some(r), Some(w)) = (r, same.response.as_ref()) {
                assert_eq!(
                    (r.status, r.start, r.head_end),
                    (w.status, w.start, w.head_end)
                );
            }
        } else {
            assert_eq!(e, same, "stream {} ended before the gap", e.stream_id);
        }
    }
}
