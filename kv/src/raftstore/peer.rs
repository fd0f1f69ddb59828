//! `Peer`: one replica of one Region, a raft-rs `RawNode` plus what the
//! store needs around it — proposals waiting for apply, ReadIndex batches,
//! the apply of committed entries, membership changes and log truncation.
//!
//! Reads: a leader confirms its leadership with a ReadIndex round (one per
//! round of reads, batched) and serves reads once it has applied up to the
//! confirmed commit index. A confirmed round also grants a *lease*: the
//! followers that answered refuse to vote for anyone else for an election
//! timeout (raft-rs's check_quorum), so until `issued + election_ticks -
//! LEASE_MARGIN_TICKS` no other leader can exist, and reads are served at
//! the current commit index without a round. Two rules keep that true: a
//! peer refuses votes for its first election timeout after it starts (a
//! restarted follower has forgotten whom it promised), and any change of
//! term, role or leader drops the lease. A new leader holds reads back
//! until it has committed an entry of its term (raft-rs would drop their
//! ReadIndex, and the client would wait out the read timeout).
//!
//! Everything here is synchronous and deterministic: input arrives through
//! `step`, `tick`, `propose_write`, `read` and `change_peer`; output goes
//! into the round's [`Outbox`] and [`WriteBatch`]. Election jitter comes from
//! a seeded RNG, never from raft-rs's thread RNG (see `reseed_election`).
//!
//! Hot path: `propose_write`, `read` and the apply loop run for every client
//! request. No IO, no allocation per key beyond the command itself, and no
//! logging above debug level belong here.

use std::collections::{HashMap, VecDeque};

use prost::Message as _;
use protocol::errorpb::RegionError;
use protocol::metapb::{self, PeerRole};
use protocol::pdpb::{ChangePeer, ChangePeerType};
use protocol::raft_cmdpb::{
    change_peer_request::ChangeType, request::Cmd, AdminRequest, BatchSplitRequest,
    ChangePeerRequest, ColumnFamily, RaftCmdRequest, SplitRequest,
};
use protocol::raft_serverpb::RaftMessage;
use raft::eraftpb::MessageType;
use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2, Entry, EntryType, Message};
use raft::{ProgressState, RawNode, StateRole};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::StoreConfig;
use super::logger::peer_logger;
use super::msg::{
    Outbox, PdTask, ReadCommand, RegionHeartbeat, SplitApplied, SplitCheck, SplitCommand, Token,
    WriteCommand,
};
use super::storage::{decode_raft, encode_raft, init_split_region, PeerStorage};
use crate::engine::{Cf, Engine, WriteBatch};
use crate::error::Result;
use crate::keys;
use crate::region_error;

/// Ticks of clock drift the lease allows for: the lease ends this many ticks
/// before the followers' promise not to vote does.
const LEASE_MARGIN_TICKS: u64 = 2;

/// Most log entries a leadership transfer's target may lag behind: a
/// leader stops taking proposals while it hands over, so the target must
/// be able to catch up at once.
const MAX_TRANSFER_LAG: u64 = 128;

/// A write waiting for its entry to be applied.
struct Proposal {
    index: u64,
    term: u64,
    token: Token,
}

/// Reads that share one ReadIndex request.
struct ReadBatch {
    id: u64,
    reads: Vec<(Token, u64)>,
    /// The commit index the leader confirmed; reads are served once the
    /// peer has applied up to it.
    index: Option<u64>,
    issued_tick: u64,
}

/// Work left between the two halves of a round (see `Store::begin_round`):
/// what waits for the round's batch to be written.
pub(crate) struct PendingReady {
    /// The ready's number, reported to raft-rs once it is persisted.
    number: u64,
    /// Messages that may go out only after the batch is durable.
    persisted_messages: Vec<Message>,
    /// The last log index the batch appends, if it appends entries.
    appended: Option<u64>,
    must_sync: bool,
}

impl PendingReady {
    /// Whether the round's write must be synced before this ready's
    /// persisted messages go out (new entries, a snapshot, or a new term
    /// or vote); applies and commit-index moves alone need no fsync.
    pub(crate) fn must_sync(&self) -> bool {
        self.must_sync
    }
}

/// One replica of a Region on this store.
pub struct Peer<E: Engine> {
    raw: RawNode<PeerStorage<E>>,
    meta: metapb::Peer,
    peer_cache: HashMap<u64, metapb::Peer>,
    proposals: VecDeque<Proposal>,
    /// Reads collected this round, issued as one ReadIndex request.
    read_queue: Vec<(Token, u64)>,
    /// Since when (tick) the queued reads wait for a new leader to commit
    /// an entry of its term.
    read_queue_since: Option<u64>,
    reads: VecDeque<ReadBatch>,
    /// Reads failed outside a round (leadership lost), reported at the next.
    pending_read_errors: Vec<(Token, RegionError)>,
    next_read_id: u64,
    rng: ChaCha8Rng,
    /// (term, role, leader) after the last raft call: a change means
    /// raft-rs re-randomised its election timeout.
    fingerprint: (u64, StateRole, u64),
    ticks: u64,
    last_pd_heartbeat: Option<u64>,
    heartbeat_due: bool,
    compact_due: Option<u64>,
    removed: bool,
    /// The tick until which this leader may serve reads without a round.
    lease_until: Option<u64>,
    /// The tick before which this peer refuses votes (see `refuses_vote`).
    refuse_votes_until: u64,
    /// The Regions the last split created: a request refused for a stale
    /// epoch learns them too, so the client need not ask PD.
    siblings: Vec<metapb::Region>,
    /// Data written (applied) since the Region was last measured for a split.
    written_bytes: u64,
    written_keys: u64,
    /// Measure the Region at the next check whatever was written (set when
    /// the peer becomes leader: a restart forgets what was written before).
    split_check_due: bool,
    split_check_ticks: u64,
    split_diff_bytes: u64,
    split_diff_keys: u64,
    election_ticks: u64,
    gc_ticks: u64,
    pd_heartbeat_ticks: u64,
    read_timeout_ticks: u64,
    gc_threshold: u64,
    gc_max_lag: u64,
}

fn raft_config(peer_id: u64, applied: u64, cfg: &StoreConfig) -> raft::Config {
    raft::Config {
        id: peer_id,
        election_tick: cfg.election_ticks,
        heartbeat_tick: cfg.heartbeat_ticks,
        applied,
        max_size_per_msg: cfg.max_size_per_msg,
        max_inflight_msgs: cfg.max_inflight_msgs,
        check_quorum: true,
        pre_vote: true,
        ..Default::default()
    }
}

fn cf_of(cf: i32) -> Cf {
    match ColumnFamily::try_from(cf) {
        Ok(ColumnFamily::CfLock) => Cf::Lock,
        Ok(ColumnFamily::CfWrite) => Cf::Write,
        _ => Cf::Default,
    }
}

fn version_of(epoch: Option<&metapb::RegionEpoch>) -> u64 {
    epoch.map(|e| e.version).unwrap_or_default()
}

impl<E: Engine> Peer<E> {
    /// Creates the peer `meta` of `region` over `engine`, loading whatever
    /// state the engine already holds for it.
    pub fn new(
        engine: E,
        region: metapb::Region,
        meta: metapb::Peer,
        cfg: &StoreConfig,
        seed: u64,
    ) -> Result<Self> {
        let storage = PeerStorage::load(engine, region)?;
        let applied = storage.applied_index();
        let logger = peer_logger(storage.region().id, meta.id);
        let raw = RawNode::new(&raft_config(meta.id, applied, cfg), storage, &logger)?;
        let mut peer = Peer {
            fingerprint: (0, StateRole::Follower, 0),
            raw,
            meta,
            peer_cache: HashMap::new(),
            proposals: VecDeque::new(),
            read_queue: Vec::new(),
            read_queue_since: None,
            reads: VecDeque::new(),
            pending_read_errors: Vec::new(),
            next_read_id: 1,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ticks: 0,
            last_pd_heartbeat: None,
            heartbeat_due: false,
            compact_due: None,
            removed: false,
            lease_until: None,
            refuse_votes_until: cfg.election_ticks as u64,
            siblings: Vec::new(),
            written_bytes: 0,
            written_keys: 0,
            split_check_due: false,
            split_check_ticks: cfg.split_check_ticks.max(1),
            split_diff_bytes: cfg.split_check_diff_bytes(),
            split_diff_keys: cfg.split_check_diff_keys(),
            election_ticks: cfg.election_ticks as u64,
            gc_ticks: cfg.raft_log_gc_ticks.max(1),
            pd_heartbeat_ticks: cfg.pd_heartbeat_ticks.max(1),
            read_timeout_ticks: cfg.read_timeout_ticks.max(1),
            gc_threshold: cfg.raft_log_gc_threshold,
            gc_max_lag: cfg.raft_log_gc_max_lag,
        };
        peer.fill_peer_cache();
        peer.after_raft_call();
        // A Region with this peer as its only voter need not wait for an
        // election timeout (the bootstrap Region, a one-replica cluster).
        let r = peer.region();
        let sole_voter = r.peers.len() == 1 && r.peers[0].id == peer.meta.id;
        if sole_voter && peer.is_initialized() {
            peer.raw.campaign()?;
            peer.after_raft_call();
        }
        Ok(peer)
    }

    fn fill_peer_cache(&mut self) {
        for p in self.raw.store().region().peers.clone() {
            self.peer_cache.insert(p.id, p);
        }
    }

    /// The Region as this peer has applied it.
    pub fn region(&self) -> &metapb::Region {
        self.raw.store().region()
    }

    /// This peer's identity.
    pub fn meta(&self) -> &metapb::Peer {
        &self.meta
    }

    /// Whether the peer holds the Region's data yet.
    pub fn is_initialized(&self) -> bool {
        self.raw.store().is_initialized()
    }

    /// Whether the peer is its Region's leader (a removed one no longer
    /// is, whatever raft-rs still believes until it is destroyed).
    pub fn is_leader(&self) -> bool {
        !self.removed && self.raw.raft.state == StateRole::Leader
    }

    /// The current Raft term.
    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    /// The index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.raw.store().applied_index()
    }

    /// The first index still in the Raft log.
    pub fn log_first_index(&self) -> u64 {
        self.raw.store().log_first_index()
    }

    /// The Raft commit index.
    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// Whether the peer was removed from its Region and should be destroyed.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// The leader, when this peer knows it.
    pub fn leader(&self) -> Option<metapb::Peer> {
        let id = self.raw.raft.leader_id;
        if id == raft::INVALID_ID {
            return None;
        }
        self.peer_cache.get(&id).cloned()
    }

    fn not_leader(&self) -> RegionError {
        region_error::not_leader(self.region().id, self.leader())
    }

    /// The Region's current shape (and its split siblings), for a request
    /// routed with a stale epoch.
    fn epoch_error(&self) -> RegionError {
        let mut current = Vec::with_capacity(1 + self.siblings.len());
        current.push(self.region().clone());
        current.extend(self.siblings.iter().cloned());
        region_error::epoch_not_match(current)
    }

    /// Lets a peer vote at once. Only for peers of a Region a split just
    /// created: its Raft group is new, so no earlier incarnation of this
    /// peer can have promised a leader anything.
    pub(crate) fn allow_votes_now(&mut self) {
        self.refuse_votes_until = 0;
    }

    /// Starts an election now (the new Regions of a split on the store
    /// whose parent peer led: the leader is likely to stay put).
    pub(crate) fn campaign(&mut self) -> Result<()> {
        self.raw.campaign()?;
        self.after_raft_call();
        Ok(())
    }

    /// Whether raft-rs has work for a round.
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
            || !self.read_queue.is_empty()
            || !self.pending_read_errors.is_empty()
            || self.compact_due.is_some()
    }

    /// Keeps election jitter deterministic: whenever raft-rs reset itself
    /// (it then drew a timeout from its thread RNG), draw again from ours.
    fn after_raft_call(&mut self) {
        let r = &self.raw.raft;
        let fp = (r.term, r.state, r.leader_id);
        if fp == self.fingerprint {
            return;
        }
        let was_leader = self.fingerprint.1 == StateRole::Leader;
        self.fingerprint = fp;
        self.lease_until = None;
        let et = self.raw.raft.election_timeout();
        let timeout = self.rng.random_range(et..2 * et);
        self.raw.raft.set_randomized_election_timeout(timeout);
        if self.is_leader() {
            self.heartbeat_due = true;
            self.split_check_due = true;
        } else if was_leader {
            // Reads waiting on a ReadIndex of the old term can no longer be
            // confirmed by this peer.
            let err = self.not_leader();
            for batch in std::mem::take(&mut self.reads) {
                for (t, _) in batch.reads {
                    self.pending_read_errors.push((t, err.clone()));
                }
            }
        }
    }

    /// Feeds a Raft message from another peer (`from`, when it says). A
    /// removed peer takes none: it waits to be destroyed (raft-rs would
    /// trip over its own missing progress).
    pub fn step(&mut self, from: Option<metapb::Peer>, m: Message) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        if let Some(from) = from {
            self.peer_cache.entry(from.id).or_insert(from);
        }
        if self.refuses_vote(&m) {
            return Ok(());
        }
        match self.raw.step(m) {
            Ok(()) | Err(raft::Error::StepPeerNotFound) => {}
            Err(e) => tracing::debug!(region = self.region().id, "dropped raft message: {e}"),
        }
        self.after_raft_call();
        Ok(())
    }

    /// A peer that just started may have promised, before it restarted, not
    /// to vote against a leader's lease: it sits out one election timeout.
    fn refuses_vote(&self, m: &Message) -> bool {
        let vote = matches!(
            m.get_msg_type(),
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        );
        let transfer = m.context.as_ref() == raft::CAMPAIGN_TRANSFER;
        vote && !transfer && self.ticks < self.refuse_votes_until
    }

    /// Whether this leader may serve a read at its commit index right now.
    fn lease_valid(&self) -> bool {
        let committed = self.commit_index();
        self.is_leader()
            && self.raw.raft.lead_transferee.is_none()
            && self.lease_until.is_some_and(|t| self.ticks < t)
            && self.raw.raft.raft_log.term(committed).ok() == Some(self.term())
    }

    /// Advances the peer's logical clock by one tick (a removed peer's
    /// Raft no longer runs).
    pub(crate) fn tick(&mut self, outbox: &mut Outbox) {
        self.ticks += 1;
        if self.removed {
            return;
        }
        self.raw.tick();
        self.after_raft_call();
        self.expire_reads(outbox);
        if self.ticks % self.gc_ticks == 0 {
            self.plan_log_gc();
        }
        let hb_due = match self.last_pd_heartbeat {
            None => true,
            Some(t) => self.ticks - t >= self.pd_heartbeat_ticks,
        };
        if self.is_leader() && (hb_due || self.heartbeat_due) {
            self.report_heartbeat(outbox);
        }
        if self.is_leader() && self.ticks % self.split_check_ticks == 0 {
            self.maybe_check_split(outbox);
        }
    }

    /// Asks for the Region to be measured once it took enough writes.
    fn maybe_check_split(&mut self, outbox: &mut Outbox) {
        let due = self.split_check_due
            || self.written_bytes >= self.split_diff_bytes
            || self.written_keys >= self.split_diff_keys;
        if !due || !self.is_initialized() {
            return;
        }
        outbox.pd_tasks.push(PdTask::SplitCheck(SplitCheck {
            region: self.region().clone(),
            written_keys: self.written_keys,
        }));
        self.split_check_due = false;
        self.written_bytes = 0;
        self.written_keys = 0;
    }

    fn report_heartbeat(&mut self, outbox: &mut Outbox) {
        self.last_pd_heartbeat = Some(self.ticks);
        self.heartbeat_due = false;
        let last = self.raw.raft.raft_log.last_index();
        let first = self.log_first_index();
        let pending_peers = self
            .raw
            .raft
            .prs()
            .iter()
            .filter(|(id, pr)| {
                **id != self.meta.id
                    && (pr.state == ProgressState::Snapshot
                        || pr.matched + 1 < first
                        || pr.matched + 1000 < last)
            })
            .filter_map(|(id, _)| self.peer_cache.get(id).cloned())
            .collect();
        outbox
            .pd_tasks
            .push(super::msg::PdTask::RegionHeartbeat(RegionHeartbeat {
                region: self.region().clone(),
                leader: self.meta.clone(),
                pending_peers,
                term: self.term(),
            }));
    }

    /// Decides how far the Raft log can be truncated.
    fn plan_log_gc(&mut self) {
        let applied = self.applied_index();
        let first = self.log_first_index();
        if applied < first + self.gc_threshold {
            return;
        }
        let mut target = applied;
        if self.is_leader() {
            let me = self.meta.id;
            let min_matched = self
                .raw
                .raft
                .prs()
                .iter()
                .filter(|(id, _)| **id != me)
                .map(|(_, pr)| pr.matched)
                .min()
                .unwrap_or(applied);
            // Keep what followers still need, unless one lags so far that a
            // snapshot is cheaper than the log it would pin.
            if applied - min_matched.min(applied) <= self.gc_max_lag {
                target = min_matched.min(applied);
            }
        }
        if target >= first {
            self.compact_due = Some(target);
        }
    }

    fn expire_reads(&mut self, outbox: &mut Outbox) {
        let ticks = self.ticks;
        let timeout = self.read_timeout_ticks;
        if self
            .read_queue_since
            .is_some_and(|since| ticks - since >= timeout)
        {
            self.read_queue_since = None;
            for (t, _) in self.read_queue.drain(..) {
                outbox.reads.push((t, Err(region_error::stale_command())));
            }
        }
        while let Some(b) = self.reads.front() {
            if b.index.is_some() || ticks - b.issued_tick < timeout {
                break;
            }
            let b = self.reads.pop_front().unwrap_or_else(|| unreachable!());
            for (t, _) in b.reads {
                outbox.reads.push((t, Err(region_error::stale_command())));
            }
        }
    }

    fn check_version(&self, version: u64) -> std::result::Result<(), RegionError> {
        if version != version_of(self.region().region_epoch.as_ref()) {
            return Err(self.epoch_error());
        }
        Ok(())
    }

    fn check_key(&self, key: &[u8]) -> std::result::Result<(), RegionError> {
        let r = self.region();
        if keys::in_range(key, &r.start_key, &r.end_key) {
            Ok(())
        } else {
            Err(region_error::key_not_in_region(key, r))
        }
    }

    fn check_write(&self, cmd: &WriteCommand) -> std::result::Result<(), RegionError> {
        if !self.is_leader() {
            return Err(self.not_leader());
        }
        self.check_version(cmd.epoch.version)?;
        for r in &cmd.requests {
            match &r.cmd {
                Some(Cmd::Put(p)) => self.check_key(&p.key)?,
                Some(Cmd::Delete(d)) => self.check_key(&d.key)?,
                // A range may run past the Region: it is clamped when applied.
                Some(Cmd::DeleteRange(d)) => self.check_key(&d.start_key)?,
                None => {}
            }
        }
        Ok(())
    }

    /// Proposes a write; its completion arrives once the entry is applied.
    pub(crate) fn propose_write(&mut self, token: Token, cmd: WriteCommand, outbox: &mut Outbox) {
        if let Err(e) = self.check_write(&cmd) {
            outbox.writes.push((token, Err(e)));
            return;
        }
        let req = RaftCmdRequest {
            region_id: cmd.region_id,
            region_epoch: Some(cmd.epoch),
            requests: cmd.requests,
            admin: None,
            gc_safe_point: cmd.gc_safe_point,
        };
        self.propose_cmd(token, req, outbox);
    }

    /// Whether a split planned against `epoch` at these cuts still fits
    /// the Region: same version and membership (the new peers' ids follow
    /// the peers), cuts strictly increasing and strictly inside the Region.
    fn check_split(
        &self,
        epoch: Option<&metapb::RegionEpoch>,
        cuts: &[SplitRequest],
    ) -> std::result::Result<(), RegionError> {
        let region = self.region();
        let current = region.region_epoch.clone().unwrap_or_default();
        let planned = epoch.cloned().unwrap_or_default();
        if planned.version != current.version || planned.conf_ver != current.conf_ver {
            return Err(self.epoch_error());
        }
        let mut prev: &[u8] = &region.start_key;
        for cut in cuts {
            let key = cut.split_key.as_slice();
            if key <= prev || !keys::in_range(key, &region.start_key, &region.end_key) {
                return Err(region_error::key_not_in_region(key, region));
            }
            if cut.new_peer_ids.len() != region.peers.len() {
                return Err(self.epoch_error());
            }
            prev = key;
        }
        Ok(())
    }

    /// Proposes a split; it completes once applied (see `apply_split`).
    pub(crate) fn propose_split(&mut self, token: Token, cmd: SplitCommand, outbox: &mut Outbox) {
        let cuts: Vec<SplitRequest> = cmd
            .split_keys
            .into_iter()
            .zip(cmd.ids)
            .map(|(split_key, ids)| SplitRequest {
                split_key,
                new_region_id: ids.new_region_id,
                new_peer_ids: ids.new_peer_ids,
            })
            .collect();
        let checked = if !self.is_leader() {
            Err(self.not_leader())
        } else if cuts.is_empty() {
            Err(region_error::key_not_in_region(&[], self.region()))
        } else {
            self.check_split(Some(&cmd.epoch), &cuts)
        };
        if let Err(e) = checked {
            outbox.writes.push((token, Err(e)));
            return;
        }
        let req = RaftCmdRequest {
            region_id: cmd.region_id,
            region_epoch: Some(cmd.epoch),
            requests: vec![],
            admin: Some(AdminRequest {
                change_peers: vec![],
                splits: Some(BatchSplitRequest { requests: cuts }),
            }),
            gc_safe_point: 0,
        };
        self.propose_cmd(token, req, outbox);
    }

    /// Proposes a command and tracks it until its entry applies.
    fn propose_cmd(&mut self, token: Token, req: RaftCmdRequest, outbox: &mut Outbox) {
        let result = self.raw.propose(vec![], req.encode_to_vec());
        self.after_raft_call();
        match result {
            Ok(()) => {
                let index = self.raw.raft.raft_log.last_index();
                // Proposals of an earlier term at or past this index were
                // cut from our log when we lost leadership; as leader now,
                // our log holds every committed entry, so they never will
                // commit. Answering them here keeps the queue sorted by
                // index, which `resolve_proposals` relies on.
                while self.proposals.back().is_some_and(|p| p.index >= index) {
                    if let Some(p) = self.proposals.pop_back() {
                        outbox
                            .writes
                            .push((p.token, Err(region_error::stale_command())));
                    }
                }
                self.proposals.push_back(Proposal {
                    index,
                    term: self.term(),
                    token,
                });
            }
            Err(_) => outbox.writes.push((token, Err(self.not_leader()))),
        }
    }

    /// Queues a linearizable read; it is granted once the peer has applied
    /// everything committed when the leader confirmed its leadership.
    pub(crate) fn read(&mut self, token: Token, cmd: &ReadCommand, outbox: &mut Outbox) {
        let check = || -> std::result::Result<(), RegionError> {
            if !self.is_leader() {
                return Err(self.not_leader());
            }
            self.check_version(cmd.epoch.version)?;
            for k in &cmd.keys {
                self.check_key(k)?;
            }
            // A range may run past the Region: the reader clamps it.
            if let Some((start, _)) = &cmd.range {
                self.check_key(start)?;
            }
            Ok(())
        };
        match check() {
            Ok(()) => self.read_queue.push((token, cmd.epoch.version)),
            Err(e) => outbox.reads.push((token, Err(e))),
        }
    }

    /// Marks the peer for destruction at the end of the round: the Region
    /// no longer has it (its store learned so from a member).
    pub(crate) fn mark_removed(&mut self) {
        self.removed = true;
    }

    /// Hands leadership to `to` (a voter of the Region). The lease ends
    /// first: once the transfer starts, the target may win an election
    /// that the followers' promise does not cover.
    pub fn transfer_leader(&mut self, to: &metapb::Peer) {
        let is_voter = self
            .region()
            .peers
            .iter()
            .any(|p| p.id == to.id && p.role == PeerRole::Voter as i32);
        // Not while a membership change is in flight: the target could be
        // the peer it removes, and would then lead a group without it.
        let conf_change_pending = self.raw.raft.has_pending_conf();
        if !self.is_leader() || to.id == self.meta.id || !is_voter || conf_change_pending {
            return;
        }
        // Not to a peer that is down or far behind: the leader takes no
        // proposals until the transfer ends (an election timeout if the
        // target never answers), and PD repeats a move it still wants, so
        // a move to a dead store would stall the Region until PD notices.
        let last_index = self.raw.raft.raft_log.last_index();
        let ready = self
            .raw
            .raft
            .prs()
            .get(to.id)
            .is_some_and(|p| p.recent_active && p.matched + MAX_TRANSFER_LAG >= last_index);
        if !ready {
            tracing::debug!(
                region = self.region().id,
                to = to.id,
                "leader transfer refused: the target is not active or lags"
            );
            return;
        }
        self.lease_until = None;
        self.raw.transfer_leader(to.id);
        self.after_raft_call();
    }

    /// Carries out one operator step from PD.
    pub fn change_peer(&mut self, change: &ChangePeer) -> Result<()> {
        let Some(target) = change.peer.clone() else {
            return Ok(());
        };
        if !self.is_leader() {
            return Ok(());
        }
        let region = self.region();
        let existing = region
            .peers
            .iter()
            .find(|p| p.id == target.id || p.store_id == target.store_id);
        let (raft_type, change_type) = match ChangePeerType::try_from(change.change_type) {
            Ok(ChangePeerType::AddLearner) if existing.is_none() => {
                (ConfChangeType::AddLearnerNode, ChangeType::AddLearner)
            }
            Ok(ChangePeerType::PromoteLearner)
                if existing
                    .is_some_and(|p| p.id == target.id && p.role == PeerRole::Learner as i32) =>
            {
                (ConfChangeType::AddNode, ChangeType::AddVoter)
            }
            // A leader never removes itself: PD moves the leader first.
            Ok(ChangePeerType::RemovePeer)
                if existing.is_some_and(|p| p.id == target.id) && target.id != self.meta.id =>
            {
                (ConfChangeType::RemoveNode, ChangeType::Remove)
            }
            // Already done, or no longer applicable: PD will re-plan.
            _ => return Ok(()),
        };
        let mut single = ConfChangeSingle::default();
        single.set_change_type(raft_type);
        single.node_id = target.id;
        let mut cc = ConfChangeV2::default();
        cc.set_changes(vec![single].into());
        let ctx = RaftCmdRequest {
            region_id: region.id,
            region_epoch: region.region_epoch.clone(),
            requests: vec![],
            admin: Some(AdminRequest {
                change_peers: vec![ChangePeerRequest {
                    change_type: change_type as i32,
                    peer: Some(target.clone()),
                }],
                splits: None,
            }),
            gc_safe_point: 0,
        };
        self.peer_cache.insert(target.id, target);
        let result = self.raw.propose_conf_change(ctx.encode_to_vec(), cc);
        self.after_raft_call();
        if let Err(e) = result {
            tracing::debug!(region = self.region().id, "conf change not proposed: {e}");
        }
        Ok(())
    }

    /// First half of a round: sends what may go out at once, installs a
    /// snapshot, applies committed entries and stages new entries and hard
    /// state in `wb`. The store then makes `wb` durable.
    pub(crate) fn collect_ready(
        &mut self,
        outbox: &mut Outbox,
        wb: &mut WriteBatch,
    ) -> Result<Option<PendingReady>> {
        self.flush_reads(outbox);
        if let Some(target) = self.compact_due.take() {
            self.raw.mut_store().compact_to(target, wb)?;
        }
        if !self.raw.has_ready() {
            // Lease reads need no round: serve them now.
            self.grant_reads(outbox);
            return Ok(None);
        }
        let mut rd = self.raw.ready();
        // 1. Messages that need no persistence (a leader's appends).
        self.send(rd.take_messages(), outbox);
        // 2. A snapshot from the leader replaces the peer's state.
        if !rd.snapshot().is_empty() {
            self.raw.mut_store().apply_snapshot(rd.snapshot(), wb)?;
            self.fill_peer_cache();
            // Whether these made it into the snapshot cannot be told here.
            let unknown = region_error::server_is_busy("outcome unknown: peer applied a snapshot");
            for p in self.proposals.drain(..) {
                outbox.writes.push((p.token, Err(unknown.clone())));
            }
        }
        // 3. Read indexes the leader confirmed.
        for rs in rd.take_read_states() {
            let id = u64::from_be_bytes(rs.request_ctx.as_slice().try_into().unwrap_or([0; 8]));
            if let Some(b) = self.reads.iter_mut().find(|b| b.id == id) {
                b.index = Some(rs.index);
                let until = b.issued_tick + self.election_ticks.saturating_sub(LEASE_MARGIN_TICKS);
                self.lease_until = Some(self.lease_until.map_or(until, |t| t.max(until)));
            }
        }
        // 4. Committed entries.
        self.apply_entries(rd.take_committed_entries(), outbox, wb)?;
        // 5. New entries and hard state, made durable by the store's write.
        let appended = if rd.entries().is_empty() {
            None
        } else {
            Some(self.raw.mut_store().append(rd.take_entries(), wb))
        };
        if let Some(hs) = rd.hs() {
            self.raw.mut_store().set_hard_state(hs, wb);
        }
        // 6. raft-rs goes on (it may take messages and proposals, and hand
        // out entries from storage) while the batch is written.
        let pending = PendingReady {
            number: rd.number(),
            persisted_messages: rd.take_persisted_messages(),
            appended,
            must_sync: rd.must_sync(),
        };
        self.raw.advance_append_async(rd);
        self.after_raft_call();
        Ok(Some(pending))
    }

    /// Second half of a round, after its batch is written: sends messages
    /// that waited for persistence, tells raft-rs the ready is persisted
    /// (which may commit entries, applied by a later round) and how far
    /// this peer applied, and grants the reads that waited for it.
    pub(crate) fn advance_ready(&mut self, pending: PendingReady, outbox: &mut Outbox) {
        let PendingReady {
            number,
            persisted_messages,
            appended,
            must_sync: _,
        } = pending;
        if let Some(index) = appended {
            self.raw.mut_store().on_appended(index);
        }
        // 7. Messages that depend on the entries and hard state just persisted.
        self.send(persisted_messages, outbox);
        // 8. raft-rs learns what is persisted and applied.
        self.raw.on_persist_ready(number);
        let applied = self.applied_index();
        self.raw.advance_apply_to(applied);
        self.after_raft_call();
        self.grant_reads(outbox);
        if self.is_leader() && self.heartbeat_due {
            self.report_heartbeat(outbox);
        }
    }

    fn flush_reads(&mut self, outbox: &mut Outbox) {
        for (t, e) in self.pending_read_errors.drain(..) {
            outbox.reads.push((t, Err(e)));
        }
        if self.read_queue.is_empty() {
            return;
        }
        let reads = std::mem::take(&mut self.read_queue);
        let waiting_since = self.read_queue_since.take();
        if !self.is_leader() {
            let err = self.not_leader();
            outbox
                .reads
                .extend(reads.into_iter().map(|(t, _)| (t, Err(err.clone()))));
            return;
        }
        if self.lease_valid() {
            let index = Some(self.commit_index());
            self.reads.push_back(ReadBatch {
                id: 0,
                reads,
                index,
                issued_tick: self.ticks,
            });
            return;
        }
        // raft-rs silently drops the ReadIndex of a leader that has not yet
        // committed an entry of its term: such reads wait for that (a new
        // leader's empty entry commits within a round trip).
        if !self.raw.raft.commit_to_current_term() {
            self.read_queue = reads;
            self.read_queue_since = Some(waiting_since.unwrap_or(self.ticks));
            return;
        }
        let id = self.next_read_id;
        self.next_read_id += 1;
        self.raw.read_index(id.to_be_bytes().to_vec());
        self.after_raft_call();
        self.reads.push_back(ReadBatch {
            id,
            reads,
            index: None,
            issued_tick: self.ticks,
        });
    }

    fn grant_reads(&mut self, outbox: &mut Outbox) {
        let applied = self.applied_index();
        while let Some(b) = self.reads.front() {
            match b.index {
                Some(i) if i <= applied => {}
                _ => break,
            }
            let b = self.reads.pop_front().unwrap_or_else(|| unreachable!());
            let region = self.region();
            let version = version_of(region.region_epoch.as_ref());
            for (t, v) in b.reads {
                let r = if v == version {
                    Ok(region.clone())
                } else {
                    Err(self.epoch_error())
                };
                outbox.reads.push((t, r));
            }
        }
    }

    fn send(&self, msgs: Vec<Message>, outbox: &mut Outbox) {
        let region = self.region();
        for m in msgs {
            let Some(to) = self.peer_cache.get(&m.to) else {
                tracing::debug!(
                    region = region.id,
                    to = m.to,
                    "no route to peer, message dropped"
                );
                continue;
            };
            let is_snapshot = m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
            let msg = RaftMessage {
                region_id: region.id,
                from_peer: Some(self.meta.clone()),
                to_peer: Some(to.clone()),
                region_epoch: region.region_epoch.clone(),
                message: encode_raft(&m),
                start_key: region.start_key.clone(),
                end_key: region.end_key.clone(),
                is_tombstone: false,
            };
            if is_snapshot {
                outbox.snapshots.push(msg);
            } else {
                outbox.messages.push(msg);
            }
        }
    }

    fn apply_entries(
        &mut self,
        entries: Vec<Entry>,
        outbox: &mut Outbox,
        wb: &mut WriteBatch,
    ) -> Result<()> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let last_index = last.index;
        for e in entries {
            let result = match e.get_entry_type() {
                EntryType::EntryNormal if e.data.is_empty() => Ok(()),
                EntryType::EntryNormal => self.apply_command(&e, outbox, wb)?,
                EntryType::EntryConfChangeV2 => self.apply_conf_change(&e, wb)?,
                EntryType::EntryConfChange => {
                    // Never proposed by Strata; raft-rs would only replay ours as V2.
                    Ok(())
                }
            };
            self.resolve_proposals(e.index, e.term, result, outbox);
        }
        self.raw.mut_store().set_applied(last_index, wb);
        Ok(())
    }

    fn resolve_proposals(
        &mut self,
        index: u64,
        term: u64,
        result: std::result::Result<(), RegionError>,
        outbox: &mut Outbox,
    ) {
        while let Some(p) = self.proposals.front() {
            if p.index > index {
                break;
            }
            let p = self.proposals.pop_front().unwrap_or_else(|| unreachable!());
            let r = if p.index == index && p.term == term {
                result.clone()
            } else {
                // Another leader's entry took this index: ours never committed.
                Err(region_error::stale_command())
            };
            outbox.writes.push((p.token, r));
        }
    }

    fn apply_command(
        &mut self,
        e: &Entry,
        outbox: &mut Outbox,
        wb: &mut WriteBatch,
    ) -> Result<std::result::Result<(), RegionError>> {
        let cmd = RaftCmdRequest::decode(e.data.as_ref())?;
        if let Some(splits) = cmd.admin.as_ref().and_then(|a| a.splits.as_ref()) {
            let token = self
                .proposals
                .front()
                .filter(|p| p.index == e.index && p.term == e.term)
                .map(|p| p.token);
            return self.apply_split(token, cmd.region_epoch.as_ref(), splits, outbox, wb);
        }
        if let Err(err) = self.check_version(version_of(cmd.region_epoch.as_ref())) {
            return Ok(Err(err));
        }
        for r in &cmd.requests {
            let checked = match &r.cmd {
                Some(Cmd::Put(p)) => self.check_key(&p.key),
                Some(Cmd::Delete(d)) => self.check_key(&d.key),
                Some(Cmd::DeleteRange(d)) => self.check_key(&d.start_key),
                None => Ok(()),
            };
            if let Err(err) = checked {
                return Ok(Err(err));
            }
        }
        let region_end = self.region().end_key.clone();
        for r in cmd.requests {
            match r.cmd {
                Some(Cmd::Put(p)) => {
                    self.written_bytes += (p.key.len() + p.value.len()) as u64;
                    self.written_keys += 1;
                    wb.put(cf_of(p.cf), p.key, p.value)
                }
                Some(Cmd::Delete(d)) => wb.delete(cf_of(d.cf), d.key),
                Some(Cmd::DeleteRange(d)) => {
                    let end = keys::clamp_end(&d.end_key, &region_end);
                    wb.delete_range(cf_of(d.cf), d.start_key, keys::data_end(&end));
                }
                None => {}
            }
        }
        outbox.gc_safe_point = outbox.gc_safe_point.max(cmd.gc_safe_point);
        Ok(Ok(()))
    }

    /// Applies a split on this replica: the parent keeps the left-most
    /// part, each cut starts a new Region on the same stores, and every
    /// resulting Region's version grows by the number of cuts. The new
    /// Regions' state goes into the same batch as the parent's, so the
    /// split is atomic; the store creates their peers after the round.
    fn apply_split(
        &mut self,
        token: Option<Token>,
        epoch: Option<&metapb::RegionEpoch>,
        splits: &BatchSplitRequest,
        outbox: &mut Outbox,
        wb: &mut WriteBatch,
    ) -> Result<std::result::Result<(), RegionError>> {
        let cuts = &splits.requests;
        if cuts.is_empty() {
            return Ok(Ok(()));
        }
        if let Err(e) = self.check_split(epoch, cuts) {
            return Ok(Err(e));
        }
        let parent = self.region().clone();
        let mut epoch = parent.region_epoch.clone().unwrap_or_default();
        epoch.version += cuts.len() as u64;
        let mut regions = Vec::with_capacity(cuts.len() + 1);
        regions.push(metapb::Region {
            end_key: cuts[0].split_key.clone(),
            region_epoch: Some(epoch.clone()),
            ..parent.clone()
        });
        let mut create = Vec::new();
        for (i, cut) in cuts.iter().enumerate() {
            let end_key = cuts
                .get(i + 1)
                .map(|c| c.split_key.clone())
                .unwrap_or_else(|| parent.end_key.clone());
            let peers = parent
                .peers
                .iter()
                .zip(&cut.new_peer_ids)
                .map(|(p, id)| metapb::Peer {
                    id: *id,
                    ..p.clone()
                })
                .collect();
            let region = metapb::Region {
                id: cut.new_region_id,
                start_key: cut.split_key.clone(),
                end_key,
                region_epoch: Some(epoch.clone()),
                peers,
            };
            if init_split_region(self.raw.store().engine(), &region, wb)? {
                create.push(region.id);
            }
            regions.push(region);
        }
        let cs = self.raw.store().conf_state().clone();
        self.raw.mut_store().set_region(regions[0].clone(), cs, wb);
        self.siblings = regions[1..].to_vec();
        self.written_bytes = 0;
        self.written_keys = 0;
        self.heartbeat_due = true;
        tracing::info!(
            region = parent.id,
            keys = ?cuts.iter().map(|c| keys::fmt_key(&c.split_key)).collect::<Vec<_>>(),
            new = ?cuts.iter().map(|c| c.new_region_id).collect::<Vec<_>>(),
            "region split"
        );
        let was_leader = self.is_leader();
        if was_leader {
            outbox.pd_tasks.push(PdTask::ReportSplit(regions.clone()));
        }
        outbox.splits.push(SplitApplied {
            token,
            regions,
            create,
            was_leader,
        });
        Ok(Ok(()))
    }

    fn apply_conf_change(
        &mut self,
        e: &Entry,
        wb: &mut WriteBatch,
    ) -> Result<std::result::Result<(), RegionError>> {
        let cc: ConfChangeV2 = decode_raft(&e.data)?;
        let mut region = self.region().clone();
        let changes = if e.context.is_empty() {
            // raft-rs's own "leave joint" entry: membership roles are unchanged.
            Vec::new()
        } else {
            let ctx = RaftCmdRequest::decode(e.context.as_ref())?;
            let epoch = region.region_epoch.clone().unwrap_or_default();
            let proposed = ctx.region_epoch.unwrap_or_default();
            if proposed.conf_ver != epoch.conf_ver {
                tracing::warn!(region = region.id, "stale conf change skipped");
                return Ok(Err(self.epoch_error()));
            }
            ctx.admin.map(|a| a.change_peers).unwrap_or_default()
        };
        let cs = self.raw.apply_conf_change(&cc)?;
        self.after_raft_call();
        for change in changes {
            let Some(peer) = change.peer else { continue };
            region.peers.retain(|p| p.id != peer.id);
            match ChangeType::try_from(change.change_type) {
                Ok(ChangeType::AddLearner) => region.peers.push(metapb::Peer {
                    role: PeerRole::Learner as i32,
                    ..peer.clone()
                }),
                Ok(ChangeType::AddVoter) => region.peers.push(metapb::Peer {
                    role: PeerRole::Voter as i32,
                    ..peer.clone()
                }),
                Ok(ChangeType::Remove) | Err(_) => {
                    if peer.id == self.meta.id {
                        self.removed = true;
                    }
                }
            }
            self.peer_cache.insert(peer.id, peer);
        }
        if let Some(epoch) = region.region_epoch.as_mut() {
            epoch.conf_ver += 1;
        }
        tracing::info!(region = region.id, peers = ?region.peers.iter().map(|p| (p.id, p.store_id, p.role)).collect::<Vec<_>>(), "membership changed");
        self.raw.mut_store().set_region(region, cs, wb);
        self.heartbeat_due = true;
        Ok(Ok(()))
    }

    /// Reports to raft-rs whether a snapshot reached `to_peer`.
    pub fn report_snapshot(&mut self, to_peer: u64, ok: bool) {
        let status = if ok {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        self.raw.report_snapshot(to_peer, status);
    }

    /// Reports to raft-rs that `to_peer` could not be reached.
    pub fn report_unreachable(&mut self, to_peer: u64) {
        self.raw.report_unreachable(to_peer);
    }

    /// Fails every waiting request (the peer is being destroyed).
    pub(crate) fn abort_all(&mut self, outbox: &mut Outbox) {
        let unknown = region_error::server_is_busy("outcome unknown: peer destroyed");
        for p in self.proposals.drain(..) {
            outbox.writes.push((p.token, Err(unknown.clone())));
        }
        let err = region_error::region_not_found(self.region().id);
        for (t, _) in self.read_queue.drain(..) {
            outbox.reads.push((t, Err(err.clone())));
        }
        for b in self.reads.drain(..) {
            for (t, _) in b.reads {
                outbox.reads.push((t, Err(err.clone())));
            }
        }
    }
}
