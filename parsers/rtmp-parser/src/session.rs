//! The streaming state of one RTMP connection: a handshake tracker and a chunk
//! decoder per direction.
//!
//! Each direction has its own chunk size and its own table of chunk streams, because
//! RTMP chunking is negotiated per sender: a Set Chunk Size sent by the client
//! changes how the *client's* later chunks are cut, and a passive observer has to
//! apply it inside that direction's decoder, at the exact byte where the message
//! ends.
//!
//! Stages of a direction: `Handshake` (C0/C1/C2 or S0/S1/S2, fixed sizes) →
//! `Chunks` (header → payload → header ...) → `Dead` once it cannot decode safely.
//! A gap moves `Chunks` to `Resync`, which looks for a position where decoding can
//! restart without guessing (see `DirDecoder::validate_candidate`).

mod resync;

use crate::flv::{decode_audio, decode_video, VideoPacket};
use crate::message::{decode_command, decode_control, Direction, Message, MessageType, Payload};
use crate::parser::{chunk_header, RawHeader, EXTENDED, HANDSHAKE_LEN};
use crate::tracks::VideoTracks;
use crate::{
    Anomalies, DEFAULT_CHUNK_SIZE, MAX_BUFFERED_PER_DIRECTION, MAX_CHUNK_SIZE, MAX_CHUNK_STREAMS,
    MAX_MESSAGE_LEN, RESYNC_LOOKAHEAD, RESYNC_MAX_DELTA, RESYNC_MAX_TIMESTAMP_JUMP,
    RESYNC_MIN_LEN_BOUND, RESYNC_SCAN_LIMIT,
};

/// Bytes kept of payloads that are decoded from their first bytes only (audio,
/// unknown types).
const KEEP_PREFIX: usize = 16;

/// A part of the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakePart {
    C0,
    C1,
    C2,
    S0,
    S1,
    S2,
}

/// One handshake part seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub direction: Direction,
    pub part: HandshakePart,
    /// The version byte, for C0/S0 (3 = plain RTMP, 6/8 = RTMPE).
    pub version: Option<u8>,
    pub start: u64,
    pub end: u64,
}

/// What the session reports, in stream order per direction.
// Handshake events are six per connection, messages the bulk: boxing the large
// variant would allocate once per message to save memory on six events.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Handshake(Handshake),
    Message(Message),
}

/// An RTMP connection observed passively: feed it both directions' in-order bytes.
#[derive(Debug)]
pub struct Session {
    dirs: [DirDecoder; 2],
    events: Vec<Event>,
    anomalies: Anomalies,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session that sees the connection from its first byte (the handshake).
    pub fn new() -> Session {
        Session {
            dirs: [
                DirDecoder::new(Direction::ClientToServer),
                DirDecoder::new(Direction::ServerToClient),
            ],
            events: Vec::new(),
            anomalies: Anomalies::default(),
        }
    }

    /// A session for a connection whose start the capture missed. RTMP cannot be
    /// decoded safely without the chunk stream headers and chunk size negotiated
    /// earlier, so both directions are given up (counted as
    /// `rtmp.mid_connection_start`) and their bytes consumed.
    pub fn new_mid_connection() -> Session {
        let mut s = Session::new();
        for d in &mut s.dirs {
            d.give_up(&mut s.anomalies, "rtmp.mid_connection_start");
        }
        s
    }

    /// Feed in-order bytes of `dir`; `offset` is the stream offset of `input[0]`.
    /// Returns how many bytes were consumed; pass the unconsumed tail again, with
    /// more bytes appended, on the next call. The unconsumed tail is at most one
    /// chunk header (18 bytes) plus 4 bytes, a handshake part (1536), or during
    /// resync at most [`RESYNC_LOOKAHEAD`] bytes.
    pub fn feed(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let d = &mut self.dirs[dir.index()];
        let mut skip = 0usize;
        match d.next_offset {
            Some(expected) if offset > expected => {
                self.anomalies.bump("rtmp.offset_jump");
                d.gap(expected, offset - expected, &mut self.anomalies);
            }
            Some(expected) if offset < expected => {
                // The caller re-fed bytes we already consumed: skip them.
                self.anomalies.bump("rtmp.offset_overlap");
                let over = expected - offset;
                if over >= input.len() as u64 {
                    return input.len();
                }
                skip = over as usize;
            }
            _ => {}
        }
        let base = offset + skip as u64;
        let used = d.run(base, &input[skip..], &mut self.events, &mut self.anomalies);
        d.next_offset = Some(base + used as u64);
        skip + used
    }

    /// The capture missed `len` bytes of `dir` starting at `offset`.
    pub fn gap(&mut self, dir: Direction, offset: u64, len: u64) {
        let d = &mut self.dirs[dir.index()];
        d.gap(offset, len, &mut self.anomalies);
        d.next_offset = Some(offset + len);
    }

    /// The direction ended. Messages still incomplete are counted
    /// (`rtmp.message_truncated_at_end`) and dropped.
    pub fn end(&mut self, dir: Direction, offset: u64) {
        let d = &mut self.dirs[dir.index()];
        d.end(offset, &mut self.anomalies);
    }

    /// Events decoded so far, in order of completion.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Only the messages among the events decoded so far (handshake parts dropped).
    pub fn drain_messages(&mut self) -> impl Iterator<Item = Message> + '_ {
        self.events.drain(..).filter_map(|e| match e {
            Event::Message(m) => Some(m),
            Event::Handshake(_) => None,
        })
    }

    /// Anomalies counted so far, by reason.
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        self.anomalies.as_slice()
    }

    /// Whether `dir` was given up (it will consume and ignore all further bytes).
    pub fn is_given_up(&self, dir: Direction) -> bool {
        matches!(self.dirs[dir.index()].state, State::Dead)
    }

    /// The chunk size currently in force for `dir` (what its sender announced).
    pub fn chunk_size(&self, dir: Direction) -> u32 {
        self.dirs[dir.index()].chunk_size
    }
}

#[derive(Debug)]
enum State {
    Handshake {
        /// 0: C0/S0, 1: C1/S1, 2: C2/S2.
        part: u8,
        remaining: usize,
        start: u64,
        /// Part of this part fell into a gap: do not report it.
        lost: bool,
    },
    Chunks,
    Resync {
        scanned: u64,
    },
    /// Given up: bytes are consumed and ignored.
    Dead,
    /// `end` was called: bytes are consumed and ignored.
    Ended,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    Header,
    Payload { idx: usize, remaining: u32 },
}

#[derive(Debug)]
struct Partial {
    start: u64,
    received: u32,
    timestamp: Option<u32>,
}

/// Per chunk stream: the previous header (types 1–3 inherit from it) and the
/// message being reassembled.
#[derive(Debug)]
struct ChunkStream {
    csid: u32,
    timestamp: u32,
    /// The last timestamp / delta field (extended applied). A type-3 chunk that
    /// starts a new message adds it again, as ffmpeg and nginx-rtmp do (after a
    /// type-0 header that is the absolute timestamp).
    ts_field: u32,
    length: u32,
    type_id: u8,
    msid: u32,
    /// The last type 0–2 header had the `0xFFFFFF` marker: type-3 chunks may
    /// carry (should, by the 2012 spec) the extended timestamp again.
    ext: bool,
    ext_value: u32,
    /// Length, type and stream id are valid (false after a gap until a type 0/1).
    length_known: bool,
    /// The absolute timestamp is valid (false after a gap until a type 0).
    ts_known: bool,
    /// First payload byte of the last message (audio/video codec, for resync).
    last_first_byte: Option<u8>,
    /// Longest message seen (bounds the length a resync candidate may declare).
    max_len: u32,
    /// False for a chunk stream first seen after a gap with a type-1 header.
    msid_known: bool,
    partial: Option<Partial>,
    buf: Vec<u8>,
}

impl ChunkStream {
    fn new(csid: u32) -> ChunkStream {
        ChunkStream {
            csid,
            timestamp: 0,
            ts_field: 0,
            length: 0,
            type_id: 0,
            msid: 0,
            ext: false,
            ext_value: 0,
            length_known: false,
            ts_known: false,
            last_first_byte: None,
            max_len: 0,
            msid_known: true,
            partial: None,
            buf: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct DirDecoder {
    dir: Direction,
    state: State,
    stage: Stage,
    next_offset: Option<u64>,
    chunk_size: u32,
    streams: Vec<ChunkStream>,
    /// Payload bytes currently held in partial messages.
    buffered: usize,
    /// NAL length size and timecode state per message stream id and (Enhanced
    /// RTMP) track id.
    video_tracks: VideoTracks,
    /// A gap happened: missing chunk-stream state means "resync", not "give up".
    had_gap: bool,
}

enum Verdict {
    Valid,
    Invalid,
    NeedMore,
}

impl DirDecoder {
    fn new(dir: Direction) -> DirDecoder {
        DirDecoder {
            dir,
            state: State::Handshake {
                part: 0,
                remaining: 1,
                start: 0,
                lost: false,
            },
            stage: Stage::Header,
            next_offset: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: Vec::new(),
            buffered: 0,
            video_tracks: VideoTracks::default(),
            had_gap: false,
        }
    }

    fn give_up(&mut self, anomalies: &mut Anomalies, reason: &'static str) {
        anomalies.bump(reason);
        anomalies.bump("rtmp.direction_given_up");
        self.drop_partials();
        self.state = State::Dead;
    }

    fn drop_partials(&mut self) -> u64 {
        let mut n = 0;
        for cs in &mut self.streams {
            if cs.partial.take().is_some() {
                n += 1;
            }
            cs.buf.clear();
        }
        self.buffered = 0;
        self.stage = Stage::Header;
        n
    }

    fn gap(&mut self, offset: u64, len: u64, anomalies: &mut Anomalies) {
        if len == 0 {
            return;
        }
        anomalies.bump("rtmp.gap");
        let mut left = len;
        // Handshake parts have fixed sizes: a gap inside them loses nothing but the
        // parts themselves.
        while left > 0 {
            let State::Handshake {
                remaining, lost, ..
            } = &mut self.state
            else {
                break;
            };
            let take = left.min(*remaining as u64);
            *remaining -= take as usize;
            *lost = true;
            left -= take;
            if *remaining == 0 {
                self.next_handshake_part(offset + (len - left), None, &mut Vec::new(), anomalies);
            }
        }
        if left == 0 {
            return;
        }
        match self.state {
            State::Chunks => {
                self.had_gap = true;
                let lost = self.drop_partials();
                anomalies.add("rtmp.message_lost_in_gap", lost);
                for cs in &mut self.streams {
                    cs.length_known = false;
                    cs.ts_known = false;
                }
                if self.streams.is_empty() {
                    self.give_up(anomalies, "rtmp.resync_impossible");
                } else {
                    self.state = State::Resync { scanned: 0 };
                }
            }
            State::Handshake { .. } | State::Resync { .. } | State::Dead | State::Ended => {}
        }
    }

    fn end(&mut self, _offset: u64, anomalies: &mut Anomalies) {
        match self.state {
            State::Handshake { .. } => anomalies.bump("rtmp.handshake_truncated"),
            State::Chunks | State::Resync { .. } => {
                let n = self.drop_partials();
                anomalies.add("rtmp.message_truncated_at_end", n);
            }
            State::Dead | State::Ended => return,
        }
        self.state = State::Ended;
    }

    /// A handshake part is complete (reported unless it fell into a gap); move on.
    fn next_handshake_part(
        &mut self,
        end: u64,
        version: Option<u8>,
        events: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) {
        let State::Handshake {
            part, start, lost, ..
        } = self.state
        else {
            return;
        };
        let names = match self.dir {
            Direction::ClientToServer => [HandshakePart::C0, HandshakePart::C1, HandshakePart::C2],
            Direction::ServerToClient => [HandshakePart::S0, HandshakePart::S1, HandshakePart::S2],
        };
        if !lost {
            events.push(Event::Handshake(Handshake {
                direction: self.dir,
                part: names[part as usize],
                version,
                start,
                end,
            }));
        }
        if part == 0 {
            match version {
                Some(3) | None => {}
                Some(6 | 8) => return self.give_up(anomalies, "rtmp.rtmpe_unsupported"),
                Some(_) => return self.give_up(anomalies, "rtmp.handshake_bad_version"),
            }
        }
        self.state = if part < 2 {
            State::Handshake {
                part: part + 1,
                remaining: HANDSHAKE_LEN,
                start: end,
                lost: false,
            }
        } else {
            State::Chunks
        };
    }

    fn find(&self, csid: u32) -> Option<usize> {
        self.streams.iter().position(|c| c.csid == csid)
    }

    fn run(
        &mut self,
        base: u64,
        input: &[u8],
        events: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) -> usize {
        let mut pos = 0usize;
        loop {
            match &mut self.state {
                State::Dead | State::Ended => return input.len(),
                State::Handshake {
                    part, remaining, ..
                } => {
                    let avail = input.len() - pos;
                    if avail == 0 {
                        return pos;
                    }
                    let version = (*part == 0).then(|| input[pos]);
                    let take = avail.min(*remaining);
                    *remaining -= take;
                    pos += take;
                    if *remaining == 0 {
                        self.next_handshake_part(base + pos as u64, version, events, anomalies);
                    }
                }
                State::Resync { scanned } => {
                    let mut scanned_now = *scanned;
                    loop {
                        if scanned_now > RESYNC_SCAN_LIMIT {
                            self.give_up(anomalies, "rtmp.resync_failed");
                            break;
                        }
                        if pos >= input.len() {
                            self.state = State::Resync {
                                scanned: scanned_now,
                            };
                            return pos;
                        }
                        match self.validate_candidate(&input[pos..]) {
                            Verdict::Valid => {
                                anomalies.bump("rtmp.resynced");
                                self.state = State::Chunks;
                                break;
                            }
                            Verdict::NeedMore => {
                                self.state = State::Resync {
                                    scanned: scanned_now,
                                };
                                return pos;
                            }
                            Verdict::Invalid => {
                                pos += 1;
                                scanned_now += 1;
                            }
                        }
                    }
                }
                State::Chunks => match self.stage {
                    Stage::Header => match self.header(base, pos, input, anomalies) {
                        Some(n) => pos += n,
                        None => return pos,
                    },
                    Stage::Payload { idx, remaining } => {
                        let n = (remaining as usize).min(input.len() - pos);
                        let cs = &mut self.streams[idx];
                        // Enhanced RTMP audio (SoundFormat 9) may hold ModEx
                        // prefixes and several tracks, so it is kept whole; legacy
                        // audio is decoded from its first two bytes.
                        let ex_audio = cs.type_id == MessageType::AUDIO.0
                            && cs
                                .buf
                                .first()
                                .or(input.get(pos))
                                .is_some_and(|b| b >> 4 == 9);
                        let keep = if MessageType(cs.type_id).needs_whole_payload() || ex_audio {
                            n
                        } else {
                            n.min(KEEP_PREFIX.saturating_sub(cs.buf.len()))
                        };
                        cs.buf.extend_from_slice(&input[pos..pos + keep]);
                        self.buffered += keep;
                        let partial = cs.partial.as_mut().expect("payload stage has a partial");
                        partial.received += n as u32;
                        let done = partial.received == cs.length;
                        pos += n;
                        let remaining = remaining - n as u32;
                        if self.buffered > MAX_BUFFERED_PER_DIRECTION {
                            self.give_up(anomalies, "rtmp.buffer_limit");
                            continue;
                        }
                        if remaining > 0 {
                            self.stage = Stage::Payload { idx, remaining };
                            return pos;
                        }
                        self.stage = Stage::Header;
                        if done {
                            self.finish(idx, base + pos as u64, events, anomalies);
                        }
                    }
                },
            }
        }
    }

    /// A header needs chunk-stream state this decoder does not have. Before any gap
    /// that is a protocol violation: give up. After a gap it is state lost in the
    /// gap (a chunk stream's length changed, or it was first used, in the missing
    /// bytes): look for the next safe restart point instead.
    fn lost_sync(&mut self, anomalies: &mut Anomalies, reason: &'static str) {
        if self.had_gap {
            anomalies.bump(reason);
            self.drop_partials();
            self.state = State::Resync { scanned: 0 };
        } else {
            self.give_up(anomalies, reason);
        }
    }

    /// Parse and apply one chunk header at `input[pos..]`; returns its length (0 if
    /// the state changed), or `None` if more bytes are needed.
    fn header(
        &mut self,
        base: u64,
        pos: usize,
        input: &[u8],
        anomalies: &mut Anomalies,
    ) -> Option<usize> {
        let rest = &input[pos..];
        let (after, h) = chunk_header(rest).ok()?;
        let mut len = rest.len() - after.len();
        let idx = match self.find(h.csid) {
            Some(i) => i,
            // After a gap, a type-1 header on a chunk stream first used in the gap
            // tells the length and type, so framing can go on; its message stream
            // id is unknown until a type 0, so its messages are not reported.
            None if h.fmt == 1 && self.had_gap && self.streams.len() < MAX_CHUNK_STREAMS => {
                let mut cs = ChunkStream::new(h.csid);
                cs.msid_known = false;
                self.streams.push(cs);
                self.streams.len() - 1
            }
            None if h.fmt != 0 => {
                self.lost_sync(anomalies, "rtmp.chunk_stream_unknown");
                return Some(0);
            }
            None if self.streams.len() >= MAX_CHUNK_STREAMS => {
                self.give_up(anomalies, "rtmp.too_many_chunk_streams");
                return None;
            }
            None => {
                self.streams.push(ChunkStream::new(h.csid));
                self.streams.len() - 1
            }
        };
        let start = base + pos as u64;
        let cs = &mut self.streams[idx];
        if h.fmt == 3 {
            if !cs.length_known {
                self.lost_sync(anomalies, "rtmp.header_inherits_lost_state");
                return Some(0);
            }
            if cs.ext {
                // ffmpeg and nginx-rtmp repeat the extended timestamp on every type-3
                // chunk; some encoders (old Flash Media Encoder, some librtmp
                // versions) do not. Accept it only if it repeats the value we have.
                let peek = after.get(..4)?;
                if peek == cs.ext_value.to_be_bytes() {
                    len += 4;
                } else {
                    anomalies.bump("rtmp.type3_without_extended_timestamp");
                }
            }
            if cs.partial.is_none() {
                cs.timestamp = cs.timestamp.wrapping_add(cs.ts_field);
                cs.partial = Some(Partial {
                    start,
                    received: 0,
                    timestamp: cs.ts_known.then_some(cs.timestamp),
                });
            }
        } else {
            if cs.partial.take().is_some() {
                anomalies.bump("rtmp.message_interrupted");
                self.buffered -= cs.buf.len();
                cs.buf.clear();
            }
            if h.fmt == 2 && !cs.length_known {
                self.lost_sync(anomalies, "rtmp.header_inherits_lost_state");
                return Some(0);
            }
            apply_header(cs, &h);
            cs.partial = Some(Partial {
                start,
                received: 0,
                timestamp: cs.ts_known.then_some(cs.timestamp),
            });
        }
        let received = cs.partial.as_ref().map_or(0, |p| p.received);
        let remaining = (cs.length - received).min(self.chunk_size);
        self.stage = Stage::Payload { idx, remaining };
        Some(len)
    }

    fn finish(&mut self, idx: usize, end: u64, events: &mut Vec<Event>, anomalies: &mut Anomalies) {
        let cs = &mut self.streams[idx];
        let partial = cs.partial.take().expect("finished message has a partial");
        let mut buf = std::mem::take(&mut cs.buf);
        self.buffered -= buf.len();
        cs.last_first_byte = buf.first().copied();
        cs.max_len = cs.max_len.max(cs.length);
        let t = MessageType(cs.type_id);
        if !cs.msid_known && !t.is_control() {
            anomalies.bump("rtmp.message_on_unidentified_stream");
            buf.clear();
            cs.buf = buf;
            return;
        }
        let msg = Message {
            direction: self.dir,
            message_type: t,
            chunk_stream_id: cs.csid,
            message_stream_id: cs.msid,
            timestamp: partial.timestamp,
            length: cs.length,
            start: partial.start,
            end,
            from_aggregate: false,
            payload: Payload::Other,
        };
        if t == MessageType::AGGREGATE {
            self.split_aggregate(&msg, &buf, events, anomalies);
        } else {
            let mut effect = None;
            decode_payload(
                t,
                &buf,
                msg.message_stream_id,
                &mut self.video_tracks,
                anomalies,
                &mut |payload| {
                    effect = match payload {
                        Payload::SetChunkSize(size) => Some(Ok(size)),
                        Payload::Abort(csid) => Some(Err(csid)),
                        _ => None,
                    };
                    events.push(Event::Message(Message {
                        payload,
                        ..msg.clone()
                    }));
                },
            );
            match effect {
                Some(Ok(size)) if (1..=MAX_CHUNK_SIZE).contains(&size) => self.chunk_size = size,
                Some(Ok(_)) => self.give_up(anomalies, "rtmp.bad_chunk_size"),
                Some(Err(csid)) => {
                    if let Some(i) = self.find(csid) {
                        let a = &mut self.streams[i];
                        if a.partial.take().is_some() {
                            self.buffered -= a.buf.len();
                            a.buf.clear();
                        }
                    }
                }
                None => {}
            }
        }
        // Keep the buffer's capacity for the next message, unless it was huge.
        buf.clear();
        if buf.capacity() > 1 << 20 {
            buf = Vec::new();
        }
        if let Some(cs) = self.streams.get_mut(idx) {
            cs.buf = buf;
        }
    }

    /// Aggregate message (type 22): a sequence of FLV tags (type, size, timestamp,
    /// stream id, data, back-pointer). Sub-message timestamps are rebased onto the
    /// aggregate's: `aggregate ts + (tag ts − first tag ts)`.
    fn split_aggregate(
        &mut self,
        agg: &Message,
        mut d: &[u8],
        events: &mut Vec<Event>,
        anomalies: &mut Anomalies,
    ) {
        let mut first_ts: Option<u32> = None;
        while !d.is_empty() {
            if d.len() < 11 {
                anomalies.bump("rtmp.aggregate_truncated");
                return;
            }
            let t = MessageType(d[0]);
            let size = u32::from_be_bytes([0, d[1], d[2], d[3]]);
            let ts = u32::from_be_bytes([d[7], d[4], d[5], d[6]]);
            let Some(data) = d.get(11..11 + size as usize) else {
                anomalies.bump("rtmp.aggregate_truncated");
                return;
            };
            let base = *first_ts.get_or_insert(ts);
            let mut emit = |payload| {
                events.push(Event::Message(Message {
                    message_type: t,
                    timestamp: agg.timestamp.map(|a| a.wrapping_add(ts.wrapping_sub(base))),
                    length: size,
                    from_aggregate: true,
                    payload,
                    ..agg.clone()
                }))
            };
            if t == MessageType::AGGREGATE {
                anomalies.bump("rtmp.aggregate_nested");
                emit(Payload::Malformed("rtmp.aggregate_nested"));
            } else {
                decode_payload(
                    t,
                    data,
                    agg.message_stream_id,
                    &mut self.video_tracks,
                    anomalies,
                    &mut emit,
                );
            }
            // Skip the data and the 4-byte back-pointer (absent after the last tag
            // in some writers).
            d = d.get(11 + size as usize + 4..).unwrap_or(&[]);
        }
    }
}

/// Apply a type 0/1/2 header to its chunk stream.
fn apply_header(cs: &mut ChunkStream, h: &RawHeader) {
    let field = h.timestamp_value().unwrap_or(0);
    cs.ext = h.timestamp_field == Some(EXTENDED);
    cs.ext_value = field;
    cs.ts_field = field;
    if h.fmt == 0 {
        cs.timestamp = field;
        cs.ts_known = true;
        cs.msid = h.msid.unwrap_or(0);
        cs.msid_known = true;
    } else {
        cs.timestamp = cs.timestamp.wrapping_add(field);
    }
    if let (Some(len), Some(t)) = (h.length, h.type_id) {
        cs.length = len;
        cs.type_id = t;
        cs.length_known = true;
    }
}

/// Decode a complete message payload of type `t` and hand each payload it holds to
/// `emit` (several for an Enhanced RTMP multitrack message: one per track); count
/// why it did not decode.
fn decode_payload(
    t: MessageType,
    data: &[u8],
    msid: u32,
    tracks: &mut VideoTracks,
    anomalies: &mut Anomalies,
    emit: &mut dyn FnMut(Payload),
) {
    let payload = match t {
        _ if t.is_control() => decode_control(t, data),
        MessageType::AUDIO => match decode_audio(data) {
            Ok(tracks) => {
                tracks.into_iter().for_each(|a| emit(Payload::Audio(a)));
                return;
            }
            Err(reason) => Payload::Malformed(reason),
        },
        MessageType::VIDEO => match decode_video(data, tracks.stream(msid)) {
            Ok(tracks_decoded) => {
                for v in tracks_decoded {
                    let track = v.track_id.unwrap_or(0);
                    let known = tracks.nal_length_size(msid, track).is_some();
                    if v.packet == VideoPacket::SequenceHeader {
                        if let Some(c) = &v.config {
                            tracks.set_nal_length_size(msid, track, c.nal_length_size);
                        }
                    } else if v.packet == VideoPacket::CodedFrames
                        && !known
                        && v.codec.nal_codec().is_some()
                    {
                        anomalies.bump("rtmp.video_without_sequence_header");
                    }
                    if v.nal_truncated {
                        anomalies.bump("rtmp.video_nal_truncated");
                    }
                    emit(Payload::Video(v));
                }
                return;
            }
            Err(reason) => Payload::Malformed(reason),
        },
        MessageType::COMMAND_AMF0 => decode_command(data, true, false),
        MessageType::COMMAND_AMF3 => decode_command(data, true, true),
        MessageType::DATA_AMF0 => decode_command(data, false, false),
        MessageType::DATA_AMF3 => decode_command(data, false, true),
        _ => Payload::Other,
    };
    if let Payload::Malformed(reason) = payload {
        anomalies.bump(reason);
    }
    emit(payload);
}
