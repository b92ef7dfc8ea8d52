//! docs/results.md against what `lagtap correlate` really writes: on every bundled
//! capture set, every JSON field and sample table column written is documented there
//! with the right type, and every documented one is written somewhere. The Parquet
//! sample tables are checked too when the `parquet` feature is on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use lagtap::correlate::{correlate, CorrelateOptions, Correlation};

#[path = "common/scenario.rs"]
mod scenario;
use scenario::{decode, SCENARIOS};
use serde_json::Value;

const SUMMARY_KEYS: [&str; 8] = [
    "count", "mean_ms", "ci95_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A documented JSON field: its type, and whether it may be null.
#[derive(Debug)]
struct Field {
    ty: String,
    nullable: bool,
}

struct Doc {
    json: BTreeMap<String, Field>,
    csv: BTreeMap<String, Vec<String>>,
    /// Per sample table (named by its CSV file): each column's Parquet type as
    /// pyarrow names it.
    parquet: BTreeMap<String, Vec<(String, String)>>,
}

/// The first three cells of a table row whose first cell is `code` (the third
/// without its backquotes).
fn row(line: &str) -> Option<(String, String, String)> {
    let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
    let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
    let second = cells.next().unwrap_or("").to_string();
    let third = cells.next().unwrap_or("").trim_matches('`').to_string();
    Some((name.to_string(), second, third))
}

fn read_doc() -> Doc {
    let text = std::fs::read_to_string(root().join("docs/results.md")).unwrap();
    let mut doc = Doc {
        json: BTreeMap::new(),
        csv: BTreeMap::new(),
        parquet: BTreeMap::new(),
    };
    let mut section = "";
    let mut csv_file: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = if h.starts_with("JSON") {
                "json"
            } else if h.starts_with("Sample tables") {
                "csv"
            } else {
                ""
            };
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            csv_file = h
                .split('`')
                .nth(1)
                .filter(|f| f.ends_with(".csv"))
                .map(str::to_string);
            continue;
        }
        let Some((name, ty, parquet_ty)) = row(line) else {
            continue;
        };
        match (section, &csv_file) {
            ("json", _) => {
                let nullable = ty.ends_with('?');
                let ty = ty.trim_end_matches('?').to_string();
                if ty == "instant" {
                    for (n, t) in [(format!("{name}_ns"), "integer"), (name, "string")] {
                        doc.json.insert(
                            n,
                            Field {
                                ty: t.into(),
                                nullable: true,
                            },
                        );
                    }
                } else {
                    doc.json.insert(name, Field { ty, nullable });
                }
            }
            ("csv", Some(f)) => {
                doc.parquet
                    .entry(f.clone())
                    .or_default()
                    .push((name.clone(), parquet_ty));
                doc.csv.entry(f.clone()).or_default().push(name);
            }
            _ => {}
        }
    }
    doc
}

/// Every leaf path of `v`, with its value; data keys become `*` where the doc has
/// a `*` there, summaries are leaves.
fn flatten<'a>(v: &'a Value, path: &str, doc: &Doc, out: &mut Vec<(String, &'a Value)>) {
    if doc.json.get(path).is_some_and(|f| f.ty == "summary") {
        out.push((path.to_string(), v));
        return;
    }
    match v {
        Value::Object(m) => {
            let star = if path.is_empty() {
                "*".to_string()
            } else {
                format!("{path}.*")
            };
            for (k, x) in m {
                let p = if doc.json.contains_key(&star) || has_prefix(doc, &format!("{star}.")) {
                    star.clone()
                } else if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, &p, doc, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                flatten(x, &format!("{path}[]"), doc, out);
            }
        }
        _ => out.push((path.to_string(), v)),
    }
}

fn has_prefix(doc: &Doc, prefix: &str) -> bool {
    doc.json.keys().any(|k| k.starts_with(prefix))
}

fn type_ok(f: &Field, v: &Value) -> bool {
    match v {
        Value::Null => f.nullable,
        Value::String(_) => f.ty == "string",
        Value::Bool(_) => f.ty == "boolean",
        Value::Number(n) => match f.ty.as_str() {
            "integer" => n.is_i64() || n.is_u64(),
            "number" => true,
            _ => false,
        },
        Value::Object(m) => {
            f.ty == "summary" && m.len() == 8 && SUMMARY_KEYS.iter().all(|k| m.contains_key(*k))
        }
        Value::Array(_) => false,
    }
}

fn check_csv(name: &str, c: &Correlation, doc: &Doc) {
    let dir = std::env::temp_dir().join(format!("lagtap-schemas-{name}-{}", std::process::id()));
    let files = lagtap::report::write_samples(&dir, c).unwrap();
    assert_eq!(
        files.len(),
        doc.csv.len(),
        "{name}: one documented table per file"
    );
    for f in files {
        let file = f.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let documented = doc
            .csv
            .get(&file)
            .unwrap_or_else(|| panic!("{file} is not documented in docs/results.md"));
        assert_eq!(
            &header, documented,
            "{name}: {file} columns against docs/results.md"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// pyarrow's name of an Arrow type, as docs/results.md writes it.
#[cfg(feature = "parquet")]
fn pyarrow_name(t: &arrow_schema::DataType) -> String {
    use arrow_schema::{DataType, TimeUnit};
    match t {
        DataType::Utf8 => "string".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Float64 => "double".into(),
        DataType::Timestamp(TimeUnit::Nanosecond, Some(tz)) => format!("timestamp[ns, tz={tz}]"),
        other => format!("{other:?} (not a sample column type)"),
    }
}

/// The Parquet sample files: the same tables as the CSV files, each column with its
/// documented type, as the files' own schemas say.
#[cfg(feature = "parquet")]
fn check_parquet(name: &str, c: &Correlation, doc: &Doc) {
    use lagtap::report::SamplesFormat;
    let dir = std::env::temp_dir().join(format!("lagtap-schemas-pq-{name}-{}", std::process::id()));
    let files = lagtap::report::write_samples_as(&dir, c, SamplesFormat::Parquet).unwrap();
    assert_eq!(
        files.len(),
        doc.parquet.len(),
        "{name}: one documented table per file"
    );
    for f in files {
        let table = f.file_stem().unwrap().to_str().unwrap().to_string();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&f).unwrap(),
        )
        .unwrap();
        let written: Vec<(String, String)> = reader
            .schema()
            .fields()
            .iter()
            .map(|fl| (fl.name().clone(), pyarrow_name(fl.data_type())))
            .collect();
        let documented = doc
            .parquet
            .get(&format!("{table}.csv"))
            .unwrap_or_else(|| panic!("{table} is not documented in docs/results.md"));
        assert_eq!(
            &written, documented,
            "{name}: {table}.parquet columns and types against docs/results.md"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_and_csv_are_exactly_as_documented_on_every_bundled_capture() {
    let doc = read_doc();
    assert!(
        doc.json.len() > 100,
        "docs/results.md lists the JSON fields"
    );
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for name in SCENARIOS {
        let c = correlate(decode(&scenario::dir(name)), &CorrelateOptions::default());
        let v = lagtap::report::json::to_value(&c);
        assert_eq!(v["schema"], lagtap::report::json::SCHEMA);
        let mut leaves = Vec::new();
        flatten(&v, "", &doc, &mut leaves);
        for (path, value) in leaves {
            let f = doc
                .json
                .get(&path)
                .unwrap_or_else(|| panic!("{name}: {path} is written but not in docs/results.md"));
            assert!(type_ok(f, value), "{name}: {path} = {value} is not a {f:?}");
            seen.insert(path);
        }
        check_csv(name, &c, &doc);
        #[cfg(feature = "parquet")]
        check_parquet(name, &c, &doc);
    }
    // Maps keyed by reason are empty on clean captures, and so are the warnings and
    // every host's damage list (tests/correlate_guards.rs writes both): they are the
    // only documented fields allowed to be absent from all five.
    let absent: Vec<&String> = doc
        .json
        .keys()
        .filter(|k| {
            !seen.contains(*k)
                && !k.ends_with("unmatched.*")
                && !k.starts_with("hosts[].damage[].")
                && *k != "warnings[]"
        })
        .collect();
    assert!(
        absent.is_empty(),
        "documented but never written: {absent:?}"
    );
}
