//! [`LocalTxnKv`]: a whole transactional store in one process, for tests
//! of the layers above the client (the SQL layer runs most of its tests on
//! it, in milliseconds, without a cluster).
//!
//! It is the real MVCC code ([`crate::mvcc`]: the Percolator actions and
//! the reader) over the in-memory engine, with the cluster's parts taken
//! out: no Raft, no Regions (unless asked to pretend, see
//! [`LocalTxnKv::with_split_keys`]), and a local clock instead of PD's TSO.
//! A commit is one 1PC prewrite under a mutex that also guards the clock, so
//! a timestamp taken after a commit returned always sees it, and no lock is
//! ever left for a reader to meet. It passes the same conformance suite
//! (`client::conformance`) as the cluster client.

use std::sync::Arc;

use async_trait::async_trait;
use client::coprocessor::{CopPage, Coprocessor, COP_PAGE_PAIRS};
use parking_lot::Mutex;
use protocol::mvccpb::Op;

use client::keys::key_after;
use client::txn_key::{encode_key, encode_range};
use client::{Change, Error, KeyRange, Page, Pair, Result, StartTs, TxnKv};

use crate::coprocessor::{CopFailure, MvccSource};
use crate::engine::{Engine, MemEngine, WriteBatch};
use crate::mvcc::txn::{self, Mutation, Prewrite};
use crate::mvcc::{MvccError, MvccReader, PHYSICAL_SHIFT};

/// A transactional store in memory.
pub struct LocalTxnKv {
    engine: MemEngine,
    /// The last timestamp handed out; held while a commit writes.
    clock: Mutex<u64>,
    /// Where [`TxnKv::ranges`] pretends Regions begin.
    split_keys: Vec<Vec<u8>>,
    /// What serves [`TxnKv::coprocess`], if anything does.
    coprocessor: Option<Arc<dyn Coprocessor>>,
}

impl Default for LocalTxnKv {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalTxnKv {
    /// An empty store.
    pub fn new() -> LocalTxnKv {
        LocalTxnKv {
            engine: MemEngine::new(),
            clock: Mutex::new(0),
            split_keys: Vec::new(),
            coprocessor: None,
        }
    }

    /// The store running `cop` for [`TxnKv::coprocess`], as a cluster's
    /// stores do (a request stops at a pretended Region boundary, too).
    pub fn with_coprocessor(mut self, cop: Arc<dyn Coprocessor>) -> LocalTxnKv {
        self.coprocessor = Some(cop);
        self
    }

    /// An empty store whose [`TxnKv::ranges`] cuts ranges at these user
    /// keys, as a cluster would at Region boundaries.
    pub fn with_split_keys(mut split_keys: Vec<Vec<u8>>) -> LocalTxnKv {
        split_keys.sort();
        split_keys.dedup();
        LocalTxnKv {
            split_keys,
            ..LocalTxnKv::new()
        }
    }

    fn tick(clock: &mut u64) -> u64 {
        // Timestamps look like PD's: physical milliseconds and a logical
        // part; only their order matters here.
        *clock += 1;
        *clock << PHYSICAL_SHIFT
    }
}

fn mvcc_err(e: MvccError) -> Error {
    match e {
        MvccError::WriteConflict { .. } | MvccError::Locked(_) => Error::TxnConflict(e.to_string()),
        e => Error::Remote(e.to_string()),
    }
}

impl LocalTxnKv {
    /// One page of `[start, end)` as of `ts`, forwards or backwards.
    fn page(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
        reverse: bool,
    ) -> Result<Page> {
        let (enc_start, enc_end) = encode_range(start, end);
        let snap = self.engine.snapshot();
        let reader = MvccReader::new(&snap);
        // The cluster's stores cap every answer; so does this one.
        let cap = if max_bytes == 0 { 4 << 20 } else { max_bytes };
        let (pairs, more) = if reverse {
            reader.scan_page_rev(&enc_start, &enc_end, ts, max_rows, cap)
        } else {
            reader.scan_page(&enc_start, &enc_end, ts, max_rows, cap)
        }
        .map_err(mvcc_err)?;
        let full = more || (max_rows != 0 && pairs.len() >= max_rows);
        let resume = match (full, pairs.last()) {
            (true, Some((k, _))) if reverse => Some(k.clone()),
            (true, Some((k, _))) => Some(key_after(k)),
            _ => None,
        };
        let pairs = pairs
            .into_iter()
            .map(|(key, value)| Pair { key, value })
            .collect();
        Ok(Page { pairs, resume })
    }
}

#[async_trait]
impl TxnKv for LocalTxnKv {
    async fn begin(&self) -> Result<StartTs> {
        Ok(StartTs::new(Self::tick(&mut self.clock.lock()), None))
    }

    async fn get(&self, ts: u64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let snap = self.engine.snapshot();
        MvccReader::new(&snap)
            .get(&encode_key(key), ts)
            .map_err(mvcc_err)
    }

    async fn batch_get(&self, ts: u64, mut keys: Vec<Vec<u8>>) -> Result<Vec<Pair>> {
        keys.sort();
        keys.dedup();
        let snap = self.engine.snapshot();
        let reader = MvccReader::new(&snap);
        let mut out = Vec::new();
        for key in keys {
            if let Some(value) = reader.get(&encode_key(&key), ts).map_err(mvcc_err)? {
                out.push(Pair { key, value });
            }
        }
        Ok(out)
    }

    async fn scan(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        self.page(ts, start, end, max_rows, max_bytes, false)
    }

    async fn scan_reverse(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        self.page(ts, start, end, max_rows, max_bytes, true)
    }

    async fn commit(&self, start: &StartTs, changes: Vec<(Vec<u8>, Change)>) -> Result<u64> {
        if changes.is_empty() {
            return Ok(start.ts);
        }
        let mutations: Vec<Mutation> = changes
            .into_iter()
            .map(|(key, change)| {
                let (op, value) = match change {
                    Change::Put(v) => (Op::Put, v),
                    Change::Delete => (Op::Del, Vec::new()),
                    Change::Lock => (Op::Lock, Vec::new()),
                };
                Mutation {
                    op,
                    key: encode_key(&key),
                    value,
                }
            })
            .collect();
        let mut clock = self.clock.lock();
        let commit_ts = Self::tick(&mut clock);
        let req = Prewrite {
            start_ts: start.ts,
            primary: mutations[0].key.clone(),
            lock_ttl: 3000,
            txn_size: mutations.len() as u64,
            min_commit_ts: start.ts + 1,
            one_pc_commit_ts: Some(commit_ts),
            async_commit: None,
        };
        let snap = self.engine.snapshot();
        let mut wb = WriteBatch::default();
        txn::prewrite(&MvccReader::new(&snap), &req, &mutations, &mut wb).map_err(mvcc_err)?;
        self.engine
            .write(&wb, false)
            .map_err(|e| Error::Remote(e.to_string()))?;
        Ok(commit_ts)
    }

    async fn ranges(&self, start: &[u8], end: &[u8]) -> Result<Vec<KeyRange>> {
        Ok(KeyRange::cut(start, end, self.split_keys.iter().cloned()))
    }

    async fn coprocess(&self, ts: u64, start: &[u8], end: &[u8], plan: &[u8]) -> Result<CopPage> {
        let Some(cop) = &self.coprocessor else {
            return Err(Error::Unsupported("no coprocessor".into()));
        };
        // Stop where the next pretended Region begins.
        let boundary = self
            .split_keys
            .iter()
            .find(|k| k.as_slice() > start && (end.is_empty() || k.as_slice() < end));
        let end = boundary.map_or(end, Vec::as_slice);
        let (enc_start, enc_end) = encode_range(start, end);
        let snap = self.engine.snapshot();
        // Small answers, so callers' resumption is exercised in tests.
        let (data, read) = MvccSource::new(&snap, enc_start, enc_end, ts, 3 * COP_PAGE_PAIRS)
            .run(&**cop, plan)
            .map_err(|e| match e {
                CopFailure::Read(e) => mvcc_err(e),
                CopFailure::Plan(e) => Error::Remote(e),
            })?;
        Ok(CopPage {
            data,
            scanned: read.scanned,
            store_id: 0,
            resume: read.resume.or_else(|| boundary.cloned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_store_passes_the_conformance_suite() {
        client::conformance::run_all(Arc::new(LocalTxnKv::new()), "local").await;
        let split = LocalTxnKv::with_split_keys(vec![b"split/ranges/m".to_vec()]);
        client::conformance::run_all(Arc::new(split), "split").await;
    }
}
