//! The JSON report (`--json`).

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use crate::correlate::health::Window;
use crate::correlate::{Correlation, Summary};

use super::Exporter;

pub struct JsonExporter;

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn opt_ms(ns: Option<i64>) -> Value {
    ns.map_or(Value::Null, |v| json!(ms(v)))
}

fn summaries(m: &std::collections::BTreeMap<String, Summary>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

fn window(w: &Window) -> Value {
    json!({
        "start": super::time(w.start_ns),
        "bytes": w.bytes,
        "goodput_kbps": w.bytes as f64 * 8.0 / 1000.0,
        "video_bytes": w.video_bytes,
        "audio_bytes": w.audio_bytes,
        "video_frames": w.video_frames,
        "keyframes": w.keyframes,
        "missing_frames": w.missing_frames,
        "first_rtmp_ts_ms": w.first_rtmp_ts_ms,
        "last_rtmp_ts_ms": w.last_rtmp_ts_ms,
        "latency_samples": w.latency_count,
        "latency_mean_ms": opt_ms(w.latency_mean_ns),
        "latency_max_ms": opt_ms(w.latency_max_ns),
        "source_latency_mean_ms": opt_ms(w.source_latency_mean_ns),
        "source_latency_max_ms": opt_ms(w.source_latency_max_ns),
        "retransmissions": w.retransmissions,
        "zero_windows": w.zero_windows,
        "gaps": w.gaps,
    })
}

/// The report as one JSON value.
pub fn to_value(c: &Correlation) -> Value {
    let hosts: Vec<Value> = c
        .hosts
        .iter()
        .map(|h| {
            json!({
                "name": h.name,
                "file": h.file,
                "address": h.address,
                "roles": h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "clock": {
                    "offset_ms": ms(h.clock.offset_ns),
                    "error_ms": ms(h.clock.error_ns),
                    "drift_ppm": h.clock.drift_ppm,
                    "source": h.clock.source.as_str(),
                    "method": h.clock.method,
                    "at": (h.clock.method == "fit").then(|| super::time(h.clock.t0_ns)),
                    "ntp_samples": h.clock.samples,
                    "ntp_samples_used": h.clock.samples_used,
                    "at_capture": h.capture_clock,
                },
                "declared_role": h.declared_role,
            })
        })
        .collect();
    let m = &c.messaging;
    let b = &c.broadcast;
    let players: Vec<Value> = b
        .players
        .iter()
        .map(|p| {
            json!({
                "viewer": p.viewer,
                "channel": p.channel,
                "k": p.k,
                "first_request": super::time(p.first_request_ns),
                "first_segment": p.first_segment_ns.map(super::time),
                "playback_start": p.playback_start_ns.map(super::time),
                "startup_delay_ms": opt_ms(p.startup_delay_ns),
                "segments": p.segments,
                "stalls": p.stalls,
                "stall_ms": ms(p.stall_ns),
            })
        })
        .collect();
    let segments: Vec<Value> = b
        .segments
        .iter()
        .map(|s| {
            let first = s.first_sample.map(|i| &b.samples[i]);
            json!({
                "viewer": s.viewer,
                "channel": s.channel,
                "uri": s.uri,
                "media_sequence": s.media_sequence,
                "bytes": s.bytes,
                "request": super::time(s.request_ns),
                "first_byte": super::time(s.first_byte_ns),
                "complete": super::time(s.complete_ns),
                "download_ms": ms(s.complete_ns - s.request_ns),
                "frames": s.frames,
                "matched_frames": s.matched,
                "duration_ms": ms(s.duration_ns),
                "latency_ms": first.map(|f| ms(f.latency_ns)),
                "source_latency_ms": first.and_then(|f| f.source_latency_ns).map(ms),
                "error_ms": first.map(|f| ms(f.error_ns)),
                "method": first.map(|f| f.method),
            })
        })
        .collect();
    let switches: Vec<Value> = c
        .switching
        .switches
        .iter()
        .map(|s| {
            json!({
                "viewer": s.viewer,
                "from": s.from,
                "to": s.to,
                "started": super::time(s.started_ns),
                "first_segment": s.first_segment_ns.map(super::time),
                "playback_start": s.playback_ns.map(super::time),
                "latency_ms": opt_ms(s.latency_ns),
                "playback_ms": opt_ms(s.playback_latency_ns),
            })
        })
        .collect();
    let health: Vec<Value> = c
        .source_health
        .streams
        .iter()
        .map(|s| {
            json!({
                "broadcaster": s.broadcaster,
                "stream": s.stream,
                "bitrate_kbps": s.bitrate_kbps,
                "video_frames": s.video_frames,
                "missing_frames": s.missing_frames,
                "median_frame_interval_ms": s.median_frame_interval_ms,
                "retransmissions": s.retransmissions,
                "zero_windows": s.zero_windows,
                "gaps": s.gaps,
                "windows": s.windows.iter().map(window).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "hosts": hosts,
        "messaging": {
            "summary": m.summary,
            "by_sender": summaries(&m.by_sender),
            "by_receiver": summaries(&m.by_receiver),
            "unmatched": m.unmatched,
            "ignored": m.ignored,
            "sent": m.sent,
            "uplink": m.uplink,
            "downlink": m.downlink,
        },
        "broadcast": {
            "summary": b.summary,
            "by_viewer": summaries(&b.by_viewer),
            "by_stream": summaries(&b.by_stream),
            "group_by": c.group_by,
            "by_group": summaries(&b.by_group),
            "source_summary": b.source_summary,
            "playout_summary": b.playout_summary,
            "segment_summary": b.segment_summary,
            "unmatched": b.unmatched,
            "players": players,
            "segments": segments,
        },
        "switching": {
            "summary": c.switching.summary,
            "playback_summary": c.switching.playback,
            "switches": switches,
        },
        "source_health": {
            "streams": health,
        },
        "warnings": c.warnings,
    })
}

impl Exporter for JsonExporter {
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &to_value(c))?;
        writeln!(out)
    }
}
