//! The fMP4 demuxer on an ffmpeg HLS fMP4 segment (see tests/data/README.md).

use mpegts_parser::{Codec, Fmp4Demuxer, Fmp4Message, Sample, TrackConfig, TsDemuxer, TsMessage};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

mod common;

use common::feed_fmp4 as feed;

fn samples(messages: &[Fmp4Message]) -> Vec<&Sample> {
    messages
        .iter()
        .filter_map(|m| match m {
            Fmp4Message::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Init segment on one demuxer, then the fragment on a fresh one given its
/// tracks, as the flow layer does with separate HTTP bodies.
fn demux_segment(cuts: impl IntoIterator<Item = usize>) -> Vec<Fmp4Message> {
    let mut init = Fmp4Demuxer::new();
    let tracks = feed(&mut init, &data("init.mp4"), []);
    assert!(init.anomalies().is_empty(), "{:?}", init.anomalies());
    assert_eq!(tracks.len(), 1);
    let mut d = Fmp4Demuxer::with_tracks(init.tracks().to_vec());
    let out = feed(&mut d, &data("seg0.m4s"), cuts);
    assert!(d.anomalies().is_empty(), "{:?}", d.anomalies());
    out
}

#[test]
fn init_segment_gives_an_h264_track_with_4_byte_nal_lengths() {
    let mut d = Fmp4Demuxer::new();
    let msgs = feed(&mut d, &data("init.mp4"), []);
    let Fmp4Message::Track(t) = &msgs[0] else {
        panic!()
    };
    assert_eq!(
        (t.track_id, t.codec, t.length_size, t.timescale),
        (1, Some(Codec::H264), 4, 15360)
    );
    assert_eq!(&t.handler, b"vide");
}

#[test]
fn samples_equal_ffprobe_packets_in_timing_size_and_keyframe() {
    let msgs = demux_segment([]);
    let s = samples(&msgs);
    // ffprobe prints pts,dts,size,flags with the edit list applied, so compare
    // decode times relative to the first sample, and pts - dts.
    let recorded: Vec<Vec<i64>> = std::fs::read_to_string(format!(
        "{}/tests/data/seg0.ffprobe-video-packets.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        vec![
            f[1].parse::<i64>().unwrap(),
            f[0].parse().unwrap(),
            f[2].parse().unwrap(),
            (f[3] == "K_") as i64,
        ]
    })
    .collect();
    let dts0 = recorded[0][0];
    let want: Vec<(i64, i64, i64, bool)> = recorded
        .iter()
        .map(|r| (r[0] - dts0, r[1] - r[0], r[2], r[3] == 1))
        .collect();
    let got: Vec<(i64, i64, i64, bool)> = s
        .iter()
        .map(|x| {
            (
                x.decode_time as i64 - s[0].decode_time as i64,
                x.composition_offset,
                i64::from(x.size),
                x.sync,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(s
        .iter()
        .all(|x| x.fingerprint.is_some() && !x.damaged && x.timescale == Some(15360)));
    assert!(s[0].nal_types.contains(&5));
}

#[test]
fn fmp4_samples_and_their_mpegts_remux_have_the_same_fingerprints() {
    // seg0-remux.ts is `ffmpeg -c copy -f mpegts` of init.mp4 + seg0.m4s: the same
    // coded pictures in Annex-B framing, as after a FLV → TS repackaging.
    let fmp4: Vec<_> = samples(&demux_segment([]))
        .iter()
        .map(|s| s.fingerprint)
        .collect();
    let mut ts = TsDemuxer::new();
    ts.feed(0, &data("seg0-remux.ts"));
    ts.end(0);
    let from_ts: Vec<_> = ts
        .drain()
        .filter_map(|m| match m {
            TsMessage::AccessUnit(a) => Some(a.fingerprint),
            _ => None,
        })
        .collect();
    assert_eq!(fmp4.len(), 30);
    assert_eq!(fmp4, from_ts);
}

#[test]
fn fragment_split_at_every_byte_or_in_one_byte_pieces_gives_the_same_samples() {
    let whole = demux_segment([]);
    let len = data("seg0.m4s").len();
    for cut in 0..=len {
        assert_eq!(demux_segment([cut]), whole, "cut at {cut}");
    }
    assert_eq!(demux_segment(1..len), whole);
}

#[test]
fn init_and_fragment_in_one_stream_work_like_separate_bodies() {
    let mut both = data("init.mp4");
    let init_len = both.len() as u64;
    both.extend_from_slice(&data("seg0.m4s"));
    let mut d = Fmp4Demuxer::new();
    let one: Vec<Sample> = samples(&feed(&mut d, &both, []))
        .into_iter()
        .map(|s| Sample {
            start: s.start - init_len,
            end: s.end - init_len,
            ..s.clone()
        })
        .collect();
    let separate: Vec<Sample> = samples(&demux_segment([])).into_iter().cloned().collect();
    assert_eq!(one, separate);
}

#[test]
fn fragment_without_its_init_segment_works_with_a_given_track() {
    let mut d = Fmp4Demuxer::with_tracks(vec![TrackConfig::h264(1, 15360)]);
    let got = feed(&mut d, &data("seg0.m4s"), []);
    let fps: Vec<_> = samples(&got).iter().map(|s| s.fingerprint).collect();
    let want: Vec<_> = samples(&demux_segment([]))
        .iter()
        .map(|s| s.fingerprint)
        .collect();
    assert_eq!(fps, want);
}
