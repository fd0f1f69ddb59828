//! End to end, with processes: a small hot key range spreads over stores.
//!
//! PD and three stores with a low load-split threshold. One Region holds
//! 4 000 keys; sixteen clients read and update random keys among them. At
//! first the Region's leader serves everything. The Region stays hot, so
//! its leader splits it at a sampled key; the halves stay hot and split
//! again; PD's hot-region scheduler moves hot leaders to the stores that
//! serve least. The test waits until the stores share the load (each
//! serves at least 15% of it, none more than 55%, over three seconds), and
//! checks that no request failed and every acknowledged update reads back.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{ClientOptions, RawClient};
use common::{http_get, region_ranges, start_pd, start_store_with, voters_per_region, wait_for};
use parking_lot::Mutex;
use protocol::kvrpcpb::KvPair;
use rand::Rng;

const STORE_FLAGS: &[&str] = &["--load-split-qps", "300"];
const KEYS: usize = 4000;
const CLIENTS: usize = 16;

fn key(i: usize) -> Vec<u8> {
    format!("hot-{i:05}").into_bytes()
}

/// Keys read plus written per second through each store's leaders, as
/// the stores last reported to PD.
fn store_loads(http: &str) -> Vec<(u64, u64)> {
    let v = http_get(http, "/api/v1/stores");
    v["stores"]
        .as_array()
        .map(|ss| {
            ss.iter()
                .map(|s| {
                    let load =
                        s["read_qps"].as_u64().unwrap_or(0) + s["write_qps"].as_u64().unwrap_or(0);
                    (s["id"].as_u64().unwrap_or(0), load)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each store's share of the summed loads, in store order.
fn shares(samples: &[Vec<(u64, u64)>]) -> Vec<f64> {
    let mut per_store: HashMap<u64, u64> = HashMap::new();
    for s in samples {
        for (id, load) in s {
            *per_store.entry(*id).or_default() += load;
        }
    }
    let total = per_store.values().sum::<u64>().max(1) as f64;
    let mut ids: Vec<_> = per_store.keys().copied().collect();
    ids.sort();
    ids.iter().map(|id| per_store[id] as f64 / total).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_key_range_spreads_over_stores() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pd = start_pd(dir.path());
    let http = pd.http.clone().unwrap();
    let _stores: Vec<_> = (0..3)
        .map(|i| start_store_with(dir.path(), &pd.addr, i, STORE_FLAGS))
        .collect();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let opts = ClientOptions {
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };
    let client = Arc::new(RawClient::connect(&pd.addr, opts).await.unwrap());
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let pairs = chunk
            .iter()
            .map(|i| KvPair {
                key: key(*i),
                value: b"initial".to_vec(),
            })
            .collect();
        client.batch_put(pairs).await.unwrap();
    }

    // Sixteen clients: random reads anywhere in the range, updates of the
    // keys each one owns (so each knows its keys' last acknowledged value).
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let (client, stop, ops, errors) =
                (client.clone(), stop.clone(), ops.clone(), errors.clone());
            tokio::spawn(async move {
                let mut last: HashMap<usize, Vec<u8>> = HashMap::new();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (read, i) = {
                        let mut rng = rand::rng();
                        (rng.random_bool(0.5), rng.random_range(0..KEYS))
                    };
                    if read {
                        match client.get(key(i)).await {
                            Ok(Some(_)) => {}
                            Ok(None) => errors.lock().push(format!("key {i} missing")),
                            Err(e) => errors.lock().push(format!("get {i}: {e}")),
                        }
                    } else {
                        let i = i - i % CLIENTS + w;
                        if i >= KEYS {
                            continue;
                        }
                        seq += 1;
                        let value = format!("{w}-{seq}").into_bytes();
                        match client.put(key(i), value.clone()).await {
                            Ok(()) => {
                                last.insert(i, value);
                            }
                            Err(e) => errors.lock().push(format!("put {i}: {e}")),
                        }
                    }
                    ops.fetch_add(1, Ordering::Relaxed);
                }
                last
            })
        })
        .collect();

    // At first one store serves everything: the Region is not split yet
    // (it must stay hot for 10 s), and one Region cannot be spread.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut samples = Vec::new();
    for _ in 0..3 {
        samples.push(store_loads(&http));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let before = shares(&samples);
    let ops_before = ops.load(Ordering::Relaxed);
    eprintln!(
        "before at {:?}: shares {before:?}, {} regions, {ops_before} ops so far",
        t0.elapsed(),
        region_ranges(&http).len()
    );
    assert!(
        before.iter().any(|s| *s > 0.9),
        "one store should serve the single hot Region: {before:?}"
    );

    // Then the Region splits by load and the leaders spread.
    let start = Instant::now();
    let mut window: Vec<Vec<(u64, u64)>> = Vec::new();
    let after = loop {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "load did not spread: shares {:?}, regions {:?}",
            shares(&window),
            http_get(&http, "/api/v1/regions")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        window.push(store_loads(&http));
        if window.len() > 3 {
            window.remove(0);
        }
        let s = shares(&window);
        if window.len() == 3 && s.len() == 3 && s.iter().all(|x| *x >= 0.15 && *x <= 0.55) {
            break s;
        }
    };
    let regions = region_ranges(&http).len();
    eprintln!(
        "spread after {:?} (at {:?}): shares {after:?}, {regions} regions",
        start.elapsed(),
        t0.elapsed()
    );
    assert!(regions >= 3, "the hot range was split: {regions} regions");

    stop.store(true, Ordering::SeqCst);
    let mut last = HashMap::new();
    for w in workers {
        last.extend(w.await.unwrap());
    }
    let errors = errors.lock().clone();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");
    let total_ops = ops.load(Ordering::Relaxed);
    let keys: Vec<usize> = (0..KEYS).collect();
    let mut found = 0;
    for chunk in keys.chunks(500) {
        let pairs = client
            .batch_get(chunk.iter().map(|i| key(*i)).collect())
            .await
            .unwrap();
        for p in pairs {
            let i: usize = std::str::from_utf8(&p.key[4..]).unwrap().parse().unwrap();
            let want = last.get(&i).map_or(&b"initial"[..], |v| v.as_slice());
            assert_eq!(p.value, want, "key {i} lost an acknowledged update");
            found += 1;
        }
    }
    assert_eq!(found, KEYS);
    eprintln!(
        "done at {:?}: {total_ops} operations, {} keys updated",
        t0.elapsed(),
        last.len()
    );
}
