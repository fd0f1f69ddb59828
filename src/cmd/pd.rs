//! `strata pd`: runs the placement driver until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use pd::{ClusterConfig, PdConfig, PdHandle};

use super::{parse_duration, parse_gc_life_time, shutdown_signal};

/// Flags of `strata pd`.
#[derive(Args, Debug)]
pub struct PdArgs {
    /// Directory for PD's durable state (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address of the gRPC service that stores and clients use.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2379")]
    pub listen: String,
    /// Address of the HTTP JSON API (/api/v1/stores, /api/v1/regions).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2380")]
    pub http: String,
    /// Replicas every Region should have.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=7))]
    pub max_replicas: u32,
    /// How long a store may be silent before it is considered Down.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub max_store_down_time: Duration,
    /// A Region serving at least this many keys per second (reads plus
    /// writes) is hot: the hot-region scheduler spreads hot Regions'
    /// leaders over the stores by load (0 turns it off).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub hot_region_min_qps: u64,
    /// How long old versions of transactional data are kept (longer while
    /// a client still runs an older transaction): older reads fail, and
    /// stores remove what only they could see. At least 2s.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_gc_life_time)]
    pub gc_life_time: Duration,
}

impl PdArgs {
    /// The PD configuration these flags describe.
    pub fn config(&self) -> PdConfig {
        PdConfig {
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            http: self.http.clone(),
            cluster: ClusterConfig {
                max_replicas: self.max_replicas as usize,
                max_store_down_ms: self.max_store_down_time.as_millis() as u64,
                hot_region_min_qps: self.hot_region_min_qps,
                gc_life_time_ms: self.gc_life_time.as_millis() as u64,
                ..ClusterConfig::default()
            },
        }
    }
}

/// Runs PD until a signal arrives.
pub async fn run(args: PdArgs) -> anyhow::Result<ExitCode> {
    let pd = PdHandle::start(args.config())
        .await
        .context("cannot start PD")?;
    println!(
        "PD listening on {} (HTTP http://{}), cluster {}",
        pd.grpc_addr, pd.http_addr, pd.cluster_id
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    pd.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
