//! Switching latency: a viewer's switch from channel A to channel B.
//!
//! Every channel session of a viewer after its first (see `sessions.rs`) is a
//! switch A→B. It starts at the first request naming B; the headline runs to B
//! shown under the player model (playback start of B, the study's "until the
//! viewer sees the new source"), and beside it to B's first media segment fully
//! received. Both ends are on the viewer's own clock, so the clock error cancels
//! (drift over seconds is far below a microsecond and is ignored).

use serde::Serialize;

use super::broadcast::Broadcast;
use super::stats::Summary;

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Switch {
    pub viewer: String,
    pub from: String,
    pub to: String,
    /// Reference times: first request naming `to`, first media segment of `to`
    /// complete, `to` shown (playback start under the player model).
    pub started_ns: i64,
    pub first_segment_ns: Option<i64>,
    pub shown_ns: Option<i64>,
    /// The headline: shown − started.
    pub shown_latency_ns: Option<i64>,
    /// First segment complete − started.
    pub first_segment_latency_ns: Option<i64>,
    /// The player model's K for the new channel's session.
    pub k: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Switching {
    pub switches: Vec<Switch>,
    /// The headline: switch → new stream shown, over switches that got there.
    pub shown: Summary,
    /// Switch → first segment of the new stream complete.
    pub first_segment: Summary,
}

pub(crate) fn correlate(broadcast: &Broadcast) -> Switching {
    let mut out = Switching::default();
    for player in &broadcast.players {
        let Some(prev) = &player.previous_channel else {
            continue;
        };
        let first_segment_ns = player.first_segment_ns;
        let shown_ns = player.playback_start_ns;
        let since_start = |t: i64| t.saturating_sub(player.first_request_ns);
        out.switches.push(Switch {
            viewer: player.viewer.clone(),
            from: prev.clone(),
            to: player.channel.clone(),
            started_ns: player.first_request_ns,
            first_segment_ns,
            shown_ns,
            shown_latency_ns: shown_ns.map(since_start),
            first_segment_latency_ns: first_segment_ns.map(since_start),
            k: player.k,
        });
    }
    out.switches
        .sort_by(|a, b| (a.started_ns, &a.viewer).cmp(&(b.started_ns, &b.viewer)));
    out.shown = Summary::of_iter(out.switches.iter().filter_map(|s| s.shown_latency_ns));
    out.first_segment = Summary::of_iter(
        out.switches
            .iter()
            .filter_map(|s| s.first_segment_latency_ns),
    );
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
        assert_eq!(sw[0].first_segment_latency_ns, Some(50 * MS));
        // K = 3 (no playlist to read it from): playback starts when bravo-9 is
        // complete (12 s + 250 ms).
        assert_eq!(sw[0].shown_latency_ns, Some(250 * MS));
        assert_eq!(c.switching.shown.count, 1);
        assert_eq!(c.switching.first_segment.count, 1);
        // The first session is a join, not a switch, but it has a startup delay.
        let p = &c.broadcast.players[0];
        assert_eq!(p.channel, "alpha");
        assert_eq!(p.startup_delay_ns, Some(S + 250 * MS));
    }
}
