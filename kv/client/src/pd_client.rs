//! Talking to PD.
//!
//! [`PdClient`] is what the Region cache needs from PD; it is a trait so the
//! cache's tests can use a PD that answers with stale epochs and wrong
//! leaders on purpose. [`RpcPdClient`] is the gRPC implementation, used by
//! stores (bootstrap, heartbeats) and by the client library.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use protocol::metapb;
use protocol::pdpb::{self, pd_client::PdClient as PdGrpc, ErrorType};
use protocol::PdResponse;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};

/// Bits of a TSO timestamp below its physical milliseconds:
/// a timestamp is `physical_ms << PHYSICAL_SHIFT | logical`.
pub const PHYSICAL_SHIFT: u32 = 18;

/// The physical milliseconds of a TSO timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> PHYSICAL_SHIFT
}

/// Whether a lock taken by the transaction `start_ts`, living `ttl_ms`
/// past that timestamp's physical time, has run out at the timestamp `now`.
pub fn ttl_ran_out(start_ts: u64, ttl_ms: u64, now: u64) -> bool {
    physical_ms(now) >= physical_ms(start_ts).saturating_add(ttl_ms)
}

/// A Region and its leader, as PD last heard of them.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionRoute {
    /// Shape, epoch and peers.
    pub region: metapb::Region,
    /// The leader, when PD knows it.
    pub leader: Option<metapb::Peer>,
}

/// What the client library asks of PD.
pub trait PdClient: Send + Sync + 'static {
    /// The Region holding `key`.
    fn get_region(&self, key: Vec<u8>) -> impl Future<Output = Result<RegionRoute>> + Send;
    /// Regions overlapping `[start, end)` in key order (empty end = unbounded).
    fn scan_regions(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RegionRoute>>> + Send;
    /// A store's registration (for its address).
    fn get_store(&self, store_id: u64) -> impl Future<Output = Result<metapb::Store>> + Send;
}

/// The gRPC client of PD.
pub struct RpcPdClient {
    client: PdGrpc<Channel>,
    cluster_id: AtomicU64,
    addr: String,
}

fn status_err(addr: &str, s: tonic::Status) -> Error {
    Error::Pd(format!("PD at {addr}: {}", s.message()))
}

fn check(addr: &str, h: Option<pdpb::ResponseHeader>) -> Result<()> {
    match h.and_then(|h| h.error) {
        None => Ok(()),
        Some(e) if e.r#type == ErrorType::Ok as i32 => Ok(()),
        Some(e) if e.r#type == ErrorType::ClusterMismatch as i32 => Err(Error::IdentityMismatch(
            format!("PD at {addr}: {}", e.message),
        )),
        Some(e) => Err(Error::Pd(e.message)),
    }
}

/// Whether a PD error says the cluster is already bootstrapped.
pub fn is_already_bootstrapped(e: &Error) -> bool {
    matches!(e, Error::Pd(m) if m.contains("already bootstrapped"))
}

fn route(info: Option<pdpb::RegionInfo>) -> Option<RegionRoute> {
    let info = info?;
    Some(RegionRoute {
        region: info.region?,
        leader: info.leader,
    })
}

/// Opens a lazily connecting gRPC channel to `addr` (`HOST:PORT`).
pub fn channel(addr: &str, timeout: Duration) -> Result<Channel> {
    let ep = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| Error::InvalidRequest(format!("bad address {addr:?}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    Ok(ep.connect_lazy())
}

impl RpcPdClient {
    /// Connects to PD at `addr`, retrying until `wait` has passed; learns
    /// the cluster id. Fails with a clear error if PD cannot be reached.
    pub async fn connect(addr: &str, wait: Duration) -> Result<RpcPdClient> {
        let client = PdGrpc::new(channel(addr, Duration::from_secs(10))?)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let pd = RpcPdClient {
            client,
            cluster_id: AtomicU64::new(0),
            addr: addr.to_string(),
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match pd.cluster_info().await {
                Ok((cluster_id, _)) => {
                    pd.cluster_id.store(cluster_id, Ordering::Relaxed);
                    return Ok(pd);
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(Error::Pd(format!("cannot reach PD at {addr}: {e}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The cluster's id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id.load(Ordering::Relaxed)
    }

    /// PD's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn header(&self) -> Option<pdpb::RequestHeader> {
        Some(pdpb::RequestHeader {
            cluster_id: self.cluster_id(),
        })
    }

    fn client(&self) -> PdGrpc<Channel> {
        self.client.clone()
    }

    /// Awaits a PD call: transport failures and errors in the response
    /// header both become `Error`s.
    async fn call<R: PdResponse>(
        &self,
        call: impl Future<Output = std::result::Result<tonic::Response<R>, tonic::Status>>,
    ) -> Result<R> {
        let r = call
            .await
            .map_err(|s| status_err(&self.addr, s))?
            .into_inner();
        check(&self.addr, r.header().cloned())?;
        Ok(r)
    }

    /// The cluster id and whether the cluster is bootstrapped.
    pub async fn cluster_info(&self) -> Result<(u64, bool)> {
        let r = self
            .call(self.client().get_cluster_info(pdpb::GetClusterInfoRequest {
                header: self.header(),
            }))
            .await?;
        let id = r.header.as_ref().map(|h| h.cluster_id).unwrap_or(0);
        Ok((id, r.bootstrapped))
    }

    /// A new cluster-unique id.
    pub async fn alloc_id(&self) -> Result<u64> {
        let r = self
            .call(self.client().alloc_id(pdpb::AllocIdRequest {
                header: self.header(),
            }))
            .await?;
        Ok(r.id)
    }

    /// Bootstraps the cluster with its first Region.
    pub async fn bootstrap(&self, store: metapb::Store, region: metapb::Region) -> Result<()> {
        self.call(self.client().bootstrap(pdpb::BootstrapRequest {
            header: self.header(),
            store: Some(store),
            region: Some(region),
        }))
        .await?;
        Ok(())
    }

    /// Registers this store (or updates its address).
    pub async fn put_store(&self, store: metapb::Store) -> Result<()> {
        self.call(self.client().put_store(pdpb::PutStoreRequest {
            header: self.header(),
            store: Some(store),
        }))
        .await?;
        Ok(())
    }

    /// Every store with PD's view of it.
    pub async fn all_stores(&self) -> Result<pdpb::GetAllStoresResponse> {
        self.call(self.client().get_all_stores(pdpb::GetAllStoresRequest {
            header: self.header(),
        }))
        .await
    }

    /// Sends a store heartbeat; the answer carries the GC safe point and
    /// target.
    pub async fn store_heartbeat(
        &self,
        stats: pdpb::StoreStats,
    ) -> Result<pdpb::StoreHeartbeatResponse> {
        self.call(self.client().store_heartbeat(pdpb::StoreHeartbeatRequest {
            header: self.header(),
            stats: Some(stats),
        }))
        .await
    }

    /// The GC state: safe point, life time, target and service safe points.
    pub async fn gc_status(&self) -> Result<pdpb::GetGcSafePointResponse> {
        self.call(
            self.client()
                .get_gc_safe_point(pdpb::GetGcSafePointRequest {
                    header: self.header(),
                }),
        )
        .await
    }

    /// Registers, refreshes or (`ttl_secs` 0) removes the service safe
    /// point `service_id`; returns the GC safe point.
    pub async fn update_service_safe_point(
        &self,
        service_id: &str,
        safe_point: u64,
        ttl_secs: u64,
    ) -> Result<u64> {
        let r =
            self.call(self.client().update_service_safe_point(
                pdpb::UpdateServiceSafePointRequest {
                    header: self.header(),
                    service_id: service_id.to_string(),
                    safe_point,
                    ttl_secs,
                },
            ))
            .await?;
        Ok(r.gc_safe_point)
    }

    /// Sends a Region heartbeat; the answer may carry an operator step.
    pub async fn region_heartbeat(
        &self,
        mut req: pdpb::RegionHeartbeatRequest,
    ) -> Result<pdpb::RegionHeartbeatResponse> {
        req.header = self.header();
        self.call(self.client().region_heartbeat(req)).await
    }

    /// The Region with this id.
    pub async fn get_region_by_id(&self, region_id: u64) -> Result<Option<RegionRoute>> {
        let r = self
            .call(self.client().get_region_by_id(pdpb::GetRegionByIdRequest {
                header: self.header(),
                region_id,
            }))
            .await?;
        Ok(route(r.region))
    }

    /// Ids for splitting `region` at `split_count` keys.
    pub async fn ask_batch_split(
        &self,
        region: metapb::Region,
        split_count: u32,
    ) -> Result<Vec<pdpb::SplitId>> {
        let r = self
            .call(self.client().ask_batch_split(pdpb::AskBatchSplitRequest {
                header: self.header(),
                region: Some(region),
                split_count,
            }))
            .await?;
        Ok(r.ids)
    }

    /// Tells PD the Regions a split produced.
    pub async fn report_batch_split(&self, regions: Vec<metapb::Region>) -> Result<()> {
        self.call(
            self.client()
                .report_batch_split(pdpb::ReportBatchSplitRequest {
                    header: self.header(),
                    regions,
                }),
        )
        .await?;
        Ok(())
    }

    /// Regions overlapping `[start, end)` with their leaders and
    /// approximate sizes, in key order (empty end = unbounded, limit 0 = all).
    pub async fn region_infos(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<pdpb::RegionInfo>> {
        let r = self
            .call(self.client().scan_regions(pdpb::ScanRegionsRequest {
                header: self.header(),
                start_key: start,
                end_key: end,
                limit,
            }))
            .await?;
        Ok(r.regions)
    }

    /// Asks PD to move the leader of `region_id` to its voter on `store_id`.
    pub async fn transfer_leader(&self, region_id: u64, to_store_id: u64) -> Result<()> {
        self.call(
            self.client()
                .admin_transfer_leader(pdpb::AdminTransferLeaderRequest {
                    header: self.header(),
                    region_id,
                    to_store_id,
                }),
        )
        .await?;
        Ok(())
    }

    /// Starts decommissioning a store.
    pub async fn delete_store(&self, store_id: u64) -> Result<()> {
        self.call(self.client().delete_store(pdpb::DeleteStoreRequest {
            header: self.header(),
            store_id,
        }))
        .await?;
        Ok(())
    }

    /// PD's pending operators.
    pub async fn operators(&self) -> Result<Vec<pdpb::OperatorInfo>> {
        let r = self
            .call(self.client().get_operators(pdpb::GetOperatorsRequest {
                header: self.header(),
            }))
            .await?;
        Ok(r.operators)
    }

    /// Pauses or resumes a scheduler (an empty name changes nothing) and
    /// returns every scheduler's state.
    pub async fn set_scheduler(
        &self,
        name: &str,
        paused: bool,
    ) -> Result<Vec<pdpb::SchedulerInfo>> {
        let r = self
            .call(self.client().set_scheduler(pdpb::SetSchedulerRequest {
                header: self.header(),
                name: name.to_string(),
                paused,
            }))
            .await?;
        Ok(r.schedulers)
    }

    /// `count` timestamps; returns the first.
    pub async fn tso(&self, count: u32) -> Result<u64> {
        let r = self
            .call(self.client().tso(pdpb::TsoRequest {
                header: self.header(),
                count,
            }))
            .await?;
        Ok(r.first)
    }
}

impl PdClient for RpcPdClient {
    async fn get_region(&self, key: Vec<u8>) -> Result<RegionRoute> {
        let r = self
            .call(self.client().get_region(pdpb::GetRegionRequest {
                header: self.header(),
                key: key.clone(),
            }))
            .await?;
        route(r.region).ok_or_else(|| {
            Error::Pd(format!(
                "PD knows no Region for key {}",
                crate::keys::fmt_key(&key)
            ))
        })
    }

    async fn scan_regions(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: u32,
    ) -> Result<Vec<RegionRoute>> {
        let infos = self.region_infos(start, end, limit).await?;
        Ok(infos.into_iter().filter_map(|i| route(Some(i))).collect())
    }

    async fn get_store(&self, store_id: u64) -> Result<metapb::Store> {
        let r = self
            .call(self.client().get_store(pdpb::GetStoreRequest {
                header: self.header(),
                store_id,
            }))
            .await?;
        r.store
            .ok_or_else(|| Error::Pd(format!("store {store_id} not found")))
    }
}

/// Hands out TSO timestamps, batching concurrent requests into one RPC.
pub struct TsoBatcher {
    tx: mpsc::UnboundedSender<oneshot::Sender<Result<u64>>>,
}

impl TsoBatcher {
    /// Starts the batcher's task (call within a Tokio runtime).
    pub fn start(pd: Arc<RpcPdClient>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<Result<u64>>>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                match pd.tso(waiters.len() as u32).await {
                    Ok(ts) => {
                        for (i, w) in waiters.into_iter().enumerate() {
                            let _ = w.send(Ok(ts + i as u64));
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        for w in waiters {
                            let _ = w.send(Err(Error::Pd(why.clone())));
                        }
                    }
                }
            }
        });
        TsoBatcher { tx }
    }

    /// One fresh timestamp.
    pub async fn get(&self) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| Error::Pd("timestamp batcher stopped".into()))?;
        rx.await
            .map_err(|_| Error::Pd("timestamp batcher stopped".into()))?
    }
}
