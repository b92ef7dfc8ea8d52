//! HTTP/2 frame arrival on real traffic: in the `lowlatency` testbed run
//! (captures/lowlatency), `h2viewer` is the low-latency player (`ll_viewer.py
//! --prefetch --http2`, python3-h2 on TLS 1.3 with a key log) fetching each segment
//! while it is made from an nginx front (`http2` on TLS, `proxy_buffering off`) that
//! relays the origin's chunked transfer as DATA frames. Its capture is decrypted
//! with the key log beside it (`h2viewer.keys`); the truth is the player's own log of
//! every DATA frame it received (truth.json `frame_arrivals`, built by make_truth.py
//! from that log and ffprobe's packet positions; and logs/h2viewer.viewer.jsonl
//! itself), never lagtap's output. tests/low_latency.rs checks the same run's
//! HTTP/1.1 viewers, and every viewer's frames together.

#[path = "common/scenario.rs"]
mod scenario;
#[path = "common/tools.rs"]
mod tools;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use lagtap::correlate::broadcast::FrameSample;
use lagtap::correlate::{correlate, CorrelateOptions};
use lagtap::events::Event;
use serde_json::Value;

const MS: i64 = 1_000_000;
const HOST: &str = "h2viewer";

fn file_of(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or(uri)
}

/// The player's `request` records for media (init and segments), in order.
fn logged_media(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("logs/{HOST}.viewer.jsonl"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "request" && r["kind"] != "playlist")
        .collect()
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// h2viewer's flow decrypts with the key log beside its capture and is HTTP/2; each
/// frame it logged is one sample, matched by fingerprint (tests/low_latency.rs
/// checks every one of them against the DATA-frame log: arrival within 5 ms, never
/// after the read, latency by arrival the logs' within 5 ms); by frame arrival its
/// broadcast latency is far below that by segment completion, and both are in the
/// report.
#[test]
fn h2viewer_frames_are_measured_by_arrival_beside_completion() {
    let dir = scenario::dir("lowlatency");
    let t = scenario::truth(&dir);
    let rows: Vec<&Value> = t["frame_arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["viewer"] == HOST)
        .collect();
    assert!(rows.len() > 200, "{} frames", rows.len());
    // Every segment came over HTTP/2 and, but perhaps the last one of the player's
    // run, was relayed while it was made (no content-length).
    assert!(rows.iter().all(|f| f["http"] == "2"));
    let streamed = rows.iter().filter(|f| f["chunked"] == true).count();
    assert!(
        streamed * 10 >= rows.len() * 9,
        "{streamed} of {}",
        rows.len()
    );

    let hosts = scenario::decode(&dir);
    let h2 = hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("h2viewer.pcap");
    let sessions: Vec<_> = h2
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TlsSession(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(sessions.len(), 1, "one connection");
    let s = &sessions[0];
    assert_eq!(
        (s.keys.as_str(), s.alpn.as_deref(), s.inner.as_deref()),
        ("found", Some("h2"), Some("http2"))
    );
    assert_eq!((s.undecrypted, s.bad_mac), ([0, 0], [0, 0]));

    let c = correlate(hosts, &CorrelateOptions::default());
    let b = &c.broadcast;
    assert!(b.unmatched.is_empty(), "{:?}", b.unmatched);
    let samples: Vec<&FrameSample> = b.samples.iter().filter(|s| s.viewer == HOST).collect();
    assert_eq!(samples.len(), rows.len(), "one sample per frame received");
    assert!(samples.iter().all(|s| s.method == "fingerprint"));

    // A streamed segment's frames are in the player's hands about a segment's time
    // (2 s) before it is whole.
    let by_arrival = median(samples.iter().map(|s| s.arrival_latency_ns).collect());
    let by_completion = median(samples.iter().map(|s| s.latency_ns).collect());
    eprintln!(
        "{HOST}: {} frames, median broadcast latency by frame arrival {:.1} ms, by segment \
         completion {:.1} ms",
        samples.len(),
        by_arrival as f64 / 1e6,
        by_completion as f64 / 1e6
    );
    assert!(
        by_arrival + 500 * MS < by_completion,
        "by arrival {by_arrival}, by completion {by_completion}"
    );
    check_segments(&dir, &b.segments);
    check_report(&dir);
}

/// Each segment lagtap saw is one the player logged, whole when the log's last DATA
/// frame arrived (kernel time, within 5 ms), and the DATA frames of a segment made
/// while it was fetched are spread over the segment's 2 s: nginx streams.
fn check_segments(dir: &Path, segments: &[lagtap::correlate::broadcast::SegmentRecord]) {
    let media = logged_media(dir);
    let mut logged: HashMap<&str, &Value> = HashMap::new();
    for r in &media {
        if r["kind"] == "segment" {
            logged.insert(file_of(r["url"].as_str().unwrap()), r);
        }
    }
    let ours: Vec<_> = segments.iter().filter(|s| s.viewer == HOST).collect();
    assert_eq!(ours.len(), logged.len(), "one record per segment logged");
    let mut spread = 0;
    for s in ours {
        let r = &logged[file_of(&s.uri)];
        let reads = r["reads"].as_array().unwrap();
        let last = reads.last().unwrap()[2].as_i64().unwrap();
        assert!(
            (s.complete_ns - last).abs() <= 5 * MS,
            "{}: complete {} vs last DATA frame {last}",
            s.uri,
            s.complete_ns
        );
        assert_eq!(s.bytes, r["bytes"].as_u64().unwrap(), "{}", s.uri);
        let first = reads[0][2].as_i64().unwrap();
        if reads.len() >= 30 && last - first >= 1_500 * MS {
            spread += 1;
        }
    }
    // All but the segment the player joined in the middle of (and its last, cut
    // short by the end of its run).
    assert!(
        spread + 2 >= logged.len() && spread >= 3,
        "{spread} of {}",
        logged.len()
    );
}

/// The report names the HTTP/2 viewer and prints both latencies, side by side.
fn check_report(dir: &Path) {
    let text = tools::output(
        Command::new(env!("CARGO_BIN_EXE_lagtap"))
            .arg("correlate")
            .arg(dir),
    );
    assert!(text.contains(HOST), "no {HOST} in\n{text}");
    for row in ["wire by segment completion", "wire by frame arrival"] {
        assert!(text.contains(row), "no {row:?} row in\n{text}");
    }
}

/// tshark's HTTP/2 dissection of the decrypted capture counts, per segment, as many
/// DATA frames with payload as the player logged reads: the log is one entry per
/// DATA frame.
#[test]
fn tsharks_data_frames_are_the_players_logged_reads() {
    if !tools::require(
        "tshark",
        "HTTP/2 DATA frames of h2viewer.pcap against tshark",
    ) {
        return;
    }
    let dir = scenario::dir("lowlatency");
    let keys = format!(
        "tls.keylog_file:{}",
        dir.join(format!("{HOST}.keys")).display()
    );
    let text = tools::output(
        Command::new("tshark")
            .arg("-r")
            .arg(dir.join(format!("{HOST}.pcap")))
            .args([
                "-o",
                &keys,
                "-Y",
                "http2",
                "-T",
                "fields",
                "-E",
                "occurrence=a",
            ])
            .args([
                "-e",
                "http2.streamid",
                "-e",
                "http2.type",
                "-e",
                "http2.length",
            ])
            .args(["-e", "http2.headers.path"]),
    );
    // stream id → path (from the request's HEADERS), and DATA frames with payload.
    let mut path_of: HashMap<u32, String> = HashMap::new();
    let mut data: HashMap<u32, usize> = HashMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let field = |i: usize| cols.get(i).map_or(Vec::new(), |c| c.split(',').collect());
        let (ids, types, lens, paths) = (field(0), field(1), field(2), field(3));
        let mut paths = paths.into_iter().filter(|p| !p.is_empty());
        for (i, id) in ids.iter().enumerate() {
            let Ok(id) = id.parse::<u32>() else { continue };
            match types.get(i).copied() {
                Some("1") if id % 2 == 1 && !path_of.contains_key(&id) => {
                    if let Some(p) = paths.next() {
                        path_of.insert(id, p.to_string());
                    }
                }
                Some("0") if lens.get(i).is_some_and(|l| *l != "0") => {
                    *data.entry(id).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    let by_path: HashMap<&str, usize> = data
        .iter()
        .filter_map(|(id, n)| Some((file_of(path_of.get(id)?), *n)))
        .collect();
    let media = logged_media(&dir);
    assert!(media.len() > 4, "{} media requests", media.len());
    for r in &media {
        let file = file_of(r["url"].as_str().unwrap());
        let reads = r["reads"].as_array().unwrap().len();
        assert_eq!(by_path.get(file).copied(), Some(reads), "{file}");
    }
}
