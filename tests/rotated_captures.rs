//! A host's capture split into rotated files is one timeline: decoding the pieces
//! gives exactly the events of the unsplit file (issue 15, "A host is a timeline").
//!
//! Every bundled capture is split by editcap, the tool Wireshark ships for it, by
//! packet count (`-c`) and by time (`-i`), into files named the way editcap and
//! dumpcap's ring buffer name them (`NAME_00000_YYYYMMDDHHMMSS.pcap`). lagtap must
//! find the host in those names, put the files in time order and carry every flow
//! across the boundaries; the unsplit file is the reference.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools;
use lagtap::capture::timeline;
use lagtap::decode::keys::read_keylogs;
use lagtap::events::Event;
use tls_decrypt::KeyLog;

/// The key log beside a bundled capture (tls only), as `--keylog` would give it, so
/// the pieces (in a directory of their own) get the same secrets as the whole.
fn keys_of(capture: &Path) -> KeyLog {
    let beside = lagtap::decode::keys::beside(capture);
    read_keylogs(&beside).expect("key log beside the capture reads")
}

/// Every event of one host's files, as `lagtap decode` writes them, without the
/// `capture` line (which names the files).
fn decode(files: &[PathBuf], host: &str, keys: &KeyLog) -> Vec<String> {
    let mut lines = Vec::new();
    lagtap::decode::decode_timeline_with(files, host, keys, |e| {
        if !matches!(e, Event::Capture { .. }) {
            lines.push(serde_json::to_string(e).expect("event serialises"));
        }
        Ok(())
    })
    .expect("capture opens")
    .expect("collecting cannot fail");
    lines
}

/// Splits `capture` with editcap into a fresh directory; returns the pieces as the
/// directory lists them (name order).
fn split(capture: &Path, how: &[&str], dir: &Path) -> Vec<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let name = capture.file_name().unwrap().to_str().unwrap();
    let out = dir.join(name);
    let status = Command::new("editcap")
        .args(how)
        .arg(capture)
        .arg(&out)
        .status()
        .expect("editcap runs");
    assert!(status.success(), "editcap {how:?} {}", capture.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lagtap-rotated-{}-{tag}", std::process::id()))
}

/// The bundled captures worth splitting: every host capture (the `dsb/` copies
/// hold the same packets as their plain siblings).
fn captures() -> Vec<PathBuf> {
    common::bundled_captures()
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "dsb"))
        .collect()
}

#[test]
fn split_captures_decode_as_the_whole() {
    if !tools::require("editcap", "split-file equality on the bundled captures") {
        return;
    }
    let caps = captures();
    assert!(caps.len() >= 10, "bundled captures: {caps:?}");
    for (n, capture) in caps.iter().enumerate() {
        let host = lagtap::decode::host_name(capture);
        let keys = keys_of(capture);
        let whole = decode(std::slice::from_ref(capture), &host, &keys);
        // By packets (about six pieces) and by time (five-second pieces: every
        // capture here has flows alive across those boundaries).
        let packets = whole_packets(capture);
        let per_file = (packets / 6).max(1).to_string();
        for how in [vec!["-c", per_file.as_str()], vec!["-i", "5"]] {
            let dir = scratch(&format!("{n}"));
            let mut pieces = split(capture, &how, &dir);
            if pieces.len() < 2 && how[0] == "-i" {
                // A capture of under five seconds (rtmpt-multi): one-second pieces.
                pieces = split(capture, &["-i", "1"], &dir);
            }
            assert!(
                pieces.len() >= 2,
                "{how:?} made one file of {}",
                capture.display()
            );
            // Given in a shuffled order, found in time order, named after the host.
            pieces.reverse();
            let (named, ordered) = timeline::one_host(&pieces, None).expect("one host");
            assert_eq!(named, host, "host named from editcap's rotation naming");
            pieces.reverse();
            assert_eq!(ordered, pieces, "time order is editcap's numbering");
            let rejoined = decode(&ordered, &host, &keys);
            if rejoined != whole {
                let first = whole
                    .iter()
                    .zip(&rejoined)
                    .position(|(a, b)| a != b)
                    .unwrap_or(whole.len().min(rejoined.len()));
                panic!(
                    "{} split by editcap {how:?} into {} files: {} events against {} \
                     unsplit; first difference at event {first}:\n  whole: {:?}\n  split: {:?}",
                    capture.display(),
                    ordered.len(),
                    rejoined.len(),
                    whole.len(),
                    whole.get(first),
                    rejoined.get(first)
                );
            }
            std::fs::remove_dir_all(&dir).ok();
        }
    }
}

/// Packets in a capture, from lagtap's own summary of the unsplit file.
fn whole_packets(capture: &Path) -> u64 {
    let mut packets = 0;
    lagtap::decode::decode_stream(capture, "x", |e| {
        if let Event::Summary { packets: p, .. } = e {
            packets = *p;
        }
        Ok(())
    })
    .unwrap()
    .unwrap();
    packets
}

/// Events of each kind, for saying what independent decoding of the pieces loses.
fn kinds(lines: &[String]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let kind = v["kind"].as_str().unwrap_or("?").to_string();
        *out.entry(kind).or_insert(0) += 1;
    }
    out
}

#[test]
fn fifty_rotated_files_keep_their_flows() {
    if !tools::require("editcap", "a host of 50 rotated files") {
        return;
    }
    // The uplink broadcaster: one long RTMP publish at up to 4 Mb/s, cut into 50.
    let capture = common::repo().join("captures/uplink/broadcaster.pcap");
    let packets = whole_packets(&capture);
    let per_file = packets.div_ceil(50).to_string();
    let dir = scratch("fifty");
    let pieces = split(&capture, &["-c", &per_file], &dir);
    assert_eq!(
        pieces.len(),
        50,
        "editcap -c {per_file} of {packets} packets"
    );
    let keys = KeyLog::default();
    let whole = decode(std::slice::from_ref(&capture), "broadcaster", &keys);
    let rejoined = decode(&pieces, "broadcaster", &keys);
    assert_eq!(rejoined.len(), whole.len(), "events, 50 files against one");
    assert!(
        rejoined == whole,
        "the 50-file timeline differs from the unsplit capture"
    );
    // The same pieces decoded one by one, each a host of its own, as lagtap did before
    // timelines: flows restart at every boundary and the publish is seen once at most,
    // so frames are lost. What the timeline keeps is real.
    let mut alone = Vec::new();
    for p in &pieces {
        alone.extend(decode(std::slice::from_ref(p), "broadcaster", &keys));
    }
    let (whole_kinds, alone_kinds) = (kinds(&whole), kinds(&alone));
    let frames =
        |k: &std::collections::BTreeMap<String, usize>| k.get("rtmp_video").copied().unwrap_or(0);
    assert!(frames(&whole_kinds) > 500, "{whole_kinds:?}");
    assert!(
        frames(&alone_kinds) < frames(&whole_kinds),
        "pieces decoded alone kept every frame: {alone_kinds:?} vs {whole_kinds:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn correlate_groups_rotated_files_into_hosts() {
    if !tools::require("editcap", "correlate over rotated files") {
        return;
    }
    // Every host of the basic scenario split by time into one directory: correlate
    // must find three hosts of several files each, and report what it reports on the
    // unsplit captures.
    let src = common::repo().join("captures/basic");
    let dir = scratch("basic");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut originals = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        if common::is_capture(&p) {
            originals.push(p.clone());
            let name = p.file_name().unwrap();
            let status = Command::new("editcap")
                .args(["-i", "10"])
                .arg(&p)
                .arg(dir.join(name))
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    originals.sort();
    let collected = lagtap::correlate::input::collect(std::slice::from_ref(&dir), &[]).unwrap();
    let hosts: Vec<&str> = collected.inputs.iter().map(|i| i.host.as_str()).collect();
    let mut expected: Vec<String> = originals
        .iter()
        .map(|p| lagtap::decode::host_name(p))
        .collect();
    expected.sort();
    let mut got: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    got.sort();
    assert_eq!(got, expected, "hosts found among the rotated files");
    for input in &collected.inputs {
        assert!(input.files.len() >= 3, "{}: {:?}", input.host, input.files);
    }
    assert_eq!(
        collected.notes.len(),
        collected.inputs.len(),
        "{:?}",
        collected.notes
    );
    let report = |inputs| {
        let events = lagtap::correlate::input::decode_all(inputs).unwrap();
        let c = lagtap::correlate::correlate(events, &Default::default());
        let mut v = lagtap::report::json::to_value(&c);
        // The inputs' names are what differs.
        for h in v["hosts"].as_array_mut().unwrap() {
            h.as_object_mut().unwrap().remove("file");
            h.as_object_mut().unwrap().remove("files");
        }
        v
    };
    let split_report = report(&collected.inputs);
    let whole_inputs = lagtap::correlate::input::collect(&[src], &[])
        .unwrap()
        .inputs;
    let whole_report = report(&whole_inputs);
    assert_eq!(split_report, whole_report, "correlate over rotated files");
    std::fs::remove_dir_all(&dir).ok();
}
