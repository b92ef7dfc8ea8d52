//! What a [`Session`](crate::Session) gives: the messages, the exchanges and their
//! requests and responses, body chunks, and the body policy that sees each
//! response's head.

use super::*;

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

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
