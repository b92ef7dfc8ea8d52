//! HTTP flows → `http_exchange`, and for HLS viewers `hls_playlist` and
//! `hls_segment` events with every frame of every segment fingerprinted.
//!
//! Segment bodies are streamed from the HTTP parser into an MPEG-TS (or fMP4)
//! demuxer as they arrive, so a segment is never held whole. RTMPT requests and
//! responses (RTMP tunnelled over HTTP) have their bodies streamed into the RTMP
//! decoder instead ([`super::rtmpt`]).

use std::collections::{BTreeMap, HashMap};

use http_parser::{BodyChunk, BodyMode, Direction, Exchange, Message, Request, Response, Session};
use mpegts_parser::{Fmp4Demuxer, Fmp4Message, TrackConfig, TsDemuxer, TsMessage, Unwrapper};

use super::arrival::Arrivals;
use super::rtmpt::{self, Tunnels};
use super::timemap::{Fed, Tail, TimeMap};
use super::{channel_of, Ctx, Decoder};
use crate::anomalies::Anomalies;
use crate::events::{
    Event, HttpExchange, PartEntry, PlaylistEntry, SegmentEmsg, SegmentFrame, SegmentPrft,
};
use crate::flow::Dir;

pub(super) enum Demux {
    /// Boxed: the TS demuxer holds a partial packet inline.
    Ts(Box<TsDemuxer>),
    Fmp4(Fmp4Demuxer),
}

pub(super) struct SegmentState {
    pub demux: Demux,
    tail: Tail,
    pub frames: Vec<SegmentFrame>,
    /// Where each frame's last byte lay on the wire, until `stamp` gives it a time.
    arrivals: Arrivals,
    /// The packager's `prft` and `emsg` boxes (fMP4), at most [`MAX_BOXES`] each.
    prft: Vec<SegmentPrft>,
    emsg: Vec<SegmentEmsg>,
    /// The first `prft` still waiting for the frame it stamps.
    prft_open: usize,
}

/// `prft` / `emsg` boxes kept per segment: one per fragment is ffmpeg's most (a
/// fragment per frame); more is a packager gone wrong, counted, not kept.
const MAX_BOXES: usize = 4096;

/// What an HTTP connection's media responses need, whatever the HTTP version: the
/// segments streaming in, the PTS unwrapper and fMP4 tracks carried from one
/// segment to the next, and what turns a finished exchange into HLS events.
#[derive(Default)]
pub(super) struct Media {
    segments: HashMap<u64, SegmentState>,
    /// Carried from one TS segment to the next so PTS stay comparable.
    unwrapper: Unwrapper,
    /// fMP4 tracks learned from an init segment on this connection.
    fmp4_tracks: Vec<TrackConfig>,
    pub anomalies: Anomalies,
}

/// A finished exchange as the HLS events need it.
pub(super) struct Finished<'a> {
    pub id: u64,
    pub uri: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub body_decoded_len: u64,
    /// The kept body (playlists), if the body was kept.
    pub kept_body: Option<&'a [u8]>,
    /// The request's `Range: bytes=N-` start ([`range_start`]).
    pub range_start: Option<u64>,
    pub request_ns: i64,
    pub first_ns: i64,
    pub last_ns: i64,
}

impl Media {
    pub fn body_start(&mut self, id: u64, uri: &str, content_type: Option<&str>) {
        self.segments.insert(
            id,
            SegmentState::new(uri, content_type, &self.fmp4_tracks, self.unwrapper),
        );
    }

    /// Body bytes at `body_offset` of exchange `id`, carried by the wire bytes
    /// `wire` of the server-to-client stream (`chunk.in_input`: byte for byte).
    pub fn body_bytes(&mut self, id: u64, chunk: &BodyChunk, bytes: Option<&[u8]>) {
        let Some(seg) = self.segments.get_mut(&id) else {
            return;
        };
        let wire_len = chunk.wire.end - chunk.wire.start;
        match bytes {
            Some(bytes) => {
                seg.arrivals.body_chunk(
                    chunk.body_offset,
                    bytes.len() as u64,
                    chunk.wire.clone(),
                    chunk.in_input,
                );
                seg.feed(chunk.body_offset, bytes, &mut self.anomalies);
            }
            None => {
                // Cannot happen with the sessions' contract; never silently, though.
                self.anomalies.count("decode.body_chunk_not_in_input");
                seg.gap(chunk.body_offset, wire_len);
            }
        }
    }

    /// Gives the frames that came out of the demuxers since the last call the time
    /// their last byte was delivered (`times`: the server-to-client time map).
    pub fn stamp(&mut self, times: &mut TimeMap) {
        for seg in self.segments.values_mut() {
            seg.arrivals.stamp(times, &mut seg.frames);
        }
    }

    pub fn body_gap(&mut self, id: u64, body_offset: u64, len: u64) {
        if let Some(seg) = self.segments.get_mut(&id) {
            seg.gap(body_offset, len);
        }
    }

    /// The `hls_segment` or `hls_playlist` event of a finished exchange, if it was
    /// one.
    pub fn exchange_done(&mut self, x: Finished<'_>, ctx: &mut Ctx<'_>) {
        let channel = channel_of(x.uri);
        if let Some(mut seg) = self.segments.remove(&x.id) {
            let tracks = seg.finish(x.body_decoded_len);
            seg.arrivals
                .stamp(&mut ctx.times[Dir::ServerToClient.index()], &mut seg.frames);
            if let Some(tracks) = tracks {
                if !tracks.is_empty() {
                    self.fmp4_tracks = tracks;
                }
            }
            if let Demux::Ts(d) = &seg.demux {
                self.unwrapper = d.unwrapper();
                for (k, v) in d.anomalies() {
                    self.anomalies.add(k, *v);
                }
            }
            if seg.frames.is_empty() && is_fmp4(x.uri, x.content_type) {
                return; // an init segment: tracks, no pictures
            }
            let (prft, emsg) = (
                std::mem::take(&mut seg.prft).into_boxed_slice(),
                std::mem::take(&mut seg.emsg).into_boxed_slice(),
            );
            ctx.out.push(Event::HlsSegment {
                flow: ctx.meta.id,
                uri: x.uri.to_string(),
                channel,
                media_sequence: sequence_of(x.uri),
                range_start: x.range_start,
                status: x.status,
                bytes: x.body_decoded_len,
                request_ns: x.request_ns,
                first_byte_ns: x.first_ns,
                complete_ns: x.last_ns,
                frames: seg.frames,
                prft,
                emsg,
            });
            return;
        }
        let Some(body) = x.kept_body else { return };
        match hls_parser::parse_bytes(body) {
            Ok(pl) => ctx.out.push(playlist_event(
                ctx.meta.id,
                x.uri,
                channel,
                pl,
                x.request_ns,
                x.last_ns,
            )),
            Err(_) => self.anomalies.count("decode.playlist_unparsable"),
        }
    }
}

pub struct HttpDecoder {
    session: Session,
    media: Media,
    tunnels: Tunnels,
    exchanges: u64,
    /// Messages other than body messages, waiting for `collect` to stamp them.
    pending: Vec<Message>,
}

impl HttpDecoder {
    pub fn new() -> Self {
        HttpDecoder {
            // Body chunks point into the bytes fed, which `take_messages` hands to
            // the demuxer before they are gone: no copy of the segments.
            session: Session::with_body_policy(body_policy)
                .streaming_request_bodies(rtmpt::is_tunnel_request)
                .borrowing_bodies(),
            media: Media::default(),
            tunnels: Tunnels::default(),
            exchanges: 0,
            pending: Vec::new(),
        }
    }

    /// Takes what the session reported after being fed `input` (at stream offset
    /// `input_offset` of `dir`; empty after a gap or an end). Body messages are
    /// handled at once, because a chunk's bytes are only in that input; the rest
    /// wait in `pending` for `collect`, which can stamp events.
    fn take_messages(&mut self, dir: Dir, input_offset: u64, input: &[u8]) {
        // Response bodies travel server to client, request bodies client to
        // server: a chunk reported while the other direction was fed cannot point
        // into that input.
        let (c2s, s2c): (&[u8], &[u8]) = match dir {
            Dir::ClientToServer => (input, &[]),
            Dir::ServerToClient => (&[], input),
        };
        for m in self.session.drain() {
            match m {
                Message::BodyStart { id, .. } if self.tunnels.owns(id) => {}
                Message::BodyStart {
                    id,
                    uri,
                    content_type,
                } => {
                    let uri = uri.unwrap_or_default();
                    self.media.body_start(id, &uri, content_type.as_deref());
                }
                Message::BodyChunk(c) if self.tunnels.owns(c.id) => {
                    self.tunnels.response_bytes(&c, c.bytes(input_offset, s2c));
                }
                Message::BodyChunk(c) => {
                    self.media.body_bytes(c.id, &c, c.bytes(input_offset, s2c))
                }
                Message::BodyGap {
                    id,
                    body_offset,
                    len,
                } if self.tunnels.owns(id) => self.tunnels.body_gap(id, false, body_offset, len),
                Message::BodyGap {
                    id,
                    body_offset,
                    len,
                } => self.media.body_gap(id, body_offset, len),
                Message::RequestBodyStart { id, uri } => self.tunnels.request_start(id, &uri),
                Message::RequestBodyChunk(c) => {
                    self.tunnels.request_bytes(&c, c.bytes(input_offset, c2s));
                }
                Message::RequestBodyGap {
                    id,
                    body_offset,
                    len,
                } => self.tunnels.body_gap(id, true, body_offset, len),
                other => self.pending.push(other),
            }
        }
    }
}

/// HLS bodies as [`http_parser::hls_body_policy`] has them; RTMPT response bodies
/// (successful ones) streamed, since they carry the server's RTMP bytes.
fn body_policy(request: Option<&Request>, response: &Response) -> BodyMode {
    match request {
        Some(r) if rtmpt::is_tunnel_request(r) && (200..300).contains(&response.status) => {
            BodyMode::Stream
        }
        _ => http_parser::hls_body_policy(request, response),
    }
}

fn to_http(dir: Dir) -> Direction {
    match dir {
        Dir::ClientToServer => Direction::ClientToServer,
        Dir::ServerToClient => Direction::ServerToClient,
    }
}

pub(super) fn is_fmp4(uri: &str, content_type: Option<&str>) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    path.ends_with(".m4s")
        || path.ends_with(".mp4")
        || content_type.is_some_and(|c| c.contains("mp4"))
}

impl SegmentState {
    /// A segment body about to stream in: fMP4 (with the tracks an init segment
    /// on this connection announced) or MPEG-TS (continuing `unwrapper`'s PTS).
    pub(super) fn new(
        uri: &str,
        content_type: Option<&str>,
        tracks: &[TrackConfig],
        unwrapper: Unwrapper,
    ) -> SegmentState {
        let demux = if is_fmp4(uri, content_type) {
            Demux::Fmp4(if tracks.is_empty() {
                Fmp4Demuxer::new()
            } else {
                Fmp4Demuxer::with_tracks(tracks.to_vec())
            })
        } else {
            Demux::Ts(Box::new(TsDemuxer::with_unwrapper(unwrapper)))
        };
        SegmentState {
            demux,
            tail: Tail::default(),
            frames: Vec::new(),
            arrivals: Arrivals::default(),
            prft: Vec::new(),
            emsg: Vec::new(),
            prft_open: 0,
        }
    }

    pub(super) fn feed(&mut self, offset: u64, data: &[u8], anomalies: &mut Anomalies) {
        self.feed_only(offset, data, anomalies);
        if self.prft.len() > MAX_BOXES || self.emsg.len() > MAX_BOXES {
            self.prft.truncate(MAX_BOXES);
            self.prft_open = self.prft_open.min(MAX_BOXES);
            self.emsg.truncate(MAX_BOXES);
            anomalies.count("decode.fmp4_boxes_dropped");
        }
    }

    fn feed_only(&mut self, offset: u64, data: &[u8], anomalies: &mut Anomalies) {
        let demux = &mut self.demux;
        let fed = self.tail.feed(offset, data, |off, bytes| match demux {
            Demux::Ts(d) => d.feed(off, bytes),
            Demux::Fmp4(d) => d.feed(off, bytes),
        });
        if let Fed::Stuck { offset, len } = fed {
            anomalies.count("decode.demuxer_stuck");
            self.gap(offset, len);
        }
        self.collect();
    }

    pub(super) fn gap(&mut self, offset: u64, len: u64) {
        self.tail.clear();
        match &mut self.demux {
            Demux::Ts(d) => d.gap(offset, len),
            Demux::Fmp4(d) => d.gap(offset, len),
        }
    }

    fn collect(&mut self) {
        match &mut self.demux {
            Demux::Ts(d) => {
                for m in d.drain() {
                    if let TsMessage::AccessUnit(au) = m {
                        self.frames.push(SegmentFrame {
                            pts: au.pts.map_or(-1, |t| t.raw as i64),
                            dts: au.dts.or(au.pts).map_or(-1, |t| t.raw as i64),
                            keyframe: au.keyframe,
                            fingerprint: au.fingerprint,
                            size: au.size as u32,
                            received_ns: None,
                            timecode: au
                                .timecode
                                .as_deref()
                                .and_then(crate::events::VideoTimecode::from_frame),
                        });
                        self.arrivals.frame(au.end.saturating_sub(1));
                    }
                }
            }
            Demux::Fmp4(d) => {
                for m in d.drain() {
                    let s = match m {
                        Fmp4Message::Sample(s) => s,
                        Fmp4Message::ProducerTime(p) => {
                            self.prft.push(SegmentPrft {
                                track_id: p.reference_track_id,
                                flags: p.flags,
                                time_ns: p.unix_ns(),
                                media_time: p.media_time,
                                pts: None,
                            });
                            continue;
                        }
                        Fmp4Message::EventMessage(e) => {
                            self.emsg.push(emsg_event(e));
                            continue;
                        }
                        Fmp4Message::Track(_) => continue,
                    };
                    {
                        // Only pictures are frames: a CMAF segment may carry audio
                        // beside the video (a track whose handler is unknown counts).
                        if s.handler != *b"vide" && s.handler != [0; 4] {
                            continue;
                        }
                        // Express fMP4 times in 90 kHz like MPEG-TS PTS.
                        let dts = to_90khz(i128::from(s.decode_time), s.timescale);
                        let pts = dts.saturating_add(to_90khz(
                            i128::from(s.composition_offset),
                            s.timescale,
                        ));
                        // A prft stamps a frame of the fragment after it
                        // (§8.16.5); it is anchored on that fragment's first frame,
                        // not on its media_time, which ffmpeg 5.1 writes on its input's
                        // timeline (2.02 s past tfdt in captures/lowlatency).
                        for p in &mut self.prft[self.prft_open..] {
                            p.pts = Some(pts);
                        }
                        self.prft_open = self.prft.len();
                        self.frames.push(SegmentFrame {
                            pts,
                            dts,
                            keyframe: s.sync,
                            fingerprint: s.fingerprint,
                            size: s.size,
                            received_ns: None,
                            timecode: s
                                .timecode
                                .as_deref()
                                .and_then(crate::events::VideoTimecode::from_frame),
                        });
                        self.arrivals.frame(s.end.saturating_sub(1));
                    }
                }
            }
        }
    }

    pub(super) fn finish(&mut self, end: u64) -> Option<Vec<TrackConfig>> {
        let tracks = match &mut self.demux {
            Demux::Ts(d) => {
                d.end(end);
                None
            }
            Demux::Fmp4(d) => {
                d.end(end);
                Some(d.tracks().to_vec())
            }
        };
        self.collect();
        tracks
    }
}

impl HttpDecoder {
    fn exchange_events(&mut self, x: &Exchange, ctx: &mut Ctx<'_>) {
        self.exchanges += 1;
        let (Some(req), resp) = (&x.request, &x.response) else {
            return;
        };
        let request_ns = ctx.first_seen(Dir::ClientToServer, req.start);
        let (status, content_type, body_bytes, first, last) = match resp {
            Some(r) => (
                Some(r.status),
                r.content_type.clone(),
                r.body_decoded_len,
                Some(ctx.delivered(Dir::ServerToClient, r.start)),
                Some(ctx.delivered(Dir::ServerToClient, r.end.saturating_sub(1))),
            ),
            None => (None, None, 0, None, None),
        };
        ctx.out.push(Event::HttpExchange(Box::new(HttpExchange {
            flow: ctx.meta.id,
            client: ctx.meta.client.to_string(),
            server: ctx.meta.server.to_string(),
            method: req.method.clone(),
            uri: req.uri.clone(),
            host: req.host.clone(),
            status,
            content_type: content_type.clone(),
            body_bytes,
            request_ns,
            response_first_ns: first,
            response_last_ns: last,
        })));
        let Some(r) = resp else { return };
        self.media.exchange_done(
            Finished {
                id: x.id,
                uri: &req.uri,
                status: r.status,
                content_type: content_type.as_deref(),
                body_decoded_len: r.body_decoded_len,
                kept_body: (r.body_mode == BodyMode::Keep)
                    .then_some(r.body.as_deref())
                    .flatten(),
                range_start: range_start(req.header("range")),
                request_ns,
                first_ns: first.unwrap_or(0),
                last_ns: last.unwrap_or(0),
            },
            ctx,
        );
    }
}

/// fMP4 ticks of `timescale` (none: already 90 kHz) as 90 kHz ticks like MPEG-TS
/// PTS, saturating: a damaged `tfdt` must not overflow.
fn to_90khz(t: i128, timescale: Option<u32>) -> i64 {
    let t = match timescale {
        Some(ts) if ts > 0 => t * 90_000 / i128::from(ts),
        _ => t,
    };
    t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// An `emsg` box as the event lists it.
fn emsg_event(e: mpegts_parser::EventMessage) -> SegmentEmsg {
    SegmentEmsg {
        version: e.version,
        scheme_id_uri: e.scheme_id_uri,
        value: e.value,
        timescale: e.timescale,
        presentation_time: e.presentation_time,
        event_duration: e.event_duration,
        id: e.id,
        data: e.message_data.iter().map(|b| format!("{b:02x}")).collect(),
        data_bytes: e.data_len,
    }
}

/// The first byte a `Range` field asks for, when it asks for one range of bytes
/// from a known offset (`bytes=N-` or `bytes=N-M`, RFC 9110 §14.1.2): how an LL-HLS
/// player fetches a byte-range part. A suffix range, several ranges or another
/// unit give `None`.
pub(super) fn range_start(range: Option<&str>) -> Option<u64> {
    let spec = range?.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    if last.contains(',') || first.trim().is_empty() {
        return None;
    }
    first.trim().parse().ok()
}

/// The number at the end of a segment's file name (`lagtap-12.ts` → 12), which is
/// its media sequence number in the layouts nginx-rtmp and most packagers use; for
/// an LL-HLS part named after its parent (`lagtap-12.part3.m4s`), the parent's.
/// Correlation prefers what the playlists say (`PartEntry`).
pub(super) fn sequence_of(uri: &str) -> Option<u64> {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let file = path.rsplit('/').next()?;
    let stem = super::without_part_suffix(file.rsplit_once('.').map_or(file, |(s, _)| s));
    let digits: String = stem
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// A media playlist's LL-HLS parts as events list them: under their listed
/// segments, then the segment being made (numbered on from the last listed one),
/// then the preload hint of a part, which is the next part of that segment.
fn part_entries(uri: &str, m: &hls_parser::MediaPlaylist) -> Vec<PartEntry> {
    // Where the next byte-range part of each URI starts, for a BYTERANGE without
    // an offset (§4.4.4.9: it follows the previous part of the same URI).
    let mut next_byte: std::collections::HashMap<String, u64> = Default::default();
    let mut entry = |p: &hls_parser::Part, msn: u64, i: usize| {
        let uri = hls_parser::resolve_uri(uri, &p.uri);
        let byte_range_start = p.byte_range.map(|(len, offset)| {
            let start = offset.unwrap_or_else(|| next_byte.get(&uri).copied().unwrap_or(0));
            next_byte.insert(uri.clone(), start.saturating_add(len));
            start
        });
        PartEntry {
            uri,
            media_sequence: msn,
            index: u32::try_from(i).unwrap_or(u32::MAX),
            duration_s: p.duration_s,
            byte_range_start,
            independent: p.independent,
            hint: false,
        }
    };
    let mut out: Vec<PartEntry> = Vec::new();
    for s in &m.segments {
        for (i, p) in s.parts.iter().enumerate() {
            out.push(entry(p, s.sequence, i));
        }
    }
    let next = m
        .segments
        .last()
        .map_or(m.media_sequence, |s| s.sequence.wrapping_add(1));
    for (i, p) in m.pending_parts.iter().enumerate() {
        out.push(entry(p, next, i));
    }
    for h in m.preload_hints.iter().filter(|h| h.kind == "PART") {
        out.push(PartEntry {
            uri: hls_parser::resolve_uri(uri, &h.uri),
            media_sequence: next,
            index: u32::try_from(m.pending_parts.len()).unwrap_or(u32::MAX),
            duration_s: 0.0,
            byte_range_start: h.byte_range_start,
            independent: m.pending_parts.is_empty(),
            hint: true,
        });
    }
    out
}

/// A media playlist's segments as events list them: the listed ones, then those
/// named by a prefetch tag (numbered on from the last listed one).
fn playlist_entries(uri: &str, m: &hls_parser::MediaPlaylist) -> Vec<PlaylistEntry> {
    let mut out: Vec<PlaylistEntry> = m
        .segments
        .iter()
        .map(|s| PlaylistEntry {
            uri: hls_parser::resolve_uri(uri, &s.uri),
            media_sequence: s.sequence,
            duration_s: s.duration,
            program_date_time_ns: s.program_date_time_ns,
            discontinuity: s.discontinuity,
            ad: s.ad,
            parts: u32::try_from(s.parts.len()).unwrap_or(u32::MAX),
            prefetch: false,
        })
        .collect();
    let next = m
        .segments
        .last()
        .map_or(m.media_sequence, |s| s.sequence.wrapping_add(1));
    for (i, p) in m.prefetch_uris().enumerate() {
        out.push(PlaylistEntry {
            uri: hls_parser::resolve_uri(uri, p),
            media_sequence: next.wrapping_add(i as u64),
            duration_s: 0.0,
            program_date_time_ns: None,
            discontinuity: false,
            ad: false,
            parts: 0,
            prefetch: true,
        });
    }
    out
}

pub(super) fn playlist_event(
    flow: u64,
    uri: &str,
    channel: Option<String>,
    pl: hls_parser::Playlist,
    request_ns: i64,
    received_ns: i64,
) -> Event {
    match pl {
        hls_parser::Playlist::Master(m) => Event::HlsPlaylist {
            flow,
            uri: uri.to_string(),
            channel,
            master: true,
            media_sequence: None,
            target_duration_s: None,
            endlist: false,
            segments: Vec::new(),
            parts: Vec::new(),
            variants: m
                .variants
                .iter()
                .map(|v| {
                    let mut o = BTreeMap::new();
                    o.insert(
                        "uri".to_string(),
                        serde_json::json!(hls_parser::resolve_uri(uri, &v.uri)),
                    );
                    o.insert("bandwidth".to_string(), serde_json::json!(v.bandwidth));
                    o.insert("name".to_string(), serde_json::json!(v.name));
                    o.insert("resolution".to_string(), serde_json::json!(v.resolution));
                    o
                })
                .collect(),
            request_ns,
            received_ns,
        },
        hls_parser::Playlist::Media(m) => Event::HlsPlaylist {
            flow,
            uri: uri.to_string(),
            channel,
            master: false,
            media_sequence: Some(m.media_sequence),
            target_duration_s: m.target_duration.map(|t| t as f64),
            endlist: m.end_list,
            segments: playlist_entries(uri, &m),
            parts: part_entries(uri, &m),
            variants: Vec::new(),
            request_ns,
            received_ns,
        },
    }
}

impl Decoder for HttpDecoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize {
        if self.session.upgraded().is_some() {
            // Bytes after an upgrade the detector did not foresee: not HTTP.
            return data.len();
        }
        let used = self.session.feed(to_http(dir), offset, data);
        self.take_messages(dir, offset, data);
        used
    }

    fn gap(&mut self, dir: Dir, offset: u64, len: u64) {
        self.session.gap(to_http(dir), offset, len);
        self.take_messages(dir, 0, &[]);
    }

    fn end(&mut self, dir: Dir, offset: u64) {
        self.session.end(to_http(dir), offset);
        self.take_messages(dir, 0, &[]);
    }

    fn collect(&mut self, ctx: &mut Ctx<'_>) {
        self.media
            .stamp(&mut ctx.times[Dir::ServerToClient.index()]);
        let mut pending = std::mem::take(&mut self.pending);
        for m in pending.drain(..) {
            match m {
                Message::Exchange(x) => {
                    self.tunnels.exchange_done(x.id);
                    self.exchange_events(&x, ctx);
                }
                Message::Upgraded(_) => self.media.anomalies.count("http.upgraded_after_detection"),
                // Body messages were handled when they came.
                _ => {}
            }
        }
        self.pending = pending;
        self.tunnels.collect(ctx);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.tunnels.finish(ctx);
    }

    fn anomalies(&self, out: &mut Anomalies) {
        for (k, v) in self.session.anomalies() {
            out.add(k, *v);
        }
        out.merge(&self.media.anomalies);
        self.tunnels.anomalies(out);
    }

    fn undecodable(&self) -> Option<&'static str> {
        let gave_up = self
            .session
            .anomalies()
            .iter()
            .any(|(k, v)| k.contains("gave_up") && *v > 0);
        if gave_up && self.exchanges == 0 {
            Some("no exchange could be decoded (the parser gave the connection up)")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live LL-HLS playlist of RFC 8216bis-16 §9.1 ("Live Media Playlist using
    /// LL-HLS"), cut to its last two segments: parts precede their segment's
    /// `EXTINF` (§4.4.4.9), those after the last `EXTINF` belong to the segment
    /// being made, and a `TYPE=PART` preload hint (§4.4.5.3) is its next part.
    const RFC_LL_PLAYLIST: &str = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:6
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0,CAN-SKIP-UNTIL=12.0
#EXT-X-PART-INF:PART-TARGET=0.33334
#EXT-X-MEDIA-SEQUENCE:271
#EXT-X-MAP:URI=\"init.mp4\"
#EXTINF:4.00008,
fileSequence271.mp4
#EXT-X-PART:DURATION=0.33334,URI=\"filePart272.a.mp4\"
#EXT-X-PART:DURATION=0.33334,URI=\"filePart272.b.mp4\"
#EXTINF:4.00008,
fileSequence272.mp4
#EXT-X-PART:DURATION=0.33334,URI=\"filePart273.0.mp4\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.33334,URI=\"filePart273.1.mp4\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"filePart273.2.mp4\"
#EXT-X-RENDITION-REPORT:URI=\"../1M/waitForMSN.php\",LAST-MSN=273,LAST-PART=1
";

    /// Byte-range parts (§4.4.4.9: `BYTERANGE="<n>[@<o>]"`, an offset left out
    /// follows the previous part of the same URI; §4.4.5.3: a hint's
    /// `BYTERANGE-START`).
    #[test]
    fn byte_range_parts_get_their_first_byte() {
        let text = "#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:9
#EXT-X-PART-INF:PART-TARGET=1.0
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PART:DURATION=1.0,URI=\"seg10.mp4\",BYTERANGE=\"1000@0\",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.0,URI=\"seg10.mp4\",BYTERANGE=\"1500\"
#EXTINF:2.0,
seg10.mp4
#EXT-X-PART:DURATION=1.0,URI=\"seg11.mp4\",BYTERANGE=\"800@0\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg11.mp4\",BYTERANGE-START=800
";
        let Ok(hls_parser::Playlist::Media(m)) = hls_parser::parse(text) else {
            panic!("a media playlist");
        };
        let got: Vec<(u64, u32, Option<u64>, bool)> = part_entries("/a/index.m3u8", &m)
            .iter()
            .map(|p| (p.media_sequence, p.index, p.byte_range_start, p.hint))
            .collect();
        assert_eq!(
            got,
            [
                (10, 0, Some(0), false),
                (10, 1, Some(1000), false),
                (11, 0, Some(0), false),
                (11, 1, Some(800), true),
            ]
        );
    }

    #[test]
    fn range_requests_give_their_first_byte() {
        assert_eq!(range_start(Some("bytes=1000-")), Some(1000));
        assert_eq!(range_start(Some("bytes=0-499")), Some(0));
        assert_eq!(range_start(Some(" bytes=5-9 ")), Some(5));
        assert_eq!(range_start(Some("bytes=-500")), None, "a suffix range");
        assert_eq!(range_start(Some("bytes=0-1,5-9")), None, "several ranges");
        assert_eq!(range_start(Some("items=0-1")), None);
        assert_eq!(range_start(None), None);
    }

    #[test]
    fn parts_are_listed_under_their_parent_segment() {
        let Ok(hls_parser::Playlist::Media(m)) = hls_parser::parse(RFC_LL_PLAYLIST) else {
            panic!("a media playlist");
        };
        let parts = part_entries("http://x/a/index.m3u8", &m);
        let got: Vec<(&str, u64, u32, bool, bool)> = parts
            .iter()
            .map(|p| {
                (
                    p.uri.as_str(),
                    p.media_sequence,
                    p.index,
                    p.independent,
                    p.hint,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("http://x/a/filePart272.a.mp4", 272, 0, false, false),
                ("http://x/a/filePart272.b.mp4", 272, 1, false, false),
                ("http://x/a/filePart273.0.mp4", 273, 0, true, false),
                ("http://x/a/filePart273.1.mp4", 273, 1, false, false),
                ("http://x/a/filePart273.2.mp4", 273, 2, false, true),
            ]
        );
        assert!((parts[0].duration_s - 0.33334).abs() < 1e-9);
        assert_eq!(parts[4].duration_s, 0.0);
        let segs = playlist_entries("http://x/a/index.m3u8", &m);
        assert_eq!(segs.iter().map(|s| s.parts).collect::<Vec<_>>(), [0, 2]);
    }
}
