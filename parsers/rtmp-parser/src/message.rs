//! Decoded RTMP messages and the decoding of their payloads.
//!
//! Registry values (message types, frame types, codec ids) are open newtypes over
//! their wire integers with named constants, so values this crate does not know
//! survive decoding and are shown as numbers.

use crate::amf::{amf0_value, amf0_values, Amf};
use crate::flv::{AudioInfo, VideoInfo};

/// Which side sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that opened the TCP connection (broadcaster or player).
    ClientToServer,
    /// From the server (ingest).
    ServerToClient,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

/// RTMP message type id (the byte in type-0 and type-1 chunk headers).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u8);

impl MessageType {
    pub const SET_CHUNK_SIZE: Self = Self(1);
    pub const ABORT: Self = Self(2);
    pub const ACKNOWLEDGEMENT: Self = Self(3);
    pub const USER_CONTROL: Self = Self(4);
    pub const WINDOW_ACK_SIZE: Self = Self(5);
    pub const SET_PEER_BANDWIDTH: Self = Self(6);
    pub const AUDIO: Self = Self(8);
    pub const VIDEO: Self = Self(9);
    pub const DATA_AMF3: Self = Self(15);
    pub const SHARED_OBJECT_AMF3: Self = Self(16);
    pub const COMMAND_AMF3: Self = Self(17);
    pub const DATA_AMF0: Self = Self(18);
    pub const SHARED_OBJECT_AMF0: Self = Self(19);
    pub const COMMAND_AMF0: Self = Self(20);
    pub const AGGREGATE: Self = Self(22);

    /// Name from the RTMP specification, or `None` for unassigned values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SetChunkSize",
            2 => "Abort",
            3 => "Acknowledgement",
            4 => "UserControl",
            5 => "WindowAckSize",
            6 => "SetPeerBandwidth",
            8 => "Audio",
            9 => "Video",
            15 => "DataAmf3",
            16 => "SharedObjectAmf3",
            17 => "CommandAmf3",
            18 => "DataAmf0",
            19 => "SharedObjectAmf0",
            20 => "CommandAmf0",
            22 => "Aggregate",
            _ => return None,
        })
    }

    /// Whether the type is assigned by the specification.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// Protocol control messages (types 1–6) travel on chunk stream 2, stream 0.
    pub fn is_control(self) -> bool {
        (1..=6).contains(&self.0)
    }

    /// Whether the decoder needs the whole payload to decode this type. Audio and
    /// unknown types only need their first bytes, which saves copying most of the
    /// audio bytes.
    pub(crate) fn needs_whole_payload(self) -> bool {
        !matches!(self.0, 8) && self.is_known()
    }
}

impl std::fmt::Debug for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "MessageType({})", self.0),
        }
    }
}

/// One reassembled RTMP message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub direction: Direction,
    pub message_type: MessageType,
    pub chunk_stream_id: u32,
    pub message_stream_id: u32,
    /// Timestamp in milliseconds, extended timestamps applied, wrapping at 2^32.
    /// `None` when it is unknowable: after a gap, a chunk stream that resumed with a
    /// delta header (type 1/2/3) has lost its base timestamp until its next type-0.
    pub timestamp: Option<u32>,
    /// Payload length in bytes as declared by the header.
    pub length: u32,
    /// Stream offset of the first byte of the first chunk header of the message.
    pub start: u64,
    /// Stream offset one past the last payload byte of the last chunk.
    pub end: u64,
    /// Whether this message was carried inside an aggregate message (type 22). Its
    /// `start`/`end` are then those of the aggregate.
    pub from_aggregate: bool,
    pub payload: Payload,
}

/// The decoded payload of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    SetChunkSize(u32),
    /// Abort: the chunk stream whose partial message the receiver must drop.
    Abort(u32),
    /// Acknowledgement: bytes received so far (sequence number).
    Acknowledgement(u32),
    UserControl(UserControl),
    WindowAckSize(u32),
    SetPeerBandwidth {
        window: u32,
        /// 0 hard, 1 soft, 2 dynamic.
        limit_type: u8,
    },
    Audio(AudioInfo),
    Video(VideoInfo),
    /// Command (types 20, 17) and data (types 18, 15) messages. Boxed: a command is
    /// large and rare, and every message (mostly audio and video) would otherwise be
    /// as large as one, which showed as copying in decode's profile.
    Command(Box<Command>),
    /// A type this crate does not decode (shared objects, unassigned types).
    Other,
    /// The payload did not decode; the reason is also counted as an anomaly.
    Malformed(&'static str),
}

/// User control message (type 4).
#[derive(Clone, Debug, PartialEq)]
pub enum UserControl {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength { stream_id: u32, buffer_ms: u32 },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    Other { event_type: u16 },
}

/// An AMF command or data message.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// First value (the command or handler name, e.g. `connect`, `@setDataFrame`).
    pub name: String,
    /// Second value of command messages; data messages have none.
    pub transaction_id: Option<f64>,
    /// The values after the name (and after the transaction id for commands).
    pub args: Vec<Amf>,
    /// What lagtap reads out of well-known commands.
    pub known: KnownCommand,
    /// False if the AMF did not decode to the end (what decoded is kept).
    pub complete: bool,
}

/// Well-known commands with their fields pulled out.
#[derive(Clone, Debug, PartialEq)]
pub enum KnownCommand {
    Connect(Connect),
    CreateStream,
    /// `publish(stream key, type)`.
    Publish {
        stream_key: Option<String>,
        publish_type: Option<String>,
    },
    /// `play(stream key, start)`.
    Play {
        stream_key: Option<String>,
        start: Option<f64>,
    },
    /// `releaseStream`, `FCPublish`, `FCUnpublish`, `deleteStream`… naming a stream.
    StreamControl {
        stream_key: Option<String>,
    },
    /// `_result` / `_error` / `onStatus` with the `code` of their info object.
    Status {
        code: Option<String>,
    },
    /// `@setDataFrame("onMetaData", {...})` or `onMetaData({...})`.
    Metadata(Box<Metadata>),
    Other,
}

/// Fields of the `connect` command object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connect {
    pub app: Option<String>,
    pub tc_url: Option<String>,
    pub flash_ver: Option<String>,
    pub swf_url: Option<String>,
    pub page_url: Option<String>,
    pub object_encoding: Option<f64>,
    /// Enhanced RTMP: `fourCcList`, the codecs the client supports (E-RTMP v1/v2,
    /// "Enhancing NetConnection connect Command"; `*` is any codec).
    pub fourcc_list: Vec<String>,
    /// Enhanced RTMP v2: `videoFourCcInfoMap`, FourCC (or `*`) → `FourCcInfoMask`
    /// (1 CanDecode, 2 CanEncode, 4 CanForward).
    pub video_fourcc_info: Vec<(String, f64)>,
    /// Enhanced RTMP v2: `audioFourCcInfoMap`, as `video_fourcc_info`.
    pub audio_fourcc_info: Vec<(String, f64)>,
    /// Enhanced RTMP v2: `capsEx` (`CapsExMask`: 1 Reconnect, 2 Multitrack, 4 ModEx,
    /// 8 TimestampNanoOffset).
    pub caps_ex: Option<f64>,
}

/// Stream metadata (`onMetaData`) as the encoder announced it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub framerate: Option<f64>,
    /// kbit/s.
    pub videodatarate: Option<f64>,
    /// kbit/s.
    pub audiodatarate: Option<f64>,
    pub audiosamplerate: Option<f64>,
    /// Codec id as a number (7 = AVC) or a FourCC string (Enhanced RTMP).
    pub videocodecid: Option<Amf>,
    pub audiocodecid: Option<Amf>,
    pub encoder: Option<String>,
    pub duration: Option<f64>,
    /// All properties, in wire order.
    pub properties: Vec<(String, Amf)>,
}

/// A FourCC given as an AMF value: a four-character string, or (E-RTMP v1/v2,
/// "Enhancing onMetaData") a number whose big-endian bytes are the characters
/// (`"av01"` = 0x61763031 = 1635135537.0). Legacy numeric codec ids (7 for AVC) are
/// small numbers, not FourCCs: `None`.
pub fn amf_fourcc(v: &Amf) -> Option<[u8; 4]> {
    if let Some(s) = v.as_str() {
        return s.as_bytes().try_into().ok();
    }
    let n = v.as_f64()?;
    if !(n >= 16_777_216.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0) {
        return None;
    }
    Some((n as u32).to_be_bytes())
}

impl Metadata {
    /// The video codec as a FourCC, when `videocodecid` names one.
    pub fn video_fourcc(&self) -> Option<[u8; 4]> {
        self.videocodecid.as_ref().and_then(amf_fourcc)
    }

    /// The audio codec as a FourCC, when `audiocodecid` names one.
    pub fn audio_fourcc(&self) -> Option<[u8; 4]> {
        self.audiocodecid.as_ref().and_then(amf_fourcc)
    }

    /// E-RTMP v2 multitrack: the per-track properties of `videoTrackIdInfoMap`
    /// (keys are track ids), in wire order; keys that are not track ids are left
    /// out.
    pub fn video_tracks(&self) -> Vec<(u8, &[(String, Amf)])> {
        self.track_map("videoTrackIdInfoMap")
    }

    /// E-RTMP v2 multitrack: `audioTrackIdInfoMap`, as [`Metadata::video_tracks`].
    pub fn audio_tracks(&self) -> Vec<(u8, &[(String, Amf)])> {
        self.track_map("audioTrackIdInfoMap")
    }

    fn track_map(&self, name: &str) -> Vec<(u8, &[(String, Amf)])> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.properties())
            .map(|p| {
                p.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.properties()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn from_properties(properties: &[(String, Amf)]) -> Metadata {
        let num = |k: &str| {
            properties
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.as_f64())
        };
        let val = |k: &str| {
            properties
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        Metadata {
            width: num("width"),
            height: num("height"),
            framerate: num("framerate").or_else(|| num("fps")),
            videodatarate: num("videodatarate"),
            audiodatarate: num("audiodatarate"),
            audiosamplerate: num("audiosamplerate"),
            videocodecid: val("videocodecid"),
            audiocodecid: val("audiocodecid"),
            encoder: val("encoder").and_then(|v| v.as_str().map(str::to_owned)),
            duration: num("duration"),
            properties: properties.to_vec(),
        }
    }
}

/// `[audio|video]FourCcInfoMap`: an object of FourCC → capability flags.
fn info_map(v: Option<&Amf>) -> Vec<(String, f64)> {
    v.and_then(Amf::properties)
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_string(v: Option<&Amf>) -> Option<String> {
    v.and_then(Amf::as_str).map(str::to_owned)
}

/// Decode a command (`is_command`: types 20/17, with transaction id) or data message
/// (types 18/15) from its AMF0 values. `amf3_prefix`: types 17/15 start with a
/// format byte (0) before the AMF0 values.
pub(crate) fn decode_command(data: &[u8], is_command: bool, amf3_prefix: bool) -> Payload {
    let data = if amf3_prefix {
        match data.split_first() {
            Some((0, rest)) => rest,
            _ => return Payload::Malformed("rtmp.amf3_command_bad_format"),
        }
    } else {
        data
    };
    // The name must decode, else this is not a command at all.
    let Ok((rest, first)) = amf0_value(data, 0) else {
        return Payload::Malformed("rtmp.command_bad_amf");
    };
    let Some(name) = first.as_str().map(str::to_owned) else {
        return Payload::Malformed("rtmp.command_name_not_string");
    };
    let (mut values, complete) = amf0_values(rest);
    let transaction_id = if is_command && !values.is_empty() {
        values.remove(0).as_f64()
    } else {
        None
    };
    let args = values;
    let arg_str = |n: usize| opt_string(args.get(n));
    let known = match name.as_str() {
        "connect" => {
            let obj = args.first();
            let get = |k| opt_string(obj.and_then(|o| o.get(k)));
            KnownCommand::Connect(Connect {
                app: get("app"),
                tc_url: get("tcUrl"),
                flash_ver: get("flashVer"),
                swf_url: get("swfUrl"),
                page_url: get("pageUrl"),
                object_encoding: obj
                    .and_then(|o| o.get("objectEncoding"))
                    .and_then(Amf::as_f64),
                fourcc_list: match obj.and_then(|o| o.get("fourCcList")) {
                    Some(Amf::StrictArray(a)) => {
                        a.iter().filter_map(|v| opt_string(Some(v))).collect()
                    }
                    _ => Vec::new(),
                },
                video_fourcc_info: info_map(obj.and_then(|o| o.get("videoFourCcInfoMap"))),
                audio_fourcc_info: info_map(obj.and_then(|o| o.get("audioFourCcInfoMap"))),
                caps_ex: obj.and_then(|o| o.get("capsEx")).and_then(Amf::as_f64),
            })
        }
        "createStream" => KnownCommand::CreateStream,
        // args[0] is the (null) command object.
        "publish" => KnownCommand::Publish {
            stream_key: arg_str(1),
            publish_type: arg_str(2),
        },
        "play" => KnownCommand::Play {
            stream_key: arg_str(1),
            start: args.get(2).and_then(Amf::as_f64),
        },
        "releaseStream" | "FCPublish" | "FCUnpublish" | "deleteStream" | "closeStream"
        | "getStreamLength" | "FCSubscribe" => KnownCommand::StreamControl {
            stream_key: arg_str(1),
        },
        "_result" | "_error" | "onStatus" => KnownCommand::Status {
            code: args
                .iter()
                .find_map(|a| a.get("code"))
                .and_then(Amf::as_str)
                .map(str::to_owned),
        },
        "@setDataFrame" if !is_command => match (args.first().and_then(Amf::as_str), args.get(1)) {
            (Some("onMetaData"), Some(v)) => match v.properties() {
                Some(p) => KnownCommand::Metadata(Box::new(Metadata::from_properties(p))),
                None => KnownCommand::Other,
            },
            _ => KnownCommand::Other,
        },
        "onMetaData" if !is_command => match args.first().and_then(Amf::properties) {
            Some(p) => KnownCommand::Metadata(Box::new(Metadata::from_properties(p))),
            None => KnownCommand::Other,
        },
        _ => KnownCommand::Other,
    };
    Payload::Command(Box::new(Command {
        name,
        transaction_id,
        args,
        known,
        complete,
    }))
}

fn be32(d: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(..4)?.try_into().ok()?))
}

/// Decode a protocol control (types 1–6) payload.
pub(crate) fn decode_control(t: MessageType, d: &[u8]) -> Payload {
    let short = Payload::Malformed("rtmp.control_message_too_short");
    match t {
        MessageType::SET_CHUNK_SIZE => {
            be32(d).map_or(short, |v| Payload::SetChunkSize(v & 0x7fff_ffff))
        }
        MessageType::ABORT => be32(d).map_or(short, Payload::Abort),
        MessageType::ACKNOWLEDGEMENT => be32(d).map_or(short, Payload::Acknowledgement),
        MessageType::WINDOW_ACK_SIZE => be32(d).map_or(short, Payload::WindowAckSize),
        MessageType::SET_PEER_BANDWIDTH => match (be32(d), d.get(4)) {
            (Some(window), Some(&limit_type)) => Payload::SetPeerBandwidth { window, limit_type },
            _ => short,
        },
        MessageType::USER_CONTROL => {
            let Some(event_type) = d.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
                return short;
            };
            let d = &d[2..];
            let one = |f: fn(u32) -> UserControl| be32(d).map(f);
            let uc = match event_type {
                0 => one(UserControl::StreamBegin),
                1 => one(UserControl::StreamEof),
                2 => one(UserControl::StreamDry),
                3 => match (be32(d), d.get(4..).and_then(be32)) {
                    (Some(stream_id), Some(buffer_ms)) => Some(UserControl::SetBufferLength {
                        stream_id,
                        buffer_ms,
                    }),
                    _ => None,
                },
                4 => one(UserControl::StreamIsRecorded),
                6 => one(UserControl::PingRequest),
                7 => one(UserControl::PingResponse),
                _ => Some(UserControl::Other { event_type }),
            };
            uc.map_or(short, Payload::UserControl)
        }
        _ => Payload::Other,
    }
}
