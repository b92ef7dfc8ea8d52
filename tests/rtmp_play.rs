//! RTMP play: frames a client receives are events marked `server_to_client`, and
//! counted as tshark counts them on a real CDN playback; correlate's broadcast
//! sources stay the published frames. Also: a publish whose connection ends before
//! any metadata or media is still reported.

mod common;

use std::path::PathBuf;

use common::write::{frame, ipv4_tcp, pcap, Frame};
use common::*;
use lagtap::decode::decode_file;
use lagtap::events::{Event, RtmpDirection};

/// The public capture of a CDN playback: `pcap/data/1.pcap` of the GitHub
/// repository mengdj/python (the issue calls it `rtmp_play_cdn.pcap`). That
/// repository has no licence, so the capture is not committed here; get it with
/// `git clone https://github.com/mengdj/python` and point `LAGTAP_RTMP_PLAY_CDN` at
/// the file (docs/testing.md).
fn play_capture(check: &str) -> Option<PathBuf> {
    match std::env::var_os("LAGTAP_RTMP_PLAY_CDN") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            tools::skip(
                check,
                "set LAGTAP_RTMP_PLAY_CDN to pcap/data/1.pcap of github.com/mengdj/python",
            );
            None
        }
    }
}

#[test]
fn cdn_playback_frames_equal_tsharks() {
    let Some(file) = play_capture("RTMP play counts on the public CDN capture") else {
        return;
    };
    let events = decode_file(&file, "viewer").expect("decodes").events;
    let (mut frames, mut key, mut config, mut audio, mut published) = (0, 0, 0, 0, 0);
    for e in &events {
        match e {
            Event::RtmpVideo {
                direction: RtmpDirection::ServerToClient,
                config: c,
                keyframe,
                codec,
                fingerprint,
                ..
            } => {
                assert_eq!(codec.as_deref(), Some("avc1"));
                if *c {
                    config += 1;
                } else {
                    frames += 1;
                    key += usize::from(*keyframe);
                    assert!(
                        fingerprint.is_some(),
                        "a played H.264 frame has a fingerprint"
                    );
                }
            }
            Event::RtmpAudio {
                direction: RtmpDirection::ServerToClient,
                ..
            } => audio += 1,
            Event::RtmpVideo { .. } | Event::RtmpAudio { .. } | Event::RtmpPublish { .. } => {
                published += 1
            }
            _ => {}
        }
    }
    // The figures, which tshark 4.0.17 gives too.
    assert_eq!((frames, key, audio), (264, 11, 483));
    assert_eq!(config, 1, "one AVC sequence header");
    assert_eq!(published, 0, "a player publishes nothing");
    if tshark_available("RTMP play counts against tshark") {
        assert_eq!((frames, key, audio), tshark_rtmp_media_counts(&file));
    }
}

#[test]
fn played_frames_are_no_broadcast_source() {
    let Some(file) = play_capture("played frames are no broadcast source") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("lagtap-rtmp-play-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let viewer = dir.join("viewer.pcap");
    std::fs::copy(&file, &viewer).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(["correlate", "--json"])
        .arg(&viewer)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["hosts"][0]["roles"],
        serde_json::json!(["viewer"]),
        "a host that only plays is a viewer, no broadcaster"
    );
    assert_eq!(
        report["source_health"]["streams"],
        serde_json::json!([]),
        "played frames are no source"
    );
    // Each of tshark's 264 played frames is a reception, none matched: the CDN's
    // broadcaster is not among the captures.
    assert_eq!(
        report["rtmp_play"]["unmatched"],
        serde_json::json!({"stream_not_captured": 264})
    );
    assert_eq!(report["rtmp_play"]["summary"]["count"], 0);
}

/// A publish (RTMP 1.0 7.2.2.6) on a connection that closes right after it: the
/// handshake (5.2), `connect` and `publish` as AMF0 commands on chunk stream 3, then
/// FIN both ways; no `@setDataFrame`, no media.
#[test]
fn publish_on_a_connection_that_ends_at_once_is_reported() {
    let amf_str = |s: &str| {
        let mut v = vec![0x02];
        v.extend((s.len() as u16).to_be_bytes());
        v.extend(s.as_bytes());
        v
    };
    let amf_num = |n: f64| {
        let mut v = vec![0x00];
        v.extend(n.to_be_bytes());
        v
    };
    let command = |body: Vec<u8>, msid: u32| {
        assert!(body.len() <= 128, "one chunk");
        let mut v = vec![0x03, 0, 0, 0];
        v.extend(&(body.len() as u32).to_be_bytes()[1..]);
        v.push(20);
        v.extend(msid.to_le_bytes());
        v.extend(body);
        v
    };
    let mut connect = amf_str("connect");
    connect.extend(amf_num(1.0));
    connect.extend([0x03, 0, 3]);
    connect.extend(b"app");
    connect.extend(amf_str("live"));
    connect.extend([0, 0, 0x09]);
    let mut publish = amf_str("publish");
    publish.extend(amf_num(5.0));
    publish.push(0x05);
    publish.extend(amf_str("rejected-key"));
    publish.extend(amf_str("live"));
    let mut c2s = vec![3u8];
    c2s.resize(1 + 1536, 0);
    let c2 = vec![0u8; 1536];
    let mut s2c = vec![3u8];
    s2c.resize(1 + 2 * 1536, 0);
    let mut rest = c2;
    rest.extend(command(connect, 0));
    rest.extend(command(publish, 1));

    let (c, s) = (([10, 0, 0, 2], 50000), ([10, 0, 0, 1], 1935));
    let mut t = 1_800_000_000_000_000_000i64;
    let mut frames = Vec::new();
    let mut push = |ip: Vec<u8>| {
        t += 1_000_000;
        frames.push(Frame {
            ts_ns: t,
            link_type: 1,
            data: frame(1, &ip),
        });
    };
    push(ipv4_tcp(c, s, 1000, "S", &[]));
    push(ipv4_tcp(s, c, 5000, "SA", &[]));
    push(ipv4_tcp(c, s, 1001, "A", &c2s));
    push(ipv4_tcp(s, c, 5001, "A", &s2c));
    push(ipv4_tcp(c, s, 1001 + c2s.len() as u32, "A", &rest));
    let c_end = 1001 + (c2s.len() + rest.len()) as u32;
    push(ipv4_tcp(c, s, c_end, "FA", &[]));
    push(ipv4_tcp(s, c, 5001 + s2c.len() as u32, "FA", &[]));
    let publish_ns = t - 2_000_000;

    let dir = std::env::temp_dir().join(format!("lagtap-rtmp-pub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broadcaster.pcap");
    std::fs::write(&path, pcap(&frames, false, true, 65535)).unwrap();
    let events = decode_file(&path, "broadcaster").expect("decodes").events;
    std::fs::remove_dir_all(&dir).unwrap();
    let publishes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::RtmpPublish {
                app,
                stream_key,
                time_ns,
                metadata,
                ..
            } => Some((app.clone(), stream_key.clone(), *time_ns, metadata.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        publishes,
        vec![(Some("live".into()), "rejected-key".into(), publish_ns, 0)]
    );
}
