//! Splitting an Annex-B video PES payload into access units (H.264 §7.4.1.2.3,
//! HEVC §7.4.2.4.4) and describing each one.
//!
//! nginx-rtmp and ffmpeg write one access unit per PES; the split only matters for
//! packagers that put several in one PES, and is checked by the same rules a
//! decoder uses: an AUD, parameter set or SEI after a slice, or a slice that
//! starts a new picture (first_mb_in_slice = 0 / first_slice_segment_in_pic_flag),
//! begins the next access unit.

use std::ops::Range;

use avc::{Codec, Fingerprint, Nal};

use crate::Timestamp;

/// One coded picture of a video stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    /// Track: the TS PID, or the fMP4 track id.
    pub pid: u16,
    pub codec: Codec,
    /// Presentation time (the PES's, for the first access unit of a PES).
    pub pts: Option<Timestamp>,
    /// Decode time (equals `pts` when the PES has no separate DTS).
    pub dts: Option<Timestamp>,
    /// An IDR (H.264) or IRAP (HEVC) picture.
    pub keyframe: bool,
    /// The adaptation field's random_access_indicator was set on the PES's first
    /// packet.
    pub random_access: bool,
    /// NAL unit types in order (AUD 9, SPS 7, PPS 8, SEI 6, IDR 5, slice 1, …).
    pub nal_types: avc::NalTypes,
    /// Bytes of the access unit in Annex-B framing.
    pub size: usize,
    /// Fingerprint of its slice data (`avc`), to match the frame across hosts.
    pub fingerprint: Option<Fingerprint>,
    /// The encoder's timecode (picture timing / time code SEI), read with the
    /// stream's in-band parameter sets (`avc::timecode`); boxed, rare.
    pub timecode: Option<Box<avc::timecode::FrameTimecode>>,
    /// Stream offset of the first TS packet carrying the PES.
    pub start: u64,
    /// One past the last byte of the last TS packet carrying the PES.
    pub end: u64,
    /// Bytes of it may be missing or wrong (continuity error, gap, cut at
    /// [`crate::MAX_FRAME_LEN`]).
    pub damaged: bool,
}

/// Where one access unit lies in a PES payload, and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    pub range: Range<usize>,
    pub nal_types: avc::NalTypes,
    pub keyframe: bool,
    pub fingerprint: Option<Fingerprint>,
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// Whether `nal` begins a new access unit, given that the current one already
/// has a slice.
fn starts_new_unit(codec: Codec, nal: &Nal<'_>) -> bool {
    let b = nal.bytes();
    match codec {
        Codec::H264 => match nal.h264_type() {
            Some(6..=9 | 14..=18) => true,
            // first_mb_in_slice is ue(v): 0 is coded as a single 1 bit.
            Some(1 | 2 | 5) => b.get(1).is_some_and(|x| x & 0x80 != 0),
            _ => false,
        },
        Codec::Hevc => match nal.hevc_type() {
            Some(32..=35 | 39 | 41..=44 | 48..=55) => true,
            Some(0..=31) => b.get(2).is_some_and(|x| x & 0x80 != 0),
            _ => false,
        },
        // Not Annex B: AV1 is split by `crate::av1` (one access unit per PES), and
        // no PMT stream type maps to VP9.
        Codec::Av1 | Codec::Vp9 => false,
    }
}

fn is_keyframe(codec: Codec, nal: &Nal<'_>) -> bool {
    match codec {
        Codec::H264 => nal.h264_type() == Some(avc::h264::IDR),
        Codec::Hevc => nal.hevc_type().is_some_and(|t| (16..=23).contains(&t)),
        Codec::Av1 | Codec::Vp9 => false,
    }
}

/// Splits an Annex-B payload into access units, handing each to `unit` in order. A
/// payload with no NAL unit is one (empty) access unit so that the PES is still
/// reported. One pass over the NAL units, holding only the current unit's, as
/// ranges in `scratch` (the caller's, so that its capacity serves every PES).
pub(crate) fn split_annexb(
    payload: &[u8],
    codec: Codec,
    scratch: &mut Vec<(Range<usize>, bool)>,
    mut unit: impl FnMut(Split),
) {
    let describe = |ranges: &[(Range<usize>, bool)], range: Range<usize>| {
        let nals = || {
            ranges
                .iter()
                .map(|(r, epb)| (Nal(&payload[r.clone()]), *epb))
        };
        Split {
            range,
            nal_types: nals().filter_map(|(n, _)| n.nal_type(codec)).collect(),
            keyframe: nals().any(|(n, _)| is_keyframe(codec, &n)),
            fingerprint: avc::fingerprint_marked(nals(), codec),
        }
    };
    scratch.clear();
    let mut start = 0;
    let mut seen_slice = false;
    let mut it = avc::iter_annexb(payload);
    while let Some((nal, epb)) = it.next_marked() {
        let at = offset_in(payload, nal.bytes());
        if seen_slice && starts_new_unit(codec, &nal) {
            // The next unit starts at this NAL's start code (3 or 4 bytes).
            let mut next = at.saturating_sub(3);
            if next > 0 && payload[next - 1] == 0 {
                next -= 1;
            }
            unit(describe(scratch, start..next));
            scratch.clear();
            start = next;
            seen_slice = false;
        }
        seen_slice |= nal.is_slice(codec);
        scratch.push((at..at + nal.bytes().len(), epb));
    }
    unit(describe(scratch, start..payload.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(payload: &[u8], codec: Codec) -> Vec<Split> {
        let mut out = Vec::new();
        split_annexb(payload, codec, &mut Vec::new(), |s| out.push(s));
        out
    }

    #[test]
    fn two_pictures_in_one_pes_split_at_the_second_aud() {
        // AUD, IDR slice (first_mb 0), AUD, non-IDR slice (first_mb 0).
        let payload = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1,
            0x41, 0x9a, 0x02,
        ];
        let s = split(&payload, Codec::H264);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].range, 0..12);
        assert_eq!(s[1].range, 12..24);
        assert_eq!(s[0].nal_types[..], [9, 5]);
        assert_eq!(s[1].nal_types[..], [9, 1]);
        assert!(s[0].keyframe && !s[1].keyframe);
        assert!(s[0].fingerprint.is_some() && s[0].fingerprint != s[1].fingerprint);
    }

    #[test]
    fn slices_of_one_picture_stay_together() {
        // IDR slice first_mb 0, then IDR slice with first_mb != 0 (bit 7 clear).
        let payload = [0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x65, 0x44, 0x84];
        let s = split(&payload, Codec::H264);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].nal_types[..], [5, 5]);
    }
}
