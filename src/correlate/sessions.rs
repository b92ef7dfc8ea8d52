//! A viewer's channel sessions: runs of requests for one channel.
//!
//! A viewer's requests that name a channel (HTTP exchanges, playlists, and segments
//! whose URL or playlist names one) are walked in time order; a *session* is a run of
//! requests for one channel. Broadcast latency plays each session through the player
//! model, and switching latency is the start of every session after the first. Both
//! read sessions from here, so neither module depends on the other's internals.

use crate::events::Event;

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

impl Session {
    /// Whether a request at reference time `t` falls in this session.
    pub fn contains(&self, t: i64) -> bool {
        self.first_request_ns <= t && t < self.until_ns
    }
}

/// The channel a request names, with the request's reference time, in time order.
fn channel_requests(ctx: &Ctx, h: usize) -> Vec<(i64, String)> {
    let side = &ctx.sides[h];
    let pat = &ctx.opts.channel_pattern;
    let mut reqs: Vec<(i64, String)> = Vec::new();
    for e in &ctx.hosts[h].events {
        let (flow, t, ch) = match e {
            Event::HttpExchange(x) => (x.flow, x.request_ns, pat.channel_of(&x.uri)),
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
