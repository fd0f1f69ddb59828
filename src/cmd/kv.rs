//! `strata kv`: runs a storage node until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use kv::server::{NodeConfig, NodeHandle};

use super::{parse_bytes, parse_duration, parse_interval, shutdown_signal};

/// Flags of `strata kv`.
#[derive(Args, Debug)]
pub struct KvArgs {
    /// PD's gRPC address.
    #[arg(long, value_name = "HOST:PORT")]
    pub pd: String,
    /// Directory for the store's data (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address of the store's gRPC services.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:20160")]
    pub listen: String,
    /// Address other nodes should use to reach this store (default: the
    /// bound listen address).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_addr: Option<String>,
    /// Address of the HTTP status server (Prometheus metrics at /metrics).
    #[arg(long, value_name = "HOST:PORT")]
    pub status: Option<String>,
    /// Length of one Raft tick (elections time out after 10 to 20 ticks).
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    pub raft_tick: Duration,
    /// How often GC settles old locks and removes old versions of
    /// transactional data (those below PD's safe point that newer versions
    /// hide).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_interval)]
    pub gc_interval: Duration,
    /// How long to keep trying to reach PD at start-up.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub pd_timeout: Duration,
    #[command(flatten)]
    pub split: SplitArgs,
}

/// When a store splits a Region, and how it writes its Raft log (shared by
/// `kv` and `playground`).
#[derive(Args, Debug, Clone)]
pub struct SplitArgs {
    /// A Region with more data than this is split (e.g. 256KiB, 96MiB).
    #[arg(long, value_name = "SIZE", default_value = "96MiB", value_parser = parse_bytes)]
    pub region_split_size: u64,
    /// A Region with more keys than this is split.
    #[arg(long, value_name = "N", default_value_t = 960_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub region_split_keys: u64,
    /// A Region serving at least this many keys per second (reads plus
    /// writes) for 10 s in a row is split at a key that divides its
    /// requests evenly (0 turns load-based splitting off).
    #[arg(long, value_name = "N", default_value_t = 3000)]
    pub load_split_qps: u64,
    /// Write each round's Raft batch on a writer thread, so the store keeps
    /// stepping Raft while the write syncs. Pays off when fsync is slow
    /// next to the store's CPU work; with fast fsyncs on few cores the
    /// thread handoffs cost more than they save.
    #[arg(long)]
    pub async_log_writer: bool,
}

impl SplitArgs {
    /// Sets the split limits and the log writer of a store's configuration.
    pub fn apply(&self, cfg: &mut NodeConfig) {
        cfg.store.region_split_size = self.region_split_size;
        cfg.store.region_split_keys = self.region_split_keys;
        cfg.load_split.qps_threshold = self.load_split_qps;
        cfg.async_log_writer = self.async_log_writer;
    }
}

impl KvArgs {
    /// The node configuration these flags describe.
    pub fn config(&self) -> NodeConfig {
        let mut cfg = NodeConfig::new(self.pd.clone(), self.data_dir.clone(), self.listen.clone());
        cfg.advertise = self.advertise_addr.clone();
        cfg.status = self.status.clone();
        cfg.tick = self.raft_tick;
        cfg.pd_wait = self.pd_timeout;
        cfg.gc_interval = self.gc_interval;
        self.split.apply(&mut cfg);
        cfg.coprocessor = Some(sql_coprocessor());
        cfg
    }
}

/// What a store runs for SQL nodes next to its data: the SQL layer's
/// pushed-down filters and aggregates (the store crate knows no SQL; the
/// binary brings the two together).
pub fn sql_coprocessor() -> std::sync::Arc<dyn client::coprocessor::Coprocessor> {
    std::sync::Arc::new(sql::exec::cop::CopEndpoint)
}

/// Runs a store until a signal arrives.
pub async fn run(args: KvArgs) -> anyhow::Result<ExitCode> {
    let node = NodeHandle::start(args.config())
        .await
        .context("cannot start store")?;
    match node.status_addr {
        Some(s) => println!(
            "store {} listening on {} (status http://{s})",
            node.store_id, node.addr
        ),
        None => println!("store {} listening on {}", node.store_id, node.addr),
    }
    tokio::select! {
        _ = shutdown_signal() => {}
        why = node.failed() => anyhow::bail!("store {} failed: {why}", node.store_id),
    }
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
