//! NAL unit iteration over the two framings a coded picture travels in.
//!
//! * **AVCC** (ISO/IEC 14496-15, used by FLV/RTMP and MP4): every NAL unit is
//!   preceded by a big-endian length of `length_size` bytes (1, 2 or 4; the
//!   decoder configuration record says which).
//! * **Annex-B** (ITU-T H.264 Annex B, used by MPEG-TS/HLS): NAL units are
//!   separated by start codes `00 00 01` or `00 00 00 01`.
//!
//! Both iterators borrow their input and never allocate. They stop at the first
//! framing error instead of guessing; [`AvccIter::is_truncated`] says whether
//! that happened, so callers can count it.

/// One NAL unit: header byte(s) and payload, still with emulation-prevention bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nal<'a>(pub &'a [u8]);

impl<'a> Nal<'a> {
    /// The bytes of the NAL unit (header included, emulation prevention not removed).
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }

    /// H.264 `nal_unit_type` (low 5 bits of the first byte); `None` for an empty NAL.
    pub fn h264_type(&self) -> Option<u8> {
        self.0.first().map(|b| b & 0x1f)
    }

    /// HEVC `nal_unit_type` (bits 1..7 of the first byte); `None` for an empty NAL.
    pub fn hevc_type(&self) -> Option<u8> {
        self.0.first().map(|b| (b >> 1) & 0x3f)
    }

    /// The NAL unit type for `codec` (`None` for codecs without NAL units).
    pub fn nal_type(&self, codec: crate::Codec) -> Option<u8> {
        match codec {
            crate::Codec::H264 => self.h264_type(),
            crate::Codec::Hevc => self.hevc_type(),
            crate::Codec::Av1 | crate::Codec::Vp9 => None,
        }
    }

    /// Whether this NAL unit carries slice data of a coded picture (see
    /// [`crate::is_slice`]).
    pub fn is_slice(&self, codec: crate::Codec) -> bool {
        self.nal_type(codec)
            .is_some_and(|t| crate::is_slice(codec, t))
    }
}

impl std::fmt::Debug for Nal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Nal(len={}, first={:02x?})",
            self.0.len(),
            self.0.first()
        )
    }
}

/// Iterate over the NAL units of an AVCC buffer (length-prefixed).
///
/// `length_size` must be 1..=4; any other value yields nothing and reports truncation.
/// Zero-length NAL units are skipped.
pub fn iter_avcc(data: &[u8], length_size: u8) -> AvccIter<'_> {
    AvccIter {
        rest: data,
        length_size: length_size as usize,
        truncated: !(1..=4).contains(&length_size),
    }
}

/// Iterator returned by [`iter_avcc`].
#[derive(Clone, Debug)]
pub struct AvccIter<'a> {
    rest: &'a [u8],
    length_size: usize,
    truncated: bool,
}

impl AvccIter<'_> {
    /// True once the iterator met a length prefix that runs past the end of the data
    /// (or the length size was invalid). Meaningful after the iterator is exhausted.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for AvccIter<'a> {
    type Item = Nal<'a>;

    fn next(&mut self) -> Option<Nal<'a>> {
        if self.truncated {
            return None;
        }
        loop {
            if self.rest.is_empty() {
                return None;
            }
            if self.rest.len() < self.length_size {
                self.truncated = true;
                return None;
            }
            let (prefix, tail) = self.rest.split_at(self.length_size);
            let len = prefix
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | b as usize);
            if len > tail.len() {
                self.truncated = true;
                self.rest = &[];
                return None;
            }
            let (nal, tail) = tail.split_at(len);
            self.rest = tail;
            if !nal.is_empty() {
                return Some(Nal(nal));
            }
        }
    }
}

/// Iterate over the NAL units of an Annex-B byte stream (start-code delimited).
///
/// Bytes before the first start code are ignored. Trailing zero bytes of each NAL
/// unit are dropped: they are `trailing_zero_8bits` or the first byte of a 4-byte
/// start code, never part of the NAL unit (a NAL unit cannot end in `00`).
pub fn iter_annexb(data: &[u8]) -> AnnexBIter<'_> {
    let rest = match find_start_code(data) {
        Some((_, after)) => &data[after..],
        None => &[],
    };
    AnnexBIter { rest }
}

/// Iterator returned by [`iter_annexb`].
#[derive(Clone, Debug)]
pub struct AnnexBIter<'a> {
    /// Bytes right after a start code.
    rest: &'a [u8],
}

impl<'a> AnnexBIter<'a> {
    /// The next NAL unit, and whether it holds an emulation-prevention byte (what
    /// [`has_emulation_prevention`] says of it), found by the same scan.
    pub fn next_marked(&mut self) -> Option<(Nal<'a>, bool)> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (found, epb) = scan_to_start_code(self.rest);
            let (nal, next) = match found {
                Some((at, after)) => (&self.rest[..at], &self.rest[after..]),
                None => (self.rest, &[][..]),
            };
            self.rest = next;
            let nal = trim_trailing_zeros(nal);
            if !nal.is_empty() {
                return Some((Nal(nal), epb));
            }
        }
    }
}

impl<'a> Iterator for AnnexBIter<'a> {
    type Item = Nal<'a>;

    fn next(&mut self) -> Option<Nal<'a>> {
        self.next_marked().map(|(nal, _)| nal)
    }
}

pub(crate) fn trim_trailing_zeros(mut nal: &[u8]) -> &[u8] {
    while let [head @ .., 0] = nal {
        nal = head;
    }
    nal
}

/// Finds pairs of zero bytes. In a NAL unit's escaped bytes `00 00` occurs only
/// before an emulation-prevention `03` or as part of a start code, so searching for
/// the pair (SIMD, both bytes checked at once) stops only where something is to be
/// done. Searching for the `01` or `03` instead stopped at every such byte of the
/// compressed data, one in 128, and the restarts cost more than the scan.
fn zero_pairs() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\0\0"))
}

/// Find the first `00 00 01`; returns (index of its first zero, index after the `01`).
fn find_start_code(data: &[u8]) -> Option<(usize, usize)> {
    scan_to_start_code(data).0
}

/// [`find_start_code`], also saying whether an emulation-prevention `00 00 03` came
/// before the start code (or anywhere, when there is none): the zero pairs that
/// lead to start codes lead to those bytes too, so one scan answers both.
fn scan_to_start_code(data: &[u8]) -> (Option<(usize, usize)>, bool) {
    let mut from = 0;
    let mut epb = false;
    while let Some(rel) = zero_pairs().find(&data[from..]) {
        let i = from + rel;
        match data.get(i + 2) {
            Some(1) => return (Some((i, i + 3)), epb),
            // `00 00 00`: the next pair starts one byte on.
            Some(0) => from = i + 1,
            // `00 00 xx`: neither zero begins a start code.
            Some(x) => {
                epb |= *x == 3;
                from = i + 2;
            }
            None => break,
        }
    }
    (None, epb)
}

/// Whether `nal` holds an emulation-prevention byte (`00 00 03`).
pub fn has_emulation_prevention(nal: &[u8]) -> bool {
    let mut from = 0;
    while let Some(rel) = zero_pairs().find(&nal[from..]) {
        let i = from + rel;
        match nal.get(i + 2) {
            Some(3) => return true,
            Some(_) => from = i + 1,
            None => return false,
        }
    }
    false
}

/// Feed the RBSP of `nal` (emulation-prevention bytes `03` after `00 00` removed) to
/// `sink` as a sequence of contiguous slices, without allocating.
///
/// `00 00 03` is recognised on the raw bytes: the byte before an emulation-prevention
/// byte is never a `03`, so checking the two raw bytes before each `03` gives the
/// same result as the standard's byte-by-byte zero counter.
pub fn for_each_rbsp_run(nal: &[u8], mut sink: impl FnMut(&[u8])) {
    let mut start = 0;
    let mut from = 0;
    while let Some(rel) = zero_pairs().find(&nal[from..]) {
        let i = from + rel;
        match nal.get(i + 2) {
            Some(3) => {
                if i + 2 > start {
                    sink(&nal[start..i + 2]);
                }
                start = i + 3;
                from = i + 3;
            }
            Some(_) => from = i + 1,
            None => break,
        }
    }
    if start < nal.len() {
        sink(&nal[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rbsp(nal: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for_each_rbsp_run(nal, |s| out.extend_from_slice(s));
        out
    }

    #[test]
    fn avcc_iteration_yields_each_length_prefixed_nal() {
        let data = [0, 0, 0, 2, 0x09, 0xf0, 0, 0, 0, 3, 0x65, 1, 2];
        let nals: Vec<_> = iter_avcc(&data, 4).map(|n| n.0.to_vec()).collect();
        assert_eq!(nals, vec![vec![0x09, 0xf0], vec![0x65, 1, 2]]);
    }

    #[test]
    fn avcc_iteration_stops_and_reports_a_length_running_past_the_end() {
        let data = [0, 2, 0x09, 0xf0, 0, 9, 0x65];
        let mut it = iter_avcc(&data, 2);
        assert_eq!(it.next(), Some(Nal(&[0x09, 0xf0])));
        assert_eq!(it.next(), None);
        assert!(it.is_truncated());
    }

    #[test]
    fn avcc_iteration_rejects_a_length_size_of_zero_or_five() {
        assert!(iter_avcc(&[1, 2, 3], 0).next().is_none());
        assert!(iter_avcc(&[1, 2, 3], 5).is_truncated());
    }

    #[test]
    fn annexb_iteration_handles_three_and_four_byte_start_codes() {
        let data = [
            0xff, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 1, 2, 0, 0, 0, 1, 0x41, 7, 0,
        ];
        let nals: Vec<_> = iter_annexb(&data).map(|n| n.0.to_vec()).collect();
        assert_eq!(
            nals,
            vec![vec![0x09, 0xf0], vec![0x65, 1, 2], vec![0x41, 7]]
        );
    }

    #[test]
    fn annexb_iteration_of_data_without_start_code_is_empty() {
        assert_eq!(iter_annexb(&[0x65, 0, 0, 2, 0]).count(), 0);
        assert_eq!(iter_annexb(&[]).count(), 0);
        assert_eq!(iter_annexb(&[0, 0, 1]).count(), 0);
    }

    /// The standard's definitions, byte by byte, as the reference for the searches.
    fn naive_start_code(data: &[u8]) -> Option<(usize, usize)> {
        data.windows(3)
            .position(|w| w == [0, 0, 1])
            .map(|i| (i, i + 3))
    }

    fn naive_rbsp(nal: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = 0;
        for &b in nal {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }

    #[test]
    fn searches_agree_with_the_byte_by_byte_definitions() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            // Mostly the bytes that matter, so that patterns are frequent.
            let data: Vec<u8> = (0..len)
                .map(|_| [0, 0, 0, 1, 3, 3, 2, 0x65][(next() % 8) as usize])
                .collect();
            assert_eq!(find_start_code(&data), naive_start_code(&data), "{data:?}");
            let mut it = iter_annexb(&data);
            while let Some((nal, epb)) = it.next_marked() {
                assert_eq!(epb, has_emulation_prevention(nal.0), "{data:?}");
            }
            assert_eq!(rbsp(&data), naive_rbsp(&data), "{data:?}");
            assert_eq!(
                has_emulation_prevention(&data),
                naive_rbsp(&data).len() < data.len(),
                "{data:?}"
            );
        }
    }

    #[test]
    fn rbsp_drops_emulation_prevention_bytes_only_after_two_zeros() {
        assert_eq!(
            rbsp(&[0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3]),
            [0x65, 0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(rbsp(&[0x65, 0, 3, 3, 0, 0, 3, 3]), [0x65, 0, 3, 3, 0, 0, 3]);
        assert_eq!(rbsp(&[3, 0, 0]), [3, 0, 0]);
        assert_eq!(rbsp(&[]), [0u8; 0]);
    }
}
