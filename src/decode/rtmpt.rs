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
//! A tunnel is followed on the HTTP connection that carries it (one keep-alive
//! connection, as ffmpeg's `rtmpt://` client and Flash Player use). A client that
//! spreads one tunnel over several connections is not put back together: each
//! connection's part is decoded on its own, and one that does not start with the
//! handshake shows as the RTMP decoder's anomalies.

use std::collections::HashMap;

use http_parser::{BodyChunk, Request};

use super::rtmp::RtmpDecoder;
use super::timemap::{Fed, Tail, TimeMap};
use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::flow::Dir;

/// Tunnels followed per HTTP connection; a client uses one.
const MAX_TUNNELS: usize = 8;
/// Exchanges remembered while their request or response body streams in (the HTTP
/// parser pairs at most this many pending requests too).
const MAX_EXCHANGES: usize = http_parser::MAX_PENDING_REQUESTS;

/// What an RTMPT request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Send,
    Idle,
    Close,
}

/// The tunnel id and kind of an RTMPT request path (`/send/<id>/<seq>`...); `None`
/// for `/open/1` and every other path.
fn parse_uri(uri: &str) -> Option<(Kind, &str)> {
    let mut parts = uri.strip_prefix('/')?.split('/');
    let kind = match parts.next()? {
        "send" => Kind::Send,
        "idle" => Kind::Idle,
        "close" => Kind::Close,
        _ => return None,
    };
    let id = parts.next().filter(|id| !id.is_empty())?;
    let seq = parts.next()?;
    (seq.bytes().all(|b| b.is_ascii_digit()) && parts.next().is_none()).then_some((kind, id))
}

/// Whether a request is RTMPT's (its body and its response's carry RTMP): for the
/// HTTP session's request-body filter and body policy.
pub(super) fn is_tunnel_request(r: &Request) -> bool {
    parse_uri(&r.uri).is_some()
}

/// One tunnel: the RTMP decoder of its two rebuilt streams, and their time maps.
struct Tunnel {
    id: String,
    rtmp: RtmpDecoder,
    /// Capture times of each rebuilt stream's bytes, per direction.
    times: [TimeMap; 2],
    tails: [Tail; 2],
    /// Length so far of each rebuilt stream.
    len: [u64; 2],
    /// Body pieces fed but whose times are not copied yet (the HTTP connection's
    /// time maps are only at hand in `collect`): (direction, wire range, offset in
    /// the rebuilt stream).
    untimed: Vec<(Dir, std::ops::Range<u64>, u64)>,
}

impl Tunnel {
    fn new(id: &str) -> Tunnel {
        Tunnel {
            id: id.to_string(),
            rtmp: RtmpDecoder::tunnelled("rtmpt"),
            times: Default::default(),
            tails: Default::default(),
            len: [0; 2],
            untimed: Vec::new(),
        }
    }

    /// RTMP bytes of `dir` that came at `wire` on the HTTP connection.
    fn bytes(
        &mut self,
        dir: Dir,
        wire: std::ops::Range<u64>,
        bytes: &[u8],
        anomalies: &mut Anomalies,
    ) {
        let d = dir.index();
        let at = self.len[d];
        self.len[d] += bytes.len() as u64;
        self.untimed.push((dir, wire, at));
        let rtmp = &mut self.rtmp;
        if let Fed::Stuck { offset, len } =
            self.tails[d].feed(at, bytes, |off, b| rtmp.feed(dir, off, b))
        {
            anomalies.count("decode.parser_stuck");
            self.rtmp.gap(dir, offset, len);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64) {
        let d = dir.index();
        self.tails[d].clear();
        self.rtmp.gap(dir, self.len[d], len);
        self.len[d] += len;
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        for (dir, wire, at) in self.untimed.drain(..) {
            ctx.times[dir.index()].copy_into(
                wire.start,
                wire.end,
                &mut self.times[dir.index()],
                at,
            );
        }
        let mut inner = Ctx {
            meta: ctx.meta,
            times: &mut self.times,
            out: ctx.out,
        };
        self.rtmp.collect(&mut inner);
    }
}

/// The RTMPT tunnels of one HTTP connection.
#[derive(Default)]
pub(super) struct Tunnels {
    tunnels: Vec<Tunnel>,
    /// Exchange id → (tunnel index, kind), for the bodies of its request and response.
    exchanges: HashMap<u64, (usize, Kind)>,
    anomalies: Anomalies,
}

impl Tunnels {
    /// A request's body begins (every RTMPT request's, whatever its kind).
    pub fn request_start(&mut self, id: u64, uri: &str) {
        let Some((kind, tunnel)) = parse_uri(uri) else {
            return;
        };
        let index = match self.tunnels.iter().position(|t| t.id == tunnel) {
            Some(i) => i,
            None if self.tunnels.len() < MAX_TUNNELS => {
                self.tunnels.push(Tunnel::new(tunnel));
                self.tunnels.len() - 1
            }
            None => {
                self.anomalies.count("decode.rtmpt_too_many_tunnels");
                return;
            }
        };
        if self.exchanges.len() >= MAX_EXCHANGES {
            self.anomalies.count("decode.rtmpt_too_many_exchanges");
            return;
        }
        self.exchanges.insert(id, (index, kind));
    }

    /// Whether exchange `id` is an RTMPT one (its response body is the tunnel's).
    pub fn owns(&self, id: u64) -> bool {
        self.exchanges.contains_key(&id)
    }

    /// Body bytes of the request of exchange `c.id`: client → server RTMP if it is
    /// a send (an idle or close body is one padding byte).
    pub fn request_bytes(&mut self, c: &BodyChunk, bytes: Option<&[u8]>) {
        let Some(&(t, Kind::Send)) = self.exchanges.get(&c.id) else {
            return;
        };
        self.take(t, Dir::ClientToServer, c, 0, bytes);
    }

    /// Body bytes of the response of exchange `c.id`: after the polling-interval
    /// byte, server → client RTMP.
    pub fn response_bytes(&mut self, c: &BodyChunk, bytes: Option<&[u8]>) {
        let Some(&(t, _)) = self.exchanges.get(&c.id) else {
            return;
        };
        self.take(t, Dir::ServerToClient, c, 1, bytes);
    }

    /// The part of a body chunk past the body's first `skip` bytes goes to tunnel `t`.
    fn take(&mut self, t: usize, dir: Dir, c: &BodyChunk, skip: u64, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes else {
            self.anomalies.count("decode.body_chunk_not_in_input");
            return;
        };
        let cut = skip.saturating_sub(c.body_offset).min(bytes.len() as u64);
        let bytes = &bytes[cut as usize..];
        // Without content coding (RTMPT has none) a chunk's wire bytes are its bytes.
        let wire = c.wire.start + cut..c.wire.end;
        if !bytes.is_empty() {
            self.tunnels[t].bytes(dir, wire, bytes, &mut self.anomalies);
        }
    }

    /// `len` body bytes at `body_offset` of exchange `id` were not captured.
    pub fn body_gap(&mut self, id: u64, request: bool, body_offset: u64, len: u64) {
        let Some(&(t, kind)) = self.exchanges.get(&id) else {
            return;
        };
        let (dir, skip) = match (request, kind) {
            (true, Kind::Send) => (Dir::ClientToServer, 0),
            (true, _) => return,
            (false, _) => (Dir::ServerToClient, 1),
        };
        let lost = (body_offset + len).saturating_sub(skip.max(body_offset));
        if lost > 0 {
            self.tunnels[t].gap(dir, lost);
        }
    }

    /// The exchange completed: its bodies are over.
    pub fn exchange_done(&mut self, id: u64) {
        self.exchanges.remove(&id);
    }

    pub fn collect(&mut self, ctx: &mut Ctx<'_>) {
        for t in &mut self.tunnels {
            t.collect(ctx);
        }
    }

    /// The HTTP connection ended: so did its tunnels' streams.
    pub fn finish(&mut self, ctx: &mut Ctx<'_>) {
        for t in &mut self.tunnels {
            for dir in [Dir::ClientToServer, Dir::ServerToClient] {
                t.rtmp.end(dir, t.len[dir.index()]);
            }
            t.collect(ctx);
            t.rtmp.finish(&mut Ctx {
                meta: ctx.meta,
                times: &mut t.times,
                out: ctx.out,
            });
        }
    }

    pub fn anomalies(&self, out: &mut Anomalies) {
        out.merge(&self.anomalies);
        for t in &self.tunnels {
            t.rtmp.anomalies(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_paths_are_recognised() {
        assert_eq!(
            parse_uri("/send/7fd7f7c94501b7ca/0"),
            Some((Kind::Send, "7fd7f7c94501b7ca"))
        );
        assert_eq!(parse_uri("/idle/abc/12"), Some((Kind::Idle, "abc")));
        assert_eq!(parse_uri("/close/abc/3"), Some((Kind::Close, "abc")));
        for not in [
            "/open/1",
            "/send//1",
            "/send/abc",
            "/send/abc/x",
            "/send/a/1/2",
            "/hls/a.ts",
            "",
        ] {
            assert_eq!(parse_uri(not), None, "{not}");
        }
    }
}
