//! When each frame of a segment arrived: the wire offset of the frame's last byte,
//! and the time the flow delivered that byte.
//!
//! A segment that streams in (chunked transfer while the packager still writes it,
//! HTTP/2 DATA frames, a Twitch prefetch fetched early) hands its frames to the
//! viewer one by one, seconds before its last byte: broadcast latency by frame
//! arrival needs each frame's own time, not the segment's completion. The demuxers
//! report a frame's bytes as offsets in the *body*; the HTTP layers know which wire
//! bytes carried each body chunk (chunk headers, DATA frame headers and the response
//! head lie between them), and the flow's time map knows when each wire byte was
//! delivered. `Arrivals` keeps the body → wire mapping of the chunks whose frames
//! are not out yet, and the wire offsets of frames still to be stamped with a time
//! (stamping needs the time map, which the decoder only has in `collect`).

use std::collections::VecDeque;
use std::ops::Range;

use super::timemap::TimeMap;
use crate::events::SegmentFrame;

/// Body bytes `body..body_end` came in wire bytes `wire`: byte for byte when
/// `linear`, else (a content-coded body) produced by the whole of `wire`.
#[derive(Clone, Copy, Debug)]
struct Span {
    body: u64,
    body_end: u64,
    wire: u64,
    wire_end: u64,
    linear: bool,
}

/// Spans kept at most: a body that yields no frame (audio-only, undecodable) must
/// not grow it without bound. Beyond it the oldest go, and a frame ending before the
/// oldest kept span takes that span's first byte (later, never earlier, than true).
const MAX_SPANS: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(super) struct Arrivals {
    spans: VecDeque<Span>,
    /// Wire offsets of the last bytes of the segment's newest frames, not yet
    /// stamped; `None` where no body chunk told where the byte was.
    pending: Vec<Option<u64>>,
}

impl Arrivals {
    /// Body bytes at `body` (`len` of them) came in the wire bytes `wire`.
    pub fn body_chunk(&mut self, body: u64, len: u64, wire: Range<u64>, linear: bool) {
        if len == 0 || wire.is_empty() {
            return;
        }
        if let Some(last) = self.spans.back_mut() {
            // One TCP segment after another of one HTTP/1.1 body: one span.
            if last.linear && linear && last.body_end == body && last.wire_end == wire.start {
                last.body_end = body + len;
                last.wire_end = wire.end;
                return;
            }
        }
        if self.spans.len() == MAX_SPANS {
            self.spans.pop_front();
        }
        self.spans.push_back(Span {
            body,
            body_end: body.saturating_add(len),
            wire: wire.start,
            wire_end: wire.end,
            linear,
        });
    }

    /// A frame whose last byte is body byte `last` came out of the demuxer.
    /// Frames come in body order, so spans wholly before it are no longer needed.
    pub fn frame(&mut self, last: u64) {
        while self.spans.len() > 1 && self.spans[0].body_end <= last {
            self.spans.pop_front();
        }
        let wire = self.spans.front().map(|s| {
            if last < s.body {
                s.wire // before the first kept span: a gap or evicted; next known byte
            } else if s.linear && last < s.body_end {
                s.wire + (last - s.body)
            } else {
                s.wire_end - 1
            }
        });
        self.pending.push(wire);
    }

    /// Stamps the frames reported since the last call (the last `pending` of
    /// `frames`) with the delivered time of their last byte, from the time map of
    /// the direction the body came in.
    pub fn stamp(&mut self, times: &mut TimeMap, frames: &mut [SegmentFrame]) {
        if self.pending.is_empty() {
            return;
        }
        let from = frames.len().saturating_sub(self.pending.len());
        for (f, wire) in frames[from..].iter_mut().zip(self.pending.drain(..)) {
            f.received_ns = wire.and_then(|w| times.delivered(w)).map(|t| t.0);
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Chunk;
    use crate::time::Timestamp;

    fn frame() -> SegmentFrame {
        SegmentFrame {
            pts: 0,
            dts: 0,
            keyframe: false,
            fingerprint: None,
            size: 0,
            received_ns: None,
            timecode: None,
        }
    }

    /// A chunked body: 10-byte chunks, each behind a 5-byte chunk header, each in a
    /// TCP segment of its own delivered at 1000·i ns. A frame's last byte maps to the
    /// wire byte that carried it and takes that segment's time.
    #[test]
    fn frames_take_the_time_of_the_segment_carrying_their_last_byte() {
        let mut times = TimeMap::default();
        let mut a = Arrivals::default();
        let data = [0u8; 15];
        for i in 0..6u64 {
            times.push(&Chunk {
                offset: 100 + 15 * i,
                data: &data,
                first_seen: Timestamp(1000 * i as i64),
                delivered: Timestamp(1000 * i as i64 + 1),
            });
            let wire = 100 + 15 * i + 5;
            a.body_chunk(10 * i, 10, wire..wire + 10, true);
        }
        let mut frames = vec![frame(); 3];
        a.frame(9); // last byte of chunk 0
        a.frame(25); // chunk 2
        a.frame(59); // chunk 5
        a.stamp(&mut times, &mut frames);
        let got: Vec<_> = frames.iter().map(|f| f.received_ns).collect();
        assert_eq!(got, [Some(1), Some(2001), Some(5001)]);
        // Stamped frames are not stamped again; new ones are.
        frames.push(frame());
        a.frame(59);
        a.stamp(&mut times, &mut frames);
        assert_eq!(frames[3].received_ns, Some(5001));
        assert_eq!(frames[0].received_ns, Some(1));
    }

    #[test]
    fn a_coded_body_maps_to_the_end_of_the_input_that_produced_it() {
        let mut a = Arrivals::default();
        a.body_chunk(0, 100, 10..30, false);
        a.frame(50);
        assert_eq!(a.pending, [Some(29)]);
        let mut b = Arrivals::default();
        b.frame(3);
        assert_eq!(b.pending, [None]);
    }

    #[test]
    fn spans_stay_bounded_without_frames() {
        let mut a = Arrivals::default();
        for i in 0..(MAX_SPANS as u64 * 2) {
            a.body_chunk(i * 10, 10, i * 20..i * 20 + 10, true);
        }
        assert_eq!(a.spans.len(), MAX_SPANS);
        a.frame(5);
        assert_eq!(a.pending, [Some(MAX_SPANS as u64 * 20)]);
    }
}
