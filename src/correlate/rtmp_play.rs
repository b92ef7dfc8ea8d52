//! Broadcast latency for RTMP viewers and relays: frames an RTMP client received
//! from a server (`rtmp_video` events `server_to_client` on a flow the host did not
//! serve), found among the frames the broadcasters published.
//!
//! An RTMP player (a desktop player, a relay pulling from an origin, an edge of a
//! CDN) gets the broadcaster's coded frames as they are, without an HLS packager in
//! between: its latency is the upload and the server's relay alone, where an HLS
//! viewer's also holds the packager's wait for a segment to end. This module is the
//! player side's counterpart of `broadcast::matching`: it takes the broadcasters'
//! streams ([`TxStream`], already on the reference clock) and gives one sample per
//! (frame, player).
//!
//! **latency = the player had the whole RTMP message in order (`delivered_ns` on
//! its own capture, to the reference clock) − the first byte of the broadcaster's
//! RTMP message carrying the frame left it** (the same `sent` as HLS samples).
//! Matching, in order (the sample's `method`):
//! 1. `fingerprint`: the fingerprint of the coded picture (a server relays the FLV
//!    video payload untouched); a stream whose key is the one the player asked for
//!    is preferred. A fingerprint sent more than once (a static picture) is
//!    resolved by the RTMP timestamp through the offset learned from the flow's
//!    unique matches, else by the latest send before the player had it.
//! 2. `rtmp_ts`: a frame without a fingerprint found among the sent ones (no
//!    fingerprint, or a transcoded rendition) is looked up in the stream with the
//!    player's key by RTMP timestamp (minus the flow's learned offset, 0 without
//!    one), within half the stream's frame interval.
//!
//! Which flows are a host's own receptions: those it did not serve. The player's
//! `play` command (an `rtmp_play` event) names the flow's endpoints, so the ingest
//! server's capture, which holds the plays it served as `server_to_client` frames
//! too, and a relay's, which holds both its pull and the plays it serves on, are
//! told apart by address as every other flow is. A play whose command the capture
//! missed (it began mid-connection) has no endpoints: then a host that received
//! the same stream key on a publish it served is taken as that key's origin, and
//! its play flows of the key as what it sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::events::{Event, Fingerprint, RtmpDirection};

use super::broadcast::{median, TxStream};
use super::player;
use super::stats::{grouped, Summary};
use super::Ctx;

/// How a played frame was found among the published ones.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayMethod {
    Fingerprint,
    RtmpTs,
}

impl PlayMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayMethod::Fingerprint => "fingerprint",
            PlayMethod::RtmpTs => "rtmp_ts",
        }
    }
}

/// The RTMP player model in words, for the report.
pub const PLAYER_MODEL: &str = "start once the buffer (--rtmp-buffer-ms of media) is in hand; show each frame at its RTMP timestamp from there; a frame not in hand when due empties the buffer: wait until it is full again";

/// One frame as one RTMP player received it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaySample {
    pub broadcaster: String,
    /// The player (an RTMP viewer or relay) host.
    pub viewer: String,
    /// The stream key the player asked for (its `play` command), else the stream's.
    pub stream: String,
    /// The RTMP timestamp of the message the player received, and of the one the
    /// broadcaster sent (equal unless a relay rebased the timeline).
    pub rtmp_ts_ms: u32,
    pub sent_rtmp_ts_ms: u32,
    pub keyframe: bool,
    /// Index into the broadcasters' streams and their `video` the sample matched.
    pub tx: (usize, usize),
    /// Reference times: the first byte of the broadcaster's message left it; the
    /// ingest server had the whole message (its capture, where given); the player
    /// had the whole message in order.
    pub sent_ns: i64,
    pub ingest_ns: Option<i64>,
    pub received_ns: i64,
    /// Received − sent.
    pub latency_ns: i64,
    /// Ingest − sent, and received − ingest (the server's relay and the way to the
    /// player), where the ingest server was captured.
    pub upload_ns: Option<i64>,
    pub relay_ns: Option<i64>,
    /// Clock error bound of the sample (both hosts' bounds added).
    pub error_ns: i64,
    pub method: PlayMethod,
    /// When the player model shows the frame (`player::play_frames` with
    /// `--rtmp-buffer-ms`), shown − sent, and shown − received (its wait in the
    /// player's buffer).
    #[serde(default)]
    pub shown_ns: Option<i64>,
    #[serde(default)]
    pub display_latency_ns: Option<i64>,
    #[serde(default)]
    pub buffering_ns: Option<i64>,
}

/// Summaries of the RTMP play latency legs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlayLegs {
    pub upload: Summary,
    pub relay: Summary,
}

/// One player's reception of one stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerStream {
    pub viewer: String,
    pub stream: String,
    pub broadcaster: String,
    /// Frames matched, and of them key frames.
    pub frames: u64,
    pub keyframes: u64,
    /// The first matched frame's reception (reference clock).
    pub first_received_ns: i64,
    pub summary: Summary,
    /// The player model: playback start, how often and how long the buffer ran
    /// dry, and the display latency of its frames.
    #[serde(default)]
    pub playback_start_ns: Option<i64>,
    #[serde(default)]
    pub stalls: u32,
    #[serde(default)]
    pub stall_ns: i64,
    #[serde(default)]
    pub display: Summary,
}

/// What the RTMP players received, matched to what the broadcasters sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RtmpPlay {
    /// By player, then in the order received.
    pub samples: Vec<PlaySample>,
    pub summary: Summary,
    pub legs: PlayLegs,
    /// Display latency (shown − sent) under the player model, over every sample.
    #[serde(default)]
    pub display_summary: Summary,
    /// The player model's buffer (`--rtmp-buffer-ms`).
    #[serde(default)]
    pub buffer_ms: u32,
    pub by_viewer: BTreeMap<String, Summary>,
    pub by_stream: BTreeMap<String, Summary>,
    /// Per (player, stream, broadcaster), in that order.
    pub players: Vec<PlayerStream>,
    /// Played frames matched to nothing, by reason: `not_sent` (the key's stream
    /// was captured, the frame is not in it), `stream_not_captured` (no captured
    /// broadcaster published that key).
    pub unmatched: BTreeMap<String, u64>,
}

/// A coded frame a player received.
struct Rx {
    host: usize,
    flow: u64,
    key: Option<String>,
    rtmp_ts_ms: u32,
    keyframe: bool,
    fingerprint: Option<Fingerprint>,
    /// Reference clock.
    received_ns: i64,
}

/// The stream keys a host received on publishes it served: it is their origin.
fn origin_keys(ctx: &Ctx, h: usize) -> BTreeSet<String> {
    let side = &ctx.sides[h];
    let mut keys = BTreeSet::new();
    for e in &ctx.hosts[h].events {
        match e {
            Event::RtmpPublish {
                flow, stream_key, ..
            } if side.served(*flow) => {
                keys.insert(stream_key.clone());
            }
            Event::RtmpVideo {
                flow,
                stream_key: Some(k),
                direction: RtmpDirection::ClientToServer,
                ..
            } if side.served(*flow) => {
                keys.insert(k.to_string());
            }
            _ => {}
        }
    }
    keys
}

/// Every coded frame the hosts received as RTMP players, as the broadcasters'
/// frames are taken (no decoder configuration, no 5-byte end-of-sequence).
fn rx_frames(ctx: &Ctx) -> Vec<Rx> {
    let mut out = Vec::new();
    for (h, host) in ctx.hosts.iter().enumerate() {
        let side = &ctx.sides[h];
        let origin = origin_keys(ctx, h);
        for e in &host.events {
            let Event::RtmpVideo {
                flow,
                stream_key,
                direction: RtmpDirection::ServerToClient,
                rtmp_ts_ms,
                keyframe,
                config: false,
                size,
                fingerprint,
                delivered_ns,
                ..
            } = e
            else {
                continue;
            };
            let key = stream_key.as_deref().map(str::to_string);
            let served = side.served(*flow) || key.as_ref().is_some_and(|k| origin.contains(k));
            if served || *size <= 5 {
                continue;
            }
            out.push(Rx {
                host: h,
                flow: *flow,
                key,
                rtmp_ts_ms: *rtmp_ts_ms,
                keyframe: *keyframe,
                fingerprint: *fingerprint,
                received_ns: ctx.to_ref(h, *delivered_ns),
            });
        }
    }
    out
}

/// The candidates of `cands` in a stream named `key`, else all of them.
fn prefer_key(
    streams: &[TxStream],
    cands: &[(usize, usize)],
    key: Option<&str>,
) -> Vec<(usize, usize)> {
    let named: Vec<(usize, usize)> = cands
        .iter()
        .copied()
        .filter(|&(si, _)| Some(streams[si].key.as_str()) == key)
        .collect();
    if named.is_empty() {
        cands.to_vec()
    } else {
        named
    }
}

/// Matches every frame the RTMP players received to the broadcasters' `streams`.
pub(crate) fn correlate(ctx: &Ctx, streams: &[TxStream]) -> RtmpPlay {
    let rx = rx_frames(ctx);
    let mut index: HashMap<Fingerprint, Vec<(usize, usize)>> = HashMap::new();
    for (si, s) in streams.iter().enumerate() {
        for (fi, f) in s.video.iter().enumerate() {
            if let Some(fp) = f.fingerprint {
                index.entry(fp).or_default().push((si, fi));
            }
        }
    }
    // Pass 1: fingerprints; a unique match teaches the flow's timestamp offset
    // (received − sent RTMP timestamp, per player flow and stream).
    let mut found: Vec<Vec<(usize, usize)>> = Vec::with_capacity(rx.len());
    let mut offsets: BTreeMap<(usize, u64), BTreeMap<usize, Vec<i64>>> = BTreeMap::new();
    for r in &rx {
        let cands = r
            .fingerprint
            .and_then(|fp| index.get(&fp))
            .map(|c| prefer_key(streams, c, r.key.as_deref()))
            .unwrap_or_default();
        if let [(si, fi)] = cands[..] {
            let c = r.rtmp_ts_ms as i64 - streams[si].video[fi].rtmp_ts_ms as i64;
            offsets
                .entry((r.host, r.flow))
                .or_default()
                .entry(si)
                .or_default()
                .push(c);
        }
        found.push(cands);
    }
    // Per player flow: the stream it follows (most unique matches) and its offset.
    let learned: BTreeMap<(usize, u64), (usize, i64)> = offsets
        .into_iter()
        .filter_map(|(flow, per_stream)| {
            per_stream
                .into_iter()
                .max_by_key(|(_, cs)| cs.len())
                .and_then(|(si, mut cs)| median(&mut cs).map(|c| (flow, (si, c))))
        })
        .collect();
    let ts_index: Vec<BTreeMap<u32, usize>> = streams
        .iter()
        .map(|s| {
            s.video
                .iter()
                .enumerate()
                .map(|(fi, f)| (f.rtmp_ts_ms, fi))
                .collect()
        })
        .collect();
    let steps: Vec<i64> = streams.iter().map(TxStream::frame_step_ms).collect();

    let mut out = RtmpPlay::default();
    for (r, cands) in rx.iter().zip(found) {
        let flow_map = learned.get(&(r.host, r.flow)).copied();
        let by_fingerprint = match cands[..] {
            [] => None,
            [one] => Some(one),
            _ => {
                // A repeated picture: the timestamp through the learned offset,
                // else the latest send before the player had it.
                let c = flow_map.map_or(0, |(_, c)| c);
                let want = r.rtmp_ts_ms as i64 - c;
                cands
                    .iter()
                    .copied()
                    .find(|&(si, fi)| streams[si].video[fi].rtmp_ts_ms as i64 == want)
                    .or_else(|| {
                        cands
                            .iter()
                            .copied()
                            .filter(|&(si, fi)| {
                                streams[si].video[fi].first_byte_ns <= r.received_ns
                            })
                            .max_by_key(|&(si, fi)| streams[si].video[fi].first_byte_ns)
                    })
                    .or(Some(cands[0]))
            }
        };
        let found = by_fingerprint
            .map(|m| (m, PlayMethod::Fingerprint))
            .or_else(|| {
                by_timestamp(streams, &ts_index, &steps, r, flow_map)
                    .map(|m| (m, PlayMethod::RtmpTs))
            });
        let Some(((si, fi), method)) = found else {
            let known = r
                .key
                .as_ref()
                .is_some_and(|k| streams.iter().any(|s| &s.key == k));
            let reason = if known {
                "not_sent"
            } else {
                "stream_not_captured"
            };
            *out.unmatched.entry(reason.to_string()).or_default() += 1;
            continue;
        };
        let s = &streams[si];
        let f = &s.video[fi];
        let sent_ns = f.first_byte_ns;
        out.samples.push(PlaySample {
            broadcaster: s.broadcaster.clone(),
            viewer: ctx.name(r.host).to_string(),
            stream: r.key.clone().unwrap_or_else(|| s.key.clone()),
            rtmp_ts_ms: r.rtmp_ts_ms,
            sent_rtmp_ts_ms: f.rtmp_ts_ms,
            keyframe: r.keyframe,
            tx: (si, fi),
            sent_ns,
            ingest_ns: f.ingest_ns,
            received_ns: r.received_ns,
            latency_ns: r.received_ns.saturating_sub(sent_ns),
            upload_ns: f.ingest_ns.map(|i| i.saturating_sub(sent_ns)),
            relay_ns: f.ingest_ns.map(|i| r.received_ns.saturating_sub(i)),
            error_ns: ctx.error_ns(s.host, r.host),
            method,
            shown_ns: None,
            display_latency_ns: None,
            buffering_ns: None,
        });
    }
    out.samples
        .sort_by(|a, b| (&a.viewer, a.received_ns).cmp(&(&b.viewer, b.received_ns)));
    out.buffer_ms = ctx.opts.rtmp_buffer_ms;
    let stalls = play_out(&mut out.samples, i64::from(out.buffer_ms) * 1_000_000);
    out.display_summary = Summary::of_iter(out.samples.iter().filter_map(|s| s.display_latency_ns));
    out.summary = Summary::of_iter(out.samples.iter().map(|s| s.latency_ns));
    out.legs = PlayLegs {
        upload: Summary::of_iter(out.samples.iter().filter_map(|s| s.upload_ns)),
        relay: Summary::of_iter(out.samples.iter().filter_map(|s| s.relay_ns)),
    };
    out.by_viewer = grouped(out.samples.iter().map(|s| (s.viewer.clone(), s.latency_ns)));
    out.by_stream = grouped(out.samples.iter().map(|s| (s.stream.clone(), s.latency_ns)));
    out.players = players(&out.samples, &stalls);
    out
}

/// How each (player, stream) played: start, stalls and their time.
type Playouts = BTreeMap<(String, String), (Option<i64>, u32, i64)>;

/// Runs the RTMP player model over each player's frames of each stream, in RTMP
/// timestamp order (decode order; RTMP carries no presentation order apart from
/// the composition offset, which a player's buffer absorbs), and stamps the
/// samples with when they are shown.
fn play_out(samples: &mut [PlaySample], buffer_ns: i64) -> Playouts {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        groups
            .entry((s.viewer.clone(), s.stream.clone()))
            .or_default()
            .push(i);
    }
    let mut out = Playouts::new();
    for (key, mut idx) in groups {
        idx.sort_by_key(|&i| (samples[i].rtmp_ts_ms, samples[i].received_ns));
        let frames: Vec<player::PlayerFrame> = idx
            .iter()
            .map(|&i| player::PlayerFrame {
                received_ns: samples[i].received_ns,
                media_ns: i64::from(samples[i].rtmp_ts_ms) * 1_000_000,
            })
            .collect();
        let p = player::play_frames(&frames, buffer_ns);
        for (&i, shown) in idx.iter().zip(&p.shown_ns) {
            let s = &mut samples[i];
            s.shown_ns = *shown;
            s.display_latency_ns = shown.map(|t| t.saturating_sub(s.sent_ns));
            s.buffering_ns = shown.map(|t| t.saturating_sub(s.received_ns));
        }
        out.insert(key, (p.start_ns, p.stalls, p.stall_ns));
    }
    out
}

/// The samples grouped per (player, stream, broadcaster), with how the player
/// played the stream.
fn players(samples: &[PlaySample], playouts: &Playouts) -> Vec<PlayerStream> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&PlaySample>> = BTreeMap::new();
    for s in samples {
        groups
            .entry((&s.viewer, &s.stream, &s.broadcaster))
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|((viewer, stream, broadcaster), ss)| {
            let (start, stalls, stall_ns) = playouts
                .get(&(viewer.to_string(), stream.to_string()))
                .copied()
                .unwrap_or((None, 0, 0));
            PlayerStream {
                viewer: viewer.to_string(),
                stream: stream.to_string(),
                broadcaster: broadcaster.to_string(),
                frames: ss.len() as u64,
                keyframes: ss.iter().filter(|s| s.keyframe).count() as u64,
                first_received_ns: ss.iter().map(|s| s.received_ns).min().unwrap_or_default(),
                summary: Summary::of_iter(ss.iter().map(|s| s.latency_ns)),
                playback_start_ns: start,
                stalls,
                stall_ns,
                display: Summary::of_iter(ss.iter().filter_map(|s| s.display_latency_ns)),
            }
        })
        .collect()
}

/// The frame of the stream a player flow follows (the one its fingerprints
/// matched, else the only stream with the player's key) at the received RTMP
/// timestamp less the flow's offset, within half a frame interval.
fn by_timestamp(
    streams: &[TxStream],
    ts_index: &[BTreeMap<u32, usize>],
    steps: &[i64],
    r: &Rx,
    flow_map: Option<(usize, i64)>,
) -> Option<(usize, usize)> {
    let (si, c) = match flow_map {
        Some(m) => m,
        None => {
            let key = r.key.as_deref()?;
            let mut named = streams.iter().enumerate().filter(|(_, s)| s.key == key);
            let (si, _) = named.next()?;
            // Two captured broadcasters publishing one key: the timestamp alone
            // cannot tell whose frame this is.
            if named.next().is_some() {
                return None;
            }
            (si, 0)
        }
    };
    let want = r.rtmp_ts_ms as i64 - c;
    let half = steps[si] / 2;
    if want + half < 0 {
        return None;
    }
    let lo = u32::try_from((want - half).max(0)).ok()?;
    let hi = u32::try_from((want + half).max(0)).unwrap_or(u32::MAX);
    ts_index[si]
        .range(lo..=hi)
        .min_by_key(|(ts, _)| (**ts as i64 - want).abs())
        .map(|(_, fi)| (si, *fi))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testutil::*;
    use super::super::{correlate as correlate_all, CorrelateOptions, Role};
    use super::*;

    const MS: i64 = 1_000_000;
    const T0: i64 = 1_795_000_000_000_000_000;

    /// A frame a client received over RTMP (a play), delivered at `delivered_ns`.
    fn played(flow: u64, key: &str, ts: u32, fp: Option<&str>, delivered_ns: i64) -> Event {
        let mut e = video(flow, ts, fp, delivered_ns - MS);
        if let Event::RtmpVideo {
            stream_key,
            direction,
            delivered_ns: d,
            ..
        } = &mut e
        {
            *stream_key = Some(Arc::from(key));
            *direction = RtmpDirection::ServerToClient;
            *d = delivered_ns;
        }
        e
    }

    /// A broadcaster publishing `n` frames of key "lagtap", 33 ms apart, with
    /// fingerprints named by `fp(i)`.
    fn caster(n: u32, fp: impl Fn(u32) -> Option<String>) -> Vec<Event> {
        let mut ev = vec![publish(1, "lagtap")];
        for i in 0..n {
            ev.push(video(1, i * 33, fp(i).as_deref(), T0 + i as i64 * 33 * MS));
        }
        ev
    }

    fn run(hosts: Vec<HostEventsArg>) -> (RtmpPlay, Vec<(String, Vec<Role>)>) {
        let hosts = hosts
            .into_iter()
            .map(|(name, events)| host(name, events))
            .collect();
        let c = correlate_all(hosts, &CorrelateOptions::default());
        let roles = c
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.roles.clone()))
            .collect();
        (c.rtmp_play, roles)
    }

    type HostEventsArg = (&'static str, Vec<Event>);

    #[test]
    fn played_frames_are_matched_and_the_origins_own_plays_are_not_receptions() {
        let names = |i: u32| Some(format!("f{i}"));
        // The ingest server: the publish it served, and the same frames it sent
        // to a player on a flow no event names the endpoints of.
        let mut server = vec![ntp(9, VIEWER, SERVER), publish(1, "lagtap")];
        for i in 0..3u32 {
            let mut e = video(
                1,
                i * 33,
                names(i).as_deref(),
                T0 + i as i64 * 33 * MS + MS / 2,
            );
            if let Event::RtmpVideo { stream_key, .. } = &mut e {
                *stream_key = Some(Arc::from("lagtap"));
            }
            server.push(e);
            server.push(played(
                2,
                "lagtap",
                i * 33,
                names(i).as_deref(),
                T0 + i as i64 * 33 * MS + MS,
            ));
        }
        let player: Vec<Event> = (0..3u32)
            .map(|i| {
                played(
                    5,
                    "lagtap",
                    i * 33,
                    names(i).as_deref(),
                    T0 + (i as i64 * 33 + 7) * MS,
                )
            })
            .collect();
        let (p, roles) = run(vec![
            ("caster", caster(3, names)),
            ("server", server),
            ("player", player),
        ]);
        assert!(p.unmatched.is_empty(), "{:?}", p.unmatched);
        assert_eq!(p.samples.len(), 3, "the server's own plays are not samples");
        for (i, s) in p.samples.iter().enumerate() {
            assert_eq!(
                (s.viewer.as_str(), s.broadcaster.as_str()),
                ("player", "caster")
            );
            assert_eq!(s.method, PlayMethod::Fingerprint);
            assert_eq!(s.sent_rtmp_ts_ms, i as u32 * 33);
            assert_eq!(s.latency_ns, 7 * MS);
            // The ingest had it 2 µs after its first byte passed (testutil's
            // delivery), half a millisecond in: upload + relay = latency.
            assert_eq!(s.upload_ns, Some(MS / 2 + 2000));
            assert_eq!(s.upload_ns.unwrap() + s.relay_ns.unwrap(), s.latency_ns);
        }
        assert_eq!(p.summary.count, 3);
        assert_eq!(p.players.len(), 1);
        assert_eq!(p.players[0].frames, 3);
        let role = |n: &str| roles.iter().find(|r| r.0 == n).unwrap().1.clone();
        assert_eq!(role("player"), vec![Role::Viewer]);
        assert_eq!(role("server"), vec![Role::Server]);
    }

    #[test]
    fn a_relay_receives_its_pull_and_sends_the_plays_it_serves() {
        const EDGE: &str = "10.0.0.5";
        let names = |i: u32| Some(format!("f{i}"));
        // The edge pulls from the ingest server (flow 7, as the client) and
        // serves a player (flow 8): both flows carry server-to-client frames.
        let mut edge = vec![
            play(7, "lagtap", EDGE, SERVER),
            play(8, "lagtap", VIEWER, EDGE),
        ];
        for i in 0..3u32 {
            let t = T0 + i as i64 * 33 * MS;
            edge.push(played(7, "lagtap", i * 33, names(i).as_deref(), t + 5 * MS));
            edge.push(played(8, "lagtap", i * 33, names(i).as_deref(), t + 6 * MS));
        }
        let mut player = vec![play(3, "lagtap", VIEWER, EDGE)];
        for i in 0..3u32 {
            let t = T0 + i as i64 * 33 * MS;
            player.push(played(3, "lagtap", i * 33, names(i).as_deref(), t + 9 * MS));
        }
        let (p, roles) = run(vec![
            ("caster", caster(3, names)),
            ("edge", edge),
            ("player", player),
        ]);
        let got: Vec<(&str, i64)> = p
            .samples
            .iter()
            .map(|s| (s.viewer.as_str(), s.latency_ns / MS))
            .collect();
        assert_eq!(
            got,
            [
                ("edge", 5),
                ("edge", 5),
                ("edge", 5),
                ("player", 9),
                ("player", 9),
                ("player", 9)
            ]
        );
        let role = |n: &str| roles.iter().find(|r| r.0 == n).unwrap().1.clone();
        assert_eq!(role("edge"), vec![Role::Viewer, Role::Server]);
        assert_eq!(role("player"), vec![Role::Viewer]);
    }

    #[test]
    fn a_relay_that_rebased_timestamps_is_followed_through_its_offset() {
        // A static picture: frames 0-3 share one fingerprint, 4-5 are unique,
        // 6 has none. The relay adds 1000 ms to every timestamp.
        let fp = |i: u32| match i {
            0..=3 => Some("same".to_string()),
            4 | 5 => Some(format!("u{i}")),
            _ => None,
        };
        let player: Vec<Event> = (0..7u32)
            .map(|i| {
                played(
                    5,
                    "lagtap",
                    1000 + i * 33,
                    fp(i).as_deref(),
                    T0 + (i as i64 * 33 + 40) * MS,
                )
            })
            .collect();
        let (p, _) = run(vec![("caster", caster(7, fp)), ("player", player)]);
        assert!(p.unmatched.is_empty(), "{:?}", p.unmatched);
        let got: Vec<(u32, u32, PlayMethod)> = p
            .samples
            .iter()
            .map(|s| (s.rtmp_ts_ms, s.sent_rtmp_ts_ms, s.method))
            .collect();
        let want: Vec<(u32, u32, PlayMethod)> = (0..7u32)
            .map(|i| {
                let m = if i == 6 {
                    PlayMethod::RtmpTs
                } else {
                    PlayMethod::Fingerprint
                };
                (1000 + i * 33, i * 33, m)
            })
            .collect();
        assert_eq!(got, want);
        assert!(p.samples.iter().all(|s| s.latency_ns == 40 * MS));
    }

    #[test]
    fn frames_of_no_captured_broadcast_are_counted_by_reason() {
        let player = vec![
            // A key no captured host published.
            played(5, "other", 0, Some("zz"), T0),
            // The captured key, a picture and a time it never sent.
            played(6, "lagtap", 90_000, Some("yy"), T0),
        ];
        let (p, _) = run(vec![
            ("caster", caster(3, |i| Some(format!("f{i}")))),
            ("player", player),
        ]);
        assert!(p.samples.is_empty());
        let want: BTreeMap<String, u64> = [("not_sent", 1), ("stream_not_captured", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(p.unmatched, want);
    }

    #[test]
    fn absurd_timestamps_and_times_do_not_panic() {
        let player = vec![
            played(5, "lagtap", u32::MAX, None, i64::MAX),
            played(5, "lagtap", 0, Some("f0"), i64::MIN + MS),
            played(5, "lagtap", 5, None, 0),
        ];
        let (p, _) = run(vec![
            ("caster", caster(2, |i| Some(format!("f{i}")))),
            ("player", player),
        ]);
        assert_eq!(
            p.samples.len() as u64 + p.unmatched.values().sum::<u64>(),
            3
        );
    }
}
