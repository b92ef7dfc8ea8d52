//! Streaming demuxers for the two HLS segment formats, down to video access units
//! with their timestamps and frame fingerprints.
//!
//! * [`TsDemuxer`]: MPEG-TS (ISO/IEC 13818-1) over 188-byte packets: PAT, PMT,
//!   adaptation fields (random access indicator, PCR), PES reassembly per PID with
//!   PTS/DTS, continuity counters, resync on the 0x47 sync byte after a gap or
//!   garbage. H.264/HEVC PES payloads are split into access units.
//! * [`Fmp4Demuxer`]: fragmented MP4 (ISO/IEC 14496-12): the init segment's
//!   `moov` (tracks, timescales, avcC length size) and each fragment's
//!   `moof/traf/tfhd/tfdt/trun` plus `mdat` → samples; the packager's `prft`
//!   (producer reference time) and `emsg` (DASH event messages) boxes.
//!
//! Both take a segment body in arbitrary pieces (`feed(offset, input) ->
//! consumed`, the caller keeps the unconsumed tail), hold at most one frame per
//! stream, never a whole segment, and report offsets in the body's byte space: the
//! HTTP layer maps them to wire offsets, the flow layer to times.
//!
//! Written by hand rather than on a demuxer crate because a passive decoder must
//! keep going after capture gaps and report what it lost (counted anomalies),
//! and must hand each access unit's exact bytes to `avc`'s fingerprint.

#![forbid(unsafe_code)]

mod access_unit;
mod anomalies;
pub mod av1;
pub mod fmp4;
mod pes;
pub mod producer;
mod psi;
mod timestamp;
pub mod ts;

pub use access_unit::AccessUnit;
pub use avc::{Codec, Fingerprint};
pub use fmp4::{Fmp4Demuxer, Fmp4Message, Sample, TrackConfig};
pub use producer::{EventMessage, ProducerTime};

pub use psi::{ElementaryStream, ProgramMap, StreamType};
pub use timestamp::{Timestamp, Unwrapper};
pub use ts::{PesInfo, TsDemuxer, TsMessage};

/// MPEG-TS packet size.
pub const TS_PACKET_LEN: usize = 188;
/// Largest video PES / access unit / fMP4 sample assembled (bytes); larger ones
/// are cut there and flagged (`*.frame_too_large`). A 1080p60 IDR frame at high
/// bitrate is well under 1 MiB.
pub const MAX_FRAME_LEN: usize = 8 << 20;
/// Most elementary streams tracked per demuxer (`ts.too_many_streams`).
pub const MAX_STREAMS: usize = 32;
/// Largest fMP4 metadata box (`moov`, `moof`) assembled; larger ones are skipped
/// (`fmp4.box_too_large`).
pub const MAX_META_BOX_LEN: u64 = 4 << 20;
/// Most samples per `trun` (`fmp4.too_many_samples`).
pub const MAX_SAMPLES_PER_RUN: u32 = 100_000;

/// The body of the fuzz target, here so that `cargo test` runs it over the seeds
/// too. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::{Fmp4Demuxer, Fmp4Message, TrackConfig, TsDemuxer, TsMessage};

    /// What both demuxers offer, so one feeding loop drives either.
    trait Demux {
        fn feed(&mut self, offset: u64, input: &[u8]) -> usize;
        fn gap(&mut self, offset: u64, len: u64);
        fn end(&mut self, offset: u64);
    }

    impl Demux for TsDemuxer {
        fn feed(&mut self, offset: u64, input: &[u8]) -> usize {
            TsDemuxer::feed(self, offset, input)
        }
        fn gap(&mut self, offset: u64, len: u64) {
            TsDemuxer::gap(self, offset, len)
        }
        fn end(&mut self, offset: u64) {
            TsDemuxer::end(self, offset)
        }
    }

    impl Demux for Fmp4Demuxer {
        fn feed(&mut self, offset: u64, input: &[u8]) -> usize {
            Fmp4Demuxer::feed(self, offset, input)
        }
        fn gap(&mut self, offset: u64, len: u64) {
            Fmp4Demuxer::gap(self, offset, len)
        }
        fn end(&mut self, offset: u64) {
            Fmp4Demuxer::end(self, offset)
        }
    }

    /// Feeds `data` in `piece`-byte pieces keeping tails (every 11th piece lost
    /// if `gaps`), checking that the demuxer never holds back `max_tail` bytes.
    fn drive(d: &mut impl Demux, data: &[u8], piece: usize, gaps: bool, max_tail: usize) {
        let mut offset = 0u64;
        let mut tail: Vec<u8> = Vec::new();
        for (k, chunk) in data.chunks(piece).enumerate() {
            if gaps && k % 11 == 10 {
                let lost = (tail.len() + chunk.len()) as u64;
                d.gap(offset, lost);
                offset += lost;
                tail.clear();
                continue;
            }
            tail.extend_from_slice(chunk);
            let n = d.feed(offset, &tail);
            assert!(n <= tail.len(), "consumed more than given");
            offset += n as u64;
            tail.drain(..n);
            assert!(tail.len() < max_tail, "demuxer hoards bytes");
        }
        d.end(offset + tail.len() as u64);
    }

    /// First byte: bit 0 picks fMP4 (1) or MPEG-TS (0), bits 1..6 the piece size
    /// (pieces fed the way the HTTP layer does, keeping tails); bit 7 set also
    /// turns every 11th piece into a gap. Checks the invariants that hold for any
    /// input.
    pub fn demux(data: &[u8]) {
        let Some((&control, rest)) = data.split_first() else {
            return;
        };
        let piece = usize::from((control >> 1) & 0x3f) * 7 + 1;
        let gaps = control & 0x80 != 0;
        if control & 1 == 0 {
            let mut d = TsDemuxer::new();
            drive(&mut d, rest, piece, gaps, 2 * crate::TS_PACKET_LEN);
            for m in d.drain() {
                if let TsMessage::AccessUnit(a) = m {
                    assert!(a.start <= a.end && a.size <= crate::MAX_FRAME_LEN);
                }
            }
        } else {
            let mut d = Fmp4Demuxer::with_tracks(vec![TrackConfig::h264(1, 90_000)]);
            drive(&mut d, rest, piece, gaps, 16);
            for m in d.drain() {
                if let Fmp4Message::Sample(s) = m {
                    assert!(s.start <= s.end);
                }
            }
        }
    }
}
