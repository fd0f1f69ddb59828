//! End to end, with PD and three stores as OS processes: writes go on
//! through a SIGKILL of the leader's store, the killed store comes back and
//! catches up, and a restart of the whole cluster keeps every key.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::{ClientOptions, RawClient};
use common::{http_get, start_pd, start_store, voters_per_region, wait_for, Cluster};
use parking_lot::Mutex;

const KEYS: usize = 10_000;
const WRITERS: usize = 16;

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn leader_store_id(http: &str) -> Option<u64> {
    http_get(http, "/api/v1/regions")["regions"][0]["leader_store_id"].as_u64()
}

/// The index in `cluster.stores` of the store with this id.
fn store_index(http: &str, addrs: &[String], store_id: u64) -> usize {
    let stores = http_get(http, "/api/v1/stores");
    let addr = stores["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_u64() == Some(store_id))
        .and_then(|s| s["address"].as_str())
        .unwrap()
        .to_string();
    addrs
        .iter()
        .position(|a| *a == addr)
        .expect("leader store is one of ours")
}

async fn read_back(client: &RawClient, expected: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let keys: Vec<Vec<u8>> = expected.keys().cloned().collect();
    let mut got = BTreeMap::new();
    for chunk in keys.chunks(500) {
        for p in client.batch_get(chunk.to_vec()).await.expect("batch get") {
            got.insert(p.key, p.value);
        }
    }
    let missing = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged keys did not read back",
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_leader_kill_and_full_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 3);
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });

    let opts = ClientOptions {
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };
    let client = Arc::new(
        RawClient::connect(&cluster.pd.addr, opts.clone())
            .await
            .unwrap(),
    );
    let acked: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (client, acked, next) = (client.clone(), acked.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= KEYS {
                    return;
                }
                let v = format!("value-{i}").into_bytes();
                client
                    .put(key(i), v.clone())
                    .await
                    .unwrap_or_else(|e| panic!("put {i} failed: {e}"));
                acked.lock().insert(key(i), v);
            }
        }));
    }

    // Kill the leader's store while the writers are busy.
    let at_kill = loop {
        let n = acked.lock().len();
        if n >= 3000 {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let leader = leader_store_id(&http).expect("a leader");
    let addrs: Vec<String> = cluster.stores.iter().map(|s| s.addr.clone()).collect();
    let victim = store_index(&http, &addrs, leader);
    cluster.stores[victim].kill();
    eprintln!("killed store {leader} (the leader's) after {at_kill} acknowledged puts");

    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(
        acked.lock().len(),
        KEYS,
        "every put was acknowledged after re-election"
    );

    // Overwrite some keys: the last value must win.
    for i in (0..KEYS).step_by(97) {
        let v = format!("second-{i}").into_bytes();
        client.put(key(i), v.clone()).await.unwrap();
        acked.lock().insert(key(i), v);
    }

    // The killed store comes back and catches up: with another store
    // down, the Region only makes progress through it.
    cluster.stores[victim] = start_store(dir.path(), &cluster.pd.addr, victim);
    let other = (victim + 1) % 3;
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.stores[other].kill();
    for i in 0..200 {
        let v = format!("after-restart-{i}").into_bytes();
        client.put(key(i), v.clone()).await.unwrap();
        acked.lock().insert(key(i), v);
    }
    let expected = acked.lock().clone();
    read_back(&client, &expected).await;
    cluster.stores[other] = start_store(dir.path(), &cluster.pd.addr, other);

    // A restart of the whole cluster keeps every key.
    drop(client);
    for s in cluster.stores.iter_mut() {
        s.kill();
    }
    cluster.pd.kill();
    let pd = start_pd(dir.path());
    let stores: Vec<_> = (0..3)
        .map(|i| start_store(dir.path(), &pd.addr, i))
        .collect();
    let client = RawClient::connect(&pd.addr, opts).await.unwrap();
    read_back(&client, &expected).await;
    drop(stores);
}
