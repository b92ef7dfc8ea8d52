//! One function per figure. Each takes the drawing area and the `Correlation` and
//! reads only what the tables read, so the `n=` in a title is the count the table
//! prints for the same distribution.

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::correlate::{Correlation, Summary};

use super::common::{self, color, tick, Bar, BarSeries, BarStyle, DrawResult, FONT, GRID};
use super::schedule::Schedule;
use crate::report::rows::{label, natural_cmp};

const NS_PER_MS: f64 = 1e6;
const NS_PER_S: f64 = 1e9;

/// Mean of a latency with its 95% confidence interval as whiskers (none below two
/// samples: the whisker collapses onto the mean), scaled from milliseconds by
/// `scale`. The lower whisker stops at zero, a latency's floor (unless the mean
/// itself is below it, which clock error can cause).
fn ci_bar(s: &Summary, scale: f64) -> Option<Bar> {
    let mean = s.mean_ms? * scale;
    let ci = s.ci95_ms.unwrap_or(0.0) * scale;
    Some(Bar {
        value: mean,
        lo: if mean < 0.0 {
            mean - ci
        } else {
            (mean - ci).max(0.0)
        },
        hi: mean + ci,
        n: s.count,
    })
}

/// Mean with min and max as whiskers (the study's Fig. 6b).
fn range_bar(s: &Summary, scale: f64) -> Option<Bar> {
    Some(Bar {
        value: s.mean_ms? * scale,
        lo: s.min_ms? * scale,
        hi: s.max_ms? * scale,
        n: s.count,
    })
}

/// Names in the order of `c.hosts` (the order of the command line), then any
/// other name (a host known only by a nick, say) in natural order (numbers by value).
fn host_order<'a>(c: &Correlation, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let set: BTreeSet<&String> = names.into_iter().collect();
    let mut out: Vec<String> = c
        .hosts
        .iter()
        .filter(|h| set.contains(&h.name))
        .map(|h| h.name.clone())
        .collect();
    let mut others: Vec<&String> = set.into_iter().filter(|n| !out.contains(n)).collect();
    others.sort_by(|a, b| natural_cmp(a, b));
    out.extend(others.into_iter().cloned());
    out
}

/// Fig. 6a: each host's sending latency (its messages, to every receiver) next to
/// its receiving latency (every message it received), mean ± 95% CI, in ms.
pub fn messaging<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Correlation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let m = &c.messaging;
    let hosts = host_order(c, m.by_sender.keys().chain(m.by_receiver.keys()));
    let series = vec![
        BarSeries {
            label: "sending latency: messages from the host".into(),
            bars: hosts
                .iter()
                .map(|h| m.by_sender.get(h).and_then(|s| ci_bar(s, 1.0)))
                .collect(),
        },
        BarSeries {
            label: "receiving latency: messages to the host".into(),
            bars: hosts
                .iter()
                .map(|h| m.by_receiver.get(h).and_then(|s| ci_bar(s, 1.0)))
                .collect(),
        },
    ];
    common::grouped_bars(
        root,
        &format!(
            "Chat messaging latency per host, sent → received (n={} deliveries)",
            m.summary.count
        ),
        "host",
        "messaging latency (ms)",
        &hosts,
        &series,
        BarStyle::Bars,
        "bars: mean; whiskers: 95% confidence interval of the mean; n: deliveries",
    )
}

/// CDF of every messaging sample, overall and per receiver, in ms.
pub fn messaging_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Correlation,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let m = &c.messaging;
    let mut lines = vec![(
        "all".to_string(),
        m.samples
            .iter()
            .map(|s| s.latency_ns as f64 / NS_PER_MS)
            .collect::<Vec<_>>(),
    )];
    for r in host_order(c, m.by_receiver.keys()) {
        lines.push((
            format!("received by {r}"),
            m.samples
                .iter()
                .filter(|s| s.receiver == r)
                .map(|s| s.latency_ns as f64 / NS_PER_MS)
                .collect(),
        ));
    }
    common::cdf(
        root,
        &format!(
            "Chat messaging latency, CDF of all samples (n={})",
            m.summary.count
        ),
        "messaging latency (ms)",
        &lines,
    )
}

/// Fig. 6b: broadcast latency per viewer (every matched frame), mean with min
/// and max, in seconds.
pub fn broadcast<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Correlation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let b = &c.broadcast;
    let viewers = host_order(c, b.by_viewer.keys());
    let series = vec![BarSeries {
        label: "mean over frames".into(),
        bars: viewers
            .iter()
            .map(|v| b.by_viewer.get(v).and_then(|s| range_bar(s, 1e-3)))
            .collect(),
    }];
    common::grouped_bars(
        root,
        &format!(
            "Broadcast latency per viewer, RTMP send → frame shown (player model, n={} frames)",
            b.display_summary.count
        ),
        "viewer",
        "broadcast latency (s)",
        &viewers,
        &series,
        BarStyle::Bars,
        "bars: mean; whiskers: minimum and maximum; n: frames matched",
    )
}

/// The stream's bitrate label: the encoder's own figure (onMetaData), else the
/// measured video rate, rounded to 50 kb/s and marked `≈`.
fn bitrate_label(c: &Correlation, stream: usize) -> Option<(i64, String)> {
    let s = c.broadcast.streams.get(stream)?;
    if let Some(r) = s.bitrate_kbps {
        let r = r.round() as i64;
        return Some((r, format!("{r} kb/s")));
    }
    let first = s.video.first()?;
    let last = s.video.last()?;
    let secs = last.rtmp_ts_ms.wrapping_sub(first.rtmp_ts_ms) as f64 / 1e3;
    if secs <= 0.0 {
        return None;
    }
    let bits: f64 = s.video.iter().map(|f| f.size as f64 * 8.0).sum();
    let r = ((bits / secs / 1e3 / 50.0).round() * 50.0) as i64;
    Some((r, format!("≈{r} kb/s")))
}

/// The distinct bitrates of streams with samples, ascending, with their labels.
pub fn bitrates(c: &Correlation) -> Vec<(i64, String)> {
    let used: BTreeSet<usize> = c
        .broadcast
        .samples
        .iter()
        .filter_map(|s| s.tx.map(|t| t.0))
        .collect();
    let mut out: BTreeMap<i64, String> = BTreeMap::new();
    for si in used {
        if let Some((r, l)) = bitrate_label(c, si) {
            out.entry(r).or_insert(l);
        }
    }
    out.into_iter().collect()
}

/// Fig. 6b/6c: broadcast latency of each viewer at each streaming bitrate, mean
/// with min and max, in seconds.
pub fn broadcast_bitrate<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Correlation,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let rates = bitrates(c);
    let rate_of: BTreeMap<usize, i64> = (0..c.broadcast.streams.len())
        .filter_map(|si| bitrate_label(c, si).map(|(r, _)| (si, r)))
        .collect();
    let mut by: BTreeMap<(String, i64), Vec<i64>> = BTreeMap::new();
    for s in c.broadcast.counted() {
        if let (Some(&r), Some(l)) = (s.tx.and_then(|t| rate_of.get(&t.0)), s.display_latency_ns) {
            by.entry((s.viewer.clone(), r)).or_default().push(l);
        }
    }
    let n: usize = by.values().map(Vec::len).sum();
    let viewers = host_order(c, by.keys().map(|(v, _)| v));
    let series: Vec<BarSeries> = viewers
        .iter()
        .map(|v| BarSeries {
            label: label("viewer", v),
            bars: rates
                .iter()
                .map(|(r, _)| {
                    by.get(&(v.clone(), *r))
                        .and_then(|l| range_bar(&Summary::of(l), 1e-3))
                })
                .collect(),
        })
        .collect();
    let groups: Vec<String> = rates.iter().map(|(_, l)| l.clone()).collect();
    common::grouped_bars(
        root,
        &format!("Broadcast latency per viewer against streaming bitrate (n={n} frames)"),
        "streaming bitrate (encoder's onMetaData videodatarate; ≈: measured)",
        "broadcast latency (s)",
        &groups,
        &series,
        BarStyle::Bars,
        "bars: mean; whiskers: minimum and maximum; n: frames matched",
    )
}

/// CDF of every frame's broadcast latency, per viewer, in seconds.
pub fn broadcast_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Correlation,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let b = &c.broadcast;
    let lines: Vec<(String, Vec<f64>)> = host_order(c, b.by_viewer.keys())
        .into_iter()
        .map(|v| {
            let l = b
                .counted()
                .filter(|s| s.viewer == v)
                .filter_map(|s| s.display_latency_ns)
                .map(|l| l as f64 / NS_PER_S)
                .collect();
            (label("viewer", &v), l)
        })
        .collect();
    common::cdf(
        root,
        &format!(
            "Broadcast latency (RTMP send → shown), CDF of frames per viewer (n={})",
            b.display_summary.count
        ),
        "broadcast latency (s)",
        &lines,
    )
}

/// Fig. 6d: switching latency per viewer, to the first segment of the new channel
/// and to playback start (player model), mean ± 95% CI, in seconds.
pub fn switching<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Correlation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let sw = &c.switching.switches;
    let viewers = host_order(c, sw.iter().map(|s| &s.viewer));
    let per = |f: fn(&crate::correlate::switching::Switch) -> Option<i64>| -> Vec<Option<Bar>> {
        viewers
            .iter()
            .map(|v| {
                let l: Vec<i64> = sw.iter().filter(|s| &s.viewer == v).filter_map(f).collect();
                ci_bar(&Summary::of(&l), 1e-3)
            })
            .collect()
    };
    let series = vec![
        BarSeries {
            label: "until the new channel is shown (player model)".into(),
            bars: per(|s| s.shown_latency_ns),
        },
        BarSeries {
            label: "until its first segment is received".into(),
            bars: per(|s| s.first_segment_latency_ns),
        },
    ];
    common::grouped_bars(
        root,
        &format!(
            "Channel switching latency per viewer (n={} switches)",
            c.switching.shown.count
        ),
        "viewer",
        "switching latency (s)",
        &viewers,
        &series,
        BarStyle::Bars,
        "bars: mean; whiskers: 95% confidence interval of the mean; n: switches",
    )
}

/// Contiguous runs of present points, so a line is broken where data is missing
/// instead of bridging a gap.
fn runs(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in points {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None if !out.last().expect("never empty").is_empty() => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Fig. 7: one broadcaster stream over time: upload throughput, cumulative
/// missing frames, and the broadcast latency of the frames sent each second, on
/// one time axis, with the shaping schedule (when given) as a limit line and
/// markers at each change.
pub fn health<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Correlation,
    stream: usize,
    schedule: Option<&Schedule>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Some(st) = c.source_health.streams.get(stream) else {
        return common::no_samples(root);
    };
    let t0 = st.windows.first().map_or(0, |w| w.start_ns);
    let x = |t: i64| (t - t0) as f64 / NS_PER_S;
    let end = st.windows.last().map_or(1.0, |w| x(w.start_ns) + 1.0);
    let latency_samples: u64 = st.windows.iter().map(|w| w.latency_count as u64).sum();
    let title = format!(
        "Source health of {} / {}: n={} frames sent, {} missing, {} latency samples",
        st.broadcaster, st.stream, st.video_frames, st.missing_frames, latency_samples
    );
    let area = root.titled(&title, (FONT, 20))?;
    let panels = area.split_evenly((3, 1));

    // Schedule steps inside the plotted span (a step before it sets the start).
    let steps: Vec<(f64, Option<f64>)> = schedule
        .map(|s| s.for_host(&st.broadcaster))
        .unwrap_or_default()
        .into_iter()
        .map(|s| (x(s.t_ns).max(0.0), s.rate_kbps))
        .filter(|(t, _)| *t < end)
        .collect();
    let markers: Vec<f64> = steps.iter().map(|s| s.0).filter(|&t| t > 0.0).collect();

    let throughput: Vec<(f64, f64)> = st
        .windows
        .iter()
        .map(|w| (x(w.start_ns), w.bytes as f64 * 8.0 / 1e3))
        .collect();
    let mut total = 0u64;
    let missing: Vec<(f64, f64)> = st
        .windows
        .iter()
        .map(|w| {
            total += w.missing_frames as u64;
            (x(w.start_ns), total as f64)
        })
        .collect();
    let display = runs(st.windows.iter().map(|w| {
        w.display_latency_mean_ns
            .map(|l| (x(w.start_ns), l as f64 / NS_PER_S))
    }));
    let wire = runs(st.windows.iter().map(|w| {
        w.latency_mean_ns
            .map(|l| (x(w.start_ns), l as f64 / NS_PER_S))
    }));
    let source = runs(st.windows.iter().map(|w| {
        w.source_latency_mean_ns
            .map(|l| (x(w.start_ns), l as f64 / NS_PER_S))
    }));

    let limit_max = steps.iter().filter_map(|s| s.1).fold(0.0, f64::max);
    let tp_max = throughput.iter().map(|p| p.1).fold(limit_max, f64::max);
    let lat_min = wire
        .iter()
        .chain(&source)
        .chain(&display)
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::min);
    let lat_max = wire
        .iter()
        .chain(&source)
        .chain(&display)
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let specs = [
        ("upload throughput (kb/s)", tp_max),
        ("missing frames (cumulative)", total as f64),
        ("broadcast latency (s)", lat_max),
    ];
    for (i, (panel, (y_desc, max))) in panels.iter().zip(specs).enumerate() {
        // Headroom above the data for the legend (upper right) and schedule labels.
        let top = if max > 0.0 { max * 1.45 } else { 1.0 };
        let bottom = if i == 2 { lat_min * 1.2 } else { 0.0 };
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..end, bottom..top)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .x_desc(if i == 2 {
                "time since the stream's first frame on the wire (s, reference clock)"
            } else {
                ""
            })
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        for &t in &markers {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(t, bottom), (t, top)],
                RGBColor(150, 150, 150).stroke_width(1),
            )))?;
        }
        match i {
            0 => {
                let c0 = color(0);
                chart
                    .draw_series(LineSeries::new(
                        throughput.iter().copied(),
                        c0.stroke_width(2),
                    ))?
                    .label("RTMP goodput, 1 s windows")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c0.stroke_width(3))
                    });
                if !steps.is_empty() {
                    let red = RGBColor(200, 0, 0);
                    let mut first = true;
                    let label_style = TextStyle::from((FONT, 12).into_font())
                        .color(&red)
                        .pos(Pos::new(HPos::Left, VPos::Bottom));
                    for (k, &(t, rate)) in steps.iter().enumerate() {
                        let next = steps.get(k + 1).map_or(end, |s| s.0);
                        let text = rate.map_or("no limit".to_string(), |r| format!("{r:.0} kb/s"));
                        // The label sits on its limit line, or for "no limit" just above
                        // the data of that interval, clear of the legend in the corner.
                        let y = rate.unwrap_or_else(|| {
                            throughput
                                .iter()
                                .filter(|p| p.0 >= t - 1.0 && p.0 < next)
                                .map(|p| p.1)
                                .fold(0.0, f64::max)
                        });
                        chart.draw_series(std::iter::once(Text::new(
                            text,
                            (t + end * 0.004, y + top * 0.02),
                            label_style.clone(),
                        )))?;
                        if let Some(r) = rate {
                            let s = chart.draw_series(DashedLineSeries::new(
                                [(t, r), (next, r)],
                                8,
                                5,
                                red.stroke_width(2),
                            ))?;
                            if first {
                                s.label("uplink limit (tc tbf schedule)")
                                    .legend(move |(x, y)| {
                                        PathElement::new(
                                            vec![(x, y), (x + 18, y)],
                                            red.stroke_width(2),
                                        )
                                    });
                                first = false;
                            }
                        }
                    }
                }
            }
            1 => {
                let c1 = color(5);
                chart
                    .draw_series(LineSeries::new(missing.iter().copied(), c1.stroke_width(2)))?
                    .label("frames missing from the RTMP timestamp sequence")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c1.stroke_width(3))
                    });
            }
            _ => {
                for (runs, c, label) in [
                    (
                        &display,
                        color(0),
                        "display: RTMP send → shown (player model; mean per second)",
                    ),
                    (&wire, color(2), "wire: RTMP send → segment at viewer"),
                    (
                        &source,
                        color(3),
                        "source clock: due on the media clock → segment at viewer",
                    ),
                ] {
                    let mut labelled = false;
                    for r in runs.iter() {
                        let s = chart
                            .draw_series(LineSeries::new(r.iter().copied(), c.stroke_width(2)))?;
                        if !labelled {
                            s.label(label).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                            });
                            labelled = true;
                        }
                    }
                }
                if wire.is_empty() && source.is_empty() && display.is_empty() {
                    common::no_samples(panel)?;
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()?;
    }
    Ok(())
}

/// Each host's clock offset (host − reference) with its error bound (± half the
/// round-trip delay of the NTP samples used), in ms. Hosts without NTP or
/// `--offset` are drawn at 0 and named as unsynchronised.
pub fn clocks<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Correlation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let groups: Vec<String> = c
        .hosts
        .iter()
        .map(|h| match h.clock.source {
            crate::correlate::ClockSource::Ntp => h.name.clone(),
            crate::correlate::ClockSource::Manual => format!("{} (--offset)", h.name),
            crate::correlate::ClockSource::None => format!("{} (no clock!)", h.name),
        })
        .collect();
    // Synchronised testbed clocks are microseconds apart: milliseconds would give
    // an axis of 0.001 steps, so the unit follows the largest value.
    let largest = c
        .hosts
        .iter()
        .map(|h| h.clock.offset_ns.unsigned_abs() + h.clock.error_ns.unsigned_abs())
        .max()
        .unwrap_or(0);
    let (unit, per) = if largest < 1_000_000 {
        ("µs", 1e3)
    } else {
        ("ms", NS_PER_MS)
    };
    let bars = c
        .hosts
        .iter()
        .map(|h| {
            let off = h.clock.offset_ns as f64 / per;
            let err = h.clock.error_ns as f64 / per;
            Some(Bar {
                value: off,
                lo: off - err,
                hi: off + err,
                n: h.clock.samples_used as u64,
            })
        })
        .collect();
    let exchanges: usize = c.hosts.iter().map(|h| h.clock.samples).sum();
    common::grouped_bars(
        root,
        &format!("Clock offset per host, host − reference (n={exchanges} NTP exchanges)"),
        "host",
        &format!("clock offset ({unit})"),
        &groups,
        &[BarSeries {
            label: "offset (host − reference)".into(),
            bars,
        }],
        BarStyle::Points,
        "whiskers: error bound (half the NTP round trip of the samples used); n: NTP samples used",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_whiskers_stop_at_zero() {
        // Two switches of 0.5 s and 4.5 s: mean 2.5 s, a 95% CI far wider than that.
        let s = Summary::of(&[500_000_000, 4_500_000_000]);
        assert!(s.ci95_ms.unwrap() > s.mean_ms.unwrap());
        let b = ci_bar(&s, 1e-3).unwrap();
        assert_eq!((b.value, b.lo), (2.5, 0.0));
        assert!(b.hi > 5.0);
        // A narrow interval is left as it is.
        let s = Summary::of(&[2_000_000, 2_000_000, 3_000_000]);
        let b = ci_bar(&s, 1.0).unwrap();
        assert!(b.lo > 0.0 && b.lo < b.value);
        // A mean below zero (clock error) keeps its whisker: clipping would hide it.
        let s = Summary::of(&[-3_000_000, 1_000_000]);
        let b = ci_bar(&s, 1.0).unwrap();
        assert!(b.lo < b.value && b.value < 0.0);
    }
}
