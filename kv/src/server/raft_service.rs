//! Receives Raft messages and snapshots from other stores.

use protocol::raft_serverpb::{
    raft_transport_server::RaftTransport, Done, RaftMessage, RaftMessageBatch, SnapshotChunk,
};
use raft::eraftpb::Message;
use tonic::{Request, Response, Status, Streaming};

use super::store_loop::{StoreMsg, StoreRouter};
use crate::engine::Engine;
use crate::raftstore::{decode_raft, encode_raft};

/// The `RaftTransport` gRPC service of a store.
pub struct RaftService<E: Engine> {
    router: StoreRouter<E>,
}

impl<E: Engine> RaftService<E> {
    /// A service feeding `router`.
    pub fn new(router: StoreRouter<E>) -> Self {
        RaftService { router }
    }

    fn deliver(&self, m: RaftMessage) -> Result<(), Status> {
        if self.router.send(StoreMsg::Raft(Box::new(m))) {
            Ok(())
        } else {
            Err(Status::unavailable("store is shutting down"))
        }
    }
}

#[tonic::async_trait]
impl<E: Engine> RaftTransport for RaftService<E> {
    async fn raft(
        &self,
        req: Request<Streaming<RaftMessageBatch>>,
    ) -> Result<Response<Done>, Status> {
        let mut stream = req.into_inner();
        while let Some(batch) = stream.message().await? {
            for m in batch.msgs {
                self.deliver(m)?;
            }
        }
        Ok(Response::new(Done {}))
    }

    async fn snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<Done>, Status> {
        let mut stream = req.into_inner();
        let mut header: Option<RaftMessage> = None;
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if header.is_none() {
                header = chunk.message;
            }
            data.extend_from_slice(&chunk.data);
        }
        let mut msg =
            header.ok_or_else(|| Status::invalid_argument("snapshot stream without header"))?;
        let mut m: Message =
            decode_raft(&msg.message).map_err(|e| Status::invalid_argument(e.to_string()))?;
        m.mut_snapshot().data = data.into();
        msg.message = encode_raft(&m);
        self.deliver(msg)?;
        Ok(Response::new(Done {}))
    }
}
