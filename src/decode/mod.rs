//! `lagtap decode`: one host's capture → its event timeline.
//!
//! The flow layer hands over timed in-order bytes; here each flow's protocol is
//! detected (content first), its bytes go through the pure parser crates, and what
//! they report becomes [`Event`]s stamped with the right one of each byte's two
//! times. Decoding one file needs nothing from other hosts.

mod arrival;
mod h2;
mod http;
mod irc;
pub mod keys;
mod ntp;
mod rtmp;
mod rtmpt;
mod rtmpt_join;
pub mod timemap;
mod tls;

pub use tls::version_name as tls_version_name;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tls_decrypt::KeyLog;

use crate::anomalies::Anomalies;
use crate::capture::{CaptureError, CaptureReader};
use crate::events::Event;
use crate::flow::detect::{detect, Verdict, DETECT_PREFIX};
use crate::flow::{Chunk, Dir, FlowHandler, FlowMeta, Protocol, TcpEventKind, TransportKind};
use crate::time::Timestamp;
use timemap::{Fed, Tail, TimeMap};

/// What a protocol adapter does with a flow's bytes. The adapter owns the parser
/// session; [`TcpFlow`] owns the tails and time maps around it.
trait Decoder {
    fn feed(&mut self, dir: Dir, offset: u64, data: &[u8]) -> usize;
    fn gap(&mut self, dir: Dir, offset: u64, len: u64);
    fn end(&mut self, dir: Dir, offset: u64);
    fn datagram(&mut self, _dir: Dir, _ts: Timestamp, _payload: &[u8], _ctx: &mut Ctx<'_>) {}
    /// Turns what the parser reported so far into events.
    fn collect(&mut self, ctx: &mut Ctx<'_>);
    /// Parser anomalies, merged into the file's at close.
    fn anomalies(&self, out: &mut Anomalies);
    /// Why the flow could not be decoded, if it could not.
    fn undecodable(&self) -> Option<&'static str>;
    /// The flow is closing: last words (a TLS session's summary event).
    fn finish(&mut self, _ctx: &mut Ctx<'_>) {}
}

/// The decoder of a plain protocol (also what decrypted TLS holds). `saw_syn`: the
/// flow's first bytes were captured, so the parser may expect a session's start.
fn decoder_for(p: Protocol, saw_syn: bool) -> Option<Box<dyn Decoder>> {
    match p {
        Protocol::Rtmp => Some(Box::new(rtmp::RtmpDecoder::new(saw_syn))),
        Protocol::Http => Some(Box::new(http::HttpDecoder::new())),
        Protocol::WebSocket => Some(Box::new(irc::IrcDecoder::websocket())),
        Protocol::Irc => Some(Box::new(irc::IrcDecoder::new(saw_syn))),
        Protocol::Ntp => Some(Box::new(ntp::NtpDecoder::default())),
        Protocol::Http2 => Some(Box::new(h2::H2Decoder::new())),
        Protocol::Tls | Protocol::Rtmpe | Protocol::Unknown => None,
    }
}

/// What an adapter needs to stamp events, and where it hands on what belongs to
/// more than its own flow.
pub(crate) struct Ctx<'a> {
    pub meta: &'a FlowMeta,
    pub times: &'a mut [TimeMap; 2],
    pub out: &'a mut Vec<Event>,
    /// Pieces of RTMPT tunnels, which a client may spread over several connections:
    /// the [`DecodeHandler`] passes them to the host's tunnels
    /// ([`rtmpt_join::Join`]) after each call, so data still flows one way (flows →
    /// protocol sessions → events) and no flow sees another's state.
    pub handoff: &'a mut Vec<rtmpt_join::Piece>,
}

impl Ctx<'_> {
    /// First-seen time of the byte at `offset` in `dir` (0 if the flow has no time
    /// for it yet, which a parser reporting an offset it was fed cannot cause).
    pub fn first_seen(&mut self, dir: Dir, offset: u64) -> i64 {
        self.times[dir.index()]
            .first_seen(offset)
            .map_or(0, |t| t.0)
    }
    pub fn delivered(&mut self, dir: Dir, offset: u64) -> i64 {
        self.times[dir.index()].delivered(offset).map_or(0, |t| t.0)
    }
}

/// Per-flow state.
pub struct FlowState {
    protocol: Option<Protocol>,
    /// Chunks held while the protocol is not known yet (bounded by DETECT_PREFIX).
    held: Vec<(Dir, u64, Vec<u8>, Timestamp, Timestamp)>,
    held_bytes: [usize; 2],
    decoder: Option<Box<dyn Decoder>>,
    tails: [Tail; 2],
    times: [TimeMap; 2],
}

#[derive(Default)]
pub struct DecodeHandler {
    /// Secrets for TLS flows (empty: TLS flows are described, not decrypted).
    pub keylog: Arc<KeyLog>,
    pub events: Vec<Event>,
    pub anomalies: Anomalies,
    pub flows_by_protocol: BTreeMap<String, u64>,
    pub undecodable: BTreeMap<String, u64>,
    /// Host-level state: RTMPT tunnels joined across HTTP connections.
    rtmpt: rtmpt_join::Join,
    /// What the last decoder call handed over, for `rtmpt`.
    handoff: Vec<rtmpt_join::Piece>,
}

impl DecodeHandler {
    /// A handler that decrypts TLS flows with `keylog`'s secrets.
    pub fn with_keylog(keylog: Arc<KeyLog>) -> Self {
        DecodeHandler {
            keylog,
            ..DecodeHandler::default()
        }
    }

    fn choose(&mut self, st: &mut FlowState, meta: &FlowMeta, complete: bool) {
        if st.protocol.is_some() {
            return;
        }
        let mut pre = [Vec::new(), Vec::new()];
        for (dir, _, data, _, _) in &st.held {
            pre[dir.index()].extend_from_slice(data);
        }
        let verdict = detect(
            meta.transport,
            meta.server.port(),
            &pre[0],
            &pre[1],
            complete,
        );
        let Verdict::Is(p) = verdict else { return };
        st.protocol = Some(p);
        st.decoder = match p {
            Protocol::Tls => Some(Box::new(tls::TlsDecoder::new(self.keylog.clone()))),
            _ => decoder_for(p, meta.saw_syn),
        };
        let held = std::mem::take(&mut st.held);
        for (dir, offset, data, first_seen, delivered) in held {
            let chunk = Chunk {
                offset,
                data: &data,
                first_seen,
                delivered,
            };
            self.feed(st, meta, dir, chunk);
        }
    }

    fn feed(&mut self, st: &mut FlowState, meta: &FlowMeta, dir: Dir, chunk: Chunk<'_>) {
        let d = dir.index();
        st.times[d].push(&chunk);
        let Some(decoder) = st.decoder.as_mut() else {
            return;
        };
        let fed = st.tails[d].feed(chunk.offset, chunk.data, |off, bytes| {
            decoder.feed(dir, off, bytes)
        });
        if let Fed::Stuck { offset, len } = fed {
            self.anomalies.count("decode.parser_stuck");
            decoder.gap(dir, offset, len);
        }
        let mut ctx = Ctx {
            meta,
            times: &mut st.times,
            out: &mut self.events,
            handoff: &mut self.handoff,
        };
        decoder.collect(&mut ctx);
        self.hand_over();
    }

    /// Passes what the decoders handed over to the host's RTMPT tunnels.
    fn hand_over(&mut self) {
        if !self.handoff.is_empty() {
            self.rtmpt
                .take(&mut self.handoff, &mut self.events, &mut self.anomalies);
        }
    }
}

impl FlowHandler for DecodeHandler {
    type State = FlowState;

    fn open(&mut self, _meta: &FlowMeta) -> FlowState {
        FlowState {
            protocol: None,
            held: Vec::new(),
            held_bytes: [0; 2],
            decoder: None,
            tails: Default::default(),
            times: Default::default(),
        }
    }

    fn data(&mut self, st: &mut FlowState, meta: &FlowMeta, dir: Dir, chunk: Chunk<'_>) {
        if st.protocol.is_none() {
            st.held.push((
                dir,
                chunk.offset,
                chunk.data.to_vec(),
                chunk.first_seen,
                chunk.delivered,
            ));
            st.held_bytes[dir.index()] += chunk.data.len();
            let enough = st.held_bytes[dir.index()] >= DETECT_PREFIX;
            self.choose(st, meta, enough);
            return;
        }
        self.feed(st, meta, dir, chunk);
    }

    fn gap(&mut self, st: &mut FlowState, meta: &FlowMeta, dir: Dir, offset: u64, len: u64) {
        if st.protocol.is_none() {
            self.choose(st, meta, true);
        }
        st.tails[dir.index()].clear();
        if let Some(decoder) = st.decoder.as_mut() {
            decoder.gap(dir, offset, len);
            let mut ctx = Ctx {
                meta,
                times: &mut st.times,
                out: &mut self.events,
                handoff: &mut self.handoff,
            };
            decoder.collect(&mut ctx);
            self.hand_over();
        }
    }

    fn end(&mut self, st: &mut FlowState, meta: &FlowMeta, dir: Dir, offset: u64) {
        if st.protocol.is_none() {
            self.choose(st, meta, true);
        }
        if let Some(decoder) = st.decoder.as_mut() {
            decoder.end(dir, offset);
            let mut ctx = Ctx {
                meta,
                times: &mut st.times,
                out: &mut self.events,
                handoff: &mut self.handoff,
            };
            decoder.collect(&mut ctx);
            self.hand_over();
        }
    }

    fn datagram(
        &mut self,
        st: &mut FlowState,
        meta: &FlowMeta,
        dir: Dir,
        ts: Timestamp,
        payload: &[u8],
    ) {
        if st.protocol.is_none() {
            let (c2s, s2c): (&[u8], &[u8]) = match dir {
                Dir::ClientToServer => (payload, &[]),
                Dir::ServerToClient => (&[], payload),
            };
            if let Verdict::Is(p) = detect(TransportKind::Udp, meta.server.port(), c2s, s2c, true) {
                st.protocol = Some(p);
                if p == Protocol::Ntp {
                    st.decoder = Some(Box::new(ntp::NtpDecoder::default()));
                }
            }
        }
        if let Some(decoder) = st.decoder.as_mut() {
            let mut ctx = Ctx {
                meta,
                times: &mut st.times,
                out: &mut self.events,
                handoff: &mut self.handoff,
            };
            decoder.datagram(dir, ts, payload, &mut ctx);
            self.hand_over();
        }
    }

    fn tcp_event(
        &mut self,
        st: &mut FlowState,
        meta: &FlowMeta,
        dir: Dir,
        ts: Timestamp,
        kind: TcpEventKind,
    ) {
        // Only RTMP: source health charts the broadcaster's uplink; elsewhere the
        // per-flow counters of `inspect` say enough.
        if st.protocol == Some(Protocol::Rtmp) {
            self.events.push(Event::TcpEvent {
                flow: meta.id,
                from_client: dir == Dir::ClientToServer,
                what: kind.name().to_string(),
                time_ns: ts.0,
            });
        }
    }

    fn close(&mut self, mut st: FlowState, meta: &FlowMeta) {
        if st.protocol.is_none() {
            self.choose(&mut st, meta, true);
        }
        let p = st.protocol.unwrap_or(Protocol::Unknown);
        *self
            .flows_by_protocol
            .entry(p.name().to_string())
            .or_default() += 1;
        if let Some(d) = st.decoder.as_mut() {
            let mut ctx = Ctx {
                meta,
                times: &mut st.times,
                out: &mut self.events,
                handoff: &mut self.handoff,
            };
            d.finish(&mut ctx);
            self.hand_over();
        }
        let why = match (&st.decoder, p) {
            (Some(d), _) => d.undecodable(),
            (None, Protocol::Tls) => Some("encrypted (TLS)"),
            (None, Protocol::Rtmpe) => Some("encrypted (RTMPE)"),
            (None, _) => None,
        };
        if let Some(why) = why {
            *self
                .undecodable
                .entry(format!("{}: {why}", p.name()))
                .or_default() += 1;
        }
        if let Some(d) = st.decoder.as_ref() {
            d.anomalies(&mut self.anomalies);
        }
        let evicted = st.times[0].evicted_lookups + st.times[1].evicted_lookups;
        self.anomalies.add("decode.time_map_evicted", evicted);
        // Bytes never captured (lost before the tap, or dropped by it): the damage
        // `inspect` shows per flow, summed for the file.
        let [c, s] = &meta.stats;
        self.anomalies.add("tcp.gap", c.gaps + s.gaps);
        self.anomalies
            .add("tcp.gap_bytes", c.gap_bytes + s.gap_bytes);
    }
}

/// The decoded timeline of one capture.
pub struct Decoded {
    pub events: Vec<Event>,
}

/// How far back in capture time an event may still be produced after later ones
/// were: an HTTP exchange is stamped with its request but completes with its
/// response, a publish waits for its metadata. Events are held this long for sorting.
const REORDER_WINDOW_NS: i64 = 120 * Timestamp::NANOS_PER_SEC;

/// Decodes one capture file as host `host` into memory: a `capture` event, every
/// event sorted by time, and a closing `summary` event.
pub fn decode_file(path: &Path, host: &str) -> Result<Decoded, CaptureError> {
    decode_file_with(path, host, &KeyLog::default())
}

/// [`decode_file`] with TLS secrets from `keylog` (the `--keylog` files) besides
/// those found with the capture (see `keys.rs`).
pub fn decode_file_with(path: &Path, host: &str, keylog: &KeyLog) -> Result<Decoded, CaptureError> {
    let mut events = Vec::new();
    // Collecting into memory cannot fail, so the sink's status is always Ok.
    let _always_ok = decode_timeline_owned(&[path.to_path_buf()], host, keylog, |e| {
        events.push(e);
        Ok(())
    })?;
    Ok(Decoded { events })
}

/// Decodes one capture, handing events to `sink` in time order while the file is
/// read: memory stays bounded by the events of the last [`REORDER_WINDOW_NS`], not by
/// the capture's size. An event produced later than that window (rare, counted as
/// `decode.late_event`) is handed on out of order. A sink error (a closed pipe) stops
/// the output and is returned; the file is still read to the end.
pub fn decode_stream(
    path: &Path,
    host: &str,
    sink: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, CaptureError> {
    decode_stream_with(path, host, &KeyLog::default(), sink)
}

/// [`decode_stream`] with TLS secrets from `keylog` besides the capture's own.
pub fn decode_stream_with(
    path: &Path,
    host: &str,
    keylog: &KeyLog,
    sink: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, CaptureError> {
    decode_timeline_with(&[path.to_path_buf()], host, keylog, sink)
}

/// [`decode_stream_with`] over a host's capture files in time order (rotated files:
/// `capture::timeline`), decoded as one capture: flows and the events they build
/// carry across file boundaries. The key logs beside every file and every file's
/// Decryption Secrets Blocks are used for all of them.
pub fn decode_timeline_with(
    files: &[PathBuf],
    host: &str,
    keylog: &KeyLog,
    mut sink: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, CaptureError> {
    decode_timeline_owned(files, host, keylog, |e| sink(&e))
}

/// [`decode_timeline_with`] handing each event over by value: for a caller that
/// keeps them (`correlate` holds every host's events), no copy per event.
pub fn decode_timeline_owned(
    files: &[PathBuf],
    host: &str,
    keylog: &KeyLog,
    sink: impl FnMut(Event) -> std::io::Result<()>,
) -> Result<std::io::Result<()>, CaptureError> {
    let Some((first, rest)) = files.split_first() else {
        return Err(CaptureError::Empty("an empty list of capture files".into()));
    };
    let reader = CaptureReader::open(first)?;
    let later = rest.iter().map(|p| CaptureReader::open(p));
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let keylog = keys::for_timeline(files, host, keylog);
    Ok(decode_readers(reader, later, host, names, keylog, sink))
}

/// Decodes from an open reader (bytes that need not be a file: `name` is what the
/// `capture` event calls them) with the secrets in `keylog` alone (no key log beside
/// a file, no pre-scan for Decryption Secrets Blocks). Returns the sink's status.
pub fn decode_reader(
    reader: CaptureReader,
    name: &str,
    host: &str,
    keylog: Arc<KeyLog>,
    mut sink: impl FnMut(&Event) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let names = vec![name.to_string()];
    decode_readers(reader, std::iter::empty(), host, names, keylog, |e| {
        sink(&e)
    })
}

/// The decode of a host's readers in order, as [`decode_stream`] describes.
fn decode_readers(
    reader: CaptureReader,
    later: impl Iterator<Item = Result<CaptureReader, CaptureError>>,
    host: &str,
    names: Vec<String>,
    keylog: Arc<KeyLog>,
    mut sink: impl FnMut(Event) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let handler = DecodeHandler::with_keylog(keylog.clone());
    let mut out = Ordered::default();
    let mut status: std::io::Result<()> = Ok(());
    let mut emit = |e: Event, status: &mut std::io::Result<()>| {
        if status.is_ok() {
            *status = sink(e);
        }
    };
    let capture_event = |info: &crate::capture::CaptureInfo| Event::Capture {
        host: host.to_string(),
        file: names.first().cloned().unwrap_or_default(),
        files: names.clone(),
        format: info.format.clone(),
        link_types: info.link_types.iter().cloned().collect(),
        comments: info.comments.clone(),
    };
    let mut head_done = false;
    let run = crate::pipeline::run_timeline(reader, later, handler, |h, now, info| {
        if !head_done {
            emit(capture_event(info), &mut status);
            head_done = true;
        }
        out.take(&mut h.events);
        if now.0.saturating_sub(out.last_release) >= Timestamp::NANOS_PER_SEC {
            out.release(now.0.saturating_sub(REORDER_WINDOW_NS), |e| {
                emit(e, &mut status)
            });
            out.last_release = now.0;
        }
    });
    if !head_done {
        emit(capture_event(&run.info), &mut status);
    }
    let mut h = run.handler;
    let mut anomalies = run.anomalies;
    anomalies.merge(&h.anomalies);
    out.take(&mut h.events);
    out.release(i64::MAX, |e| emit(e, &mut status));
    anomalies.add("decode.late_event", out.late);
    anomalies.add("tls.keylog_malformed_lines", keylog.malformed);
    anomalies.add("tls.keylog_conflicting_secrets", keylog.conflicting);
    let summary = Event::Summary {
        packets: run.info.packets,
        first_time_ns: run.info.first_time.map(|t| t.0),
        last_time_ns: run.info.last_time.map(|t| t.0),
        link_types: run.info.link_types.into_iter().collect(),
        flows_by_protocol: h.flows_by_protocol,
        undecodable: h.undecodable,
        anomalies: anomalies.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        events: out.released,
    };
    emit(summary, &mut status);
    status
}

/// Events waiting to be released in time order. They arrive almost sorted (an
/// event is produced when its last byte is in, and stamped at most seconds earlier),
/// so a deque kept sorted by insertion near its back costs O(1) per event in practice.
#[derive(Default)]
struct Ordered {
    queue: std::collections::VecDeque<(i64, Event)>,
    watermark: i64,
    last_release: i64,
    released: u64,
    late: u64,
}

impl Ordered {
    fn take(&mut self, events: &mut Vec<Event>) {
        for e in events.drain(..) {
            let t = event_time(&e);
            if t < self.watermark {
                self.late += 1;
            }
            match self.queue.back() {
                Some((last, _)) if *last > t => {
                    // Stable: after every queued event with the same time.
                    let at = self.queue.partition_point(|(x, _)| *x <= t);
                    self.queue.insert(at, (t, e));
                }
                _ => self.queue.push_back((t, e)),
            }
        }
    }

    fn release(&mut self, upto: i64, mut write: impl FnMut(Event)) {
        while self.queue.front().is_some_and(|(t, _)| *t <= upto) {
            if let Some((t, e)) = self.queue.pop_front() {
                self.watermark = self.watermark.max(t);
                self.released += 1;
                write(e);
            }
        }
    }
}

/// The time an event is ordered by.
pub fn event_time(e: &Event) -> i64 {
    match e {
        Event::Capture { .. } => i64::MIN,
        Event::Summary { .. } => i64::MAX,
        Event::RtmpPublish { time_ns, .. } | Event::RtmpPlay { time_ns, .. } => *time_ns,
        Event::RtmpVideo { first_byte_ns, .. } | Event::RtmpAudio { first_byte_ns, .. } => {
            *first_byte_ns
        }
        Event::HttpExchange(x) => x.request_ns,
        Event::HlsPlaylist { received_ns, .. } => *received_ns,
        Event::HlsSegment { complete_ns, .. } => *complete_ns,
        Event::ChatSent { time_ns, .. } => *time_ns,
        Event::ChatReceived(c) => c.time_ns,
        Event::NtpExchange { t4_ns, .. } => *t4_ns,
        Event::TcpEvent { time_ns, .. } => *time_ns,
        Event::TlsSession(t) => t.time_ns,
    }
}

/// The host name lagtap gives a capture file: its stem without capture extensions.
pub fn host_name(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("host");
    let mut stem = name;
    for ext in [".gz", ".zst", ".lz4", ".pcapng", ".pcap", ".cap", ".jsonl"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem.to_string()
}

/// A file stem without an LL-HLS part suffix (`lagtap-12.part3` → `lagtap-12`,
/// `filePart273.3` → `filePart273`, as RFC 8216bis's examples name parts): parts
/// are commonly named after their parent segment.
pub(crate) fn without_part_suffix(stem: &str) -> &str {
    let Some((parent, k)) = stem.rsplit_once('.') else {
        return stem;
    };
    let k = k.strip_prefix("part").unwrap_or(k);
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
        parent
    } else {
        stem
    }
}

/// Channel name from an HLS URI, for the common layouts (`/hls/<chan>.m3u8`,
/// `/hls/<chan>-<n>.ts`, `/<app>/<chan>/index.m3u8`, `/api/channel/hls/<chan>.m3u8`).
/// Correlation can override this with its own pattern.
pub fn channel_of(uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map_or("", |j| &path[i + 3 + j..]),
        None => path,
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let file = *parts.last()?;
    let (stem, ext) = file.rsplit_once('.')?;
    let stem = without_part_suffix(stem);
    if stem == "index" || stem == "playlist" {
        return parts.len().checked_sub(2).map(|i| parts[i].to_string());
    }
    match ext {
        "m3u8" | "m3u" => Some(stem.to_string()),
        "ts" | "m4s" | "mp4" | "aac" => {
            let base = stem.rsplit_once(['-', '_']).map_or(stem, |(b, n)| {
                if n.chars().all(|c| c.is_ascii_digit()) {
                    b
                } else {
                    stem
                }
            });
            Some(base.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_come_from_the_usual_hls_layouts() {
        assert_eq!(channel_of("/hls/lagtap.m3u8").as_deref(), Some("lagtap"));
        assert_eq!(
            channel_of("http://10.77.0.1/hls/lagtap-12.ts").as_deref(),
            Some("lagtap")
        );
        assert_eq!(
            channel_of("/live/chan2/index.m3u8").as_deref(),
            Some("chan2")
        );
        assert_eq!(
            channel_of("/api/channel/hls/some_streamer.m3u8?token=x").as_deref(),
            Some("some_streamer")
        );
        assert_eq!(channel_of("/favicon.ico"), None);
    }

    #[test]
    fn parts_are_named_for_their_parent() {
        assert_eq!(
            channel_of("/ll/chan/chan-00004.part2.m4s").as_deref(),
            Some("chan")
        );
        assert_eq!(
            channel_of("/hls/chan-17.part0.m4s").as_deref(),
            Some("chan")
        );
        assert_eq!(http::sequence_of("/ll/chan/chan-00004.part2.m4s"), Some(4));
        assert_eq!(http::sequence_of("/a/filePart273.3.mp4"), Some(273));
        assert_eq!(http::sequence_of("/a/fileSequence272.mp4"), Some(272));
        // Not a part suffix: left alone.
        assert_eq!(without_part_suffix("seg.partial"), "seg.partial");
        assert_eq!(without_part_suffix("lagtap-12"), "lagtap-12");
    }

    #[test]
    fn host_names_are_file_stems() {
        assert_eq!(
            host_name(Path::new("captures/basic/mobile.pcapng")),
            "mobile"
        );
        assert_eq!(host_name(Path::new("x/desktop.pcap.gz")), "desktop");
        assert_eq!(host_name(Path::new("x/desktop.pcapng.zst")), "desktop");
        assert_eq!(host_name(Path::new("x/mobile.pcap.lz4")), "mobile");
    }
}
