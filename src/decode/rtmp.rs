//! RTMP flows → `rtmp_publish`, `rtmp_play`, `rtmp_video`, `rtmp_audio` events.
//!
//! Media in both directions becomes frame events, marked by direction: what the
//! client sends is a publish (the broadcaster's upload, the sender side of broadcast
//! latency), what the server sends is a play (an RTMP viewer or relay receiving the
//! stream). Each carries both capture times of its bytes; which one a measure uses
//! depends on the side (docs/events.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use rtmp_parser::{Direction, KnownCommand, Payload, Session, VideoPacket};

use super::{Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::{Event, RtmpDirection};
use crate::flow::Dir;

pub struct RtmpDecoder {
    session: Session,
    app: Option<String>,
    tc_url: Option<String>,
    stream_key: Option<Arc<str>>,
    /// A publish held back until the encoder's metadata (sent right after it) is seen.
    publish: Option<Event>,
    mid_connection: bool,
    /// The tunnel the RTMP session came through (`rtmpt`), for its publish event.
    tunnel: Option<&'static str>,
    /// The codec names of the frames last seen, one `Arc` shared by every frame of
    /// a codec rather than one allocation per frame.
    codecs: Vec<Arc<str>>,
    messages: u64,
    unknown_timestamps: u64,
    scratch: Vec<rtmp_parser::Message>,
}

fn to_rtmp(dir: Dir) -> Direction {
    match dir {
        Dir::ClientToServer => Direction::ClientToServer,
        Dir::ServerToClient => Direction::ServerToClient,
    }
}

impl RtmpDecoder {
    pub fn new(saw_syn: bool) -> Self {
        RtmpDecoder {
            session: if saw_syn {
                Session::new()
            } else {
                Session::new_mid_connection()
            },
            app: None,
            tc_url: None,
            stream_key: None,
            publish: None,
            mid_connection: !saw_syn,
            tunnel: None,
            codecs: Vec::new(),
            messages: 0,
            unknown_timestamps: 0,
            scratch: Vec::new(),
        }
    }

    /// The decoder of an RTMP session rebuilt from a tunnel (`rtmpt`): from its
    /// start, its publish marked with the tunnel.
    pub fn tunnelled(tunnel: &'static str) -> Self {
        RtmpDecoder {
            tunnel: Some(tunnel),
            ..RtmpDecoder::new(true)
        }
    }

    fn flush_publish(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(p) = self.publish.take() {
            ctx.out.push(p);
        }
    }

    /// The shared name of a FourCC codec (bytes from the wire, shown lossily if
    /// they are not text).
    fn codec(&mut self, fourcc: Option<[u8; 4]>) -> Option<Arc<str>> {
        let f = fourcc?;
        let name = String::from_utf8_lossy(&f);
        if let Some(c) = self.codecs.iter().find(|c| ***c == *name) {
            return Some(c.clone());
        }
        let c: Arc<str> = Arc::from(name.as_ref());
        // A connection carries a few codecs; a hostile one cannot grow this.
        if self.codecs.len() < 16 {
            self.codecs.push(c.clone());
        }
        Some(c)
    }
}

fn amf_json(v: &rtmp_parser::Amf) -> serde_json::Value {
    if let Some(s) = v.as_str() {
        return serde_json::Value::String(s.to_string());
    }
    if let Some(n) = v.as_f64() {
        return serde_json::json!(n);
    }
    serde_json::Value::String(format!("{v:?}"))
}

impl Decoder for RtmpDecoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize {
        self.session.feed(to_rtmp(dir), offset, data)
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64) {
        self.session.gap(to_rtmp(dir), offset, len);
    }

    fn end(&mut self, dir: Dir, offset: u64) {
        self.session.end(to_rtmp(dir), offset);
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        // Taken out of the session so that `self` can be updated while they are read;
        // the buffer is handed back to keep its capacity.
        let mut messages = std::mem::take(&mut self.scratch);
        messages.extend(self.session.drain_messages());
        for m in messages.drain(..) {
            self.messages += 1;
            let media = matches!(m.payload, Payload::Video(_) | Payload::Audio(_));
            if m.direction != Direction::ClientToServer && !media {
                // The server's commands and metadata: a play is named by the
                // client's own `play` command.
                continue;
            }
            let Some(rtmp_ts_ms) = m.timestamp.or(if media { None } else { Some(0) }) else {
                // After a gap a chunk stream's base timestamp is unknown until its next
                // full header: such a frame cannot be placed on the media timeline.
                self.unknown_timestamps += 1;
                continue;
            };
            let (dir, direction) = match m.direction {
                Direction::ClientToServer => (Dir::ClientToServer, RtmpDirection::ClientToServer),
                Direction::ServerToClient => (Dir::ServerToClient, RtmpDirection::ServerToClient),
            };
            match m.payload {
                Payload::Command(c) => match c.known {
                    KnownCommand::Connect(conn) => {
                        self.app = conn.app;
                        self.tc_url = conn.tc_url;
                    }
                    KnownCommand::Publish { stream_key, .. } => {
                        self.flush_publish(ctx);
                        let key = stream_key.unwrap_or_default();
                        self.stream_key = Some(Arc::from(key.as_str()));
                        let time_ns = ctx.first_seen(dir, m.start);
                        self.publish = Some(Event::RtmpPublish {
                            flow: ctx.meta.id,
                            client: ctx.meta.client.to_string(),
                            server: ctx.meta.server.to_string(),
                            app: self.app.clone(),
                            tc_url: self.tc_url.clone(),
                            tunnel: self.tunnel.map(Box::from),
                            stream_key: key,
                            time_ns,
                            metadata: BTreeMap::new(),
                        });
                    }
                    KnownCommand::Play { stream_key, .. } => {
                        // What the server sends next are this stream's frames.
                        self.stream_key = stream_key.as_deref().map(Arc::from);
                        let time_ns = ctx.first_seen(dir, m.start);
                        ctx.out.push(Event::RtmpPlay {
                            flow: ctx.meta.id,
                            client: ctx.meta.client.to_string(),
                            server: ctx.meta.server.to_string(),
                            app: self.app.clone(),
                            tc_url: self.tc_url.clone(),
                            tunnel: self.tunnel.map(Box::from),
                            stream_key: stream_key.unwrap_or_default(),
                            time_ns,
                        });
                    }
                    KnownCommand::Metadata(md) => {
                        if let Some(Event::RtmpPublish { metadata, .. }) = self.publish.as_mut() {
                            for (k, v) in md.properties {
                                metadata.insert(k, amf_json(&v));
                            }
                        }
                        self.flush_publish(ctx);
                    }
                    _ => {}
                },
                Payload::Video(v) => {
                    self.flush_publish(ctx);
                    let last = m.end.saturating_sub(1);
                    let (first_byte_ns, last_byte_ns) =
                        (ctx.first_seen(dir, m.start), ctx.first_seen(dir, last));
                    let delivered_ns = ctx.delivered(dir, last);
                    let codec = self.codec(v.codec.fourcc());
                    ctx.out.push(Event::RtmpVideo {
                        flow: ctx.meta.id,
                        stream_key: self.stream_key.clone(),
                        direction,
                        codec,
                        track_id: v.track_id,
                        rtmp_ts_ms,
                        composition_ms: v.composition_time,
                        keyframe: v.frame_type.0 == 1 && v.packet == VideoPacket::CodedFrames,
                        // Sequence headers, end-of-sequence and metadata packets carry
                        // no picture: they are not frames of the broadcast.
                        config: v.packet != VideoPacket::CodedFrames,
                        // A track of a multitrack message: its own bytes.
                        size: v.track_len.unwrap_or(m.length),
                        nal_types: v.nal_types,
                        fingerprint: v.fingerprint,
                        first_byte_ns,
                        last_byte_ns,
                        delivered_ns,
                        encoder: crate::events::EncoderMetrics::from_bpm(&v.bpm),
                        timecode: v
                            .timecode
                            .as_deref()
                            .and_then(crate::events::VideoTimecode::from_frame),
                    });
                }
                Payload::Audio(a) => {
                    self.flush_publish(ctx);
                    let last = m.end.saturating_sub(1);
                    let (first_byte_ns, last_byte_ns) =
                        (ctx.first_seen(dir, m.start), ctx.first_seen(dir, last));
                    let codec = self.codec(a.codec_fourcc());
                    ctx.out.push(Event::RtmpAudio {
                        flow: ctx.meta.id,
                        stream_key: self.stream_key.clone(),
                        direction,
                        codec,
                        track_id: a.track_id,
                        rtmp_ts_ms,
                        size: a.track_len.unwrap_or(m.length),
                        first_byte_ns,
                        last_byte_ns,
                    });
                }
                _ => {}
            }
        }
        self.scratch = messages;
    }

    /// A publish whose connection ended before any metadata or media (an encoder
    /// that gave up, a rejected key) is still reported.
    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.collect(ctx);
        self.flush_publish(ctx);
    }

    fn anomalies(&self, out: &mut Anomalies) {
        out.add(
            "decode.rtmp_frame_without_timestamp",
            self.unknown_timestamps,
        );
        for (k, v) in self.session.anomalies() {
            out.add(k, *v);
        }
    }

    fn undecodable(&self) -> Option<&'static str> {
        if self.mid_connection && self.messages == 0 {
            Some("connection started before the capture and no message could be resynced")
        } else {
            None
        }
    }
}
