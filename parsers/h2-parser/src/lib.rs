//! Passive HTTP/2 decoder for one TCP connection, both directions (RFC 9113).
//!
//! It reads the frame layer of each direction on its own (the client's bytes and the
//! server's bytes are two streams): the client's connection preface, DATA, HEADERS
//! with CONTINUATION, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY,
//! WINDOW_UPDATE, padding and HEADERS' priority fields; frames of unknown types are
//! skipped. Header blocks are decoded with HPACK (RFC 7541), keeping each
//! direction's dynamic table, and every stream becomes one [`Exchange`]: the request
//! (`:method`, `:path`, `:authority`, `:scheme`, the regular fields, trailers), the
//! final response (`:status`, fields, trailers, interim 1xx statuses) and how the
//! stream ended (both sides' END_STREAM, RST_STREAM, refused by GOAWAY, or cut).
//! Server pushes are exchanges too, with the PUSH_PROMISE's fields as the request.
//!
//! Every exchange carries stream offsets, never times, as the flow layer wants them
//! (docs/parsers.md): the first byte of the request's HEADERS frame (client to
//! server), the first byte of the response's HEADERS frame, its first and last body
//! bytes and the end of the frame that ended it (server to client).
//!
//! Response bodies are counted, kept or streamed as a [`BodyPolicy`] decides, the
//! same three [`BodyMode`]s as the HTTP/1.x parser: playlists kept (gzip undone),
//! segments streamed as [`Message::BodyChunk`]s per stream, which a session made with
//! [`Session::borrowing_bodies`] reports as ranges of the input just fed rather than
//! copies. Many streams are open at once; their chunks come out in wire order, each
//! naming its stream.
//!
//! Prior-knowledge h2c (the preface straight on TCP) and h2 inside TLS look the same
//! here: the crate only sees the bytes of each direction, starting with the preface.
//!
//! Feed both directions in capture (time) order. Streams pair up by their id in any
//! order, but the body policy sees a request only if it came first, and a frame is
//! held to the SETTINGS_MAX_FRAME_SIZE (and a header block's table size update to
//! the SETTINGS_HEADER_TABLE_SIZE) that the receiver announced before it. Those two
//! bounds are only ever raised: a peer may go on using an old value until it has
//! seen the SETTINGS frame that lowers it.
//!
//! ## Damage
//! - A capture gap inside a DATA frame's payload or padding (or inside a frame that
//!   changes nothing: PING, WINDOW_UPDATE, PRIORITY, an unknown type, GOAWAY's debug
//!   data) keeps the frame layer in step: the lost body bytes become a
//!   [`Message::BodyGap`] and the response is marked incomplete. Any other gap loses
//!   the direction: HTTP/2 frames carry no marker to find the next one by, and a lost
//!   header block leaves the HPACK dynamic table unknown, so every later header block
//!   could decode wrong. The streams open in that direction end cut.
//! - A connection error (what RFC 9113 says a receiver must answer with GOAWAY: a
//!   frame over the receiver's SETTINGS_MAX_FRAME_SIZE, a missing CONTINUATION, bad
//!   padding, an HPACK decoding error, ...) also loses the direction. Each is counted
//!   by reason in [`Session::anomalies`]; nothing is decoded past it.
//!
//! ## Limits
//! Header blocks are held until complete, at most [`MAX_HEADER_BLOCK`] bytes; decoded
//! fields kept per block are capped ([`MAX_HEADER_LIST`], [`MAX_FIELDS`]); the HPACK
//! dynamic table may grow to [`MAX_HEADER_TABLE_SIZE`]; at most [`MAX_STREAMS`]
//! streams are tracked; kept bodies are capped at [`MAX_KEPT_BODY`]. Frame lengths
//! are 24-bit, so no declared length exceeds 16 MiB; DATA payloads are never held.
//!
//! ## HPACK: why it is decoded here
//! The first version took HPACK from a crate, `loona-hpack` (the successor of
//! `fluke-hpack`, itself a fork of `hpack`): HPACK has state shared across every
//! header block of a direction (the dynamic table), a 257-symbol Huffman code, and
//! integer and string encodings where a hostile length or index is the usual bug.
//! `loona-hpack` decodes correctly and returns errors rather than panicking, but it
//! is far too slow for lagtap: its Huffman decoder builds a table of nested
//! `HashMap`s for every string it decodes and then walks it bit by bit, so a 62-byte
//! request block from curl took 164 µs in a release build (about 0.4 MB/s), and the
//! session spent ~1 ms per exchange on it, which alone would cost more than
//! lagtap's whole decode budget (1 GB/s) on a capture with a few hundred
//! exchanges; the tests' splitting runs took minutes. Its siblings `fluke-hpack` and
//! `hpack-patched` share that code, and `httlib-hpack` indexes `buf[0]` of a string
//! that may be empty, a panic on a truncated block.
//!
//! So `hpack.rs` decodes it: the static table and the Huffman code lengths are the
//! RFC's tables (the code is canonical, so its lengths define it), decoding uses an
//! 8-bit lookup for codes of up to 8 bits and the canonical first-code per length
//! for the rest, every length and index is checked (errors, never panics), and a
//! dynamic table size update is bounded by the receiver's announced
//! SETTINGS_HEADER_TABLE_SIZE. `loona-hpack` stays as a dev-dependency: the tests
//! hold this decoder to it on every header block of the real capture and on
//! thousands of mutated ones.
//!
//! ## Not covered
//! Request bodies are counted, not kept. Content codings other than gzip, and gzip
//! on a streamed body, are reported ([`Response::content_encoding`]) and the body
//! skipped (`h2.unsupported_content_encoding`). Flow control and priorities are not
//! modelled (they do not change what was sent). An upgrade from HTTP/1.1 (`Upgrade:
//! h2c`) is the HTTP/1.x parser's business; the HTTP/2 part that follows it starts
//! with the server's first frame and the client's preface like any other.
//!
//! ```
//! use h2_parser::{Direction, Message, Session, PREFACE};
//! let mut s = Session::new();
//! // Client: preface, empty SETTINGS, HEADERS on stream 1 (GET http://h/): static
//! // table entries 2 (GET), 6 (http), 4 (/) and a literal :authority "h".
//! let mut c2s = PREFACE.to_vec();
//! c2s.extend([0, 0, 0, 4, 0, 0, 0, 0, 0]);
//! c2s.extend([0, 0, 6, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 1, b'h']);
//! assert_eq!(s.feed(Direction::ClientToServer, 0, &c2s), c2s.len());
//! // Server: SETTINGS, HEADERS :status 204 with END_STREAM.
//! let s2c = [0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5, 0, 0, 0, 1, 0x89];
//! assert_eq!(s.feed(Direction::ServerToClient, 0, &s2c), s2c.len());
//! let Some(Message::Exchange(e)) = s.drain().next() else { panic!() };
//! let (req, resp) = (e.request.unwrap(), e.response.unwrap());
//! assert_eq!((req.method.as_str(), req.path.as_str(), resp.status), ("GET", "/", 204));
//! assert_eq!((req.start, resp.start, resp.end), (33, 9, 19));
//! ```

#![forbid(unsafe_code)]

mod body;
mod frame;
mod headers;
mod hpack;
mod messages;

use std::collections::{BTreeMap, VecDeque};

use body::Sink;
use frame::*;
/// The same types as the HTTP/1.x parser's, so one caller serves both: a streamed
/// chunk's `id` is the HTTP/2 stream identifier here.
pub use http_parser::{BodyChunk, BodyMode, Direction};
pub use messages::*;

/// The client connection preface (RFC 9113 §3.4), before the client's first frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SETTINGS_MAX_FRAME_SIZE until the receiver announces another (and its minimum).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE a peer may announce (2^24 - 1).
pub const FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;
/// The HPACK dynamic table size before any SETTINGS_HEADER_TABLE_SIZE.
pub const DEFAULT_HEADER_TABLE_SIZE: u32 = 4096;
/// Largest dynamic table a header block may ask for. A peer may announce more (up
/// to 2^32 - 1, counted as `h2.header_table_size_capped`); a size update beyond this
/// is an HPACK error then, which loses the direction rather than let a hostile
/// stream grow the table without bound.
pub const MAX_HEADER_TABLE_SIZE: u32 = 1 << 20;
/// Longest header block (HEADERS or PUSH_PROMISE and its CONTINUATION frames,
/// padding included) held until it is complete (more: `h2.header_block_too_long`).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// Most decoded field bytes kept per header block, counted as RFC 7541 §4.1 counts
/// table entries (name + value + 32). HPACK can expand a small block a lot through
/// table references; fields beyond are decoded but dropped
/// (`h2.header_list_too_long`).
pub const MAX_HEADER_LIST: usize = 256 * 1024;
/// Most fields kept per header block (the rest as for [`MAX_HEADER_LIST`]).
pub const MAX_FIELDS: usize = 256;
/// Streams tracked at once; opening one more ends the oldest as cut
/// (`h2.too_many_streams`).
pub const MAX_STREAMS: usize = 1024;
/// Largest body kept with [`BodyMode::Keep`] (after gzip decoding); a larger one is
/// reported as truncated and not kept.
pub const MAX_KEPT_BODY: usize = 1 << 20;
/// Bytes kept of a connection-control frame's payload (SETTINGS, GOAWAY, ...). A
/// longer SETTINGS frame is read up to here (`h2.settings_too_long`); GOAWAY's debug
/// data past it is skipped.
pub const MAX_CONTROL_PAYLOAD: usize = 4096;

fn idx(dir: Direction) -> usize {
    dir as usize
}

const C2S: usize = 0;
const S2C: usize = 1;
const DIRS: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

/// Where a direction's frame layer stands.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Client to server, before the 24-byte preface.
    Preface,
    /// Before a frame header.
    Header,
    /// Inside a frame's payload.
    Payload(Frame),
    /// Lost (gap, connection error) or ended: input is consumed and ignored.
    Dead,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    h: FrameHeader,
    /// Stream offset of the frame header's first byte.
    start: u64,
    /// Payload bytes consumed so far.
    pos: u32,
    /// DATA: the pad length, once read.
    pad: u8,
}

/// A header block waiting for its CONTINUATION frames.
#[derive(Clone, Copy, Debug)]
struct Block {
    stream: u32,
    /// The PUSH_PROMISE's promised stream; `None` for HEADERS.
    promised: Option<u32>,
    end_stream: bool,
    /// Offset of the first frame's first byte.
    start: u64,
}

/// One direction's frame layer and HPACK decoder.
struct Half {
    state: State,
    /// Offset of the next byte to be fed (after what was consumed or lost).
    next: Option<u64>,
    /// The next frame must be SETTINGS (the preface's second part).
    settings_first: bool,
    /// Frames this direction sends may be this long: the receiver's
    /// SETTINGS_MAX_FRAME_SIZE.
    max_frame: u32,
    hpack: hpack::Decoder,
    /// Largest table size a size update may set: the receiver's
    /// SETTINGS_HEADER_TABLE_SIZE (capped).
    table_bound: u32,
    block: Option<Block>,
    /// Field block fragments of `block` so far.
    fragments: Vec<u8>,
    /// The current frame's payload (header and control frames only).
    payload: Vec<u8>,
    ended: bool,
}

impl Half {
    fn new(dir: Direction) -> Half {
        let hpack = hpack::Decoder::new(DEFAULT_HEADER_TABLE_SIZE as usize);
        Half {
            state: match dir {
                Direction::ClientToServer => State::Preface,
                Direction::ServerToClient => State::Header,
            },
            next: None,
            settings_first: true,
            max_frame: DEFAULT_MAX_FRAME_SIZE,
            hpack,
            table_bound: DEFAULT_HEADER_TABLE_SIZE,
            block: None,
            fragments: Vec::new(),
            payload: Vec::new(),
            ended: false,
        }
    }
}

/// A stream being tracked.
#[derive(Default)]
struct Stream {
    promised_on: Option<u32>,
    request: Option<Request>,
    response: Option<Response>,
    interim: Vec<u16>,
    sink: Option<Sink>,
    /// Per direction: that side is done with the stream.
    done: [bool; 2],
    /// A side was cut before its END_STREAM.
    cut: bool,
    /// RST_STREAM or GOAWAY.
    end: Option<End>,
}

impl Stream {
    /// Side `d` is done: at END_STREAM in the frame ending at `end`, or cut (`None`).
    fn end_half(&mut self, d: usize, end: Option<u64>) {
        if self.done[d] {
            return;
        }
        self.done[d] = true;
        self.cut |= end.is_none();
        if d == C2S {
            if let Some(r) = &mut self.request {
                match end {
                    Some(end) => r.end = r.end.max(end),
                    None => r.complete = false,
                }
            }
            return;
        }
        if let Some(r) = &mut self.response {
            match end {
                Some(end) => r.end = r.end.max(end),
                None => {
                    // Cut inside a DATA frame: it ends with the last byte seen.
                    r.end = r.end.max(r.body_end.unwrap_or(0));
                    r.complete = false;
                }
            }
            if let Some(sink) = self.sink.take() {
                let done = sink.finish();
                r.body = done.body;
                r.body_decoded_len = done.decoded_len;
                r.body_truncated = done.truncated;
            }
        }
    }
}

/// Decoded fields of one header block, capped.
#[derive(Default)]
struct Fields {
    pseudo: Vec<Field>,
    regular: Vec<Field>,
    size: usize,
    dropped: bool,
}

impl Fields {
    fn add(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + 32;
        if self.size + size > MAX_HEADER_LIST
            || self.pseudo.len() + self.regular.len() >= MAX_FIELDS
        {
            self.dropped = true;
            return;
        }
        self.size += size;
        let field = (
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        );
        if name.starts_with(b":") {
            self.pseudo.push(field);
        } else {
            self.regular.push(field);
        }
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        find(&self.pseudo, name).map(str::to_string)
    }
}

/// One HTTP/2 connection, both directions. See the crate docs.
pub struct Session {
    halves: [Half; 2],
    streams: BTreeMap<u32, Stream>,
    /// Highest stream id opened so far: [client's (odd), pushed (even)].
    max_opened: [u32; 2],
    policy: BodyPolicy,
    borrow: bool,
    out: VecDeque<Message>,
    anomalies: Vec<(&'static str, u64)>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session with [`hls_body_policy`].
    pub fn new() -> Session {
        Session::with_body_policy(hls_body_policy)
    }

    /// A session whose bodies are kept, streamed or skipped as `policy` says.
    pub fn with_body_policy(
        policy: impl FnMut(Option<&Request>, &Response) -> BodyMode + Send + 'static,
    ) -> Session {
        Session {
            halves: DIRS.map(Half::new),
            streams: BTreeMap::new(),
            max_opened: [0, 0],
            policy: Box::new(policy),
            borrow: false,
            out: VecDeque::new(),
            anomalies: Vec::new(),
        }
    }

    /// Streamed body chunks are reported as ranges of the input of the `feed` call
    /// that produced them ([`BodyChunk::in_input`]) instead of copies: drain and
    /// take the bytes ([`BodyChunk::bytes`]) before feeding more.
    pub fn borrowing_bodies(mut self) -> Session {
        self.borrow = true;
        self
    }

    /// Anomalies counted by reason (`h2.*`), in order of first occurrence.
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        &self.anomalies
    }

    /// Messages decoded so far, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = Message> + '_ {
        self.out.drain(..)
    }

    /// Whether `dir` was given up (gap without resync, connection error) or ended.
    pub fn is_closed(&self, dir: Direction) -> bool {
        matches!(self.halves[idx(dir)].state, State::Dead)
    }

    /// Streams open now (neither ended nor reset).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    fn anomaly(&mut self, reason: &'static str) {
        count(&mut self.anomalies, reason);
    }

    /// Feeds in-order bytes of one direction, `input[0]` at stream offset `offset`.
    /// Returns how many bytes were consumed: everything but an incomplete frame
    /// header or preface (at most 23 bytes), which the caller passes again with
    /// more bytes behind it.
    pub fn feed(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let d = idx(dir);
        match self.halves[d].next {
            Some(next) if offset > next => {
                self.anomaly("h2.offset_skipped");
                self.gap(dir, next, offset - next);
            }
            Some(next) if offset < next => {
                // Bytes fed again after they were consumed: the caller lost track.
                self.lose(dir, "h2.offset_went_back");
            }
            _ => {}
        }
        let mut pos = 0;
        loop {
            let at = offset + pos as u64;
            let rest = &input[pos..];
            match self.halves[d].state {
                State::Dead => {
                    pos = input.len();
                    break;
                }
                State::Preface => {
                    let n = rest.len().min(PREFACE.len());
                    if rest[..n] != PREFACE[..n] {
                        self.lose(dir, "h2.bad_preface");
                    } else if n < PREFACE.len() {
                        break;
                    } else {
                        pos += n;
                        self.halves[d].state = State::Header;
                    }
                }
                State::Header => {
                    let Some(head) = rest.first_chunk::<HEADER_LEN>() else {
                        break;
                    };
                    pos += HEADER_LEN;
                    self.frame_start(dir, FrameHeader::parse(head), at);
                }
                State::Payload(mut f) => {
                    let remaining = (f.h.len - f.pos) as usize;
                    if remaining == 0 {
                        self.halves[d].state = State::Header;
                        self.frame_end(dir, f, at);
                        continue;
                    }
                    if rest.is_empty() {
                        break;
                    }
                    let take = remaining.min(rest.len());
                    self.frame_bytes(dir, &mut f, at, &rest[..take]);
                    f.pos += take as u32;
                    pos += take;
                    if let State::Payload(_) = self.halves[d].state {
                        self.halves[d].state = State::Payload(f);
                    }
                }
            }
        }
        self.halves[d].next = Some(offset + pos as u64);
        pos
    }

    /// The capture missed `len` bytes of `dir` at `offset`. Inside a DATA payload
    /// (or a frame that changes nothing) the frame layer skips them; anywhere else
    /// the direction is lost (see the crate docs).
    pub fn gap(&mut self, dir: Direction, offset: u64, len: u64) {
        let d = idx(dir);
        if len == 0 {
            return;
        }
        let half = &mut self.halves[d];
        let in_step = half.next == Some(offset);
        half.next = Some(offset.saturating_add(len));
        if let State::Dead = half.state {
            return;
        }
        count(&mut self.anomalies, "h2.gap");
        if let (State::Payload(mut f), true) = (self.halves[d].state, in_step) {
            let remaining = u64::from(f.h.len - f.pos);
            if len <= remaining && skippable(&f) {
                if f.h.kind == DATA {
                    let data_end = u64::from(f.h.len - u32::from(f.pad));
                    let from = u64::from(f.pos.max(f.h.lead_len()));
                    let lost = (u64::from(f.pos) + len).min(data_end).saturating_sub(from);
                    self.body_lost(dir, f.h.stream, lost);
                }
                f.pos += len as u32;
                self.halves[d].state = State::Payload(f);
                if f.pos == f.h.len {
                    self.halves[d].state = State::Header;
                    self.frame_end(dir, f, offset + len);
                }
                return;
            }
        }
        self.lose(dir, "h2.gap_lost_sync");
    }

    /// The direction ended (FIN, RST, end of capture) at `offset`: streams still
    /// open in it end cut.
    pub fn end(&mut self, dir: Direction, offset: u64) {
        let d = idx(dir);
        let half = &mut self.halves[d];
        if half.ended {
            return;
        }
        half.ended = true;
        let at_boundary = match half.state {
            State::Dead => true,
            State::Header | State::Preface => half.next.is_none_or(|n| n == offset),
            State::Payload(_) => false,
        };
        if !at_boundary || half.block.is_some() {
            self.anomaly("h2.truncated_frame");
        }
        self.halves[d].state = State::Dead;
        self.cut_direction(d);
    }

    /// Gives the direction up: counted as `reason`; its open streams end cut.
    fn lose(&mut self, dir: Direction, reason: &'static str) {
        self.anomaly(reason);
        let half = &mut self.halves[idx(dir)];
        half.state = State::Dead;
        half.block = None;
        half.fragments = Vec::new();
        half.payload = Vec::new();
        self.cut_direction(idx(dir));
    }

    fn cut_direction(&mut self, d: usize) {
        let ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| !s.done[d])
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            if let Some(s) = self.streams.get_mut(&id) {
                s.end_half(d, None);
            }
            self.close_if_done(id);
        }
    }

    /// A frame header was read: check it against the connection's rules and set up
    /// its payload.
    fn frame_start(&mut self, dir: Direction, h: FrameHeader, at: u64) {
        let d = idx(dir);
        let half = &mut self.halves[d];
        let first = std::mem::replace(&mut half.settings_first, false);
        let problem = if first && (h.kind != SETTINGS || h.has(ACK)) {
            Some("h2.preface_not_settings")
        } else if h.len > half.max_frame {
            Some("h2.frame_too_large")
        } else if half
            .block
            .is_some_and(|b| h.kind != CONTINUATION || h.stream != b.stream)
        {
            Some("h2.continuation_expected")
        } else if half.block.is_none() && h.kind == CONTINUATION {
            Some("h2.unexpected_continuation")
        } else if !h.known() {
            None
        } else if h.connection_level() != (h.stream == 0) && h.kind != WINDOW_UPDATE {
            Some("h2.bad_stream_id")
        } else if !h.length_ok() {
            Some("h2.bad_frame_length")
        } else if matches!(h.kind, HEADERS | PUSH_PROMISE | CONTINUATION)
            && half.fragments.len() + h.len as usize > MAX_HEADER_BLOCK
        {
            Some("h2.header_block_too_long")
        } else if h.kind == PUSH_PROMISE && d == C2S {
            Some("h2.push_promise_from_client")
        } else {
            None
        };
        if let Some(reason) = problem {
            return self.lose(dir, reason);
        }
        half.payload.clear();
        half.state = State::Payload(Frame {
            h,
            start: at,
            pos: 0,
            pad: 0,
        });
        if h.kind == DATA && !self.data_wanted(d, h.stream) {
            let parity = usize::from(h.stream % 2 == 0);
            if !self.streams.contains_key(&h.stream) && h.stream > self.max_opened[parity] {
                self.anomaly("h2.data_on_idle_stream");
            } else if self.streams.contains_key(&h.stream) {
                self.anomaly("h2.data_out_of_place");
            }
        }
    }

    /// Whether DATA from direction `d` on `stream` belongs to a request or response
    /// being read.
    fn data_wanted(&self, d: usize, stream: u32) -> bool {
        self.streams.get(&stream).is_some_and(|s| {
            !s.done[d]
                && if d == C2S {
                    s.request.is_some()
                } else {
                    s.response.is_some()
                }
        })
    }

    /// Payload bytes `bytes` of frame `f` at stream offset `at` (`f.pos` not yet
    /// advanced past them).
    fn frame_bytes(&mut self, dir: Direction, f: &mut Frame, at: u64, bytes: &[u8]) {
        let d = idx(dir);
        match f.h.kind {
            DATA => {
                let (mut at, mut bytes, mut pos) = (at, bytes, f.pos);
                if f.h.has(PADDED) && pos == 0 {
                    f.pad = bytes[0];
                    if u32::from(f.pad) >= f.h.len {
                        return self.lose(dir, "h2.bad_padding");
                    }
                    (at, bytes, pos) = (at + 1, &bytes[1..], 1);
                }
                let data_end = f.h.len - u32::from(f.pad);
                let n = (data_end.saturating_sub(pos) as usize).min(bytes.len());
                if n > 0 {
                    self.body_bytes(dir, f.h.stream, at, &bytes[..n]);
                }
            }
            HEADERS | PUSH_PROMISE | CONTINUATION => {
                self.halves[d].payload.extend_from_slice(bytes);
            }
            SETTINGS | GOAWAY | RST_STREAM => {
                let payload = &mut self.halves[d].payload;
                let room = MAX_CONTROL_PAYLOAD.saturating_sub(payload.len());
                payload.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            // PING, PRIORITY, WINDOW_UPDATE change nothing here; unknown types are
            // skipped.
            _ => {}
        }
    }

    fn body_bytes(&mut self, dir: Direction, id: u32, at: u64, bytes: &[u8]) {
        let d = idx(dir);
        if !self.data_wanted(d, id) {
            return;
        }
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let n = bytes.len() as u64;
        if d == C2S {
            if let Some(r) = &mut s.request {
                r.body_len += n;
            }
            return;
        }
        if let Some(r) = &mut s.response {
            r.body_start.get_or_insert(at);
            r.body_end = Some(at + n);
            r.body_len += n;
            if let Some(sink) = &mut s.sink {
                sink.write(id, at, bytes, &mut self.out);
            }
        }
    }

    /// `len` body bytes of stream `id` from `dir` were lost in a gap.
    fn body_lost(&mut self, dir: Direction, id: u32, len: u64) {
        let d = idx(dir);
        if len == 0 || !self.data_wanted(d, id) {
            return;
        }
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if d == C2S {
            if let Some(r) = &mut s.request {
                r.body_len += len;
                r.complete = false;
            }
        } else if let Some(r) = &mut s.response {
            r.body_len += len;
            r.complete = false;
            if let Some(sink) = &mut s.sink {
                sink.gap(id, len, &mut self.out);
            }
        }
    }

    /// The last payload byte of `f` arrived; `end` is one past it.
    fn frame_end(&mut self, dir: Direction, f: Frame, end: u64) {
        let d = idx(dir);
        match f.h.kind {
            DATA => {
                if let Some(s) = self.streams.get_mut(&f.h.stream) {
                    if !s.done[d] {
                        match (d, &mut s.request, &mut s.response) {
                            (C2S, Some(r), _) => r.end = r.end.max(end),
                            (S2C, _, Some(r)) => r.end = r.end.max(end),
                            _ => {}
                        }
                    }
                    if f.h.has(END_STREAM) {
                        s.end_half(d, Some(end));
                    }
                }
                self.close_if_done(f.h.stream);
            }
            HEADERS | PUSH_PROMISE => self.block_start(dir, f, end),
            CONTINUATION => {
                let half = &mut self.halves[d];
                half.fragments.extend_from_slice(&half.payload);
                if f.h.has(END_HEADERS) {
                    self.block_end(dir, end);
                }
            }
            SETTINGS => {
                if f.h.len as usize > MAX_CONTROL_PAYLOAD {
                    self.anomaly("h2.settings_too_long");
                }
                if !f.h.has(ACK) {
                    self.settings(dir);
                }
            }
            RST_STREAM => {
                let p = &self.halves[d].payload;
                let code = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                let reason = End::Reset {
                    by: dir,
                    error_code: code,
                    offset: f.start,
                };
                self.stop_stream(f.h.stream, reason);
            }
            GOAWAY => {
                let p = &self.halves[d].payload;
                let last = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                self.goaway(dir, last, code, f.start);
            }
            _ => {}
        }
    }
}

/// Whether a gap inside frame `f` (from `f.pos` on, within the frame) leaves the
/// connection's state known: body bytes and padding of DATA (once the pad length
/// is known), frames that change nothing we track, GOAWAY's debug data.
fn skippable(f: &Frame) -> bool {
    match f.h.kind {
        DATA => !(f.h.has(PADDED) && f.pos == 0),
        PING | PRIORITY | WINDOW_UPDATE => true,
        GOAWAY => f.pos >= 8,
        _ => !f.h.known(),
    }
}

fn count(anomalies: &mut Vec<(&'static str, u64)>, reason: &'static str) {
    match anomalies.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += 1,
        None => anomalies.push((reason, 1)),
    }
}

/// The body of the fuzz target, here so that `cargo test` runs it over the seeds
/// too. Not part of the API.
#[doc(hidden)]
pub mod fuzzing;
