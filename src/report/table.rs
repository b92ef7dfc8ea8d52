//! The human-readable report: aligned text tables.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::correlate::{Correlation, Summary};

use super::rows;
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

/// `what: reason n, reason n` for a non-empty count by reason.
fn reasons(out: &mut dyn Write, what: &str, counts: &BTreeMap<String, u64>) -> io::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "{what}: {}", parts.join(", "))
}

fn summaries(out: &mut dyn Write, title: &str, rows: Vec<(String, &Summary)>) -> io::Result<()> {
    let mut header = SUMMARY_HEADER;
    header[0] = title;
    let rows: Vec<Vec<String>> = rows.iter().map(|(l, s)| summary_row(l, s)).collect();
    table(out, &header, &rows)
}

impl Exporter for TableExporter {
    /// The results only: warnings go to standard error (`super::write_warnings`).
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()> {
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
        for h in c.hosts.iter().filter(|h| !h.damage.is_empty()) {
            let lost: Vec<&str> = h.damage.iter().map(|d| d.lost.as_str()).collect();
            writeln!(
                out,
                "damaged input {} ({}): {}",
                h.name,
                h.file,
                lost.join("; ")
            )?;
        }

        let m = &c.messaging;
        writeln!(out, "\n== Messaging latency (chat sent → received)")?;
        summaries(out, "messages", rows::messaging_summaries(c))?;
        reasons(out, "not matched", &m.unmatched)?;
        reasons(out, "not receptions (ignored)", &m.ignored)?;

        let b = &c.broadcast;
        writeln!(
            out,
            "\n== Broadcast latency (frame leaves the broadcaster → shown to the viewer)"
        )?;
        writeln!(
            out,
            "player model: {}",
            crate::correlate::broadcast::PLAYER_MODEL
        )?;
        summaries(out, "frames", rows::broadcast_summaries(c))?;
        reasons(out, "frames not matched", &b.unmatched)?;
        if b.join_artefacts > 0 {
            writeln!(
                out,
                "join artefacts: {} frames fetched at start-up from before the viewer joined, \
                 left out of the figures above (in the samples, flagged)",
                b.join_artefacts
            )?;
        }
        if !b.players.is_empty() {
            writeln!(out)?;
            table(out, rows::PLAYER_HEADER, &rows::player_rows(c, "-"))?;
        }

        let p = &c.rtmp_play;
        // Only where a captured host played RTMP: most runs have no RTMP player.
        if !p.samples.is_empty() || !p.unmatched.is_empty() {
            writeln!(
                out,
                "\n== RTMP play latency (frame leaves the broadcaster → an RTMP player or relay has it, and shows it)"
            )?;
            writeln!(
                out,
                "player model ({} ms buffer): {}",
                p.buffer_ms,
                crate::correlate::rtmp_play::PLAYER_MODEL
            )?;
            summaries(out, "frames", rows::rtmp_play_summaries(c))?;
            reasons(out, "frames not matched", &p.unmatched)?;
        }

        let s = &c.switching;
        writeln!(
            out,
            "\n== Switching latency (first request naming B → B shown, player model)"
        )?;
        summaries(out, "switches", rows::switching_summaries(c))?;
        if !s.switches.is_empty() {
            table(out, rows::SWITCH_HEADER, &rows::switch_rows(c, "-"))?;
        }

        writeln!(out, "\n== Source health (1 s windows)")?;
        for st in &c.source_health.streams {
            writeln!(
                out,
                "{} / {}: {}",
                st.broadcaster,
                st.stream,
                rows::stream_line(st)
            )?;
            table(out, rows::WINDOW_HEADER, &rows::window_rows(st, "-"))?;
        }
        Ok(())
    }
}
