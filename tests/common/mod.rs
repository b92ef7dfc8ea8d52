//! Helpers shared by the integration tests: running tshark as the reference peer,
//! collecting lagtap's reassembled streams, finding the bundled captures.
#![allow(dead_code)] // each test binary uses a different subset

pub mod tools;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lagtap::flow::{Chunk, Dir, FlowHandler, FlowMeta};
use lagtap::time::Timestamp;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory for the files one test binary writes, `TAG` under cargo's
/// `target/tmp` (`CARGO_TARGET_TMPDIR`), made empty at the binary's first call: a
/// test run leaves nothing in the system's /tmp, and the next run of the binary
/// starts from a clean directory instead of adding one per process. Not for files
/// another user must read (tcpdump after it drops root): those stay in /tmp.
pub fn scratch(tag: &str) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(tag);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.iter().any(|t| t == tag) {
        let _ = std::fs::remove_dir_all(&dir);
        made.push(tag.to_string());
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The events `lagtap decode` gives for a pcap of `frames` (nanosecond, Ethernet)
/// as host `host`; the file is written to a scratch directory and removed.
pub fn decode_frames(frames: &[write::Frame], host: &str) -> Vec<lagtap::events::Event> {
    let dir = std::env::temp_dir().join(format!("lagtap-{host}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{host}.pcap"));
    std::fs::write(&path, write::pcap(frames, false, true, 65535)).unwrap();
    let events = lagtap::decode::decode_file(&path, host)
        .expect("decodes")
        .events;
    std::fs::remove_dir_all(&dir).unwrap();
    events
}

/// Runs the lagtap binary under test; fails the test unless it succeeds, with its
/// standard error; returns its standard output.
pub fn lagtap(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lagtap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every capture file under `captures/` and under the extra scenario directories of
/// `LAGTAP_SCENARIO_DIRS` (colon-separated; CI points it at a fresh testbed run),
/// sorted.
pub fn bundled_captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&repo().join("captures"), &mut out);
    for dir in extra_scenario_dirs() {
        walk(&dir, &mut out);
    }
    out.sort();
    out
}

fn extra_scenario_dirs() -> Vec<PathBuf> {
    std::env::var("LAGTAP_SCENARIO_DIRS")
        .map(|v| {
            v.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Scenario runs with ground truth: `captures/*/` holding a `truth.json`, plus the
/// directories of `LAGTAP_SCENARIO_DIRS`.
pub fn scenario_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("captures"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("truth.json").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.extend(extra_scenario_dirs());
    assert!(
        !dirs.is_empty(),
        "no scenario with a truth.json under captures/"
    );
    dirs
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if is_capture(&p) {
            out.push(p);
        }
    }
}

pub fn is_capture(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// tshark is the reference dissector: whether it is on PATH, else `check` is
/// reported skipped (a failure in CI; see `tools`).
pub fn tshark_available(check: &str) -> bool {
    tools::require("tshark", check)
}

pub fn tshark(args: &[&str]) -> String {
    tools::output(Command::new("tshark").args(args))
}

/// The capture times (ns since the epoch) of the packets tshark's display `filter`
/// keeps, in file order.
pub fn tshark_packet_times(file: &Path, filter: &str) -> Vec<i64> {
    let out = tshark(&[
        "-r",
        file.to_str().unwrap(),
        "-Y",
        filter,
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
    ]);
    out.lines()
        .map(|l| {
            let (s, frac) = l.trim().split_once('.').unwrap();
            let frac = format!("{frac:0<9}");
            s.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
        })
        .collect()
}

/// tshark's count of the capture's media messages: (coded video frames, of which
/// key frames, audio messages). A video message whose data (after the FLV frame
/// type/codec byte tshark decodes as `rtmpt.video.type`) starts with AVCPacketType
/// 1 is a coded frame (0 is the sequence header).
pub fn tshark_rtmp_media_counts(file: &std::path::Path) -> (usize, usize, usize) {
    let out = tshark(&[
        "-r",
        file.to_str().unwrap(),
        "-Y",
        "rtmpt",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator= ",
        "-e",
        "rtmpt.video.type",
        "-e",
        "rtmpt.video.data",
        "-e",
        "rtmpt.audio.format",
    ]);
    let (mut frames, mut key, mut audio) = (0, 0, 0);
    for line in out.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let types = f[0].split_whitespace();
        let data = f.get(1).map_or("", |d| *d).split_whitespace();
        for (t, d) in types.zip(data) {
            if d.starts_with("01") {
                frames += 1;
                key += usize::from(t == "1");
            }
        }
        audio += f.get(2).map_or(0, |a| a.split_whitespace().count());
    }
    (frames, key, audio)
}

/// One TCP stream as tshark's "Follow TCP stream" (raw) shows it.
#[derive(Debug, Default)]
pub struct Followed {
    pub stream: usize,
    /// "ip:port" of node 0 (the side that sent first) and node 1.
    pub node0: String,
    pub node1: String,
    pub from_node0: Vec<u8>,
    pub from_node1: Vec<u8>,
}

pub fn tshark_follow(file: &Path, stream: usize) -> Followed {
    tshark_follow_all(file, &[stream])
        .pop()
        .expect("one stream")
}

/// Several streams in one tshark run (one `-z follow` per stream), in the order given.
pub fn tshark_follow_all(file: &Path, streams: &[usize]) -> Vec<Followed> {
    let mut args: Vec<String> = vec!["-r".into(), file.to_str().unwrap().into(), "-q".into()];
    for s in streams {
        args.push("-z".into());
        args.push(format!("follow,tcp,raw,{s}"));
    }
    let argv: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    let text = tshark(&argv);
    let mut out: Vec<Followed> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Follow:") {
            out.push(Followed::default());
            continue;
        }
        let Some(f) = out.last_mut() else { continue };
        if let Some(n) = line.strip_prefix("Node 0: ") {
            f.node0 = n.trim().to_string();
        } else if let Some(n) = line.strip_prefix("Node 1: ") {
            f.node1 = n.trim().to_string();
        } else if let Some(n) = line.strip_prefix("Filter: tcp.stream eq ") {
            f.stream = n.trim().parse().expect("stream number");
        } else if line.starts_with('=') || line.is_empty() {
            continue;
        } else if let Some(hex) = line.strip_prefix('\t') {
            f.from_node1.extend(unhex(hex));
        } else {
            f.from_node0.extend(unhex(line));
        }
    }
    // tshark prints the taps in reverse order of registration: order by stream.
    out.sort_by_key(|f| f.stream);
    out
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Collects each flow's reassembled bytes per direction (tests only: unbounded).
#[derive(Default)]
pub struct StreamCollector {
    pub flows: BTreeMap<u64, CollectedFlow>,
}

#[derive(Default, Debug, Clone)]
pub struct CollectedFlow {
    pub client: String,
    pub server: String,
    pub tcp: bool,
    pub bytes: [Vec<u8>; 2],
    pub gaps: [Vec<(u64, u64)>; 2],
    pub first_seen: [Vec<(u64, Timestamp)>; 2],
    pub delivered: [Vec<(u64, Timestamp)>; 2],
    pub ended: [bool; 2],
    pub stats: [lagtap::flow::HalfStats; 2],
}

impl FlowHandler for StreamCollector {
    type State = CollectedFlow;
    fn open(&mut self, meta: &FlowMeta) -> CollectedFlow {
        CollectedFlow {
            client: meta.client.to_string(),
            server: meta.server.to_string(),
            tcp: meta.transport == lagtap::flow::TransportKind::Tcp,
            ..Default::default()
        }
    }
    fn data(&mut self, st: &mut CollectedFlow, _m: &FlowMeta, dir: Dir, c: Chunk<'_>) {
        let d = dir.index();
        let expected = st.bytes[d].len() as u64 + st.gaps[d].iter().map(|g| g.1).sum::<u64>();
        assert_eq!(c.offset, expected, "chunks arrive in stream order");
        st.bytes[d].extend_from_slice(c.data);
        st.first_seen[d].push((c.offset, c.first_seen));
        st.delivered[d].push((c.offset, c.delivered));
    }
    fn gap(&mut self, st: &mut CollectedFlow, _m: &FlowMeta, dir: Dir, offset: u64, len: u64) {
        st.gaps[dir.index()].push((offset, len));
    }
    fn end(&mut self, st: &mut CollectedFlow, _m: &FlowMeta, dir: Dir, _offset: u64) {
        st.ended[dir.index()] = true;
    }
    fn datagram(
        &mut self,
        st: &mut CollectedFlow,
        _m: &FlowMeta,
        dir: Dir,
        _ts: Timestamp,
        p: &[u8],
    ) {
        st.bytes[dir.index()].extend_from_slice(p);
    }
    fn close(&mut self, mut st: CollectedFlow, meta: &FlowMeta) {
        st.stats = meta.stats;
        self.flows.insert(meta.id, st);
    }
}

/// What an RTMP publish decoded from `captures/rtmpt*` must hold against what ffmpeg
/// and ffprobe say was sent (`sent.json`): every coded frame once and in order,
/// 40 ms apart (25 fps), the key frames, and the audio messages (lagtap counts the
/// AAC sequence header among them, ffprobe does not).
pub fn assert_sent_media(
    truth: &serde_json::Value,
    timestamps: &[u32],
    key_frames: usize,
    audio: usize,
) {
    let encoded = truth["ffmpeg_progress_frames"].as_u64().unwrap();
    assert_eq!(truth["ffprobe_video_packets"].as_u64(), Some(encoded));
    let expected: Vec<u32> = (0..encoded as u32).map(|k| k * 40).collect();
    assert_eq!(timestamps, expected.as_slice());
    assert_eq!(
        Some(key_frames as u64),
        truth["ffprobe_key_packets"].as_u64()
    );
    assert_eq!(
        Some(audio as u64 - 1),
        truth["ffprobe_audio_packets"].as_u64()
    );
}
