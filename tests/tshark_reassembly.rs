//! lagtap's TCP reassembly against tshark's, on every bundled capture: the same bytes
//! in every direction of every TCP flow, and the same per-direction payload count as
//! tshark's `tcp.len` summed over segments it does not flag as retransmissions.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::*;
use lagtap::pipeline::run_file;

fn compare_file(path: &Path) {
    let run = run_file(path, StreamCollector::default()).expect("capture opens");
    let tcp: Vec<_> = run.handler.flows.values().filter(|f| f.tcp).collect();
    // tshark numbers TCP streams in order of first packet, as lagtap numbers flows.
    let stream_ids: Vec<usize> = (0..tcp.len()).collect();
    let followed = tshark_follow_all(path, &stream_ids);
    assert_eq!(
        followed.len(),
        tcp.len(),
        "{}: tshark and lagtap see as many TCP streams",
        path.display()
    );
    for (stream, (flow, t)) in tcp.iter().zip(followed).enumerate() {
        let (from_client, from_server) = if t.node0 == flow.client {
            (&t.from_node0, &t.from_node1)
        } else {
            assert_eq!(
                t.node1,
                flow.client,
                "{}: stream {stream} endpoints",
                path.display()
            );
            (&t.from_node1, &t.from_node0)
        };
        for (dir, theirs) in [from_client, from_server].into_iter().enumerate() {
            let ours = &with_gap_markers(&flow.bytes[dir], &flow.gaps[dir]);
            if ours != theirs {
                let first_diff = ours.iter().zip(theirs.iter()).position(|(a, b)| a != b);
                panic!(
                    "{}: tcp stream {stream} ({} -> {}) dir {dir}: lagtap {} bytes, tshark {} bytes, first difference at {:?}, gaps {:?}",
                    path.display(), flow.client, flow.server, ours.len(), theirs.len(), first_diff, flow.gaps[dir]
                );
            }
        }
    }
    // Payload bytes per direction against tcp.len summed over segments tshark does not
    // flag as retransmissions. tshark also flags a segment as a retransmission when it
    // fills a hole whose first copy the capture never saw (a sender-side capture whose
    // packets a tbf qdisc dropped before the tap): those bytes are in the stream once,
    // so such a flagged segment counts for the bytes no earlier segment covered.
    let all = tshark(&[
        "-r",
        path.to_str().unwrap(),
        "-Y",
        "tcp.len > 0",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "tcp.stream",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.seq",
        "-e",
        "tcp.len",
    ]);
    let flagged: HashSet<u64> = tshark(&[
        "-r",
        path.to_str().unwrap(),
        "-Y",
        "tcp.len > 0 && tcp.analysis.retransmission",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ])
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect();
    let mut sums: HashMap<(usize, String), u64> = HashMap::new();
    let mut seen: HashMap<(usize, String), Vec<(u64, u64)>> = HashMap::new();
    for line in all.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let src = if c[2].is_empty() {
            format!("[{}]", c[3])
        } else {
            c[2].to_string()
        };
        let key = (c[1].parse().unwrap(), format!("{src}:{}", c[4]));
        let (seq, len): (u64, u64) = (c[5].parse().unwrap(), c[6].parse().unwrap());
        let ranges = seen.entry(key.clone()).or_default();
        let counted = if flagged.contains(&c[0].parse().unwrap()) {
            uncovered(ranges, seq, seq + len)
        } else {
            len
        };
        *sums.entry(key).or_default() += counted;
        ranges.push((seq, seq + len));
    }
    for (stream, flow) in tcp.iter().enumerate() {
        let c2s = sums
            .get(&(stream, flow.client.clone()))
            .copied()
            .unwrap_or(0);
        let s2c = sums
            .get(&(stream, flow.server.clone()))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            flow.stats[0].bytes,
            c2s,
            "{}: stream {stream} client->server payload bytes",
            path.display()
        );
        assert_eq!(
            flow.stats[1].bytes,
            s2c,
            "{}: stream {stream} server->client payload bytes",
            path.display()
        );
    }
}

/// Bytes of [lo, hi) that none of `ranges` covers.
fn uncovered(ranges: &[(u64, u64)], lo: u64, hi: u64) -> u64 {
    let mut overlaps: Vec<(u64, u64)> = ranges
        .iter()
        .filter(|(a, b)| *a < hi && *b > lo)
        .map(|(a, b)| ((*a).max(lo), (*b).min(hi)))
        .collect();
    overlaps.sort();
    let mut covered = 0;
    let mut cursor = lo;
    for (a, b) in overlaps {
        let a = a.max(cursor);
        if b > a {
            covered += b - a;
            cursor = b;
        }
    }
    (hi - lo) - covered
}

/// tshark's follow output stands a text marker (with its C string's NUL) where the
/// capture missed bytes; lagtap reports a gap event instead. Put the marker where our
/// gaps are so the two can be compared byte for byte.
fn with_gap_markers(bytes: &[u8], gaps: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut taken = 0usize;
    let mut skipped = 0u64;
    for &(offset, len) in gaps {
        let upto = (offset - skipped) as usize;
        out.extend_from_slice(&bytes[taken..upto]);
        out.extend_from_slice(format!("[{len} bytes missing in capture file]\0").as_bytes());
        taken = upto;
        skipped += len;
    }
    out.extend_from_slice(&bytes[taken..]);
    out
}

#[test]
fn reassembled_streams_equal_tsharks_on_every_bundled_capture() {
    if !tshark_available("reassembled streams against tshark's on every bundled capture") {
        return;
    }
    let files = bundled_captures();
    let extra = std::env::var("LAGTAP_EXTRA_CAPTURES").ok();
    let mut all: Vec<std::path::PathBuf> = files;
    if let Some(x) = extra {
        all.extend(x.split(':').map(Into::into));
    }
    assert!(!all.is_empty(), "captures/ holds no capture");
    for f in &all {
        compare_file(f);
    }
}
