//! Channel sessions of a viewer and the switches between them.
//!
//! A viewer's requests that name a channel (playlists, and segments whose URL or
//! playlist names one) are walked in time order; a *session* is a run of requests
//! for one channel. A *switch* A→B starts at the first request naming B after a
//! request naming A, and its latency runs to the first media segment of B fully
//! received, and (player model) to playback start of B. Both ends are on the
//! viewer's own clock, so the clock error cancels (drift over seconds is far below
//! a microsecond and is ignored).

use serde::Serialize;

use crate::events::Event;

use super::broadcast::Broadcast;
use super::stats::Summary;
use super::Ctx;

/// A run of a viewer's requests for one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub viewer: usize,
    pub channel: String,
    /// Reference-clock time of the first request naming the channel (first byte).
    pub first_request_ns: i64,
    /// First request of the next session (or i64::MAX): segments requested in
    /// [first_request_ns, until_ns) belong here.
    pub until_ns: i64,
}

/// The channel a request names, with the request's reference time, in time order.
fn channel_requests(ctx: &Ctx, h: usize) -> Vec<(i64, String)> {
    let side = &ctx.sides[h];
    let pat = &ctx.opts.channel_pattern;
    let mut reqs: Vec<(i64, String)> = Vec::new();
    for e in &ctx.hosts[h].events {
        let (flow, t, ch) = match e {
            Event::HttpExchange {
                flow,
                uri,
                request_ns,
                ..
            } => (*flow, *request_ns, pat.channel_of(uri)),
            Event::HlsPlaylist {
                flow,
                uri,
                channel,
                request_ns,
                ..
            }
            | Event::HlsSegment {
                flow,
                uri,
                channel,
                request_ns,
                ..
            } => (
                *flow,
                *request_ns,
                channel.clone().or_else(|| pat.channel_of(uri)),
            ),
            _ => continue,
        };
        if side.served(flow) {
            continue;
        }
        if let Some(ch) = ch {
            reqs.push((ctx.to_ref(h, t), ch));
        }
    }
    reqs.sort();
    reqs
}

/// A viewer's channel sessions in time order.
pub(crate) fn sessions(ctx: &Ctx, h: usize) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    for (t, ch) in channel_requests(ctx, h) {
        if out.last().is_some_and(|s| s.channel == ch) {
            continue;
        }
        if let Some(prev) = out.last_mut() {
            prev.until_ns = t;
        }
        out.push(Session {
            viewer: h,
            channel: ch,
            first_request_ns: t,
            until_ns: i64::MAX,
        });
    }
    out
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Switch {
    pub viewer: String,
    pub from: String,
    pub to: String,
    /// Reference times: first request naming `to`, first media segment of `to`
    /// complete, playback start of `to` under the player model.
    pub started_ns: i64,
    pub first_segment_ns: Option<i64>,
    pub playback_ns: Option<i64>,
    pub latency_ns: Option<i64>,
    pub playback_latency_ns: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Switching {
    pub switches: Vec<Switch>,
    /// Over switches that reached a first segment.
    pub summary: Summary,
    pub playback: Summary,
}

pub(crate) fn correlate(ctx: &Ctx, broadcast: &Broadcast) -> Switching {
    let mut out = Switching::default();
    for player in &broadcast.players {
        let Some(prev) = &player.previous_channel else {
            continue;
        };
        let first_segment_ns = player.first_segment_ns;
        let playback_ns = player.playback_start_ns;
        out.switches.push(Switch {
            viewer: player.viewer.clone(),
            from: prev.clone(),
            to: player.channel.clone(),
            started_ns: player.first_request_ns,
            first_segment_ns,
            playback_ns,
            latency_ns: first_segment_ns.map(|t| t.saturating_sub(player.first_request_ns)),
            playback_latency_ns: playback_ns.map(|t| t.saturating_sub(player.first_request_ns)),
        });
    }
    let _ = ctx;
    out.switches
        .sort_by(|a, b| (a.started_ns, &a.viewer).cmp(&(b.started_ns, &b.viewer)));
    out.summary = Summary::of_iter(out.switches.iter().filter_map(|s| s.latency_ns));
    out.playback = Summary::of_iter(out.switches.iter().filter_map(|s| s.playback_latency_ns));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{correlate as correlate_all, CorrelateOptions};

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;

    #[test]
    fn a_switch_runs_from_the_first_request_naming_the_new_channel_to_its_first_segment() {
        let mut ev = vec![http(1, "http://10.0.0.1/hls/alpha.m3u8", 0)];
        for n in 0..3 {
            let t = S + n * 100 * MS;
            ev.push(segment(
                1,
                &format!("/hls/alpha-{n}.ts"),
                n as u64,
                t,
                t + 50 * MS,
                vec![],
            ));
        }
        // Switch at 12 s: bravo's playlist, then its segments 7, 8, 9.
        ev.push(http(1, "http://10.0.0.1/hls/bravo.m3u8", 12 * S));
        for n in 7..10 {
            let t = 12 * S + 10 * MS + (n - 7) * 100 * MS;
            ev.push(segment(
                1,
                &format!("/hls/bravo-{n}.ts"),
                n as u64,
                t,
                t + 40 * MS,
                vec![],
            ));
        }
        let c = correlate_all(vec![host("zapper", ev)], &CorrelateOptions::default());
        let sw = &c.switching.switches;
        assert_eq!(sw.len(), 1);
        assert_eq!((sw[0].from.as_str(), sw[0].to.as_str()), ("alpha", "bravo"));
        assert_eq!(sw[0].started_ns, 12 * S);
        assert_eq!(sw[0].latency_ns, Some(50 * MS));
        // K = 3: playback starts when bravo-9 is complete (12 s + 250 ms).
        assert_eq!(sw[0].playback_latency_ns, Some(250 * MS));
        assert_eq!(c.switching.summary.count, 1);
        // The first session is a join, not a switch, but it has a startup delay.
        let p = &c.broadcast.players[0];
        assert_eq!(p.channel, "alpha");
        assert_eq!(p.startup_delay_ns, Some(S + 250 * MS));
    }
}
