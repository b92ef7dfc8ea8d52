//! The exchanges decoded from the real capture equal Wireshark's HTTP/2 dissection:
//! per TCP connection and HTTP/2 stream, the request's method, path, authority and
//! regular fields, the request trailers and body length, the response's status,
//! fields and trailers, and its body length (DATA payload bytes without padding). tshark decodes HPACK
//! on its own, so the comparison covers every header block of both directions,
//! dynamic table references included.
//!
//! The capture goes through `tshark -T pdml` (one XML element per HTTP/2 frame, so
//! fields stay with their frame). Without tshark the comparison is skipped with a
//! `SKIP` line on stderr; with `CI` set it fails instead (docs/testing.md).

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Command;

use common::*;
use h2_parser::Session;

/// What one HTTP/2 stream carried, as tshark or as the session tells it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stream {
    method: String,
    path: String,
    authority: String,
    request_fields: Vec<(String, String)>,
    request_trailers: Vec<(String, String)>,
    request_body: u64,
    status: u16,
    response_fields: Vec<(String, String)>,
    response_trailers: Vec<(String, String)>,
    response_body: u64,
}

type Streams = BTreeMap<(usize, u32), Stream>;

fn skip_without_tshark() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("tshark").is_file()));
    if found {
        return false;
    }
    let why = "needs tshark, which is not on PATH (Debian package tshark)";
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    let allowed = std::env::var("LAGTAP_TEST_ALLOW_MISSING").is_ok_and(|v| v == "1");
    assert!(!ci || allowed, "HTTP/2 exchanges against tshark's: {why}");
    // The line tests/common/tools.rs writes: `SKIP <package>/<binary>::<test>: ...`,
    // on the stderr handle itself (past the harness's capture).
    let test = std::thread::current().name().unwrap_or("main").to_string();
    let line = format!("SKIP h2-parser/tshark::{test}: HTTP/2 exchanges against tshark's: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    true
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Adds a decoded header block to `stream`: pseudo-fields to their places, the
/// regular ones as fields or (a second block of that side) as trailers.
fn add_block(stream: &mut Stream, from_client: bool, fields: Vec<(String, String)>) {
    let regular: Vec<_> = fields
        .iter()
        .filter(|(n, _)| !n.starts_with(':'))
        .cloned()
        .collect();
    let pseudo = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if from_client {
        if stream.method.is_empty() {
            stream.method = pseudo(":method").unwrap_or_default();
            stream.path = pseudo(":path").unwrap_or_default();
            stream.authority = pseudo(":authority").unwrap_or_default();
            stream.request_fields = regular;
        } else {
            stream.request_trailers = regular;
        }
    } else if stream.status == 0 {
        stream.status = pseudo(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
        stream.response_fields = regular;
    } else {
        stream.response_trailers = regular;
    }
}

fn tshark_streams() -> Streams {
    let out = Command::new("tshark")
        .args([
            "-r",
            PCAP,
            "-d",
            "tcp.port==18082,http2",
            "-d",
            "tcp.port==18083,http2",
        ])
        .args(["-Y", "http2", "-T", "pdml"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("PDML");
    let mut streams = Streams::new();
    let named = |n: roxmltree::Node, name: &str| n.attribute("name") == Some(name);
    for packet in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("packet"))
    {
        let field = |name: &str| {
            packet
                .descendants()
                .find(|n| named(*n, name))
                .and_then(|n| n.attribute("show"))
                .unwrap()
                .to_string()
        };
        let conn: usize = field("tcp.stream").parse().unwrap();
        let from_client = PORTS.contains(&field("tcp.dstport").parse().unwrap());
        for frame in packet.descendants().filter(|n| named(*n, "http2.stream")) {
            let show = |name: &str| {
                frame
                    .descendants()
                    .find(|n| named(*n, name))
                    .and_then(|n| n.attribute("show"))
                    .map(str::to_string)
            };
            let Some(id) = show("http2.streamid").map(|s| s.parse::<u32>().unwrap()) else {
                continue;
            };
            let kind: u8 = show("http2.type").unwrap().parse().unwrap();
            let mut fields = Vec::new();
            let mut name = None;
            for n in frame.descendants() {
                let hex = n.attribute("value").unwrap_or_default();
                if named(n, "http2.header.name") {
                    name = Some(unhex(hex));
                } else if named(n, "http2.header.value") {
                    fields.push((name.take().unwrap(), unhex(hex)));
                }
            }
            match kind {
                0 => {
                    // The DATA payload without padding, from the frame's length
                    // (tshark's data field holds gzip bodies decompressed).
                    let len: u64 = show("http2.length").unwrap().parse().unwrap();
                    // The pad length field (hex), only in a PADDED frame.
                    let pad = show("http2.padding").map_or(0, |p| {
                        1 + u64::from_str_radix(p.trim_start_matches("0x"), 16).unwrap()
                    });
                    let data = len - pad;
                    let s = streams.entry((conn, id)).or_default();
                    *if from_client {
                        &mut s.request_body
                    } else {
                        &mut s.response_body
                    } += data;
                }
                1 if !fields.is_empty() => {
                    add_block(streams.entry((conn, id)).or_default(), from_client, fields)
                }
                // tshark lists the fields a CONTINUATION completes under it.
                9 => {
                    let s = streams.entry((conn, id)).or_default();
                    let (main, trailers) = match from_client {
                        true => (&mut s.request_fields, &mut s.request_trailers),
                        false => (&mut s.response_fields, &mut s.response_trailers),
                    };
                    let block = if trailers.is_empty() { main } else { trailers };
                    block.extend(fields.into_iter().filter(|(n, _)| !n.starts_with(':')));
                }
                5 => {
                    let promised = show("http2.push_promise.promised_stream_id").unwrap();
                    let s = streams
                        .entry((conn, promised.parse().unwrap()))
                        .or_default();
                    add_block(s, true, fields);
                }
                _ => {}
            }
        }
    }
    streams
}

fn our_streams() -> Streams {
    let mut streams = Streams::new();
    for (conn, c) in connections().iter().enumerate() {
        let (messages, session) = run_in_capture_order(c, Session::new());
        assert!(
            session.anomalies().is_empty(),
            "conn {conn}: {:?}",
            session.anomalies()
        );
        for e in exchanges(&messages) {
            let mut s = Stream::default();
            if let Some(r) = &e.request {
                s.method = r.method.clone();
                s.path = r.path.clone();
                s.authority = r.authority.clone().unwrap_or_default();
                s.request_fields = r.headers.clone();
                s.request_trailers = r.trailers.clone();
                s.request_body = r.body_len;
            }
            if let Some(r) = &e.response {
                s.status = r.status;
                s.response_fields = r.headers.clone();
                s.response_trailers = r.trailers.clone();
                s.response_body = r.body_len;
            }
            streams.insert((conn, e.stream_id), s);
        }
    }
    streams
}

#[test]
fn every_stream_equals_tsharks_dissection() {
    if skip_without_tshark() {
        return;
    }
    let theirs = tshark_streams();
    let ours = our_streams();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same streams"
    );
    for (key, want) in &theirs {
        assert_eq!(&ours[key], want, "tcp.stream {} stream {}", key.0, key.1);
    }
    assert_eq!(ours.len(), 17);
    let segment = &ours[&(1, 13)];
    assert_eq!((segment.status, segment.response_body), (200, 199_656));
}
