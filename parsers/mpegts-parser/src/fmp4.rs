//! Fragmented MP4 (ISO/IEC 14496-12): init segment (`moov`) and media fragments
//! (`moof` + `mdat`) → samples, fed in arbitrary pieces.
//!
//! Metadata boxes (`moov`, `moof`, and the packager's `prft` and `emsg`, parsed in
//! `producer.rs`) are small and assembled whole (capped at
//! [`MAX_META_BOX_LEN`]); `mdat` is never held: its bytes are cut into the samples
//! the preceding `moof` announced, and only the video sample being assembled is
//! buffered (for its fingerprint).

use std::collections::VecDeque;

use avc::{Codec, Fingerprint};

use crate::anomalies::Anomalies;
use crate::producer::{parse_emsg, parse_prft, EventMessage, ProducerTime};
use crate::{MAX_FRAME_LEN, MAX_META_BOX_LEN, MAX_SAMPLES_PER_RUN, MAX_STREAMS};

/// What the demuxer knows about one track (from `moov`, or given by the caller
/// when the init segment was not captured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackConfig {
    pub track_id: u32,
    /// H.264 (`avc1`/`avc3`), HEVC (`hvc1`/`hev1`), AV1 (`av01`) or VP9 (`vp09`)
    /// video; `None` for others.
    pub codec: Option<Codec>,
    /// NAL length prefix size from avcC/hvcC (1, 2 or 4; unused for AV1 and VP9).
    pub length_size: u8,
    /// Media timescale (ticks per second) from `mdhd`; 0 if unknown.
    pub timescale: u32,
    /// `hdlr` handler type, e.g. `vide`, `soun`.
    pub handler: [u8; 4],
    /// Defaults from `trex`.
    pub default_sample_duration: u32,
    pub default_sample_size: u32,
    pub default_sample_flags: u32,
    /// H.264: the SPS and PPS NAL units of the `avcC` (ISO/IEC 14496-15
    /// §5.3.3.1), which picture timing SEI needs (`avc::timecode`); empty
    /// otherwise.
    pub parameter_sets: Vec<Vec<u8>>,
}

/// The SPS and PPS NAL units of an `avcC` box body: after 5 bytes, a count (low 5
/// bits) of 16-bit-length-prefixed SPS, then a count byte of PPS. What is cut
/// short is left out.
fn avcc_parameter_sets(c: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = c.get(5..).unwrap_or(&[]);
    for mask in [0x1f, 0xff] {
        let Some((&n, r)) = rest.split_first() else {
            break;
        };
        rest = r;
        for _ in 0..(n & mask) {
            let Some(len) = rest
                .get(..2)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            else {
                return out;
            };
            let Some(nal) = rest.get(2..2 + len) else {
                return out;
            };
            out.push(nal.to_vec());
            rest = &rest[2 + len..];
        }
    }
    out
}

impl TrackConfig {
    /// An H.264 track with 4-byte NAL lengths (what ffmpeg and most packagers
    /// write), for fragments whose init segment was not seen.
    pub fn h264(track_id: u32, timescale: u32) -> TrackConfig {
        TrackConfig {
            track_id,
            codec: Some(Codec::H264),
            length_size: 4,
            timescale,
            handler: *b"vide",
            default_sample_duration: 0,
            default_sample_size: 0,
            default_sample_flags: 0,
            parameter_sets: Vec::new(),
        }
    }
}

/// One sample (for video: one access unit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub track_id: u32,
    /// Its track's `hdlr` handler type (`vide`, `soun`, ...), zeros if the track
    /// is unknown.
    pub handler: [u8; 4],
    /// `mfhd` sequence number of its fragment.
    pub fragment: u32,
    /// Decode time in timescale ticks (`tfdt` + preceding durations).
    pub decode_time: u64,
    /// Composition time offset (PTS = decode_time + this).
    pub composition_offset: i64,
    pub duration: u32,
    pub size: u32,
    /// Not flagged sample_is_non_sync_sample (a keyframe, for video).
    pub sync: bool,
    /// Track timescale, if known.
    pub timescale: Option<u32>,
    /// NAL unit types (video tracks with a known codec).
    pub nal_types: avc::NalTypes,
    pub fingerprint: Option<Fingerprint>,
    /// The encoder's timecode (`avc::timecode`), where the sample carries one.
    pub timecode: Option<Box<avc::timecode::FrameTimecode>>,
    /// Stream offsets of the sample's bytes in `mdat`.
    pub start: u64,
    pub end: u64,
    /// Bytes of it were missed (outside an mdat, lost in a gap, cut at the cap).
    pub damaged: bool,
}

/// What the demuxer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fmp4Message {
    /// A track learned from `moov`.
    Track(TrackConfig),
    Sample(Sample),
    /// A `prft` box: the packager's wall clock at a media time.
    ProducerTime(ProducerTime),
    /// An `emsg` box: a DASH event message.
    EventMessage(EventMessage),
}

enum State {
    /// Expecting a box header.
    Header,
    /// Assembling a `moov` or `moof` body; `start` is the box's first byte.
    Collect {
        kind: [u8; 4],
        start: u64,
        remaining: u64,
        buf: Vec<u8>,
    },
    /// Skipping a box body (`None`: to the end of the stream).
    Skip { remaining: Option<u64> },
    /// Inside `mdat` (its end, if it has one).
    Mdat { end: Option<u64> },
    /// Framing lost; everything is ignored.
    Dead,
}

/// A sample announced by a `moof` whose bytes are still to come.
struct Pending {
    sample: Sample,
    filled: u64,
    buf: Vec<u8>,
    codec: Option<(Codec, u8)>,
}

/// Streaming fMP4 demuxer.
pub struct Fmp4Demuxer {
    tracks: Vec<TrackConfig>,
    state: State,
    pending: VecDeque<Pending>,
    next_offset: Option<u64>,
    out: VecDeque<Fmp4Message>,
    anomalies: Anomalies,
    /// Timecode state per track id (`avc::timecode`), at most [`MAX_TIMECODE_TRACKS`].
    timecodes: Vec<(u32, Box<avc::timecode::Tracker>)>,
}

/// Tracks whose timecodes are followed; a segment has a handful of tracks.
const MAX_TIMECODE_TRACKS: usize = 16;

impl Default for Fmp4Demuxer {
    fn default() -> Self {
        Fmp4Demuxer::new()
    }
}

/// Big-endian reader over a box body; every read is checked.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let hi = self.u32()?;
        let lo = self.u32()?;
        Some(u64::from(hi) << 32 | u64::from(lo))
    }
    /// version and flags of a full box.
    pub(crate) fn full(&mut self) -> Option<(u8, u32)> {
        let v = self.u32()?;
        Some(((v >> 24) as u8, v & 0x00ff_ffff))
    }
    /// A null-terminated UTF-8 string (lossy), without its terminator.
    pub(crate) fn cstr(&mut self) -> Option<String> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let s = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0 = &self.0[end + 1..];
        Some(s)
    }
}

/// The child boxes of a body, stopping at the first malformed one.
fn children(mut body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let mut r = Reader(body);
        let size = r.u32()?;
        let kind: [u8; 4] = r.take(4)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, body.len() as u64),
            1 => (16, r.u64()?),
            n => (8, u64::from(n)),
        };
        if size < header as u64 || size > body.len() as u64 {
            return None;
        }
        let (this, rest) = body.split_at(size as usize);
        body = rest;
        Some((kind, &this[header..]))
    })
}

fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// A track from a `trak` box.
fn parse_trak(trak: &[u8]) -> Option<TrackConfig> {
    let mut tkhd = Reader(child(trak, b"tkhd")?);
    let (v, _) = tkhd.full()?;
    tkhd.take(if v == 1 { 16 } else { 8 })?;
    let track_id = tkhd.u32()?;
    let mdia = child(trak, b"mdia")?;
    let timescale = child(mdia, b"mdhd")
        .and_then(|b| {
            let mut r = Reader(b);
            let (v, _) = r.full()?;
            r.take(if v == 1 { 16 } else { 8 })?;
            r.u32()
        })
        .unwrap_or(0);
    let handler = child(mdia, b"hdlr")
        .and_then(|b| b.get(8..12)?.try_into().ok())
        .unwrap_or([0; 4]);
    let mut config = TrackConfig {
        track_id,
        codec: None,
        length_size: 4,
        timescale,
        handler,
        default_sample_duration: 0,
        default_sample_size: 0,
        default_sample_flags: 0,
        parameter_sets: Vec::new(),
    };
    let stsd = child(mdia, b"minf")
        .and_then(|b| child(b, b"stbl"))
        .and_then(|b| child(b, b"stsd"));
    // stsd: full box header and entry_count, then sample entries.
    if let Some((kind, entry)) = stsd.and_then(|b| children(b.get(8..)?).next()) {
        // Visual sample entry: 8 bytes SampleEntry + 70 bytes of picture fields,
        // then child boxes (avcC / hvcC).
        let inner = entry.get(78..).unwrap_or(&[]);
        match &kind {
            b"avc1" | b"avc3" => {
                config.codec = Some(Codec::H264);
                if let Some(c) = child(inner, b"avcC") {
                    if let Some(&b) = c.get(4) {
                        config.length_size = (b & 3) + 1;
                    }
                    config.parameter_sets = avcc_parameter_sets(c);
                }
            }
            b"hvc1" | b"hev1" => {
                config.codec = Some(Codec::Hevc);
                if let Some(&b) = child(inner, b"hvcC").and_then(|c| c.get(21)) {
                    config.length_size = (b & 3) + 1;
                }
            }
            // AV1 binding §2.3 (`av01` + `av1C`), VP codec ISO binding (`vp09` +
            // `vpcC`): samples are OBUs / whole frames, nothing to learn here.
            b"av01" => config.codec = Some(Codec::Av1),
            b"vp09" => config.codec = Some(Codec::Vp9),
            _ => {}
        }
    }
    Some(config)
}

impl Fmp4Demuxer {
    /// A demuxer that learns its tracks from the init segment fed first.
    pub fn new() -> Fmp4Demuxer {
        Fmp4Demuxer::with_tracks(Vec::new())
    }

    /// A demuxer for fragments whose init segment was not seen (or was fetched on
    /// another connection): the tracks are given.
    pub fn with_tracks(tracks: Vec<TrackConfig>) -> Fmp4Demuxer {
        Fmp4Demuxer {
            tracks,
            state: State::Header,
            pending: VecDeque::new(),
            next_offset: None,
            out: VecDeque::new(),
            anomalies: Anomalies::default(),
            timecodes: Vec::new(),
        }
    }

    /// The tracks known so far (to carry over to the next segment's demuxer).
    pub fn tracks(&self) -> &[TrackConfig] {
        &self.tracks
    }

    /// Feeds bytes; `offset` is the stream offset of `input[0]`. Returns how many
    /// were consumed (box headers are only consumed whole).
    pub fn feed(&mut self, offset: u64, input: &[u8]) -> usize {
        if self.next_offset.is_some_and(|n| n != offset) {
            self.anomalies.bump("fmp4.offset_mismatch");
        }
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            let at = offset + pos as u64;
            match &mut self.state {
                State::Header => match self.header(at, rest) {
                    Some(n) => pos += n,
                    None => break,
                },
                State::Collect { remaining, buf, .. } => {
                    let n = rest.len().min(*remaining as usize);
                    buf.extend_from_slice(&rest[..n]);
                    *remaining -= n as u64;
                    pos += n;
                    if *remaining == 0 {
                        self.collected();
                    }
                }
                State::Skip { remaining } => {
                    let n = remaining.map_or(rest.len(), |r| rest.len().min(r as usize));
                    pos += n;
                    if let Some(r) = remaining {
                        *r -= n as u64;
                        if *r == 0 {
                            self.state = State::Header;
                        }
                    }
                }
                State::Mdat { end } => {
                    let end = *end;
                    let n = end.map_or(rest.len(), |e| rest.len().min((e - at) as usize));
                    self.mdat_bytes(at, &rest[..n]);
                    pos += n;
                    if end == Some(at + n as u64) {
                        self.state = State::Header;
                    }
                }
                State::Dead => pos = input.len(),
            }
        }
        self.next_offset = Some(offset + pos as u64);
        pos
    }

    /// Bytes were lost: box framing cannot be recovered reliably (a box type is
    /// only four printable bytes), so the rest of the segment is given up unless
    /// the loss lies inside the current `mdat` or a skipped box.
    pub fn gap(&mut self, offset: u64, len: u64) {
        self.next_offset = Some(offset + len);
        match &mut self.state {
            State::Mdat { end } if end.is_none_or(|e| offset + len <= e) => {
                self.anomalies.bump("fmp4.gap_in_mdat");
                if end.is_some_and(|e| offset + len == e) {
                    self.state = State::Header;
                }
            }
            State::Skip { remaining: Some(r) } if *r >= len => {
                *r -= len;
                if *r == 0 {
                    self.state = State::Header;
                }
            }
            State::Skip { remaining: None } | State::Dead => {}
            _ => {
                self.anomalies.bump("fmp4.gap_gave_up");
                self.state = State::Dead;
            }
        }
    }

    /// The segment ended: samples still missing bytes are reported damaged.
    pub fn end(&mut self, _offset: u64) {
        if matches!(
            self.state,
            State::Collect { .. } | State::Mdat { end: Some(_) }
        ) {
            self.anomalies.bump("fmp4.truncated");
        }
        self.flush_pending();
    }

    /// Messages decoded so far, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = Fmp4Message> + '_ {
        self.out.drain(..)
    }

    /// Anomalies counted by reason (`fmp4.*`).
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        self.anomalies.as_slice()
    }

    /// Reads a box header at `at`; `None` if more bytes are needed.
    fn header(&mut self, at: u64, rest: &[u8]) -> Option<usize> {
        let mut r = Reader(rest);
        let size = r.u32()?;
        let kind: [u8; 4] = r.take(4)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8u64, None),
            1 => (16, Some(r.u64()?)),
            n => (8, Some(u64::from(n))),
        };
        let body = match size {
            Some(s) if s < header => {
                self.anomalies.bump("fmp4.bad_box_size");
                self.state = State::Dead;
                return Some(rest.len());
            }
            Some(s) => Some(s - header),
            None => None,
        };
        self.state = match (&kind, body) {
            (b"mdat", _) => State::Mdat {
                end: body.map(|b| at + header + b),
            },
            (b"moov" | b"moof" | b"prft" | b"emsg", Some(b)) if b <= MAX_META_BOX_LEN => {
                State::Collect {
                    kind,
                    start: at,
                    remaining: b,
                    buf: Vec::new(),
                }
            }
            (b"moov" | b"moof" | b"prft" | b"emsg", _) => {
                self.anomalies.bump("fmp4.box_too_large");
                State::Skip { remaining: body }
            }
            _ => State::Skip { remaining: body },
        };
        if body == Some(0) {
            if let State::Collect { .. } = self.state {
                self.collected();
            } else {
                self.state = State::Header;
            }
        }
        Some(header as usize)
    }

    fn collected(&mut self) {
        let State::Collect {
            kind, start, buf, ..
        } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        match &kind {
            b"moov" => self.moov(&buf),
            b"prft" => match parse_prft(start, &buf) {
                Some(p) => self.out.push_back(Fmp4Message::ProducerTime(p)),
                None => self.anomalies.bump("fmp4.bad_prft"),
            },
            b"emsg" => match parse_emsg(start, &buf) {
                Some(e) => self.out.push_back(Fmp4Message::EventMessage(e)),
                None => self.anomalies.bump("fmp4.bad_emsg"),
            },
            _ => self.moof(start, &buf),
        }
    }

    fn moov(&mut self, body: &[u8]) {
        let mut found: Vec<TrackConfig> = children(body)
            .filter(|(k, _)| k == b"trak")
            .filter_map(|(_, b)| parse_trak(b))
            .take(MAX_STREAMS)
            .collect();
        let trexes = child(body, b"mvex")
            .into_iter()
            .flat_map(children)
            .filter(|(k, _)| k == b"trex");
        for (_, trex) in trexes {
            let mut r = Reader(trex);
            let fields = (|| Some((r.full()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?)))();
            if let Some((_, id, _, duration, size, flags)) = fields {
                if let Some(t) = found.iter_mut().find(|t| t.track_id == id) {
                    t.default_sample_duration = duration;
                    t.default_sample_size = size;
                    t.default_sample_flags = flags;
                }
            }
        }
        for t in found {
            self.out.push_back(Fmp4Message::Track(t.clone()));
            self.tracks.retain(|old| old.track_id != t.track_id);
            self.tracks.push(t);
        }
    }

    fn moof(&mut self, moof_start: u64, body: &[u8]) {
        if !self.pending.is_empty() {
            self.anomalies.bump("fmp4.samples_without_data");
            self.flush_pending();
        }
        let fragment = child(body, b"mfhd")
            .and_then(|b| Reader(b.get(4..)?).u32())
            .unwrap_or(0);
        let mut samples: Vec<Pending> = Vec::new();
        for (_, traf) in children(body).filter(|(k, _)| k == b"traf") {
            if self
                .traf(moof_start, fragment, traf, &mut samples)
                .is_none()
            {
                self.anomalies.bump("fmp4.bad_traf");
            }
        }
        samples.sort_by_key(|p| p.sample.start);
        self.pending = samples.into();
    }

    /// Announces the samples of one `traf`. `None` if it is malformed.
    fn traf(
        &mut self,
        moof_start: u64,
        fragment: u32,
        traf: &[u8],
        out: &mut Vec<Pending>,
    ) -> Option<()> {
        let mut tfhd = Reader(child(traf, b"tfhd")?);
        let (_, flags) = tfhd.full()?;
        let track_id = tfhd.u32()?;
        let track = self.tracks.iter().find(|t| t.track_id == track_id).cloned();
        if track.is_none() {
            self.anomalies.bump("fmp4.unknown_track");
        }
        let base = if flags & 0x01 != 0 {
            tfhd.u64()?
        } else {
            moof_start
        };
        if flags & 0x02 != 0 {
            tfhd.u32()?; // sample_description_index
        }
        let t = track.as_ref();
        let default_duration = if flags & 0x08 != 0 {
            tfhd.u32()?
        } else {
            t.map_or(0, |t| t.default_sample_duration)
        };
        let default_size = if flags & 0x10 != 0 {
            tfhd.u32()?
        } else {
            t.map_or(0, |t| t.default_sample_size)
        };
        let default_flags = if flags & 0x20 != 0 {
            tfhd.u32()?
        } else {
            t.map_or(0, |t| t.default_sample_flags)
        };
        let mut decode_time = child(traf, b"tfdt")
            .and_then(|b| {
                let mut r = Reader(b);
                let (v, _) = r.full()?;
                if v == 1 {
                    r.u64()
                } else {
                    r.u32().map(u64::from)
                }
            })
            .unwrap_or(0);
        let codec = t.and_then(|t| Some((t.codec?, t.length_size)));
        let mut data_pos = base;
        for (_, trun) in children(traf).filter(|(k, _)| k == b"trun") {
            let mut r = Reader(trun);
            let (version, tr_flags) = r.full()?;
            let count = r.u32()?;
            if tr_flags & 0x01 != 0 {
                let offset = r.u32()? as i32;
                data_pos = base.checked_add_signed(i64::from(offset))?;
            }
            let first_flags = if tr_flags & 0x04 != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            let per_sample = [0x100, 0x200, 0x400, 0x800]
                .iter()
                .filter(|&&f| tr_flags & f != 0)
                .count()
                * 4;
            if count > MAX_SAMPLES_PER_RUN
                || (per_sample > 0 && count as usize > r.0.len() / per_sample)
            {
                self.anomalies.bump("fmp4.too_many_samples");
                return None;
            }
            for i in 0..count {
                let duration = if tr_flags & 0x100 != 0 {
                    r.u32()?
                } else {
                    default_duration
                };
                let size = if tr_flags & 0x200 != 0 {
                    r.u32()?
                } else {
                    default_size
                };
                let mut sample_flags = if tr_flags & 0x400 != 0 {
                    r.u32()?
                } else {
                    default_flags
                };
                if i == 0 {
                    if let Some(f) = first_flags {
                        sample_flags = f;
                    }
                }
                let composition_offset = if tr_flags & 0x800 != 0 {
                    let raw = r.u32()?;
                    if version == 0 {
                        i64::from(raw)
                    } else {
                        i64::from(raw as i32)
                    }
                } else {
                    0
                };
                out.push(Pending {
                    sample: Sample {
                        track_id,
                        handler: t.map_or([0; 4], |t| t.handler),
                        fragment,
                        decode_time,
                        composition_offset,
                        duration,
                        size,
                        sync: sample_flags & 0x0001_0000 == 0,
                        timescale: t.map(|t| t.timescale).filter(|&s| s != 0),
                        nal_types: avc::NalTypes::new(),
                        fingerprint: None,
                        timecode: None,
                        start: data_pos,
                        end: data_pos.saturating_add(u64::from(size)),
                        damaged: false,
                    },
                    filled: 0,
                    buf: Vec::new(),
                    codec,
                });
                decode_time = decode_time.wrapping_add(u64::from(duration));
                data_pos = data_pos.saturating_add(u64::from(size));
            }
        }
        Some(())
    }

    /// Cuts `mdat` bytes at stream offset `at` into the pending samples.
    fn mdat_bytes(&mut self, at: u64, data: &[u8]) {
        let data_end = at + data.len() as u64;
        while let Some(p) = self.pending.front_mut() {
            let (start, end) = (p.sample.start, p.sample.end);
            if start >= data_end {
                return;
            }
            let from = at.max(start);
            if from > start + p.filled {
                p.sample.damaged = true; // bytes before `at` were never seen
            }
            let to = data_end.min(end);
            if to > from {
                let piece = &data[(from - at) as usize..(to - at) as usize];
                if p.codec.is_some() {
                    let room = MAX_FRAME_LEN.saturating_sub(p.buf.len());
                    if piece.len() > room {
                        p.sample.damaged = true;
                    }
                    p.buf.extend_from_slice(&piece[..piece.len().min(room)]);
                }
                p.filled = to - p.sample.start;
            }
            if p.sample.end > data_end {
                return;
            }
            if let Some(p) = self.pending.pop_front() {
                self.emit(p);
            }
        }
    }

    fn emit(&mut self, mut p: Pending) {
        if p.filled < u64::from(p.sample.size) {
            p.sample.damaged = true;
        }
        if let Some((codec, length_size)) = p.codec {
            if codec.has_nal_units() {
                p.sample.nal_types = avc::iter_avcc(&p.buf, length_size)
                    .filter_map(|n| n.nal_type(codec))
                    .collect();
            }
            p.sample.fingerprint = avc::fingerprint_frame(&p.buf, length_size, codec);
            p.sample.timecode = self.timecode(&p, codec, length_size).map(Box::new);
        }
        self.out.push_back(Fmp4Message::Sample(p.sample));
    }

    /// The sample's timecode: H.264 / HEVC SEI (H.264 read with the `avcC`'s
    /// parameter sets and those in band), AV1 timecode metadata OBUs.
    fn timecode(
        &mut self,
        p: &Pending,
        codec: avc::Codec,
        length_size: u8,
    ) -> Option<avc::timecode::FrameTimecode> {
        let may_have = match codec {
            avc::Codec::H264 => p.sample.nal_types.iter().any(|&t| matches!(t, 6..=8)),
            avc::Codec::Hevc => p.sample.nal_types.contains(&avc::hevc::SEI_PREFIX),
            avc::Codec::Av1 => true,
            avc::Codec::Vp9 => false,
        };
        if !may_have {
            return None;
        }
        let id = p.sample.track_id;
        let at = match self.timecodes.iter().position(|(t, _)| *t == id) {
            Some(at) => at,
            None if self.timecodes.len() < MAX_TIMECODE_TRACKS => {
                let mut tracker = Box::<avc::timecode::Tracker>::default();
                let track = self.tracks.iter().find(|t| t.track_id == id);
                for ps in track.into_iter().flat_map(|t| &t.parameter_sets) {
                    tracker.h264_parameter_set(avc::Nal(ps));
                }
                self.timecodes.push((id, tracker));
                self.timecodes.len() - 1
            }
            None => return None,
        };
        let tracker = &mut self.timecodes[at].1;
        match codec {
            avc::Codec::Av1 => tracker.frame_obus(&p.buf),
            _ => tracker.frame_nals(avc::iter_avcc(&p.buf, length_size), codec),
        }
    }

    fn flush_pending(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(p);
        }
    }
}
