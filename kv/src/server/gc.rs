//! The store's GC worker. Once per interval, for every Region this store
//! leads, it
//! 1. resolves the Region's locks older than PD's GC target (through their
//!    primaries, as a reader would), so that the safe point can move there
//!    (PD's `gc` module says why), and reports that in Region heartbeats;
//! 2. removes the versions that no read at or after PD's GC safe point can
//!    see (see [`crate::mvcc::gc`]). The deletions go through Raft like any
//!    write, in batches, so every replica removes the same versions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::metapb;
use tokio::sync::{oneshot, watch};

use super::kv_service::{Failure, KvService, Outcome};
use super::store_loop::StoreMsg;
use super::txn_service::{batch_requests, clamp_to_region, lock_infos};
use crate::engine::{Engine, WriteBatch};
use crate::mvcc::gc::collect;
use crate::mvcc::key::encode_range;
use crate::mvcc::reader::MvccReader;
use client::TxnClient;

/// Most versions one Raft entry of GC deletes.
const BATCH: u64 = 4096;
/// Most locks one pass of lock resolution reads.
const LOCK_BATCH: usize = 256;

/// What the store knows of PD's GC progress. The PD worker learns the
/// safe point and target from store heartbeats and reports each Region's
/// lock resolution back; handlers refuse what is older than the safe point.
#[derive(Debug)]
pub struct GcState {
    safe_point: AtomicU64,
    /// The highest safe point this store's replicas applied GC deletions
    /// for (kept by the store loop): a replica may have applied them
    /// before its store heard of that safe point.
    applied: Arc<AtomicU64>,
    target: AtomicU64,
    locks_resolved: Mutex<HashMap<u64, u64>>,
}

impl GcState {
    /// State over the store's applied GC safe point.
    pub fn new(applied: Arc<AtomicU64>) -> Self {
        GcState {
            safe_point: AtomicU64::new(0),
            applied,
            target: AtomicU64::new(0),
            locks_resolved: Mutex::default(),
        }
    }

    /// Takes PD's latest safe point and target (neither goes back).
    pub fn learn(&self, safe_point: u64, target: u64) {
        self.safe_point.fetch_max(safe_point, Ordering::AcqRel);
        self.target.fetch_max(target, Ordering::AcqRel);
    }

    /// The GC safe point: reads below it are refused.
    pub fn safe_point(&self) -> u64 {
        self.safe_point
            .load(Ordering::Acquire)
            .max(self.applied.load(Ordering::Acquire))
    }

    /// Where the safe point is heading: prewrites below it are refused
    /// (they would leave locks behind the lock resolution).
    pub fn target(&self) -> u64 {
        self.target.load(Ordering::Acquire)
    }

    /// The timestamp below which this store resolved all of the Region's
    /// locks (0 = never).
    pub fn locks_resolved(&self, region_id: u64) -> u64 {
        self.locks_resolved
            .lock()
            .get(&region_id)
            .copied()
            .unwrap_or(0)
    }

    fn set_locks_resolved(&self, region_id: u64, ts: u64) {
        let mut m = self.locks_resolved.lock();
        let e = m.entry(region_id).or_default();
        *e = (*e).max(ts);
    }
}

impl<E: Engine> KvService<E> {
    /// Runs GC every `interval` until `stop` turns true; `resolver` settles
    /// old locks through their primaries.
    pub async fn run_gc(
        self,
        resolver: TxnClient,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut done_at = 0;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = ticker.tick() => {}
            }
            let (target, safe_point) = (self.gc.target(), self.gc.safe_point());
            if target == 0 {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            if !self.router.send(StoreMsg::LeaderRegions(tx)) {
                return;
            }
            let Ok(regions) = rx.await else { return };
            let mut ok = true;
            for region in regions {
                if self.gc.locks_resolved(region.id) < target {
                    match self.resolve_old_locks(&resolver, &region, target).await {
                        Ok(true) => self.gc.set_locks_resolved(region.id, target),
                        Ok(false) => tracing::info!(
                            region = region.id,
                            "a transaction older than the GC target is still running"
                        ),
                        Err(e) => {
                            tracing::debug!(
                                region = region.id,
                                "lock resolution skipped: {}",
                                e.describe()
                            )
                        }
                    }
                }
                if safe_point == 0 || safe_point == done_at {
                    continue;
                }
                if let Err(e) = self.gc_region(&region, safe_point).await {
                    // Moved, split or busy: the next round retries.
                    tracing::debug!(region = region.id, "gc skipped: {}", e.describe());
                    ok = false;
                }
            }
            if ok {
                done_at = safe_point;
            }
        }
    }

    /// Resolves the Region's locks that started before `target`; `false`
    /// if one of them belongs to a transaction that is still running.
    async fn resolve_old_locks(
        &self,
        resolver: &TxnClient,
        region: &metapb::Region,
        target: u64,
    ) -> Outcome<bool> {
        let epoch = region.region_epoch.clone().unwrap_or_default();
        let (start, end) = encode_range(b"", b"");
        let (mut cur, end) = clamp_to_region(start, end, region);
        let mut all_settled = true;
        loop {
            let view = self
                .snapshot(region.id, epoch.clone(), vec![], None)
                .await?;
            let (from, to) = (cur.clone(), end.clone());
            let locks = tokio::task::spawn_blocking(move || {
                MvccReader::new(&*view.snapshot).scan_locks(
                    &from,
                    &to,
                    &mut |l| l.start_ts < target,
                    LOCK_BATCH,
                )
            })
            .await
            .map_err(|e| Failure::Other(e.to_string()))??;
            let Some((last, _)) = locks.last() else {
                return Ok(all_settled);
            };
            let next = [last.as_slice(), &[0]].concat();
            let full = locks.len() == LOCK_BATCH;
            let now = resolver.current_ts().await.map_err(client_failure)?;
            for info in lock_infos(locks)? {
                all_settled &= resolver
                    .resolve_lock(&info, now)
                    .await
                    .map_err(client_failure)?;
            }
            if !full {
                return Ok(all_settled);
            }
            cur = next;
        }
    }

    /// Removes what `safe_point` allows in the Region's transactional keys
    /// (not counted as the Region's load: GC must not make it look hot).
    async fn gc_region(&self, region: &metapb::Region, safe_point: u64) -> Outcome<()> {
        let epoch = region.region_epoch.clone().unwrap_or_default();
        let (start, end) = encode_range(b"", b"");
        let (mut cur, end) = clamp_to_region(start, end, region);
        while cur != end && (end.is_empty() || cur < end) {
            let view = self
                .snapshot(region.id, epoch.clone(), vec![], None)
                .await?;
            let (from, to) = (cur.clone(), end.clone());
            let pass = tokio::task::spawn_blocking(move || {
                let mut wb = WriteBatch::default();
                collect(&*view.snapshot, &from, &to, safe_point, BATCH, &mut wb).map(|p| (p, wb))
            })
            .await
            .map_err(|e| Failure::Other(e.to_string()))?;
            let (pass, wb) = pass?;
            if !wb.is_empty() {
                self.propose(region.id, epoch.clone(), batch_requests(wb), safe_point)
                    .await?;
                crate::metrics::GC_VERSIONS_DELETED.inc_by(pass.deleted);
            }
            match pass.next {
                Some(next) => cur = next,
                None => break,
            }
        }
        Ok(())
    }
}

fn client_failure(e: client::Error) -> Failure {
    Failure::Other(e.to_string())
}
