//! The PD worker: carries a store's heartbeats and split reports to PD and
//! PD's operator steps back to the store loop, and runs split checks.
//! Heartbeats carry each Region's and the store's load (keys per second);
//! store heartbeats bring back PD's GC safe point and target, and Region
//! heartbeats report how far each Region's old locks are resolved.

use std::sync::Arc;
use std::time::Duration;

use protocol::pdpb::{RegionHeartbeatRequest, StoreStats};
use tokio::sync::{mpsc, watch};

use super::gc::GcState;
use super::load_split::{Load, LoadTracker};
use super::split::SplitChecker;
use super::store_loop::{StoreMsg, StoreRouter};
use crate::engine::Engine;
use crate::metrics::StoreCounts;
use crate::pd_client::RpcPdClient;
use crate::raftstore::{PdTask, RegionHeartbeat};

/// What the PD worker works with: a store's PD client and the parts of the
/// store whose state its heartbeats report or whose work it starts.
pub struct PdWorker<E: Engine> {
    /// The store's PD client.
    pub pd: Arc<RpcPdClient>,
    /// This store's id.
    pub store_id: u64,
    /// The store's engine (used size, Region sizes).
    pub engine: E,
    /// Where PD's operator steps go.
    pub router: StoreRouter<E>,
    /// Region and leader counts of the store.
    pub counts: StoreCounts,
    /// Split checks, and Regions' approximate key counts.
    pub checker: Arc<SplitChecker<E>>,
    /// Keys served per Region and store.
    pub load: Arc<LoadTracker>,
    /// GC's state: learns PD's safe point, reports resolved locks.
    pub gc: Arc<GcState>,
    /// How often the store heartbeats.
    pub heartbeat_interval: Duration,
}

impl<E: Engine> PdWorker<E> {
    /// Runs the store's `tasks` and heartbeats until `stop` turns true.
    pub async fn run(
        self,
        mut tasks: mpsc::UnboundedReceiver<PdTask>,
        mut stop: watch::Receiver<bool>,
    ) {
        let PdWorker {
            pd,
            store_id,
            engine,
            router,
            counts,
            checker,
            load,
            gc,
            heartbeat_interval,
        } = self;
        let mut ticker = tokio::time::interval(heartbeat_interval);
        loop {
            tokio::select! {
                // Only `true` is ever sent: any change (or a dropped sender) means stop.
                _ = stop.changed() => return,
                task = tasks.recv() => match task {
                    Some(PdTask::RegionHeartbeat(hb)) => {
                        let stats = RegionStats {
                            approximate_keys: checker.approximate_keys(hb.region.id),
                            load: load.region_load(hb.region.id),
                            locks_resolved_ts: gc.locks_resolved(hb.region.id),
                        };
                        tokio::spawn(region_heartbeat(pd.clone(), engine.clone(), hb, stats, router.clone()));
                    }
                    Some(PdTask::ReportSplit(regions)) => {
                        let pd = pd.clone();
                        tokio::spawn(async move {
                            if let Err(e) = pd.report_batch_split(regions).await {
                                // The new Regions' heartbeats will tell PD anyway.
                                tracing::debug!("split report failed: {e}");
                            }
                        });
                    }
                    Some(PdTask::SplitCheck(check)) => {
                        tokio::spawn(checker.clone().run(pd.clone(), router.clone(), check));
                    }
                    None => return,
                },
                _ = ticker.tick() => {
                    let engine = engine.clone();
                    let used_size = tokio::task::spawn_blocking(move || engine.used_size())
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                        .unwrap_or(0);
                    let store_load = load.store_load();
                    let stats = StoreStats {
                        store_id,
                        region_count: counts.regions.get() as u32,
                        leader_count: counts.leaders.get() as u32,
                        used_size,
                        read_qps: store_load.read,
                        write_qps: store_load.write,
                        ..Default::default()
                    };
                    match pd.store_heartbeat(stats).await {
                        Ok(r) => gc.learn(r.gc_safe_point, r.gc_target),
                        Err(e) => tracing::warn!("store heartbeat failed: {e}"),
                    }
                }
            }
        }
    }
}

/// What a Region heartbeat reports besides the Region itself.
struct RegionStats {
    approximate_keys: u64,
    load: Load,
    locks_resolved_ts: u64,
}

async fn region_heartbeat<E: Engine>(
    pd: Arc<RpcPdClient>,
    engine: E,
    hb: RegionHeartbeat,
    stats: RegionStats,
    router: StoreRouter<E>,
) {
    let region_id = hb.region.id;
    let approximate_size = engine
        .approximate_size(&hb.region.start_key, &hb.region.end_key)
        .unwrap_or(0);
    let req = RegionHeartbeatRequest {
        header: None,
        region: Some(hb.region),
        leader: Some(hb.leader),
        pending_peers: hb.pending_peers,
        approximate_size,
        approximate_keys: stats.approximate_keys,
        term: hb.term,
        read_qps: stats.load.read,
        write_qps: stats.load.write,
        locks_resolved_ts: stats.locks_resolved_ts,
    };
    match pd.region_heartbeat(req).await {
        Ok(resp) => {
            if let Some(change) = resp.change_peer {
                router.send(StoreMsg::ChangePeer(region_id, change));
            }
            if let Some(to) = resp.transfer_leader.and_then(|t| t.peer) {
                router.send(StoreMsg::TransferLeader(region_id, to));
            }
        }
        Err(e) => tracing::debug!(region = region_id, "region heartbeat failed: {e}"),
    }
}
