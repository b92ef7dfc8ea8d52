//! Events and samples as Parquet (`--features parquet`): a dataset `decode --format
//! parquet` writes gives back exactly the events of its JSON Lines, `correlate` on it
//! reports what `correlate` on the captures reports, the Parquet sample tables hold
//! the CSV tables' rows, and pyarrow — a reader that is not lagtap — reads both with
//! the schemas docs/events.md and docs/results.md give and the JSON Lines' counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lagtap::events::{parquet, Event};
use serde_json::{json, Value};

mod common;
use common::{lagtap, repo, tools};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lagtap-parquet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The captures of a bundled scenario, in name order.
fn captures(scenario: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("captures").join(scenario))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .collect();
    v.sort();
    v
}

/// `lagtap decode --format parquet -o DIR FILE`.
fn decode_into(dir: &Path, file: &Path) {
    let (dir, file) = (dir.to_str().unwrap(), file.to_str().unwrap());
    lagtap(&["decode", "--format", "parquet", "-o", dir, file]);
}

/// Decodes every capture of `scenario` twice with the CLI: as JSON Lines (returned,
/// per host) and into the dataset `dir`.
fn decode_both(scenario: &str, dir: &Path) -> BTreeMap<String, Vec<Event>> {
    let mut hosts = BTreeMap::new();
    for f in captures(scenario) {
        let f = f.to_str().unwrap();
        let lines = lagtap(&["decode", f]);
        let events: Vec<Event> = lines
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let Some(Event::Capture { host, .. }) = events.first() else {
            panic!("{f}: no capture event first");
        };
        decode_into(dir, Path::new(f));
        hosts.insert(host.clone(), events);
    }
    hosts
}

#[test]
fn a_dataset_gives_back_the_json_lines_events_exactly() {
    // basic has chat, HLS and RTMP; tls adds TLS sessions, HTTP/2 and WebSocket chat.
    for scenario in ["basic", "tls"] {
        let dir = tmp(&format!("events-{scenario}"));
        let jsonl = decode_both(scenario, &dir);
        assert!(parquet::is_dataset(&dir));
        assert_eq!(
            parquet::hosts(&dir).unwrap(),
            jsonl.keys().cloned().collect::<Vec<_>>()
        );
        for (host, events) in &jsonl {
            let back = parquet::read_host(&dir, host).unwrap();
            assert!(
                events.len() > 50,
                "{scenario}/{host}: {} events",
                events.len()
            );
            assert_eq!(back.len(), events.len(), "{scenario}/{host}");
            for (i, (a, b)) in events.iter().zip(&back).enumerate() {
                assert_eq!(a, b, "{scenario}/{host}: event {i}");
            }
        }
        // Decoding a host again replaces its partition, not adds to it.
        let (host, events) = jsonl.iter().next().unwrap();
        let f = captures(scenario)
            .into_iter()
            .find(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(host.as_str())
            })
            .unwrap();
        decode_into(&dir, &f);
        assert_eq!(parquet::read_host(&dir, host).unwrap().len(), events.len());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The JSON report without what names the inputs (a capture file or the dataset).
fn report_without_inputs(json: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(json).unwrap();
    for h in v["hosts"].as_array_mut().unwrap() {
        h.as_object_mut().unwrap().remove("file");
    }
    v
}

#[test]
fn correlate_on_a_dataset_reports_what_correlate_on_its_captures_does() {
    let dir = tmp("correlate");
    decode_both("basic", &dir);
    let basic = repo().join("captures/basic");
    let from_captures = lagtap(&["correlate", "--json", basic.to_str().unwrap()]);
    let from_dataset = lagtap(&["correlate", "--json", dir.to_str().unwrap()]);
    let (a, b) = (
        report_without_inputs(&from_captures),
        report_without_inputs(&from_dataset),
    );
    assert!(a["messaging"]["summary"]["count"].as_u64().unwrap() > 50);
    assert!(a["broadcast"]["display_summary"]["count"].as_u64().unwrap() > 1000);
    assert_eq!(a, b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CSV tables and the Parquet tables of one `correlate` run on basic.
fn samples_both() -> (PathBuf, PathBuf) {
    let basic = repo().join("captures/basic");
    let (csv, pq) = (tmp("samples-csv"), tmp("samples-parquet"));
    lagtap(&[
        "correlate",
        basic.to_str().unwrap(),
        "--samples",
        csv.to_str().unwrap(),
    ]);
    lagtap(&[
        "correlate",
        basic.to_str().unwrap(),
        "--samples",
        pq.to_str().unwrap(),
        "--format",
        "parquet",
    ]);
    (csv, pq)
}

#[test]
fn parquet_sample_tables_hold_the_csv_rows() {
    use lagtap::report::samples::{SampleTable, Ty};
    let (csv_dir, pq_dir) = samples_both();
    for table in SampleTable::ALL {
        let mut csv =
            csv::Reader::from_path(csv_dir.join(format!("{}.csv", table.name()))).unwrap();
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let csv_rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        let pq_rows: Vec<serde_json::Map<String, Value>> =
            lagtap::tables::read_rows(&pq_dir.join(format!("{}.parquet", table.name()))).unwrap();
        assert_eq!(pq_rows.len(), csv_rows.len(), "{}", table.name());
        for (r, (c, p)) in csv_rows.iter().zip(&pq_rows).enumerate() {
            let names: Vec<&String> = p.keys().collect();
            assert_eq!(names.len(), header.len());
            for ((name, ty), cell) in table.columns().iter().zip(c.iter()) {
                let v = &p[*name];
                let same = match (ty, v) {
                    (_, Value::Null) => cell.is_empty(),
                    (Ty::Time, Value::Number(n)) => {
                        lagtap::report::time(n.as_i64().unwrap()) == cell
                    }
                    // Float milliseconds against the exact decimal: within a nanosecond.
                    (Ty::Ms, Value::Number(n)) => {
                        (n.as_f64().unwrap() - cell.parse::<f64>().unwrap()).abs() < 1e-6
                    }
                    (Ty::Kbps, Value::Number(n)) => format!("{:.3}", n.as_f64().unwrap()) == cell,
                    (_, Value::String(s)) => s == cell,
                    (_, other) => serde_json::from_str::<Value>(cell).ok().as_ref() == Some(other),
                };
                assert!(
                    same,
                    "{} row {r} {name}: parquet {v} vs csv {cell:?}",
                    table.name()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&csv_dir);
    let _ = std::fs::remove_dir_all(&pq_dir);
}

/// `| `a` | `b` | `c` | ...` → the first three cells without backquotes.
fn cells(line: &str) -> Option<[String; 3]> {
    let mut it = line
        .strip_prefix('|')?
        .split('|')
        .map(|c| c.trim().trim_matches('`').to_string());
    Some([it.next()?, it.next()?, it.next()?])
}

/// docs/events.md's Parquet columns: table → [(column, type)].
fn documented_event_tables() -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(repo().join("docs/events.md")).unwrap();
    let section = text
        .split("## Parquet")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let [table, column, ty] = cells(&line.replace("\\|", "/")).unwrap();
        out.entry(table).or_default().push((column, ty));
    }
    out
}

/// docs/results.md's sample tables: table → [(column, type)].
fn documented_sample_tables() -> BTreeMap<String, Vec<(String, String)>> {
    let text = std::fs::read_to_string(repo().join("docs/results.md")).unwrap();
    let section = text.split("## Sample tables").nth(1).unwrap();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut table = String::new();
    for line in section.lines() {
        if let Some(h) = line.strip_prefix("### `") {
            table = h.split(".csv").next().unwrap().to_string();
        } else if line.starts_with("| `") {
            let [column, _unit, ty] = cells(line).unwrap();
            out.entry(table.clone()).or_default().push((column, ty));
        }
    }
    out
}

/// Reads every table with pyarrow (hive partitioning for the events) and compares
/// schemas and row counts with what it is given; prints what differs, exits 1 then.
const PYARROW_CHECK: &str = r#"
import json, sys
import pyarrow.dataset as ds
import pyarrow.parquet as pq
want = json.load(sys.stdin)
bad = []
def schema(s, skip=()):
    return [[f.name, str(f.type) + ("?" if f.nullable else "")] for f in s if f.name not in skip]
for kind, cols in want["events"].items():
    d = ds.dataset(want["dataset"] + "/" + kind, format="parquet", partitioning="hive")
    got = schema(d.schema, skip=("host",))
    if got != cols:
        bad.append(f"{kind}: schema {got} != documented {cols}")
    t = d.to_table(columns=["host"])
    counts = {}
    for h in t.column("host").to_pylist():
        counts[h] = counts.get(h, 0) + 1
    exp = {h: n for h, n in want["event_counts"].get(kind, {}).items() if n}
    if counts != exp:
        bad.append(f"{kind}: rows per host {counts} != JSON Lines {exp}")
for table, cols in want["samples"].items():
    f = pq.ParquetFile(want["samples_dir"] + "/" + table + ".parquet")
    got = [[n, t.rstrip("?")] for n, t in schema(f.schema_arrow)]
    if got != cols:
        bad.append(f"{table}: schema {got} != documented {cols}")
    if f.metadata.num_rows != want["sample_rows"][table]:
        bad.append(f"{table}: {f.metadata.num_rows} rows, CSV has {want['sample_rows'][table]}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
"#;

#[test]
fn pyarrow_reads_the_documented_schemas_and_the_json_lines_counts() {
    let check = "Parquet tables read back with pyarrow";
    if !tools::require("python3", check) {
        return;
    }
    let has_pyarrow = Command::new("python3")
        .args(["-c", "import pyarrow.dataset"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pyarrow {
        tools::missing(
            check,
            "needs the Python module pyarrow (pip install pyarrow; CI installs it)",
        );
        return;
    }
    let dir = tmp("pyarrow-events");
    let jsonl = decode_both("basic", &dir);
    let mut event_counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (host, events) in &jsonl {
        for e in events {
            let kind = serde_json::to_value(e).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string();
            *event_counts
                .entry(kind)
                .or_default()
                .entry(host.clone())
                .or_default() += 1;
        }
    }
    let (csv_dir, pq_dir) = samples_both();
    let sample_rows: BTreeMap<String, usize> = documented_sample_tables()
        .keys()
        .map(|t| {
            let n = csv::Reader::from_path(csv_dir.join(format!("{t}.csv")))
                .unwrap()
                .records()
                .count();
            (t.clone(), n)
        })
        .collect();
    let events = documented_event_tables();
    assert_eq!(events.len(), parquet::KINDS.len(), "every kind documented");
    let want = json!({
        "dataset": dir,
        "events": events,
        "event_counts": event_counts,
        "samples_dir": pq_dir,
        "samples": documented_sample_tables(),
        "sample_rows": sample_rows,
    });
    let mut child = Command::new("python3")
        .args(["-c", PYARROW_CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(want.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pyarrow disagrees:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for d in [dir, csv_dir, pq_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}
