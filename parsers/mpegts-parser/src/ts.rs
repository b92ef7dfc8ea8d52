//! The MPEG-TS demuxer.

use std::collections::VecDeque;

use crate::access_unit::{split_annexb, AccessUnit};
use crate::anomalies::Anomalies;
use crate::pes::{self, PesHeader};
use crate::psi::{self, ProgramMap, SectionAssembler, StreamType};
use crate::timestamp::{Timestamp, Unwrapper};
use crate::{MAX_FRAME_LEN, MAX_STREAMS, TS_PACKET_LEN};

const SYNC: u8 = 0x47;
const NULL_PID: u16 = 0x1fff;
/// Bytes of a non-video PES kept: enough for its header.
const PES_HEADER_KEEP: usize = 64;

/// A non-video PES packet (audio, metadata): timing and size only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PesInfo {
    pub pid: u16,
    pub stream_type: StreamType,
    pub stream_id: u8,
    pub pts: Option<Timestamp>,
    pub dts: Option<Timestamp>,
    /// Payload bytes (after the PES header).
    pub payload_len: usize,
    /// Stream offset of the first TS packet carrying it.
    pub start: u64,
    /// One past the last TS packet carrying it.
    pub end: u64,
    pub random_access: bool,
    pub damaged: bool,
}

/// What the demuxer reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsMessage {
    /// A program map table, when first seen or changed.
    Pmt(ProgramMap),
    /// A program clock reference (27 MHz units, 42 bits) in the packet at `offset`.
    Pcr { pid: u16, pcr: u64, offset: u64 },
    /// A video access unit.
    AccessUnit(AccessUnit),
    /// Any other PES packet of a stream listed in a PMT.
    Pes(PesInfo),
}

/// A PES being assembled.
struct OpenPes {
    /// All bytes of the PES seen (the buffer may keep fewer).
    total: usize,
    start: u64,
    end: u64,
    random_access: bool,
    damaged: bool,
}

struct Stream {
    pid: u16,
    stream_type: StreamType,
    /// The video codec the PMT gives it (`ElementaryStream::video_codec`).
    codec: Option<avc::Codec>,
    /// A private-data stream with no registration descriptor: it may be AV1 as
    /// ffmpeg muxes it (`av1::is_ffmpeg_av1`), so its PES are kept whole.
    maybe_av1: bool,
    cc: Option<u8>,
    pes: Option<OpenPes>,
    /// The open PES's bytes (whole for video, the header for other streams). Kept
    /// with the stream rather than the PES so its capacity serves every PES: one
    /// allocation per stream instead of a growing one per frame.
    buf: Vec<u8>,
    /// The stream's H.264 parameter sets and last timecode, for its timecodes.
    timecode: Box<avc::timecode::Tracker>,
}

struct Psi {
    pid: u16,
    cc: Option<u8>,
    sections: SectionAssembler,
}

/// Streaming MPEG-TS demuxer for one segment (or one continuous TS stream).
pub struct TsDemuxer {
    synced: bool,
    next_offset: Option<u64>,
    psi: Vec<Psi>,
    pmts: Vec<ProgramMap>,
    streams: Vec<Stream>,
    unwrapper: Unwrapper,
    out: VecDeque<TsMessage>,
    anomalies: Anomalies,
    /// The start of a packet cut by the end of the last input (while in sync). Kept
    /// here rather than left unconsumed: a caller holding unconsumed bytes has to
    /// copy its whole next input behind them, which for HTTP bodies arriving in
    /// TCP-segment-sized pieces meant copying every byte of every segment once more.
    partial: [u8; TS_PACKET_LEN],
    partial_len: usize,
    partial_at: u64,
    /// Where the NAL units of the access unit being split lie (reused).
    nal_scratch: Vec<(std::ops::Range<usize>, bool)>,
    /// An AV1 access unit's OBUs without start codes and escapes (`av1`).
    obu_scratch: Vec<u8>,
}

impl Default for TsDemuxer {
    fn default() -> Self {
        TsDemuxer::new()
    }
}

/// Result of looking for sync in unsynchronized bytes.
enum Sync {
    /// A packet starts at this index and another 188 bytes later.
    Found(usize),
    /// A candidate at this index cannot be confirmed yet: wait for more bytes.
    Wait(usize),
    /// No candidate at all.
    None,
}

fn find_sync(data: &[u8]) -> Sync {
    let mut from = 0;
    while let Some(p) = data[from..].iter().position(|&b| b == SYNC) {
        let p = from + p;
        match data.get(p + TS_PACKET_LEN) {
            Some(&SYNC) => return Sync::Found(p),
            Some(_) => from = p + 1,
            None => return Sync::Wait(p),
        }
    }
    Sync::None
}

impl TsDemuxer {
    /// A demuxer whose timestamps are relative to the first one it sees.
    pub fn new() -> TsDemuxer {
        TsDemuxer::with_unwrapper(Unwrapper::default())
    }

    /// A demuxer continuing the timestamp unwrapping of a previous segment of the
    /// same stream (see [`TsDemuxer::unwrapper`]).
    pub fn with_unwrapper(unwrapper: Unwrapper) -> TsDemuxer {
        TsDemuxer {
            synced: true,
            next_offset: None,
            psi: vec![Psi {
                pid: 0,
                cc: None,
                sections: SectionAssembler::default(),
            }],
            pmts: Vec::new(),
            streams: Vec::new(),
            unwrapper,
            out: VecDeque::new(),
            anomalies: Anomalies::default(),
            partial: [0; TS_PACKET_LEN],
            partial_len: 0,
            partial_at: 0,
            nal_scratch: Vec::new(),
            obu_scratch: Vec::new(),
        }
    }

    /// The unwrapping state, to pass to the demuxer of the next segment.
    pub fn unwrapper(&self) -> Unwrapper {
        self.unwrapper
    }

    /// Feeds bytes; `offset` is the stream offset of `input[0]`. In sync, consumes
    /// everything: a packet cut by the end of the input is kept here and completed
    /// by the next call. Out of sync, consumes the garbage before a candidate sync
    /// byte and leaves the rest for the caller to pass again with more bytes.
    pub fn feed(&mut self, offset: u64, input: &[u8]) -> usize {
        if self.next_offset.is_some_and(|n| n != offset) {
            self.anomalies.bump("ts.offset_mismatch");
        }
        let mut pos = 0;
        if self.partial_len > 0 {
            let take = (TS_PACKET_LEN - self.partial_len).min(input.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&input[..take]);
            self.partial_len += take;
            pos = take;
            if self.partial_len == TS_PACKET_LEN {
                self.partial_len = 0;
                let pkt = self.partial;
                self.packet(self.partial_at, &pkt);
            }
        }
        loop {
            let rest = &input[pos..];
            if !self.synced {
                let (skip, found) = match find_sync(rest) {
                    Sync::Found(p) => (p, true),
                    Sync::Wait(p) => (p, false),
                    Sync::None => (rest.len(), false),
                };
                if skip > 0 {
                    self.anomalies.add("ts.garbage_bytes", skip as u64);
                }
                pos += skip;
                if !found {
                    break;
                }
                self.synced = true;
                continue;
            }
            if rest.is_empty() {
                break;
            }
            if rest[0] != SYNC {
                self.anomalies.bump("ts.sync_lost");
                self.synced = false;
                continue;
            }
            if rest.len() < TS_PACKET_LEN {
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = rest.len();
                self.partial_at = offset + pos as u64;
                pos = input.len();
                break;
            }
            self.packet(offset + pos as u64, &rest[..TS_PACKET_LEN]);
            pos += TS_PACKET_LEN;
        }
        self.next_offset = Some(offset + pos as u64);
        pos
    }

    /// `len` bytes at `offset` were lost: resync on the next sync byte; every PES
    /// in progress is marked damaged.
    pub fn gap(&mut self, offset: u64, len: u64) {
        self.anomalies.bump("ts.gap");
        self.synced = false;
        self.partial_len = 0;
        self.next_offset = Some(offset + len);
        for s in &mut self.streams {
            s.cc = None;
            if let Some(p) = &mut s.pes {
                p.damaged = true;
            }
        }
        for p in &mut self.psi {
            p.cc = None;
            p.sections.reset();
        }
    }

    /// The stream ended: reports the PES packets still open (a kept partial packet
    /// cannot be completed and is dropped).
    pub fn end(&mut self, _offset: u64) {
        for i in 0..self.streams.len() {
            self.finish_pes(i);
        }
    }

    /// Messages decoded so far, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = TsMessage> + '_ {
        self.out.drain(..)
    }

    /// Anomalies counted by reason (`ts.*`).
    pub fn anomalies(&self) -> &[(&'static str, u64)] {
        self.anomalies.as_slice()
    }

    /// The latest PMT of each program.
    pub fn programs(&self) -> &[ProgramMap] {
        &self.pmts
    }

    /// Checks the continuity counter; returns false for a duplicate packet (to be
    /// dropped). `damaged` is set when packets were lost.
    fn continuity(
        anomalies: &mut Anomalies,
        last: &mut Option<u8>,
        cc: u8,
        has_payload: bool,
        discontinuity: bool,
        damaged: &mut bool,
    ) -> bool {
        if !has_payload {
            return true;
        }
        match *last {
            Some(l) if l == cc && !discontinuity => {
                anomalies.bump("ts.duplicate_packet");
                return false;
            }
            Some(l) if (l + 1) & 0x0f != cc && !discontinuity => {
                anomalies.bump("ts.cc_error");
                *damaged = true;
            }
            _ => {}
        }
        *last = Some(cc);
        true
    }

    fn packet(&mut self, at: u64, pkt: &[u8]) {
        if pkt[1] & 0x80 != 0 {
            self.anomalies.bump("ts.transport_error");
            return;
        }
        let unit_start = pkt[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([pkt[1] & 0x1f, pkt[2]]);
        let afc = (pkt[3] >> 4) & 0x03;
        let cc = pkt[3] & 0x0f;
        if pid == NULL_PID {
            return;
        }
        if afc == 0 {
            self.anomalies.bump("ts.bad_adaptation_field");
            return;
        }
        let mut payload_start = 4;
        let (mut discontinuity, mut random_access) = (false, false);
        if afc & 0x02 != 0 {
            let len = usize::from(pkt[4]);
            let max = if afc == 0x02 { 183 } else { 182 };
            if len > max {
                self.anomalies.bump("ts.bad_adaptation_field");
                return;
            }
            if len > 0 {
                let flags = pkt[5];
                discontinuity = flags & 0x80 != 0;
                random_access = flags & 0x40 != 0;
                if flags & 0x10 != 0 && len >= 7 {
                    let b = &pkt[6..12];
                    let base = u64::from(b[0]) << 25
                        | u64::from(b[1]) << 17
                        | u64::from(b[2]) << 9
                        | u64::from(b[3]) << 1
                        | u64::from(b[4]) >> 7;
                    let ext = (u64::from(b[4]) & 1) << 8 | u64::from(b[5]);
                    self.out.push_back(TsMessage::Pcr {
                        pid,
                        pcr: base * 300 + ext,
                        offset: at,
                    });
                }
            }
            payload_start = 5 + len;
        }
        let payload = if afc & 0x01 != 0 {
            &pkt[payload_start..]
        } else {
            &[][..]
        };
        let has_payload = afc & 0x01 != 0;

        if let Some(i) = self.psi.iter().position(|p| p.pid == pid) {
            let psi = &mut self.psi[i];
            let mut damaged = false;
            if !Self::continuity(
                &mut self.anomalies,
                &mut psi.cc,
                cc,
                has_payload,
                discontinuity,
                &mut damaged,
            ) {
                return;
            }
            if damaged {
                psi.sections.reset();
            }
            for section in psi.sections.push(payload, unit_start) {
                self.section(pid, &section);
            }
            return;
        }
        let Some(i) = self.streams.iter().position(|s| s.pid == pid) else {
            return; // not in any PMT (yet)
        };
        let stream = &mut self.streams[i];
        let mut damaged = false;
        if !Self::continuity(
            &mut self.anomalies,
            &mut stream.cc,
            cc,
            has_payload,
            discontinuity,
            &mut damaged,
        ) {
            return;
        }
        if damaged {
            if let Some(p) = &mut stream.pes {
                p.damaged = true;
            }
        }
        if unit_start {
            self.finish_pes(i);
            self.streams[i].buf.clear();
            self.streams[i].pes = Some(OpenPes {
                total: 0,
                start: at,
                end: at,
                random_access,
                damaged: false,
            });
        }
        let stream = &mut self.streams[i];
        let video = stream.codec.is_some() || stream.maybe_av1;
        let buf = &mut stream.buf;
        let Some(pes) = &mut stream.pes else {
            if has_payload {
                self.anomalies.bump("ts.payload_without_pes_start");
            }
            return;
        };
        pes.end = at + TS_PACKET_LEN as u64;
        pes.total += payload.len();
        let keep = if video {
            MAX_FRAME_LEN
        } else {
            PES_HEADER_KEEP
        };
        let room = keep.saturating_sub(buf.len());
        if video && payload.len() > room && !pes.damaged {
            self.anomalies.bump("ts.frame_too_large");
            pes.damaged = true;
        }
        buf.extend_from_slice(&payload[..payload.len().min(room)]);
        // A PES with a declared length is complete as soon as it is all here.
        if buf.len() >= 6 {
            let declared = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
            if declared != 0 && pes.total >= 6 + declared {
                self.finish_pes(i);
            }
        }
    }

    fn section(&mut self, pid: u16, section: &[u8]) {
        match section.first() {
            Some(0x00) if pid == 0 => {
                let Some(programs) = psi::parse_pat(section) else {
                    self.anomalies.bump("ts.bad_pat");
                    return;
                };
                for (_, pmt_pid) in programs {
                    if !self.psi.iter().any(|p| p.pid == pmt_pid) && self.psi.len() <= MAX_STREAMS {
                        self.psi.push(Psi {
                            pid: pmt_pid,
                            cc: None,
                            sections: SectionAssembler::default(),
                        });
                    }
                }
            }
            Some(0x02) => {
                let Some(pmt) = psi::parse_pmt(section, pid) else {
                    self.anomalies.bump("ts.bad_pmt");
                    return;
                };
                if self.pmts.contains(&pmt) {
                    return;
                }
                for es in &pmt.streams {
                    let count = self.streams.len();
                    match self.streams.iter_mut().find(|s| s.pid == es.pid) {
                        Some(s) => {
                            s.stream_type = es.stream_type;
                            s.codec = es.video_codec();
                            s.maybe_av1 = crate::av1::maybe_ffmpeg_av1(es);
                        }
                        None if count < MAX_STREAMS => self.streams.push(Stream {
                            pid: es.pid,
                            stream_type: es.stream_type,
                            codec: es.video_codec(),
                            maybe_av1: crate::av1::maybe_ffmpeg_av1(es),
                            cc: None,
                            pes: None,
                            buf: Vec::new(),
                            timecode: Box::default(),
                        }),
                        None => self.anomalies.bump("ts.too_many_streams"),
                    }
                }
                self.pmts.retain(|p| p.program_number != pmt.program_number);
                self.pmts.push(pmt.clone());
                self.out.push_back(TsMessage::Pmt(pmt));
            }
            _ => {} // other tables on PSI PIDs
        }
    }

    /// Reports the open PES of stream `i`, if any.
    fn finish_pes(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        let Some(mut pes) = stream.pes.take() else {
            return;
        };
        let buf = std::mem::take(&mut stream.buf);
        self.finish_pes_in(i, &mut pes, &buf);
        // Hand the buffer back (cleared when the next PES opens), unless a huge frame
        // made it huge.
        if buf.capacity() <= 1 << 20 {
            self.streams[i].buf = buf;
        }
    }

    fn finish_pes_in(&mut self, i: usize, pes: &mut OpenPes, buf: &[u8]) {
        let (pid, stream_type, codec, maybe_av1) = (
            self.streams[i].pid,
            self.streams[i].stream_type,
            self.streams[i].codec,
            self.streams[i].maybe_av1,
        );
        let header: PesHeader = match pes::parse(buf) {
            Ok(Some(h)) => h,
            Ok(None) => {
                self.anomalies.bump("ts.truncated_pes");
                return;
            }
            Err(()) => {
                self.anomalies.bump("ts.bad_pes_header");
                return;
            }
        };
        let declared = usize::from(header.packet_length);
        if declared != 0 && pes.total < 6 + declared {
            self.anomalies.bump("ts.truncated_pes");
            pes.damaged = true;
        }
        let pts = header.pts.map(|t| self.unwrapper.unwrap(t));
        let dts = header.dts.map(|t| self.unwrapper.unwrap(t)).or(pts);
        let payload_len = if declared != 0 {
            (6 + declared).min(pes.total)
        } else {
            pes.total
        }
        .saturating_sub(header.payload_start);
        let end = (header.payload_start + payload_len).min(buf.len());
        let payload = buf.get(header.payload_start..end).unwrap_or(&[]);
        let codec = codec.or_else(|| {
            (maybe_av1 && crate::av1::is_ffmpeg_av1(header.stream_id, payload))
                .then_some(avc::Codec::Av1)
        });
        let Some(codec) = codec else {
            self.out.push_back(TsMessage::Pes(PesInfo {
                pid,
                stream_type,
                stream_id: header.stream_id,
                pts,
                dts,
                payload_len,
                start: pes.start,
                end: pes.end,
                random_access: pes.random_access,
                damaged: pes.damaged,
            }));
            return;
        };
        if codec == avc::Codec::Av1 {
            // One access unit per PES (AV1 carriage §3.4; ffmpeg's too).
            let Some(unit) = crate::av1::access_unit(payload, &mut self.obu_scratch) else {
                self.anomalies.bump("ts.av1_without_start_code");
                return;
            };
            // AV1 timecode metadata OBUs (the scratch holds the unit's OBUs).
            let timecode = self.streams[i]
                .timecode
                .frame_obus(&self.obu_scratch)
                .map(Box::new);
            self.out.push_back(TsMessage::AccessUnit(AccessUnit {
                pid,
                codec,
                pts,
                dts,
                keyframe: unit.keyframe,
                random_access: pes.random_access,
                nal_types: avc::NalTypes::default(),
                size: unit.size,
                fingerprint: unit.fingerprint,
                timecode,
                start: pes.start,
                end: pes.end,
                damaged: pes.damaged,
            }));
            return;
        }
        let out = &mut self.out;
        let tracker = &mut self.streams[i].timecode;
        let mut first = true;
        split_annexb(payload, codec, &mut self.nal_scratch, |unit| {
            let first = std::mem::take(&mut first);
            // Only units with parameter sets, or SEI that can carry a timecode
            // (Tracker::reads_h264_sei), change or carry one.
            let timecode = unit
                .nal_types
                .iter()
                .any(|&t| match codec {
                    avc::Codec::H264 => {
                        matches!(t, avc::h264::SPS | avc::h264::PPS)
                            || t == avc::h264::SEI && tracker.reads_h264_sei()
                    }
                    _ => t == avc::hevc::SEI_PREFIX,
                })
                .then(|| {
                    let nals = avc::iter_annexb(payload.get(unit.range.clone()).unwrap_or(&[]));
                    tracker.frame_nals(nals, codec)
                })
                .flatten()
                .map(Box::new);
            out.push_back(TsMessage::AccessUnit(AccessUnit {
                pid,
                codec,
                pts: if first { pts } else { None },
                dts: if first { dts } else { None },
                keyframe: unit.keyframe,
                random_access: pes.random_access,
                nal_types: unit.nal_types,
                size: unit.range.len(),
                fingerprint: unit.fingerprint,
                timecode,
                start: pes.start,
                end: pes.end,
                damaged: pes.damaged,
            }));
        });
    }
}
