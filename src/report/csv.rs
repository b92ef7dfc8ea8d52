//! CSV sample files (`--samples DIR`, the default format): one row per sample, a
//! header row, instants as RFC 3339 with nanoseconds (and the main ones again as
//! integer nanoseconds since the epoch, `*_ns`), durations in milliseconds with
//! nanosecond digits. The tables are `samples.rs`'s; every column is documented in
//! docs/results.md, and tests/result_schemas.rs holds the two together.

use std::io::{self, Write};

use crate::correlate::Correlation;

use super::samples::{Cell, SampleTable};
use super::{ms, time, Exporter};

/// Writes one sample table as CSV.
pub struct CsvExporter(pub SampleTable);

fn err(e: csv::Error) -> io::Error {
    io::Error::other(e)
}

/// A cell as CSV text: exact decimal milliseconds, RFC 3339 instants, an empty
/// string for unknown.
fn render(c: &Cell) -> String {
    match c {
        Cell::Text(t) => t.clone(),
        Cell::Int(v) => v.to_string(),
        Cell::UInt(v) => v.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Time(ns) => time(*ns),
        Cell::Ms(ns) => ms(*ns),
        Cell::Kbps(v) => format!("{v:.3}"),
        Cell::Null => String::new(),
    }
}

impl Exporter for CsvExporter {
    fn export(&self, c: &Correlation, out: &mut dyn Write) -> io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(self.0.columns().iter().map(|(name, _)| name))
            .map_err(err)?;
        self.0
            .for_each_row(c, |row| w.write_record(row.iter().map(render)).map_err(err))?;
        w.flush()
    }
}
