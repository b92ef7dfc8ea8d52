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

mod fields;
mod framing;
mod messages;
mod sink;

use std::collections::VecDeque;
use std::io::Write;
use std::ops::Range;

use fields::*;
use framing::{Chunk, Framing, Step};
pub use messages::*;
use sink::{Emitter, Sink};

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
pub mod fuzzing;
