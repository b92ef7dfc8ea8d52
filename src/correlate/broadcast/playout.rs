//! The player model over each viewer's channel sessions: which K the viewer
//! started with, when each segment played, when each frame was shown, and which
//! frames were join artefacts.
//!
//! K (startup segments) is read from the capture where it can be: the first
//! segment the viewer fetched in the session, found in the playlist it held then,
//! is the K-th newest (hls.js in a browser starts one segment behind the live edge,
//! our testbed's player three, a player that fetches the whole playlist six).
//! `--startup-segments [VIEWER=]K` overrides it; without either, K = 3, capped by the
//! first playlist's length (a player cannot wait for segments that do not exist).

use std::collections::BTreeSet;

use super::super::player::{self, PlayerSegment};
use super::super::sessions::Session;
use super::super::Ctx;
use super::groups::Shared;
use super::segments::{ticks_to_ns, unit_name, RxSegment, ViewerPlaylist};
use super::{Broadcast, KSource, PlayerSession};

/// K when neither the capture nor an option says.
const DEFAULT_K: usize = 3;

/// The session's playlists: received while it ran, for its channel (or naming none).
fn session_playlists<'a>(
    playlists: &'a [ViewerPlaylist],
    s: &'a Session,
) -> impl Iterator<Item = &'a ViewerPlaylist> + 'a {
    playlists.iter().filter(move |p| {
        s.contains(p.request_ns)
            && !(p.files.is_empty() && p.parts.is_empty())
            && p.channel.as_deref().is_none_or(|c| c == s.channel)
    })
}

/// What a player counts K in: the playlist's segments, or its LL-HLS parts for a
/// player that fetches parts.
fn units(p: &ViewerPlaylist, parts: bool) -> &[String] {
    if parts {
        &p.parts
    } else {
        &p.files
    }
}

/// K as the capture shows it: the position from the end of the first segment (or
/// part) fetched, in the latest playlist received before that fetch.
fn k_from_capture(
    held: Option<&ViewerPlaylist>,
    first_fetched: &str,
    parts: bool,
) -> Option<usize> {
    let units = units(held?, parts);
    let pos = units.iter().position(|f| f == first_fetched)?;
    Some(units.len() - pos)
}

/// Plays the viewers' sessions of the group's channels (`names`) over its segments.
pub(super) fn play_sessions(
    ctx: &Ctx,
    shared: &Shared,
    names: &BTreeSet<String>,
    rx: &[RxSegment],
    out: &mut Broadcast,
) -> Vec<PlayerSession> {
    let playlists = &shared.playlists;
    let mut players = Vec::new();
    // The segments of each viewer, in `rx` order.
    let mut by_host: Vec<Vec<usize>> = vec![Vec::new(); ctx.hosts.len()];
    for (i, seg) in rx.iter().enumerate() {
        by_host[seg.host].push(i);
    }
    // Samples of each segment are contiguous: their range per segment index.
    let mut ranges = vec![(0usize, 0usize); rx.len()];
    for (n, smp) in out.samples.iter().enumerate() {
        let r = &mut ranges[smp.segment_index];
        if r.1 == 0 {
            r.0 = n;
        }
        r.1 = n + 1;
    }
    for (h, sess) in shared.sessions.iter().enumerate() {
        let viewer = ctx.name(h);
        for (n, s) in sess.iter().enumerate() {
            if !names.contains(&s.channel) {
                continue;
            }
            // The session's segments (requested while it ran, of its channel: a
            // player of one channel plays none of another's) in media-sequence
            // order, a refetch once.
            let all: Vec<usize> = by_host[h]
                .iter()
                .copied()
                .filter(|&i| {
                    s.contains(rx[i].request_ns)
                        && rx[i].channel.as_deref() == Some(s.channel.as_str())
                })
                .collect();
            let first_fetched = all.iter().copied().min_by_key(|&i| rx[i].request_ns);
            // A player of LL-HLS parts plays parts, in (segment, part) order.
            let parts = first_fetched.is_some_and(|f| rx[f].part.is_some());
            let mut idx = all.clone();
            idx.sort_by_key(|&i| (rx[i].seq, rx[i].part, rx[i].complete_ns));
            idx.dedup_by_key(|i| {
                let seq = rx[*i].seq.map_or(u64::MAX - *i as u64, |q| q);
                (seq, rx[*i].part)
            });

            let mut listed = session_playlists(&playlists[h], s);
            let first_playlist = listed.next();
            let held = first_fetched.and_then(|f| {
                session_playlists(&playlists[h], s)
                    .filter(|p| p.received_ns <= rx[f].request_ns)
                    .last()
            });
            let from_capture = first_fetched.and_then(|f| {
                k_from_capture(held, &unit_name(rx[f].uri, rx[f].range_start), parts)
            });
            let option = ctx
                .opts
                .startup_by_viewer
                .get(viewer)
                .or(ctx.opts.startup_segments.as_ref())
                .copied();
            let (k, k_source) = match (option, from_capture) {
                (Some(k), _) => (k.max(1), KSource::Option),
                (None, Some(k)) => (k, KSource::Capture),
                (None, None) => (
                    DEFAULT_K.min(first_playlist.map_or(usize::MAX, |p| units(p, parts).len())),
                    KSource::Default,
                ),
            };

            // Where playback starts: the K-th newest segment of the playlist held
            // at the first fetch, if the viewer fetched it; else its first segment.
            let start_file = held
                .map(|p| units(p, parts))
                .filter(|u| u.len() >= k)
                .map(|u| u[u.len() - k].as_str());
            let start = start_file
                .and_then(|f| {
                    idx.iter()
                        .position(|&i| unit_name(rx[i].uri, rx[i].range_start) == f)
                })
                .unwrap_or(0);
            let played = &idx[start.min(idx.len())..];
            let segs: Vec<PlayerSegment> = played
                .iter()
                .map(|&i| PlayerSegment {
                    complete_ns: rx[i].complete_ns,
                    duration_ns: out.segments[i].duration_ns,
                })
                .collect();
            let p = player::play(&segs, k);
            for (j, &i) in played.iter().enumerate() {
                let Some(seg_start) = p.segment_start_ns[j] else {
                    continue;
                };
                let min_pts = rx[i].frames.iter().map(|f| f.pts).min().unwrap_or(0);
                let (lo, hi) = ranges[i];
                for smp in &mut out.samples[lo..hi] {
                    let shown =
                        seg_start.saturating_add(ticks_to_ns(smp.pts.saturating_sub(min_pts)));
                    smp.shown_ns = Some(shown);
                    smp.display_latency_ns = Some(shown.saturating_sub(smp.sent_ns));
                    smp.legs.buffering_ns = Some(shown.saturating_sub(smp.received_ns));
                }
            }

            // Join artefacts: segments already listed when the viewer joined (in the
            // session's first playlist; a segment it named by a prefetch tag was
            // still being made, so its frames are live); without playlists, frames
            // sent before the session's first request. A part is an artefact when
            // it was listed (complete) then, not when it was only hinted.
            for &i in &all {
                let listed_at_join = first_playlist.is_some_and(|p| {
                    let done = match rx[i].part {
                        Some(_) => &p.parts[..p.parts_listed],
                        None => &p.files[..p.listed],
                    };
                    let name = unit_name(rx[i].uri, rx[i].range_start);
                    done.contains(&name)
                });
                let (lo, hi) = ranges[i];
                for smp in &mut out.samples[lo..hi] {
                    smp.join_artefact = if first_playlist.is_some() {
                        listed_at_join
                    } else {
                        smp.sent_ns < s.first_request_ns
                    };
                }
                out.segments[i].join_artefact = match out.segments[i].first_sample {
                    Some(f) => out.samples[f].join_artefact,
                    None => listed_at_join,
                };
            }

            players.push(PlayerSession {
                viewer: viewer.to_string(),
                channel: s.channel.clone(),
                previous_channel: n.checked_sub(1).map(|p| sess[p].channel.clone()),
                k,
                k_source,
                start_sequence: played.first().and_then(|&i| rx[i].seq),
                listed_at_start: held.map(|p| units(p, parts).len()),
                prefetch_at_start: held.map(|p| match parts {
                    true => p.parts.len() - p.parts_listed,
                    false => p.files.len() - p.listed,
                }),
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
    players
}
