//! Region splits on a running store: the path shared by `SplitRegion`
//! requests and the automatic split check. The cuts are chosen here (or by
//! the caller), the ids come from PD, and the split itself is a Raft admin
//! command proposed through the store loop and applied on every replica.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::errorpb::RegionError;
use protocol::metapb;
use tokio::sync::oneshot;

use super::store_loop::{SplitResult, StoreMsg, StoreRouter};
use crate::engine::Engine;
use crate::pd_client::RpcPdClient;
use crate::raftstore::split_check::check_region;
use crate::raftstore::{SplitCheck, SplitCommand};
use crate::region_error;

/// How long a split may take to apply before its caller gives up waiting.
pub const SPLIT_WAIT: Duration = Duration::from_secs(20);

/// Why a split did not happen.
#[derive(Debug)]
pub enum SplitFailure {
    /// A routing error: the caller should refresh and retry.
    Region(RegionError),
    /// Anything else (PD unreachable, bad input).
    Other(String),
}

/// Asks PD for the ids of a split of `region` at `split_keys` (sorted,
/// inside the Region), proposes it, and waits until it applied.
pub async fn split_region<E: Engine>(
    pd: &RpcPdClient,
    router: &StoreRouter<E>,
    region: &metapb::Region,
    split_keys: Vec<Vec<u8>>,
) -> Result<Vec<metapb::Region>, SplitFailure> {
    let ids = pd
        .ask_batch_split(region.clone(), split_keys.len() as u32)
        .await
        .map_err(|e| SplitFailure::Other(format!("cannot get split ids from PD: {e}")))?;
    if ids.len() != split_keys.len() {
        return Err(SplitFailure::Other(format!(
            "PD returned {} split ids for {} keys",
            ids.len(),
            split_keys.len()
        )));
    }
    let cmd = SplitCommand {
        region_id: region.id,
        epoch: region.region_epoch.clone().unwrap_or_default(),
        split_keys,
        ids,
    };
    let (tx, rx) = oneshot::channel::<SplitResult>();
    let busy = |why: &str| SplitFailure::Region(region_error::server_is_busy(why));
    if !router.send(StoreMsg::Split(cmd, tx)) {
        return Err(busy("store is shutting down"));
    }
    match tokio::time::timeout(SPLIT_WAIT, rx).await {
        Ok(Ok(r)) => r.map_err(SplitFailure::Region),
        Ok(Err(_)) => Err(busy("store is shutting down")),
        Err(_) => Err(busy("timed out waiting for the split to apply")),
    }
}

/// The Region `region_id` as this store's peer sees it.
pub async fn local_region<E: Engine>(
    router: &StoreRouter<E>,
    region_id: u64,
) -> Option<metapb::Region> {
    let (tx, rx) = oneshot::channel();
    if !router.send(StoreMsg::QueryRegion(region_id, tx)) {
        return None;
    }
    rx.await.ok().flatten()
}

/// Limits a Region is split at.
#[derive(Debug, Clone, Copy)]
pub struct SplitLimits {
    /// Bytes of data.
    pub size: u64,
    /// Keys.
    pub keys: u64,
}

/// Runs split checks off the store loop, one at a time per Region, and
/// remembers each Region's measured key count for heartbeats.
pub struct SplitChecker<E: Engine> {
    engine: E,
    limits: SplitLimits,
    running: Mutex<HashSet<u64>>,
    keys: Mutex<HashMap<u64, u64>>,
}

impl<E: Engine> SplitChecker<E> {
    /// A checker over `engine`.
    pub fn new(engine: E, limits: SplitLimits) -> Self {
        SplitChecker {
            engine,
            limits,
            running: Mutex::new(HashSet::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The Region's key count as last measured (0 if never).
    pub fn approximate_keys(&self, region_id: u64) -> u64 {
        self.keys.lock().get(&region_id).copied().unwrap_or(0)
    }

    /// Measures the Region and splits it if it outgrew a limit. A Region
    /// whose engine-estimated size is well under the size limit and whose
    /// key count cannot have reached the key limit is not scanned.
    pub async fn run(
        self: Arc<Self>,
        pd: Arc<RpcPdClient>,
        router: StoreRouter<E>,
        check: SplitCheck,
    ) {
        let region_id = check.region.id;
        if !self.running.lock().insert(region_id) {
            return;
        }
        self.check_and_split(&pd, &router, check).await;
        self.running.lock().remove(&region_id);
    }

    async fn check_and_split(
        self: &Arc<Self>,
        pd: &RpcPdClient,
        router: &StoreRouter<E>,
        check: SplitCheck,
    ) {
        let region = check.region;
        let me = self.clone();
        let scanned = {
            let region = region.clone();
            tokio::task::spawn_blocking(move || me.measure(&region, check.written_keys)).await
        };
        let (split_keys, keys_per_part) = match scanned {
            Ok(Ok(Some(m))) if !m.0.is_empty() => m,
            Ok(Ok(_)) => return,
            Ok(Err(e)) => return tracing::warn!(region = region.id, "split check failed: {e}"),
            Err(e) => return tracing::warn!(region = region.id, "split check task failed: {e}"),
        };
        let cuts = split_keys.len();
        match split_region(pd, router, &region, split_keys).await {
            Ok(regions) => {
                let mut keys = self.keys.lock();
                for r in &regions {
                    keys.insert(r.id, keys_per_part);
                }
                tracing::info!(
                    region = region.id,
                    parts = regions.len(),
                    "region split by size"
                );
            }
            Err(e) => tracing::info!(region = region.id, cuts, "split not done: {e:?}"),
        }
    }

    /// The split keys the Region needs and the keys each part will hold,
    /// or `None` if it was not scanned.
    fn measure(
        &self,
        region: &metapb::Region,
        written_keys: u64,
    ) -> crate::Result<Option<(Vec<Vec<u8>>, u64)>> {
        let estimated_size = self
            .engine
            .approximate_size(&region.start_key, &region.end_key)?;
        let known_keys = self.approximate_keys(region.id);
        let may_be_too_big = estimated_size >= self.limits.size / 4 * 3;
        let may_have_too_many = known_keys + written_keys >= self.limits.keys;
        if !may_be_too_big && !may_have_too_many {
            return Ok(None);
        }
        let r = check_region(
            &self.engine.snapshot(),
            region,
            self.limits.size,
            self.limits.keys,
        )?;
        let per_part = r.keys / (r.split_keys.len() as u64 + 1);
        self.keys.lock().insert(region.id, per_part);
        Ok(Some((r.split_keys, per_part)))
    }
}
