//! One direction of a TCP connection, reassembled into a byte stream in which every
//! byte keeps two capture times.
//!
//! * `first_seen`: when the byte was first on the wire in this capture. On a sender's
//!   host that is when the application's data left; it is what broadcast latency is
//!   measured from.
//! * `delivered`: when the byte became deliverable in order, i.e. when every byte
//!   before it had arrived too. On a receiver's host that is when the application
//!   could have read it.
//!
//! Policy, chosen to match what a receiving TCP stack does and what Wireshark's
//! "Follow TCP stream" shows: the first copy of a byte wins; later copies are
//! retransmissions (and counted as conflicting overlaps when their bytes differ).
//! Bytes the capture never saw become a *gap* event of known length so the consumer
//! can resync; buffering of out-of-order data is bounded, and exceeding the bound
//! declares the hole a gap rather than growing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::seq::SeqNumber;
use crate::time::Timestamp;

/// Out-of-order bytes buffered per direction before a hole is declared a gap. A real
/// receive window is rarely above a few MiB on the testbeds lagtap serves.
pub const MAX_PENDING_BYTES: usize = 8 << 20;
/// Out-of-order segments buffered per direction, bounding the map's overhead.
pub const MAX_PENDING_SEGMENTS: usize = 16 * 1024;

/// In-order bytes handed to the consumer. All bytes of one chunk share their times.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// Stream offset of `data[0]` (0 = first byte after the SYN, or the first byte
    /// captured when the connection's start was not).
    pub offset: u64,
    pub data: &'a [u8],
    pub first_seen: Timestamp,
    pub delivered: Timestamp,
}

/// What the reassembler tells its consumer, in stream order.
#[derive(Clone, Copy, Debug)]
pub enum StreamEvent<'a> {
    Data(Chunk<'a>),
    /// `len` bytes at `offset` were never captured; the next `Data` starts at
    /// `offset + len`.
    Gap {
        offset: u64,
        len: u64,
        at: Timestamp,
    },
}

/// Per-direction counters, reported by `inspect` and used by source-health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HalfStats {
    pub packets: u64,
    /// Reassembled payload bytes delivered in order (gaps excluded).
    pub bytes: u64,
    pub retransmissions: u64,
    /// Segments that brought new bytes below data already seen: on a receiver, late
    /// or reordered segments; on a sender's capture, retransmissions of segments lost
    /// before the capture point (a shaping qdisc drops before the tap).
    pub hole_fills: u64,
    pub out_of_order: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub conflicting_overlaps: u64,
    pub zero_windows: u64,
    /// Bytes that lay before the point where a mid-connection capture picked the
    /// stream up, and so could not be placed.
    pub before_start_bytes: u64,
}

struct Pending {
    data: Vec<u8>,
    first_seen: Timestamp,
}

/// Reassembler for one direction.
#[derive(Default)]
pub struct HalfStream {
    /// Sequence number of stream offset 0; `None` until the first SYN or data.
    base: Option<SeqNumber>,
    /// Next stream offset expected in order.
    next: u64,
    /// One past the highest stream offset seen.
    highest: u64,
    /// Out-of-order data keyed by stream offset; ranges never overlap.
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Stream offset of the FIN, once seen.
    fin_at: Option<u64>,
    ended: bool,
    pub stats: HalfStats,
}

impl HalfStream {
    /// Synchronise on a SYN: the byte after it is offset 0.
    pub fn syn(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(SeqNumber(seq).advance(1));
        }
    }

    pub fn next_offset(&self) -> u64 {
        self.next
    }

    pub fn is_synchronised(&self) -> bool {
        self.base.is_some()
    }

    /// True once the FIN was reached in order (or the stream was flushed).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Stream offset of `seq`, relative to the next expected byte.
    fn offset_of(&self, base: SeqNumber, seq: u32) -> i64 {
        self.next as i64 + SeqNumber(seq).distance_from(base.advance(self.next))
    }

    /// Takes one segment's payload (`data` captured, `wire_len` on the wire).
    pub fn segment<F>(
        &mut self,
        ts: Timestamp,
        seq: u32,
        data: &[u8],
        wire_len: u32,
        fin: bool,
        sink: &mut F,
    ) where
        F: FnMut(StreamEvent<'_>),
    {
        let base = *self.base.get_or_insert(SeqNumber(seq));
        let mut start = self.offset_of(base, seq);
        let wire_len = u64::from(wire_len.max(data.len() as u32));
        let mut data = &data[..data.len().min(wire_len as usize)];
        let end = start + wire_len as i64;
        if fin {
            let fin_at = end.max(0) as u64;
            self.fin_at.get_or_insert(fin_at);
        }
        if wire_len == 0 {
            self.check_fin();
            return;
        }
        if start < 0 {
            // Before the point a mid-connection capture started from: unplaceable.
            let skip = (-start) as u64;
            self.stats.before_start_bytes += skip.min(wire_len);
            if end <= 0 {
                return;
            }
            data = &data[(skip as usize).min(data.len())..];
            start = 0;
        }
        let next = self.next as i64;
        if end <= next {
            self.stats.retransmissions += 1;
            return;
        }
        if start < next {
            self.stats.retransmissions += 1;
            let skip = (next - start) as usize;
            data = &data[skip.min(data.len())..];
            start = next;
        }
        let start = start as u64;
        let missing_tail = (end - start as i64) as u64 - data.len() as u64;
        let fills_hole = start < self.highest && !data.is_empty();
        self.highest = self.highest.max(end as u64);
        if start > self.next {
            self.stats.out_of_order += 1;
            let fresh = self.insert_pending(start, data, ts);
            if fills_hole && fresh {
                self.stats.hole_fills += 1;
            }
            self.enforce_bounds(ts, sink);
            return;
        }
        // In order: the common case hands the packet's own bytes over without copying.
        if self.pending.is_empty() {
            if !data.is_empty() {
                self.deliver(data, ts, ts, sink);
            }
        } else {
            if fills_hole {
                self.stats.hole_fills += 1;
            }
            self.insert_pending(start, data, ts);
            self.drain(ts, sink);
        }
        if missing_tail > 0 && self.next == start + data.len() as u64 {
            // A snaplen cut: the rest of this segment was on the wire but not captured.
            // Later bytes already buffered bound the hole.
            let hole = match self.pending.keys().next() {
                Some(&first) => missing_tail.min(first - self.next),
                None => missing_tail,
            };
            self.skip_gap(hole, ts, sink);
            self.drain(ts, sink);
        }
        self.check_fin();
    }

    fn deliver<F>(&mut self, data: &[u8], first_seen: Timestamp, delivered: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        sink(StreamEvent::Data(Chunk {
            offset: self.next,
            data,
            first_seen,
            delivered,
        }));
        self.next += data.len() as u64;
        self.stats.bytes += data.len() as u64;
    }

    fn skip_gap<F>(&mut self, len: u64, at: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        sink(StreamEvent::Gap {
            offset: self.next,
            len,
            at,
        });
        self.next += len;
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
    }

    /// Stores out-of-order bytes, first copy winning over later overlapping ones.
    /// Returns whether any of them were new.
    fn insert_pending(&mut self, start: u64, data: &[u8], ts: Timestamp) -> bool {
        let end = start + data.len() as u64;
        if data.is_empty() {
            return false;
        }
        // Existing ranges that overlap [start, end).
        let mut overlaps: Vec<(u64, u64)> = Vec::new();
        if let Some((&s, p)) = self.pending.range(..=start).next_back() {
            let e = s + p.data.len() as u64;
            if e > start {
                overlaps.push((s, e));
            }
        }
        for (&s, p) in self.pending.range(start + 1..end) {
            overlaps.push((s, s + p.data.len() as u64));
        }
        if overlaps.is_empty() {
            self.put(start, data.to_vec(), ts);
            return true;
        }
        let mut cursor = start;
        let mut conflicting = false;
        let mut fresh = Vec::new();
        for &(s, e) in &overlaps {
            if s > cursor {
                fresh.push((cursor, s.min(end)));
            }
            let (os, oe) = (s.max(start), e.min(end));
            if os < oe {
                let old = &self.pending[&s].data[(os - s) as usize..(oe - s) as usize];
                let new = &data[(os - start) as usize..(oe - start) as usize];
                conflicting |= old != new;
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            fresh.push((cursor, end));
        }
        if conflicting {
            self.stats.conflicting_overlaps += 1;
        }
        if fresh.is_empty() {
            self.stats.retransmissions += 1;
        }
        let any = !fresh.is_empty();
        for (s, e) in fresh {
            let piece = data[(s - start) as usize..(e - start) as usize].to_vec();
            self.put(s, piece, ts);
        }
        any
    }

    fn put(&mut self, at: u64, data: Vec<u8>, first_seen: Timestamp) {
        self.pending_bytes += data.len();
        self.pending.insert(at, Pending { data, first_seen });
    }

    /// Delivers pending data that has become contiguous with `next`.
    fn drain<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.next {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.data.len();
            let skip = (self.next - at) as usize;
            if skip < p.data.len() {
                self.deliver(&p.data[skip..], p.first_seen, ts, sink);
            }
        }
    }

    /// Declares holes gaps until the buffered data fits the bounds again.
    fn enforce_bounds<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING_SEGMENTS {
            self.skip_to_first_pending(ts, sink);
        }
    }

    fn skip_to_first_pending<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        if let Some(&first) = self.pending.keys().next() {
            if first > self.next {
                self.skip_gap(first - self.next, ts, sink);
            }
            self.drain(ts, sink);
        }
    }

    fn check_fin(&mut self) {
        if let Some(fin_at) = self.fin_at {
            if self.next >= fin_at && self.pending.is_empty() {
                self.ended = true;
            }
        }
    }

    /// End of this direction (FIN/RST, flow expiry or end of capture): whatever is
    /// still buffered is delivered, with the holes before it reported as gaps.
    pub fn flush<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(ts, sink);
        }
        if let Some(fin_at) = self.fin_at {
            if fin_at > self.next {
                // The FIN says more was sent than the capture holds.
                self.skip_gap(fin_at - self.next, ts, sink);
            }
        }
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the consumer saw: bytes with their two times, and gaps.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Data(u64, Vec<u8>, i64, i64),
        Gap(u64, u64),
    }

    struct Harness {
        half: HalfStream,
        seen: Vec<Seen>,
    }

    impl Harness {
        fn new() -> Self {
            Harness {
                half: HalfStream::default(),
                seen: Vec::new(),
            }
        }
        fn syn(mut self, isn: u32) -> Self {
            self.half.syn(isn);
            self
        }
        fn seg(&mut self, t: i64, seq: u32, data: &[u8]) {
            self.seg_cut(t, seq, data, data.len() as u32);
        }
        fn seg_cut(&mut self, t: i64, seq: u32, data: &[u8], wire_len: u32) {
            let seen = &mut self.seen;
            self.half
                .segment(Timestamp(t), seq, data, wire_len, false, &mut |ev| {
                    seen.push(record(ev))
                });
        }
        fn flush(&mut self, t: i64) {
            let seen = &mut self.seen;
            self.half
                .flush(Timestamp(t), &mut |ev| seen.push(record(ev)));
        }
        fn stream(&self) -> Vec<u8> {
            self.seen
                .iter()
                .flat_map(|s| match s {
                    Seen::Data(_, d, _, _) => d.clone(),
                    Seen::Gap(..) => Vec::new(),
                })
                .collect()
        }
    }

    fn record(ev: StreamEvent<'_>) -> Seen {
        match ev {
            StreamEvent::Data(c) => {
                Seen::Data(c.offset, c.data.to_vec(), c.first_seen.0, c.delivered.0)
            }
            StreamEvent::Gap { offset, len, .. } => Seen::Gap(offset, len),
        }
    }

    #[test]
    fn in_order_segments_are_delivered_at_once_with_equal_times() {
        let mut h = Harness::new().syn(1000);
        h.seg(10, 1001, b"hello ");
        h.seg(20, 1007, b"world");
        assert_eq!(
            h.seen,
            vec![
                Seen::Data(0, b"hello ".to_vec(), 10, 10),
                Seen::Data(6, b"world".to_vec(), 20, 20)
            ]
        );
        assert_eq!(h.half.stats.bytes, 11);
    }

    #[test]
    fn out_of_order_bytes_keep_their_first_seen_time_and_are_delivered_when_the_hole_fills() {
        let mut h = Harness::new().syn(0);
        h.seg(10, 6, b"world");
        assert!(h.seen.is_empty());
        h.seg(30, 1, b"hello");
        assert_eq!(
            h.seen,
            vec![
                Seen::Data(0, b"hello".to_vec(), 30, 30),
                Seen::Data(5, b"world".to_vec(), 10, 30)
            ]
        );
        assert_eq!(h.half.stats.out_of_order, 1);
        assert_eq!(h.half.stats.hole_fills, 1);
        assert_eq!(h.half.stats.retransmissions, 0);
    }

    #[test]
    fn retransmission_of_delivered_bytes_is_counted_and_dropped() {
        let mut h = Harness::new().syn(0);
        h.seg(10, 1, b"abcdef");
        h.seg(20, 1, b"abcdef");
        h.seg(30, 4, b"defgh");
        assert_eq!(h.stream(), b"abcdefgh");
        assert_eq!(h.half.stats.retransmissions, 2);
        // The new tail of the partial retransmission is first seen at 30.
        assert_eq!(h.seen.last(), Some(&Seen::Data(6, b"gh".to_vec(), 30, 30)));
    }

    #[test]
    fn overlapping_out_of_order_copies_keep_the_first_and_count_conflicts() {
        let mut h = Harness::new().syn(0);
        h.seg(10, 5, b"EFGH");
        h.seg(20, 3, b"cdXXYYij"); // overlaps EFGH with different bytes
        h.seg(30, 1, b"ab");
        assert_eq!(h.stream(), b"abcdEFGHij");
        assert_eq!(h.half.stats.conflicting_overlaps, 1);
    }

    #[test]
    fn identical_overlap_is_a_retransmission_not_a_conflict() {
        let mut h = Harness::new().syn(0);
        h.seg(10, 5, b"EFGH");
        h.seg(20, 5, b"EFGH");
        h.seg(30, 1, b"abcd");
        assert_eq!(h.stream(), b"abcdEFGH");
        assert_eq!(h.half.stats.conflicting_overlaps, 0);
        assert_eq!(h.half.stats.retransmissions, 1);
    }

    #[test]
    fn sequence_numbers_wrap_around_without_a_seam() {
        let mut h = Harness::new().syn(u32::MAX - 3);
        h.seg(1, u32::MAX - 2, b"abc"); // seq MAX-2, MAX-1, MAX
        h.seg(2, 0, b"def"); // wrapped
        h.seg(3, 3, b"ghi");
        assert_eq!(h.stream(), b"abcdefghi");
        assert_eq!(h.seen[1], Seen::Data(3, b"def".to_vec(), 2, 2));
    }

    #[test]
    fn a_connection_whose_start_was_not_captured_starts_at_its_first_byte() {
        let mut h = Harness::new();
        h.seg(1, 5_000_000, b"mid");
        h.seg(2, 5_000_003, b"dle");
        assert_eq!(h.stream(), b"middle");
        assert_eq!(h.seen[0], Seen::Data(0, b"mid".to_vec(), 1, 1));
        // An earlier segment arriving late cannot be placed before offset 0.
        h.seg(3, 4_999_990, b"0123456789");
        assert_eq!(h.half.stats.before_start_bytes, 10);
    }

    #[test]
    fn bytes_the_capture_missed_become_a_gap_at_flush() {
        let mut h = Harness::new().syn(0);
        h.seg(1, 1, b"aaaa");
        h.seg(2, 9, b"cccc"); // 4 bytes at offset 4 never captured
        h.flush(3);
        assert_eq!(
            h.seen,
            vec![
                Seen::Data(0, b"aaaa".to_vec(), 1, 1),
                Seen::Gap(4, 4),
                Seen::Data(8, b"cccc".to_vec(), 2, 3),
            ]
        );
        assert_eq!((h.half.stats.gaps, h.half.stats.gap_bytes), (1, 4));
    }

    #[test]
    fn snaplen_cut_tail_is_reported_as_a_gap_and_the_stream_continues() {
        let mut h = Harness::new().syn(0);
        h.seg_cut(1, 1, b"head", 10); // 6 bytes cut by snaplen
        h.seg(2, 11, b"next");
        assert_eq!(
            h.seen,
            vec![
                Seen::Data(0, b"head".to_vec(), 1, 1),
                Seen::Gap(4, 6),
                Seen::Data(10, b"next".to_vec(), 2, 2)
            ]
        );
    }

    #[test]
    fn out_of_order_buffer_is_bounded_and_overflow_declares_the_hole_a_gap() {
        let mut h = Harness::new().syn(0);
        let seg = vec![7u8; 60_000];
        // Offset 0..1000 is never seen; everything after it is.
        let mut seq = 1001u32;
        let total = MAX_PENDING_BYTES + 2 * seg.len();
        let mut sent = 0;
        while sent < total {
            h.seg(1, seq, &seg);
            seq = seq.wrapping_add(seg.len() as u32);
            sent += seg.len();
        }
        assert!(h.half.pending_bytes <= MAX_PENDING_BYTES);
        assert_eq!(h.seen[0], Seen::Gap(0, 1000));
        assert_eq!(h.half.stats.bytes as usize, sent);
    }

    #[test]
    fn fin_ends_the_stream_once_every_byte_before_it_arrived() {
        let mut h = Harness::new().syn(0);
        let seen = &mut h.seen;
        h.half.segment(Timestamp(2), 4, b"def", 3, true, &mut |ev| {
            seen.push(record(ev))
        });
        assert!(!h.half.ended());
        h.seg(3, 1, b"abc");
        assert!(h.half.ended());
        assert_eq!(h.stream(), b"abcdef");
    }
}
