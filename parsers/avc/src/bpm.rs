//! OBS's Broadcast Performance Metrics (BPM): the encoder's own wall clock and frame
//! counters, which OBS Studio (30.2 and later, `shared/bpm/bpm.c`, for Twitch's
//! Enhanced Broadcasting) writes into every key frame it sends.
//!
//! Three messages, each a `user_data_unregistered` payload (H.264 / HEVC SEI
//! payload type 5: a 16-byte UUID, then the body), carried in an H.264 SEI NAL
//! unit before the first slice, an HEVC suffix SEI NAL unit (type 40; a prefix SEI,
//! 39, is read too) after the slices, or for AV1 in a metadata OBU of
//! `metadata_type` 6 (the first "unregistered user private" type) holding the same
//! UUID and body:
//!
//! - **timestamps** (UUID `0aecffe7-5272-4e2f-a62f-d19cd61a93b5`): when the frame
//!   was composited (CTS), asked to be encoded (FER), encoded (FERC) and handed to
//!   the output (PIR, "packet interleave request");
//! - **session metrics** (`ca60e71c-6a8b-4388-a377-151df7bf8ac2`): frames rendered,
//!   lagged (the compositor missed them), dropped (the output dropped them for
//!   congestion) and output since the previous key frame's BPM, with the PIR time;
//! - **encoded rendition metrics** (`f1fbc1d5-101e-4fb5-a61e-b8ce3c07b8c0`): frames
//!   into the rendition's encoder, skipped, and encoded since the previous BPM.
//!
//! Body layout (all three): one byte, low 4 bits = number of timestamps − 1; per
//! timestamp a type byte (1: RFC 3339 text with a NUL, e.g.
//! `2024-05-31T12:26:03.591Z`; 2: milliseconds since the Unix epoch, 8 bytes
//! big-endian; 3: a delta in nanoseconds, 8 bytes), an event tag byte (1 CTS, 2
//! FER, 3 FERC, 4 PIR) and the value; then, for the two metrics messages, one byte,
//! low 4 bits = number of counters − 1, and per counter a tag byte and a 32-bit
//! big-endian value. Pure and bounded: at most 16 timestamps and 16 counters by
//! construction, RFC 3339 text at most [`MAX_TIME_TEXT`] bytes.

use smallvec::SmallVec;

/// The UUID of each BPM message (the first 16 bytes of its payload).
pub const UUID_TIMESTAMPS: [u8; 16] = [
    0x0a, 0xec, 0xff, 0xe7, 0x52, 0x72, 0x4e, 0x2f, 0xa6, 0x2f, 0xd1, 0x9c, 0xd6, 0x1a, 0x93, 0xb5,
];
pub const UUID_SESSION: [u8; 16] = [
    0xca, 0x60, 0xe7, 0x1c, 0x6a, 0x8b, 0x43, 0x88, 0xa3, 0x77, 0x15, 0x1d, 0xf7, 0xbf, 0x8a, 0xc2,
];
pub const UUID_RENDITION: [u8; 16] = [
    0xf1, 0xfb, 0xc1, 0xd5, 0x10, 0x1e, 0x4f, 0xb5, 0xa6, 0x1e, 0xb8, 0xce, 0x3c, 0x07, 0xb8, 0xc0,
];

/// Longest RFC 3339 timestamp text read (OBS writes 24 bytes).
pub const MAX_TIME_TEXT: usize = 64;

/// Timestamp event tags.
pub mod event {
    /// Composition time: the frame was rendered by the compositor.
    pub const CTS: u8 = 1;
    /// Frame encode request.
    pub const FER: u8 = 2;
    /// Frame encode request complete.
    pub const FERC: u8 = 3;
    /// Packet interleave request: handed to the output (to be sent).
    pub const PIR: u8 = 4;
}

/// Session metrics counter tags.
pub mod session {
    pub const RENDERED: u8 = 1;
    pub const LAGGED: u8 = 2;
    pub const DROPPED: u8 = 3;
    pub const OUTPUT: u8 = 4;
}

/// Encoded rendition metrics counter tags.
pub mod rendition {
    pub const INPUT: u8 = 1;
    pub const SKIPPED: u8 = 2;
    pub const OUTPUT: u8 = 3;
}

/// Which BPM message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Timestamps,
    Session,
    Rendition,
}

/// One timestamp: its event tag and the wall-clock time in ns since the Unix epoch
/// (`None` for a delta timestamp, type 3, which has no epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub event: u8,
    pub unix_ns: Option<i64>,
}

/// One decoded BPM message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bpm {
    pub kind: Kind,
    pub timestamps: SmallVec<[Timestamp; 4]>,
    /// (tag, value) in order: see [`session`] and [`rendition`].
    pub counters: SmallVec<[(u8, u32); 4]>,
}

impl Bpm {
    /// The wall-clock time of `event`, if this message carries it.
    pub fn time(&self, event: u8) -> Option<i64> {
        self.timestamps
            .iter()
            .find(|t| t.event == event)
            .and_then(|t| t.unix_ns)
    }

    /// The counter `tag`, if this message carries it.
    pub fn counter(&self, tag: u8) -> Option<u32> {
        self.counters.iter().find(|c| c.0 == tag).map(|c| c.1)
    }
}

/// A `user_data_unregistered` payload (UUID and body) as BPM, if its UUID is one of
/// BPM's and the body reads; `None` otherwise.
pub fn parse_payload(payload: &[u8]) -> Option<Bpm> {
    let (uuid, body) = payload.split_at_checked(16)?;
    let kind = match uuid {
        u if u == UUID_TIMESTAMPS => Kind::Timestamps,
        u if u == UUID_SESSION => Kind::Session,
        u if u == UUID_RENDITION => Kind::Rendition,
        _ => return None,
    };
    let mut r = body;
    let n = (take(&mut r, 1)?[0] & 0x0f) + 1;
    let mut timestamps = SmallVec::new();
    for _ in 0..n {
        let head = take(&mut r, 2)?;
        let (ty, event) = (head[0], head[1]);
        let unix_ns = match ty {
            1 => {
                let len = r.iter().take(MAX_TIME_TEXT).position(|&b| b == 0)?;
                let text = take(&mut r, len + 1)?;
                Some(rfc3339_ns(std::str::from_utf8(&text[..len]).ok()?)?)
            }
            2 => {
                let ms = u64::from_be_bytes(take(&mut r, 8)?.try_into().ok()?);
                Some(i64::try_from(ms).ok()?.checked_mul(1_000_000)?)
            }
            3 => {
                take(&mut r, 8)?;
                None
            }
            _ => return None,
        };
        timestamps.push(Timestamp { event, unix_ns });
    }
    let mut counters = SmallVec::new();
    if kind != Kind::Timestamps {
        let n = (take(&mut r, 1)?[0] & 0x0f) + 1;
        for _ in 0..n {
            let c = take(&mut r, 5)?;
            counters.push((c[0], u32::from_be_bytes([c[1], c[2], c[3], c[4]])));
        }
    }
    Some(Bpm {
        kind,
        timestamps,
        counters,
    })
}

fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = r.split_at_checked(n)?;
    *r = rest;
    Some(head)
}

/// An RFC 3339 time (OBS writes `YYYY-MM-DDTHH:MM:SS.mmmZ`) in ns since the Unix
/// epoch, by chrono's parser (no allocation, no time zone database).
fn rfc3339_ns(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_nanos_opt()
}

/// The `(payloadType, payload)` SEI messages of an SEI RBSP (H.264 §7.3.2.3.1,
/// HEVC §7.3.5: ff-coded type and size), without its NAL header.
pub fn sei_messages(mut rbsp: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    std::iter::from_fn(move || {
        // more_rbsp_data(): stop at the trailing bits (0x80) or the end.
        if rbsp.len() <= 1 {
            return None;
        }
        let ff = |r: &mut &[u8]| -> Option<u32> {
            let mut v = 0u32;
            loop {
                let (&b, rest) = r.split_first()?;
                *r = rest;
                v = v.checked_add(u32::from(b))?;
                if b != 0xff {
                    return Some(v);
                }
            }
        };
        let ty = ff(&mut rbsp)?;
        let size = ff(&mut rbsp)? as usize;
        let payload = take(&mut rbsp, size)?;
        Some((ty, payload))
    })
}

/// The BPM messages in the SEI NAL units among `nals` (H.264 type 6, HEVC 39/40).
/// An SEI is unescaped into a buffer of its own: BPM rides on key frames only, so
/// this costs one small allocation per key frame.
pub fn in_nals<'a>(
    nals: impl IntoIterator<Item = crate::Nal<'a>>,
    codec: crate::Codec,
) -> Vec<Bpm> {
    let mut out = Vec::new();
    for nal in nals {
        let header = match (codec, nal.nal_type(codec)) {
            (crate::Codec::H264, Some(crate::h264::SEI)) => 1,
            (crate::Codec::Hevc, Some(crate::hevc::SEI_PREFIX | crate::hevc::SEI_SUFFIX)) => 2,
            _ => continue,
        };
        let Some(body) = nal.0.get(header..) else {
            continue;
        };
        let mut rbsp = Vec::with_capacity(body.len());
        crate::nal::for_each_rbsp_run(body, |run| rbsp.extend_from_slice(run));
        out.extend(
            sei_messages(&rbsp)
                .filter(|(ty, _)| *ty == 5)
                .filter_map(|(_, p)| parse_payload(p)),
        );
    }
    out
}

/// The BPM messages in the metadata OBUs (type 5) of `metadata_type` 6 of an AV1
/// temporal unit (AV1 specification §5.8.1: `metadata_type` is LEB128).
pub fn in_obus(data: &[u8]) -> Vec<Bpm> {
    crate::obu::iter_obus(data)
        .filter(|o| o.obu_type() == crate::obu::obu_type::METADATA)
        .filter_map(|o| match o.payload.split_first() {
            Some((6, payload)) => parse_payload(payload),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_as_obs_writes_it() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:00.000Z"), Some(0));
        // 2024-05-31T12:26:03.591Z, OBS's example: 1717158363.591 s.
        assert_eq!(
            rfc3339_ns("2024-05-31T12:26:03.591Z"),
            Some(1_717_158_363_591_000_000)
        );
        assert_eq!(
            rfc3339_ns("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000_000_000)
        );
        for bad in ["2024-13-01T00:00:00Z", "2024-05-31T12:26:03.Z", "x"] {
            assert_eq!(rfc3339_ns(bad), None, "{bad}");
        }
    }
}
