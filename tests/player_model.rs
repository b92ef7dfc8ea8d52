//! The headline broadcast and switching latency on the testbed's real captures:
//! display latency under the player model, its legs, the K each viewer started
//! with and the join artefacts, checked against what the viewers' own players
//! logged (truth.json `viewer_starts`: the K they were configured with and the
//! media sequence they started at) and against the definitions in
//! docs/methods.md. CI adds the fresh run it makes (`LAGTAP_SCENARIO_DIRS`).

use lagtap::correlate::broadcast::KSource;
use lagtap::correlate::{correlate, CorrelateOptions, Correlation, Summary};
use serde_json::Value;

#[path = "common/scenario.rs"]
mod scenario;
use scenario::{all_dirs, decode, truth};

/// Each player session against the start its viewer logged, in order per viewer.
fn check_starts(name: &str, c: &Correlation, t: &Value) {
    let starts = t["viewer_starts"].as_array().unwrap();
    assert_eq!(
        c.broadcast.players.len(),
        starts.len(),
        "{name}: one player session per logged start"
    );
    for (p, s) in c.broadcast.players.iter().zip(starts) {
        let what = format!("{name}: {} {}", p.viewer, p.channel);
        assert_eq!(p.viewer, s["viewer"].as_str().unwrap(), "{what}");
        assert_eq!(p.channel, s["channel"].as_str().unwrap(), "{what}");
        assert_eq!(
            p.k_source,
            KSource::Capture,
            "{what}: K read from the capture"
        );
        // The player fetches the K newest segments of the playlist it holds, or the
        // whole playlist when it lists fewer.
        let logged_k = s["k"].as_u64().unwrap() as usize;
        let listed = p
            .listed_at_start
            .expect("a playlist held at the first fetch");
        assert_eq!(p.k, logged_k.min(listed), "{what}: K");
        assert_eq!(p.start_sequence, s["start_seq"].as_u64(), "{what}: start");
        assert!(p.playback_start_ns.is_some(), "{what}: playback started");
    }
}

/// Every sample: display = shown − sent = the sum of its legs; the headline and the
/// per-viewer figures are over exactly the shown samples that are not join
/// artefacts; a sample is a join artefact iff its segment was among the K the
/// viewer fetched at start-up.
fn check_samples(name: &str, c: &Correlation) {
    let b = &c.broadcast;
    let mut shown = Vec::new();
    for s in &b.samples {
        let l = &s.legs;
        assert_eq!(l.to_listed_ns, s.listed_ns - s.sent_ns, "{name}");
        assert_eq!(l.delivery_ns, s.received_ns - s.listed_ns, "{name}");
        if let (Some(up), Some(pack)) = (l.upload_ns, l.packaging_ns) {
            assert_eq!(up + pack, l.to_listed_ns, "{name}: upload + packaging");
        }
        let Some(display) = s.display_latency_ns else {
            assert!(s.shown_ns.is_none() && l.buffering_ns.is_none(), "{name}");
            continue;
        };
        let shown_ns = s.shown_ns.unwrap();
        assert_eq!(
            display,
            shown_ns - s.sent_ns,
            "{name}: display = shown − sent"
        );
        let buffering = l.buffering_ns.unwrap();
        assert!(buffering >= 0, "{name}: shown before received: {s:?}");
        assert_eq!(
            l.to_listed_ns + l.delivery_ns + buffering,
            display,
            "{name}: the legs add up to the headline"
        );
        if !s.join_artefact {
            shown.push(display);
        }
    }
    let expect = Summary::of(&shown);
    assert_eq!(
        b.display_summary, expect,
        "{name}: headline = display latency"
    );
    assert!(expect.count > 0, "{name}: frames shown");
    let by_viewer: u64 = b.by_viewer.values().map(|s| s.count).sum();
    assert_eq!(
        by_viewer, expect.count,
        "{name}: per viewer = the headline's samples"
    );

    // Join artefacts: the segments of each session's start-up fetch.
    for (n, p) in b.players.iter().enumerate() {
        let first = p.start_sequence.unwrap();
        let until = b.players[n + 1..]
            .iter()
            .find(|q| q.viewer == p.viewer)
            .map_or(i64::MAX, |q| q.first_request_ns);
        let in_session = |s: &&lagtap::correlate::broadcast::FrameSample| {
            s.viewer == p.viewer
                && s.stream == p.channel
                && (p.first_request_ns..until).contains(&s.received_ns)
        };
        // Of the K start-up segments (for a player of LL-HLS parts: parts, in
        // (segment, part) order from the start), those a prefetch or preload-hint
        // tag named were still being made: live frames, not artefacts.
        let startup = (p.listed_at_start.unwrap().min(p.k.max(1)))
            .saturating_sub(p.prefetch_at_start.unwrap());
        let mut units: Vec<(u64, Option<u32>)> = b
            .samples
            .iter()
            .filter(in_session)
            .map(|s| (s.media_sequence.unwrap(), s.part))
            .filter(|u| u.0 >= first)
            .collect();
        units.sort_unstable();
        units.dedup();
        let parts = units.iter().any(|u| u.1.is_some());
        for s in b.samples.iter().filter(in_session) {
            let seq = s.media_sequence.unwrap();
            let expect = if parts {
                units[..startup.min(units.len())].contains(&(seq, s.part))
            } else {
                seq < first + startup as u64 && seq >= first
            };
            assert_eq!(
                s.join_artefact, expect,
                "{name}: {} segment {seq} part {:?} (start {first}, K {})",
                p.viewer, s.part, p.k
            );
        }
    }
    let artefacts = b.samples.iter().filter(|s| s.join_artefact).count() as u64;
    assert_eq!(b.join_artefacts, artefacts, "{name}");
    // The time series leaves them out too.
    let in_windows: u64 = c
        .source_health
        .streams
        .iter()
        .flat_map(|s| &s.windows)
        .map(|w| u64::from(w.latency_count))
        .sum();
    let counted = b
        .samples
        .iter()
        .filter(|s| !s.join_artefact && s.tx.is_some())
        .count() as u64;
    assert_eq!(
        in_windows, counted,
        "{name}: health windows hold no join artefact"
    );
}

#[test]
fn display_latency_is_the_headline_and_its_legs_add_up_on_every_scenario() {
    for dir in all_dirs() {
        let name = dir.display().to_string();
        let c = correlate(decode(&dir), &CorrelateOptions::default());
        check_starts(&name, &c, &truth(&dir));
        check_samples(&name, &c);
        // Switching: the headline runs to the new stream shown, which is never
        // before its first segment is in.
        assert_eq!(c.switching.shown.count, c.switching.switches.len() as u64);
        for s in &c.switching.switches {
            assert!(
                s.shown_latency_ns >= s.first_segment_latency_ns,
                "{name}: {s:?}"
            );
        }
    }
}

#[test]
fn with_the_ingest_servers_capture_upload_and_packaging_are_split() {
    let dir = scenario::dir("basic");
    let c = correlate(decode(&dir), &CorrelateOptions::default());
    let b = &c.broadcast;
    assert_eq!(b.streams[0].ingest_host.as_deref(), Some("server"));
    let shown = b.display_summary.count;
    assert_eq!(
        b.legs.upload.count, shown,
        "every frame found at the ingest"
    );
    assert_eq!(b.legs.packaging.count, shown);
    // On the testbed's LAN the upload takes well under a second, packaging at
    // least part of a segment.
    assert!(
        b.legs.upload.max_ms.unwrap() < 1000.0,
        "{:?}",
        b.legs.upload
    );
    assert!(
        b.legs.packaging.p50_ms.unwrap() > 100.0,
        "{:?}",
        b.legs.packaging
    );
    // The viewers' two K (3 and 6 segments of ~4 s) show in their display latency.
    let desktop = b.by_viewer["desktop"].mean_ms.unwrap();
    let mobile = b.by_viewer["mobile"].mean_ms.unwrap();
    assert!(
        mobile > desktop + 8_000.0,
        "desktop {desktop} ms, mobile {mobile} ms"
    );
}

#[test]
fn startup_segments_per_viewer_override_the_capture() {
    let dir = scenario::dir("basic");
    let hosts = decode(&dir);
    let mut opts = CorrelateOptions::default();
    opts.startup_by_viewer.insert("mobile".into(), 3);
    let c = correlate(hosts.clone(), &opts);
    let k = |c: &Correlation, v: &str| {
        let p = c.broadcast.players.iter().find(|p| p.viewer == v).unwrap();
        (p.k, p.k_source)
    };
    assert_eq!(k(&c, "mobile"), (3, KSource::Option));
    assert_eq!(k(&c, "desktop"), (3, KSource::Capture));
    // Mobile under K=3 starts 3 segments later than it really did: about three
    // segment durations less display latency than with its own K=6.
    let own = correlate(hosts, &CorrelateOptions::default());
    let diff = own.broadcast.by_viewer["mobile"].mean_ms.unwrap()
        - c.broadcast.by_viewer["mobile"].mean_ms.unwrap();
    assert!((9_000.0..15_000.0).contains(&diff), "{diff} ms");
}

/// `lagtap correlate` with bad `--startup-segments`: refused before any report,
/// with a message naming the value.
#[test]
fn bad_startup_segments_are_refused_with_the_value_named() {
    let dir = scenario::dir("basic");
    for (arg, message) in [
        (
            "0",
            "lagtap: --startup-segments 0: K must be a whole number of segments, at least 1",
        ),
        (
            "mobile=-2",
            "lagtap: --startup-segments mobile=-2: K must be a whole number of segments, at least 1",
        ),
        (
            "=3",
            "lagtap: --startup-segments =3: the viewer name is empty",
        ),
        (
            "tablet=2",
            "lagtap: --startup-segments names viewer tablet, which is none of the hosts \
             (broadcaster, desktop, mobile, server)",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagtap"))
            .arg("correlate")
            .arg(&dir)
            .arg(format!("--startup-segments={arg}"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{arg} accepted");
        assert!(out.stdout.is_empty(), "{arg}: a report was printed");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), message);
    }
}
