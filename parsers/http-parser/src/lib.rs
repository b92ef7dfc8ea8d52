//! Passive HTTP/1.x decoder for one TCP connection, both directions.
//!
//! It pairs requests with responses (a queue, so pipelining and keep-alive work),
//! finds body ends by `Content-Length`, chunked coding or connection close, knows
//! the responses that never have a body (HEAD, 1xx, 204, 304), notices `101
//! Switching Protocols` (and CONNECT tunnels) and stops there so the caller can hand
//! the rest of each direction to another decoder.
//!
//! Every [`Exchange`] carries stream offsets, never times: the flow layer maps them
//! to capture times (the request's first byte is when the viewer asked, the
//! response's last body byte is when the segment was fully received).
//!
//! Bodies are not accumulated unless the caller asks. A [`BodyPolicy`] decides per
//! response (it sees the request and the response head): [`BodyMode::Keep`] for small
//! things like playlists (capped at [`MAX_KEPT_BODY`], returned in the exchange),
//! [`BodyMode::Stream`] for media segments (passed on as [`Message::BodyChunk`]s as
//! they arrive, so an MPEG-TS decoder runs without holding the segment), or
//! [`BodyMode::Skip`]. gzip content coding is undone for kept and streamed bodies.
//!
//! Parsing of heads is delegated to `httparse`; framing and the session are here.
//!
//! Feed both directions in capture (time) order, so that each request is known
//! before its response: the request method decides whether a response has a body.
//!
//! ```
//! use http_parser::{Direction, Message, Session};
//! let mut s = Session::new(); // hls_body_policy: keep playlists, stream segments
//! let req = b"GET /hls/a.m3u8 HTTP/1.1\r\nHost: h\r\n\r\n";
//! assert_eq!(s.feed(Direction::ClientToServer, 0, req), req.len());
//! let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n#EXTM3U\n";
//! assert_eq!(s.feed(Direction::ServerToClient, 0, resp), resp.len());
//! let Some(Message::Exchange(e)) = s.drain().next() else { panic!() };
//! let r = e.response.unwrap();
//! assert_eq!((e.request.unwrap().start, r.head_end, r.end), (0, 38, 46));
//! assert_eq!(r.body.as_deref(), Some(&b"#EXTM3U\n"[..]));
//! ```

#![forbid(unsafe_code)]

mod framing;

use std::collections::VecDeque;
use std::io::Write;
use std::ops::Range;

use framing::{Chunk, Framing, Step};

/// Longest request or response head (start line and header fields) waited for.
/// Longer heads give the direction up (counted as `http.head_too_long`).
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// Most header fields in one head (more: `http.bad_*_head`).
pub const MAX_HEADERS: usize = 128;
/// Longest chunk-size line or trailer line.
pub const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Largest body kept with [`BodyMode::Keep`] (after decompression); the rest is
/// counted but dropped and the response is marked `body_truncated`.
pub const MAX_KEPT_BODY: usize = 1 << 20;
/// Largest decompressed size of a streamed gzip body; beyond it decompression stops
/// (`http.gzip_too_large`): a guard against decompression bombs.
pub const MAX_STREAMED_DECODED: u64 = 256 << 20;
/// Declared lengths (Content-Length, chunk sizes) above this are absurd and give
/// the direction up (`http.absurd_length`).
pub const MAX_CONTENT_LENGTH: u64 = 1 << 40;
/// Requests waiting for their response; beyond it the oldest is reported without
/// a response (`http.too_many_pending_requests`).
pub const MAX_PENDING_REQUESTS: usize = 256;
/// gzip input is fed to the decoder in steps this large so that output growth is
/// checked against the caps often enough.
const GZIP_STEP: usize = 512;

/// Request header fields copied into [`Request::headers`] (lower case).
pub const REQUEST_HEADERS_OF_INTEREST: &[&str] = &[
    "host",
    "user-agent",
    "accept-encoding",
    "range",
    "if-modified-since",
    "if-none-match",
    "connection",
    "upgrade",
    "referer",
    "origin",
    "content-type",
    "content-length",
    "transfer-encoding",
    "sec-websocket-key",
    "sec-websocket-protocol",
    "x-playback-session-id",
];

/// Response header fields copied into [`Response::headers`] (lower case).
pub const RESPONSE_HEADERS_OF_INTEREST: &[&str] = &[
    "date",
    "last-modified",
    "etag",
    "age",
    "cache-control",
    "expires",
    "server",
    "location",
    "content-range",
    "connection",
    "upgrade",
    "transfer-encoding",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "via",
    "x-cache",
];

/// Which half of the connection bytes belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that opened the connection (requests).
    ClientToServer,
    /// From the server (responses).
    ServerToClient,
}

/// What to do with one response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// Count it, keep nothing.
    Skip,
    /// Keep it (decoded, capped at [`MAX_KEPT_BODY`]) in [`Response::body`].
    Keep,
    /// Pass it on incrementally as [`Message::BodyChunk`]s.
    Stream,
}

/// Chooses a [`BodyMode`] per response, seeing the request (if it was captured) and
/// the response head (status, content type, …; `end` and body fields not yet set).
pub type BodyPolicy = Box<dyn FnMut(Option<&Request>, &Response) -> BodyMode + Send>;

/// The policy for HLS viewers: keep playlists (`mpegurl` content type or `.m3u8`
/// URI), stream media segments (`video/*`, `audio/*`, `.ts`, `.m4s`, `.mp4`, `.aac`),
/// skip the rest. Only successful (2xx) bodies are kept or streamed.
pub fn hls_body_policy(request: Option<&Request>, response: &Response) -> BodyMode {
    if !(200..300).contains(&response.status) {
        return BodyMode::Skip;
    }
    let ctype = response
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let path = request
        .map(|r| {
            r.uri
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if ctype.contains("mpegurl") || path.ends_with(".m3u8") || path.ends_with(".m3u") {
        BodyMode::Keep
    } else if ctype.starts_with("video/")
        || ctype.starts_with("audio/")
        || [".ts", ".m4s", ".mp4", ".aac", ".m4a", ".m4v"]
            .iter()
            .any(|ext| path.ends_with(ext))
    {
        BodyMode::Stream
    } else {
        BodyMode::Skip
    }
}

/// A request head as seen on the wire (c2s offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method token, e.g. `GET`.
    pub method: String,
    /// Request target as sent (origin form `/path?q` or absolute form).
    pub uri: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The `Host` field, if any.
    pub host: Option<String>,
    /// Fields named in [`REQUEST_HEADERS_OF_INTEREST`], names lower case, in order.
    pub headers: Vec<(String, String)>,
    /// Stream offset of the first byte of the request line.
    pub start: u64,
    /// Offset one past the blank line ending the head.
    pub head_end: u64,
    /// Offset one past the last byte of the request (head and body); the last byte
    /// is `end - 1`.
    pub end: u64,
}

impl Request {
    /// The first value of a kept header field (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A response (s2c offsets) and what became of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The `Content-Type` field.
    pub content_type: Option<String>,
    /// The `Content-Length` field, when valid.
    pub content_length: Option<u64>,
    /// The `Content-Encoding` field (`gzip` is decoded for kept/streamed bodies).
    pub content_encoding: Option<String>,
    /// True if the body used chunked transfer coding.
    pub chunked: bool,
    /// Fields named in [`RESPONSE_HEADERS_OF_INTEREST`], names lower case.
    pub headers: Vec<(String, String)>,
    /// Stream offset of the first byte of the status line.
    pub start: u64,
    /// Offset one past the blank line ending the head (= first body byte).
    pub head_end: u64,
    /// Offset one past the last byte of the response; with a body, its last byte
    /// is `end - 1`.
    pub end: u64,
    /// Body bytes on the wire, without chunk framing, before content decoding.
    pub body_wire_len: u64,
    /// Body bytes after content decoding (equals `body_wire_len` without gzip or
    /// when the body was skipped).
    pub body_decoded_len: u64,
    /// What the policy chose.
    pub body_mode: BodyMode,
    /// The body, decoded, with [`BodyMode::Keep`].
    pub body: Option<Vec<u8>>,
    /// True if a kept body exceeded [`MAX_KEPT_BODY`] or decoding failed/stopped.
    pub body_truncated: bool,
    /// False if the response was cut short (connection end, gap) before its framing
    /// said it was complete, or bytes of its body were lost in a gap.
    pub complete: bool,
}

impl Response {
    /// The first value of a kept header field (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// One request and its final response. Either may be missing: a response whose
/// request was not captured, or a request whose response never came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Sequence number within the session, also used by [`Message::BodyChunk`].
    pub id: u64,
    /// The request, if captured.
    pub request: Option<Request>,
    /// The final (non-1xx, or 101) response, if any.
    pub response: Option<Response>,
    /// Status codes of interim 1xx responses (100 Continue, 103 Early Hints).
    pub interim_statuses: Vec<u16>,
}

/// A piece of a streamed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyChunk {
    /// The exchange it belongs to.
    pub id: u64,
    /// Offset of `data[0]` within the decoded body.
    pub body_offset: u64,
    /// s2c stream offsets of the wire bytes that carried it (for gzip, the
    /// compressed input that produced it).
    pub wire: Range<u64>,
    /// Decoded body bytes; empty when `in_input` says where they are instead.
    pub data: Vec<u8>,
    /// The body bytes are the s2c input bytes at `wire` (no content coding), which
    /// the caller passed to the [`Session::feed`] that produced this chunk: a session
    /// made with [`Session::borrowing_bodies`] does not copy them. See
    /// [`BodyChunk::bytes`].
    pub in_input: bool,
}

impl BodyChunk {
    /// The chunk's decoded bytes, given the input of the `feed` call that produced
    /// it (`input` starting at s2c stream offset `input_offset`). `None` if the chunk
    /// refers to input bytes that are not in `input`.
    pub fn bytes<'a>(&'a self, input_offset: u64, input: &'a [u8]) -> Option<&'a [u8]> {
        if !self.in_input {
            return Some(&self.data);
        }
        let start = usize::try_from(self.wire.start.checked_sub(input_offset)?).ok()?;
        let len = usize::try_from(self.wire.end - self.wire.start).ok()?;
        input.get(start..start.checked_add(len)?)
    }
}

/// The connection switched protocols (101, or a 2xx answer to CONNECT): HTTP ends
/// at these offsets, and the caller feeds the rest of each direction elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The exchange that switched.
    pub id: u64,
    /// The `Upgrade` field of the response (e.g. `websocket`), if any.
    pub protocol: Option<String>,
    /// First c2s offset after HTTP (end of the upgrade request).
    pub client_offset: u64,
    /// First s2c offset after HTTP (end of the 101 head).
    pub server_offset: u64,
}

/// What the session reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A streamed body begins (sent before its first chunk, even if it is empty).
    BodyStart {
        id: u64,
        uri: Option<String>,
        content_type: Option<String>,
    },
    /// Decoded body bytes of a streamed body.
    BodyChunk(BodyChunk),
    /// `len` bytes of a streamed body at `body_offset` were lost in a capture gap.
    BodyGap { id: u64, body_offset: u64, len: u64 },
    /// A completed exchange (after all its body messages).
    Exchange(Box<Exchange>),
    /// The connection left HTTP; see [`Upgrade`].
    Upgraded(Upgrade),
    /// A request [`Session::streaming_request_bodies`] selected: its head was read,
    /// its body (if any) follows as [`Message::RequestBodyChunk`]s (c2s offsets).
    RequestBodyStart { id: u64, uri: String },
    /// Body bytes of a selected request (the exchange's id; `wire` is c2s).
    RequestBodyChunk(BodyChunk),
    /// `len` bytes of a selected request's body were lost in a capture gap.
    RequestBodyGap { id: u64, body_offset: u64, len: u64 },
}

/// Chooses the requests whose bodies are reported ([`Session::streaming_request_bodies`]).
pub type RequestBodyFilter = fn(&Request) -> bool;

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Where the request (c2s) decoder stands.
enum ReqState {
    Head,
    Body {
        framing: Framing,
        then_await: bool,
        /// A streamed request body: its exchange id and the body bytes so far.
        streamed: Option<(u64, u64)>,
    },
    /// After a request asking for Upgrade/CONNECT: wait for its response before
    /// reading further, since the bytes that follow may not be HTTP.
    AwaitUpgrade,
    Upgraded,
    Dead,
}

/// A response whose body is being read.
struct OpenResponse {
    id: u64,
    request: Option<Request>,
    response: Response,
    interim: Vec<u16>,
    framing: Framing,
    sink: Sink,
}

enum RespState {
    Head,
    Body(Box<OpenResponse>),
    Upgraded,
    Dead,
}

/// Receives body bytes: counts, keeps or streams them, undoing gzip when needed.
struct Sink {
    id: u64,
    mode: BodyMode,
    /// Streamed chunks without content coding point into the caller's input.
    borrow: bool,
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    kept: Vec<u8>,
    decoded: u64,
    truncated: bool,
}

impl Sink {
    fn new(id: u64, mode: BodyMode, gzip: bool, borrow: bool) -> Sink {
        let gzip =
            (gzip && mode != BodyMode::Skip).then(|| flate2::write::GzDecoder::new(Vec::new()));
        Sink {
            id,
            mode,
            borrow,
            gzip,
            kept: Vec::new(),
            decoded: 0,
            truncated: false,
        }
    }

    fn cap(&self) -> u64 {
        match self.mode {
            BodyMode::Keep => MAX_KEPT_BODY as u64,
            _ => MAX_STREAMED_DECODED,
        }
    }

    /// Takes wire body bytes `data` that started at s2c offset `wire_start`.
    fn write(&mut self, wire_start: u64, data: &[u8], out: &mut Emitter) {
        if self.mode == BodyMode::Skip {
            self.decoded += data.len() as u64;
            return;
        }
        if self.gzip.is_none() {
            if self.truncated && self.mode == BodyMode::Keep {
                self.decoded += data.len() as u64;
                return;
            }
            let wire = wire_start..wire_start + data.len() as u64;
            if self.borrow && self.mode == BodyMode::Stream {
                self.deliver_in_input(wire, out);
            } else {
                self.deliver(wire, data, out);
            }
            return;
        }
        for (i, piece) in data.chunks(GZIP_STEP).enumerate() {
            let start = wire_start + (i * GZIP_STEP) as u64;
            let Some(gz) = self.gzip.as_mut() else { return };
            if gz.write_all(piece).is_err() {
                out.anomaly("http.gzip_error");
                self.stop_decoding();
                return;
            }
            let decoded = std::mem::take(gz.get_mut());
            self.deliver(start..start + piece.len() as u64, &decoded, out);
            if self.decoded > self.cap() {
                if self.mode == BodyMode::Stream {
                    out.anomaly("http.gzip_too_large");
                }
                self.stop_decoding();
                return;
            }
        }
    }

    fn stop_decoding(&mut self) {
        self.gzip = None;
        self.truncated = true;
    }

    /// A streamed chunk whose bytes are the caller's input at `wire`.
    fn deliver_in_input(&mut self, wire: Range<u64>, out: &mut Emitter) {
        let len = wire.end - wire.start;
        if len == 0 {
            return;
        }
        let body_offset = self.decoded;
        self.decoded += len;
        out.push(Message::BodyChunk(BodyChunk {
            id: self.id,
            body_offset,
            wire,
            data: Vec::new(),
            in_input: true,
        }));
    }

    fn deliver(&mut self, wire: Range<u64>, data: &[u8], out: &mut Emitter) {
        if data.is_empty() {
            return;
        }
        let body_offset = self.decoded;
        self.decoded += data.len() as u64;
        match self.mode {
            BodyMode::Skip => {}
            BodyMode::Keep => {
                let room = MAX_KEPT_BODY - self.kept.len();
                if data.len() > room {
                    self.truncated = true;
                }
                self.kept.extend_from_slice(&data[..data.len().min(room)]);
            }
            BodyMode::Stream => out.push(Message::BodyChunk(BodyChunk {
                id: self.id,
                body_offset,
                wire,
                data: data.to_vec(),
                in_input: false,
            })),
        }
    }

    /// The body ended: flush the decoder.
    fn finish(&mut self, wire_end: u64, complete: bool, out: &mut Emitter) {
        if let Some(mut gz) = self.gzip.take() {
            match gz.try_finish() {
                Ok(()) => {
                    let rest = std::mem::take(gz.get_mut());
                    self.deliver(wire_end..wire_end, &rest, out);
                }
                Err(_) => {
                    if complete {
                        out.anomaly("http.gzip_error");
                    }
                    self.truncated = true;
                }
            }
        }
    }
}

/// Output queue and anomaly counters, kept apart from the decoder states so both
/// can be borrowed at once.
#[derive(Default)]
struct Emitter {
    messages: VecDeque<Message>,
    anomalies: Vec<(&'static str, u64)>,
}

impl Emitter {
    fn push(&mut self, message: Message) {
        self.messages.push_back(message);
    }

    fn anomaly(&mut self, reason: &'static str) {
        match self.anomalies.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.anomalies.push((reason, 1)),
        }
    }
}

/// One HTTP/1.x connection. See the crate docs and `docs/parsers.md`.
pub struct Session {
    req: ReqState,
    resp: RespState,
    /// Next expected offset per direction (None before the first feed).
    next: [Option<u64>; 2],
    /// Requests waiting for their response, with their exchange ids.
    pending: VecDeque<(u64, Request)>,
    /// Interim (1xx) statuses seen for the request at the head of `pending`.
    interim: Vec<u16>,
    next_id: u64,
    upgrade: Option<Upgrade>,
    policy: BodyPolicy,
    out: Emitter,
    borrow_bodies: bool,
    request_bodies: Option<RequestBodyFilter>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("pending", &self.pending.len())
            .field("upgrade", &self.upgrade)
            .field("anomalies", &self.out.anomalies)
            .finish_non_exhaustive()
    }
}

fn index(dir: Direction) -> usize {
    match dir {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

/// Copies the header fields named in `wanted` (and returns the raw list for the
/// framing fields the caller inspects).
fn interesting(headers: &[httparse::Header<'_>], wanted: &[&str]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|h| {
            let name = h.name.to_ascii_lowercase();
            wanted.contains(&name.as_str()).then(|| {
                let value = String::from_utf8_lossy(h.value).trim().to_string();
                (name, value)
            })
        })
        .collect()
}

/// All values of a field, trimmed, in order.
fn values<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.trim_ascii())
        .collect()
}

/// Content-Length: all values (and comma-separated list members) must agree.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, &'static str> {
    let mut found = None;
    for value in values(headers, "content-length") {
        for part in value.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) || part.len() > 19 {
                return Err("http.bad_content_length");
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("http.bad_content_length")?;
            if found.is_some_and(|f| f != n) {
                return Err("http.bad_content_length");
            }
            found = Some(n);
        }
    }
    match found {
        Some(n) if n > MAX_CONTENT_LENGTH => Err("http.absurd_length"),
        other => Ok(other),
    }
}

/// Transfer-Encoding: `Some(true)` if the final coding is chunked, `Some(false)` if
/// another coding is last, `None` if the field is absent.
fn transfer_chunked(headers: &[httparse::Header<'_>]) -> Option<bool> {
    let vals = values(headers, "transfer-encoding");
    let last = vals
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .rfind(|c| !c.is_empty())?;
    Some(last.eq_ignore_ascii_case(b"chunked"))
}

fn has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    values(headers, name).iter().any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl Session {
    /// A session with [`hls_body_policy`].
    pub fn new() -> Session {
        Session::with_body_policy(hls_body_policy)
    }

    /// A session whose response bodies are kept/streamed/skipped as `policy` says.
    pub fn with_body_policy(
        policy: impl FnMut(Option<&Request>, &Response) -> BodyMode + Send + 'static,
    ) -> Session {
        Session {
            req: ReqState::Head,
            resp: RespState::Head,
            next: [None, None],
            pending: VecDeque::new(),
            interim: Vec::new(),
            next_id: 0,
            upgrade: None,
            policy: Box::new(policy),
            out: Emitter::default(),
            borrow_bodies: false,
            request_bodies: None,
        }
    }

    /// This session's streamed body chunks without content coding carry no copy of
    /// their bytes ([`BodyChunk::in_input`]): the caller takes them from the input it
    /// fed, before feeding more. Copying every byte of every media segment into a
    /// fresh vector was a visible share of `lagtap decode`'s time.
    pub fn borrowing_bodies(mut self) -> Session {
        self.borrow_bodies = true;
        self
    }

    /// Also reports the bodies of the requests `filter` selects (most request
    /// bodies are uploads nobody measures; RTMP tunnelled over HTTP carries the
    /// client's whole RTMP stream in them): [`Message::RequestBodyStart`], then
    /// [`Message::RequestBodyChunk`]s, borrowed from the input like response chunks
    /// if [`Session::borrowing_bodies`] is on, and [`Message::RequestBodyGap`]s.
    pub fn streaming_request_bodies(mut self, filter: RequestBodyFilter) -> Session {
        self.request_bodies = Some(filter);
        self
    }

    /// Feeds in-order bytes of one direction; `offset` is the stream offset of
    /// `input[0]`. Returns how many bytes were consumed; the caller passes the rest
    /// again with more appended. After an upgrade the direction consumes nothing:
    /// the bytes from [`Upgrade`]'s offsets on belong to the next protocol.
    /// A direction given up (bad input, unrecoverable gap) consumes everything.
    pub fn feed(&mut self, dir: Direction, offset: u64, input: &[u8]) -> usize {
        let i = index(dir);
        if let Some(expected) = self.next[i] {
            if expected != offset {
                self.out.anomaly("http.offset_mismatch");
            }
        }
        let consumed = match dir {
            Direction::ClientToServer => self.feed_requests(offset, input),
            Direction::ServerToClient => self.feed_responses(offset, input),
        };
        self.next[i] = Some(offset + consumed as u64);
        consumed
    }

    /// The capture lost `len` bytes of `dir` at `offset`. Lost bytes inside a body
    /// whose extent is known are skipped (the exchange is marked incomplete and a
    /// streamed body gets a [`Message::BodyGap`]); anywhere else the direction is
    /// given up (`http.gap_gave_up`). Resyncing on a later request line is not
    /// attempted: requests lost in the gap would silently shift the pairing of
    /// every later response.
    pub fn gap(&mut self, dir: Direction, offset: u64, len: u64) {
        let i = index(dir);
        // Bytes the caller held back unconsumed before the gap are lost with it.
        let expected = self.next[i].unwrap_or(offset).min(offset);
        let (offset, len) = (expected, len + (offset - expected));
        self.next[i] = Some(offset + len);
        match dir {
            Direction::ClientToServer => {
                let absorbed = match &mut self.req {
                    ReqState::Body {
                        framing, streamed, ..
                    } => {
                        let absorbed = framing.skip_gap(len);
                        if let (true, Some((id, body_offset))) = (absorbed, streamed.as_mut()) {
                            let at = *body_offset;
                            *body_offset += len;
                            self.out.push(Message::RequestBodyGap {
                                id: *id,
                                body_offset: at,
                                len,
                            });
                        }
                        absorbed
                    }
                    ReqState::Dead | ReqState::Upgraded => return,
                    _ => false,
                };
                if absorbed {
                    self.out.anomaly("http.gap_in_body");
                    if let ReqState::Body {
                        framing: Framing::Length { remaining: 0 },
                        then_await,
                        ..
                    } = self.req
                    {
                        self.req = if then_await {
                            ReqState::AwaitUpgrade
                        } else {
                            ReqState::Head
                        };
                    }
                } else {
                    self.out.anomaly("http.gap_gave_up");
                    self.req = ReqState::Dead;
                }
            }
            Direction::ServerToClient => {
                let open = match &mut self.resp {
                    RespState::Body(open) if { open.framing }.skip_gap(len) => open,
                    RespState::Dead | RespState::Upgraded => return,
                    _ => {
                        self.out.anomaly("http.gap_gave_up");
                        self.finish_response(offset, false);
                        self.resp = RespState::Dead;
                        self.flush_pending();
                        return;
                    }
                };
                open.framing.skip_gap(len);
                self.out.anomaly("http.gap_in_body");
                open.response.complete = false;
                open.response.body_wire_len += len;
                if open.sink.gzip.is_some() {
                    open.sink.stop_decoding();
                } else if open.sink.mode == BodyMode::Stream {
                    self.out.push(Message::BodyGap {
                        id: open.id,
                        body_offset: open.sink.decoded,
                        len,
                    });
                }
                open.sink.decoded += len;
                if open.framing == (Framing::Length { remaining: 0 }) {
                    self.finish_response(offset + len, true);
                }
            }
        }
    }

    /// The direction ended at `offset` (FIN, RST or end of capture): a
    /// close-delimited response completes; anything cut short is reported
    /// incomplete; requests still waiting are reported without response once the
    /// server side has ended.
    pub fn end(&mut self, dir: Direction, offset: u64) {
        let expected = self.next[index(dir)].unwrap_or(offset);
        match dir {
            Direction::ClientToServer => {
                match self.req {
                    ReqState::Body { .. } => self.out.anomaly("http.request_truncated"),
                    ReqState::Head if offset > expected => {
                        self.out.anomaly("http.request_truncated")
                    }
                    _ => {}
                }
                if !matches!(self.req, ReqState::Upgraded) {
                    self.req = ReqState::Dead;
                }
            }
            Direction::ServerToClient => {
                match &self.resp {
                    RespState::Body(open) => {
                        let clean = matches!(open.framing, Framing::Close) && offset == expected;
                        if !clean {
                            self.out.anomaly("http.response_truncated");
                        }
                        self.finish_response(offset, clean);
                    }
                    RespState::Head if offset > expected => {
                        self.out.anomaly("http.response_truncated")
                    }
                    _ => {}
                }
                if !matches!(self.resp, RespState::Upgraded) {
                    self.resp = RespState::Dead;
                }
                self.flush_pending();
            }
        }
    }

    /// Messages decoded so far, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = Message> + '_ {
        self.out.messages.drain(..)
    }

    /// Anomalies counted by reason (`http.*`).
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        &self.out.anomalies
    }

    /// Where the connection left HTTP, if it did.
    pub fn upgraded(&self) -> Option<&Upgrade> {
        self.upgrade.as_ref()
    }

    /// Requests waiting for a response.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn flush_pending(&mut self) {
        let interim = std::mem::take(&mut self.interim);
        for (k, (id, request)) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            self.out.push(Message::Exchange(Box::new(Exchange {
                id,
                request: Some(request),
                response: None,
                interim_statuses: if k == 0 { interim.clone() } else { Vec::new() },
            })));
        }
    }

    fn feed_requests(&mut self, offset: u64, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            let at = offset + pos as u64;
            match &mut self.req {
                ReqState::Head => {
                    if rest.is_empty() {
                        return pos;
                    }
                    match self.request_head(at, rest) {
                        Ok(Some(n)) => pos += n,
                        Ok(None) => return pos,
                        Err(reason) => {
                            self.out.anomaly(reason);
                            self.req = ReqState::Dead;
                        }
                    }
                }
                ReqState::Body {
                    framing,
                    then_await,
                    streamed,
                } => match (framing.step(rest), *then_await) {
                    (Step::Body(n), _) => {
                        if let Some((id, body_offset)) = streamed.as_mut() {
                            let borrow = self.borrow_bodies;
                            self.out.push(Message::RequestBodyChunk(BodyChunk {
                                id: *id,
                                body_offset: *body_offset,
                                wire: at..at + n as u64,
                                data: if borrow {
                                    Vec::new()
                                } else {
                                    rest[..n].to_vec()
                                },
                                in_input: borrow,
                            }));
                            *body_offset += n as u64;
                        }
                        pos += n;
                        self.extend_last_request(offset + pos as u64);
                    }
                    (Step::Framing(n), _) => {
                        pos += n;
                        self.extend_last_request(offset + pos as u64);
                    }
                    (Step::Done(n), then_await) => {
                        pos += n;
                        self.extend_last_request(offset + pos as u64);
                        self.req = if then_await {
                            ReqState::AwaitUpgrade
                        } else {
                            ReqState::Head
                        };
                    }
                    (Step::More, _) => return pos,
                    (Step::Bad(reason), _) => {
                        self.out.anomaly(reason);
                        self.req = ReqState::Dead;
                    }
                },
                ReqState::AwaitUpgrade | ReqState::Upgraded => return pos,
                ReqState::Dead => return input.len(),
            }
        }
    }

    fn extend_last_request(&mut self, end: u64) {
        if let Some((_, r)) = self.pending.back_mut() {
            r.end = r.end.max(end);
        }
    }

    /// Parses one request head at the start of `input`. `Ok(None)`: incomplete.
    fn request_head(&mut self, at: u64, input: &[u8]) -> Result<Option<usize>, &'static str> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut storage);
        let n = match req.parse(input) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if input.len() >= MAX_HEAD_LEN => {
                return Err("http.head_too_long")
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("http.bad_request_head"),
        };
        // httparse skips empty lines before the request line; the request starts
        // at its first non-CRLF byte.
        let skipped = input
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let method = req.method.unwrap_or_default().to_string();
        let headers = req.headers;
        let chunked = transfer_chunked(headers);
        let length = content_length(headers)?;
        let framing = match chunked {
            Some(true) => Some(Framing::Chunked(Chunk::Size)),
            // A request cannot be close-delimited (RFC 9112 §6.3, rule 4).
            Some(false) => return Err("http.bad_transfer_encoding"),
            None => length
                .filter(|&l| l > 0)
                .map(|remaining| Framing::Length { remaining }),
        };
        let wants_switch = method.eq_ignore_ascii_case("CONNECT")
            || (!values(headers, "upgrade").is_empty()
                && has_token(headers, "connection", "upgrade"));
        let kept = interesting(headers, REQUEST_HEADERS_OF_INTEREST);
        let request = Request {
            method,
            uri: req.path.unwrap_or_default().to_string(),
            minor_version: req.version.unwrap_or(1),
            host: find_header(&kept, "host").map(str::to_string),
            headers: kept,
            start: at + skipped as u64,
            head_end: at + n as u64,
            end: at + n as u64,
        };
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            self.out.anomaly("http.too_many_pending_requests");
            if let Some((id, old)) = self.pending.pop_front() {
                self.out.push(Message::Exchange(Box::new(Exchange {
                    id,
                    request: Some(old),
                    response: None,
                    interim_statuses: std::mem::take(&mut self.interim),
                })));
            }
        }
        let id = self.new_id();
        let streamed = self.request_bodies.is_some_and(|f| f(&request));
        if streamed {
            self.out.push(Message::RequestBodyStart {
                id,
                uri: request.uri.clone(),
            });
        }
        self.pending.push_back((id, request));
        self.req = match framing {
            Some(framing) => ReqState::Body {
                framing,
                then_await: wants_switch,
                streamed: streamed.then_some((id, 0)),
            },
            None if wants_switch => ReqState::AwaitUpgrade,
            None => ReqState::Head,
        };
        Ok(Some(n))
    }

    fn feed_responses(&mut self, offset: u64, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            let at = offset + pos as u64;
            match &mut self.resp {
                RespState::Head => {
                    if rest.is_empty() {
                        return pos;
                    }
                    match self.response_head(at, rest) {
                        Ok(Some(n)) => pos += n,
                        Ok(None) => return pos,
                        Err(reason) => {
                            self.out.anomaly(reason);
                            self.resp = RespState::Dead;
                            self.flush_pending();
                        }
                    }
                }
                RespState::Body(open) => match open.framing.step(rest) {
                    Step::Body(n) => {
                        open.response.body_wire_len += n as u64;
                        open.sink.write(at, &rest[..n], &mut self.out);
                        pos += n;
                    }
                    Step::Framing(n) => pos += n,
                    Step::Done(n) => {
                        pos += n;
                        self.finish_response(offset + pos as u64, true);
                    }
                    Step::More => return pos,
                    Step::Bad(reason) => {
                        self.out.anomaly(reason);
                        self.finish_response(at, false);
                        self.resp = RespState::Dead;
                        self.flush_pending();
                    }
                },
                RespState::Upgraded => return pos,
                RespState::Dead => return input.len(),
            }
        }
    }

    /// Completes the open response (if any) at `end` and reports its exchange.
    fn finish_response(&mut self, end: u64, complete: bool) {
        let RespState::Body(mut open) = std::mem::replace(&mut self.resp, RespState::Head) else {
            return;
        };
        open.sink.finish(end, complete, &mut self.out);
        let r = &mut open.response;
        r.end = end;
        r.complete &= complete;
        r.body_decoded_len = open.sink.decoded;
        r.body_truncated = open.sink.truncated;
        if open.sink.mode == BodyMode::Keep {
            r.body = Some(std::mem::take(&mut open.sink.kept));
        }
        self.out.push(Message::Exchange(Box::new(Exchange {
            id: open.id,
            request: open.request,
            response: Some(open.response),
            interim_statuses: open.interim,
        })));
    }

    /// Parses one response head at the start of `input`. `Ok(None)`: incomplete.
    fn response_head(&mut self, at: u64, input: &[u8]) -> Result<Option<usize>, &'static str> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut storage);
        let n = match httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_spaces_after_header_name_in_responses(true)
            .parse_response(&mut resp, input)
        {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if input.len() >= MAX_HEAD_LEN => {
                return Err("http.head_too_long")
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("http.bad_response_head"),
        };
        let skipped = input
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let status = resp.code.unwrap_or(0);
        let headers = resp.headers;
        if (100..200).contains(&status) && status != 101 {
            self.interim.push(status);
            return Ok(Some(n));
        }
        let head_end = at + n as u64;
        let kept = interesting(headers, RESPONSE_HEADERS_OF_INTEREST);
        let chunked = transfer_chunked(headers);
        let length = content_length(headers);
        let content_encoding = values(headers, "content-encoding")
            .last()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let (id, request) = match self.pending.pop_front() {
            Some((id, r)) => (id, Some(r)),
            None => {
                self.out.anomaly("http.response_without_request");
                (self.new_id(), None)
            }
        };
        let interim = std::mem::take(&mut self.interim);
        let response = Response {
            status,
            reason: resp.reason.unwrap_or_default().to_string(),
            minor_version: resp.version.unwrap_or(1),
            content_type: values(headers, "content-type")
                .first()
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            content_length: length.ok().flatten(),
            content_encoding,
            chunked: chunked == Some(true),
            headers: kept,
            start: at + skipped as u64,
            head_end,
            end: head_end,
            body_wire_len: 0,
            body_decoded_len: 0,
            body_mode: BodyMode::Skip,
            body: None,
            body_truncated: false,
            complete: true,
        };
        let method = request.as_ref().map(|r| r.method.as_str()).unwrap_or("");
        let switched = status == 101
            || (method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status));
        if switched {
            let client_offset = request
                .as_ref()
                .map(|r| r.end)
                .or(self.next[0])
                .unwrap_or(0);
            let upgrade = Upgrade {
                id,
                protocol: response.header("upgrade").map(str::to_string),
                client_offset,
                server_offset: head_end,
            };
            self.out.push(Message::Exchange(Box::new(Exchange {
                id,
                request,
                response: Some(response),
                interim_statuses: interim,
            })));
            self.out.push(Message::Upgraded(upgrade.clone()));
            self.upgrade = Some(upgrade);
            self.resp = RespState::Upgraded;
            if !matches!(self.req, ReqState::Dead) {
                self.req = ReqState::Upgraded;
            }
            return Ok(Some(n));
        }
        if matches!(self.req, ReqState::AwaitUpgrade) && self.pending.is_empty() {
            // The server declined to switch: the client goes on speaking HTTP.
            self.req = ReqState::Head;
        }
        let no_body = method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304;
        let framing = if no_body {
            Framing::Length { remaining: 0 }
        } else {
            match chunked {
                Some(true) => Framing::Chunked(Chunk::Size),
                Some(false) => Framing::Close,
                None => match length? {
                    Some(remaining) => Framing::Length { remaining },
                    None => Framing::Close,
                },
            }
        };
        let mode = (self.policy)(request.as_ref(), &response);
        let gzip = response
            .content_encoding
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip"));
        if let Some(enc) = response.content_encoding.as_deref() {
            if !gzip && !enc.eq_ignore_ascii_case("identity") && mode != BodyMode::Skip {
                self.out.anomaly("http.unsupported_content_encoding");
            }
        }
        if mode == BodyMode::Stream {
            self.out.push(Message::BodyStart {
                id,
                uri: request.as_ref().map(|r| r.uri.clone()),
                content_type: response.content_type.clone(),
            });
        }
        let mut response = response;
        response.body_mode = mode;
        self.resp = RespState::Body(Box::new(OpenResponse {
            id,
            request,
            response,
            interim,
            framing,
            sink: Sink::new(id, mode, gzip, self.borrow_bodies),
        }));
        if framing == (Framing::Length { remaining: 0 }) {
            self.finish_response(head_end, true);
        }
        Ok(Some(n))
    }
}

/// The body of the fuzz target, here so that `cargo test` runs it over the seeds
/// too. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use super::{Direction, Session};

    /// Interprets `data` as: one control byte (piece size seed), then the bytes of
    /// a connection where every piece alternates direction; control bits also insert
    /// gaps. Feeds them the way the flow layer would (keeping unconsumed tails) and
    /// checks the invariants that must hold for any input.
    pub fn session(data: &[u8]) {
        let Some((&control, rest)) = data.split_first() else {
            return;
        };
        // Request bodies streamed too (as lagtap reads RTMPT): only more messages.
        let mut session = Session::new().streaming_request_bodies(|_| true);
        let mut tails: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut offsets = [0u64; 2];
        let piece = usize::from(control % 61) + 1;
        for (k, chunk) in rest.chunks(piece).enumerate() {
            let d = (k + usize::from(control >> 7)) % 2;
            let dir = [Direction::ClientToServer, Direction::ServerToClient][d];
            if control & 0x40 != 0 && k % 13 == 12 {
                let lost = chunk.len() as u64;
                session.gap(dir, offsets[d] + tails[d].len() as u64, lost);
                offsets[d] += tails[d].len() as u64 + lost;
                tails[d].clear();
                continue;
            }
            tails[d].extend_from_slice(chunk);
            let n = session.feed(dir, offsets[d], &tails[d]);
            assert!(n <= tails[d].len(), "consumed more than given");
            offsets[d] += n as u64;
            tails[d].drain(..n);
            for m in session.drain() {
                check(&m);
            }
        }
        session.end(
            Direction::ClientToServer,
            offsets[0] + tails[0].len() as u64,
        );
        session.end(
            Direction::ServerToClient,
            offsets[1] + tails[1].len() as u64,
        );
        for m in session.drain() {
            check(&m);
        }
    }

    /// A fuzz input from a real connection: control byte 16 (17-byte pieces, no
    /// gaps, client first), then c2s and s2c pieces alternating; the shorter
    /// direction is padded with spaces at its end.
    pub fn seed(c2s: &[u8], s2c: &[u8]) -> Vec<u8> {
        const PIECE: usize = 17;
        let mut out = vec![16u8];
        let pieces = c2s.len().max(s2c.len()).div_ceil(PIECE);
        for k in 0..pieces {
            for stream in [c2s, s2c] {
                let start = (k * PIECE).min(stream.len());
                let piece = &stream[start..(start + PIECE).min(stream.len())];
                out.extend_from_slice(piece);
                out.resize(out.len() + PIECE - piece.len(), b' ');
            }
        }
        out
    }

    fn check(m: &super::Message) {
        if let super::Message::RequestBodyChunk(c) = m {
            assert_eq!(c.wire.end - c.wire.start, c.data.len() as u64);
        }
        if let super::Message::Exchange(e) = m {
            if let Some(r) = &e.request {
                assert!(r.start <= r.head_end && r.head_end <= r.end);
            }
            if let Some(r) = &e.response {
                assert!(r.start <= r.head_end && r.head_end <= r.end);
                if let Some(body) = &r.body {
                    assert!(body.len() <= super::MAX_KEPT_BODY);
                }
            }
        }
    }
}
