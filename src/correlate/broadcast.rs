//! Broadcast latency: video frames a broadcaster sent over RTMP, found in the HLS
//! segments viewers received.
//!
//! A frame's sample: latency = the viewer had the whole segment holding it
//! (`complete_ns`, reference clock) − the first byte of the RTMP message carrying it
//! left the broadcaster (`first_byte_ns`, reference clock). Source-clock variant:
//! the same completion − the frame's due time on the broadcaster's media clock,
//! `wire_start + rtmp_ts`, where `wire_start` = min over the stream's video frames
//! of (first byte − RTMP timestamp): the stream start on the wire as the
//! least-delayed frame places it (the first frame itself may have been held back).
//!
//! Matching (each sample names its method):
//! 1. `fingerprint`: hash of the coded slices, the same in FLV and MPEG-TS. A
//!    fingerprint sent more than once is resolved with the timestamp mapping below,
//!    else by the latest send before the segment completed.
//! 2. `pts_map`: frames without a usable fingerprint (transcoded renditions) are
//!    found by DTS via the channel's mapping `dts = rtmp_ts·90 + c`, `c` the median
//!    over fingerprint matches.
//! 3. `program_date_time`: segments with no matched frame but an
//!    `EXT-X-PROGRAM-DATE-TIME` get one sample for their first frame, sent = the
//!    playlist's date (the packager's clock, read as reference time).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::events::{Event, Fingerprint, SegmentFrame};

use super::channel::url_path;
use super::player::{self, PlayerSegment};
use super::stats::{grouped, Summary};
use super::switching;
use super::{Ctx, GroupBy};

/// A video frame as the broadcaster sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct TxFrame {
    pub rtmp_ts_ms: u32,
    pub keyframe: bool,
    pub size: u32,
    pub fingerprint: Option<Fingerprint>,
    /// First byte on the wire, reference clock.
    pub first_byte_ns: i64,
}

/// One published stream (one RTMP publish flow) of a broadcaster.
#[derive(Clone, Debug, PartialEq)]
pub struct TxStream {
    pub host: usize,
    pub broadcaster: String,
    /// Stream key (nginx-rtmp: the channel name).
    pub key: String,
    pub flow: u64,
    /// Encoder's `videodatarate` from onMetaData, kb/s.
    pub bitrate_kbps: Option<f64>,
    pub video: Vec<TxFrame>,
    /// (first byte reference time, size) of audio messages.
    pub audio: Vec<(i64, u32)>,
    /// Stream start on the wire: min over video frames of first byte − RTMP
    /// timestamp (reference clock).
    pub wire_start_ns: Option<i64>,
}

/// One frame as one viewer received it.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameSample {
    pub broadcaster: String,
    pub viewer: String,
    pub stream: String,
    pub segment: String,
    pub media_sequence: Option<u64>,
    pub pts: i64,
    pub keyframe: bool,
    pub first_in_segment: bool,
    /// Index into `Broadcast::streams` and its `video` (none for PDT samples).
    pub tx: Option<(usize, usize)>,
    pub sent_ns: i64,
    pub received_ns: i64,
    pub latency_ns: i64,
    pub source_latency_ns: Option<i64>,
    /// Frame shown under the player model − sent.
    pub playout_latency_ns: Option<i64>,
    pub error_ns: i64,
    pub method: &'static str,
}

/// One media segment a viewer received.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentRecord {
    pub viewer: String,
    pub channel: Option<String>,
    pub uri: String,
    pub media_sequence: Option<u64>,
    pub bytes: u64,
    /// Reference times: request's first byte, response's first byte, last byte.
    pub request_ns: i64,
    pub first_byte_ns: i64,
    pub complete_ns: i64,
    pub frames: usize,
    pub matched: usize,
    pub duration_ns: i64,
    pub first_fingerprint: Option<Fingerprint>,
    /// Index into `Broadcast::samples` of the first frame's sample.
    pub first_sample: Option<usize>,
}

/// One viewer's playback of one channel session under the player model.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerSession {
    pub viewer: String,
    pub channel: String,
    pub previous_channel: Option<String>,
    /// Startup segments: K, or fewer when the first media playlist listed fewer.
    pub k: usize,
    pub first_request_ns: i64,
    pub first_segment_ns: Option<i64>,
    pub playback_start_ns: Option<i64>,
    /// Playback start − first request naming the channel.
    pub startup_delay_ns: Option<i64>,
    pub segments: usize,
    pub stalls: u32,
    pub stall_ns: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Broadcast {
    pub streams: Vec<TxStream>,
    pub samples: Vec<FrameSample>,
    pub segments: Vec<SegmentRecord>,
    pub players: Vec<PlayerSession>,
    /// Wire latency over every frame sample.
    pub summary: Summary,
    pub source_summary: Summary,
    pub playout_summary: Summary,
    /// One sample per segment: its first frame's.
    pub segment_summary: Summary,
    pub by_viewer: BTreeMap<String, Summary>,
    pub by_stream: BTreeMap<String, Summary>,
    /// Grouped as `--group-by` asks.
    pub by_group: BTreeMap<String, Summary>,
    /// Frames received but matched to nothing, by reason.
    pub unmatched: BTreeMap<String, u64>,
    /// Learned DTS mapping per channel: (stream index, c in 90 kHz units).
    pub dts_mapping: BTreeMap<String, (usize, i64)>,
}

/// The broadcasters' streams. Video messages that carry no picture (decoder
/// configuration, and the 5-byte AVC end-of-sequence message) are left out.
pub(crate) fn tx_streams(ctx: &Ctx) -> Vec<TxStream> {
    let mut streams: Vec<TxStream> = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let mut publish: HashMap<u64, (String, Option<f64>)> = HashMap::new();
        for e in &host.events {
            if let Event::RtmpPublish {
                flow,
                stream_key,
                metadata,
                ..
            } = e
            {
                let rate = metadata.get("videodatarate").and_then(|v| v.as_f64());
                publish.insert(*flow, (stream_key.clone(), rate));
            }
        }
        let mut by_flow: BTreeMap<u64, usize> = BTreeMap::new();
        let mut stream_of = |flow: u64, key: &Option<Arc<str>>, streams: &mut Vec<TxStream>| {
            *by_flow.entry(flow).or_insert_with(|| {
                let (pkey, rate) = publish.get(&flow).cloned().unwrap_or_default();
                let key = key
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .or((!pkey.is_empty()).then_some(pkey))
                    .unwrap_or_else(|| format!("flow{flow}"));
                streams.push(TxStream {
                    host: h,
                    broadcaster: host.name.clone(),
                    key,
                    flow,
                    bitrate_kbps: rate,
                    video: Vec::new(),
                    audio: Vec::new(),
                    wire_start_ns: None,
                });
                streams.len() - 1
            })
        };
        for e in &host.events {
            match e {
                Event::RtmpVideo {
                    flow,
                    stream_key,
                    rtmp_ts_ms,
                    keyframe,
                    config,
                    size,
                    fingerprint,
                    first_byte_ns,
                    ..
                } if !side.served(*flow) && !*config && *size > 5 => {
                    let si = stream_of(*flow, stream_key, &mut streams);
                    streams[si].video.push(TxFrame {
                        rtmp_ts_ms: *rtmp_ts_ms,
                        keyframe: *keyframe,
                        size: *size,
                        fingerprint: *fingerprint,
                        first_byte_ns: ctx.to_ref(h, *first_byte_ns),
                    });
                }
                Event::RtmpAudio {
                    flow,
                    stream_key,
                    size,
                    first_byte_ns,
                    ..
                } if !side.served(*flow) => {
                    let si = stream_of(*flow, stream_key, &mut streams);
                    streams[si]
                        .audio
                        .push((ctx.to_ref(h, *first_byte_ns), *size));
                }
                _ => {}
            }
        }
    }
    streams.retain(|s| !s.video.is_empty());
    for s in &mut streams {
        s.video.sort_by_key(|f| f.first_byte_ns);
        s.audio.sort();
        // The earliest wire time consistent with every frame: frames can be held
        // back before the wire (socket buffer, a relay probing its input), never
        // sent ahead of the media clock.
        s.wire_start_ns = s
            .video
            .iter()
            .map(|f| {
                f.first_byte_ns
                    .saturating_sub(f.rtmp_ts_ms as i64 * 1_000_000)
            })
            .min();
    }
    streams
}

/// What a viewer's playlists said about a segment file.
#[derive(Clone, Debug, Default)]
struct Listing {
    channel: Option<String>,
    duration_ns: Option<i64>,
    pdt_ns: Option<i64>,
}

fn file_name(uri: &str) -> &str {
    let p = url_path(uri);
    p.rsplit('/').next().unwrap_or(p)
}

struct RxSegment<'a> {
    host: usize,
    channel: Option<String>,
    uri: &'a str,
    seq: Option<u64>,
    bytes: u64,
    request_ns: i64,
    first_byte_ns: i64,
    complete_ns: i64,
    frames: &'a [SegmentFrame],
    listing: Listing,
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// 90 kHz ticks to ns, saturating (a garbage PTS must not overflow).
fn ticks_to_ns(ticks: i64) -> i64 {
    (ticks as i128 * 1_000_000_000 / 90_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn segment_duration(frames: &[SegmentFrame], listing: &Listing) -> i64 {
    if frames.len() >= 2 {
        let mut pts: Vec<i64> = frames.iter().map(|f| f.pts).collect();
        pts.sort_unstable();
        let mut deltas: Vec<i64> = pts.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
        let step = median(&mut deltas).unwrap_or(0);
        let span = pts[pts.len() - 1]
            .saturating_sub(pts[0])
            .saturating_add(step);
        return ticks_to_ns(span);
    }
    listing.duration_ns.unwrap_or(4_000_000_000)
}

enum Found {
    None,
    One(usize, usize),
    Many(Vec<(usize, usize)>),
}

pub(crate) fn correlate(ctx: &Ctx, warnings: &mut Vec<String>) -> Broadcast {
    let mut out = Broadcast {
        streams: tx_streams(ctx),
        ..Broadcast::default()
    };
    let pat = &ctx.opts.channel_pattern;

    // Viewers' segments, with what their playlists said about each file.
    let mut rx: Vec<RxSegment> = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let mut listings: HashMap<&str, Listing> = HashMap::new();
        for e in &host.events {
            if let Event::HlsPlaylist {
                flow,
                uri,
                channel,
                segments,
                ..
            } = e
            {
                if side.served(*flow) {
                    continue;
                }
                let ch = channel.clone().or_else(|| pat.channel_of(uri));
                for entry in segments {
                    listings.insert(
                        file_name(&entry.uri),
                        Listing {
                            channel: ch.clone(),
                            duration_ns: Some((entry.duration_s * 1e9) as i64),
                            pdt_ns: entry.program_date_time_ns,
                        },
                    );
                }
            }
        }
        for e in &host.events {
            if let Event::HlsSegment {
                flow,
                uri,
                channel,
                media_sequence,
                status,
                bytes,
                request_ns,
                first_byte_ns,
                complete_ns,
                frames,
            } = e
            {
                if side.served(*flow) || !(200..300).contains(status) {
                    continue;
                }
                let listing = listings.get(file_name(uri)).cloned().unwrap_or_default();
                let channel = channel
                    .clone()
                    .or_else(|| pat.channel_of(uri))
                    .or_else(|| listing.channel.clone());
                rx.push(RxSegment {
                    host: h,
                    channel,
                    uri,
                    seq: *media_sequence,
                    bytes: *bytes,
                    request_ns: ctx.to_ref(h, *request_ns),
                    first_byte_ns: ctx.to_ref(h, *first_byte_ns),
                    complete_ns: ctx.to_ref(h, *complete_ns),
                    frames,
                    listing,
                });
            }
        }
    }
    // Segments whose URL and playlists name no channel take the viewer's session's.
    let sessions: Vec<Vec<switching::Session>> = (0..ctx.hosts.len())
        .map(|h| switching::sessions(ctx, h))
        .collect();
    for seg in rx.iter_mut().filter(|s| s.channel.is_none()) {
        seg.channel = sessions[seg.host]
            .iter()
            .find(|s| s.first_request_ns <= seg.request_ns && seg.request_ns < s.until_ns)
            .map(|s| s.channel.clone());
    }
    rx.sort_by_key(|s| (s.host, s.complete_ns));

    // Pass 1: fingerprints.
    let mut index: HashMap<Fingerprint, Vec<(usize, usize)>> = HashMap::new();
    for (si, s) in out.streams.iter().enumerate() {
        for (fi, f) in s.video.iter().enumerate() {
            if let Some(fp) = &f.fingerprint {
                index.entry(*fp).or_default().push((si, fi));
            }
        }
    }
    let streams = &out.streams;
    let mut found: Vec<Vec<Found>> = Vec::with_capacity(rx.len());
    let mut offsets: BTreeMap<(String, usize), Vec<i64>> = BTreeMap::new();
    for seg in &rx {
        let ch = seg.channel.clone().unwrap_or_default();
        let mut fs = Vec::with_capacity(seg.frames.len());
        for f in seg.frames {
            let cands = f.fingerprint.and_then(|fp| index.get(&fp));
            let Some(cands) = cands else {
                fs.push(Found::None);
                continue;
            };
            let named: Vec<(usize, usize)> = cands
                .iter()
                .copied()
                .filter(|&(si, _)| streams[si].key == ch)
                .collect();
            let cands = if named.is_empty() {
                cands.clone()
            } else {
                named
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
    // The DTS mapping per channel: the stream with the most unique matches.
    let mut best: BTreeMap<String, (usize, usize, i64)> = BTreeMap::new();
    for ((ch, si), mut cs) in offsets {
        let n = cs.len();
        let c = median(&mut cs).unwrap_or(0);
        if best.get(&ch).is_none_or(|b| n > b.1) {
            best.insert(ch, (si, n, c));
        }
    }
    out.dts_mapping = best.iter().map(|(k, v)| (k.clone(), (v.0, v.2))).collect();
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
    let frame_step_ms: Vec<i64> = streams
        .iter()
        .map(|s| {
            let mut ts: Vec<i64> = s.video.iter().map(|f| f.rtmp_ts_ms as i64).collect();
            ts.sort_unstable();
            let mut d: Vec<i64> = ts
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|d| *d > 0)
                .collect();
            median(&mut d).unwrap_or(33)
        })
        .collect();

    // Pass 2 and 3: resolve repeats, timestamp mapping, program date time.
    let mut samples: Vec<FrameSample> = Vec::new();
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(rx.len());
    for (seg, fs) in rx.iter().zip(found) {
        let ch = seg.channel.clone().unwrap_or_default();
        let mapping = out.dts_mapping.get(&ch).copied();
        let mut matched = 0;
        let mut first_sample = None;
        let base = samples.len();
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
                        _ => cands
                            .iter()
                            .filter(|&&(si, fi)| {
                                streams[si].video[fi].first_byte_ns <= seg.complete_ns
                            })
                            .max_by_key(|&&(si, fi)| streams[si].video[fi].first_byte_ns)
                            .or(cands.first())
                            .copied(),
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
            let s = &streams[si];
            let tx = &s.video[fi];
            if i == 0 {
                first_sample = Some(samples.len());
            }
            samples.push(FrameSample {
                broadcaster: s.broadcaster.clone(),
                viewer: ctx.name(seg.host).to_string(),
                stream: if ch.is_empty() {
                    s.key.clone()
                } else {
                    ch.clone()
                },
                segment: seg.uri.to_string(),
                media_sequence: seg.seq,
                pts: f.pts,
                keyframe: f.keyframe,
                first_in_segment: i == 0,
                tx: Some((si, fi)),
                sent_ns: tx.first_byte_ns,
                received_ns: seg.complete_ns,
                latency_ns: seg.complete_ns.saturating_sub(tx.first_byte_ns),
                source_latency_ns: s.wire_start_ns.map(|w| {
                    seg.complete_ns
                        .saturating_sub(w.saturating_add(tx.rtmp_ts_ms as i64 * 1_000_000))
                }),
                playout_latency_ns: None,
                error_ns: ctx.error_ns(s.host, seg.host),
                method,
            });
        }
        if matched == 0 {
            if let (Some(pdt), Some(f)) = (seg.listing.pdt_ns, seg.frames.first()) {
                let bc = streams.iter().find(|s| s.key == ch);
                first_sample = Some(samples.len());
                samples.push(FrameSample {
                    broadcaster: bc.map(|s| s.broadcaster.clone()).unwrap_or_default(),
                    viewer: ctx.name(seg.host).to_string(),
                    stream: ch.clone(),
                    segment: seg.uri.to_string(),
                    media_sequence: seg.seq,
                    pts: f.pts,
                    keyframe: f.keyframe,
                    first_in_segment: true,
                    tx: None,
                    sent_ns: pdt,
                    received_ns: seg.complete_ns,
                    latency_ns: seg.complete_ns.saturating_sub(pdt),
                    source_latency_ns: None,
                    playout_latency_ns: None,
                    error_ns: ctx.info[seg.host].clock.error_ns,
                    method: "program_date_time",
                });
            }
        }
        let first_fp = seg.frames.first().and_then(|f| f.fingerprint);
        ranges.push((base, samples.len()));
        out.segments.push(SegmentRecord {
            viewer: ctx.name(seg.host).to_string(),
            channel: seg.channel.clone(),
            uri: seg.uri.to_string(),
            media_sequence: seg.seq,
            bytes: seg.bytes,
            request_ns: seg.request_ns,
            first_byte_ns: seg.first_byte_ns,
            complete_ns: seg.complete_ns,
            frames: seg.frames.len(),
            matched,
            duration_ns: segment_duration(seg.frames, &seg.listing),
            first_fingerprint: first_fp,
            first_sample,
        });
    }

    // Player model per viewer session. Media playlists each viewer fetched:
    // (request time, channel, segments listed).
    type Listed = Vec<(i64, Option<String>, usize)>;
    let playlists: Vec<Listed> = ctx
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| {
            let mut v: Listed = host
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::HlsPlaylist {
                        flow,
                        uri,
                        channel,
                        master: false,
                        segments,
                        request_ns,
                        ..
                    } if !ctx.sides[h].served(*flow) => Some((
                        ctx.to_ref(h, *request_ns),
                        channel.clone().or_else(|| pat.channel_of(uri)),
                        segments.len(),
                    )),
                    _ => None,
                })
                .collect();
            v.sort();
            v
        })
        .collect();
    for (h, sess) in sessions.iter().enumerate() {
        for (n, s) in sess.iter().enumerate() {
            let mut idx: Vec<usize> = (0..rx.len())
                .filter(|&i| {
                    rx[i].host == h
                        && s.first_request_ns <= rx[i].request_ns
                        && rx[i].request_ns < s.until_ns
                })
                .collect();
            idx.sort_by_key(|&i| (rx[i].seq, rx[i].complete_ns));
            idx.dedup_by_key(|i| rx[*i].seq.map_or(u64::MAX - *i as u64, |q| q));
            let segs: Vec<PlayerSegment> = idx
                .iter()
                .map(|&i| PlayerSegment {
                    complete_ns: rx[i].complete_ns,
                    duration_ns: out.segments[i].duration_ns,
                })
                .collect();
            // A live playlist shorter than K: the player starts with what it lists.
            let listed = playlists[h]
                .iter()
                .find(|(t, ch, n)| {
                    s.first_request_ns <= *t
                        && *t < s.until_ns
                        && *n > 0
                        && ch.as_deref().is_none_or(|c| c == s.channel)
                })
                .map(|p| p.2);
            let k = ctx
                .opts
                .startup_segments
                .max(1)
                .min(listed.unwrap_or(usize::MAX));
            let p = player::play(&segs, k);
            for (j, &i) in idx.iter().enumerate() {
                let Some(start) = p.segment_start_ns[j] else {
                    continue;
                };
                let min_pts = rx[i].frames.iter().map(|f| f.pts).min().unwrap_or(0);
                let (lo, hi) = ranges[i];
                for smp in &mut samples[lo..hi] {
                    let shown = start.saturating_add(ticks_to_ns(smp.pts.saturating_sub(min_pts)));
                    smp.playout_latency_ns = Some(shown.saturating_sub(smp.sent_ns));
                }
            }
            out.players.push(PlayerSession {
                viewer: ctx.hosts[h].name.clone(),
                channel: s.channel.clone(),
                previous_channel: n.checked_sub(1).map(|p| sess[p].channel.clone()),
                k,
                first_request_ns: s.first_request_ns,
                first_segment_ns: idx.iter().map(|&i| rx[i].complete_ns).min(),
                playback_start_ns: p.start_ns,
                startup_delay_ns: p.start_ns.map(|t| t.saturating_sub(s.first_request_ns)),
                segments: idx.len(),
                stalls: p.stalls,
                stall_ns: p.stall_ns,
            });
        }
    }

    if !rx.is_empty() && out.streams.is_empty() {
        warnings.push(
            "broadcast: viewers received segments but no broadcaster capture was given".to_string(),
        );
    }
    out.samples = samples;
    summarise(&mut out, ctx.opts.group_by);
    out
}

fn summarise(out: &mut Broadcast, group_by: GroupBy) {
    let samples = &out.samples;
    out.summary = Summary::of_iter(samples.iter().map(|s| s.latency_ns));
    out.source_summary = Summary::of_iter(samples.iter().filter_map(|s| s.source_latency_ns));
    out.playout_summary = Summary::of_iter(samples.iter().filter_map(|s| s.playout_latency_ns));
    out.segment_summary = Summary::of_iter(
        out.segments
            .iter()
            .filter_map(|s| s.first_sample.map(|i| samples[i].latency_ns)),
    );
    let rate_of = |si: usize| match out.streams[si].bitrate_kbps {
        Some(r) => format!("{r:.0} kb/s"),
        None => "unknown".to_string(),
    };
    out.by_viewer = grouped(samples.iter().map(|s| (s.viewer.clone(), s.latency_ns)));
    out.by_stream = grouped(samples.iter().map(|s| (s.stream.clone(), s.latency_ns)));
    out.by_group = grouped(samples.iter().map(|s| {
        let g = match group_by {
            GroupBy::Host => s.viewer.clone(),
            GroupBy::Channel => s.stream.clone(),
            GroupBy::Bitrate => {
                s.tx.map_or_else(|| "unknown".to_string(), |(si, _)| rate_of(si))
            }
        };
        (g, s.latency_ns)
    }));
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{correlate as correlate_all, CorrelateOptions};

    const MS: i64 = 1_000_000;
    const T0: i64 = 1_795_000_000_000_000_000;

    /// Frames every 33 ms from T0 + 10 ms; frame 4 repeats frame 1's picture (a
    /// static scene codes to the same slices), frame 5 has no fingerprint.
    fn broadcaster() -> super::super::HostEvents {
        let fps = [
            Some("f0"),
            Some("f1"),
            Some("f2"),
            Some("f3"),
            Some("f1"),
            None,
        ];
        let mut ev = vec![publish(1, "lagtap")];
        for (i, fp) in fps.iter().enumerate() {
            let ts = i as u32 * 33;
            ev.push(video(1, ts, *fp, T0 + 10 * MS + ts as i64 * MS));
        }
        host("caster", ev)
    }

    /// The packager's DTS = rtmp_ts·90 + 126000 (1.4 s).
    fn dts(ts: i64) -> i64 {
        ts * 90 + 126_000
    }

    #[test]
    fn frames_are_matched_by_fingerprint_and_a_repeated_picture_by_its_timestamp() {
        let frames = (0..6)
            .map(|i| {
                let fp = [
                    Some("f0"),
                    Some("f1"),
                    Some("f2"),
                    Some("f3"),
                    Some("f1"),
                    None,
                ][i];
                frame(dts(i as i64 * 33), fp)
            })
            .collect();
        let viewer = host(
            "viewer",
            vec![
                http(2, "/hls/lagtap.m3u8", T0 + 900 * MS),
                segment(
                    2,
                    "/hls/lagtap-0.ts",
                    0,
                    T0 + 1000 * MS,
                    T0 + 1500 * MS,
                    frames,
                ),
            ],
        );
        let c = correlate_all(vec![broadcaster(), viewer], &CorrelateOptions::default());
        let b = &c.broadcast;
        assert_eq!(b.samples.len(), 6, "{:?}", b.unmatched);
        assert_eq!(b.dts_mapping["lagtap"], (0, 126_000));
        let by_pts: Vec<(i64, Option<usize>, &str)> = b
            .samples
            .iter()
            .map(|s| (s.pts, s.tx.map(|t| t.1), s.method))
            .collect();
        // The repeated picture at ts 132 is frame 4, not frame 1.
        assert_eq!(by_pts[4], (dts(132), Some(4), "fingerprint"));
        assert_eq!(by_pts[1], (dts(33), Some(1), "fingerprint"));
        assert_eq!(by_pts[5], (dts(165), Some(5), "pts_map"));
        // Frame 0 left at T0+10 ms; the segment was complete at T0+1500 ms.
        assert_eq!(b.samples[0].latency_ns, 1490 * MS);
        assert!(b.samples[0].first_in_segment);
        assert_eq!(b.samples[0].source_latency_ns, Some(1490 * MS));
        assert_eq!(b.segments.len(), 1);
        assert_eq!(b.segments[0].first_sample, Some(0));
        assert_eq!(b.segment_summary.count, 1);
        assert_eq!(b.by_viewer["viewer"].count, 6);
        assert_eq!(b.by_stream["lagtap"].count, 6);
        // Roles come from what the hosts did.
        use super::super::Role;
        assert_eq!(c.hosts[0].roles, [Role::Broadcaster]);
        assert_eq!(c.hosts[1].roles, [Role::Viewer]);
    }

    #[test]
    fn source_clock_latency_includes_the_senders_backlog() {
        // Frame 3 (ts 99) only reached the wire 400 ms late (a full socket buffer).
        let ev = vec![
            publish(1, "lagtap"),
            video(1, 0, Some("a"), T0),
            video(1, 33, Some("b"), T0 + 33 * MS),
            video(1, 66, Some("c"), T0 + 66 * MS),
            video(1, 99, Some("d"), T0 + 499 * MS),
        ];
        let viewer = host(
            "viewer",
            vec![segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                T0 + 900 * MS,
                T0 + 1000 * MS,
                vec![frame(dts(66), Some("c")), frame(dts(99), Some("d"))],
            )],
        );
        let c = correlate_all(
            vec![host("caster", ev), viewer],
            &CorrelateOptions::default(),
        );
        let s = &c.broadcast.samples;
        assert_eq!(s[1].latency_ns, 501 * MS);
        assert_eq!(s[1].source_latency_ns, Some(901 * MS));
        assert_eq!(s[0].latency_ns, s[0].source_latency_ns.unwrap());
    }

    #[test]
    fn a_segment_without_matching_frames_falls_back_to_program_date_time() {
        // No broadcaster capture: the viewer alone, with a playlist carrying dates.
        let viewer = host(
            "viewer",
            vec![
                playlist(
                    2,
                    "/hls/lagtap.m3u8",
                    T0,
                    &[("lagtap-0.ts", Some(T0 - 6000 * MS)), ("lagtap-1.ts", None)],
                ),
                segment(
                    2,
                    "/hls/lagtap-0.ts",
                    0,
                    T0 + 10 * MS,
                    T0 + 50 * MS,
                    vec![frame(dts(0), Some("x")), frame(dts(33), Some("y"))],
                ),
                segment(
                    2,
                    "/hls/lagtap-1.ts",
                    1,
                    T0 + 60 * MS,
                    T0 + 90 * MS,
                    vec![frame(dts(4000), Some("z"))],
                ),
            ],
        );
        let c = correlate_all(vec![viewer], &CorrelateOptions::default());
        let b = &c.broadcast;
        assert_eq!(b.samples.len(), 1);
        assert_eq!(b.samples[0].method, "program_date_time");
        assert_eq!(b.samples[0].latency_ns, 6050 * MS);
        assert_eq!(b.samples[0].source_latency_ns, None);
        assert_eq!(b.segments.len(), 2);
        assert_eq!(b.segments[1].first_sample, None);
        assert_eq!(b.unmatched.get("fingerprint_not_sent"), Some(&3));
        assert!(c
            .warnings
            .iter()
            .any(|w| w.contains("no broadcaster capture")));
        // The first playlist listed 2 segments: the player starts with 2, not 3.
        assert_eq!(b.players[0].k, 2);
        assert_eq!(b.players[0].playback_start_ns, Some(T0 + 90 * MS));
    }
}
