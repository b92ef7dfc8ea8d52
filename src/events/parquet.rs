//! Events as a Parquet dataset: `lagtap decode --format parquet --output DIR`, and
//! what `lagtap correlate` reads back (decode once, correlate many times).
//!
//! One table per event kind, hive-partitioned by host, so pyarrow, polars, DuckDB
//! and Spark read a kind across hosts as one table with a `host` column:
//!
//! ```text
//! DIR/_lagtap_events.json                       the marker: {"format": FORMAT}
//! DIR/<kind>/host=<host>/part-0.parquet         one file per kind and host
//! ```
//!
//! Every kind gets a file for every host, empty or not, so each table's schema is
//! in the dataset whatever a capture held. Each row has `seq`, the event's place in
//! its host's timeline as `decode` wrote it: merging a host's tables by `seq` gives
//! back the JSON Lines order exactly, ties and late events included, which sorting
//! by time alone could not. Columns are the JSON Lines fields (docs/events.md) with
//! these differences: times are Arrow timestamps (ns, UTC), `capture` has no `host`
//! (the partition is the host) and `http_exchange`'s `host` (the Host header) is
//! `http_host`, so it cannot collide with the partition column; the open-ended
//! `rtmp_publish.metadata` and `hls_playlist.variants` are JSON text.
//!
//! The layout (marker, partition names) is here without the `parquet` feature, so a
//! build without it still recognises a dataset and says how to read it.

use std::path::{Path, PathBuf};

/// The file that makes a directory an event dataset; hive readers skip names
/// starting with `_`.
pub const MARKER: &str = "_lagtap_events.json";

/// The dataset layout's version, in the marker. Raised when a column changes
/// meaning or goes away.
pub const FORMAT: &str = "lagtap-events-parquet/1";

/// The event kinds, one table each, as the `kind` tag of JSON Lines names them.
pub const KINDS: [&str; 14] = [
    "capture",
    "rtmp_publish",
    "rtmp_play",
    "rtmp_video",
    "rtmp_audio",
    "http_exchange",
    "hls_playlist",
    "hls_segment",
    "chat_sent",
    "chat_received",
    "ntp_exchange",
    "tcp_event",
    "tls_session",
    "summary",
];

/// Whether `dir` is an event dataset.
pub fn is_dataset(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

/// The partition directory of `host`: `host=<name>`, with every byte but ASCII
/// letters, digits and `-._~` percent-encoded as hive readers decode it (pyarrow's
/// default `segment_encoding="uri"`), so any host name is one path segment.
pub fn partition(host: &str) -> String {
    let mut out = String::from("host=");
    for b in host.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The host a partition directory name stands for.
pub fn host_of(partition: &str) -> Option<String> {
    let encoded = partition.strip_prefix("host=")?;
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file of one kind and host.
pub fn table_path(dir: &Path, kind: &str, host: &str) -> PathBuf {
    dir.join(kind).join(partition(host)).join("part-0.parquet")
}

/// The hosts of a dataset, in name order: those with a `capture` table (every
/// host `decode` wrote has one).
pub fn hosts(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut hosts: Vec<String> = std::fs::read_dir(dir.join("capture"))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| host_of(e.file_name().to_str()?))
        .collect();
    hosts.sort();
    Ok(hosts)
}

#[cfg(feature = "parquet")]
pub use with_parquet::{event_from_row, read_host, schemas, DatasetWriter};

/// Without the `parquet` feature a dataset is recognised but not read.
#[cfg(not(feature = "parquet"))]
pub fn read_host(dir: &Path, _host: &str) -> anyhow::Result<Vec<super::Event>> {
    anyhow::bail!(
        "{} is a Parquet event dataset, but {}",
        dir.display(),
        crate::tables::NOT_BUILT
    )
}

/// Without the `parquet` feature no dataset can be opened for writing, and
/// [`DatasetWriter::create`] says how to get one; the type is here so that callers
/// need no feature gates of their own.
#[cfg(not(feature = "parquet"))]
pub struct DatasetWriter(std::convert::Infallible);

#[cfg(not(feature = "parquet"))]
impl DatasetWriter {
    pub fn create(_dir: &Path, _host: &str) -> anyhow::Result<DatasetWriter> {
        anyhow::bail!("{}", crate::tables::NOT_BUILT)
    }

    pub fn write(&mut self, _e: &super::Event) -> anyhow::Result<()> {
        match self.0 {}
    }

    pub fn finish(self) -> anyhow::Result<u64> {
        match self.0 {}
    }
}

#[cfg(feature = "parquet")]
mod with_parquet {
    use std::path::{Path, PathBuf};

    use anyhow::Context;
    use arrow_schema::{DataType, FieldRef};
    use serde::Serialize;
    use serde_json::{Map, Value};

    use super::{partition, table_path, FORMAT, KINDS, MARKER};
    use crate::events::Event;
    use crate::tables::{field, list, map, timestamp, TableWriter};

    /// The columns of one kind's table, after `seq`.
    fn columns(kind: &str) -> Vec<FieldRef> {
        use DataType::{Boolean, Float64, Int32, Int64, UInt16, UInt32, UInt64, UInt8, Utf8};
        let ts = timestamp;
        let c = |name: &str, ty: DataType| field(name, ty, false);
        let o = |name: &str, ty: DataType| field(name, ty, true);
        // A publish's and a play's: the flow's ends, the session, the command's time.
        let rtmp_session = || {
            vec![
                c("client", Utf8),
                c("server", Utf8),
                o("app", Utf8),
                o("tc_url", Utf8),
                o("tunnel", Utf8),
                c("stream_key", Utf8),
                c("time_ns", ts()),
            ]
        };
        // An encoder timecode (events::timecode), on published frames and on a
        // segment's. Every child nullable, like the encoder's: a frame without a
        // timecode is a null struct, and its children null with it.
        let timecode_type = || {
            DataType::Struct(
                vec![
                    o("source", Utf8),
                    o("num_clock_ts", UInt8),
                    o("clock_timestamps", UInt8),
                    o("pic_struct", UInt8),
                    o("hours", UInt8),
                    o("minutes", UInt8),
                    o("seconds", UInt8),
                    o("frames", UInt16),
                    o("counting_type", UInt8),
                    o("discontinuity", Boolean),
                    o("cnt_dropped", Boolean),
                    o("time_offset", Int64),
                ]
                .into(),
            )
        };
        let mut cols = vec![c("seq", UInt64)];
        if kind != "capture" && kind != "summary" {
            cols.push(c("flow", UInt64));
        }
        let rest = match kind {
            "capture" => vec![
                c("file", Utf8),
                c("files", list(Utf8)),
                c("format", Utf8),
                c("link_types", list(Utf8)),
                c("comments", list(Utf8)),
            ],
            "rtmp_publish" => [rtmp_session(), vec![c("metadata", Utf8)]].concat(),
            "rtmp_play" => rtmp_session(),
            "rtmp_video" => vec![
                o("stream_key", Utf8),
                o("direction", Utf8),
                o("codec", Utf8),
                o("track_id", UInt8),
                c("rtmp_ts_ms", UInt32),
                c("composition_ms", Int32),
                c("keyframe", Boolean),
                c("config", Boolean),
                c("size", UInt32),
                c("nal_types", list(UInt8)),
                o("fingerprint", Utf8),
                c("first_byte_ns", ts()),
                c("last_byte_ns", ts()),
                c("delivered_ns", ts()),
                o(
                    "encoder",
                    DataType::Struct(
                        vec![
                            o("composed_ns", ts()),
                            o("encode_start_ns", ts()),
                            o("encoded_ns", ts()),
                            o("output_ns", ts()),
                            o("rendered", UInt32),
                            o("lagged", UInt32),
                            o("dropped", UInt32),
                            o("output", UInt32),
                            o("encoder_input", UInt32),
                            o("encoder_skipped", UInt32),
                            o("encoded", UInt32),
                        ]
                        .into(),
                    ),
                ),
                o("timecode", timecode_type()),
            ],
            "rtmp_audio" => vec![
                o("stream_key", Utf8),
                o("direction", Utf8),
                o("codec", Utf8),
                o("track_id", UInt8),
                c("rtmp_ts_ms", UInt32),
                c("size", UInt32),
                c("first_byte_ns", ts()),
                c("last_byte_ns", ts()),
            ],
            "http_exchange" => vec![
                c("client", Utf8),
                c("server", Utf8),
                c("method", Utf8),
                c("uri", Utf8),
                o("http_host", Utf8),
                o("status", UInt16),
                o("content_type", Utf8),
                c("body_bytes", UInt64),
                c("request_ns", ts()),
                o("response_first_ns", ts()),
                o("response_last_ns", ts()),
            ],
            "hls_playlist" => vec![
                c("uri", Utf8),
                o("channel", Utf8),
                c("master", Boolean),
                o("media_sequence", UInt64),
                o("target_duration_s", Float64),
                c("endlist", Boolean),
                c(
                    "segments",
                    list(DataType::Struct(
                        vec![
                            c("uri", Utf8),
                            c("media_sequence", UInt64),
                            c("duration_s", Float64),
                            o("program_date_time_ns", ts()),
                            c("discontinuity", Boolean),
                            c("ad", Boolean),
                            c("parts", UInt32),
                            c("prefetch", Boolean),
                        ]
                        .into(),
                    )),
                ),
                c(
                    "parts",
                    list(DataType::Struct(
                        vec![
                            c("uri", Utf8),
                            c("media_sequence", UInt64),
                            c("index", UInt32),
                            c("duration_s", Float64),
                            o("byte_range_start", UInt64),
                            c("independent", Boolean),
                            c("hint", Boolean),
                        ]
                        .into(),
                    )),
                ),
                c("variants", Utf8),
                c("request_ns", ts()),
                c("received_ns", ts()),
            ],
            "hls_segment" => vec![
                c("uri", Utf8),
                o("channel", Utf8),
                o("media_sequence", UInt64),
                o("range_start", UInt64),
                c("status", UInt16),
                c("bytes", UInt64),
                c("request_ns", ts()),
                c("first_byte_ns", ts()),
                c("complete_ns", ts()),
                c(
                    "frames",
                    list(DataType::Struct(
                        vec![
                            c("pts", Int64),
                            c("dts", Int64),
                            c("keyframe", Boolean),
                            o("fingerprint", Utf8),
                            c("size", UInt32),
                            o("received_ns", ts()),
                            o("timecode", timecode_type()),
                        ]
                        .into(),
                    )),
                ),
                o("prft", Utf8),
                o("emsg", Utf8),
            ],
            "chat_sent" | "chat_received" => {
                let mut v = vec![
                    c("command", Utf8),
                    c("channel", Utf8),
                    o("nick", Utf8),
                    c("text", Utf8),
                    o("msg_id", Utf8),
                    o("client_nonce", Utf8),
                ];
                if kind == "chat_received" {
                    v.push(o("own_nick", Utf8));
                    v.push(o("server_time_ns", ts()));
                    v.push(o("tmi_sent_ts_ns", ts()));
                }
                v.push(c("tags", map(Utf8)));
                v.push(c("time_ns", ts()));
                v
            }
            "ntp_exchange" => vec![
                c("client", Utf8),
                c("server", Utf8),
                c("t1_ns", ts()),
                c("t2_ns", ts()),
                c("t3_ns", ts()),
                c("t4_ns", ts()),
                c("offset_ns", Int64),
                c("delay_ns", Int64),
                c("stratum", UInt8),
            ],
            "tcp_event" => vec![
                c("from_client", Boolean),
                c("what", Utf8),
                c("time_ns", ts()),
            ],
            "tls_session" => {
                let pair = || DataType::FixedSizeList(field("item", UInt64, false), 2);
                vec![
                    c("client", Utf8),
                    c("server", Utf8),
                    o("sni", Utf8),
                    c("alpn_offered", list(Utf8)),
                    o("alpn", Utf8),
                    o("version", Utf8),
                    o("cipher_suite", Utf8),
                    c("keys", Utf8),
                    o("inner", Utf8),
                    c("records", pair()),
                    c("bytes", pair()),
                    c("decrypted", pair()),
                    c("undecrypted", pair()),
                    c("bad_mac", pair()),
                    c("time_ns", ts()),
                ]
            }
            "summary" => vec![
                c("packets", UInt64),
                o("first_time_ns", ts()),
                o("last_time_ns", ts()),
                c("link_types", list(Utf8)),
                c("flows_by_protocol", map(UInt64)),
                c("undecodable", map(UInt64)),
                c("anomalies", map(UInt64)),
                c("events", UInt64),
            ],
            other => unreachable!("{other} is not an event kind"),
        };
        cols.extend(rest);
        cols
    }

    /// The columns of every kind's table, in [`KINDS`] order (for docs and tests).
    pub fn schemas() -> Vec<(&'static str, Vec<FieldRef>)> {
        KINDS.iter().map(|k| (*k, columns(k))).collect()
    }

    /// Fields whose values are open-ended JSON (any keys, any value types), kept as
    /// JSON text rather than a schema that would change with the encoder.
    const JSON_TEXT: [(&str, &str); 4] = [
        ("rtmp_publish", "metadata"),
        ("hls_playlist", "variants"),
        ("hls_segment", "prft"),
        ("hls_segment", "emsg"),
    ];

    /// An event as a row of its kind's table.
    fn to_row(e: &Event, seq: u64) -> anyhow::Result<(usize, Map<String, Value>)> {
        let Value::Object(mut row) = serde_json::to_value(e)? else {
            anyhow::bail!("an event that is not a JSON object");
        };
        let kind = match row.remove("kind") {
            Some(Value::String(k)) => k,
            _ => anyhow::bail!("an event without its kind"),
        };
        let index = KINDS
            .iter()
            .position(|k| *k == kind)
            .with_context(|| format!("{kind} is not an event kind of the Parquet layout"))?;
        row.insert("seq".into(), seq.into());
        match kind.as_str() {
            "capture" => {
                row.remove("host");
            }
            "http_exchange" => {
                if let Some(h) = row.remove("host") {
                    row.insert("http_host".into(), h);
                }
            }
            "hls_segment" => {
                // Written only for a range request.
                row.entry("range_start").or_insert(Value::Null);
            }
            "hls_playlist" => {
                // JSON Lines leave `ad` and `parts` out at their defaults; a column
                // has them always.
                if let Some(Value::Array(segments)) = row.get_mut("segments") {
                    for s in segments.iter_mut().filter_map(Value::as_object_mut) {
                        s.entry("ad").or_insert(false.into());
                        s.entry("parts").or_insert(0.into());
                        s.entry("prefetch").or_insert(false.into());
                    }
                }
                let parts = row.entry("parts").or_insert(Value::Array(Vec::new()));
                if let Value::Array(parts) = parts {
                    for p in parts.iter_mut().filter_map(Value::as_object_mut) {
                        p.entry("independent").or_insert(false.into());
                        p.entry("hint").or_insert(false.into());
                        p.entry("byte_range_start").or_insert(Value::Null);
                    }
                }
            }
            _ => {}
        }
        for (k, name) in JSON_TEXT {
            if k == kind {
                if let Some(v) = row.get_mut(name) {
                    *v = Value::String(v.to_string());
                }
            }
        }
        Ok((index, row))
    }

    /// A row of `kind`'s table back as the event it was, with its `seq`.
    /// One row of a `kind` table (columns as in the file, `seq` among them) as its
    /// event and `seq`: what `correlate --cluster`'s `lagtap_event` function does
    /// with each row DataFusion reads.
    pub fn event_from_row(
        kind: &str,
        host: &str,
        row: Map<String, Value>,
    ) -> anyhow::Result<(u64, Event)> {
        from_row(kind, host, row)
    }

    fn from_row(
        kind: &str,
        host: &str,
        mut row: Map<String, Value>,
    ) -> anyhow::Result<(u64, Event)> {
        let seq = row
            .remove("seq")
            .and_then(|s| s.as_u64())
            .context("a row without seq")?;
        match kind {
            "capture" => {
                row.insert("host".into(), host.into());
            }
            "http_exchange" => {
                if let Some(h) = row.remove("http_host") {
                    row.insert("host".into(), h);
                }
            }
            _ => {}
        }
        for (k, name) in JSON_TEXT {
            if k == kind {
                if let Some(v) = row.get_mut(name) {
                    let text = v.as_str().unwrap_or("null");
                    *v = serde_json::from_str(text)
                        .with_context(|| format!("{kind}.{name} is not JSON"))?;
                }
                // A list JSON Lines leave out when empty is a null cell.
                if row.get(name).is_some_and(Value::is_null) && kind == "hls_segment" {
                    row.remove(name);
                }
            }
        }
        row.insert("kind".into(), kind.into());
        let event = serde_json::from_value(Value::Object(row))?;
        Ok((seq, event))
    }

    /// A JSON value as serde_arrow's builders take it: integers as `i64` where they
    /// fit (timestamp columns take nothing else), else as `u64`.
    struct Cell<'a>(&'a Value);

    impl Serialize for Cell<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::{SerializeMap, SerializeSeq};
            match self.0 {
                Value::Null => s.serialize_none(),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                    (Some(i), _) => s.serialize_i64(i),
                    (None, Some(u)) => s.serialize_u64(u),
                    _ => s.serialize_f64(n.as_f64().unwrap_or(f64::NAN)),
                },
                Value::String(t) => s.serialize_str(t),
                Value::Array(a) => {
                    let mut seq = s.serialize_seq(Some(a.len()))?;
                    for v in a {
                        seq.serialize_element(&Cell(v))?;
                    }
                    seq.end()
                }
                Value::Object(o) => {
                    let mut m = s.serialize_map(Some(o.len()))?;
                    for (k, v) in o {
                        m.serialize_entry(k, &Cell(v))?;
                    }
                    m.end()
                }
            }
        }
    }

    /// A row as a map of column name to cell: serde_arrow's struct builder takes a
    /// map as a struct, by column name.
    struct Row<'a>(&'a Map<String, Value>);

    impl Serialize for Row<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                m.serialize_entry(k, &Cell(v))?;
            }
            m.end()
        }
    }

    /// Writes one host's events into a dataset as they stream out of `decode`.
    pub struct DatasetWriter {
        tables: Vec<TableWriter>,
        seq: u64,
    }

    impl DatasetWriter {
        /// Opens every kind's table of `host` in `dir` (created if missing, marked as
        /// a dataset), replacing the host's earlier files: a host decoded again is
        /// the new decode only, other hosts' partitions are left as they are.
        pub fn create(dir: &Path, host: &str) -> anyhow::Result<DatasetWriter> {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let marker = dir.join(MARKER);
            let text = serde_json::json!({ "format": FORMAT }).to_string();
            std::fs::write(&marker, text + "\n")
                .with_context(|| format!("writing {}", marker.display()))?;
            let mut tables = Vec::with_capacity(KINDS.len());
            for kind in KINDS {
                let part: PathBuf = dir.join(kind).join(partition(host));
                if part.is_dir() {
                    std::fs::remove_dir_all(&part)
                        .with_context(|| format!("replacing {}", part.display()))?;
                }
                tables.push(TableWriter::create(
                    &table_path(dir, kind, host),
                    columns(kind),
                )?);
            }
            Ok(DatasetWriter { tables, seq: 0 })
        }

        /// Appends the next event of the host's timeline. A field the kind's table
        /// has no column for (one added to [`Event`] and not here) is an error, not
        /// silently dropped: the dataset would not give the event back.
        pub fn write(&mut self, e: &Event) -> anyhow::Result<()> {
            let (kind, row) = to_row(e, self.seq)?;
            let columns = self.tables[kind].fields();
            if let Some(k) = row.keys().find(|k| !columns.iter().any(|c| c.name() == *k)) {
                anyhow::bail!(
                    "{} events have a field {k} that the Parquet layout has no column for",
                    KINDS[kind]
                );
            }
            self.seq += 1;
            self.tables[kind].push(&Row(&row))
        }

        /// Closes every table; returns the events written.
        pub fn finish(self) -> anyhow::Result<u64> {
            for t in self.tables {
                t.finish()?;
            }
            Ok(self.seq)
        }
    }

    /// One host's events from a dataset, in the order `decode` wrote them.
    pub fn read_host(dir: &Path, host: &str) -> anyhow::Result<Vec<Event>> {
        let marker = dir.join(MARKER);
        let text = std::fs::read_to_string(&marker)
            .with_context(|| format!("reading {}", marker.display()))?;
        let format = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["format"].as_str().map(str::to_string));
        if format.as_deref() != Some(FORMAT) {
            anyhow::bail!(
                "{} is an event dataset of layout {}, this lagtap reads {FORMAT}: decode \
                 the captures again",
                dir.display(),
                format.unwrap_or_else(|| "unknown".into())
            );
        }
        let mut events: Vec<(u64, Event)> = Vec::new();
        for kind in KINDS {
            let part = dir.join(kind).join(partition(host));
            let Ok(entries) = std::fs::read_dir(&part) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            files.sort();
            for f in files {
                crate::tables::for_each_row(&f, |row: Map<String, Value>| {
                    events
                        .push(from_row(kind, host, row).with_context(|| {
                            format!("{}: not a lagtap {kind} row", f.display())
                        })?);
                    Ok(())
                })?;
            }
        }
        if events.is_empty() {
            anyhow::bail!("{} holds no events of host {host}", dir.display());
        }
        events.sort_by_key(|(seq, _)| *seq);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::events::PlaylistEntry;

        /// A published frame with the encoder's timecode, or without one.
        fn video(timecode: Option<Box<crate::events::VideoTimecode>>) -> Event {
            Event::RtmpVideo {
                flow: 1,
                stream_key: None,
                direction: Default::default(),
                codec: None,
                track_id: None,
                rtmp_ts_ms: 40,
                composition_ms: 0,
                keyframe: false,
                config: false,
                size: 9,
                nal_types: Default::default(),
                fingerprint: None,
                first_byte_ns: 1,
                last_byte_ns: 2,
                delivered_ns: 3,
                encoder: None,
                timecode,
            }
        }

        /// What the bundled captures lack: fields JSON Lines leave out at their
        /// defaults (an ad segment, LL-HLS parts), extreme times and ids.
        #[test]
        fn events_the_captures_lack_round_trip() {
            let entry = |ad, parts| PlaylistEntry {
                uri: "/hls/c-1.ts".into(),
                media_sequence: 1,
                duration_s: 2.0,
                program_date_time_ns: None,
                discontinuity: false,
                ad,
                parts,
                prefetch: ad,
            };
            let events = vec![
                Event::Capture {
                    host: "h/1 é".into(),
                    file: "h.pcap".into(),
                    files: vec!["h.pcap".into()],
                    format: "pcap".into(),
                    link_types: vec![],
                    comments: vec![],
                },
                Event::HlsPlaylist {
                    flow: u64::MAX,
                    uri: "/hls/c.m3u8".into(),
                    channel: None,
                    master: false,
                    media_sequence: Some(1),
                    target_duration_s: Some(2.0),
                    endlist: false,
                    segments: vec![entry(true, 3), entry(false, 0)],
                    parts: vec![crate::events::PartEntry {
                        uri: "http://o/ll/c/s3.part0.m4s".into(),
                        media_sequence: 3,
                        index: 0,
                        duration_s: 0.2,
                        byte_range_start: None,
                        independent: true,
                        hint: false,
                    }],
                    variants: vec![],
                    request_ns: i64::MIN,
                    received_ns: -1,
                },
                Event::TcpEvent {
                    flow: 0,
                    from_client: true,
                    what: "gap".into(),
                    time_ns: i64::MAX,
                },
                video(Some(crate::events::timecode::edge_case(
                    "hevc_time_code",
                    i64::MIN,
                ))),
                video(None),
                Event::HlsSegment {
                    flow: 2,
                    uri: "/hls/c-1.ts".into(),
                    channel: None,
                    media_sequence: Some(1),
                    range_start: Some(0),
                    status: 200,
                    bytes: 188,
                    request_ns: 1,
                    first_byte_ns: 2,
                    complete_ns: 3,
                    frames: vec![crate::events::SegmentFrame {
                        pts: 0,
                        dts: 0,
                        keyframe: true,
                        fingerprint: None,
                        size: 100,
                        received_ns: Some(3),
                        timecode: Some(crate::events::timecode::edge_case("h264_pic_timing", 0)),
                    }],
                    prft: Box::new([]),
                    emsg: Box::new([]),
                },
            ];
            let dir = std::env::temp_dir().join(format!("lagtap-pq-unit-{}", std::process::id()));
            let mut w = DatasetWriter::create(&dir, "h/1 é").unwrap();
            for e in &events {
                w.write(e).unwrap();
            }
            assert_eq!(w.finish().unwrap(), 6);
            assert_eq!(super::super::hosts(&dir).unwrap(), ["h/1 é"]);
            assert_eq!(read_host(&dir, "h/1 é").unwrap(), events);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_encode_any_host_name_and_decode_back() {
        for host in ["desktop", "viewer 2/α=1%", "a.b-c_d~e", ""] {
            let p = partition(host);
            assert!(!p[5..].contains(['/', '=', ' ']), "{p}");
            assert_eq!(host_of(&p).as_deref(), Some(host));
        }
        assert_eq!(partition("viewer 2"), "host=viewer%202");
        assert_eq!(host_of("kind=x"), None);
        assert_eq!(host_of("host=%zz"), None);
    }
}
