//! What a [`Session`](crate::Session) gives: the messages, the exchanges and their
//! requests and responses, and the body policy that sees each response's head.

use super::*;

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

pub(crate) fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
