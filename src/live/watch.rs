//! `lagtap watch`: events as they happen, from an interface or a growing capture.
//!
//! Decoding is the offline decoder itself: packets go through
//! [`crate::pipeline::feed_packet`] into a `FlowTable<DecodeHandler>`, and the events
//! the handler produced are drained after every packet. Nothing here parses a
//! protocol; [`Printer`] only turns events into lines:
//!
//! - chat lines, with the server → here latency where the server stamped them
//!   (`time=` server-time, else Twitch's `tmi-sent-ts`);
//! - HLS segments with their delivery time (complete − request);
//! - switches: a client requesting another channel's playlist, and when the first
//!   segment of the new channel is complete;
//! - a broadcaster's upload, once a second: rate, frames sent, frames missing (gaps in
//!   the RTMP video timestamps);
//! - RTMP publishes and NTP exchanges (offset, delay).
//!
//! Live events are printed in the order the decoder finishes them, not sorted: an
//! HTTP exchange is known when its response is complete.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::anomalies::Anomalies;
use crate::capture::{CaptureReader, Packet};
use crate::decode::DecodeHandler;
use crate::events::{ChatReceived, Event, HttpExchange, RtmpDirection};
use crate::flow::FlowTable;
use crate::pipeline::feed_packet;
use crate::time::Timestamp;

/// The decoder, fed one packet at a time.
pub struct LiveDecoder {
    pub table: FlowTable<DecodeHandler>,
    pub anomalies: Anomalies,
}

impl Default for LiveDecoder {
    fn default() -> Self {
        LiveDecoder {
            table: FlowTable::new(DecodeHandler::default()),
            anomalies: Anomalies::default(),
        }
    }
}

impl LiveDecoder {
    /// A decoder that decrypts TLS flows with `keylog`'s secrets.
    pub fn with_keys(keylog: std::sync::Arc<tls_decrypt::KeyLog>) -> Self {
        LiveDecoder {
            table: FlowTable::new(DecodeHandler::with_keylog(keylog)),
            anomalies: Anomalies::default(),
        }
    }

    /// Feeds one packet; `sink` gets every event it completed.
    pub fn packet(&mut self, p: Packet<'_>, mut sink: impl FnMut(&Event)) {
        if feed_packet(&mut self.table, &mut self.anomalies, p) {
            for e in self.table.handler.events.drain(..) {
                sink(&e);
            }
        }
    }

    /// Ends every open flow (at the end of the input) and hands on what that completed.
    pub fn finish(&mut self, mut sink: impl FnMut(&Event)) {
        self.table.finish_all();
        for e in self.table.handler.events.drain(..) {
            sink(&e);
        }
    }
}

/// One second of one broadcaster's upload.
#[derive(Default, Clone)]
struct UplinkSecond {
    bytes: u64,
    frames: u64,
    missing: u64,
}

#[derive(Default)]
struct Stream {
    /// Frame interval from onMetaData `framerate`, in ms.
    interval_ms: Option<f64>,
    /// Smallest positive timestamp step seen, the fallback interval.
    min_step_ms: Option<u32>,
    last_ts: Option<u32>,
    seconds: BTreeMap<i64, UplinkSecond>,
}

/// Turns events into one line each.
pub struct Printer<W: Write> {
    out: W,
    /// HTTP flow → client IP, from the exchange that precedes a playlist or segment.
    flow_client: HashMap<u64, String>,
    channel: HashMap<String, String>,
    /// Client → (new channel, first request of it), until its first segment completes.
    switching: HashMap<String, (String, i64)>,
    streams: BTreeMap<String, Stream>,
    flow_stream: HashMap<u64, String>,
}

/// Flows remembered for client lookups; the map is cleared beyond this.
const MAX_REMEMBERED: usize = 10_000;

impl<W: Write> Printer<W> {
    pub fn new(out: W) -> Self {
        Printer {
            out,
            flow_client: HashMap::new(),
            channel: HashMap::new(),
            switching: HashMap::new(),
            streams: BTreeMap::new(),
            flow_stream: HashMap::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn event(&mut self, e: &Event) -> io::Result<()> {
        match e {
            Event::ChatReceived(ev) => {
                let ChatReceived {
                    channel,
                    nick,
                    text,
                    own_nick,
                    server_time_ns,
                    tmi_sent_ts_ns,
                    time_ns,
                    ..
                } = &**ev;
                let nick = nick.as_deref().unwrap_or("?");
                let echo = own_nick.as_deref() == Some(nick);
                let lat = match (server_time_ns, tmi_sent_ts_ns) {
                    (Some(s), _) => format!("  (server→here {})", ms(time_ns - s)),
                    (None, Some(s)) => format!("  (tmi-sent-ts→here {})", ms(time_ns - s)),
                    (None, None) => String::new(),
                };
                let echo = if echo { " [echo]" } else { "" };
                writeln!(
                    self.out,
                    "{} chat    {channel} <{nick}> {text}{lat}{echo}",
                    clock(*time_ns)
                )
            }
            Event::ChatSent {
                channel,
                nick,
                text,
                time_ns,
                ..
            } => writeln!(
                self.out,
                "{} chat    {channel} <{}> {text}  (sent)",
                clock(*time_ns),
                nick.as_deref().unwrap_or("me")
            ),
            Event::HttpExchange(ev) => {
                let HttpExchange { flow, client, .. } = &**ev;
                if self.flow_client.len() >= MAX_REMEMBERED {
                    self.flow_client.clear();
                }
                let ip = client
                    .parse::<std::net::SocketAddr>()
                    .map_or(client.clone(), |a| a.ip().to_string());
                self.flow_client.insert(*flow, ip);
                Ok(())
            }
            Event::HlsPlaylist {
                flow,
                channel: Some(ch),
                request_ns,
                master,
                ..
            } => {
                let who = self.client(*flow);
                let prev = self.channel.insert(who.clone(), ch.clone());
                match prev {
                    Some(p) if &p != ch => {
                        self.switching
                            .insert(who.clone(), (ch.clone(), *request_ns));
                        writeln!(
                            self.out,
                            "{} switch  {who}: {p} → {ch} (requested {}playlist)",
                            clock(*request_ns),
                            if *master { "master " } else { "" }
                        )
                    }
                    None => writeln!(self.out, "{} watch   {who}: {ch}", clock(*request_ns)),
                    _ => Ok(()),
                }
            }
            Event::HlsSegment {
                flow,
                uri,
                channel,
                media_sequence,
                status,
                bytes,
                request_ns,
                first_byte_ns,
                complete_ns,
                frames,
                ..
            } => {
                let who = self.client(*flow);
                let name = channel.clone().unwrap_or_else(|| uri.clone());
                let seq = media_sequence.map_or(String::new(), |s| format!(" #{s}"));
                writeln!(
                    self.out,
                    "{} segment {name}{seq}: {bytes} B, {} frames, delivery {} (first byte {}){}",
                    clock(*complete_ns),
                    frames.len(),
                    ms(complete_ns - request_ns),
                    ms(first_byte_ns - request_ns),
                    if *status == 200 {
                        String::new()
                    } else {
                        format!(", status {status}")
                    }
                )?;
                if let Some((to, start)) = self.switching.get(&who).cloned() {
                    if channel.as_deref() == Some(to.as_str()) && *status == 200 {
                        self.switching.remove(&who);
                        writeln!(
                            self.out,
                            "{} switch  {who}: on {to} after {} (first request → first segment complete)",
                            clock(*complete_ns),
                            ms(complete_ns - start)
                        )?;
                    }
                }
                Ok(())
            }
            Event::RtmpPublish {
                flow,
                client,
                server,
                stream_key,
                app,
                time_ns,
                metadata,
                ..
            } => {
                let key = match app {
                    Some(a) => format!("{a}/{stream_key}"),
                    None => stream_key.clone(),
                };
                self.flow_stream.insert(*flow, key.clone());
                let s = self.streams.entry(key.clone()).or_default();
                if let Some(fps) = metadata.get("framerate").and_then(|v| v.as_f64()) {
                    if fps > 0.0 {
                        s.interval_ms = Some(1000.0 / fps);
                    }
                }
                writeln!(
                    self.out,
                    "{} publish {key} from {client} to {server}",
                    clock(*time_ns)
                )
            }
            // Upload health: published frames only.
            Event::RtmpVideo {
                flow,
                stream_key,
                direction: RtmpDirection::ClientToServer,
                rtmp_ts_ms,
                config,
                size,
                first_byte_ns,
                ..
            } => {
                let key = self.stream_key(*flow, stream_key.as_deref());
                let s = self.streams.entry(key).or_default();
                let sec = s
                    .seconds
                    .entry(first_byte_ns.div_euclid(1_000_000_000))
                    .or_default();
                sec.bytes += u64::from(*size);
                if !config {
                    sec.frames += 1;
                    if let Some(last) = s.last_ts {
                        let step = rtmp_ts_ms.wrapping_sub(last);
                        if step > 0 && step < 60_000 {
                            s.min_step_ms = Some(s.min_step_ms.map_or(step, |m| m.min(step)));
                            let interval = s.interval_ms.or(s.min_step_ms.map(f64::from));
                            if let Some(i) = interval {
                                let missing = (f64::from(step) / i).round() as u64;
                                sec.missing += missing.saturating_sub(1);
                            }
                        }
                    }
                    s.last_ts = Some(*rtmp_ts_ms);
                }
                self.tick(*first_byte_ns - 1_000_000_000)
            }
            Event::RtmpAudio {
                flow,
                stream_key,
                direction: RtmpDirection::ClientToServer,
                size,
                first_byte_ns,
                ..
            } => {
                let key = self.stream_key(*flow, stream_key.as_deref());
                let s = self.streams.entry(key).or_default();
                s.seconds
                    .entry(first_byte_ns.div_euclid(1_000_000_000))
                    .or_default()
                    .bytes += u64::from(*size);
                Ok(())
            }
            Event::NtpExchange {
                server,
                offset_ns,
                delay_ns,
                t4_ns,
                ..
            } => writeln!(
                self.out,
                "{} ntp     {server}: offset {}, delay {}",
                clock(*t4_ns),
                ms(*offset_ns),
                ms(*delay_ns)
            ),
            _ => Ok(()),
        }
    }

    /// Prints every upload second that ended before `upto_ns`.
    pub fn tick(&mut self, upto_ns: i64) -> io::Result<()> {
        let upto = upto_ns.div_euclid(1_000_000_000);
        for (key, s) in self.streams.iter_mut() {
            while let Some((&sec, _)) = s.seconds.first_key_value() {
                if sec >= upto {
                    break;
                }
                let v = s.seconds.remove(&sec).unwrap_or_default();
                writeln!(
                    self.out,
                    "{} upload  {key}: {:.0} kb/s, {} frames, {} missing",
                    clock(sec * 1_000_000_000),
                    v.bytes as f64 * 8.0 / 1000.0,
                    v.frames,
                    v.missing
                )?;
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn client(&self, flow: u64) -> String {
        self.flow_client
            .get(&flow)
            .cloned()
            .unwrap_or_else(|| format!("flow {flow}"))
    }

    fn stream_key(&mut self, flow: u64, key: Option<&str>) -> String {
        match (self.flow_stream.get(&flow), key) {
            (Some(k), _) => k.clone(),
            (None, Some(k)) => k.to_string(),
            (None, None) => format!("flow {flow}"),
        }
    }
}

fn clock(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%H:%M:%S%.3f")
        .to_string()
}

fn ms(ns: i64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// A file read as it grows: at its end, waits and reads again until `stop` is set.
pub struct Follow {
    file: std::fs::File,
    stop: Arc<AtomicBool>,
    poll: Duration,
}

impl Follow {
    pub fn new(file: std::fs::File, stop: Arc<AtomicBool>) -> Self {
        Follow {
            file,
            stop,
            poll: Duration::from_millis(200),
        }
    }
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() || self.stop.load(Ordering::SeqCst) {
                return Ok(n);
            }
            std::thread::sleep(self.poll);
        }
    }
}

/// `lagtap watch --file`: decodes `path` and prints events; with `follow`, keeps
/// reading as the file grows until `stop` is set.
pub fn watch_file<W: Write>(
    path: &Path,
    follow: Option<Arc<AtomicBool>>,
    printer: &mut Printer<W>,
) -> anyhow::Result<Anomalies> {
    watch_file_with_keys(path, follow, printer, &tls_decrypt::KeyLog::default())
}

/// [`watch_file`] decrypting TLS with `keylog` (the `--keylog` files) and the
/// secrets found with the capture (a key log beside it, its secrets blocks as the
/// file holds them when the watch starts).
pub fn watch_file_with_keys<W: Write>(
    path: &Path,
    follow: Option<Arc<AtomicBool>>,
    printer: &mut Printer<W>,
    keylog: &tls_decrypt::KeyLog,
) -> anyhow::Result<Anomalies> {
    let keys = crate::decode::keys::for_capture(path, keylog);
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let raw: Box<dyn Read + Send> = match follow {
        Some(stop) => Box::new(Follow::new(file, stop)),
        None => Box::new(file),
    };
    let input = crate::capture::input::from_reader(raw)?;
    let mut reader = CaptureReader::from_input(input, &path.display().to_string())?;
    let mut dec = LiveDecoder::with_keys(keys);
    let mut status = Ok(());
    reader.for_each_packet(|p| {
        if status.is_err() {
            return;
        }
        let ts = p.ts;
        dec.packet(p, |e| {
            if status.is_ok() {
                status = printer.event(e);
            }
        });
        if status.is_ok() {
            status = printer.tick(ts.0 - 2 * Timestamp::NANOS_PER_SEC);
        }
        if status.is_ok() {
            status = printer.flush();
        }
    });
    status?;
    dec.finish(|e| {
        let _ = printer.event(e);
    });
    printer.tick(i64::MAX)?;
    printer.flush()?;
    let mut anomalies = dec.anomalies;
    anomalies.merge(&reader.anomalies);
    anomalies.merge(&dec.table.anomalies);
    Ok(anomalies)
}

/// `lagtap watch -i`: decodes an interface live until SIGINT/SIGTERM.
#[cfg(feature = "live")]
pub fn watch_interface<W: Write>(
    source: &super::capture::SourceOptions,
    duration: Option<Duration>,
    printer: &mut Printer<W>,
    keylog: &tls_decrypt::KeyLog,
) -> anyhow::Result<Anomalies> {
    let stop = super::capture::stop_flag()?;
    let mut src = super::capture::LiveSource::open(source)?;
    let link = src.link();
    // The secrets known when the watch starts: sessions that begin later need a
    // key log that already has them (or `lagtap capture --keylog` and a file watch).
    let mut dec = LiveDecoder::with_keys(std::sync::Arc::new(keylog.clone()));
    let started = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) && duration.is_none_or(|d| started.elapsed() < d) {
        let now = Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64),
        );
        if let Some((ts, data, orig_len)) = src.next_packet()? {
            let p = Packet {
                ts,
                link_type: link,
                data,
                orig_len,
            };
            let mut status = Ok(());
            dec.packet(p, |e| {
                if status.is_ok() {
                    status = printer.event(e);
                }
            });
            status?;
        }
        printer.tick(now.0 - 2 * Timestamp::NANOS_PER_SEC)?;
        printer.flush()?;
    }
    dec.finish(|e| {
        let _ = printer.event(e);
    });
    printer.tick(i64::MAX)?;
    printer.flush()?;
    if let Some(s) = src.stats() {
        eprintln!(
            "lagtap watch: received {}, dropped by kernel {}, dropped by interface {}",
            s.received, s.dropped, s.if_dropped
        );
    }
    let mut anomalies = dec.anomalies;
    anomalies.merge(&dec.table.anomalies);
    Ok(anomalies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(path: &str) -> String {
        let mut p = Printer::new(Vec::new());
        watch_file(Path::new(path), None, &mut p).unwrap();
        String::from_utf8(p.into_inner()).unwrap()
    }

    fn sample(host: &str) -> Option<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/basic");
        for ext in ["pcapng", "pcap"] {
            let p = dir.join(format!("{host}.{ext}"));
            if p.exists() {
                return Some(p.display().to_string());
            }
        }
        None
    }

    #[test]
    fn a_viewer_capture_shows_segments_chat_and_ntp() {
        let Some(path) = sample("desktop") else {
            eprintln!("skipped: captures/basic/desktop capture not present");
            return;
        };
        let text = watch(&path);
        assert!(text.contains(" segment "), "{text}");
        assert!(text.contains("delivery "), "{text}");
        assert!(text.contains(" chat "), "{text}");
        assert!(text.contains(" ntp "), "{text}");
    }

    #[test]
    fn a_broadcaster_capture_shows_its_upload_every_second() {
        let Some(path) = sample("broadcaster") else {
            eprintln!("skipped: captures/basic/broadcaster capture not present");
            return;
        };
        let text = watch(&path);
        assert!(text.contains(" publish "), "{text}");
        let uploads = text.lines().filter(|l| l.contains(" upload ")).count();
        assert!(uploads >= 5, "{text}");
        assert!(text.contains(" 0 missing"), "{text}");
    }
}
