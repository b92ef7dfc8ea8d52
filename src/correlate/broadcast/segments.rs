//! The viewers' side: the media segments each viewer received, and what the
//! playlists it received said about them (channel, duration, program date, and
//! when the viewer first saw each segment listed).

use std::collections::HashMap;

use crate::events::{Event, SegmentFrame, SegmentPrft};

use super::super::channel::url_path;
use super::super::sessions::Session;
use super::super::Ctx;

/// What a viewer's playlists said about a segment file.
#[derive(Clone, Debug, Default)]
pub(super) struct Listing {
    pub channel: Option<String>,
    pub duration_ns: Option<i64>,
    pub pdt_ns: Option<i64>,
    /// The first playlist listing the file was received (reference clock).
    pub listed_ns: Option<i64>,
    /// Listed inside a Twitch stitched ad (`PlaylistEntry::ad`): an ad, not the
    /// broadcast, whatever its dates say.
    pub ad: bool,
    /// An LL-HLS part (`PartEntry`): its parent segment's media sequence and its
    /// index in the parent.
    pub part: Option<(u64, u32)>,
}

/// A media playlist a viewer received (reference clock), with its entries' file
/// names in playlist order.
#[derive(Clone, Debug)]
pub(super) struct ViewerPlaylist {
    pub request_ns: i64,
    pub received_ns: i64,
    pub channel: Option<String>,
    /// The listed segments, then those a prefetch tag named (the one being made).
    pub files: Vec<String>,
    /// How many of `files` are listed, complete segments.
    pub listed: usize,
    /// The LL-HLS parts it names, in playlist order, the hinted one last: what a
    /// player of parts counts its start from.
    pub parts: Vec<String>,
    /// How many of `parts` are listed (not hinted).
    pub parts_listed: usize,
}

/// The last path element of a URI: playlists list segments relative to
/// themselves, so a file name is what a listing and a request share.
pub(super) fn file_name(uri: &str) -> &str {
    let p = url_path(uri);
    p.rsplit('/').next().unwrap_or(p)
}

/// What a player fetched, as listings and fetches share it: a file, or a byte
/// range of one (an LL-HLS byte-range part: `file@start`).
pub(super) fn unit_name(uri: &str, range_start: Option<u64>) -> String {
    match range_start {
        Some(r) => format!("{}@{r}", file_name(uri)),
        None => file_name(uri).to_string(),
    }
}

pub(super) struct RxSegment<'a> {
    pub host: usize,
    pub channel: Option<String>,
    pub uri: &'a str,
    /// A range request's first byte (a byte-range part).
    pub range_start: Option<u64>,
    /// The media sequence number: a part's is its parent segment's.
    pub seq: Option<u64>,
    /// An LL-HLS part: its index in the parent segment.
    pub part: Option<u32>,
    pub bytes: u64,
    pub request_ns: i64,
    pub first_byte_ns: i64,
    pub complete_ns: i64,
    /// When the viewer had the whole segment: `complete_ns`, or for a part the
    /// last completion among the parts of its parent it fetched.
    pub segment_complete_ns: i64,
    pub frames: &'a [SegmentFrame],
    /// The packager's `prft` stamps (fMP4).
    pub prft: &'a [SegmentPrft],
    pub listing: Listing,
}

/// Every viewer's media playlists, by host, in time order.
pub(super) fn viewer_playlists(ctx: &Ctx) -> Vec<Vec<ViewerPlaylist>> {
    let pat = &ctx.opts.channel_pattern;
    ctx.hosts
        .iter()
        .enumerate()
        .map(|(h, host)| {
            let mut v: Vec<ViewerPlaylist> = host
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::HlsPlaylist {
                        flow,
                        uri,
                        channel,
                        master: false,
                        segments,
                        parts,
                        request_ns,
                        received_ns,
                        ..
                    } if !ctx.sides[h].served(*flow) => Some(ViewerPlaylist {
                        request_ns: ctx.to_ref(h, *request_ns),
                        received_ns: ctx.to_ref(h, *received_ns),
                        channel: channel.clone().or_else(|| pat.channel_of(uri)),
                        files: segments
                            .iter()
                            .map(|s| file_name(&s.uri).to_string())
                            .collect(),
                        listed: segments.iter().filter(|s| !s.prefetch).count(),
                        parts: parts
                            .iter()
                            .map(|p| unit_name(&p.uri, p.byte_range_start))
                            .collect(),
                        parts_listed: parts.iter().filter(|p| !p.hint).count(),
                    }),
                    _ => None,
                })
                .collect();
            v.sort_by_key(|p| (p.received_ns, p.request_ns));
            v
        })
        .collect()
}

/// Viewers' segments (2xx, on flows they did not serve), sorted by (host,
/// completion, request, URI), each with what the host's playlists said about its file.
pub(super) fn rx_segments<'a>(ctx: &'a Ctx, sessions: &[Vec<Session>]) -> Vec<RxSegment<'a>> {
    let pat = &ctx.opts.channel_pattern;
    let mut rx: Vec<RxSegment> = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let mut listings: HashMap<&str, Listing> = HashMap::new();
        // Byte-range parts, by (file, first byte): they share their file's name.
        let mut ranges: HashMap<(&str, u64), Listing> = HashMap::new();
        for e in &host.events {
            if let Event::HlsPlaylist {
                flow,
                uri,
                channel,
                segments,
                parts,
                received_ns,
                ..
            } = e
            {
                if side.served(*flow) {
                    continue;
                }
                let ch = channel.clone().or_else(|| pat.channel_of(uri));
                let received = ctx.to_ref(h, *received_ns);
                for entry in segments {
                    let l = listings.entry(file_name(&entry.uri)).or_default();
                    l.channel = ch.clone();
                    // A prefetch entry has no duration yet; a later listing gives it.
                    if !entry.prefetch {
                        l.duration_ns = Some((entry.duration_s * 1e9) as i64);
                    }
                    l.pdt_ns = entry.program_date_time_ns;
                    l.ad |= entry.ad;
                    l.listed_ns = Some(l.listed_ns.map_or(received, |t| t.min(received)));
                }
                for p in parts {
                    let l = match p.byte_range_start {
                        Some(r) => ranges.entry((file_name(&p.uri), r)).or_default(),
                        None => listings.entry(file_name(&p.uri)).or_default(),
                    };
                    l.channel = ch.clone();
                    if !p.hint {
                        l.duration_ns = Some((p.duration_s * 1e9) as i64);
                        l.listed_ns = Some(l.listed_ns.map_or(received, |t| t.min(received)));
                    }
                    l.part = Some((p.media_sequence, p.index));
                }
            }
        }
        for e in &host.events {
            if let Event::HlsSegment {
                flow,
                uri,
                channel,
                media_sequence,
                range_start,
                status,
                bytes,
                request_ns,
                first_byte_ns,
                complete_ns,
                frames,
                prft,
                ..
            } = e
            {
                if side.served(*flow) || !(200..300).contains(status) {
                    continue;
                }
                let listing = range_start
                    .and_then(|r| ranges.get(&(file_name(uri), r)))
                    .or_else(|| listings.get(file_name(uri)))
                    .cloned()
                    .unwrap_or_default();
                let channel = channel
                    .clone()
                    .or_else(|| pat.channel_of(uri))
                    .or_else(|| listing.channel.clone());
                let complete_ns = ctx.to_ref(h, *complete_ns);
                rx.push(RxSegment {
                    host: h,
                    channel,
                    uri,
                    range_start: *range_start,
                    seq: listing.part.map(|p| p.0).or(*media_sequence),
                    part: listing.part.map(|p| p.1),
                    bytes: *bytes,
                    request_ns: ctx.to_ref(h, *request_ns),
                    first_byte_ns: ctx.to_ref(h, *first_byte_ns),
                    complete_ns,
                    segment_complete_ns: complete_ns,
                    frames,
                    prft,
                    listing,
                });
            }
        }
    }
    // Segments whose URL and playlists name no channel take the viewer's session's.
    for seg in rx.iter_mut().filter(|s| s.channel.is_none()) {
        seg.channel = sessions[seg.host]
            .iter()
            .find(|s| s.contains(seg.request_ns))
            .map(|s| s.channel.clone());
    }
    parent_completion(&mut rx);
    // A total order (two segments can complete in one packet, over HTTP/2): what
    // merging the groups' results puts back (`super::merge`).
    rx.sort_by(|a, b| {
        (a.host, a.complete_ns, a.request_ns, a.uri).cmp(&(
            b.host,
            b.complete_ns,
            b.request_ns,
            b.uri,
        ))
    });
    rx
}

/// A part's parent is complete, for its viewer, when the last of the parts of it
/// the viewer fetched is: the time latency by segment completion counts to.
fn parent_completion(rx: &mut [RxSegment]) {
    let mut last: HashMap<(usize, Option<&str>, u64), i64> = HashMap::new();
    for s in rx.iter().filter(|s| s.part.is_some()) {
        if let Some(seq) = s.seq {
            let t = last
                .entry((s.host, s.channel.as_deref(), seq))
                .or_insert(i64::MIN);
            *t = (*t).max(s.complete_ns);
        }
    }
    let done: Vec<Option<i64>> = rx
        .iter()
        .map(|s| {
            let seq = s.seq.filter(|_| s.part.is_some())?;
            last.get(&(s.host, s.channel.as_deref(), seq)).copied()
        })
        .collect();
    for (s, t) in rx.iter_mut().zip(done) {
        if let Some(t) = t {
            s.segment_complete_ns = t;
        }
    }
}

pub(crate) fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// 90 kHz ticks to ns, saturating (a garbage PTS must not overflow).
pub(super) fn ticks_to_ns(ticks: i64) -> i64 {
    (ticks as i128 * 1_000_000_000 / 90_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// A segment's playout duration: its frames' PTS span plus one frame interval,
/// else the playlist's `#EXTINF`, else 4 s.
pub(super) fn segment_duration(frames: &[SegmentFrame], listing: &Listing) -> i64 {
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
