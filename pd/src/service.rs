//! PD's gRPC service: decodes requests, calls [`Cluster`] under its lock,
//! and puts PD errors into response headers (transport errors stay gRPC
//! statuses).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use protocol::pdpb::{self, pd_server::Pd, RegionInfo as PbRegionInfo};
use protocol::PdResponse;
use tonic::{Request, Response, Status};

use crate::cluster::Cluster;
use crate::error::Result;
use crate::meta_store::MetaStore;
use crate::region_tree::RegionInfo;

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The cluster shared by PD's gRPC and HTTP front ends.
pub type SharedCluster<S> = Arc<Mutex<Cluster<S>>>;

/// The gRPC front end of PD.
pub struct PdService<S: MetaStore> {
    cluster: SharedCluster<S>,
}

impl<S: MetaStore> PdService<S> {
    /// A service over `cluster`.
    pub fn new(cluster: SharedCluster<S>) -> Self {
        PdService { cluster }
    }
}

fn requested_cluster(h: &Option<pdpb::RequestHeader>) -> u64 {
    h.as_ref().map(|h| h.cluster_id).unwrap_or(0)
}

fn reply<R: PdResponse>(cluster_id: u64, r: Result<R>) -> std::result::Result<Response<R>, Status> {
    let (mut resp, error) = match r {
        Ok(resp) => (resp, None),
        Err(e) => (R::default(), Some(e.to_pb())),
    };
    resp.set_header(pdpb::ResponseHeader { cluster_id, error });
    Ok(Response::new(resp))
}

fn region_pb(info: &RegionInfo) -> PbRegionInfo {
    PbRegionInfo {
        region: Some(info.region.clone()),
        leader: info.leader.clone(),
        approximate_size: info.approximate_size,
        read_qps: info.read_qps,
        write_qps: info.write_qps,
    }
}

impl<S: MetaStore> PdService<S> {
    /// Runs `f` on the cluster after checking the caller's cluster id.
    fn call<R: PdResponse>(
        &self,
        method: &'static str,
        header: &Option<pdpb::RequestHeader>,
        f: impl FnOnce(&mut Cluster<S>) -> Result<R>,
    ) -> std::result::Result<Response<R>, Status> {
        let _timer = crate::metrics::RequestTimer::new(method);
        let mut c = self.cluster.lock();
        let id = c.cluster_id();
        let r = c
            .check_cluster(requested_cluster(header))
            .and_then(|_| f(&mut c));
        reply(id, r)
    }
}

#[tonic::async_trait]
impl<S: MetaStore> Pd for PdService<S> {
    async fn get_cluster_info(
        &self,
        req: Request<pdpb::GetClusterInfoRequest>,
    ) -> std::result::Result<Response<pdpb::GetClusterInfoResponse>, Status> {
        self.call("get_cluster_info", &req.into_inner().header, |c| {
            Ok(pdpb::GetClusterInfoResponse {
                header: None,
                bootstrapped: c.is_bootstrapped(),
                max_replicas: c.max_replicas() as u32,
            })
        })
    }

    async fn alloc_id(
        &self,
        req: Request<pdpb::AllocIdRequest>,
    ) -> std::result::Result<Response<pdpb::AllocIdResponse>, Status> {
        self.call("alloc_id", &req.into_inner().header, |c| {
            Ok(pdpb::AllocIdResponse {
                header: None,
                id: c.alloc_id()?,
            })
        })
    }

    async fn bootstrap(
        &self,
        req: Request<pdpb::BootstrapRequest>,
    ) -> std::result::Result<Response<pdpb::BootstrapResponse>, Status> {
        let req = req.into_inner();
        self.call("bootstrap", &req.header, |c| {
            c.bootstrap(
                req.store.unwrap_or_default(),
                req.region.unwrap_or_default(),
            )?;
            Ok(pdpb::BootstrapResponse::default())
        })
    }

    async fn put_store(
        &self,
        req: Request<pdpb::PutStoreRequest>,
    ) -> std::result::Result<Response<pdpb::PutStoreResponse>, Status> {
        let req = req.into_inner();
        self.call("put_store", &req.header, |c| {
            c.put_store(req.store.unwrap_or_default())?;
            Ok(pdpb::PutStoreResponse::default())
        })
    }

    async fn get_store(
        &self,
        req: Request<pdpb::GetStoreRequest>,
    ) -> std::result::Result<Response<pdpb::GetStoreResponse>, Status> {
        let req = req.into_inner();
        self.call("get_store", &req.header, |c| {
            Ok(pdpb::GetStoreResponse {
                header: None,
                store: Some(c.get_store(req.store_id)?.clone()),
            })
        })
    }

    async fn get_all_stores(
        &self,
        req: Request<pdpb::GetAllStoresRequest>,
    ) -> std::result::Result<Response<pdpb::GetAllStoresResponse>, Status> {
        self.call("get_all_stores", &req.into_inner().header, |c| {
            let views = c.store_views(now_ms());
            let statuses = views
                .iter()
                .map(|v| pdpb::StoreStatus {
                    store_id: v.store.id,
                    state: v.health.name().to_string(),
                    region_count: v.region_count as u32,
                    leader_count: v.leader_count as u32,
                    last_heartbeat_ms: v.last_heartbeat_ms,
                    used_size: v.stats.used_size,
                    read_qps: v.stats.read_qps,
                    write_qps: v.stats.write_qps,
                })
                .collect();
            let stores = views.into_iter().map(|v| v.store).collect();
            Ok(pdpb::GetAllStoresResponse {
                header: None,
                stores,
                statuses,
            })
        })
    }

    async fn store_heartbeat(
        &self,
        req: Request<pdpb::StoreHeartbeatRequest>,
    ) -> std::result::Result<Response<pdpb::StoreHeartbeatResponse>, Status> {
        let req = req.into_inner();
        self.call("store_heartbeat", &req.header, |c| {
            let now = now_ms();
            c.store_heartbeat(req.stats.unwrap_or_default(), now)?;
            Ok(pdpb::StoreHeartbeatResponse {
                header: None,
                gc_safe_point: c.gc_safe_point(now)?,
                gc_target: c.gc_target(now),
            })
        })
    }

    async fn region_heartbeat(
        &self,
        req: Request<pdpb::RegionHeartbeatRequest>,
    ) -> std::result::Result<Response<pdpb::RegionHeartbeatResponse>, Status> {
        let req = req.into_inner();
        let header = req.header.clone();
        self.call("region_heartbeat", &header, |c| {
            c.region_heartbeat(req, now_ms())
        })
    }

    async fn get_region(
        &self,
        req: Request<pdpb::GetRegionRequest>,
    ) -> std::result::Result<Response<pdpb::GetRegionResponse>, Status> {
        let req = req.into_inner();
        self.call("get_region", &req.header, |c| {
            Ok(pdpb::GetRegionResponse {
                header: None,
                region: c.region_by_key(&req.key).map(region_pb),
            })
        })
    }

    async fn get_region_by_id(
        &self,
        req: Request<pdpb::GetRegionByIdRequest>,
    ) -> std::result::Result<Response<pdpb::GetRegionResponse>, Status> {
        let req = req.into_inner();
        self.call("get_region_by_id", &req.header, |c| {
            Ok(pdpb::GetRegionResponse {
                header: None,
                region: c.region_by_id(req.region_id).map(region_pb),
            })
        })
    }

    async fn scan_regions(
        &self,
        req: Request<pdpb::ScanRegionsRequest>,
    ) -> std::result::Result<Response<pdpb::ScanRegionsResponse>, Status> {
        let req = req.into_inner();
        self.call("scan_regions", &req.header, |c| {
            let regions = c
                .scan_regions(&req.start_key, &req.end_key, req.limit as usize)
                .into_iter()
                .map(region_pb)
                .collect();
            Ok(pdpb::ScanRegionsResponse {
                header: None,
                regions,
            })
        })
    }

    async fn tso(
        &self,
        req: Request<pdpb::TsoRequest>,
    ) -> std::result::Result<Response<pdpb::TsoResponse>, Status> {
        let req = req.into_inner();
        let count = req.count.max(1);
        self.call("tso", &req.header, |c| {
            Ok(pdpb::TsoResponse {
                header: None,
                first: c.tso(count, now_ms())?,
                count,
            })
        })
    }

    async fn ask_batch_split(
        &self,
        req: Request<pdpb::AskBatchSplitRequest>,
    ) -> std::result::Result<Response<pdpb::AskBatchSplitResponse>, Status> {
        let req = req.into_inner();
        self.call("ask_batch_split", &req.header, |c| {
            let region = req.region.unwrap_or_default();
            Ok(pdpb::AskBatchSplitResponse {
                header: None,
                ids: c.ask_batch_split(&region, req.split_count)?,
            })
        })
    }

    async fn report_batch_split(
        &self,
        req: Request<pdpb::ReportBatchSplitRequest>,
    ) -> std::result::Result<Response<pdpb::ReportBatchSplitResponse>, Status> {
        let req = req.into_inner();
        self.call("report_batch_split", &req.header, |c| {
            c.report_batch_split(&req.regions)?;
            Ok(pdpb::ReportBatchSplitResponse::default())
        })
    }

    async fn admin_transfer_leader(
        &self,
        req: Request<pdpb::AdminTransferLeaderRequest>,
    ) -> std::result::Result<Response<pdpb::AdminTransferLeaderResponse>, Status> {
        let req = req.into_inner();
        self.call("admin_transfer_leader", &req.header, |c| {
            c.transfer_leader(req.region_id, req.to_store_id, now_ms())?;
            Ok(pdpb::AdminTransferLeaderResponse::default())
        })
    }

    async fn delete_store(
        &self,
        req: Request<pdpb::DeleteStoreRequest>,
    ) -> std::result::Result<Response<pdpb::DeleteStoreResponse>, Status> {
        let req = req.into_inner();
        self.call("delete_store", &req.header, |c| {
            c.delete_store(req.store_id, now_ms())?;
            Ok(pdpb::DeleteStoreResponse::default())
        })
    }

    async fn get_operators(
        &self,
        req: Request<pdpb::GetOperatorsRequest>,
    ) -> std::result::Result<Response<pdpb::GetOperatorsResponse>, Status> {
        self.call("get_operators", &req.into_inner().header, |c| {
            let operators = c
                .operators()
                .into_iter()
                .map(|o| pdpb::OperatorInfo {
                    region_id: o.region_id,
                    kind: o.kind.name().to_string(),
                    description: o.describe(),
                    created_ms: o.created_ms,
                })
                .collect();
            Ok(pdpb::GetOperatorsResponse {
                header: None,
                operators,
            })
        })
    }

    async fn set_scheduler(
        &self,
        req: Request<pdpb::SetSchedulerRequest>,
    ) -> std::result::Result<Response<pdpb::SetSchedulerResponse>, Status> {
        let req = req.into_inner();
        self.call("set_scheduler", &req.header, |c| {
            if !req.name.is_empty() {
                c.set_scheduler_paused(&req.name, req.paused)?;
            }
            let schedulers = c
                .schedulers()
                .into_iter()
                .map(|(name, paused)| pdpb::SchedulerInfo {
                    name: name.to_string(),
                    paused,
                })
                .collect();
            Ok(pdpb::SetSchedulerResponse {
                header: None,
                schedulers,
            })
        })
    }

    async fn get_gc_safe_point(
        &self,
        req: Request<pdpb::GetGcSafePointRequest>,
    ) -> std::result::Result<Response<pdpb::GetGcSafePointResponse>, Status> {
        let req = req.into_inner();
        self.call("get_gc_safe_point", &req.header, |c| {
            let now = now_ms();
            Ok(pdpb::GetGcSafePointResponse {
                header: None,
                safe_point: c.gc_safe_point(now)?,
                life_time_ms: c.gc_life_time_ms(),
                target: c.gc_target(now),
                services: c.service_safe_points(now),
            })
        })
    }

    async fn update_service_safe_point(
        &self,
        req: Request<pdpb::UpdateServiceSafePointRequest>,
    ) -> std::result::Result<Response<pdpb::UpdateServiceSafePointResponse>, Status> {
        let req = req.into_inner();
        self.call("update_service_safe_point", &req.header, |c| {
            Ok(pdpb::UpdateServiceSafePointResponse {
                header: None,
                gc_safe_point: c.update_service_safe_point(
                    &req.service_id,
                    req.safe_point,
                    req.ttl_secs,
                    now_ms(),
                )?,
            })
        })
    }
}
