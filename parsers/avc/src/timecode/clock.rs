//! The three timecode syntaxes: H.264's `clock_timestamp` inside `pic_timing()`
//! (ITU-T H.264 §D.1.3, semantics §D.2.3), HEVC's `time_code()` SEI (ITU-T H.265
//! §D.2.27, semantics §D.3.27) and AV1's `metadata_timecode()` (AV1 bitstream
//! specification §5.8.7, semantics §6.7.7). They share SMPTE ST 12-1's fields and
//! differ in widths: `n_frames` is 8 bits in H.264 and 9 in HEVC and AV1;
//! `time_offset` is a signed `i(v)` whose length the SPS gives in H.264 and each
//! timestamp gives in HEVC, and an unsigned `f(n)` in AV1.

use smallvec::SmallVec;

use super::h264::SpsTiming;
use crate::bits::BitReader;

/// Which syntax a timecode was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// H.264 picture timing SEI (payloadType 1).
    H264PicTiming,
    /// HEVC time code SEI (payloadType 136).
    HevcTimeCode,
    /// AV1 metadata OBU of `metadata_type` METADATA_TYPE_TIMECODE (5).
    Av1Metadata,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::H264PicTiming => "h264_pic_timing",
            Source::HevcTimeCode => "hevc_time_code",
            Source::Av1Metadata => "av1_metadata",
        }
    }
}

/// One clock timestamp as written. `seconds`, `minutes` and `hours` are `None`
/// where a compact timestamp (`full_timestamp_flag` 0) leaves them out: the
/// standards then infer them from the previous timestamp in decoding order, which
/// [`super::Tracker`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockTimestamp {
    /// H.264 `ct_type` (0 progressive, 1 interlaced, 2 unknown); `None` elsewhere.
    pub ct_type: Option<u8>,
    /// `nuit_field_based_flag` (H.264) / `units_field_based_flag` (HEVC, AV1).
    pub field_based: bool,
    /// Table D-2 / §6.7.7: 0 no dropping, 4 drop-frame (NTSC), ...
    pub counting_type: u8,
    pub full_timestamp: bool,
    /// The timestamp does not continue the previous one (an edit, a new source).
    pub discontinuity: bool,
    /// Frame numbers were skipped (drop-frame counting).
    pub cnt_dropped: bool,
    pub n_frames: u16,
    pub seconds: Option<u8>,
    pub minutes: Option<u8>,
    pub hours: Option<u8>,
    /// `time_offset` in clock ticks (`num_units_in_tick` / `time_scale`; AV1: the
    /// timing info's); `None` when its length is 0.
    pub time_offset: Option<i64>,
}

/// How wide `n_frames` is and where `time_offset`'s length comes from.
#[derive(Clone, Copy)]
enum Layout {
    /// H.264: ct_type, 8-bit n_frames, time_offset_length from the SPS, signed.
    H264 { time_offset_length: u8 },
    /// HEVC: 9-bit n_frames, its own 5-bit time_offset_length, signed.
    Hevc,
    /// AV1: 9-bit n_frames, its own 5-bit time_offset_length, unsigned.
    Av1,
}

/// One `clock_timestamp`, from after `clock_timestamp_flag` (AV1: from the start
/// of the payload, where `counting_type` comes first).
fn clock_timestamp(r: &mut BitReader<'_>, layout: Layout) -> Option<ClockTimestamp> {
    let ct_type = match layout {
        Layout::H264 { .. } => Some(r.u(2)? as u8),
        _ => None,
    };
    let field_based = match layout {
        Layout::Av1 => false,
        _ => r.flag()?,
    };
    let counting_type = r.u(5)? as u8;
    let full_timestamp = r.flag()?;
    let discontinuity = r.flag()?;
    let cnt_dropped = r.flag()?;
    let n_frames = r.u(if matches!(layout, Layout::H264 { .. }) {
        8
    } else {
        9
    })? as u16;
    let (mut seconds, mut minutes, mut hours) = (None, None, None);
    if full_timestamp {
        seconds = Some(r.u(6)? as u8);
        minutes = Some(r.u(6)? as u8);
        hours = Some(r.u(5)? as u8);
    } else if r.flag()? {
        seconds = Some(r.u(6)? as u8);
        if r.flag()? {
            minutes = Some(r.u(6)? as u8);
            if r.flag()? {
                hours = Some(r.u(5)? as u8);
            }
        }
    }
    let length = match layout {
        Layout::H264 { time_offset_length } => u32::from(time_offset_length),
        Layout::Hevc | Layout::Av1 => r.u(5)?,
    };
    let time_offset = match (length, layout) {
        (0, _) => None,
        (n, Layout::Av1) => Some(i64::from(r.u(n)?)),
        (n, _) => Some(r.i(n)?),
    };
    Some(ClockTimestamp {
        ct_type,
        field_based,
        counting_type,
        full_timestamp,
        discontinuity,
        cnt_dropped,
        n_frames,
        seconds,
        minutes,
        hours,
        time_offset,
    })
}

/// The timecodes of one SEI message or metadata OBU.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timecodes {
    /// `NumClockTS` (H.264, from `pic_struct`, Table D-1) or `num_clock_ts` (HEVC):
    /// how many clock timestamps the message has room for; 1 for AV1.
    pub num_clock_ts: u8,
    /// The timestamps whose `clock_timestamp_flag` is set, in order.
    pub timestamps: SmallVec<[ClockTimestamp; 1]>,
}

/// An H.264 `pic_timing()` payload read with the active SPS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PicTiming {
    pub cpb_removal_delay: Option<u32>,
    pub dpb_output_delay: Option<u32>,
    pub pic_struct: Option<u8>,
    pub clock: Timecodes,
}

/// `NumClockTS` of Table D-1; `None` for the reserved `pic_struct` values 9..15.
fn num_clock_ts(pic_struct: u8) -> Option<u8> {
    Some(match pic_struct {
        0..=2 => 1,
        3 | 4 | 7 => 2,
        5 | 6 | 8 => 3,
        _ => return None,
    })
}

/// `pic_timing()` (H.264 §D.1.3) with `sps`'s VUI. `None` if it ends early or has
/// a reserved `pic_struct`.
pub fn pic_timing(payload: &[u8], sps: &SpsTiming) -> Option<PicTiming> {
    let mut r = BitReader::new(payload);
    let mut out = PicTiming::default();
    if sps.cpb_dpb_delays_present() {
        out.cpb_removal_delay = Some(r.u(u32::from(sps.cpb_removal_delay_length_minus1) + 1)?);
        out.dpb_output_delay = Some(r.u(u32::from(sps.dpb_output_delay_length_minus1) + 1)?);
    }
    if sps.pic_struct_present {
        let pic_struct = r.u(4)? as u8;
        out.pic_struct = Some(pic_struct);
        out.clock.num_clock_ts = num_clock_ts(pic_struct)?;
        let layout = Layout::H264 {
            time_offset_length: sps.time_offset_length,
        };
        for _ in 0..out.clock.num_clock_ts {
            if r.flag()? {
                out.clock.timestamps.push(clock_timestamp(&mut r, layout)?);
            }
        }
    }
    Some(out)
}

/// `time_code()` (HEVC §D.2.27).
pub fn hevc_time_code(payload: &[u8]) -> Option<Timecodes> {
    let mut r = BitReader::new(payload);
    let mut out = Timecodes {
        num_clock_ts: r.u(2)? as u8,
        ..Timecodes::default()
    };
    for _ in 0..out.num_clock_ts {
        if r.flag()? {
            out.timestamps.push(clock_timestamp(&mut r, Layout::Hevc)?);
        }
    }
    Some(out)
}

/// `metadata_timecode()` (AV1 §5.8.7), the payload after `metadata_type`.
pub fn av1_timecode(payload: &[u8]) -> Option<Timecodes> {
    let mut r = BitReader::new(payload);
    let ts = clock_timestamp(&mut r, Layout::Av1)?;
    Some(Timecodes {
        num_clock_ts: 1,
        timestamps: smallvec::smallvec![ts],
    })
}
