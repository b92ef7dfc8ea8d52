//! Parquet files of rows, for the tables lagtap writes and reads: the event datasets
//! of `decode --format parquet` (`events::parquet`) and the sample tables of
//! `correlate --samples DIR --format parquet` (`report::samples`).
//!
//! Rows are anything serde can write as a struct, a map or a sequence in the
//! schema's column order; serde_arrow turns them into Arrow arrays against the
//! explicit schema its caller gives, so the columns and their types are ours and
//! documented, never inferred from whatever rows came first. Rows are gathered into
//! record batches of [`BATCH_ROWS`] and handed to parquet's writer, which closes a row
//! group at [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] encoded bytes: memory stays
//! bounded however many rows stream through, as `decode` needs.
//!
//! Without the `parquet` cargo feature only [`NOT_BUILT`] is here, for the error
//! that says how to get it.

/// What lagtap says when Parquet is asked of a build without the `parquet` feature.
pub const NOT_BUILT: &str = "this lagtap was built without Parquet support; rebuild it with \
     `cargo build --release --features parquet` (the arrow and parquet crates add a few \
     minutes to a clean build, so they are not in the default one)";

#[cfg(feature = "parquet")]
pub use with_parquet::*;

#[cfg(feature = "parquet")]
mod with_parquet {
    use std::fs::File;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use anyhow::Context;
    use arrow_schema::{DataType, Field, FieldRef, Schema, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    use serde::Serialize;

    /// Rows gathered before they become one record batch.
    pub const BATCH_ROWS: usize = 4096;
    /// A row group ends at this many rows...
    pub const ROW_GROUP_ROWS: usize = 64 * 1024;
    /// ... or this many encoded bytes, whichever comes first: the writer holds one
    /// row group of each open table in memory.
    pub const ROW_GROUP_BYTES: usize = 16 << 20;

    /// Instants: nanoseconds since the epoch, UTC, as pandas, polars and DuckDB read
    /// as datetimes.
    pub fn timestamp() -> DataType {
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    }

    /// A column.
    pub fn field(name: &str, ty: DataType, nullable: bool) -> FieldRef {
        Arc::new(Field::new(name, ty, nullable))
    }

    /// A list of non-null `item`s (Arrow's and pyarrow's default item name).
    pub fn list(item: DataType) -> DataType {
        DataType::List(Arc::new(Field::new("item", item, false)))
    }

    /// A map of string keys to `value`s, as Arrow lays maps out (`entries` of `key`,
    /// `value`).
    pub fn map(value: DataType) -> DataType {
        let entries = Field::new(
            "entries",
            DataType::Struct(
                vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", value, false),
                ]
                .into(),
            ),
            false,
        );
        DataType::Map(Arc::new(entries), false)
    }

    /// One Parquet file being written, row by row.
    pub struct TableWriter {
        path: PathBuf,
        fields: Vec<FieldRef>,
        builder: serde_arrow::ArrayBuilder,
        pending: usize,
        rows: u64,
        writer: ArrowWriter<File>,
    }

    impl TableWriter {
        /// Creates (or replaces) the file at `path` for rows of `fields`.
        pub fn create(path: &Path, fields: Vec<FieldRef>) -> anyhow::Result<TableWriter> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            // Snappy: fast, and read by every Parquet tool; the other codecs would
            // each add a C or Rust library to the build.
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
                .build();
            let schema = Arc::new(Schema::new(fields.clone()));
            let writer = ArrowWriter::try_new(file, schema, Some(props))
                .with_context(|| format!("writing {}", path.display()))?;
            let builder = serde_arrow::ArrayBuilder::from_arrow(&fields)
                .with_context(|| format!("schema of {}", path.display()))?;
            Ok(TableWriter {
                path: path.to_path_buf(),
                fields,
                builder,
                pending: 0,
                rows: 0,
                writer,
            })
        }

        /// Appends one row.
        pub fn push(&mut self, row: &impl Serialize) -> anyhow::Result<()> {
            self.builder
                .push(row)
                .with_context(|| format!("a row of {}", self.path.display()))?;
            self.pending += 1;
            self.rows += 1;
            if self.pending >= BATCH_ROWS {
                self.write_batch()?;
            }
            Ok(())
        }

        fn write_batch(&mut self) -> anyhow::Result<()> {
            if self.pending == 0 {
                return Ok(());
            }
            let batch = self
                .builder
                .to_record_batch()
                .with_context(|| format!("rows of {}", self.path.display()))?;
            self.pending = 0;
            self.writer
                .write(&batch)
                .with_context(|| format!("writing {}", self.path.display()))
        }

        /// Writes what is pending and the file's footer; returns the rows written.
        pub fn finish(mut self) -> anyhow::Result<u64> {
            self.write_batch()?;
            self.writer
                .close()
                .with_context(|| format!("closing {}", self.path.display()))?;
            Ok(self.rows)
        }

        /// The columns, as given.
        pub fn fields(&self) -> &[FieldRef] {
            &self.fields
        }
    }

    /// Every row of a Parquet file, deserialized one record batch at a time.
    pub fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
        let mut rows = Vec::new();
        for_each_row(path, |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Hands every row of a Parquet file to `f`, one record batch deserialized at
    /// a time: what a reader that turns rows into something smaller holds is one
    /// batch of rows, not the file's (an event table read as JSON maps took
    /// several times the events' own memory).
    pub fn for_each_row<T: serde::de::DeserializeOwned>(
        path: &Path,
        mut f: impl FnMut(T) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
            .with_context(|| format!("{} is not a Parquet file", path.display()))?;
        for batch in reader {
            let batch = batch.with_context(|| format!("reading {}", path.display()))?;
            let part: Vec<T> = serde_arrow::from_record_batch(&batch)
                .with_context(|| format!("rows of {}", path.display()))?;
            for row in part {
                f(row)?;
            }
        }
        Ok(())
    }
}
