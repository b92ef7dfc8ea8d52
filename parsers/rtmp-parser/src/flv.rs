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
    /// An Enhanced RTMP command frame (seek start/end): it names no codec.
    Unnamed,
}

impl VideoCodec {
    pub const AVC: Self = Self::Legacy(7);

    /// The codec as a FourCC: the Enhanced RTMP one, or for legacy AVC (7) and the
    /// unofficial legacy HEVC id (12) the FourCC E-RTMP gives the same codec, so
    /// that one name means one codec in lagtap's events.
    pub fn fourcc(self) -> Option<[u8; 4]> {
        match self {
            VideoCodec::FourCc(f) => Some(f),
            VideoCodec::Legacy(7) => Some(*b"avc1"),
            VideoCodec::Legacy(12) => Some(*b"hvc1"),
            _ => None,
        }
    }

    /// The NAL-unit codec, if this codec frames its pictures as AVCC NAL units.
    pub fn nal_codec(self) -> Option<Codec> {
        self.codec().filter(|c| c.has_nal_units())
    }

    /// The codec lagtap fingerprints frames of: H.264 and HEVC (AVCC NAL units),
    /// AV1 (`av01`: OBUs, E-RTMP "Enhanced Video" with the AV1 ISOBMFF binding's
    /// sample format) and VP9 (`vp09`: the frame as the encoder wrote it).
    pub fn codec(self) -> Option<Codec> {
        match self {
            VideoCodec::Legacy(7) | VideoCodec::FourCc([b'a', b'v', b'c', b'1']) => {
                Some(Codec::H264)
            }
            VideoCodec::Legacy(12) | VideoCodec::FourCc([b'h', b'v', b'c', b'1']) => {
                Some(Codec::Hevc)
            }
            VideoCodec::FourCc([b'a', b'v', b'0', b'1']) => Some(Codec::Av1),
            VideoCodec::FourCc([b'v', b'p', b'0', b'9']) => Some(Codec::Vp9),
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
    /// Enhanced RTMP `MPEG2TSSequenceStart`: the codec's MPEG-TS descriptor (AV1)
    /// as a decoder configuration.
    Mpeg2TsSequenceStart,
    /// A codec without packet types (legacy non-AVC codecs), or a command frame.
    Raw,
    /// A packet type this crate does not know.
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
    /// Fingerprint of the coded picture (slices, AV1 picture OBUs, the VP9 frame),
    /// see [`avc::fingerprint_frame`].
    pub fingerprint: Option<Fingerprint>,
    /// The NAL length size used to split the frame, and whether it came from a
    /// sequence header (false: assumed 4).
    pub nal_length_size: u8,
    /// A NAL length prefix ran past the end of the message.
    pub nal_truncated: bool,
    /// Enhanced RTMP multitrack: the `videoTrackId` of this track (`None` for a
    /// message that is not multitrack, which carries the default track 0).
    pub track_id: Option<u8>,
    /// Enhanced RTMP multitrack with several tracks: `sizeOfVideoTrack`, the bytes
    /// of this track's body (the message holds the other tracks too).
    pub track_len: Option<u32>,
    /// Enhanced RTMP v2 ModEx `TimestampOffsetNano`: nanoseconds to add to the
    /// message's millisecond timestamp.
    pub timestamp_offset_ns: Option<u32>,
    /// OBS's Broadcast Performance Metrics in the frame's SEI (H.264, HEVC) or
    /// metadata OBUs (AV1), see [`avc::bpm`]; empty without (no allocation).
    pub bpm: Vec<avc::bpm::Bpm>,
    /// The frame's timecode (H.264 picture timing clock timestamps, HEVC time code
    /// SEI, AV1 timecode metadata), see [`avc::timecode`]; boxed, rare.
    pub timecode: Option<Box<avc::timecode::FrameTimecode>>,
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
    /// Enhanced RTMP audio: `AudioPacketType` (0 SequenceStart, 1 CodedFrames,
    /// 2 SequenceEnd, 4 MultichannelConfig) and `AudioFourCc`.
    pub ex_packet_type: Option<u8>,
    pub fourcc: Option<[u8; 4]>,
    /// Enhanced RTMP multitrack: this track's `audioTrackId` (`None`: not
    /// multitrack, the default track 0).
    pub track_id: Option<u8>,
    /// Enhanced RTMP multitrack with several tracks: `sizeOfAudioTrack`.
    pub track_len: Option<u32>,
    /// Enhanced RTMP v2 ModEx `TimestampOffsetNano`.
    pub timestamp_offset_ns: Option<u32>,
}

impl AudioInfo {
    /// The codec as a FourCC: the Enhanced RTMP one, else the legacy SoundFormat's
    /// counterpart among E-RTMP's `AudioFourCc` values (AAC `mp4a`, MP3 `.mp3`), or
    /// `None` for the other legacy formats.
    pub fn codec_fourcc(&self) -> Option<[u8; 4]> {
        self.fourcc.or(match self.format {
            10 => Some(*b"mp4a"),
            2 | 14 => Some(*b".mp3"),
            _ => None,
        })
    }
}

/// Most tracks decoded from one Enhanced RTMP multitrack message. Track ids are one
/// byte, so a message with more tracks than ids repeats ids: corruption, not a
/// stream (and each track is an event, so the bound caps the work per message).
pub const MAX_TRACKS: usize = 256;

/// Why an audio or video payload did not decode (an anomaly reason).
pub type VideoError = &'static str;

/// Reads the fields of an Enhanced RTMP header one after another; running out of
/// bytes is the error given at construction.
struct Cursor<'a> {
    d: &'a [u8],
    short: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.d.len() < n {
            return Err(self.short);
        }
        let (head, rest) = self.d.split_at(n);
        self.d = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u32, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u32, |v, &b| (v << 8) | u32::from(b)))
    }

    fn fourcc(&mut self) -> Result<[u8; 4], &'static str> {
        let mut f = [0u8; 4];
        f.copy_from_slice(self.take(4)?);
        Ok(f)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.d)
    }
}

/// E-RTMP v2 packet type 7 of both audio and video.
const PACKET_MOD_EX: u8 = 7;

/// Skips the ModEx prefixes of an Enhanced RTMP audio or video header (E-RTMP v2,
/// "Enhanced Audio" and "Enhanced Video": `while (packetType == ModEx)`), keeping the
/// one modifier defined so far, `TimestampOffsetNano` (ModEx type 0, a UI24 in the
/// first three bytes of the ModEx data). Returns the packet type the last ModEx
/// byte names. Every round consumes at least two bytes, so the loop ends.
fn mod_ex(c: &mut Cursor<'_>, mut packet_type: u8) -> Result<(u8, Option<u32>), &'static str> {
    let mut nano = None;
    while packet_type == PACKET_MOD_EX {
        let mut size = usize::from(c.u8()?) + 1;
        if size == 256 {
            size = c.uint(2)? as usize + 1;
        }
        let data = c.take(size)?;
        let b = c.u8()?;
        if b >> 4 == 0 && data.len() >= 3 {
            nano = Some(Cursor { d: data, short: "" }.uint(3)?);
        }
        packet_type = b & 0x0f;
    }
    Ok((packet_type, nano))
}

/// The multitrack prefix (E-RTMP v2, "Multitrack Streaming via Enhanced RTMP"):
/// `AvMultitrackType` (0 OneTrack, 1 ManyTracks, 2 ManyTracksManyCodecs) and the
/// packet type every track shares, then the shared FourCC unless each track names
/// its own. Without it, the FourCC follows directly.
fn multitrack_prefix(
    c: &mut Cursor<'_>,
    packet_type: u8,
    multitrack_code: u8,
    nested: &'static str,
    unknown: &'static str,
) -> Result<Layout, &'static str> {
    if packet_type != multitrack_code {
        return Ok(Layout {
            multitrack: None,
            packet_type,
            shared: Some(c.fourcc()?),
        });
    }
    let b = c.u8()?;
    let (kind, packet_type) = (b >> 4, b & 0x0f);
    if packet_type == multitrack_code {
        return Err(nested);
    }
    if kind > 2 {
        return Err(unknown);
    }
    let shared = if kind == 2 { None } else { Some(c.fourcc()?) };
    Ok(Layout {
        multitrack: Some(kind),
        packet_type,
        shared,
    })
}

/// How an Enhanced RTMP message lays out its tracks.
struct Layout {
    /// `AvMultitrackType`, or `None` for a single-track message.
    multitrack: Option<u8>,
    /// The packet type of every track.
    packet_type: u8,
    /// The FourCC of every track, unless each names its own.
    shared: Option<[u8; 4]>,
}

/// One track of an Enhanced RTMP message.
struct Track<'a> {
    fourcc: [u8; 4],
    id: Option<u8>,
    len: Option<u32>,
    body: &'a [u8],
}

/// Walks the tracks of an Enhanced RTMP body (the `while (processVideoBody)` /
/// `while (processAudioBody)` loops of E-RTMP v2): one track without multitrack or
/// with OneTrack; with ManyTracks(ManyCodecs) each track is [FourCC] trackId
/// UI24-size body, until the message ends.
fn for_each_track<'a>(
    c: &mut Cursor<'a>,
    &Layout {
        multitrack, shared, ..
    }: &Layout,
    truncated: &'static str,
    mut each: impl FnMut(Track<'a>) -> Result<(), &'static str>,
) -> Result<(), &'static str> {
    let Some(kind) = multitrack else {
        let fourcc = shared.ok_or(truncated)?;
        let body = c.rest();
        return each(Track {
            fourcc,
            id: None,
            len: None,
            body,
        });
    };
    for _ in 0..MAX_TRACKS {
        let fourcc = match shared {
            Some(f) => f,
            None => c.fourcc()?,
        };
        let id = Some(c.u8()?);
        if kind == 0 {
            let body = c.rest();
            return each(Track {
                fourcc,
                id,
                len: None,
                body,
            });
        }
        let len = c.uint(3)?;
        let body = c.take(len as usize).map_err(|_| truncated)?;
        each(Track {
            fourcc,
            id,
            len: Some(len),
            body,
        })?;
        if c.d.is_empty() {
            return Ok(());
        }
    }
    Err("rtmp.too_many_tracks")
}

/// Decode an audio message: one [`AudioInfo`] per track (one, unless it is an
/// Enhanced RTMP multitrack message). Legacy audio needs only its first two bytes;
/// Enhanced RTMP audio needs the whole payload when it has ModEx or several tracks.
pub fn decode_audio(d: &[u8]) -> Result<Vec<AudioInfo>, &'static str> {
    let &b0 = d.first().ok_or("rtmp.audio_empty")?;
    let format = b0 >> 4;
    if format != 9 {
        return Ok(vec![AudioInfo {
            format,
            rate: (b0 >> 2) & 3,
            sample_16bit: b0 & 2 != 0,
            stereo: b0 & 1 != 0,
            aac_packet_type: if format == 10 {
                Some(*d.get(1).ok_or("rtmp.audio_truncated_header")?)
            } else {
                None
            },
            ex_packet_type: None,
            fourcc: None,
            track_id: None,
            track_len: None,
            timestamp_offset_ns: None,
        }]);
    }
    // ExAudioTagHeader (E-RTMP v2, "Enhanced Audio"): the low nibble is the
    // AudioPacketType, not rate/size/type.
    let short = "rtmp.audio_truncated_header";
    let mut c = Cursor { d: &d[1..], short };
    let (packet_type, nano) = mod_ex(&mut c, b0 & 0x0f)?;
    let layout = multitrack_prefix(
        &mut c,
        packet_type,
        5,
        "rtmp.audio_multitrack_nested",
        "rtmp.audio_multitrack_unknown_type",
    )?;
    let mut out = Vec::with_capacity(1);
    for_each_track(&mut c, &layout, short, |t| {
        out.push(AudioInfo {
            format,
            rate: 0,
            sample_16bit: false,
            stereo: false,
            aac_packet_type: None,
            ex_packet_type: Some(layout.packet_type),
            fourcc: Some(t.fourcc),
            track_id: t.id,
            track_len: t.len,
            timestamp_offset_ns: nano,
        });
        Ok(())
    })?;
    Ok(out)
}

fn si24(b: &[u8]) -> i32 {
    let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    ((v << 8) as i32) >> 8
}

/// FourCCs whose `CodedFrames` carry a SI24 composition time offset (E-RTMP v2,
/// "Enhanced Video": AVC, HEVC and VVC; `CodedFramesX` is the same without it).
fn has_composition_time(fourcc: &[u8; 4]) -> bool {
    matches!(fourcc, b"avc1" | b"hvc1" | b"vvc1")
}

/// Decode a video message: one [`VideoInfo`] per track (one, unless it is an
/// Enhanced RTMP multitrack message). `state` is what earlier messages of this
/// message stream taught (a closure of the NAL length size will do where timecodes
/// are not wanted): see [`crate::tracks`].
pub fn decode_video(
    d: &[u8],
    mut state: impl crate::tracks::TrackState,
) -> Result<Vec<VideoInfo>, VideoError> {
    let &b0 = d.first().ok_or("rtmp.video_empty")?;
    if b0 & 0x80 == 0 {
        let codec = VideoCodec::Legacy(b0 & 0x0f);
        let frame_type = FrameType(b0 >> 4);
        let (packet, ct, body) = if codec.nal_codec().is_some() && frame_type != FrameType::COMMAND
        {
            let h = d.get(1..5).ok_or("rtmp.video_truncated_header")?;
            let packet = match h[0] {
                0 => VideoPacket::SequenceHeader,
                1 => VideoPacket::CodedFrames,
                2 => VideoPacket::EndOfSequence,
                other => VideoPacket::Other(other),
            };
            (packet, si24(&h[1..4]), &d[5..])
        } else {
            (VideoPacket::Raw, 0, &d[1..])
        };
        let mut info = VideoInfo::new(frame_type, codec, false, packet, ct);
        let size = state.nal_length_size(None);
        nal_part(&mut info, body, size, state.timecode(None))?;
        return Ok(vec![info]);
    }
    // ExVideoTagHeader (E-RTMP v2, "Enhanced Video"): IsExHeader, 3-bit frame type,
    // 4-bit VideoPacketType.
    let short = "rtmp.video_truncated_header";
    let frame_type = FrameType((b0 >> 4) & 7);
    let mut c = Cursor { d: &d[1..], short };
    let (packet_type, nano) = mod_ex(&mut c, b0 & 0x0f)?;
    if packet_type != 4 && frame_type == FrameType::COMMAND {
        // A VideoCommand byte (start/end of seek) and no body, no FourCC.
        c.u8()?;
        let mut info = VideoInfo::new(frame_type, VideoCodec::Unnamed, true, VideoPacket::Raw, 0);
        info.timestamp_offset_ns = nano;
        return Ok(vec![info]);
    }
    let layout = multitrack_prefix(
        &mut c,
        packet_type,
        6,
        "rtmp.video_multitrack_nested",
        "rtmp.video_multitrack_unknown_type",
    )?;
    let mut out = Vec::with_capacity(1);
    for_each_track(&mut c, &layout, short, |t| {
        let (packet, ct, body) = match layout.packet_type {
            0 => (VideoPacket::SequenceHeader, 0, t.body),
            1 if has_composition_time(&t.fourcc) => {
                if t.body.len() < 3 {
                    return Err(short);
                }
                (VideoPacket::CodedFrames, si24(t.body), &t.body[3..])
            }
            1 | 3 => (VideoPacket::CodedFrames, 0, t.body),
            2 => (VideoPacket::EndOfSequence, 0, t.body),
            4 => (VideoPacket::Metadata, 0, t.body),
            5 => (VideoPacket::Mpeg2TsSequenceStart, 0, t.body),
            other => (VideoPacket::Other(other), 0, t.body),
        };
        let mut info = VideoInfo::new(frame_type, VideoCodec::FourCc(t.fourcc), true, packet, ct);
        info.track_id = t.id;
        info.track_len = t.len;
        info.timestamp_offset_ns = nano;
        let size = state.nal_length_size(t.id);
        nal_part(&mut info, body, size, state.timecode(t.id))?;
        out.push(info);
        Ok(())
    })?;
    Ok(out)
}

impl VideoInfo {
    fn new(
        frame_type: FrameType,
        codec: VideoCodec,
        enhanced: bool,
        packet: VideoPacket,
        composition_time: i32,
    ) -> VideoInfo {
        VideoInfo {
            frame_type,
            codec,
            enhanced,
            packet,
            composition_time,
            config: None,
            nal_types: avc::NalTypes::new(),
            fingerprint: None,
            nal_length_size: 4,
            nal_truncated: false,
            track_id: None,
            track_len: None,
            timestamp_offset_ns: None,
            bpm: Vec::new(),
            timecode: None,
        }
    }
}

/// For AVC and HEVC: the decoder configuration of a sequence header, or the NAL
/// types and fingerprint of a coded frame (AVCC framing with the stream's NAL
/// length size). For AV1 and VP9: the fingerprint of a coded frame.
///
/// With the track's timecode tracker: a sequence header's H.264 parameter sets are
/// learnt, and a coded frame's timecode (picture timing or time code SEI, AV1
/// timecode metadata) is read with them.
fn nal_part(
    info: &mut VideoInfo,
    body: &[u8],
    known_size: Option<u8>,
    mut timecode: Option<&mut avc::timecode::Tracker>,
) -> Result<(), VideoError> {
    info.nal_length_size = known_size.unwrap_or(4);
    let Some(codec) = info.codec.codec() else {
        return Ok(());
    };
    if !codec.has_nal_units() {
        if info.packet == VideoPacket::CodedFrames {
            info.fingerprint = avc::fingerprint_frame(body, 0, codec);
            if codec == Codec::Av1 {
                info.bpm = avc::bpm::in_obus(body);
                info.timecode = timecode.and_then(|t| t.frame_obus(body)).map(Box::new);
            }
        }
        return Ok(());
    }
    let nal_codec = codec;
    match info.packet {
        VideoPacket::SequenceHeader => {
            let parsed = match nal_codec {
                Codec::H264 => avc_config(body),
                _ => hevc_config(body),
            };
            let (_, config) = parsed.map_err(|_| "rtmp.video_bad_decoder_config")?;
            info.nal_length_size = config.nal_length_size;
            if let (Some(t), Codec::H264) = (timecode, nal_codec) {
                for ps in config.sps.iter().chain(&config.pps) {
                    t.h264_parameter_set(avc::Nal(ps));
                }
            }
            info.config = Some(Box::new(config));
        }
        VideoPacket::CodedFrames => {
            let mut it = avc::iter_avcc(body, info.nal_length_size);
            info.nal_types = it.by_ref().filter_map(|n| n.nal_type(nal_codec)).collect();
            info.nal_truncated = it.is_truncated();
            info.fingerprint = avc::fingerprint_avcc(body, info.nal_length_size, nal_codec);
            let sei = match nal_codec {
                Codec::H264 => avc::h264::SEI,
                _ => avc::hevc::SEI_SUFFIX,
            };
            if info
                .nal_types
                .iter()
                .any(|&t| t == sei || t == avc::hevc::SEI_PREFIX)
            {
                info.bpm = avc::bpm::in_nals(avc::iter_avcc(body, info.nal_length_size), nal_codec);
                if let Some(t) = timecode.as_deref_mut() {
                    let nals = avc::iter_avcc(body, info.nal_length_size);
                    info.timecode = t.frame_nals(nals, nal_codec).map(Box::new);
                }
            } else if let (Some(t), Codec::H264) = (timecode, nal_codec) {
                // In-band parameter sets without SEI still change the active SPS.
                if info
                    .nal_types
                    .iter()
                    .any(|&n| n == avc::h264::SPS || n == avc::h264::PPS)
                {
                    for nal in avc::iter_avcc(body, info.nal_length_size) {
                        t.h264_parameter_set(nal);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
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
