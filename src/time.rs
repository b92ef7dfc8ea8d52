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
    fn rfc3339_keeps_nanoseconds() {
        let t = Timestamp(1_700_000_000_000_000_001);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.000000001Z");
    }
}
