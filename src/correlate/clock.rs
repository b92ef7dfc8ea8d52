//! Per-host clock model: the host clock's offset from the reference clock (the NTP
//! server's), and its drift, estimated from the NTP exchanges in the host's own
//! capture.
//!
//! Sign convention, defined here once: **offset = host clock − reference clock**.
//! A host whose clock is ahead has a positive offset, and a reference time is
//! `t_ref = t_capture − offset(t_capture)`. An NTP exchange measures the opposite
//! quantity (server − host, `((T2−T1)+(T3−T4))/2`), so a sample's offset is its
//! negation. A capture shifted with `editcap -t +0.25` has offset +0.25 s.

use serde::Serialize;

use crate::events::Event;

/// Where a host's clock model came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    /// Estimated from NTP exchanges in the host's capture.
    Ntp,
    /// Given on the command line (`--offset NAME=SECONDS`).
    Manual,
    /// Neither: the host is assumed to be synchronised (offset 0, error unknown).
    None,
}

impl ClockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Ntp => "ntp",
            ClockSource::Manual => "manual",
            ClockSource::None => "none",
        }
    }
}

/// One NTP measurement of this host's clock, in the host → reference sign.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct NtpSample {
    /// Midpoint of T1 and T4 (capture clock).
    pub t_ns: i64,
    /// Host − reference.
    pub offset_ns: i64,
    /// Round trip minus the server's hold time.
    pub delay_ns: i64,
}

impl NtpSample {
    /// From the four timestamps of an exchange (T1, T4 capture; T2, T3 server).
    pub fn from_timestamps(t1: i64, t2: i64, t3: i64, t4: i64) -> NtpSample {
        let (t1, t2, t3, t4) = (t1 as i128, t2 as i128, t3 as i128, t4 as i128);
        let server_minus_host = ((t2 - t1) + (t3 - t4)) / 2;
        let delay = (t4 - t1) - (t3 - t2);
        NtpSample {
            t_ns: ((t1 + t4) / 2) as i64,
            offset_ns: (-server_minus_host).clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            delay_ns: delay.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        }
    }
}

/// Fewest minimum-delay samples for a linear fit (else: the single best sample).
pub const MIN_FIT_SAMPLES: usize = 4;
/// Shortest time span of the kept samples for a linear fit, ns.
pub const MIN_FIT_SPAN_NS: i64 = 10_000_000_000;
/// A fitted drift beyond this is not believed (a fit to noise); the constant
/// offset of the best sample is used instead.
pub const MAX_DRIFT_PPM: f64 = 500.0;
/// Samples with a delay above this are discarded outright (1 s).
const MAX_DELAY_NS: i64 = 1_000_000_000;

/// A host's clock: `offset(t) = offset_ns + drift_ppm·1e-6·(t − t0_ns)`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ClockModel {
    pub source: ClockSource,
    /// Host − reference at `t0_ns`.
    pub offset_ns: i64,
    /// Capture-clock time the offset refers to.
    pub t0_ns: i64,
    /// Rate of the offset's change, µs per s: positive = host clock runs fast.
    pub drift_ppm: f64,
    /// Bound on |offset error|: the largest delay/2 of the samples used (0 for
    /// manual and unknown for `none`, where it is reported as 0 and flagged).
    pub error_ns: i64,
    /// NTP exchanges seen, and the minimum-delay ones the estimate used.
    pub samples: usize,
    pub samples_used: usize,
    /// "fit" (least squares over time), "min_delay" (the single best sample),
    /// "manual" or "none".
    #[serde(deserialize_with = "super::units::static_tag::deserialize")]
    pub method: super::units::Tag,
}

impl ClockModel {
    pub fn unsynced() -> ClockModel {
        ClockModel {
            source: ClockSource::None,
            offset_ns: 0,
            t0_ns: 0,
            drift_ppm: 0.0,
            error_ns: 0,
            samples: 0,
            samples_used: 0,
            method: "none",
        }
    }

    /// A constant offset given by the user, in seconds (host − reference).
    pub fn manual(offset_s: f64) -> ClockModel {
        ClockModel {
            source: ClockSource::Manual,
            offset_ns: (offset_s * 1e9).round() as i64,
            method: "manual",
            ..ClockModel::unsynced()
        }
    }

    /// Host − reference at capture time `t_ns`.
    pub fn offset_at(&self, t_ns: i64) -> i64 {
        let dt = (t_ns as i128 - self.t0_ns as i128) as f64;
        // f64 → i64 saturates; so does the sum.
        self.offset_ns
            .saturating_add((self.drift_ppm * 1e-6 * dt).round() as i64)
    }

    /// Reference-clock time of a capture time on this host.
    pub fn to_ref(&self, t_ns: i64) -> i64 {
        t_ns.saturating_sub(self.offset_at(t_ns))
    }

    /// Estimate from a host's NTP samples; `None` without usable samples.
    ///
    /// Minimum-delay filtering: samples are sorted by delay and the lowest quartile
    /// is kept (nearest rank, at least `MIN_FIT_SAMPLES` when there are that many).
    /// With at least `MIN_FIT_SAMPLES` kept samples spanning `MIN_FIT_SPAN_NS`, the
    /// offset is a least-squares line over time; otherwise the offset of the single
    /// minimum-delay sample, without drift.
    pub fn estimate(samples: &[NtpSample]) -> Option<ClockModel> {
        let mut usable: Vec<NtpSample> = samples
            .iter()
            .copied()
            .filter(|s| s.delay_ns >= 0 && s.delay_ns <= MAX_DELAY_NS)
            .collect();
        if usable.is_empty() {
            return None;
        }
        usable.sort_by_key(|s| (s.delay_ns, s.t_ns));
        let quartile = usable.len().div_ceil(4);
        let keep = quartile.max(MIN_FIT_SAMPLES).min(usable.len());
        let kept = &usable[..keep];
        let error_ns = kept.iter().map(|s| s.delay_ns / 2).max().unwrap_or(0);
        let best = kept[0];
        let single = ClockModel {
            source: ClockSource::Ntp,
            offset_ns: best.offset_ns,
            t0_ns: best.t_ns,
            drift_ppm: 0.0,
            error_ns: best.delay_ns / 2,
            samples: samples.len(),
            samples_used: 1,
            method: "min_delay",
        };
        let t_min = kept.iter().map(|s| s.t_ns).min().unwrap_or(0);
        let t_max = kept.iter().map(|s| s.t_ns).max().unwrap_or(0);
        if kept.len() < MIN_FIT_SAMPLES || t_max - t_min < MIN_FIT_SPAN_NS {
            return Some(single);
        }
        // Least squares y = a + b·x with x in seconds from the kept samples' mean time.
        let n = kept.len() as f64;
        let t0 = (kept.iter().map(|s| s.t_ns as i128).sum::<i128>() / kept.len() as i128) as i64;
        let xs: Vec<f64> = kept.iter().map(|s| (s.t_ns - t0) as f64 / 1e9).collect();
        let ys: Vec<f64> = kept.iter().map(|s| s.offset_ns as f64).collect();
        let mx = xs.iter().sum::<f64>() / n;
        let my = ys.iter().sum::<f64>() / n;
        let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
        if sxx <= 0.0 {
            return Some(single);
        }
        let slope_ns_per_s = sxy / sxx;
        let drift_ppm = slope_ns_per_s / 1e3;
        if !drift_ppm.is_finite() || drift_ppm.abs() > MAX_DRIFT_PPM {
            return Some(single);
        }
        let intercept = my - slope_ns_per_s * mx;
        Some(ClockModel {
            source: ClockSource::Ntp,
            offset_ns: intercept.round() as i64,
            t0_ns: t0,
            drift_ppm,
            error_ns,
            samples: samples.len(),
            samples_used: kept.len(),
            method: "fit",
        })
    }
}

/// The NTP samples of the exchanges this host made as a client. `own` is the host's
/// address when known: exchanges it answered as the server are not about its clock.
pub fn ntp_samples(events: &[Event], own: Option<&str>) -> Vec<NtpSample> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NtpExchange {
                client,
                t1_ns,
                t2_ns,
                t3_ns,
                t4_ns,
                ..
            } => {
                if own.is_some_and(|own| crate::correlate::roles::ip_of(client) != own) {
                    return None;
                }
                Some(NtpSample::from_timestamps(*t1_ns, *t2_ns, *t3_ns, *t4_ns))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator (xorshift) so the tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// One exchange against a host clock `host(t) = t + offset(t)`, with one-way
    /// delays `up` and `down` (reference ns) and a server hold time.
    fn exchange(t_true: i64, offset: impl Fn(i64) -> i64, up: i64, down: i64) -> NtpSample {
        let t1_true = t_true;
        let t2 = t1_true + up;
        let t3 = t2 + 30_000;
        let t4_true = t3 + down;
        NtpSample::from_timestamps(t1_true + offset(t1_true), t2, t3, t4_true + offset(t4_true))
    }

    #[test]
    fn host_clock_ahead_gives_positive_offset_and_earlier_reference_time() {
        // Host clock 250 ms ahead, symmetric 100 µs each way.
        let s = exchange(1_000_000_000_000, |_| 250_000_000, 100_000, 100_000);
        assert_eq!(s.offset_ns, 250_000_000);
        assert_eq!(s.delay_ns, 200_000);
        let m = ClockModel::estimate(&[s]).unwrap();
        assert_eq!(m.method, "min_delay");
        assert_eq!(m.to_ref(1_000_250_000_000), 1_000_000_000_000);
        assert_eq!(m.error_ns, 100_000);
    }

    #[test]
    fn fit_recovers_offset_and_drift_despite_asymmetric_spikes() {
        let t_start: i64 = 1_795_000_000_000_000_000;
        let true_offset = |t: i64| -40_000_000 + ((t - t_start) as f64 * 25e-6) as i64; // 25 ppm
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut samples = Vec::new();
        for i in 0..80 {
            let t = t_start + i * 4_000_000_000 + (rng.next() * 1e9) as i64;
            // Base path 150 µs each way ±20 µs; half of the replies queue behind
            // up to 30 ms of traffic on the downlink only (asymmetric).
            let up = 150_000 + (rng.next() * 20_000.0) as i64;
            let mut down = 150_000 + (rng.next() * 20_000.0) as i64;
            if rng.next() < 0.5 {
                down += (rng.next() * 30_000_000.0) as i64;
            }
            samples.push(exchange(t, true_offset, up, down));
        }
        let m = ClockModel::estimate(&samples).unwrap();
        assert_eq!(m.method, "fit");
        assert_eq!(m.source, ClockSource::Ntp);
        assert!((m.drift_ppm - 25.0).abs() < 0.5, "drift {}", m.drift_ppm);
        for t in [
            t_start,
            t_start + 160_000_000_000,
            t_start + 320_000_000_000,
        ] {
            let err = (m.offset_at(t) - true_offset(t)).abs();
            assert!(err < 50_000, "offset error {err} ns at {t}");
        }
        assert!(m.error_ns < 200_000, "error bound {}", m.error_ns);
        assert!(m.error_ns >= 150_000);
    }

    #[test]
    fn few_samples_use_the_minimum_delay_one_without_drift() {
        let base = 1_795_000_000_000_000_000;
        let samples = [
            exchange(base, |_| 5_000_000, 100_000, 3_000_000),
            exchange(base + 5_000_000_000, |_| 5_000_000, 100_000, 120_000),
            exchange(base + 9_000_000_000, |_| 5_000_000, 2_000_000, 100_000),
        ];
        let m = ClockModel::estimate(&samples).unwrap();
        assert_eq!(m.method, "min_delay");
        assert_eq!(m.drift_ppm, 0.0);
        assert!((m.offset_ns - 5_000_000).abs() <= 10_000, "{}", m.offset_ns);
        assert_eq!(m.error_ns, 110_000);
    }

    #[test]
    fn negative_delays_are_discarded() {
        let s = NtpSample {
            t_ns: 0,
            offset_ns: 1,
            delay_ns: -5,
        };
        assert_eq!(ClockModel::estimate(&[s]), None);
    }

    #[test]
    fn manual_offset_is_host_minus_reference_in_seconds() {
        let m = ClockModel::manual(-0.18);
        assert_eq!(m.to_ref(1_000_000_000), 1_180_000_000);
        assert_eq!(m.source.as_str(), "manual");
    }
}
