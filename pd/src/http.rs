//! PD's HTTP JSON API, for operators and tools:
//!
//! - `GET /api/v1/cluster`: cluster id, bootstrap state, replica count.
//! - `GET /api/v1/stores`: every store with state, counts, last heartbeat
//!   and load (keys read and written per second).
//! - `GET /api/v1/regions`: every Region with range (hex), epoch, peers,
//!   leader, approximate size and load.
//! - `GET /api/v1/operators`: pending operators.
//! - `GET /metrics`: Prometheus metrics.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use protocol::metapb::PeerRole;
use serde::Serialize;

use crate::meta_store::MetaStore;
use crate::service::{now_ms, SharedCluster};

#[derive(Serialize)]
struct ClusterJson {
    cluster_id: u64,
    bootstrapped: bool,
    max_replicas: usize,
}

/// A store, as `GET /api/v1/stores` shows it.
#[derive(Serialize)]
pub struct StoreJson {
    id: u64,
    address: String,
    state: &'static str,
    region_count: usize,
    leader_count: usize,
    /// RFC 3339, or null if PD has not heard from the store since it started.
    last_heartbeat: Option<String>,
    last_heartbeat_ms: u64,
    used_size: u64,
    capacity: u64,
    available: u64,
    /// Keys read per second through the store's leaders (last second).
    read_qps: u64,
    /// Keys written per second through the store's leaders (last second).
    write_qps: u64,
}

#[derive(Serialize)]
struct StoresJson {
    count: usize,
    stores: Vec<StoreJson>,
}

#[derive(Serialize)]
struct EpochJson {
    conf_ver: u64,
    version: u64,
}

#[derive(Serialize)]
struct PeerJson {
    id: u64,
    store_id: u64,
    role: &'static str,
}

/// A Region, as `GET /api/v1/regions` shows it.
#[derive(Serialize)]
pub struct RegionJson {
    id: u64,
    start_key: String,
    end_key: String,
    epoch: EpochJson,
    peers: Vec<PeerJson>,
    leader_store_id: Option<u64>,
    leader_peer_id: Option<u64>,
    approximate_size: u64,
    approximate_keys: u64,
    read_qps: u64,
    write_qps: u64,
}

#[derive(Serialize)]
struct RegionsJson {
    count: usize,
    regions: Vec<RegionJson>,
}

#[derive(Serialize)]
struct OperatorJson {
    region_id: u64,
    kind: String,
    step: String,
    age_ms: u64,
}

fn role_name(role: i32) -> &'static str {
    if role == PeerRole::Learner as i32 {
        "Learner"
    } else {
        "Voter"
    }
}

async fn cluster_info<S: MetaStore>(State(c): State<SharedCluster<S>>) -> Json<ClusterJson> {
    let c = c.lock();
    Json(ClusterJson {
        cluster_id: c.cluster_id(),
        bootstrapped: c.is_bootstrapped(),
        max_replicas: c.max_replicas(),
    })
}

async fn stores<S: MetaStore>(State(c): State<SharedCluster<S>>) -> Json<StoresJson> {
    let views = c.lock().store_views(now_ms());
    let stores: Vec<StoreJson> = views
        .into_iter()
        .map(|v| StoreJson {
            id: v.store.id,
            address: v.store.address,
            state: v.health.name(),
            region_count: v.region_count,
            leader_count: v.leader_count,
            last_heartbeat: (v.last_heartbeat_ms > 0).then(|| {
                let t =
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(v.last_heartbeat_ms);
                humantime::format_rfc3339_millis(t).to_string()
            }),
            last_heartbeat_ms: v.last_heartbeat_ms,
            used_size: v.stats.used_size,
            capacity: v.stats.capacity,
            available: v.stats.available,
            read_qps: v.stats.read_qps,
            write_qps: v.stats.write_qps,
        })
        .collect();
    Json(StoresJson {
        count: stores.len(),
        stores,
    })
}

async fn regions<S: MetaStore>(State(c): State<SharedCluster<S>>) -> Json<RegionsJson> {
    let c = c.lock();
    let regions: Vec<RegionJson> = c
        .scan_regions(b"", b"", 0)
        .into_iter()
        .map(|i| {
            let epoch = i.region.region_epoch.clone().unwrap_or_default();
            RegionJson {
                id: i.region.id,
                start_key: hex::encode_upper(&i.region.start_key),
                end_key: hex::encode_upper(&i.region.end_key),
                epoch: EpochJson {
                    conf_ver: epoch.conf_ver,
                    version: epoch.version,
                },
                peers: i
                    .region
                    .peers
                    .iter()
                    .map(|p| PeerJson {
                        id: p.id,
                        store_id: p.store_id,
                        role: role_name(p.role),
                    })
                    .collect(),
                leader_store_id: i.leader.as_ref().map(|l| l.store_id),
                leader_peer_id: i.leader.as_ref().map(|l| l.id),
                approximate_size: i.approximate_size,
                approximate_keys: i.approximate_keys,
                read_qps: i.read_qps,
                write_qps: i.write_qps,
            }
        })
        .collect();
    Json(RegionsJson {
        count: regions.len(),
        regions,
    })
}

async fn operators<S: MetaStore>(State(c): State<SharedCluster<S>>) -> Json<Vec<OperatorJson>> {
    let now = now_ms();
    let ops = c.lock().operators();
    Json(
        ops.into_iter()
            .map(|o| OperatorJson {
                region_id: o.region_id,
                kind: o.kind.name().to_string(),
                step: o.describe(),
                age_ms: now.saturating_sub(o.created_ms),
            })
            .collect(),
    )
}

async fn metrics<S: MetaStore>(State(c): State<SharedCluster<S>>) -> String {
    crate::metrics::update_gauges(&c.lock(), now_ms());
    crate::metrics::render()
}

/// The HTTP API's routes over `shared`.
pub fn router<S: MetaStore>(shared: SharedCluster<S>) -> Router {
    Router::new()
        .route("/api/v1/cluster", get(cluster_info::<S>))
        .route("/api/v1/stores", get(stores::<S>))
        .route("/api/v1/regions", get(regions::<S>))
        .route("/api/v1/operators", get(operators::<S>))
        .route("/metrics", get(metrics::<S>))
        .with_state(shared)
}
