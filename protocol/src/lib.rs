//! Strata's wire contract: the `.proto` files under `proto/`, compiled with
//! prost and tonic. Only this crate has `.proto` files.
//!
//! Prost types stop at the edges: stores and PD use `metapb` types as their
//! metadata model (as TiKV does with kvproto), but the SQL layer never sees
//! any type from this crate.

#![allow(clippy::all, missing_docs)]

/// Cluster metadata: Region, Peer, Store, epochs.
pub mod metapb {
    tonic::include_proto!("metapb");
}

/// Typed routing errors.
pub mod errorpb {
    tonic::include_proto!("errorpb");
}

/// The store's client-facing KV API.
pub mod kvrpcpb {
    tonic::include_proto!("kvrpcpb");
}

/// Store-to-store Raft transport and persisted Raft state.
pub mod raft_serverpb {
    tonic::include_proto!("raft_serverpb");
}

/// Commands proposed to a Region's Raft group.
pub mod raft_cmdpb {
    tonic::include_proto!("raft_cmdpb");
}

/// The placement driver's API.
pub mod pdpb {
    tonic::include_proto!("pdpb");
}

/// MVCC records a store keeps on disk (locks and commit records).
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// PD responses: every one carries a [`pdpb::ResponseHeader`] with PD's
/// error, set by PD's service and checked by its client through this trait.
pub trait PdResponse: Default {
    /// The header, if set.
    fn header(&self) -> Option<&pdpb::ResponseHeader>;
    /// Sets the header.
    fn set_header(&mut self, h: pdpb::ResponseHeader);
}

macro_rules! pd_response {
    ($($t:ident),*) => {$(
        impl PdResponse for pdpb::$t {
            fn header(&self) -> Option<&pdpb::ResponseHeader> {
                self.header.as_ref()
            }
            fn set_header(&mut self, h: pdpb::ResponseHeader) {
                self.header = Some(h);
            }
        }
    )*};
}

pd_response!(
    GetClusterInfoResponse,
    AllocIdResponse,
    BootstrapResponse,
    PutStoreResponse,
    GetStoreResponse,
    GetAllStoresResponse,
    StoreHeartbeatResponse,
    RegionHeartbeatResponse,
    GetRegionResponse,
    ScanRegionsResponse,
    TsoResponse,
    AskBatchSplitResponse,
    ReportBatchSplitResponse,
    AdminTransferLeaderResponse,
    DeleteStoreResponse,
    GetOperatorsResponse,
    SetSchedulerResponse,
    GetGcSafePointResponse,
    UpdateServiceSafePointResponse
);

/// Responses of the KV API (raw and transactional). Each carries a
/// routing error (for the client library to handle) and a plain error (for
/// the caller), so both the service and the client treat them through this
/// one trait.
pub trait RawResponse: Default {
    /// The routing error field.
    fn region_error_mut(&mut self) -> &mut Option<errorpb::RegionError>;
    /// The plain error field; empty on success.
    fn error_mut(&mut self) -> &mut String;
}

macro_rules! raw_response {
    ($($t:ty),*) => {$(
        impl RawResponse for $t {
            fn region_error_mut(&mut self) -> &mut Option<errorpb::RegionError> {
                &mut self.region_error
            }
            fn error_mut(&mut self) -> &mut String {
                &mut self.error
            }
        }
    )*};
}

raw_response!(
    kvrpcpb::RawGetResponse,
    kvrpcpb::RawBatchGetResponse,
    kvrpcpb::RawPutResponse,
    kvrpcpb::RawBatchPutResponse,
    kvrpcpb::RawDeleteResponse,
    kvrpcpb::RawDeleteRangeResponse,
    kvrpcpb::RawScanResponse,
    kvrpcpb::SplitRegionResponse,
    kvrpcpb::KvGetResponse,
    kvrpcpb::KvBatchGetResponse,
    kvrpcpb::KvScanResponse,
    kvrpcpb::KvPrewriteResponse,
    kvrpcpb::KvCommitResponse,
    kvrpcpb::KvBatchRollbackResponse,
    kvrpcpb::KvCheckTxnStatusResponse,
    kvrpcpb::KvResolveLockResponse,
    kvrpcpb::KvTxnHeartBeatResponse,
    kvrpcpb::KvScanLockResponse,
    kvrpcpb::KvCoprocessorResponse,
    kvrpcpb::KvCheckSecondaryLocksResponse
);

/// Responses of the transactional KV API: besides the routing and plain
/// errors, each carries the transactional outcome per key.
pub trait TxnResponse: RawResponse {
    /// The per-key errors (locks, conflicts, aborts).
    fn errors_mut(&mut self) -> &mut Vec<kvrpcpb::KeyError>;
}

macro_rules! txn_response {
    ($($t:ty),*) => {$(
        impl TxnResponse for $t {
            fn errors_mut(&mut self) -> &mut Vec<kvrpcpb::KeyError> {
                &mut self.errors
            }
        }
    )*};
}

txn_response!(
    kvrpcpb::KvGetResponse,
    kvrpcpb::KvBatchGetResponse,
    kvrpcpb::KvScanResponse,
    kvrpcpb::KvPrewriteResponse,
    kvrpcpb::KvCommitResponse,
    kvrpcpb::KvBatchRollbackResponse,
    kvrpcpb::KvCheckTxnStatusResponse,
    kvrpcpb::KvResolveLockResponse,
    kvrpcpb::KvTxnHeartBeatResponse,
    kvrpcpb::KvScanLockResponse,
    kvrpcpb::KvCoprocessorResponse,
    kvrpcpb::KvCheckSecondaryLocksResponse
);

/// A request that can travel in a [`kvrpcpb::BatchCommandsRequest`],
/// with its response type.
pub trait BatchCommand: Sized + Send + 'static {
    /// The matching response.
    type Response: RawResponse + Send + 'static;
    /// Wraps the request for a batch.
    fn into_batch(self) -> kvrpcpb::batch_commands_request::request::Cmd;
    /// Unwraps the matching response from a batch; `None` if it is another kind.
    fn from_batch(r: kvrpcpb::batch_commands_response::response::Cmd) -> Option<Self::Response>;
}

macro_rules! batch_command {
    ($($req:ident => $resp:ident, $variant:ident;)*) => {$(
        impl BatchCommand for kvrpcpb::$req {
            type Response = kvrpcpb::$resp;
            fn into_batch(self) -> kvrpcpb::batch_commands_request::request::Cmd {
                kvrpcpb::batch_commands_request::request::Cmd::$variant(self)
            }
            fn from_batch(r: kvrpcpb::batch_commands_response::response::Cmd) -> Option<kvrpcpb::$resp> {
                match r {
                    kvrpcpb::batch_commands_response::response::Cmd::$variant(r) => Some(r),
                    _ => None,
                }
            }
        }
    )*};
}

batch_command! {
    RawGetRequest => RawGetResponse, RawGet;
    RawBatchGetRequest => RawBatchGetResponse, RawBatchGet;
    RawPutRequest => RawPutResponse, RawPut;
    RawBatchPutRequest => RawBatchPutResponse, RawBatchPut;
    RawDeleteRequest => RawDeleteResponse, RawDelete;
    RawDeleteRangeRequest => RawDeleteRangeResponse, RawDeleteRange;
    RawScanRequest => RawScanResponse, RawScan;
    SplitRegionRequest => SplitRegionResponse, SplitRegion;
    KvGetRequest => KvGetResponse, KvGet;
    KvBatchGetRequest => KvBatchGetResponse, KvBatchGet;
    KvScanRequest => KvScanResponse, KvScan;
    KvPrewriteRequest => KvPrewriteResponse, KvPrewrite;
    KvCommitRequest => KvCommitResponse, KvCommit;
    KvBatchRollbackRequest => KvBatchRollbackResponse, KvBatchRollback;
    KvCheckTxnStatusRequest => KvCheckTxnStatusResponse, KvCheckTxnStatus;
    KvResolveLockRequest => KvResolveLockResponse, KvResolveLock;
    KvTxnHeartBeatRequest => KvTxnHeartBeatResponse, KvTxnHeartBeat;
    KvScanLockRequest => KvScanLockResponse, KvScanLock;
    KvCoprocessorRequest => KvCoprocessorResponse, KvCoprocessor;
    KvCheckSecondaryLocksRequest => KvCheckSecondaryLocksResponse, KvCheckSecondaryLocks;
}

/// Accepted connections of a gRPC server, with Nagle's algorithm off.
///
/// tonic applies its `tcp_nodelay` only to listeners it binds itself; ours
/// are bound first (to report errors and port-0 addresses), so without this
/// small responses wait for the peer's delayed ACK (40 ms).
pub fn nodelay_incoming(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt as _;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        if let Ok(c) = &conn {
            let _ = c.set_nodelay(true);
        }
        conn
    })
}
