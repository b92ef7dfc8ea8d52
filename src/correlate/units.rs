//! The units of correlation work, each a function of its own events: what lets the
//! same code run in this process (`correlate`) or as user-defined aggregates on
//! DataFusion and Ballista (`correlate --cluster`, src/cluster/), with no second copy
//! of any logic.
//!
//! - **host**: one host's timeline alone gives its roles and flows' sides, its clock
//!   model (NTP or `--offset`), its chat nick, its damage and its notes
//!   ([`host_unit`]).
//! - **messaging**: one chat channel's lines on every host ([`messaging_unit`]): a
//!   copy of a message is received in the channel it was sent to, so channels never
//!   need each other's lines. Their results add up ([`merge_messaging`]).
//! - **media**: the broadcast, switching and source-health work over the hosts'
//!   RTMP, HTTP, HLS and TCP events ([`media_unit`]). It is one unit: a viewer's
//!   switch joins two channels' sessions and a segment's frames are looked up in
//!   every published stream, so it is not split by stream yet.
//!
//! Between the host units and the others sits one step over all hosts' units
//! ([`Hosts::plan`]: a host given twice is dropped), then [`Hosts::assemble`] puts
//! the results together into the report's [`Correlation`]. Every unit's result is
//! serde data, so a cluster executor can hand it back as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    broadcast, capture_fact, capture_files, clock, guards, health, messaging, parallel, roles,
    summary, switching, time_span, ClockModel, CorrelateOptions, Correlation, Ctx, HostEvents,
    HostInfo, Role,
};
use crate::events::Event;

/// What one host's timeline alone says (the clock-model unit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostUnit {
    pub info: HostInfo,
    pub sides: roles::HostSides,
    /// Capture time span: two inputs of one address overlapping in time are one host.
    pub span: Option<(i64, i64)>,
    /// The host's own chat nick (lowercase): from its sent lines, else its received.
    pub nick: Option<String>,
    /// TLS flows it could not decrypt for want of keys, as a note.
    pub tls_note: Option<String>,
    /// Clock and damage warnings, in the order the report gives them.
    pub warnings: Vec<String>,
}

/// The host unit: roles, clock model, nick and notes of one host's timeline.
pub fn host_unit(h: &HostEvents, opts: &CorrelateOptions) -> HostUnit {
    let side = roles::infer(&h.events);
    let mut warnings = Vec::new();
    let samples = clock::ntp_samples(&h.events, side.own.as_deref());
    let capture_clock = capture_fact(&h.events, "clock");
    let estimate = ClockModel::estimate(&samples);
    let clock = if let Some(&offset_s) = opts.offsets.get(&h.name) {
        if let Some(w) = estimate
            .as_ref()
            .and_then(|ntp| guards::offset_contradiction(&h.name, offset_s, ntp))
        {
            warnings.push(w);
        }
        ClockModel::manual(offset_s)
    } else if let Some(model) = estimate {
        model
    } else {
        if !side.roles.contains(&Role::Server) || !samples.is_empty() {
            let note = capture_clock
                .as_ref()
                .map_or(String::new(), |c| format!(" (at capture: {c})"));
            warnings.push(format!(
                "host {}: no NTP exchanges and no --offset: ASSUMED SYNCHRONISED, \
                 its latencies carry an unknown clock error{note}",
                h.name
            ));
        }
        ClockModel::unsynced()
    };
    let damage = summary(&h.events).map_or_else(Vec::new, |s| {
        crate::anomalies::damage(s.anomalies, s.last_ns)
    });
    if !damage.is_empty() {
        let lost: Vec<&str> = damage.iter().map(|d| d.lost.as_str()).collect();
        warnings.push(format!(
            "input {} ({}) is damaged: {}",
            h.name,
            h.file,
            lost.join("; ")
        ));
    }
    let info = HostInfo {
        name: h.name.clone(),
        file: h.file.clone(),
        files: capture_files(&h.events).unwrap_or_else(|| vec![h.file.clone()]),
        address: side.own.clone(),
        roles: side.roles.iter().copied().collect(),
        clock,
        capture_clock,
        declared_role: capture_fact(&h.events, "role").filter(|r| r != "unspecified"),
        damage,
    };
    HostUnit {
        info,
        span: time_span(&h.events),
        nick: messaging::own_nick(&h.events),
        tls_note: guards::tls_without_keys(h),
        sides: side,
        warnings,
    }
}

/// The hosts correlation goes on with, after the one step over all host units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hosts {
    /// The units of the hosts kept, in input order.
    pub units: Vec<HostUnit>,
    /// Per input host: kept (false: the same host given twice, dropped).
    pub kept: Vec<bool>,
    /// Warnings about the hosts, in the report's order.
    pub warnings: Vec<String>,
}

impl Hosts {
    /// Drops a host that is another one given twice (the same own address over
    /// overlapping capture time; the first one given is kept, a warning names
    /// both) and gathers the hosts' warnings.
    pub fn plan(units: Vec<HostUnit>, opts: &CorrelateOptions) -> Hosts {
        let mut warnings = Vec::new();
        let mut kept = vec![true; units.len()];
        for j in 0..units.len() {
            let twin = (0..j).filter(|&i| kept[i]).find(|&i| {
                let (a, b) = (&units[i], &units[j]);
                let same_address = a.sides.own.is_some() && a.sides.own == b.sides.own;
                let overlap = match (a.span, b.span) {
                    (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
                    _ => false,
                };
                same_address && overlap
            });
            if let Some(i) = twin {
                kept[j] = false;
                let (a, b) = (&units[i].info, &units[j].info);
                warnings.push(format!(
                    "inputs {} ({}) and {} ({}) are the same host given twice ({}, capture \
                     times overlapping): counted once, as {}",
                    a.name,
                    a.file,
                    b.name,
                    b.file,
                    units[j].sides.own.as_deref().unwrap_or("?"),
                    a.name
                ));
            }
        }
        let units: Vec<HostUnit> = units
            .into_iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|(u, _)| u)
            .collect();
        warnings.extend(units.iter().filter_map(|u| u.tls_note.clone()));
        warnings.extend(units.iter().flat_map(|u| u.warnings.iter().cloned()));
        for name in opts.offsets.keys() {
            if !units.iter().any(|u| &u.info.name == name) {
                warnings.push(format!("--offset names unknown host {name}"));
            }
        }
        Hosts {
            units,
            kept,
            warnings,
        }
    }

    /// The report from the units' results.
    pub fn assemble(
        self,
        messaging: messaging::Messaging,
        media: Media,
        opts: &CorrelateOptions,
    ) -> Correlation {
        let mut warnings = self.warnings;
        warnings.extend(media.warnings);
        Correlation {
            hosts: self.units.into_iter().map(|u| u.info).collect(),
            messaging,
            broadcast: media.broadcast,
            switching: media.switching,
            source_health: media.source_health,
            rtmp_play: media.rtmp_play,
            group_by: opts.group_by,
            warnings,
        }
    }
}

/// Runs `f` on the context of `hosts` (one per unit, in order) and their units.
fn with_ctx<T>(
    hosts: &[HostEvents],
    units: &[HostUnit],
    opts: &CorrelateOptions,
    f: impl FnOnce(&Ctx) -> T,
) -> T {
    let info: Vec<HostInfo> = units.iter().map(|u| u.info.clone()).collect();
    let sides: Vec<roles::HostSides> = units.iter().map(|u| u.sides.clone()).collect();
    f(&Ctx {
        hosts,
        info: &info,
        sides: &sides,
        opts,
    })
}

/// The chat channel a chat line counts in (messaging compares channels lowercase),
/// `None` for any other event.
pub fn chat_channel(e: &Event) -> Option<String> {
    match e {
        Event::ChatSent { channel, .. } => Some(channel.to_lowercase()),
        Event::ChatReceived(c) => Some(c.channel.to_lowercase()),
        _ => None,
    }
}

/// The hosts' chat lines split by channel: for each channel, every host (in order)
/// with its lines in that channel.
pub fn chat_channels(hosts: &[HostEvents]) -> BTreeMap<String, Vec<HostEvents>> {
    let mut out: BTreeMap<String, Vec<HostEvents>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        for e in &h.events {
            let Some(ch) = chat_channel(e) else { continue };
            let per_host = out.entry(ch).or_insert_with(|| {
                hosts
                    .iter()
                    .map(|h| HostEvents {
                        name: h.name.clone(),
                        file: h.file.clone(),
                        events: Vec::new(),
                    })
                    .collect()
            });
            per_host[i].events.push(e.clone());
        }
    }
    out
}

/// The messaging unit: one channel's chat lines of every host (`hosts[i]` is the
/// host of `units[i]`).
pub fn messaging_unit(
    hosts: &[HostEvents],
    units: &[HostUnit],
    opts: &CorrelateOptions,
) -> messaging::Messaging {
    let nicks: Vec<Option<String>> = units.iter().map(|u| u.nick.clone()).collect();
    with_ctx(hosts, units, opts, |ctx| {
        messaging::correlate_lines(ctx, &nicks)
    })
}

/// The channels' messaging results as one, in the order of `parts`.
pub fn merge_messaging(
    parts: impl IntoIterator<Item = messaging::Messaging>,
) -> messaging::Messaging {
    let mut out = messaging::Messaging::default();
    let add = |to: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>| {
        for (k, v) in from {
            *to.entry(k).or_default() += v;
        }
    };
    for p in parts {
        out.samples.extend(p.samples);
        out.sent += p.sent;
        add(&mut out.unmatched, p.unmatched);
        add(&mut out.ignored, p.ignored);
    }
    messaging::summarise(&mut out);
    out
}

/// The kinds of event the media unit reads (see [`media_unit`]).
pub const MEDIA_KINDS: [&str; 7] = [
    "rtmp_publish",
    "rtmp_video",
    "rtmp_audio",
    "http_exchange",
    "hls_playlist",
    "hls_segment",
    "tcp_event",
];

/// What the media unit found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Media {
    pub broadcast: broadcast::Broadcast,
    pub switching: switching::Switching,
    pub source_health: health::SourceHealth,
    pub warnings: Vec<String>,
    /// RTMP players' broadcast latency; a result without it (an executor of a
    /// lagtap from before) reads as none.
    #[serde(default)]
    pub rtmp_play: super::rtmp_play::RtmpPlay,
}

/// The media unit: broadcast, switching and source health from the hosts' events
/// (only the [`MEDIA_KINDS`] are read; `hosts[i]` is the host of `units[i]`).
///
/// Inside, the work is split into groups of streams and channels that share no
/// frame (`broadcast::groups`), run on up to `opts.jobs` threads, largest first,
/// and put back together in the order one group would give: the report does not
/// depend on the split or the threads.
pub fn media_unit(hosts: &[HostEvents], units: &[HostUnit], opts: &CorrelateOptions) -> Media {
    media_split(hosts, units, opts, false)
}

/// The media work with every stream and channel in one group: what the split
/// [`media_unit`] must equal, whatever the groups (tests/media_groups.rs holds it).
pub fn media_unit_in_one_group(
    hosts: &[HostEvents],
    units: &[HostUnit],
    opts: &CorrelateOptions,
) -> Media {
    media_split(hosts, units, opts, true)
}

/// The names (stream keys and channels) of each group the media work splits into,
/// largest group first.
pub fn media_groups(
    hosts: &[HostEvents],
    units: &[HostUnit],
    opts: &CorrelateOptions,
) -> Vec<std::collections::BTreeSet<String>> {
    with_ctx(hosts, units, opts, |ctx| {
        let (_, mut groups) = broadcast::groups::split(ctx, false);
        groups.sort_by_key(|g| std::cmp::Reverse(g.weight()));
        groups.into_iter().map(|g| g.names().clone()).collect()
    })
}

/// [`media_unit`], with every stream and channel in one group when `whole`.
fn media_split(
    hosts: &[HostEvents],
    units: &[HostUnit],
    opts: &CorrelateOptions,
    whole: bool,
) -> Media {
    with_ctx(hosts, units, opts, |ctx| {
        let (shared, mut groups) = broadcast::groups::split(ctx, whole);
        groups.sort_by_key(|g| std::cmp::Reverse(g.weight()));
        let parts = parallel::map(opts.jobs, groups, |g| {
            let b = broadcast::correlate_group(ctx, &shared, g);
            let h = health::correlate(ctx, &b);
            (b, h)
        });
        let (parts, healths): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let mut warnings = Vec::new();
        let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
        let (broadcast, origins) =
            broadcast::merge(parts, &shared, &names, opts.group_by, &mut warnings);
        let mut healths: Vec<Vec<Option<health::StreamHealth>>> = healths
            .into_iter()
            .map(|h| h.streams.into_iter().map(Some).collect())
            .collect();
        let source_health = health::SourceHealth {
            streams: origins
                .iter()
                .map(|&(p, i)| healths[p][i].take().expect("one health per stream"))
                .collect(),
        };
        let switching = switching::correlate(&broadcast);
        let rtmp_play = super::rtmp_play::correlate(ctx, &broadcast.streams);
        Media {
            broadcast,
            switching,
            source_health,
            warnings,
            rtmp_play,
        }
    })
}

/// A method or source named by fixed text. An alias, so serde does not take the
/// `&'static str` for text borrowed from its input (see [`static_tag`]).
pub type Tag = &'static str;

/// Serde for the `&'static str` tags in results (methods and sources of an estimate):
/// read back as the same static text, so a result from a cluster executor equals the
/// one made here.
pub(crate) mod static_tag {
    use serde::{Deserialize, Deserializer};

    /// Every tag a result can carry.
    const TAGS: [&str; 10] = [
        "fit",
        "min_delay",
        "manual",
        "none",
        "msg_id",
        "client_nonce",
        "text_occurrence",
        "fingerprint",
        "pts_map",
        "program_date_time",
    ];

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let s = String::deserialize(d)?;
        TAGS.iter()
            .find(|t| **t == s)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("unknown tag {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const MS: i64 = 1_000_000;
    const T0: i64 = 1_795_000_000_000_000_000;

    /// What a cluster executor hands back (JSON) reads back as the very result.
    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
        let json = serde_json::to_string(v).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), v, "{json}");
    }

    #[test]
    fn a_channel_joins_the_group_of_the_stream_whose_frames_it_carries() {
        // "relay" carries the frames published as "src" (a relay or a transcoder
        // that kept the pictures); "other" is a stream and channel of its own.
        let mut caster = vec![publish(1, "src"), publish(2, "other")];
        let (mut relayed, mut own) = (Vec::new(), Vec::new());
        for i in 0..3u32 {
            let t = T0 + (i as i64 * 33) * MS;
            let (f, g) = (format!("f{i}"), format!("g{i}"));
            caster.push(video(1, i * 33, Some(&f), t));
            caster.push(video(2, i * 33, Some(&g), t));
            relayed.push(frame(i as i64 * 33 * 90 + 126_000, Some(&f)));
            own.push(frame(i as i64 * 33 * 90 + 126_000, Some(&g)));
        }
        let viewer = vec![
            http(3, "/hls/relay.m3u8", T0),
            segment(
                3,
                "/hls/relay-0.ts",
                0,
                T0 + 900 * MS,
                T0 + 1500 * MS,
                relayed,
            ),
            http(3, "/hls/other.m3u8", T0 + 2000 * MS),
            segment(3, "/hls/other-0.ts", 0, T0 + 2100 * MS, T0 + 2500 * MS, own),
        ];
        let hosts = vec![host("caster", caster), host("viewer", viewer)];
        let opts = CorrelateOptions::default();
        let units: Vec<HostUnit> = hosts.iter().map(|h| host_unit(h, &opts)).collect();
        let groups = media_groups(&hosts, &units, &opts);
        let names: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(names, vec![vec!["relay", "src"], vec!["other"]]);
        let split = media_unit(&hosts, &units, &opts);
        assert_eq!(split.broadcast.samples.len(), 6);
        assert_eq!(split.switching.switches.len(), 1, "relay → other");
        assert_eq!(
            serde_json::to_string(&split).unwrap(),
            serde_json::to_string(&media_unit_in_one_group(&hosts, &units, &opts)).unwrap()
        );
    }

    #[test]
    fn every_units_result_reads_back_from_json_as_itself() {
        let mut caster = vec![publish(1, "lagtap")];
        let frames: Vec<_> = (0..3)
            .map(|i| {
                let fp = format!("f{i}");
                caster.push(video(1, i * 33, Some(&fp), T0 + (i as i64 * 33) * MS));
                frame(i as i64 * 33 * 90 + 126_000, Some(&fp))
            })
            .collect();
        let viewer = vec![
            http(2, "/hls/lagtap.m3u8", T0),
            segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                T0 + 900 * MS,
                T0 + 1500 * MS,
                frames,
            ),
        ];
        let hosts = vec![host("caster", caster), host("viewer", viewer)];
        let opts = CorrelateOptions {
            startup_segments: Some(1),
            ..CorrelateOptions::default()
        };
        let units: Vec<HostUnit> = hosts.iter().map(|h| host_unit(h, &opts)).collect();
        units.iter().for_each(round_trip);
        let plan = Hosts::plan(units, &opts);
        round_trip(&plan);
        let media = media_unit(&hosts, &plan.units, &opts);
        assert_eq!(media.broadcast.samples.len(), 3);
        round_trip(&media.broadcast);
        round_trip(&media.switching);
        round_trip(&media.source_health);
        let options = serde_json::to_string(&opts).unwrap();
        let back: CorrelateOptions = serde_json::from_str(&options).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), options);
        // A tag this lagtap does not know is an error, not some other tag.
        let bad = serde_json::to_string(&media.broadcast.samples[0])
            .unwrap()
            .replace("\"fingerprint\"", "\"guess\"");
        assert!(serde_json::from_str::<broadcast::FrameSample>(&bad).is_err());
    }
}
