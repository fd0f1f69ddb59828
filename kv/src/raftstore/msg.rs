//! What goes into and comes out of the sans-IO [`Store`](super::Store).

use std::sync::Arc;

use protocol::errorpb::RegionError;
use protocol::metapb;
use protocol::pdpb;
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
    /// For GC's deletions, the safe point they were computed at (else 0).
    pub gc_safe_point: u64,
}

/// A split of one Region, with the ids PD handed out for it.
#[derive(Debug, Clone)]
pub struct SplitCommand {
    /// The Region to split.
    pub region_id: u64,
    /// The epoch the split was planned against (version and conf_ver must
    /// both still match when it applies: the ids depend on the peers).
    pub epoch: metapb::RegionEpoch,
    /// Where to cut, sorted, each strictly inside the Region.
    pub split_keys: Vec<Vec<u8>>,
    /// For each cut, the new Region's id and its peers' ids.
    pub ids: Vec<pdpb::SplitId>,
}

/// A split a peer of this store applied.
#[derive(Debug, Clone)]
pub struct SplitApplied {
    /// The token of the proposal, when this store proposed it.
    pub token: Option<Token>,
    /// The parent (left-most) Region and the new ones, in key order.
    pub regions: Vec<metapb::Region>,
    /// Ids of the new Regions this store must create a peer for (a Region
    /// whose peer here was already created or destroyed is left out).
    pub create: Vec<u64>,
    /// Whether the parent's peer here was the leader: its new peers then
    /// campaign at once instead of waiting for an election timeout.
    pub was_leader: bool,
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
    /// The leader applied a split: report the new layout to PD.
    ReportSplit(Vec<metapb::Region>),
    /// The Region took enough writes since its last check that it may have
    /// outgrown the split limits: measure it and split it if so.
    SplitCheck(SplitCheck),
}

/// A request to measure a Region for a split.
#[derive(Debug, Clone)]
pub struct SplitCheck {
    /// The Region as the leader sees it.
    pub region: metapb::Region,
    /// Keys written since the last check (a hint for the key limit).
    pub written_keys: u64,
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
    /// Splits applied this round (their new peers exist by now).
    pub splits: Vec<SplitApplied>,
}

impl<S> Default for Output<S> {
    fn default() -> Self {
        Output {
            messages: Vec::new(),
            snapshots: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            pd_tasks: Vec::new(),
            splits: Vec::new(),
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
            && self.splits.is_empty()
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
    pub splits: Vec<SplitApplied>,
    /// The highest GC safe point among the commands applied this round.
    pub gc_safe_point: u64,
}

impl Outbox {
    /// Moves everything of `other` in here.
    pub fn merge(&mut self, mut other: Outbox) {
        self.messages.append(&mut other.messages);
        self.snapshots.append(&mut other.snapshots);
        self.writes.append(&mut other.writes);
        self.reads.append(&mut other.reads);
        self.pd_tasks.append(&mut other.pd_tasks);
        self.splits.append(&mut other.splits);
        self.gc_safe_point = self.gc_safe_point.max(other.gc_safe_point);
    }
}
