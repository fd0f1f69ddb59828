//! `Store`: every peer on one store, driven in rounds.
//!
//! The store is sans-IO: the caller feeds it messages, ticks and client
//! commands, then calls [`Store::handle_ready`], which runs one round for all
//! peers and returns an [`Output`] of messages to send and requests finished.
//! The only IO is the engine write, and that goes through the [`Engine`]
//! trait, so the deterministic simulation drives this same code over the
//! in-memory engine.
//!
//! One round (group commit): every peer with work stages its ready (a
//! snapshot to install, committed entries to apply, new entries and hard
//! state) into ONE write batch, which is written with ONE synced write
//! (unsynced when no peer has new entries, a snapshot or a new term or
//! vote: raft-rs's `must_sync`). Messages that need no persistence (a
//! leader's appends) go out at once; those that do, the answers to writes
//! and reads, and raft-rs's own progress (`on_persist_ready`) wait for the
//! write. Entries that commit meanwhile are applied by a later round.
//!
//! The batch need not be written by the caller's thread: a round is
//! [`Store::begin_round`] (a batch to write), then [`Store::write_done`]
//! once it is written. Between them the store keeps stepping messages,
//! taking proposals, ticking and starting rounds for the peers that have
//! no batch in flight: its loop goes on while its log write syncs (an
//! async log writer, with raft-rs's async ready; the peers serve entries
//! staged and not yet written from memory). A peer stays out of new rounds
//! until its batch is written, so its applied state in memory never runs
//! ahead of the engine for its reads. Batches are written in the order
//! they were made, so later ones never go under earlier ones.
//! [`Store::handle_ready`] runs a whole round, writing on the caller's
//! thread (the deterministic simulation does this).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prost::Message as _;
use protocol::metapb;
use protocol::pdpb::ChangePeer;
use protocol::raft_serverpb::{
    PeerState, RaftMessage, RegionLocalState, SnapshotHeader, StoreIdent,
};
use raft::eraftpb::MessageType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::StoreConfig;
use super::msg::{
    Outbox, Output, ReadCommand, ReadView, SplitApplied, SplitCommand, Token, WriteCommand,
};
use super::peer::{Peer, PendingReady};
use super::storage::{clear_data, decode_raft, write_initial_state};
use crate::engine::{Cf, Engine, EngineError, WriteBatch};
use crate::error::{Error, Result};
use crate::keys;
use crate::region_error;

/// All Region peers of one store.
pub struct Store<E: Engine> {
    store_id: u64,
    engine: E,
    cfg: StoreConfig,
    peers: BTreeMap<u64, Peer<E>>,
    rng: ChaCha8Rng,
    outbox: Outbox,
    /// Ticks since the store opened.
    ticks: u64,
    /// Messages for Regions this store cannot create a peer for yet,
    /// because a peer here still covers their range: usually the new
    /// Regions of a split this store has not applied yet. Replayed when a
    /// split creates their peers, dropped after an election timeout.
    deferred: Vec<(u64, RaftMessage)>,
    /// The highest GC safe point this store's replicas applied deletions
    /// for (durable under [`keys::GC_SAFE_POINT_KEY`]); shared with the
    /// handlers, which refuse reads below it.
    gc_safe_point: Arc<AtomicU64>,
    /// Batches handed out and not yet reported written, oldest first.
    in_flight: VecDeque<InFlight>,
    /// Peers with a batch in flight: no new round for them until written.
    busy: HashSet<u64>,
    /// Splits written and waiting for the batches in flight to be written
    /// before their peers start (a batch staged meanwhile may still write
    /// for a Region a split creates): no new round starts meanwhile.
    split_waiting: Vec<SplitApplied>,
    /// Splits whose new peers exist now, for the next output.
    split_done: Vec<SplitApplied>,
}

/// A batch for the engine, made by a round: write it (synced if `sync`),
/// then call [`Store::write_done`]. Batches must be written in the order
/// they are handed out.
pub struct RoundWrite {
    /// The staged changes (may be empty).
    pub wb: WriteBatch,
    /// Whether the write must be synced before what depends on it goes on.
    pub sync: bool,
}

impl RoundWrite {
    /// Writes the batch to `engine`.
    pub fn write_to<E: Engine>(&self, engine: &E) -> std::result::Result<(), EngineError> {
        if self.wb.is_empty() {
            return Ok(());
        }
        engine.write(&self.wb, self.sync)
    }
}

/// Most batches handed out and not yet written: past this
/// [`Store::begin_round`] starts no round (the caller gathers more input).
pub const MAX_WRITES_IN_FLIGHT: usize = 4;

/// A round whose batch is being written, and what waits for it.
struct InFlight {
    /// Every peer that staged something in the batch (kept out of new
    /// rounds, and never destroyed or replaced, until it is written).
    peers: Vec<u64>,
    /// The readies to advance once it is written.
    pending: Vec<(u64, PendingReady)>,
    outbox: Outbox,
}

/// Most messages kept waiting for a split to apply.
const MAX_DEFERRED: usize = 4096;

/// Reads the store's identity from its engine, if it has one.
pub fn load_store_ident<E: Engine>(engine: &E) -> Result<Option<StoreIdent>> {
    match engine.get(Cf::Raft, keys::STORE_IDENT_KEY)? {
        Some(b) => Ok(Some(StoreIdent::decode(b.as_slice())?)),
        None => Ok(None),
    }
}

/// Records the store's identity durably.
pub fn save_store_ident<E: Engine>(engine: &E, ident: &StoreIdent) -> Result<()> {
    let mut wb = WriteBatch::default();
    wb.put(Cf::Raft, keys::STORE_IDENT_KEY, ident.encode_to_vec());
    Ok(engine.write(&wb, true)?)
}

/// The cluster's first Region: the whole key space, one voter on `store_id`.
pub fn first_region(region_id: u64, peer_id: u64, store_id: u64) -> metapb::Region {
    metapb::Region {
        id: region_id,
        start_key: vec![],
        end_key: vec![],
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: 1,
            version: 1,
        }),
        peers: vec![metapb::Peer {
            id: peer_id,
            store_id,
            role: metapb::PeerRole::Voter as i32,
        }],
    }
}

/// Writes the state of the cluster's first Region (or any Region created
/// out of band) so that the next `Store::open` starts a peer for it.
pub fn bootstrap_region<E: Engine>(engine: &E, region: &metapb::Region) -> Result<()> {
    let mut wb = WriteBatch::default();
    write_initial_state(&mut wb, region);
    Ok(engine.write(&wb, true)?)
}

/// The key range of the Region a snapshot message carries, if it is one.
fn snapshot_range(m: &raft::eraftpb::Message) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    if m.get_msg_type() != MessageType::MsgSnapshot {
        return Ok(None);
    }
    let header = SnapshotHeader::decode(m.get_snapshot().get_data())?;
    Ok(header.region.map(|r| (r.start_key, r.end_key)))
}

/// Whether a Raft message may create a peer that does not exist yet: only
/// messages a leader or candidate sends to a member of its group.
fn may_create_peer(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgAppend
            | MessageType::MsgHeartbeat
            | MessageType::MsgSnapshot
            | MessageType::MsgRequestVote
            | MessageType::MsgRequestPreVote
    )
}

impl<E: Engine> Store<E> {
    /// Opens the store: starts a peer for every live Region the engine holds.
    pub fn open(engine: E, store_id: u64, cfg: StoreConfig, seed: u64) -> Result<Self> {
        let mut store = Store {
            store_id,
            engine,
            cfg,
            peers: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            outbox: Outbox::default(),
            ticks: 0,
            deferred: Vec::new(),
            gc_safe_point: Arc::new(AtomicU64::new(0)),
            in_flight: VecDeque::new(),
            busy: HashSet::new(),
            split_waiting: Vec::new(),
            split_done: Vec::new(),
        };
        if let Some(b) = store.engine.get(Cf::Raft, keys::GC_SAFE_POINT_KEY)? {
            let bytes: [u8; 8] = b
                .as_slice()
                .try_into()
                .map_err(|_| Error::Corruption(format!("GC safe point of {} bytes", b.len())))?;
            store
                .gc_safe_point
                .store(u64::from_be_bytes(bytes), Ordering::Release);
        }
        let (start, end) = keys::region_meta_range();
        let mut states = Vec::new();
        store.engine.scan(Cf::Raft, &start, &end, &mut |k, v| {
            if let Some(id) = keys::decode_region_state_key(k) {
                states.push((id, v.to_vec()));
            }
            true
        })?;
        for (id, bytes) in states {
            let state = RegionLocalState::decode(bytes.as_slice())?;
            if state.state == PeerState::Tombstone as i32 {
                continue;
            }
            let region = state
                .region
                .ok_or_else(|| Error::Corruption(format!("region {id}: state without region")))?;
            let Some(me) = region
                .peers
                .iter()
                .find(|p| p.store_id == store_id)
                .cloned()
            else {
                return Err(Error::Corruption(format!(
                    "region {id} has no peer on store {store_id}"
                )));
            };
            store.add_peer(region, me)?;
        }
        Ok(store)
    }

    fn add_peer(&mut self, region: metapb::Region, me: metapb::Peer) -> Result<()> {
        let id = region.id;
        let seed = self.rng.random();
        let peer = Peer::new(self.engine.clone(), region, me, &self.cfg, seed)?;
        self.peers.insert(id, peer);
        Ok(())
    }

    /// This store's id.
    pub fn store_id(&self) -> u64 {
        self.store_id
    }

    /// The store's engine.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The peer of `region_id`, if this store has one.
    pub fn peer(&self, region_id: u64) -> Option<&Peer<E>> {
        self.peers.get(&region_id)
    }

    /// Every peer, by Region id.
    pub fn peers(&self) -> impl Iterator<Item = (&u64, &Peer<E>)> {
        self.peers.iter()
    }

    /// Feeds a Raft message from another store, creating the target peer
    /// when a leader reaches out to a replica this store does not have yet.
    pub fn step(&mut self, msg: RaftMessage) -> Result<()> {
        let Some(to) = msg.to_peer.clone() else {
            return Ok(());
        };
        if to.store_id != self.store_id {
            tracing::warn!(
                store = self.store_id,
                to = to.store_id,
                "raft message for another store dropped"
            );
            return Ok(());
        }
        let region_id = msg.region_id;
        if self.settles_membership(&msg, &to) {
            return Ok(());
        }
        let m: raft::eraftpb::Message = decode_raft(&msg.message)?;
        if let Some(peer_id) = self.peers.get(&region_id).map(|p| p.meta().id) {
            if peer_id != to.id {
                tracing::debug!(
                    region = region_id,
                    "raft message for an older peer id dropped"
                );
                return Ok(());
            }
            if let Some((start, end)) = snapshot_range(&m)? {
                if self.overlaps_other(region_id, &start, &end) {
                    tracing::debug!(
                        region = region_id,
                        "snapshot overlapping another region's peer dropped"
                    );
                    return Ok(());
                }
            }
            return match self.peers.get_mut(&region_id) {
                Some(peer) => peer.step(msg.from_peer, m),
                None => Ok(()),
            };
        }
        self.create_peer_for(msg, m, to)
    }

    /// Creates the peer a leader or candidate reaches out to, unless this
    /// store destroyed that very peer, or a local peer still covers the
    /// range (the message then waits for a split to create the peer).
    fn create_peer_for(
        &mut self,
        msg: RaftMessage,
        m: raft::eraftpb::Message,
        to: metapb::Peer,
    ) -> Result<()> {
        let region_id = msg.region_id;
        if !may_create_peer(m.get_msg_type()) {
            return Ok(());
        }
        // A peer of this Region was destroyed here: only a newer peer
        // (the Region added this store again) may be created, never the
        // destroyed one, whose log is gone.
        if self
            .tombstoned_peer(region_id)?
            .is_some_and(|destroyed| to.id <= destroyed)
        {
            return Ok(());
        }
        if self.overlaps_other(region_id, &msg.start_key, &msg.end_key) {
            tracing::debug!(
                region = region_id,
                "message for a range this store still serves deferred"
            );
            if self.deferred.len() >= MAX_DEFERRED {
                self.deferred.remove(0);
            }
            self.deferred.push((self.ticks, msg));
            return Ok(());
        }
        tracing::info!(
            store = self.store_id,
            region = region_id,
            peer = to.id,
            "creating peer"
        );
        let shell = metapb::Region {
            id: region_id,
            ..Default::default()
        };
        self.add_peer(shell, to)?;
        match self.peers.get_mut(&region_id) {
            Some(peer) => peer.step(msg.from_peer, m),
            None => Ok(()),
        }
    }

    /// Handles what a message says about membership rather than Raft: a
    /// tombstone for a local peer the Region removed, a sender the local
    /// (newer) Region no longer has, or a message for a newer peer id than
    /// the local one (the Region re-added this store). True when the
    /// message needs nothing more.
    fn settles_membership(&mut self, msg: &RaftMessage, to: &metapb::Peer) -> bool {
        let region_id = msg.region_id;
        let Some(peer) = self.peers.get(&region_id) else {
            // A tombstone for a peer this store does not have: done.
            return msg.is_tombstone;
        };
        let conf_ver = |e: Option<&metapb::RegionEpoch>| e.map_or(0, |e| e.conf_ver);
        let mine = conf_ver(peer.region().region_epoch.as_ref());
        let theirs = conf_ver(msg.region_epoch.as_ref());
        if msg.is_tombstone {
            if peer.meta().id == to.id && theirs > mine {
                tracing::info!(
                    region = region_id,
                    "peer no longer in its region, destroying"
                );
                self.mark_removed(region_id);
            }
            return true;
        }
        let from = msg.from_peer.clone().unwrap_or_default();
        let sender_removed = peer.is_initialized()
            && theirs < mine
            && peer.region().peers.iter().all(|p| p.id != from.id);
        if sender_removed {
            // A peer the Region removed is still campaigning or answering:
            // tell it to go.
            let r = peer.region();
            let tombstone = RaftMessage {
                region_id,
                from_peer: Some(peer.meta().clone()),
                to_peer: Some(from),
                region_epoch: r.region_epoch.clone(),
                message: Vec::new(),
                start_key: r.start_key.clone(),
                end_key: r.end_key.clone(),
                is_tombstone: true,
            };
            self.outbox.messages.push(tombstone);
            return true;
        }
        if to.id > peer.meta().id {
            // The Region added this store again under a new peer id: the
            // old peer was removed while away. It goes now; the next
            // message creates the new one.
            tracing::info!(
                region = region_id,
                old = peer.meta().id,
                new = to.id,
                "stale peer replaced"
            );
            self.mark_removed(region_id);
            return true;
        }
        false
    }

    fn mark_removed(&mut self, region_id: u64) {
        if let Some(peer) = self.peers.get_mut(&region_id) {
            peer.mark_removed();
        }
    }

    /// The id of the peer of the Region this store destroyed, if any.
    fn tombstoned_peer(&self, region_id: u64) -> Result<Option<u64>> {
        let Some(b) = self
            .engine
            .get(Cf::Raft, &keys::region_state_key(region_id))?
        else {
            return Ok(None);
        };
        let state = RegionLocalState::decode(b.as_slice())?;
        if state.state != PeerState::Tombstone as i32 {
            return Ok(None);
        }
        Ok(Some(state.removed_peer_id))
    }

    /// Whether an initialized peer of a Region other than `region_id`
    /// covers part of `[start, end)`.
    fn overlaps_other(&self, region_id: u64, start: &[u8], end: &[u8]) -> bool {
        self.peers.iter().any(|(id, p)| {
            if *id == region_id || !p.is_initialized() {
                return false;
            }
            let r = p.region();
            let starts_before_end = end.is_empty() || r.start_key.as_slice() < end;
            let ends_after_start = r.end_key.is_empty() || start < r.end_key.as_slice();
            starts_before_end && ends_after_start
        })
    }

    /// Advances every peer's logical clock by one tick.
    pub fn tick(&mut self) {
        self.ticks += 1;
        for peer in self.peers.values_mut() {
            peer.tick(&mut self.outbox);
        }
        let oldest = self.ticks.saturating_sub(self.cfg.election_ticks as u64);
        self.deferred.retain(|(t, _)| *t >= oldest);
    }

    /// Proposes a write; its completion comes out of a later round.
    pub fn propose_write(&mut self, token: Token, cmd: WriteCommand) {
        match self.peers.get_mut(&cmd.region_id) {
            Some(peer) => peer.propose_write(token, cmd, &mut self.outbox),
            None => self
                .outbox
                .writes
                .push((token, Err(region_error::region_not_found(cmd.region_id)))),
        }
    }

    /// Proposes a split; its completion comes out of a later round, with
    /// the resulting Regions in [`Output::splits`].
    pub fn propose_split(&mut self, token: Token, cmd: SplitCommand) {
        match self.peers.get_mut(&cmd.region_id) {
            Some(peer) => peer.propose_split(token, cmd, &mut self.outbox),
            None => self
                .outbox
                .writes
                .push((token, Err(region_error::region_not_found(cmd.region_id)))),
        }
    }

    /// Requests a linearizable read; the grant comes out of a later round.
    pub fn read(&mut self, token: Token, cmd: ReadCommand) {
        match self.peers.get_mut(&cmd.region_id) {
            Some(peer) => peer.read(token, &cmd, &mut self.outbox),
            None => self
                .outbox
                .reads
                .push((token, Err(region_error::region_not_found(cmd.region_id)))),
        }
    }

    /// Asks the leader of `region_id` to hand leadership to `to`.
    pub fn transfer_leader(&mut self, region_id: u64, to: &metapb::Peer) {
        if let Some(peer) = self.peers.get_mut(&region_id) {
            peer.transfer_leader(to);
        }
    }

    /// Carries out an operator step PD sent for `region_id`.
    pub fn change_peer(&mut self, region_id: u64, change: &ChangePeer) -> Result<()> {
        match self.peers.get_mut(&region_id) {
            Some(peer) => peer.change_peer(change),
            None => Ok(()),
        }
    }

    /// Reports the outcome of sending a snapshot.
    pub fn report_snapshot(&mut self, region_id: u64, to_peer: u64, ok: bool) {
        if let Some(peer) = self.peers.get_mut(&region_id) {
            peer.report_snapshot(to_peer, ok);
        }
    }

    /// Reports that a peer could not be reached.
    pub fn report_unreachable(&mut self, region_id: u64, to_peer: u64) {
        if let Some(peer) = self.peers.get_mut(&region_id) {
            peer.report_unreachable(to_peer);
        }
    }

    /// Runs one round for every peer (see the module docs), writing its
    /// batch on this thread, and returns what the caller must send and
    /// answer. An error means the engine failed and the store must stop.
    pub fn handle_ready(&mut self) -> Result<Output<E::Snapshot>> {
        if let Some(w) = self.begin_round()? {
            w.write_to(&self.engine)?;
            self.write_done()?;
        }
        Ok(self.take_output())
    }

    /// First half of a round (see the module docs): every peer with work
    /// and no batch in flight stages its ready into one batch, which the
    /// caller writes and then reports with [`Store::write_done`]. Messages
    /// that need no persistence go out with the next
    /// [`Store::take_output`]. `None`: nothing to write, or no round now
    /// ([`MAX_WRITES_IN_FLIGHT`] batches are in flight, or split peers wait
    /// for them).
    pub fn begin_round(&mut self) -> Result<Option<RoundWrite>> {
        if !self.split_waiting.is_empty() || self.in_flight.len() >= MAX_WRITES_IN_FLIGHT {
            return Ok(None);
        }
        self.destroy_removed_peers()?;
        let mut wb = WriteBatch::default();
        let mut round = Outbox::default();
        let mut pending = Vec::new();
        let mut staged = Vec::new();
        for (id, peer) in self.peers.iter_mut() {
            if self.busy.contains(id) || !peer.has_ready() {
                continue;
            }
            let mut out = Outbox::default();
            let before = wb.ops().len();
            let ready = peer.collect_ready(&mut out, &mut wb)?;
            if wb.ops().len() > before {
                staged.push(*id);
            }
            match ready {
                Some(p) => {
                    pending.push((*id, p));
                    round.merge(out);
                }
                // Lease reads and log compaction: nothing of theirs waits
                // for the batch (the peer's applies are all written).
                None => self.outbox.merge(out),
            }
        }
        let applied = std::mem::take(&mut round.gc_safe_point);
        self.record_gc_safe_point(applied, &mut wb);
        // A leader's appends need no persistence of its own: send them now.
        self.send_now(&mut round);
        if pending.is_empty() && wb.is_empty() {
            self.outbox.merge(round);
            return Ok(None);
        }
        let sync = pending.iter().any(|(_, p)| p.must_sync());
        let mut peers = staged;
        peers.extend(pending.iter().map(|(id, _)| *id));
        self.busy.extend(peers.iter().copied());
        self.in_flight.push_back(InFlight {
            peers,
            pending,
            outbox: round,
        });
        Ok(Some(RoundWrite { wb, sync }))
    }

    /// The oldest batch handed out is written: its peers send what waited
    /// for persistence, learn it is persisted and may take part in rounds
    /// again; the answers that waited for it, and the splits it applied
    /// (once no batch is in flight), go out with the next
    /// [`Store::take_output`].
    pub fn write_done(&mut self) -> Result<()> {
        let Some(InFlight {
            peers,
            pending,
            mut outbox,
        }) = self.in_flight.pop_front()
        else {
            return Ok(());
        };
        for id in peers {
            self.busy.remove(&id);
        }
        for (id, p) in pending {
            // A peer that applied its own removal is destroyed below;
            // raft-rs must not go on with it (a removed leader has no
            // progress of its own left).
            if let Some(peer) = self.peers.get_mut(&id).filter(|p| !p.is_removed()) {
                peer.advance_ready(p, &mut outbox);
            }
        }
        // A peer whose removal this batch applied goes with it: a restart
        // must not find it a member of a Region that no longer lists it.
        self.destroy_removed_peers()?;
        self.split_waiting.append(&mut outbox.splits);
        self.outbox.merge(outbox);
        if self.in_flight.is_empty() {
            for split in std::mem::take(&mut self.split_waiting) {
                self.create_split_peers(&split)?;
                self.split_done.push(split);
            }
        }
        Ok(())
    }

    /// Moves the messages and PD reports of `round` to the next output.
    fn send_now(&mut self, round: &mut Outbox) {
        self.outbox.messages.append(&mut round.messages);
        self.outbox.snapshots.append(&mut round.snapshots);
        self.outbox.pd_tasks.append(&mut round.pd_tasks);
    }

    /// The highest GC safe point this store applied deletions for, as the
    /// store keeps it current.
    pub fn gc_safe_point(&self) -> Arc<AtomicU64> {
        self.gc_safe_point.clone()
    }

    /// Raises the store's GC safe point to what this round applied, before
    /// the round's writes are visible to reads, and records it with them
    /// (batches are written in order: the last one written holds the
    /// highest).
    fn record_gc_safe_point(&mut self, applied: u64, wb: &mut WriteBatch) {
        if applied > self.gc_safe_point.fetch_max(applied, Ordering::AcqRel) {
            wb.put(
                Cf::Raft,
                keys::GC_SAFE_POINT_KEY,
                applied.to_be_bytes().to_vec(),
            );
        }
    }

    /// Starts the peers of the Regions a split created (their state is
    /// durable by now), replacing any uninitialized peer of theirs, and
    /// replays the messages that waited for them.
    fn create_split_peers(&mut self, split: &SplitApplied) -> Result<()> {
        for id in &split.create {
            let Some(region) = split.regions.iter().find(|r| r.id == *id) else {
                continue;
            };
            let Some(me) = region
                .peers
                .iter()
                .find(|p| p.store_id == self.store_id)
                .cloned()
            else {
                continue;
            };
            if self.peers.get(id).is_some_and(|p| p.is_initialized()) {
                continue;
            }
            self.peers.remove(id);
            self.add_peer(region.clone(), me)?;
            if let Some(peer) = self.peers.get_mut(id) {
                peer.allow_votes_now();
                if split.was_leader {
                    peer.campaign()?;
                }
            }
            let (waiting, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
                .into_iter()
                .partition(|(_, m)| m.region_id == *id);
            self.deferred = rest;
            for (_, m) in waiting {
                self.step(m)?;
            }
        }
        Ok(())
    }

    /// Destroys the peers removed from their Regions that have no batch in
    /// flight, writing their tombstones at once (a message may create a
    /// new peer of the Region right after, and must find them).
    fn destroy_removed_peers(&mut self) -> Result<()> {
        let mut wb = WriteBatch::default();
        let removed: Vec<u64> = self
            .peers
            .iter()
            .filter(|(id, p)| p.is_removed() && !self.busy.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for id in removed {
            let Some(mut peer) = self.peers.remove(&id) else {
                continue;
            };
            tracing::info!(
                store = self.store_id,
                region = id,
                "peer removed from region, destroying"
            );
            peer.abort_all(&mut self.outbox);
            let region = peer.region().clone();
            let state = RegionLocalState {
                region: Some(region.clone()),
                state: PeerState::Tombstone as i32,
                conf_state: Vec::new(),
                removed_peer_id: peer.meta().id,
            };
            wb.put(Cf::Raft, keys::region_state_key(id), state.encode_to_vec());
            wb.delete(Cf::Raft, keys::hard_state_key(id));
            wb.delete(Cf::Raft, keys::apply_state_key(id));
            wb.delete_range(
                Cf::Raft,
                keys::raft_log_key(id, 0),
                keys::raft_log_key(id, u64::MAX),
            );
            // An uninitialized peer holds no data, and its shell Region's
            // empty range would mean the whole key space.
            if peer.is_initialized() {
                clear_data(&mut wb, &region.start_key, &region.end_key);
            }
        }
        if !wb.is_empty() {
            self.engine.write(&wb, false)?;
        }
        Ok(())
    }

    /// Everything ready to go out: messages, PD reports, answers whose
    /// batches are written (reads get a snapshot of the engine now) and
    /// splits whose peers started.
    pub fn take_output(&mut self) -> Output<E::Snapshot> {
        let ob = std::mem::take(&mut self.outbox);
        let snapshot = if ob.reads.iter().any(|(_, r)| r.is_ok()) {
            Some(Arc::new(self.engine.snapshot()))
        } else {
            None
        };
        let reads = ob
            .reads
            .into_iter()
            .map(|(t, r)| {
                let view = r.and_then(|region| match &snapshot {
                    Some(s) => Ok(ReadView {
                        snapshot: s.clone(),
                        region,
                    }),
                    None => Err(region_error::stale_command()),
                });
                (t, view)
            })
            .collect();
        Output {
            messages: ob.messages,
            snapshots: ob.snapshots,
            writes: ob.writes,
            reads,
            pd_tasks: ob.pd_tasks,
            splits: std::mem::take(&mut self.split_done),
        }
    }

    /// Region and leader counts, for store heartbeats.
    pub fn counts(&self) -> (usize, usize) {
        let leaders = self.peers.values().filter(|p| p.is_leader()).count();
        (self.peers.len(), leaders)
    }
}

#[cfg(test)]
mod tests {
    use protocol::metapb::{PeerRole, RegionEpoch};
    use protocol::raft_cmdpb::{request::Cmd, ColumnFamily, PutRequest, Request};

    use super::*;
    use crate::engine::MemEngine;

    /// A store of one single-voter Region, its leader elected.
    fn single_voter_store(engine: &MemEngine) -> Store<MemEngine> {
        let mut store = Store::open(engine.clone(), 1, StoreConfig::default(), 7).unwrap();
        for _ in 0..200 {
            store.tick();
            store.handle_ready().unwrap();
            if store.peer(1).is_some_and(|p| p.is_leader()) {
                return store;
            }
        }
        panic!("no leader");
    }

    #[test]
    fn applied_gc_safe_point_is_shared_and_survives_a_restart() {
        let engine = MemEngine::new();
        let epoch = RegionEpoch {
            conf_ver: 1,
            version: 1,
        };
        let region = metapb::Region {
            id: 1,
            region_epoch: Some(epoch.clone()),
            peers: vec![metapb::Peer {
                id: 2,
                store_id: 1,
                role: PeerRole::Voter as i32,
            }],
            ..Default::default()
        };
        bootstrap_region(&engine, &region).unwrap();
        let mut store = single_voter_store(&engine);
        let applied = store.gc_safe_point();
        assert_eq!(applied.load(Ordering::Acquire), 0);
        let put = Request {
            cmd: Some(Cmd::Put(PutRequest {
                cf: ColumnFamily::CfDefault as i32,
                key: b"rk".to_vec(),
                value: b"v".to_vec(),
            })),
        };
        store.propose_write(
            9,
            WriteCommand {
                region_id: 1,
                epoch,
                requests: vec![put],
                gc_safe_point: 42,
            },
        );
        let mut done = false;
        for _ in 0..50 {
            let out = store.handle_ready().unwrap();
            if let Some((_, r)) = out.writes.iter().find(|(t, _)| *t == 9) {
                assert!(r.is_ok(), "{r:?}");
                done = true;
                break;
            }
            store.tick();
        }
        assert!(done, "the write did not apply");
        assert_eq!(applied.load(Ordering::Acquire), 42);
        drop(store);
        let store = Store::open(engine.clone(), 1, StoreConfig::default(), 7).unwrap();
        assert_eq!(store.gc_safe_point().load(Ordering::Acquire), 42);
    }
}
