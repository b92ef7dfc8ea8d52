//! What a packager writes into fMP4 segments beside the media: `prft`, the
//! producer reference time (ISO/IEC 14496-12 §8.16.5: the packager's NTP wall clock
//! at one media time of a track, a second clock besides the playlist's
//! `EXT-X-PROGRAM-DATE-TIME`), and `emsg`, DASH event messages (ISO/IEC 23009-1
//! §5.10.3.3: in-band events such as SCTE-35 splices or ID3 timed metadata).
//!
//! Both are top-level boxes between fragments; [`crate::Fmp4Demuxer`] assembles
//! their bodies and parses them here, checking every length.

use crate::fmp4::Reader;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// Largest `emsg` message_data kept (bytes); longer payloads are cut and flagged.
pub const MAX_EMSG_DATA: usize = 4096;

/// A `prft` box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerTime {
    /// Stream offset of the box's first byte.
    pub offset: u64,
    pub version: u8,
    /// What the time stamps (2022 edition): 0 the frame entered the encoder, 1 it
    /// left the encoder, 2 the following `moof` was finalised, 4 it was written,
    /// 8 arbitrary but consistent; ffmpeg 5.1 writes 0x18. Kept as written.
    pub flags: u32,
    pub reference_track_id: u32,
    /// 64-bit NTP timestamp (seconds since 1900 in the high 32 bits, fraction in the
    /// low 32).
    pub ntp_timestamp: u64,
    /// Media time (the reference track's timescale) the NTP time belongs to.
    pub media_time: u64,
}

impl ProducerTime {
    /// The NTP timestamp as nanoseconds since the Unix epoch (`None` before 1970 or
    /// beyond i64, which no packager writes).
    pub fn unix_ns(&self) -> Option<i64> {
        let secs = (self.ntp_timestamp >> 32).checked_sub(NTP_UNIX_OFFSET_S)?;
        let frac = self.ntp_timestamp & 0xffff_ffff;
        let nanos = (frac * 1_000_000_000) >> 32;
        i64::try_from(secs.checked_mul(1_000_000_000)?.checked_add(nanos)?).ok()
    }
}

/// An `emsg` box (version 0 or 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMessage {
    /// Stream offset of the box's first byte.
    pub offset: u64,
    pub version: u8,
    pub scheme_id_uri: String,
    pub value: String,
    pub timescale: u32,
    /// Version 0: presentation_time_delta (from the segment's earliest presentation
    /// time); version 1: presentation_time (on the track's media timeline).
    pub presentation_time: u64,
    pub event_duration: u32,
    pub id: u32,
    /// The first [`MAX_EMSG_DATA`] bytes of message_data.
    pub message_data: Vec<u8>,
    /// message_data's whole length in the box.
    pub data_len: u64,
}

/// A `prft` body (after the box header). `None` if it is cut short or of an
/// unknown version.
pub fn parse_prft(offset: u64, body: &[u8]) -> Option<ProducerTime> {
    let mut r = Reader(body);
    let (version, flags) = r.full()?;
    let reference_track_id = r.u32()?;
    let ntp_timestamp = r.u64()?;
    let media_time = match version {
        0 => u64::from(r.u32()?),
        1 => r.u64()?,
        _ => return None,
    };
    Some(ProducerTime {
        offset,
        version,
        flags,
        reference_track_id,
        ntp_timestamp,
        media_time,
    })
}

/// An `emsg` body (after the box header). `None` if it is cut short (a string
/// without its terminator, a field missing) or of an unknown version.
pub fn parse_emsg(offset: u64, body: &[u8]) -> Option<EventMessage> {
    let mut r = Reader(body);
    let (version, _) = r.full()?;
    let (scheme_id_uri, value, timescale, presentation_time, event_duration, id) = match version {
        0 => {
            let scheme = r.cstr()?;
            let value = r.cstr()?;
            let timescale = r.u32()?;
            let delta = r.u32()?;
            (
                scheme,
                value,
                timescale,
                u64::from(delta),
                r.u32()?,
                r.u32()?,
            )
        }
        1 => {
            let timescale = r.u32()?;
            let time = r.u64()?;
            let duration = r.u32()?;
            let id = r.u32()?;
            (r.cstr()?, r.cstr()?, timescale, time, duration, id)
        }
        _ => return None,
    };
    let data = r.0;
    Some(EventMessage {
        offset,
        version,
        scheme_id_uri,
        value,
        timescale,
        presentation_time,
        event_duration,
        id,
        message_data: data[..data.len().min(MAX_EMSG_DATA)].to_vec(),
        data_len: data.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_times_convert_to_unix_nanoseconds() {
        let p = |ntp| ProducerTime {
            offset: 0,
            version: 1,
            flags: 0,
            reference_track_id: 1,
            ntp_timestamp: ntp,
            media_time: 0,
        };
        // 1970-01-01T00:00:00.5 = NTP second 2208988800, fraction 2^31.
        assert_eq!(
            p((NTP_UNIX_OFFSET_S << 32) | 0x8000_0000).unix_ns(),
            Some(500_000_000)
        );
        assert_eq!(p(0).unix_ns(), None, "before 1970");
        assert_eq!(p(u64::MAX).unix_ns(), Some(2_085_978_495_999_999_999));
    }
}
