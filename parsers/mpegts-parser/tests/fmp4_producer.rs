//! `prft` (producer reference time, ISO/IEC 14496-12 §8.16.5) and `emsg` (DASH
//! event message, ISO/IEC 23009-1 §5.10.3.3) through the fMP4 demuxer: real bytes
//! from ffmpeg's dash muxer for `prft` (tests/data/README.md), bytes built from the
//! specification for `emsg` (no Debian tool writes one), each input also fed split
//! at every byte.

use mpegts_parser::{EventMessage, Fmp4Demuxer, Fmp4Message, ProducerTime, TrackConfig};

mod common;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Demuxes `bytes` on a fresh demuxer (with `tracks`), cut at `cuts`.
fn demux(bytes: &[u8], tracks: &[TrackConfig], cuts: &[usize]) -> Vec<Fmp4Message> {
    let mut d = Fmp4Demuxer::with_tracks(tracks.to_vec());
    let mut out = Vec::new();
    let end = common::feed_pieces(bytes, cuts.iter().copied(), |offset, tail| {
        let n = d.feed(offset, tail);
        out.extend(d.drain());
        n
    });
    d.end(end);
    out.extend(d.drain());
    assert!(d.anomalies().is_empty(), "{:?}", d.anomalies());
    out
}

fn prfts(m: &[Fmp4Message]) -> Vec<&ProducerTime> {
    m.iter()
        .filter_map(|m| match m {
            Fmp4Message::ProducerTime(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn emsgs(m: &[Fmp4Message]) -> Vec<&EventMessage> {
    m.iter()
        .filter_map(|m| match m {
            Fmp4Message::EventMessage(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The init segment's tracks, as the HTTP layer carries them to the next body.
fn tracks() -> Vec<TrackConfig> {
    let mut d = Fmp4Demuxer::new();
    d.feed(0, &data("lldash-init.m4s"));
    d.tracks().to_vec()
}

#[test]
fn ffmpegs_prft_boxes_are_the_packagers_wall_clock() {
    let seg = data("lldash-1.m4s");
    let whole = demux(&seg, &tracks(), &[]);
    let p = prfts(&whole);
    let samples = whole
        .iter()
        .filter(|m| matches!(m, Fmp4Message::Sample(_)))
        .count();
    // One prft before each fragment's moof, a fragment per frame (ffprobe: 6).
    assert_eq!((p.len(), samples), (6, 6));
    // Box offsets as a hex dump of the file shows them: styp is 24 bytes, each
    // fragment prft (32) + moof (108) + mdat.
    assert_eq!(p[0].offset, 24);
    assert_eq!(p[1].offset, 2023);
    for b in &p {
        assert_eq!((b.version, b.flags, b.reference_track_id), (1, 0x18, 1));
    }
    // The first: NTP 0xeebaab68.2e978d4f, media time 0.
    assert_eq!(p[0].ntp_timestamp, 0xeeba_ab68_2e97_8d4f);
    assert_eq!(p[0].media_time, 0);
    assert_eq!(p[1].media_time, 0x800);
    // 0xeebaab68 s after 1900 = 1796222184 s after 1970: 2026-12-02T14:36:24Z, the
    // minute the fixture was made; the fraction 0x2e978d4f / 2^32 = 0.181999999 s.
    assert_eq!(p[0].unix_ns(), Some(1_796_222_184_181_999_999));
    let times: Vec<i64> = p.iter().map(|b| b.unix_ns().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(times[5] - times[0] < 1_000_000_000, "{times:?}");

    // Split at every byte: the same messages, the same offsets.
    for cut in 1..seg.len() {
        assert_eq!(demux(&seg, &tracks(), &[cut]), whole, "cut at {cut}");
    }
}

/// A box: size, type, body.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// `emsg` version 0 (ISO/IEC 23009-1 §5.10.3.3): FullBox(version 0, flags 0),
/// scheme_id_uri and value as null-terminated strings, then timescale,
/// presentation_time_delta, event_duration, id (32 bits each), message_data.
fn emsg_v0() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 0];
    b.extend_from_slice(b"urn:scte:scte35:2013:bin\0");
    b.extend_from_slice(b"1\0");
    for v in [90_000u32, 4_500, 2_700_000, 42] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&[0xfc, 0x30, 0x11]);
    boxed(b"emsg", &b)
}

/// `emsg` version 1 (§5.10.3.3): FullBox(version 1, flags 0), timescale (32),
/// presentation_time (64), event_duration (32), id (32), then the two strings and
/// message_data.
fn emsg_v1() -> Vec<u8> {
    let mut b = vec![1, 0, 0, 0];
    b.extend_from_slice(&1000u32.to_be_bytes());
    b.extend_from_slice(&0x1_0000_0002u64.to_be_bytes());
    b.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
    b.extend_from_slice(&7u32.to_be_bytes());
    b.extend_from_slice(b"https://aomedia.org/emsg/ID3\0\0");
    b.extend_from_slice(b"ID3\x04\x00");
    boxed(b"emsg", &b)
}

/// `prft` version 0 (ISO/IEC 14496-12 §8.16.5): FullBox(version 0, flags 1: the
/// time the frame left the encoder), reference_track_ID (32), ntp_timestamp (64),
/// media_time (32).
fn prft_v0() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 1];
    b.extend_from_slice(&2u32.to_be_bytes());
    b.extend_from_slice(&(((2_208_988_800u64 + 1) << 32) | 0x4000_0000).to_be_bytes());
    b.extend_from_slice(&90_000u32.to_be_bytes());
    boxed(b"prft", &b)
}

#[test]
fn emsg_v0_v1_and_prft_v0_built_from_the_specifications() {
    let mut bytes = emsg_v0();
    let v1_at = bytes.len() as u64;
    bytes.extend_from_slice(&emsg_v1());
    let prft_at = bytes.len() as u64;
    bytes.extend_from_slice(&prft_v0());
    let whole = demux(&bytes, &[], &[]);
    let e = emsgs(&whole);
    assert_eq!(e.len(), 2);
    assert_eq!(
        *e[0],
        EventMessage {
            offset: 0,
            version: 0,
            scheme_id_uri: "urn:scte:scte35:2013:bin".into(),
            value: "1".into(),
            timescale: 90_000,
            presentation_time: 4_500,
            event_duration: 2_700_000,
            id: 42,
            message_data: vec![0xfc, 0x30, 0x11],
            data_len: 3,
        }
    );
    assert_eq!(
        *e[1],
        EventMessage {
            offset: v1_at,
            version: 1,
            scheme_id_uri: "https://aomedia.org/emsg/ID3".into(),
            value: String::new(),
            timescale: 1000,
            presentation_time: 0x1_0000_0002,
            event_duration: u32::MAX,
            id: 7,
            message_data: b"ID3\x04\x00".to_vec(),
            data_len: 5,
        }
    );
    let p = prfts(&whole);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (
            p[0].offset,
            p[0].version,
            p[0].flags,
            p[0].reference_track_id
        ),
        (prft_at, 0, 1, 2)
    );
    assert_eq!(p[0].media_time, 90_000);
    assert_eq!(p[0].unix_ns(), Some(1_250_000_000));
    for cut in 1..bytes.len() {
        assert_eq!(demux(&bytes, &[], &[cut]), whole, "cut at {cut}");
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(demux(&bytes, &[], &every), whole, "a byte at a time");
}

#[test]
fn a_box_cut_inside_its_fields_is_counted_not_guessed() {
    // An emsg v0 whose value string has no terminator, a prft of version 2.
    let mut b = vec![0, 0, 0, 0];
    b.extend_from_slice(b"urn:x\0no-terminator");
    let mut bytes = boxed(b"emsg", &b);
    bytes.extend_from_slice(&boxed(b"prft", &[2, 0, 0, 0, 0, 0, 0, 1]));
    let mut d = Fmp4Demuxer::new();
    d.feed(0, &bytes);
    d.end(bytes.len() as u64);
    assert_eq!(d.drain().count(), 0);
    let got: Vec<_> = d.anomalies().to_vec();
    assert_eq!(got, [("fmp4.bad_emsg", 1), ("fmp4.bad_prft", 1)]);
}
