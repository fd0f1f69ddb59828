//! Reads of multi-version data at a timestamp.
//!
//! A read at `ts` sees, for each key, the newest `Put` or `Del` committed at
//! or before `ts`; `Lock` and `Rollback` records are skipped. A lock of
//! another transaction that may commit at or before `ts` (it started at or
//! before `ts`, and its `min_commit_ts` is not above it) blocks the read:
//! the reader must resolve it first. Locks of `Lock` kind never block,
//! they change no data.

use prost::Message as _;
use protocol::mvccpb::{Lock, Op, Write};

use super::key::{append_ts, decode_key, split_ts, versions_end};
use super::{LockInfo, MvccError, Result};
use crate::engine::{Cf, Snapshot};

/// What became of a transaction at one key.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnRecord {
    /// It committed at this timestamp.
    Committed(u64, Write),
    /// It was rolled back.
    RolledBack,
    /// Nothing is recorded for it.
    None,
}

/// Reads MVCC data from one engine snapshot.
pub struct MvccReader<'a, S: Snapshot + ?Sized> {
    snap: &'a S,
}

impl<'a, S: Snapshot + ?Sized> MvccReader<'a, S> {
    /// A reader of `snap`.
    pub fn new(snap: &'a S) -> Self {
        MvccReader { snap }
    }

    /// The lock on `encoded`, if any.
    pub fn load_lock(&self, encoded: &[u8]) -> Result<Option<Lock>> {
        match self.snap.get(Cf::Lock, encoded)? {
            Some(v) => Ok(Some(Lock::decode(v.as_slice())?)),
            None => Ok(None),
        }
    }

    /// Visits the key's commit and rollback records from commit_ts `ts`
    /// down, newest first, until `visit` returns false.
    pub fn visit_writes(
        &self,
        encoded: &[u8],
        ts: u64,
        visit: &mut dyn FnMut(u64, Write) -> bool,
    ) -> Result<()> {
        let mut failed = None;
        let start = append_ts(encoded, ts);
        self.snap
            .scan(Cf::Write, &start, &versions_end(encoded), &mut |k, v| {
                let decoded = split_ts(k)
                    .map_err(MvccError::from)
                    .and_then(|(_, ts)| Ok((ts, Write::decode(v)?)));
                match decoded {
                    Ok((commit_ts, w)) => visit(commit_ts, w),
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })?;
        failed.map_or(Ok(()), Err)
    }

    /// The newest record of the key committed at or before `ts`, as
    /// `(commit_ts, write)`.
    pub fn seek_write(&self, encoded: &[u8], ts: u64) -> Result<Option<(u64, Write)>> {
        let mut found = None;
        self.visit_writes(encoded, ts, &mut |commit_ts, w| {
            found = Some((commit_ts, w));
            false
        })?;
        Ok(found)
    }

    /// What became of the transaction that started at `start_ts`, at this
    /// key.
    pub fn txn_record(&self, encoded: &[u8], start_ts: u64) -> Result<TxnRecord> {
        let mut record = TxnRecord::None;
        // A commit record sits at a commit_ts above start_ts; a rollback at
        // start_ts itself. Older records cannot belong to the transaction.
        self.visit_writes(encoded, u64::MAX, &mut |commit_ts, w| {
            if commit_ts < start_ts {
                return false;
            }
            if w.start_ts != start_ts {
                return true;
            }
            record = if w.op == Op::Rollback as i32 {
                TxnRecord::RolledBack
            } else {
                TxnRecord::Committed(commit_ts, w)
            };
            false
        })?;
        Ok(record)
    }

    /// The value a committed `Put` record refers to.
    fn value_of(&self, encoded: &[u8], w: Write) -> Result<Vec<u8>> {
        if let Some(v) = w.short_value {
            return Ok(v);
        }
        self.snap
            .get(Cf::Default, &append_ts(encoded, w.start_ts))?
            .ok_or_else(|| {
                MvccError::Corrupt(format!(
                    "value of {encoded:02x?} written at {} is missing",
                    w.start_ts
                ))
            })
    }

    /// The key's value as of `ts`, ignoring locks.
    pub fn get_committed(&self, encoded: &[u8], ts: u64) -> Result<Option<Vec<u8>>> {
        let mut found = None;
        self.visit_writes(encoded, ts, &mut |_, w| {
            let data = w.op == Op::Put as i32 || w.op == Op::Del as i32;
            if data {
                found = Some(w);
            }
            !data
        })?;
        match found {
            Some(w) if w.op == Op::Put as i32 => Ok(Some(self.value_of(encoded, w)?)),
            _ => Ok(None),
        }
    }

    /// The key's value as of `ts`, or the lock that blocks reading it.
    pub fn get(&self, encoded: &[u8], ts: u64) -> Result<Option<Vec<u8>>> {
        if let Some(lock) = self.load_lock(encoded)? {
            if blocks(&lock, ts) {
                return Err(MvccError::Locked(vec![LockInfo {
                    key: decode_key(encoded)?,
                    lock,
                }]));
            }
        }
        self.get_committed(encoded, ts)
    }

    /// Locks in the encoded range `[start, end)` that `keep` accepts, in
    /// key order, at most `limit` (0 = all).
    pub fn scan_locks(
        &self,
        start: &[u8],
        end: &[u8],
        keep: &mut dyn FnMut(&Lock) -> bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Lock)>> {
        let mut out = Vec::new();
        let mut failed = None;
        self.snap.scan(Cf::Lock, start, end, &mut |k, v| {
            match Lock::decode(v) {
                Ok(lock) if keep(&lock) => out.push((k.to_vec(), lock)),
                Ok(_) => {}
                Err(e) => {
                    failed = Some(e.into());
                    return false;
                }
            }
            limit == 0 || out.len() < limit
        })?;
        failed.map_or(Ok(out), Err)
    }

    /// The user keys and values of the encoded range `[start, end)` as of
    /// `ts`, in key order, at most `limit` pairs (0 = all). Fails with the
    /// locks that block any key up to the last one returned.
    pub fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        ts: u64,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan_page(start, end, ts, limit, 0)
            .map(|(pairs, _)| pairs)
    }

    /// [`MvccReader::scan`] that also stops once the pairs hold `max_bytes`
    /// bytes (0 = no cap; at least one pair is returned). The flag says the
    /// byte cap cut the answer short: the caller asks again from just
    /// after the last key.
    pub fn scan_page(
        &self,
        start: &[u8],
        end: &[u8],
        ts: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, bool)> {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut capped = false;
        let mut current: Vec<u8> = Vec::new();
        let mut settled = false;
        let mut failed = None;
        let mut last_encoded = Vec::new();
        self.snap.scan(Cf::Write, start, end, &mut |k, v| {
            let mut step = || -> Result<bool> {
                let (encoded, commit_ts) = split_ts(k)?;
                if encoded != current.as_slice() {
                    current = encoded.to_vec();
                    settled = false;
                }
                if settled || commit_ts > ts {
                    return Ok(true);
                }
                let w = Write::decode(v)?;
                if w.op == Op::Put as i32 {
                    let pair = (decode_key(encoded)?, self.value_of(encoded, w)?);
                    bytes += pair.0.len() + pair.1.len();
                    pairs.push(pair);
                    last_encoded = encoded.to_vec();
                } else if w.op != Op::Del as i32 {
                    return Ok(true);
                }
                settled = true;
                if max_bytes != 0 && bytes >= max_bytes {
                    capped = true;
                    return Ok(false);
                }
                Ok(limit == 0 || pairs.len() < limit)
            };
            step().unwrap_or_else(|e| {
                failed = Some(e);
                false
            })
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        // Locks matter up to the last key returned (all of the range when
        // it was not cut short by the limit).
        let lock_end = if capped || (limit != 0 && pairs.len() == limit) {
            versions_end(&last_encoded)
        } else {
            end.to_vec()
        };
        self.refuse_locks(start, &lock_end, ts)?;
        let more = capped && (limit == 0 || pairs.len() < limit);
        Ok((pairs, more))
    }

    /// [`MvccReader::scan_page`] backwards: the pairs of `[start, end)` as
    /// of `ts` in reverse key order, from the last, under the same caps.
    /// Fails with the locks that block any key from the last one returned
    /// up to `end`.
    pub fn scan_page_rev(
        &self,
        start: &[u8],
        end: &[u8],
        ts: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, bool)> {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut capped = false;
        let mut stopped = false;
        // Backwards, a key's versions come oldest first: the newest data
        // record at or before `ts` is the last one met before the key
        // changes.
        let mut current: Vec<u8> = Vec::new();
        let mut newest: Option<Write> = None;
        let mut failed = None;
        // Emits the finished key's value; false once a cap is reached.
        let mut emit =
            |current: &[u8], newest: Option<Write>, pairs: &mut Vec<_>| -> Result<bool> {
                let Some(w) = newest else {
                    return Ok(true);
                };
                if w.op != Op::Put as i32 {
                    return Ok(true);
                }
                let pair = (decode_key(current)?, self.value_of(current, w)?);
                bytes += pair.0.len() + pair.1.len();
                pairs.push(pair);
                if max_bytes != 0 && bytes >= max_bytes {
                    capped = true;
                    return Ok(false);
                }
                Ok(limit == 0 || pairs.len() < limit)
            };
        self.snap.scan_rev(Cf::Write, start, end, &mut |k, v| {
            let mut step = || -> Result<bool> {
                let (encoded, commit_ts) = split_ts(k)?;
                if encoded != current.as_slice() {
                    if !emit(&current, newest.take(), &mut pairs)? {
                        stopped = true;
                        return Ok(false);
                    }
                    current = encoded.to_vec();
                }
                if commit_ts <= ts {
                    let w = Write::decode(v)?;
                    if w.op == Op::Put as i32 || w.op == Op::Del as i32 {
                        newest = Some(w);
                    }
                }
                Ok(true)
            };
            step().unwrap_or_else(|e| {
                failed = Some(e);
                false
            })
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if !stopped {
            emit(&current, newest.take(), &mut pairs)?;
        }
        // Locks matter from the last key returned (all of the range when
        // nothing cut the answer short).
        let cut = capped || (limit != 0 && pairs.len() == limit);
        let lock_start = match pairs.last() {
            Some((key, _)) if cut => super::key::encode_key(key),
            _ => start.to_vec(),
        };
        self.refuse_locks(&lock_start, end, ts)?;
        let more = capped && (limit == 0 || pairs.len() < limit);
        Ok((pairs, more))
    }

    /// Fails with the locks in the encoded range `[start, end)` that block
    /// a read at `ts`, if there are any.
    fn refuse_locks(&self, start: &[u8], end: &[u8], ts: u64) -> Result<()> {
        let locks = self.scan_locks(start, end, &mut |l| blocks(l, ts), 0)?;
        if locks.is_empty() {
            return Ok(());
        }
        let locks = locks
            .into_iter()
            .map(|(k, lock)| {
                Ok(LockInfo {
                    key: decode_key(&k)?,
                    lock,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Err(MvccError::Locked(locks))
    }
}

/// Whether `lock` blocks a read at `ts`.
fn blocks(lock: &Lock, ts: u64) -> bool {
    lock.op != Op::Lock as i32 && lock.start_ts <= ts && lock.min_commit_ts <= ts
}
