//! `lagtap correlate` end to end: the binary on a bundled capture set, its JSON
//! report and its CSV sample files.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn captures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lagtap-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn json_report_and_sample_files_have_the_documented_shape() {
    let samples = temp_dir("correlate-cli");
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .arg("correlate")
        .arg(captures("skew"))
        .args(["--offset", "broadcaster=+0.25s", "--offset", "viewer=-0.18"])
        .arg("--json")
        .arg("--samples")
        .arg(&samples)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();

    let hosts = v["hosts"].as_array().unwrap();
    let host = |name: &str| hosts.iter().find(|h| h["name"] == name).unwrap();
    assert_eq!(host("broadcaster")["clock"]["source"], "manual");
    assert_eq!(host("broadcaster")["clock"]["offset_ms"], 250.0);
    assert_eq!(host("viewer")["clock"]["offset_ms"], -180.0);
    assert!(host("viewer")["roles"]
        .as_array()
        .unwrap()
        .contains(&Value::from("viewer")));
    assert!(host("server")["roles"]
        .as_array()
        .unwrap()
        .contains(&Value::from("server")));
    for h in hosts {
        for k in ["name", "file", "roles", "clock"] {
            assert!(h.get(k).is_some(), "hosts[].{k}");
        }
        for k in ["offset_ms", "error_ms", "drift_ppm", "source"] {
            assert!(h["clock"].get(k).is_some(), "hosts[].clock.{k}");
        }
    }
    let summary_keys = [
        "count", "mean_ms", "ci95_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
    ];
    for (section, headline, keys) in [
        (
            "messaging",
            "summary",
            &["by_sender", "by_receiver", "unmatched"][..],
        ),
        (
            "broadcast",
            "display_summary",
            &[
                "legs",
                "wire_summary",
                "by_viewer",
                "by_stream",
                "player_model",
            ][..],
        ),
        (
            "switching",
            "shown_summary",
            &["first_segment_summary", "switches"][..],
        ),
    ] {
        for k in keys {
            assert!(v[section].get(*k).is_some(), "{section}.{k}");
        }
        for k in summary_keys {
            assert!(
                v[section][headline].get(k).is_some(),
                "{section}.{headline}.{k}"
            );
        }
    }
    assert!(v["source_health"].is_object());
    assert_eq!(v["messaging"]["summary"]["count"], 20);
    assert!(v["broadcast"]["display_summary"]["count"].as_u64().unwrap() > 500);

    let header = |file: &str| {
        let text = std::fs::read_to_string(samples.join(file)).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        assert!(
            lines.len() > 1 || file == "switching.csv",
            "{file} has rows"
        );
        lines[0].clone()
    };
    assert!(header("messaging.csv").starts_with(
        "sender,receiver,channel,command,text,sent,received,latency_ms,error_ms,method"
    ));
    assert!(header("broadcast.csv").starts_with(
        "broadcaster,viewer,stream,segment,pts,keyframe,sent,received,latency_ms,\
         source_latency_ms,error_ms,method"
    ));
    assert!(header("switching.csv")
        .starts_with("viewer,from,to,started,first_segment,shown,shown_latency_ms"));
    assert!(header("source_health.csv").starts_with("broadcaster,stream,window_start,"));
    let _ = std::fs::remove_dir_all(&samples);
}

#[test]
fn table_report_names_the_sections() {
    let out = Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .arg("correlate")
        .arg(captures("switch").join("switcher.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "== Hosts and clocks",
        "== Messaging latency",
        "== Broadcast latency",
        "== Switching latency",
        "== Source health",
        "alpha → bravo",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
}
