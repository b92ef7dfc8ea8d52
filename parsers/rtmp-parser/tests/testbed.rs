//! The testbed's sample captures (`captures/<scenario>/broadcaster*.pcap`, made by
//! `captures/testbed/testbed.sh`) against their ground truth: every video frame the
//! broadcaster handed to ffmpeg's RTMP publisher (`truth.json` `frames[]`) is decoded
//! from the wire with the same FLV timestamp, keyframe flag and size, in order.
//!
//! The RTMP byte streams are taken out of the pcap with tshark (`follow,tcp,raw`)
//! until lagtap's flow layer is wired to this crate; the test is skipped with a `SKIP`
//! line where the captures or tshark are missing (outside CI; in CI that fails).

#[path = "../../../tests/common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use rtmp_parser::{Direction, Event, Payload, Session, VideoPacket};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../captures")
}

const CHECK: &str = "testbed broadcaster frames against truth.json";

fn tshark(args: &[&str]) -> String {
    tools::output(Command::new("tshark").args(args))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Client→server bytes of every TCP connection to port 1935 in `pcap`.
fn rtmp_client_streams(pcap: &Path) -> Vec<Vec<u8>> {
    let pcap = pcap.to_str().unwrap();
    let ids = tshark(&[
        "-r",
        pcap,
        "-Y",
        "tcp.port==1935",
        "-T",
        "fields",
        "-e",
        "tcp.stream",
    ]);
    let mut ids: Vec<u32> = ids.lines().filter_map(|l| l.trim().parse().ok()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut streams = Vec::new();
    for id in ids {
        let out = tshark(&["-r", pcap, "-q", "-z", &format!("follow,tcp,raw,{id}")]);
        let mut c2s = Vec::new();
        let mut started = false;
        for line in out.lines() {
            if line.starts_with("Node 1:") {
                started = true;
            } else if started && !line.starts_with('=') && !line.starts_with('\t') {
                // Node 0 (the side that sent the SYN, the client) is not indented.
                c2s.extend(unhex(line.trim()));
            }
        }
        streams.push(c2s);
    }
    streams
}

/// (FLV timestamp, keyframe, FLV tag size) of a coded frame.
type Frame = (u64, bool, u64);

/// The coded frames the client sent, and the decoder's anomalies.
fn wire_frames(stream: &[u8]) -> (Vec<Frame>, Vec<(&'static str, u64)>) {
    let mut s = Session::new();
    let used = s.feed(Direction::ClientToServer, 0, stream);
    s.end(Direction::ClientToServer, used as u64);
    let frames = s
        .drain()
        .filter_map(|e| match e {
            Event::Message(m) => match &m.payload {
                Payload::Video(v) if v.packet == VideoPacket::CodedFrames => Some((
                    u64::from(m.timestamp?),
                    v.frame_type == rtmp_parser::FrameType::KEY,
                    // FLV tag = 11-byte header + body + 4-byte back-pointer.
                    u64::from(m.length) + 15,
                )),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (frames, s.anomalies().to_vec())
}

#[test]
fn testbed_broadcaster_frames_are_decoded_as_the_truth_lists_them() {
    if !tools::require("tshark", CHECK) {
        return;
    }
    let mut checked = 0;
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(captures())
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    scenarios.sort();
    for dir in scenarios {
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(truth) = std::fs::read(dir.join("truth.json")) else {
            continue;
        };
        let truth: serde_json::Value = serde_json::from_slice(&truth).unwrap();
        if !truth["tls"].is_null() {
            // An encrypted run (RTMPS): its frames are lagtap's to decrypt and are
            // checked in lagtap's tests/tls_scenario.rs, not the plain parser's.
            continue;
        }
        let mut hosts: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                let host = name.strip_suffix(".pcap")?;
                host.starts_with("broadcaster").then(|| host.to_string())
            })
            .collect();
        hosts.sort();
        for host in hosts {
            let what = format!("{scenario}/{host}");
            let streams = rtmp_client_streams(&dir.join(format!("{host}.pcap")));
            let expected: Vec<Frame> = truth["frames"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["host"] == host.as_str())
                .map(|f| {
                    (
                        f["flv_ts_ms"].as_u64().unwrap(),
                        f["key"].as_bool().unwrap(),
                        f["bytes"].as_u64().unwrap(),
                    )
                })
                .collect();
            let mut got = Vec::new();
            for stream in &streams {
                let (frames, anomalies) = wire_frames(stream);
                assert_eq!(anomalies, vec![], "{what}");
                got.extend(frames);
            }
            // Several publish connections (one per bitrate) log into one frames list;
            // compare as multisets, and in order when there is one connection.
            let (mut e, mut g) = (expected.clone(), got.clone());
            e.sort_unstable();
            g.sort_unstable();
            assert_eq!(g.len(), e.len(), "{what}: frame count");
            assert_eq!(g, e, "{what}");
            if streams.len() == 1 {
                assert_eq!(got, expected, "{what}: order");
            }
            checked += 1;
        }
    }
    if checked == 0 {
        tools::missing(CHECK, "no captures/*/broadcaster*.pcap with a truth.json");
    }
    eprintln!("{checked} testbed broadcaster captures checked");
}
