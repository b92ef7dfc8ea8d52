//! Builds timecode messages bit by bit from the specifications' syntax tables, so the
//! tests' expected values are what the bytes were built to say, never what the
//! parser under test read.
#![allow(dead_code)] // each test binary uses a different subset

use avc::{iter_annexb, Codec, Nal};

/// MSB-first bit writer (the order of H.264 §7.2 / AV1 §4.10 `f(n)`).
#[derive(Default)]
pub struct Bits {
    pub bytes: Vec<u8>,
    bit: u32,
}

impl Bits {
    pub fn u(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            if self.bit % 8 == 0 {
                self.bytes.push(0);
            }
            let b = ((v >> i) & 1) as u8;
            *self.bytes.last_mut().unwrap() |= b << (7 - self.bit % 8);
            self.bit += 1;
        }
        self
    }

    pub fn flag(&mut self, b: bool) -> &mut Self {
        self.u(1, b as u64)
    }

    /// `i(n)`: two's complement on n bits.
    pub fn i(&mut self, n: u32, v: i64) -> &mut Self {
        self.u(n, (v as u64) & ((1u64 << n) - 1))
    }

    /// `ue(v)` (H.264 §9.1).
    pub fn ue(&mut self, v: u32) -> &mut Self {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        self.u(len - 1, 0).u(len, x)
    }

    /// `rbsp_trailing_bits()` (H.264 §7.3.2.11): a one, then zeros to the byte.
    pub fn trailing(&mut self) -> &mut Self {
        self.flag(true);
        while self.bit % 8 != 0 {
            self.flag(false);
        }
        self
    }

    /// `byte_alignment` with zeros (an SEI payload's `payload_bit_equal_to_zero`
    /// bits are its own; AV1 trailing bits are added by [`Bits::av1_trailing`]).
    pub fn align_zero(&mut self) -> &mut Self {
        while self.bit % 8 != 0 {
            self.flag(false);
        }
        self
    }

    pub fn len_bits(&self) -> u32 {
        self.bit
    }
}

/// A timecode's fields (the SMPTE ST 12-1 set the three standards share).
#[derive(Clone, Copy, Debug)]
pub struct Tc {
    pub field_based: bool,
    pub counting_type: u8,
    pub full: bool,
    pub discontinuity: bool,
    pub cnt_dropped: bool,
    pub n_frames: u16,
    /// Written when `full`, else as far as the first `None` (seconds_flag ...).
    pub seconds: Option<u8>,
    pub minutes: Option<u8>,
    pub hours: Option<u8>,
    /// (length, value); length 0 writes no value.
    pub time_offset: (u32, i64),
}

/// The hours/minutes/seconds part shared by the three syntaxes (H.264 §D.1.3,
/// HEVC §D.2.27, AV1 §5.8.7): all three when `full_timestamp_flag`, else each
/// behind its flag.
fn hms(w: &mut Bits, t: &Tc) {
    if t.full {
        w.u(6, t.seconds.unwrap().into())
            .u(6, t.minutes.unwrap().into())
            .u(5, t.hours.unwrap().into());
        return;
    }
    w.flag(t.seconds.is_some());
    if let Some(s) = t.seconds {
        w.u(6, s.into()).flag(t.minutes.is_some());
        if let Some(m) = t.minutes {
            w.u(6, m.into()).flag(t.hours.is_some());
            if let Some(h) = t.hours {
                w.u(5, h.into());
            }
        }
    }
}

/// H.264 §D.1.3 `clock_timestamp` after `clock_timestamp_flag`: ct_type u(2),
/// nuit_field_based_flag, counting_type u(5), full_timestamp_flag,
/// discontinuity_flag, cnt_dropped_flag, n_frames u(8), hms, time_offset i(v)
/// with the SPS's time_offset_length.
pub fn h264_clock(w: &mut Bits, ct_type: u8, t: &Tc) {
    w.u(2, ct_type.into())
        .flag(t.field_based)
        .u(5, t.counting_type.into())
        .flag(t.full)
        .flag(t.discontinuity)
        .flag(t.cnt_dropped)
        .u(8, t.n_frames.into());
    hms(w, t);
    if t.time_offset.0 > 0 {
        w.i(t.time_offset.0, t.time_offset.1);
    }
}

/// HEVC §D.2.27 `time_code()` clock timestamp after its flag: units_field_based_flag,
/// then what AV1 has too ([`nine_bit_frames_timecode`]), with a signed offset.
pub fn hevc_clock(w: &mut Bits, t: &Tc) {
    w.flag(t.field_based);
    nine_bit_frames_timecode(w, t, true);
}

/// AV1 §5.8.7 `metadata_timecode()`: [`nine_bit_frames_timecode`] with an unsigned
/// time_offset_value f(n).
pub fn av1_timecode(w: &mut Bits, t: &Tc) {
    nine_bit_frames_timecode(w, t, false);
}

/// The fields HEVC §D.2.27 and AV1 §5.8.7 share: counting_type u(5),
/// full_timestamp_flag, discontinuity_flag, cnt_dropped_flag, n_frames u(9), hms,
/// time_offset_length u(5), then time_offset_value: i(v) in HEVC, f(n) in AV1.
fn nine_bit_frames_timecode(w: &mut Bits, t: &Tc, signed: bool) {
    w.u(5, t.counting_type.into())
        .flag(t.full)
        .flag(t.discontinuity)
        .flag(t.cnt_dropped)
        .u(9, t.n_frames.into());
    hms(w, t);
    let (len, value) = t.time_offset;
    w.u(5, len.into());
    match (len, signed) {
        (0, _) => {}
        (n, true) => {
            w.i(n, value);
        }
        (n, false) => {
            w.u(n, value as u64);
        }
    }
}

/// An SEI message (H.264 §7.3.2.3.1 / HEVC §7.3.5: payloadType and payloadSize
/// as 0xFF runs plus a last byte), then the payload.
pub fn sei_message(ty: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for mut v in [ty as usize, payload.len()] {
        while v >= 255 {
            out.push(0xff);
            v -= 255;
        }
        out.push(v as u8);
    }
    out.extend_from_slice(payload);
    out
}

/// A NAL unit: header bytes, the SEI messages, rbsp_trailing_bits (0x80), then
/// emulation prevention (H.264 §7.4.1: a 0x03 after two zeros before 00..03).
pub fn sei_nal(header: &[u8], messages: &[Vec<u8>]) -> Vec<u8> {
    let mut rbsp: Vec<u8> = messages.concat();
    rbsp.push(0x80);
    let mut out = header.to_vec();
    let mut zeros = 0;
    for b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// An AV1 metadata OBU (§5.3 header: type 5, has_size_field; §5.8.1:
/// metadata_type as leb128, then the metadata and trailing bits §5.3.4: a one bit
/// then zeros to the byte).
pub fn av1_metadata_obu(metadata_type: u8, body: &Bits) -> Vec<u8> {
    let mut payload = vec![metadata_type];
    let mut b = Bits {
        bytes: body.bytes.clone(),
        bit: body.len_bits(),
    };
    b.trailing();
    payload.extend_from_slice(&b.bytes);
    assert!(payload.len() < 128);
    let mut out = vec![(5 << 3) | 0x02, payload.len() as u8];
    out.extend_from_slice(&payload);
    out
}

/// The access units of an Annex-B stream: a new one starts at a non-VCL NAL unit
/// after a VCL one (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4: parameter sets, SEI and
/// delimiters come before the first slice of their access unit).
pub fn access_units(data: &[u8], codec: Codec) -> Vec<Vec<Nal<'_>>> {
    let mut aus: Vec<Vec<Nal<'_>>> = Vec::new();
    let mut after_vcl = true;
    for nal in iter_annexb(data) {
        let vcl = nal.is_slice(codec);
        // HEVC: first_slice_segment_in_pic_flag, the first bit after the
        // two-byte NAL header (§7.3.6.1), starts a picture.
        let first_slice =
            codec == Codec::Hevc && vcl && nal.0.get(2).is_some_and(|b| b & 0x80 != 0);
        if (!vcl || first_slice) && after_vcl || aus.is_empty() {
            aus.push(Vec::new());
        }
        after_vcl = vcl;
        aus.last_mut().unwrap().push(nal);
    }
    aus
}

pub fn annexb(aus: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in aus.iter().flatten() {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// `stream` (Annex-B) with the SEI NAL unit `sei(i)` put into picture `i`: before
/// its first SEI or slice (H.264: picture timing may lead, §D.1.3 puts no order on
/// SEI NAL units), before its first slice (HEVC: a prefix SEI).
pub fn with_sei_per_picture(
    stream: &[u8],
    codec: Codec,
    sei: impl Fn(usize) -> Vec<u8>,
) -> Vec<u8> {
    let mut aus: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, au) in access_units(stream, codec).into_iter().enumerate() {
        let nal = sei(i);
        let mut nals: Vec<Vec<u8>> = Vec::new();
        let mut put = false;
        for n in au {
            let sei_first = codec == Codec::H264 && n.h264_type() == Some(6);
            if !put && (sei_first || n.is_slice(codec)) {
                nals.push(nal.clone());
                put = true;
            }
            nals.push(n.0.to_vec());
        }
        aus.push(nals);
    }
    annexb(&aus)
}
