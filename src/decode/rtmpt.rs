//! RTMPT, RTMP tunnelled over HTTP: the RTMP session rebuilt from the HTTP bodies
//! and decoded as plain RTMP, its events marked `tunnel: "rtmpt"`.
//!
//! The client opens a tunnel with `POST /open/1` (the response body is the tunnel
//! id), then sends its RTMP bytes as the bodies of `POST /send/<id>/<seq>` and
//! polls with `POST /idle/<id>/<seq>`; every response to a send or idle (and to
//! `/close/<id>/<seq>`) has a body of one byte, the polling interval, followed by
//! what the server sent since the last response. So the client → server RTMP
//! stream is the concatenation of the send bodies, the server → client one that of
//! the send/idle/close response bodies without their first byte, in the order of
//! the requests on the connection. Each RTMP byte keeps the two capture times of
//! the HTTP body byte that carried it ([`TimeMap::copy_into`]), so a frame sent
//! over RTMPT is stamped as precisely as over RTMP.
//!
//! A client may spread one tunnel over several keep-alive connections (requests on
//! whichever is free, as a browser's pool does for Flash Player), so this module only
//! reads each HTTP connection's part: which exchange is which request of which
//! tunnel (`/open/1` answers too), the RTMP bytes of its bodies with the capture
//! times of each, gaps, ends. It hands them on as [`Piece`]s through
//! [`Ctx::handoff`]; the host's tunnels ([`super::rtmpt_join`]) put them in request
//! order and decode them. A tunnel on one connection decodes exactly as when it was
//! followed here alone.

use std::collections::HashMap;
use std::ops::Range;

use http_parser::{BodyChunk, Request};

use super::rtmpt_join::Piece;
use super::timemap::TimeMap;
use super::Ctx;
use crate::anomalies::Anomalies;
use crate::flow::Dir;

/// Exchanges remembered while their request or response body streams in (the HTTP
/// parser pairs at most this many pending requests too).
const MAX_EXCHANGES: usize = http_parser::MAX_PENDING_REQUESTS;

/// What an RTMPT request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Send,
    Idle,
    Close,
    /// `/open/1`: its response body names the new tunnel.
    Open,
}

/// Bytes of an `/open/1` response body kept: a tunnel id and a newline.
const MAX_OPEN_BODY: usize = 64;

/// Whether a path opens a tunnel (`/open/1`).
fn is_open(uri: &str) -> bool {
    uri.strip_prefix("/open/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The kind, tunnel id and sequence number of an RTMPT request path
/// (`/send/<id>/<seq>`...); `None` for `/open/1` and every other path.
fn parse_uri(uri: &str) -> Option<(Kind, &str, u64)> {
    let mut parts = uri.strip_prefix('/')?.split('/');
    let kind = match parts.next()? {
        "send" => Kind::Send,
        "idle" => Kind::Idle,
        "close" => Kind::Close,
        _ => return None,
    };
    let id = parts.next().filter(|id| !id.is_empty())?;
    let seq = parts.next()?;
    if !seq.bytes().all(|b| b.is_ascii_digit()) || parts.next().is_some() {
        return None;
    }
    Some((kind, id, seq.parse().ok()?))
}

/// Whether a request is RTMPT's (its body and its response's carry RTMP): for the
/// HTTP session's request-body filter and body policy.
pub(super) fn is_tunnel_request(r: &Request) -> bool {
    parse_uri(&r.uri).is_some() || is_open(&r.uri)
}

/// What the connection met, waiting for `collect` (where its time map is at hand)
/// to become [`Piece`]s: the same items, with wire ranges instead of times.
enum Pending {
    Start {
        exchange: u64,
        id: String,
        seq: u64,
        close: bool,
    },
    Bytes {
        exchange: u64,
        dir: Dir,
        wire: Range<u64>,
        bytes: Vec<u8>,
    },
    Gap {
        exchange: u64,
        dir: Dir,
        len: u64,
    },
    Done {
        exchange: u64,
    },
    Opened {
        id: String,
    },
}

/// The RTMPT requests of one HTTP connection, handed to the host's tunnels
/// ([`super::rtmpt_join`]) through [`Ctx::handoff`].
#[derive(Default)]
pub(super) struct Tunnels {
    /// Exchange id → kind, for the bodies of its request and response.
    exchanges: HashMap<u64, Kind>,
    /// The response bodies of `/open/1` requests so far, by exchange.
    opens: HashMap<u64, Vec<u8>>,
    pending: Vec<Pending>,
    anomalies: Anomalies,
}

impl Tunnels {
    /// A request's body begins (every RTMPT request's, whatever its kind).
    pub fn request_start(&mut self, id: u64, uri: &str) {
        if self.exchanges.len() >= MAX_EXCHANGES {
            self.anomalies.count("decode.rtmpt_too_many_exchanges");
            return;
        }
        if is_open(uri) {
            self.exchanges.insert(id, Kind::Open);
            self.opens.insert(id, Vec::new());
            return;
        }
        let Some((kind, tunnel, seq)) = parse_uri(uri) else {
            return;
        };
        self.exchanges.insert(id, kind);
        self.pending.push(Pending::Start {
            exchange: id,
            id: tunnel.to_string(),
            seq,
            close: kind == Kind::Close,
        });
    }

    /// Whether exchange `id` is an RTMPT one (its response body is the tunnel's).
    pub fn owns(&self, id: u64) -> bool {
        self.exchanges.contains_key(&id)
    }

    /// Body bytes of the request of exchange `c.id`: client → server RTMP if it is
    /// a send (an idle or close body is one padding byte).
    pub fn request_bytes(&mut self, c: &BodyChunk, bytes: Option<&[u8]>) {
        if self.exchanges.get(&c.id) != Some(&Kind::Send) {
            return;
        }
        self.take(Dir::ClientToServer, c, 0, bytes);
    }

    /// Body bytes of the response of exchange `c.id`: after the polling-interval
    /// byte, server → client RTMP.
    pub fn response_bytes(&mut self, c: &BodyChunk, bytes: Option<&[u8]>) {
        match self.exchanges.get(&c.id) {
            None => {}
            Some(Kind::Open) => {
                if let (Some(body), Some(bytes)) = (self.opens.get_mut(&c.id), bytes) {
                    let room = MAX_OPEN_BODY.saturating_sub(body.len()).min(bytes.len());
                    body.extend_from_slice(&bytes[..room]);
                }
            }
            Some(_) => self.take(Dir::ServerToClient, c, 1, bytes),
        }
    }

    /// The part of a body chunk past the body's first `skip` bytes is the tunnel's,
    /// copied: it is handed over at `collect`, after the input it points into.
    fn take(&mut self, dir: Dir, c: &BodyChunk, skip: u64, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes else {
            self.anomalies.count("decode.body_chunk_not_in_input");
            return;
        };
        let cut = skip.saturating_sub(c.body_offset).min(bytes.len() as u64);
        let bytes = &bytes[cut as usize..];
        // Without content coding (RTMPT has none) a chunk's wire bytes are its bytes.
        let wire = c.wire.start + cut..c.wire.end;
        if !bytes.is_empty() {
            self.pending.push(Pending::Bytes {
                exchange: c.id,
                dir,
                wire,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// `len` body bytes at `body_offset` of exchange `id` were not captured.
    pub fn body_gap(&mut self, id: u64, request: bool, body_offset: u64, len: u64) {
        let Some(&kind) = self.exchanges.get(&id) else {
            return;
        };
        let (dir, skip) = match (request, kind) {
            (_, Kind::Open) => return,
            (true, Kind::Send) => (Dir::ClientToServer, 0),
            (true, _) => return,
            (false, _) => (Dir::ServerToClient, 1),
        };
        let lost = (body_offset + len).saturating_sub(skip.max(body_offset));
        if lost > 0 {
            self.pending.push(Pending::Gap {
                exchange: id,
                dir,
                len: lost,
            });
        }
    }

    /// The exchange completed: its bodies are over.
    pub fn exchange_done(&mut self, id: u64) {
        match self.exchanges.remove(&id) {
            None => {}
            Some(Kind::Open) => {
                let body = self.opens.remove(&id).unwrap_or_default();
                let text = String::from_utf8_lossy(&body);
                let tunnel = text.trim();
                if !tunnel.is_empty() && !tunnel.contains('/') {
                    self.pending.push(Pending::Opened {
                        id: tunnel.to_string(),
                    });
                }
            }
            Some(_) => self.pending.push(Pending::Done { exchange: id }),
        }
    }

    /// Hands what was met since the last call to the host's tunnels, each byte
    /// with the capture times of the HTTP body byte that carried it.
    pub fn collect(&mut self, ctx: &mut Ctx<'_>) {
        let flow = ctx.meta.id;
        for p in self.pending.drain(..) {
            ctx.handoff.push(match p {
                Pending::Start {
                    exchange,
                    id,
                    seq,
                    close,
                } => Piece::Start {
                    at: (flow, exchange),
                    id,
                    seq,
                    close,
                    meta: Box::new(ctx.meta.clone()),
                },
                Pending::Bytes {
                    exchange,
                    dir,
                    wire,
                    bytes,
                } => {
                    let mut times = TimeMap::default();
                    ctx.times[dir.index()].copy_into(wire.start, wire.end, &mut times, 0);
                    Piece::Bytes {
                        at: (flow, exchange),
                        dir,
                        bytes,
                        times,
                    }
                }
                Pending::Gap { exchange, dir, len } => Piece::Gap {
                    at: (flow, exchange),
                    dir,
                    len,
                },
                Pending::Done { exchange } => Piece::Done {
                    at: (flow, exchange),
                },
                Pending::Opened { id } => Piece::Opened {
                    id,
                    meta: Box::new(ctx.meta.clone()),
                },
            });
        }
    }

    /// The HTTP connection ended: the host's tunnels learn it.
    pub fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.collect(ctx);
        ctx.handoff.push(Piece::Closed { flow: ctx.meta.id });
    }

    pub fn anomalies(&self, out: &mut Anomalies) {
        out.merge(&self.anomalies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_paths_are_recognised() {
        assert_eq!(
            parse_uri("/send/7fd7f7c94501b7ca/0"),
            Some((Kind::Send, "7fd7f7c94501b7ca", 0))
        );
        assert_eq!(parse_uri("/idle/abc/12"), Some((Kind::Idle, "abc", 12)));
        assert_eq!(parse_uri("/close/abc/3"), Some((Kind::Close, "abc", 3)));
        for not in [
            "/open/1",
            "/send//1",
            "/send/abc",
            "/send/abc/x",
            "/send/a/1/2",
            "/send/a/99999999999999999999999",
            "/open/1",
            "/hls/a.ts",
            "",
        ] {
            assert_eq!(parse_uri(not), None, "{not}");
        }
    }
}
