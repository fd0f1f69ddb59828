//! The client-facing KV gRPC service of a store.
//!
//! Every request is checked (key and value sizes, a context naming the
//! Region and epoch), handed to the store loop as a Raft proposal or a
//! linearizable read, and answered with data, a typed routing error, or a
//! plain error for bad input.
//!
//! Hot path: each handler sends one message to the store loop and awaits one
//! answer; a read then copies only the requested values out of the engine.

use std::sync::Arc;
use std::time::Duration;

use client::coprocessor::Coprocessor;

use protocol::errorpb::RegionError;
use protocol::kvrpcpb::{self, kv_server::Kv, Context, KvPair};
use protocol::raft_cmdpb::{self, request::Cmd, ColumnFamily};
use protocol::RawResponse;
use std::pin::Pin;

use protocol::kvrpcpb::batch_commands_request::request::Cmd as Req;
use protocol::kvrpcpb::batch_commands_response::{
    response::Cmd as Resp, Response as BatchResponse,
};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::gc::GcState;
use super::latches::{Latches, MemLocks};
use super::load_split::LoadTracker;
use super::split::{local_region, split_region, SplitFailure};
use super::store_loop::{StoreMsg, StoreRouter};
use crate::engine::{Cf, Engine, Snapshot as _};
use crate::keys::{MAX_KEY_SIZE, MAX_VALUE_SIZE};
use crate::metrics::RequestTimer;
use crate::pd_client::{RpcPdClient, TsoBatcher};
use crate::raftstore::{ReadCommand, ReadView, WriteCommand};
use crate::region_error;

/// How long a handler waits for the store loop before answering "busy".
const STORE_WAIT: Duration = Duration::from_secs(20);
/// Largest total payload of one batch write.
const MAX_BATCH_BYTES: usize = 48 << 20;
/// Most bytes of pairs one scan answer carries: a Region of any size comes
/// back in pages, each far below the gRPC message limit.
pub(super) const MAX_SCAN_BYTES: usize = 4 << 20;
/// Most bytes of answers one `BatchCommands` stream message carries (one
/// answer alone may be larger; it then goes alone).
const MAX_STREAM_MESSAGE_BYTES: usize = 16 << 20;

fn push_response(batch: &mut kvrpcpb::BatchCommandsResponse, (id, cmd): (u64, Resp)) {
    batch.request_ids.push(id);
    batch.responses.push(BatchResponse { cmd: Some(cmd) });
}

/// The byte cap of a scan that asked for `requested` bytes (0 = the cap).
pub(super) fn scan_byte_cap(requested: u64) -> usize {
    match usize::try_from(requested) {
        Ok(n) if n > 0 => n.min(MAX_SCAN_BYTES),
        _ => MAX_SCAN_BYTES,
    }
}

/// The `Kv` gRPC service (its transactional handlers are in
/// `txn_service.rs`).
pub struct KvService<E: Engine> {
    pub(super) router: StoreRouter<E>,
    store_id: u64,
    pub(super) pd: Arc<RpcPdClient>,
    pub(super) load: Arc<LoadTracker>,
    pub(super) latches: Arc<Latches>,
    pub(super) mem_locks: Arc<MemLocks>,
    /// PD's GC progress, as store heartbeats bring it.
    pub(super) gc: Arc<GcState>,
    /// Commit timestamps for 1PC, concurrent requests batched.
    pub(super) tso: Arc<TsoBatcher>,
    /// What runs SQL nodes' plans next to the data, if anything does.
    pub(super) coprocessor: Option<Arc<dyn Coprocessor>>,
}

impl<E: Engine> Clone for KvService<E> {
    fn clone(&self) -> Self {
        KvService {
            router: self.router.clone(),
            store_id: self.store_id,
            pd: self.pd.clone(),
            load: self.load.clone(),
            latches: self.latches.clone(),
            mem_locks: self.mem_locks.clone(),
            gc: self.gc.clone(),
            tso: self.tso.clone(),
            coprocessor: self.coprocessor.clone(),
        }
    }
}

impl Failure {
    /// A one-line account for logs.
    pub(super) fn describe(&self) -> String {
        match self {
            Failure::Region(e) => e.message.clone(),
            Failure::Txn(e) => e.to_string(),
            Failure::Other(e) => e.clone(),
        }
    }
}

/// Why a request failed: a routing error for the client library to handle,
/// a transactional outcome (locks, conflicts), or a plain error to report.
pub(super) enum Failure {
    Region(RegionError),
    Txn(crate::mvcc::MvccError),
    Other(String),
}

impl From<SplitFailure> for Failure {
    fn from(e: SplitFailure) -> Self {
        match e {
            SplitFailure::Region(e) => Failure::Region(e),
            SplitFailure::Other(e) => Failure::Other(e),
        }
    }
}

impl From<RegionError> for Failure {
    fn from(e: RegionError) -> Self {
        Failure::Region(e)
    }
}

pub(super) type Outcome<T> = Result<T, Failure>;

/// Checks a user key (of the transactional API).
pub(super) fn check_key(key: &[u8]) -> Outcome<()> {
    check_key_len(key, key.len())
}

/// Checks a raw key: the user key behind the raw client's one-byte prefix.
fn check_raw_key(key: &[u8]) -> Outcome<()> {
    check_key_len(key, key.len().saturating_sub(1))
}

fn check_key_len(key: &[u8], user_len: usize) -> Outcome<()> {
    if key.is_empty() {
        return Err(Failure::Other("key must not be empty".into()));
    }
    if user_len > MAX_KEY_SIZE {
        return Err(Failure::Other(format!(
            "key of {user_len} bytes exceeds the limit of {MAX_KEY_SIZE} bytes"
        )));
    }
    Ok(())
}

pub(super) fn check_value(value: &[u8]) -> Outcome<()> {
    if value.len() > MAX_VALUE_SIZE {
        return Err(Failure::Other(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_SIZE} bytes",
            value.len()
        )));
    }
    Ok(())
}

fn put(key: Vec<u8>, value: Vec<u8>) -> raft_cmdpb::Request {
    raft_cmdpb::Request {
        cmd: Some(Cmd::Put(raft_cmdpb::PutRequest {
            cf: ColumnFamily::CfDefault as i32,
            key,
            value,
        })),
    }
}

/// The key a mutation writes (a range delete: its start).
fn written_key(r: &raft_cmdpb::Request) -> Option<&[u8]> {
    match r.cmd.as_ref()? {
        Cmd::Put(p) => Some(&p.key),
        Cmd::Delete(d) => Some(&d.key),
        Cmd::DeleteRange(d) => Some(&d.start_key),
    }
}

/// Builds a response from an outcome: `fill` sets the data of a success.
fn respond<R: RawResponse, T>(outcome: Outcome<T>, fill: impl FnOnce(&mut R, T)) -> R {
    let mut resp = R::default();
    match outcome {
        Ok(v) => fill(&mut resp, v),
        Err(Failure::Region(e)) => *resp.region_error_mut() = Some(e),
        Err(Failure::Other(e)) => *resp.error_mut() = e,
        Err(Failure::Txn(e)) => *resp.error_mut() = e.to_string(),
    }
    resp
}

impl<E: Engine> KvService<E> {
    /// A service over the store loop behind `router` (call within a Tokio
    /// runtime: it starts a timestamp batcher).
    pub fn new(
        router: StoreRouter<E>,
        store_id: u64,
        pd: Arc<RpcPdClient>,
        load: Arc<LoadTracker>,
        gc: Arc<GcState>,
        coprocessor: Option<Arc<dyn Coprocessor>>,
    ) -> Self {
        let tso = Arc::new(TsoBatcher::start(pd.clone()));
        KvService {
            router,
            store_id,
            pd,
            load,
            latches: Arc::new(Latches::default()),
            mem_locks: Arc::new(MemLocks::default()),
            tso,
            gc,
            coprocessor,
        }
    }

    pub(super) fn route(
        &self,
        ctx: Option<Context>,
    ) -> Outcome<(u64, protocol::metapb::RegionEpoch)> {
        let ctx = ctx.ok_or_else(|| Failure::Other("request without context".into()))?;
        if let Some(p) = &ctx.peer {
            if p.store_id != 0 && p.store_id != self.store_id {
                return Err(Failure::Region(RegionError {
                    message: format!(
                        "request for store {} reached store {}",
                        p.store_id, self.store_id
                    ),
                    kind: Some(protocol::errorpb::region_error::Kind::StoreNotMatch(
                        protocol::errorpb::StoreNotMatch {
                            request_store_id: p.store_id,
                            actual_store_id: self.store_id,
                        },
                    )),
                }));
            }
        }
        Ok((ctx.region_id, ctx.region_epoch.unwrap_or_default()))
    }

    /// Waits for the store's answer, keeping `guards` (latches, 1PC marks)
    /// alive until the command's fate is known: if the wait times out, a
    /// proposal may still commit later, and the keys it was computed for
    /// stay latched until it applied or failed.
    async fn wait<T: Send + 'static, G: Send + 'static>(
        &self,
        mut rx: oneshot::Receiver<Result<T, RegionError>>,
        guards: G,
    ) -> Outcome<T> {
        match tokio::time::timeout(STORE_WAIT, &mut rx).await {
            Ok(Ok(r)) => r.map_err(Failure::Region),
            Ok(Err(_)) => Err(Failure::Region(region_error::server_is_busy(
                "store is shutting down",
            ))),
            Err(_) => {
                // The store answers or drops every command in the end.
                tokio::spawn(async move {
                    let _ = rx.await;
                    drop(guards);
                });
                Err(Failure::Region(region_error::server_is_busy(
                    "timed out waiting for raft",
                )))
            }
        }
    }

    /// Proposes a client's write and counts its keys as the Region's load.
    async fn write(&self, ctx: Option<Context>, requests: Vec<raft_cmdpb::Request>) -> Outcome<()> {
        let (region_id, epoch) = self.route(ctx)?;
        self.load
            .record_writes(region_id, requests.iter().filter_map(written_key));
        self.propose(region_id, epoch, requests, 0).await
    }

    /// Proposes mutations of a routed Region and waits until they applied;
    /// `gc_safe_point` is set (non-zero) on GC's deletions only.
    pub(super) async fn propose(
        &self,
        region_id: u64,
        epoch: protocol::metapb::RegionEpoch,
        requests: Vec<raft_cmdpb::Request>,
        gc_safe_point: u64,
    ) -> Outcome<()> {
        self.propose_guarded(region_id, epoch, requests, gc_safe_point, ())
            .await
    }

    /// Like [`Self::propose`], keeping `guards` alive until the proposal's
    /// fate is known (see [`Self::wait`]).
    pub(super) async fn propose_guarded<G: Send + 'static>(
        &self,
        region_id: u64,
        epoch: protocol::metapb::RegionEpoch,
        requests: Vec<raft_cmdpb::Request>,
        gc_safe_point: u64,
        guards: G,
    ) -> Outcome<()> {
        let (tx, rx) = oneshot::channel();
        let cmd = WriteCommand {
            region_id,
            epoch,
            requests,
            gc_safe_point,
        };
        if !self.router.send(StoreMsg::Write(cmd, tx)) {
            return Err(Failure::Region(region_error::server_is_busy(
                "store is shutting down",
            )));
        }
        self.wait(rx, guards).await
    }

    /// A linearizable read of a client's keys, counted as the Region's load.
    pub(super) async fn read(
        &self,
        ctx: Option<Context>,
        keys: Vec<Vec<u8>>,
        range: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Outcome<ReadView<E::Snapshot>> {
        let (region_id, epoch) = self.route(ctx)?;
        // A scan counts once, at its start key.
        let scan_start = range.as_ref().map(|r| r.0.as_slice());
        self.load
            .record_reads(region_id, keys.iter().map(Vec::as_slice).chain(scan_start));
        self.snapshot(region_id, epoch, keys, range).await
    }

    /// A view of a routed Region holding every write committed before now.
    pub(super) async fn snapshot(
        &self,
        region_id: u64,
        epoch: protocol::metapb::RegionEpoch,
        keys: Vec<Vec<u8>>,
        range: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Outcome<ReadView<E::Snapshot>> {
        let (tx, rx) = oneshot::channel();
        let cmd = ReadCommand {
            region_id,
            epoch,
            keys,
            range,
        };
        if !self.router.send(StoreMsg::Read(cmd, tx)) {
            return Err(Failure::Region(region_error::server_is_busy(
                "store is shutting down",
            )));
        }
        self.wait(rx, ()).await
    }
}

fn engine_err(e: crate::engine::EngineError) -> Failure {
    Failure::Other(e.to_string())
}

impl<E: Engine> KvService<E> {
    /// Serves one `RawGetRequest`.
    async fn handle_raw_get(&self, req: kvrpcpb::RawGetRequest) -> kvrpcpb::RawGetResponse {
        let _timer = RequestTimer::new("raw_get");
        let outcome = async {
            check_raw_key(&req.key)?;
            let view = self.read(req.context, vec![req.key.clone()], None).await?;
            view.snapshot.get(Cf::Default, &req.key).map_err(engine_err)
        }
        .await;
        respond(outcome, |r: &mut kvrpcpb::RawGetResponse, v| match v {
            Some(v) => r.value = v,
            None => r.not_found = true,
        })
    }

    /// Serves one `RawBatchGetRequest`.
    async fn handle_raw_batch_get(
        &self,
        req: kvrpcpb::RawBatchGetRequest,
    ) -> kvrpcpb::RawBatchGetResponse {
        let _timer = RequestTimer::new("raw_batch_get");
        let outcome = async {
            for k in &req.keys {
                check_raw_key(k)?;
            }
            let view = self.read(req.context, req.keys.clone(), None).await?;
            let mut pairs = Vec::with_capacity(req.keys.len());
            for k in req.keys {
                if let Some(value) = view.snapshot.get(Cf::Default, &k).map_err(engine_err)? {
                    pairs.push(KvPair { key: k, value });
                }
            }
            Ok(pairs)
        }
        .await;
        respond(outcome, |r: &mut kvrpcpb::RawBatchGetResponse, p| {
            r.pairs = p
        })
    }

    /// Serves one `RawPutRequest`.
    async fn handle_raw_put(&self, req: kvrpcpb::RawPutRequest) -> kvrpcpb::RawPutResponse {
        let _timer = RequestTimer::new("raw_put");
        let outcome = async {
            check_raw_key(&req.key)?;
            check_value(&req.value)?;
            self.write(req.context, vec![put(req.key, req.value)]).await
        }
        .await;
        respond(outcome, |_: &mut kvrpcpb::RawPutResponse, ()| {})
    }

    /// Serves one `RawBatchPutRequest`.
    async fn handle_raw_batch_put(
        &self,
        req: kvrpcpb::RawBatchPutRequest,
    ) -> kvrpcpb::RawBatchPutResponse {
        let _timer = RequestTimer::new("raw_batch_put");
        let outcome = async {
            let mut total = 0;
            for p in &req.pairs {
                check_raw_key(&p.key)?;
                check_value(&p.value)?;
                total += p.key.len() + p.value.len();
            }
            if total > MAX_BATCH_BYTES {
                return Err(Failure::Other(format!(
                    "batch of {total} bytes exceeds the limit of {MAX_BATCH_BYTES} bytes"
                )));
            }
            let requests = req.pairs.into_iter().map(|p| put(p.key, p.value)).collect();
            self.write(req.context, requests).await
        }
        .await;
        respond(outcome, |_: &mut kvrpcpb::RawBatchPutResponse, ()| {})
    }

    /// Serves one `RawDeleteRequest`.
    async fn handle_raw_delete(
        &self,
        req: kvrpcpb::RawDeleteRequest,
    ) -> kvrpcpb::RawDeleteResponse {
        let _timer = RequestTimer::new("raw_delete");
        let outcome = async {
            check_raw_key(&req.key)?;
            let del = raft_cmdpb::Request {
                cmd: Some(Cmd::Delete(raft_cmdpb::DeleteRequest {
                    cf: ColumnFamily::CfDefault as i32,
                    key: req.key,
                })),
            };
            self.write(req.context, vec![del]).await
        }
        .await;
        respond(outcome, |_: &mut kvrpcpb::RawDeleteResponse, ()| {})
    }

    /// Serves one `RawDeleteRangeRequest`.
    async fn handle_raw_delete_range(
        &self,
        req: kvrpcpb::RawDeleteRangeRequest,
    ) -> kvrpcpb::RawDeleteRangeResponse {
        let _timer = RequestTimer::new("raw_delete_range");
        let outcome = async {
            if req.start_key.len() > MAX_KEY_SIZE + 1 || req.end_key.len() > MAX_KEY_SIZE + 1 {
                return Err(Failure::Other(
                    "range bound exceeds the key size limit".into(),
                ));
            }
            if !req.end_key.is_empty() && req.start_key >= req.end_key {
                return Ok(());
            }
            let del = raft_cmdpb::Request {
                cmd: Some(Cmd::DeleteRange(raft_cmdpb::DeleteRangeRequest {
                    cf: ColumnFamily::CfDefault as i32,
                    start_key: req.start_key,
                    end_key: req.end_key,
                })),
            };
            self.write(req.context, vec![del]).await
        }
        .await;
        respond(outcome, |_: &mut kvrpcpb::RawDeleteRangeResponse, ()| {})
    }

    /// Serves one `RawScanRequest`.
    async fn handle_raw_scan(&self, req: kvrpcpb::RawScanRequest) -> kvrpcpb::RawScanResponse {
        let _timer = RequestTimer::new("raw_scan");
        let outcome = async {
            if req.start_key.len() > MAX_KEY_SIZE + 1 || req.end_key.len() > MAX_KEY_SIZE + 1 {
                return Err(Failure::Other(
                    "range bound exceeds the key size limit".into(),
                ));
            }
            let range = (req.start_key.clone(), req.end_key.clone());
            let view = self.read(req.context, vec![], Some(range)).await?;
            let end = crate::keys::clamp_end(&req.end_key, &view.region.end_key);
            let limit = if req.limit == 0 {
                usize::MAX
            } else {
                req.limit as usize
            };
            let max_bytes = scan_byte_cap(req.max_bytes);
            let (mut pairs, mut bytes, mut capped) = (Vec::new(), 0, false);
            view.snapshot
                .scan(Cf::Default, &req.start_key, &end, &mut |k, v| {
                    bytes += k.len() + v.len();
                    pairs.push(KvPair {
                        key: k.to_vec(),
                        value: v.to_vec(),
                    });
                    capped = bytes >= max_bytes;
                    !capped && pairs.len() < limit
                })
                .map_err(engine_err)?;
            let more = capped && pairs.len() < limit;
            Ok((pairs, more))
        }
        .await;
        respond(outcome, |r: &mut kvrpcpb::RawScanResponse, (p, more)| {
            r.pairs = p;
            r.more = more;
        })
    }

    /// Serves one `SplitRegionRequest`: the keys are sorted and checked,
    /// then the Region is split at all of them at once.
    async fn handle_split_region(
        &self,
        req: kvrpcpb::SplitRegionRequest,
    ) -> kvrpcpb::SplitRegionResponse {
        let _timer = RequestTimer::new("split_region");
        let outcome = async {
            let (region_id, epoch) = self.route(req.context)?;
            let mut split_keys = req.split_keys;
            if split_keys.is_empty() {
                return Err(Failure::Other("no split key given".into()));
            }
            // Region-space keys: raw (prefixed) or transactional (encoded).
            if let Some(k) = split_keys
                .iter()
                .find(|k| k.is_empty() || k.len() > 2 * MAX_KEY_SIZE)
            {
                return Err(Failure::Other(format!(
                    "split key of {} bytes is empty or too long",
                    k.len()
                )));
            }
            // A key's versions stay together.
            for k in split_keys.iter_mut() {
                let len = crate::mvcc::key::truncate_version(k).len();
                k.truncate(len);
            }
            split_keys.sort();
            split_keys.dedup();
            let region = local_region(&self.router, region_id)
                .await
                .ok_or_else(|| region_error::region_not_found(region_id))?;
            let version = region.region_epoch.as_ref().map(|e| e.version);
            if version != Some(epoch.version) {
                return Err(region_error::epoch_not_match(vec![region]).into());
            }
            // A key where a Region already starts needs no cut.
            split_keys.retain(|k| *k != region.start_key);
            if split_keys.is_empty() {
                return Ok(vec![region]);
            }
            Ok(split_region(&self.pd, &self.router, &region, split_keys).await?)
        }
        .await;
        respond(outcome, |r: &mut kvrpcpb::SplitRegionResponse, regions| {
            r.regions = regions
        })
    }

    /// Serves one request of a batch.
    async fn execute(&self, cmd: Req) -> Resp {
        match cmd {
            Req::RawGet(r) => Resp::RawGet(self.handle_raw_get(r).await),
            Req::RawBatchGet(r) => Resp::RawBatchGet(self.handle_raw_batch_get(r).await),
            Req::RawPut(r) => Resp::RawPut(self.handle_raw_put(r).await),
            Req::RawBatchPut(r) => Resp::RawBatchPut(self.handle_raw_batch_put(r).await),
            Req::RawDelete(r) => Resp::RawDelete(self.handle_raw_delete(r).await),
            Req::RawDeleteRange(r) => Resp::RawDeleteRange(self.handle_raw_delete_range(r).await),
            Req::RawScan(r) => Resp::RawScan(self.handle_raw_scan(r).await),
            Req::SplitRegion(r) => Resp::SplitRegion(self.handle_split_region(r).await),
            Req::KvGet(r) => Resp::KvGet(self.handle_kv_get(r).await),
            Req::KvBatchGet(r) => Resp::KvBatchGet(self.handle_kv_batch_get(r).await),
            Req::KvScan(r) => Resp::KvScan(self.handle_kv_scan(r).await),
            Req::KvPrewrite(r) => Resp::KvPrewrite(self.handle_kv_prewrite(r).await),
            Req::KvCommit(r) => Resp::KvCommit(self.handle_kv_commit(r).await),
            Req::KvBatchRollback(r) => {
                Resp::KvBatchRollback(self.handle_kv_batch_rollback(r).await)
            }
            Req::KvCheckTxnStatus(r) => {
                Resp::KvCheckTxnStatus(self.handle_kv_check_txn_status(r).await)
            }
            Req::KvResolveLock(r) => Resp::KvResolveLock(self.handle_kv_resolve_lock(r).await),
            Req::KvTxnHeartBeat(r) => Resp::KvTxnHeartBeat(self.handle_kv_txn_heart_beat(r).await),
            Req::KvScanLock(r) => Resp::KvScanLock(self.handle_kv_scan_lock(r).await),
            Req::KvCoprocessor(r) => Resp::KvCoprocessor(self.handle_kv_coprocessor(r).await),
            Req::KvCheckSecondaryLocks(r) => {
                Resp::KvCheckSecondaryLocks(self.handle_kv_check_secondary_locks(r).await)
            }
        }
    }
}

#[tonic::async_trait]
impl<E: Engine> Kv for KvService<E> {
    type BatchCommandsStream =
        Pin<Box<dyn Stream<Item = Result<kvrpcpb::BatchCommandsResponse, Status>> + Send>>;

    /// Serves a client's multiplexed stream: every request runs as its own
    /// task; finished responses are sent back in batches, in any order.
    async fn batch_commands(
        &self,
        req: Request<Streaming<kvrpcpb::BatchCommandsRequest>>,
    ) -> Result<Response<Self::BatchCommandsStream>, Status> {
        let mut input = req.into_inner();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(u64, Resp)>();
        let (out_tx, out_rx) = mpsc::channel(64);
        let svc = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(batch)) = input.message().await {
                for (id, r) in batch.request_ids.into_iter().zip(batch.requests) {
                    let Some(cmd) = r.cmd else { continue };
                    let (svc, done_tx) = (svc.clone(), done_tx.clone());
                    tokio::spawn(async move {
                        let _ = done_tx.send((id, svc.execute(cmd).await));
                    });
                }
            }
        });
        tokio::spawn(async move {
            // Answers that arrived meanwhile go out in one stream message,
            // up to a size: an answer that would overflow it waits for the
            // next one.
            let mut carried: Option<(u64, Resp)> = None;
            loop {
                let first = match carried.take() {
                    Some(r) => r,
                    None => match done_rx.recv().await {
                        Some(r) => r,
                        None => return,
                    },
                };
                let mut batch = kvrpcpb::BatchCommandsResponse::default();
                let mut bytes = first.1.encoded_len();
                push_response(&mut batch, first);
                while let Ok(r) = done_rx.try_recv() {
                    let size = r.1.encoded_len();
                    if bytes + size > MAX_STREAM_MESSAGE_BYTES {
                        carried = Some(r);
                        break;
                    }
                    bytes += size;
                    push_response(&mut batch, r);
                }
                if out_tx.send(Ok(batch)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }

    async fn raw_get(
        &self,
        req: Request<kvrpcpb::RawGetRequest>,
    ) -> Result<Response<kvrpcpb::RawGetResponse>, Status> {
        Ok(Response::new(self.handle_raw_get(req.into_inner()).await))
    }

    async fn raw_batch_get(
        &self,
        req: Request<kvrpcpb::RawBatchGetRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchGetResponse>, Status> {
        Ok(Response::new(
            self.handle_raw_batch_get(req.into_inner()).await,
        ))
    }

    async fn raw_put(
        &self,
        req: Request<kvrpcpb::RawPutRequest>,
    ) -> Result<Response<kvrpcpb::RawPutResponse>, Status> {
        Ok(Response::new(self.handle_raw_put(req.into_inner()).await))
    }

    async fn raw_batch_put(
        &self,
        req: Request<kvrpcpb::RawBatchPutRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchPutResponse>, Status> {
        Ok(Response::new(
            self.handle_raw_batch_put(req.into_inner()).await,
        ))
    }

    async fn raw_delete(
        &self,
        req: Request<kvrpcpb::RawDeleteRequest>,
    ) -> Result<Response<kvrpcpb::RawDeleteResponse>, Status> {
        Ok(Response::new(
            self.handle_raw_delete(req.into_inner()).await,
        ))
    }

    async fn raw_delete_range(
        &self,
        req: Request<kvrpcpb::RawDeleteRangeRequest>,
    ) -> Result<Response<kvrpcpb::RawDeleteRangeResponse>, Status> {
        Ok(Response::new(
            self.handle_raw_delete_range(req.into_inner()).await,
        ))
    }

    async fn raw_scan(
        &self,
        req: Request<kvrpcpb::RawScanRequest>,
    ) -> Result<Response<kvrpcpb::RawScanResponse>, Status> {
        Ok(Response::new(self.handle_raw_scan(req.into_inner()).await))
    }

    async fn split_region(
        &self,
        req: Request<kvrpcpb::SplitRegionRequest>,
    ) -> Result<Response<kvrpcpb::SplitRegionResponse>, Status> {
        Ok(Response::new(
            self.handle_split_region(req.into_inner()).await,
        ))
    }
    async fn kv_get(
        &self,
        req: Request<kvrpcpb::KvGetRequest>,
    ) -> Result<Response<kvrpcpb::KvGetResponse>, Status> {
        Ok(Response::new(self.handle_kv_get(req.into_inner()).await))
    }

    async fn kv_batch_get(
        &self,
        req: Request<kvrpcpb::KvBatchGetRequest>,
    ) -> Result<Response<kvrpcpb::KvBatchGetResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_batch_get(req.into_inner()).await,
        ))
    }

    async fn kv_scan(
        &self,
        req: Request<kvrpcpb::KvScanRequest>,
    ) -> Result<Response<kvrpcpb::KvScanResponse>, Status> {
        Ok(Response::new(self.handle_kv_scan(req.into_inner()).await))
    }

    async fn kv_prewrite(
        &self,
        req: Request<kvrpcpb::KvPrewriteRequest>,
    ) -> Result<Response<kvrpcpb::KvPrewriteResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_prewrite(req.into_inner()).await,
        ))
    }

    async fn kv_commit(
        &self,
        req: Request<kvrpcpb::KvCommitRequest>,
    ) -> Result<Response<kvrpcpb::KvCommitResponse>, Status> {
        Ok(Response::new(self.handle_kv_commit(req.into_inner()).await))
    }

    async fn kv_batch_rollback(
        &self,
        req: Request<kvrpcpb::KvBatchRollbackRequest>,
    ) -> Result<Response<kvrpcpb::KvBatchRollbackResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_batch_rollback(req.into_inner()).await,
        ))
    }

    async fn kv_check_txn_status(
        &self,
        req: Request<kvrpcpb::KvCheckTxnStatusRequest>,
    ) -> Result<Response<kvrpcpb::KvCheckTxnStatusResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_check_txn_status(req.into_inner()).await,
        ))
    }

    async fn kv_resolve_lock(
        &self,
        req: Request<kvrpcpb::KvResolveLockRequest>,
    ) -> Result<Response<kvrpcpb::KvResolveLockResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_resolve_lock(req.into_inner()).await,
        ))
    }

    async fn kv_txn_heart_beat(
        &self,
        req: Request<kvrpcpb::KvTxnHeartBeatRequest>,
    ) -> Result<Response<kvrpcpb::KvTxnHeartBeatResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_txn_heart_beat(req.into_inner()).await,
        ))
    }

    async fn kv_scan_lock(
        &self,
        req: Request<kvrpcpb::KvScanLockRequest>,
    ) -> Result<Response<kvrpcpb::KvScanLockResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_scan_lock(req.into_inner()).await,
        ))
    }

    async fn kv_coprocessor(
        &self,
        req: Request<kvrpcpb::KvCoprocessorRequest>,
    ) -> Result<Response<kvrpcpb::KvCoprocessorResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_coprocessor(req.into_inner()).await,
        ))
    }

    async fn kv_check_secondary_locks(
        &self,
        req: Request<kvrpcpb::KvCheckSecondaryLocksRequest>,
    ) -> Result<Response<kvrpcpb::KvCheckSecondaryLocksResponse>, Status> {
        Ok(Response::new(
            self.handle_kv_check_secondary_locks(req.into_inner()).await,
        ))
    }
}
