//! `BatchConn`: one multiplexed `BatchCommands` stream to one store.
//!
//! Callers hand in a request and get a oneshot for its response. A sender
//! task takes whatever requests queued up meanwhile and writes them as one
//! stream message; a receiver task routes responses back by request id.
//! When the stream breaks, every waiting caller gets an error and the
//! connection reports itself dead, so the owner opens a new one.
//!
//! Hot path: one channel send and one oneshot per request; no locks held
//! across an await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use protocol::kvrpcpb::batch_commands_request::{request::Cmd as Req, Request as BatchRequest};
use protocol::kvrpcpb::batch_commands_response::response::Cmd as Resp;
use protocol::kvrpcpb::{kv_client::KvClient, BatchCommandsRequest};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Status;

/// What a caller waits on.
pub type Reply = oneshot::Receiver<Result<Resp, Status>>;

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Resp, Status>>>>>;

/// Most requests in one stream message.
const MAX_BATCH: usize = 256;

/// A multiplexed connection to one store.
pub struct BatchConn {
    tx: mpsc::UnboundedSender<(Req, oneshot::Sender<Result<Resp, Status>>)>,
    alive: Arc<AtomicBool>,
}

impl BatchConn {
    /// Opens the stream over `client` (lazily connected).
    pub fn open(client: KvClient<Channel>) -> BatchConn {
        let (tx, rx) = mpsc::unbounded_channel();
        let alive = Arc::new(AtomicBool::new(true));
        tokio::spawn(run(client, rx, alive.clone()));
        BatchConn { tx, alive }
    }

    /// Whether the stream still works.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Queues a request; the reply resolves with its response or an error.
    pub fn send(&self, req: Req) -> Reply {
        let (cb, reply) = oneshot::channel();
        if let Err(mpsc::error::SendError((_, cb))) = self.tx.send((req, cb)) {
            let _ = cb.send(Err(Status::unavailable("connection closed")));
        }
        reply
    }
}

fn fail_all(waiters: &Waiters, why: &Status) {
    for (_, cb) in waiters.lock().drain() {
        let _ = cb.send(Err(why.clone()));
    }
}

async fn run(
    mut client: KvClient<Channel>,
    mut rx: mpsc::UnboundedReceiver<(Req, oneshot::Sender<Result<Resp, Status>>)>,
    alive: Arc<AtomicBool>,
) {
    let waiters: Waiters = Arc::default();
    let (stream_tx, stream_rx) = mpsc::channel::<BatchCommandsRequest>(64);
    let mut responses = match client.batch_commands(ReceiverStream::new(stream_rx)).await {
        Ok(r) => r.into_inner(),
        Err(status) => {
            alive.store(false, Ordering::Relaxed);
            rx.close();
            while let Ok((_, cb)) = rx.try_recv() {
                let _ = cb.send(Err(status.clone()));
            }
            return;
        }
    };
    let (recv_waiters, recv_alive) = (waiters.clone(), alive.clone());
    tokio::spawn(async move {
        let why = loop {
            match responses.message().await {
                Ok(Some(batch)) => {
                    let mut w = recv_waiters.lock();
                    for (id, r) in batch.request_ids.into_iter().zip(batch.responses) {
                        if let (Some(cb), Some(cmd)) = (w.remove(&id), r.cmd) {
                            let _ = cb.send(Ok(cmd));
                        }
                    }
                }
                Ok(None) => break Status::unavailable("store closed the stream"),
                Err(s) => break s,
            }
        };
        recv_alive.store(false, Ordering::Relaxed);
        fail_all(&recv_waiters, &why);
    });
    let mut next_id: u64 = 0;
    while let Some(first) = rx.recv().await {
        let mut items = vec![first];
        while items.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => items.push(item),
                Err(_) => break,
            }
        }
        let mut batch = BatchCommandsRequest::default();
        {
            let mut w = waiters.lock();
            for (req, cb) in items {
                next_id += 1;
                w.insert(next_id, cb);
                batch.request_ids.push(next_id);
                batch.requests.push(BatchRequest { cmd: Some(req) });
            }
        }
        if stream_tx.send(batch).await.is_err() || !alive.load(Ordering::Relaxed) {
            break;
        }
    }
    // The stream is gone (or the owner dropped us): nobody will answer.
    alive.store(false, Ordering::Relaxed);
    rx.close();
    let why = Status::unavailable("stream to store broke");
    while let Ok((_, cb)) = rx.try_recv() {
        let _ = cb.send(Err(why.clone()));
    }
    fail_all(&waiters, &why);
}
