//! Low-latency HLS (RFC 8216bis, the HTTP Live Streaming 2nd edition draft,
//! draft-pantos-hls-rfc8216bis: §4.4.3.7-8, §4.4.4.9, §4.4.5.2-4, §6.2.5.2) and
//! Twitch's low-latency and ad tags.
//!
//! Both exist to get media to a viewer before a whole segment is listed: LL-HLS
//! publishes a segment as parts and lets the client ask for what is not there yet
//! (preload hints, blocking reloads); Twitch lists the next segments' URIs ahead
//! with `#EXT-X-TWITCH-PREFETCH` and streams them while they are being made. A
//! latency measurement must know both, or it times a segment from when it was
//! listed when the viewer had been receiving it for seconds.

use crate::attributes::parse_attributes;
use crate::{bump, parse_date_time_ns, MediaPlaylist, MAX_ENTRIES};

/// The `EXT-X-DATERANGE` class Twitch gives a server-side stitched ad break.
pub const TWITCH_AD_CLASS: &str = "twitch-stitched-ad";

/// `#EXT-X-SERVER-CONTROL` (§4.4.3.8): what the server lets a client do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerControl {
    /// `CAN-BLOCK-RELOAD=YES`: `_HLS_msn`/`_HLS_part` requests are held until the
    /// playlist has them.
    pub can_block_reload: bool,
    /// `CAN-SKIP-UNTIL` (s): delta updates may leave out segments this far back.
    pub can_skip_until_s: Option<f64>,
    /// `CAN-SKIP-DATERANGES=YES`.
    pub can_skip_dateranges: bool,
    /// `HOLD-BACK` (s): how far from the live edge a client should start.
    pub hold_back_s: Option<f64>,
    /// `PART-HOLD-BACK` (s): the same when playing parts.
    pub part_hold_back_s: Option<f64>,
}

/// `#EXT-X-PART` (§4.4.4.9): one partial segment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    pub duration_s: f64,
    pub uri: String,
    /// `INDEPENDENT=YES`: starts with an independent (key) frame.
    pub independent: bool,
    /// `BYTERANGE="length[@offset]"`: (length, offset); an offset left out follows
    /// the previous part of the same URI.
    pub byte_range: Option<(u64, Option<u64>)>,
    /// `GAP=YES`: the part is not available.
    pub gap: bool,
}

/// `#EXT-X-PRELOAD-HINT` (§4.4.5.3): a resource to request before it is listed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreloadHint {
    /// `TYPE`: `PART` or `MAP`.
    pub kind: String,
    pub uri: String,
    pub byte_range_start: Option<u64>,
    pub byte_range_length: Option<u64>,
}

/// `#EXT-X-RENDITION-REPORT` (§4.4.5.4): where another rendition's live edge is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenditionReport {
    pub uri: String,
    pub last_msn: Option<u64>,
    pub last_part: Option<u64>,
}

/// Twitch's media playlist tags (documented by the shape of Twitch's public
/// playlists; Twitch publishes no specification).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Twitch {
    /// `#EXT-X-TWITCH-PREFETCH:URI`, in order: the segments after the last listed
    /// one (numbered from it on), which a low-latency player requests at once and
    /// receives as they are made.
    pub prefetch: Vec<String>,
    /// `#EXT-X-TWITCH-LIVE-SEQUENCE`.
    pub live_sequence: Option<u64>,
    /// `#EXT-X-TWITCH-ELAPSED-SECS`.
    pub elapsed_s: Option<f64>,
    /// `#EXT-X-TWITCH-TOTAL-SECS`.
    pub total_s: Option<f64>,
    /// `#EXT-X-TWITCH-INFO` attributes as written.
    pub info: Option<crate::AttributeList>,
}

fn yes(v: Option<&str>) -> bool {
    v == Some("YES")
}

fn num<T: std::str::FromStr>(
    v: Option<&str>,
    anomalies: &mut Vec<(&'static str, u64)>,
) -> Option<T> {
    let v = v?;
    let n = v.trim().parse().ok();
    if n.is_none() {
        bump(anomalies, "hls.bad_attribute");
    }
    n
}

/// A `BYTERANGE` attribute value, `length[@offset]`.
fn byte_range(
    v: &str,
    follows: Option<u64>,
    anomalies: &mut Vec<(&'static str, u64)>,
) -> Option<(u64, Option<u64>)> {
    let (len, off) = v.split_once('@').unwrap_or((v, ""));
    let len = num(Some(len), anomalies)?;
    let off = if off.is_empty() {
        follows
    } else {
        num(Some(off), anomalies)
    };
    Some((len, off))
}

/// Handles a media playlist tag of LL-HLS or Twitch; `false` when `tag` is not one.
/// `part_range_end` is where the last part's byte range ended (for a part whose
/// range leaves its offset out).
pub(crate) fn media_tag(
    p: &mut MediaPlaylist,
    tag: &str,
    value: &str,
    part_range_end: &mut Option<u64>,
    anomalies: &mut Vec<(&'static str, u64)>,
) -> bool {
    match tag {
        "#EXT-X-SERVER-CONTROL" => {
            let a = parse_attributes(value);
            p.server_control = Some(ServerControl {
                can_block_reload: yes(a.get("CAN-BLOCK-RELOAD")),
                can_skip_until_s: num(a.get("CAN-SKIP-UNTIL"), anomalies),
                can_skip_dateranges: yes(a.get("CAN-SKIP-DATERANGES")),
                hold_back_s: num(a.get("HOLD-BACK"), anomalies),
                part_hold_back_s: num(a.get("PART-HOLD-BACK"), anomalies),
            });
        }
        "#EXT-X-PART-INF" => {
            p.part_target_s = num(parse_attributes(value).get("PART-TARGET"), anomalies);
        }
        "#EXT-X-PART" => {
            let a = parse_attributes(value);
            let Some(uri) = a.get("URI") else {
                bump(anomalies, "hls.part_without_uri");
                return true;
            };
            let range = a
                .get("BYTERANGE")
                .and_then(|r| byte_range(r, *part_range_end, anomalies));
            *part_range_end = range.and_then(|(l, o)| o?.checked_add(l));
            let part = Part {
                duration_s: num(a.get("DURATION"), anomalies).unwrap_or(0.0),
                uri: uri.to_string(),
                independent: yes(a.get("INDEPENDENT")),
                byte_range: range,
                gap: yes(a.get("GAP")),
            };
            if p.pending_parts.len() < MAX_ENTRIES {
                p.pending_parts.push(part);
            } else {
                bump(anomalies, "hls.too_many_entries");
            }
        }
        "#EXT-X-PRELOAD-HINT" => {
            let a = parse_attributes(value);
            let hint = PreloadHint {
                kind: a.get("TYPE").unwrap_or_default().to_string(),
                uri: a.get("URI").unwrap_or_default().to_string(),
                byte_range_start: num(a.get("BYTERANGE-START"), anomalies),
                byte_range_length: num(a.get("BYTERANGE-LENGTH"), anomalies),
            };
            if p.preload_hints.len() < MAX_ENTRIES {
                p.preload_hints.push(hint);
            }
        }
        "#EXT-X-RENDITION-REPORT" => {
            let a = parse_attributes(value);
            let report = RenditionReport {
                uri: a.get("URI").unwrap_or_default().to_string(),
                last_msn: num(a.get("LAST-MSN"), anomalies),
                last_part: num(a.get("LAST-PART"), anomalies),
            };
            if p.rendition_reports.len() < MAX_ENTRIES {
                p.rendition_reports.push(report);
            }
        }
        "#EXT-X-SKIP" => {
            let a = parse_attributes(value);
            p.skipped_segments = num(a.get("SKIPPED-SEGMENTS"), anomalies).unwrap_or(0);
        }
        "#EXT-X-PREFETCH" => {
            if p.prefetch.len() < MAX_ENTRIES {
                p.prefetch.push(value.trim().to_string());
            }
        }
        "#EXT-X-TWITCH-PREFETCH" => {
            if p.twitch.prefetch.len() < MAX_ENTRIES {
                p.twitch.prefetch.push(value.trim().to_string());
            }
        }
        "#EXT-X-TWITCH-LIVE-SEQUENCE" => {
            p.twitch.live_sequence = num(Some(value), anomalies);
        }
        "#EXT-X-TWITCH-ELAPSED-SECS" => p.twitch.elapsed_s = num(Some(value), anomalies),
        "#EXT-X-TWITCH-TOTAL-SECS" => p.twitch.total_s = num(Some(value), anomalies),
        "#EXT-X-TWITCH-INFO" => p.twitch.info = Some(parse_attributes(value)),
        _ => return false,
    }
    true
}

/// The time span, ns since the epoch, of an `EXT-X-DATERANGE` of Twitch's stitched
/// ad class: `START-DATE` to `END-DATE`, or plus `DURATION`, or plus
/// `PLANNED-DURATION` (§4.4.5.1). `None` for other ranges, or without an end.
pub(crate) fn ad_span(value: &str) -> Option<(i64, i64)> {
    let a = parse_attributes(value);
    if a.get("CLASS") != Some(TWITCH_AD_CLASS) {
        return None;
    }
    let start = parse_date_time_ns(a.get("START-DATE")?)?;
    let seconds = |k: &str| {
        a.get(k)
            .and_then(|d| d.trim().parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| start.saturating_add((d * 1e9) as i64))
    };
    let end = a
        .get("END-DATE")
        .and_then(parse_date_time_ns)
        .or_else(|| seconds("DURATION"))
        .or_else(|| seconds("PLANNED-DURATION"))?;
    Some((start, end))
}

/// The delivery directives of a playlist request (§6.2.5.2, blocking playlist
/// reload; §6.2.5.1, delta updates): `_HLS_msn`, `_HLS_part` and `_HLS_skip` in the
/// URI's query. A request with `_HLS_msn` is held by the server until the playlist
/// holds that segment (or part), so its wait is the server's, not the network's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryDirectives {
    pub msn: Option<u64>,
    pub part: Option<u64>,
    /// `YES` or `v2`.
    pub skip: Option<String>,
}

impl DeliveryDirectives {
    /// The directives in `uri`'s query (none when it has none).
    pub fn of_uri(uri: &str) -> DeliveryDirectives {
        let mut d = DeliveryDirectives::default();
        let query = uri.split('#').next().unwrap_or("");
        let Some((_, query)) = query.split_once('?') else {
            return d;
        };
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "_HLS_msn" => d.msn = v.parse().ok(),
                "_HLS_part" => d.part = v.parse().ok(),
                "_HLS_skip" => d.skip = Some(v.to_string()),
                _ => {}
            }
        }
        d
    }

    /// Whether the request asked the server to hold it (a blocking reload).
    pub fn blocking(&self) -> bool {
        self.msn.is_some()
    }
}
