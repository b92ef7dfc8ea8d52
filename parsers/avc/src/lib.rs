//! H.264 / HEVC NAL units, AV1 OBUs and the **frame fingerprint**.
//!
//! lagtap matches a video frame sent by a broadcaster over RTMP (FLV, AVCC framing)
//! with the same frame received by a viewer over HLS (MPEG-TS, Annex-B framing).
//! The packager between them re-frames the NAL units, may add access unit
//! delimiters, repeat SPS/PPS and insert SEI, but it copies the coded slices
//! untouched. So the fingerprint of a coded picture is a hash over its slice NAL
//! units only, computed on the RBSP (emulation-prevention bytes removed, so a
//! re-escaping packager cannot change it), independent of length prefixes vs start
//! codes. Both sides of lagtap call the same function, which is the point of this
//! crate.
//!
//! AV1 and VP9 frames get fingerprints too, so matching works whatever the codec:
//! AV1 over its picture OBUs ([`obu`]), VP9 over the whole frame (neither FLV nor
//! ISOBMFF re-frames a VP9 frame; see [`fingerprint_frame`]).
//!
//! The encoder's own clock travels in the video too: OBS's Broadcast Performance
//! Metrics ([`bpm`]) and SMPTE timecodes ([`timecode`]: H.264 picture timing clock
//! timestamps, read with the stream's SPS; the HEVC time code SEI; AV1 timecode
//! metadata).
//!
//! Design: pure, borrow-only, no allocation ([`nal`] iterators over `&[u8]`; a slice
//! is hashed where it lies, or streamed run by run when it holds emulation-prevention
//! bytes; [`NalTypes`] are held inline).
#![forbid(unsafe_code)]

pub mod bits;
pub mod bpm;
#[doc(hidden)]
pub mod fuzz;
pub mod nal;
pub mod obu;
pub mod timecode;

pub use nal::{iter_annexb, iter_avcc, Nal};

/// The NAL unit types of one coded picture, in order. A picture has a handful
/// (AUD, parameter sets, SEI, its slices), so they are held inline, without an
/// allocation per frame; more than 16 spill to the heap.
pub type NalTypes = smallvec::SmallVec<[u8; 16]>;

/// Which video codec a coded picture is in: it decides how the picture is framed
/// and which of its parts the fingerprint covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC: one-byte NAL header, `nal_unit_type` in the low 5 bits.
    H264,
    /// H.265 / HEVC: two-byte NAL header, `nal_unit_type` in bits 1..7 of the first byte.
    Hevc,
    /// AV1: OBUs in the low overhead bitstream format, no NAL units ([`obu`]).
    Av1,
    /// VP9: one frame (or superframe) as the encoder wrote it, no NAL units.
    Vp9,
}

impl Codec {
    /// Whether pictures of this codec are NAL units (H.264, HEVC).
    pub fn has_nal_units(self) -> bool {
        matches!(self, Codec::H264 | Codec::Hevc)
    }
}

/// H.264 `nal_unit_type` values lagtap names.
pub mod h264 {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice data partition A (B = 3, C = 4).
    pub const SLICE_DPA: u8 = 2;
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// HEVC `nal_unit_type` values lagtap names.
pub mod hevc {
    /// Last VCL (slice) type: 0..=31 are VCL NAL units.
    pub const VCL_MAX: u8 = 31;
    /// Video parameter set.
    pub const VPS: u8 = 32;
    /// Sequence parameter set.
    pub const SPS: u8 = 33;
    /// Picture parameter set.
    pub const PPS: u8 = 34;
    /// Access unit delimiter.
    pub const AUD: u8 = 35;
    /// Prefix SEI.
    pub const SEI_PREFIX: u8 = 39;
    /// Suffix SEI (where OBS puts its Broadcast Performance Metrics).
    pub const SEI_SUFFIX: u8 = 40;
}

/// Whether NAL unit type `t` carries slice data of a coded picture.
///
/// H.264: types 1–5 (non-IDR slice, data partitions A/B/C, IDR slice). Partitions
/// are slices too (Extended profile); no packager rewrites them.
/// HEVC: the VCL types 0–31. Everything else (AUD, parameter sets, SEI, filler,
/// end of sequence...) is skipped because packagers add, drop or rewrite it.
/// AV1 and VP9 have no NAL units: never.
pub fn is_slice(codec: Codec, t: u8) -> bool {
    match codec {
        Codec::H264 => (h264::SLICE..=h264::IDR).contains(&t),
        Codec::Hevc => t <= hevc::VCL_MAX,
        Codec::Av1 | Codec::Vp9 => false,
    }
}

/// Identity of one coded picture, independent of its container. Prints as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl Fingerprint {
    /// The 16 lowercase hex digits it prints as, without allocating.
    pub fn hex(&self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = DIGITS[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        out
    }

    /// Parses the 16 hex digits [`Self::hex`] writes (either case).
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(s, 16).ok().map(Fingerprint))
            .flatten()
    }
}

/// In JSON a fingerprint is a string of 16 hex digits: a u64 as a JSON number would
/// lose bits in every tool that reads numbers as doubles.
#[cfg(feature = "serde")]
impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        // The digits are ASCII by construction.
        s.serialize_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fingerprint, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Fingerprint::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("a fingerprint is 16 hex digits"))
    }
}

/// Fingerprint of the slice NAL units among `nals`; `None` if there is none.
///
/// The hash is XXH3-64 (crate `twox-hash`, which picks AVX2 at run time): it is not a cryptographic hash and
/// need not be (we identify frames of our own testbed, nobody forges collisions);
/// what matters is that it runs at memory speed (tens of GB/s) so fingerprinting
/// every frame costs nothing next to reading the capture, its output is stable
/// across versions and platforms (the XXH3 spec is frozen), and the crate is pure
/// Rust, widely used and maintained. 64 bits make an accidental collision among the
/// ~10^6 frames of a study negligible (~10^-7).
///
/// Each slice's RBSP (trailing zero bytes dropped) is hashed on its own, seeded with
/// the hash of the slices before it (0 for the first): splitting the same bytes into
/// NAL units differently gives other hashes, and a picture of one slice without
/// emulation-prevention bytes, the common case, is a single one-shot hash of the
/// bytes where they lie, no copy and no streaming state.
pub fn fingerprint_nals<'a>(
    nals: impl IntoIterator<Item = Nal<'a>>,
    codec: Codec,
) -> Option<Fingerprint> {
    fingerprint_marked(
        nals.into_iter().map(|n| {
            let epb = n.is_slice(codec) && nal::has_emulation_prevention(n.0);
            (n, epb)
        }),
        codec,
    )
}

/// [`fingerprint_nals`] for NAL units whose caller already knows whether each holds
/// an emulation-prevention byte ([`nal::AnnexBIter::next_marked`]), which spares a
/// second scan of every slice. A wrong `true` costs time, never the result; a wrong
/// `false` gives a wrong fingerprint.
pub fn fingerprint_marked<'a>(
    nals: impl IntoIterator<Item = (Nal<'a>, bool)>,
    codec: Codec,
) -> Option<Fingerprint> {
    let mut hash: Option<u64> = None;
    for (nal, epb) in nals {
        if nal.is_slice(codec) {
            let body = nal::trim_trailing_zeros(nal.0);
            hash = Some(hash_rbsp(body, epb, hash.unwrap_or(0)));
        }
    }
    hash.map(Fingerprint)
}

/// XXH3-64 of the RBSP of `nal` with `seed`: the NAL's own bytes when it has no
/// emulation-prevention byte (the caller says), else its runs streamed (which XXH3 defines to equal
/// the one-shot hash of their concatenation).
fn hash_rbsp(nal: &[u8], has_emulation_prevention: bool, seed: u64) -> u64 {
    if !has_emulation_prevention {
        return twox_hash::XxHash3_64::oneshot_with_seed(seed, nal);
    }
    use std::hash::Hasher as _;
    let mut hasher = twox_hash::XxHash3_64::with_seed(seed);
    nal::for_each_rbsp_run(nal, |run| hasher.write(run));
    hasher.finish()
}

/// Fingerprint of a coded picture in AVCC framing (FLV/RTMP, MP4).
pub fn fingerprint_avcc(data: &[u8], length_size: u8, codec: Codec) -> Option<Fingerprint> {
    fingerprint_nals(iter_avcc(data, length_size), codec)
}

/// Fingerprint of one coded picture as FLV/Enhanced RTMP and ISOBMFF carry it, for
/// any codec: AVCC NAL units with `length_size`-byte lengths (H.264, HEVC), OBUs
/// (AV1, [`obu::fingerprint_obus`]), or the whole frame (VP9: XXH3-64 of its bytes,
/// which both containers carry unchanged, superframe index included); `None` when
/// it holds no coded picture data (an empty VP9 frame).
pub fn fingerprint_frame(data: &[u8], length_size: u8, codec: Codec) -> Option<Fingerprint> {
    match codec {
        Codec::H264 | Codec::Hevc => fingerprint_avcc(data, length_size, codec),
        Codec::Av1 => obu::fingerprint_obus(data),
        Codec::Vp9 => (!data.is_empty())
            .then(|| Fingerprint(twox_hash::XxHash3_64::oneshot_with_seed(0, data))),
    }
}

/// Fingerprint of a coded picture in Annex-B framing (MPEG-TS PES payload of one
/// access unit).
pub fn fingerprint_annexb(data: &[u8], codec: Codec) -> Option<Fingerprint> {
    fingerprint_nals(iter_annexb(data), codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-IDR slice whose payload needs emulation prevention (`00 00 03 01`).
    const SLICE_ESCAPED: &[u8] = &[0x41, 0x9a, 0x00, 0x00, 0x03, 0x01, 0x22, 0x80];
    const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x0d, 0xac];
    const AUD: &[u8] = &[0x09, 0xf0];
    const SEI: &[u8] = &[0x06, 0x05, 0x01, 0x80];

    fn avcc(nals: &[&[u8]], length_size: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for n in nals {
            let len = (n.len() as u32).to_be_bytes();
            out.extend_from_slice(&len[4 - length_size as usize..]);
            out.extend_from_slice(n);
        }
        out
    }

    #[test]
    fn same_picture_in_avcc_and_annexb_has_the_same_fingerprint() {
        let flv = avcc(&[SLICE_ESCAPED], 4);
        let mut ts = vec![0, 0, 0, 1];
        ts.extend_from_slice(AUD);
        ts.extend_from_slice(&[0, 0, 1]);
        ts.extend_from_slice(SPS);
        ts.extend_from_slice(&[0, 0, 0, 1]);
        ts.extend_from_slice(SEI);
        ts.extend_from_slice(&[0, 0, 1]);
        ts.extend_from_slice(SLICE_ESCAPED);
        ts.extend_from_slice(&[0, 0]); // trailing_zero_8bits
        let a = fingerprint_avcc(&flv, 4, Codec::H264).unwrap();
        let b = fingerprint_annexb(&ts, Codec::H264).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            fingerprint_avcc(&avcc(&[SLICE_ESCAPED], 2), 2, Codec::H264),
            Some(a)
        );
    }

    #[test]
    fn fingerprint_ignores_emulation_prevention_bytes() {
        let unescaped: &[u8] = &[0x41, 0x9a, 0x00, 0x00, 0x01, 0x22, 0x80];
        let a = fingerprint_avcc(&avcc(&[SLICE_ESCAPED], 4), 4, Codec::H264);
        let b = fingerprint_avcc(&avcc(&[unescaped], 4), 4, Codec::H264);
        assert_eq!(a, b);
    }

    #[test]
    fn fingerprint_skips_aud_sps_pps_sei() {
        let a = fingerprint_avcc(&avcc(&[SLICE_ESCAPED], 4), 4, Codec::H264);
        let b = fingerprint_avcc(
            &avcc(&[AUD, SPS, SEI, SLICE_ESCAPED, SEI], 4),
            4,
            Codec::H264,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn fingerprint_of_data_without_slices_is_none() {
        assert_eq!(
            fingerprint_avcc(&avcc(&[AUD, SPS, SEI], 4), 4, Codec::H264),
            None
        );
        assert_eq!(fingerprint_annexb(&[], Codec::H264), None);
    }

    #[test]
    fn different_slices_give_different_fingerprints() {
        let other: &[u8] = &[0x41, 0x9a, 0x00, 0x00, 0x03, 0x01, 0x22, 0x81];
        let a = fingerprint_avcc(&avcc(&[SLICE_ESCAPED], 4), 4, Codec::H264);
        let b = fingerprint_avcc(&avcc(&[other], 4), 4, Codec::H264);
        assert_ne!(a, b);
        // Moving a byte from one slice to the next is a different picture too.
        let s1: &[u8] = &[0x41, 1, 2];
        let s2: &[u8] = &[0x41, 3];
        let t1: &[u8] = &[0x41, 1];
        let t2: &[u8] = &[2, 0x41, 3];
        assert_ne!(
            fingerprint_avcc(&avcc(&[s1, s2], 4), 4, Codec::H264),
            fingerprint_avcc(&avcc(&[t1, t2], 4), 4, Codec::H264)
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn fingerprint_is_a_hex_string_in_json() {
        let f = Fingerprint(0x0123_4567_89ab_cdef);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, "\"0123456789abcdef\"");
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), f);
        assert!(serde_json::from_str::<Fingerprint>("\"xyz\"").is_err());
        assert!(serde_json::from_str::<Fingerprint>("81985529216486895").is_err());
    }

    #[test]
    fn hevc_vcl_types_are_slices_and_parameter_sets_are_not() {
        let vps: &[u8] = &[0x40, 0x01, 0x0c];
        let idr: &[u8] = &[0x26, 0x01, 0xaf, 0x11];
        let a = fingerprint_avcc(&avcc(&[vps, idr], 4), 4, Codec::Hevc);
        let b = fingerprint_avcc(&avcc(&[idr], 4), 4, Codec::Hevc);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(fingerprint_avcc(&avcc(&[vps], 4), 4, Codec::Hevc), None);
    }

    #[test]
    fn fingerprint_prints_as_sixteen_hex_digits() {
        assert_eq!(Fingerprint(0xab).to_string(), "00000000000000ab");
        let f = Fingerprint(0xc644_63cc_4ca2_f222);
        assert_eq!(&f.hex(), b"c64463cc4ca2f222");
        assert_eq!(Fingerprint::from_hex("c64463cc4ca2f222"), Some(f));
        assert_eq!(Fingerprint::from_hex("C64463CC4CA2F222"), Some(f));
        assert_eq!(Fingerprint::from_hex("c64463cc4ca2f22"), None);
        assert_eq!(Fingerprint::from_hex("+64463cc4ca2f222"), None);
    }
}
