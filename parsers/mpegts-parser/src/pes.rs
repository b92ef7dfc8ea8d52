//! PES packet headers (ISO/IEC 13818-1 §2.4.3.6).

/// What the PES header says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PesHeader {
    pub stream_id: u8,
    /// PES_packet_length (0: unbounded, video).
    pub packet_length: u16,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    /// Offset of the payload from the start of the PES packet.
    pub payload_start: usize,
}

/// Stream ids without the optional header (program_stream_map, padding,
/// private_stream_2, ECM, EMM, directory, DSMCC, H.222.1 type E).
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(
        stream_id,
        0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xff | 0xf2 | 0xf8
    )
}

/// A 33-bit timestamp in its 5-byte coding (marker bits not checked: encoders
/// get them right and a wrong marker does not change the value).
fn timestamp(b: &[u8]) -> u64 {
    (u64::from(b[0] >> 1) & 0x07) << 30
        | u64::from(b[1]) << 22
        | (u64::from(b[2]) >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4]) >> 1
}

/// Parses the header at the start of a PES packet. `Err(())` if it is not one;
/// `Ok(None)` if more bytes are needed.
pub(crate) fn parse(data: &[u8]) -> Result<Option<PesHeader>, ()> {
    if data.len() < 6 {
        return if data.iter().zip([0u8, 0, 1]).all(|(a, b)| *a == b) {
            Ok(None)
        } else {
            Err(())
        };
    }
    if data[..3] != [0, 0, 1] {
        return Err(());
    }
    let mut h = PesHeader {
        stream_id: data[3],
        packet_length: u16::from_be_bytes([data[4], data[5]]),
        payload_start: 6,
        ..PesHeader::default()
    };
    if !has_optional_header(h.stream_id) {
        return Ok(Some(h));
    }
    if data.len() < 9 {
        return Ok(None);
    }
    let flags = data[7] >> 6;
    let header_len = usize::from(data[8]);
    h.payload_start = 9 + header_len;
    if data.len() < h.payload_start {
        return Ok(None);
    }
    let opt = &data[9..h.payload_start];
    match flags {
        0b10 if opt.len() >= 5 => h.pts = Some(timestamp(&opt[..5])),
        0b11 if opt.len() >= 10 => {
            h.pts = Some(timestamp(&opt[..5]));
            h.dts = Some(timestamp(&opt[5..10]));
        }
        0b00 => {}
        _ => return Err(()),
    }
    Ok(Some(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_pes_header_from_nginx_segment_gives_pts_and_dts() {
        // nginx-test-0.ts offset 0x184: the first video PES header (TS packet 2,
        // PID 0x100, after a 7-byte adaptation field with RAI and PCR) and the
        // start of its payload (an AUD). ffprobe: pts 69030, dts 63000.
        let bytes = [
            0x00, 0x00, 0x01, 0xe0, 0x0d, 0x9e, 0x80, 0xc0, 0x0a, 0x31, 0x00, 0x05, 0x1b, 0x4d,
            0x11, 0x00, 0x03, 0xec, 0x31, 0x00, 0x00, 0x00, 0x01, 0x09,
        ];
        let h = parse(&bytes).unwrap().unwrap();
        assert_eq!((h.stream_id, h.packet_length), (0xe0, 0x0d9e));
        assert_eq!((h.pts, h.dts), (Some(69030), Some(63000)));
        assert_eq!(h.payload_start, 19);
    }

    #[test]
    fn truncated_header_asks_for_more_and_garbage_is_refused() {
        assert_eq!(
            parse(&[0, 0, 1, 0xe0, 0, 0, 0x80, 0xc0, 0x0a, 0x21]),
            Ok(None)
        );
        assert_eq!(parse(&[0, 0, 2]), Err(()));
        assert_eq!(parse(&[0, 0, 1, 0xe0, 0, 0, 0x80, 0x40, 0x00]), Err(()));
    }
}
