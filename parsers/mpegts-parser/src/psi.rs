//! Program-specific information: PAT and PMT sections (ISO/IEC 13818-1 §2.4.4).

/// `stream_type` of a PMT entry: an open set, so unknown values survive parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamType(pub u8);

impl StreamType {
    pub const MPEG1_VIDEO: StreamType = StreamType(0x01);
    pub const MPEG2_VIDEO: StreamType = StreamType(0x02);
    pub const MPEG1_AUDIO: StreamType = StreamType(0x03);
    pub const MPEG2_AUDIO: StreamType = StreamType(0x04);
    pub const PRIVATE_SECTIONS: StreamType = StreamType(0x05);
    pub const PES_PRIVATE_DATA: StreamType = StreamType(0x06);
    /// AAC in ADTS framing.
    pub const ADTS_AAC: StreamType = StreamType(0x0f);
    pub const MPEG4_VISUAL: StreamType = StreamType(0x10);
    /// AAC in LATM framing.
    pub const LATM_AAC: StreamType = StreamType(0x11);
    /// Timed metadata (ID3) in PES.
    pub const METADATA_PES: StreamType = StreamType(0x15);
    pub const H264: StreamType = StreamType(0x1b);
    pub const H265: StreamType = StreamType(0x24);
    pub const AC3: StreamType = StreamType(0x81);
    /// SCTE-35 splice information (ad markers).
    pub const SCTE35: StreamType = StreamType(0x86);
    pub const EAC3: StreamType = StreamType(0x87);

    /// The video codec whose access units this demuxer splits out, if any.
    pub fn video_codec(self) -> Option<avc::Codec> {
        match self {
            StreamType::H264 => Some(avc::Codec::H264),
            StreamType::H265 => Some(avc::Codec::Hevc),
            _ => None,
        }
    }
}

/// One elementary stream of a PMT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementaryStream {
    pub pid: u16,
    pub stream_type: StreamType,
    /// The `format_identifier` of its registration descriptor (ISO/IEC 13818-1
    /// §2.6.8, tag 5), if it has one: what a private `stream_type` carries.
    pub format_identifier: Option<[u8; 4]>,
}

impl ElementaryStream {
    /// The video codec whose access units the demuxer splits out: by stream type,
    /// or AV1 by the registration descriptor of a private-data stream (`crate::av1`).
    pub fn video_codec(&self) -> Option<avc::Codec> {
        self.stream_type.video_codec().or_else(|| {
            (self.stream_type == StreamType::PES_PRIVATE_DATA
                && self.format_identifier == Some(crate::av1::FORMAT_IDENTIFIER))
            .then_some(avc::Codec::Av1)
        })
    }
}

/// The `format_identifier` of the first registration descriptor in a descriptor
/// loop.
fn format_identifier(mut descriptors: &[u8]) -> Option<[u8; 4]> {
    while descriptors.len() >= 2 {
        let (tag, len) = (descriptors[0], usize::from(descriptors[1]));
        let body = descriptors.get(2..2 + len)?;
        if tag == 0x05 && len >= 4 {
            return body[..4].try_into().ok();
        }
        descriptors = &descriptors[2 + len..];
    }
    None
}

/// A program map table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramMap {
    pub program_number: u16,
    /// The PID the PMT came on.
    pub pmt_pid: u16,
    pub version: u8,
    pub pcr_pid: u16,
    pub streams: Vec<ElementaryStream>,
}

/// Checks a long-form section header and returns (table_id_extension, version,
/// the section body between the header and the CRC).
fn long_section(section: &[u8], table_id: u8) -> Option<(u16, u8, &[u8])> {
    if section.len() < 12 || section[0] != table_id {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([section[1], section[2]]) & 0x0fff);
    if length < 9 || 3 + length > section.len() {
        return None;
    }
    let extension = u16::from_be_bytes([section[3], section[4]]);
    let version = (section[5] >> 1) & 0x1f;
    // Bytes 6, 7: section numbers; last 4 bytes: CRC_32 (not verified: a
    // corrupted PSI table shows up as an unknown PID or a failed parse anyway).
    Some((extension, version, &section[8..3 + length - 4]))
}

/// The (program_number, PMT PID) pairs of a PAT section; program 0 (the network
/// PID) is left out.
pub(crate) fn parse_pat(section: &[u8]) -> Option<Vec<(u16, u16)>> {
    let (_, _, body) = long_section(section, 0x00)?;
    Some(
        body.chunks_exact(4)
            .map(|e| {
                (
                    u16::from_be_bytes([e[0], e[1]]),
                    u16::from_be_bytes([e[2], e[3]]) & 0x1fff,
                )
            })
            .filter(|&(program, _)| program != 0)
            .collect(),
    )
}

/// A PMT section.
pub(crate) fn parse_pmt(section: &[u8], pmt_pid: u16) -> Option<ProgramMap> {
    let (program_number, version, body) = long_section(section, 0x02)?;
    if body.len() < 4 {
        return None;
    }
    let pcr_pid = u16::from_be_bytes([body[0], body[1]]) & 0x1fff;
    let info_len = usize::from(u16::from_be_bytes([body[2], body[3]]) & 0x0fff);
    let mut rest = body.get(4 + info_len..)?;
    let mut streams = Vec::new();
    while rest.len() >= 5 {
        let es_info = usize::from(u16::from_be_bytes([rest[3], rest[4]]) & 0x0fff);
        streams.push(ElementaryStream {
            stream_type: StreamType(rest[0]),
            pid: u16::from_be_bytes([rest[1], rest[2]]) & 0x1fff,
            format_identifier: rest.get(5..5 + es_info).and_then(format_identifier),
        });
        rest = rest.get(5 + es_info..)?;
    }
    Some(ProgramMap {
        program_number,
        pmt_pid,
        version,
        pcr_pid,
        streams,
    })
}

/// Longest PSI section kept (a PAT/PMT section is at most 1024 bytes; private
/// sections 4096).
const MAX_SECTION: usize = 4096;

/// Collects the sections of one PSI PID across TS packets.
#[derive(Clone, Debug, Default)]
pub(crate) struct SectionAssembler {
    buf: Vec<u8>,
    started: bool,
}

impl SectionAssembler {
    /// Takes one packet's payload; returns the completed sections.
    pub(crate) fn push(&mut self, payload: &[u8], unit_start: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let data = if unit_start {
            let Some((&pointer, rest)) = payload.split_first() else {
                return out;
            };
            let pointer = usize::from(pointer);
            // The bytes before the pointer end the previous section.
            if self.started {
                self.buf.extend_from_slice(&rest[..pointer.min(rest.len())]);
                self.take_complete(&mut out);
            }
            self.buf.clear();
            self.started = true;
            rest.get(pointer..).unwrap_or(&[])
        } else if self.started {
            payload
        } else {
            return out;
        };
        if self.buf.len() + data.len() > MAX_SECTION {
            self.buf.clear();
            self.started = false;
            return out;
        }
        self.buf.extend_from_slice(data);
        self.take_complete(&mut out);
        out
    }

    /// Drops the partial section (after a gap or CC error).
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.started = false;
    }

    fn take_complete(&mut self, out: &mut Vec<Vec<u8>>) {
        loop {
            // 0xff stuffing ends the sections of this packet.
            if self.buf.first().is_none_or(|&b| b == 0xff) || self.buf.len() < 3 {
                if self.buf.first() == Some(&0xff) {
                    self.buf.clear();
                    self.started = false;
                }
                return;
            }
            let len = 3 + usize::from(u16::from_be_bytes([self.buf[1], self.buf[2]]) & 0x0fff);
            if self.buf.len() < len {
                return;
            }
            out.push(self.buf[..len].to_vec());
            self.buf.drain(..len);
        }
    }
}
