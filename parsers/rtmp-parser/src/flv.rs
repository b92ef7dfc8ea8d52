//! FLV audio and video tag headers as carried in RTMP audio (8) and video (9)
//! messages, legacy and Enhanced RTMP (ex-header bit, FourCC), plus the AVC/HEVC
//! decoder configuration records and the NAL units of coded frames.

use avc::{Codec, Fingerprint};
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};
use nom::IResult;

/// FLV video frame type (4 bits legacy, 3 bits enhanced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameType(pub u8);

impl FrameType {
    pub const KEY: Self = Self(1);
    pub const INTER: Self = Self(2);
    pub const DISPOSABLE_INTER: Self = Self(3);
    pub const GENERATED_KEY: Self = Self(4);
    /// Video info/command frame: no picture.
    pub const COMMAND: Self = Self(5);
}

/// Which codec the video message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// Legacy FLV codec id (2 Sorenson, 7 AVC, 12 HEVC in the unofficial extension...).
    Legacy(u8),
    /// Enhanced RTMP FourCC (`avc1`, `hvc1`, `av01`, `vp09`...).
    FourCc([u8; 4]),
}

impl VideoCodec {
    pub const AVC: Self = Self::Legacy(7);

    /// The NAL-unit codec, if this codec frames its pictures as AVCC NAL units.
    pub fn nal_codec(self) -> Option<Codec> {
        match self {
            VideoCodec::Legacy(7) | VideoCodec::FourCc([b'a', b'v', b'c', b'1']) => {
                Some(Codec::H264)
            }
            VideoCodec::Legacy(12) | VideoCodec::FourCc([b'h', b'v', b'c', b'1']) => {
                Some(Codec::Hevc)
            }
            _ => None,
        }
    }
}

/// What a video message carries (AVCPacketType, or the Enhanced RTMP PacketType
/// mapped onto the same meanings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoPacket {
    /// Decoder configuration (AVC sequence header / Enhanced `SequenceStart`).
    SequenceHeader,
    /// Coded frame(s) (AVC NALU / Enhanced `CodedFrames`, `CodedFramesX`).
    CodedFrames,
    EndOfSequence,
    /// Enhanced RTMP `Metadata` (HDR info...).
    Metadata,
    /// A codec without packet types (legacy non-AVC codecs), or a command frame.
    Raw,
    /// A packet type this crate does not know (multitrack, ModEx...).
    Other(u8),
}

/// Decoder configuration record (AVCDecoderConfigurationRecord or
/// HEVCDecoderConfigurationRecord), the parts lagtap needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    pub codec: Codec,
    /// Profile indication (AVC) / general_profile_idc (HEVC).
    pub profile: u8,
    /// Level indication (AVC) / general_level_idc (HEVC).
    pub level: u8,
    /// Bytes of each NAL length prefix in coded frames (1, 2 or 4).
    pub nal_length_size: u8,
    /// Parameter sets: SPS (and VPS for HEVC).
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
}

/// A decoded video message.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    pub frame_type: FrameType,
    pub codec: VideoCodec,
    /// Whether the Enhanced RTMP ex-header bit was set.
    pub enhanced: bool,
    pub packet: VideoPacket,
    /// Composition time offset (PTS − DTS) in ms, signed 24-bit; 0 where absent.
    pub composition_time: i32,
    /// For sequence headers (boxed: rare, and large next to a frame's other fields).
    pub config: Option<Box<DecoderConfig>>,
    /// NAL unit types of a coded frame, in order (AVC/HEVC only).
    pub nal_types: avc::NalTypes,
    /// Fingerprint of the coded picture (slices only), see [`avc::fingerprint_nals`].
    pub fingerprint: Option<Fingerprint>,
    /// The NAL length size used to split the frame, and whether it came from a
    /// sequence header (false: assumed 4).
    pub nal_length_size: u8,
    /// A NAL length prefix ran past the end of the message.
    pub nal_truncated: bool,
}

/// A decoded audio message header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioInfo {
    /// SoundFormat (10 = AAC, 2 = MP3, 9 = Enhanced RTMP ex-header).
    pub format: u8,
    /// SoundRate (0 5.5 kHz, 1 11 kHz, 2 22 kHz, 3 44 kHz).
    pub rate: u8,
    pub sample_16bit: bool,
    pub stereo: bool,
    /// AACPacketType (0 sequence header, 1 raw) for AAC.
    pub aac_packet_type: Option<u8>,
    /// Enhanced RTMP audio: packet type and FourCC.
    pub ex_packet_type: Option<u8>,
    pub fourcc: Option<[u8; 4]>,
}

/// Decode an audio tag header from the first bytes of the payload.
pub fn decode_audio(d: &[u8]) -> Option<AudioInfo> {
    let &b0 = d.first()?;
    let format = b0 >> 4;
    let mut info = AudioInfo {
        format,
        rate: (b0 >> 2) & 3,
        sample_16bit: b0 & 2 != 0,
        stereo: b0 & 1 != 0,
        aac_packet_type: None,
        ex_packet_type: None,
        fourcc: None,
    };
    match format {
        10 => info.aac_packet_type = Some(*d.get(1)?),
        9 => {
            info.ex_packet_type = Some(b0 & 0x0f);
            info.fourcc = Some(d.get(1..5)?.try_into().ok()?);
        }
        _ => {}
    }
    Some(info)
}

fn si24(b: &[u8]) -> i32 {
    let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    ((v << 8) as i32) >> 8
}

/// Why a video payload did not decode.
pub type VideoError = &'static str;

/// Decode a video message. `nal_length_size` is the NAL length size learnt from the
/// last sequence header of this message stream (`None`: not seen; 4 is assumed).
pub fn decode_video(d: &[u8], nal_length_size: Option<u8>) -> Result<VideoInfo, VideoError> {
    let &b0 = d.first().ok_or("rtmp.video_empty")?;
    let enhanced = b0 & 0x80 != 0;
    let (frame_type, codec, packet, composition_time, body) = if enhanced {
        let fourcc: [u8; 4] = d
            .get(1..5)
            .ok_or("rtmp.video_truncated_header")?
            .try_into()
            .map_err(|_| "rtmp.video_truncated_header")?;
        let codec = VideoCodec::FourCc(fourcc);
        let pt = b0 & 0x0f;
        let body = &d[5..];
        let (packet, ct, body) = match pt {
            0 => (VideoPacket::SequenceHeader, 0, body),
            1 if matches!(&fourcc, b"avc1" | b"hvc1") => {
                if body.len() < 3 {
                    return Err("rtmp.video_truncated_header");
                }
                (VideoPacket::CodedFrames, si24(body), &body[3..])
            }
            1 | 3 => (VideoPacket::CodedFrames, 0, body),
            2 => (VideoPacket::EndOfSequence, 0, body),
            4 => (VideoPacket::Metadata, 0, body),
            other => (VideoPacket::Other(other), 0, body),
        };
        (FrameType((b0 >> 4) & 7), codec, packet, ct, body)
    } else {
        let codec = VideoCodec::Legacy(b0 & 0x0f);
        let frame_type = FrameType(b0 >> 4);
        if codec.nal_codec().is_some() && frame_type != FrameType::COMMAND {
            let h = d.get(1..5).ok_or("rtmp.video_truncated_header")?;
            let packet = match h[0] {
                0 => VideoPacket::SequenceHeader,
                1 => VideoPacket::CodedFrames,
                2 => VideoPacket::EndOfSequence,
                other => VideoPacket::Other(other),
            };
            (frame_type, codec, packet, si24(&h[1..4]), &d[5..])
        } else {
            (frame_type, codec, VideoPacket::Raw, 0, &d[1..])
        }
    };
    let mut info = VideoInfo {
        frame_type,
        codec,
        enhanced,
        packet,
        composition_time,
        config: None,
        nal_types: avc::NalTypes::new(),
        fingerprint: None,
        nal_length_size: nal_length_size.unwrap_or(4),
        nal_truncated: false,
    };
    let Some(nal_codec) = codec.nal_codec() else {
        return Ok(info);
    };
    match packet {
        VideoPacket::SequenceHeader => {
            let parsed = match nal_codec {
                Codec::H264 => avc_config(body),
                Codec::Hevc => hevc_config(body),
            };
            let (_, config) = parsed.map_err(|_| "rtmp.video_bad_decoder_config")?;
            info.nal_length_size = config.nal_length_size;
            info.config = Some(Box::new(config));
        }
        VideoPacket::CodedFrames => {
            let mut it = avc::iter_avcc(body, info.nal_length_size);
            info.nal_types = it.by_ref().filter_map(|n| n.nal_type(nal_codec)).collect();
            info.nal_truncated = it.is_truncated();
            info.fingerprint = avc::fingerprint_avcc(body, info.nal_length_size, nal_codec);
        }
        _ => {}
    }
    Ok(info)
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1).
fn avc_config(i: &[u8]) -> IResult<&[u8], DecoderConfig> {
    let (i, _version) = be_u8(i)?;
    let (i, profile) = be_u8(i)?;
    let (i, _compat) = be_u8(i)?;
    let (i, level) = be_u8(i)?;
    let (i, len_minus_one) = be_u8(i)?;
    let (mut i, num_sps) = be_u8(i)?;
    let mut sps = Vec::new();
    for _ in 0..(num_sps & 0x1f) {
        let (rest, len) = be_u16(i)?;
        let (rest, s) = take(len)(rest)?;
        sps.push(s.to_vec());
        i = rest;
    }
    let (mut i, num_pps) = be_u8(i)?;
    let mut pps = Vec::new();
    for _ in 0..num_pps {
        let (rest, len) = be_u16(i)?;
        let (rest, p) = take(len)(rest)?;
        pps.push(p.to_vec());
        i = rest;
    }
    // High-profile extensions (chroma format...) may follow; not needed.
    Ok((
        i,
        DecoderConfig {
            codec: Codec::H264,
            profile,
            level,
            nal_length_size: (len_minus_one & 3) + 1,
            sps,
            pps,
        },
    ))
}

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1).
fn hevc_config(i: &[u8]) -> IResult<&[u8], DecoderConfig> {
    let (i, fixed) = take(22usize)(i)?;
    let profile = fixed[1] & 0x1f;
    let level = fixed[12];
    let nal_length_size = (fixed[21] & 3) + 1;
    let (mut i, num_arrays) = be_u8(i)?;
    let (mut sps, mut pps) = (Vec::new(), Vec::new());
    for _ in 0..num_arrays {
        let (rest, t) = be_u8(i)?;
        let (mut rest, n) = be_u16(rest)?;
        for _ in 0..n {
            let (r, len) = be_u16(rest)?;
            let (r, nal) = take(len)(r)?;
            match t & 0x3f {
                avc::hevc::VPS | avc::hevc::SPS => sps.push(nal.to_vec()),
                avc::hevc::PPS => pps.push(nal.to_vec()),
                _ => {}
            }
            rest = r;
        }
        i = rest;
    }
    Ok((
        i,
        DecoderConfig {
            codec: Codec::Hevc,
            profile,
            level,
            nal_length_size,
            sps,
            pps,
        },
    ))
}
