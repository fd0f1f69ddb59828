//! The store's GC worker: once per interval, for every Region this store
//! leads, it removes the versions that no read at or after PD's GC safe
//! point can see (see [`crate::mvcc::gc`]). The deletions go through Raft
//! like any write, in batches, so every replica removes the same versions.

use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::metapb;
use tokio::sync::{oneshot, watch};

use super::kv_service::{KvService, Outcome};
use super::store_loop::StoreMsg;
use super::txn_service::{batch_requests, clamp_to_region};
use crate::engine::{Engine, WriteBatch};
use crate::mvcc::gc::collect;
use crate::mvcc::key::encode_range;

/// Most versions one Raft entry of GC deletes.
const BATCH: u64 = 4096;

impl<E: Engine> KvService<E> {
    /// Runs GC every `interval` until `stop` turns true.
    pub async fn run_gc(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut done_at = 0;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = ticker.tick() => {}
            }
            let safe_point = self.safe_point.load(Ordering::Acquire);
            if safe_point == 0 || safe_point == done_at {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            if !self.router.send(StoreMsg::LeaderRegions(tx)) {
                return;
            }
            let Ok(regions) = rx.await else { return };
            let mut ok = true;
            for region in regions {
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
            .map_err(|e| super::kv_service::Failure::Other(e.to_string()))?;
            let (pass, wb) = pass?;
            if !wb.is_empty() {
                self.propose(region.id, epoch.clone(), batch_requests(wb))
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
