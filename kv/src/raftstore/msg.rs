//! What goes into and comes out of the sans-IO [`Store`](super::Store).

use std::sync::Arc;

use protocol::errorpb::RegionError;
use protocol::metapb;
use protocol::raft_cmdpb;
use protocol::raft_serverpb::RaftMessage;

/// Identifies a caller's request; echoed in the matching completion.
pub type Token = u64;

/// Data mutations for one Region, proposed through Raft as one entry.
#[derive(Debug, Clone)]
pub struct WriteCommand {
    /// The Region the client routed to.
    pub region_id: u64,
    /// The epoch the client routed with.
    pub epoch: metapb::RegionEpoch,
    /// The mutations, applied atomically in order.
    pub requests: Vec<raft_cmdpb::Request>,
}

/// A linearizable read of one Region: keys to check against its range.
#[derive(Debug, Clone)]
pub struct ReadCommand {
    /// The Region the client routed to.
    pub region_id: u64,
    /// The epoch the client routed with.
    pub epoch: metapb::RegionEpoch,
    /// Point keys the read touches.
    pub keys: Vec<Vec<u8>>,
    /// A key range `[start, end)` the read touches (empty end = Region end).
    pub range: Option<(Vec<u8>, Vec<u8>)>,
}

/// Permission to read a Region: a view of the engine that holds every write
/// committed before the read was requested.
pub struct ReadView<S> {
    /// The engine snapshot to read from.
    pub snapshot: Arc<S>,
    /// The Region as of the snapshot (reads clamp scans to its range).
    pub region: metapb::Region,
}

/// A leader's report of its Region for PD.
#[derive(Debug, Clone)]
pub struct RegionHeartbeat {
    /// The Region's shape and peers.
    pub region: metapb::Region,
    /// The reporting leader.
    pub leader: metapb::Peer,
    /// Peers far behind the leader's log.
    pub pending_peers: Vec<metapb::Peer>,
    /// The leader's term.
    pub term: u64,
}

/// Work for the store's PD worker.
#[derive(Debug, Clone)]
pub enum PdTask {
    /// Send a Region heartbeat.
    RegionHeartbeat(RegionHeartbeat),
}

/// Everything a round of the store produced, for the IO layer to carry out
/// after the round's write batch is durable.
pub struct Output<S> {
    /// Raft messages to send to other stores.
    pub messages: Vec<RaftMessage>,
    /// Raft snapshot messages (large: sent in chunks on their own stream).
    pub snapshots: Vec<RaftMessage>,
    /// Finished writes.
    pub writes: Vec<(Token, Result<(), RegionError>)>,
    /// Finished reads.
    pub reads: Vec<(Token, Result<ReadView<S>, RegionError>)>,
    /// Reports for PD.
    pub pd_tasks: Vec<PdTask>,
}

impl<S> Default for Output<S> {
    fn default() -> Self {
        Output {
            messages: Vec::new(),
            snapshots: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            pd_tasks: Vec::new(),
        }
    }
}

impl<S> Output<S> {
    /// Whether the round produced nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.snapshots.is_empty()
            && self.writes.is_empty()
            && self.reads.is_empty()
            && self.pd_tasks.is_empty()
    }
}

/// What peers produce during a round, before the store takes snapshots.
#[derive(Default)]
pub(crate) struct Outbox {
    pub messages: Vec<RaftMessage>,
    pub snapshots: Vec<RaftMessage>,
    pub writes: Vec<(Token, Result<(), RegionError>)>,
    /// Reads whose ReadIndex is applied, with the Region to read.
    pub reads: Vec<(Token, Result<metapb::Region, RegionError>)>,
    pub pd_tasks: Vec<PdTask>,
}
