//! `PeerStorage`: one peer's Raft log and state on the store's engine,
//! implementing raft-rs's [`raft::Storage`].
//!
//! Writes never go to the engine directly: `append`, `apply_snapshot` and
//! `compact_to` add to the store's round [`WriteBatch`] and update the
//! in-memory view only once `on_persisted` says the batch is durable. raft-rs
//! keeps unpersisted entries in its own unstable log until `advance`, so it
//! never asks this storage for them.

use prost::Message as _;
use protocol::metapb;
use protocol::raft_serverpb::{
    PeerState, RaftApplyState, RegionLocalState, SnapshotData, SnapshotEntry,
};
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::engine::{Cf, Engine, Snapshot as _, WriteBatch};
use crate::error::{Error, Result};
use crate::keys;

/// The log index a bootstrapped Region starts at. Peers created later start
/// empty at index 0, so the leader must send them a snapshot first.
pub const RAFT_INIT_LOG_INDEX: u64 = 5;
/// The term of the bootstrap position.
pub const RAFT_INIT_LOG_TERM: u64 = 5;

/// One peer's Raft storage.
pub struct PeerStorage<E: Engine> {
    engine: E,
    region: metapb::Region,
    hard_state: HardState,
    conf_state: ConfState,
    apply_state: RaftApplyState,
    /// The log's tail as raft-rs sees it: entries staged in a batch count
    /// from the moment they are staged.
    last_index: u64,
    last_term: u64,
    /// Entries staged in a batch that is not written yet, in index order:
    /// raft-rs takes them as stable once handed over and may ask for them
    /// before the write lands (the store's writer runs on its own thread).
    unpersisted: Vec<Entry>,
    /// Whether the peer holds the Region's data (false until the first
    /// snapshot reaches a newly created peer).
    initialized: bool,
}

fn decode_pb<M: protobuf::Message>(bytes: &[u8]) -> Result<M> {
    let mut m = M::new();
    m.merge_from_bytes(bytes)?;
    Ok(m)
}

fn encode_pb<M: protobuf::Message>(m: &M) -> Vec<u8> {
    // Encoding an in-memory message into a Vec cannot fail.
    m.write_to_bytes().unwrap_or_default()
}

/// Decodes a raft-rs message from its wire bytes.
pub fn decode_raft<M: protobuf::Message>(bytes: &[u8]) -> Result<M> {
    decode_pb(bytes)
}

/// Encodes a raft-rs message with raft's codec.
pub fn encode_raft<M: protobuf::Message>(m: &M) -> Vec<u8> {
    encode_pb(m)
}

/// The `ConfState` that makes a Region's peers a Raft configuration.
pub fn conf_state_of(region: &metapb::Region) -> ConfState {
    let mut cs = ConfState::default();
    for p in &region.peers {
        if p.role == metapb::PeerRole::Learner as i32 {
            cs.learners.push(p.id);
        } else {
            cs.voters.push(p.id);
        }
    }
    cs
}

/// Writes the state of a freshly bootstrapped Region into `wb`: the log
/// starts at [`RAFT_INIT_LOG_INDEX`] and the given peers form the group.
pub fn write_initial_state(wb: &mut WriteBatch, region: &metapb::Region) {
    let state = RegionLocalState {
        region: Some(region.clone()),
        state: 0,
        conf_state: encode_pb(&conf_state_of(region)),
        removed_peer_id: 0,
    };
    wb.put(
        Cf::Raft,
        keys::region_state_key(region.id),
        state.encode_to_vec(),
    );
    let apply = RaftApplyState {
        applied_index: RAFT_INIT_LOG_INDEX,
        truncated_index: RAFT_INIT_LOG_INDEX,
        truncated_term: RAFT_INIT_LOG_TERM,
    };
    wb.put(
        Cf::Raft,
        keys::apply_state_key(region.id),
        apply.encode_to_vec(),
    );
    let mut hs = HardState::default();
    hs.term = RAFT_INIT_LOG_TERM;
    hs.commit = RAFT_INIT_LOG_INDEX;
    wb.put(Cf::Raft, keys::hard_state_key(region.id), encode_pb(&hs));
}

/// Stages the initial state of a Region a split creates on this store.
/// Returns false, staging nothing, when the store already holds state of
/// its own for that Region: a snapshot of it arrived first, or its peer
/// here was created and destroyed since. A peer of it that exists only
/// uninitialized may have voted already: its term and vote are kept, so
/// no term goes backwards.
pub fn init_split_region<E: Engine>(
    engine: &E,
    region: &metapb::Region,
    wb: &mut WriteBatch,
) -> Result<bool> {
    if engine
        .get(Cf::Raft, &keys::region_state_key(region.id))?
        .is_some()
    {
        return Ok(false);
    }
    write_initial_state(wb, region);
    if let Some(b) = engine.get(Cf::Raft, &keys::hard_state_key(region.id))? {
        let old: HardState = decode_pb(&b)?;
        if old.term > RAFT_INIT_LOG_TERM {
            let mut hs = HardState::default();
            hs.term = old.term;
            hs.vote = old.vote;
            hs.commit = RAFT_INIT_LOG_INDEX;
            wb.put(Cf::Raft, keys::hard_state_key(region.id), encode_pb(&hs));
        }
    }
    Ok(true)
}

/// Writes a Region's shape and Raft membership.
pub fn write_region_state(wb: &mut WriteBatch, region: &metapb::Region, cs: &ConfState) {
    let state = RegionLocalState {
        region: Some(region.clone()),
        state: 0,
        conf_state: encode_pb(cs),
        removed_peer_id: 0,
    };
    wb.put(
        Cf::Raft,
        keys::region_state_key(region.id),
        state.encode_to_vec(),
    );
}

impl<E: Engine> PeerStorage<E> {
    /// Loads a peer's storage from the engine; a Region with no persisted
    /// state (or only the tombstone of an earlier peer) yields an
    /// uninitialized storage for `region` (an empty shape).
    pub fn load(engine: E, region: metapb::Region) -> Result<Self> {
        let id = region.id;
        let state = match engine.get(Cf::Raft, &keys::region_state_key(id))? {
            Some(b) => Some(RegionLocalState::decode(b.as_slice())?),
            None => None,
        };
        let live = state.filter(|st| st.state != PeerState::Tombstone as i32);
        let (region, conf_state, initialized) = match live {
            Some(st) => {
                let r = st.region.ok_or_else(|| {
                    Error::Corruption(format!("region {id}: state without region"))
                })?;
                (r, decode_pb::<ConfState>(&st.conf_state)?, true)
            }
            None => (region, ConfState::default(), false),
        };
        let hard_state = match engine.get(Cf::Raft, &keys::hard_state_key(id))? {
            Some(b) => decode_pb::<HardState>(&b)?,
            None => HardState::default(),
        };
        let apply_state = match engine.get(Cf::Raft, &keys::apply_state_key(id))? {
            Some(b) => RaftApplyState::decode(b.as_slice())?,
            None => RaftApplyState::default(),
        };
        let mut s = PeerStorage {
            engine,
            region,
            hard_state,
            conf_state,
            apply_state,
            last_index: 0,
            last_term: 0,
            unpersisted: Vec::new(),
            initialized,
        };
        s.last_index = s.apply_state.truncated_index;
        s.last_term = s.apply_state.truncated_term;
        let (start, end) = (keys::raft_log_key(id, 0), keys::raft_log_key(id, u64::MAX));
        let mut last: Option<Vec<u8>> = None;
        s.engine.scan(Cf::Raft, &start, &end, &mut |_, v| {
            last = Some(v.to_vec());
            true
        })?;
        if let Some(b) = last {
            let e: Entry = decode_pb(&b)?;
            if e.index > s.last_index {
                s.last_index = e.index;
                s.last_term = e.term;
            }
        }
        // Applied entries were committed, even if the commit index that
        // said so was in a later, lost, unsynced write.
        s.hard_state.commit = s.hard_state.commit.max(s.apply_state.applied_index);
        if s.hard_state.commit > s.last_index {
            return Err(Error::Corruption(format!(
                "region {id}: commit index {} beyond last log index {}",
                s.hard_state.commit, s.last_index
            )));
        }
        Ok(s)
    }

    /// The Region as this peer last applied it.
    pub fn region(&self) -> &metapb::Region {
        &self.region
    }

    /// Whether the peer holds the Region's data.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// The Raft membership as last applied.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// The store's engine.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.apply_state.applied_index
    }

    /// The first index still in the log.
    pub fn log_first_index(&self) -> u64 {
        self.apply_state.truncated_index + 1
    }

    /// Adds `entries` (possibly replacing a conflicting suffix) to `wb`;
    /// they are part of the log at once, served from memory until
    /// [`PeerStorage::on_appended`] says the batch is written. Returns the
    /// new last index.
    pub fn append(&mut self, mut entries: Vec<Entry>, wb: &mut WriteBatch) -> u64 {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return self.last_index;
        };
        let (first, last_index, last_term) = (first.index, last.index, last.term);
        let id = self.region.id;
        for e in &entries {
            wb.put(Cf::Raft, keys::raft_log_key(id, e.index), encode_pb(e));
        }
        // Entries past the new tail belonged to a log that lost an election.
        for idx in last_index + 1..=self.last_index {
            wb.delete(Cf::Raft, keys::raft_log_key(id, idx));
        }
        self.unpersisted.retain(|e| e.index < first);
        self.unpersisted.append(&mut entries);
        self.last_index = last_index;
        self.last_term = last_term;
        last_index
    }

    /// Records a new hard state in `wb`.
    pub fn set_hard_state(&mut self, hs: &HardState, wb: &mut WriteBatch) {
        self.hard_state = hs.clone();
        wb.put(
            Cf::Raft,
            keys::hard_state_key(self.region.id),
            encode_pb(hs),
        );
    }

    /// The batch that staged entries up to `index` is written: they are
    /// read from the engine from now on.
    pub fn on_appended(&mut self, index: u64) {
        self.unpersisted.retain(|e| e.index > index);
    }

    /// The staged, unwritten entry at `idx`, if it is one.
    fn unpersisted_entry(&self, idx: u64) -> Option<&Entry> {
        let first = self.unpersisted.first()?.index;
        let at = usize::try_from(idx.checked_sub(first)?).ok()?;
        self.unpersisted.get(at)
    }

    /// Records that entries up to `index` are applied (with the Region and
    /// membership they produced) in `wb`.
    pub fn set_applied(&mut self, index: u64, wb: &mut WriteBatch) {
        self.apply_state.applied_index = index;
        wb.put(
            Cf::Raft,
            keys::apply_state_key(self.region.id),
            self.apply_state.encode_to_vec(),
        );
    }

    /// Changes the Region's shape and membership (after a conf change).
    pub fn set_region(&mut self, region: metapb::Region, cs: ConfState, wb: &mut WriteBatch) {
        write_region_state(wb, &region, &cs);
        self.region = region;
        self.conf_state = cs;
    }

    /// Removes log entries up to and including `index`.
    pub fn compact_to(&mut self, index: u64, wb: &mut WriteBatch) -> Result<()> {
        let first = self.log_first_index();
        if index < first || index > self.apply_state.applied_index {
            return Ok(());
        }
        let term = self.term_of(index)?;
        let id = self.region.id;
        wb.delete_range(
            Cf::Raft,
            keys::raft_log_key(id, first),
            keys::raft_log_key(id, index + 1),
        );
        self.apply_state.truncated_index = index;
        self.apply_state.truncated_term = term;
        wb.put(
            Cf::Raft,
            keys::apply_state_key(id),
            self.apply_state.encode_to_vec(),
        );
        Ok(())
    }

    fn term_of(&self, idx: u64) -> Result<u64> {
        if idx == self.apply_state.truncated_index {
            return Ok(self.apply_state.truncated_term);
        }
        if idx == self.last_index {
            return Ok(self.last_term);
        }
        if let Some(e) = self.unpersisted_entry(idx) {
            return Ok(e.term);
        }
        match self
            .engine
            .get(Cf::Raft, &keys::raft_log_key(self.region.id, idx))?
        {
            Some(b) => Ok(decode_pb::<Entry>(&b)?.term),
            None => Err(Error::Corruption(format!(
                "region {}: log entry {idx} missing",
                self.region.id
            ))),
        }
    }

    /// Installs a received snapshot: replaces the Region's data, shape,
    /// membership, log and apply state, all in `wb`.
    pub fn apply_snapshot(&mut self, snap: &Snapshot, wb: &mut WriteBatch) -> Result<()> {
        let data = SnapshotData::decode(snap.data.as_ref())?;
        let region = data
            .region
            .ok_or_else(|| Error::Corruption("snapshot without region".into()))?;
        let meta = snap.get_metadata();
        let id = region.id;
        // Drop what this peer held before: old data and the whole old log.
        if self.initialized {
            clear_data(wb, &self.region.start_key, &self.region.end_key);
        }
        clear_data(wb, &region.start_key, &region.end_key);
        wb.delete_range(
            Cf::Raft,
            keys::raft_log_key(id, 0),
            keys::raft_log_key(id, u64::MAX),
        );
        for e in data.entries {
            let cf = Cf::from_u32(e.cf)
                .filter(|cf| *cf != Cf::Raft)
                .ok_or_else(|| {
                    Error::Corruption(format!("snapshot names column family {}", e.cf))
                })?;
            wb.put(cf, e.key, e.value);
        }
        let cs = meta.get_conf_state().clone();
        self.set_region(region, cs, wb);
        self.apply_state = RaftApplyState {
            applied_index: meta.index,
            truncated_index: meta.index,
            truncated_term: meta.term,
        };
        wb.put(
            Cf::Raft,
            keys::apply_state_key(id),
            self.apply_state.encode_to_vec(),
        );
        let mut hs = self.hard_state.clone();
        hs.commit = hs.commit.max(meta.index);
        hs.term = hs.term.max(meta.term);
        self.set_hard_state(&hs, wb);
        self.last_index = meta.index;
        self.last_term = meta.term;
        self.unpersisted.clear();
        self.initialized = true;
        Ok(())
    }

    /// Builds a snapshot of the Region at its applied index from a
    /// consistent view of the engine.
    fn build_snapshot(&self) -> Result<Snapshot> {
        let snap = self.engine.snapshot();
        let id = self.region.id;
        let state = snap
            .get(Cf::Raft, &keys::region_state_key(id))?
            .ok_or_else(|| Error::Corruption(format!("region {id}: no state to snapshot")))?;
        let state = RegionLocalState::decode(state.as_slice())?;
        let apply = snap
            .get(Cf::Raft, &keys::apply_state_key(id))?
            .map(|b| RaftApplyState::decode(b.as_slice()))
            .transpose()?
            .unwrap_or_default();
        let region = state.region.unwrap_or_default();
        let term = if apply.applied_index == apply.truncated_index {
            apply.truncated_term
        } else {
            let e = snap
                .get(Cf::Raft, &keys::raft_log_key(id, apply.applied_index))?
                .ok_or_else(|| Error::Corruption(format!("region {id}: applied entry missing")))?;
            decode_pb::<Entry>(&e)?.term
        };
        let mut entries = Vec::new();
        for cf in Cf::DATA {
            snap.scan(cf, &region.start_key, &region.end_key, &mut |k, v| {
                entries.push(SnapshotEntry {
                    cf: cf as u32,
                    key: k.to_vec(),
                    value: v.to_vec(),
                });
                true
            })?;
        }
        let data = SnapshotData {
            region: Some(region),
            entries,
        };
        let mut meta = SnapshotMetadata::default();
        meta.index = apply.applied_index;
        meta.term = term;
        meta.set_conf_state(decode_pb(&state.conf_state)?);
        let mut s = Snapshot::default();
        s.data = data.encode_to_vec().into();
        s.set_metadata(meta);
        Ok(s)
    }
}

/// Adds deletions of every data key in `[start, end)` to `wb`.
pub fn clear_data(wb: &mut WriteBatch, start: &[u8], end: &[u8]) {
    let end = keys::data_end(end);
    for cf in Cf::DATA {
        wb.delete_range(cf, start.to_vec(), end.clone());
    }
}

fn storage_err(e: Error) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(e)))
}

impl<E: Engine> raft::Storage for PeerStorage<E> {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state.clone(),
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.apply_state.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let max_size = max_size.into().unwrap_or(u64::MAX);
        let id = self.region.id;
        let mut out = Vec::with_capacity((high - low) as usize);
        let mut size = 0u64;
        let mut err = None;
        // Written entries come from the engine, staged ones from memory.
        let staged_from = self
            .unpersisted
            .first()
            .map_or(high, |e| e.index)
            .clamp(low, high);
        self.engine
            .scan(
                Cf::Raft,
                &keys::raft_log_key(id, low),
                &keys::raft_log_key(id, staged_from),
                &mut |_, v| match decode_pb::<Entry>(v) {
                    Ok(e) => {
                        size += v.len() as u64;
                        if !out.is_empty() && size > max_size {
                            return false;
                        }
                        out.push(e);
                        true
                    }
                    Err(e) => {
                        err = Some(e);
                        false
                    }
                },
            )
            .map_err(|e| storage_err(e.into()))?;
        if let Some(e) = err {
            return Err(storage_err(e));
        }
        if out.len() as u64 == staged_from - low {
            for e in self.unpersisted.iter().filter(|e| e.index >= staged_from) {
                if e.index >= high {
                    break;
                }
                size += u64::from(protobuf::Message::compute_size(e));
                if !out.is_empty() && size > max_size {
                    break;
                }
                out.push(e.clone());
            }
        }
        // A hole in the log means the engine lost entries it acknowledged.
        let contiguous = out
            .iter()
            .enumerate()
            .all(|(i, e)| e.index == low + i as u64);
        if out.is_empty() || !contiguous {
            return Err(storage_err(Error::Corruption(format!(
                "region {id}: log entries [{low}, {high}) incomplete"
            ))));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx < self.apply_state.truncated_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        self.term_of(idx).map_err(storage_err)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.log_first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let snap = self.build_snapshot().map_err(storage_err)?;
        if snap.get_metadata().index < request_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(snap)
    }
}
