//! `strata bench txn`: transactions against a running cluster.
//!
//! - `bank`: accounts spread over Regions; workers move random amounts
//!   between random accounts (read both, write both), retrying aborted
//!   transfers; a checker reads every balance in one snapshot each second.
//!   The last line says whether every snapshot total equalled the initial
//!   total; the exit code is 1 if one did not, or if the final balances do
//!   not match the committed transfers (acknowledged ones, and those whose
//!   answer was lost but whose primary shows them committed).
//! - `single`, `multi`, `cross`: read-modify-write transactions of one key,
//!   of four keys in one Region, or of four keys in four Regions.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use client::Error;
use client::{ClientOptions, Transaction, TxnClient};
use hdrhistogram::Histogram;
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

/// Money moved by one bank transaction.
#[derive(Clone, Copy)]
struct Transfer {
    from: u64,
    to: u64,
    amount: u64,
}

/// A transaction whose commit answer never came: settled after the run
/// through its primary key.
struct Unsettled {
    start_ts: u64,
    primary: Vec<u8>,
    transfer: Option<Transfer>,
}

/// One transaction up to its commit: read the keys (one batch), move an
/// amount from the first to the second (bank) or bump every key (the
/// others).
async fn prepare_one(
    client: &TxnClient,
    workload: TxnWorkload,
    keys: &[u64],
    amount: u64,
) -> Result<(Transaction, Option<Transfer>), Error> {
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
            names[0].clone(),
            (values[0] - amount).to_string().into_bytes(),
        );
        t.put(
            names[1].clone(),
            (values[1] + amount).to_string().into_bytes(),
        );
        let transfer = Transfer {
            from: keys[0],
            to: keys[1],
            amount,
        };
        return Ok((t, Some(transfer)));
    }
    for (name, v) in names.into_iter().zip(values) {
        t.put(name, (v + 1).to_string().into_bytes());
    }
    Ok((t, None))
}

/// Commits a prepared transaction; one whose answer was lost goes to
/// `unsettled`.
async fn commit_one(
    t: Transaction,
    transfer: Option<Transfer>,
    unsettled: &mut Vec<Unsettled>,
) -> Result<Option<Transfer>, Error> {
    let start_ts = t.start_ts();
    let primary = t.primary_key().map(<[u8]>::to_vec);
    match (t.commit().await, primary) {
        (Ok(_), _) => Ok(transfer),
        (Err(e @ Error::TxnUndetermined(_)), Some(primary)) => {
            unsettled.push(Unsettled {
                start_ts,
                primary,
                transfer,
            });
            Err(e)
        }
        (Err(e), _) => Err(e),
    }
}

/// Applies a committed transfer to the balances it should leave.
fn account(expected: &Mutex<Vec<i64>>, transfer: Option<Transfer>) {
    if let Some(t) = transfer {
        let mut e = expected.lock();
        e[t.from as usize] -= t.amount as i64;
        e[t.to as usize] += t.amount as i64;
    }
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
    let (mut snapshots, mut wrong, mut unsettled) = (0u64, Vec::new(), Vec::new());
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
                    let mut unsettled = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let (keys, amount) = pick(workload, n);
                        let began = Instant::now();
                        let outcome = match prepare_one(&client, workload, &keys, amount).await {
                            Ok((t, transfer)) => commit_one(t, transfer, &mut unsettled).await,
                            Err(e) => Err(e),
                        };
                        match outcome {
                            Ok(transfer) => {
                                tally.committed += 1;
                                let _ = hist.record(began.elapsed().as_micros() as u64);
                                account(&expected, transfer);
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
                    (tally, hist, unsettled)
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
            let (t, h, u) = w.await?;
            unsettled.extend(u);
            tally.committed += t.committed;
            tally.aborted += t.aborted;
            tally.unknown += t.unknown;
            tally.failed += t.failed;
            hist.add(&h)?;
        }
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
    // Unknown outcomes become known through their primaries: after this,
    // every committed transfer must show in the final balances exactly.
    let mut settled = 0;
    for u in &unsettled {
        match client.settle(u.start_ts, &u.primary).await {
            Ok(Some(_)) => account(&expected, u.transfer),
            Ok(None) => {}
            Err(e) => {
                println!("# could not settle a transaction of unknown outcome: {e}");
                continue;
            }
        }
        settled += 1;
    }
    if !unsettled.is_empty() {
        println!(
            "# settled {settled} of {} transactions of unknown outcome",
            unsettled.len()
        );
    }
    let (total, balances) = snapshot_total(&client).await?;
    snapshots += 1;
    if total != expected_total {
        wrong.push(total);
    }
    let lost = if settled == unsettled.len() {
        let e = expected.lock();
        balances
            .iter()
            .zip(e.iter())
            .filter(|(v, e)| **v as i64 != **e)
            .count()
            + e.len().abs_diff(balances.len())
    } else {
        0
    };
    if settled < unsettled.len() {
        println!("# final balances not checked: some outcomes stayed unknown");
    } else if lost > 0 {
        println!("# {lost} account(s) do not match the committed transfers");
    } else {
        println!("# final balances match every committed transfer");
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
