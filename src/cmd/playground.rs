//! `strata playground`: PD, several stores and a SQL node on loopback, in
//! one process, over the same gRPC paths as a real deployment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use kv::server::{NodeConfig, NodeHandle};
use pd::{ClusterConfig, PdConfig, PdHandle};

use super::shutdown_signal;

/// Flags of `strata playground`.
#[derive(Args, Debug)]
pub struct PlaygroundArgs {
    /// Directory for all data (PD in `pd/`, stores in `store-N/`); running
    /// again on the same directory brings the same data back.
    #[arg(long, value_name = "DIR", default_value = "strata-data")]
    pub data_dir: PathBuf,
    /// Number of stores.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub stores: u16,
    /// Host all parts listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// PD's gRPC port (its HTTP API uses the next port).
    #[arg(long, default_value_t = 2379)]
    pub pd_port: u16,
    /// Port of the first store; store N uses this plus N-1, and serves its
    /// metrics on this plus 19+N.
    #[arg(long, default_value_t = 20160)]
    pub store_port: u16,
    /// How long old versions of transactional data are kept (as `strata pd
    /// --gc-life-time`). At least 2s.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::parse_gc_life_time)]
    pub gc_life_time: Duration,
    /// How often each store runs GC (as `strata kv --gc-interval`).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = super::parse_interval)]
    pub gc_interval: Duration,
    /// Port of the SQL node (PostgreSQL wire protocol).
    #[arg(long, default_value_t = 5432)]
    pub sql_port: u16,
    #[command(flatten)]
    pub split: super::kv::SplitArgs,
    #[command(flatten)]
    pub sql: super::sql::SqlNodeArgs,
}

fn port(base: u16, offset: u16) -> u16 {
    if base == 0 {
        0
    } else {
        base + offset
    }
}

/// Runs the playground until a signal arrives.
pub async fn run(args: PlaygroundArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;
    let replicas = usize::from(args.stores).min(3);
    let pd = PdHandle::start(PdConfig {
        data_dir: data_dir.join("pd"),
        listen: format!("{}:{}", args.host, args.pd_port),
        http: format!("{}:{}", args.host, port(args.pd_port, 1)),
        cluster: ClusterConfig {
            max_replicas: replicas,
            gc_life_time_ms: args.gc_life_time.as_millis() as u64,
            ..ClusterConfig::default()
        },
    })
    .await
    .context("cannot start PD")?;
    let pd_addr = pd.grpc_addr.to_string();
    let mut stores = Vec::new();
    for i in 0..args.stores {
        let mut cfg = NodeConfig::new(
            pd_addr.clone(),
            data_dir.join(format!("store-{}", i + 1)),
            format!("{}:{}", args.host, port(args.store_port, i)),
        );
        cfg.status = Some(format!("{}:{}", args.host, port(args.store_port, 20 + i)));
        cfg.gc_interval = args.gc_interval;
        args.split.apply(&mut cfg);
        cfg.coprocessor = Some(super::kv::sql_coprocessor());
        let node = NodeHandle::start(cfg)
            .await
            .with_context(|| format!("cannot start store {}", i + 1))?;
        stores.push(node);
    }
    let sql = super::sql::start(
        &pd_addr,
        &format!("{}:{}", args.host, args.sql_port),
        &args.sql,
    )
    .await
    .context("cannot start the SQL node")?;
    println!("Strata playground is running.");
    println!(
        "  PD:        {pd_addr}   (HTTP API: http://{}/api/v1/stores)",
        pd.http_addr
    );
    for s in &stores {
        let status = s
            .status_addr
            .map(|a| format!("   (metrics: http://{a}/metrics)"))
            .unwrap_or_default();
        println!("  store {:<3} {}{status}", s.store_id, s.addr);
    }
    println!("  SQL:       {}   (PostgreSQL wire protocol)", sql.addr);
    println!("  data:      {}", data_dir.display());
    println!("  logs:      {}", data_dir.join("strata.log").display());
    println!(
        "Connect:  psql -h {} -p {} -U postgres",
        sql.addr.ip(),
        sql.addr.port()
    );
    println!("Try:  strata ctl --pd {pd_addr} raw put hello world");
    println!("      strata ctl --pd {pd_addr} txn put alice 100 bob 50");
    println!("      strata ctl --pd {pd_addr} regions");
    println!("Press Ctrl-C to stop.");
    let failures = futures::future::select_all(stores.iter().map(|s| Box::pin(s.failed())));
    tokio::select! {
        _ = shutdown_signal() => {}
        (why, i, _) = failures => anyhow::bail!("store {} failed: {why}", stores[i].store_id),
    }
    println!("stopping...");
    sql.shutdown();
    futures::future::join_all(stores.into_iter().map(|s| s.shutdown())).await;
    pd.shutdown().await;
    println!("stopped; data kept in {}", data_dir.display());
    Ok(ExitCode::SUCCESS)
}
