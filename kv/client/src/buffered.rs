//! [`BufferedTxn`]: a transaction over any [`TxnKv`]: writes stay in a
//! buffer until commit, reads see the transaction's own writes, savepoints
//! roll the buffer back, and a transaction whose buffer outgrows its limit
//! fails with a clear error instead of taking the process's memory.
//!
//! Reads go through a [`TxnReader`], a frozen view (the start timestamp and
//! the buffer as it was when the reader was made) that is cheap to clone
//! and can be shared by parallel scans. Freezing is what a SQL statement
//! needs: `INSERT INTO t SELECT … FROM t` reads the table as it was when
//! the statement started, not the rows it is inserting. The buffer is
//! shared copy-on-write: making a reader costs nothing, and the first write
//! after it copies the buffer only if the reader is still alive.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::coprocessor::CopPage;
use crate::error::{Error, Result};
use crate::txn_kv::{Change, CommitGuard, Page, Pair, SharedKv, StartTs};

/// Default limit of a transaction's buffered writes, in bytes.
pub const DEFAULT_TXN_SIZE_LIMIT: usize = 256 << 20;

type Buffer = BTreeMap<Vec<u8>, Change>;

/// Bytes a buffered change of `key` holds.
fn weight(key: &[u8], change: &Change) -> usize {
    // Per-entry overhead of the map counts too: a million empty puts are
    // not free.
    let value = match change {
        Change::Put(v) => v.len(),
        Change::Delete | Change::Lock => 0,
    };
    key.len() + value + 48
}

/// A transaction with buffered writes.
pub struct BufferedTxn {
    kv: SharedKv,
    start: Arc<StartTs>,
    buffer: Arc<Buffer>,
    bytes: usize,
    limit: usize,
}

/// The state of a transaction's buffer at a savepoint.
#[derive(Clone)]
pub struct Savepoint {
    buffer: Arc<Buffer>,
    bytes: usize,
}

impl BufferedTxn {
    /// Starts a transaction whose buffered writes may hold `limit` bytes.
    pub async fn begin(kv: SharedKv, limit: usize) -> Result<BufferedTxn> {
        let start = Arc::new(kv.begin().await?);
        Ok(BufferedTxn {
            kv,
            start,
            buffer: Arc::default(),
            bytes: 0,
            limit,
        })
    }

    /// The start timestamp: reads see what committed before it.
    pub fn start_ts(&self) -> u64 {
        self.start.ts
    }

    /// Whether the transaction has buffered any change.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// A frozen view of the database as this transaction sees it now.
    pub fn reader(&self) -> TxnReader {
        TxnReader {
            kv: self.kv.clone(),
            start: self.start.clone(),
            buffer: self.buffer.clone(),
        }
    }

    fn stage(&mut self, key: Vec<u8>, change: Change) -> Result<()> {
        let added = weight(&key, &change);
        if self.bytes + added > self.limit {
            return Err(Error::TxnTooLarge(format!(
                "its writes exceed the limit of {} MiB",
                self.limit >> 20
            )));
        }
        // A key's earlier change is replaced; its bytes stay counted (an
        // upper bound is enough for a limit).
        self.bytes += added;
        Arc::make_mut(&mut self.buffer).insert(key, change);
        Ok(())
    }

    /// Sets `key` to `value` at commit.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        self.stage(key, Change::Put(value))
    }

    /// Removes `key` at commit.
    pub fn delete(&mut self, key: Vec<u8>) -> Result<()> {
        self.stage(key, Change::Delete)
    }

    /// Makes the commit fail if another transaction committed `key` after
    /// this one started; a key this transaction writes is locked anyway.
    pub fn lock(&mut self, key: Vec<u8>) -> Result<()> {
        if self.buffer.contains_key(&key) {
            return Ok(());
        }
        self.stage(key, Change::Lock)
    }

    /// The buffer's state now, to roll back to later.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            buffer: self.buffer.clone(),
            bytes: self.bytes,
        }
    }

    /// Forgets every change made since `sp`.
    pub fn rollback_to(&mut self, sp: &Savepoint) {
        self.buffer = sp.buffer.clone();
        self.bytes = sp.bytes;
    }

    /// Commits the buffered changes; returns the commit timestamp (the
    /// start timestamp for a transaction that changed nothing).
    pub async fn commit(self) -> Result<u64> {
        self.commit_guarded(&|| Box::pin(async { true })).await
    }

    /// [`BufferedTxn::commit`], asking `guard` just before the commit
    /// timestamp is fixed ([`TxnKv::commit_guarded`]).
    pub async fn commit_guarded(self, guard: &CommitGuard) -> Result<u64> {
        if self.buffer.is_empty() {
            return Ok(self.start.ts);
        }
        let changes: Vec<(Vec<u8>, Change)> =
            Arc::unwrap_or_clone(self.buffer).into_iter().collect();
        self.kv.commit_guarded(&self.start, changes, guard).await
    }
}

/// A frozen view for reads: the start timestamp and the buffer as it was.
#[derive(Clone)]
pub struct TxnReader {
    kv: SharedKv,
    start: Arc<StartTs>,
    buffer: Arc<Buffer>,
}

impl TxnReader {
    /// A read-only view of what committed before a fresh timestamp.
    pub async fn snapshot(kv: SharedKv) -> Result<TxnReader> {
        let start = Arc::new(kv.begin().await?);
        Ok(TxnReader {
            kv,
            start,
            buffer: Arc::default(),
        })
    }

    /// A view of the newest committed data, made without asking PD for a
    /// timestamp: for a statement that reads one key outside a transaction
    /// (a point select), to which it saves a round trip. One key read at
    /// the newest version is linearizable: every commit acknowledged
    /// before the read is seen, and a lock met is settled first, as any
    /// read settles it. It is not a snapshot of several keys: a statement
    /// reading more than one key takes [`TxnReader::snapshot`].
    pub fn latest(kv: SharedKv) -> TxnReader {
        TxnReader {
            kv,
            start: Arc::new(StartTs::new(u64::MAX, None)),
            buffer: Arc::default(),
        }
    }

    /// The timestamp the view reads at.
    pub fn ts(&self) -> u64 {
        self.start.ts
    }

    /// `[start, end)` cut at Region boundaries (see [`crate::TxnKv::ranges`]).
    pub async fn ranges(&self, start: &[u8], end: &[u8]) -> Result<Vec<crate::KeyRange>> {
        self.kv.ranges(start, end).await
    }

    /// The value of `key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.buffer.get(key) {
            Some(Change::Put(v)) => Ok(Some(v.clone())),
            Some(Change::Delete) => Ok(None),
            Some(Change::Lock) | None => self.kv.get(self.start.ts, key).await,
        }
    }

    /// The pairs among `keys` that exist, in key order.
    pub async fn batch_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Pair>> {
        let mut found = BTreeMap::new();
        let mut remote = Vec::new();
        for key in keys {
            match self.buffer.get(&key) {
                Some(Change::Put(v)) => {
                    found.insert(key, v.clone());
                }
                Some(Change::Delete) => {}
                Some(Change::Lock) | None => remote.push(key),
            }
        }
        if !remote.is_empty() {
            for p in self.kv.batch_get(self.start.ts, remote).await? {
                found.insert(p.key, p.value);
            }
        }
        Ok(found
            .into_iter()
            .map(|(key, value)| Pair { key, value })
            .collect())
    }

    /// Runs `plan` in the stores' coprocessor over what committed in
    /// `[start, end)` from `start` (see [`crate::TxnKv::coprocess`]);
    /// `None` when this view's own buffered writes touch the range (the
    /// stores do not see them: the caller reads the pairs instead).
    pub async fn coprocess(
        &self,
        start: &[u8],
        end: &[u8],
        plan: &[u8],
    ) -> Result<Option<CopPage>> {
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end.to_vec())
        };
        let own_writes = self
            .buffer
            .range::<Vec<u8>, _>((Bound::Included(start.to_vec()), upper))
            .any(|(_, c)| !matches!(c, Change::Lock));
        if own_writes {
            return Ok(None);
        }
        self.kv
            .coprocess(self.start.ts, start, end, plan)
            .await
            .map(Some)
    }

    /// One page of `[start, end)` (see [`crate::TxnKv::scan`]), with this
    /// view's buffered writes laid over what committed.
    pub async fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let page = self
            .kv
            .scan(self.start.ts, start, end, max_rows, max_bytes)
            .await?;
        if self.buffer.is_empty() {
            return Ok(page);
        }
        // The committed page covers [start, resume): lay the buffer's
        // changes in that part over it.
        let upper = match (&page.resume, end.is_empty()) {
            (Some(r), _) => Bound::Excluded(r.clone()),
            (None, true) => Bound::Unbounded,
            (None, false) => Bound::Excluded(end.to_vec()),
        };
        let merged = self.overlay(page.pairs, start.to_vec(), upper);
        Ok(Page {
            pairs: merged
                .into_iter()
                .map(|(key, value)| Pair { key, value })
                .collect(),
            resume: page.resume,
        })
    }

    /// One page of `[start, end)` read backwards (see
    /// [`crate::TxnKv::scan_reverse`]), with this view's buffered writes
    /// laid over what committed.
    pub async fn scan_reverse(
        &self,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let page = self
            .kv
            .scan_reverse(self.start.ts, start, end, max_rows, max_bytes)
            .await?;
        if self.buffer.is_empty() {
            return Ok(page);
        }
        // The committed page covers [resume, end) (all of the range when
        // it is the last page): lay the buffer's changes there over it.
        let lower = page.resume.clone().unwrap_or_else(|| start.to_vec());
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end.to_vec())
        };
        let merged = self.overlay(page.pairs, lower, upper);
        Ok(Page {
            pairs: merged
                .into_iter()
                .rev()
                .map(|(key, value)| Pair { key, value })
                .collect(),
            resume: page.resume,
        })
    }

    /// Committed `pairs` with the buffer's writes in `[lower, upper)`
    /// laid over them, in key order.
    fn overlay(
        &self,
        pairs: Vec<Pair>,
        lower: Vec<u8>,
        upper: Bound<Vec<u8>>,
    ) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            pairs.into_iter().map(|p| (p.key, p.value)).collect();
        for (k, change) in self
            .buffer
            .range::<Vec<u8>, _>((Bound::Included(lower), upper))
        {
            match change {
                Change::Put(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                Change::Delete => {
                    merged.remove(k);
                }
                Change::Lock => {}
            }
        }
        merged
    }
}
