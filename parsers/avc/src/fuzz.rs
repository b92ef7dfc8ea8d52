//! The body of the fuzz target (`fuzz/`), here so that the ordinary test suite can
//! run it over seeds and deterministic mutations.

use crate::obu::{fingerprint_obus, iter_obus};
use crate::{
    fingerprint_annexb, fingerprint_avcc, fingerprint_frame, iter_annexb, iter_avcc, Codec,
};

/// Iterate and fingerprint `data` in every framing; check that the same NAL units
/// re-framed as Annex-B give the same fingerprint as in AVCC, whenever they can be
/// re-framed faithfully (no start-code-like bytes inside, no trailing zero).
pub fn nal(data: &[u8]) {
    for codec in [Codec::H264, Codec::Hevc] {
        for size in 0..=5u8 {
            let nals: Vec<&[u8]> = iter_avcc(data, size).map(|n| n.0).collect();
            let fp = fingerprint_avcc(data, size, codec);
            let faithful = nals.iter().all(|n| {
                n.last() != Some(&0) && !n.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
            });
            if faithful && (1..=4).contains(&size) {
                let mut annexb = Vec::new();
                for n in &nals {
                    annexb.extend_from_slice(&[0, 0, 0, 1]);
                    annexb.extend_from_slice(n);
                }
                assert_eq!(fingerprint_annexb(&annexb, codec), fp);
            }
        }
        let _ = fingerprint_annexb(data, codec);
        for n in iter_annexb(data) {
            assert!(!n.0.is_empty() && n.0.last() != Some(&0));
        }
    }
    obus(data);
    let _ = fingerprint_frame(data, 4, Codec::Vp9);
    // OBS Broadcast Performance Metrics, wherever they could be read from.
    let _ = crate::bpm::parse_payload(data);
    let _ = crate::bpm::sei_messages(data).count();
    let _ = crate::bpm::in_obus(data);
    for codec in [Codec::H264, Codec::Hevc] {
        let _ = crate::bpm::in_nals(iter_avcc(data, 4), codec);
    }
    timecodes(data);
}

/// Timecodes, wherever they could be read from: the data as NAL units (a tracker
/// learning its parameter sets from them), as one SEI payload read with SPS
/// layouts taken from its first bytes, as HEVC and AV1 timecodes, as OBUs.
fn timecodes(data: &[u8]) {
    use crate::timecode::{self, h264::SpsTiming, Tracker};
    let mut tracker = Tracker::new();
    for codec in [Codec::H264, Codec::Hevc] {
        let _ = tracker.frame_nals(iter_avcc(data, 4), codec);
        let _ = tracker.frame_nals(iter_annexb(data), codec);
    }
    let _ = tracker.frame_obus(data);
    if let [a, b, c, rest @ ..] = data {
        let sps = SpsTiming {
            nal_hrd: a & 1 != 0,
            vcl_hrd: a & 2 != 0,
            pic_struct_present: a & 4 != 0,
            cpb_removal_delay_length_minus1: b & 31,
            dpb_output_delay_length_minus1: b >> 3,
            time_offset_length: c & 31,
            ..SpsTiming::default()
        };
        let _ = timecode::pic_timing(rest, &sps);
    }
    let _ = timecode::hevc_time_code(data);
    let _ = timecode::av1_timecode(data);
    for n in iter_avcc(data, 2) {
        let _ = timecode::h264::parse_sps(n.0);
    }
}

/// Iterate `data` as AV1 OBUs; when it frames cleanly, the same OBUs written again,
/// each with a size field (AV1 specification §4.10.5 LEB128, shortest form), give
/// the same fingerprint.
fn obus(data: &[u8]) {
    let mut it = iter_obus(data);
    let mut again = Vec::new();
    for o in it.by_ref() {
        again.push(o.header | 0x02);
        again.extend(o.extension);
        let mut n = o.payload.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                again.push(b);
                break;
            }
            again.push(b | 0x80);
        }
        again.extend_from_slice(o.payload);
    }
    if !it.is_truncated() {
        assert_eq!(fingerprint_obus(&again), fingerprint_obus(data));
    }
}
