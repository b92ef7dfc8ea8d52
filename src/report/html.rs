//! The HTML report (`lagtap correlate --html FILE`): one self-contained file —
//! inline CSS, the figures inlined as SVG, no scripts, nothing fetched — so it can
//! be mailed, archived next to the captures, and opened offline years later. It
//! holds the same tables as the text report (rendered from the `Correlation`, not
//! by parsing the text), every figure, and what a reader must know to trust the
//! numbers: warnings, what was not matched and how samples were matched.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::correlate::{Correlation, Summary};

use super::ms;
use super::plots::{self, FigureKind, Schedule};
use super::rows;

/// Text made safe for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f3f3f3; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.warn { background: #fff4e5; border-left: 4px solid #e69f00; padding: 0.5em 1em; }
.muted { color: #666; }
details { margin: 0.5em 0; }
";

fn f3(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

/// A table: header cells, then rows; cells after the first are right-aligned
/// numbers unless `text_cols` says otherwise.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>], text_cols: usize) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if i < text_cols {
                let _ = write!(out, "<td>{}</td>", escape(c));
            } else {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn summaries(out: &mut String, first: &str, rows: &[(String, &Summary)]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(l, s)| {
            vec![
                l.clone(),
                s.count.to_string(),
                f3(s.mean_ms),
                f3(s.ci95_ms),
                f3(s.min_ms),
                f3(s.p50_ms),
                f3(s.p90_ms),
                f3(s.p99_ms),
                f3(s.max_ms),
            ]
        })
        .collect();
    table(
        out,
        &[
            first, "count", "mean ms", "±95% ms", "min ms", "p50 ms", "p90 ms", "p99 ms", "max ms",
        ],
        &rows,
        1,
    );
}

fn counts(out: &mut String, what: &str, m: &BTreeMap<String, u64>) {
    if m.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}: none.</p>", escape(what));
        return;
    }
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect();
    let _ = writeln!(
        out,
        "<p>{}: {}.</p>",
        escape(what),
        escape(&parts.join(", "))
    );
}

/// How many samples each matching method produced.
fn methods<'a>(it: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for k in it {
        *m.entry(k.to_string()).or_insert(0) += 1;
    }
    m
}

fn figure(out: &mut String, c: &Correlation, fig: &plots::Figure, sched: Option<&Schedule>) {
    let caption = match fig.kind {
        FigureKind::Messaging => "Fig. 6a of the study: messaging latency per device.",
        FigureKind::MessagingCdf => "Distribution of every messaging sample.",
        FigureKind::Broadcast => "Fig. 6b of the study: broadcast latency per viewer device.",
        FigureKind::BroadcastBitrate => {
            "Fig. 6b/6c of the study: broadcast latency against streaming bitrate."
        }
        FigureKind::BroadcastCdf => "Distribution of every frame's broadcast latency.",
        FigureKind::Switching => "Fig. 6d of the study: switching latency per viewer device.",
        FigureKind::Health(_) => {
            "Fig. 7 of the study: the broadcaster's upload, dropped frames and the \
             broadcast latency of what it sent, over time."
        }
        FigureKind::Clocks => "Clock offsets every latency was corrected by.",
    };
    let _ = write!(out, "<figure id=\"fig-{}\">", escape(&fig.name));
    match plots::render_svg(c, fig, sched) {
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = write!(out, "<p class=\"warn\">{}</p>", escape(&format!("{e:#}")));
        }
    }
    let _ = writeln!(
        out,
        "<figcaption>{} <span class=\"muted\">({}.svg)</span></figcaption></figure>",
        escape(caption),
        escape(&fig.name)
    );
}

/// The whole report as one HTML document.
pub fn render_html(c: &Correlation, schedule: Option<&Schedule>) -> String {
    let figs = plots::figures(c);
    let fig = |out: &mut String, pred: &dyn Fn(&FigureKind) -> bool| {
        for f in figs.iter().filter(|f| pred(&f.kind)) {
            figure(out, c, f, schedule);
        }
    };
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str("<title>lagtap correlate report</title>\n<style>");
    o.push_str(STYLE);
    o.push_str("</style></head><body>\n<h1>lagtap correlate report</h1>\n");
    let files: Vec<String> = c
        .hosts
        .iter()
        .map(|h| format!("{} = {}", h.name, h.file))
        .collect();
    let _ = writeln!(
        o,
        "<p class=\"muted\">{} hosts: {}. Times are corrected to the reference clock \
         (t_ref = t_capture − offset). Latencies in the tables are in milliseconds.</p>",
        c.hosts.len(),
        escape(&files.join("; "))
    );
    if !c.warnings.is_empty() {
        o.push_str("<div class=\"warn\"><strong>Warnings</strong><ul>");
        for w in &c.warnings {
            let _ = write!(o, "<li>{}</li>", escape(w));
        }
        o.push_str("</ul></div>\n");
    }
    o.push_str("<nav><a href=\"#hosts\">Hosts and clocks</a> · <a href=\"#messaging\">Messaging</a> · \
        <a href=\"#broadcast\">Broadcast</a> · <a href=\"#switching\">Switching</a> · \
        <a href=\"#health\">Source health</a> · <a href=\"#methods\">Methods and anomalies</a></nav>\n");

    // Hosts and clocks.
    o.push_str("<h2 id=\"hosts\">Hosts and clocks</h2>\n<p>offset = host clock − reference clock; the error bound is half the round trip of the NTP samples used.</p>\n");
    let rows: Vec<Vec<String>> = c
        .hosts
        .iter()
        .map(|h| {
            let roles: Vec<&str> = h.roles.iter().map(|r| r.as_str()).collect();
            vec![
                h.name.clone(),
                h.address.clone().unwrap_or_else(|| "?".into()),
                if roles.is_empty() {
                    "–".into()
                } else {
                    roles.join(", ")
                },
                h.clock.source.as_str().to_string(),
                h.clock.method.to_string(),
                ms(h.clock.offset_ns),
                ms(h.clock.error_ns),
                format!("{:.2}", h.clock.drift_ppm),
                format!("{}/{}", h.clock.samples_used, h.clock.samples),
            ]
        })
        .collect();
    table(
        &mut o,
        &[
            "host",
            "address",
            "roles",
            "clock",
            "method",
            "offset ms",
            "±error ms",
            "drift ppm",
            "NTP used/seen",
        ],
        &rows,
        5,
    );
    fig(&mut o, &|k| *k == FigureKind::Clocks);

    // Messaging.
    let m = &c.messaging;
    o.push_str("<h2 id=\"messaging\">Messaging latency</h2>\n<p>Arrival of a chat line in the receiver's capture − departure of the PRIVMSG in the sender's capture.</p>\n");
    summaries(&mut o, "messages", &rows::messaging_summaries(c));
    let _ = writeln!(o, "<p>{} messages sent in the captures.</p>", m.sent);
    counts(&mut o, "Not matched", &m.unmatched);
    fig(&mut o, &|k| {
        matches!(k, FigureKind::Messaging | FigureKind::MessagingCdf)
    });

    // Broadcast.
    let b = &c.broadcast;
    o.push_str("<h2 id=\"broadcast\">Broadcast latency</h2>\n<p>The headline, display latency: the viewer was shown a frame under the player model − the first byte of the RTMP message carrying it left the broadcaster; it is split into upload (→ the ingest server had it), packaging (→ its segment listed in a playlist the viewer received), delivery (→ the segment complete at the viewer) and buffering (→ shown). Wire latency stops when the segment is complete. Frames fetched at start-up from before the viewer joined (join artefacts) are in no figure.</p>\n");
    o.push_str(&format!(
        "<p>Player model: {}.</p>\n",
        crate::correlate::broadcast::PLAYER_MODEL
    ));
    summaries(&mut o, "frames", &rows::broadcast_summaries(c));
    counts(&mut o, "Frames not matched", &b.unmatched);
    if !b.players.is_empty() {
        o.push_str("<p>Player model sessions:</p>\n");
        table(&mut o, rows::PLAYER_HEADER, &rows::player_rows(c, "–"), 2);
    }
    fig(&mut o, &|k| {
        matches!(
            k,
            FigureKind::Broadcast | FigureKind::BroadcastBitrate | FigureKind::BroadcastCdf
        )
    });

    // RTMP players and relays, where a captured host played RTMP.
    let p = &c.rtmp_play;
    if !p.samples.is_empty() || !p.unmatched.is_empty() {
        o.push_str("<h2 id=\"rtmp-play\">RTMP play latency</h2>\n<p>Frames an RTMP player or relay received straight from the server, with no HLS packaging: the player had the whole RTMP message − the first byte of the broadcaster's message carrying the frame left it; with the ingest server's capture split into upload (→ the ingest had it) and relay (→ the player had it). Display latency: shown under the RTMP player model (start once the buffer of media is in hand, show each frame at its RTMP timestamp from there, refill the buffer when a frame is late).</p>\n");
        summaries(&mut o, "frames", &rows::rtmp_play_summaries(c));
        counts(&mut o, "Frames not matched", &p.unmatched);
    }

    // Switching.
    let s = &c.switching;
    o.push_str("<h2 id=\"switching\">Switching latency</h2>\n<p>The headline: first request naming the new channel → the new stream shown (playback start under the player model); beside it, → its first media segment fully received; both on the viewer's own clock.</p>\n");
    summaries(&mut o, "switches", &rows::switching_summaries(c));
    if !s.switches.is_empty() {
        table(&mut o, rows::SWITCH_HEADER, &rows::switch_rows(c, "–"), 3);
    }
    fig(&mut o, &|k| *k == FigureKind::Switching);

    // Source health.
    o.push_str("<h2 id=\"health\">Source health</h2>\n");
    if c.source_health.streams.is_empty() {
        o.push_str("<p class=\"muted\">No RTMP stream was published in these captures.</p>\n");
    }
    for (i, st) in c.source_health.streams.iter().enumerate() {
        let _ = writeln!(
            o,
            "<h3>{} / {}</h3>\n<p>{}.</p>",
            escape(&st.broadcaster),
            escape(&st.stream),
            rows::stream_line(st)
        );
        fig(&mut o, &|k| *k == FigureKind::Health(i));
        let _ = writeln!(
            o,
            "<details><summary>{} one-second windows</summary>",
            st.windows.len()
        );
        table(&mut o, rows::WINDOW_HEADER, &rows::window_rows(st, "–"), 0);
        o.push_str("</details>\n");
    }
    if schedule.is_none() {
        o.push_str("<p class=\"muted\">No shaping schedule given (--schedule): the figures show no limit line.</p>\n");
    }

    // Methods and anomalies.
    o.push_str("<h2 id=\"methods\">Methods and anomalies</h2>\n<ul>\n");
    o.push_str("<li>Clocks: each host's offset and drift come from the NTP exchanges in its own capture (minimum-delay samples; error bound = delay/2), or from --offset. Every latency across two hosts inherits both hosts' error bounds.</li>\n");
    o.push_str("<li>Chat messages are matched by IRCv3 message id where present, else by (channel, sender, text, occurrence).</li>\n");
    o.push_str("<li>Video frames are matched by a fingerprint of the coded slices (identical in FLV and MPEG-TS), else by the learned RTMP timestamp → PTS mapping, else by EXT-X-PROGRAM-DATE-TIME.</li>\n");
    o.push_str("<li>Missing frames are gaps in the RTMP video timestamps larger than 1.5× the median frame interval. TCP retransmissions (including segments resent after a loss before the capture point) and the ingest's zero windows come from the broadcaster's own capture of the RTMP connection.</li>\n");
    o.push_str("<li>Figures: bars are means; messaging and switching whiskers are 95% confidence intervals of the mean (Student's t), broadcast whiskers are minimum and maximum. Definitions: docs/methods.md.</li>\n</ul>\n");
    counts(
        &mut o,
        "Messaging samples by matching method",
        &methods(m.samples.iter().map(|s| s.method)),
    );
    counts(
        &mut o,
        "Broadcast samples by matching method",
        &methods(b.samples.iter().map(|s| s.method)),
    );
    if !p.samples.is_empty() {
        counts(
            &mut o,
            "RTMP play samples by matching method",
            &methods(p.samples.iter().map(|s| s.method.as_str())),
        );
    }
    counts(&mut o, "Chat lines not matched", &m.unmatched);
    counts(&mut o, "Frames not matched", &b.unmatched);
    if c.warnings.is_empty() {
        o.push_str("<p class=\"muted\">No warnings.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p>{} warning(s), listed at the top of this report.</p>",
            c.warnings.len()
        );
    }
    o.push_str("<p class=\"muted\">Generated by lagtap ");
    o.push_str(env!("CARGO_PKG_VERSION"));
    o.push_str(".</p>\n</body></html>\n");
    o
}

/// Write the HTML report to `path`.
pub fn write_html(path: &Path, c: &Correlation, schedule: Option<&Schedule>) -> anyhow::Result<()> {
    std::fs::write(path, render_html(c, schedule))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
