//! The broadcast work split into groups that share nothing, so they can run at
//! once (on the cores of one machine, or as separate units of a cluster).
//!
//! Frames are only ever looked up among the streams a segment's frames could come
//! from, so a group is a set of names, published stream keys and viewers' channels,
//! closed under "could share a frame":
//! - a channel and the stream of the same name (matching prefers the stream named
//!   like the channel, and the program-date fallback looks for it by name);
//! - a channel and every stream a frame of its segments has the fingerprint of,
//!   when no stream of the channel's name has it (a transcoded or relayed
//!   rendition: matching then takes any stream with the fingerprint);
//!
//! A viewer's channel sessions need not be in one group: a session plays only its
//! own channel's segments, and the channel it came from is read from the viewer's
//! session list, which every group has.
//!
//! Each group gets its streams and its segments; the viewers' channel sessions and
//! playlists are read by every group and gathered once ([`Shared`]). The results
//! are put back together by [`super::merge`], in the order one group holding
//! everything would give, so splitting changes no figure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::FxHashMap;

use crate::events::Fingerprint;

use super::super::sessions::{self, Session};
use super::super::Ctx;
use super::segments::{rx_segments, viewer_playlists, RxSegment, ViewerPlaylist};
use super::sources::tx_streams;
use super::TxStream;

/// What every group reads: each viewer's channel sessions and media playlists
/// (by host, in time order).
pub(crate) struct Shared {
    pub(super) sessions: Vec<Vec<Session>>,
    pub(super) playlists: Vec<Vec<ViewerPlaylist>>,
    /// Segments received inside Twitch stitched ad breaks (counted, never matched).
    pub(super) ad_segments: u64,
    /// Viewers received segments while no broadcaster capture was given.
    pub(super) no_broadcaster: bool,
}

/// One group's share of the work.
pub(crate) struct Group<'a> {
    /// Its names: stream keys and channels.
    pub(super) names: BTreeSet<String>,
    /// Its published streams, in the order of all streams.
    pub(super) streams: Vec<TxStream>,
    /// Its received segments (ads left out), in the order of all segments.
    pub(super) rx: Vec<RxSegment<'a>>,
}

impl Group<'_> {
    /// Its names: stream keys and channels.
    pub fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    /// The frames of its received segments: what its work grows with.
    pub fn weight(&self) -> usize {
        self.rx.iter().map(|s| s.frames.len().max(1)).sum::<usize>()
            + self.streams.iter().map(|s| s.video.len()).sum::<usize>()
    }
}

/// The name a received segment is grouped by: its channel, "" when nothing named
/// one (matching reads it the same way).
fn channel_name<'a>(seg: &'a RxSegment) -> &'a str {
    seg.channel.as_deref().unwrap_or_default()
}

/// Union-find over names.
#[derive(Default)]
struct Names {
    index: HashMap<String, usize>,
    parent: Vec<usize>,
}

impl Names {
    fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.index.insert(name.to_string(), i);
        i
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Gathers the broadcast inputs and splits them into groups. `whole` keeps
/// everything in one group (what the split must equal; tests compare the two).
pub(crate) fn split<'a>(ctx: &'a Ctx, whole: bool) -> (Shared, Vec<Group<'a>>) {
    let streams = tx_streams(ctx);
    let sessions: Vec<Vec<Session>> = (0..ctx.hosts.len())
        .map(|h| sessions::sessions(ctx, h))
        .collect();
    // Ad segments (a Twitch stitched ad break) are counted and left out: their
    // frames are no broadcaster's, and their playlist dates would otherwise let the
    // program-date-time fallback take them for the broadcast.
    let (ads, rx): (Vec<_>, Vec<_>) = rx_segments(ctx, &sessions)
        .into_iter()
        .partition(|s| s.listing.ad);
    let shared = Shared {
        playlists: viewer_playlists(ctx),
        ad_segments: ads.len() as u64,
        no_broadcaster: !rx.is_empty() && streams.is_empty(),
        sessions,
    };
    let mut names = Names::default();
    let stream_ids: Vec<usize> = streams.iter().map(|s| names.id(&s.key)).collect();
    let rx_ids: Vec<usize> = rx.iter().map(|s| names.id(channel_name(s))).collect();
    for s in shared.sessions.iter().flatten() {
        names.id(&s.channel);
    }
    // Fingerprint → the names of the streams that sent it.
    let mut sent_by: FxHashMap<Fingerprint, Vec<usize>> = FxHashMap::default();
    for (s, &id) in streams.iter().zip(&stream_ids) {
        for fp in s.video.iter().filter_map(|f| f.fingerprint) {
            let ids = sent_by.entry(fp).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for (seg, &ch) in rx.iter().zip(&rx_ids) {
        for fp in seg.frames.iter().filter_map(|f| f.fingerprint) {
            let Some(ids) = sent_by.get(&fp) else {
                continue;
            };
            if !ids.contains(&ch) {
                for &id in ids {
                    names.join(ch, id);
                }
            }
        }
    }
    if whole {
        let all: Vec<usize> = (0..names.parent.len()).collect();
        for w in all.windows(2) {
            names.join(w[0], w[1]);
        }
    }

    // One group per root, numbered in the order their names were first seen.
    let mut slot: BTreeMap<usize, usize> = BTreeMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of = |names: &mut Names, id: usize, groups: &mut Vec<Group<'a>>| {
        let root = names.root(id);
        *slot.entry(root).or_insert_with(|| {
            groups.push(Group {
                names: BTreeSet::new(),
                streams: Vec::new(),
                rx: Vec::new(),
            });
            groups.len() - 1
        })
    };
    let mut all_names: Vec<(String, usize)> =
        names.index.iter().map(|(n, &i)| (n.clone(), i)).collect();
    all_names.sort_by_key(|&(_, i)| i);
    for (name, id) in all_names {
        let g = group_of(&mut names, id, &mut groups);
        groups[g].names.insert(name);
    }
    for (s, id) in streams.into_iter().zip(stream_ids) {
        let g = group_of(&mut names, id, &mut groups);
        groups[g].streams.push(s);
    }
    for (seg, id) in rx.into_iter().zip(rx_ids) {
        let g = group_of(&mut names, id, &mut groups);
        groups[g].rx.push(seg);
    }
    (shared, groups)
}
