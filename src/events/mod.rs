//! The per-host event timeline: what one host's capture says happened, in the
//! vocabulary correlation needs. `lagtap decode` writes these as JSON Lines; `lagtap
//! correlate` reads them (or produces them itself from captures).
//!
//! Times are integer nanoseconds since the epoch, on the capturing host's clock
//! (correlation corrects them). Which of a byte's two times an event carries is part
//! of its definition: a sender-side event is stamped when its first byte was first on
//! the wire (`first_seen`), a receiver-side event when its last byte became
//! deliverable in order (`delivered`). Every event names the flow it came from (the
//! flow id of `lagtap inspect` for the same file).

pub mod jsonl;
pub mod parquet;
pub mod timecode;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use avc::Fingerprint;
pub use timecode::VideoTimecode;

use serde::{Deserialize, Serialize};

/// One video frame inside an HLS segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentFrame {
    /// 90 kHz PTS, unwrapped (64-bit) within the segment's stream.
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
    pub fingerprint: Option<Fingerprint>,
    pub size: u32,
    /// When the host had the frame's own last byte in order (`delivered`): inside a
    /// segment that streams in (chunked transfer, HTTP/2 DATA frames, a prefetch
    /// fetched while it is made) a frame arrives long before the segment completes.
    /// Absent in event files from before it (read as the segment's `complete_ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_ns: Option<i64>,
    /// The encoder's timecode where the frame carries one (MPEG-TS: picture timing
    /// or time code SEI, read with the segment's in-band parameter sets); written
    /// only when present, as for `rtmp_video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecode: Option<Box<VideoTimecode>>,
}

/// A `prft` box of an fMP4 segment (ISO/IEC 14496-12 §8.16.5): the packager's wall
/// clock at one media time of a track. A clock of its own, like a playlist's
/// `EXT-X-PROGRAM-DATE-TIME`: read as reference time only when the packager is
/// NTP-synchronised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentPrft {
    pub track_id: u32,
    /// As written (0: the frame entered the encoder, 1: left it, 2: the fragment
    /// was finalised, 4: written; ffmpeg 5.1 writes 0x18).
    pub flags: u32,
    /// The NTP timestamp as ns since the Unix epoch, on the packager's clock (null
    /// if it cannot be one).
    pub time_ns: Option<i64>,
    /// The media time it stamps, in the track's timescale.
    pub media_time: u64,
    /// The PTS (90 kHz, like the frames') of the frame it stamps: the first frame
    /// of the fragment after it (null if none followed). Not derived from
    /// `media_time`, which ffmpeg 5.1 writes on its input's timeline.
    pub pts: Option<i64>,
}

/// An `emsg` box of an fMP4 segment (ISO/IEC 23009-1 §5.10.3.3): a DASH event
/// message (SCTE-35 splice, ID3 timed metadata, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentEmsg {
    pub version: u8,
    pub scheme_id_uri: String,
    pub value: String,
    pub timescale: u32,
    /// Version 0: delta from the segment's earliest presentation time; version 1:
    /// on the track's media timeline. In `timescale` units.
    pub presentation_time: u64,
    pub event_duration: u32,
    pub id: u32,
    /// message_data in hex, at most 4096 bytes of it.
    pub data: String,
    /// The whole message_data's length in the box.
    pub data_bytes: u64,
}

/// A media playlist's segment entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaylistEntry {
    pub uri: String,
    pub media_sequence: u64,
    pub duration_s: f64,
    pub program_date_time_ns: Option<i64>,
    pub discontinuity: bool,
    /// Inside a Twitch stitched-ad `EXT-X-DATERANGE`: an ad, not the broadcast.
    /// Written only when true; absent in event files from before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ad: bool,
    /// LL-HLS parts listed for this segment (`EXT-X-PART`), 0 for plain HLS.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub parts: u32,
    /// Named by `#EXT-X-PREFETCH` or `#EXT-X-TWITCH-PREFETCH`, not listed yet: the
    /// segment being made, which a low-latency player fetches as it streams
    /// (`duration_s` 0). Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prefetch: bool,
}

/// An LL-HLS partial segment a media playlist names (RFC 8216bis §4.4.4.9): listed
/// by `EXT-X-PART` under its parent segment, or named by an `EXT-X-PRELOAD-HINT`
/// of `TYPE=PART` before it exists. Correlation ties a part fetched on its own to
/// its parent segment by this entry, not by the file name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartEntry {
    pub uri: String,
    /// The parent segment's media sequence number.
    pub media_sequence: u64,
    /// The part's place in its parent, from 0.
    pub index: u32,
    /// 0 for a hint.
    pub duration_s: f64,
    /// A byte-range part (`BYTERANGE`, a hint's `BYTERANGE-START`): its first
    /// byte in `uri`, where a part without an offset follows the previous part of
    /// the same URI. Absent for a part that is a file of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_range_start: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub independent: bool,
    /// Named by `EXT-X-PRELOAD-HINT`, not listed yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hint: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Which side of an RTMP connection sent a media message: the client publishing
/// (a broadcaster's upload) or the server sending what a client plays (an RTMP
/// viewer or relay). Broadcast latency starts only at published frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtmpDirection {
    #[default]
    ClientToServer,
    ServerToClient,
}

impl RtmpDirection {
    /// The name in event files.
    pub fn name(self) -> &'static str {
        match self {
            RtmpDirection::ClientToServer => "client_to_server",
            RtmpDirection::ServerToClient => "server_to_client",
        }
    }
}

/// The IRC command a chat line came in, written as IRC spells it. A NOTICE or a
/// Twitch USERNOTICE is not a user's chat line even when its words are the same, so
/// every chat event says which it was and correlation matches a copy only to a sent
/// line of the same command.
///
/// Event files written before chat events named their command read as `PRIVMSG`,
/// which is what lagtap took every chat line for then.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChatCommand {
    #[default]
    Privmsg,
    /// A PRIVMSG carrying a CTCP ACTION ("/me waves"); the event's text is the
    /// action's, without `\x01ACTION ` and the closing `\x01`.
    Action,
    Notice,
    /// Twitch's USERNOTICE (subscriptions, raids...), sent by the server.
    Usernotice,
}

impl ChatCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatCommand::Privmsg => "PRIVMSG",
            ChatCommand::Action => "ACTION",
            ChatCommand::Notice => "NOTICE",
            ChatCommand::Usernotice => "USERNOTICE",
        }
    }
}

/// OBS's Broadcast Performance Metrics of one frame (`avc::bpm`): wall-clock times
/// of the broadcaster's own clock (the host's, the same clock its capture uses) and
/// the counters since the previous key frame's metrics. Each is null where the
/// frame's metrics leave it out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EncoderMetrics {
    /// The compositor rendered the frame (BPM CTS).
    pub composed_ns: Option<i64>,
    /// The frame was handed to the encoder (FER) and came out encoded (FERC).
    pub encode_start_ns: Option<i64>,
    pub encoded_ns: Option<i64>,
    /// The encoded frame was handed to the output to be sent (PIR).
    pub output_ns: Option<i64>,
    /// Session counters: frames rendered, lagged (the compositor missed them),
    /// dropped (the output dropped them, congestion) and output.
    pub rendered: Option<u32>,
    pub lagged: Option<u32>,
    pub dropped: Option<u32>,
    pub output: Option<u32>,
    /// This rendition's encoder: frames in, skipped, encoded.
    pub encoder_input: Option<u32>,
    pub encoder_skipped: Option<u32>,
    pub encoded: Option<u32>,
}

impl EncoderMetrics {
    /// The metrics of a frame's BPM messages; `None` without any.
    pub fn from_bpm(bpm: &[avc::bpm::Bpm]) -> Option<Box<EncoderMetrics>> {
        use avc::bpm::{event, rendition, session, Kind};
        if bpm.is_empty() {
            return None;
        }
        let time = |e: u8| bpm.iter().find_map(|b| b.time(e));
        let count = |k: Kind, tag: u8| {
            bpm.iter()
                .filter(|b| b.kind == k)
                .find_map(|b| b.counter(tag))
        };
        Some(Box::new(EncoderMetrics {
            composed_ns: time(event::CTS),
            encode_start_ns: time(event::FER),
            encoded_ns: time(event::FERC),
            output_ns: time(event::PIR),
            rendered: count(Kind::Session, session::RENDERED),
            lagged: count(Kind::Session, session::LAGGED),
            dropped: count(Kind::Session, session::DROPPED),
            output: count(Kind::Session, session::OUTPUT),
            encoder_input: count(Kind::Rendition, rendition::INPUT),
            encoder_skipped: count(Kind::Rendition, rendition::SKIPPED),
            encoded: count(Kind::Rendition, rendition::OUTPUT),
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// First line of every decode output: which capture and host this is, as known
    /// when its first packet was read (the totals are in `summary`).
    Capture {
        host: String,
        /// The first file of the host's capture.
        file: String,
        /// Every file of the host's capture, in the order read (one unless the capture
        /// was rotated: `capture::timeline`). Absent in event files written before
        /// timelines, read as empty.
        #[serde(default)]
        files: Vec<String>,
        format: String,
        link_types: Vec<String>,
        comments: Vec<String>,
    },
    /// An RTMP publish (broadcaster → ingest).
    RtmpPublish {
        flow: u64,
        client: String,
        server: String,
        app: Option<String>,
        tc_url: Option<String>,
        /// The tunnel the RTMP session came through: `rtmpt` (RTMP over HTTP),
        /// null for plain RTMP. Event files from before RTMPT was decoded lack it.
        /// A boxed `str`: a `String` here made `Event` 8 bytes larger.
        #[serde(default)]
        tunnel: Option<Box<str>>,
        stream_key: String,
        /// First byte of the publish command on the wire.
        time_ns: i64,
        /// Encoder settings from `@setDataFrame onMetaData` (width, height,
        /// framerate, videodatarate, encoder, ...), when sent.
        metadata: BTreeMap<String, serde_json::Value>,
    },
    /// An RTMP play (a viewer or relay asks the server for a stream): the `play`
    /// command names the flow's endpoints, which the frames that follow it do not,
    /// so that a player's capture and the server's can be told apart.
    RtmpPlay {
        flow: u64,
        client: String,
        server: String,
        app: Option<String>,
        tc_url: Option<String>,
        /// As for a publish.
        #[serde(default)]
        tunnel: Option<Box<str>>,
        stream_key: String,
        /// First byte of the play command on the wire.
        time_ns: i64,
    },
    /// One RTMP video message (one per track of an Enhanced RTMP multitrack
    /// message), published (client → server) or played (server → client).
    RtmpVideo {
        flow: u64,
        /// Shared by every frame of the publish: one allocation per stream, not per
        /// frame.
        stream_key: Option<Arc<str>>,
        /// Who sent it: the client (a publish) or the server (a play). Event files
        /// from before plays were decoded held only published frames.
        #[serde(default)]
        direction: RtmpDirection,
        /// The codec as a FourCC (`avc1`, `hvc1`, `av01`, `vp09`...; legacy FLV AVC
        /// is `avc1`), null for a legacy codec without one or a command frame.
        #[serde(default)]
        codec: Option<Arc<str>>,
        /// Enhanced RTMP multitrack track id; null outside multitrack (the default
        /// track).
        #[serde(default)]
        track_id: Option<u8>,
        rtmp_ts_ms: u32,
        composition_ms: i32,
        keyframe: bool,
        /// Not a coded picture: a sequence header (decoder configuration), an
        /// end-of-sequence or a metadata packet.
        config: bool,
        size: u32,
        nal_types: avc::NalTypes,
        fingerprint: Option<Fingerprint>,
        /// First and last byte of the message, first seen on the wire. On a sender's
        /// capture whose packets were dropped before the tap (a shaping qdisc), the
        /// first byte may be seen after the last: its first copy never was captured.
        first_byte_ns: i64,
        last_byte_ns: i64,
        /// When the last byte became deliverable in order.
        delivered_ns: i64,
        /// The encoder's own clock and counters (OBS's Broadcast Performance
        /// Metrics) where the frame carries them: OBS writes them into key frames.
        /// Absent in event files written before they were read.
        #[serde(default)]
        encoder: Option<Box<EncoderMetrics>>,
        /// The encoder's timecode (picture timing / time code SEI, AV1 timecode
        /// metadata) where the frame carries a clock timestamp. Absent in event
        /// files written before timecodes were read.
        #[serde(default)]
        timecode: Option<Box<VideoTimecode>>,
    },
    /// One RTMP audio message (one per track of a multitrack message).
    RtmpAudio {
        flow: u64,
        stream_key: Option<Arc<str>>,
        /// As for video.
        #[serde(default)]
        direction: RtmpDirection,
        /// The codec as a FourCC (`mp4a`, `Opus`, `ac-3`, `.mp3`...; legacy AAC is
        /// `mp4a`), null for legacy formats without one.
        #[serde(default)]
        codec: Option<Arc<str>>,
        #[serde(default)]
        track_id: Option<u8>,
        rtmp_ts_ms: u32,
        size: u32,
        first_byte_ns: i64,
        last_byte_ns: i64,
    },
    /// An HTTP request and its response.
    HttpExchange(Box<HttpExchange>),
    /// A playlist the host received.
    HlsPlaylist {
        flow: u64,
        uri: String,
        channel: Option<String>,
        master: bool,
        media_sequence: Option<u64>,
        target_duration_s: Option<f64>,
        endlist: bool,
        segments: Vec<PlaylistEntry>,
        /// LL-HLS parts, in playlist order: those of listed segments, of the
        /// segment being made, then the hinted one. Absent without parts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<PartEntry>,
        /// Variant URIs of a master playlist with their bandwidth and label.
        variants: Vec<BTreeMap<String, serde_json::Value>>,
        request_ns: i64,
        received_ns: i64,
    },
    /// A media segment the host received, with its frames.
    HlsSegment {
        flow: u64,
        uri: String,
        channel: Option<String>,
        media_sequence: Option<u64>,
        /// The first byte asked for by the request's `Range: bytes=N-` (an LL-HLS
        /// byte-range part, RFC 8216bis §4.4.4.9); absent for a whole file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range_start: Option<u64>,
        status: u16,
        bytes: u64,
        request_ns: i64,
        first_byte_ns: i64,
        /// Last byte delivered in order: the viewer has the whole segment.
        complete_ns: i64,
        frames: Vec<SegmentFrame>,
        /// fMP4 `prft` boxes, in order (written only when there are some). Boxed
        /// slices, not vectors: rare, and 8 bytes less each in every event.
        #[serde(default, skip_serializing_if = "<[SegmentPrft]>::is_empty")]
        prft: Box<[SegmentPrft]>,
        /// fMP4 `emsg` boxes, in order (written only when there are some).
        #[serde(default, skip_serializing_if = "<[SegmentEmsg]>::is_empty")]
        emsg: Box<[SegmentEmsg]>,
    },
    /// A chat line this host sent (client → server), first byte first seen.
    ChatSent {
        flow: u64,
        #[serde(default)]
        command: ChatCommand,
        channel: String,
        nick: Option<String>,
        text: String,
        msg_id: Option<String>,
        client_nonce: Option<String>,
        tags: BTreeMap<String, String>,
        time_ns: i64,
    },
    /// A chat line this host received (server → client), last byte delivered.
    ChatReceived(Box<ChatReceived>),
    /// An NTP request/reply pair: T1/T4 capture times, T2/T3 from the reply.
    NtpExchange {
        flow: u64,
        client: String,
        server: String,
        t1_ns: i64,
        t2_ns: i64,
        t3_ns: i64,
        t4_ns: i64,
        /// Server clock minus this host's clock, ((T2−T1)+(T3−T4))/2.
        offset_ns: i64,
        /// Round trip minus server time, (T4−T1)−(T3−T2).
        delay_ns: i64,
        stratum: u8,
    },
    /// A TCP retransmission, zero window or capture gap on an RTMP flow: the
    /// broadcaster's uplink trouble, charted per second by source health.
    TcpEvent {
        flow: u64,
        /// True when the segment went client → server (the broadcaster's upload).
        from_client: bool,
        /// `retransmission`, `zero_window` or `gap`.
        what: String,
        /// Capture time of the segment that showed it.
        time_ns: i64,
    },
    /// A TLS connection, decrypted or not: what its handshake said and what
    /// became of its records. Stamped with its first record's first byte.
    TlsSession(Box<TlsSession>),
    /// Last line of every decode output: what the file held, what was decoded and
    /// what was skipped, why.
    Summary {
        packets: u64,
        first_time_ns: Option<i64>,
        last_time_ns: Option<i64>,
        link_types: Vec<String>,
        flows_by_protocol: BTreeMap<String, u64>,
        /// Flows of a known protocol that could not be decoded, by reason.
        undecodable: BTreeMap<String, u64>,
        anomalies: BTreeMap<String, u64>,
        events: u64,
    },
}

/// The fields of [`Event::HttpExchange`], boxed there: a rare event, and the largest, so
/// that it does not set the size of every event a long capture holds in memory
/// (`correlate` keeps all of a host's events: benches/correlate_scale.sh).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpExchange {
    pub flow: u64,
    pub client: String,
    pub server: String,
    pub method: String,
    pub uri: String,
    pub host: Option<String>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body_bytes: u64,
    /// Request's first byte first seen.
    pub request_ns: i64,
    /// Response's first byte delivered, and its last byte delivered.
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
}

/// The fields of [`Event::ChatReceived`], boxed there: a rare event, and the largest, so
/// that it does not set the size of every event a long capture holds in memory
/// (`correlate` keeps all of a host's events: benches/correlate_scale.sh).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatReceived {
    pub flow: u64,
    #[serde(default)]
    pub command: ChatCommand,
    pub channel: String,
    pub nick: Option<String>,
    pub text: String,
    pub msg_id: Option<String>,
    pub client_nonce: Option<String>,
    /// The receiving client's own nick (to tell echoes of its own lines).
    pub own_nick: Option<String>,
    pub server_time_ns: Option<i64>,
    pub tmi_sent_ts_ns: Option<i64>,
    pub tags: BTreeMap<String, String>,
    pub time_ns: i64,
}

/// The fields of [`Event::TlsSession`], boxed there: a rare event, and the largest, so
/// that it does not set the size of every event a long capture holds in memory
/// (`correlate` keeps all of a host's events: benches/correlate_scale.sh).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TlsSession {
    pub flow: u64,
    pub client: String,
    pub server: String,
    pub sni: Option<String>,
    /// Protocols the client offered, and the one the server chose.
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    /// `TLS 1.2`, `TLS 1.3`, ... (`null`: no ServerHello captured).
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    /// `found`, `missing` (no secrets for this session), `unsupported_suite` or
    /// `no_handshake`.
    pub keys: String,
    /// What the plaintext was decoded as (`http`, `irc`, ...), when decrypted.
    pub inner: Option<String>,
    /// Per direction [client→server, server→client]: records, record bytes,
    /// records decrypted, left encrypted, and failing their tag.
    pub records: [u64; 2],
    pub bytes: [u64; 2],
    pub decrypted: [u64; 2],
    pub undecrypted: [u64; 2],
    pub bad_mac: [u64; 2],
    pub time_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::{ChatCommand, Event};

    #[test]
    fn an_event_stays_the_size_of_a_frame_event() {
        // correlate holds every event of every host, nearly all of them RTMP
        // frames of about 100 bytes; a large variant added unboxed grows them all.
        // It was 312 bytes before tls_session, chat_received and http_exchange
        // were boxed; the largest now are hls_segment (184, with its prft and emsg
        // lists as boxed slices and its range_start), chat_sent and rtmp_publish.
        let size = std::mem::size_of::<Event>();
        eprintln!("Event: {size} bytes");
        assert!(
            size <= 184,
            "Event is {size} bytes: box the new large variant"
        );
    }

    #[test]
    fn chat_lines_from_event_files_without_a_command_read_as_privmsg() {
        // A chat_sent line as `lagtap decode` wrote it before events named their
        // IRC command.
        let old = r##"{"kind":"chat_sent","flow":0,"channel":"#lagtap","nick":"broadcaster","text":"hi","msg_id":null,"client_nonce":null,"tags":{},"time_ns":1795581166231952415}"##;
        match serde_json::from_str::<Event>(old).expect("an old chat_sent line reads") {
            Event::ChatSent { command, .. } => assert_eq!(command, ChatCommand::Privmsg),
            e => panic!("read as {e:?}"),
        }
    }
}
