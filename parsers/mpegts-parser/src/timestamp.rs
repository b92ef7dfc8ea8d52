//! 33-bit 90 kHz PTS/DTS and their wrap-around (every 26.5 hours).

/// A PTS or DTS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The 33-bit value as coded, in 90 kHz ticks.
    pub raw: u64,
    /// Extended across wraps and made relative to the first timestamp the
    /// [`Unwrapper`] saw (negative for e.g. a DTS before the first PTS).
    pub relative: i64,
}

const WRAP: i64 = 1 << 33;

/// Extends 33-bit timestamps to 64 bits: each value is placed in the wrap period
/// that puts it closest to the previous one. Keep one per program, and pass it
/// from segment to segment ([`crate::TsDemuxer::with_unwrapper`]) so that
/// timestamps of consecutive segments stay comparable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unwrapper {
    /// (first raw value, last unwrapped value relative to it)
    state: Option<(u64, i64)>,
}

impl Unwrapper {
    /// Unwraps `raw` (only its low 33 bits are used).
    pub fn unwrap(&mut self, raw: u64) -> Timestamp {
        let raw = raw & (WRAP as u64 - 1);
        let relative = match self.state {
            None => {
                self.state = Some((raw, 0));
                0
            }
            Some((first, last)) => {
                let base = raw as i64 - first as i64;
                // base + k * WRAP nearest to `last`.
                let k = (last - base + WRAP / 2).div_euclid(WRAP);
                let rel = base + k * WRAP;
                self.state = Some((first, rel));
                rel
            }
        };
        Timestamp { raw, relative }
    }

    /// The first raw value seen, if any.
    pub fn origin(&self) -> Option<u64> {
        self.state.map(|(first, _)| first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_across_the_33_bit_wrap_keep_increasing() {
        let mut u = Unwrapper::default();
        let near_end = WRAP as u64 - 90_000;
        assert_eq!(u.unwrap(near_end).relative, 0);
        assert_eq!(u.unwrap(near_end + 45_000).relative, 45_000);
        assert_eq!(u.unwrap(10_000).relative, 100_000);
        // A B-frame's slightly earlier PTS after the wrap stays just before.
        assert_eq!(u.unwrap(WRAP as u64 - 1).relative, 89_999);
        assert_eq!(u.unwrap(20_000).relative, 110_000);
    }

    #[test]
    fn a_dts_before_the_first_pts_is_negative() {
        let mut u = Unwrapper::default();
        u.unwrap(69_030);
        assert_eq!(u.unwrap(63_000).relative, -6_030);
    }
}
