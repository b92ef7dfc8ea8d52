//! TCP sequence numbers: 32-bit, compared modulo 2^32.
//!
//! Wrap-around lives here and nowhere else: the reassembler turns every sequence
//! number into a 64-bit stream offset relative to the next byte it expects, so the
//! rest of lagtap only ever sees monotonically growing offsets.

/// A TCP sequence number.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance from `other` to `self`, valid while the two are less than
    /// 2^31 apart (RFC 793's comparison rule).
    pub fn distance_from(self, other: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }

    pub fn advance(self, n: u64) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_crosses_wrap_around() {
        let before = SeqNumber(u32::MAX - 9);
        let after = SeqNumber(5);
        assert_eq!(after.distance_from(before), 15);
        assert_eq!(before.distance_from(after), -15);
    }

    #[test]
    fn adding_wraps() {
        assert_eq!(SeqNumber(u32::MAX).advance(2), SeqNumber(1));
    }
}
