//! `lagtap correlate` makes no silent mistakes (issue 16, part 2): bad `--offset`
//! values, the same host given twice, damaged inputs and unwritable outputs are
//! named with exact messages; warnings go to standard error, results to standard
//! output; clean sample captures warn about nothing. Run on the bundled captures.

#[path = "common/scenario.rs"]
mod scenario;

use std::path::PathBuf;
use std::process::{Command, Output};

use scenario::{dir as captures, SCENARIOS};
use serde_json::Value;

/// A fresh, empty directory for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lagtap-guards-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lagtap(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lagtap"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs a command that must fail, and returns its standard error.
fn failure(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let o = lagtap(args);
    assert!(!o.status.success(), "should fail: {}", stdout(&o));
    assert_eq!(stdout(&o), "", "nothing is reported on a failure");
    stderr(&o)
}

/// Runs a command that must succeed, and returns (stdout, stderr).
fn success(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (String, String) {
    let o = lagtap(args);
    assert!(o.status.success(), "{}", stderr(&o));
    (stdout(&o), stderr(&o))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn offset_mistakes_are_errors_naming_the_value() {
    let basic = captures("basic");
    for (value, message) in [
        (
            "ghost=0.5",
            r#"--offset "ghost=0.5": no input is host "ghost" (hosts: broadcaster, desktop, mobile, server)"#,
        ),
        ("=0.5", r#"--offset "=0.5": the host name is empty"#),
        (
            "desktop=NaN",
            r#"--offset "desktop=NaN": "NaN" is not a number of seconds (NaN)"#,
        ),
        (
            "desktop=inf",
            r#"--offset "desktop=inf": "inf" is infinite, not a clock offset"#,
        ),
        (
            "mobile=-90000",
            r#"--offset "mobile=-90000": -90000 s is more than a day (86400 s), not a clock offset (milliseconds given as seconds?)"#,
        ),
        (
            "desktop=12ms",
            r#"--offset "desktop=12ms": "12ms" is not a number of seconds"#,
        ),
        ("desktop", r#"--offset "desktop": expected NAME=SECONDS"#),
    ] {
        assert_eq!(
            failure(&[&"correlate", &basic, &"--offset", &value]),
            format!("lagtap: {message}\n"),
            "--offset {value}"
        );
    }
}

#[test]
fn an_offset_the_ntp_evidence_rules_out_is_one_warning_with_both_figures() {
    let warning = "host desktop: --offset desktop=0.5 (+500.000 ms) contradicts the capture's \
                   own NTP evidence, -0.001 ms ± 0.015 ms (4 of 10 exchanges used): the \
                   --offset value is used";
    let basic = captures("basic");
    let (out, err) = success(&[&"correlate", &basic, &"--offset", &"desktop=0.5"]);
    assert_eq!(err, format!("lagtap: warning: {warning}\n"));
    assert!(!out.contains("contradicts"), "not in the results:\n{out}");
    assert!(out.contains("== Hosts and clocks"));

    let (out, err) = success(&[&"correlate", &basic, &"--offset", &"desktop=0.5", &"--json"]);
    assert_eq!(err, format!("lagtap: warning: {warning}\n"));
    let v = json(&out);
    assert_eq!(v["warnings"], serde_json::json!([warning]));
    let desktop = &v["hosts"][1];
    assert_eq!(desktop["name"], "desktop");
    assert_eq!(desktop["clock"]["source"], "manual");
    assert_eq!(desktop["clock"]["offset_ms"], 500.0);

    // Offsets the NTP evidence agrees with (the skew scenario's, applied with
    // editcap) say nothing.
    let (_, err) = success(&[
        &"correlate",
        &captures("skew"),
        &"--offset",
        &"broadcaster=+0.25s",
        &"--offset",
        &"viewer=-0.18",
    ]);
    assert_eq!(err, "");
}

#[test]
fn clean_sample_captures_warn_about_nothing() {
    for &name in SCENARIOS {
        let (out, err) = success(&[&"correlate", &captures(name)]);
        assert_eq!(err, "", "{name}: stderr");
        assert!(!out.contains("WARNING"), "{name}: warnings in the results");
        assert!(!out.contains("damaged input"), "{name}");
        let (out, _) = success(&[&"correlate", &captures(name), &"--json"]);
        assert_eq!(json(&out)["warnings"], serde_json::json!([]), "{name}");
    }
}

#[test]
fn warnings_go_to_stderr_once_and_stay_in_the_json() {
    // A viewer's capture alone: its segments have no broadcaster capture to be
    // matched against, which is worth acting on.
    let viewer = captures("switch").join("switcher.pcap");
    let o = lagtap(&[&"correlate", &viewer]);
    assert!(o.status.success());
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(!out.contains("WARNING"), "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let text = l.strip_prefix("lagtap: warning: ").unwrap();
        assert!(!out.contains(text), "on stdout too: {text}");
        assert_eq!(lines.iter().filter(|m| *m == l).count(), 1, "once: {l}");
    }
    let (out, err_json) = success(&[&"correlate", &viewer, &"--json"]);
    assert_eq!(err_json, err);
    let in_json: Vec<String> = json(&out)["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("lagtap: warning: {}", w.as_str().unwrap()))
        .collect();
    assert_eq!(in_json, lines);
}

#[test]
fn the_same_host_given_twice_is_counted_once() {
    let dir = temp_dir("twice");
    let basic = captures("basic");
    let desktop = basic.join("desktop.pcap");
    let messages = |out: &str| json(out)["messaging"]["summary"]["count"].clone();
    let (alone, _) = success(&[&"correlate", &basic, &"--json"]);
    assert_eq!(messages(&alone), 72);

    // The very same file twice.
    let (out, err) = success(&[&"correlate", &basic, &desktop, &"--json"]);
    assert_eq!(
        err,
        format!(
            "lagtap: warning: input {} is given twice: counted once, as host desktop\n",
            desktop.display()
        )
    );
    assert_eq!(messages(&out), 72);

    // A byte-identical copy under another name.
    let copy = dir.join("desk2.pcap");
    std::fs::copy(&desktop, &copy).unwrap();
    let (out, err) = success(&[&"correlate", &basic, &copy, &"--json"]);
    assert_eq!(
        err,
        format!(
            "lagtap: warning: inputs {} and {} hold the same bytes: the same capture given \
             twice, counted once, as host desktop\n",
            desktop.display(),
            copy.display()
        )
    );
    assert_eq!(messages(&out), 72);
    assert_eq!(json(&out)["hosts"].as_array().unwrap().len(), 4);

    // A different file of the same host over the same time: its first 600 kB.
    let bytes = std::fs::read(&desktop).unwrap();
    let part = dir.join("desk3.pcap");
    std::fs::write(&part, &bytes[..600_000]).unwrap();
    let (out, err) = success(&[&"correlate", &basic, &part]);
    assert_eq!(
        err,
        format!(
            "lagtap: warning: inputs desktop ({}) and desk3 ({}) are the same host given \
             twice (10.77.0.21, capture times overlapping): counted once, as desktop\n",
            desktop.display(),
            part.display()
        )
    );
    assert!(out.contains("\nall                           72 "), "{out}");
    assert!(!out.contains("desk3"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_truncated_input_is_named_with_what_was_lost() {
    let dir = temp_dir("truncated");
    for f in ["broadcaster.pcap", "mobile.pcapng", "server.pcap"] {
        std::fs::copy(captures("basic").join(f), dir.join(f)).unwrap();
    }
    // desktop.pcap cut inside a packet record, as a copy made while it was written.
    let bytes = std::fs::read(captures("basic").join("desktop.pcap")).unwrap();
    let desktop = dir.join("desktop.pcap");
    std::fs::write(&desktop, &bytes[..600_000]).unwrap();
    let lost = "the file ends inside a packet record (cut short): whatever was captured \
                after 2026-11-25T04:33:18.395745431Z is missing";

    let (out, err) = success(&[&"correlate", &dir]);
    assert_eq!(
        err,
        format!(
            "lagtap: warning: input desktop ({}) is damaged: {lost}\n",
            desktop.display()
        )
    );
    assert!(
        out.contains(&format!(
            "\ndamaged input desktop ({}): {lost}\n",
            desktop.display()
        )),
        "{out}"
    );

    let (out, _) = success(&[&"correlate", &dir, &"--json"]);
    let v = json(&out);
    let host = |name: &str| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        host("desktop")["damage"],
        serde_json::json!([{"reason": "truncated_file", "count": 1, "lost": lost}])
    );
    assert_eq!(host("mobile")["damage"], serde_json::json!([]));
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);

    // inspect knows the same.
    let o = lagtap(&[&"inspect", &desktop, &"--json"]);
    let files = json(&stdout(&o))["files"].clone();
    assert_eq!(files[0]["anomalies"]["truncated_file"], 1);
    assert_eq!(files[0]["last_time"], 1_795_581_198_395_745_431_i64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_paths_are_checked_before_any_decoding() {
    let dir = temp_dir("outputs");
    let basic = captures("basic");
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    let nowhere = dir.join("nowhere").join("report.html");
    assert_eq!(
        failure(&[&"correlate", &basic, &"--html", &nowhere]),
        format!(
            "lagtap: --html {}: the directory {} does not exist\n",
            nowhere.display(),
            dir.join("nowhere").display()
        )
    );
    assert_eq!(
        failure(&[&"correlate", &basic, &"--html", &dir]),
        format!(
            "lagtap: --html {}: is a directory, not a file\n",
            dir.display()
        )
    );
    assert_eq!(
        failure(&[&"correlate", &basic, &"--plots", &file]),
        format!(
            "lagtap: --plots {}: exists and is not a directory\n",
            file.display()
        )
    );
    let below = file.join("samples");
    let err = failure(&[&"correlate", &basic, &"--samples", &below]);
    assert!(
        err.starts_with(&format!(
            "lagtap: --samples {}: cannot create the directory: ",
            below.display()
        )),
        "{err}"
    );
    if !cfg!(feature = "png") {
        let plots = dir.join("png");
        let err = failure(&[
            &"correlate",
            &basic,
            &"--plots",
            &plots,
            &"--plot-format",
            &"png",
        ]);
        assert!(
            err.starts_with("lagtap: --plot-format png: this lagtap was built without PNG plots"),
            "{err}"
        );
        assert!(!plots.exists(), "nothing is created");
    }
    // Missing output directories are created up front.
    let plots = dir.join("a").join("plots");
    let (_, err) = success(&[&"correlate", &basic, &"--plots", &plots, &"--json"]);
    assert_eq!(err, "");
    assert!(plots.join("messaging.svg").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_event_file_names_its_host_inside() {
    let dir = temp_dir("jsonl");
    let events = dir.join("d.jsonl");
    let o = lagtap(&[
        &"decode",
        &captures("basic").join("desktop.pcap"),
        &"--host",
        &"deskA",
    ]);
    assert!(o.status.success());
    std::fs::write(&events, &o.stdout).unwrap();
    let names = |out: &str| -> Vec<Value> {
        json(out)["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].clone())
            .collect()
    };
    let (out, _) = success(&[&"correlate", &events, &"--json"]);
    assert_eq!(names(&out), ["deskA"]);
    // --host still names it, and --offset uses the name it ends up with.
    let host = format!("desk={}", events.display());
    let (out, _) = success(&[
        &"correlate",
        &events,
        &"--host",
        &host,
        &"--offset",
        &"desk=0",
        &"--json",
    ]);
    assert_eq!(names(&out), ["desk"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bitrate rows of the table, in order, as numbers.
fn leading_numbers(out: &str, prefix: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            let digits: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        })
        .collect()
}

#[test]
fn groups_sort_by_value_and_labels_say_each_word_once() {
    let dir = temp_dir("groups");
    let (out, _) = success(&[
        &"correlate",
        &captures("bitrates"),
        &"--group-by",
        &"bitrate",
        &"--plots",
        &dir,
    ]);
    let rates = leading_numbers(&out, "bitrate ");
    assert_eq!(rates.len(), 3, "{out}");
    assert!(rates.windows(2).all(|w| w[0] < w[1]), "{rates:?}");
    assert_eq!(leading_numbers(&out, "stream rate"), [800, 1600, 2400]);
    // The viewer host is called "viewer": its row is not "viewer viewer".
    assert!(out.lines().any(|l| l.starts_with("viewer ")), "{out}");
    assert!(!out.contains("viewer viewer"), "{out}");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let svg = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let text = t.text().unwrap_or("");
            let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
            assert!(
                words.windows(2).all(|w| w[0] != w[1]),
                "{}: doubled word in {text:?}",
                path.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
