//! Capture time: integer nanoseconds since the Unix epoch.
//!
//! Every time lagtap handles is one of these. Floats would lose the nanosecond
//! resolution pcapng and nanosecond pcap give us (an f64 holds ~0.2 µs at today's epoch),
//! and latency differences of NTP-corrected clocks are taken between such values.

use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z (negative before it).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// From whole seconds and a fraction expressed in `units_per_sec` units (pcap's µs or
    /// ns, pcapng's `if_tsresol`). Saturates rather than wrapping on absurd inputs.
    pub fn from_units(total_units: u64, units_per_sec: u64, offset_secs: i64) -> Self {
        // Nearly every capture is in µs or ns: those are one multiplication, not the
        // 128-bit division below (a library call that showed in `inspect`'s profile).
        // Anything that would overflow i64 takes the exact, saturating path.
        let nanos_per_unit = match units_per_sec {
            1_000_000_000 => 1,
            1_000_000 => 1_000,
            _ => 0,
        };
        if nanos_per_unit != 0 {
            let fast = i64::try_from(total_units)
                .ok()
                .and_then(|u| u.checked_mul(nanos_per_unit))
                .and_then(|n| n.checked_add(offset_secs.checked_mul(Self::NANOS_PER_SEC)?));
            if let Some(n) = fast {
                return Timestamp(n);
            }
        }
        let units_per_sec = units_per_sec.max(1);
        let secs = (total_units / units_per_sec) as i128 + offset_secs as i128;
        let frac = (total_units % units_per_sec) as i128;
        let nanos = secs * Self::NANOS_PER_SEC as i128
            + frac * Self::NANOS_PER_SEC as i128 / units_per_sec as i128;
        Timestamp(nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    pub fn nanos(self) -> i64 {
        self.0
    }

    /// RFC 3339 with nanoseconds, UTC (`2026-11-25T04:09:53.123456789Z`).
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(Self::NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(Self::NANOS_PER_SEC) as u32;
        match chrono::DateTime::from_timestamp(secs, nanos) {
            Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            None => format!("{}ns", self.0),
        }
    }

    /// Seconds between `earlier` and `self`, as f64 for display only.
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1e9
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsecond_units_become_nanoseconds() {
        let t = Timestamp::from_units(1_700_000_000_123_456, 1_000_000, 0);
        assert_eq!(t.0, 1_700_000_000_123_456_000);
    }

    #[test]
    fn binary_resolution_and_offset_are_honoured() {
        // if_tsresol = 0x80|10: 1/1024 s units; 512 units = 0.5 s; offset +10 s.
        let t = Timestamp::from_units(512, 1024, 10);
        assert_eq!(t.0, 10_500_000_000);
    }

    #[test]
    fn the_fast_path_agrees_with_the_exact_one() {
        // The exact arithmetic, kept here as the reference.
        fn exact(total: u64, per_sec: u64, offset: i64) -> i64 {
            let per_sec = per_sec.max(1) as i128;
            let total = total as i128;
            let nanos = (total / per_sec + offset as i128) * 1_000_000_000
                + (total % per_sec) * 1_000_000_000 / per_sec;
            nanos.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        }
        let totals = [
            0,
            1,
            999_999,
            1_700_000_000_123_456,
            1_700_000_000_123_456_789,
            i64::MAX as u64 / 1000,
            i64::MAX as u64 / 1000 + 1,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
        ];
        let offsets = [
            0,
            10,
            -10,
            1_764_000_000,
            i64::MAX / 1_000_000_000 + 1,
            i64::MIN,
            i64::MAX,
        ];
        for total in totals {
            for per_sec in [1_000_000, 1_000_000_000] {
                for offset in offsets {
                    assert_eq!(
                        Timestamp::from_units(total, per_sec, offset).0,
                        exact(total, per_sec, offset),
                        "{total} {per_sec} {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn rfc3339_keeps_nanoseconds() {
        let t = Timestamp(1_700_000_000_000_000_001);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.000000001Z");
    }
}
