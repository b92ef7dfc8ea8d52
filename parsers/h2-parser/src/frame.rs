//! The HTTP/2 frame layer (RFC 9113 §4, §6): the 9-byte frame header, frame types,
//! flags and the fixed lengths some frames must have.

/// Bytes of a frame header: length (24 bits), type, flags, stream identifier.
pub(crate) const HEADER_LEN: usize = 9;

pub(crate) const DATA: u8 = 0x0;
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const PRIORITY: u8 = 0x2;
pub(crate) const RST_STREAM: u8 = 0x3;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const PUSH_PROMISE: u8 = 0x5;
pub(crate) const PING: u8 = 0x6;
pub(crate) const GOAWAY: u8 = 0x7;
pub(crate) const WINDOW_UPDATE: u8 = 0x8;
pub(crate) const CONTINUATION: u8 = 0x9;

/// DATA, HEADERS: the sender's last frame on the stream.
pub(crate) const END_STREAM: u8 = 0x1;
/// SETTINGS, PING: an acknowledgement.
pub(crate) const ACK: u8 = 0x1;
/// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends with this frame.
pub(crate) const END_HEADERS: u8 = 0x4;
/// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads, padding trails.
pub(crate) const PADDED: u8 = 0x8;
/// HEADERS: 5 bytes of priority (dependency, weight) follow the pad length.
pub(crate) const PRIORITY_FLAG: u8 = 0x20;

/// SETTINGS parameters this crate acts on.
pub(crate) const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub(crate) const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    /// Stream identifier without the reserved bit.
    pub stream: u32,
}

impl FrameHeader {
    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether frames of this type are defined by RFC 9113 (others are skipped).
    pub(crate) fn known(&self) -> bool {
        self.kind <= CONTINUATION
    }

    /// Bytes before the field block or data in the payload: the pad length byte
    /// when PADDED, HEADERS' priority fields, PUSH_PROMISE's promised stream id.
    pub(crate) fn lead_len(&self) -> u32 {
        let pad = match self.kind {
            DATA | HEADERS | PUSH_PROMISE if self.has(PADDED) => 1,
            _ => 0,
        };
        pad + match self.kind {
            HEADERS if self.has(PRIORITY_FLAG) => 5,
            PUSH_PROMISE => 4,
            _ => 0,
        }
    }

    /// The length a frame of this type must have, where the RFC fixes it.
    pub(crate) fn length_ok(&self) -> bool {
        match self.kind {
            PRIORITY => self.len == 5,
            RST_STREAM | WINDOW_UPDATE => self.len == 4,
            PING => self.len == 8,
            SETTINGS if self.has(ACK) => self.len == 0,
            SETTINGS => self.len % 6 == 0,
            GOAWAY => self.len >= 8,
            _ => self.len >= self.lead_len(),
        }
    }

    /// Frames that belong to the connection (stream 0) rather than to a stream.
    pub(crate) fn connection_level(&self) -> bool {
        matches!(self.kind, SETTINGS | PING | GOAWAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_the_reserved_bit() {
        let h = FrameHeader::parse(&[0x01, 0x00, 0x02, 0x01, 0x25, 0x80, 0x00, 0x00, 0x0d]);
        assert_eq!(
            h,
            FrameHeader {
                len: 65538,
                kind: HEADERS,
                flags: 0x25,
                stream: 13
            }
        );
        assert!(h.has(END_STREAM) && h.has(END_HEADERS) && h.has(PRIORITY_FLAG));
        assert_eq!(h.lead_len(), 5);
        assert!(!FrameHeader { kind: 0x20, ..h }.known());
    }
}
