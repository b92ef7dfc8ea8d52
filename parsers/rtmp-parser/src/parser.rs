//! Stateless nom `streaming` parsers for the RTMP wire: handshake parts and chunk
//! headers. `Err::Incomplete` means "feed more bytes"; the state lives in
//! [`crate::session`].

use nom::number::streaming::{be_u24, be_u8, le_u32};
use nom::IResult;

/// Length of C1/C2/S1/S2.
pub const HANDSHAKE_LEN: usize = 1536;

/// Chunk basic header: format (header type 0–3) and chunk stream id (2..=65599).
pub fn basic_header(i: &[u8]) -> IResult<&[u8], (u8, u32)> {
    let (i, b) = be_u8(i)?;
    let fmt = b >> 6;
    match b & 0x3f {
        0 => {
            let (i, b1) = be_u8(i)?;
            Ok((i, (fmt, 64 + u32::from(b1))))
        }
        1 => {
            let (i, b1) = be_u8(i)?;
            let (i, b2) = be_u8(i)?;
            Ok((i, (fmt, 64 + u32::from(b1) + 256 * u32::from(b2))))
        }
        csid => Ok((i, (fmt, u32::from(csid)))),
    }
}

/// The fields a chunk message header carries; absent fields are inherited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    pub fmt: u8,
    pub csid: u32,
    /// The 24-bit timestamp (type 0) or timestamp delta (types 1, 2) field.
    pub timestamp_field: Option<u32>,
    pub length: Option<u32>,
    pub type_id: Option<u8>,
    pub msid: Option<u32>,
    /// The extended timestamp, read when `timestamp_field` is `0xFFFFFF`. For type 3
    /// the session decides whether one is present (see `session.rs`).
    pub extended: Option<u32>,
}

impl RawHeader {
    /// The effective timestamp field: extended when present.
    pub fn timestamp_value(&self) -> Option<u32> {
        self.extended.or(self.timestamp_field)
    }
}

/// Marker value of the 24-bit timestamp field meaning "extended timestamp follows".
pub const EXTENDED: u32 = 0xff_ffff;

/// Basic header plus the message header of its format (plus the extended timestamp
/// for formats 0–2). Format 3 returns right after the basic header.
pub fn chunk_header(i: &[u8]) -> IResult<&[u8], RawHeader> {
    let (i, (fmt, csid)) = basic_header(i)?;
    let mut h = RawHeader {
        fmt,
        csid,
        timestamp_field: None,
        length: None,
        type_id: None,
        msid: None,
        extended: None,
    };
    if fmt == 3 {
        return Ok((i, h));
    }
    let (mut i, ts) = be_u24(i)?;
    h.timestamp_field = Some(ts);
    if fmt <= 1 {
        let (rest, len) = be_u24(i)?;
        let (rest, t) = be_u8(rest)?;
        h.length = Some(len);
        h.type_id = Some(t);
        i = rest;
    }
    if fmt == 0 {
        // The message stream id is the one little-endian field of RTMP.
        let (rest, msid) = le_u32(i)?;
        h.msid = Some(msid);
        i = rest;
    }
    if ts == EXTENDED {
        let (rest, ext) = nom::number::streaming::be_u32(i)?;
        h.extended = Some(ext);
        i = rest;
    }
    Ok((i, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_has_one_two_or_three_bytes() {
        assert_eq!(basic_header(&[0x03]).unwrap().1, (0, 3));
        assert_eq!(basic_header(&[0xc0, 0x00]).unwrap().1, (3, 64));
        assert_eq!(basic_header(&[0x41, 0xff, 0xff]).unwrap().1, (1, 65599));
        assert!(basic_header(&[0x41, 0xff]).unwrap_err().is_incomplete());
    }

    #[test]
    fn type_0_header_from_ffmpeg_connect() {
        // publish.c2s.bin offset 3073: first chunk header of "connect".
        let h = [0x03, 0, 0, 0, 0, 0, 0x8c, 0x14, 0, 0, 0, 0];
        let (rest, h) = chunk_header(&h).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            (h.fmt, h.csid, h.length, h.type_id, h.msid),
            (0, 3, Some(140), Some(20), Some(0))
        );
    }

    #[test]
    fn extended_timestamp_follows_a_saturated_field() {
        let h = [0x46, 0xff, 0xff, 0xff, 0, 0, 1, 9, 0x01, 0x02, 0x03, 0x04];
        let (_, h) = chunk_header(&h).unwrap();
        assert_eq!(h.timestamp_value(), Some(0x0102_0304));
        assert!(chunk_header(&h_bytes_truncated())
            .unwrap_err()
            .is_incomplete());
    }

    fn h_bytes_truncated() -> [u8; 10] {
        [0x46, 0xff, 0xff, 0xff, 0, 0, 1, 9, 0x01, 0x02]
    }
}
