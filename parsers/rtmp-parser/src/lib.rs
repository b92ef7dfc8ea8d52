//! Passive RTMP decoder: bytes of both directions of one TCP connection in,
//! messages with their stream offsets out.
//!
//! Design principles (see `docs/parsers.md` of lagtap):
//! * **Pure and streaming.** [`Session::feed`] takes in-order bytes of one
//!   direction with their stream offset, in pieces of any size, and returns how
//!   much it consumed. No files, clocks or capture formats here: the flow layer
//!   maps the offsets each [`Message`] carries (`start`, `end`) to capture times.
//! * **A passive observer's chunk decoder.** One decoder per direction, each with
//!   its own chunk size (Set Chunk Size applied at the byte where it takes effect)
//!   and its own per-chunk-stream previous headers; extended timestamps on type-3
//!   chunks accepted whether or not the sender repeats them; interleaved chunk
//!   streams, Abort, aggregates.
//! * **Never mis-decode silently.** Declared lengths are capped (constants below),
//!   payloads are copied only as they arrive, and when the decoder cannot know
//!   where the next chunk starts (RTMPE, a gap it cannot resync over, a header that
//!   inherits from state lost in a gap) it gives the direction up and counts why
//!   ([`Session::anomalies`]).
//! * Stateless wire parsers are nom `streaming` functions ([`parser`]), payload
//!   decoders nom `complete` ones ([`amf`], [`flv`]).
#![forbid(unsafe_code)]

pub mod amf;
pub mod flv;
#[doc(hidden)]
pub mod fuzz;
pub mod message;
pub mod parser;
pub mod session;
pub mod tracks;

pub use amf::Amf;
pub use avc::{Codec, Fingerprint};
pub use flv::{
    AudioInfo, DecoderConfig, FrameType, VideoCodec, VideoInfo, VideoPacket, MAX_TRACKS,
};
pub use message::{
    amf_fourcc, Command, Connect, Direction, KnownCommand, Message, MessageType, Metadata, Payload,
    UserControl,
};
pub use session::{Event, Handshake, HandshakePart, Session};

/// Chunk size before any Set Chunk Size (RTMP spec 5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;

/// Largest chunk size accepted from Set Chunk Size. A chunk never needs to be larger
/// than a message, and message lengths are 24-bit; a larger value (the field allows
/// 2^31 − 1) is treated as corruption and the direction is given up.
pub const MAX_CHUNK_SIZE: u32 = 0xff_ffff;

/// Largest message length (the 24-bit header field's maximum, 16 MiB − 1).
pub const MAX_MESSAGE_LEN: u32 = 0xff_ffff;

/// Most chunk stream ids one direction may use. Encoders use 3–8; each id holds a
/// reassembly buffer, so the table is bounded.
pub const MAX_CHUNK_STREAMS: usize = 64;

/// Most payload bytes held in partially received messages of one direction (two
/// maximal messages). Beyond it the direction is given up (`rtmp.buffer_limit`).
pub const MAX_BUFFERED_PER_DIRECTION: usize = 32 << 20;

/// Deepest AMF nesting decoded (real commands nest 2–3 levels).
pub const MAX_AMF_DEPTH: u32 = 32;

/// After a gap, how many bytes to search for a safe restart point before giving up.
pub const RESYNC_SCAN_LIMIT: u64 = 4 << 20;

/// A resync candidate's first chunk is checked for a plausible following header only
/// if it is at most this long (so the caller never holds more than this while we
/// look); longer first chunks are accepted on the header checks alone.
pub const RESYNC_LOOKAHEAD: usize = 64 << 10;

/// A resync candidate's timestamp may be at most this many ms after the last one
/// seen on its chunk stream before the gap (10 minutes).
pub const RESYNC_MAX_TIMESTAMP_JUMP: u32 = 600_000;

/// A type-1 resync candidate's timestamp delta may be at most this many ms.
pub const RESYNC_MAX_DELTA: u32 = 60_000;

/// A resync candidate may declare a length up to four times the longest message
/// seen on its chunk stream, and at least up to this (a keyframe after the gap may
/// well be larger than anything before it).
pub const RESYNC_MIN_LEN_BOUND: u32 = 256 << 10;

/// Anomaly counters by reason, in order of first occurrence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Anomalies(Vec<(&'static str, u64)>);

impl Anomalies {
    /// Count one occurrence of `reason`.
    pub fn bump(&mut self, reason: &'static str) {
        self.add(reason, 1);
    }

    /// Count `n` occurrences of `reason` (nothing if `n` is 0).
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, c)) => *c += n,
            None => self.0.push((reason, n)),
        }
    }

    /// The count for `reason` (0 if never counted).
    pub fn get(&self, reason: &str) -> u64 {
        self.0
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, c)| *c)
    }

    pub fn as_slice(&self) -> &[(&'static str, u64)] {
        &self.0
    }
}
