//! `lagtap decode` on the bundled testbed captures, checked against what the real
//! programs logged (truth.json) and against the broadcaster's own frames.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::*;
use lagtap::decode::{decode_file, host_name};
use lagtap::events::{Event, Fingerprint};

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

fn decode(path: &Path) -> Vec<Event> {
    decode_file(path, &host_name(path)).expect("decodes").events
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_capture(p))
        .collect();
    v.sort();
    v
}

/// `decode`'s hand-written JSON (src/events/jsonl.rs) says exactly what serde says for
/// every event of every capture, and reads back as the same event.
#[test]
fn decode_output_is_what_serde_writes_for_every_event() {
    let mut kinds = HashSet::new();
    for path in bundled_captures() {
        for e in decode(&path) {
            let mut line = Vec::new();
            lagtap::events::jsonl::write_line(&e, &mut line).unwrap();
            let mut want = serde_json::to_vec(&e).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(&want),
                "{}",
                path.display()
            );
            let back: Event = serde_json::from_slice(&line).unwrap();
            assert_eq!(back, e);
            kinds.insert(serde_json::to_value(&e).unwrap()["kind"].to_string());
        }
    }
    for kind in ["rtmp_video", "rtmp_audio", "hls_segment"] {
        assert!(
            kinds.contains(&format!("\"{kind}\"")),
            "no {kind} event seen"
        );
    }
}

#[test]
fn every_bundled_capture_decodes_with_no_undecodable_flow_of_a_known_protocol() {
    for path in bundled_captures() {
        let events = decode(&path);
        assert!(matches!(events.first(), Some(Event::Capture { .. })));
        let Some(Event::Summary {
            undecodable,
            flows_by_protocol,
            events: n,
            ..
        }) = events.last()
        else {
            panic!("{}: no summary", path.display());
        };
        assert!(
            undecodable.is_empty(),
            "{}: undecodable flows {undecodable:?}",
            path.display()
        );
        assert!(*n > 0, "{}: no events", path.display());
        assert!(
            !flows_by_protocol.contains_key("unknown"),
            "{}: {flows_by_protocol:?}",
            path.display()
        );
    }
}

#[test]
fn every_frame_served_in_hls_was_pushed_over_rtmp_and_none_pushed_in_between_is_missing() {
    for dir in scenario_dirs() {
        let server = captures_in(&dir)
            .into_iter()
            .find(|p| host_name(p) == "server");
        let Some(server) = server else { continue };
        let events = decode(&server);
        // Pushed frames by stream key: fingerprint -> RTMP timestamp.
        let mut pushed: HashMap<String, Vec<(u32, Fingerprint)>> = HashMap::new();
        let mut served: HashMap<String, HashSet<Fingerprint>> = HashMap::new();
        for e in &events {
            match e {
                Event::RtmpVideo {
                    stream_key: Some(k),
                    fingerprint: Some(f),
                    config: false,
                    rtmp_ts_ms,
                    ..
                } => pushed
                    .entry(k.to_string())
                    .or_default()
                    .push((*rtmp_ts_ms, *f)),
                Event::HlsSegment {
                    channel: Some(c),
                    frames,
                    ..
                } => served
                    .entry(c.clone())
                    .or_default()
                    .extend(frames.iter().filter_map(|f| f.fingerprint)),
                _ => {}
            }
        }
        assert!(
            !served.is_empty(),
            "{}: the server served no segment",
            dir.display()
        );
        for (chan, fps) in &served {
            let sent = pushed
                .get(chan)
                .unwrap_or_else(|| panic!("{}: channel {chan} was never pushed", dir.display()));
            let by_fp: HashMap<Fingerprint, u32> = sent.iter().map(|(t, f)| (*f, *t)).collect();
            let missing: Vec<&Fingerprint> =
                fps.iter().filter(|f| !by_fp.contains_key(f)).collect();
            assert!(
                missing.is_empty(),
                "{}: {} served frames of {chan} were never pushed",
                dir.display(),
                missing.len()
            );
            // Every frame pushed within the served span was served.
            let ts: Vec<u32> = fps.iter().map(|f| by_fp[f]).collect();
            let (lo, hi) = (*ts.iter().min().unwrap(), *ts.iter().max().unwrap());
            let gaps: Vec<u32> = sent
                .iter()
                .filter(|(t, f)| *t >= lo && *t <= hi && !fps.contains(f))
                .map(|(t, _)| *t)
                .collect();
            assert!(
                gaps.is_empty(),
                "{}: frames of {chan} pushed at {gaps:?} ms are in no served segment",
                dir.display()
            );
        }
    }
}

#[test]
fn viewers_segments_and_chat_lines_agree_with_the_clients_logs() {
    for dir in scenario_dirs() {
        let t = truth(&dir);
        let offsets: HashMap<String, i64> = t["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["name"].as_str().unwrap().to_string(),
                    (h["clock_offset_s"].as_f64().unwrap_or(0.0) * 1e9).round() as i64,
                )
            })
            .collect();
        for path in captures_in(&dir) {
            let host = host_name(&path);
            let shift = offsets.get(&host).copied().unwrap_or(0);
            let events = decode(&path);
            // Segments this viewer completed, per the player's log.
            let logged: Vec<&serde_json::Value> = t["segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["viewer"] == host.as_str() && s["status"] == 200)
                .collect();
            let decoded: HashMap<String, i64> = events
                .iter()
                .filter_map(|e| match e {
                    Event::HlsSegment {
                        uri, complete_ns, ..
                    } => Some((uri.clone(), *complete_ns)),
                    _ => None,
                })
                .collect();
            for s in &logged {
                let uri = s["uri"].as_str().unwrap();
                // The request target: the logged URL without scheme and authority.
                let path_part = uri
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or(uri);
                let got = decoded.get(path_part).unwrap_or_else(|| {
                    panic!("{}: {host} segment {uri} not decoded", dir.display())
                });
                let done = s["done_ns"].as_i64().unwrap();
                let diff_ms = (got - shift - done) as f64 / 1e6;
                // The player logs after it read the last byte: the capture sees it
                // first, and a loaded 2-core machine may delay the log by milliseconds.
                assert!(
                    (-20.0..=1.0).contains(&diff_ms),
                    "{}: {host} {uri}: capture {got} vs log {done} ({diff_ms:.3} ms)",
                    dir.display()
                );
            }
            // Chat lines this host sent, by text.
            let sent: HashSet<String> = events
                .iter()
                .filter_map(|e| match e {
                    Event::ChatSent { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect();
            for m in t["chat"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["sender"] == host.as_str())
            {
                let text = m["text"].as_str().unwrap();
                assert!(
                    sent.contains(text),
                    "{}: {host} sent {text:?} but decode did not see it",
                    dir.display()
                );
            }
        }
    }
}
