//! The sample tables of `correlate --samples DIR`: every column once, with its type,
//! and the rows, so that the CSV files and the Parquet files are the same tables
//! (same columns, same order, same rows) and docs/results.md documents both at once.
//! Each format renders a cell its own way: an instant is RFC 3339 text in CSV and a
//! timestamp in Parquet, a duration exact decimal milliseconds in CSV and a float
//! of milliseconds in Parquet.

use crate::correlate::Correlation;

/// A sample table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SampleTable {
    Messaging,
    Broadcast,
    Switching,
    SourceHealth,
    RtmpPlay,
}

/// What a column holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    Int,
    UInt,
    Bool,
    /// An instant, nanoseconds since the epoch (reference clock).
    Time,
    /// A duration in nanoseconds, shown in milliseconds.
    Ms,
    /// Kilobits per second.
    Kbps,
}

/// One cell; `Null` is unknown (an empty CSV cell, a Parquet null).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Time(i64),
    Ms(i64),
    Kbps(f64),
    Null,
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> Cell) -> Cell {
    v.map_or(Cell::Null, f)
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn uint(v: impl Into<u64>) -> Cell {
    Cell::UInt(v.into())
}

use Ty::{Bool, Int, Kbps, Ms, Text, Time, UInt};

const MESSAGING: &[(&str, Ty)] = &[
    ("sender", Text),
    ("receiver", Text),
    ("channel", Text),
    ("command", Text),
    ("text", Text),
    ("sent", Time),
    ("received", Time),
    ("latency_ms", Ms),
    ("error_ms", Ms),
    ("method", Text),
    ("msg_id", Text),
    ("server_time", Time),
    ("uplink_ms", Ms),
    ("downlink_ms", Ms),
    ("sent_ns", Int),
    ("received_ns", Int),
];

const BROADCAST: &[(&str, Ty)] = &[
    ("broadcaster", Text),
    ("viewer", Text),
    ("stream", Text),
    ("segment", Text),
    ("pts", Int),
    ("keyframe", Bool),
    ("sent", Time),
    ("received", Time),
    ("latency_ms", Ms),
    ("source_latency_ms", Ms),
    ("error_ms", Ms),
    ("method", Text),
    ("media_sequence", UInt),
    ("first_in_segment", Bool),
    ("rtmp_ts_ms", UInt),
    ("ingest", Time),
    ("listed", Time),
    ("shown", Time),
    ("display_latency_ms", Ms),
    ("upload_ms", Ms),
    ("packaging_ms", Ms),
    ("to_listed_ms", Ms),
    ("delivery_ms", Ms),
    ("buffering_ms", Ms),
    ("join_artefact", Bool),
    ("sent_ns", Int),
    ("received_ns", Int),
    ("shown_ns", Int),
    ("arrived", Time),
    ("arrival_latency_ms", Ms),
    ("arrived_ns", Int),
    ("produced", Time),
    ("prft_latency_ms", Ms),
    ("encoder_to_wire_ms", Ms),
    ("part", UInt),
    ("part_latency_ms", Ms),
];

const SWITCHING: &[(&str, Ty)] = &[
    ("viewer", Text),
    ("from", Text),
    ("to", Text),
    ("started", Time),
    ("first_segment", Time),
    ("shown", Time),
    ("shown_latency_ms", Ms),
    ("first_segment_latency_ms", Ms),
    ("k", UInt),
    ("started_ns", Int),
];

const SOURCE_HEALTH: &[(&str, Ty)] = &[
    ("broadcaster", Text),
    ("stream", Text),
    ("window_start", Time),
    ("bytes", UInt),
    ("goodput_kbps", Kbps),
    ("video_bytes", UInt),
    ("audio_bytes", UInt),
    ("video_frames", UInt),
    ("keyframes", UInt),
    ("missing_frames", UInt),
    ("latency_samples", UInt),
    ("display_latency_mean_ms", Ms),
    ("display_latency_max_ms", Ms),
    ("latency_mean_ms", Ms),
    ("latency_max_ms", Ms),
    ("source_latency_mean_ms", Ms),
    ("source_latency_max_ms", Ms),
    ("retransmissions", UInt),
    ("zero_windows", UInt),
    ("gaps", UInt),
    ("window_start_ns", Int),
    ("encoder_dropped", UInt),
    ("encoder_lagged", UInt),
    ("encoder_to_wire_max_ms", Ms),
];

const RTMP_PLAY: &[(&str, Ty)] = &[
    ("broadcaster", Text),
    ("viewer", Text),
    ("stream", Text),
    ("rtmp_ts_ms", UInt),
    ("sent_rtmp_ts_ms", UInt),
    ("keyframe", Bool),
    ("sent", Time),
    ("ingest", Time),
    ("received", Time),
    ("latency_ms", Ms),
    ("upload_ms", Ms),
    ("relay_ms", Ms),
    ("error_ms", Ms),
    ("method", Text),
    ("sent_ns", Int),
    ("received_ns", Int),
    ("shown", Time),
    ("display_latency_ms", Ms),
    ("buffering_ms", Ms),
];

impl SampleTable {
    pub const ALL: [SampleTable; 5] = [
        SampleTable::Messaging,
        SampleTable::Broadcast,
        SampleTable::Switching,
        SampleTable::SourceHealth,
        SampleTable::RtmpPlay,
    ];

    /// The file name without its extension.
    pub fn name(self) -> &'static str {
        match self {
            SampleTable::Messaging => "messaging",
            SampleTable::Broadcast => "broadcast",
            SampleTable::Switching => "switching",
            SampleTable::SourceHealth => "source_health",
            SampleTable::RtmpPlay => "rtmp_play",
        }
    }

    /// The columns in order, with their types.
    pub fn columns(self) -> &'static [(&'static str, Ty)] {
        match self {
            SampleTable::Messaging => MESSAGING,
            SampleTable::Broadcast => BROADCAST,
            SampleTable::Switching => SWITCHING,
            SampleTable::SourceHealth => SOURCE_HEALTH,
            SampleTable::RtmpPlay => RTMP_PLAY,
        }
    }

    /// Hands each row of the table to `f`, one at a time (the broadcast table has a
    /// row per frame and viewer: it is never built whole).
    pub fn for_each_row<E>(
        self,
        c: &Correlation,
        mut f: impl FnMut(&[Cell]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            SampleTable::Messaging => {
                for s in &c.messaging.samples {
                    f(&[
                        text(&s.sender),
                        text(&s.receiver),
                        text(&s.channel),
                        text(s.command.as_str()),
                        text(&s.text),
                        Cell::Time(s.sent_ns),
                        Cell::Time(s.received_ns),
                        Cell::Ms(s.latency_ns),
                        Cell::Ms(s.error_ns),
                        Cell::Text(s.method.to_string()),
                        opt(s.msg_id.as_deref(), text),
                        opt(s.server_ns, Cell::Time),
                        opt(s.uplink_ns, Cell::Ms),
                        opt(s.downlink_ns, Cell::Ms),
                        Cell::Int(s.sent_ns),
                        Cell::Int(s.received_ns),
                    ])?;
                }
            }
            SampleTable::Broadcast => {
                for s in &c.broadcast.samples {
                    let rtmp_ts =
                        s.tx.map(|(si, fi)| c.broadcast.streams[si].video[fi].rtmp_ts_ms);
                    f(&[
                        text(&s.broadcaster),
                        text(&s.viewer),
                        text(&s.stream),
                        text(&s.segment),
                        Cell::Int(s.pts),
                        Cell::Bool(s.keyframe),
                        Cell::Time(s.sent_ns),
                        Cell::Time(s.received_ns),
                        Cell::Ms(s.latency_ns),
                        opt(s.source_latency_ns, Cell::Ms),
                        Cell::Ms(s.error_ns),
                        Cell::Text(s.method.to_string()),
                        opt(s.media_sequence, uint),
                        Cell::Bool(s.first_in_segment),
                        opt(rtmp_ts, uint),
                        opt(s.ingest_ns, Cell::Time),
                        Cell::Time(s.listed_ns),
                        opt(s.shown_ns, Cell::Time),
                        opt(s.display_latency_ns, Cell::Ms),
                        opt(s.legs.upload_ns, Cell::Ms),
                        opt(s.legs.packaging_ns, Cell::Ms),
                        Cell::Ms(s.legs.to_listed_ns),
                        Cell::Ms(s.legs.delivery_ns),
                        opt(s.legs.buffering_ns, Cell::Ms),
                        Cell::Bool(s.join_artefact),
                        Cell::Int(s.sent_ns),
                        Cell::Int(s.received_ns),
                        opt(s.shown_ns, Cell::Int),
                        Cell::Time(s.arrived_ns),
                        Cell::Ms(s.arrival_latency_ns),
                        Cell::Int(s.arrived_ns),
                        opt(s.produced_ns, Cell::Time),
                        opt(s.prft_latency_ns, Cell::Ms),
                        opt(s.encoder_to_wire_ns, Cell::Ms),
                        opt(s.part, |k| uint(u64::from(k))),
                        opt(s.part_latency_ns, Cell::Ms),
                    ])?;
                }
            }
            SampleTable::Switching => {
                for s in &c.switching.switches {
                    f(&[
                        text(&s.viewer),
                        text(&s.from),
                        text(&s.to),
                        Cell::Time(s.started_ns),
                        opt(s.first_segment_ns, Cell::Time),
                        opt(s.shown_ns, Cell::Time),
                        opt(s.shown_latency_ns, Cell::Ms),
                        opt(s.first_segment_latency_ns, Cell::Ms),
                        Cell::UInt(s.k as u64),
                        Cell::Int(s.started_ns),
                    ])?;
                }
            }
            SampleTable::SourceHealth => {
                for s in &c.source_health.streams {
                    for w in &s.windows {
                        f(&[
                            text(&s.broadcaster),
                            text(&s.stream),
                            Cell::Time(w.start_ns),
                            uint(w.bytes),
                            Cell::Kbps(w.bytes as f64 * 8.0 / 1000.0),
                            uint(w.video_bytes),
                            uint(w.audio_bytes),
                            uint(w.video_frames),
                            uint(w.keyframes),
                            uint(w.missing_frames),
                            uint(w.latency_count),
                            opt(w.display_latency_mean_ns, Cell::Ms),
                            opt(w.display_latency_max_ns, Cell::Ms),
                            opt(w.latency_mean_ns, Cell::Ms),
                            opt(w.latency_max_ns, Cell::Ms),
                            opt(w.source_latency_mean_ns, Cell::Ms),
                            opt(w.source_latency_max_ns, Cell::Ms),
                            uint(w.retransmissions),
                            uint(w.zero_windows),
                            uint(w.gaps),
                            Cell::Int(w.start_ns),
                            opt(w.encoder_dropped, uint),
                            opt(w.encoder_lagged, uint),
                            opt(w.encoder_to_wire_max_ns, Cell::Ms),
                        ])?;
                    }
                }
            }
            SampleTable::RtmpPlay => {
                for s in &c.rtmp_play.samples {
                    f(&[
                        text(&s.broadcaster),
                        text(&s.viewer),
                        text(&s.stream),
                        uint(s.rtmp_ts_ms),
                        uint(s.sent_rtmp_ts_ms),
                        Cell::Bool(s.keyframe),
                        Cell::Time(s.sent_ns),
                        opt(s.ingest_ns, Cell::Time),
                        Cell::Time(s.received_ns),
                        Cell::Ms(s.latency_ns),
                        opt(s.upload_ns, Cell::Ms),
                        opt(s.relay_ns, Cell::Ms),
                        Cell::Ms(s.error_ns),
                        text(s.method.as_str()),
                        Cell::Int(s.sent_ns),
                        Cell::Int(s.received_ns),
                        opt(s.shown_ns, Cell::Time),
                        opt(s.display_latency_ns, Cell::Ms),
                        opt(s.buffering_ns, Cell::Ms),
                    ])?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "parquet")]
pub use with_parquet::write_parquet;

#[cfg(feature = "parquet")]
mod with_parquet {
    use std::path::Path;

    use arrow_schema::{DataType, FieldRef};
    use serde::ser::{Serialize, SerializeSeq, Serializer};

    use super::{Cell, SampleTable, Ty};
    use crate::correlate::Correlation;
    use crate::tables::{field, timestamp, TableWriter};

    /// The Arrow type of a column: instants as timestamps, durations and rates as
    /// float milliseconds and kb/s (as the JSON report has them).
    pub fn arrow_type(ty: Ty) -> DataType {
        match ty {
            Ty::Text => DataType::Utf8,
            Ty::Int => DataType::Int64,
            Ty::UInt => DataType::UInt64,
            Ty::Bool => DataType::Boolean,
            Ty::Time => timestamp(),
            Ty::Ms | Ty::Kbps => DataType::Float64,
        }
    }

    impl Serialize for Cell {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Cell::Text(t) => s.serialize_str(t),
                Cell::Int(v) | Cell::Time(v) => s.serialize_i64(*v),
                Cell::UInt(v) => s.serialize_u64(*v),
                Cell::Bool(b) => s.serialize_bool(*b),
                Cell::Ms(ns) => s.serialize_f64(*ns as f64 / 1e6),
                Cell::Kbps(v) => s.serialize_f64(*v),
                Cell::Null => s.serialize_none(),
            }
        }
    }

    /// A row: its cells in column order (serde_arrow fills a struct from a
    /// sequence by position).
    struct Row<'a>(&'a [Cell]);

    impl Serialize for Row<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for c in self.0 {
                seq.serialize_element(c)?;
            }
            seq.end()
        }
    }

    /// Writes `table` to `path` as Parquet; every column may be null (where the
    /// CSV cell is empty).
    pub fn write_parquet(table: SampleTable, c: &Correlation, path: &Path) -> anyhow::Result<()> {
        let fields: Vec<FieldRef> = table
            .columns()
            .iter()
            .map(|(name, ty)| field(name, arrow_type(*ty), true))
            .collect();
        let mut w = TableWriter::create(path, fields)?;
        table.for_each_row(c, |row| w.push(&Row(row)))?;
        w.finish()?;
        Ok(())
    }
}
