//! `correlate --cluster`: the correlation units (`correlate::units`) run as DataFusion
//! plans over a Parquet event dataset (`decode --format parquet`), on a Ballista
//! cluster or in this process. The same unit functions as the embedded `correlate`,
//! so the report is the same; what changes is where they run.
//!
//! Two rounds of plans, because one step needs every host's unit:
//! 1. **hosts**: every event table, unioned as (host, seq, event JSON), grouped by
//!    host; `lagtap_host_unit` gives each host's clock model, roles and notes.
//! 2. The driver drops hosts given twice (`units::Hosts::plan`), then runs, over
//!    the kept hosts' rows: **messaging**, the chat tables grouped by lowercase
//!    channel (`lagtap_messaging_unit`), and **media**, the RTMP, HTTP, HLS and TCP
//!    tables as one group (`lagtap_media_unit`). Their results are put together as
//!    the embedded run does (`units::merge_messaging`, `Hosts::assemble`).
//!
//! The shuffle is the grouping: each unit's rows move to the executor that runs it.
//! docs/scale.md has the sizes.

mod codec;
mod functions;
pub mod process;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use ballista::extension::SessionConfigExt;
use ballista::prelude::SessionContextExt;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::SessionStateBuilder;
use datafusion::functions::string::expr_fn::lower;
use datafusion::logical_expr::{AggregateUDF, Expr};
use datafusion::prelude::{
    ident, lit, DataFrame, ParquetReadOptions, SessionConfig, SessionContext,
};

use crate::correlate::units::{self, HostUnit, MEDIA_KINDS};
use crate::correlate::{CorrelateOptions, Correlation};
use crate::events::parquet::KINDS;
use functions::{EventUdf, Unit, UnitConfig, UnitUdaf};

pub use codec::{LogicalCodec, PhysicalCodec};

/// Where `--cluster` runs the plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `local`: DataFusion in this process, no Ballista.
    Local,
    /// `standalone`: a Ballista scheduler and executor started in this process.
    Standalone,
    /// `df://HOST:PORT`: a Ballista scheduler (its executors must be
    /// `lagtap cluster-executor`, which know lagtap's functions).
    Remote(String),
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Engine::Local),
            "standalone" => Ok(Engine::Standalone),
            url if url.starts_with("df://") => Ok(Engine::Remote(url.to_string())),
            other => Err(format!(
                "--cluster {other}: local, standalone or df://HOST:PORT (a Ballista scheduler)"
            )),
        }
    }
}

/// The largest gRPC message Ballista's clients and Flight servers take here. A
/// unit's result is one row, and Arrow Flight cannot split a row over messages, so
/// the media unit's result (every frame sample, as JSON) crosses as one message:
/// on the 2 GB campaign bench (a 17 MB report; the result holds more) Ballista's
/// default of 16 MiB made `--cluster standalone` fail where DataFusion alone,
/// which sends nothing, passed. One string of an Arrow `Utf8` column holds at most
/// 2 GiB, so that is the limit here too.
pub const MAX_MESSAGE_BYTES: usize = i32::MAX as usize;

/// The session configuration every lagtap plan runs with: lagtap's codecs for
/// Ballista, messages up to [`MAX_MESSAGE_BYTES`], and strings read as plain `Utf8`
/// (the event rows go through serde_arrow, which reads the types lagtap wrote).
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()))
        .with_ballista_grpc_client_max_message_size(MAX_MESSAGE_BYTES);
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    config
}

/// A session on `engine`, with lagtap's codecs and settings ([`session_config`]).
pub async fn context(engine: &Engine) -> anyhow::Result<SessionContext> {
    let state = || {
        SessionStateBuilder::new()
            .with_config(session_config())
            .with_default_features()
            .build()
    };
    Ok(match engine {
        Engine::Local => SessionContext::new_with_state(state()),
        Engine::Standalone => SessionContext::standalone_with_state(state())
            .await
            .context("starting a standalone Ballista")?,
        Engine::Remote(url) => SessionContext::remote_with_state(url, state())
            .await
            .with_context(|| format!("connecting to the Ballista scheduler {url}"))?,
    })
}

/// Correlates the hosts of the event dataset `dir` on `engine`. `hosts` are the
/// dataset's hosts in report order with the input each report line names (what
/// `correlate::input::collect` gives for the dataset).
pub fn correlate(
    engine: &Engine,
    dir: &Path,
    hosts: &[(String, String)],
    opts: &CorrelateOptions,
) -> anyhow::Result<Correlation> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let ctx = context(engine).await?;
        correlate_on(&ctx, dir, hosts, opts).await
    })
}

/// [`correlate`] on a session already made.
pub async fn correlate_on(
    ctx: &SessionContext,
    dir: &Path,
    hosts: &[(String, String)],
    opts: &CorrelateOptions,
) -> anyhow::Result<Correlation> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("opening {}", dir.display()))?;
    for kind in KINDS {
        let table = format!("{}/", dir.join(kind).display());
        let read = ParquetReadOptions::default()
            .table_partition_cols(vec![("host".to_string(), DataType::Utf8)]);
        // A session correlating another dataset before had its own tables here.
        ctx.deregister_table(kind)?;
        ctx.register_parquet(kind, &table, read)
            .await
            .with_context(|| format!("reading the {kind} table of {}", dir.display()))?;
    }
    // Round 1: the host units.
    let config = UnitConfig {
        opts: opts.clone(),
        files: hosts.iter().cloned().collect(),
        hosts: Vec::new(),
    };
    let rows = units_of(ctx, &KINDS, None, None, Unit::Host, &config).await?;
    let mut by_host: BTreeMap<String, HostUnit> = BTreeMap::new();
    for (host, json) in rows {
        let unit: HostUnit =
            serde_json::from_str(&json).with_context(|| format!("the host unit of {host}"))?;
        by_host.insert(host, unit);
    }
    let mut host_units = Vec::with_capacity(hosts.len());
    for (name, _) in hosts {
        let unit = by_host
            .remove(name)
            .with_context(|| format!("{} holds no events of host {name}", dir.display()))?;
        host_units.push(unit);
    }
    let plan = units::Hosts::plan(host_units, opts);

    // Round 2: messaging per channel and the media unit, over the kept hosts.
    let kept: Vec<String> = plan.units.iter().map(|u| u.info.name.clone()).collect();
    let config = UnitConfig {
        opts: opts.clone(),
        files: BTreeMap::new(),
        hosts: plan.units.clone(),
    };
    let channel = lower(ident("channel"));
    let chat = ["chat_sent", "chat_received"];
    let mut channels = units_of(
        ctx,
        &chat,
        Some(&kept),
        Some(channel),
        Unit::Messaging,
        &config,
    )
    .await?;
    channels.sort_by(|a, b| a.0.cmp(&b.0));
    let mut parts = Vec::with_capacity(channels.len());
    for (channel, json) in channels {
        parts.push(
            serde_json::from_str(&json)
                .with_context(|| format!("the messaging unit of channel {channel}"))?,
        );
    }
    let messaging = units::merge_messaging(parts);
    let media = units_of(ctx, &MEDIA_KINDS, Some(&kept), None, Unit::Media, &config).await?;
    let media: units::Media = match media.as_slice() {
        [(_, json)] => serde_json::from_str(json).context("the media unit")?,
        other => anyhow::bail!("the media unit gave {} results, not one", other.len()),
    };
    Ok(plan.assemble(messaging, media, opts))
}

/// The rows of `kinds` as (host, seq, event JSON[, key]), of `hosts` only if given.
async fn events(
    ctx: &SessionContext,
    kinds: &[&str],
    hosts: Option<&[String]>,
    key: Option<&Expr>,
) -> anyhow::Result<DataFrame> {
    let event = EventUdf::udf();
    let mut all: Option<DataFrame> = None;
    for kind in kinds {
        let mut df = ctx.table(*kind).await?;
        if let Some(hosts) = hosts {
            let list = hosts.iter().map(|h| lit(h.as_str())).collect();
            df = df.filter(ident("host").in_list(list, false))?;
        }
        let names: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != "host")
            .collect();
        let mut args = vec![lit(*kind), lit(names.join(",")), ident("host")];
        args.extend(names.iter().map(ident));
        let mut columns = vec![ident("host"), ident("seq"), event.call(args).alias("event")];
        if let Some(key) = key {
            columns.push(key.clone().alias("key"));
        }
        let df = df.select(columns)?;
        all = Some(match all {
            None => df,
            Some(prev) => prev.union(df)?,
        });
    }
    all.context("no event tables")
}

/// Runs `unit` over the rows of `kinds`, grouped by host (the host unit), by `key`,
/// or as one group: (group, result JSON) per group.
async fn units_of(
    ctx: &SessionContext,
    kinds: &[&str],
    hosts: Option<&[String]>,
    key: Option<Expr>,
    unit: Unit,
    config: &UnitConfig,
) -> anyhow::Result<Vec<(String, String)>> {
    let df = events(ctx, kinds, hosts, key.as_ref()).await?;
    let group = match (unit, key) {
        (Unit::Host, _) => vec![ident("host")],
        (_, Some(_)) => vec![ident("key")],
        (_, None) => Vec::new(),
    };
    let udaf: AggregateUDF = UnitUdaf::udaf(unit, config)?;
    let call = udaf
        .call(vec![ident("host"), ident("seq"), ident("event")])
        .alias("result");
    let batches = df
        .aggregate(group.clone(), vec![call])?
        .collect()
        .await
        .with_context(|| format!("running {}", unit.function_name()))?;
    let mut out = Vec::new();
    for b in &batches {
        out.extend(results(b, !group.is_empty())?);
    }
    Ok(out)
}

/// (group, result) of one batch of an aggregate's output.
fn results(batch: &RecordBatch, grouped: bool) -> anyhow::Result<Vec<(String, String)>> {
    let result = cast(
        batch.column_by_name("result").context("no result column")?,
        &DataType::LargeUtf8,
    )?;
    let result = result.as_string::<i64>();
    let group = if grouped {
        Some(cast(batch.column(0), &DataType::LargeUtf8)?)
    } else {
        None
    };
    let group = group.as_ref().map(|g| g.as_string::<i64>());
    Ok((0..batch.num_rows())
        .filter(|&i| !result.is_null(i))
        .map(|i| {
            let g = group.map_or(String::new(), |g| g.value(i).to_string());
            (g, result.value(i).to_string())
        })
        .collect())
}
