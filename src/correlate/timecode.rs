//! Source health from the encoder's timecodes (picture timing / time code SEI, AV1
//! timecode metadata; `avc::timecode`): whether a stream carries them, whether they
//! run on with the frames, and, where they are the time of day, the time from the
//! encoder's clock to the wire.
//!
//! **Continuity.** A timecode counts frames: seconds × the timecode's frame rate +
//! frames. Between two consecutive timecoded frames (in sending order) it should
//! advance by as many frames as their RTMP timestamps are apart (the difference over
//! the stream's median frame interval, rounded). A difference of more than one
//! frame, not announced by the encoder's `discontinuity_flag`, is a *jump*; flagged
//! discontinuities are counted apart. The timecode's rate is taken as the stream's
//! frame rate, 1000 / median frame interval (ms) rounded (30 for 29.97 fps, as SMPTE
//! ST 12-1 counts it). Across midnight the count wraps.
//!
//! **Time of day.** SMPTE timecode carries no date and no zone. A stream's
//! timecodes are taken as the encoder's time of day when, for the median frame,
//! the wire time (the broadcaster's capture clock, seconds since UTC midnight)
//! minus the timecode is within [−1 s, +30 s] of a whole multiple of 15 minutes
//! (the granularity of time zone offsets): the encoder's clock is that zone's
//! local time, and what remains is the frame's encoder-to-wire time. A timecode
//! that counts from an arbitrary start passes by chance about once in 30 streams
//! (31 s of 900); the zone offset is reported so that a reader can judge it.

use super::broadcast::{TimecodeMark, TxFrame};

const SECOND: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SECOND;
const ZONE_STEP: i64 = 900 * SECOND;
/// How far the median frame's wire time may be from the timecode (plus a zone
/// offset) for the timecode to count as the time of day: the frame cannot reach
/// the wire before it was stamped, by more than a frame's rounding; an encoder
/// buffers seconds at most.
const TOD_WINDOW: (i64, i64) = (-SECOND, 30 * SECOND);

/// A stream's timecodes, in source health; absent without any.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimecodeHealth {
    /// Video frames carrying a timecode with a clock timestamp.
    pub frames: u64,
    /// Frames whose timecode the encoder marked discontinuous.
    pub discontinuities: u64,
    /// Unannounced jumps: the timecode advanced by more than a frame off what the
    /// RTMP timestamps say.
    pub jumps: u64,
    /// Whether the timecodes are the encoder's time of day (see the module doc).
    pub time_of_day: bool,
    /// Time of day only: the encoder clock's offset from UTC, seconds (a multiple
    /// of 900).
    pub zone_offset_s: Option<i64>,
    /// Time of day only: wire time − timecode (with the zone offset), over the
    /// timecoded frames: mean and max.
    pub to_wire_mean_ns: Option<i64>,
    pub to_wire_max_ns: Option<i64>,
}

/// The timecode health of a stream's frames (in sending order), given the median
/// frame interval in ms; `None` if no frame has a timecode.
pub fn health(frames: &[TxFrame], median_interval_ms: Option<i64>) -> Option<TimecodeHealth> {
    let marked: Vec<(u32, TimecodeMark)> = frames
        .iter()
        .filter_map(|f| f.timecode.map(|t| (f.rtmp_ts_ms, t)))
        .collect();
    if marked.is_empty() {
        return None;
    }
    let interval = median_interval_ms.filter(|&m| m > 0);
    let rate = interval.map(|m| ((1000.0 / m as f64).round() as i64).max(1));
    let mut out = TimecodeHealth {
        frames: marked.len() as u64,
        discontinuities: marked.iter().filter(|(_, t)| t.discontinuity).count() as u64,
        ..TimecodeHealth::default()
    };
    if let (Some(m), Some(rate)) = (interval, rate) {
        let position = |t: &TimecodeMark| {
            t.second_of_day
                .map(|s| i64::from(s) * rate + i64::from(t.frames))
        };
        for w in marked.windows(2) {
            let ((ts0, a), (ts1, b)) = (w[0], w[1]);
            let (Some(p0), Some(p1)) = (position(&a), position(&b)) else {
                continue;
            };
            if b.discontinuity {
                continue;
            }
            let expected = ((i64::from(ts1) - i64::from(ts0)) as f64 / m as f64).round() as i64;
            let actual = (p1 - p0).rem_euclid(86_400 * rate);
            let actual = if actual > 43_200 * rate {
                actual - 86_400 * rate
            } else {
                actual
            };
            if (actual - expected).abs() > 1 {
                out.jumps += 1;
            }
        }
        time_of_day(&marked, rate, &mut out);
    }
    Some(out)
}

/// Wire time − timecode of a frame, wrapped into (−12 h, +12 h].
fn wire_minus_timecode(t: &TimecodeMark, rate: i64) -> Option<i64> {
    let tc = i64::from(t.second_of_day?) * SECOND + i64::from(t.frames) * SECOND / rate;
    let d = (t.host_first_byte_ns.rem_euclid(DAY) - tc).rem_euclid(DAY);
    Some(if d > DAY / 2 { d - DAY } else { d })
}

fn time_of_day(marked: &[(u32, TimecodeMark)], rate: i64, out: &mut TimecodeHealth) {
    let mut d: Vec<i64> = marked
        .iter()
        .filter_map(|(_, t)| wire_minus_timecode(t, rate))
        .collect();
    if d.is_empty() {
        return;
    }
    let mut sorted = d.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let zone = (median - TOD_WINDOW.0).div_euclid(ZONE_STEP) * ZONE_STEP;
    let residual = median - zone;
    if residual < TOD_WINDOW.0 || residual > TOD_WINDOW.1 {
        return;
    }
    out.time_of_day = true;
    out.zone_offset_s = Some(-zone / SECOND);
    for v in &mut d {
        // Every frame with the median frame's zone; a frame on the other side of
        // a day boundary wraps back.
        *v = (*v - zone + DAY / 2).rem_euclid(DAY) - DAY / 2;
    }
    out.to_wire_mean_ns = Some(d.iter().sum::<i64>() / d.len() as i64);
    out.to_wire_max_ns = d.iter().copied().max();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame at `ts` ms, first byte at `wire_ns` (host clock), timecode
    /// `sod` seconds + `frames`.
    fn frame(ts: u32, wire_ns: i64, sod: u32, frames: u16, discontinuity: bool) -> TxFrame {
        TxFrame {
            rtmp_ts_ms: ts,
            keyframe: false,
            size: 1000,
            fingerprint: None,
            first_byte_ns: wire_ns,
            ingest_ns: None,
            encoder: None,
            timecode: Some(TimecodeMark {
                host_first_byte_ns: wire_ns,
                second_of_day: Some(sod),
                frames,
                discontinuity,
            }),
        }
    }

    /// 2026-12-03 11:00:00 UTC as ns since the epoch: 1_796_295_600 s.
    const T0: i64 = 1_796_295_600 * SECOND;

    #[test]
    fn time_of_day_in_a_zone_gives_the_encoder_to_wire_time() {
        // 25 fps, the encoder's clock at UTC+1 (12:00:00 local at 11:00:00 UTC),
        // each frame on the wire 120 ms after its timecode.
        let frames: Vec<TxFrame> = (0..50u32)
            .map(|i| {
                let tc_ns = T0 + i64::from(i) * 40_000_000;
                frame(
                    i * 40,
                    tc_ns + 120_000_000,
                    12 * 3600 + i / 25,
                    (i % 25) as u16,
                    false,
                )
            })
            .collect();
        let h = health(&frames, Some(40)).unwrap();
        assert_eq!((h.frames, h.jumps, h.discontinuities), (50, 0, 0));
        assert!(h.time_of_day);
        assert_eq!(h.zone_offset_s, Some(3600));
        assert_eq!(
            (h.to_wire_mean_ns, h.to_wire_max_ns),
            (Some(120_000_000), Some(120_000_000))
        );
    }

    #[test]
    fn a_timecode_from_zero_is_continuity_only_and_jumps_are_counted() {
        // Starts at 00:00:00:00 at 11:07:23.5 UTC (not within 30 s of a quarter
        // hour), 30 fps; frame 40 jumps 10 frames ahead unannounced, frame 70 is
        // a flagged discontinuity back to 0.
        let start = T0 + (7 * 60 + 23) * SECOND + SECOND / 2;
        let mut frames: Vec<TxFrame> = Vec::new();
        for i in 0..100u32 {
            let pos = match i {
                0..=39 => i,
                40..=69 => i + 10,
                _ => i - 70,
            };
            let wire = start + i64::from(i) * 33_333_333;
            frames.push(frame(
                i * 100 / 3,
                wire,
                pos / 30,
                (pos % 30) as u16,
                i == 70,
            ));
        }
        let h = health(&frames, Some(33)).unwrap();
        assert_eq!((h.frames, h.jumps, h.discontinuities), (100, 1, 1));
        assert!(!h.time_of_day);
        assert_eq!(h.to_wire_mean_ns, None);
        assert_eq!(health(&frames[..0], Some(33)), None);
    }
}
