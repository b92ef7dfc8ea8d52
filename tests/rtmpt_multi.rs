//! RTMPT, one tunnel spread over several HTTP connections, on a capture made with
//! real software: `captures/rtmpt-multi/` (ffmpeg 5.1 publishing plain RTMP to
//! `captures/testbed/rtmpt_pool_client.py`, which carries the one tunnel over a pool
//! of 3 keep-alive connections, each request on whichever is free, through the
//! testbed's RTMPT gateway to nginx-rtmp; made by `captures/testbed/rtmpt.sh OUT 4
//! 3`, see docs/testbed.md). The truth is ffmpeg's and ffprobe's (`sent.json`: what
//! was sent) and the pool client's request log (`logs/client.jsonl`: which
//! connection carried which request), never lagtap's output.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use lagtap::decode::decode_file;
use lagtap::events::{Event, RtmpDirection};

/// The bundled run, or a fresh one (CI: `rtmpt.sh DIR 4 3`) in
/// `LAGTAP_RTMPT_MULTI_DIR`.
fn capture_dir() -> PathBuf {
    std::env::var_os("LAGTAP_RTMPT_MULTI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("captures/rtmpt-multi"))
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The pool client's requests: (seq, connection's local port, time sent).
fn requests() -> Vec<(u64, u64, u64)> {
    let log = std::fs::read_to_string(capture_dir().join("logs/client.jsonl")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r.get("seq").is_some())
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["local_port"].as_u64().unwrap(),
                r["sent_ns"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The capture is what it claims: one tunnel over several connections, some of
/// its requests sent before a lower-numbered one (the client's own log).
#[test]
fn the_pool_client_spread_the_tunnel_and_reordered_requests() {
    let reqs = requests();
    let ports: BTreeSet<u64> = reqs.iter().map(|r| r.1).collect();
    assert!(ports.len() >= 2, "connections used: {ports:?}");
    let overtaking = reqs
        .iter()
        .filter(|a| reqs.iter().any(|b| b.0 < a.0 && b.2 > a.2))
        .count();
    assert!(
        overtaking > 0,
        "no request went out before a lower-numbered one"
    );
    let mut seqs: Vec<u64> = reqs.iter().map(|r| r.0).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..reqs.len() as u64).collect::<Vec<_>>());
}

/// Every frame and audio message ffmpeg sent is decoded once, with its timestamp,
/// from the tunnel put back together: none lost, none twice, no RTMP anomaly.
#[test]
fn a_tunnel_over_several_connections_decodes_every_frame_once() {
    let dir = capture_dir();
    let truth = json(dir.join("sent.json"));
    let events = decode_file(&dir.join("broadcaster.pcap"), "broadcaster")
        .expect("decodes")
        .events;

    let publishes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpPublish {
                stream_key,
                tunnel,
                tc_url,
                flow,
                ..
            } => Some((stream_key.clone(), tunnel.clone(), tc_url.clone(), *flow)),
            _ => None,
        })
        .collect();
    assert_eq!(publishes.len(), 1, "one publish: {publishes:?}");
    let (key, tunnel, tc_url, publish_flow) = &publishes[0];
    assert_eq!(key.as_str(), truth["stream_key"].as_str().unwrap());
    assert_eq!(tunnel.as_deref(), Some("rtmpt"));
    // ffmpeg connected to the pool client, which tunnels its bytes unchanged.
    assert_eq!(tc_url.as_deref(), Some("rtmp://127.0.0.1:1936/live"));

    let (mut timestamps, mut key_frames, mut audio) = (Vec::new(), 0, 0);
    for e in &events {
        match e {
            Event::RtmpVideo {
                direction,
                config,
                keyframe,
                fingerprint,
                rtmp_ts_ms,
                flow,
                last_byte_ns,
                delivered_ns,
                ..
            } => {
                assert_eq!(*direction, RtmpDirection::ClientToServer);
                // The tunnel's events name the connection of its first request.
                assert_eq!(flow, publish_flow);
                if *config {
                    continue;
                }
                assert!(fingerprint.is_some(), "an H.264 frame has a fingerprint");
                // Not first <= last: a frame spread over two requests on two connections
                // may have its later part captured first.
                assert!(last_byte_ns <= delivered_ns);
                key_frames += usize::from(*keyframe);
                timestamps.push(*rtmp_ts_ms);
            }
            Event::RtmpAudio { direction, .. } => {
                assert_eq!(*direction, RtmpDirection::ClientToServer);
                audio += 1;
            }
            _ => {}
        }
    }
    // Every frame once, in order, with its timestamp: none lost or doubled.
    assert_sent_media(&truth, &timestamps, key_frames, audio);

    let Some(Event::Summary { anomalies, .. }) = events.last() else {
        panic!("no summary");
    };
    let bad: Vec<_> = anomalies
        .iter()
        .filter(|(k, _)| k.starts_with("rtmp.") || k.contains("rtmpt") || k.contains("stuck"))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

/// A frame's first byte is stamped with the capture time of the HTTP packet that
/// carried it, on whichever connection: one of the client's packet times.
#[test]
fn joined_frames_carry_the_times_of_their_own_packets() {
    let file = capture_dir().join("broadcaster.pcap");
    let events = decode_file(&file, "broadcaster").expect("decodes").events;
    let firsts: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpVideo {
                config: false,
                first_byte_ns,
                ..
            } => Some(*first_byte_ns),
            _ => None,
        })
        .collect();
    assert!(!firsts.is_empty());
    if !tshark_available("joined RTMPT frame times against tshark's packet times") {
        return;
    }
    let times: BTreeSet<i64> = tshark_packet_times(&file, "tcp.dstport == 8080 && tcp.len > 0")
        .into_iter()
        .collect();
    for t in firsts {
        assert!(times.contains(&t), "{t} is no client packet's time");
    }
}
