//! Timecodes an encoder writes into the video: H.264 picture timing SEI clock
//! timestamps, the HEVC time code SEI and AV1's timecode metadata OBU — SMPTE ST
//! 12-1 hours, minutes, seconds and frames, the encoder's own count of where a
//! frame sits in time (its wall clock when it stamps time of day).
//!
//! H.264's `pic_timing()` cannot be read alone: its layout depends on the active
//! SPS's VUI (§D.2.3), so a [`Tracker`] per stream keeps the SPS fields it needs
//! (at most 32 SPS and 256 PPS ids, §7.4.2.1.1 / §7.4.2.2: fixed-size tables, no
//! growth) and learns which SPS is active from the picture's first slice. HEVC's
//! `time_code()` and AV1's metadata stand alone. Pure, no I/O; a truncated or
//! malformed message yields nothing instead of an error.

mod clock;
pub mod h264;

pub use clock::{
    av1_timecode, hevc_time_code, pic_timing, ClockTimestamp, PicTiming, Source, Timecodes,
};
use h264::SpsTiming;
use smallvec::SmallVec;

use crate::{Codec, Nal};

/// SEI `payloadType` of H.264's picture timing.
pub const PAYLOAD_PIC_TIMING: u32 = 1;
/// SEI `payloadType` of HEVC's time code.
pub const PAYLOAD_TIME_CODE: u32 = 136;
/// AV1 `metadata_type` METADATA_TYPE_TIMECODE (§6.7.1).
pub const METADATA_TYPE_TIMECODE: u64 = 5;

/// The timecode of one frame: the clock timestamps of its first picture timing /
/// time code SEI or timecode metadata OBU, with compact timestamps completed from
/// the previous ones of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameTimecode {
    pub source: Source,
    /// How many clock timestamps the message has room for (`NumClockTS`,
    /// `num_clock_ts`; 1 for AV1); `timestamps` holds those present.
    pub num_clock_ts: u8,
    pub timestamps: SmallVec<[ClockTimestamp; 1]>,
    /// H.264 only: `pic_struct` (Table D-1) and the HRD delays, where the SPS
    /// says they are present.
    pub pic_struct: Option<u8>,
    pub cpb_removal_delay: Option<u32>,
    pub dpb_output_delay: Option<u32>,
}

/// Per-stream state: the H.264 parameter sets `pic_timing()` needs and the last
/// hours/minutes/seconds, from which compact timestamps are completed (§D.2.3,
/// §D.3.27, §6.7.7: a value left out equals the previous timestamp's).
#[derive(Clone, Debug)]
pub struct Tracker {
    sps: [Option<SpsTiming>; 32],
    /// `seq_parameter_set_id` of each PPS id, `NO_SPS` if unknown.
    pps: [u8; 256],
    last: (Option<u8>, Option<u8>, Option<u8>),
    /// Whether a known SPS has `pic_struct_present_flag`: without it no H.264
    /// `pic_timing()` carries a clock timestamp, so SEI NAL units are not even
    /// unescaped (x264's HRD streams send a picture timing SEI with every frame
    /// that only holds the CPB/DPB delays; reading them cost 20% of decode time).
    pic_struct: bool,
    /// Reused for unescaping SEI NAL units.
    scratch: Vec<u8>,
}

const NO_SPS: u8 = 0xff;
/// Longest SEI NAL unit read: picture timing and time code are a few bytes; a
/// longer SEI (captions, user data) is not unescaped, so memory stays bounded.
const MAX_SEI: usize = 16 * 1024;

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            sps: [None; 32],
            pps: [NO_SPS; 256],
            last: (None, None, None),
            pic_struct: false,
            scratch: Vec::new(),
        }
    }
}

/// The RBSP of `nal` after a header of `header` bytes, into `buf`.
fn unescape(nal: &[u8], header: usize, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    match nal.get(header..) {
        Some(body) if body.len() <= MAX_SEI => {
            crate::nal::for_each_rbsp_run(body, |run| buf.extend_from_slice(run));
            true
        }
        _ => false,
    }
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns an H.264 SPS or PPS (from a decoder configuration record or in
    /// band); other NAL units are ignored.
    pub fn h264_parameter_set(&mut self, nal: Nal<'_>) {
        let mut buf = std::mem::take(&mut self.scratch);
        self.learn(nal, &mut buf);
        self.scratch = buf;
    }

    fn learn(&mut self, nal: Nal<'_>, buf: &mut Vec<u8>) {
        let t = nal.h264_type();
        if t != Some(crate::h264::SPS) && t != Some(crate::h264::PPS) || !unescape(nal.0, 1, buf) {
            return;
        }
        if t == Some(crate::h264::SPS) {
            if let Some(s) = h264::parse_sps(buf) {
                self.sps[usize::from(s.seq_parameter_set_id)] = Some(s);
                self.pic_struct = self.sps.iter().flatten().any(|s| s.pic_struct_present);
            }
        } else if let Some((pps, sps)) = h264::parse_pps_ids(buf) {
            self.pps[usize::from(pps)] = sps;
        }
    }

    /// Whether an H.264 SEI NAL unit can give a timecode with the parameter sets
    /// known so far (a unit holding an SPS or PPS must be passed in any case).
    pub fn reads_h264_sei(&self) -> bool {
        self.pic_struct
    }

    /// The timecode of one H.264 or HEVC access unit, from its NAL units; parameter
    /// sets among them are learnt on the way. `None` without a clock timestamp
    /// message (an H.264 `pic_timing()` whose SPS has no `pic_struct` carries no
    /// timecode and gives `None`).
    pub fn frame_nals<'a>(
        &mut self,
        nals: impl IntoIterator<Item = Nal<'a>>,
        codec: Codec,
    ) -> Option<FrameTimecode> {
        let mut buf = std::mem::take(&mut self.scratch);
        let out = match codec {
            Codec::H264 => self.h264_frame(nals, &mut buf),
            Codec::Hevc => self.hevc_frame(nals, &mut buf),
            Codec::Av1 | Codec::Vp9 => None,
        };
        self.scratch = buf;
        out.map(|f| self.complete(f))
    }

    fn h264_frame<'a>(
        &mut self,
        nals: impl IntoIterator<Item = Nal<'a>>,
        buf: &mut Vec<u8>,
    ) -> Option<FrameTimecode> {
        // The picture timing payload, kept until a slice says which SPS is active.
        let mut pending: Option<SmallVec<[u8; 32]>> = None;
        let mut active: Option<u8> = None;
        for nal in nals {
            match nal.h264_type() {
                Some(crate::h264::SPS | crate::h264::PPS) => self.learn(nal, buf),
                Some(crate::h264::SEI)
                    if self.pic_struct && pending.is_none() && unescape(nal.0, 1, buf) =>
                {
                    pending = crate::bpm::sei_messages(buf)
                        .find(|(ty, _)| *ty == PAYLOAD_PIC_TIMING)
                        .map(|(_, p)| SmallVec::from_slice(p));
                }
                Some(t) if crate::is_slice(Codec::H264, t) => {
                    if pending.is_none() {
                        break; // no picture timing before the first slice
                    }
                    // Only the slice header's first three ue(v) are read: a few
                    // bytes suffice even with emulation prevention among them.
                    let head = &nal.0[1..nal.0.len().min(17)];
                    buf.clear();
                    crate::nal::for_each_rbsp_run(head, |run| buf.extend_from_slice(run));
                    active = h264::slice_pps_id(buf)
                        .map(|pps| self.pps[usize::from(pps)])
                        .filter(|&s| s != NO_SPS);
                    break;
                }
                _ => {}
            }
        }
        let payload = pending?;
        // Without a slice (or its PPS), the only SPS known is the active one.
        let sps = match active {
            Some(id) => self.sps[usize::from(id)]?,
            None => {
                let mut known = self.sps.iter().flatten();
                match (known.next(), known.next()) {
                    (Some(s), None) => *s,
                    _ => return None,
                }
            }
        };
        let pt = pic_timing(&payload, &sps)?;
        pt.pic_struct?;
        Some(FrameTimecode {
            source: Source::H264PicTiming,
            num_clock_ts: pt.clock.num_clock_ts,
            timestamps: pt.clock.timestamps,
            pic_struct: pt.pic_struct,
            cpb_removal_delay: pt.cpb_removal_delay,
            dpb_output_delay: pt.dpb_output_delay,
        })
    }

    fn hevc_frame<'a>(
        &mut self,
        nals: impl IntoIterator<Item = Nal<'a>>,
        buf: &mut Vec<u8>,
    ) -> Option<FrameTimecode> {
        for nal in nals {
            if nal.hevc_type() != Some(crate::hevc::SEI_PREFIX) || !unescape(nal.0, 2, buf) {
                continue;
            }
            let found = crate::bpm::sei_messages(buf)
                .find(|(ty, _)| *ty == PAYLOAD_TIME_CODE)
                .and_then(|(_, p)| hevc_time_code(p));
            if let Some(tc) = found {
                return Some(timecodes(Source::HevcTimeCode, tc));
            }
        }
        None
    }

    /// The timecode of an AV1 temporal unit (or frame), from its first metadata OBU
    /// of type METADATA_TYPE_TIMECODE (`metadata_type` is LEB128, §5.8.1).
    pub fn frame_obus(&mut self, data: &[u8]) -> Option<FrameTimecode> {
        let tc = crate::obu::iter_obus(data)
            .filter(|o| o.obu_type() == crate::obu::obu_type::METADATA)
            .find_map(|o| match crate::obu::leb128(o.payload) {
                Some((METADATA_TYPE_TIMECODE, rest)) => av1_timecode(rest),
                _ => None,
            })?;
        Some(self.complete(timecodes(Source::Av1Metadata, tc)))
    }

    /// Fills the hours, minutes and seconds a compact timestamp leaves out from the
    /// previous timestamp of the stream, and remembers this one's.
    fn complete(&mut self, mut f: FrameTimecode) -> FrameTimecode {
        for ts in &mut f.timestamps {
            let (h, m, s) = self.last;
            if !ts.full_timestamp {
                ts.seconds = ts.seconds.or(s);
                ts.minutes = ts.minutes.or(m);
                ts.hours = ts.hours.or(h);
            }
            self.last = (ts.hours, ts.minutes, ts.seconds);
        }
        f
    }
}

fn timecodes(source: Source, tc: Timecodes) -> FrameTimecode {
    FrameTimecode {
        source,
        num_clock_ts: tc.num_clock_ts,
        timestamps: tc.timestamps,
        pic_struct: None,
        cpb_removal_delay: None,
        dpb_output_delay: None,
    }
}
