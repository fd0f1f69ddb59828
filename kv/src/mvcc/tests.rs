//! Percolator scenarios against the in-memory engine: each action reads a
//! snapshot and its batch is written at once, as a store does under latches.

use protocol::mvccpb::Op;

use super::key::encode_key;
use super::txn::{self, Mutation, Prewrite, TxnStatus};
use super::{MvccError, MvccReader, PHYSICAL_SHIFT};
use crate::engine::{Engine, MemEngine, WriteBatch};

/// A timestamp at `ms` physical milliseconds (logical 0).
fn ts(ms: u64) -> u64 {
    ms << PHYSICAL_SHIFT
}

fn k(s: &str) -> Vec<u8> {
    encode_key(s.as_bytes())
}

struct Db(MemEngine);

impl Db {
    fn new() -> Self {
        Db(MemEngine::new())
    }

    /// Runs an action on a fresh snapshot and writes its batch if it succeeded.
    fn run<T>(
        &self,
        f: impl FnOnce(
            &MvccReader<'_, <MemEngine as Engine>::Snapshot>,
            &mut WriteBatch,
        ) -> super::Result<T>,
    ) -> super::Result<T> {
        let snap = self.0.snapshot();
        let reader = MvccReader::new(&snap);
        let mut wb = WriteBatch::default();
        let out = f(&reader, &mut wb)?;
        self.0.write(&wb, false).unwrap();
        Ok(out)
    }

    fn prewrite(
        &self,
        start_ts: u64,
        primary: &str,
        muts: &[(&str, Option<&str>)],
    ) -> super::Result<()> {
        self.prewrite_with(start_ts, primary, muts, None)
            .map(|_| ())
    }

    fn prewrite_with(
        &self,
        start_ts: u64,
        primary: &str,
        muts: &[(&str, Option<&str>)],
        one_pc: Option<u64>,
    ) -> super::Result<Option<u64>> {
        self.prewrite_full(start_ts, primary, muts, one_pc, None, start_ts + 1)
            .map(|p| p.committed)
    }

    /// An async-commit prewrite whose locks may commit from `min_commit_ts`
    /// on; the primary's lock lists `secondaries`.
    fn prewrite_async(
        &self,
        start_ts: u64,
        primary: &str,
        muts: &[(&str, Option<&str>)],
        secondaries: &[&str],
        min_commit_ts: u64,
    ) -> super::Result<txn::Prewritten> {
        let secondaries = secondaries.iter().map(|s| s.as_bytes().to_vec()).collect();
        self.prewrite_full(
            start_ts,
            primary,
            muts,
            None,
            Some(secondaries),
            min_commit_ts,
        )
    }

    fn prewrite_full(
        &self,
        start_ts: u64,
        primary: &str,
        muts: &[(&str, Option<&str>)],
        one_pc: Option<u64>,
        async_commit: Option<Vec<Vec<u8>>>,
        min_commit_ts: u64,
    ) -> super::Result<txn::Prewritten> {
        let mutations: Vec<Mutation> = muts
            .iter()
            .map(|(key, v)| Mutation {
                op: if v.is_some() { Op::Put } else { Op::Del },
                key: k(key),
                value: v.unwrap_or("").as_bytes().to_vec(),
            })
            .collect();
        let req = Prewrite {
            start_ts,
            primary: k(primary),
            lock_ttl: 3000,
            txn_size: mutations.len() as u64,
            min_commit_ts,
            one_pc_commit_ts: one_pc,
            async_commit,
        };
        self.run(|r, wb| txn::prewrite(r, &req, &mutations, wb))
    }

    fn commit(&self, start_ts: u64, commit_ts: u64, keys: &[&str]) -> super::Result<()> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|s| k(s)).collect();
        self.run(|r, wb| txn::commit(r, &keys, start_ts, commit_ts, wb))
    }

    fn rollback(&self, start_ts: u64, keys: &[&str]) -> super::Result<()> {
        let keys: Vec<Vec<u8>> = keys.iter().map(|s| k(s)).collect();
        self.run(|r, wb| txn::rollback(r, &keys, start_ts, wb))
    }

    fn status(
        &self,
        primary: &str,
        start_ts: u64,
        now: u64,
        rollback: bool,
    ) -> super::Result<TxnStatus> {
        self.run(|r, wb| txn::check_txn_status(r, &k(primary), start_ts, now, rollback, wb))
    }

    fn get(&self, key: &str, ts: u64) -> super::Result<Option<String>> {
        let snap = self.0.snapshot();
        let v = MvccReader::new(&snap).get(&k(key), ts)?;
        Ok(v.map(|v| String::from_utf8(v).unwrap()))
    }
}

#[test]
fn a_committed_write_is_seen_exactly_by_later_snapshots() {
    let db = Db::new();
    db.prewrite(ts(10), "a", &[("a", Some("1")), ("b", Some("2"))])
        .unwrap();
    // Locked: a reader after start_ts must wait; one before does not care.
    assert!(matches!(db.get("a", ts(12)), Err(MvccError::Locked(_))));
    assert_eq!(db.get("a", ts(9)).unwrap(), None);
    db.commit(ts(10), ts(11), &["a", "b"]).unwrap();
    assert_eq!(db.get("a", ts(10)).unwrap(), None);
    assert_eq!(db.get("a", ts(11)).unwrap().as_deref(), Some("1"));
    assert_eq!(db.get("b", ts(20)).unwrap().as_deref(), Some("2"));
    // A retried commit is harmless.
    db.commit(ts(10), ts(11), &["a", "b"]).unwrap();
    // A delete hides the value from later snapshots only.
    db.prewrite(ts(30), "a", &[("a", None)]).unwrap();
    db.commit(ts(30), ts(31), &["a"]).unwrap();
    assert_eq!(db.get("a", ts(31)).unwrap(), None);
    assert_eq!(db.get("a", ts(30)).unwrap().as_deref(), Some("1"));
}

#[test]
fn large_values_live_beside_the_lock_and_are_cleaned_on_rollback() {
    let db = Db::new();
    let big = "v".repeat(txn::SHORT_VALUE_MAX + 1);
    db.prewrite(ts(10), "a", &[("a", Some(&big))]).unwrap();
    db.commit(ts(10), ts(11), &["a"]).unwrap();
    assert_eq!(db.get("a", ts(12)).unwrap(), Some(big.clone()));
    db.prewrite(ts(20), "a", &[("a", Some(&big))]).unwrap();
    db.rollback(ts(20), &["a"]).unwrap();
    assert_eq!(db.get("a", ts(30)).unwrap(), Some(big));
    let snap = db.0.snapshot();
    let values = crate::engine::Snapshot::get(
        &snap,
        crate::engine::Cf::Default,
        &super::key::append_ts(&k("a"), ts(20)),
    )
    .unwrap();
    assert_eq!(values, None, "the rolled-back value is gone");
}

#[test]
fn conflicting_prewrites() {
    let db = Db::new();
    db.prewrite(ts(10), "a", &[("a", Some("1"))]).unwrap();
    // Another transaction meets the lock.
    match db.prewrite(ts(12), "a", &[("a", Some("2")), ("b", Some("2"))]) {
        Err(MvccError::Locked(locks)) => {
            assert_eq!(locks.len(), 1);
            assert_eq!(locks[0].key, b"a");
            assert_eq!(locks[0].lock.start_ts, ts(10));
        }
        other => panic!("{other:?}"),
    }
    // Nothing of the failed prewrite was written.
    assert_eq!(db.get("b", ts(50)).unwrap(), None);
    db.commit(ts(10), ts(15), &["a"]).unwrap();
    // A transaction that started before that commit conflicts with it.
    match db.prewrite(ts(12), "a", &[("a", Some("2"))]) {
        Err(MvccError::WriteConflict {
            conflict_commit_ts,
            conflict_start_ts,
            ..
        }) => {
            assert_eq!((conflict_start_ts, conflict_commit_ts), (ts(10), ts(15)));
        }
        other => panic!("{other:?}"),
    }
    // One that started after it does not.
    db.prewrite(ts(16), "a", &[("a", Some("3"))]).unwrap();
    // Prewriting again is idempotent.
    db.prewrite(ts(16), "a", &[("a", Some("3"))]).unwrap();
}

#[test]
fn rollback_and_a_late_prewrite_after_it() {
    let db = Db::new();
    db.prewrite(ts(10), "a", &[("a", Some("1")), ("b", Some("1"))])
        .unwrap();
    db.rollback(ts(10), &["a", "b"]).unwrap();
    assert_eq!(db.get("a", ts(20)).unwrap(), None);
    // The prewrite of a key the rollback reached first must fail: the
    // transaction is dead.
    db.rollback(ts(12), &["c"]).unwrap();
    assert!(matches!(
        db.prewrite(ts(12), "c", &[("c", Some("late"))]),
        Err(MvccError::RolledBack { .. })
    ));
    // So must a commit of the rolled-back transaction.
    assert!(matches!(
        db.commit(ts(10), ts(13), &["a"]),
        Err(MvccError::RolledBack { .. })
    ));
    // Another transaction's rollback is no conflict.
    db.prewrite(ts(11), "a", &[("a", Some("2"))]).unwrap();
    db.commit(ts(11), ts(14), &["a"]).unwrap();
    assert_eq!(db.get("a", ts(14)).unwrap().as_deref(), Some("2"));
    // A committed transaction cannot be rolled back.
    assert!(matches!(
        db.rollback(ts(11), &["a"]),
        Err(MvccError::Committed { .. })
    ));
}

#[test]
fn a_crashed_clients_locks_are_resolved_after_their_ttl() {
    let db = Db::new();
    // The client prewrote both keys and died before committing.
    db.prewrite(ts(10), "p", &[("p", Some("1")), ("s", Some("1"))])
        .unwrap();
    let lock = match db.get("s", ts(20)) {
        Err(MvccError::Locked(mut l)) => l.remove(0).lock,
        other => panic!("{other:?}"),
    };
    // Within the TTL (3 s) the primary says: still running.
    let st = db.status("p", lock.start_ts, ts(10 + 2999), false).unwrap();
    assert!(matches!(st, TxnStatus::Locked(_)));
    // After it the primary is rolled back, and the secondary follows it.
    let st = db.status("p", lock.start_ts, ts(10 + 3000), false).unwrap();
    assert_eq!(st, TxnStatus::RolledBack);
    db.run(|r, wb| txn::resolve_locks(r, &[k("s")], ts(10), None, wb))
        .unwrap();
    assert_eq!(db.get("s", ts(20)).unwrap(), None);
    assert_eq!(db.get("p", ts(20)).unwrap(), None);
    // The dead client cannot commit any more.
    assert!(db.commit(ts(10), ts(30), &["p"]).is_err());
}

#[test]
fn secondaries_commit_after_the_primary_committed() {
    let db = Db::new();
    db.prewrite(ts(10), "p", &[("p", Some("1")), ("s", Some("2"))])
        .unwrap();
    // The client committed the primary and died before the secondary.
    db.commit(ts(10), ts(11), &["p"]).unwrap();
    // A reader meets the secondary's lock and asks the primary.
    let st = db.status("p", ts(10), ts(12), true).unwrap();
    assert_eq!(st, TxnStatus::Committed(ts(11)));
    db.run(|r, wb| txn::resolve_locks(r, &[k("s")], ts(10), Some(ts(11)), wb))
        .unwrap();
    assert_eq!(db.get("s", ts(12)).unwrap().as_deref(), Some("2"));
    assert_eq!(db.get("s", ts(10)).unwrap(), None);
    // A late commit of the secondary by the client is fine too.
    db.commit(ts(10), ts(11), &["s"]).unwrap();
}

#[test]
fn a_missing_primary_is_rolled_back_only_when_asked() {
    let db = Db::new();
    // The secondary's prewrite arrived, the primary's not (yet).
    db.prewrite(ts(10), "p", &[("s", Some("1"))]).unwrap();
    assert!(matches!(
        db.status("p", ts(10), ts(11), false),
        Err(MvccError::TxnNotFound { .. })
    ));
    assert_eq!(
        db.status("p", ts(10), ts(11), true).unwrap(),
        TxnStatus::RolledBack
    );
    // Now the primary's prewrite can never succeed.
    assert!(matches!(
        db.prewrite(ts(10), "p", &[("p", Some("1"))]),
        Err(MvccError::RolledBack { .. })
    ));
}

#[test]
fn heartbeat_extends_the_primary_ttl() {
    let db = Db::new();
    db.prewrite(ts(10), "p", &[("p", Some("1"))]).unwrap();
    let ttl = db
        .run(|r, wb| txn::heartbeat(r, &k("p"), ts(10), 10_000, wb))
        .unwrap();
    assert_eq!(ttl, 10_000);
    let st = db.status("p", ts(10), ts(10 + 5000), true).unwrap();
    assert!(matches!(st, TxnStatus::Locked(_)));
    assert!(db
        .run(|r, wb| txn::heartbeat(r, &k("q"), ts(10), 10_000, wb))
        .is_err());
}

#[test]
fn one_pc_commits_without_locks_and_still_sees_conflicts() {
    let db = Db::new();
    db.prewrite_with(
        ts(10),
        "a",
        &[("a", Some("1")), ("b", Some("1"))],
        Some(ts(11)),
    )
    .unwrap();
    assert_eq!(db.get("a", ts(11)).unwrap().as_deref(), Some("1"));
    assert_eq!(db.get("b", ts(11)).unwrap().as_deref(), Some("1"));
    let snap = db.0.snapshot();
    let locks = MvccReader::new(&snap)
        .scan_locks(b"", b"", &mut |_| true, 0)
        .unwrap();
    assert!(locks.is_empty());
    assert!(matches!(
        db.prewrite_with(ts(9), "a", &[("a", Some("2"))], Some(ts(12))),
        Err(MvccError::WriteConflict { .. })
    ));
}

#[test]
fn scan_sees_one_version_per_key_and_stops_at_locks() {
    let db = Db::new();
    for (i, t) in [(1u64, 10u64), (2, 20), (3, 30)] {
        let v = i.to_string();
        db.prewrite(
            ts(t),
            "a",
            &[("a", Some(&v)), ("b", Some(&v)), ("c", Some(&v))],
        )
        .unwrap();
        db.commit(ts(t), ts(t + 1), &["a", "b", "c"]).unwrap();
    }
    db.prewrite(ts(40), "b", &[("b", None)]).unwrap();
    db.commit(ts(40), ts(41), &["b"]).unwrap();
    let snap = db.0.snapshot();
    let r = MvccReader::new(&snap);
    let (start, end) = super::key::encode_range(b"", b"");
    let at = |t: u64, limit| {
        r.scan(&start, &end, ts(t), limit)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8(k).unwrap(),
                    String::from_utf8(v).unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(at(25, 0), ["a=2", "b=2", "c=2"]);
    assert_eq!(at(45, 0), ["a=3", "c=3"]);
    assert_eq!(at(5, 0), Vec::<String>::new());
    assert_eq!(at(25, 2), ["a=2", "b=2"]);
    // A lock past the limit does not matter; one inside it does.
    db.prewrite(ts(50), "c", &[("c", Some("x"))]).unwrap();
    let snap = db.0.snapshot();
    let r = MvccReader::new(&snap);
    assert_eq!(r.scan(&start, &end, ts(60), 1).unwrap().len(), 1);
    assert!(matches!(
        r.scan(&start, &end, ts(60), 0),
        Err(MvccError::Locked(_))
    ));
    // A reader older than the lock ignores it.
    assert_eq!(r.scan(&start, &end, ts(45), 0).unwrap().len(), 2);
}

#[test]
fn a_retried_one_pc_reports_its_commit_not_a_conflict() {
    let db = Db::new();
    // The first attempt commits; its answer is lost.
    let first = db.prewrite_with(ts(10), "a", &[("a", Some("1"))], Some(ts(11)));
    assert_eq!(first.unwrap(), None);
    // A later transaction writes the key over it.
    db.prewrite_with(ts(12), "a", &[("a", Some("2"))], Some(ts(13)))
        .unwrap();
    // The retry must learn that it committed (at its first timestamp),
    // not that it conflicted: its client would report an abort.
    let retry = db.prewrite_with(ts(10), "a", &[("a", Some("1"))], Some(ts(20)));
    assert_eq!(retry.unwrap(), Some(ts(11)));
    // And it wrote nothing more.
    assert_eq!(db.get("a", ts(30)).unwrap().as_deref(), Some("2"));
    assert_eq!(db.get("a", ts(12)).unwrap().as_deref(), Some("1"));
    // Also under another transaction's lock.
    db.prewrite(ts(40), "a", &[("a", Some("3"))]).unwrap();
    let retry = db.prewrite_with(ts(10), "a", &[("a", Some("1"))], Some(ts(41)));
    assert_eq!(retry.unwrap(), Some(ts(11)));
    // A transaction that did not commit there meets the lock.
    assert!(matches!(
        db.prewrite_with(ts(39), "a", &[("a", Some("x"))], Some(ts(42))),
        Err(MvccError::Locked(_))
    ));
}

#[test]
fn a_late_prewrite_of_a_committed_transaction_writes_nothing() {
    let db = Db::new();
    db.prewrite(ts(10), "p", &[("p", Some("1")), ("s", Some("1"))])
        .unwrap();
    db.commit(ts(10), ts(11), &["p", "s"]).unwrap();
    db.prewrite(ts(12), "s", &[("s", Some("2"))]).unwrap();
    db.commit(ts(12), ts(13), &["s"]).unwrap();
    // A duplicate of the first prewrite arrives late: no lock comes back.
    db.prewrite(ts(10), "p", &[("s", Some("1"))]).unwrap();
    assert_eq!(db.get("s", ts(20)).unwrap().as_deref(), Some("2"));
    // A transaction that never wrote the key still conflicts.
    assert!(matches!(
        db.prewrite(ts(9), "s", &[("s", Some("x"))]),
        Err(MvccError::WriteConflict { .. })
    ));
}

#[test]
fn an_async_commit_lock_blocks_only_reads_at_or_past_its_minimum() {
    let db = Db::new();
    let done = db
        .prewrite_async(
            ts(10),
            "p",
            &[("p", Some("1")), ("s", Some("1"))],
            &["s"],
            ts(15),
        )
        .unwrap();
    assert_eq!(done.min_commit_ts, ts(15));
    assert_eq!(done.committed, None);
    // The transaction cannot commit below ts(15): a read below it needs no
    // answer from the lock.
    assert_eq!(db.get("s", ts(14)).unwrap(), None);
    assert!(matches!(db.get("s", ts(15)), Err(MvccError::Locked(_))));
    // The primary lists the secondaries; a secondary lists nothing.
    let snap = db.0.snapshot();
    let r = MvccReader::new(&snap);
    let p = r.load_lock(&k("p")).unwrap().unwrap();
    assert!(p.use_async_commit);
    assert_eq!(p.secondaries, vec![b"s".to_vec()]);
    let sec = r.load_lock(&k("s")).unwrap().unwrap();
    assert!(sec.use_async_commit && sec.secondaries.is_empty());
    // A retried prewrite answers the minimum the locks already have, not
    // its own: the commit timestamp must be the one a resolver computes.
    let retry = db
        .prewrite_async(ts(10), "p", &[("s", Some("1"))], &[], ts(40))
        .unwrap();
    assert_eq!(retry.min_commit_ts, ts(15));
}

#[test]
fn an_expired_async_commit_primary_is_left_to_its_secondaries() {
    let db = Db::new();
    db.prewrite_async(ts(10), "p", &[("p", Some("1"))], &["s"], ts(11))
        .unwrap();
    // Long past the TTL the primary is still reported locked: the
    // transaction may have committed (if "s" got locked too).
    let st = db.status("p", ts(10), ts(10 + 60_000), true).unwrap();
    assert!(matches!(st, TxnStatus::Locked(l) if l.use_async_commit));
    // "s" was never prewritten: asking it rolls it back there, so the
    // prewrite still on its way fails, and the transaction never commits.
    let found = db
        .run(|r, wb| txn::check_secondary_locks(r, &[k("s")], ts(10), wb))
        .unwrap();
    assert!(found.rolled_back && found.locks.is_empty() && found.commit_ts.is_none());
    assert!(matches!(
        db.prewrite_async(ts(10), "p", &[("s", Some("1"))], &[], ts(12)),
        Err(MvccError::RolledBack { .. })
    ));
    db.run(|r, wb| txn::resolve_locks(r, &[k("p")], ts(10), None, wb))
        .unwrap();
    assert_eq!(db.get("p", ts(100)).unwrap(), None);
}

#[test]
fn a_fully_prewritten_async_commit_is_committed_at_its_largest_minimum() {
    let db = Db::new();
    db.prewrite_async(ts(10), "p", &[("p", Some("1"))], &["s", "t"], ts(12))
        .unwrap();
    db.prewrite_async(
        ts(10),
        "p",
        &[("s", Some("2")), ("t", Some("3"))],
        &[],
        ts(14),
    )
    .unwrap();
    let found = db
        .run(|r, wb| txn::check_secondary_locks(r, &[k("s"), k("t")], ts(10), wb))
        .unwrap();
    assert!(!found.rolled_back && found.commit_ts.is_none());
    let commit_ts = found
        .locks
        .iter()
        .map(|(_, l)| l.min_commit_ts)
        .max()
        .unwrap();
    assert_eq!(commit_ts, ts(14));
    // The client, which saw every prewrite succeed, commits at ts(14) as
    // well; a key it committed already is reported as committed.
    db.commit(ts(10), ts(14), &["s"]).unwrap();
    let found = db
        .run(|r, wb| txn::check_secondary_locks(r, &[k("s"), k("t")], ts(10), wb))
        .unwrap();
    assert_eq!(found.commit_ts, Some(ts(14)));
    assert_eq!(found.locks.len(), 1);
    db.run(|r, wb| txn::resolve_locks(r, &[k("p"), k("t")], ts(10), Some(ts(14)), wb))
        .unwrap();
    assert_eq!(db.get("t", ts(14)).unwrap().as_deref(), Some("3"));
    assert_eq!(db.get("p", ts(13)).unwrap(), None);
    // A prewrite retried after the commit learns the commit timestamp.
    let retry = db
        .prewrite_async(ts(10), "p", &[("p", Some("1"))], &["s", "t"], ts(30))
        .unwrap();
    assert_eq!(retry.committed, Some(ts(14)));
}
