//! Correlation across hosts: clocks, then messaging, broadcast and switching
//! latency and source health, as pure functions of the hosts' event timelines.
//!
//! Definitions and matching methods: docs/methods.md.

pub mod broadcast;
pub mod channel;
pub mod clock;
pub mod guards;
pub mod health;
pub mod input;
pub mod messaging;
pub mod parallel;
pub mod player;
pub mod roles;
pub mod rtmp_play;
pub mod sessions;
pub mod stats;
pub mod switching;
#[cfg(test)]
mod testutil;
pub mod timecode;
pub mod units;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::anomalies::Damage;
use crate::events::Event;
pub use channel::ChannelPattern;
pub use clock::{ClockModel, ClockSource};
pub use roles::Role;
pub use stats::Summary;

/// One host's event timeline (the output of `lagtap decode` for one capture).
#[derive(Clone, Debug)]
pub struct HostEvents {
    pub name: String,
    pub file: String,
    pub events: Vec<Event>,
}

/// How the broadcast distributions are grouped in the report (`--group-by`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By viewer host.
    #[default]
    Host,
    /// By the broadcast's video bitrate (encoder metadata, else measured).
    Bitrate,
    /// By channel (stream).
    Channel,
}

impl FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(GroupBy::Host),
            "bitrate" => Ok(GroupBy::Bitrate),
            "channel" => Ok(GroupBy::Channel),
            _ => Err(format!("unknown group {s:?}: host, bitrate or channel")),
        }
    }
}

/// Options of `lagtap correlate` (serde: a cluster executor gets them with the units).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CorrelateOptions {
    /// `--offset NAME=SECONDS`: host clock − reference clock, overriding NTP.
    pub offsets: BTreeMap<String, f64>,
    pub channel_pattern: ChannelPattern,
    /// `--startup-segments K`: the player model's K for every viewer, overriding
    /// what the captures show (see `broadcast::playout`).
    pub startup_segments: Option<usize>,
    /// `--startup-segments VIEWER=K`: K for one viewer, overriding both.
    pub startup_by_viewer: BTreeMap<String, usize>,
    pub group_by: GroupBy,
    /// `--rtmp-buffer-ms`: the RTMP player model's buffer of media time
    /// (`player::play_frames`).
    #[serde(default = "default_rtmp_buffer_ms")]
    pub rtmp_buffer_ms: u32,
    /// Threads for the correlation units (`--jobs`; default one per core). Not sent
    /// to a cluster: each executor uses its own cores.
    #[serde(skip)]
    pub jobs: Option<usize>,
}

impl Default for CorrelateOptions {
    fn default() -> Self {
        CorrelateOptions {
            offsets: BTreeMap::new(),
            channel_pattern: ChannelPattern::default(),
            startup_segments: None,
            startup_by_viewer: BTreeMap::new(),
            group_by: GroupBy::Host,
            rtmp_buffer_ms: default_rtmp_buffer_ms(),
            jobs: None,
        }
    }
}

/// Flash Player's default `NetStream.bufferTime` (0.1 s), which RTMP players
/// modelled on it keep for live streams.
pub const DEFAULT_RTMP_BUFFER_MS: u32 = 100;

fn default_rtmp_buffer_ms() -> u32 {
    DEFAULT_RTMP_BUFFER_MS
}

/// Reads the `--startup-segments` values: `K` for every viewer, `VIEWER=K` for one.
/// K must be a whole number ≥ 1 (a player that starts before it has a segment shows
/// nothing), each viewer named once and `K` alone given once.
pub fn parse_startup_segments(
    values: &[String],
) -> Result<(Option<usize>, BTreeMap<String, usize>), String> {
    let mut all = None;
    let mut per_viewer = BTreeMap::new();
    for v in values {
        let (viewer, k) = match v.split_once('=') {
            Some((name, k)) => (Some(name.trim()), k),
            None => (None, v.as_str()),
        };
        let k: usize = match k.trim().parse() {
            Ok(k) if k >= 1 => k,
            _ => {
                return Err(format!(
                    "--startup-segments {v}: K must be a whole number of segments, at least 1"
                ))
            }
        };
        match viewer {
            Some("") => return Err(format!("--startup-segments {v}: the viewer name is empty")),
            Some(name) => {
                if per_viewer.insert(name.to_string(), k).is_some() {
                    return Err(format!("--startup-segments names viewer {name} twice"));
                }
            }
            None if all.is_some() => {
                return Err("--startup-segments K is given twice".to_string());
            }
            None => all = Some(k),
        }
    }
    Ok((all, per_viewer))
}

/// What correlation found out about one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    /// The input as a reader sees it: the file, or the first and last of a timeline.
    pub file: String,
    /// Every file of the host's capture in the order read (rotated files are one
    /// timeline), as the decode's `capture` event lists them.
    pub files: Vec<String>,
    /// The host's own address, inferred from its flows.
    pub address: Option<String>,
    pub roles: Vec<Role>,
    pub clock: ClockModel,
    /// What `lagtap capture` wrote in the file's section comment about the host's
    /// clock synchronisation when capturing (e.g. chrony's state), if anything.
    pub capture_clock: Option<String>,
    /// The role `lagtap capture` was told (`--role`), if any; roles above are
    /// inferred from traffic regardless.
    pub declared_role: Option<String>,
    /// What the input lost to damage (cut short, corrupt, packets or bytes never
    /// captured), from its decode summary; empty for an intact input.
    pub damage: Vec<Damage>,
}

/// The host's `capture` event: the first of its events (`lagtap decode` writes it
/// first). Only the first is looked at, so a host without one costs nothing: a
/// search that went on past it would read every event of a long capture once per
/// question asked of it.
fn capture_event(events: &[Event]) -> Option<&Event> {
    events
        .first()
        .filter(|e| matches!(e, Event::Capture { .. }))
}

/// The files the decode's `capture` event lists (none for event files written before
/// timelines).
fn capture_files(events: &[Event]) -> Option<Vec<String>> {
    match capture_event(events)? {
        Event::Capture { files, .. } if !files.is_empty() => Some(files.clone()),
        _ => None,
    }
}

/// A `key: value` line of the `lagtap capture` section comment.
fn capture_fact(events: &[Event], key: &str) -> Option<String> {
    match capture_event(events)? {
        Event::Capture { comments, .. } => comments
            .iter()
            .filter(|c| c.starts_with("lagtap capture"))
            .flat_map(|c| c.lines())
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        _ => None,
    }
}

/// Everything `lagtap correlate` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    pub hosts: Vec<HostInfo>,
    pub messaging: messaging::Messaging,
    pub broadcast: broadcast::Broadcast,
    pub switching: switching::Switching,
    pub source_health: health::SourceHealth,
    /// Broadcast latency of the frames RTMP players and relays received.
    pub rtmp_play: rtmp_play::RtmpPlay,
    pub group_by: GroupBy,
    /// Things a reader must know (unsynchronised hosts, ignored events, ...).
    pub warnings: Vec<String>,
}

/// The hosts with their clocks and sides, shared by the metric modules.
pub(crate) struct Ctx<'a> {
    pub hosts: &'a [HostEvents],
    pub info: &'a [HostInfo],
    pub sides: &'a [roles::HostSides],
    pub opts: &'a CorrelateOptions,
}

impl Ctx<'_> {
    /// Reference time of capture time `t` on host `h`.
    pub fn to_ref(&self, h: usize, t: i64) -> i64 {
        self.info[h].clock.to_ref(t)
    }

    /// Clock error bound of a difference between times of hosts `a` and `b`.
    pub fn error_ns(&self, a: usize, b: usize) -> i64 {
        if a == b {
            0
        } else {
            self.info[a].clock.error_ns + self.info[b].clock.error_ns
        }
    }

    pub fn name(&self, h: usize) -> &str {
        &self.hosts[h].name
    }
}

/// What the decode summary closing a host's timeline says about its input.
struct InputSummary<'a> {
    anomalies: &'a BTreeMap<String, u64>,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
}

fn summary(events: &[Event]) -> Option<InputSummary<'_>> {
    events.iter().rev().find_map(|e| match e {
        Event::Summary {
            anomalies,
            first_time_ns,
            last_time_ns,
            ..
        } => Some(InputSummary {
            anomalies,
            first_ns: *first_time_ns,
            last_ns: *last_time_ns,
        }),
        _ => None,
    })
}

/// The capture time span of a timeline: the summary's, else its events' times.
fn time_span(events: &[Event]) -> Option<(i64, i64)> {
    if let Some(InputSummary {
        first_ns: Some(a),
        last_ns: Some(b),
        ..
    }) = summary(events)
    {
        return Some((a, b));
    }
    let times = events
        .iter()
        .filter(|e| !matches!(e, Event::Capture { .. } | Event::Summary { .. }))
        .map(crate::decode::event_time);
    let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    (lo <= hi).then_some((lo, hi))
}

/// Correlate the hosts' timelines: every unit of work (src/correlate/units.rs) run
/// here, on up to `opts.jobs` threads; `correlate --cluster` runs the same units on
/// DataFusion or Ballista.
pub fn correlate(hosts: Vec<HostEvents>, opts: &CorrelateOptions) -> Correlation {
    let units: Vec<units::HostUnit> = hosts.iter().map(|h| units::host_unit(h, opts)).collect();
    let plan = units::Hosts::plan(units, opts);
    let hosts: Vec<HostEvents> = hosts
        .into_iter()
        .zip(&plan.kept)
        .filter(|(_, kept)| **kept)
        .map(|(h, _)| h)
        .collect();
    // Messaging beside the media work, which splits itself over the cores.
    let (messaging, media) = parallel::join(
        opts.jobs,
        || {
            units::merge_messaging(
                units::chat_channels(&hosts)
                    .values()
                    .map(|channel| units::messaging_unit(channel, &plan.units, opts)),
            )
        },
        || units::media_unit(&hosts, &plan.units, opts),
    );
    plan.assemble(messaging, media, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_without_events_correlate_to_empty_reports_without_panicking() {
        let hosts = vec![
            HostEvents {
                name: "a".into(),
                file: "a.pcap".into(),
                events: Vec::new(),
            },
            HostEvents {
                name: "b".into(),
                file: "b.pcap".into(),
                events: Vec::new(),
            },
        ];
        let c = correlate(hosts, &CorrelateOptions::default());
        assert_eq!(c.messaging.summary.count, 0);
        assert_eq!(c.broadcast.display_summary.count, 0);
        assert!(c.switching.switches.is_empty());
        assert!(c.source_health.streams.is_empty());
        assert!(c.hosts.iter().all(|h| h.clock.source == ClockSource::None));
        assert_eq!(
            c.warnings.len(),
            2,
            "both hosts are said to be unsynchronised"
        );
        assert!(correlate(Vec::new(), &CorrelateOptions::default())
            .hosts
            .is_empty());
    }

    #[test]
    fn lagtap_capture_comments_are_kept_as_clock_and_role_notes() {
        let comment = "lagtap capture\nhost: bob\nrole: viewer\nversion: 0.1.0\nos: Linux\n\
                       clock: chrony: reference 10.0.0.1, stratum 3, offset +0.000012 s";
        let capture = Event::Capture {
            host: "bob".into(),
            file: "bob.pcapng".into(),
            files: vec!["bob.pcapng".into()],
            format: "pcapng".into(),
            link_types: vec!["EN10MB".into()],
            comments: vec![comment.into()],
        };
        let hosts = vec![HostEvents {
            name: "bob".into(),
            file: "bob.pcapng".into(),
            events: vec![capture],
        }];
        let c = correlate(hosts, &CorrelateOptions::default());
        let h = &c.hosts[0];
        assert_eq!(h.declared_role.as_deref(), Some("viewer"));
        assert!(h.capture_clock.as_deref().unwrap().starts_with("chrony"));
        assert!(c.warnings[0].contains("at capture: chrony"));
    }

    #[test]
    fn offsets_for_unknown_hosts_are_reported() {
        let mut opts = CorrelateOptions::default();
        opts.offsets.insert("ghost".into(), 1.0);
        let c = correlate(Vec::new(), &opts);
        assert!(c.warnings.iter().any(|w| w.contains("ghost")));
    }

    #[test]
    fn startup_segments_take_k_for_all_and_per_viewer_and_refuse_the_rest() {
        let v = |a: &[&str]| {
            parse_startup_segments(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        let (all, per) = v(&["2", "mobile=6", " desktop = 1 "]).unwrap();
        assert_eq!(all, Some(2));
        assert_eq!(per["mobile"], 6);
        assert_eq!(per["desktop"], 1);
        assert_eq!(v(&[]).unwrap(), (None, BTreeMap::new()));
        for (bad, msg) in [
            (
                "0",
                "--startup-segments 0: K must be a whole number of segments, at least 1",
            ),
            (
                "2.5",
                "--startup-segments 2.5: K must be a whole number of segments, at least 1",
            ),
            (
                "x=",
                "--startup-segments x=: K must be a whole number of segments, at least 1",
            ),
            ("=1", "--startup-segments =1: the viewer name is empty"),
        ] {
            assert_eq!(v(&[bad]).unwrap_err(), msg);
        }
        assert_eq!(
            v(&["3", "4"]).unwrap_err(),
            "--startup-segments K is given twice"
        );
        assert_eq!(
            v(&["a=3", "a=4"]).unwrap_err(),
            "--startup-segments names viewer a twice"
        );
    }

    #[test]
    fn one_address_twice_is_one_host_only_when_the_captures_overlap() {
        use testutil::*;
        // A publish and a frame at time t (no summary: the span is the events').
        let at = |flow: u64, t: i64| {
            let mut p = publish(flow, "lagtap");
            if let Event::RtmpPublish { time_ns, .. } = &mut p {
                *time_ns = t;
            }
            vec![p, video(flow, 0, Some("a"), t)]
        };
        let s = 1_000_000_000;
        // The broadcaster's capture 0-10 s, a second one 5-20 s, a third 30-40 s.
        let mut a = at(1, 0);
        a.extend(at(2, 10 * s));
        let mut b = at(3, 5 * s);
        b.extend(at(4, 20 * s));
        let mut c = at(5, 30 * s);
        c.extend(at(6, 40 * s));
        let hosts = vec![host("a", a), host("b", b), host("c", c)];
        let got = correlate(hosts, &CorrelateOptions::default());
        let names: Vec<&str> = got.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(
            got.warnings[..1],
            [
                "inputs a (a.pcap) and b (b.pcap) are the same host given twice (10.0.0.11, \
              capture times overlapping): counted once, as a"
            ]
        );
    }

    #[test]
    fn group_by_parses_the_three_groupings() {
        assert_eq!("bitrate".parse::<GroupBy>(), Ok(GroupBy::Bitrate));
        assert_eq!("channel".parse::<GroupBy>(), Ok(GroupBy::Channel));
        assert_eq!("host".parse::<GroupBy>(), Ok(GroupBy::Host));
        assert!("viewer".parse::<GroupBy>().is_err());
    }

    #[test]
    fn absurd_times_and_timestamps_do_not_panic() {
        use crate::events::Event;
        use testutil::*;
        let ntp = Event::NtpExchange {
            flow: 9,
            client: format!("{BCAST}:123"),
            server: format!("{SERVER}:123"),
            t1_ns: i64::MAX - 5,
            t2_ns: i64::MIN,
            t3_ns: i64::MIN + 1,
            t4_ns: i64::MAX,
            offset_ns: 0,
            delay_ns: 0,
            stratum: 1,
        };
        let caster = host(
            "caster",
            vec![
                ntp,
                publish(1, "lagtap"),
                video(1, 0, Some("a"), i64::MIN + 1),
                video(1, u32::MAX, Some("b"), i64::MAX - 1),
                video(1, 7, Some("c"), 0),
            ],
        );
        let viewer = host(
            "viewer",
            vec![segment(
                2,
                "/hls/lagtap-0.ts",
                0,
                i64::MIN,
                i64::MAX,
                vec![
                    frame(i64::MIN / 2, Some("a")),
                    frame(i64::MAX / 2, Some("b")),
                    frame(0, None),
                ],
            )],
        );
        let c = correlate(vec![caster, viewer], &CorrelateOptions::default());
        assert!(c.broadcast.samples.len() <= 3);
        assert!(c.source_health.streams[0].windows.len() < 10);
        let s = Summary::of(&[i64::MIN, 0, i64::MAX]);
        assert_eq!(s.count, 3);
    }

    /// OBS's own counters on key frames go to the window of the frame that carried
    /// them and add up over the stream; the encoder-to-wire time is first byte −
    /// output time on the broadcaster's own clock.
    #[test]
    fn encoder_metrics_of_key_frames_make_source_health() {
        use crate::events::{EncoderMetrics, Event};
        use testutil::*;
        let with = |mut e: Event, output_ns: i64, dropped: u32, lagged: u32| {
            if let Event::RtmpVideo { encoder, .. } = &mut e {
                *encoder = Some(Box::new(EncoderMetrics {
                    output_ns: Some(output_ns),
                    dropped: Some(dropped),
                    lagged: Some(lagged),
                    ..Default::default()
                }));
            }
            e
        };
        const S: i64 = 1_000_000_000;
        let caster = host(
            "caster",
            vec![
                publish(1, "lagtap"),
                with(video(1, 0, Some("a"), 10 * S), 10 * S - 7_000_000, 0, 0),
                video(1, 40, Some("b"), 10 * S + 40_000_000),
                with(video(1, 2000, Some("c"), 12 * S), 12 * S - 3_000_000, 5, 2),
            ],
        );
        let c = correlate(vec![caster], &CorrelateOptions::default());
        let h = &c.source_health.streams[0];
        assert_eq!((h.encoder_dropped, h.encoder_lagged), (Some(5), Some(2)));
        assert_eq!(h.encoder_to_wire_mean_ns, Some(5_000_000));
        assert_eq!(h.encoder_to_wire_max_ns, Some(7_000_000));
        let w: Vec<_> = h
            .windows
            .iter()
            .map(|w| (w.encoder_dropped, w.encoder_to_wire_max_ns))
            .collect();
        assert_eq!(
            w,
            [
                (Some(0), Some(7_000_000)),
                (None, None),
                (Some(5), Some(3_000_000))
            ]
        );
    }
}
