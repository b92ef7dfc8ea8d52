//! AV1 (`av01`) and VP9 (`vp09`) tracks of fragmented MP4 written by ffmpeg 5.1
//! (libaom-av1, libvpx-vp9; see tests/data/README.md): the sample entry names the
//! codec, every sample has the key flag ffprobe gives and a fingerprint, and the
//! file split at every byte or fed in one-byte pieces gives the same samples.
//! That the fingerprints equal those of the same frames in Enhanced RTMP is
//! lagtap's `tests/codec_fingerprints.rs`.

mod common;

use mpegts_parser::{Codec, Fmp4Demuxer, Fmp4Message, Sample};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn demux(bytes: &[u8], cuts: impl IntoIterator<Item = usize>) -> (Vec<Sample>, Option<Codec>) {
    let mut d = Fmp4Demuxer::new();
    let out = common::feed_fmp4(&mut d, bytes, cuts);
    assert!(d.anomalies().is_empty(), "{:?}", d.anomalies());
    let samples = out
        .into_iter()
        .filter_map(|m| match m {
            Fmp4Message::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    (samples, d.tracks().first().and_then(|t| t.codec))
}

fn check(name: &str, codec: Codec) {
    let bytes = data(&format!("{name}-frag.mp4"));
    let (whole, found) = demux(&bytes, []);
    assert_eq!(found, Some(codec), "{name}");
    // ffprobe's `pts,dts,size,flags` of the file's packets.
    let truth = data(&format!("{name}-frag.ffprobe-video-packets.csv"));
    let truth: Vec<(u32, bool)> = String::from_utf8(truth)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].parse().unwrap(), f[3].starts_with('K'))
        })
        .collect();
    let got: Vec<(u32, bool)> = whole.iter().map(|s| (s.size, s.sync)).collect();
    assert_eq!(got, truth, "{name}");
    assert!(whole
        .iter()
        .all(|s| s.fingerprint.is_some() && s.nal_types.is_empty()));
    for cut in 0..=bytes.len() {
        assert_eq!(demux(&bytes, [cut]).0, whole, "{name}: cut at {cut}");
    }
    assert_eq!(
        demux(&bytes, 1..bytes.len()).0,
        whole,
        "{name}: one-byte pieces"
    );
}

#[test]
fn av1_samples_have_fingerprints_whole_split_and_in_pieces() {
    check("av1", Codec::Av1);
}

#[test]
fn vp9_samples_have_fingerprints_whole_split_and_in_pieces() {
    check("vp9", Codec::Vp9);
}
