//! An MSB-first bit reader over an RBSP, with the descriptors the H.264 / HEVC / AV1
//! syntax tables use: `u(n)` / `f(n)`, `i(n)` (two's complement), `ue(v)` and
//! `se(v)` (Exp-Golomb, H.264 §9.1). Every read returns `None` past the end instead
//! of panicking, so a truncated SEI or parameter set just stops parsing.

/// Reads bits from a byte slice, most significant bit first.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Bits left to read.
    pub fn remaining(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// One bit as a flag.
    pub fn flag(&mut self) -> Option<bool> {
        self.u(1).map(|b| b == 1)
    }

    /// `u(n)` for `n` ≤ 32.
    pub fn u(&mut self, n: u32) -> Option<u32> {
        if n > 32 || self.remaining() < n as usize {
            return None;
        }
        let mut v = 0u64;
        for _ in 0..n {
            let byte = self.data[self.pos / 8];
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u64::from(bit);
            self.pos += 1;
        }
        u32::try_from(v).ok()
    }

    /// `i(n)` for 1 ≤ `n` ≤ 32: two's complement on `n` bits (H.264 §7.2).
    pub fn i(&mut self, n: u32) -> Option<i64> {
        if n == 0 {
            return None;
        }
        let v = i64::from(self.u(n)?);
        Some(if v >> (n - 1) & 1 == 1 {
            v - (1i64 << n)
        } else {
            v
        })
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        (self.remaining() >= n).then(|| self.pos += n)
    }

    /// `ue(v)`: at most 31 leading zeros (values < 2^32 − 1), more is malformed.
    pub fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.u(zeros)?;
        u32::try_from((1u64 << zeros) - 1 + u64::from(rest)).ok()
    }

    /// `se(v)` (H.264 §9.1.1).
    pub fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes_of_h264_table_9_2() {
        // Table 9-2: 1 → 0, 010 → 1, 011 → 2, 00100 → 3, 00111 → 6; Table 9-3 maps
        // codeNum 1, 2, 3, 4 to se 1, −1, 2, −2.
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0011, 0b1000_0000]);
        assert_eq!(r.ue(), Some(0));
        assert_eq!(r.ue(), Some(1));
        assert_eq!(r.ue(), Some(2));
        assert_eq!(r.ue(), Some(3));
        assert_eq!(r.ue(), Some(6));
        assert_eq!(r.ue(), None);
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0101]);
        assert_eq!(r.se(), Some(1));
        assert_eq!(r.se(), Some(-1));
        assert_eq!(r.se(), Some(2));
        assert_eq!(r.se(), Some(-2));
    }

    #[test]
    fn fixed_width_reads_and_the_end() {
        let mut r = BitReader::new(&[0xf0, 0x0f]);
        assert_eq!(r.u(4), Some(0xf));
        assert_eq!(r.i(4), Some(0));
        assert_eq!(r.i(4), Some(0));
        assert_eq!(r.i(4), Some(-1));
        assert_eq!(r.u(1), None);
        assert_eq!(BitReader::new(&[0; 8]).u(33), None);
        assert_eq!(BitReader::new(&[0xff; 4]).u(32), Some(u32::MAX));
        // 32 zeros then a one: longer than any ue(v) value.
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0x80, 0, 0, 0, 0]).ue(), None);
    }
}
