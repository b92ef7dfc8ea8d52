//! Stream offsets back to capture times, and the unconsumed tail of a direction.
//!
//! Parsers report messages by stream offset; the flow layer knows the two times of
//! every delivered chunk. A `TimeMap` remembers, per direction, which offset range
//! came with which times, so a message's first byte can be stamped with when it was
//! first seen and its last byte with when it became deliverable. Bounded: the oldest
//! ranges are forgotten first, and a lookup before the oldest kept range answers with
//! that range's times (counted by the caller as `time_map_evicted`).

use std::collections::VecDeque;

use crate::flow::Chunk;
use crate::time::Timestamp;

/// Ranges remembered per direction: a few MiB of stream at full-size segments, more
/// than any message lagtap decodes spans.
const MAX_RANGES: usize = 16 * 1024;

#[derive(Clone, Copy, Debug)]
struct Range {
    start: u64,
    end: u64,
    first_seen: Timestamp,
    delivered: Timestamp,
}

#[derive(Default, Debug)]
pub struct TimeMap {
    ranges: VecDeque<Range>,
    /// Where the last lookup landed. Parsers report messages in stream order, so the
    /// next lookup is almost always in this range or the next: checking those two
    /// first saves a binary search over thousands of ranges per message.
    cursor: usize,
    pub evicted_lookups: u64,
}

impl TimeMap {
    pub fn push(&mut self, chunk: &Chunk<'_>) {
        self.push_range(Range {
            start: chunk.offset,
            end: chunk.offset + chunk.data.len() as u64,
            first_seen: chunk.first_seen,
            delivered: chunk.delivered,
        });
    }

    fn push_range(&mut self, r: Range) {
        if let Some(last) = self.ranges.back_mut() {
            if last.end == r.start
                && last.first_seen == r.first_seen
                && last.delivered == r.delivered
            {
                last.end = r.end;
                return;
            }
        }
        if self.ranges.len() == MAX_RANGES {
            self.ranges.pop_front();
            self.cursor = self.cursor.saturating_sub(1);
        }
        self.ranges.push_back(r);
    }

    /// Gives the bytes `from..to` of this stream, with the times each of them came
    /// with, to `dest` at `dest_offset` onwards: a stream carried inside this one
    /// (RTMP in RTMPT's HTTP bodies) keeps every byte's capture times.
    pub fn copy_into(&mut self, from: u64, to: u64, dest: &mut TimeMap, dest_offset: u64) {
        let mut at = from;
        while at < to {
            let Some(r) = self.find(at) else { return };
            // A byte before the oldest kept range (or in a gap) takes the times of
            // the range found, up to its end; past the last range, to the end.
            let end = if r.end > at { r.end.min(to) } else { to };
            dest.push_range(Range {
                start: dest_offset + (at - from),
                end: dest_offset + (end - from),
                first_seen: r.first_seen,
                delivered: r.delivered,
            });
            at = end;
        }
    }

    /// The index of the first range ending after `offset` (the ranges' ends increase).
    fn index_of(&self, offset: u64) -> usize {
        let n = self.ranges.len();
        let is_first_after = |i: usize| {
            (i == 0 || self.ranges[i - 1].end <= offset) && (i == n || self.ranges[i].end > offset)
        };
        [self.cursor, self.cursor + 1]
            .into_iter()
            .find(|&i| i <= n && is_first_after(i))
            .unwrap_or_else(|| self.ranges.partition_point(|r| r.end <= offset))
    }

    fn find(&mut self, offset: u64) -> Option<Range> {
        let i = self.index_of(offset);
        self.cursor = i;
        match self.ranges.get(i) {
            Some(r) => {
                if i == 0 && offset < r.start && self.ranges.len() == MAX_RANGES {
                    self.evicted_lookups += 1;
                }
                Some(*r)
            }
            None => self.ranges.back().copied(),
        }
    }

    /// When the byte at `offset` was first on the wire (the next captured byte's time
    /// for an offset inside a gap).
    pub fn first_seen(&mut self, offset: u64) -> Option<Timestamp> {
        self.find(offset).map(|r| r.first_seen)
    }

    /// When the byte at `offset` became deliverable in order.
    pub fn delivered(&mut self, offset: u64) -> Option<Timestamp> {
        self.find(offset).map(|r| r.delivered)
    }
}

/// Keeps what a parser did not consume and hands it back, with new bytes appended,
/// on the next call: the contract of docs/parsers.md. Bounded: a parser that will
/// not consume more than `MAX_TAIL` bytes is stuck, and the tail is dropped as a gap.
#[derive(Default, Debug)]
pub struct Tail {
    bytes: Vec<u8>,
    offset: u64,
}

pub const MAX_TAIL: usize = 4 << 20;

pub enum Fed {
    Ok,
    /// The parser would not consume a tail of `len` bytes at `offset`: dropped.
    Stuck {
        offset: u64,
        len: u64,
    },
}

impl Tail {
    /// Feeds `data` at `offset` through `parse(offset, bytes) -> consumed`.
    pub fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
        mut parse: impl FnMut(u64, &[u8]) -> usize,
    ) -> Fed {
        if self.bytes.is_empty() {
            let used = parse(offset, data).min(data.len());
            if used < data.len() {
                self.bytes.extend_from_slice(&data[used..]);
                self.offset = offset + used as u64;
            }
        } else {
            self.bytes.extend_from_slice(data);
            let used = parse(self.offset, &self.bytes).min(self.bytes.len());
            self.bytes.drain(..used);
            self.offset += used as u64;
        }
        if self.bytes.len() > MAX_TAIL {
            let len = self.bytes.len() as u64;
            let at = self.offset;
            self.bytes.clear();
            self.offset += len;
            return Fed::Stuck { offset: at, len };
        }
        Fed::Ok
    }

    /// A gap: whatever was pending cannot be completed.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    pub fn pending(&self) -> (u64, &[u8]) {
        (self.offset, &self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, data: &[u8], t: i64) -> Chunk<'_> {
        Chunk {
            offset,
            data,
            first_seen: Timestamp(t),
            delivered: Timestamp(t + 1),
        }
    }

    /// The cursor is only a shortcut: every lookup, in order, backwards or jumping,
    /// answers what a binary search over all ranges answers.
    #[test]
    fn lookups_with_the_cursor_equal_a_binary_search() {
        let data = [0u8; 100];
        let mut map = TimeMap::default();
        let mut at = 0u64;
        for i in 0..500i64 {
            let len = 1 + (i as usize * 37) % 100;
            map.push(&chunk(at, &data[..len], i * 1000));
            at += len as u64;
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut offsets: Vec<u64> = (0..at + 50).collect();
        offsets.extend((0..at).rev().step_by(7));
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            offsets.push(x % (at + 10));
        }
        for off in offsets {
            let want = map.ranges.partition_point(|r| r.end <= off);
            let want = map.ranges.get(want).or(map.ranges.back()).copied();
            let got = map.find(off);
            assert_eq!(
                got.map(|r| (r.start, r.first_seen)),
                want.map(|r| (r.start, r.first_seen)),
                "offset {off}"
            );
        }
    }

    #[test]
    fn the_cursor_follows_evictions() {
        let data = [0u8; 10];
        let mut map = TimeMap::default();
        for i in 0..(MAX_RANGES as u64 + 100) {
            map.push(&chunk(i * 10, &data, i as i64 * 10));
            assert_eq!(map.first_seen(i * 10 + 5), Some(Timestamp(i as i64 * 10)));
        }
        assert_eq!(map.evicted_lookups, 0);
        assert_eq!(map.first_seen(0), Some(Timestamp(1000)));
        assert_eq!(map.evicted_lookups, 1);
    }

    /// Bytes copied into another map keep their own times, range by range.
    #[test]
    fn copied_bytes_keep_each_ones_times() {
        let data = [0u8; 10];
        let mut tcp = TimeMap::default();
        tcp.push(&chunk(0, &data[..4], 100));
        tcp.push(&chunk(4, &data[..6], 200));
        tcp.push(&chunk(10, &data[..10], 300));
        let mut inner = TimeMap::default();
        inner.push(&chunk(0, &data[..5], 50));
        // Body bytes 2..13 of the outer stream become inner bytes 5..16.
        tcp.copy_into(2, 13, &mut inner, 5);
        let times: Vec<i64> = (0..16).map(|o| inner.first_seen(o).unwrap().0).collect();
        let mut want = vec![50; 5];
        want.extend([100, 100, 200, 200, 200, 200, 200, 200, 300, 300, 300]);
        assert_eq!(times, want);
        assert_eq!(inner.delivered(15), Some(Timestamp(301)));
    }
}
