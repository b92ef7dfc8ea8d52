//! The rows the text tables and the HTML report both show, built once so the two
//! never disagree. `none` is each format's mark for a missing value.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::correlate::broadcast::KSource;
use crate::correlate::health::StreamHealth;
use crate::correlate::{Correlation, GroupBy, Summary};

use super::{ms, time};

/// Runs of digits and of other characters.
fn runs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Orders names as people read them: digit runs by their value, so "800 kb/s"
/// comes before "1600 kb/s" and "rate800" before "rate1600"; the rest as text.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (runs(a), runs(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let numbers = p.starts_with(|c: char| c.is_ascii_digit())
                    && q.starts_with(|c: char| c.is_ascii_digit());
                let o = if numbers {
                    let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                    p.len().cmp(&q.len()).then_with(|| p.cmp(q))
                } else {
                    p.cmp(q)
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// A map's entries in [`natural_cmp`] order of their names.
pub(crate) fn natural<V>(m: &BTreeMap<String, V>) -> Vec<(&String, &V)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| natural_cmp(a.0, b.0));
    v
}

/// `kind name` ("viewer desktop"), without saying the kind twice when the name
/// already starts with it (a host named "viewer" is "viewer", not "viewer viewer").
pub(crate) fn label(kind: &str, name: &str) -> String {
    let starts = name
        .get(..kind.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(kind));
    if starts {
        name.to_string()
    } else {
        format!("{kind} {name}")
    }
}

/// Messaging distributions: all, per sender, per receiver, and the server-stamp legs.
pub(crate) fn messaging_summaries(c: &Correlation) -> Vec<(String, &Summary)> {
    let m = &c.messaging;
    let mut rows = vec![("all".to_string(), &m.summary)];
    rows.extend(m.by_sender.iter().map(|(k, v)| (format!("from {k}"), v)));
    rows.extend(m.by_receiver.iter().map(|(k, v)| (format!("to {k}"), v)));
    // Only when more than PRIVMSGs were matched: the usual run needs no such rows.
    if m.by_command.len() > 1 {
        rows.extend(m.by_command.iter().map(|(k, v)| (format!("{k} lines"), v)));
    }
    if m.uplink.count > 0 {
        rows.push(("uplink (→ server stamp)".into(), &m.uplink));
        rows.push(("downlink (server stamp →)".into(), &m.downlink));
    }
    rows
}

/// Broadcast distributions: the variants, then per viewer, stream (and bitrate).
pub(crate) fn broadcast_summaries(c: &Correlation) -> Vec<(String, &Summary)> {
    let b = &c.broadcast;
    let mut rows = vec![("display (sent → shown)".to_string(), &b.display_summary)];
    // The legs add up to the headline sample by sample; upload and packaging need
    // the ingest server's capture, else only their sum is known.
    if b.legs.upload.count > 0 {
        rows.push(("  upload (→ ingest)".into(), &b.legs.upload));
        rows.push(("  packaging (→ listed)".into(), &b.legs.packaging));
    } else {
        rows.push(("  upload+packaging (→ listed)".into(), &b.legs.to_listed));
    }
    rows.push(("  delivery (→ received)".into(), &b.legs.delivery));
    rows.push(("  buffering (→ shown)".into(), &b.legs.buffering));
    rows.push((
        "wire by segment completion (→ received)".into(),
        &b.wire_summary,
    ));
    if b.part_summary.count > 0 {
        rows.push((
            "wire by part completion (→ its part)".into(),
            &b.part_summary,
        ));
    }
    rows.push((
        "wire by frame arrival (→ its last byte)".into(),
        &b.arrival_summary,
    ));
    rows.push(("source clock (→ received)".into(), &b.source_summary));
    if b.prft_summary.count > 0 {
        rows.push((
            "packager clock, prft (→ its last byte)".into(),
            &b.prft_summary,
        ));
    }
    rows.push(("per segment (wire)".into(), &b.segment_summary));
    rows.extend(
        natural(&b.by_viewer)
            .into_iter()
            .map(|(k, v)| (label("viewer", k), v)),
    );
    rows.extend(
        natural(&b.by_stream)
            .into_iter()
            .map(|(k, v)| (label("stream", k), v)),
    );
    if c.group_by == GroupBy::Bitrate {
        rows.extend(
            natural(&b.by_group)
                .into_iter()
                .map(|(k, v)| (label("bitrate", k), v)),
        );
    }
    rows
}

/// RTMP play distributions: all frames, the legs (with the ingest capture), then
/// per player and per stream.
pub(crate) fn rtmp_play_summaries(c: &Correlation) -> Vec<(String, &Summary)> {
    let p = &c.rtmp_play;
    let mut rows = vec![
        ("display (sent → shown)".to_string(), &p.display_summary),
        ("sent → player has it".to_string(), &p.summary),
    ];
    if p.legs.upload.count > 0 {
        rows.push(("  upload (→ ingest)".into(), &p.legs.upload));
        rows.push(("  relay (ingest → player)".into(), &p.legs.relay));
    }
    rows.extend(
        natural(&p.by_viewer)
            .into_iter()
            .map(|(k, v)| (label("player", k), v)),
    );
    rows.extend(
        natural(&p.by_stream)
            .into_iter()
            .map(|(k, v)| (label("stream", k), v)),
    );
    rows
}

pub(crate) fn switching_summaries(c: &Correlation) -> Vec<(String, &Summary)> {
    vec![
        ("to new stream shown".to_string(), &c.switching.shown),
        (
            "to its first segment".to_string(),
            &c.switching.first_segment,
        ),
    ]
}

pub(crate) const PLAYER_HEADER: &[&str] = &[
    "viewer",
    "channel",
    "K",
    "K from",
    "segments",
    "startup ms",
    "stalls",
    "stalled ms",
];

pub(crate) fn player_rows(c: &Correlation, none: &str) -> Vec<Vec<String>> {
    c.broadcast
        .players
        .iter()
        .map(|p| {
            vec![
                p.viewer.clone(),
                p.channel.clone(),
                p.k.to_string(),
                match p.k_source {
                    KSource::Capture => "capture",
                    KSource::Option => "option",
                    KSource::Default => "default",
                }
                .to_string(),
                p.segments.to_string(),
                p.startup_delay_ns.map_or(none.into(), ms),
                p.stalls.to_string(),
                ms(p.stall_ns),
            ]
        })
        .collect()
}

pub(crate) const SWITCH_HEADER: &[&str] = &[
    "viewer",
    "switch",
    "started",
    "shown ms",
    "first segment ms",
];

pub(crate) fn switch_rows(c: &Correlation, none: &str) -> Vec<Vec<String>> {
    c.switching
        .switches
        .iter()
        .map(|w| {
            vec![
                w.viewer.clone(),
                format!("{} → {}", w.from, w.to),
                time(w.started_ns),
                w.shown_latency_ns.map_or(none.into(), ms),
                w.first_segment_latency_ns.map_or(none.into(), ms),
            ]
        })
        .collect()
}

/// One line on a broadcaster's stream as a whole.
pub(crate) fn stream_line(st: &StreamHealth) -> String {
    format!(
        "{} video frames, {} missing from the timestamp sequence, {} TCP retransmissions, {} zero windows{}",
        st.video_frames,
        st.missing_frames,
        st.retransmissions,
        st.zero_windows,
        st.bitrate_kbps.map_or(String::new(), |r| format!(", encoder {r:.0} kb/s")),
    )
}

pub(crate) const WINDOW_HEADER: &[&str] = &[
    "second",
    "goodput kb/s",
    "frames",
    "missing",
    "retx",
    "zero win",
    "display ms",
    "wire ms",
    "source ms",
];

/// One row per one-second window, seconds counted from the stream's first.
pub(crate) fn window_rows(st: &StreamHealth, none: &str) -> Vec<Vec<String>> {
    let t0 = st.windows.first().map_or(0, |w| w.start_ns);
    st.windows
        .iter()
        .map(|w| {
            vec![
                format!("+{}", (w.start_ns - t0) / 1_000_000_000),
                format!("{:.1}", w.bytes as f64 * 8.0 / 1000.0),
                w.video_frames.to_string(),
                w.missing_frames.to_string(),
                w.retransmissions.to_string(),
                w.zero_windows.to_string(),
                w.display_latency_mean_ns.map_or(none.into(), ms),
                w.latency_mean_ns.map_or(none.into(), ms),
                w.source_latency_mean_ns.map_or(none.into(), ms),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_names_sort_by_value() {
        let mut v = vec![
            "1600 kb/s",
            "800 kb/s",
            "unknown",
            "2400 kb/s",
            "rate1600",
            "rate800",
            "rate0800x",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "800 kb/s",
                "1600 kb/s",
                "2400 kb/s",
                "rate800",
                "rate0800x",
                "rate1600",
                "unknown"
            ]
        );
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        assert_eq!(natural_cmp("viewer2", "viewer10"), Ordering::Less);
    }

    #[test]
    fn labels_do_not_repeat_the_kind() {
        assert_eq!(label("viewer", "desktop"), "viewer desktop");
        assert_eq!(label("viewer", "viewer"), "viewer");
        assert_eq!(label("viewer", "Viewer2"), "Viewer2");
        assert_eq!(label("stream", "é"), "stream é");
    }
}
