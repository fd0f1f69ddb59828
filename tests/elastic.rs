//! End to end, with processes: scale out, lose a store, scale in.
//!
//! PD and three stores with a 1 MiB split size take 50 MiB, so 50 or more
//! Regions exist. Then, while a background writer and a background scanner
//! run:
//! 1. two stores join: Region and leader counts per store settle within
//!    ±10% of the mean;
//! 2. one store is SIGKILLed: after the down time every Region is back to
//!    three voters on live stores;
//! 3. another store is decommissioned with `strata ctl store delete`: it
//!    ends Tombstone, holding no replica.
//!
//! The writer and the scanner see no error, every scan is ordered and
//! complete, and every acknowledged write reads back at the end.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{ClientOptions, RawClient};
use common::{
    http_get, region_ranges, start_pd_with, start_store_with, store_stats, strata,
    voters_per_region, wait_for, Proc,
};
use parking_lot::Mutex;
use protocol::kvrpcpb::KvPair;

const STORE_FLAGS: &[&str] = &["--region-split-size", "1MiB"];
const LOAD_BYTES: usize = 50 << 20;
const VALUE: usize = 4096;
const BATCH: usize = 64;
const LOADERS: usize = 4;

fn load_key(i: usize) -> Vec<u8> {
    format!("load-{i:08}").into_bytes()
}

fn bg_key(i: usize) -> Vec<u8> {
    format!("bg-{i:08}").into_bytes()
}

/// Whether every Up store's Region and leader counts are within ±10% of
/// the Up stores' means.
fn balanced(http: &str) -> bool {
    let up: Vec<_> = store_stats(http)
        .into_iter()
        .filter(|s| s.2 == "Up")
        .collect();
    let n = up.len() as f64;
    let within = |counts: Vec<u64>| {
        let mean = counts.iter().sum::<u64>() as f64 / n;
        counts
            .iter()
            .all(|c| (*c as f64 - mean).abs() <= mean * 0.1)
    };
    within(up.iter().map(|s| s.3).collect()) && within(up.iter().map(|s| s.4).collect())
}

/// Region ids whose voters are not exactly three on stores in `live`.
fn regions_not_on(http: &str, live: &[u64]) -> Vec<u64> {
    let v = http_get(http, "/api/v1/regions");
    let mut bad = Vec::new();
    for r in v["regions"].as_array().cloned().unwrap_or_default() {
        let peers = r["peers"].as_array().cloned().unwrap_or_default();
        let ok = peers.len() == 3
            && peers.iter().all(|p| {
                p["role"] == "Voter" && live.contains(&p["store_id"].as_u64().unwrap_or(0))
            });
        if !ok {
            bad.push(r["id"].as_u64().unwrap_or(0));
        }
    }
    bad
}

fn store_id_of(http: &str, proc: &Proc) -> u64 {
    store_stats(http)
        .into_iter()
        .find(|s| s.1 == proc.addr)
        .map(|s| s.0)
        .expect("store registered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_out_survives_a_kill_and_decommissions() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pd = start_pd_with(dir.path(), &["--max-store-down-time", "8s"]);
    let http = pd.http.clone().unwrap();
    let mut stores: Vec<Proc> = (0..3)
        .map(|i| start_store_with(dir.path(), &pd.addr, i, STORE_FLAGS))
        .collect();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let opts = ClientOptions {
        timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let client = Arc::new(RawClient::connect(&pd.addr, opts).await.unwrap());

    // Load: 50 MiB in batches of 256 KiB from four loaders.
    let total = LOAD_BYTES / VALUE;
    let loaders: Vec<_> = (0..LOADERS)
        .map(|l| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut i = l * BATCH;
                while i < total {
                    let pairs = (i..(i + BATCH).min(total))
                        .map(|k| KvPair {
                            key: load_key(k),
                            value: vec![(k % 251) as u8; VALUE],
                        })
                        .collect();
                    client.batch_put(pairs).await.expect("load");
                    i += LOADERS * BATCH;
                }
            })
        })
        .collect();
    for l in loaders {
        l.await.unwrap();
    }
    eprintln!("loaded 50 MiB in {:?}", t0.elapsed());
    wait_for("50 regions", Duration::from_secs(120), || {
        region_ranges(&http).len() >= 50
    });
    eprintln!(
        "{} regions at {:?}",
        region_ranges(&http).len(),
        t0.elapsed()
    );

    // Background traffic for the rest of the test.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(0usize));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (client, stop, acked, errors) =
            (client.clone(), stop.clone(), acked.clone(), errors.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                match client.put(bg_key(n), n.to_string().into_bytes()).await {
                    Ok(()) => {
                        n += 1;
                        *acked.lock() = n;
                    }
                    Err(e) => errors.lock().push(format!("put {n}: {e}")),
                }
            }
        })
    };
    let scanner = {
        let (client, stop, acked, errors) =
            (client.clone(), stop.clone(), acked.clone(), errors.clone());
        tokio::spawn(async move {
            let mut scans = 0;
            while !stop.load(Ordering::SeqCst) {
                let before = *acked.lock();
                match client.scan(b"bg-".to_vec(), b"bg.".to_vec(), 0).await {
                    Ok(pairs) => {
                        let ordered = pairs.windows(2).all(|w| w[0].key < w[1].key);
                        let complete = pairs.iter().take_while(|p| p.key < bg_key(before)).count();
                        if !ordered || complete != before {
                            errors.lock().push(format!(
                                "scan: ordered {ordered}, {complete} of {before} acknowledged keys"
                            ));
                        }
                        scans += 1;
                    }
                    Err(e) => errors.lock().push(format!("scan: {e}")),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            scans
        })
    };

    // 1. Scale out.
    for i in 3..5 {
        stores.push(start_store_with(dir.path(), &pd.addr, i, STORE_FLAGS));
    }
    let mut stable = 0;
    wait_for("balance over 5 stores", Duration::from_secs(300), || {
        stable = if balanced(&http) { stable + 1 } else { 0 };
        stable >= 10
    });
    eprintln!(
        "balanced over 5 stores at {:?}: {:?}",
        t0.elapsed(),
        store_stats(&http)
    );

    // 2. Lose a store.
    let killed = store_id_of(&http, &stores[0]);
    stores[0].kill();
    let live: Vec<u64> = store_stats(&http)
        .iter()
        .map(|s| s.0)
        .filter(|id| *id != killed)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(240);
    while !regions_not_on(&http, &live).is_empty() {
        if Instant::now() > deadline {
            let bad = regions_not_on(&http, &live);
            let regions = http_get(&http, "/api/v1/regions");
            for r in regions["regions"].as_array().unwrap() {
                if bad.contains(&r["id"].as_u64().unwrap()) {
                    eprintln!("BAD {r}");
                }
            }
            eprintln!("OPS {}", http_get(&http, "/api/v1/operators"));
            eprintln!("STORES {:?}", store_stats(&http));
            panic!("timed out waiting for every region on 3 live voters");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("replicas rebuilt at {:?}", t0.elapsed());

    // 3. Decommission another.
    let leaving = store_id_of(&http, &stores[1]);
    let out = strata()
        .args([
            "ctl",
            "--pd",
            &pd.addr,
            "store",
            "delete",
            &leaving.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "the store to be a tombstone",
        Duration::from_secs(240),
        || {
            store_stats(&http)
                .iter()
                .any(|s| s.0 == leaving && s.2 == "Tombstone" && s.3 == 0)
        },
    );
    let remaining: Vec<u64> = live.iter().copied().filter(|id| *id != leaving).collect();
    assert!(regions_not_on(&http, &remaining).is_empty());
    eprintln!("decommissioned at {:?}", t0.elapsed());

    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let scans = scanner.await.unwrap();
    let errors = errors.lock().clone();
    assert!(
        errors.is_empty(),
        "background traffic saw errors: {errors:?}"
    );
    let n = *acked.lock();
    assert!(n > 0 && scans > 0, "{n} writes, {scans} scans");
    let all: Vec<Vec<u8>> = (0..n).map(bg_key).collect();
    let mut found = 0;
    for chunk in all.chunks(1000) {
        found += client.batch_get(chunk.to_vec()).await.unwrap().len();
    }
    assert_eq!(found, n, "acknowledged background writes lost");
    let loaded = client
        .scan(b"load-".to_vec(), b"load.".to_vec(), 0)
        .await
        .unwrap();
    assert_eq!(loaded.len(), total);
    assert!(loaded
        .iter()
        .enumerate()
        .all(|(i, p)| p.key == load_key(i) && p.value == vec![(i % 251) as u8; VALUE]));
    eprintln!(
        "done at {:?}: {n} background writes, {scans} scans",
        t0.elapsed()
    );
}
