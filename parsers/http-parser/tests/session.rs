//! Behaviour on hand-built exchanges: each case is one rule of RFC 9110/9112.

use http_parser::{BodyMode, Direction, Exchange, Message, Session, MAX_KEPT_BODY};
use std::io::Write;

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

fn exchanges(session: &mut Session) -> Vec<Exchange> {
    session
        .drain()
        .filter_map(|m| match m {
            Message::Exchange(e) => Some(*e),
            _ => None,
        })
        .collect()
}

fn keep_all() -> Session {
    Session::with_body_policy(|_, _| BodyMode::Keep)
}

fn anomaly(session: &Session, reason: &str) -> u64 {
    session
        .anomalies()
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or(0, |(_, n)| *n)
}

#[test]
fn pipelined_requests_pair_with_responses_in_order() {
    let mut s = keep_all();
    let reqs = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(s.feed(C2S, 0, reqs), reqs.len());
    assert_eq!(s.pending_requests(), 3);
    // The HEAD response announces a length but carries no body (RFC 9110 §9.3.2).
    let resps = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nCC";
    assert_eq!(s.feed(S2C, 0, resps), resps.len());
    let ex = exchanges(&mut s);
    let got: Vec<(&str, Vec<u8>)> = ex
        .iter()
        .map(|e| {
            (
                e.request.as_ref().unwrap().uri.as_str(),
                e.response.as_ref().unwrap().body.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/a", b"A".to_vec()),
            ("/b", vec![]),
            ("/c", b"CC".to_vec())
        ]
    );
    assert_eq!(ex[2].response.as_ref().unwrap().end, resps.len() as u64);
}

#[test]
fn chunked_response_is_dechunked_and_ends_after_the_trailer() {
    let mut s = keep_all();
    s.feed(C2S, 0, b"GET / HTTP/1.1\r\n\r\n");
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
    assert_eq!(s.feed(S2C, 0, resp), resp.len());
    let r = exchanges(&mut s).remove(0).response.unwrap();
    assert_eq!(r.body.as_deref(), Some(&b"abcde"[..]));
    assert!(r.chunked && r.complete);
    assert_eq!(r.end, resp.len() as u64);
}

#[test]
fn response_without_length_ends_when_the_server_closes() {
    let mut s = keep_all();
    s.feed(C2S, 0, b"GET / HTTP/1.0\r\n\r\n");
    let resp = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close";
    assert_eq!(s.feed(S2C, 0, resp), resp.len());
    assert!(exchanges(&mut s).is_empty());
    s.end(S2C, resp.len() as u64);
    let r = exchanges(&mut s).remove(0).response.unwrap();
    assert_eq!(r.body.as_deref(), Some(&b"until close"[..]));
    assert!(r.complete);
}

#[test]
fn no_body_for_204_304_and_interim_100_continue() {
    let mut s = keep_all();
    s.feed(C2S, 0, b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyzGET /q HTTP/1.1\r\n\r\n");
    let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n";
    assert_eq!(s.feed(S2C, 0, resp), resp.len());
    let ex = exchanges(&mut s);
    assert_eq!(ex[0].interim_statuses, [100]);
    // Head (61 bytes) and the 3-byte body.
    assert_eq!(ex[0].request.as_ref().unwrap().end, 64);
    assert_eq!(ex[0].response.as_ref().unwrap().status, 204);
    assert_eq!(ex[1].response.as_ref().unwrap().status, 304);
    assert_eq!(ex[1].response.as_ref().unwrap().end, resp.len() as u64);
}

#[test]
fn websocket_upgrade_stops_http_at_the_switch_in_both_directions() {
    let mut s = Session::new();
    let req = b"GET /chat HTTP/1.1\r\nHost: irc-ws.chat.twitch.tv\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let mut c2s = req.to_vec();
    c2s.extend_from_slice(b"\x81\x85frame"); // client frame sent early
                                             // HTTP waits for the answer before reading past the upgrade request.
    assert_eq!(s.feed(C2S, 0, &c2s), req.len());
    let resp =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let mut s2c = resp.to_vec();
    s2c.extend_from_slice(b"\x81\x05hello");
    assert_eq!(s.feed(S2C, 0, &s2c), resp.len());
    let msgs: Vec<Message> = s.drain().collect();
    let Message::Upgraded(up) = &msgs[1] else {
        panic!("{msgs:?}")
    };
    assert_eq!(
        (up.client_offset, up.server_offset),
        (req.len() as u64, resp.len() as u64)
    );
    assert_eq!(up.protocol.as_deref(), Some("websocket"));
    assert_eq!(s.feed(C2S, req.len() as u64, &c2s[req.len()..]), 0);
    assert_eq!(s.feed(S2C, resp.len() as u64, &s2c[resp.len()..]), 0);
    assert!(s.upgraded().is_some());
}

#[test]
fn declined_upgrade_goes_on_with_http() {
    let mut s = keep_all();
    let reqs = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    let first = reqs.len() - b"GET /next HTTP/1.1\r\n\r\n".len();
    assert_eq!(s.feed(C2S, 0, reqs), first);
    let resp = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    s.feed(S2C, 0, resp);
    assert_eq!(
        s.feed(C2S, first as u64, &reqs[first..]),
        reqs.len() - first
    );
    assert_eq!(s.pending_requests(), 1);
}

/// A 200 response carrying `plain` gzip-compressed, with Content-Length.
fn gzip_response(plain: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(plain).unwrap();
    let body = e.finish().unwrap();
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    resp
}

#[test]
fn gzip_bomb_kept_body_stops_at_the_cap() {
    let mut s = keep_all();
    s.feed(C2S, 0, b"GET /x.m3u8 HTTP/1.1\r\n\r\n");
    let resp = gzip_response(&vec![b'#'; 8 * MAX_KEPT_BODY]);
    assert_eq!(s.feed(S2C, 0, &resp), resp.len());
    let r = exchanges(&mut s).remove(0).response.unwrap();
    assert!(r.body_truncated);
    assert_eq!(r.body.unwrap().len(), MAX_KEPT_BODY);
    assert_eq!(r.end, resp.len() as u64);
}

#[test]
fn streamed_gzip_body_arrives_decoded_in_order() {
    let mut s = Session::with_body_policy(|_, _| BodyMode::Stream);
    s.feed(C2S, 0, b"GET /seg.ts HTTP/1.1\r\n\r\n");
    let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let resp = gzip_response(&plain);
    assert_eq!(s.feed(S2C, 0, &resp), resp.len());
    let mut got = Vec::new();
    for m in s.drain() {
        if let Message::BodyChunk(c) = m {
            assert_eq!(c.body_offset, got.len() as u64);
            got.extend_from_slice(&c.data);
        }
    }
    assert_eq!(got, plain);
}

#[test]
fn gap_inside_a_segment_body_is_skipped_and_reported() {
    let mut s = Session::with_body_policy(|_, _| BodyMode::Stream);
    s.feed(
        C2S,
        0,
        b"GET /seg.ts HTTP/1.1\r\n\r\nGET /next.ts HTTP/1.1\r\n\r\n",
    );
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    let mut resp = head.to_vec();
    resp.extend_from_slice(b"0123456789");
    resp.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ");
    let h = head.len();
    assert_eq!(s.feed(S2C, 0, &resp[..h + 3]), h + 3);
    s.gap(S2C, (h + 3) as u64, 4);
    let rest = &resp[h + 7..];
    assert_eq!(s.feed(S2C, (h + 7) as u64, rest), rest.len());
    let msgs: Vec<Message> = s.drain().collect();
    assert!(msgs.contains(&Message::BodyGap {
        id: 0,
        body_offset: 3,
        len: 4
    }));
    let ex: Vec<&Exchange> = msgs
        .iter()
        .filter_map(|m| match m {
            Message::Exchange(e) => Some(&**e),
            _ => None,
        })
        .collect();
    assert!(!ex[0].response.as_ref().unwrap().complete);
    assert!(ex[1].response.as_ref().unwrap().complete);
    assert_eq!(anomaly(&s, "http.gap_in_body"), 1);
}

#[test]
fn gap_in_a_head_gives_the_direction_up_and_reports_waiting_requests() {
    let mut s = Session::new();
    s.feed(C2S, 0, b"GET /a HTTP/1.1\r\n\r\n");
    s.feed(S2C, 0, b"HTTP/1.1 20");
    s.gap(S2C, 11, 100);
    assert_eq!(anomaly(&s, "http.gap_gave_up"), 1);
    let ex = exchanges(&mut s);
    assert_eq!(ex.len(), 1);
    assert!(ex[0].response.is_none());
    // Everything after is swallowed, never mis-decoded.
    assert_eq!(s.feed(S2C, 111, b"HTTP/1.1 200 OK\r\n\r\n"), 19);
    assert!(exchanges(&mut s).is_empty());
}

#[test]
fn absurd_content_length_and_endless_heads_are_counted_not_buffered() {
    let mut s = Session::new();
    s.feed(C2S, 0, b"GET / HTTP/1.1\r\n\r\n");
    s.feed(
        S2C,
        0,
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n",
    );
    assert_eq!(anomaly(&s, "http.absurd_length"), 1);
    let mut s = Session::new();
    let endless = vec![b'a'; http_parser::MAX_HEAD_LEN + 10];
    let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
    req.extend_from_slice(&endless);
    assert_eq!(s.feed(C2S, 0, &req), req.len());
    assert_eq!(anomaly(&s, "http.head_too_long"), 1);
}

#[test]
fn response_cut_by_the_end_of_capture_is_reported_incomplete() {
    let mut s = keep_all();
    s.feed(C2S, 0, b"GET / HTTP/1.1\r\n\r\n");
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    s.feed(S2C, 0, resp);
    s.end(S2C, resp.len() as u64);
    let r = exchanges(&mut s).remove(0).response.unwrap();
    assert!(!r.complete);
    assert_eq!(r.body.as_deref(), Some(&b"abc"[..]));
    assert_eq!(anomaly(&s, "http.response_truncated"), 1);
}

#[test]
fn fuzz_body_survives_seeds_and_pseudo_random_mutations() {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for n in ["tcp0", "tcp2", "tcp3", "tcp4", "tcp5", "rtmpt"] {
        let c = std::fs::read(format!("{dir}/{n}.c2s")).unwrap();
        let s = std::fs::read(format!("{dir}/{n}.s2c")).unwrap();
        seeds.push(http_parser::fuzzing::seed(&c, &s));
    }

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in &seeds {
        http_parser::fuzzing::session(seed);
        for _ in 0..800 {
            let mut m = seed.clone();
            for _ in 0..(next() % 8 + 1) {
                let i = (next() as usize) % m.len();
                match next() % 4 {
                    0 => m[i] = next() as u8,
                    1 => m[i] = b"\r\n: 0123456789abcdefABCDEF;"[(next() % 27) as usize],
                    2 => drop(m.remove(i)),
                    _ => m.insert(i, next() as u8),
                }
            }
            http_parser::fuzzing::session(&m);
        }
    }
}

/// Writes the seed corpus for `cargo fuzz run session` (run explicitly:
/// `cargo test -p http-parser --test session -- --ignored`).
#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = format!("{root}/fuzz/corpus/session");
    std::fs::create_dir_all(&out).unwrap();
    for n in ["tcp0", "tcp1", "tcp2", "tcp3", "tcp4", "tcp5", "rtmpt"] {
        let c = std::fs::read(format!("{root}/tests/data/{n}.c2s")).unwrap();
        let s = std::fs::read(format!("{root}/tests/data/{n}.s2c")).unwrap();
        let mut seed = http_parser::fuzzing::seed(&c, &s);
        seed.truncate(64 * 1024);
        std::fs::write(format!("{out}/{n}"), seed).unwrap();
    }
}
