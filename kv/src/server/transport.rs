//! Sends Raft messages to other stores over gRPC.
//!
//! One connection task per target store keeps a client-streaming `Raft` RPC
//! open and writes batches of whatever messages queued up meanwhile.
//! Snapshots go on their own `Snapshot` stream, in chunks, one task each.
//! Messages that cannot be delivered are dropped (Raft retransmits) and
//! reported to the store loop as unreachable peers.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use protocol::raft_serverpb::{
    raft_transport_client::RaftTransportClient, RaftMessage, RaftMessageBatch, SnapshotChunk,
};
use raft::eraftpb::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::store_loop::{Sinks, StoreMsg, StoreRouter};
use crate::engine::Engine;
use crate::pd_client::{channel, PdClient, RpcPdClient};
use crate::raftstore::{decode_raft, encode_raft, PdTask};

/// Bytes of snapshot data per chunk.
const SNAPSHOT_CHUNK: usize = 1 << 20;
/// Most messages per batch on the wire.
const MAX_BATCH: usize = 512;

/// Store addresses, resolved through PD and cached.
#[derive(Clone)]
pub struct Resolver {
    pd: Arc<RpcPdClient>,
    cache: Arc<Mutex<HashMap<u64, Channel>>>,
}

impl Resolver {
    /// A resolver asking `pd`.
    pub fn new(pd: Arc<RpcPdClient>) -> Self {
        Resolver {
            pd,
            cache: Arc::default(),
        }
    }

    async fn client(&self, store_id: u64) -> crate::Result<RaftTransportClient<Channel>> {
        if let Some(ch) = self.cache.lock().get(&store_id).cloned() {
            return Ok(client(ch));
        }
        let store = self.pd.get_store(store_id).await?;
        let ch = channel(&store.address, Duration::from_secs(60))?;
        self.cache.lock().insert(store_id, ch.clone());
        Ok(client(ch))
    }

    fn forget(&self, store_id: u64) {
        self.cache.lock().remove(&store_id);
    }
}

fn client(ch: Channel) -> RaftTransportClient<Channel> {
    RaftTransportClient::new(ch)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// The store loop's output sinks: the Raft transport and the PD worker.
pub struct NodeSinks<E: Engine> {
    rt: tokio::runtime::Handle,
    resolver: Resolver,
    router: StoreRouter<E>,
    conns: HashMap<u64, mpsc::UnboundedSender<RaftMessage>>,
    pd_tx: mpsc::UnboundedSender<PdTask>,
}

impl<E: Engine> NodeSinks<E> {
    /// Sinks that spawn their connection tasks on `rt`.
    pub fn new(
        rt: tokio::runtime::Handle,
        resolver: Resolver,
        router: StoreRouter<E>,
        pd_tx: mpsc::UnboundedSender<PdTask>,
    ) -> Self {
        NodeSinks {
            rt,
            resolver,
            router,
            conns: HashMap::new(),
            pd_tx,
        }
    }

    fn conn(&mut self, store_id: u64) -> &mpsc::UnboundedSender<RaftMessage> {
        let entry = self.conns.entry(store_id).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let (resolver, router) = (self.resolver.clone(), self.router.clone());
            self.rt
                .spawn(connection_loop(store_id, rx, resolver, router));
            tx
        });
        entry
    }
}

fn report_unreachable<E: Engine>(router: &StoreRouter<E>, msgs: &[RaftMessage]) {
    let targets: BTreeSet<(u64, u64)> = msgs
        .iter()
        .filter_map(|m| m.to_peer.as_ref().map(|p| (m.region_id, p.id)))
        .collect();
    for (region_id, to_peer) in targets {
        router.send(StoreMsg::Unreachable { region_id, to_peer });
    }
}

async fn connection_loop<E: Engine>(
    store_id: u64,
    mut inbox: mpsc::UnboundedReceiver<RaftMessage>,
    resolver: Resolver,
    router: StoreRouter<E>,
) {
    let mut carry: Option<RaftMessage> = None;
    loop {
        let first = match carry.take() {
            Some(m) => m,
            None => match inbox.recv().await {
                Some(m) => m,
                None => return,
            },
        };
        let mut client = match resolver.client(store_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(store = store_id, "cannot resolve store: {e}");
                let mut dropped = vec![first];
                while let Ok(m) = inbox.try_recv() {
                    dropped.push(m);
                }
                report_unreachable(&router, &dropped);
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        let (tx, rx) = mpsc::channel::<RaftMessageBatch>(64);
        let call = tokio::spawn(async move { client.raft(ReceiverStream::new(rx)).await });
        let mut next = Some(first);
        loop {
            let m = match next.take() {
                Some(m) => m,
                None => match inbox.recv().await {
                    Some(m) => m,
                    None => {
                        call.abort();
                        return;
                    }
                },
            };
            let mut msgs = vec![m];
            while msgs.len() < MAX_BATCH {
                match inbox.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            if let Err(mpsc::error::SendError(batch)) = tx.send(RaftMessageBatch { msgs }).await {
                report_unreachable(&router, &batch.msgs);
                break;
            }
        }
        // The stream broke: find out why, forget the address, back off.
        if let Ok(Err(e)) = call.await {
            tracing::debug!(
                store = store_id,
                "raft stream to store ended: {}",
                e.message()
            );
        }
        resolver.forget(store_id);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn send_snapshot<E: Engine>(resolver: Resolver, msg: RaftMessage, router: StoreRouter<E>) {
    let region_id = msg.region_id;
    let to = msg.to_peer.clone().unwrap_or_default();
    let ok = match try_send_snapshot(&resolver, msg).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                region = region_id,
                store = to.store_id,
                "sending snapshot failed: {e}"
            );
            resolver.forget(to.store_id);
            false
        }
    };
    router.send(StoreMsg::SnapshotStatus {
        region_id,
        to_peer: to.id,
        ok,
    });
}

async fn try_send_snapshot(resolver: &Resolver, mut msg: RaftMessage) -> crate::Result<()> {
    let store_id = msg.to_peer.as_ref().map(|p| p.store_id).unwrap_or_default();
    let mut m: Message = decode_raft(&msg.message)?;
    let data = std::mem::take(&mut m.mut_snapshot().data);
    msg.message = encode_raft(&m);
    let mut chunks = Vec::with_capacity(data.len() / SNAPSHOT_CHUNK + 1);
    chunks.push(SnapshotChunk {
        message: Some(msg),
        data: Vec::new(),
    });
    for piece in data.chunks(SNAPSHOT_CHUNK) {
        chunks.push(SnapshotChunk {
            message: None,
            data: piece.to_vec(),
        });
    }
    let mut client = resolver.client(store_id).await?;
    client
        .snapshot(tokio_stream::iter(chunks))
        .await
        .map_err(|s| crate::Error::Remote(s.message().to_string()))?;
    Ok(())
}

impl<E: Engine> Sinks for NodeSinks<E> {
    fn send_messages(&mut self, msgs: Vec<RaftMessage>, snapshots: Vec<RaftMessage>) {
        for m in msgs {
            let store_id = m.to_peer.as_ref().map(|p| p.store_id).unwrap_or_default();
            if let Err(mpsc::error::SendError(m)) = self.conn(store_id).send(m) {
                self.conns.remove(&store_id);
                report_unreachable(&self.router, &[m]);
            }
        }
        for s in snapshots {
            self.rt
                .spawn(send_snapshot(self.resolver.clone(), s, self.router.clone()));
        }
    }

    fn pd_tasks(&mut self, tasks: Vec<PdTask>) {
        for t in tasks {
            let _ = self.pd_tx.send(t);
        }
    }
}
