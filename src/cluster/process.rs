//! `lagtap cluster-scheduler` and `lagtap cluster-executor`: Ballista's scheduler and
//! executor processes with lagtap's codecs, for a cluster of several machines.
//! Ballista's own `ballista-scheduler` and `ballista-executor` binaries cannot run
//! lagtap's plans: an executor must build lagtap's unit functions from the plan,
//! and only lagtap's codec knows how (see `codec.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use super::{LogicalCodec, PhysicalCodec};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs a scheduler listening on `bind` until the process is stopped.
pub fn scheduler(bind: SocketAddr) -> anyhow::Result<()> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .context("setting up the scheduler's cluster state")?;
        start_server(cluster, bind, Arc::new(config))
            .await
            .context("running the scheduler")
    })
}

/// Runs an executor of `vcores` task slots, listening on `bind` (Flight; gRPC on
/// the next port), registered with the scheduler at `scheduler`, until stopped.
pub fn executor(bind: SocketAddr, scheduler: SocketAddr, vcores: usize) -> anyhow::Result<()> {
    let config = ExecutorProcessConfig {
        bind_host: bind.ip().to_string(),
        port: bind.port(),
        grpc_port: bind.port().saturating_add(1),
        scheduler_host: scheduler.ip().to_string(),
        scheduler_port: scheduler.port(),
        vcores,
        // A unit's result crosses as one Flight message (see MAX_MESSAGE_BYTES).
        grpc_max_decoding_message_size: super::MAX_MESSAGE_BYTES as u32,
        grpc_max_encoding_message_size: super::MAX_MESSAGE_BYTES as u32,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    runtime()?.block_on(async {
        start_executor_process(Arc::new(config))
            .await
            .context("running the executor")
    })
}
