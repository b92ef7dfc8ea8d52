//! HTTP/2 flows (inside TLS, chosen by ALPN `h2`) → the same `http_exchange`,
//! `hls_playlist` and `hls_segment` events as HTTP/1.1: `h2-parser` turns frames
//! into one exchange per stream, and segment bodies stream from its DATA frames
//! into the demuxers as on HTTP/1.1 (`http::Media`).

use h2_parser::{BodyMode, Direction, Exchange, Message, Session};

use super::http::{Finished, Media};
use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::{Event, HttpExchange};
use crate::flow::Dir;

pub struct H2Decoder {
    session: Session,
    media: Media,
    exchanges: u64,
    /// Finished exchanges, waiting for `collect` to stamp them.
    pending: Vec<Exchange>,
}

fn to_h2(dir: Dir) -> Direction {
    match dir {
        Dir::ClientToServer => Direction::ClientToServer,
        Dir::ServerToClient => Direction::ServerToClient,
    }
}

impl H2Decoder {
    pub fn new() -> Self {
        H2Decoder {
            session: Session::new().borrowing_bodies(),
            media: Media::default(),
            exchanges: 0,
            pending: Vec::new(),
        }
    }

    /// As `HttpDecoder::take_messages`: body messages at once (their bytes are in
    /// this input only), exchanges for `collect`.
    fn take_messages(&mut self, dir: Dir, input_offset: u64, input: &[u8]) {
        let input = if dir == Dir::ServerToClient {
            input
        } else {
            &[]
        };
        for m in self.session.drain() {
            match m {
                Message::BodyStart {
                    stream_id,
                    path,
                    content_type,
                } => self.media.body_start(
                    u64::from(stream_id),
                    path.as_deref().unwrap_or_default(),
                    content_type.as_deref(),
                ),
                Message::BodyChunk(c) => {
                    self.media
                        .body_bytes(c.id, &c, c.bytes(input_offset, input))
                }
                Message::BodyGap {
                    stream_id,
                    body_offset,
                    len,
                } => self.media.body_gap(u64::from(stream_id), body_offset, len),
                Message::Exchange(x) => self.pending.push(*x),
                Message::GoAway(_) => {}
            }
        }
    }

    fn exchange_events(&mut self, x: &Exchange, ctx: &mut Ctx<'_>) {
        self.exchanges += 1;
        let Some(req) = &x.request else { return };
        // A pushed stream's request is the server's PUSH_PROMISE.
        let req_dir = if x.promised_on.is_some() {
            Dir::ServerToClient
        } else {
            Dir::ClientToServer
        };
        let request_ns = ctx.first_seen(req_dir, req.start);
        let resp = x.response.as_ref();
        let first = resp.map(|r| ctx.delivered(Dir::ServerToClient, r.start));
        let last = resp.map(|r| ctx.delivered(Dir::ServerToClient, r.end.saturating_sub(1)));
        ctx.out.push(Event::HttpExchange(Box::new(HttpExchange {
            flow: ctx.meta.id,
            client: ctx.meta.client.to_string(),
            server: ctx.meta.server.to_string(),
            method: req.method.clone(),
            uri: req.path.clone(),
            host: req.authority.clone(),
            status: resp.map(|r| r.status),
            content_type: resp.and_then(|r| r.content_type.clone()),
            body_bytes: resp.map_or(0, |r| r.body_decoded_len),
            request_ns,
            response_first_ns: first,
            response_last_ns: last,
        })));
        let Some(r) = resp else { return };
        self.media.exchange_done(
            Finished {
                id: u64::from(x.stream_id),
                uri: &req.path,
                status: r.status,
                content_type: r.content_type.as_deref(),
                body_decoded_len: r.body_decoded_len,
                kept_body: (r.body_mode == BodyMode::Keep)
                    .then_some(r.body.as_deref())
                    .flatten(),
                range_start: super::http::range_start(req.header("range")),
                request_ns,
                first_ns: first.unwrap_or(0),
                last_ns: last.unwrap_or(0),
            },
            ctx,
        );
    }
}

impl Decoder for H2Decoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize {
        let used = self.session.feed(to_h2(dir), offset, data);
        self.take_messages(dir, offset, data);
        used
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64) {
        self.session.gap(to_h2(dir), offset, len);
        self.take_messages(dir, 0, &[]);
    }

    fn end(&mut self, dir: Dir, offset: u64) {
        self.session.end(to_h2(dir), offset);
        self.take_messages(dir, 0, &[]);
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        self.media
            .stamp(&mut ctx.times[Dir::ServerToClient.index()]);
        for x in std::mem::take(&mut self.pending) {
            self.exchange_events(&x, ctx);
        }
    }

    fn anomalies(&self, out: &mut Anomalies) {
        for (k, v) in self.session.anomalies() {
            out.add(k, *v);
        }
        out.merge(&self.media.anomalies);
    }

    fn undecodable(&self) -> Option<&'static str> {
        let lost = self
            .session
            .anomalies()
            .iter()
            .any(|(k, v)| (k.contains("lost") || k.contains("preface")) && *v > 0);
        (lost && self.exchanges == 0)
            .then_some("no exchange could be decoded (the frame layer was lost)")
    }
}
