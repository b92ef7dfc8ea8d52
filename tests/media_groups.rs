//! The media work split into groups of streams and channels that share no frame
//! (src/correlate/broadcast/groups.rs) and run on several threads gives exactly
//! what one group holding everything gives, on every bundled testbed scenario and
//! on all of them correlated at once.

#[path = "common/scenario.rs"]
mod scenario;

use lagtap::correlate::units::{self, HostUnit, Hosts};
use lagtap::correlate::{CorrelateOptions, HostEvents};

/// The media unit split and on `jobs` threads, against one group on one thread.
fn check(what: &str, hosts: &[HostEvents], min_groups: usize) {
    let opts = CorrelateOptions::default();
    let units: Vec<HostUnit> = hosts.iter().map(|h| units::host_unit(h, &opts)).collect();
    let plan = Hosts::plan(units, &opts);
    let kept: Vec<HostEvents> = hosts
        .iter()
        .zip(&plan.kept)
        .filter(|(_, k)| **k)
        .map(|(h, _)| h.clone())
        .collect();
    let groups = units::media_groups(&kept, &plan.units, &opts);
    assert!(
        groups.len() >= min_groups,
        "{what}: {} groups ({groups:?}), expected at least {min_groups}",
        groups.len()
    );
    let one = CorrelateOptions {
        jobs: Some(1),
        ..CorrelateOptions::default()
    };
    let whole = units::media_unit_in_one_group(&kept, &plan.units, &one);
    assert!(
        !whole.broadcast.samples.is_empty() || what == "rtmpt",
        "{what}: no broadcast samples at all"
    );
    let whole = serde_json::to_string(&whole).unwrap();
    for jobs in [Some(1), Some(3)] {
        let opts = CorrelateOptions {
            jobs,
            ..CorrelateOptions::default()
        };
        let split = serde_json::to_string(&units::media_unit(&kept, &plan.units, &opts)).unwrap();
        assert!(
            split == whole,
            "{what}: the split media work ({} groups, jobs {jobs:?}) differs from one group",
            groups.len()
        );
    }
    eprintln!(
        "{what}: {} media groups, equal to one group: {groups:?}",
        groups.len()
    );
}

#[test]
fn split_media_work_equals_one_group_on_every_scenario_and_all_at_once() {
    // Each scenario's own groups: bitrates publishes three renditions of different
    // bitrates (three groups), switch two channels (two groups).
    let scenarios = [
        ("basic", 1),
        ("bitrates", 3),
        ("switch", 2),
        ("skew", 1),
        ("uplink", 1),
        ("lowlatency", 1),
        ("tls", 1),
        ("rtmpplay", 1),
    ];
    let mut all = Vec::new();
    for (scenario, min_groups) in scenarios {
        let hosts = scenario::decode_with_keys(&scenario::dir(scenario), &format!("{scenario}-"));
        check(scenario, &hosts, min_groups);
        all.extend(hosts);
    }
    // Every scenario at once: their channels share names (several are "lagtap"),
    // and stream keys, so groups join across runs as they must.
    check("all scenarios", &all, 4);
}
