//! TLS flows: records decrypted with the key log (`tls-decrypt`), and the plaintext
//! decoded like any plain flow (HTTP, WebSocket, IRC, RTMP) by the decoder its ALPN
//! or its first bytes choose.
//!
//! Time: a plaintext byte carries its record's times. *First seen* = when the
//! record's first byte was first on the wire; *delivered* = when the whole record
//! was deliverable in order (a TLS stack releases nothing before the record's tag
//! verifies). The inner decoder stamps its events from a time map of the plaintext
//! stream built from those.

use std::sync::Arc;

use tls_decrypt::{Direction, KeyLog, KeyStatus, Output, Session};

use crate::anomalies::Anomalies;
use crate::events::{Event, TlsSession};
use crate::flow::detect::{detect, Verdict, DETECT_PREFIX};
use crate::flow::{Chunk, Dir, Protocol, TransportKind};
use crate::time::Timestamp;

use super::timemap::{Fed, Tail, TimeMap};
use super::{decoder_for, Ctx, Decoder};

fn tls_dir(dir: Dir) -> Direction {
    match dir {
        Dir::ClientToServer => Direction::ClientToServer,
        Dir::ServerToClient => Direction::ServerToClient,
    }
}

fn flow_dir(dir: Direction) -> Dir {
    match dir {
        Direction::ClientToServer => Dir::ClientToServer,
        Direction::ServerToClient => Dir::ServerToClient,
    }
}

/// Plaintext of one record with its times, held until the inner protocol is known.
struct Held {
    dir: Dir,
    offset: u64,
    bytes: Vec<u8>,
    first_seen: Timestamp,
    delivered: Timestamp,
}

pub(crate) struct TlsDecoder {
    session: Session,
    /// Session output not yet timed (times need the flow's maps, which `collect`
    /// has).
    outputs: Vec<Output>,
    inner: Option<Box<dyn Decoder>>,
    inner_protocol: Option<Protocol>,
    held: Vec<Held>,
    held_bytes: [usize; 2],
    plain_times: [TimeMap; 2],
    plain_tails: [Tail; 2],
    ended: [bool; 2],
    /// Where each direction's plaintext stream has got to.
    plain_end: [u64; 2],
    first_record_ns: Option<i64>,
    stuck: u64,
}

impl TlsDecoder {
    pub fn new(keylog: Arc<KeyLog>) -> TlsDecoder {
        TlsDecoder {
            session: Session::new(keylog),
            outputs: Vec::new(),
            inner: None,
            inner_protocol: None,
            held: Vec::new(),
            held_bytes: [0; 2],
            plain_times: Default::default(),
            plain_tails: Default::default(),
            ended: [false; 2],
            plain_end: [0; 2],
            first_record_ns: None,
            stuck: 0,
        }
    }

    /// Chooses the inner decoder from ALPN, else from the plaintext's first bytes.
    fn choose(&mut self, complete: bool) {
        if self.inner_protocol.is_some() {
            return;
        }
        // The plaintext's first bytes first (ALPN says http/1.1 on a connection
        // that upgrades to WebSocket); ALPN when they cannot tell.
        let mut pre = [Vec::new(), Vec::new()];
        for h in &self.held {
            pre[h.dir.index()].extend_from_slice(&h.bytes);
        }
        let alpn = match self.session.info().alpn.as_deref() {
            Some("http/1.1" | "http/1.0") => Some(Protocol::Http),
            Some("h2") => Some(Protocol::Http2),
            _ => None,
        };
        // Port 0: the plaintext's own bytes decide, not the TLS port.
        let p = match detect(TransportKind::Tcp, 0, &pre[0], &pre[1], complete) {
            Verdict::Is(Protocol::Unknown) => alpn.unwrap_or(Protocol::Unknown),
            Verdict::Is(p) => p,
            Verdict::NeedMore => return,
        };
        self.inner_protocol = Some(p);
        self.inner = decoder_for(p, true);
        for h in std::mem::take(&mut self.held) {
            self.plain(h);
        }
        self.held_bytes = [0; 2];
    }

    /// One record's plaintext into the inner decoder (or the detection buffer).
    fn plain(&mut self, h: Held) {
        let d = h.dir.index();
        if self.inner_protocol.is_none() {
            self.held_bytes[d] += h.bytes.len();
            let enough = self.held_bytes[d] >= DETECT_PREFIX;
            self.held.push(h);
            self.choose(enough);
            return;
        }
        let chunk = Chunk {
            offset: h.offset,
            data: &h.bytes,
            first_seen: h.first_seen,
            delivered: h.delivered,
        };
        self.plain_times[d].push(&chunk);
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        let fed = self.plain_tails[d].feed(h.offset, &h.bytes, |off, bytes| {
            inner.feed(h.dir, off, bytes)
        });
        if let Fed::Stuck { offset, len } = fed {
            self.stuck += 1;
            inner.gap(h.dir, offset, len);
        }
    }

    fn info_event(&self, ctx: &mut Ctx<'_>) -> Event {
        let i = self.session.info();
        Event::TlsSession(Box::new(TlsSession {
            flow: ctx.meta.id,
            client: ctx.meta.client.to_string(),
            server: ctx.meta.server.to_string(),
            sni: i.sni.clone(),
            alpn_offered: i.alpn_offered.clone(),
            alpn: i.alpn.clone(),
            version: i.version.map(version_name),
            cipher_suite: i.cipher_suite.map(tls_decrypt::suite_name),
            keys: match i.keys {
                KeyStatus::Found => "found",
                KeyStatus::Missing => "missing",
                KeyStatus::UnsupportedSuite => "unsupported_suite",
                KeyStatus::NoHandshake => "no_handshake",
            }
            .to_string(),
            inner: self.inner_protocol.map(|p| p.name().to_string()),
            records: i.records,
            bytes: i.bytes,
            decrypted: i.decrypted,
            undecrypted: i.undecrypted,
            bad_mac: i.bad_mac,
            time_ns: self.first_record_ns.unwrap_or(0),
        }))
    }
}

/// `TLS 1.3` for 0x0304, and so on.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        _ => format!("0x{v:04x}"),
    }
}

impl Decoder for TlsDecoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize {
        let n = self.session.feed(tls_dir(dir), offset, data);
        self.outputs.extend(self.session.drain());
        n
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64) {
        self.session.gap(tls_dir(dir), offset, len);
        self.outputs.extend(self.session.drain());
    }

    fn end(&mut self, dir: Dir, offset: u64) {
        self.session.end(tls_dir(dir), offset);
        self.outputs.extend(self.session.drain());
        self.ended[dir.index()] = true;
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        if self.first_record_ns.is_none() {
            let t = [Dir::ClientToServer, Dir::ServerToClient]
                .into_iter()
                .filter_map(|d| ctx.times[d.index()].first_seen(0))
                .map(|t| t.0)
                .min();
            self.first_record_ns = t;
        }
        for o in std::mem::take(&mut self.outputs) {
            match o {
                Output::Data {
                    dir,
                    offset,
                    record_start,
                    record_end,
                    bytes,
                } => {
                    let dir = flow_dir(dir);
                    self.plain_end[dir.index()] = offset + bytes.len() as u64;
                    let first_seen = Timestamp(ctx.first_seen(dir, record_start));
                    let delivered = Timestamp(ctx.delivered(dir, record_end.saturating_sub(1)));
                    self.plain(Held {
                        dir,
                        offset,
                        bytes,
                        first_seen,
                        delivered,
                    });
                }
                Output::Gap { dir, offset, len } => {
                    let dir = flow_dir(dir);
                    self.plain_end[dir.index()] = offset + len;
                    self.plain_tails[dir.index()].clear();
                    if let Some(inner) = self.inner.as_mut() {
                        inner.gap(dir, offset, len);
                    }
                }
            }
        }
        // A direction that ended: the plaintext stream ends where its data did.
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            if std::mem::take(&mut self.ended[d.index()]) {
                if self.inner_protocol.is_none() {
                    self.choose(true);
                }
                if let Some(inner) = self.inner.as_mut() {
                    inner.end(d, self.plain_end[d.index()]);
                }
            }
        }
        if let Some(inner) = self.inner.as_mut() {
            let mut inner_ctx = Ctx {
                meta: ctx.meta,
                times: &mut self.plain_times,
                out: ctx.out,
                handoff: ctx.handoff,
            };
            inner.collect(&mut inner_ctx);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        if self.inner_protocol.is_none() && !self.held.is_empty() {
            self.choose(true);
            self.collect(ctx);
        }
        let e = self.info_event(ctx);
        ctx.out.push(e);
    }

    fn anomalies(&self, out: &mut Anomalies) {
        for (k, v) in self.session.anomalies() {
            out.add(k, v);
        }
        out.add("decode.parser_stuck", self.stuck);
        if let Some(inner) = &self.inner {
            inner.anomalies(out);
        }
    }

    fn undecodable(&self) -> Option<&'static str> {
        match self.session.info().keys {
            KeyStatus::Missing => Some("no keys (the key log has no secrets for it)"),
            KeyStatus::UnsupportedSuite => Some("cipher suite not decryptable"),
            KeyStatus::NoHandshake => Some("handshake not captured"),
            KeyStatus::Found => match (&self.inner, self.inner_protocol) {
                (Some(inner), _) => inner.undecodable(),
                (None, Some(_)) => Some("decrypted, protocol not recognised"),
                (None, None) => None,
            },
        }
    }
}
