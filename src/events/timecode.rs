//! The encoder's timecode of a video frame (`avc::timecode`): SMPTE hours, minutes,
//! seconds and frames from an H.264 picture timing SEI, an HEVC time code SEI or an
//! AV1 timecode metadata OBU. Flat (scalars only) so that Parquet holds it as a
//! plain struct; where a message carries several clock timestamps (H.264 field
//! pairs, 2 or 3 of them), the first present one is kept and `clock_timestamps`
//! says how many there were.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoTimecode {
    /// `h264_pic_timing`, `hevc_time_code` or `av1_metadata`.
    pub source: String,
    /// Room for clock timestamps in the message (`NumClockTS` from `pic_struct`,
    /// HEVC `num_clock_ts`, 1 for AV1) and how many were present.
    pub num_clock_ts: u8,
    pub clock_timestamps: u8,
    /// H.264 `pic_struct` (Table D-1), null elsewhere.
    pub pic_struct: Option<u8>,
    /// The first clock timestamp; hours, minutes and seconds a compact timestamp
    /// leaves out are the stream's previous ones (null before any).
    pub hours: Option<u8>,
    pub minutes: Option<u8>,
    pub seconds: Option<u8>,
    pub frames: u16,
    /// Table D-2: 0 no dropping, 4 NTSC drop-frame, ...
    pub counting_type: u8,
    /// The encoder says this timecode does not follow the previous one.
    pub discontinuity: bool,
    pub cnt_dropped: bool,
    /// In clock ticks of the stream's timing info; null where absent.
    pub time_offset: Option<i64>,
}

impl VideoTimecode {
    /// A frame's timecode; `None` without a clock timestamp (x264's picture timing
    /// SEI, for one, has none: only `pic_struct` and the HRD delays).
    pub fn from_frame(f: &avc::timecode::FrameTimecode) -> Option<Box<VideoTimecode>> {
        let c = f.timestamps.first()?;
        Some(Box::new(VideoTimecode {
            source: f.source.name().to_string(),
            num_clock_ts: f.num_clock_ts,
            clock_timestamps: f.timestamps.len() as u8,
            pic_struct: f.pic_struct,
            hours: c.hours,
            minutes: c.minutes,
            seconds: c.seconds,
            frames: c.n_frames,
            counting_type: c.counting_type,
            discontinuity: c.discontinuity,
            cnt_dropped: c.cnt_dropped,
            time_offset: c.time_offset,
        }))
    }

    /// Seconds since midnight of the timecode's hours, minutes and seconds (`None`
    /// until all three are known or if one is out of its range).
    pub fn second_of_day(&self) -> Option<u32> {
        let (h, m, s) = (self.hours?, self.minutes?, self.seconds?);
        (h < 24 && m < 60 && s < 60).then(|| u32::from(h) * 3600 + u32::from(m) * 60 + u32::from(s))
    }
}

/// A timecode with the values event writers must get right: a compact timestamp
/// (minutes left out, null), the largest 9-bit frame count, drop-frame counting,
/// both flags, `time_offset` at `offset`. For the writers' round-trip tests.
#[cfg(test)]
pub(crate) fn edge_case(source: &str, offset: i64) -> Box<VideoTimecode> {
    Box::new(VideoTimecode {
        source: source.into(),
        num_clock_ts: 3,
        clock_timestamps: 2,
        pic_struct: Some(5),
        hours: Some(23),
        minutes: None,
        seconds: Some(59),
        frames: 511,
        counting_type: 4,
        discontinuity: true,
        cnt_dropped: true,
        time_offset: Some(offset),
    })
}
