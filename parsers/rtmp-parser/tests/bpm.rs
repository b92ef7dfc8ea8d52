//! OBS's Broadcast Performance Metrics in published frames, on bytes built from the
//! layout OBS Studio writes (`shared/bpm/bpm.c` and `bpm-internal.h` of
//! obsproject/obs-studio: the three UUIDs, the timestamp and counter records;
//! `libobs/obs-av1.c` `metadata_obu()` for AV1), since no Debian package writes
//! them. H.264 carries them as SEI (ITU-T H.264 §7.3.2.3: payloadType 5
//! `user_data_unregistered`, ff-coded type and size, emulation prevention §7.4.1),
//! HEVC as a suffix SEI NAL unit (type 40, ITU-T H.265 §7.3.1.2 two-byte header),
//! AV1 as a metadata OBU (AV1 spec §5.8.1, `metadata_type` 6) in an Enhanced RTMP
//! `av01` CodedFrames body (veovera E-RTMP v2). Each stream is decoded whole, split
//! at every byte and in one-byte pieces.

#[path = "common/bpm_bytes.rs"]
mod bpm_bytes;
mod common;

use bpm_bytes::{avcc, payloads, sei_nal};
use common::{chunks, feed_in_pieces};
use rtmp_parser::{Direction, Payload, Session, VideoInfo};

const C2S: Direction = Direction::ClientToServer;

/// A publish (after C0/C1/C2) of one key frame message with `payload`.
fn stream(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![3u8];
    v.resize(1 + 2 * 1536, 0);
    v.extend(chunks(6, 0, 9, 1, payload));
    v
}

fn decoded(stream: &[u8], cuts: &[usize]) -> Vec<VideoInfo> {
    let mut s = Session::new();
    feed_in_pieces(&mut s, C2S, stream, cuts);
    // No sequence header is sent: the 4-byte NAL lengths are assumed (and counted).
    assert!(
        s.anomalies()
            .iter()
            .all(|(k, _)| *k == "rtmp.video_without_sequence_header"),
        "{:?}",
        s.anomalies()
    );
    s.drain_messages()
        .filter_map(|m| match m.payload {
            Payload::Video(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// What every frame here must carry: the four timestamps and seven counters.
fn check(v: &VideoInfo) {
    use avc::bpm::{event, rendition, session, Kind};
    assert_eq!(v.bpm.len(), 3, "{:?}", v.bpm);
    let ns = |ms: i64| 1_796_223_600_000_000_000 + ms * 1_000_000; // 2026-12-02T15:00:00Z
    assert_eq!(v.bpm[0].kind, Kind::Timestamps);
    assert_eq!(v.bpm[0].time(event::CTS), Some(ns(100)));
    assert_eq!(v.bpm[0].time(event::FER), Some(ns(105)));
    assert_eq!(v.bpm[0].time(event::FERC), Some(ns(112)));
    assert_eq!(v.bpm[0].time(event::PIR), Some(ns(113)));
    assert_eq!(v.bpm[1].kind, Kind::Session);
    assert_eq!(v.bpm[1].time(event::PIR), Some(ns(113)));
    assert_eq!(v.bpm[1].counter(session::RENDERED), Some(60));
    assert_eq!(v.bpm[1].counter(session::LAGGED), Some(1));
    assert_eq!(v.bpm[1].counter(session::DROPPED), Some(2));
    assert_eq!(v.bpm[1].counter(session::OUTPUT), Some(58));
    assert_eq!(v.bpm[2].kind, Kind::Rendition);
    assert_eq!(v.bpm[2].counter(rendition::INPUT), Some(60));
    assert_eq!(v.bpm[2].counter(rendition::SKIPPED), Some(0));
    assert_eq!(v.bpm[2].counter(rendition::OUTPUT), Some(60));
}

fn check_everywhere(stream: &[u8]) {
    let whole = decoded(stream, &[]);
    assert_eq!(whole.len(), 1);
    check(&whole[0]);
    for cut in 0..stream.len() {
        assert_eq!(decoded(stream, &[cut]), whole, "cut at {cut}");
    }
    let ones: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(decoded(stream, &ones), whole);
}

#[test]
fn h264_sei_bpm_before_the_slice() {
    // OBS puts its SEI NAL units before the first VCL NAL unit.
    let idr = vec![0x65, 0x88, 0x84, 0x00, 0x10];
    let mut nals: Vec<Vec<u8>> = payloads().iter().map(|p| sei_nal(&[0x06], p)).collect();
    // The counters hold 00 00 00 bytes: emulation prevention must be undone.
    assert!(nals[1].windows(3).any(|w| w == [0, 0, 3]));
    nals.push(idr.clone());
    // Legacy FLV: key frame (1) AVC (7), AVCPacketType 1, composition time 0.
    let msg = [&[0x17, 1, 0, 0, 0][..], &avcc(&nals)].concat();
    let s = stream(&msg);
    check_everywhere(&s);
    // The SEI leaves the frame's fingerprint alone.
    let plain = decoded(
        &stream(&[&[0x17, 1, 0, 0, 0][..], &avcc(&[idr])].concat()),
        &[],
    );
    assert_eq!(decoded(&s, &[])[0].fingerprint, plain[0].fingerprint);
    assert!(plain[0].bpm.is_empty());
}

#[test]
fn hevc_suffix_sei_bpm_after_the_slice() {
    // IDR_W_RADL (19), then suffix SEI (40) with the slice's layer and temporal id.
    let mut nals = vec![vec![0x26, 0x01, 0xaf, 0x09, 0x40]];
    nals.extend(payloads().iter().map(|p| sei_nal(&[40 << 1, 0x01], p)));
    // ExVideoTagHeader: IsExHeader | key frame | CodedFrames, "hvc1", SI24 0.
    let msg = [&[0x80 | 0x10 | 1][..], b"hvc1", &[0, 0, 0], &avcc(&nals)].concat();
    check_everywhere(&stream(&msg));
}

#[test]
fn av1_metadata_obu_bpm() {
    // metadata_obu(): header (type 5, size field), LEB128 size = 1 + payload + 1,
    // metadata_type 6, payload, trailing bits 0x80.
    let mut tu = vec![0x12, 0x00]; // temporal delimiter
    for p in payloads() {
        let size = p.len() + 2;
        tu.push(0x2a);
        if size >= 128 {
            tu.extend([(size as u8 & 0x7f) | 0x80, (size >> 7) as u8]);
        } else {
            tu.push(size as u8);
        }
        tu.push(6);
        tu.extend(p);
        tu.push(0x80);
    }
    tu.extend([0x32, 0x03, 0x10, 0x00, 0x00]); // a key frame OBU
    let msg = [&[0x80 | 0x10 | 1][..], b"av01", &tu].concat();
    let s = stream(&msg);
    check_everywhere(&s);
    assert!(decoded(&s, &[])[0].fingerprint.is_some());
}
