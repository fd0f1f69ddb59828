//! End to end, with PD and three stores as OS processes and a 64 KiB split
//! size: Regions split by size while a writer loads data and a scanner
//! walks the whole range over and over; `strata ctl split` cuts at a given
//! key. Every scan returns keys in order, each once, including every key
//! acknowledged before it began; PD's table ends up covering the key
//! space with no gap, every Region with three voters.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::{ClientOptions, RawClient};
use common::{region_ranges, strata, voters_per_region, wait_for, Cluster};
use protocol::kvrpcpb::KvPair;

const KEYS: usize = 24_000;
const BATCH: usize = 200;
const VALUE: usize = 100;

fn key(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

/// Scans everything under `key-` and checks order, uniqueness and that the
/// first `acked` keys are all there.
async fn scan_and_check(client: &RawClient, acked: usize) -> usize {
    let pairs = client
        .scan(b"key-".to_vec(), b"key.".to_vec(), 0)
        .await
        .expect("scan");
    for w in pairs.windows(2) {
        assert!(
            w[0].key < w[1].key,
            "scan out of order or repeated: {:?} then {:?}",
            String::from_utf8_lossy(&w[0].key),
            String::from_utf8_lossy(&w[1].key)
        );
    }
    let present = pairs.iter().take_while(|p| p.key < key(acked)).count();
    assert_eq!(
        present, acked,
        "a scan missed some of the {acked} keys acknowledged before it began"
    );
    pairs.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_split_under_load_and_scans_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start_with(dir.path(), 3, &["--region-split-size", "64KiB"]);
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let opts = ClientOptions {
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };
    let client = Arc::new(RawClient::connect(&cluster.pd.addr, opts).await.unwrap());

    // Writes go in key order, so "acknowledged" is a prefix of the keys.
    let acked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let scanner = {
        let (client, acked, done) = (client.clone(), acked.clone(), done.clone());
        tokio::spawn(async move {
            let mut scans = 0;
            while !done.load(Ordering::SeqCst) {
                let before = acked.load(Ordering::SeqCst);
                scan_and_check(&client, before).await;
                scans += 1;
            }
            scans
        })
    };
    for start in (0..KEYS).step_by(BATCH) {
        let pairs: Vec<KvPair> = (start..start + BATCH)
            .map(|i| KvPair {
                key: key(i),
                value: vec![b'v'; VALUE],
            })
            .collect();
        client.batch_put(pairs).await.expect("batch put");
        acked.store(start + BATCH, Ordering::SeqCst);
    }

    // About 2.6 MB of data at a 64 KiB split size.
    wait_for("20 regions", Duration::from_secs(90), || {
        region_ranges(&http).len() >= 20
    });
    done.store(true, Ordering::SeqCst);
    let scans = scanner.await.expect("scanner");
    assert!(scans > 0);

    // A split at a given key, from the command line.
    let out = strata()
        .args(["ctl", "--pd", &cluster.pd.addr, "split", "key-012345x"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ctl split failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"key-012345x\""),
        "no region starts at the key: {stdout}"
    );
    // Splitting at a boundary that exists changes nothing.
    let again = strata()
        .args([
            "ctl",
            "--pd",
            &cluster.pd.addr,
            "--json",
            "split",
            "key-012345x",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["count"], 1, "{v}");

    wait_for("PD to cover the key space", Duration::from_secs(30), || {
        let ranges = region_ranges(&http);
        ranges.first().is_some_and(|f| f.1.is_empty())
            && ranges.last().is_some_and(|l| l.2.is_empty())
            && ranges.windows(2).all(|w| w[0].2 == w[1].1)
            // Boundaries are Region-space keys: raw keys carry an `r`.
            && ranges
                .iter()
                .any(|r| r.1 == hex::encode_upper("rkey-012345x"))
    });
    wait_for("3 voters everywhere", Duration::from_secs(60), || {
        voters_per_region(&http).iter().all(|v| *v == 3)
    });
    assert_eq!(scan_and_check(&client, KEYS).await, KEYS);
}
