//! HTTP/2 through `lagtap decode`: the real h2c capture of parsers/h2-parser (nginx,
//! nghttpd, nghttp and curl on loopback) gives the same requests and statuses as
//! tshark's HTTP/2 dissector, and its playlists and segment become HLS events.

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use common::tools;
use lagtap::events::Event;

fn capture() -> std::path::PathBuf {
    common::repo().join("parsers/h2-parser/tests/data/h2c.pcap")
}

/// (method, path) of every request and every response status, sorted.
type Seen = (Vec<(String, String)>, Vec<u16>);

fn tshark_seen() -> Seen {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(capture())
        .args(["-d", "tcp.port==18082,http2", "-d", "tcp.port==18083,http2"])
        .args(["-Y", "http2.type==1 || http2.type==5", "-T", "fields"])
        .args(["-e", "http2.headers.method", "-e", "http2.headers.path"])
        .args(["-e", "http2.headers.status", "-E", "occurrence=a"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reqs = Vec::new();
    let mut statuses = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let list = |i: usize| -> Vec<&str> {
            f.get(i).map_or(Vec::new(), |s| {
                s.split(',').filter(|x| !x.is_empty()).collect()
            })
        };
        for (m, p) in list(0).into_iter().zip(list(1)) {
            reqs.push((m.to_string(), p.to_string()));
        }
        statuses.extend(list(2).into_iter().map(|s| s.parse::<u16>().unwrap()));
    }
    reqs.sort();
    statuses.sort();
    (reqs, statuses)
}

#[test]
fn h2c_exchanges_equal_tsharks_and_media_becomes_hls_events() {
    let events = lagtap::decode::decode_file(&capture(), "h2c")
        .unwrap()
        .events;
    let seen = scenario::http_seen(&events);
    assert_eq!(seen.0.len(), 17, "{:?}", seen.0);
    if tools::require("tshark", "HTTP/2 requests and statuses against tshark") {
        assert_eq!(seen, tshark_seen());
    }
    let playlists = events
        .iter()
        .filter(|e| matches!(e, Event::HlsPlaylist { .. }))
        .count();
    assert!(playlists >= 8, "{playlists}");
    let frames: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::HlsSegment { frames, bytes, .. } => {
                assert_eq!(*bytes, 199_656);
                Some(frames.len())
            }
            _ => None,
        })
        .collect();
    // The one segment (nginx-test-0.ts): its frames all demuxed from DATA frames
    // interleaved with other streams'.
    assert_eq!(frames.len(), 1);
    // As many as the demuxer finds in the file nginx served.
    let ts = std::fs::read(common::repo().join("parsers/mpegts-parser/tests/data/nginx-test-0.ts"))
        .unwrap();
    let mut d = mpegts_parser::TsDemuxer::new();
    let used = d.feed(0, &ts);
    d.end(used as u64);
    let units = d
        .drain()
        .filter(|m| matches!(m, mpegts_parser::TsMessage::AccessUnit(_)))
        .count();
    assert!(units > 50);
    assert_eq!(frames[0], units);
    let Some(Event::Summary {
        flows_by_protocol,
        undecodable,
        ..
    }) = events.last()
    else {
        panic!("no summary")
    };
    assert_eq!(flows_by_protocol.get("http2"), Some(&6));
    assert!(undecodable.is_empty(), "{undecodable:?}");
}
