//! Source (uplink) health of each broadcaster stream, in 1-second windows of the
//! reference clock by the first-byte time of each RTMP message.
//!
//! Missing frames: consecutive video frames (in sending order) whose RTMP
//! timestamps differ by more than 1.5× the stream's median frame interval `m` are
//! taken to have `round(gap / m) − 1` frames missing between them (dropped before
//! the wire: by the encoder or an OBS-like send queue); the count goes to the window
//! of the frame after the gap. TCP retransmissions and zero windows are not in the
//! event timeline yet and are not reported.
//!
//! Where the encoder says itself (OBS's Broadcast Performance Metrics on key
//! frames), its own counts of frames dropped by its output and lagged by its
//! compositor are reported beside the estimate, in the window of the key frame that
//! carried them (they count since the previous one), and so is the encoder-to-wire
//! time of those key frames (see [`super::broadcast::EncoderLeg`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::broadcast::{Broadcast, FrameSample};
use super::Ctx;

const SECOND: i64 = 1_000_000_000;
/// Longest run of empty seconds filled in between windows.
const MAX_FILLED_GAP_NS: i64 = 3600 * SECOND;

/// One second of one stream.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Start of the second, reference clock.
    pub start_ns: i64,
    /// RTMP video + audio message bytes whose first byte left in this second.
    pub bytes: u64,
    pub video_bytes: u64,
    pub audio_bytes: u64,
    pub video_frames: u32,
    pub keyframes: u32,
    /// Estimated frames missing from the timestamp sequence.
    pub missing_frames: u32,
    /// RTMP timestamps of the first and last video frame sent in the window.
    pub first_rtmp_ts_ms: Option<u32>,
    pub last_rtmp_ts_ms: Option<u32>,
    /// Broadcast latency of frames sent in this second, over every viewer sample
    /// that is not a join artefact: count; display (the headline, player model),
    /// wire and source-clock latency, mean and max.
    pub latency_count: u32,
    pub display_latency_mean_ns: Option<i64>,
    pub display_latency_max_ns: Option<i64>,
    pub latency_mean_ns: Option<i64>,
    pub latency_max_ns: Option<i64>,
    pub source_latency_mean_ns: Option<i64>,
    pub source_latency_max_ns: Option<i64>,
    /// Upload segments the broadcaster's capture saw retransmitted.
    pub retransmissions: u32,
    /// Zero receive windows the ingest server advertised.
    pub zero_windows: u32,
    /// Upload bytes missing from the capture (gaps).
    pub gaps: u32,
    /// The encoder's own counts (BPM) carried by the window's key frames: frames
    /// its output dropped and its compositor lagged; `None` without metrics.
    pub encoder_dropped: Option<u32>,
    pub encoder_lagged: Option<u32>,
    /// Longest encoder-to-wire time of the window's key frames with metrics.
    pub encoder_to_wire_max_ns: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamHealth {
    pub broadcaster: String,
    pub stream: String,
    pub bitrate_kbps: Option<f64>,
    pub video_frames: u64,
    pub missing_frames: u64,
    pub median_frame_interval_ms: Option<i64>,
    pub retransmissions: u64,
    pub zero_windows: u64,
    pub gaps: u64,
    /// The encoder's own counts over the stream (BPM), `None` without metrics:
    /// frames dropped by its output, lagged by its compositor.
    pub encoder_dropped: Option<u64>,
    pub encoder_lagged: Option<u64>,
    /// Encoder-to-wire time of the key frames with metrics: mean and max.
    pub encoder_to_wire_mean_ns: Option<i64>,
    pub encoder_to_wire_max_ns: Option<i64>,
    /// The encoder's timecodes (picture timing / time code SEI, AV1 timecode
    /// metadata): presence, continuity and, for time of day, encoder to wire;
    /// `None` without any ([`super::timecode`]).
    #[serde(default)]
    pub timecode: Option<super::timecode::TimecodeHealth>,
    pub windows: Vec<Window>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceHealth {
    pub streams: Vec<StreamHealth>,
}

/// Missing frames after each frame (by index) of a timestamp sequence, and the
/// frame interval used (ms, rounded).
///
/// The interval is the mean of the intervals within ±50% of the median one (so
/// 33/34 ms steps give 33.3 ms, not 33). Timestamps are taken in timestamp order, a
/// repeated timestamp counts once: the estimate does not depend on the order in
/// which frames reached the wire.
pub fn missing_frames(ts_ms: &[u32]) -> (Vec<u32>, Option<i64>) {
    let mut order: Vec<usize> = (0..ts_ms.len()).collect();
    order.sort_by_key(|&i| (ts_ms[i], i));
    let mut deltas: Vec<i64> = order
        .windows(2)
        .map(|w| ts_ms[w[1]] as i64 - ts_ms[w[0]] as i64)
        .filter(|d| *d > 0)
        .collect();
    let mut missing = vec![0; ts_ms.len()];
    if deltas.is_empty() {
        return (missing, None);
    }
    deltas.sort_unstable();
    let median = deltas[deltas.len() / 2];
    let typical: Vec<i64> = deltas
        .iter()
        .copied()
        .filter(|d| 2 * d >= median && 2 * d <= 3 * median)
        .collect();
    let m = typical.iter().sum::<i64>() as f64 / typical.len().max(1) as f64;
    for w in order.windows(2) {
        let gap = ts_ms[w[1]] as i64 - ts_ms[w[0]] as i64;
        if gap as f64 > 1.5 * m {
            missing[w[1]] = ((gap as f64 / m).round() as i64 - 1).max(0) as u32;
        }
    }
    (missing, Some(m.round() as i64))
}

/// Mean and max of one latency over a window's samples.
#[derive(Clone, Copy, Debug, Default)]
struct MeanMax {
    sum: i128,
    n: u32,
    max: Option<i64>,
}

impl MeanMax {
    fn add(&mut self, v: Option<i64>) {
        if let Some(v) = v {
            self.sum += v as i128;
            self.n += 1;
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }

    fn mean(&self) -> Option<i64> {
        (self.n > 0).then(|| (self.sum / self.n as i128) as i64)
    }
}

/// A window's latency accumulators: display, wire, source clock.
type WindowLatency = [MeanMax; 3];

/// A TCP event of a stream's connection: capture time, whether the client sent the
/// segment, and what it was (`retransmission`, `gap`, `zero_window`).
type TcpNote<'a> = (i64, bool, &'a str);
/// The [`TcpNote`]s of each (host, flow).
type TcpByFlow<'a> = HashMap<(usize, u64), Vec<TcpNote<'a>>>;

/// TCP events (time, from the client, what) of each stream's connection, keyed by
/// (host, flow), in one pass over each broadcaster's events: a broadcaster of a long
/// campaign has a stream per publish, and scanning its events once per stream made
/// this quadratic.
fn tcp_events_by_flow<'a>(ctx: &'a Ctx, broadcast: &Broadcast) -> TcpByFlow<'a> {
    let wanted: HashSet<(usize, u64)> =
        broadcast.streams.iter().map(|s| (s.host, s.flow)).collect();
    let hosts: BTreeSet<usize> = wanted.iter().map(|&(h, _)| h).collect();
    let mut out = TcpByFlow::new();
    for h in hosts {
        for e in &ctx.hosts[h].events {
            if let crate::events::Event::TcpEvent {
                flow,
                from_client,
                what,
                time_ns,
            } = e
            {
                if wanted.contains(&(h, *flow)) {
                    out.entry((h, *flow)).or_default().push((
                        *time_ns,
                        *from_client,
                        what.as_str(),
                    ));
                }
            }
        }
    }
    out
}

pub(crate) fn correlate(ctx: &Ctx, broadcast: &Broadcast) -> SourceHealth {
    // Samples by (stream, frame); join artefacts are no measure of this second's
    // upload and stay out of the time series.
    let mut lat: BTreeMap<(usize, usize), Vec<&FrameSample>> = BTreeMap::new();
    for s in broadcast.counted() {
        if let Some(tx) = s.tx {
            lat.entry(tx).or_default().push(s);
        }
    }
    let tcp = tcp_events_by_flow(ctx, broadcast);
    let mut out = SourceHealth::default();
    for (si, s) in broadcast.streams.iter().enumerate() {
        let mut windows: BTreeMap<i64, Window> = BTreeMap::new();
        let ts: Vec<u32> = s.video.iter().map(|f| f.rtmp_ts_ms).collect();
        let (missing, median) = missing_frames(&ts);
        let mut sums: BTreeMap<i64, WindowLatency> = BTreeMap::new();
        let mut to_wire = MeanMax::default();
        for (fi, f) in s.video.iter().enumerate() {
            let start = f.first_byte_ns.div_euclid(SECOND).saturating_mul(SECOND);
            let w = windows.entry(start).or_insert_with(|| Window {
                start_ns: start,
                ..Window::default()
            });
            w.bytes += f.size as u64;
            w.video_bytes += f.size as u64;
            w.video_frames += 1;
            w.keyframes += f.keyframe as u32;
            w.missing_frames += missing[fi];
            w.first_rtmp_ts_ms = Some(w.first_rtmp_ts_ms.unwrap_or(f.rtmp_ts_ms));
            w.last_rtmp_ts_ms = Some(f.rtmp_ts_ms);
            if let Some(e) = &f.encoder {
                let add = |acc: Option<u32>, v: Option<u32>| match (acc, v) {
                    (a, None) => a,
                    (a, Some(v)) => Some(a.unwrap_or(0).saturating_add(v)),
                };
                w.encoder_dropped = add(w.encoder_dropped, e.dropped);
                w.encoder_lagged = add(w.encoder_lagged, e.lagged);
                w.encoder_to_wire_max_ns = w.encoder_to_wire_max_ns.max(e.to_wire_ns);
                to_wire.add(e.to_wire_ns);
            }
            for smp in lat.get(&(si, fi)).map(Vec::as_slice).unwrap_or(&[]) {
                w.latency_count += 1;
                let e = sums.entry(start).or_default();
                e[0].add(smp.display_latency_ns);
                e[1].add(Some(smp.latency_ns));
                e[2].add(smp.source_latency_ns);
            }
        }
        for &(t, size) in &s.audio {
            let start = t.div_euclid(SECOND).saturating_mul(SECOND);
            let w = windows.entry(start).or_insert_with(|| Window {
                start_ns: start,
                ..Window::default()
            });
            w.bytes += size as u64;
            w.audio_bytes += size as u64;
        }
        // TCP trouble on this stream's connection, from the broadcaster's capture:
        // retransmitted and missing upload segments, and zero windows the ingest
        // server advertised.
        for &(time_ns, from_client, what) in tcp.get(&(s.host, s.flow)).into_iter().flatten() {
            let t = ctx.to_ref(s.host, time_ns);
            let start = t.div_euclid(SECOND).saturating_mul(SECOND);
            let w = windows.entry(start).or_insert_with(|| Window {
                start_ns: start,
                ..Window::default()
            });
            match (what, from_client) {
                ("retransmission", true) => w.retransmissions += 1,
                ("gap", true) => w.gaps += 1,
                ("zero_window", false) => w.zero_windows += 1,
                _ => {}
            }
        }
        for (start, [display, wire, source]) in sums {
            if let Some(w) = windows.get_mut(&start) {
                (w.display_latency_mean_ns, w.display_latency_max_ns) =
                    (display.mean(), display.max);
                (w.latency_mean_ns, w.latency_max_ns) = (wire.mean(), wire.max);
                (w.source_latency_mean_ns, w.source_latency_max_ns) = (source.mean(), source.max);
            }
        }
        // Seconds with nothing sent are windows too (a stalled uplink shows as
        // zeros), across gaps of up to an hour: a longer silence (or a broken
        // timestamp) stays a gap rather than thousands of empty rows.
        let starts: Vec<i64> = windows.keys().copied().collect();
        for w in starts.windows(2) {
            if w[1].saturating_sub(w[0]) <= MAX_FILLED_GAP_NS {
                let mut t = w[0].saturating_add(SECOND);
                while t < w[1] {
                    windows.entry(t).or_insert_with(|| Window {
                        start_ns: t,
                        ..Window::default()
                    });
                    t += SECOND;
                }
            }
        }
        out.streams.push(StreamHealth {
            broadcaster: s.broadcaster.clone(),
            stream: s.key.clone(),
            bitrate_kbps: s.bitrate_kbps,
            video_frames: s.video.len() as u64,
            missing_frames: missing.iter().map(|&m| m as u64).sum(),
            median_frame_interval_ms: median,
            retransmissions: windows.values().map(|w| u64::from(w.retransmissions)).sum(),
            zero_windows: windows.values().map(|w| u64::from(w.zero_windows)).sum(),
            gaps: windows.values().map(|w| u64::from(w.gaps)).sum(),
            encoder_dropped: encoder_total(windows.values().map(|w| w.encoder_dropped)),
            encoder_lagged: encoder_total(windows.values().map(|w| w.encoder_lagged)),
            encoder_to_wire_mean_ns: to_wire.mean(),
            encoder_to_wire_max_ns: to_wire.max,
            timecode: super::timecode::health(&s.video, median),
            windows: windows.into_values().collect(),
        });
    }
    out
}

/// The sum of the counts that are there; `None` if none is.
fn encoder_total(counts: impl Iterator<Item = Option<u32>>) -> Option<u64> {
    counts.flatten().map(u64::from).reduce(|a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_timestamps_count_as_missing_frames() {
        // 30 fps (33/34 ms steps); 5 frames dropped after 100 (gap 200 ms), one
        // slightly late frame (45 ms) that is not a drop.
        let ts = [0, 33, 67, 100, 300, 333, 378, 400];
        let (missing, m) = missing_frames(&ts);
        assert_eq!(m, Some(33));
        assert_eq!(missing, [0, 0, 0, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn a_long_gap_is_counted_with_the_exact_frame_interval() {
        // 30 fps as FLV rounds it (33, 33, 34, ...); 59 frames dropped: 2 s gap.
        let mut ts: Vec<u32> = (0..30).map(|i| (i * 1000 / 30) as u32).collect();
        ts.extend((89..120).map(|i| (i * 1000 / 30) as u32));
        let (missing, _) = missing_frames(&ts);
        assert_eq!(missing.iter().sum::<u32>(), 59);
    }

    #[test]
    fn frames_out_of_wire_order_or_repeated_are_not_gaps() {
        let ts = [0, 33, 100, 67, 133, 133, 167];
        let (missing, _) = missing_frames(&ts);
        assert_eq!(missing.iter().sum::<u32>(), 0);
    }

    #[test]
    fn a_single_frame_has_no_interval() {
        assert_eq!(missing_frames(&[5]), (vec![0], None));
    }
}
