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
    pub evicted_lookups: u64,
}

impl TimeMap {
    pub fn push(&mut self, chunk: &Chunk<'_>) {
        let end = chunk.offset + chunk.data.len() as u64;
        if let Some(last) = self.ranges.back_mut() {
            if last.end == chunk.offset
                && last.first_seen == chunk.first_seen
                && last.delivered == chunk.delivered
            {
                last.end = end;
                return;
            }
        }
        if self.ranges.len() == MAX_RANGES {
            self.ranges.pop_front();
        }
        self.ranges.push_back(Range {
            start: chunk.offset,
            end,
            first_seen: chunk.first_seen,
            delivered: chunk.delivered,
        });
    }

    fn find(&mut self, offset: u64) -> Option<Range> {
        let i = self.ranges.partition_point(|r| r.end <= offset);
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
