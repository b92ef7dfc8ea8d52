//! CSV sample files (`--samples DIR`): one row per sample, a header row, instants
//! as RFC 3339 with nanoseconds (and the main ones again as integer nanoseconds
//! since the epoch, `*_ns`), durations in milliseconds with nanosecond digits.
//! Every column is documented in docs/results.md, and tests/result_schemas.rs holds
//! the two together.

use std::io::{self, Write};

use crate::correlate::Correlation;

use super::{ms, time, Exporter};

/// The sample files.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CsvFile {
    Messaging,
    Broadcast,
    Switching,
    SourceHealth,
}

impl CsvFile {
    pub const ALL: [CsvFile; 4] = [
        CsvFile::Messaging,
        CsvFile::Broadcast,
        CsvFile::Switching,
        CsvFile::SourceHealth,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            CsvFile::Messaging => "messaging.csv",
            CsvFile::Broadcast => "broadcast.csv",
            CsvFile::Switching => "switching.csv",
            CsvFile::SourceHealth => "source_health.csv",
        }
    }
}

/// Writes one sample file.
pub struct CsvExporter(pub CsvFile);

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_default()
}

fn err(e: csv::Error) -> io::Error {
    io::Error::other(e)
}

impl Exporter for CsvExporter {
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        match self.0 {
            CsvFile::Messaging => {
                w.write_record([
                    "sender",
                    "receiver",
                    "channel",
                    "command",
                    "text",
                    "sent",
                    "received",
                    "latency_ms",
                    "error_ms",
                    "method",
                    "msg_id",
                    "server_time",
                    "uplink_ms",
                    "downlink_ms",
                    "sent_ns",
                    "received_ns",
                ])
                .map_err(err)?;
                for s in &c.messaging.samples {
                    w.write_record([
                        s.sender.clone(),
                        s.receiver.clone(),
                        s.channel.clone(),
                        s.command.as_str().to_string(),
                        s.text.clone(),
                        time(s.sent_ns),
                        time(s.received_ns),
                        ms(s.latency_ns),
                        ms(s.error_ns),
                        s.method.to_string(),
                        s.msg_id.clone().unwrap_or_default(),
                        opt(s.server_ns, time),
                        opt(s.uplink_ns, ms),
                        opt(s.downlink_ns, ms),
                        s.sent_ns.to_string(),
                        s.received_ns.to_string(),
                    ])
                    .map_err(err)?;
                }
            }
            CsvFile::Broadcast => {
                w.write_record([
                    "broadcaster",
                    "viewer",
                    "stream",
                    "segment",
                    "pts",
                    "keyframe",
                    "sent",
                    "received",
                    "latency_ms",
                    "source_latency_ms",
                    "error_ms",
                    "method",
                    "media_sequence",
                    "first_in_segment",
                    "rtmp_ts_ms",
                    "ingest",
                    "listed",
                    "shown",
                    "display_latency_ms",
                    "upload_ms",
                    "packaging_ms",
                    "to_listed_ms",
                    "delivery_ms",
                    "buffering_ms",
                    "join_artefact",
                    "sent_ns",
                    "received_ns",
                    "shown_ns",
                ])
                .map_err(err)?;
                for s in &c.broadcast.samples {
                    let rtmp_ts =
                        s.tx.map(|(si, fi)| c.broadcast.streams[si].video[fi].rtmp_ts_ms);
                    w.write_record([
                        s.broadcaster.clone(),
                        s.viewer.clone(),
                        s.stream.clone(),
                        s.segment.clone(),
                        s.pts.to_string(),
                        s.keyframe.to_string(),
                        time(s.sent_ns),
                        time(s.received_ns),
                        ms(s.latency_ns),
                        opt(s.source_latency_ns, ms),
                        ms(s.error_ns),
                        s.method.to_string(),
                        opt(s.media_sequence, |v| v.to_string()),
                        s.first_in_segment.to_string(),
                        opt(rtmp_ts, |v| v.to_string()),
                        opt(s.ingest_ns, time),
                        time(s.listed_ns),
                        opt(s.shown_ns, time),
                        opt(s.display_latency_ns, ms),
                        opt(s.legs.upload_ns, ms),
                        opt(s.legs.packaging_ns, ms),
                        ms(s.legs.to_listed_ns),
                        ms(s.legs.delivery_ns),
                        opt(s.legs.buffering_ns, ms),
                        s.join_artefact.to_string(),
                        s.sent_ns.to_string(),
                        s.received_ns.to_string(),
                        opt(s.shown_ns, |v| v.to_string()),
                    ])
                    .map_err(err)?;
                }
            }
            CsvFile::Switching => {
                w.write_record([
                    "viewer",
                    "from",
                    "to",
                    "started",
                    "first_segment",
                    "shown",
                    "shown_latency_ms",
                    "first_segment_latency_ms",
                    "k",
                    "started_ns",
                ])
                .map_err(err)?;
                for s in &c.switching.switches {
                    w.write_record([
                        s.viewer.clone(),
                        s.from.clone(),
                        s.to.clone(),
                        time(s.started_ns),
                        opt(s.first_segment_ns, time),
                        opt(s.shown_ns, time),
                        opt(s.shown_latency_ns, ms),
                        opt(s.first_segment_latency_ns, ms),
                        s.k.to_string(),
                        s.started_ns.to_string(),
                    ])
                    .map_err(err)?;
                }
            }
            CsvFile::SourceHealth => {
                w.write_record([
                    "broadcaster",
                    "stream",
                    "window_start",
                    "bytes",
                    "goodput_kbps",
                    "video_bytes",
                    "audio_bytes",
                    "video_frames",
                    "keyframes",
                    "missing_frames",
                    "latency_samples",
                    "display_latency_mean_ms",
                    "display_latency_max_ms",
                    "latency_mean_ms",
                    "latency_max_ms",
                    "source_latency_mean_ms",
                    "source_latency_max_ms",
                    "retransmissions",
                    "zero_windows",
                    "gaps",
                    "window_start_ns",
                ])
                .map_err(err)?;
                for s in &c.source_health.streams {
                    for win in &s.windows {
                        w.write_record([
                            s.broadcaster.clone(),
                            s.stream.clone(),
                            time(win.start_ns),
                            win.bytes.to_string(),
                            format!("{:.3}", win.bytes as f64 * 8.0 / 1000.0),
                            win.video_bytes.to_string(),
                            win.audio_bytes.to_string(),
                            win.video_frames.to_string(),
                            win.keyframes.to_string(),
                            win.missing_frames.to_string(),
                            win.latency_count.to_string(),
                            opt(win.display_latency_mean_ns, ms),
                            opt(win.display_latency_max_ns, ms),
                            opt(win.latency_mean_ns, ms),
                            opt(win.latency_max_ns, ms),
                            opt(win.source_latency_mean_ns, ms),
                            opt(win.source_latency_max_ns, ms),
                            win.retransmissions.to_string(),
                            win.zero_windows.to_string(),
                            win.gaps.to_string(),
                            win.start_ns.to_string(),
                        ])
                        .map_err(err)?;
                    }
                }
            }
        }
        w.flush()
    }
}
