//! The human-readable report: aligned text tables.

use std::io::{self, Write};

use crate::correlate::{Correlation, Summary};

use super::{ms, Exporter};

pub struct TableExporter;

/// Left-aligned first column, right-aligned others.
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    writeln!(
        out,
        "{}",
        line(header.iter().map(|s| s.to_string()).collect())
    )?;
    for r in rows {
        writeln!(out, "{}", line(r.clone()))?;
    }
    Ok(())
}

fn f(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.3}"))
}

const SUMMARY_HEADER: [&str; 9] = [
    "", "count", "mean ms", "±95% ms", "min", "p50", "p90", "p99", "max",
];

fn summary_row(label: &str, s: &Summary) -> Vec<String> {
    vec![
        label.to_string(),
        s.count.to_string(),
        f(s.mean_ms),
        f(s.ci95_ms),
        f(s.min_ms),
        f(s.p50_ms),
        f(s.p90_ms),
        f(s.p99_ms),
        f(s.max_ms),
    ]
}

fn summaries(out: &mut dyn Write, title: &str, rows: Vec<(String, &Summary)>) -> io::Result<()> {
    let mut header = SUMMARY_HEADER;
    header[0] = title;
    let rows: Vec<Vec<String>> = rows.iter().map(|(l, s)| summary_row(l, s)).collect();
    table(out, &header, &rows)
}

impl Exporter for TableExporter {
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()> {
        for w in &c.warnings {
            writeln!(out, "WARNING: {w}")?;
        }
        if !c.warnings.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "== Hosts and clocks (offset = host − reference)")?;
        let rows: Vec<Vec<String>> = c
            .hosts
            .iter()
            .map(|h| {
                let roles: Vec<&str> = h.roles.iter().map(|r| r.as_str()).collect();
                vec![
                    h.name.clone(),
                    h.address.clone().unwrap_or_else(|| "?".into()),
                    if roles.is_empty() {
                        "-".into()
                    } else {
                        roles.join(",")
                    },
                    h.clock.source.as_str().to_string(),
                    ms(h.clock.offset_ns),
                    ms(h.clock.error_ns),
                    format!("{:.2}", h.clock.drift_ppm),
                    format!("{}/{}", h.clock.samples_used, h.clock.samples),
                ]
            })
            .collect();
        table(
            out,
            &[
                "host",
                "address",
                "roles",
                "clock",
                "offset ms",
                "±error ms",
                "drift ppm",
                "ntp used",
            ],
            &rows,
        )?;

        let m = &c.messaging;
        writeln!(out, "\n== Messaging latency (chat sent → received)")?;
        let mut rows = vec![("all".to_string(), &m.summary)];
        rows.extend(m.by_sender.iter().map(|(k, v)| (format!("from {k}"), v)));
        rows.extend(m.by_receiver.iter().map(|(k, v)| (format!("to {k}"), v)));
        if m.uplink.count > 0 {
            rows.push(("uplink (→ server stamp)".into(), &m.uplink));
            rows.push(("downlink (server stamp →)".into(), &m.downlink));
        }
        summaries(out, "messages", rows)?;
        if !m.unmatched.is_empty() {
            let parts: Vec<String> = m
                .unmatched
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(out, "not matched: {}", parts.join(", "))?;
        }
        if !m.ignored.is_empty() {
            let parts: Vec<String> = m.ignored.iter().map(|(k, v)| format!("{k} {v}")).collect();
            writeln!(out, "not receptions (ignored): {}", parts.join(", "))?;
        }

        let b = &c.broadcast;
        writeln!(
            out,
            "\n== Broadcast latency (frame on the broadcaster's wire → segment complete at viewer)"
        )?;
        let mut rows = vec![
            ("all frames".to_string(), &b.summary),
            ("segments (first frame)".to_string(), &b.segment_summary),
            ("source clock".to_string(), &b.source_summary),
            ("playout (player model)".to_string(), &b.playout_summary),
        ];
        rows.extend(b.by_viewer.iter().map(|(k, v)| (format!("viewer {k}"), v)));
        rows.extend(b.by_stream.iter().map(|(k, v)| (format!("stream {k}"), v)));
        if c.group_by == crate::correlate::GroupBy::Bitrate {
            rows.extend(b.by_group.iter().map(|(k, v)| (format!("bitrate {k}"), v)));
        }
        summaries(out, "frames", rows)?;
        if !b.unmatched.is_empty() {
            let parts: Vec<String> = b
                .unmatched
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(out, "frames not matched: {}", parts.join(", "))?;
        }
        if !b.players.is_empty() {
            writeln!(out)?;
            let rows: Vec<Vec<String>> = b
                .players
                .iter()
                .map(|p| {
                    vec![
                        p.viewer.clone(),
                        p.channel.clone(),
                        p.k.to_string(),
                        p.segments.to_string(),
                        p.startup_delay_ns.map_or("-".into(), ms),
                        p.stalls.to_string(),
                        ms(p.stall_ns),
                    ]
                })
                .collect();
            table(
                out,
                &[
                    "player",
                    "channel",
                    "K",
                    "segments",
                    "startup ms",
                    "stalls",
                    "stalled ms",
                ],
                &rows,
            )?;
        }

        let s = &c.switching;
        writeln!(
            out,
            "\n== Switching latency (first request naming B → first segment of B)"
        )?;
        summaries(
            out,
            "switches",
            vec![
                ("to first segment".to_string(), &s.summary),
                ("to playback start".to_string(), &s.playback),
            ],
        )?;
        if !s.switches.is_empty() {
            let rows: Vec<Vec<String>> = s
                .switches
                .iter()
                .map(|w| {
                    vec![
                        w.viewer.clone(),
                        format!("{} → {}", w.from, w.to),
                        super::time(w.started_ns),
                        w.latency_ns.map_or("-".into(), ms),
                        w.playback_latency_ns.map_or("-".into(), ms),
                    ]
                })
                .collect();
            table(
                out,
                &["viewer", "switch", "started", "latency ms", "playback ms"],
                &rows,
            )?;
        }

        writeln!(out, "\n== Source health (1 s windows)")?;
        for st in &c.source_health.streams {
            writeln!(
                out,
                "{} / {}: {} video frames, {} missing from the timestamp sequence, {} TCP retransmissions, {} zero windows{}",
                st.broadcaster,
                st.stream,
                st.video_frames,
                st.missing_frames,
                st.retransmissions,
                st.zero_windows,
                st.bitrate_kbps
                    .map_or(String::new(), |r| format!(", encoder {r:.0} kb/s")),
            )?;
            let t0 = st.windows.first().map_or(0, |w| w.start_ns);
            let rows: Vec<Vec<String>> = st
                .windows
                .iter()
                .map(|w| {
                    vec![
                        format!("+{}", (w.start_ns - t0) / 1_000_000_000),
                        format!("{:.1}", w.bytes as f64 * 8.0 / 1000.0),
                        w.video_frames.to_string(),
                        w.missing_frames.to_string(),
                        w.retransmissions.to_string(),
                        w.zero_windows.to_string(),
                        w.latency_mean_ns.map_or("-".into(), ms),
                        w.source_latency_mean_ns.map_or("-".into(), ms),
                    ]
                })
                .collect();
            table(
                out,
                &[
                    "second",
                    "goodput kb/s",
                    "frames",
                    "missing",
                    "retx",
                    "zero win",
                    "latency ms",
                    "source ms",
                ],
                &rows,
            )?;
        }
        Ok(())
    }
}
