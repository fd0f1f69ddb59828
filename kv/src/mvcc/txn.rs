//! Percolator's actions on one Region's keys.
//!
//! Each action reads one engine snapshot through an [`MvccReader`] and
//! stages what it changes in a [`WriteBatch`]; the caller proposes the
//! batch through Raft and must hold the keys' latches from the snapshot
//! until the batch is applied, so that no other action on the same keys
//! interleaves. On an error nothing of the batch may be written.
//!
//! A transaction prewrites every key it writes (a lock naming the primary,
//! the value beside it), then commits the primary (a commit record at
//! `commit_ts`), then the secondaries. The primary decides: a secondary
//! lock is committed or rolled back as its primary was. A rollback leaves
//! a record at `start_ts`, so a prewrite arriving late cannot resurrect
//! the transaction.
//!
//! Async commit (as TiKV does it) moves the commit point to the end of the
//! prewrites: every lock carries a `min_commit_ts` taken after the reads
//! that could conflict with it, the primary lists the secondaries, and the
//! transaction is committed once all its keys are locked, at the largest
//! `min_commit_ts`. Its fate is then read from all its keys
//! ([`check_secondary_locks`]), not from the primary alone.

use protocol::mvccpb::{Lock, Op, Write};

use super::key::append_ts;
use super::reader::{MvccReader, TxnRecord};
use super::{ttl_ran_out, LockInfo, MvccError, Result};
use crate::engine::{Cf, Snapshot, WriteBatch};

/// Values up to this size are kept inside the lock and commit record.
pub const SHORT_VALUE_MAX: usize = 255;

/// A change a transaction makes to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// `Put`, `Del` or `Lock`.
    pub op: Op,
    /// The encoded key.
    pub key: Vec<u8>,
    /// The value of a `Put`.
    pub value: Vec<u8>,
}

/// A prewrite of some of a transaction's keys (those in one Region).
#[derive(Debug, Clone)]
pub struct Prewrite {
    /// The transaction's start timestamp.
    pub start_ts: u64,
    /// The encoded primary key.
    pub primary: Vec<u8>,
    /// Lock time to live, in ms after `start_ts`'s physical time.
    pub lock_ttl: u64,
    /// Keys the whole transaction writes.
    pub txn_size: u64,
    /// The smallest commit timestamp allowed.
    pub min_commit_ts: u64,
    /// Commit in the same step at this timestamp instead of locking (1PC:
    /// only when the mutations are all of the transaction's keys).
    pub one_pc_commit_ts: Option<u64>,
    /// Async commit: the locks say so, and the primary's (if among the
    /// mutations) lists these other keys of the transaction (user keys).
    pub async_commit: Option<Vec<Vec<u8>>>,
}

/// What a prewrite left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prewritten {
    /// The timestamp the transaction already committed its keys at, if an
    /// earlier attempt of the same request did (the answer a retried 1PC
    /// must give).
    pub committed: Option<u64>,
    /// The largest `min_commit_ts` of the transaction's locks on the keys,
    /// those written now and those an earlier attempt left.
    pub min_commit_ts: u64,
}

fn encode<M: prost::Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

fn user_key(encoded: &[u8]) -> Vec<u8> {
    super::key::decode_key(encoded).unwrap_or_else(|_| encoded.to_vec())
}

/// What a prewrite found at one of its keys.
enum KeyCheck {
    /// Nothing of this transaction is there yet: write it.
    Free,
    /// This transaction already locked the key (a retried prewrite), with
    /// this `min_commit_ts`.
    Own(u64),
    /// Another transaction holds it (reported in `locks`).
    Locked,
    /// This transaction already committed the key at this timestamp: the
    /// request is a retry of one that took effect but whose answer was
    /// lost (a 1PC, or a prewrite overtaken by its own commit).
    Committed(u64),
}

/// Checks that the transaction may write `key`: not locked by another
/// transaction, no newer commit of another, not rolled back. A newer
/// commit is a conflict only if this transaction has not itself committed
/// the key: a retried request must not report a conflict for a write that
/// happened (its client would take a commit for an abort).
fn check_prewrite<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    key: &[u8],
    start_ts: u64,
    locks: &mut Vec<LockInfo>,
) -> Result<KeyCheck> {
    let lock = reader.load_lock(key)?;
    if let Some(l) = lock.as_ref().filter(|l| l.start_ts == start_ts) {
        return Ok(KeyCheck::Own(l.min_commit_ts));
    }
    // Newest first: the first commit of another transaction above
    // start_ts, and this transaction's own record if it has one (looked
    // for even under another's lock, which a retry may meet too).
    let mut newer = None;
    let mut own = None;
    reader.visit_writes(key, u64::MAX, &mut |commit_ts, w| {
        if commit_ts < start_ts {
            return false;
        }
        if w.start_ts == start_ts {
            own = Some((commit_ts, w.op == Op::Rollback as i32));
            return false;
        }
        // Another transaction's rollback is no conflict; its commit is.
        if w.op != Op::Rollback as i32 && newer.is_none() {
            newer = Some((w.start_ts, commit_ts));
        }
        true
    })?;
    match (own, newer) {
        (Some((_, true)), _) => Err(MvccError::RolledBack {
            key: user_key(key),
            start_ts,
        }),
        (Some((commit_ts, false)), _) => Ok(KeyCheck::Committed(commit_ts)),
        (None, _) if lock.is_some() => {
            locks.extend(lock.map(|lock| LockInfo {
                key: user_key(key),
                lock,
            }));
            Ok(KeyCheck::Locked)
        }
        (None, Some((conflict_start_ts, conflict_commit_ts))) => Err(MvccError::WriteConflict {
            key: user_key(key),
            start_ts,
            conflict_start_ts,
            conflict_commit_ts,
        }),
        (None, None) => Ok(KeyCheck::Free),
    }
}

/// Prewrites `mutations` (or commits them at once, for 1PC). Fails with
/// every lock of another transaction found, or at the first conflict.
pub fn prewrite<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    req: &Prewrite,
    mutations: &[Mutation],
    wb: &mut WriteBatch,
) -> Result<Prewritten> {
    let mut locks = Vec::new();
    let mut todo = Vec::with_capacity(mutations.len());
    let mut out = Prewritten::default();
    for m in mutations {
        match check_prewrite(reader, &m.key, req.start_ts, &mut locks)? {
            KeyCheck::Free => todo.push(m),
            KeyCheck::Own(min_commit_ts) => {
                out.min_commit_ts = out.min_commit_ts.max(min_commit_ts)
            }
            KeyCheck::Locked => {}
            KeyCheck::Committed(ts) => out.committed = Some(ts),
        }
    }
    if !locks.is_empty() {
        return Err(MvccError::Locked(locks));
    }
    if !todo.is_empty() {
        out.min_commit_ts = out.min_commit_ts.max(req.min_commit_ts);
    }
    for m in todo {
        let short = m.op == Op::Put && m.value.len() <= SHORT_VALUE_MAX;
        if m.op == Op::Put && !short {
            wb.put(
                Cf::Default,
                append_ts(&m.key, req.start_ts),
                m.value.clone(),
            );
        }
        let short_value = short.then(|| m.value.clone());
        match req.one_pc_commit_ts {
            Some(commit_ts) => {
                let w = Write {
                    op: m.op as i32,
                    start_ts: req.start_ts,
                    short_value,
                };
                wb.put(Cf::Write, append_ts(&m.key, commit_ts), encode(&w));
            }
            None => {
                let secondaries = match &req.async_commit {
                    Some(keys) if m.key == req.primary => keys.clone(),
                    _ => Vec::new(),
                };
                let lock = Lock {
                    primary: req.primary.clone(),
                    start_ts: req.start_ts,
                    ttl: req.lock_ttl,
                    op: m.op as i32,
                    short_value,
                    min_commit_ts: req.min_commit_ts,
                    txn_size: req.txn_size,
                    use_async_commit: req.async_commit.is_some(),
                    secondaries,
                };
                wb.put(Cf::Lock, m.key.clone(), encode(&lock));
            }
        }
    }
    Ok(out)
}

/// Turns the transaction's lock on `key` into a commit record.
fn commit_lock(key: &[u8], lock: Lock, commit_ts: u64, wb: &mut WriteBatch) {
    let w = Write {
        op: lock.op,
        start_ts: lock.start_ts,
        short_value: lock.short_value,
    };
    wb.put(Cf::Write, append_ts(key, commit_ts), encode(&w));
    wb.delete(Cf::Lock, key.to_vec());
}

/// Removes the transaction's lock (and value) on `key` and leaves a
/// rollback record.
fn rollback_lock<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    key: &[u8],
    lock: &Lock,
    wb: &mut WriteBatch,
) -> Result<()> {
    if lock.op == Op::Put as i32 && lock.short_value.is_none() {
        wb.delete(Cf::Default, append_ts(key, lock.start_ts));
    }
    wb.delete(Cf::Lock, key.to_vec());
    protect_rollback(reader, key, lock.start_ts, wb)
}

/// Leaves a rollback record for `start_ts` at `key`, unless a record of
/// another transaction already sits at that timestamp (its commit there
/// keeps a late prewrite out just as well: it is a newer write).
fn protect_rollback<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    key: &[u8],
    start_ts: u64,
    wb: &mut WriteBatch,
) -> Result<()> {
    if reader
        .seek_write(key, start_ts)?
        .is_some_and(|(ts, _)| ts == start_ts)
    {
        return Ok(());
    }
    let w = Write {
        op: Op::Rollback as i32,
        start_ts,
        short_value: None,
    };
    wb.put(Cf::Write, append_ts(key, start_ts), encode(&w));
    Ok(())
}

/// Commits the transaction's `keys` at `commit_ts`. A key already
/// committed by it is fine (a retried commit); a key it no longer holds a
/// lock on and never committed means it was rolled back.
pub fn commit<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    keys: &[Vec<u8>],
    start_ts: u64,
    commit_ts: u64,
    wb: &mut WriteBatch,
) -> Result<()> {
    for key in keys {
        match reader.load_lock(key)? {
            Some(lock) if lock.start_ts == start_ts => {
                if commit_ts < lock.min_commit_ts {
                    return Err(MvccError::CommitTsTooSmall {
                        key: user_key(key),
                        commit_ts,
                        min_commit_ts: lock.min_commit_ts,
                    });
                }
                commit_lock(key, lock, commit_ts, wb);
            }
            _ => match reader.txn_record(key, start_ts)? {
                TxnRecord::Committed(..) => {}
                TxnRecord::RolledBack => {
                    return Err(MvccError::RolledBack {
                        key: user_key(key),
                        start_ts,
                    })
                }
                TxnRecord::None => {
                    return Err(MvccError::LockNotFound {
                        key: user_key(key),
                        start_ts,
                    })
                }
            },
        }
    }
    Ok(())
}

/// Rolls the transaction back at `keys`. Fails if it committed any.
pub fn rollback<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    keys: &[Vec<u8>],
    start_ts: u64,
    wb: &mut WriteBatch,
) -> Result<()> {
    for key in keys {
        match reader.load_lock(key)? {
            Some(lock) if lock.start_ts == start_ts => rollback_lock(reader, key, &lock, wb)?,
            _ => match reader.txn_record(key, start_ts)? {
                TxnRecord::Committed(commit_ts, _) => {
                    return Err(MvccError::Committed {
                        key: user_key(key),
                        start_ts,
                        commit_ts,
                    })
                }
                TxnRecord::RolledBack => {}
                TxnRecord::None => protect_rollback(reader, key, start_ts, wb)?,
            },
        }
    }
    Ok(())
}

/// A transaction's state, as its primary key shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnStatus {
    /// Still running: the primary is locked and its TTL has not run out.
    Locked(Lock),
    /// Committed at this timestamp.
    Committed(u64),
    /// Rolled back (now or earlier).
    RolledBack,
}

/// Finds out what became of the transaction `start_ts` from its primary
/// key, at `current_ts`. A primary lock whose TTL ran out is rolled back,
/// unless it is an async-commit one: that transaction may have committed
/// (all its keys locked), and only its secondaries can tell, so it stays
/// `Locked` for the caller to ask them. A primary never prewritten is
/// rolled back (so it never will be) only if `rollback_if_missing`;
/// otherwise that is `TxnNotFound` (the prewrite may still be on its way).
pub fn check_txn_status<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    primary: &[u8],
    start_ts: u64,
    current_ts: u64,
    rollback_if_missing: bool,
    wb: &mut WriteBatch,
) -> Result<TxnStatus> {
    if let Some(lock) = reader.load_lock(primary)? {
        if lock.start_ts == start_ts {
            if lock.use_async_commit || !ttl_ran_out(lock.start_ts, lock.ttl, current_ts) {
                return Ok(TxnStatus::Locked(lock));
            }
            rollback_lock(reader, primary, &lock, wb)?;
            return Ok(TxnStatus::RolledBack);
        }
    }
    match reader.txn_record(primary, start_ts)? {
        TxnRecord::Committed(commit_ts, _) => Ok(TxnStatus::Committed(commit_ts)),
        TxnRecord::RolledBack => Ok(TxnStatus::RolledBack),
        TxnRecord::None if rollback_if_missing => {
            protect_rollback(reader, primary, start_ts, wb)?;
            Ok(TxnStatus::RolledBack)
        }
        TxnRecord::None => Err(MvccError::TxnNotFound {
            key: user_key(primary),
            start_ts,
        }),
    }
}

/// What an async-commit transaction left at some of its keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecondaryLocks {
    /// Its locks found, with their keys (encoded).
    pub locks: Vec<(Vec<u8>, Lock)>,
    /// The timestamp a key was committed at, if any was.
    pub commit_ts: Option<u64>,
    /// A key was rolled back, or never locked (and is now protected by a
    /// rollback record): the transaction did not commit.
    pub rolled_back: bool,
}

/// Finds out what the async-commit transaction `start_ts` left at `keys`.
/// A key with neither its lock nor a record of it gets a rollback record,
/// so that a prewrite still on its way fails: the transaction then never
/// commits, and the caller may roll it back everywhere.
pub fn check_secondary_locks<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    keys: &[Vec<u8>],
    start_ts: u64,
    wb: &mut WriteBatch,
) -> Result<SecondaryLocks> {
    let mut out = SecondaryLocks::default();
    for key in keys {
        match reader.load_lock(key)? {
            Some(lock) if lock.start_ts == start_ts => out.locks.push((key.clone(), lock)),
            _ => match reader.txn_record(key, start_ts)? {
                TxnRecord::Committed(ts, _) => out.commit_ts = Some(ts),
                TxnRecord::RolledBack => out.rolled_back = true,
                TxnRecord::None => {
                    protect_rollback(reader, key, start_ts, wb)?;
                    out.rolled_back = true;
                }
            },
        }
    }
    Ok(out)
}

/// Settles the locks of transaction `start_ts` on `keys` the way its
/// primary went: committed at `commit_ts`, or rolled back when `None`.
/// Keys without its lock are left alone.
pub fn resolve_locks<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    keys: &[Vec<u8>],
    start_ts: u64,
    commit_ts: Option<u64>,
    wb: &mut WriteBatch,
) -> Result<()> {
    for key in keys {
        let Some(lock) = reader.load_lock(key)? else {
            continue;
        };
        if lock.start_ts != start_ts {
            continue;
        }
        match commit_ts {
            Some(ts) => commit_lock(key, lock, ts, wb),
            None => rollback_lock(reader, key, &lock, wb)?,
        }
    }
    Ok(())
}

/// Extends the TTL of the transaction's primary lock to at least
/// `advise_ttl` and returns the TTL it has now.
pub fn heartbeat<S: Snapshot + ?Sized>(
    reader: &MvccReader<'_, S>,
    primary: &[u8],
    start_ts: u64,
    advise_ttl: u64,
    wb: &mut WriteBatch,
) -> Result<u64> {
    match reader.load_lock(primary)? {
        Some(mut lock) if lock.start_ts == start_ts => {
            if advise_ttl > lock.ttl {
                lock.ttl = advise_ttl;
                wb.put(Cf::Lock, primary.to_vec(), encode(&lock));
            }
            Ok(lock.ttl)
        }
        _ => Err(MvccError::TxnNotFound {
            key: user_key(primary),
            start_ts,
        }),
    }
}
