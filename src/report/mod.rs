//! Reports of a correlation: human tables, JSON, CSV sample files, behind one
//! exporter trait.

pub mod csv;
pub mod html;
pub mod json;
pub mod outputs;
pub mod plots;
mod rows;
pub mod samples;
pub mod table;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::correlate::{correlate, CorrelateOptions, Correlation, HostEvents};

/// Writes a correlation in one format.
pub trait Exporter {
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()>;
}

/// Milliseconds with nanosecond digits, exactly (no float rounding): `-1.000250`.
pub fn ms(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

/// RFC 3339 with nanoseconds.
pub fn time(ns: i64) -> String {
    crate::time::Timestamp(ns).to_rfc3339()
}

/// The report formats of `lagtap correlate`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// The file format of the sample tables (`correlate --samples DIR --format`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplesFormat {
    #[default]
    Csv,
    /// Needs the `parquet` cargo feature.
    Parquet,
}

impl SamplesFormat {
    /// Fails at once, before any decoding, when this build cannot write the format.
    pub fn check(self) -> anyhow::Result<()> {
        if self == SamplesFormat::Parquet && !cfg!(feature = "parquet") {
            anyhow::bail!("--format parquet: {}", crate::tables::NOT_BUILT);
        }
        Ok(())
    }
}

/// Write the CSV sample files into `dir` (created if missing).
pub fn write_samples(dir: &Path, c: &Correlation) -> anyhow::Result<Vec<PathBuf>> {
    write_samples_as(dir, c, SamplesFormat::Csv)
}

/// Write every sample table into `dir` (created if missing) as `<table>.csv` or
/// `<table>.parquet`; returns the files written.
pub fn write_samples_as(
    dir: &Path,
    c: &Correlation,
    format: SamplesFormat,
) -> anyhow::Result<Vec<PathBuf>> {
    format.check()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for table in samples::SampleTable::ALL {
        let path = match format {
            SamplesFormat::Csv => {
                let path = dir.join(format!("{}.csv", table.name()));
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                let mut w = io::BufWriter::new(f);
                csv::CsvExporter(table)
                    .export(c, &mut w)
                    .and_then(|_| w.flush())
                    .with_context(|| format!("writing {}", path.display()))?;
                path
            }
            SamplesFormat::Parquet => {
                let path = dir.join(format!("{}.parquet", table.name()));
                #[cfg(feature = "parquet")]
                samples::write_parquet(table, c, &path)?;
                path
            }
        };
        written.push(path);
    }
    Ok(written)
}

/// `lagtap correlate` after decoding: correlate, print the report to `out`, and
/// write the sample files when asked. `input_warnings` (inputs left out before
/// decoding) head the correlation's own warnings.
pub fn run_correlate(
    hosts: Vec<HostEvents>,
    opts: &CorrelateOptions,
    input_warnings: Vec<String>,
    format: Format,
    samples: Option<(&Path, SamplesFormat)>,
    out: &mut dyn Write,
) -> anyhow::Result<Correlation> {
    report_correlation(correlate(hosts, opts), input_warnings, format, samples, out)
}

/// The report of a correlation made elsewhere (`correlate --cluster`): the input
/// warnings first, then as [`run_correlate`].
pub fn report_correlation(
    mut c: Correlation,
    input_warnings: Vec<String>,
    format: Format,
    samples: Option<(&Path, SamplesFormat)>,
    out: &mut dyn Write,
) -> anyhow::Result<Correlation> {
    c.warnings.splice(0..0, input_warnings);
    match format {
        Format::Table => table::TableExporter.export(&c, out)?,
        Format::Json => json::JsonExporter.export(&c, out)?,
    }
    if let Some((dir, samples_format)) = samples {
        write_samples_as(dir, &c, samples_format)?;
    }
    Ok(c)
}

/// The warnings, one line each, for standard error: results go to standard output,
/// what a reader must act on goes here (and stays in the JSON's `warnings`).
pub fn write_warnings(c: &Correlation, err: &mut dyn Write) -> io::Result<()> {
    for w in &c.warnings {
        writeln!(err, "lagtap: warning: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ms_is_exact_and_signed() {
        assert_eq!(super::ms(1_234_567), "1.234567");
        assert_eq!(super::ms(-250), "-0.000250");
        assert_eq!(super::ms(0), "0.000000");
    }
}

#[cfg(test)]
mod export_tests {
    use std::collections::BTreeMap;

    use super::csv::CsvExporter;
    use super::json::to_value;
    use super::samples::SampleTable;
    use super::Exporter;
    use crate::correlate::{correlate, CorrelateOptions, HostEvents};
    use crate::events::{ChatCommand, ChatReceived, Event};

    const T: i64 = 1_795_581_166_231_124_062;

    fn chat_pair() -> crate::correlate::Correlation {
        let sent = Event::ChatSent {
            flow: 1,
            command: ChatCommand::Privmsg,
            channel: "#lagtap".into(),
            nick: Some("desktop".into()),
            text: "hi, \"all\"".into(),
            msg_id: None,
            client_nonce: None,
            tags: BTreeMap::new(),
            time_ns: T,
        };
        let recv = Event::ChatReceived(Box::new(ChatReceived {
            flow: 1,
            command: ChatCommand::Privmsg,
            channel: "#lagtap".into(),
            nick: Some("desktop".into()),
            text: "hi, \"all\"".into(),
            msg_id: Some("519~1~0".into()),
            client_nonce: None,
            own_nick: Some("mobile".into()),
            server_time_ns: Some(1_795_581_166_231_000_000),
            tmi_sent_ts_ns: None,
            tags: BTreeMap::new(),
            time_ns: T + 466_839,
        }));
        let hosts = vec![
            HostEvents {
                name: "desktop".into(),
                file: "desktop.pcap".into(),
                events: vec![sent],
            },
            HostEvents {
                name: "mobile".into(),
                file: "mobile.pcapng".into(),
                events: vec![recv],
            },
        ];
        correlate(hosts, &CorrelateOptions::default())
    }

    #[test]
    fn messaging_csv_is_quoted_and_exact() {
        let mut out = Vec::new();
        CsvExporter(SampleTable::Messaging)
            .export(&chat_pair(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "sender,receiver,channel,command,text,sent,received,latency_ms,error_ms,method,msg_id,server_time,uplink_ms,downlink_ms,sent_ns,received_ns\n\
             desktop,mobile,#lagtap,PRIVMSG,\"hi, \"\"all\"\"\",2026-11-25T04:32:46.231124062Z,2026-11-25T04:32:46.231590901Z,0.466839,0.000000,text_occurrence,519~1~0,2026-11-25T04:32:46.231000000Z,-0.124062,0.590901,1795581166231124062,1795581166231590901\n"
        );
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v = to_value(&chat_pair());
        let summary_keys = [
            "count", "mean_ms", "ci95_ms", "min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms",
        ];
        for s in [
            &v["messaging"]["summary"],
            &v["messaging"]["by_sender"]["desktop"],
            &v["messaging"]["by_receiver"]["mobile"],
            &v["broadcast"]["display_summary"],
            &v["broadcast"]["legs"]["delivery"],
            &v["broadcast"]["wire_summary"],
            &v["switching"]["shown_summary"],
            &v["switching"]["first_segment_summary"],
        ] {
            for k in summary_keys {
                assert!(s.get(k).is_some(), "{k} missing in {s}");
            }
        }
        assert_eq!(v["messaging"]["summary"]["count"], 1);
        assert_eq!(v["schema"], super::json::SCHEMA);
        assert_eq!(v["hosts"][0]["clock"]["source"], "none");
        for k in ["offset_ms", "error_ms", "drift_ppm", "source"] {
            assert!(v["hosts"][1]["clock"].get(k).is_some());
        }
        assert_eq!(v["hosts"][1]["roles"][0], "chat");
        assert!(v["messaging"]["unmatched"].is_object());
        assert!(v["broadcast"]["by_viewer"].is_object());
        assert!(v["broadcast"]["by_stream"].is_object());
        assert!(v["switching"]["switches"].is_array());
        assert!(v["source_health"].is_object());
        // Both hosts lack NTP: said loudly (and nothing else).
        assert_eq!(v["warnings"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn table_report_is_pinned() {
        let mut out = Vec::new();
        super::table::TableExporter
            .export(&chat_pair(), &mut out)
            .unwrap();
        // Regenerate deliberately when the layout changes.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            include_str!("testdata/chat_pair_table.txt")
        );
    }
}
