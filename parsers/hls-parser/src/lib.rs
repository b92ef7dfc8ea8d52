//! HLS playlists (RFC 8216): master playlists (variants and renditions, with the
//! quality labels Twitch puts in `#EXT-X-MEDIA NAME=`) and media playlists
//! (segments with their media sequence numbers, durations, discontinuities and
//! `EXT-X-PROGRAM-DATE-TIME`), with low-latency HLS (RFC 8216bis, draft-pantos-hls-
//! rfc8216bis: partial segments, preload hints, server control, rendition reports,
//! playlist delta updates; the blocking-reload query in [`DeliveryDirectives`]) and
//! Twitch's low-latency and ad tags (`#EXT-X-TWITCH-PREFETCH`, `-LIVE-SEQUENCE`,
//! `-ELAPSED-SECS`, `-TOTAL-SECS`, `-INFO`, stitched-ad `EXT-X-DATERANGE`s).
//!
//! A playlist is small and arrives whole (the HTTP layer keeps it), so this is a
//! plain function over text, not a streaming session. Parsing is lenient the way
//! players are: unknown tags are kept verbatim, malformed attributes are counted
//! as anomalies and skipped, and only a missing `#EXTM3U` header is an error.
//!
//! Written by hand: the existing Rust HLS crates either drop unknown tags or
//! reject playlists that players accept, and a measurement tool must see both.

#![forbid(unsafe_code)]

mod attributes;
mod low_latency;
mod uri;

pub use attributes::{parse_attributes, AttributeList};
pub use low_latency::{
    DeliveryDirectives, Part, PreloadHint, RenditionReport, ServerControl, Twitch, TWITCH_AD_CLASS,
};
pub use uri::resolve_uri;

/// Playlists longer than this are cut there (`hls.playlist_too_long`); the HTTP
/// layer keeps at most 1 MiB anyway.
pub const MAX_PLAYLIST_LEN: usize = 4 << 20;
/// Most segments, variants or renditions kept per playlist (`hls.too_many_entries`).
pub const MAX_ENTRIES: usize = 100_000;
/// Most unknown tags kept per playlist or segment (`hls.too_many_tags`).
pub const MAX_OTHER_TAGS: usize = 1_000;

/// Why a text is not a playlist at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The first line is not `#EXTM3U`.
    MissingHeader,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::MissingHeader => f.write_str("not an HLS playlist: first line is not #EXTM3U"),
        }
    }
}

impl std::error::Error for Error {}

/// A parsed playlist.
#[derive(Clone, Debug, PartialEq)]
pub enum Playlist {
    /// Lists variant streams (`#EXT-X-STREAM-INF`).
    Master(MasterPlaylist),
    /// Lists media segments (boxed: with its low-latency and Twitch parts it is
    /// several times a master playlist's size).
    Media(Box<MediaPlaylist>),
}

/// A master (multivariant) playlist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MasterPlaylist {
    /// `#EXT-X-VERSION`.
    pub version: Option<u32>,
    /// Variant streams in playlist order.
    pub variants: Vec<Variant>,
    /// Renditions (`#EXT-X-MEDIA`).
    pub media: Vec<Rendition>,
    /// Other tags, verbatim lines (e.g. `#EXT-X-TWITCH-INFO:...`).
    pub other_tags: Vec<String>,
    /// Anomalies counted by reason (`hls.*`).
    pub anomalies: Vec<(&'static str, u64)>,
}

/// One `#EXT-X-STREAM-INF` and its URI.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variant {
    /// The variant's media playlist URI, as written (see [`resolve_uri`]).
    pub uri: String,
    /// `BANDWIDTH` (bits/s).
    pub bandwidth: Option<u64>,
    /// `AVERAGE-BANDWIDTH` (bits/s).
    pub average_bandwidth: Option<u64>,
    /// `RESOLUTION` as (width, height).
    pub resolution: Option<(u32, u32)>,
    /// `CODECS`, e.g. `avc1.64002A,mp4a.40.2`.
    pub codecs: Option<String>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
    /// `VIDEO` group id (Twitch: `chunked` for source, else e.g. `720p60`).
    pub video_group: Option<String>,
    /// `AUDIO` group id.
    pub audio_group: Option<String>,
    /// Quality label: `NAME` of the `TYPE=VIDEO` rendition in this variant's video
    /// group (Twitch: `1080p60 (source)`, `720p60`, …), if there is one.
    pub name: Option<String>,
    /// All attributes, verbatim.
    pub attributes: AttributeList,
}

/// One `#EXT-X-MEDIA` rendition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendition {
    /// `TYPE`: AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS.
    pub kind: String,
    /// `GROUP-ID`.
    pub group_id: String,
    /// `NAME`.
    pub name: String,
    /// `URI`, if the rendition has its own playlist.
    pub uri: Option<String>,
    /// `LANGUAGE`.
    pub language: Option<String>,
    /// `DEFAULT=YES`.
    pub default: bool,
    /// `AUTOSELECT=YES`.
    pub autoselect: bool,
    /// All attributes, verbatim.
    pub attributes: AttributeList,
}

/// A media playlist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaPlaylist {
    /// `#EXT-X-VERSION`.
    pub version: Option<u32>,
    /// `#EXT-X-TARGETDURATION` (seconds).
    pub target_duration: Option<u64>,
    /// `#EXT-X-MEDIA-SEQUENCE`: sequence number of the first segment (default 0).
    pub media_sequence: u64,
    /// `#EXT-X-DISCONTINUITY-SEQUENCE` (default 0).
    pub discontinuity_sequence: u64,
    /// `#EXT-X-PLAYLIST-TYPE` (VOD or EVENT).
    pub playlist_type: Option<String>,
    /// `#EXT-X-ENDLIST` seen: no more segments will be added.
    pub end_list: bool,
    /// `#EXT-X-INDEPENDENT-SEGMENTS` seen.
    pub independent_segments: bool,
    /// Segments in order.
    pub segments: Vec<Segment>,
    /// `#EXT-X-SERVER-CONTROL` (RFC 8216bis §4.4.3.8).
    pub server_control: Option<ServerControl>,
    /// `#EXT-X-PART-INF:PART-TARGET=` in seconds (§4.4.3.7).
    pub part_target_s: Option<f64>,
    /// `#EXT-X-PART`s after the last segment: the parts of the segment being made,
    /// which has no URI line yet (§4.4.4.9).
    pub pending_parts: Vec<Part>,
    /// `#EXT-X-PRELOAD-HINT`s (§4.4.5.3): resources a client may request before
    /// they are listed.
    pub preload_hints: Vec<PreloadHint>,
    /// `#EXT-X-RENDITION-REPORT`s (§4.4.5.4).
    pub rendition_reports: Vec<RenditionReport>,
    /// `#EXT-X-SKIP:SKIPPED-SEGMENTS=` of a delta update (§4.4.5.2): the segments
    /// left out before the first listed, which is numbered after them.
    pub skipped_segments: u64,
    /// `#EXT-X-PREFETCH:URI`, in order: the community low-latency HLS draft's
    /// segments after the last listed one, requested before they are complete
    /// (ffmpeg's dash muxer writes it with `-hls_playlist 1 -lhls 1`).
    pub prefetch: Vec<String>,
    /// Twitch's own tags, when present.
    pub twitch: Twitch,
    /// Playlist-level tags not understood here, verbatim.
    pub other_tags: Vec<String>,
    /// Anomalies counted by reason (`hls.*`).
    pub anomalies: Vec<(&'static str, u64)>,
}

/// One media segment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    /// Media sequence number (`EXT-X-MEDIA-SEQUENCE` + index, wrapping at 2^64).
    pub sequence: u64,
    /// Discontinuity sequence number it belongs to.
    pub discontinuity_sequence: u64,
    /// `#EXTINF` duration in seconds.
    pub duration: f64,
    /// `#EXTINF` title (after the comma; Twitch writes `live`).
    pub title: String,
    /// URI as written (see [`resolve_uri`]).
    pub uri: String,
    /// Preceded by `#EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
    /// `#EXT-X-PROGRAM-DATE-TIME` of this segment, ns since the Unix epoch (UTC).
    pub program_date_time_ns: Option<i64>,
    /// `#EXT-X-BYTERANGE` as (length, offset).
    pub byte_range: Option<(u64, Option<u64>)>,
    /// URI of the `#EXT-X-MAP` (fMP4 init segment) in force, as written.
    pub map_uri: Option<String>,
    /// `#EXT-X-PART`s of this segment, in order (LL-HLS): the same media, published
    /// piece by piece before the segment was complete.
    pub parts: Vec<Part>,
    /// Inside a Twitch stitched ad (an `EXT-X-DATERANGE` of class
    /// [`TWITCH_AD_CLASS`] whose span holds this segment's date): an ad, not the
    /// broadcast.
    pub ad: bool,
    /// Tags before this segment not understood here, verbatim (e.g.
    /// `#EXT-X-DATERANGE:...`).
    pub tags: Vec<String>,
}

impl MediaPlaylist {
    /// The segments named before they are listed, numbered on from the last
    /// listed one: `#EXT-X-PREFETCH`, then Twitch's `#EXT-X-TWITCH-PREFETCH`.
    pub fn prefetch_uris(&self) -> impl Iterator<Item = &str> {
        self.prefetch
            .iter()
            .chain(&self.twitch.prefetch)
            .map(String::as_str)
    }

    /// Start time of every segment, ns since the epoch: its own
    /// `EXT-X-PROGRAM-DATE-TIME`, else the previous segment's time plus its
    /// duration, unless a discontinuity intervenes (then unknown until the next
    /// explicit date). A fallback for matching frames across hosts.
    pub fn segment_start_times_ns(&self) -> Vec<Option<i64>> {
        let mut out = Vec::with_capacity(self.segments.len());
        let mut next: Option<i64> = None;
        for s in &self.segments {
            let start = match s.program_date_time_ns {
                Some(t) => Some(t),
                None if s.discontinuity => None,
                None => next,
            };
            next = start.map(|t| t.saturating_add((s.duration * 1e9) as i64));
            out.push(start);
        }
        out
    }

    /// The segment with media sequence number `sequence`, if listed (a delta
    /// update's first listed segment comes after the skipped ones).
    pub fn segment(&self, sequence: u64) -> Option<&Segment> {
        let first = self.media_sequence.wrapping_add(self.skipped_segments);
        let index = sequence.wrapping_sub(first);
        self.segments.get(usize::try_from(index).ok()?)
    }
}

fn bump(anomalies: &mut Vec<(&'static str, u64)>, reason: &'static str) {
    match anomalies.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += 1,
        None => anomalies.push((reason, 1)),
    }
}

/// Parses playlist bytes (UTF-8; invalid sequences replaced, a BOM skipped).
pub fn parse_bytes(bytes: &[u8]) -> Result<Playlist, Error> {
    parse(&String::from_utf8_lossy(bytes))
}

/// Parses a playlist. It is a master playlist if it has `#EXT-X-STREAM-INF`,
/// else a media playlist.
pub fn parse(text: &str) -> Result<Playlist, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut anomalies = Vec::new();
    let text = if text.len() > MAX_PLAYLIST_LEN {
        bump(&mut anomalies, "hls.playlist_too_long");
        let mut cut = MAX_PLAYLIST_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        &text[..cut]
    } else {
        text
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err(Error::MissingHeader);
    }
    let lines: Vec<&str> = lines.collect();
    if lines.iter().any(|l| l.starts_with("#EXT-X-STREAM-INF:")) {
        Ok(Playlist::Master(parse_master(&lines, anomalies)))
    } else {
        Ok(Playlist::Media(Box::new(parse_media(&lines, anomalies))))
    }
}

/// Splits `#TAG:value` into (`#TAG`, value).
fn split_tag(line: &str) -> (&str, &str) {
    line.split_once(':').unwrap_or((line, ""))
}

fn parse_master(lines: &[&str], mut anomalies: Vec<(&'static str, u64)>) -> MasterPlaylist {
    let mut p = MasterPlaylist::default();
    let mut pending: Option<Variant> = None;
    for &line in lines {
        if !line.starts_with('#') {
            match pending.take() {
                Some(mut v) if p.variants.len() < MAX_ENTRIES => {
                    v.uri = line.to_string();
                    p.variants.push(v);
                }
                Some(_) => bump(&mut anomalies, "hls.too_many_entries"),
                None => bump(&mut anomalies, "hls.uri_without_stream_inf"),
            }
            continue;
        }
        let (tag, value) = split_tag(line);
        match tag {
            "#EXT-X-VERSION" => p.version = number(value, &mut anomalies),
            "#EXT-X-STREAM-INF" => {
                if pending.is_some() {
                    bump(&mut anomalies, "hls.stream_inf_without_uri");
                }
                pending = Some(variant(value, &mut anomalies));
            }
            "#EXT-X-MEDIA" if p.media.len() < MAX_ENTRIES => {
                let a = parse_attributes(value);
                p.media.push(Rendition {
                    kind: a.get("TYPE").unwrap_or_default().to_string(),
                    group_id: a.get("GROUP-ID").unwrap_or_default().to_string(),
                    name: a.get("NAME").unwrap_or_default().to_string(),
                    uri: a.get("URI").map(str::to_string),
                    language: a.get("LANGUAGE").map(str::to_string),
                    default: a.get("DEFAULT") == Some("YES"),
                    autoselect: a.get("AUTOSELECT") == Some("YES"),
                    attributes: a,
                });
            }
            _ if tag.starts_with("#EXT") => keep_tag(&mut p.other_tags, line, &mut anomalies),
            _ => {} // a comment
        }
    }
    if pending.is_some() {
        bump(&mut anomalies, "hls.stream_inf_without_uri");
    }
    for v in &mut p.variants {
        let group = v.video_group.as_deref();
        v.name = p
            .media
            .iter()
            .find(|m| m.kind == "VIDEO" && Some(m.group_id.as_str()) == group)
            .map(|m| m.name.clone());
    }
    p.anomalies = anomalies;
    p
}

fn variant(value: &str, anomalies: &mut Vec<(&'static str, u64)>) -> Variant {
    let a = parse_attributes(value);
    let mut v = Variant {
        bandwidth: a.get("BANDWIDTH").and_then(|b| number(b, anomalies)),
        average_bandwidth: a
            .get("AVERAGE-BANDWIDTH")
            .and_then(|b| number(b, anomalies)),
        codecs: a.get("CODECS").map(str::to_string),
        video_group: a.get("VIDEO").map(str::to_string),
        audio_group: a.get("AUDIO").map(str::to_string),
        ..Variant::default()
    };
    if let Some(r) = a.get("RESOLUTION") {
        v.resolution = r
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
        if v.resolution.is_none() {
            bump(anomalies, "hls.bad_attribute");
        }
    }
    if let Some(f) = a.get("FRAME-RATE") {
        v.frame_rate = number(f, anomalies);
    }
    v.attributes = a;
    v
}

fn number<T: std::str::FromStr>(s: &str, anomalies: &mut Vec<(&'static str, u64)>) -> Option<T> {
    let n = s.trim().parse().ok();
    if n.is_none() {
        bump(anomalies, "hls.bad_attribute");
    }
    n
}

fn keep_tag(tags: &mut Vec<String>, line: &str, anomalies: &mut Vec<(&'static str, u64)>) {
    if tags.len() < MAX_OTHER_TAGS {
        tags.push(line.to_string());
    } else {
        bump(anomalies, "hls.too_many_tags");
    }
}

fn parse_media(lines: &[&str], mut anomalies: Vec<(&'static str, u64)>) -> MediaPlaylist {
    let mut p = MediaPlaylist::default();
    // Tags that apply to the next segment.
    let mut next = Segment::default();
    let mut have_inf = false;
    let mut map_uri: Option<String> = None;
    let mut last_range_end: Option<u64> = None;
    let mut ads = Vec::new();
    let mut part_range_end: Option<u64> = None;
    for &line in lines {
        if !line.starts_with('#') {
            if !have_inf {
                bump(&mut anomalies, "hls.uri_without_extinf");
            }
            if p.segments.len() >= MAX_ENTRIES {
                bump(&mut anomalies, "hls.too_many_entries");
                break;
            }
            let mut s = std::mem::take(&mut next);
            s.uri = line.to_string();
            s.map_uri.clone_from(&map_uri);
            s.parts = std::mem::take(&mut p.pending_parts);
            p.segments.push(s);
            have_inf = false;
            part_range_end = None;
            continue;
        }
        let (tag, value) = split_tag(line);
        if low_latency::media_tag(&mut p, tag, value, &mut part_range_end, &mut anomalies) {
            continue;
        }
        match tag {
            "#EXT-X-VERSION" => p.version = number(value, &mut anomalies),
            "#EXT-X-TARGETDURATION" => p.target_duration = number(value, &mut anomalies),
            "#EXT-X-MEDIA-SEQUENCE" => {
                p.media_sequence = number(value, &mut anomalies).unwrap_or(0);
            }
            "#EXT-X-DISCONTINUITY-SEQUENCE" => {
                p.discontinuity_sequence = number(value, &mut anomalies).unwrap_or(0);
            }
            "#EXT-X-PLAYLIST-TYPE" => p.playlist_type = Some(value.to_string()),
            "#EXT-X-ENDLIST" => p.end_list = true,
            "#EXT-X-INDEPENDENT-SEGMENTS" => p.independent_segments = true,
            "#EXTINF" => {
                let (duration, title) = value.split_once(',').unwrap_or((value, ""));
                next.duration = number(duration, &mut anomalies).unwrap_or(0.0);
                next.title = title.to_string();
                have_inf = true;
            }
            "#EXT-X-DISCONTINUITY" => next.discontinuity = true,
            "#EXT-X-PROGRAM-DATE-TIME" => {
                next.program_date_time_ns = parse_date_time_ns(value);
                if next.program_date_time_ns.is_none() {
                    bump(&mut anomalies, "hls.bad_date_time");
                }
            }
            "#EXT-X-BYTERANGE" => {
                let (len, off) = value.split_once('@').unwrap_or((value, ""));
                let len: Option<u64> = number(len, &mut anomalies);
                let off = if off.is_empty() {
                    last_range_end
                } else {
                    number(off, &mut anomalies)
                };
                next.byte_range = len.map(|l| (l, off));
                last_range_end = len.zip(off).and_then(|(l, o)| l.checked_add(o));
            }
            "#EXT-X-MAP" => map_uri = parse_attributes(value).get("URI").map(str::to_string),
            "#EXT-X-DATERANGE" => {
                if let Some(span) = low_latency::ad_span(value) {
                    ads.push(span);
                }
                keep_tag(&mut next.tags, line, &mut anomalies);
            }
            // Segment-scoped tags that precede a segment URI.
            "#EXT-X-KEY"
            | "#EXT-X-GAP"
            | "#EXT-X-BITRATE"
            | "#EXT-X-CUE-OUT"
            | "#EXT-X-CUE-IN"
            | "#EXT-X-CUE-OUT-CONT" => keep_tag(&mut next.tags, line, &mut anomalies),
            _ if tag.starts_with("#EXT") => keep_tag(&mut p.other_tags, line, &mut anomalies),
            _ => {} // a comment
        }
    }
    // Numbered at the end: the sequence tags may legally come after segments.
    // Wrapping arithmetic: numbers near 2^64 are nonsense but must not panic.
    let mut dseq = p.discontinuity_sequence;
    let first = p.media_sequence.wrapping_add(p.skipped_segments);
    for (i, s) in p.segments.iter_mut().enumerate() {
        s.sequence = first.wrapping_add(i as u64);
        if s.discontinuity {
            dseq = dseq.wrapping_add(1);
        }
        s.discontinuity_sequence = dseq;
    }
    if !ads.is_empty() {
        let starts = p.segment_start_times_ns();
        for (s, start) in p.segments.iter_mut().zip(starts) {
            s.ad = start.is_some_and(|t| ads.iter().any(|(a, b)| *a <= t && t < *b));
        }
    }
    p.anomalies = anomalies;
    p
}

/// Parses an `EXT-X-PROGRAM-DATE-TIME` value (ISO 8601 with a time zone, e.g.
/// `2026-11-25T04:13:52.123Z` or `…+01:00`, also the colon-less `+0100`) into ns
/// since the Unix epoch.
pub fn parse_date_time_ns(value: &str) -> Option<i64> {
    let value = value.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .or_else(|| {
            // `+hhmm` (no colon) is common in the wild; RFC 3339 wants `+hh:mm`.
            let (head, zone) = value.split_at_checked(value.len().checked_sub(5)?)?;
            let sign = zone.chars().next()?;
            if (sign == '+' || sign == '-') && zone[1..].bytes().all(|b| b.is_ascii_digit()) {
                // `zone` is ASCII here, so these slices are on char boundaries.
                let fixed = format!("{head}{}:{}", &zone[..3], &zone[3..]);
                chrono::DateTime::parse_from_rfc3339(&fixed).ok()
            } else {
                None
            }
        })?;
    parsed.timestamp_nanos_opt()
}

/// The body of the fuzz target, here so that `cargo test` runs it over the seeds
/// too. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` and exercises the derived views; must never panic.
    pub fn playlist(data: &[u8]) {
        match super::parse_bytes(data) {
            Ok(super::Playlist::Media(m)) => {
                let times = m.segment_start_times_ns();
                assert_eq!(times.len(), m.segments.len());
                for s in &m.segments {
                    let _ = super::resolve_uri("http://h/a/b.m3u8?q", &s.uri);
                    assert!(m.segment(s.sequence).is_some());
                }
            }
            Ok(super::Playlist::Master(m)) => {
                for v in &m.variants {
                    let _ = super::resolve_uri("/a/master.m3u8", &v.uri);
                }
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_date_time_ns;

    #[test]
    fn date_time_with_a_multibyte_char_near_the_zone_is_rejected_not_a_panic() {
        // Found by the mutation test: the zone fallback sliced inside a char.
        assert_eq!(parse_date_time_ns("2026-11-25T04:13:52.0\u{fffd}00Z"), None);
    }

    #[test]
    fn date_time_zones_with_and_without_colon_agree() {
        let z = parse_date_time_ns("2026-11-25T04:13:52.250Z").unwrap();
        assert_eq!(z, 1_795_580_032_250_000_000);
        assert_eq!(parse_date_time_ns("2026-11-25T05:13:52.250+01:00"), Some(z));
        assert_eq!(parse_date_time_ns("2026-11-25T05:13:52.250+0100"), Some(z));
        assert_eq!(parse_date_time_ns("yesterday"), None);
    }
}
