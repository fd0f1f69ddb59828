//! `strata bench`: load against a running cluster, reported as throughput
//! and latency percentiles. A benchmark, not a test: it asserts nothing.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use client::{ClientOptions, RawClient};
use hdrhistogram::Histogram;
use protocol::kvrpcpb::KvPair;
use rand::Rng;

use super::parse_duration;

/// Flags of `strata bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub workload: Workload,
}

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum Workload {
    /// Raw puts and gets at several concurrency levels.
    Kv(KvBench),
    /// Load data, add a store, and measure how fast PD rebalances onto it
    /// and how much write throughput drops meanwhile.
    Rebalance(super::rebalance_bench::RebalanceBench),
    /// Transactions: a bank workload with snapshot checks of the total
    /// (`--workload bank`), or single-key, multi-key single-Region and
    /// cross-Region transactions.
    ///
    /// Prints, per concurrency level, the committed, aborted (conflicts,
    /// retried as new transactions) and unknown-outcome transactions,
    /// throughput and p50/p99 latency. The bank keeps going through store
    /// failures; at the end it settles unknown outcomes through their
    /// primaries, checks the final balances against every committed
    /// transfer, and prints as its last line whether every snapshot total
    /// equalled the initial total. Exit code 1: a wrong total or a lost
    /// transfer.
    Txn(super::txn_bench::TxnBench),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
}

/// Flags of `strata bench kv`.
#[derive(Args, Debug)]
pub struct KvBench {
    /// PD's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2379")]
    pub pd: String,
    /// Bytes per value.
    #[arg(long, default_value_t = 128)]
    pub value_size: usize,
    /// Distinct keys the load touches.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// How long each (operation, concurrency) run lasts.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrency levels, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub concurrency: Vec<usize>,
    /// Operations to run, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "put,get")]
    pub ops: Vec<Op>,
}

fn key(i: u64) -> Vec<u8> {
    format!("bench/{i:012}").into_bytes()
}

/// One run's numbers.
pub(crate) struct Report {
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub hist: Histogram<u64>,
}

/// Runs `concurrency` clients doing `op` on random keys of `b` for
/// `b.duration`.
pub(crate) async fn run_load(
    client: Arc<RawClient>,
    b: &KvBench,
    op: Op,
    concurrency: usize,
) -> anyhow::Result<Report> {
    let stop = Arc::new(AtomicBool::new(false));
    let value = vec![b'x'; b.value_size];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, stop, value, keys) = (client.clone(), stop.clone(), value.clone(), b.keys);
        tasks.push(tokio::spawn(async move {
            let mut hist =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let (mut ops, mut errors) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let k = key(rand::rng().random_range(0..keys));
                let t = Instant::now();
                let r = match op {
                    Op::Put => client.put(k, value.clone()).await,
                    Op::Get => client.get(k).await.map(|_| ()),
                };
                match r {
                    Ok(()) => {
                        ops += 1;
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => errors += 1,
                }
            }
            (ops, errors, hist)
        }));
    }
    tokio::time::sleep(b.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut report = Report {
        ops: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    for t in tasks {
        let (ops, errors, hist) = t.await?;
        report.ops += ops;
        report.errors += errors;
        report.hist.add(&hist)?;
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// The machine the benchmark runs on, for the report's header.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model})")
}

async fn kv_bench(b: KvBench) -> anyhow::Result<ExitCode> {
    if b.keys == 0 || b.concurrency.iter().any(|c| *c == 0) {
        bail!("--keys and every --concurrency level must be positive");
    }
    let client = Arc::new(
        RawClient::connect(&b.pd, ClientOptions::default())
            .await
            .context("cannot connect to the cluster")?,
    );
    println!(
        "# strata bench kv: {} keys, {} B values, {:?} per run, on {}",
        b.keys,
        b.value_size,
        b.duration,
        machine()
    );
    if b.ops.contains(&Op::Get) {
        let value = vec![b'x'; b.value_size];
        let t = Instant::now();
        for chunk in (0..b.keys).collect::<Vec<_>>().chunks(1000) {
            let pairs = chunk
                .iter()
                .map(|i| KvPair {
                    key: key(*i),
                    value: value.clone(),
                })
                .collect();
            client.batch_put(pairs).await.context("preloading keys")?;
        }
        println!(
            "# preloaded {} keys in {:.1}s",
            b.keys,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "{:<5} {:>11} {:>12} {:>10} {:>10} {:>10} {:>8}",
        "op", "concurrency", "ops/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for op in &b.ops {
        for c in &b.concurrency {
            let r = run_load(client.clone(), &b, *op, *c).await?;
            let ms = |q: f64| r.hist.value_at_quantile(q) as f64 / 1000.0;
            println!(
                "{:<5} {:>11} {:>12.0} {:>10.2} {:>10.2} {:>10.2} {:>8}",
                format!("{op:?}").to_lowercase(),
                c,
                r.ops as f64 / r.elapsed.as_secs_f64(),
                ms(0.5),
                ms(0.99),
                r.hist.max() as f64 / 1000.0,
                r.errors
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.workload {
        Workload::Kv(b) => kv_bench(b).await,
        Workload::Rebalance(b) => super::rebalance_bench::run(b).await,
        Workload::Txn(b) => super::txn_bench::run(b).await,
    }
}
