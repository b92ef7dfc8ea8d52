//! AV1 in MPEG-TS, as the AOM specification "Carriage of AV1 in MPEG-2 TS"
//! (v1.0.1) has it: a PMT entry of `stream_type` 0x06 whose first descriptor is a
//! registration descriptor with `format_identifier` 'AV01' (§2.1), PES packets of
//! `stream_id` 0xBD each holding one access unit (§3.4), and in them every OBU
//! behind a 0x000001 start code with `emulation_prevention_three_byte`s inserted
//! (§3.2, `ts_open_bitstream_unit()`).
//!
//! Written by hand: no crate reads this carriage, and it is a few lines over the
//! OBU parsing the `avc` crate already has. The access unit is turned back into
//! the low overhead bitstream format (start codes and escapes removed), so its
//! fingerprint is `avc::obu::fingerprint_obus` of the very OBUs an FLV/Enhanced
//! RTMP or fMP4 copy of the frame carries: the frame matches across containers.
//!
//! ffmpeg (5.1, Debian 12) muxes AV1 otherwise, from before the specification: a
//! `stream_type` 0x06 entry with no registration descriptor, video `stream_id`s
//! (0xE0..), and the PES payload in the low overhead format itself (starting with
//! a temporal delimiter when ffmpeg encoded it, without one when it remuxed from
//! MP4). Such a stream is read too ([`is_ffmpeg_av1`]).

/// `format_identifier` of the registration descriptor (§2.1).
pub const FORMAT_IDENTIFIER: [u8; 4] = *b"AV01";

/// What one AV1 access unit of a PES holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Av1Unit {
    /// Bytes of the access unit in the low overhead format.
    pub size: usize,
    pub keyframe: bool,
    pub fingerprint: Option<avc::Fingerprint>,
}

/// Whether a PMT entry could be AV1 as ffmpeg muxes it: private data with no
/// registration descriptor (what the PES holds decides, [`is_ffmpeg_av1`]).
pub(crate) fn maybe_ffmpeg_av1(es: &crate::ElementaryStream) -> bool {
    es.stream_type == crate::StreamType::PES_PRIVATE_DATA && es.format_identifier.is_none()
}

/// Whether a PES of such a stream is ffmpeg's AV1: a video `stream_id` and a
/// payload that is OBUs in the low overhead format from its first byte to its
/// last (AV1 specification §5.3: each header with the forbidden bit clear, a
/// defined `obu_type` and `obu_has_size_field` set, as ffmpeg writes them), with
/// a picture among them. A start code (0x00 ...) never passes: type 0 is reserved.
pub(crate) fn is_ffmpeg_av1(stream_id: u8, payload: &[u8]) -> bool {
    (0xe0..=0xef).contains(&stream_id) && is_low_overhead(payload)
}

fn is_low_overhead(payload: &[u8]) -> bool {
    let mut obus = avc::obu::iter_obus(payload);
    let mut picture = false;
    for obu in obus.by_ref() {
        let defined = matches!(obu.obu_type(), 1..=8 | 15);
        if !defined || obu.header & 0x02 == 0 {
            return false;
        }
        picture |= obu.is_picture();
    }
    picture && !obus.is_truncated()
}

/// Removes the start codes and emulation prevention bytes of a PES payload of
/// `ts_open_bitstream_unit()`s, writing the OBUs one after another into `out`
/// (cleared first). Bytes before the first start code are dropped (a damaged
/// PES); returns whether there was one.
pub(crate) fn unescape(payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(first) = find_start_code(payload, 0) else {
        return false;
    };
    let mut i = first + 3;
    let mut zeros = 0usize;
    while i < payload.len() {
        let b = payload[i];
        // 0x000001 starts the next tsOBU (§3.2: it cannot occur inside one).
        if zeros >= 2 && b == 0x01 {
            out.truncate(out.len() - 2);
            zeros = 0;
            i += 1;
            continue;
        }
        // 0x000003: the 0x03 is an emulation prevention byte.
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            i += 1;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
        i += 1;
    }
    true
}

fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|p| from + p)
}

/// The access unit of an AV1 PES payload: its OBUs back in the low overhead
/// format (`scratch` holds them), whether it is a key frame, and its fingerprint.
/// A payload already in the low overhead format (ffmpeg's, [`is_ffmpeg_av1`]) is
/// taken as it is.
pub(crate) fn access_unit(payload: &[u8], scratch: &mut Vec<u8>) -> Option<Av1Unit> {
    if is_low_overhead(payload) {
        scratch.clear();
        scratch.extend_from_slice(payload);
    } else if !unescape(payload, scratch) {
        return None;
    }
    Some(Av1Unit {
        size: scratch.len(),
        keyframe: is_key_frame(scratch),
        fingerprint: avc::obu::fingerprint_obus(scratch),
    })
}

/// Whether the access unit's first frame header codes a key frame (AV1
/// specification §5.9.2 `uncompressed_header()`): with a sequence header whose
/// `reduced_still_picture_header` is set (§5.5.1), every frame is; otherwise the
/// header starts with `show_existing_frame` (0) and a 2-bit `frame_type` of
/// KEY_FRAME (0). A frame shown again from a key frame (`show_existing_frame` 1)
/// is not a new key frame here.
fn is_key_frame(obus: &[u8]) -> bool {
    use avc::obu::obu_type;
    let mut reduced = false;
    for obu in avc::obu::iter_obus(obus) {
        match obu.obu_type() {
            // seq_profile(3) still_picture(1) reduced_still_picture_header(1).
            obu_type::SEQUENCE_HEADER => {
                reduced = obu.payload.first().is_some_and(|b| b & 0x08 != 0);
            }
            obu_type::FRAME_HEADER | obu_type::FRAME => {
                if reduced {
                    return true;
                }
                return obu.payload.first().is_some_and(|b| b & 0xe0 == 0);
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_and_escapes_come_out() {
        // Two tsOBUs (§3.2): a temporal delimiter, and a frame OBU whose payload
        // holds 00 00 01 and 00 00 03, escaped to 00 00 03 01 and 00 00 03 03.
        let ts = [
            0, 0, 1, 0x12, 0x00, // TD
            0, 0, 1, 0x32, 0x07, 0x10, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x03,
        ];
        let mut out = Vec::new();
        assert!(unescape(&ts, &mut out));
        assert_eq!(
            out,
            [0x12, 0x00, 0x32, 0x07, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x03]
        );
        assert!(!unescape(&[0x12, 0x00], &mut out), "no start code");
    }

    #[test]
    fn ffmpegs_low_overhead_payloads_are_told_from_start_codes() {
        let frame = [0x32, 0x02, 0x10, 0xaa];
        assert!(is_ffmpeg_av1(0xe0, &frame));
        assert!(is_ffmpeg_av1(0xe0, &[&[0x12, 0x00][..], &frame].concat()));
        assert!(!is_ffmpeg_av1(0xbd, &frame), "not a video stream_id");
        assert!(!is_ffmpeg_av1(0xe0, &[0x12, 0x00]), "no picture");
        assert!(!is_ffmpeg_av1(0xe0, &[0x32, 0x05, 0x10]), "cut short");
        assert!(!is_ffmpeg_av1(0xe0, &[0x30, 0x10, 0xaa]), "no size field");
        assert!(!is_ffmpeg_av1(0xe0, &[0, 0, 1, 0x32, 0x02, 0x10, 0xaa]));
    }

    #[test]
    fn key_frames_are_read_from_the_frame_header() {
        let mut scratch = Vec::new();
        // frame OBU, payload byte 0: show_existing_frame 0, frame_type 0 (KEY).
        let key = [0, 0, 1, 0x32, 0x02, 0x10, 0xaa];
        // frame_type 1 (INTER): bits 0 01 ....
        let inter = [0, 0, 1, 0x32, 0x02, 0x30, 0xaa];
        assert!(access_unit(&key, &mut scratch).unwrap().keyframe);
        assert!(!access_unit(&inter, &mut scratch).unwrap().keyframe);
        // A sequence header with reduced_still_picture_header set: a key frame.
        let reduced = [0, 0, 1, 0x0a, 0x01, 0x08, 0, 0, 1, 0x32, 0x02, 0x30, 0xaa];
        assert!(access_unit(&reduced, &mut scratch).unwrap().keyframe);
    }
}
