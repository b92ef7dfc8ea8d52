//! The demuxer on a real nginx-rtmp HLS segment (see tests/data/README.md).

use std::process::Command;

use mpegts_parser::{AccessUnit, StreamType, TsDemuxer, TsMessage};

const SEGMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/nginx-test-0.ts");
const FFPROBE_CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/nginx-test-0.ffprobe-video-packets.csv"
);

fn segment() -> Vec<u8> {
    std::fs::read(SEGMENT).unwrap()
}

mod common;
#[path = "../../../tests/common/tools.rs"]
mod tools;

/// Demuxes `bytes` cut at `cuts`.
fn demux(bytes: &[u8], cuts: impl IntoIterator<Item = usize>) -> (Vec<TsMessage>, TsDemuxer) {
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let end = common::feed_pieces(bytes, cuts, |offset, tail| {
        let n = d.feed(offset, tail);
        out.extend(d.drain());
        n
    });
    d.end(end);
    out.extend(d.drain());
    (out, d)
}

fn access_units(messages: &[TsMessage]) -> Vec<&AccessUnit> {
    messages
        .iter()
        .filter_map(|m| match m {
            TsMessage::AccessUnit(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// (pts, dts, keyframe, size) as ffprobe's CSV prints them: `pts,dts,size,flags`.
fn ours(aus: &[&AccessUnit]) -> Vec<String> {
    aus.iter()
        .map(|a| {
            format!(
                "{},{},{},{}",
                a.pts.unwrap().raw,
                a.dts.unwrap().raw,
                a.size,
                if a.keyframe { "K_" } else { "__" }
            )
        })
        .collect()
}

#[test]
fn video_access_units_equal_ffprobe_packets_in_pts_dts_size_and_keyframe() {
    let (messages, d) = demux(&segment(), []);
    assert!(d.anomalies().is_empty(), "{:?}", d.anomalies());
    let aus = access_units(&messages);
    let recorded: Vec<String> = std::fs::read_to_string(FFPROBE_CSV)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ours(&aus), recorded);
    // 4 s at 30 fps, a keyframe every 2 s (-g 60), each with a fingerprint.
    assert_eq!(aus.len(), 120);
    assert_eq!(aus.iter().filter(|a| a.keyframe).count(), 2);
    assert!(aus.iter().all(|a| a.fingerprint.is_some() && !a.damaged));
    assert!(aus[0].random_access && aus[0].nal_types.contains(&5));
    assert_eq!(aus[0].pts.unwrap().relative, 0);
    assert_eq!(aus[0].dts.unwrap().relative, 63000 - 69030);
    let mut prints: Vec<_> = aus.iter().map(|a| a.fingerprint).collect();
    prints.sort();
    prints.dedup();
    assert_eq!(prints.len(), 120, "every picture of testsrc2 differs");
}

#[test]
fn recorded_ffprobe_output_is_what_ffprobe_prints_today() {
    if !tools::require(
        "ffprobe",
        "the recorded ffprobe output against ffprobe run now",
    ) {
        return;
    }
    let out = tools::output(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v", "-show_entries"])
            .args(["packet=pts,dts,flags,size", "-of", "csv=p=0", SEGMENT]),
    );
    let live: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .collect();
    let recorded = std::fs::read_to_string(FFPROBE_CSV).unwrap();
    assert_eq!(live, recorded.lines().collect::<Vec<_>>());
}

#[test]
fn pmt_lists_h264_and_adts_aac_and_audio_pes_are_reported() {
    let (messages, _) = demux(&segment(), []);
    let TsMessage::Pmt(pmt) = &messages[0] else {
        panic!("{:?}", messages[0])
    };
    let types: Vec<(u16, StreamType)> =
        pmt.streams.iter().map(|s| (s.pid, s.stream_type)).collect();
    assert_eq!(
        types,
        [(0x100, StreamType::H264), (0x101, StreamType::ADTS_AAC)]
    );
    assert_eq!(pmt.pcr_pid, 0x100);
    let audio = messages
        .iter()
        .filter(|m| matches!(m, TsMessage::Pes(p) if p.pid == 0x101 && p.pts.is_some()))
        .count();
    assert!(audio > 0);
    assert!(messages.iter().any(|m| matches!(m, TsMessage::Pcr { .. })));
}

#[test]
fn segment_split_anywhere_gives_the_same_messages() {
    let seg = segment();
    let (whole, _) = demux(&seg, []);
    // Every split in the first four packets, then every 1009th byte.
    for cut in (0..4 * 188).chain((4 * 188..seg.len()).step_by(1009)) {
        assert_eq!(demux(&seg, [cut]).0, whole, "cut at {cut}");
    }
    assert_eq!(demux(&seg, 1..seg.len()).0, whole, "one-byte pieces");
    assert_eq!(
        demux(&seg, (0..seg.len()).step_by(1000)).0,
        whole,
        "1000-byte pieces"
    );
}

#[test]
fn garbage_in_the_middle_is_skipped_by_resync_and_counted() {
    let seg = segment();
    let mut dirty = seg[..188 * 500].to_vec();
    dirty.extend_from_slice(&[0x47, 0x00, 0x13, 0x47, 0xff]); // fake sync bytes too
    dirty.extend_from_slice(&seg[188 * 500..]);
    let (messages, d) = demux(&dirty, []);
    assert_eq!(access_units(&messages).len(), 120);
    let anomalies = d.anomalies();
    assert!(anomalies.contains(&("ts.sync_lost", 1)), "{anomalies:?}");
    assert!(
        anomalies.contains(&("ts.garbage_bytes", 5)),
        "{anomalies:?}"
    );
}

#[test]
fn gap_marks_the_frame_in_progress_damaged_and_the_rest_decodes() {
    let seg = segment();
    let (whole, _) = demux(&seg, []);
    let lost = 188 * 300 + 17..188 * 302 + 40;
    let mut d = TsDemuxer::new();
    let mut out = Vec::new();
    let n = d.feed(0, &seg[..lost.start]);
    out.extend(d.drain());
    d.gap(n as u64, (lost.end - n) as u64);
    let n2 = d.feed(lost.end as u64, &seg[lost.end..]);
    assert!(n2 > 0);
    d.end(seg.len() as u64);
    out.extend(d.drain());
    let aus = access_units(&out);
    let damaged = aus.iter().filter(|a| a.damaged).count();
    assert!((1..=2).contains(&damaged), "{damaged}");
    assert!((118..=120).contains(&aus.len()));
    // Frames after the gap have the same fingerprints as without it.
    let tail = |v: &[&AccessUnit]| {
        v[v.len() - 50..]
            .iter()
            .map(|a| a.fingerprint)
            .collect::<Vec<_>>()
    };
    assert_eq!(tail(&aus), tail(&access_units(&whole)));
}
