//! `strata bench rebalance`: how fast PD moves data onto a new store, and
//! what that costs foreground writes. A benchmark: it prints numbers and
//! asserts nothing.
//!
//! 1. Loads `--load` bytes of random 4 KiB values and waits until Regions
//!    stop splitting and moving.
//! 2. Measures put throughput for `--window` (the baseline).
//! 3. Starts one more store (this binary, `strata kv`, data under
//!    `--data-dir`), then measures put throughput in windows of `--window`
//!    until the new store holds its share of Regions (within 10% of the
//!    mean) and no balance operator is pending.
//! 4. Reports the time that took, the data the new store received (the
//!    approximate sizes of the Regions it holds) and the throughput of each
//!    window against the baseline.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use client::pd_client::{PdClient, RpcPdClient};
use client::{ClientOptions, RawClient};
use protocol::kvrpcpb::KvPair;

use super::bench::{machine, run_load, KvBench, Op};
use super::{parse_bytes, parse_duration};

const VALUE: usize = 4096;

/// Flags of `strata bench rebalance`.
#[derive(Args, Debug)]
pub struct RebalanceBench {
    /// PD's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2379")]
    pub pd: String,
    /// Data to load before the new store joins.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_bytes)]
    pub load: u64,
    /// Data directory of the store this benchmark starts.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Flags for the new store (e.g. its split size), space separated.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub store_flags: String,
    /// Length of one throughput window.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub window: Duration,
    /// Concurrent writers of the foreground load.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Give up waiting for balance after this long.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// The new store's process, stopped when dropped.
struct NewStore(Child);

impl Drop for NewStore {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (Region count, bytes of the Regions it holds) of `store_id`, and
/// whether every Up store is within 10% of the mean Region count.
async fn balance(pd: &RpcPdClient, store_id: u64) -> anyhow::Result<(u32, u64, bool)> {
    let all = pd.all_stores().await?;
    let up: Vec<_> = all.statuses.iter().filter(|s| s.state == "Up").collect();
    let mean = up.iter().map(|s| s.region_count as f64).sum::<f64>() / up.len().max(1) as f64;
    let even = up
        .iter()
        .all(|s| (s.region_count as f64 - mean).abs() <= mean * 0.1);
    let me = all.statuses.iter().find(|s| s.store_id == store_id);
    let held: u64 = pd
        .region_infos(vec![], vec![], 0)
        .await?
        .iter()
        .filter(|i| {
            i.region
                .as_ref()
                .is_some_and(|r| r.peers.iter().any(|p| p.store_id == store_id))
        })
        .map(|i| i.approximate_size)
        .sum();
    Ok((me.map_or(0, |s| s.region_count), held, even))
}

async fn balance_operators(pd: &RpcPdClient) -> anyhow::Result<usize> {
    Ok(pd
        .operators()
        .await?
        .iter()
        .filter(|o| o.kind == "balance-region")
        .count())
}

/// Waits until no operator is pending and the Region count is steady.
async fn settle(pd: &RpcPdClient) -> anyhow::Result<usize> {
    let mut last = (usize::MAX, 0);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let regions = pd.scan_regions(vec![], vec![], 0).await?.len();
        let ops = pd.operators().await?.len();
        if ops == 0 && regions == last.0 {
            last.1 += 1;
            if last.1 >= 3 {
                return Ok(regions);
            }
        } else {
            last = (regions, 0);
        }
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// Runs the benchmark.
pub async fn run(b: RebalanceBench) -> anyhow::Result<ExitCode> {
    let pd = RpcPdClient::connect(&b.pd, Duration::from_secs(5))
        .await
        .context("cannot connect to the cluster")?;
    let client = Arc::new(RawClient::connect(&b.pd, ClientOptions::default()).await?);
    println!(
        "# strata bench rebalance: load {:.0} MiB, {} writers, {:?} windows, on {}",
        mib(b.load),
        b.concurrency,
        b.window,
        machine()
    );
    let t = Instant::now();
    let n = (b.load as usize).div_ceil(VALUE);
    let loaders: Vec<_> = (0..8)
        .map(|l| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut i = l * 64;
                while i < n {
                    let pairs = (i..(i + 64).min(n))
                        .map(|k| KvPair {
                            key: format!("rebalance/{k:010}").into_bytes(),
                            // Random, so compression cannot shrink what moves.
                            value: (0..VALUE).map(|_| rand::random::<u8>()).collect(),
                        })
                        .collect();
                    client.batch_put(pairs).await?;
                    i += 8 * 64;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for l in loaders {
        l.await??;
    }
    let load_s = t.elapsed().as_secs_f64();
    println!(
        "loaded {:.0} MiB in {load_s:.1}s ({:.1} MiB/s)",
        mib(b.load),
        mib(b.load) / load_s
    );
    let regions = settle(&pd).await?;
    println!(
        "{regions} regions, settled after {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let put = |duration| KvBench {
        pd: b.pd.clone(),
        value_size: 128,
        keys: 100_000,
        duration,
        concurrency: vec![b.concurrency],
        ops: vec![Op::Put],
    };
    let base = run_load(client.clone(), &put(b.window), Op::Put, b.concurrency).await?;
    let base_rate = base.ops as f64 / base.elapsed.as_secs_f64();
    println!("baseline: {base_rate:.0} puts/s");

    std::fs::create_dir_all(&b.data_dir)?;
    let before: Vec<u64> = pd.all_stores().await?.stores.iter().map(|s| s.id).collect();
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["kv", "--pd", &b.pd, "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&b.data_dir)
        .args(b.store_flags.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _store = NewStore(cmd.spawn().context("cannot start the new store")?);
    let joined = Instant::now();
    let new_id = loop {
        let stores = pd.all_stores().await?.stores;
        if let Some(s) = stores.iter().find(|s| !before.contains(&s.id)) {
            break s.id;
        }
        anyhow::ensure!(
            joined.elapsed() < Duration::from_secs(60),
            "the new store did not register"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "{:>8} {:>10} {:>12} {:>9} {:>10}",
        "time s", "puts/s", "vs baseline", "regions", "MiB there"
    );
    let mut rates = Vec::new();
    let (elapsed, used) = loop {
        let r = run_load(client.clone(), &put(b.window), Op::Put, b.concurrency).await?;
        let rate = r.ops as f64 / r.elapsed.as_secs_f64();
        rates.push(rate);
        let (count, used, even) = balance(&pd, new_id).await?;
        println!(
            "{:>8.1} {:>10.0} {:>11.0}% {:>9} {:>10.1}",
            joined.elapsed().as_secs_f64(),
            rate,
            100.0 * rate / base_rate,
            count,
            mib(used)
        );
        if even && balance_operators(&pd).await? == 0 {
            break (joined.elapsed(), used);
        }
        anyhow::ensure!(
            joined.elapsed() < b.timeout,
            "no balance after {:?}",
            b.timeout
        );
    };
    let during = rates.iter().sum::<f64>() / rates.len() as f64;
    println!(
        "rebalanced in {:.1}s: {:.1} MiB onto the new store, {:.2} MiB/s; puts {:.0}/s during vs {:.0}/s before ({:+.0}%)",
        elapsed.as_secs_f64(),
        mib(used),
        mib(used) / elapsed.as_secs_f64(),
        during,
        base_rate,
        100.0 * (during - base_rate) / base_rate
    );
    Ok(ExitCode::SUCCESS)
}
