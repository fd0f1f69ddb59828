//! `strata bench txn`: transactions against a running cluster.
//!
//! - `bank`: accounts spread over Regions; workers move random amounts
//!   between random accounts (read both, write both), retrying aborted
//!   transfers; a checker reads every balance in one snapshot each second.
//!   The last line says whether every snapshot total equalled the initial
//!   total; the exit code is 1 if one did not, or if the final balances do
//!   not match the acknowledged transfers (when no outcome was unknown).
//! - `single`, `multi`, `cross`: read-modify-write transactions of one key,
//!   of four keys in one Region, or of four keys in four Regions.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use kv::client::{ClientOptions, Transaction, TxnClient};
use kv::Error;
use parking_lot::Mutex;
use rand::Rng;

use super::bench::machine;
use super::parse_interval;

/// What the transactions do.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnWorkload {
    /// Transfers between accounts, with snapshot checks of the total.
    Bank,
    /// One key per transaction.
    Single,
    /// Four keys in one Region per transaction.
    Multi,
    /// Four keys in four Regions per transaction.
    Cross,
}

/// Flags of `strata bench txn`.
#[derive(Args, Debug)]
pub struct TxnBench {
    /// PD's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2379")]
    pub pd: String,
    /// What the transactions do.
    #[arg(long, value_enum, default_value = "bank")]
    pub workload: TxnWorkload,
    /// Accounts (bank) or keys (the others).
    #[arg(long, default_value_t = 1000)]
    pub accounts: u64,
    /// Concurrent clients; several comma-separated levels run one after another.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    pub concurrency: Vec<usize>,
    /// How long each level runs.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub duration: Duration,
}

/// Initial balance of every account.
const INITIAL: u64 = 1000;
/// Regions the key space is cut into before the run.
const REGIONS: u64 = 8;
/// Keys a `multi` or `cross` transaction touches.
const KEYS_PER_TXN: u64 = 4;

fn key(workload: TxnWorkload, i: u64) -> Vec<u8> {
    let prefix = match workload {
        TxnWorkload::Bank => "bank",
        _ => "txnbench",
    };
    format!("{prefix}/{i:010}").into_bytes()
}

fn parse(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|v| String::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0)
}

/// Keys a transaction of `workload` touches, with the amount it moves.
fn pick(workload: TxnWorkload, n: u64) -> (Vec<u64>, u64) {
    let mut rng = rand::rng();
    let region = n / REGIONS;
    match workload {
        TxnWorkload::Bank => {
            let from = rng.random_range(0..n);
            let to = (from + rng.random_range(1..n)) % n;
            (vec![from, to], rng.random_range(1..=10))
        }
        TxnWorkload::Single => (vec![rng.random_range(0..n)], 1),
        TxnWorkload::Multi => {
            // Four neighbours inside one of the pre-split Regions.
            let r = rng.random_range(0..REGIONS);
            let base = r * region + rng.random_range(0..region - KEYS_PER_TXN);
            ((base..base + KEYS_PER_TXN).collect(), 1)
        }
        TxnWorkload::Cross => {
            let offset = rng.random_range(0..region);
            let first = rng.random_range(0..REGIONS);
            let keys = (0..KEYS_PER_TXN)
                .map(|i| ((first + i * 2) % REGIONS) * region + offset)
                .collect();
            (keys, 1)
        }
    }
}

/// One transaction: read the keys (one batch), move `amount` from the first to the
/// second (bank) or bump every key (the others), commit.
async fn run_one(
    client: &TxnClient,
    workload: TxnWorkload,
    keys: &[u64],
    amount: u64,
) -> Result<Option<(u64, u64, u64)>, Error> {
    let mut t: Transaction = client.begin().await?;
    let names: Vec<Vec<u8>> = keys.iter().map(|k| key(workload, *k)).collect();
    let found: HashMap<Vec<u8>, Vec<u8>> = t
        .batch_get(&names)
        .await?
        .into_iter()
        .map(|p| (p.key, p.value))
        .collect();
    let values: Vec<u64> = names.iter().map(|n| parse(found.get(n).cloned())).collect();
    if workload == TxnWorkload::Bank {
        let amount = amount.min(values[0]);
        t.put(
            key(workload, keys[0]),
            (values[0] - amount).to_string().into_bytes(),
        );
        t.put(
            key(workload, keys[1]),
            (values[1] + amount).to_string().into_bytes(),
        );
        t.commit().await?;
        return Ok(Some((keys[0], keys[1], amount)));
    }
    for (k, v) in keys.iter().zip(values) {
        t.put(key(workload, *k), (v + 1).to_string().into_bytes());
    }
    t.commit().await?;
    Ok(None)
}

/// Counts of one level.
#[derive(Default)]
struct Tally {
    committed: u64,
    aborted: u64,
    unknown: u64,
    failed: u64,
}

/// Writes the initial values and cuts the key space into Regions.
async fn prepare(client: &TxnClient, b: &TxnBench) -> anyhow::Result<()> {
    let n = b.accounts;
    for r in 1..REGIONS {
        client
            .split_region(&key(b.workload, r * (n / REGIONS)))
            .await
            .context("splitting the key space")?;
    }
    let initial = if b.workload == TxnWorkload::Bank {
        INITIAL
    } else {
        0
    };
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut t = client.begin().await?;
        for i in chunk {
            t.put(key(b.workload, *i), initial.to_string().into_bytes());
        }
        t.commit().await.context("writing the initial values")?;
    }
    Ok(())
}

/// Sums every balance in one snapshot.
async fn snapshot_total(client: &TxnClient) -> Result<(u64, Vec<u64>), Error> {
    let t = client.begin().await?;
    let pairs = t.scan(b"bank/", b"bank0", 0).await?;
    let balances: Vec<u64> = pairs.into_iter().map(|p| parse(Some(p.value))).collect();
    Ok((balances.iter().sum(), balances))
}

/// Runs the benchmark.
pub async fn run(b: TxnBench) -> anyhow::Result<ExitCode> {
    let min = match b.workload {
        TxnWorkload::Bank => 2,
        _ => REGIONS * (KEYS_PER_TXN + 1),
    };
    if b.accounts < min || b.concurrency.contains(&0) {
        bail!("--accounts must be at least {min} and every --concurrency level positive");
    }
    let opts = ClientOptions {
        timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let client = TxnClient::connect(&b.pd, opts)
        .await
        .context("cannot connect to the cluster")?;
    prepare(&client, &b).await?;
    println!(
        "# strata bench txn: workload {:?}, {} keys in {REGIONS} Regions, {:?} per level, on {}",
        b.workload,
        b.accounts,
        b.duration,
        machine()
    );
    println!(
        "{:>11} {:>10} {:>8} {:>8} {:>10} {:>9} {:>9}",
        "concurrency", "committed", "aborted", "unknown", "txn/s", "p50 ms", "p99 ms"
    );
    let expected = Arc::new(Mutex::new(vec![INITIAL as i64; b.accounts as usize]));
    let (mut snapshots, mut wrong, mut unknown_total) = (0u64, Vec::new(), 0u64);
    let expected_total = INITIAL * b.accounts;
    for &c in &b.concurrency {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let workers: Vec<_> = (0..c)
            .map(|_| {
                let (client, stop, expected) = (client.clone(), stop.clone(), expected.clone());
                let (workload, n) = (b.workload, b.accounts);
                tokio::spawn(async move {
                    let mut hist =
                        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid bounds");
                    let mut tally = Tally::default();
                    while !stop.load(Ordering::Relaxed) {
                        let (keys, amount) = pick(workload, n);
                        let t = Instant::now();
                        match run_one(&client, workload, &keys, amount).await {
                            Ok(moved) => {
                                tally.committed += 1;
                                let _ = hist.record(t.elapsed().as_micros() as u64);
                                if let Some((from, to, amount)) = moved {
                                    let mut e = expected.lock();
                                    e[from as usize] -= amount as i64;
                                    e[to as usize] += amount as i64;
                                }
                            }
                            // Aborted: retried as a new transfer.
                            Err(Error::TxnConflict(_)) => tally.aborted += 1,
                            Err(Error::TxnUndetermined(_)) => tally.unknown += 1,
                            Err(e) => {
                                tracing::warn!("transaction failed: {e}");
                                tally.failed += 1;
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                    (tally, hist)
                })
            })
            .collect();
        // The checker: a snapshot of every balance each second.
        while start.elapsed() < b.duration {
            tokio::time::sleep(Duration::from_secs(1).min(b.duration)).await;
            if b.workload != TxnWorkload::Bank {
                continue;
            }
            match snapshot_total(&client).await {
                Ok((total, _)) => {
                    snapshots += 1;
                    if total != expected_total {
                        wrong.push(total);
                    }
                }
                Err(e) => tracing::warn!("snapshot read failed: {e}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
        for w in workers {
            let (t, h) = w.await?;
            tally.committed += t.committed;
            tally.aborted += t.aborted;
            tally.unknown += t.unknown;
            tally.failed += t.failed;
            hist.add(&h)?;
        }
        unknown_total += tally.unknown;
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:>11} {:>10} {:>8} {:>8} {:>10.0} {:>9.2} {:>9.2}",
            c,
            tally.committed,
            tally.aborted + tally.failed,
            tally.unknown,
            tally.committed as f64 / start.elapsed().as_secs_f64(),
            ms(0.5),
            ms(0.99)
        );
    }
    if b.workload != TxnWorkload::Bank {
        return Ok(ExitCode::SUCCESS);
    }
    // Every acknowledged transfer must show in the final balances (exactly,
    // unless some outcomes were unknown).
    let (total, balances) = snapshot_total(&client).await?;
    snapshots += 1;
    if total != expected_total {
        wrong.push(total);
    }
    let lost = if unknown_total == 0 {
        let e = expected.lock();
        let by_index: HashMap<usize, i64> = e.iter().copied().enumerate().collect();
        balances
            .iter()
            .enumerate()
            .filter(|(i, v)| by_index.get(i).copied() != Some(**v as i64))
            .count()
    } else {
        0
    };
    if lost > 0 {
        println!("# {lost} account(s) do not match the acknowledged transfers");
    }
    if wrong.is_empty() {
        println!("totals: all {snapshots} snapshot totals equal the initial {expected_total}");
    } else {
        println!(
            "totals: WRONG in {} of {snapshots} snapshots (expected {expected_total}, saw {:?})",
            wrong.len(),
            wrong
        );
    }
    Ok(if wrong.is_empty() && lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
