//! The bundled testbed scenarios (captures/*): where they are, their ground truth,
//! and every capture of one decoded as a host (host = file stem). Each test binary
//! that includes it uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lagtap::correlate::HostEvents;
use serde_json::Value;

/// Every scenario in captures/, each a real testbed run with its truth.json.
pub const SCENARIOS: &[&str] = &[
    "basic",
    "bitrates",
    "skew",
    "switch",
    "uplink",
    "tls",
    "lowlatency",
    "rtmpplay",
];

pub fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// The bundled scenarios, and the fresh runs CI names in `LAGTAP_SCENARIO_DIRS`.
pub fn all_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = SCENARIOS.iter().map(|s| dir(s)).collect();
    if let Ok(extra) = std::env::var("LAGTAP_SCENARIO_DIRS") {
        dirs.extend(
            extra
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        );
    }
    dirs
}

pub fn truth(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap()
}

/// Every pcap/pcapng file of a run directory, decoded, in file name order.
pub fn decode(dir: &Path) -> Vec<HostEvents> {
    decode_keyed(dir, &tls_decrypt::KeyLog::new())
}

/// [`decode`] with the TLS keys of the run's `*.keys` files (the tls scenario's
/// key logs), host names prefixed with `prefix`.
pub fn decode_with_keys(dir: &Path, prefix: &str) -> Vec<HostEvents> {
    let mut keys: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect();
    keys.sort();
    let keylog = lagtap::decode::keys::read_keylogs(&keys).unwrap();
    let mut hosts = decode_keyed(dir, &keylog);
    for h in &mut hosts {
        h.name = format!("{prefix}{}", h.name);
    }
    hosts
}

fn decode_keyed(dir: &Path, keylog: &tls_decrypt::KeyLog) -> Vec<HostEvents> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_string();
            HostEvents {
                events: lagtap::decode::decode_file_with(p, &name, keylog)
                    .unwrap()
                    .events,
                name,
                file: p.display().to_string(),
            }
        })
        .collect()
}

/// (method, path) of every decoded HTTP request and every response status, each
/// sorted: what tests compare with tshark's HTTP and HTTP/2 dissection.
pub fn http_seen(events: &[lagtap::events::Event]) -> (Vec<(String, String)>, Vec<u16>) {
    let mut reqs = Vec::new();
    let mut statuses = Vec::new();
    for e in events {
        if let lagtap::events::Event::HttpExchange(x) = e {
            reqs.push((x.method.clone(), x.uri.clone()));
            statuses.extend(x.status);
        }
    }
    reqs.sort();
    statuses.sort();
    (reqs, statuses)
}
