//! The store loop: the one thread that owns a [`Store`] and drives it.
//!
//! It takes messages from a channel, ticks on a timer, starts a round
//! (`Store::begin_round`) per batch of input, and hands the output to the
//! transport, the PD worker and the waiting gRPC handlers. Batching the
//! input is what makes group commit work: everything that arrived while
//! the last fsync ran goes into the next round's single write.
//!
//! The loop writes a round's batch itself, after sending the messages that
//! need no persistence (a leader's appends: the followers persist them
//! meanwhile). With the async log writer (`NodeConfig::async_log_writer`)
//! the batches go to a writer thread instead, which writes them in order
//! and reports each back through the loop's own channel
//! ([`StoreMsg::Written`]); the loop then finishes that round
//! (`Store::write_done`), and meanwhile keeps stepping Raft messages,
//! taking proposals and starting rounds for other Regions, up to
//! [`MAX_WRITES_IN_FLIGHT`](crate::raftstore::MAX_WRITES_IN_FLIGHT) batches ahead. That pays off when fsyncs are
//! slow next to the loop's own work; on a small machine with fast fsyncs
//! the thread handoffs cost more than they save (docs/benchmarks.md).
//!
//! Hot path: one iteration per batch of input; no per-request logging
//! above debug, no blocking on the engine.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use protocol::errorpb::RegionError;
use protocol::metapb;
use protocol::pdpb::ChangePeer;
use protocol::raft_serverpb::RaftMessage;
use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::metrics::{self, StoreCounts};
use crate::raftstore::{
    Output, PdTask, ReadCommand, ReadView, RoundWrite, SplitCommand, Store, Token, WriteCommand,
};

/// The answer to a write.
pub type WriteResult = Result<(), RegionError>;
/// The answer to a read: a view to read from, or a routing error.
pub type ReadResult<S> = Result<ReadView<S>, RegionError>;
/// The answer to a split: the Regions that now cover the parent, in key order.
pub type SplitResult = Result<Vec<metapb::Region>, RegionError>;

/// Input of the store loop.
pub enum StoreMsg<E: Engine> {
    /// A Raft message from another store.
    Raft(Box<RaftMessage>),
    /// A client write.
    Write(WriteCommand, oneshot::Sender<WriteResult>),
    /// A client read.
    Read(ReadCommand, oneshot::Sender<ReadResult<E::Snapshot>>),
    /// A split, with ids from PD.
    Split(SplitCommand, oneshot::Sender<SplitResult>),
    /// The Region of this id as this store's peer sees it, if it has one.
    QueryRegion(u64, oneshot::Sender<Option<metapb::Region>>),
    /// The Regions this store's peers lead.
    LeaderRegions(oneshot::Sender<Vec<metapb::Region>>),
    /// An operator step from PD.
    ChangePeer(u64, ChangePeer),
    /// PD asks the Region's leader to hand leadership to this peer.
    TransferLeader(u64, metapb::Peer),
    /// Whether a snapshot reached a peer.
    SnapshotStatus {
        region_id: u64,
        to_peer: u64,
        ok: bool,
    },
    /// A peer could not be reached.
    Unreachable { region_id: u64, to_peer: u64 },
    /// The writer wrote the oldest batch handed to it (or failed: the store
    /// must stop).
    Written(Result<(), crate::engine::EngineError>),
    /// Stop the loop.
    Stop,
}

/// Where the loop's output goes.
pub trait Sinks: Send + 'static {
    /// Sends Raft messages to other stores.
    fn send_messages(&mut self, msgs: Vec<RaftMessage>, snapshots: Vec<RaftMessage>);
    /// Hands work to the PD worker.
    fn pd_tasks(&mut self, tasks: Vec<PdTask>);
}

/// Most messages taken from the channel for one round.
const MAX_BATCH: usize = 4096;

/// Starts the thread that writes the store's batches in order, reporting
/// each to the loop through `to_loop`. It stops when its sender is dropped.
fn start_writer<E: Engine>(
    engine: E,
    store_id: u64,
    to_loop: Sender<StoreMsg<E>>,
) -> crate::Result<Sender<RoundWrite>> {
    let (tx, rx) = std::sync::mpsc::channel::<RoundWrite>();
    let write_seconds = metrics::STORE_WRITE_SECONDS.with_label_values(&[&store_id.to_string()]);
    std::thread::Builder::new()
        .name(format!("store-{store_id}-writer"))
        .spawn(move || {
            for w in rx {
                let started = Instant::now();
                let r = w.write_to(&engine);
                write_seconds.observe(started.elapsed().as_secs_f64());
                let failed = r.is_err();
                if to_loop.send(StoreMsg::Written(r)).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| crate::Error::Thread(format!("cannot start the writer: {e}")))?;
    Ok(tx)
}

/// The handlers waiting for the loop's answers, by token.
struct Waiting<S> {
    writes: HashMap<Token, oneshot::Sender<WriteResult>>,
    reads: HashMap<Token, oneshot::Sender<ReadResult<S>>>,
    splits: HashMap<Token, oneshot::Sender<SplitResult>>,
}

impl<S> Default for Waiting<S> {
    fn default() -> Self {
        Waiting {
            writes: HashMap::new(),
            reads: HashMap::new(),
            splits: HashMap::new(),
        }
    }
}

impl<S> Waiting<S> {
    /// Hands `out` to the sinks and the waiting handlers.
    fn deliver<K: Sinks>(&mut self, out: Output<S>, sinks: &mut K) {
        if !out.messages.is_empty() || !out.snapshots.is_empty() {
            sinks.send_messages(out.messages, out.snapshots);
        }
        if !out.pd_tasks.is_empty() {
            sinks.pd_tasks(out.pd_tasks);
        }
        let mut applied: HashMap<Token, Vec<metapb::Region>> = out
            .splits
            .into_iter()
            .filter_map(|s| Some((s.token?, s.regions)))
            .collect();
        for (t, r) in out.writes {
            if let Some(cb) = self.writes.remove(&t) {
                let _ = cb.send(r);
            } else if let Some(cb) = self.splits.remove(&t) {
                let _ = cb.send(r.map(|()| applied.remove(&t).unwrap_or_default()));
            }
        }
        for (t, r) in out.reads {
            if let Some(cb) = self.reads.remove(&t) {
                let _ = cb.send(r);
            }
        }
    }
}

/// Runs the loop until `Stop`. With `async_writer`, a writer thread
/// writes the rounds' batches, reporting through `to_self` (a sender of
/// the loop's own channel); otherwise the loop writes each itself.
/// Returns an error when the engine failed (the store must not go on).
pub fn run<E: Engine, K: Sinks>(
    mut store: Store<E>,
    rx: Receiver<StoreMsg<E>>,
    to_self: Sender<StoreMsg<E>>,
    async_writer: bool,
    mut sinks: K,
    tick: Duration,
    counts: StoreCounts,
) -> crate::Result<()> {
    let mut answers = Waiting::default();
    let mut next_token: Token = 1;
    let mut next_tick = Instant::now() + tick;
    let writer = if async_writer {
        Some(start_writer(
            store.engine().clone(),
            store.store_id(),
            to_self,
        )?)
    } else {
        None
    };
    let round_seconds =
        metrics::STORE_ROUND_SECONDS.with_label_values(&[&store.store_id().to_string()]);
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let mut batch: Vec<StoreMsg<E>> = first.into_iter().collect();
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        for msg in batch {
            match msg {
                StoreMsg::Raft(m) => {
                    if let Err(e) = store.step(*m) {
                        tracing::warn!("bad raft message dropped: {e}");
                    }
                }
                StoreMsg::Write(cmd, cb) => {
                    let t = next_token;
                    next_token += 1;
                    answers.writes.insert(t, cb);
                    store.propose_write(t, cmd);
                }
                StoreMsg::Read(cmd, cb) => {
                    let t = next_token;
                    next_token += 1;
                    answers.reads.insert(t, cb);
                    store.read(t, cmd);
                }
                StoreMsg::Split(cmd, cb) => {
                    let t = next_token;
                    next_token += 1;
                    answers.splits.insert(t, cb);
                    store.propose_split(t, cmd);
                }
                StoreMsg::QueryRegion(region_id, cb) => {
                    let _ = cb.send(store.peer(region_id).map(|p| p.region().clone()));
                }
                StoreMsg::LeaderRegions(cb) => {
                    let regions = store
                        .peers()
                        .filter(|(_, p)| p.is_leader())
                        .map(|(_, p)| p.region().clone())
                        .collect();
                    let _ = cb.send(regions);
                }
                StoreMsg::ChangePeer(region_id, change) => {
                    if let Err(e) = store.change_peer(region_id, &change) {
                        tracing::warn!(region = region_id, "operator step failed: {e}");
                    }
                }
                StoreMsg::TransferLeader(region_id, to) => store.transfer_leader(region_id, &to),
                StoreMsg::SnapshotStatus {
                    region_id,
                    to_peer,
                    ok,
                } => store.report_snapshot(region_id, to_peer, ok),
                StoreMsg::Unreachable { region_id, to_peer } => {
                    store.report_unreachable(region_id, to_peer)
                }
                StoreMsg::Written(r) => {
                    r?;
                    store.write_done()?;
                }
                StoreMsg::Stop => return Ok(()),
            }
        }
        // Ticks follow the wall clock: after a stall the loop catches up on
        // every missed tick before it serves a read, so a leader's lease
        // (counted in ticks) never outlives the followers' election timers.
        let now = Instant::now();
        while now >= next_tick {
            store.tick();
            next_tick += tick;
        }
        let round = Instant::now();
        if let Some(w) = store.begin_round()? {
            match &writer {
                Some(writer) => {
                    if writer.send(w).is_err() {
                        return Err(crate::Error::Thread("the writer stopped".into()));
                    }
                }
                None => {
                    // A leader's appends go out before its own write, so
                    // the followers persist them meanwhile.
                    answers.deliver(store.take_output(), &mut sinks);
                    w.write_to(store.engine())?;
                    store.write_done()?;
                }
            }
            round_seconds.observe(round.elapsed().as_secs_f64());
        }
        answers.deliver(store.take_output(), &mut sinks);
        let (regions, leaders) = store.counts();
        counts.regions.set(regions as i64);
        counts.leaders.set(leaders as i64);
    }
}

/// A cloneable handle to send input to the store loop.
pub struct StoreRouter<E: Engine> {
    tx: Sender<StoreMsg<E>>,
}

impl<E: Engine> Clone for StoreRouter<E> {
    fn clone(&self) -> Self {
        StoreRouter {
            tx: self.tx.clone(),
        }
    }
}

impl<E: Engine> StoreRouter<E> {
    /// A router over the loop's channel.
    pub fn new(tx: Sender<StoreMsg<E>>) -> Self {
        StoreRouter { tx }
    }

    /// Sends input to the loop; `false` if the loop has stopped.
    pub fn send(&self, msg: StoreMsg<E>) -> bool {
        self.tx.send(msg).is_ok()
    }
}
