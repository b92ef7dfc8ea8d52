//! RFC 6455 frame headers. Payloads are never buffered here: the session streams them
//! through, unmasking as it goes, so a frame's size costs no memory.

/// Largest payload length accepted in a frame header. Chat frames are a few hundred
/// bytes; a length beyond this means the framing was lost (or the stream is not
/// WebSocket), and the direction is given up rather than skipping gigabytes blindly.
pub const MAX_FRAME_PAYLOAD: u64 = 16 << 20;

/// Control frames carry at most 125 bytes (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// A frame opcode, kept open so reserved values survive for the anomaly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    pub const CONTINUATION: Opcode = Opcode(0);
    pub const TEXT: Opcode = Opcode(1);
    pub const BINARY: Opcode = Opcode(2);
    pub const CLOSE: Opcode = Opcode(8);
    pub const PING: Opcode = Opcode(9);
    pub const PONG: Opcode = Opcode(10);

    /// Close, ping, pong and the reserved 0xB..=0xF.
    pub fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// Defined by RFC 6455 (the rest are reserved).
    pub fn is_known(self) -> bool {
        matches!(self.0, 0 | 1 | 2 | 8 | 9 | 10)
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits; RSV1 means permessage-deflate compression.
    pub rsv: u8,
    pub opcode: Opcode,
    /// Masking key; clients must mask, servers must not.
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes of header before the payload (2..=14).
    pub header_len: usize,
}

/// A header that cannot be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Declared payload larger than [`MAX_FRAME_PAYLOAD`].
    TooLong(u64),
    /// Opcode reserved by RFC 6455.
    ReservedOpcode(u8),
}

/// Decode a frame header from the start of `b`: `Ok(None)` when more bytes are needed.
pub fn parse_header(b: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
    let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
        return Ok(None);
    };
    let opcode = Opcode(b0 & 0x0f);
    if !opcode.is_known() {
        return Err(FrameError::ReservedOpcode(opcode.0));
    }
    let (payload_len, mut at) = match b1 & 0x7f {
        126 => match b.get(2..4) {
            Some(x) => (u64::from(u16::from_be_bytes([x[0], x[1]])), 4),
            None => return Ok(None),
        },
        127 => match b.get(2..10).and_then(|x| <[u8; 8]>::try_from(x).ok()) {
            Some(x) => (u64::from_be_bytes(x), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload_len > MAX_FRAME_PAYLOAD {
        return Err(FrameError::TooLong(payload_len));
    }
    let mask = if b1 & 0x80 != 0 {
        let Some(k) = b.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode,
        mask,
        payload_len,
        header_len: at,
    }))
}

/// XOR `data` with the masking key, starting at payload position `pos`.
pub fn unmask(data: &mut [u8], key: [u8; 4], pos: u64) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[((pos + i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // tests/data/irc.pcap, TCP stream 1 (127.0.0.1:56086 → :16668), client direction at
    // stream offset 220 (right after the HTTP upgrade request): bob's first frame.
    const BOB_CAP_LS: [u8; 16] = [
        0x81, 0x8a, 0x2b, 0x2a, 0xa7, 0xdd, 0x68, 0x6b, 0xf7, 0xfd, 0x67, 0x79, 0x87, 0xee, 0x1b,
        0x18,
    ];
    // Same stream, server direction at offset 129 (after the 101 response): the first
    // four bytes of a server frame with a 16-bit length.
    const SERVER_CAP_LS_HEADER: [u8; 4] = [0x81, 0x7e, 0x00, 0x9c];

    #[test]
    fn a_real_masked_client_frame_unmasks_to_its_irc_line() {
        let h = parse_header(&BOB_CAP_LS).unwrap().unwrap();
        assert!(h.fin && h.mask.is_some());
        assert_eq!(
            (h.opcode, h.payload_len, h.header_len),
            (Opcode::TEXT, 10, 6)
        );
        let mut payload = BOB_CAP_LS[6..].to_vec();
        unmask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"CAP LS 302");
    }

    #[test]
    fn unmasking_resumes_at_any_payload_position() {
        let key = [0x2b, 0x2a, 0xa7, 0xdd];
        let mut tail = BOB_CAP_LS[6 + 3..].to_vec();
        unmask(&mut tail, key, 3);
        assert_eq!(tail, b" LS 302");
    }

    #[test]
    fn a_real_server_frame_uses_the_16_bit_length() {
        let h = parse_header(&SERVER_CAP_LS_HEADER).unwrap().unwrap();
        assert_eq!((h.mask, h.payload_len, h.header_len), (None, 156, 4));
    }
}
