//! Finding the broadcasters' frames in the segments viewers received: one sample
//! per (frame, viewer), each naming how it was matched.
//!
//! 1. `fingerprint`: hash of the coded slices, the same in FLV and MPEG-TS. A
//!    fingerprint sent more than once is resolved with the timestamp mapping below,
//!    else by the latest send before the segment completed.
//! 2. `pts_map`: frames without a usable fingerprint (transcoded renditions) are
//!    found by DTS via the channel's mapping `dts = rtmp_ts·90 + c`, `c` the median
//!    over fingerprint matches.
//! 3. `program_date_time`: segments with no matched frame but an
//!    `EXT-X-PROGRAM-DATE-TIME` get one sample for their first frame, sent = the
//!    playlist's date (the packager's clock, read as reference time).
//!
//! The samples leave here with their wire-side times; `playout` adds what the
//! player model says (shown time, display latency, buffering, join artefacts).

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::events::{Fingerprint, SegmentFrame};

use super::super::Ctx;
use super::segments::{median, segment_duration, ticks_to_ns, RxSegment};
use super::{FrameSample, Legs, SegmentRecord, TxStream};

enum Found<'a> {
    None,
    One(usize, usize),
    /// A fingerprint sent more than once: its sends, in (first byte, stream,
    /// frame) order. Borrowed from the index when every send counts, so a picture
    /// sent thousands of times (a static scene, a looped test source) costs no
    /// copy per received frame.
    Many(Cow<'a, [(usize, usize)]>),
}

pub(super) struct Matched {
    pub samples: Vec<FrameSample>,
    /// One per received segment, in the order of `rx`.
    pub segments: Vec<SegmentRecord>,
    pub unmatched: BTreeMap<String, u64>,
    pub dts_mapping: BTreeMap<String, (usize, i64)>,
}

/// Every sent frame of each fingerprint, in (first byte, stream, frame) order.
type SentIndex = FxHashMap<Fingerprint, Vec<(usize, usize)>>;

fn sent_index(streams: &[TxStream]) -> SentIndex {
    let mut index = SentIndex::default();
    for (si, s) in streams.iter().enumerate() {
        for (fi, f) in s.video.iter().enumerate() {
            if let Some(fp) = &f.fingerprint {
                index.entry(*fp).or_default().push((si, fi));
            }
        }
    }
    for sends in index.values_mut() {
        sends.sort_by_key(|&(si, fi)| (streams[si].video[fi].first_byte_ns, si, fi));
    }
    index
}

/// Pass 1: every received frame's fingerprint candidates; the DTS offsets of the
/// unique matches, per (channel, stream).
type Offsets = BTreeMap<(String, usize), Vec<i64>>;
fn by_fingerprint<'a>(
    streams: &[TxStream],
    index: &'a SentIndex,
    rx: &[RxSegment],
) -> (Vec<Vec<Found<'a>>>, Offsets) {
    let mut found: Vec<Vec<Found>> = Vec::with_capacity(rx.len());
    let mut offsets: Offsets = BTreeMap::new();
    for seg in rx {
        let ch = seg.channel.clone().unwrap_or_default();
        let mut fs = Vec::with_capacity(seg.frames.len());
        for f in seg.frames {
            let Some(cands) = f.fingerprint.and_then(|fp| index.get(&fp)) else {
                fs.push(Found::None);
                continue;
            };
            // The sends of the stream named like the channel, if it sent any.
            let named = |&(si, _): &(usize, usize)| streams[si].key == ch;
            let cands: Cow<[(usize, usize)]> =
                if cands.iter().all(named) || !cands.iter().any(named) {
                    Cow::Borrowed(cands)
                } else {
                    Cow::Owned(cands.iter().copied().filter(named).collect())
                };
            if let [(si, fi)] = cands[..] {
                let c = f
                    .dts
                    .saturating_sub(streams[si].video[fi].rtmp_ts_ms as i64 * 90);
                offsets.entry((ch.clone(), si)).or_default().push(c);
                fs.push(Found::One(si, fi));
            } else {
                fs.push(Found::Many(cands));
            }
        }
        found.push(fs);
    }
    (found, offsets)
}

pub(super) fn match_frames(ctx: &Ctx, streams: &[TxStream], rx: &[RxSegment]) -> Matched {
    let index = sent_index(streams);
    let (found, offsets) = by_fingerprint(streams, &index, rx);
    // The DTS mapping per channel: the stream with the most unique matches.
    let mut best: BTreeMap<String, (usize, usize, i64)> = BTreeMap::new();
    for ((ch, si), mut cs) in offsets {
        let n = cs.len();
        let c = median(&mut cs).unwrap_or(0);
        if best.get(&ch).is_none_or(|b| n > b.1) {
            best.insert(ch, (si, n, c));
        }
    }
    let dts_mapping: BTreeMap<String, (usize, i64)> =
        best.iter().map(|(k, v)| (k.clone(), (v.0, v.2))).collect();
    let ts_index: Vec<BTreeMap<u32, usize>> = streams
        .iter()
        .map(|s| {
            s.video
                .iter()
                .enumerate()
                .map(|(i, f)| (f.rtmp_ts_ms, i))
                .collect()
        })
        .collect();
    let frame_step_ms: Vec<i64> = streams.iter().map(TxStream::frame_step_ms).collect();

    // Pass 2 and 3: resolve repeats, timestamp mapping, program date time.
    let mut out = Matched {
        samples: Vec::new(),
        segments: Vec::with_capacity(rx.len()),
        unmatched: BTreeMap::new(),
        dts_mapping,
    };
    for (segment_index, (seg, fs)) in rx.iter().zip(found).enumerate() {
        let ch = seg.channel.clone().unwrap_or_default();
        let mapping = out.dts_mapping.get(&ch).copied();
        let mut matched = 0;
        let mut first_sample = None;
        // The segment was listed when the viewer first received a playlist naming
        // it; a segment no captured playlist named was known by its request.
        let listed_ns = seg.listing.listed_ns.unwrap_or(seg.request_ns);
        let viewer = ctx.name(seg.host).to_string();
        for (i, (f, how)) in seg.frames.iter().zip(fs).enumerate() {
            let hit: Option<(usize, usize, &'static str)> = match how {
                Found::One(si, fi) => Some((si, fi, "fingerprint")),
                Found::Many(cands) => {
                    let pick = match mapping {
                        Some((msi, c)) if cands.iter().any(|x| x.0 == msi) => cands
                            .iter()
                            .filter(|x| x.0 == msi)
                            .min_by_key(|&&(si, fi)| {
                                f.dts
                                    .saturating_sub(streams[si].video[fi].rtmp_ts_ms as i64 * 90)
                                    .saturating_sub(c)
                                    .saturating_abs()
                            })
                            .copied(),
                        // The latest send before the segment was complete (the
                        // sends are in first-byte order), else the first stream's
                        // first send.
                        _ => {
                            let sent_before = cands.partition_point(|&(si, fi)| {
                                streams[si].video[fi].first_byte_ns <= seg.complete_ns
                            });
                            match sent_before.checked_sub(1) {
                                Some(last) => Some(cands[last]),
                                None => cands.iter().min().copied(),
                            }
                        }
                    };
                    pick.map(|(si, fi)| (si, fi, "fingerprint"))
                }
                Found::None => mapping.and_then(|(si, c)| {
                    let want = f.dts.saturating_sub(c).div_euclid(90);
                    let tol = (frame_step_ms[si] / 2).max(1);
                    let lo = want.saturating_sub(tol).clamp(0, u32::MAX as i64) as u32;
                    let hi = want.saturating_add(tol).clamp(0, u32::MAX as i64) as u32;
                    ts_index[si]
                        .range(lo..=hi)
                        .min_by_key(|(ts, _)| (**ts as i64 - want).abs())
                        .map(|(_, &fi)| (si, fi, "pts_map"))
                }),
            };
            let Some((si, fi, method)) = hit else {
                let reason = if f.fingerprint.is_none() {
                    "no_fingerprint"
                } else {
                    "fingerprint_not_sent"
                };
                *out.unmatched.entry(reason.to_string()).or_default() += 1;
                continue;
            };
            matched += 1;
            let arrived_ns = arrival(ctx, seg, f);
            let produced_ns = produced(seg, f);
            let s = &streams[si];
            let tx = &s.video[fi];
            if i == 0 {
                first_sample = Some(out.samples.len());
            }
            out.samples.push(FrameSample {
                broadcaster: s.broadcaster.clone(),
                viewer: viewer.clone(),
                stream: if ch.is_empty() {
                    s.key.clone()
                } else {
                    ch.clone()
                },
                segment: seg.uri.to_string(),
                media_sequence: seg.seq,
                part: seg.part,
                pts: f.pts,
                keyframe: f.keyframe,
                first_in_segment: i == 0,
                tx: Some((si, fi)),
                segment_index,
                sent_ns: tx.first_byte_ns,
                ingest_ns: tx.ingest_ns,
                listed_ns,
                received_ns: seg.complete_ns,
                arrived_ns,
                shown_ns: None,
                latency_ns: seg.segment_complete_ns.saturating_sub(tx.first_byte_ns),
                part_latency_ns: seg
                    .part
                    .map(|_| seg.complete_ns.saturating_sub(tx.first_byte_ns)),
                arrival_latency_ns: arrived_ns.saturating_sub(tx.first_byte_ns),
                produced_ns,
                prft_latency_ns: produced_ns.map(|p| arrived_ns.saturating_sub(p)),
                source_latency_ns: s.wire_start_ns.map(|w| {
                    seg.complete_ns
                        .saturating_sub(w.saturating_add(tx.rtmp_ts_ms as i64 * 1_000_000))
                }),
                display_latency_ns: None,
                legs: wire_legs(tx.first_byte_ns, tx.ingest_ns, listed_ns, seg.complete_ns),
                join_artefact: false,
                error_ns: ctx.error_ns(s.host, seg.host),
                method,
                encoder_to_wire_ns: tx.encoder.and_then(|e| e.to_wire_ns),
            });
        }
        if matched == 0 {
            if let (Some(pdt), Some(f)) = (seg.listing.pdt_ns, seg.frames.first()) {
                let bc = streams.iter().find(|s| s.key == ch);
                let arrived_ns = arrival(ctx, seg, f);
                let produced_ns = produced(seg, f);
                first_sample = Some(out.samples.len());
                out.samples.push(FrameSample {
                    broadcaster: bc.map(|s| s.broadcaster.clone()).unwrap_or_default(),
                    viewer: viewer.clone(),
                    stream: ch.clone(),
                    segment: seg.uri.to_string(),
                    media_sequence: seg.seq,
                    part: seg.part,
                    pts: f.pts,
                    keyframe: f.keyframe,
                    first_in_segment: true,
                    tx: None,
                    segment_index,
                    sent_ns: pdt,
                    ingest_ns: None,
                    listed_ns,
                    received_ns: seg.complete_ns,
                    arrived_ns,
                    shown_ns: None,
                    latency_ns: seg.segment_complete_ns.saturating_sub(pdt),
                    part_latency_ns: seg.part.map(|_| seg.complete_ns.saturating_sub(pdt)),
                    arrival_latency_ns: arrived_ns.saturating_sub(pdt),
                    produced_ns,
                    prft_latency_ns: produced_ns.map(|p| arrived_ns.saturating_sub(p)),
                    source_latency_ns: None,
                    display_latency_ns: None,
                    legs: wire_legs(pdt, None, listed_ns, seg.complete_ns),
                    join_artefact: false,
                    error_ns: ctx.info[seg.host].clock.error_ns,
                    method: "program_date_time",
                    encoder_to_wire_ns: None,
                });
            }
        }
        out.segments.push(SegmentRecord {
            viewer,
            channel: seg.channel.clone(),
            uri: seg.uri.to_string(),
            media_sequence: seg.seq,
            part: seg.part,
            bytes: seg.bytes,
            request_ns: seg.request_ns,
            first_byte_ns: seg.first_byte_ns,
            complete_ns: seg.complete_ns,
            listed_ns: seg.listing.listed_ns,
            frames: seg.frames.len(),
            matched,
            duration_ns: segment_duration(seg.frames, &seg.listing),
            first_fingerprint: seg.frames.first().and_then(|f| f.fingerprint),
            first_sample,
            join_artefact: false,
        });
    }
    out
}

/// When the viewer had the frame's own last byte (reference clock): its
/// `received_ns` from the decode, else (an event file from before frames carried
/// it) the segment's completion.
fn arrival(ctx: &Ctx, seg: &RxSegment, f: &SegmentFrame) -> i64 {
    f.received_ns
        .map_or(seg.complete_ns, |t| ctx.to_ref(seg.host, t))
}

/// The frame's time on the packager's clock from the segment's `prft` stamps: the
/// last stamp at or before the frame's PTS (else the first), carried to the frame by
/// the PTS difference. Read as reference time, like a playlist's program date.
fn produced(seg: &RxSegment, f: &SegmentFrame) -> Option<i64> {
    let stamps = || seg.prft.iter().filter_map(|p| Some((p.pts?, p.time_ns?)));
    let (pts, time) = stamps()
        .filter(|(pts, _)| *pts <= f.pts)
        .max_by_key(|(pts, _)| *pts)
        .or_else(|| stamps().next())?;
    Some(time.saturating_add(ticks_to_ns(f.pts.saturating_sub(pts))))
}

/// The legs up to the segment's completion; buffering comes from the player.
fn wire_legs(sent: i64, ingest: Option<i64>, listed: i64, complete: i64) -> Legs {
    Legs {
        upload_ns: ingest.map(|t| t.saturating_sub(sent)),
        packaging_ns: ingest.map(|t| listed.saturating_sub(t)),
        to_listed_ns: listed.saturating_sub(sent),
        delivery_ns: complete.saturating_sub(listed),
        buffering_ns: None,
    }
}
