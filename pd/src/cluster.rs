//! `Cluster`: PD's state and every decision it makes, without IO of its own
//! beyond its [`MetaStore`]. The gRPC and HTTP layers call into it under one
//! lock; the deterministic simulation calls it directly. Time is an argument
//! (`now_ms`, wall-clock milliseconds), never read here.
//!
//! Durable: cluster id, bootstrap flag, stores, Regions (shape, epoch,
//! peers), the id and TSO high-water marks. Soft (rebuilt from heartbeats):
//! leaders, sizes, pending peers, store liveness, operators, service safe
//! points and lock resolution reports.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use protocol::metapb::{self, StoreState};
use protocol::pdpb::{
    self, PersistedState, RegionHeartbeatRequest, RegionHeartbeatResponse, StoreStats,
};

use crate::error::{PdError, Result};
use crate::gc::{GcTracker, MAX_SERVICE_TTL_SECS, SERVICE_GRACE_MS};
use crate::meta_store::MetaStore;
use crate::region_tree::{RegionInfo, RegionTree, Update};
use crate::schedule::{plan, OpKind, Operator, Placement, Step, View};
use crate::tso::{Tso, TsoStep};

/// Ids are reserved durably in blocks of this size.
const ID_BATCH: u64 = 1000;
/// Most new Regions one split may ask ids for.
const MAX_SPLIT_COUNT: u32 = 1000;
/// Schedulers an administrator may pause.
pub const SCHEDULERS: [&str; 3] = ["balance-region", "balance-leader", "hot-region"];

/// Tunables of the cluster's scheduling.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Replicas every Region should have.
    pub max_replicas: usize,
    /// A store silent this long is Disconnected (gets no new replicas).
    pub store_disconnect_ms: u64,
    /// A store silent this long is Down.
    pub max_store_down_ms: u64,
    /// An operator not done after this long is dropped and re-planned.
    pub operator_timeout_ms: u64,
    /// Most balance-region operators in flight at once.
    pub region_schedule_limit: usize,
    /// Most balance-leader operators in flight at once.
    pub leader_schedule_limit: usize,
    /// A Region with at least this many keys read and written per second
    /// is hot: hot-region spreads such Regions' leaders over the stores by
    /// load, and the count-balancing schedulers leave them alone.
    pub hot_region_min_qps: u64,
    /// Most hot-region operators in flight at once.
    pub hot_region_schedule_limit: usize,
    /// How far behind now the GC safe point is kept: versions a read this
    /// old could still need are kept, older ones may be removed.
    pub gc_life_time_ms: u64,
    /// How long hot-region leaves a Region alone after moving its leader:
    /// its clients must find the new leader and its load be measured
    /// there before another move can be judged.
    pub hot_region_cooldown_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            max_replicas: 3,
            store_disconnect_ms: 20_000,
            max_store_down_ms: 30 * 60 * 1000,
            operator_timeout_ms: 5 * 60 * 1000,
            region_schedule_limit: 8,
            leader_schedule_limit: 8,
            hot_region_min_qps: 100,
            hot_region_schedule_limit: 4,
            hot_region_cooldown_ms: 20_000,
            gc_life_time_ms: 10 * 60 * 1000,
        }
    }
}

/// A Region's load as PD keeps it: a moving average of the leader's
/// per-second reports (each report moves it a quarter of the way), so a
/// second in which clients were busy finding a moved leader does not make
/// a hot Region look cold.
fn smooth(kept: u64, reported: u64) -> u64 {
    if kept == 0 {
        return reported;
    }
    ((3 * kept as u128 + reported as u128) / 4) as u64
}

/// A store's state as PD derives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreHealth {
    /// Heartbeating.
    Up,
    /// Silent for a while; gets no new replicas.
    Disconnected,
    /// Silent longer than the down time.
    Down,
    /// Being decommissioned.
    Offline,
    /// Removed for good.
    Tombstone,
}

impl StoreHealth {
    /// The state's name, as the CLI and HTTP API show it.
    pub fn name(self) -> &'static str {
        match self {
            StoreHealth::Up => "Up",
            StoreHealth::Disconnected => "Disconnected",
            StoreHealth::Down => "Down",
            StoreHealth::Offline => "Offline",
            StoreHealth::Tombstone => "Tombstone",
        }
    }
}

/// What PD reports about one store.
#[derive(Debug, Clone)]
pub struct StoreView {
    /// The store's registration.
    pub store: metapb::Store,
    /// Its derived state.
    pub health: StoreHealth,
    /// Regions with a replica on it.
    pub region_count: usize,
    /// Regions whose leader is on it.
    pub leader_count: usize,
    /// Last heartbeat, ms since the epoch (0 = never since PD started).
    pub last_heartbeat_ms: u64,
    /// Last reported statistics.
    pub stats: StoreStats,
}

/// The cluster as PD sees it.
pub struct Cluster<S: MetaStore> {
    meta: S,
    state: PersistedState,
    stores: BTreeMap<u64, metapb::Store>,
    regions: RegionTree,
    store_heartbeats: HashMap<u64, (u64, StoreStats)>,
    operators: BTreeMap<u64, Operator>,
    /// When hot-region last moved each Region's leader (ms since the epoch).
    hot_moves: HashMap<u64, u64>,
    gc: GcTracker,
    next_id: u64,
    tso: Tso,
    cfg: ClusterConfig,
    /// When PD started: a store never heard from counts as silent since then.
    started_ms: u64,
}

impl<S: MetaStore> Cluster<S> {
    /// Loads the cluster from `meta`, or creates a new one with a fresh
    /// cluster id.
    pub fn open(meta: S, cfg: ClusterConfig, now_ms: u64, new_cluster_id: u64) -> Result<Self> {
        let (state, fresh) = match meta.load()? {
            Some(s) => (s, false),
            None => (
                PersistedState {
                    cluster_id: new_cluster_id,
                    ..Default::default()
                },
                true,
            ),
        };
        let mut regions = RegionTree::default();
        for r in &state.regions {
            regions.update(r);
        }
        let stores = state.stores.iter().map(|s| (s.id, s.clone())).collect();
        let mut c = Cluster {
            next_id: state.id_limit,
            tso: Tso::new(state.tso_limit_ms),
            meta,
            state,
            stores,
            regions,
            store_heartbeats: HashMap::new(),
            operators: BTreeMap::new(),
            hot_moves: HashMap::new(),
            gc: GcTracker::default(),
            cfg,
            started_ms: now_ms,
        };
        if fresh {
            c.persist()?;
        }
        Ok(c)
    }

    fn persist(&mut self) -> Result<()> {
        self.state.stores = self.stores.values().cloned().collect();
        self.state.regions = self
            .regions
            .all()
            .into_iter()
            .map(|i| i.region.clone())
            .collect();
        self.meta.save(&self.state)
    }

    /// The cluster's id.
    pub fn cluster_id(&self) -> u64 {
        self.state.cluster_id
    }

    /// Whether the first Region exists.
    pub fn is_bootstrapped(&self) -> bool {
        self.state.bootstrapped
    }

    /// The configured replica count.
    pub fn max_replicas(&self) -> usize {
        self.cfg.max_replicas
    }

    /// Refuses requests meant for another cluster (0 = caller does not know yet).
    pub fn check_cluster(&self, cluster_id: u64) -> Result<()> {
        if cluster_id != 0 && cluster_id != self.state.cluster_id {
            return Err(PdError::ClusterMismatch {
                requested: cluster_id,
                actual: self.state.cluster_id,
            });
        }
        Ok(())
    }

    /// A new cluster-unique id.
    pub fn alloc_id(&mut self) -> Result<u64> {
        if self.next_id >= self.state.id_limit {
            self.state.id_limit = self.next_id + ID_BATCH;
            self.persist()?;
        }
        self.next_id += 1;
        Ok(self.next_id)
    }

    /// `count` strictly increasing timestamps; returns the first.
    pub fn tso(&mut self, count: u32, now_ms: u64) -> Result<u64> {
        loop {
            match self
                .tso
                .alloc(u64::from(count), now_ms, self.state.tso_limit_ms)
            {
                TsoStep::Ready(ts) => return Ok(ts),
                TsoStep::PersistLimit(limit) => {
                    self.state.tso_limit_ms = limit;
                    self.persist()?;
                }
            }
        }
    }

    /// Where the GC safe point is heading as of `now_ms`: now minus the GC
    /// life time, held back by live service safe points. Leaders resolve
    /// their Regions' locks older than it (see [`crate::gc`]).
    pub fn gc_target(&mut self, now_ms: u64) -> u64 {
        if now_ms < self.started_ms + SERVICE_GRACE_MS {
            return self.state.gc_safe_point;
        }
        self.gc
            .target(self.cfg.gc_life_time_ms, now_ms, self.state.gc_safe_point)
    }

    /// The GC safe point as of `now_ms`: the target, as far as every
    /// Region's locks below it are resolved. It never goes back (also across
    /// restarts: it is persisted whenever it moves by a second or more).
    pub fn gc_safe_point(&mut self, now_ms: u64) -> Result<u64> {
        let target = self.gc_target(now_ms);
        let resolved = self
            .gc
            .locks_resolved_in(self.regions.all().iter().map(|i| i.region.id));
        let candidate = target.min(resolved);
        let one_second = 1000 << crate::tso::LOGICAL_BITS;
        if candidate >= self.state.gc_safe_point + one_second {
            self.state.gc_safe_point = candidate;
            self.persist()?;
        }
        Ok(self.state.gc_safe_point)
    }

    /// Registers, refreshes or (TTL 0) removes a client's service safe
    /// point; returns the GC safe point.
    pub fn update_service_safe_point(
        &mut self,
        service_id: &str,
        safe_point: u64,
        ttl_secs: u64,
        now_ms: u64,
    ) -> Result<u64> {
        if service_id.is_empty() || service_id.len() > 128 {
            return Err(PdError::InvalidValue(
                "a service id must have 1 to 128 bytes".into(),
            ));
        }
        if ttl_secs > MAX_SERVICE_TTL_SECS {
            return Err(PdError::InvalidValue(format!(
                "a service safe point TTL may be at most {MAX_SERVICE_TTL_SECS} s"
            )));
        }
        self.gc
            .update_service(service_id, safe_point, ttl_secs * 1000, now_ms);
        self.gc_safe_point(now_ms)
    }

    /// The live service safe points, lowest first.
    pub fn service_safe_points(&mut self, now_ms: u64) -> Vec<pdpb::ServiceSafePoint> {
        self.gc.services(now_ms)
    }

    /// The configured GC life time.
    pub fn gc_life_time_ms(&self) -> u64 {
        self.cfg.gc_life_time_ms
    }

    /// Creates the cluster's first Region on `store`. Succeeds only once.
    pub fn bootstrap(&mut self, store: metapb::Store, region: metapb::Region) -> Result<()> {
        if self.state.bootstrapped {
            return Err(PdError::AlreadyBootstrapped);
        }
        let valid = region.start_key.is_empty()
            && region.end_key.is_empty()
            && region.peers.len() == 1
            && region.peers[0].store_id == store.id
            && store.id != 0
            && region.id != 0;
        if !valid {
            return Err(PdError::InvalidValue(
                "the first Region must cover the whole key space with one peer on the bootstrapping store".into(),
            ));
        }
        self.check_address(&store)?;
        self.stores.insert(store.id, store);
        self.regions.update(&region);
        self.state.bootstrapped = true;
        self.persist()
    }

    fn check_address(&self, store: &metapb::Store) -> Result<()> {
        if store.address.is_empty() {
            return Err(PdError::InvalidValue("store address is empty".into()));
        }
        let clash = self.stores.values().find(|s| {
            s.id != store.id
                && s.address == store.address
                && s.state != StoreState::Tombstone as i32
        });
        match clash {
            Some(s) => Err(PdError::InvalidValue(format!(
                "address {} is already used by store {}",
                store.address, s.id
            ))),
            None => Ok(()),
        }
    }

    /// Registers a store or updates its address.
    pub fn put_store(&mut self, mut store: metapb::Store) -> Result<()> {
        if store.id == 0 {
            return Err(PdError::InvalidValue("store id 0".into()));
        }
        if let Some(old) = self.stores.get(&store.id) {
            if old.state == StoreState::Tombstone as i32 {
                return Err(PdError::StoreTombstone(store.id));
            }
            // The store does not choose its own state.
            store.state = old.state;
        }
        self.check_address(&store)?;
        if self.stores.get(&store.id) != Some(&store) {
            self.stores.insert(store.id, store);
            self.persist()?;
        }
        Ok(())
    }

    /// A registered store.
    pub fn get_store(&self, id: u64) -> Result<&metapb::Store> {
        self.stores.get(&id).ok_or(PdError::StoreNotFound(id))
    }

    /// Every registered store.
    pub fn stores(&self) -> Vec<metapb::Store> {
        self.stores.values().cloned().collect()
    }

    /// Records a store heartbeat.
    pub fn store_heartbeat(&mut self, stats: StoreStats, now_ms: u64) -> Result<()> {
        let store = self.get_store(stats.store_id)?;
        if store.state == StoreState::Tombstone as i32 {
            return Err(PdError::StoreTombstone(stats.store_id));
        }
        self.store_heartbeats
            .insert(stats.store_id, (now_ms, stats));
        self.sweep_offline()
    }

    /// A store's derived state at `now_ms`.
    pub fn store_health(&self, store: &metapb::Store, now_ms: u64) -> StoreHealth {
        if store.state == StoreState::Tombstone as i32 {
            return StoreHealth::Tombstone;
        }
        if store.state == StoreState::Offline as i32 {
            return StoreHealth::Offline;
        }
        let last = self
            .store_heartbeats
            .get(&store.id)
            .map(|(t, _)| *t)
            .unwrap_or(self.started_ms);
        let silent = now_ms.saturating_sub(last);
        if silent >= self.cfg.max_store_down_ms {
            StoreHealth::Down
        } else if silent >= self.cfg.store_disconnect_ms {
            StoreHealth::Disconnected
        } else {
            StoreHealth::Up
        }
    }

    /// Every store with its derived state and counts.
    pub fn store_views(&self, now_ms: u64) -> Vec<StoreView> {
        let mut counts: HashMap<u64, (usize, usize)> = HashMap::new();
        for info in self.regions.all() {
            for p in &info.region.peers {
                counts.entry(p.store_id).or_default().0 += 1;
            }
            if let Some(l) = &info.leader {
                counts.entry(l.store_id).or_default().1 += 1;
            }
        }
        self.stores
            .values()
            .map(|s| {
                let (region_count, leader_count) = counts.get(&s.id).copied().unwrap_or_default();
                let (last, stats) = self
                    .store_heartbeats
                    .get(&s.id)
                    .cloned()
                    .unwrap_or_default();
                StoreView {
                    store: s.clone(),
                    health: self.store_health(s, now_ms),
                    region_count,
                    leader_count,
                    last_heartbeat_ms: last,
                    stats,
                }
            })
            .collect()
    }

    /// The Region holding `key`.
    pub fn region_by_key(&self, key: &[u8]) -> Option<&RegionInfo> {
        self.regions.get_by_key(key)
    }

    /// The Region with this id.
    pub fn region_by_id(&self, id: u64) -> Option<&RegionInfo> {
        self.regions.get(id)
    }

    /// Regions overlapping `[start, end)`, in key order.
    pub fn scan_regions(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<&RegionInfo> {
        self.regions.scan(start, end, limit)
    }

    /// Pending operators, by Region id.
    pub fn operators(&self) -> Vec<Operator> {
        self.operators.values().cloned().collect()
    }

    /// The pausable schedulers and whether each is paused.
    pub fn schedulers(&self) -> Vec<(&'static str, bool)> {
        SCHEDULERS
            .iter()
            .map(|n| (*n, self.state.paused_schedulers.iter().any(|p| p == n)))
            .collect()
    }

    /// Pauses or resumes a scheduler (durably).
    pub fn set_scheduler_paused(&mut self, name: &str, paused: bool) -> Result<()> {
        if !SCHEDULERS.contains(&name) {
            return Err(PdError::InvalidValue(format!(
                "unknown scheduler {name:?}; schedulers: {}",
                SCHEDULERS.join(", ")
            )));
        }
        let list = &mut self.state.paused_schedulers;
        let was = list.iter().any(|p| p == name);
        if was == paused {
            return Ok(());
        }
        if paused {
            list.push(name.to_string());
        } else {
            list.retain(|p| p != name);
        }
        tracing::info!(scheduler = name, paused, "scheduler state changed");
        self.persist()
    }

    fn is_paused(&self, name: &str) -> bool {
        self.state.paused_schedulers.iter().any(|p| p == name)
    }

    /// Starts decommissioning a store: it turns Offline, its replicas move
    /// elsewhere, and it turns Tombstone once it holds none.
    pub fn delete_store(&mut self, store_id: u64, now_ms: u64) -> Result<()> {
        let store = self.get_store(store_id)?.clone();
        match StoreState::try_from(store.state) {
            Ok(StoreState::Tombstone) => return Err(PdError::StoreTombstone(store_id)),
            Ok(StoreState::Offline) => return Ok(()),
            _ => {}
        }
        let others_up = self
            .store_views(now_ms)
            .iter()
            .filter(|v| v.store.id != store_id && v.health == StoreHealth::Up)
            .count();
        if others_up < self.cfg.max_replicas {
            return Err(PdError::InvalidValue(format!(
                "cannot decommission store {store_id}: only {others_up} other stores are up, \
                 fewer than max-replicas ({})",
                self.cfg.max_replicas
            )));
        }
        let mut store = store;
        store.state = StoreState::Offline as i32;
        self.stores.insert(store_id, store);
        tracing::info!(
            store = store_id,
            "store is offline: moving its replicas away"
        );
        self.persist()?;
        self.sweep_offline()
    }

    /// Turns Offline stores that hold no replica any more into Tombstones.
    fn sweep_offline(&mut self) -> Result<()> {
        let offline: Vec<u64> = self
            .stores
            .values()
            .filter(|s| s.state == StoreState::Offline as i32)
            .map(|s| s.id)
            .collect();
        if offline.is_empty() {
            return Ok(());
        }
        let mut empty: BTreeSet<u64> = offline.into_iter().collect();
        for info in self.regions.all() {
            for p in &info.region.peers {
                empty.remove(&p.store_id);
            }
        }
        for id in &empty {
            if let Some(s) = self.stores.get_mut(id) {
                s.state = StoreState::Tombstone as i32;
                tracing::info!(store = id, "decommissioned store is now a tombstone");
            }
        }
        if empty.is_empty() {
            Ok(())
        } else {
            self.persist()
        }
    }

    /// Asks for the leader of `region_id` to move to its voter on `store_id`.
    pub fn transfer_leader(&mut self, region_id: u64, store_id: u64, now_ms: u64) -> Result<()> {
        let info = self
            .regions
            .get(region_id)
            .ok_or_else(|| PdError::InvalidValue(format!("region {region_id} not found")))?;
        let target = info
            .region
            .peers
            .iter()
            .find(|p| p.store_id == store_id && p.role == metapb::PeerRole::Voter as i32)
            .cloned()
            .ok_or_else(|| {
                PdError::InvalidValue(format!(
                    "region {region_id} has no voter on store {store_id}"
                ))
            })?;
        if let Some(op) = self.operators.get(&region_id) {
            return Err(PdError::InvalidValue(format!(
                "region {region_id} has a pending operator: {}",
                op.describe()
            )));
        }
        let mut op = Operator {
            region_id,
            kind: OpKind::AdminTransferLeader,
            steps: vec![Step::TransferLeader(target)],
            current: 0,
            created_ms: now_ms,
        };
        if op.advance(info) {
            return Ok(());
        }
        self.add_operator(op);
        Ok(())
    }

    fn add_operator(&mut self, op: Operator) {
        tracing::info!(region = op.region_id, op = %op.describe(), "new operator");
        crate::metrics::OPERATORS_CREATED
            .with_label_values(&[op.kind.name()])
            .inc();
        self.operators.insert(op.region_id, op);
    }

    /// Ids for splitting `region` at `split_count` keys: per new Region,
    /// its id and one peer id per peer of `region`.
    pub fn ask_batch_split(
        &mut self,
        region: &metapb::Region,
        split_count: u32,
    ) -> Result<Vec<pdpb::SplitId>> {
        if split_count == 0 || split_count > MAX_SPLIT_COUNT {
            return Err(PdError::InvalidValue(format!(
                "split count {split_count} outside 1..={MAX_SPLIT_COUNT}"
            )));
        }
        if region.peers.is_empty() {
            return Err(PdError::InvalidValue("region without peers".into()));
        }
        let mut ids = Vec::with_capacity(split_count as usize);
        for _ in 0..split_count {
            let new_region_id = self.alloc_id()?;
            let new_peer_ids = region
                .peers
                .iter()
                .map(|_| self.alloc_id())
                .collect::<Result<Vec<u64>>>()?;
            ids.push(pdpb::SplitId {
                new_region_id,
                new_peer_ids,
            });
        }
        Ok(ids)
    }

    /// Takes a leader's report of a split it applied: the parent's new
    /// shape and the new Regions go into the routing table at once.
    pub fn report_batch_split(&mut self, regions: &[metapb::Region]) -> Result<()> {
        let mut changed = false;
        for r in regions {
            changed |= self.regions.update(r) == Update::Changed;
        }
        self.gc
            .split(&regions.iter().map(|r| r.id).collect::<Vec<_>>());
        tracing::info!(
            regions = ?regions.iter().map(|r| r.id).collect::<Vec<_>>(),
            "split reported"
        );
        if changed {
            self.persist()?;
        }
        Ok(())
    }

    /// Takes a leader's report: updates the routing table (newer epoch
    /// wins), the Region's soft state, and answers with the next operator
    /// step for it, if any.
    pub fn region_heartbeat(
        &mut self,
        req: RegionHeartbeatRequest,
        now_ms: u64,
    ) -> Result<RegionHeartbeatResponse> {
        let region = req
            .region
            .ok_or_else(|| PdError::InvalidValue("heartbeat without region".into()))?;
        let mut resp = RegionHeartbeatResponse {
            region_id: region.id,
            region_epoch: region.region_epoch.clone(),
            ..Default::default()
        };
        match self.regions.update(&region) {
            Update::Stale => return Ok(resp),
            Update::Changed => self.persist()?,
            Update::Unchanged => {}
        }
        self.gc
            .region_locks_resolved(region.id, req.locks_resolved_ts);
        if let Some(info) = self.regions.get_mut(region.id) {
            // Reports may arrive out of order: an older leader's is ignored.
            if req.term >= info.term {
                // A new leader's first report measured only a moment of
                // its leadership: the Region's load stays as it was.
                if info.leader.as_ref().map(|l| l.id) == req.leader.as_ref().map(|l| l.id) {
                    info.read_qps = smooth(info.read_qps, req.read_qps);
                    info.write_qps = smooth(info.write_qps, req.write_qps);
                }
                info.term = req.term;
                info.leader = req.leader;
                info.pending_peers = req.pending_peers;
                info.approximate_size = req.approximate_size;
                info.approximate_keys = req.approximate_keys;
            }
        }
        self.schedule(region.id, now_ms, &mut resp)?;
        Ok(resp)
    }

    /// Puts the Region's next operator step into `resp`: the pending
    /// operator's, or a new operator's if the Region needs one.
    fn schedule(
        &mut self,
        region_id: u64,
        now_ms: u64,
        resp: &mut RegionHeartbeatResponse,
    ) -> Result<()> {
        let Some(info) = self.regions.get(region_id).cloned() else {
            return Ok(());
        };
        let view = self.view(now_ms);
        if let Some(op) = self.operators.get_mut(&region_id) {
            let finished = op.advance(&info);
            let expired = now_ms.saturating_sub(op.created_ms) > self.cfg.operator_timeout_ms;
            let target_lost = op.remaining().iter().any(|s| {
                matches!(s, Step::AddLearner(p) | Step::PromoteLearner(p) | Step::TransferLeader(p)
                    if view.placement.get(&p.store_id) != Some(&Placement::Up))
            });
            if !finished && !expired && !target_lost {
                op.fill(&info, &view, now_ms, resp);
                return Ok(());
            }
            let outcome = if finished {
                "done"
            } else if expired {
                "timeout"
            } else {
                "cancelled"
            };
            if finished {
                tracing::info!(region = region_id, op = %op.describe(), "operator finished");
            } else {
                tracing::warn!(region = region_id, op = %op.describe(), outcome, "operator dropped");
            }
            crate::metrics::OPERATORS_FINISHED
                .with_label_values(&[op.kind.name(), outcome])
                .inc();
            self.operators.remove(&region_id);
            self.sweep_offline()?;
            // Plan afresh at the next heartbeat, from the Region's new state.
            return Ok(());
        }
        let mut view = view;
        let in_flight = |kind: OpKind| self.operators.values().filter(|o| o.kind == kind).count();
        view.balance_region = !self.is_paused("balance-region")
            && in_flight(OpKind::BalanceRegion) < self.cfg.region_schedule_limit;
        view.balance_leader = !self.is_paused("balance-leader")
            && in_flight(OpKind::BalanceLeader) < self.cfg.leader_schedule_limit;
        let cooldown = self.cfg.hot_region_cooldown_ms;
        self.hot_moves
            .retain(|_, at| now_ms.saturating_sub(*at) < cooldown);
        view.balance_hot = !self.is_paused("hot-region")
            && in_flight(OpKind::HotRegion) < self.cfg.hot_region_schedule_limit
            && !self.hot_moves.contains_key(&region_id);
        let mut id_error = None;
        let planned = plan(
            &info,
            self.cfg.max_replicas,
            &view,
            &mut || match self.alloc_id() {
                Ok(id) => id,
                Err(e) => {
                    id_error = Some(e);
                    0
                }
            },
        );
        if let Some(e) = id_error {
            return Err(e);
        }
        if let Some(mut op) = planned {
            if op.kind == OpKind::HotRegion {
                self.hot_moves.insert(region_id, now_ms);
            }
            op.created_ms = now_ms;
            op.fill(&info, &view, now_ms, resp);
            self.add_operator(op);
        }
        Ok(())
    }

    /// The stores as the schedulers see them, operators in flight included.
    fn view(&self, now_ms: u64) -> View {
        let mut view = View {
            hot_min_qps: self.cfg.hot_region_min_qps,
            ..View::default()
        };
        for v in self.store_views(now_ms) {
            let placement = match v.health {
                StoreHealth::Up => Placement::Up,
                StoreHealth::Disconnected => Placement::Disconnected,
                StoreHealth::Down | StoreHealth::Offline | StoreHealth::Tombstone => {
                    Placement::Lost
                }
            };
            view.placement.insert(v.store.id, placement);
            view.regions.insert(v.store.id, 0);
            view.leaders.insert(v.store.id, v.leader_count as i64);
        }
        let regions = self.regions.all();
        let total_size: u64 = regions.iter().map(|i| i.approximate_size).sum();
        view.mean_region_size = total_size / regions.len().max(1) as u64;
        for info in regions {
            let weight = view.weight(info);
            for p in &info.region.peers {
                *view.regions.entry(p.store_id).or_default() += weight;
            }
            if let (true, Some(l)) = (view.is_hot(info), &info.leader) {
                *view.hot_load.entry(l.store_id).or_default() += info.load();
            }
        }
        for op in self.operators.values() {
            if let Some(info) = self.regions.get(op.region_id) {
                view.add_in_flight(op, info);
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta_store::MemMetaStore;
    use protocol::metapb::{PeerRole, RegionEpoch};

    fn store(id: u64) -> metapb::Store {
        metapb::Store {
            id,
            address: format!("127.0.0.1:{}", 20000 + id),
            ..Default::default()
        }
    }

    fn first_region() -> metapb::Region {
        metapb::Region {
            id: 2,
            region_epoch: Some(RegionEpoch {
                conf_ver: 1,
                version: 1,
            }),
            peers: vec![metapb::Peer {
                id: 3,
                store_id: 1,
                role: PeerRole::Voter as i32,
            }],
            ..Default::default()
        }
    }

    fn cluster() -> Cluster<MemMetaStore> {
        Cluster::open(MemMetaStore::default(), ClusterConfig::default(), 0, 42).unwrap()
    }

    #[test]
    fn bootstraps_once() {
        let mut c = cluster();
        c.bootstrap(store(1), first_region()).unwrap();
        assert!(c.is_bootstrapped());
        assert!(matches!(
            c.bootstrap(store(1), first_region()),
            Err(PdError::AlreadyBootstrapped)
        ));
        assert_eq!(c.region_by_key(b"anything").unwrap().region.id, 2);
    }

    #[test]
    fn ids_are_unique_across_reopen() {
        let mut c = cluster();
        let a = c.alloc_id().unwrap();
        let b = c.alloc_id().unwrap();
        assert!(b > a);
        let meta = std::mem::take(&mut c.meta);
        let mut c2 = Cluster::open(meta, ClusterConfig::default(), 0, 0).unwrap();
        assert_eq!(c2.cluster_id(), 42);
        assert!(c2.alloc_id().unwrap() > b);
    }

    #[test]
    fn refuses_other_clusters_and_duplicate_addresses() {
        let mut c = cluster();
        assert!(c.check_cluster(0).is_ok());
        assert!(matches!(
            c.check_cluster(7),
            Err(PdError::ClusterMismatch { .. })
        ));
        c.put_store(store(1)).unwrap();
        let mut dup = store(2);
        dup.address = store(1).address;
        assert!(matches!(c.put_store(dup), Err(PdError::InvalidValue(_))));
    }

    #[test]
    fn heartbeat_brings_an_add_learner_operator() {
        let mut c = cluster();
        c.bootstrap(store(1), first_region()).unwrap();
        for id in [2, 3] {
            c.put_store(store(id)).unwrap();
        }
        for id in [1, 2, 3] {
            c.store_heartbeat(
                StoreStats {
                    store_id: id,
                    ..Default::default()
                },
                10,
            )
            .unwrap();
        }
        let r = first_region();
        let req = RegionHeartbeatRequest {
            leader: Some(r.peers[0].clone()),
            region: Some(r.clone()),
            term: 6,
            ..Default::default()
        };
        let resp = c.region_heartbeat(req.clone(), 10).unwrap();
        let step = resp.change_peer.unwrap();
        assert_eq!(
            step.change_type,
            protocol::pdpb::ChangePeerType::AddLearner as i32
        );
        // The same step is repeated until the Region shows it done.
        let again = c.region_heartbeat(req, 20).unwrap().change_peer.unwrap();
        assert_eq!(again, step);
        assert_eq!(c.operators().len(), 1);
    }

    #[test]
    fn region_load_is_smoothed_and_survives_a_leader_change() {
        let mut c = cluster();
        c.bootstrap(store(1), first_region()).unwrap();
        let r = first_region();
        let report = |leader: &metapb::Peer, term: u64, qps: u64| RegionHeartbeatRequest {
            leader: Some(leader.clone()),
            region: Some(r.clone()),
            term,
            read_qps: qps,
            ..Default::default()
        };
        let load = |c: &Cluster<MemMetaStore>| c.region_by_id(r.id).unwrap().load();
        let first = r.peers[0].clone();
        c.region_heartbeat(report(&first, 6, 0), 10).unwrap();
        c.region_heartbeat(report(&first, 6, 1000), 20).unwrap();
        assert_eq!(load(&c), 1000);
        // One slow second moves the average a quarter of the way.
        c.region_heartbeat(report(&first, 6, 200), 30).unwrap();
        assert_eq!(load(&c), 800);
        // A new leader's first report (a moment of leadership) is not used.
        let other = metapb::Peer {
            id: 99,
            store_id: 1,
            ..Default::default()
        };
        c.region_heartbeat(report(&other, 7, 3), 40).unwrap();
        assert_eq!(load(&c), 800);
        c.region_heartbeat(report(&other, 7, 0), 50).unwrap();
        assert_eq!(load(&c), 600);
    }

    #[test]
    fn gc_safe_point_waits_for_every_regions_locks_and_for_services() {
        let mut c = cluster();
        c.bootstrap(store(1), first_region()).unwrap();
        let life = c.gc_life_time_ms();
        let now = life + 100_000;
        let ts = |ms: u64| ms << crate::tso::LOGICAL_BITS;
        let target = c.gc_target(now);
        assert_eq!(target, ts(100_000));
        // Region 2 has not resolved its locks yet.
        assert_eq!(c.gc_safe_point(now).unwrap(), 0);
        let report = |resolved| RegionHeartbeatRequest {
            region: Some(first_region()),
            leader: Some(first_region().peers[0].clone()),
            term: 1,
            locks_resolved_ts: resolved,
            ..Default::default()
        };
        c.region_heartbeat(report(target), now).unwrap();
        assert_eq!(c.gc_safe_point(now).unwrap(), target);
        // A running transaction's service safe point holds the target.
        let held = ts(102_000);
        c.update_service_safe_point("client", held, 10, now)
            .unwrap();
        let later = now + 5_000;
        assert_eq!(c.gc_target(later), held);
        let target = c.gc_target(later);
        c.region_heartbeat(report(target), later).unwrap();
        assert_eq!(c.gc_safe_point(later).unwrap(), held);
        assert!(matches!(
            c.update_service_safe_point("", 1, 10, later),
            Err(PdError::InvalidValue(_))
        ));
        // Gone with its TTL.
        assert_eq!(c.gc_target(now + 10_000), ts(110_000));
    }
}
