//! The JSON report (`--json`).

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use crate::correlate::health::Window;
use crate::correlate::{Correlation, Summary};

use super::Exporter;

pub struct JsonExporter;

/// Names the layout of the report; docs/results.md documents this version field by
/// field. Raised whenever a field changes meaning or goes away.
pub const SCHEMA: &str = "lagtap-correlate/2";

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

/// An instant: integer nanoseconds since the epoch under `{name}_ns`, and the same
/// instant as RFC 3339 under `{name}`, as `lagtap decode` and `inspect` write times.
fn instant(obj: &mut Map<String, Value>, name: &str, ns: Option<i64>) {
    obj.insert(format!("{name}_ns"), ns.map_or(Value::Null, |v| json!(v)));
    obj.insert(
        name.to_string(),
        ns.map_or(Value::Null, |v| json!(super::time(v))),
    );
}

/// `value` (an object) with the instants added.
fn with_instants(mut value: Value, instants: &[(&str, Option<i64>)]) -> Value {
    if let Value::Object(obj) = &mut value {
        for (name, ns) in instants {
            instant(obj, name, *ns);
        }
    }
    value
}

fn window(w: &Window) -> Value {
    let v = json!({
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
        "display_latency_mean_ms": opt_ms(w.display_latency_mean_ns),
        "display_latency_max_ms": opt_ms(w.display_latency_max_ns),
        "latency_mean_ms": opt_ms(w.latency_mean_ns),
        "latency_max_ms": opt_ms(w.latency_max_ns),
        "source_latency_mean_ms": opt_ms(w.source_latency_mean_ns),
        "source_latency_max_ms": opt_ms(w.source_latency_max_ns),
        "retransmissions": w.retransmissions,
        "zero_windows": w.zero_windows,
        "gaps": w.gaps,
        "encoder_dropped": w.encoder_dropped,
        "encoder_lagged": w.encoder_lagged,
        "encoder_to_wire_max_ms": opt_ms(w.encoder_to_wire_max_ns),
    });
    with_instants(v, &[("start", Some(w.start_ns))])
}

/// The report as one JSON value.
pub fn to_value(c: &Correlation) -> Value {
    let hosts: Vec<Value> = c
        .hosts
        .iter()
        .map(|h| {
            let clock_at = (h.clock.method == "fit").then_some(h.clock.t0_ns);
            let clock = with_instants(
                json!({
                    "offset_ms": ms(h.clock.offset_ns),
                    "error_ms": ms(h.clock.error_ns),
                    "drift_ppm": h.clock.drift_ppm,
                    "source": h.clock.source.as_str(),
                    "method": h.clock.method,
                    "ntp_samples": h.clock.samples,
                    "ntp_samples_used": h.clock.samples_used,
                    "at_capture": h.capture_clock,
                }),
                &[("at", clock_at)],
            );
            json!({
                "name": h.name,
                "file": h.file,
                "files": h.files,
                "address": h.address,
                "roles": h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "clock": clock,
                "declared_role": h.declared_role,
                "damage": h.damage,
            })
        })
        .collect();
    let m = &c.messaging;
    let b = &c.broadcast;
    let players: Vec<Value> = b
        .players
        .iter()
        .map(|p| {
            let v = json!({
                "viewer": p.viewer,
                "channel": p.channel,
                "previous_channel": p.previous_channel,
                "k": p.k,
                "k_source": p.k_source,
                "start_sequence": p.start_sequence,
                "listed_at_start": p.listed_at_start,
                "prefetch_at_start": p.prefetch_at_start,
                "startup_delay_ms": opt_ms(p.startup_delay_ns),
                "segments": p.segments,
                "stalls": p.stalls,
                "stall_ms": ms(p.stall_ns),
            });
            with_instants(
                v,
                &[
                    ("first_request", Some(p.first_request_ns)),
                    ("first_segment", p.first_segment_ns),
                    ("playback_start", p.playback_start_ns),
                ],
            )
        })
        .collect();
    let segments: Vec<Value> = b
        .segments
        .iter()
        .map(|s| {
            let first = s.first_sample.map(|i| &b.samples[i]);
            let v = json!({
                "viewer": s.viewer,
                "channel": s.channel,
                "uri": s.uri,
                "media_sequence": s.media_sequence,
                "part": s.part,
                "bytes": s.bytes,
                "download_ms": ms(s.complete_ns.saturating_sub(s.request_ns)),
                "frames": s.frames,
                "matched_frames": s.matched,
                "duration_ms": ms(s.duration_ns),
                "join_artefact": s.join_artefact,
                "display_latency_ms": first.and_then(|f| f.display_latency_ns).map(ms),
                "latency_ms": first.map(|f| ms(f.latency_ns)),
                "arrival_latency_ms": first.map(|f| ms(f.arrival_latency_ns)),
                "source_latency_ms": first.and_then(|f| f.source_latency_ns).map(ms),
                "error_ms": first.map(|f| ms(f.error_ns)),
                "method": first.map(|f| f.method),
            });
            with_instants(
                v,
                &[
                    ("listed", s.listed_ns),
                    ("request", Some(s.request_ns)),
                    ("first_byte", Some(s.first_byte_ns)),
                    ("complete", Some(s.complete_ns)),
                    ("shown", first.and_then(|f| f.shown_ns)),
                ],
            )
        })
        .collect();
    let switches: Vec<Value> = c
        .switching
        .switches
        .iter()
        .map(|s| {
            let v = json!({
                "viewer": s.viewer,
                "from": s.from,
                "to": s.to,
                "k": s.k,
                "shown_latency_ms": opt_ms(s.shown_latency_ns),
                "first_segment_latency_ms": opt_ms(s.first_segment_latency_ns),
            });
            with_instants(
                v,
                &[
                    ("started", Some(s.started_ns)),
                    ("first_segment", s.first_segment_ns),
                    ("shown", s.shown_ns),
                ],
            )
        })
        .collect();
    let health: Vec<Value> = c
        .source_health
        .streams
        .iter()
        .map(|s| {
            let tc = s.timecode.as_ref();
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
                "encoder_dropped": s.encoder_dropped,
                "encoder_lagged": s.encoder_lagged,
                "encoder_to_wire_mean_ms": opt_ms(s.encoder_to_wire_mean_ns),
                "encoder_to_wire_max_ms": opt_ms(s.encoder_to_wire_max_ns),
                "timecode_frames": tc.map_or(0, |t| t.frames),
                "timecode_discontinuities": tc.map_or(0, |t| t.discontinuities),
                "timecode_jumps": tc.map_or(0, |t| t.jumps),
                "timecode_time_of_day": tc.is_some_and(|t| t.time_of_day),
                "timecode_zone_offset_s": tc.and_then(|t| t.zone_offset_s),
                "timecode_to_wire_mean_ms": opt_ms(tc.and_then(|t| t.to_wire_mean_ns)),
                "timecode_to_wire_max_ms": opt_ms(tc.and_then(|t| t.to_wire_max_ns)),
                "windows": s.windows.iter().map(window).collect::<Vec<_>>(),
            })
        })
        .collect();
    let p = &c.rtmp_play;
    let play_streams: Vec<Value> = p
        .players
        .iter()
        .map(|s| {
            let v = json!({
                "viewer": s.viewer,
                "stream": s.stream,
                "broadcaster": s.broadcaster,
                "frames": s.frames,
                "keyframes": s.keyframes,
                "summary": s.summary,
                "display_summary": s.display,
                "stalls": s.stalls,
                "stall_ms": ms(s.stall_ns),
            });
            with_instants(
                v,
                &[
                    ("first_received", Some(s.first_received_ns)),
                    ("playback_start", s.playback_start_ns),
                ],
            )
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "hosts": hosts,
        "messaging": {
            "summary": m.summary,
            "by_sender": summaries(&m.by_sender),
            "by_receiver": summaries(&m.by_receiver),
            "by_command": summaries(&m.by_command),
            "unmatched": m.unmatched,
            "ignored": m.ignored,
            "sent": m.sent,
            "uplink": m.uplink,
            "downlink": m.downlink,
        },
        "broadcast": {
            "player_model": crate::correlate::broadcast::PLAYER_MODEL,
            "display_summary": b.display_summary,
            "legs": {
                "upload": b.legs.upload,
                "packaging": b.legs.packaging,
                "to_listed": b.legs.to_listed,
                "delivery": b.legs.delivery,
                "buffering": b.legs.buffering,
            },
            "wire_summary": b.wire_summary,
            "arrival_summary": b.arrival_summary,
            "part_summary": b.part_summary,
            "prft_summary": b.prft_summary,
            "source_summary": b.source_summary,
            "segment_summary": b.segment_summary,
            "by_viewer": summaries(&b.by_viewer),
            "by_stream": summaries(&b.by_stream),
            "group_by": c.group_by,
            "by_group": summaries(&b.by_group),
            "join_artefacts": b.join_artefacts,
            "ad_segments": b.ad_segments,
            "unmatched": b.unmatched,
            "players": players,
            "segments": segments,
        },
        "rtmp_play": {
            "player_model": crate::correlate::rtmp_play::PLAYER_MODEL,
            "buffer_ms": p.buffer_ms,
            "summary": p.summary,
            "display_summary": p.display_summary,
            "legs": {
                "upload": p.legs.upload,
                "relay": p.legs.relay,
            },
            "by_viewer": summaries(&p.by_viewer),
            "by_stream": summaries(&p.by_stream),
            "players": play_streams,
            "unmatched": p.unmatched,
        },
        "switching": {
            "shown_summary": c.switching.shown,
            "first_segment_summary": c.switching.first_segment,
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
