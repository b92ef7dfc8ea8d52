//! The binary keeps results on standard output and warnings and errors on standard
//! error, and exits with the status README.md ("Output streams and exit status")
//! gives each case: 0 for results (damaged input and assumed clocks included), 1 for
//! an error, 2 for a wrong command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn lagtap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// A copy of a real capture cut inside its last packet record.
fn truncated_capture() -> PathBuf {
    let src = data("tests/data/irc_commands/dave.pcap");
    let bytes = std::fs::read(src).unwrap();
    let out = std::env::temp_dir().join(format!("lagtap-cli-cut-{}.pcap", std::process::id()));
    std::fs::write(&out, &bytes[..bytes.len() - 10]).unwrap();
    out
}

fn assert_status(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {:?} stderr {:?}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn decode_writes_only_events_on_stdout() {
    let good = data("tests/data/irc_commands/dave.pcap");
    let out = lagtap(&["decode", good.to_str().unwrap()]);
    assert_status(&out, 0, "decode");
    assert_eq!(text(&out.stderr), "");
    for line in text(&out.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line).expect(line);
    }

    let cut = truncated_capture();
    let out = lagtap(&["decode", cut.to_str().unwrap()]);
    assert_status(&out, 0, "decode of a cut capture");
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["anomalies"]["truncated_file"], 1);
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect(line);
    }
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("lagtap: warning: "), "{stderr}");
    assert!(
        stderr.contains("damaged") && stderr.contains("cut short"),
        "{stderr}"
    );
    std::fs::remove_file(cut).unwrap();
}

#[test]
fn inspect_warns_on_stderr_about_a_cut_capture() {
    let cut = truncated_capture();
    let out = lagtap(&["inspect", "--json", cut.to_str().unwrap()]);
    assert_status(&out, 0, "inspect of a cut capture");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"][0]["anomalies"]["truncated_file"], 1);
    let stderr = text(&out.stderr);
    assert!(stderr.lines().any(|l| l.contains("damaged")), "{stderr}");
    std::fs::remove_file(cut).unwrap();
}

#[test]
fn correlate_prints_results_on_stdout_and_the_clock_warning_on_stderr() {
    // Two hosts without NTP exchanges: their clocks are assumed synchronised.
    let dir = data("tests/data/irc_commands");
    let out = lagtap(&["correlate", dir.to_str().unwrap()]);
    assert_status(&out, 0, "correlate");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("Messaging latency"), "{stdout}");
    assert!(!stdout.contains("ASSUMED SYNCHRONISED"), "{stdout}");
    assert!(!stdout.contains("warning"), "{stdout}");
    let assumed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ASSUMED SYNCHRONISED"))
        .collect();
    assert_eq!(assumed.len(), 2, "{stderr}");
    assert!(
        stderr.lines().all(|l| l.starts_with("lagtap: ")),
        "{stderr}"
    );

    let out = lagtap(&["correlate", "--json", dir.to_str().unwrap()]);
    assert_status(&out, 0, "correlate --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The JSON keeps its own copy of the warnings.
    let warnings = v["warnings"].as_array().unwrap();
    assert!(warnings
        .iter()
        .any(|w| w.as_str().unwrap().contains("ASSUMED SYNCHRONISED")));
}

#[test]
fn errors_exit_1_with_nothing_on_stdout() {
    let dir = data("tests/data/irc_commands");
    let not_a_capture = data("Cargo.toml");
    let missing = data("tests/data/no-such-file.pcap");
    let cases: [(&str, Vec<&str>); 4] = [
        ("missing input", vec!["decode", missing.to_str().unwrap()]),
        (
            "not a capture",
            vec!["inspect", not_a_capture.to_str().unwrap()],
        ),
        (
            "an input among others is not a capture",
            vec![
                "correlate",
                dir.to_str().unwrap(),
                not_a_capture.to_str().unwrap(),
            ],
        ),
        (
            "--offset naming no host",
            vec!["correlate", "--offset", "nobody=1", dir.to_str().unwrap()],
        ),
    ];
    for (what, args) in cases {
        let out = lagtap(&args);
        assert_status(&out, 1, what);
        assert_eq!(text(&out.stdout), "", "{what}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("lagtap: "), "{what}: {stderr}");
    }
}

#[test]
fn a_wrong_command_line_exits_2_with_the_usage_on_stderr() {
    for args in [
        vec!["no-such-command"],
        vec!["decode"],
        vec!["inspect", "--no-such-option", "x.pcap"],
    ] {
        let out = lagtap(&args);
        assert_status(&out, 2, &args.join(" "));
        assert_eq!(text(&out.stdout), "");
        assert!(text(&out.stderr).contains("Usage"), "{args:?}");
    }
    // Help is a result: on stdout, status 0.
    let out = lagtap(&["--help"]);
    assert_status(&out, 0, "--help");
    assert!(text(&out.stdout).contains("Usage"));
}
