//! Broadcast latency: video frames a broadcaster sent over RTMP, found in the HLS
//! segments viewers received, and shown to them under the player model.
//!
//! The headline is the study's quantity: **display latency** = when the viewer saw
//! the frame (player model: start at the K-th newest segment, play continuously,
//! stall when the next segment is late) − when the frame's RTMP message left the
//! broadcaster. Each sample splits it into four legs that add up to it exactly:
//! upload (broadcaster wire → ingest server has the message), packaging (ingest →
//! the segment listed in a playlist the viewer received), delivery (listed → the
//! segment complete at the viewer) and buffering (complete → shown). Wire latency
//! (complete − sent, what earlier versions headlined) and the source-clock variant
//! stay beside it. docs/methods.md has every definition.
//!
//! The work is split by what each step holds, and data flows one way:
//! `sources` (the broadcasters' frames and when ingest had them) → `segments` (what
//! viewers received and what their playlists said) → `matching` (frames found in
//! segments, one sample each) → `playout` (the player model per viewer session, its
//! K, display latency, legs, join artefacts) → summaries here.

pub(crate) mod groups;
mod matching;
mod playout;
mod segments;
mod sources;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use crate::events::Fingerprint;

use groups::Group;

use super::stats::{grouped, Summary};
use super::{Ctx, GroupBy};

pub(crate) use segments::median;
pub use sources::encoder_kbps;

/// The player model in one sentence, printed beside the headline it produces.
pub const PLAYER_MODEL: &str = "start at the K-th newest segment of the playlist held at the \
     first fetch, once those K segments are in (K per viewer session: --startup-segments if \
     given, else read from the capture, else 3); play continuously; stall when the next \
     segment is late";

/// A video frame as the broadcaster sent it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TxFrame {
    pub rtmp_ts_ms: u32,
    pub keyframe: bool,
    pub size: u32,
    pub fingerprint: Option<Fingerprint>,
    /// First byte on the wire, reference clock.
    pub first_byte_ns: i64,
    /// When the ingest server had the whole RTMP message in order (its own capture,
    /// reference clock); `None` without an ingest capture.
    pub ingest_ns: Option<i64>,
    /// The encoder's own account of the frame, where it carried OBS's Broadcast
    /// Performance Metrics (key frames of an OBS broadcast).
    #[serde(default)]
    pub encoder: Option<EncoderLeg>,
    /// The encoder's timecode of the frame (picture timing / time code SEI, AV1
    /// timecode metadata), see [`crate::correlate::timecode`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timecode: Option<TimecodeMark>,
}

/// What a frame's timecode says, for source health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimecodeMark {
    /// The frame's first byte on the wire, the broadcaster host's own clock (not
    /// corrected: compared with the encoder's clock on the same host).
    pub host_first_byte_ns: i64,
    /// Hours, minutes and seconds as seconds since midnight, if all are known.
    pub second_of_day: Option<u32>,
    pub frames: u16,
    pub discontinuity: bool,
}

/// What a frame's Broadcast Performance Metrics add to the broadcaster side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncoderLeg {
    /// Encoder to wire: the frame's first byte on the wire − when OBS handed it to
    /// its output (BPM PIR). Both are the broadcaster host's own clock (OBS's wall
    /// clock, the capture's timestamps), so no clock correction applies: it is the
    /// time the frame waited in OBS's output and the socket before the wire.
    pub to_wire_ns: Option<i64>,
    /// Frames OBS's output dropped (congestion) and its compositor lagged since
    /// the previous key frame's metrics.
    pub dropped: Option<u32>,
    pub lagged: Option<u32>,
}

/// One published stream (one RTMP publish flow) of a broadcaster.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TxStream {
    pub host: usize,
    pub broadcaster: String,
    /// Stream key (nginx-rtmp: the channel name).
    pub key: String,
    pub flow: u64,
    /// The bitrate the encoder was told, kb/s (onMetaData `videodatarate`, which
    /// ffmpeg writes in kibibits per second: see [`encoder_kbps`]).
    pub bitrate_kbps: Option<f64>,
    pub video: Vec<TxFrame>,
    /// (first byte reference time, size) of audio messages.
    pub audio: Vec<(i64, u32)>,
    /// Stream start on the wire: min over video frames of first byte − RTMP
    /// timestamp (reference clock).
    pub wire_start_ns: Option<i64>,
    /// The ingest server's capture that gave `ingest_ns`, if any.
    pub ingest_host: Option<String>,
}

impl TxStream {
    /// The median step between its frames' RTMP timestamps, ms (33 when it cannot
    /// tell): the tolerance of a match by timestamp.
    pub fn frame_step_ms(&self) -> i64 {
        let mut ts: Vec<i64> = self.video.iter().map(|f| f.rtmp_ts_ms as i64).collect();
        ts.sort_unstable();
        let mut d: Vec<i64> = ts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0)
            .collect();
        segments::median(&mut d).unwrap_or(33)
    }
}

/// One frame as one viewer received it, and saw it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameSample {
    pub broadcaster: String,
    pub viewer: String,
    pub stream: String,
    pub segment: String,
    pub media_sequence: Option<u64>,
    /// An LL-HLS part's index in its parent segment (the frame came in a part
    /// fetched on its own; `segment` is the part's URI).
    #[serde(default)]
    pub part: Option<u32>,
    pub pts: i64,
    pub keyframe: bool,
    pub first_in_segment: bool,
    /// Index into `Broadcast::streams` and its `video` (none for PDT samples).
    pub tx: Option<(usize, usize)>,
    /// Index into `Broadcast::segments`.
    pub segment_index: usize,
    /// Reference times: the frame left the broadcaster, the ingest server had it,
    /// the viewer received a playlist listing its segment or part (else requested
    /// it), the viewer had the whole segment or part it fetched, the frame was
    /// shown.
    pub sent_ns: i64,
    pub ingest_ns: Option<i64>,
    pub listed_ns: i64,
    pub received_ns: i64,
    /// The viewer had the frame's own last byte: before `received_ns` when the
    /// segment streamed in (chunked transfer, HTTP/2, a prefetch), at most the
    /// TCP segments after it otherwise.
    pub arrived_ns: i64,
    pub shown_ns: Option<i64>,
    /// Wire latency by segment completion: the viewer had the whole segment −
    /// sent. For a part, the segment was complete when the last of its parts the
    /// viewer fetched was, so this can be later than `received_ns`.
    pub latency_ns: i64,
    /// Wire latency by part completion (LL-HLS parts only): received − sent.
    #[serde(default)]
    pub part_latency_ns: Option<i64>,
    /// Wire latency by frame arrival: arrived − sent.
    pub arrival_latency_ns: i64,
    /// The frame's time on the packager's clock (fMP4 `prft`), if the segment had
    /// stamps: a clock of its own, read as reference time.
    pub produced_ns: Option<i64>,
    /// Arrived − produced: from the packager's stamp to the viewer.
    pub prft_latency_ns: Option<i64>,
    pub source_latency_ns: Option<i64>,
    /// The headline: shown − sent.
    pub display_latency_ns: Option<i64>,
    /// The legs of the display latency; see [`Legs`].
    pub legs: Legs,
    /// A frame from before the viewer joined, fetched at start-up from the back of
    /// the playlist: kept in the samples, left out of summaries and time series.
    pub join_artefact: bool,
    pub error_ns: i64,
    #[serde(deserialize_with = "super::units::static_tag::deserialize")]
    pub method: super::units::Tag,
    /// The matched frame's encoder-to-wire time ([`EncoderLeg::to_wire_ns`]), where
    /// it carried OBS's metrics: on the broadcaster's own clock, before `sent_ns`,
    /// so no part of any latency above.
    #[serde(default)]
    pub encoder_to_wire_ns: Option<i64>,
}

/// The display latency of one sample, leg by leg. `upload + packaging =
/// to_listed` when the ingest server was captured (else both are `None`), and
/// `to_listed + delivery + buffering = display latency` whenever the frame was
/// shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Legs {
    /// Ingest had the message − it left the broadcaster.
    pub upload_ns: Option<i64>,
    /// Listed − ingest.
    pub packaging_ns: Option<i64>,
    /// Listed − sent: upload and packaging together.
    pub to_listed_ns: i64,
    /// Segment complete − listed.
    pub delivery_ns: i64,
    /// Shown − segment complete (`None` when the player never started).
    pub buffering_ns: Option<i64>,
}

/// One media segment a viewer received.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentRecord {
    pub viewer: String,
    pub channel: Option<String>,
    pub uri: String,
    pub media_sequence: Option<u64>,
    /// An LL-HLS part fetched on its own: its index in the parent segment
    /// (`media_sequence`).
    #[serde(default)]
    pub part: Option<u32>,
    pub bytes: u64,
    /// Reference times: request's first byte, response's first byte, last byte.
    pub request_ns: i64,
    pub first_byte_ns: i64,
    pub complete_ns: i64,
    /// The viewer first received a playlist listing this segment.
    pub listed_ns: Option<i64>,
    pub frames: usize,
    pub matched: usize,
    pub duration_ns: i64,
    pub first_fingerprint: Option<Fingerprint>,
    /// Index into `Broadcast::samples` of the first frame's sample.
    pub first_sample: Option<usize>,
    /// Fetched at start-up, listed before the viewer joined (see `FrameSample`).
    pub join_artefact: bool,
}

/// Where a player session's K came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KSource {
    /// `--startup-segments viewer=K` or `--startup-segments K`.
    Option,
    /// Read from the capture: the first segment fetched against the playlist then held.
    Capture,
    /// Neither: the default (3), capped by the first playlist's length.
    Default,
}

/// One viewer's playback of one channel session under the player model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlayerSession {
    pub viewer: String,
    pub channel: String,
    pub previous_channel: Option<String>,
    /// Startup segments: playback starts at the K-th newest listed segment, once the
    /// K segments from there are in.
    pub k: usize,
    pub k_source: KSource,
    /// Media sequence number of the segment playback starts with.
    pub start_sequence: Option<u64>,
    /// Segments listed in the playlist the viewer held at its first fetch (for a
    /// player of LL-HLS parts: the parts it named).
    pub listed_at_start: Option<usize>,
    /// Of those, the segments a prefetch tag named (still being made; of parts,
    /// the hinted one): the K start-up segments that are among them are live, not
    /// join artefacts.
    pub prefetch_at_start: Option<usize>,
    pub first_request_ns: i64,
    pub first_segment_ns: Option<i64>,
    pub playback_start_ns: Option<i64>,
    /// Playback start − first request naming the channel.
    pub startup_delay_ns: Option<i64>,
    pub segments: usize,
    pub stalls: u32,
    pub stall_ns: i64,
}

/// Summaries of the display latency's legs, over the samples in the headline.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LegSummaries {
    pub upload: Summary,
    pub packaging: Summary,
    pub to_listed: Summary,
    pub delivery: Summary,
    pub buffering: Summary,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Broadcast {
    pub streams: Vec<TxStream>,
    pub samples: Vec<FrameSample>,
    pub segments: Vec<SegmentRecord>,
    pub players: Vec<PlayerSession>,
    /// The headline: display latency under the player model, over every shown
    /// frame that is not a join artefact.
    pub display_summary: Summary,
    pub legs: LegSummaries,
    /// Wire latency by segment completion (segment complete − sent) over every
    /// sample not a join artefact.
    pub wire_summary: Summary,
    /// Wire latency by frame arrival (the frame's last byte at the viewer − sent),
    /// over the same samples.
    pub arrival_summary: Summary,
    /// Wire latency by part completion (the LL-HLS part holding the frame was
    /// complete at the viewer − sent), over the samples that came in parts.
    #[serde(default)]
    pub part_summary: Summary,
    /// From the packager's `prft` clock to the frame's arrival, over the samples
    /// whose segment carried `prft` stamps.
    pub prft_summary: Summary,
    pub source_summary: Summary,
    /// One sample per segment: its first frame's wire latency (by segment
    /// completion; of a segment fetched as parts, its first part's first frame).
    pub segment_summary: Summary,
    /// Display latency by viewer, stream, and as `--group-by` asks.
    pub by_viewer: BTreeMap<String, Summary>,
    pub by_stream: BTreeMap<String, Summary>,
    pub by_group: BTreeMap<String, Summary>,
    /// Frame samples left out of the summaries as join artefacts.
    pub join_artefacts: u64,
    /// Segments the viewers received inside Twitch stitched ad breaks, left out of
    /// matching, the player model and every summary.
    pub ad_segments: u64,
    /// Frames received but matched to nothing, by reason.
    pub unmatched: BTreeMap<String, u64>,
    /// Learned DTS mapping per channel: (stream index, c in 90 kHz units).
    pub dts_mapping: BTreeMap<String, (usize, i64)>,
}

impl Broadcast {
    /// Samples that count in the summaries and time series.
    pub fn counted(&self) -> impl Iterator<Item = &FrameSample> {
        self.samples.iter().filter(|s| !s.join_artefact)
    }
}

/// The broadcast work of one group (see `groups`): its frames matched and its
/// viewers' sessions played. Indices in the result (`tx`, `segment_index`,
/// `first_sample`, `dts_mapping`) are the group's own until [`merge`]; summaries
/// are left to it.
pub(crate) fn correlate_group(ctx: &Ctx, shared: &groups::Shared, group: Group) -> Broadcast {
    let mut out = Broadcast {
        streams: group.streams,
        ..Broadcast::default()
    };
    let matched = matching::match_frames(ctx, &out.streams, &group.rx);
    out.samples = matched.samples;
    out.segments = matched.segments;
    out.unmatched = matched.unmatched;
    out.dts_mapping = matched.dts_mapping;
    out.players = playout::play_sessions(ctx, shared, &group.names, &group.rx, &mut out);
    out
}

/// Where each stream of the merged result came from: (part, index in the part).
pub(crate) type StreamOrigins = Vec<(usize, usize)>;

/// The groups' results as the one result a single group holding everything gives:
/// streams in (broadcaster, flow) order, segments in (viewer, completion, request,
/// URI) order with their samples after them, player sessions by viewer and start,
/// every index renumbered, then the summaries. Also returns where each merged
/// stream came from, for results kept per stream elsewhere (source health).
pub(crate) fn merge(
    parts: Vec<Broadcast>,
    shared: &groups::Shared,
    host_names: &[String],
    group_by: GroupBy,
    warnings: &mut Vec<String>,
) -> (Broadcast, StreamOrigins) {
    if shared.no_broadcaster {
        warnings.push(
            "broadcast: viewers received segments but no broadcaster capture was given".to_string(),
        );
    }
    let host_index: HashMap<&str, usize> = host_names
        .iter()
        .enumerate()
        .rev()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let host_of = |name: &str| host_index.get(name).copied();
    let mut parts = parts;
    let mut origins: StreamOrigins = parts
        .iter()
        .enumerate()
        .flat_map(|(p, b)| (0..b.streams.len()).map(move |i| (p, i)))
        .collect();
    origins.sort_by_key(|&(p, i)| (parts[p].streams[i].host, parts[p].streams[i].flow));
    let mut stream_at: Vec<Vec<usize>> = parts.iter().map(|b| vec![0; b.streams.len()]).collect();
    for (new, &(p, i)) in origins.iter().enumerate() {
        stream_at[p][i] = new;
    }
    let mut segs: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, b)| (0..b.segments.len()).map(move |i| (p, i)))
        .collect();
    segs.sort_by_cached_key(|&(p, i)| {
        let s = &parts[p].segments[i];
        (
            host_of(&s.viewer),
            s.complete_ns,
            s.request_ns,
            s.uri.clone(),
        )
    });
    let mut out = Broadcast {
        ad_segments: shared.ad_segments,
        ..Broadcast::default()
    };
    // Segments, samples and streams are moved out of the parts, not copied. Each
    // segment's samples are contiguous in its part: their range by segment.
    let mut segments: Vec<Vec<Option<SegmentRecord>>> = Vec::with_capacity(parts.len());
    let mut samples: Vec<Vec<Option<FrameSample>>> = Vec::with_capacity(parts.len());
    let mut streams: Vec<Vec<Option<TxStream>>> = Vec::with_capacity(parts.len());
    let mut ranges: Vec<Vec<(usize, usize)>> = Vec::with_capacity(parts.len());
    for b in &mut parts {
        let mut r = vec![(0, 0); b.segments.len()];
        for (n, s) in b.samples.iter().enumerate() {
            let e = &mut r[s.segment_index];
            if e.1 == 0 {
                e.0 = n;
            }
            e.1 = n + 1;
        }
        ranges.push(r);
        segments.push(
            std::mem::take(&mut b.segments)
                .into_iter()
                .map(Some)
                .collect(),
        );
        samples.push(
            std::mem::take(&mut b.samples)
                .into_iter()
                .map(Some)
                .collect(),
        );
        streams.push(
            std::mem::take(&mut b.streams)
                .into_iter()
                .map(Some)
                .collect(),
        );
    }
    out.streams = origins
        .iter()
        .map(|&(p, i)| streams[p][i].take().expect("each stream once"))
        .collect();
    for (new_index, &(p, i)) in segs.iter().enumerate() {
        let mut seg = segments[p][i].take().expect("each segment once");
        let (lo, hi) = ranges[p][i];
        let first = out.samples.len();
        for smp in samples[p][lo..hi].iter_mut() {
            let smp = smp.take().expect("each sample once");
            out.samples.push(FrameSample {
                segment_index: new_index,
                tx: smp.tx.map(|(si, fi)| (stream_at[p][si], fi)),
                ..smp
            });
        }
        seg.first_sample = seg.first_sample.map(|f| first + (f - lo));
        out.segments.push(seg);
    }
    for (p, b) in parts.into_iter().enumerate() {
        out.players.extend(b.players);
        for (reason, n) in b.unmatched {
            *out.unmatched.entry(reason).or_default() += n;
        }
        out.dts_mapping.extend(
            b.dts_mapping
                .into_iter()
                .map(|(ch, (si, c))| (ch, (stream_at[p][si], c))),
        );
    }
    out.players
        .sort_by_key(|s| (host_of(&s.viewer), s.first_request_ns));
    summarise(&mut out, group_by);
    (out, origins)
}

fn summarise(out: &mut Broadcast, group_by: GroupBy) {
    // The samples field alone is borrowed, so the summaries can be assigned.
    let shown: Vec<&FrameSample> = out
        .samples
        .iter()
        .filter(|s| !s.join_artefact && s.display_latency_ns.is_some())
        .collect();
    let of =
        |f: fn(&FrameSample) -> Option<i64>| Summary::of_iter(shown.iter().filter_map(|s| f(s)));
    out.display_summary = of(|s| s.display_latency_ns);
    out.legs = LegSummaries {
        upload: of(|s| s.legs.upload_ns),
        packaging: of(|s| s.legs.packaging_ns),
        to_listed: of(|s| Some(s.legs.to_listed_ns)),
        delivery: of(|s| Some(s.legs.delivery_ns)),
        buffering: of(|s| s.legs.buffering_ns),
    };
    // Wire and source-clock latency need no player: every counted sample.
    let counted = || out.samples.iter().filter(|s| !s.join_artefact);
    out.wire_summary = Summary::of_iter(counted().map(|s| s.latency_ns));
    out.arrival_summary = Summary::of_iter(counted().map(|s| s.arrival_latency_ns));
    out.part_summary = Summary::of_iter(counted().filter_map(|s| s.part_latency_ns));
    out.prft_summary = Summary::of_iter(counted().filter_map(|s| s.prft_latency_ns));
    out.source_summary = Summary::of_iter(counted().filter_map(|s| s.source_latency_ns));
    // A segment's first frame: for parts, that of the parent's first part.
    out.segment_summary = Summary::of_iter(
        out.segments
            .iter()
            .filter(|s| !s.join_artefact && s.part.is_none_or(|k| k == 0))
            .filter_map(|s| s.first_sample.map(|i| out.samples[i].latency_ns)),
    );
    out.join_artefacts = out.samples.iter().filter(|s| s.join_artefact).count() as u64;
    let rate_of = |si: usize| match out.streams[si].bitrate_kbps {
        Some(r) => format!("{r:.0} kb/s"),
        None => "unknown".to_string(),
    };
    let display = |s: &&FrameSample| s.display_latency_ns.unwrap_or_default();
    out.by_viewer = grouped(shown.iter().map(|s| (s.viewer.clone(), display(s))));
    out.by_stream = grouped(shown.iter().map(|s| (s.stream.clone(), display(s))));
    out.by_group = grouped(shown.iter().map(|s| {
        let g = match group_by {
            GroupBy::Host => s.viewer.clone(),
            GroupBy::Channel => s.stream.clone(),
            GroupBy::Bitrate => {
                s.tx.map_or_else(|| "unknown".to_string(), |(si, _)| rate_of(si))
            }
        };
        (g, display(s))
    }));
}
