//! Distribution summaries: count, mean with a 95% confidence interval, and
//! percentiles from an HDR histogram.
//!
//! Samples are integer nanoseconds and may be negative (a downlink leg measured
//! against a millisecond server stamp can be). The histogram holds `value − min`, so
//! negative samples are fine. Percentiles have 3 significant digits of that shifted
//! value (0.1 % relative resolution); min, max and mean are exact.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The summary every distribution in the report gets. All times in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: Option<f64>,
    /// Half-width of the 95% confidence interval of the mean (Student's t with
    /// n−1 degrees of freedom); `None` below two samples.
    pub ci95_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Two-sided 97.5% quantile of Student's t for `df` degrees of freedom.
pub fn t975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df as usize - 1],
        _ => {
            // Cornish–Fisher expansion around the normal quantile; < 1e-4 off for df > 30.
            let z: f64 = 1.959_963_985;
            let d = df as f64;
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

/// Summaries of samples grouped by a label, in label order.
pub fn grouped(samples: impl IntoIterator<Item = (String, i64)>) -> BTreeMap<String, Summary> {
    let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (k, v) in samples {
        groups.entry(k).or_default().push(v);
    }
    groups
        .into_iter()
        .map(|(k, v)| (k, Summary::of(&v)))
        .collect()
}

impl Summary {
    /// Summarise the samples an iterator yields.
    pub fn of_iter(samples: impl IntoIterator<Item = i64>) -> Summary {
        Summary::of(&samples.into_iter().collect::<Vec<_>>())
    }

    /// Summarise nanosecond samples.
    pub fn of(samples: &[i64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let n = samples.len() as u64;
        let min = *samples.iter().min().expect("non-empty");
        let max = *samples.iter().max().expect("non-empty");
        let mean = samples.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let ci95 = (n >= 2).then(|| {
            let var = samples
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1) as f64;
            t975(n - 1) * (var / n as f64).sqrt()
        });
        // 3 significant digits over the shifted range; auto-resize keeps any range.
        let mut hist = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        hist.auto(true);
        for &v in samples {
            let shifted = (v as i128 - min as i128).clamp(0, u64::MAX as i128) as u64;
            // Cannot fail with auto-resize on; a failure would only lose one sample.
            let _ = hist.record(shifted);
        }
        let q = |quantile: f64| {
            let v = min as f64 + hist.value_at_quantile(quantile) as f64;
            ms(v.clamp(min as f64, max as f64))
        };
        Summary {
            count: n,
            mean_ms: Some(ms(mean)),
            ci95_ms: ci95.map(ms),
            min_ms: Some(ms(min as f64)),
            p50_ms: Some(q(0.50)),
            p90_ms: Some(q(0.90)),
            p99_ms: Some(q(0.99)),
            max_ms: Some(ms(max as f64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= tol)
    }

    #[test]
    fn empty_sample_set_has_count_zero_and_no_figures() {
        let s = Summary::of(&[]);
        assert_eq!(s.count, 0);
        assert_eq!(s.mean_ms, None);
        assert_eq!(s.p50_ms, None);
    }

    #[test]
    fn one_to_hundred_milliseconds_match_hand_computed_figures() {
        let samples: Vec<i64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.count, 100);
        assert!(close(s.mean_ms, 50.5, 1e-9));
        // sd = sqrt(100*101/12) = 29.0115; se = 2.90115; t(99) = 1.9842.
        assert!(
            close(s.ci95_ms, 1.9842 * 2.901_149, 0.002),
            "{:?}",
            s.ci95_ms
        );
        assert!(close(s.min_ms, 1.0, 1e-9));
        assert!(close(s.max_ms, 100.0, 1e-9));
        // Nearest rank: p50 = 50th value, p90 = 90th, p99 = 99th (0.1% resolution).
        assert!(close(s.p50_ms, 50.0, 0.05), "{:?}", s.p50_ms);
        assert!(close(s.p90_ms, 90.0, 0.09), "{:?}", s.p90_ms);
        assert!(close(s.p99_ms, 99.0, 0.1), "{:?}", s.p99_ms);
    }

    #[test]
    fn negative_samples_are_summarised_too() {
        let s = Summary::of(&[-3_000_000, -1_000_000, 2_000_000]);
        assert!(close(s.min_ms, -3.0, 1e-9));
        assert!(close(s.max_ms, 2.0, 1e-9));
        assert!(close(s.mean_ms, -2.0 / 3.0, 1e-9));
        assert!(close(s.p50_ms, -1.0, 0.005), "{:?}", s.p50_ms);
        // sd = sqrt(((−3+2/3)²+(−1+2/3)²+(2+2/3)²)/2) = 2.5166; t(2) = 4.303.
        assert!(close(s.ci95_ms, 4.303 * 2.516_611 / 3f64.sqrt(), 1e-3));
    }

    #[test]
    fn single_sample_has_no_confidence_interval() {
        let s = Summary::of(&[7_000_000]);
        assert_eq!(s.ci95_ms, None);
        assert!(close(s.p99_ms, 7.0, 1e-9));
    }

    #[test]
    fn t_quantile_approaches_the_normal_one() {
        assert!((t975(31) - 2.0395).abs() < 1e-3);
        assert!((t975(120) - 1.9799).abs() < 1e-3);
        assert!((t975(100_000) - 1.96).abs() < 1e-3);
    }
}
