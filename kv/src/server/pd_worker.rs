//! The PD worker: carries a store's heartbeats to PD and PD's operator
//! steps back to the store loop.

use std::sync::Arc;
use std::time::Duration;

use protocol::pdpb::{RegionHeartbeatRequest, StoreStats};
use tokio::sync::{mpsc, watch};

use super::store_loop::{StoreMsg, StoreRouter};
use crate::engine::Engine;
use crate::metrics::StoreCounts;
use crate::pd_client::RpcPdClient;
use crate::raftstore::{PdTask, RegionHeartbeat};

/// Runs until `stop` turns true.
pub async fn run<E: Engine>(
    pd: Arc<RpcPdClient>,
    store_id: u64,
    engine: E,
    mut tasks: mpsc::UnboundedReceiver<PdTask>,
    router: StoreRouter<E>,
    counts: StoreCounts,
    heartbeat_interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(heartbeat_interval);
    loop {
        tokio::select! {
            // Only `true` is ever sent: any change (or a dropped sender) means stop.
            _ = stop.changed() => return,
            task = tasks.recv() => match task {
                Some(PdTask::RegionHeartbeat(hb)) => {
                    tokio::spawn(region_heartbeat(pd.clone(), engine.clone(), hb, router.clone()));
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
                let stats = StoreStats {
                    store_id,
                    region_count: counts.regions.get() as u32,
                    leader_count: counts.leaders.get() as u32,
                    used_size,
                    ..Default::default()
                };
                if let Err(e) = pd.store_heartbeat(stats).await {
                    tracing::warn!("store heartbeat failed: {e}");
                }
            }
        }
    }
}

async fn region_heartbeat<E: Engine>(
    pd: Arc<RpcPdClient>,
    engine: E,
    hb: RegionHeartbeat,
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
        approximate_keys: 0,
        term: hb.term,
    };
    match pd.region_heartbeat(req).await {
        Ok(resp) => {
            if let Some(change) = resp.change_peer {
                router.send(StoreMsg::ChangePeer(region_id, change));
            }
        }
        Err(e) => tracing::debug!(region = region_id, "region heartbeat failed: {e}"),
    }
}
