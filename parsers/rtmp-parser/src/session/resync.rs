//! Where decoding may restart after a gap: the checks a candidate chunk header
//! must pass against what the chunk streams were before the gap (see
//! `validate_candidate`), kept apart from the decoder that calls them.

use super::*;

impl DirDecoder {
    /// Is `buf[0..]` a safe place to restart decoding after a gap? A type-0 or
    /// type-1 header (the ones that carry length and type) on a chunk stream known
    /// from before the gap, whose type, stream id, length and timestamp agree with
    /// that stream's history, whose payload starts like that stream's payloads did,
    /// and which is followed by another header that the decoder could apply. Each
    /// check alone is weak; together a false match on random payload bytes is of the
    /// order of 10^-10 per position.
    ///
    /// Encoders (ffmpeg, OBS) and nginx-rtmp send type 0 only at the start of a
    /// chunk stream, so type 1 candidates are what makes resync possible at all.
    pub(super) fn validate_candidate(&self, buf: &[u8]) -> Verdict {
        if buf[0] >> 6 > 1 {
            return Verdict::Invalid;
        }
        let (after, h) = match chunk_header(buf) {
            Ok(x) => x,
            Err(_) => return Verdict::NeedMore,
        };
        let cs = self.find(h.csid).map(|i| &self.streams[i]);
        let plausible = match cs {
            Some(cs) => plausible_header(cs, &h),
            None => self.plausible_new_stream(&h),
        };
        if !plausible {
            return Verdict::Invalid;
        }
        let last_first_byte = cs.and_then(|c| c.last_first_byte);
        let len = h.length.unwrap_or(0);
        let first_chunk = len.min(self.chunk_size) as usize;
        if first_chunk > 0 {
            let Some(&p0) = after.first() else {
                return Verdict::NeedMore;
            };
            let t = h.type_id.unwrap_or(0);
            let ok = match (t, last_first_byte) {
                (8, Some(b)) => p0 >> 4 == b >> 4,
                (9, Some(b)) => {
                    (p0 & 0x80) == (b & 0x80) && (p0 & 0x80 != 0 || p0 & 0x0f == b & 0x0f)
                }
                (18 | 20, _) => p0 == 0x02,
                (15 | 17, _) => p0 == 0x00,
                _ => true,
            };
            if !ok {
                return Verdict::Invalid;
            }
        }
        if first_chunk > RESYNC_LOOKAHEAD {
            return Verdict::Valid;
        }
        let Some(next) = after.get(first_chunk..) else {
            return Verdict::NeedMore;
        };
        let (_, n) = match chunk_header(next) {
            Ok(x) => x,
            Err(_) => return Verdict::NeedMore,
        };
        let ok = if n.csid == h.csid {
            match n.fmt {
                0 => n.msid == h.msid,
                1 => n.type_id.is_some_and(|t| MessageType(t).is_known()),
                // Continuation, or a new message repeating the candidate's header.
                2 => len as usize == first_chunk,
                _ => true,
            }
        } else {
            match self.find(n.csid).map(|i| &self.streams[i]) {
                Some(ncs) if n.fmt <= 1 => plausible_header(ncs, &n),
                // A chunk stream first used after (or in) the gap.
                None if n.fmt == 0 => self.plausible_new_stream(&n),
                None if n.fmt == 1 => n.type_id.is_some_and(|t| {
                    let t = MessageType(t);
                    t.is_known()
                        && n.timestamp_value().is_some_and(|d| d <= RESYNC_MAX_DELTA)
                        && n.length.is_some_and(|l| length_plausible(t, l, 0))
                }),
                // Type 2/3 on another stream would inherit state lost in the gap.
                _ => false,
            }
        };
        if ok {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

impl DirDecoder {
    /// A type-0 header on a chunk stream not seen before the gap: its message stream
    /// id must be one in use, its timestamp near the latest seen, its length sane.
    pub(super) fn plausible_new_stream(&self, h: &RawHeader) -> bool {
        let (0, Some(t), Some(len), Some(msid)) = (h.fmt, h.type_id, h.length, h.msid) else {
            return false;
        };
        let latest = self.streams.iter().map(|c| c.timestamp).max().unwrap_or(0);
        let ts = h.timestamp_value().unwrap_or(0);
        MessageType(t).is_known()
            && (msid == 0 || self.streams.iter().any(|c| c.msid == msid))
            && length_plausible(MessageType(t), len, 0)
            && ts_distance(ts, latest) <= RESYNC_MAX_TIMESTAMP_JUMP
    }
}

/// Distance between two wrapping millisecond timestamps.
pub(super) fn ts_distance(a: u32, b: u32) -> u32 {
    a.wrapping_sub(b).min(b.wrapping_sub(a))
}

/// Control messages have fixed lengths; others are bounded relative to the longest
/// message seen on the chunk stream (`max_len`).
pub(super) fn length_plausible(t: MessageType, len: u32, max_len: u32) -> bool {
    match t.0 {
        1 | 2 | 3 | 5 => len == 4,
        6 => len == 5,
        4 => (6..=10).contains(&len),
        _ => len <= MAX_MESSAGE_LEN && len <= RESYNC_MIN_LEN_BOUND.max(max_len.saturating_mul(4)),
    }
}

/// A type-0 or type-1 header agrees with what its chunk stream carried before a gap.
pub(super) fn plausible_header(cs: &ChunkStream, h: &RawHeader) -> bool {
    let (Some(t), Some(len)) = (h.type_id, h.length) else {
        return false;
    };
    let t = MessageType(t);
    let group = |t: MessageType| match t.0 {
        1..=6 => 0,
        8 => 8,
        9 => 9,
        _ => 1,
    };
    if !t.is_known() || group(t) != group(MessageType(cs.type_id)) {
        return false;
    }
    if h.msid.is_some_and(|m| m != cs.msid) {
        return false;
    }
    let len_ok = length_plausible(t, len, cs.max_len);
    let ts = h.timestamp_value().unwrap_or(0);
    let ts_ok = if h.fmt == 0 {
        ts_distance(ts, cs.timestamp) <= RESYNC_MAX_TIMESTAMP_JUMP
    } else {
        ts <= RESYNC_MAX_DELTA
    };
    len_ok && ts_ok
}
