//! [`TxnKv`]: what the SQL layer needs of a transactional key-value store,
//! as one trait with two implementations: the cluster ([`TxnClient`]) and
//! a local in-memory store (`kv::local::LocalTxnKv`, the MVCC actions over
//! the in-memory engine) that lets SQL tests run in milliseconds. Both are
//! checked by the same suite ([`crate::conformance`]).
//!
//! The trait is deliberately small: timestamps, reads at a timestamp,
//! atomic commit of a set of changes, and Region boundaries. Buffering,
//! read-your-writes, savepoints and size limits are built once on top of it
//! ([`crate::BufferedTxn`]). No protobuf type appears here.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::coprocessor::CopPage;
use crate::error::Result;

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The user key.
    pub key: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
}

/// One page of a scan.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Page {
    /// Pairs in key order.
    pub pairs: Vec<Pair>,
    /// Where the next page starts; `None` once the range is done.
    pub resume: Option<Vec<u8>>,
}

/// A range of user keys `[start, end)`; an empty `end` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// First key of the range.
    pub start: Vec<u8>,
    /// First key past the range (empty: the end of the key space).
    pub end: Vec<u8>,
}

impl KeyRange {
    /// `[start, end)` cut at those of `cuts` (sorted) strictly inside it.
    pub fn cut(start: &[u8], end: &[u8], cuts: impl IntoIterator<Item = Vec<u8>>) -> Vec<KeyRange> {
        let mut out = Vec::new();
        let mut from = start.to_vec();
        for cut in cuts {
            if cut > from && (end.is_empty() || cut.as_slice() < end) {
                out.push(KeyRange {
                    start: std::mem::replace(&mut from, cut.clone()),
                    end: cut,
                });
            }
        }
        out.push(KeyRange {
            start: from,
            end: end.to_vec(),
        });
        out
    }
}

/// What a transaction does to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Sets the key.
    Put(Vec<u8>),
    /// Removes the key.
    Delete,
    /// Writes nothing but makes the commit fail if another transaction
    /// committed the key after this one started (`SELECT … FOR UPDATE`,
    /// foreign-key checks).
    Lock,
}

/// A transaction's start timestamp, held against GC while it lives.
pub struct StartTs {
    /// The timestamp: reads see what committed before it.
    pub ts: u64,
    /// When it was taken (lock lifetimes count from here).
    pub began: Instant,
    /// Releases the timestamp's hold on GC when dropped.
    _hold: Option<Box<dyn Send + Sync>>,
}

impl StartTs {
    /// A start timestamp; `hold` is dropped with it.
    pub fn new(ts: u64, hold: Option<Box<dyn Send + Sync>>) -> StartTs {
        StartTs {
            ts,
            began: Instant::now(),
            _hold: hold,
        }
    }
}

/// A transactional key-value store: the SQL layer's only door to data.
///
/// Contract: reads at `ts` see exactly the changes committed before `ts`
/// (snapshot isolation); `commit` applies all changes or none, and fails
/// with [`crate::Error::TxnConflict`] if another transaction committed one
/// of the keys after `start.ts` (then nothing is visible and the caller may
/// retry the whole transaction). Other errors of `commit` other than
/// [`crate::Error::TxnUndetermined`] mean nothing was committed.
#[async_trait]
pub trait TxnKv: Send + Sync + 'static {
    /// A fresh start timestamp for a transaction or a read-only snapshot.
    async fn begin(&self) -> Result<StartTs>;

    /// The value of `key` as of `ts`.
    async fn get(&self, ts: u64, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The pairs among `keys` that exist as of `ts`, in key order.
    async fn batch_get(&self, ts: u64, keys: Vec<Vec<u8>>) -> Result<Vec<Pair>>;

    /// One page of `[start, end)` as of `ts`: pairs in key order until
    /// about `max_rows` pairs or `max_bytes` bytes (0 = no cap of the
    /// caller's; the store caps each answer anyway, and at least one pair
    /// comes back if any is left).
    async fn scan(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page>;

    /// [`TxnKv::scan`] backwards: pairs of `[start, end)` in reverse key
    /// order, from the last; `resume` is then the exclusive end of the
    /// next page (the last key returned).
    async fn scan_reverse(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page>;

    /// Commits `changes` (sorted by key, unique, not empty) atomically as
    /// the transaction that started at `start`; returns the commit
    /// timestamp.
    async fn commit(&self, start: &StartTs, changes: Vec<(Vec<u8>, Change)>) -> Result<u64>;

    /// [`TxnKv::commit`], asking `guard` just before the commit timestamp
    /// is fixed (before a one-phase commit, after a two-phase commit's
    /// prewrite): if it answers false, nothing is committed and the commit
    /// fails with [`crate::Error::TxnConflict`]. The SQL layer's schema
    /// lease uses it: a transaction may commit only while the catalog it
    /// checked is still known to be current.
    async fn commit_guarded(
        &self,
        start: &StartTs,
        changes: Vec<(Vec<u8>, Change)>,
        guard: &CommitGuard,
    ) -> Result<u64> {
        if !guard().await {
            return Err(crate::Error::TxnConflict(GUARD_REFUSED.into()));
        }
        self.commit(start, changes).await
    }

    /// `[start, end)` cut at Region boundaries, in key order: parts that
    /// can be read in parallel.
    async fn ranges(&self, start: &[u8], end: &[u8]) -> Result<Vec<KeyRange>>;

    /// Runs `plan` in the coprocessor of the store holding the start of
    /// `[start, end)`, over the committed pairs as of `ts` from `start` to
    /// the end of the range, of its Region, or of the store's budget
    /// ([`crate::coprocessor`]); `resume` says where to ask again.
    /// [`crate::Error::Unsupported`] if the store has no coprocessor.
    async fn coprocess(&self, ts: u64, start: &[u8], end: &[u8], plan: &[u8]) -> Result<CopPage> {
        let _ = (ts, start, end, plan);
        Err(crate::Error::Unsupported("no coprocessor".into()))
    }

    /// Asks that Regions start at each of `keys` (user keys), so that
    /// writes about to be spread over them land in different Regions from
    /// the start, not after the load splits them. A hint: a store without
    /// Regions has nothing to do.
    async fn split_hint(&self, keys: &[Vec<u8>]) -> Result<()> {
        let _ = keys;
        Ok(())
    }
}

/// A shared store.
pub type SharedKv = Arc<dyn TxnKv>;

/// Asked by [`TxnKv::commit_guarded`] whether the commit may still happen.
pub type CommitGuard = dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync;

/// The conflict message of a commit its guard refused.
pub const GUARD_REFUSED: &str = "the commit's precondition no longer held";
