//! End to end, with processes: transactions over PD and three stores.
//!
//! - snapshot reads, 1PC and 2PC commits across Regions, write conflicts;
//! - a bank: accounts spread over several Regions, concurrent transfers,
//!   and snapshot reads of all balances whose total never changes, while
//!   Regions split, leaders move and a store is SIGKILLed and restarted;
//! - GC of old versions, kept for running transactions, old locks settled
//!   first, and reads older than the safe point refused;
//! - a dead client's locks cleared after their TTL, and an async commit's
//!   fate decided by all its keys;
//! - the outcome of a transaction settled from its primary;
//! - a writer blocked by a running transaction's lock gives up in time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::Error;
use client::{ClientOptions, TxnClient};
use common::{region_ranges, voters_per_region, wait_for, Cluster};
use rand::Rng;

const ACCOUNTS: usize = 40;
const INITIAL: u64 = 1000;

fn account(i: usize) -> Vec<u8> {
    format!("acct-{i:03}").into_bytes()
}

fn opts() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    }
}

async fn start() -> (tempfile::TempDir, Cluster, TxnClient) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 3);
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let txn = TxnClient::connect(&cluster.pd.addr, opts()).await.unwrap();
    (dir, cluster, txn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_commits_and_conflicts() {
    let (_dir, cluster, client) = start().await;
    // Two Regions: "a.." and "m.." are in different ones.
    assert_eq!(client.split_region(b"m").await.unwrap().len(), 2);
    let http = cluster.http();
    wait_for("PD to learn the split", Duration::from_secs(10), || {
        region_ranges(&http).len() >= 2
    });

    // 1PC (one Region) and 2PC (two Regions).
    let mut t = client.begin().await.unwrap();
    t.put(b"a1".to_vec(), b"x".to_vec());
    t.put(b"a2".to_vec(), b"y".to_vec());
    let one_pc = t.commit().await.unwrap();
    let mut t = client.begin().await.unwrap();
    t.put(b"a3".to_vec(), b"z".to_vec());
    t.put(b"m1".to_vec(), b"w".to_vec());
    let two_pc = t.commit().await.unwrap();
    assert!(two_pc > one_pc);

    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"a1").await.unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(t.get(b"m1").await.unwrap().as_deref(), Some(&b"w"[..]));
    assert_eq!(t.get(b"nope").await.unwrap(), None);
    let all = t.scan(b"", b"", 0).await.unwrap();
    let keys: Vec<&[u8]> = all.iter().map(|p| p.key.as_slice()).collect();
    assert_eq!(keys, vec![&b"a1"[..], b"a2", b"a3", b"m1"]);
    assert_eq!(t.scan(b"a2", b"m", 0).await.unwrap().len(), 2);
    assert_eq!(t.scan(b"", b"", 3).await.unwrap().len(), 3);
    // One batch over two Regions, with a key that does not exist.
    let keys = vec![
        b"m1".to_vec(),
        b"a1".to_vec(),
        b"zz".to_vec(),
        b"a3".to_vec(),
    ];
    let got = t.batch_get(&keys).await.unwrap();
    let got: Vec<&[u8]> = got.iter().map(|p| p.key.as_slice()).collect();
    assert_eq!(got, vec![&b"a1"[..], b"a3", b"m1"]);

    // A snapshot does not see later commits; its own writes it does.
    let mut old = client.begin().await.unwrap();
    let mut w = client.begin().await.unwrap();
    w.delete(b"a1".to_vec());
    w.put(b"m2".to_vec(), b"new".to_vec());
    w.commit().await.unwrap();
    assert_eq!(old.get(b"a1").await.unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(old.get(b"m2").await.unwrap(), None);
    old.put(b"b".to_vec(), b"mine".to_vec());
    assert_eq!(old.get(b"b").await.unwrap().as_deref(), Some(&b"mine"[..]));
    old.delete(b"a2".to_vec());
    let seen = old
        .batch_get(&[
            b"a1".to_vec(),
            b"a2".to_vec(),
            b"b".to_vec(),
            b"m2".to_vec(),
        ])
        .await
        .unwrap();
    let seen: Vec<&[u8]> = seen.iter().map(|p| p.key.as_slice()).collect();
    assert_eq!(seen, vec![&b"a1"[..], b"b"]);
    assert_eq!(old.scan(b"a", b"c", 0).await.unwrap().len(), 3);
    // ... and it may not overwrite what committed after it started.
    old.put(b"a1".to_vec(), b"stale".to_vec());
    match old.commit().await {
        Err(Error::TxnConflict(why)) => assert!(why.contains("conflict"), "{why}"),
        other => panic!("expected a write conflict, got {other:?}"),
    }
    // Nothing of the aborted transaction is visible.
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"b").await.unwrap(), None);
    assert_eq!(t.get(b"a1").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_total_never_changes() {
    let (_dir, mut cluster, client) = start().await;
    let http = cluster.http();
    for cut in [10, 20, 30] {
        client.split_region(&account(cut)).await.unwrap();
    }
    let mut t = client.begin().await.unwrap();
    for i in 0..ACCOUNTS {
        t.put(account(i), INITIAL.to_string().into_bytes());
    }
    t.commit().await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let aborted = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (client, stop, committed, aborted) = (
                client.clone(),
                stop.clone(),
                committed.clone(),
                aborted.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (from, to, amount) = {
                        let mut rng = rand::rng();
                        let from = rng.random_range(0..ACCOUNTS);
                        let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                        (from, to, rng.random_range(1..50u64))
                    };
                    let mut t = client.begin().await.unwrap();
                    let balance = |v: Option<Vec<u8>>| -> u64 {
                        String::from_utf8(v.expect("account exists"))
                            .unwrap()
                            .parse()
                            .unwrap()
                    };
                    let a = balance(t.get(&account(from)).await.unwrap());
                    let b = balance(t.get(&account(to)).await.unwrap());
                    let amount = amount.min(a);
                    t.put(account(from), (a - amount).to_string().into_bytes());
                    t.put(account(to), (b + amount).to_string().into_bytes());
                    match t.commit().await {
                        Ok(_) => committed.fetch_add(1, Ordering::Relaxed),
                        // Either way the transfer is all or nothing, which
                        // the snapshots check.
                        Err(Error::TxnConflict(_) | Error::TxnUndetermined(_)) => {
                            aborted.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(e) => panic!("transfer failed: {e}"),
                    };
                }
            })
        })
        .collect();

    let mut snapshots = 0;
    for round in 0..40 {
        let t = client.begin().await.unwrap();
        let all = t.scan(b"acct-", b"acct.", 0).await.unwrap();
        assert_eq!(all.len(), ACCOUNTS);
        let total: u64 = all
            .iter()
            .map(|p| String::from_utf8_lossy(&p.value).parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, INITIAL * ACCOUNTS as u64, "snapshot {round}");
        snapshots += 1;
        // Faults while transfers run: splits, leader moves, a store
        // SIGKILLed and restarted.
        match round {
            10 | 20 => {
                let cut = if round == 10 { 5 } else { 25 };
                client.split_region(&account(cut)).await.unwrap();
            }
            15 | 35 => common::move_leaders(&cluster.pd.addr, &cluster.http()),
            25 => cluster.stores[2].kill(),
            30 => cluster.stores[2] = common::start_store(&cluster.dir, &cluster.pd.addr, 2),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (c, a) = (
        committed.load(Ordering::Relaxed),
        aborted.load(Ordering::Relaxed),
    );
    eprintln!(
        "{c} transfers committed, {a} aborted, {snapshots} snapshots, {} regions",
        region_ranges(&http).len()
    );
    assert!(c > 20, "only {c} transfers committed");
}

/// Sum of a counter over the stores' `/metrics`.
fn counter_total(status_addrs: &[String], name: &str) -> u64 {
    status_addrs
        .iter()
        .map(|a| {
            common::http_get_text(a, "/metrics")
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// A cluster whose GC keeps versions 2 s and runs every second, with the
/// stores' status addresses.
async fn start_fast_gc() -> (
    tempfile::TempDir,
    common::Proc,
    Vec<common::Proc>,
    Vec<String>,
    TxnClient,
) {
    let dir = tempfile::tempdir().unwrap();
    let pd = common::start_pd_with(dir.path(), &["--gc-life-time", "2s"]);
    let flags = ["--gc-interval", "1s", "--status", "127.0.0.1:0"];
    let stores: Vec<_> = (0..3)
        .map(|i| common::start_store_with(dir.path(), &pd.addr, i, &flags))
        .collect();
    let status: Vec<String> = stores.iter().filter_map(|s| s.http.clone()).collect();
    assert_eq!(status.len(), 3);
    let http = pd.http.clone().unwrap();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let client = TxnClient::connect(&pd.addr, opts()).await.unwrap();
    (dir, pd, stores, status, client)
}

/// `strata ctl gc status --json`.
fn gc_status(pd: &str) -> serde_json::Value {
    let out = common::strata()
        .args(["ctl", "--pd", pd, "gc", "status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A gRPC client to the leader of the Region holding the transactional
/// `key`, and the context to address that Region with (for tests that
/// play a client the library would not be).
async fn leader_of(
    pd_addr: &str,
    key: &[u8],
) -> (
    protocol::kvrpcpb::kv_client::KvClient<tonic::transport::Channel>,
    protocol::kvrpcpb::Context,
) {
    use client::pd_client::{PdClient, RpcPdClient};
    let pd = RpcPdClient::connect(pd_addr, Duration::from_secs(10))
        .await
        .unwrap();
    let route = pd.get_region(kv::mvcc::key::encode_key(key)).await.unwrap();
    let leader = client::target_peer(&route).unwrap();
    let store = pd.get_store(leader.store_id).await.unwrap();
    let kv = protocol::kvrpcpb::kv_client::KvClient::connect(format!("http://{}", store.address))
        .await
        .unwrap();
    let ctx = protocol::kvrpcpb::Context {
        region_id: route.region.id,
        region_epoch: route.region.region_epoch.clone(),
        peer: Some(leader),
    };
    (kv, ctx)
}

/// Prewrites `keys` (the first is the primary) with `value` at `start_ts`,
/// straight at the store, as a client that then dies would.
async fn dead_prewrite(pd_addr: &str, keys: &[&[u8]], value: &[u8], start_ts: u64) {
    let resp = raw_prewrite(pd_addr, keys, value, start_ts).await;
    assert!(
        resp.region_error.is_none() && resp.errors.is_empty(),
        "{resp:?}"
    );
}

/// One prewrite request of `keys` (the first is the primary), straight at
/// the store.
async fn raw_prewrite(
    pd_addr: &str,
    keys: &[&[u8]],
    value: &[u8],
    start_ts: u64,
) -> protocol::kvrpcpb::KvPrewriteResponse {
    raw_prewrite_as(pd_addr, keys, keys[0], value, start_ts, None).await
}

/// One prewrite request of `keys` for the transaction whose primary is
/// `primary`, straight at the store; with `secondaries`, an async-commit
/// one (the primary's lock lists them).
async fn raw_prewrite_as(
    pd_addr: &str,
    keys: &[&[u8]],
    primary: &[u8],
    value: &[u8],
    start_ts: u64,
    secondaries: Option<&[&[u8]]>,
) -> protocol::kvrpcpb::KvPrewriteResponse {
    use protocol::kvrpcpb::{KvPrewriteRequest, Mutation};
    use protocol::mvccpb::Op;
    let (mut kv, ctx) = leader_of(pd_addr, keys[0]).await;
    kv.kv_prewrite(KvPrewriteRequest {
        context: Some(ctx),
        mutations: keys
            .iter()
            .map(|k| Mutation {
                op: Op::Put as i32,
                key: k.to_vec(),
                value: value.to_vec(),
            })
            .collect(),
        primary_lock: primary.to_vec(),
        start_version: start_ts,
        lock_ttl: 3000,
        txn_size: keys.len() as u64,
        min_commit_ts: start_ts + 1,
        try_one_pc: false,
        use_async_commit: secondaries.is_some(),
        secondaries: secondaries
            .unwrap_or_default()
            .iter()
            .map(|k| k.to_vec())
            .collect(),
    })
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_old_versions_but_not_what_running_transactions_read() {
    let (_dir, pd, _stores, status, client) = start_fast_gc().await;
    let mut t = client.begin().await.unwrap();
    t.put(b"k".to_vec(), b"first".to_vec());
    t.commit().await.unwrap();
    // A long transaction: it reads long after the GC life time has passed.
    let old = client.begin().await.unwrap();
    let old_ts = old.start_ts();
    for i in 0..50 {
        let mut t = client.begin().await.unwrap();
        t.put(b"k".to_vec(), format!("v{i}").into_bytes());
        t.put(format!("other-{i}").into_bytes(), b"x".to_vec());
        t.commit().await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let gc = gc_status(&pd.addr);
    assert!(gc["safe_point"].as_u64().unwrap() <= old_ts, "{gc}");
    assert!(!gc["services"].as_array().unwrap().is_empty(), "{gc}");
    assert_eq!(old.get(b"k").await.unwrap().as_deref(), Some(&b"first"[..]));

    // Once it ends, the 50 versions of k that newer ones hide go.
    drop(old);
    wait_for("gc", Duration::from_secs(30), || {
        counter_total(&status, "strata_gc_versions_deleted_total") >= 50
    });
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"k").await.unwrap().as_deref(), Some(&b"v49"[..]));
    assert_eq!(t.scan(b"other-", b"other.", 0).await.unwrap().len(), 50);
    // A read at the old timestamp is now refused.
    let (mut kv, ctx) = leader_of(&pd.addr, b"k").await;
    let resp = kv
        .kv_get(protocol::kvrpcpb::KvGetRequest {
            context: Some(ctx),
            key: b"k".to_vec(),
            version: old_ts,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(format!("{resp:?}").contains("safe point"), "{resp:?}");
    let gc = gc_status(&pd.addr);
    assert_eq!(gc["life_time_ms"], 2000);
    assert!(gc["safe_point"].as_u64().unwrap() > old_ts, "{gc}");
}

/// A client died between committing its primary and its secondary. GC
/// would later remove the primary's commit record (newer versions hide
/// it); a reader meeting the secondary's lock would then find no trace of
/// the commit and roll it back. So GC settles such locks first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_settles_old_locks_before_their_evidence_can_go() {
    use protocol::kvrpcpb::{KvCommitRequest, KvScanLockRequest};
    let (_dir, pd, _stores, status, client) = start_fast_gc().await;
    let start_ts = client.current_ts().await.unwrap();
    dead_prewrite(&pd.addr, &[b"p", b"s"], b"orphan", start_ts).await;
    let (mut kv, ctx) = leader_of(&pd.addr, b"p").await;
    let commit_ts = client.current_ts().await.unwrap();
    let resp = kv
        .kv_commit(KvCommitRequest {
            context: Some(ctx.clone()),
            start_version: start_ts,
            keys: vec![b"p".to_vec()],
            commit_version: commit_ts,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        resp.region_error.is_none() && resp.errors.is_empty(),
        "{resp:?}"
    );
    let mut last = 0;
    for i in 0..5 {
        let mut t = client.begin().await.unwrap();
        t.put(b"p".to_vec(), format!("later-{i}").into_bytes());
        last = t.commit().await.unwrap();
    }
    // Nobody reads s: the safe point passes the transaction only after GC
    // settled its lock.
    wait_for(
        "the safe point to pass the updates",
        Duration::from_secs(30),
        || gc_status(&pd.addr)["safe_point"].as_u64().unwrap() > last,
    );
    wait_for("gc", Duration::from_secs(30), || {
        counter_total(&status, "strata_gc_versions_deleted_total") >= 5
    });
    // GC settled the lock (committed it): no reader touched s.
    let locks = kv
        .kv_scan_lock(KvScanLockRequest {
            context: Some(ctx),
            max_version: u64::MAX,
            start_key: vec![],
            end_key: vec![],
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(locks.locks.is_empty(), "{locks:?}");
    // Without that, a reader would find no trace of the commit and roll
    // s back (reading None).
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"s").await.unwrap().as_deref(), Some(&b"orphan"[..]));
    assert_eq!(t.get(b"p").await.unwrap().as_deref(), Some(&b"later-4"[..]));
}

/// A client that prewrote and died: its locks block readers only until
/// their TTL runs out; then the first reader rolls the transaction back
/// and reads around it, and a writer can take the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_clients_locks_clear_after_their_ttl() {
    let (_dir, cluster, client) = start().await;
    let mut t = client.begin().await.unwrap();
    t.put(b"p".to_vec(), b"before".to_vec());
    t.commit().await.unwrap();

    // The "dead client": prewrites p and s and never commits.
    let start_ts = client.current_ts().await.unwrap();
    dead_prewrite(&cluster.pd.addr, &[b"p", b"s"], b"dead", start_ts).await;
    let locked_at = std::time::Instant::now();

    // A reader waits for the TTL, then rolls the dead transaction back.
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"s").await.unwrap(), None);
    assert_eq!(t.get(b"p").await.unwrap().as_deref(), Some(&b"before"[..]));
    let waited = locked_at.elapsed();
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(15),
        "waited {waited:?}"
    );
    // A writer takes the keys; the dead transaction can never commit.
    let mut w = client.begin().await.unwrap();
    w.put(b"s".to_vec(), b"after".to_vec());
    w.commit().await.unwrap();
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"s").await.unwrap().as_deref(), Some(&b"after"[..]));
}

/// Async commit across two Regions. A live client's commit is visible at
/// once to every later reader. A dead client's transaction is decided by
/// all its keys once its TTL ran out: every key locked means it committed
/// (at the largest min_commit_ts, which the stores took after any read of
/// the keys), a key never locked means it did not, and that key's late
/// prewrite then fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_commits_are_decided_by_all_their_keys() {
    let (_dir, cluster, client) = start().await;
    client.split_region(b"m").await.unwrap();
    let pd = cluster.pd.addr.clone();
    let mut t = client.begin().await.unwrap();
    t.put(b"a".to_vec(), b"0".to_vec());
    t.put(b"z".to_vec(), b"0".to_vec());
    let committed_at = t.commit().await.unwrap();
    let t = client.begin().await.unwrap();
    assert!(t.start_ts() > committed_at);
    assert_eq!(t.get(b"z").await.unwrap().as_deref(), Some(&b"0"[..]));
    assert_eq!(t.get(b"a").await.unwrap().as_deref(), Some(&b"0"[..]));

    // Every key locked, then the client died: committed.
    let before = client.begin().await.unwrap();
    let dead = client.current_ts().await.unwrap();
    let keys: [&[u8]; 1] = [b"z"];
    for (part, secondaries) in [
        (&[&b"a"[..]][..], Some(&keys[..])),
        (&keys[..], Some(&[][..])),
    ] {
        let r = raw_prewrite_as(&pd, part, b"a", b"dead", dead, secondaries).await;
        assert!(r.errors.is_empty() && r.region_error.is_none(), "{r:?}");
        assert!(r.min_commit_ts > dead, "{r:?}");
    }
    // A snapshot older than the locks' min_commit_ts reads around them.
    assert_eq!(before.get(b"z").await.unwrap().as_deref(), Some(&b"0"[..]));
    let locked_at = std::time::Instant::now();
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"z").await.unwrap().as_deref(), Some(&b"dead"[..]));
    assert_eq!(t.get(b"a").await.unwrap().as_deref(), Some(&b"dead"[..]));
    let waited = locked_at.elapsed();
    assert!(waited >= Duration::from_millis(2000), "waited {waited:?}");
    let (commit_a, commit_z) = (
        client.settle(dead, b"a").await.unwrap(),
        client.settle(dead, b"z").await.unwrap(),
    );
    assert!(
        commit_a.is_some() && commit_a == commit_z,
        "{commit_a:?} {commit_z:?}"
    );

    // Only the primary locked: rolled back, and the late secondary fails.
    let lost = client.current_ts().await.unwrap();
    let r = raw_prewrite_as(&pd, &[b"a"], b"a", b"lost", lost, Some(&keys[..])).await;
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(client.settle(lost, b"a").await.unwrap(), None);
    let late = raw_prewrite_as(&pd, &[b"z"], b"a", b"lost", lost, Some(&[][..])).await;
    assert!(late.errors.iter().any(|e| !e.abort.is_empty()), "{late:?}");
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"a").await.unwrap().as_deref(), Some(&b"dead"[..]));
    assert_eq!(t.get(b"z").await.unwrap().as_deref(), Some(&b"dead"[..]));
}

/// `settle` answers what became of a transaction whose commit answer was
/// lost, for good: its commit timestamp, or that it was rolled back (after
/// its TTL if it is locked; at once, and for ever, if its primary never
/// arrived).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_tells_what_became_of_a_transaction() {
    let (_dir, cluster, client) = start().await;
    let mut t = client.begin().await.unwrap();
    t.put(b"q".to_vec(), b"1".to_vec());
    t.put(b"p".to_vec(), b"1".to_vec());
    let (start_ts, primary) = (t.start_ts(), t.primary_key().unwrap().to_vec());
    assert_eq!(primary, b"p");
    let commit_ts = t.commit().await.unwrap();
    assert_eq!(
        client.settle(start_ts, &primary).await.unwrap(),
        Some(commit_ts)
    );

    // Prewrote and died: rolled back once the locks' TTL ran out.
    let dead = client.current_ts().await.unwrap();
    dead_prewrite(&cluster.pd.addr, &[b"p", b"s"], b"dead", dead).await;
    let locked_at = std::time::Instant::now();
    assert_eq!(client.settle(dead, b"p").await.unwrap(), None);
    let waited = locked_at.elapsed();
    assert!(waited >= Duration::from_millis(2500), "waited {waited:?}");

    // Its primary never arrived: rolled back, so a late prewrite fails.
    let lost = client.current_ts().await.unwrap();
    assert_eq!(client.settle(lost, b"x").await.unwrap(), None);
    let late = raw_prewrite(&cluster.pd.addr, &[b"x"], b"late", lost).await;
    assert!(late.errors.iter().any(|e| !e.abort.is_empty()), "{late:?}");
    let t = client.begin().await.unwrap();
    assert_eq!(t.get(b"x").await.unwrap(), None);
    assert_eq!(t.get(b"p").await.unwrap().as_deref(), Some(&b"1"[..]));
}

/// A writer that meets the lock of a transaction that is still running
/// (its client heartbeats it) waits only so long, then aborts: two writers
/// each holding a key the other wants would otherwise wait for each other
/// until their deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_blocked_by_a_running_transaction_gives_up() {
    let (_dir, cluster, client) = start().await;
    // The "running" transaction: holds k, and its client keeps it alive.
    let holder = client.current_ts().await.unwrap();
    dead_prewrite(&cluster.pd.addr, &[b"k"], b"held", holder).await;
    let pd = cluster.pd.addr.clone();
    let heartbeats = tokio::spawn(async move {
        loop {
            let (mut kv, ctx) = leader_of(&pd, b"k").await;
            let _ = kv
                .kv_txn_heart_beat(protocol::kvrpcpb::KvTxnHeartBeatRequest {
                    context: Some(ctx),
                    primary_lock: b"k".to_vec(),
                    start_version: holder,
                    advise_lock_ttl: 60_000,
                })
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let began = std::time::Instant::now();
    let mut t = client.begin().await.unwrap();
    t.put(b"k".to_vec(), b"mine".to_vec());
    let outcome = t.commit().await;
    let waited = began.elapsed();
    heartbeats.abort();
    assert!(matches!(outcome, Err(Error::TxnConflict(_))), "{outcome:?}");
    // Well before the client's 30 s deadline.
    assert!(waited < Duration::from_secs(15), "waited {waited:?}");
}

/// The cluster client passes the same `TxnKv` conformance suite as the
/// local in-memory store, also with the checked ranges cut by Region
/// boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_passes_the_txn_kv_conformance_suite() {
    let (_dir, _cluster, client) = start().await;
    client.split_region(b"cluster/ranges/m").await.unwrap();
    // Reverse scans cross two boundaries.
    client.split_region(b"cluster/reverse/00100").await.unwrap();
    client
        .split_region(b"cluster/reverse/00150x")
        .await
        .unwrap();
    let kv: client::SharedKv = Arc::new(client.clone());
    // PD learns of the splits from the new Regions' first heartbeats.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for (range, regions) in [("cluster/ranges/", 2), ("cluster/reverse/", 3)] {
        loop {
            let end = format!("{range}~");
            let parts = kv.ranges(range.as_bytes(), end.as_bytes()).await.unwrap();
            if parts.len() == regions {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "PD never showed the split: {parts:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    client::conformance::run_all(kv, "cluster").await;
}

/// A Region holding more than one answer may carry comes back in pages,
/// for raw and transactional scans alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_regions_are_scanned_in_pages() {
    let (_dir, cluster, client) = start().await;
    let raw = client::RawClient::connect(&cluster.pd.addr, opts())
        .await
        .unwrap();
    let value = vec![7u8; 256 << 10];
    let mut t = client.begin().await.unwrap();
    for i in 0..48 {
        let k = format!("big-{i:03}").into_bytes();
        raw.put(k.clone(), value.clone()).await.unwrap();
        t.put(k, value.clone());
    }
    t.commit().await.unwrap();
    // 12 MiB in one Region: three times the store's cap for one answer.
    let all = raw.scan(Vec::new(), Vec::new(), 0).await.unwrap();
    assert_eq!(all.len(), 48);
    let t = client.begin().await.unwrap();
    let all = t.scan(b"big-", b"big-~", 0).await.unwrap();
    assert_eq!(all.len(), 48);
    assert!(all.iter().all(|p| p.value.len() == value.len()));
}
