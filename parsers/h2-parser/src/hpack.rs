//! HPACK (RFC 7541) decoding: the dynamic table, the four field representations,
//! integers, string literals and the Huffman code. Why it is here and not a crate:
//! see the crate docs ("HPACK").

use std::collections::VecDeque;
use std::sync::OnceLock;

/// Bytes a table entry counts beyond its name and value (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;

/// The static table (RFC 7541 Appendix A), indices 1 to 61.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Code lengths of the Huffman code (RFC 7541 Appendix B) for symbols 0-255 and
/// EOS (256). The code is canonical: codes of one length are consecutive in symbol
/// order and follow the codes of the next shorter length, so the lengths define it.
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS: u16 = 256;
const MAX_CODE_LEN: usize = 30;

/// The canonical code as decoding tables.
struct Huffman {
    /// Per length: the first code of that length and how many there are.
    first: [u32; MAX_CODE_LEN + 1],
    count: [u32; MAX_CODE_LEN + 1],
    /// Per length: where its symbols start in `symbols`.
    start: [u16; MAX_CODE_LEN + 1],
    /// Symbols ordered by (code length, symbol): the canonical code order.
    symbols: [u16; 257],
    /// For the next 8 input bits: (symbol, length) of a code of at most 8 bits that
    /// starts them, length 0 if the code is longer.
    fast: [(u16, u8); 256],
}

impl Huffman {
    fn get() -> &'static Huffman {
        static TABLES: OnceLock<Huffman> = OnceLock::new();
        TABLES.get_or_init(Huffman::build)
    }

    fn build() -> Huffman {
        let mut h = Huffman {
            first: [0; MAX_CODE_LEN + 1],
            count: [0; MAX_CODE_LEN + 1],
            start: [0; MAX_CODE_LEN + 1],
            symbols: [0; 257],
            fast: [(0, 0); 256],
        };
        for &len in &CODE_LENGTHS {
            h.count[usize::from(len)] += 1;
        }
        let (mut code, mut at) = (0u32, 0u16);
        for len in 1..=MAX_CODE_LEN {
            code = (code + h.count[len - 1]) << 1;
            h.first[len] = code;
            h.start[len] = at;
            at += h.count[len] as u16;
        }
        let mut next = h.start;
        for (sym, &len) in CODE_LENGTHS.iter().enumerate() {
            let len = usize::from(len);
            h.symbols[usize::from(next[len])] = sym as u16;
            next[len] += 1;
        }
        for len in 1..=8 {
            for k in 0..h.count[len] {
                let code = h.first[len] + k;
                let sym = h.symbols[usize::from(h.start[len]) + k as usize];
                // Every byte whose top `len` bits are this code.
                let shift = 8 - len;
                for low in 0..1u32 << shift {
                    h.fast[((code << shift) | low) as usize] = (sym, len as u8);
                }
            }
        }
        h
    }

    /// Decodes `input` onto `out`. Errors: EOS inside the string, padding longer
    /// than 7 bits or not all ones (RFC 7541 §5.2).
    fn decode(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
        // Bits not yet decoded, left-aligned in `acc`.
        let (mut acc, mut bits, mut i) = (0u64, 0u32, 0);
        loop {
            while bits <= 56 && i < input.len() {
                acc |= u64::from(input[i]) << (56 - bits);
                bits += 8;
                i += 1;
            }
            if bits == 0 {
                return Ok(());
            }
            let (sym, len) = self.fast[(acc >> 56) as usize];
            let (sym, len) = if len != 0 && u32::from(len) <= bits {
                (sym, u32::from(len))
            } else {
                match self.slow(acc, bits) {
                    Some(found) => found,
                    // Only padding can be left: at most 7 bits, all ones.
                    None if bits <= 7 && acc >> (64 - bits) == (1 << bits) - 1 => return Ok(()),
                    None => return Err("h2.hpack_bad_huffman"),
                }
            };
            if sym == EOS {
                return Err("h2.hpack_bad_huffman");
            }
            out.push(sym as u8);
            acc <<= len;
            bits -= len;
        }
    }

    /// The code of more than 8 bits (or near the end) that starts `acc`.
    fn slow(&self, acc: u64, bits: u32) -> Option<(u16, u32)> {
        for len in 5..=MAX_CODE_LEN.min(bits as usize) {
            let code = (acc >> (64 - len)) as u32;
            let k = code.wrapping_sub(self.first[len]);
            if k < self.count[len] {
                return Some((
                    self.symbols[usize::from(self.start[len]) + k as usize],
                    len as u32,
                ));
            }
        }
        None
    }
}

/// One direction's HPACK decoding state.
pub(crate) struct Decoder {
    /// Newest first: index 62 is `table[0]`.
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max_size: usize,
    /// The largest `max_size` a size update may set.
    bound: usize,
    /// Scratch for Huffman-coded names and values.
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Decoder {
    pub fn new(initial: usize) -> Decoder {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: initial,
            bound: initial,
            name: Vec::new(),
            value: Vec::new(),
        }
    }

    /// The largest table size a dynamic table size update may ask for.
    pub fn set_bound(&mut self, bound: usize) {
        self.bound = bound;
    }

    /// Decodes a complete header block, calling `field` with each name and value.
    /// On an error the table may be part-updated: the caller gives the direction up.
    pub fn decode(
        &mut self,
        mut block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), &'static str> {
        let mut fields_seen = false;
        while let Some(&first) = block.first() {
            if first & 0x80 != 0 {
                let (index, n) = integer(block, 7)?;
                block = &block[n..];
                let (name, value) = self.entry(index)?;
                field(name, value);
            } else if first & 0xe0 == 0x20 {
                // Size updates come first in a block (RFC 7541 §4.2).
                if fields_seen {
                    return Err("h2.hpack_late_size_update");
                }
                let (size, n) = integer(block, 5)?;
                block = &block[n..];
                if size > self.bound {
                    return Err("h2.hpack_table_size_over_bound");
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                let (indexing, prefix) = match first & 0xc0 {
                    0x40 => (true, 6),
                    _ => (false, 4),
                };
                let (index, n) = integer(block, prefix)?;
                block = &block[n..];
                let mut name = std::mem::take(&mut self.name);
                name.clear();
                if index == 0 {
                    block = &block[string(block, &mut name)?..];
                } else {
                    name.extend_from_slice(self.entry(index)?.0);
                }
                let mut value = std::mem::take(&mut self.value);
                value.clear();
                let n = string(block, &mut value)?;
                field(&name, &value);
                if indexing {
                    self.insert(&name, &value);
                }
                (self.name, self.value) = (name, value);
                block = &block[n..];
            }
            fields_seen = true;
        }
        Ok(())
    }

    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), &'static str> {
        match index {
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.as_bytes(), v.as_bytes()))
            }
            _ => index
                .checked_sub(62)
                .and_then(|i| self.table.get(i))
                .map(|(n, v)| (&n[..], &v[..]))
                .ok_or("h2.hpack_bad_index"),
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.max_size {
            // An entry larger than the table empties it (RFC 7541 §4.4).
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(size);
        self.table.push_front((name.to_vec(), value.to_vec()));
        self.size += size;
    }

    /// Drops the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            let Some((n, v)) = self.table.pop_back() else {
                self.size = 0;
                return;
            };
            self.size -= n.len() + v.len() + ENTRY_OVERHEAD;
        }
    }
}

/// An integer with an `prefix`-bit prefix at the start of `buf` (RFC 7541 §5.1):
/// its value and length. Values above 2^32 are errors.
fn integer(buf: &[u8], prefix: u32) -> Result<(usize, usize), &'static str> {
    let max = (1u64 << prefix) - 1;
    let first = u64::from(buf[0]) & max;
    if first < max {
        return Ok((first as usize, 1));
    }
    let mut value = max;
    for (k, &b) in buf[1..].iter().enumerate().take(5) {
        value += u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return match u32::try_from(value) {
                Ok(v) => Ok((v as usize, k + 2)),
                Err(_) => Err("h2.hpack_integer_too_large"),
            };
        }
    }
    Err(if buf.len() > 6 {
        "h2.hpack_integer_too_large"
    } else {
        "h2.hpack_truncated"
    })
}

/// A string literal at the start of `buf` appended to `out`; its length on the
/// wire.
fn string(buf: &[u8], out: &mut Vec<u8>) -> Result<usize, &'static str> {
    if buf.is_empty() {
        return Err("h2.hpack_truncated");
    }
    let (len, n) = integer(buf, 7)?;
    let raw = buf
        .get(n..n.checked_add(len).ok_or("h2.hpack_truncated")?)
        .ok_or("h2.hpack_truncated")?;
    if buf[0] & 0x80 != 0 {
        Huffman::get().decode(raw, out)?;
    } else {
        out.extend_from_slice(raw);
    }
    Ok(n + len)
}

/// The Huffman code of `sym` (code, length): for tests that encode.
#[cfg(test)]
fn huffman_code(sym: u8) -> (u32, u8) {
    let h = Huffman::get();
    let len = CODE_LENGTHS[usize::from(sym)];
    let l = usize::from(len);
    let rank = h.symbols[usize::from(h.start[l])..]
        .iter()
        .position(|&s| s == u16::from(sym))
        .unwrap_or(0);
    (h.first[l] + rank as u32, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn huffman_encode(text: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &b in text {
            let (code, len) = huffman_code(b);
            acc = acc << len | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) as u8) | ((1u8 << (8 - bits)) - 1));
        }
        out
    }

    #[test]
    fn rfc_7541_c_4_1_huffman_request() {
        // "www.example.com" Huffman-coded (RFC 7541 Appendix C.4.1).
        let coded = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let mut out = Vec::new();
        Huffman::get().decode(&coded, &mut out).unwrap();
        assert_eq!(out, b"www.example.com");
        assert_eq!(huffman_encode(b"www.example.com"), coded);
    }

    #[test]
    fn every_byte_value_round_trips_through_the_code() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        Huffman::get()
            .decode(&huffman_encode(&all), &mut out)
            .unwrap();
        assert_eq!(out, all);
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        let mut out = Vec::new();
        // 'a' is 00011 (5 bits): padding 000 is not ones.
        assert!(Huffman::get().decode(&[0x18], &mut out).is_err());
        // Eight bits of padding.
        assert!(Huffman::get().decode(&[0x1f, 0xff], &mut out).is_err());
        // EOS (30 ones) inside the string.
        assert!(Huffman::get()
            .decode(&[0xff, 0xff, 0xff, 0xff], &mut out)
            .is_err());
    }

    #[test]
    fn integers_of_rfc_7541_c_1() {
        assert_eq!(integer(&[10], 5), Ok((10, 1)));
        assert_eq!(integer(&[31, 154, 10], 5), Ok((1337, 3)));
        assert_eq!(integer(&[42], 8), Ok((42, 1)));
        assert!(integer(&[31, 0xff, 0xff, 0xff, 0xff, 0x7f], 5).is_err());
        assert!(integer(&[31, 0x80], 5).is_err());
    }
}
