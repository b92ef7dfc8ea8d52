//! AV1 open bitstream units (OBUs) and the fingerprint of an AV1 temporal unit.
//!
//! An AV1 frame travels as OBUs in the *low overhead bitstream format* (AV1
//! specification §5.2) in both of lagtap's containers: Enhanced RTMP's `av01`
//! `CodedFrames` body and an ISOBMFF/CMAF `av01` sample (AV1 Codec ISO Media File
//! Format Binding §2.4, "AV1 Sample Format"). What may differ between them is what
//! a packager is allowed to change: the binding says a sample should drop the
//! temporal delimiter, may carry the sequence header again, may add metadata and
//! padding OBUs, and lets the *last* OBU of a sample leave out its size field
//! (`obu_has_size_field` = 0). So, as for H.264/HEVC slices, the fingerprint covers
//! only the OBUs that code the picture — frame headers, tile groups, frames and
//! tile lists — and hashes each one's header byte with the size-field flag
//! cleared, its extension byte and its payload, never the LEB128 size.
//!
//! AV1 has no emulation prevention in this format, so the payload is hashed where it
//! lies. Borrow-only, no allocation.

use std::hash::Hasher as _;

use crate::Fingerprint;

/// `obu_type` values (AV1 specification §6.2.2).
pub mod obu_type {
    pub const SEQUENCE_HEADER: u8 = 1;
    pub const TEMPORAL_DELIMITER: u8 = 2;
    pub const FRAME_HEADER: u8 = 3;
    pub const TILE_GROUP: u8 = 4;
    pub const METADATA: u8 = 5;
    pub const FRAME: u8 = 6;
    pub const REDUNDANT_FRAME_HEADER: u8 = 7;
    pub const TILE_LIST: u8 = 8;
    pub const PADDING: u8 = 15;
}

/// One OBU: its header fields and payload (without header, extension and size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obu<'a> {
    /// The first header byte as sent.
    pub header: u8,
    /// The extension byte (temporal and spatial id), if `obu_extension_flag` is set.
    pub extension: Option<u8>,
    pub payload: &'a [u8],
}

impl Obu<'_> {
    /// `obu_type` (bits 1..5 of the header byte).
    pub fn obu_type(&self) -> u8 {
        (self.header >> 3) & 0x0f
    }

    /// Whether this OBU carries coded picture data: a frame header, a tile group, a
    /// frame (header and tile group in one) or a tile list. Sequence headers,
    /// temporal delimiters, metadata, redundant frame headers and padding are what a
    /// packager adds, drops or repeats.
    pub fn is_picture(&self) -> bool {
        matches!(
            self.obu_type(),
            obu_type::FRAME_HEADER | obu_type::TILE_GROUP | obu_type::FRAME | obu_type::TILE_LIST
        )
    }
}

/// Iterate over the OBUs of a low-overhead-format buffer (AV1 specification §5.3:
/// `obu_header()`, then `obu_size` as LEB128 (§4.10.5) if `obu_has_size_field`,
/// else the OBU runs to the end of the buffer).
pub fn iter_obus(data: &[u8]) -> ObuIter<'_> {
    ObuIter {
        rest: data,
        truncated: false,
    }
}

/// Iterator returned by [`iter_obus`]. It stops at the first framing error (a size
/// past the end, a LEB128 longer than 8 bytes, the forbidden bit set);
/// [`ObuIter::is_truncated`] says whether that happened.
#[derive(Clone, Debug)]
pub struct ObuIter<'a> {
    rest: &'a [u8],
    truncated: bool,
}

impl ObuIter<'_> {
    /// Whether iteration stopped at a framing error rather than the end.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for ObuIter<'a> {
    type Item = Obu<'a>;

    fn next(&mut self) -> Option<Obu<'a>> {
        let (&header, mut rest) = self.rest.split_first()?;
        let fail = |it: &mut Self| {
            it.truncated = true;
            it.rest = &[];
            None
        };
        if header & 0x80 != 0 {
            return fail(self); // obu_forbidden_bit
        }
        let extension = if header & 0x04 != 0 {
            let Some((&e, r)) = rest.split_first() else {
                return fail(self);
            };
            rest = r;
            Some(e)
        } else {
            None
        };
        let size = if header & 0x02 != 0 {
            let Some((size, r)) = leb128(rest) else {
                return fail(self);
            };
            rest = r;
            match usize::try_from(size) {
                Ok(s) if s <= rest.len() => s,
                _ => return fail(self),
            }
        } else {
            rest.len()
        };
        let (payload, after) = rest.split_at(size);
        self.rest = after;
        Some(Obu {
            header,
            extension,
            payload,
        })
    }
}

/// `leb128()` of the AV1 specification §4.10.5: at most 8 bytes, value < 2^32 in a
/// conformant stream (a larger one is returned and then fails the length check).
pub(crate) fn leb128(data: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &data[i + 1..]));
        }
    }
    None
}

/// Fingerprint of an AV1 temporal unit (or one frame of it) in the low overhead
/// bitstream format: XXH3-64 over its picture OBUs (see the module doc), each
/// seeded with the hash of those before it as for NAL units; `None` if it holds
/// no picture OBU.
pub fn fingerprint_obus(data: &[u8]) -> Option<Fingerprint> {
    let mut hash: Option<u64> = None;
    for obu in iter_obus(data).filter(Obu::is_picture) {
        let mut h = twox_hash::XxHash3_64::with_seed(hash.unwrap_or(0));
        h.write(&[obu.header & !0x02]);
        if let Some(e) = obu.extension {
            h.write(&[e]);
        }
        h.write(obu.payload);
        hash = Some(h.finish());
    }
    hash.map(Fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    // AV1 specification §5.3.1/§5.3.2: header byte = forbidden(1) type(4)
    // extension_flag(1) has_size_field(1) reserved(1).
    const TD: &[u8] = &[0x12, 0x00]; // temporal delimiter, size 0
    const SEQ: &[u8] = &[0x0a, 0x03, 0x00, 0x00, 0x00]; // sequence header, size 3
    const FRAME: &[u8] = &[0x32, 0x04, 0x10, 0x20, 0x30, 0x40]; // frame, size 4

    #[test]
    fn iterates_sized_and_unsized_obus() {
        let mut data = [TD, SEQ, FRAME].concat();
        data.extend_from_slice(&[0x30, 0x11, 0x22]); // frame without size: rest of buffer
        let obus: Vec<_> = iter_obus(&data)
            .map(|o| (o.obu_type(), o.payload))
            .collect();
        assert_eq!(
            obus,
            vec![
                (2, &[][..]),
                (1, &[0, 0, 0][..]),
                (6, &[0x10, 0x20, 0x30, 0x40][..]),
                (6, &[0x11, 0x22][..])
            ]
        );
    }

    #[test]
    fn fingerprint_ignores_delimiters_headers_and_size_fields() {
        let bare = fingerprint_obus(FRAME);
        assert!(bare.is_some());
        assert_eq!(fingerprint_obus(&[TD, SEQ, FRAME].concat()), bare);
        // The last OBU of an ISOBMFF sample may omit its size (binding §2.4).
        assert_eq!(fingerprint_obus(&[0x30, 0x10, 0x20, 0x30, 0x40]), bare);
        // A two-byte LEB128 of the same size (§4.10.5 allows padding it).
        assert_eq!(
            fingerprint_obus(&[0x32, 0x84, 0x00, 0x10, 0x20, 0x30, 0x40]),
            bare
        );
        assert_eq!(fingerprint_obus(&[TD, SEQ].concat()), None);
        assert_ne!(
            fingerprint_obus(&[0x32, 0x04, 0x10, 0x20, 0x30, 0x41]),
            bare
        );
    }

    #[test]
    fn bad_framing_stops_without_panic() {
        let mut it = iter_obus(&[0x32, 0x09, 1, 2]); // size past the end
        assert_eq!(it.next(), None);
        assert!(it.is_truncated());
        let mut it = iter_obus(&[0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(it.next(), None);
        assert!(it.is_truncated());
        assert!(iter_obus(&[0xb2, 0x00]).next().is_none()); // forbidden bit
        assert!(iter_obus(&[0x36]).next().is_none()); // extension byte missing
    }
}
