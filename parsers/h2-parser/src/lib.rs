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
mod hpack;

use std::collections::{BTreeMap, VecDeque};

use body::Sink;
use frame::*;
/// The same types as the HTTP/1.x parser's, so one caller serves both: a streamed
/// chunk's `id` is the HTTP/2 stream identifier here.
pub use http_parser::{BodyChunk, BodyMode, Direction};

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

/// Chooses a [`BodyMode`] per response, seeing the request (if it was captured) and
/// the response head (status and fields; offsets past `head_end` not yet set).
pub type BodyPolicy = Box<dyn FnMut(Option<&Request>, &Response) -> BodyMode + Send>;

/// The policy for HLS viewers: keep playlists (`mpegurl` content type or `.m3u8`
/// path), stream media segments (`video/*`, `audio/*`, `.ts`, `.m4s`, `.mp4`,
/// `.aac`, `.m4a`, `.m4v`), skip the rest. Only 2xx bodies are kept or streamed.
pub fn hls_body_policy(request: Option<&Request>, response: &Response) -> BodyMode {
    if !(200..300).contains(&response.status) {
        return BodyMode::Skip;
    }
    let ctype = response
        .content_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = request.map_or(String::new(), |r| {
        let end = r.path.find(['?', '#']).unwrap_or(r.path.len());
        r.path[..end].to_ascii_lowercase()
    });
    let has_ext = |exts: &[&str]| exts.iter().any(|e| path.ends_with(e));
    if ctype.contains("mpegurl") || has_ext(&[".m3u8", ".m3u"]) {
        BodyMode::Keep
    } else if ctype.starts_with("video/")
        || ctype.starts_with("audio/")
        || has_ext(&[".ts", ".m4s", ".mp4", ".aac", ".m4a", ".m4v"])
    {
        BodyMode::Stream
    } else {
        BodyMode::Skip
    }
}

/// A header field as decoded: name (lower case on the wire in HTTP/2) and value.
pub type Field = (String, String);

/// A request: the HEADERS that opened a stream (client to server offsets), or for a
/// pushed stream the PUSH_PROMISE that announced it (server to client offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `:method`, e.g. `GET` (empty if absent: `h2.request_without_method`).
    pub method: String,
    /// `:path` (empty for CONNECT).
    pub path: String,
    /// `:authority`, the HTTP/2 Host.
    pub authority: Option<String>,
    /// `:scheme`.
    pub scheme: Option<String>,
    /// `:protocol` (extended CONNECT, RFC 8441: `websocket`).
    pub protocol: Option<String>,
    /// The regular fields, in order.
    pub headers: Vec<Field>,
    /// Fields of a trailing header block (after the body).
    pub trailers: Vec<Field>,
    /// Stream offset of the first byte of the HEADERS (or PUSH_PROMISE) frame.
    pub start: u64,
    /// One past the last byte of the frame that ended the header block.
    pub head_end: u64,
    /// One past the last byte of the frame that ended the request (END_STREAM), or
    /// of the last frame seen if it was cut.
    pub end: u64,
    /// Request body bytes (DATA payload without padding, bytes lost in gaps
    /// included).
    pub body_len: u64,
    /// False if the request was cut (gap, connection end, reset) before its
    /// END_STREAM, or body bytes were lost.
    pub complete: bool,
}

impl Request {
    /// The first value of a regular field (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

/// The final response of a stream (server to client offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `:status` (0 if absent or not a number: `h2.bad_status`).
    pub status: u16,
    /// The regular fields, in order.
    pub headers: Vec<Field>,
    /// Fields of the trailing header block.
    pub trailers: Vec<Field>,
    /// `content-type`.
    pub content_type: Option<String>,
    /// `content-length`, when a number.
    pub content_length: Option<u64>,
    /// `content-encoding` (gzip is undone for kept bodies).
    pub content_encoding: Option<String>,
    /// Stream offset of the first byte of the response's HEADERS frame (the final
    /// response; interim 1xx ones are in [`Exchange::interim_statuses`]).
    pub start: u64,
    /// One past the last byte of the frame that ended its header block.
    pub head_end: u64,
    /// Offset of the first body byte (in the first non-empty DATA frame).
    pub body_start: Option<u64>,
    /// One past the last body byte: the last DATA payload byte (padding excluded).
    pub body_end: Option<u64>,
    /// One past the last byte of the frame that ended the response (END_STREAM on
    /// DATA or trailers); if it was cut, of the last frame seen or the last body
    /// byte, whichever is later.
    pub end: u64,
    /// Body bytes: DATA payload without padding (bytes lost in gaps included).
    pub body_len: u64,
    /// Body bytes after gzip decoding of a kept body, else `body_len`.
    pub body_decoded_len: u64,
    /// What the policy chose (Skip for an unsupported content coding).
    pub body_mode: BodyMode,
    /// The body with [`BodyMode::Keep`], if whole.
    pub body: Option<Vec<u8>>,
    /// A kept body was over [`MAX_KEPT_BODY`], lost bytes, or did not decode.
    pub body_truncated: bool,
    /// False if the response was cut (gap, connection end, reset) before its
    /// END_STREAM, or body bytes were lost.
    pub complete: bool,
}

impl Response {
    /// The first value of a regular field (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Both sides ended it with END_STREAM.
    Closed,
    /// RST_STREAM from `by` with `error_code`, its frame at stream offset `offset`.
    Reset {
        by: Direction,
        error_code: u32,
        offset: u64,
    },
    /// A GOAWAY from `by` (at `offset`) said the stream was not processed.
    Refused { by: Direction, offset: u64 },
    /// It was still open in a direction that ended (FIN, end of capture) or was lost
    /// (gap, connection error), or it was the oldest of too many open streams.
    Cut,
}

/// One stream: request and final response, either possibly missing (not captured,
/// or never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The HTTP/2 stream identifier (odd: the client's, even: pushed).
    pub stream_id: u32,
    /// For a pushed stream, the stream its PUSH_PROMISE came on.
    pub promised_on: Option<u32>,
    pub request: Option<Request>,
    pub response: Option<Response>,
    /// Statuses of interim 1xx responses (100 Continue, 103 Early Hints).
    pub interim_statuses: Vec<u16>,
    pub end: End,
}

/// A GOAWAY frame: its sender processes no stream the peer opened above
/// `last_stream_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    pub by: Direction,
    pub last_stream_id: u32,
    pub error_code: u32,
    /// Stream offset of the frame's first byte.
    pub offset: u64,
}

/// What the session reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A streamed body begins (before its first chunk, even if it stays empty).
    BodyStart {
        stream_id: u32,
        path: Option<String>,
        content_type: Option<String>,
    },
    /// Bytes of a streamed body: `id` is the stream, `wire` the server-to-client
    /// offsets (inside one DATA frame), `in_input` set by
    /// [`Session::borrowing_bodies`].
    BodyChunk(BodyChunk),
    /// `len` bytes of a streamed body at `body_offset` were lost in a capture gap.
    BodyGap {
        stream_id: u32,
        body_offset: u64,
        len: u64,
    },
    /// A stream ended (after all its body messages).
    Exchange(Box<Exchange>),
    /// A GOAWAY frame (the refused streams follow as exchanges).
    GoAway(GoAway),
}

fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

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

    /// A HEADERS or PUSH_PROMISE frame is complete: strip padding and the fields
    /// before the block fragment.
    fn block_start(&mut self, dir: Direction, f: Frame, end: u64) {
        let half = &mut self.halves[idx(dir)];
        let p = &half.payload;
        let pad = if f.h.has(PADDED) {
            usize::from(p[0])
        } else {
            0
        };
        let lead = f.h.lead_len() as usize;
        if lead + pad > p.len() {
            return self.lose(dir, "h2.bad_padding");
        }
        let promised = (f.h.kind == PUSH_PROMISE).then(|| {
            let at = lead - 4;
            u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) & 0x7fff_ffff
        });
        half.fragments.clear();
        half.fragments.extend_from_slice(&p[lead..p.len() - pad]);
        half.block = Some(Block {
            stream: f.h.stream,
            promised,
            end_stream: f.h.kind == HEADERS && f.h.has(END_STREAM),
            start: f.start,
        });
        if f.h.has(END_HEADERS) {
            self.block_end(dir, end);
        }
    }

    /// The header block is complete, its last frame ending at `end`: decode it
    /// (always, so the dynamic table stays right) and apply it to its stream.
    fn block_end(&mut self, dir: Direction, end: u64) {
        let half = &mut self.halves[idx(dir)];
        let Some(block) = half.block.take() else {
            return;
        };
        let mut fields = Fields::default();
        let decoded = half.hpack.decode(&half.fragments, |n, v| fields.add(n, v));
        half.fragments.clear();
        if let Err(reason) = decoded {
            return self.lose(dir, reason);
        }
        if fields.dropped {
            self.anomaly("h2.header_list_too_long");
        }
        match (dir, block.promised) {
            (Direction::ClientToServer, _) => self.request_headers(block, fields, end),
            (Direction::ServerToClient, None) => self.response_headers(block, fields, end),
            (Direction::ServerToClient, Some(promised)) => {
                self.push_promise(block, promised, fields, end)
            }
        }
    }

    fn new_request(&mut self, fields: Fields, start: u64, end: u64) -> Request {
        let method = fields.pseudo(":method");
        if method.is_none() {
            self.anomaly("h2.request_without_method");
        }
        Request {
            method: method.unwrap_or_default(),
            path: fields.pseudo(":path").unwrap_or_default(),
            authority: fields.pseudo(":authority"),
            scheme: fields.pseudo(":scheme"),
            protocol: fields.pseudo(":protocol"),
            headers: fields.regular,
            trailers: Vec::new(),
            start,
            head_end: end,
            end,
            body_len: 0,
            complete: true,
        }
    }

    /// Opens stream `id`, ending the oldest one if too many are open.
    fn open(&mut self, id: u32) -> &mut Stream {
        self.open_as(id, false)
    }

    /// Opens stream `id`; `pushed`: the client's side is done from the start (a
    /// promised request has no body).
    fn open_as(&mut self, id: u32, pushed: bool) -> &mut Stream {
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&id) {
            self.anomaly("h2.too_many_streams");
            if let Some(oldest) = self.streams.keys().next().copied() {
                if let Some(s) = self.streams.get_mut(&oldest) {
                    s.end_half(C2S, None);
                    s.end_half(S2C, None);
                }
                self.close_if_done(oldest);
            }
        }
        let parity = usize::from(id % 2 == 0);
        self.max_opened[parity] = self.max_opened[parity].max(id);
        let over = self
            .halves
            .each_ref()
            .map(|h| matches!(h.state, State::Dead));
        let s = self.streams.entry(id).or_default();
        s.done[C2S] |= pushed;
        // A side that has ended or was lost sends nothing more on it.
        for (d, over) in over.into_iter().enumerate() {
            if over {
                s.end_half(d, None);
            }
        }
        s
    }

    fn request_headers(&mut self, block: Block, fields: Fields, end: u64) {
        let id = block.stream;
        if id % 2 == 0 {
            return self.anomaly("h2.client_stream_id_even");
        }
        match self.streams.get(&id) {
            Some(s) if s.done[C2S] => return self.anomaly("h2.headers_after_end_stream"),
            Some(s) if s.request.is_some() => {
                if let Some(r) = self.streams.get_mut(&id).and_then(|s| s.request.as_mut()) {
                    r.trailers = fields.regular;
                }
                if !block.end_stream {
                    self.anomaly("h2.trailers_without_end_stream");
                }
            }
            None if id <= self.max_opened[0] => {
                return self.anomaly("h2.headers_on_closed_stream");
            }
            _ => {
                let request = self.new_request(fields, block.start, end);
                self.open(id).request = Some(request);
            }
        }
        if block.end_stream {
            if let Some(s) = self.streams.get_mut(&id) {
                s.end_half(C2S, Some(end));
            }
            self.close_if_done(id);
        }
    }

    fn response_headers(&mut self, block: Block, fields: Fields, end: u64) {
        let id = block.stream;
        let parity = usize::from(id % 2 == 0);
        match self.streams.get(&id) {
            Some(s) if s.done[S2C] => return self.anomaly("h2.headers_after_end_stream"),
            Some(_) => {}
            // Closed already (e.g. reset by the client while this was on its way).
            None if id <= self.max_opened[parity] => return,
            None => {
                self.anomaly("h2.response_without_request");
                self.open(id);
            }
        }
        let status = fields.pseudo(":status").and_then(|s| s.parse::<u16>().ok());
        if status.is_none() && self.streams.get(&id).is_some_and(|s| s.response.is_none()) {
            self.anomaly("h2.bad_status");
        }
        let status = status.unwrap_or(0);
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if let Some(r) = &mut s.response {
            r.trailers = fields.regular;
            r.end = r.end.max(end);
            if !block.end_stream {
                count(&mut self.anomalies, "h2.trailers_without_end_stream");
            }
        } else if (100..200).contains(&status) && !block.end_stream {
            s.interim.push(status);
            return;
        } else {
            let headers = fields.regular;
            let mut response = Response {
                status,
                content_type: find(&headers, "content-type").map(str::to_string),
                content_length: find(&headers, "content-length").and_then(|v| v.parse().ok()),
                content_encoding: find(&headers, "content-encoding").map(str::to_string),
                headers,
                trailers: Vec::new(),
                start: block.start,
                head_end: end,
                body_start: None,
                body_end: None,
                end,
                body_len: 0,
                body_decoded_len: 0,
                body_mode: BodyMode::Skip,
                body: None,
                body_truncated: false,
                complete: true,
            };
            let mut mode = (self.policy)(s.request.as_ref(), &response);
            let coding = response
                .content_encoding
                .as_deref()
                .map(|c| c.trim().to_ascii_lowercase());
            let gzip = matches!(coding.as_deref(), Some("gzip" | "x-gzip"));
            let plain = matches!(coding.as_deref(), None | Some("identity"));
            if mode != BodyMode::Skip && !plain && !(gzip && mode == BodyMode::Keep) {
                count(&mut self.anomalies, "h2.unsupported_content_encoding");
                mode = BodyMode::Skip;
            }
            response.body_mode = mode;
            if mode == BodyMode::Stream {
                self.out.push_back(Message::BodyStart {
                    stream_id: id,
                    path: s.request.as_ref().map(|r| r.path.clone()),
                    content_type: response.content_type.clone(),
                });
            }
            s.sink = Some(Sink::new(mode, gzip, self.borrow));
            s.response = Some(response);
        }
        if block.end_stream {
            s.end_half(S2C, Some(end));
            self.close_if_done(id);
        }
    }

    fn push_promise(&mut self, block: Block, promised: u32, fields: Fields, end: u64) {
        if promised == 0 || promised % 2 == 1 {
            return self.lose(Direction::ServerToClient, "h2.bad_promised_stream");
        }
        if self.streams.contains_key(&promised) || promised <= self.max_opened[1] {
            return self.anomaly("h2.promised_stream_reused");
        }
        let request = self.new_request(fields, block.start, end);
        let s = self.open_as(promised, true);
        s.request = Some(request);
        s.promised_on = Some(block.stream);
    }

    /// Applies a SETTINGS frame from `dir` to what the other direction may send.
    fn settings(&mut self, dir: Direction) {
        let d = idx(dir);
        let payload = std::mem::take(&mut self.halves[d].payload);
        for p in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            match id {
                SETTINGS_HEADER_TABLE_SIZE => {
                    if value > MAX_HEADER_TABLE_SIZE {
                        self.anomaly("h2.header_table_size_capped");
                    }
                    let peer = &mut self.halves[1 - d];
                    let bound = value.min(MAX_HEADER_TABLE_SIZE);
                    // Only ever raised: the peer's encoder may still use the old
                    // size until it has seen this frame, and lowering the table is
                    // its size update's job, which the decoder follows.
                    if bound > peer.table_bound {
                        peer.table_bound = bound;
                        peer.hpack.set_bound(bound as usize);
                    }
                }
                SETTINGS_MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=FRAME_SIZE_LIMIT).contains(&value) {
                        return self.lose(dir, "h2.bad_max_frame_size");
                    }
                    // Raised only, for the same reason.
                    let peer = &mut self.halves[1 - d];
                    peer.max_frame = peer.max_frame.max(value);
                }
                _ => {}
            }
        }
        self.halves[d].payload = payload;
    }

    /// RST_STREAM or GOAWAY stopped stream `id`.
    fn stop_stream(&mut self, id: u32, reason: End) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.end.get_or_insert(reason);
        s.end_half(C2S, None);
        s.end_half(S2C, None);
        self.close_if_done(id);
    }

    fn goaway(&mut self, dir: Direction, last: u32, error_code: u32, offset: u64) {
        self.out.push_back(Message::GoAway(GoAway {
            by: dir,
            last_stream_id: last,
            error_code,
            offset,
        }));
        // The streams the receiver opened above `last` were not processed: the
        // client's (odd) ones when the server sends it, pushed (even) ones when the
        // client does.
        let theirs = match dir {
            Direction::ServerToClient => 1,
            Direction::ClientToServer => 0,
        };
        let refused: Vec<u32> = self
            .streams
            .range(last.saturating_add(1)..)
            .map(|(&id, _)| id)
            .filter(|id| id % 2 == theirs)
            .collect();
        for id in refused {
            self.stop_stream(id, End::Refused { by: dir, offset });
        }
    }

    /// Reports stream `id` if both sides are done with it.
    fn close_if_done(&mut self, id: u32) {
        if self.streams.get(&id).is_none_or(|s| s.done != [true, true]) {
            return;
        }
        let Some(s) = self.streams.remove(&id) else {
            return;
        };
        let end = s.end.unwrap_or(if s.cut { End::Cut } else { End::Closed });
        self.out.push_back(Message::Exchange(Box::new(Exchange {
            stream_id: id,
            promised_on: s.promised_on,
            request: s.request,
            response: s.response,
            interim_statuses: s.interim,
            end,
        })));
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
pub mod fuzzing {
    use super::{BodyMode, Direction, Message, Session, C2S, PREFACE, S2C};

    /// Interprets `data` as: a control byte, two bytes of big-endian client stream
    /// length, the client's bytes, the server's bytes. Control bits 0-4 pick a piece
    /// size (1-32), bit 5 puts a preface and empty SETTINGS frames in front of both
    /// streams (so mutations reach the frame layer at once), bit 6 inserts a gap
    /// every 7th piece, bit 7 makes the session borrow body bytes.
    ///
    /// Feeds the client's stream whole and then the server's, and again both in
    /// pieces the way the flow layer would (unconsumed tails kept), and checks what
    /// must hold for any input: nothing consumed beyond the input, offsets ordered,
    /// borrowed chunks inside the input they came with, caps kept, and (without
    /// gaps) the same messages and anomalies from pieces as from the whole.
    pub fn session(data: &[u8]) {
        let Some((&control, rest)) = data.split_first() else {
            return;
        };
        let Some((len, rest)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let split = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
        if control & 0x20 != 0 {
            c2s.extend_from_slice(PREFACE);
            for stream in [&mut c2s, &mut s2c] {
                stream.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            }
        }
        c2s.extend_from_slice(&rest[..split]);
        s2c.extend_from_slice(&rest[split..]);
        let piece = usize::from(control & 0x1f) + 1;
        let gaps = control & 0x40 != 0;
        let borrow = control & 0x80 != 0;
        let whole = run(&c2s, &s2c, usize::MAX, false, borrow);
        let pieces = run(&c2s, &s2c, piece, gaps, borrow);
        if !gaps {
            assert_eq!(whole, pieces, "pieces of {piece} differ from the whole");
        }
    }

    /// A decoded name and value, as bytes.
    pub type RawField = (Vec<u8>, Vec<u8>);

    /// Decodes `blocks` in order with one HPACK decoder whose size updates may go up
    /// to `bound`: the fields of each block, until the first error (`None`, last).
    pub fn hpack(bound: usize, blocks: &[&[u8]]) -> Vec<Option<Vec<RawField>>> {
        let mut decoder = super::hpack::Decoder::new(super::DEFAULT_HEADER_TABLE_SIZE as usize);
        decoder.set_bound(bound);
        let mut out = Vec::new();
        for block in blocks {
            let mut fields = Vec::new();
            let ok = decoder.decode(block, |n, v| fields.push((n.to_vec(), v.to_vec())));
            out.push(ok.is_ok().then_some(fields));
            if ok.is_err() {
                break;
            }
        }
        out
    }

    /// A fuzz input from a real connection: control byte 16 (17-byte pieces, no
    /// gaps), the client's stream (at most 65 535 bytes), the server's.
    pub fn seed(c2s: &[u8], s2c: &[u8]) -> Vec<u8> {
        let c2s = &c2s[..c2s.len().min(usize::from(u16::MAX))];
        let mut out = vec![16];
        out.extend_from_slice(&(c2s.len() as u16).to_be_bytes());
        out.extend_from_slice(c2s);
        out.extend_from_slice(s2c);
        out
    }

    /// Messages (chunks merged per stream, as text) and anomalies of one run.
    fn run(c2s: &[u8], s2c: &[u8], piece: usize, gaps: bool, borrow: bool) -> Vec<String> {
        let mut session = Session::with_body_policy(|_, r| match r.status {
            200 => BodyMode::Stream,
            _ => BodyMode::Keep,
        });
        if borrow {
            session = session.borrowing_bodies();
        }
        let mut out = Vec::new();
        for (d, stream) in [(C2S, c2s), (S2C, s2c)] {
            let dir = [Direction::ClientToServer, Direction::ServerToClient][d];
            let mut offset = 0u64;
            let mut tail: Vec<u8> = Vec::new();
            for (k, chunk) in stream.chunks(piece).enumerate() {
                if gaps && k % 7 == 6 {
                    session.gap(dir, offset + tail.len() as u64, chunk.len() as u64);
                    offset += (tail.len() + chunk.len()) as u64;
                    tail.clear();
                    continue;
                }
                tail.extend_from_slice(chunk);
                let n = session.feed(dir, offset, &tail);
                assert!(n <= tail.len(), "consumed more than given");
                collect(&mut session, offset, &tail, &mut out);
                offset += n as u64;
                tail.drain(..n);
            }
            session.end(dir, offset + tail.len() as u64);
            collect(&mut session, offset, &[], &mut out);
        }
        // Direction ends close every stream.
        assert_eq!(session.open_streams(), 0);
        out.push(format!("{:?}", session.anomalies()));
        out
    }

    fn collect(session: &mut Session, at: u64, input: &[u8], out: &mut Vec<String>) {
        for m in session.drain() {
            match m {
                Message::BodyChunk(c) => {
                    let bytes = c.bytes(at, input).expect("chunk inside its input");
                    assert_eq!(bytes.len() as u64, c.wire.end - c.wire.start);
                    // Merge with the previous chunk of the same stream.
                    let merged = out.last_mut().and_then(|last| {
                        let prefix = format!("body {} ", c.id);
                        last.starts_with(&prefix).then_some(last)
                    });
                    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    match merged {
                        Some(last) => last.push_str(&hex),
                        None => out.push(format!("body {} {hex}", c.id)),
                    }
                }
                Message::Exchange(e) => {
                    if let Some(r) = &e.request {
                        assert!(r.start <= r.head_end && r.head_end <= r.end);
                    }
                    if let Some(r) = &e.response {
                        assert!(r.start <= r.head_end && r.head_end <= r.end);
                        if let (Some(a), Some(b)) = (r.body_start, r.body_end) {
                            assert!(r.head_end <= a && a < b && b <= r.end);
                        }
                        assert!(r
                            .body
                            .as_ref()
                            .is_none_or(|b| b.len() <= super::MAX_KEPT_BODY));
                    }
                    out.push(format!("{e:?}"));
                }
                m => out.push(format!("{m:?}")),
            }
        }
    }
}
