//! The conformance suite of [`TxnKv`]: every implementation (the cluster
//! client, the local in-memory store) must pass it. Each check is a
//! scenario named as the claim it makes, and panics when the claim fails;
//! [`run_all`] runs them in turn on one store (each uses its own keys, under
//! `prefix`).

use std::sync::Arc;

use crate::buffered::{BufferedTxn, TxnReader};
use crate::error::Error;
use crate::txn_kv::{Pair, SharedKv};

const LIMIT: usize = crate::buffered::DEFAULT_TXN_SIZE_LIMIT;

fn key(prefix: &str, name: &str) -> Vec<u8> {
    format!("{prefix}/{name}").into_bytes()
}

async fn put_all(kv: &SharedKv, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> u64 {
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    for (k, v) in pairs {
        t.put(k, v).expect("put");
    }
    t.commit().await.expect("commit")
}

/// A transaction sees its own writes; others see them only once committed,
/// and a snapshot taken before the commit never does.
pub async fn writes_are_visible_after_commit_only(kv: SharedKv, prefix: &str) {
    let k = key(prefix, "a");
    let before = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    t.put(k.clone(), b"1".to_vec()).expect("put");
    assert_eq!(t.reader().get(&k).await.expect("get"), Some(b"1".to_vec()));
    let other = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    assert_eq!(other.get(&k).await.expect("get"), None);
    t.commit().await.expect("commit");
    let after = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    assert_eq!(after.get(&k).await.expect("get"), Some(b"1".to_vec()));
    assert_eq!(before.get(&k).await.expect("get"), None);
    assert_eq!(other.get(&k).await.expect("get"), None);
}

/// A read of the newest version sees every commit made before it, and
/// deletes, at once.
pub async fn the_newest_version_is_read_without_a_timestamp(kv: SharedKv, prefix: &str) {
    let k = key(prefix, "k");
    assert_eq!(
        TxnReader::latest(kv.clone()).get(&k).await.expect("get"),
        None
    );
    for v in [b"1", b"2"] {
        put_all(&kv, vec![(k.clone(), v.to_vec())]).await;
        let r = TxnReader::latest(kv.clone());
        assert_eq!(r.get(&k).await.expect("get"), Some(v.to_vec()));
    }
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    t.delete(k.clone()).expect("delete");
    t.commit().await.expect("commit");
    assert_eq!(
        TxnReader::latest(kv.clone()).get(&k).await.expect("get"),
        None
    );
}

/// Of two transactions writing the same key, the second to commit fails
/// with a conflict and leaves nothing behind.
pub async fn the_second_writer_of_a_key_conflicts(kv: SharedKv, prefix: &str) {
    let (k, other) = (key(prefix, "k"), key(prefix, "other"));
    let mut a = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    let mut b = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    a.put(k.clone(), b"a".to_vec()).expect("put");
    b.put(k.clone(), b"b".to_vec()).expect("put");
    b.put(other.clone(), b"b".to_vec()).expect("put");
    a.commit().await.expect("first commit");
    match b.commit().await {
        Err(Error::TxnConflict(_)) => {}
        r => panic!("expected a conflict, got {r:?}"),
    }
    let r = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    assert_eq!(r.get(&k).await.expect("get"), Some(b"a".to_vec()));
    assert_eq!(r.get(&other).await.expect("get"), None);
}

/// A locked key makes the commit fail if another transaction wrote it
/// meanwhile, and writes nothing itself.
pub async fn a_locked_key_conflicts_with_a_later_write(kv: SharedKv, prefix: &str) {
    let (k, mine) = (key(prefix, "locked"), key(prefix, "mine"));
    put_all(&kv, vec![(k.clone(), b"0".to_vec())]).await;
    let mut a = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    a.lock(k.clone()).expect("lock");
    a.put(mine.clone(), b"x".to_vec()).expect("put");
    put_all(&kv, vec![(k.clone(), b"1".to_vec())]).await;
    match a.commit().await {
        Err(Error::TxnConflict(_)) => {}
        r => panic!("expected a conflict, got {r:?}"),
    }
    // Without a competing write, a lock commits and changes nothing.
    let mut b = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    b.lock(k.clone()).expect("lock");
    b.commit().await.expect("lock-only commit");
    let r = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    assert_eq!(r.get(&k).await.expect("get"), Some(b"1".to_vec()));
    assert_eq!(r.get(&mine).await.expect("get"), None);
}

/// Scans come back in pages bounded by rows and bytes, in key order, with
/// the transaction's own writes and deletes laid over them, and every key
/// exactly once.
pub async fn scans_page_through_a_range(kv: SharedKv, prefix: &str) {
    let n = 600;
    let pairs: Vec<_> = (0..n)
        .map(|i| (key(prefix, &format!("{i:05}")), vec![b'v'; 100]))
        .collect();
    put_all(&kv, pairs).await;
    let (start, end) = (key(prefix, ""), key(prefix, "~"));
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    t.delete(key(prefix, "00007")).expect("delete");
    t.put(key(prefix, "00007x"), b"new".to_vec()).expect("put");
    let reader = t.reader();
    for (rows, bytes) in [(0, 0), (50, 0), (0, 2000), (7, 333)] {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut from = start.clone();
        let mut pages = 0;
        loop {
            let page = reader.scan(&from, &end, rows, bytes).await.expect("scan");
            pages += 1;
            if rows != 0 {
                // The buffer may add its own keys to a page.
                assert!(page.pairs.len() <= rows + 1, "page of {}", page.pairs.len());
            }
            seen.extend(page.pairs.into_iter().map(|p| p.key));
            match page.resume {
                Some(r) => from = r,
                None => break,
            }
        }
        assert_eq!(seen.len(), n, "rows={rows} bytes={bytes}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "out of order");
        assert!(!seen.contains(&key(prefix, "00007")));
        assert!(seen.contains(&key(prefix, "00007x")));
        if rows != 0 || bytes != 0 {
            assert!(pages > 3, "rows={rows} bytes={bytes}: {pages} pages");
        }
    }
}

/// Reverse scans page back through a range from its end, newest
/// committed version of each key at the reader's timestamp, with the
/// transaction's own writes laid over them, and give exactly the keys of
/// a forward scan, in the opposite order.
pub async fn reverse_scans_page_back_through_a_range(kv: SharedKv, prefix: &str) {
    let n = 300;
    let pairs: Vec<_> = (0..n)
        .map(|i| (key(prefix, &format!("{i:05}")), vec![b'v'; 100]))
        .collect();
    put_all(&kv, pairs).await;
    let before = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    for i in 10..20 {
        t.put(key(prefix, &format!("{i:05}")), b"second".to_vec())
            .expect("put");
    }
    t.delete(key(prefix, "00005")).expect("delete");
    t.commit().await.expect("commit");
    let (start, end) = (key(prefix, ""), key(prefix, "~"));
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    t.delete(key(prefix, "00007")).expect("delete");
    t.put(key(prefix, "00007x"), b"new".to_vec()).expect("put");
    let after = t.reader();
    for reader in [&before, &after] {
        let forward = reader.scan(&start, &end, 0, 0).await.expect("scan");
        assert!(forward.resume.is_none(), "a 30 kB range in one page");
        let mut expected = forward.pairs;
        expected.reverse();
        for (rows, bytes) in [(0, 0), (50, 0), (0, 2000), (7, 333), (1, 0)] {
            let mut seen: Vec<Pair> = Vec::new();
            let mut upper = end.clone();
            loop {
                let page = reader
                    .scan_reverse(&start, &upper, rows, bytes)
                    .await
                    .expect("reverse scan");
                seen.extend(page.pairs);
                match page.resume {
                    Some(r) => upper = r,
                    None => break,
                }
            }
            assert_eq!(seen, expected, "rows={rows} bytes={bytes}");
        }
    }
    let old: Vec<Pair> = before
        .scan_reverse(&start, &end, 0, 0)
        .await
        .expect("reverse scan")
        .pairs;
    assert_eq!(old.len(), n);
    assert!(old.iter().all(|p| p.value == vec![b'v'; 100]));
    let new = after.scan_reverse(&start, &end, 0, 0).await.expect("scan");
    let keys: Vec<&[u8]> = new.pairs.iter().map(|p| p.key.as_slice()).collect();
    assert_eq!(keys.len(), n - 1, "one deleted, one replaced by another");
    assert!(!keys.contains(&key(prefix, "00005").as_slice()));
    let twelve = new.pairs.iter().find(|p| p.key == key(prefix, "00012"));
    assert_eq!(twelve.map(|p| p.value.as_slice()), Some(&b"second"[..]));
}

/// A batch get returns the existing keys, sorted, once each.
pub async fn batch_get_returns_existing_keys_in_order(kv: SharedKv, prefix: &str) {
    put_all(
        &kv,
        vec![
            (key(prefix, "b"), b"2".to_vec()),
            (key(prefix, "a"), b"1".to_vec()),
        ],
    )
    .await;
    let r = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    let got = r
        .batch_get(vec![key(prefix, "b"), key(prefix, "zz"), key(prefix, "a")])
        .await
        .expect("batch_get");
    let keys: Vec<_> = got.into_iter().map(|p| p.key).collect();
    assert_eq!(keys, vec![key(prefix, "a"), key(prefix, "b")]);
}

/// Rolling back to a savepoint forgets the writes made after it.
pub async fn savepoints_forget_later_writes(kv: SharedKv, prefix: &str) {
    let (a, b) = (key(prefix, "a"), key(prefix, "b"));
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    t.put(a.clone(), b"1".to_vec()).expect("put");
    let sp = t.savepoint();
    t.put(b.clone(), b"2".to_vec()).expect("put");
    t.delete(a.clone()).expect("delete");
    t.rollback_to(&sp);
    t.commit().await.expect("commit");
    let r = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    assert_eq!(r.get(&a).await.expect("get"), Some(b"1".to_vec()));
    assert_eq!(r.get(&b).await.expect("get"), None);
}

/// A reader keeps the buffer as it was when it was made.
pub async fn readers_are_frozen(kv: SharedKv, prefix: &str) {
    let a = key(prefix, "a");
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    let r = t.reader();
    t.put(a.clone(), b"1".to_vec()).expect("put");
    assert_eq!(r.get(&a).await.expect("get"), None);
    assert_eq!(t.reader().get(&a).await.expect("get"), Some(b"1".to_vec()));
}

/// A transaction larger than its limit fails with a clear error; one of
/// many megabytes and thousands of keys commits whole.
pub async fn large_transactions_commit_and_limits_hold(kv: SharedKv, prefix: &str) {
    let mut small = BufferedTxn::begin(kv.clone(), 1 << 20)
        .await
        .expect("begin");
    let err = (0..100)
        .map(|i| small.put(key(prefix, &format!("big{i}")), vec![0; 64 << 10]))
        .find_map(Result::err)
        .expect("the limit was never hit");
    assert!(matches!(err, Error::TxnTooLarge(_)), "{err:?}");
    let n = 20_000;
    let mut t = BufferedTxn::begin(kv.clone(), LIMIT).await.expect("begin");
    for i in 0..n {
        t.put(key(prefix, &format!("row{i:06}")), vec![7; 1000])
            .expect("put");
    }
    t.commit().await.expect("commit of 20 MB");
    let r = TxnReader::snapshot(kv.clone()).await.expect("snapshot");
    let (start, end) = (key(prefix, "row"), key(prefix, "rox"));
    let mut count = 0;
    let mut from = start;
    loop {
        let page = r.scan(&from, &end, 0, 0).await.expect("scan");
        count += page.pairs.len();
        match page.resume {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(count, n);
}

/// Ranges cover exactly the range asked for, in order, without gaps.
pub async fn ranges_cover_the_range(kv: SharedKv, prefix: &str) {
    let (start, end) = (key(prefix, ""), key(prefix, "~"));
    let parts = kv.ranges(&start, &end).await.expect("ranges");
    assert!(!parts.is_empty());
    assert_eq!(parts[0].start, start);
    assert_eq!(parts[parts.len() - 1].end, end);
    for w in parts.windows(2) {
        assert_eq!(w[0].end, w[1].start);
        assert!(w[0].start < w[0].end);
    }
}

/// Runs every check of the suite on `kv`, each under its own prefix.
pub async fn run_all(kv: SharedKv, prefix: &str) {
    let p = |name: &str| format!("{prefix}/{name}");
    writes_are_visible_after_commit_only(kv.clone(), &p("visible")).await;
    the_newest_version_is_read_without_a_timestamp(kv.clone(), &p("latest")).await;
    the_second_writer_of_a_key_conflicts(kv.clone(), &p("conflict")).await;
    a_locked_key_conflicts_with_a_later_write(kv.clone(), &p("lock")).await;
    scans_page_through_a_range(kv.clone(), &p("scan")).await;
    reverse_scans_page_back_through_a_range(kv.clone(), &p("reverse")).await;
    batch_get_returns_existing_keys_in_order(kv.clone(), &p("batch")).await;
    savepoints_forget_later_writes(kv.clone(), &p("savepoint")).await;
    readers_are_frozen(kv.clone(), &p("frozen")).await;
    large_transactions_commit_and_limits_hold(kv.clone(), &p("large")).await;
    ranges_cover_the_range(Arc::clone(&kv), &p("ranges")).await;
}
