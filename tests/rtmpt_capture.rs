//! RTMPT, RTMP tunnelled over HTTP, on a capture made with real software:
//! `captures/rtmpt/` (ffmpeg 5.1 publishing over `rtmpt://` through the testbed's
//! RTMPT gateway to nginx-rtmp, on a namespace's loopback, captured by tcpdump; made
//! by `captures/testbed/rtmpt.sh`, see docs/testbed.md). The publish and its frames
//! come out as for plain RTMP, marked `tunnel: "rtmpt"`; the counts are tshark's
//! (its RTMPT dissector reads the same HTTP bodies), the stream key and what was
//! sent are ffmpeg's and ffprobe's (`sent.json`).

mod common;

use std::path::PathBuf;

use common::*;
use lagtap::decode::decode_file;
use lagtap::events::{Event, RtmpDirection};

fn capture_dir() -> PathBuf {
    repo().join("captures/rtmpt")
}

#[test]
fn rtmpt_publish_decodes_like_rtmp_and_counts_like_tshark() {
    let dir = capture_dir();
    let file = dir.join("broadcaster.pcap");
    let sent = std::fs::read_to_string(dir.join("sent.json")).unwrap();
    let truth: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let events = decode_file(&file, "broadcaster").expect("decodes").events;

    let publishes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpPublish {
                stream_key,
                tunnel,
                tc_url,
                time_ns,
                metadata,
                ..
            } => Some((stream_key, tunnel, tc_url, *time_ns, metadata)),
            _ => None,
        })
        .collect();
    assert_eq!(publishes.len(), 1, "one publish");
    let (key, tunnel, tc_url, publish_ns, metadata) = &publishes[0];
    assert_eq!(key.as_str(), truth["stream_key"].as_str().unwrap());
    assert_eq!(tunnel.as_deref(), Some("rtmpt"));
    // ffmpeg's own connect names the tunnel too.
    assert_eq!(tc_url.as_deref(), Some("rtmpt://127.0.0.1:8080/live"));
    assert!(metadata.contains_key("videocodecid"), "onMetaData read");

    let (mut frames, mut key_frames, mut audio, mut last_ns) = (0, 0, 0, *publish_ns);
    let mut timestamps = Vec::new();
    for e in &events {
        match e {
            Event::RtmpVideo {
                direction,
                config,
                keyframe,
                fingerprint,
                rtmp_ts_ms,
                first_byte_ns,
                last_byte_ns,
                delivered_ns,
                ..
            } => {
                assert_eq!(*direction, RtmpDirection::ClientToServer);
                if *config {
                    continue;
                }
                frames += 1;
                key_frames += usize::from(*keyframe);
                assert!(fingerprint.is_some(), "an H.264 frame has a fingerprint");
                // Times of the HTTP body bytes that carried the frame, in order.
                assert!(last_ns <= *first_byte_ns, "frames in wire order");
                assert!(first_byte_ns <= last_byte_ns && last_byte_ns <= delivered_ns);
                last_ns = *first_byte_ns;
                timestamps.push(*rtmp_ts_ms);
            }
            Event::RtmpAudio { direction, .. } => {
                assert_eq!(*direction, RtmpDirection::ClientToServer);
                audio += 1;
            }
            _ => {}
        }
    }
    // What ffmpeg encoded (its -progress) and ffprobe counts in what it sent: every
    // frame on the wire, at 25 fps; audio also has the AAC sequence header.
    assert_sent_media(&truth, &timestamps, key_frames, audio);
    if tshark_available("RTMPT frame and audio counts against tshark's") {
        // tshark counts the AAC sequence header among audio messages, as lagtap.
        assert_eq!((frames, key_frames, audio), tshark_rtmp_media_counts(&file));
    }
}

/// A tunnelled frame is stamped with the capture time of the HTTP packet that
/// carried its first byte, not the time of the request or its body's end.
#[test]
fn rtmpt_frames_carry_the_times_of_the_http_packets() {
    let file = capture_dir().join("broadcaster.pcap");
    let events = decode_file(&file, "broadcaster").expect("decodes").events;
    // The first coded frame's first byte is in the body of a /send request: its
    // time is one of the capture's packet times on the client → server side.
    let first = events
        .iter()
        .find_map(|e| match e {
            Event::RtmpVideo {
                config: false,
                first_byte_ns,
                ..
            } => Some(*first_byte_ns),
            _ => None,
        })
        .unwrap();
    if !tshark_available("RTMPT frame times against tshark's packet times") {
        return;
    }
    let times = tshark_packet_times(&file, "tcp.dstport == 8080 && tcp.len > 0");
    assert!(times.contains(&first), "{first} is no client packet's time");
}
