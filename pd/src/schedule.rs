//! Operators and the checkers and schedulers that create them.
//!
//! An operator is a short plan of steps for one Region — add a learner,
//! promote it, remove a peer, transfer the leader — that PD hands, one step
//! at a time, to the Region's leader in heartbeat responses. A step counts
//! as done once the Region's reported shape (or leader) shows it, so a step
//! carried out twice is harmless and a lost response is simply repeated.
//! PD keeps at most one operator per Region and drops one that is not done
//! within the timeout; the Region is then planned afresh from its state.
//!
//! Planning is pure: [`plan`] looks at one Region and a [`View`] of the
//! stores and returns what should happen to it, if anything:
//!
//! 1. replica checker: promote caught-up learners, replace peers on Down,
//!    Offline or Tombstone stores, add missing replicas, remove extra ones;
//! 2. hot-region: move a hot Region's leader (keys read and written per
//!    second at or over a minimum) to a voter on a store whose hot
//!    leaders carry clearly less load, so a hot key range that load
//!    splitting cut into Regions ends up served by several stores;
//! 3. balance-leader: move the leader to a voter on a store that leads
//!    at least two fewer Regions;
//! 4. balance-region: move a replica from the store with the highest
//!    Region score to the lowest-scored store that could take it, when the
//!    gap is at least two of the Region's weights. A replica weighs one
//!    unit plus its size in units of the mean Region size, so Regions of
//!    equal size balance by count, and a store of big Regions counts as
//!    fuller than one of empty ones.
//!
//! The count-balancing schedulers leave hot Regions alone: their leaders
//! are placed by load, and moving their replicas would disturb the busiest
//! Regions. A store's counts and load include the effect of operators in
//! flight, so several Regions' heartbeats do not all pile onto the same
//! under-loaded store.

use std::collections::HashMap;

use protocol::metapb::{self, PeerRole};
use protocol::pdpb::{ChangePeer, ChangePeerType, RegionHeartbeatResponse, TransferLeader};

use crate::region_tree::RegionInfo;

/// One step of an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Add this peer as a learner.
    AddLearner(metapb::Peer),
    /// Make this learner a voter.
    PromoteLearner(metapb::Peer),
    /// Remove this peer.
    RemovePeer(metapb::Peer),
    /// Make the peer on this store the leader.
    TransferLeader(metapb::Peer),
}

impl Step {
    /// Whether the Region's reported state shows the step done.
    pub fn is_done(&self, info: &RegionInfo) -> bool {
        let find = |id: u64| info.region.peers.iter().find(|p| p.id == id);
        match self {
            Step::AddLearner(p) => find(p.id).is_some(),
            Step::PromoteLearner(p) => find(p.id).is_some_and(|q| q.role == PeerRole::Voter as i32),
            Step::RemovePeer(p) => find(p.id).is_none(),
            Step::TransferLeader(p) => info.leader.as_ref().is_some_and(|l| l.id == p.id),
        }
    }

    /// A short description, e.g. `add learner 12 on store 4`.
    pub fn describe(&self) -> String {
        let (what, p) = match self {
            Step::AddLearner(p) => ("add learner", p),
            Step::PromoteLearner(p) => ("promote learner", p),
            Step::RemovePeer(p) => ("remove peer", p),
            Step::TransferLeader(p) => ("transfer leader to peer", p),
        };
        format!("{what} {} on store {}", p.id, p.store_id)
    }

    /// Puts the step into a heartbeat response for the leader.
    fn fill(&self, resp: &mut RegionHeartbeatResponse) {
        let change = |t: ChangePeerType, p: &metapb::Peer| {
            Some(ChangePeer {
                change_type: t as i32,
                peer: Some(*p),
            })
        };
        match self {
            Step::AddLearner(p) => resp.change_peer = change(ChangePeerType::AddLearner, p),
            Step::PromoteLearner(p) => resp.change_peer = change(ChangePeerType::PromoteLearner, p),
            Step::RemovePeer(p) => resp.change_peer = change(ChangePeerType::RemovePeer, p),
            Step::TransferLeader(p) => {
                resp.transfer_leader = Some(TransferLeader { peer: Some(*p) })
            }
        }
    }
}

/// Why an operator exists; also its name in metrics and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Promote a learner that caught up.
    PromoteLearner,
    /// Add a missing replica.
    AddReplica,
    /// Replace a replica on a Down, Offline or Tombstone store.
    ReplacePeer,
    /// Remove a replica beyond `max-replicas`.
    RemoveExtra,
    /// balance-region: move a replica to a less loaded store.
    BalanceRegion,
    /// balance-leader: move the leader to a store leading fewer Regions.
    BalanceLeader,
    /// hot-region: move a hot Region's leader to a less loaded store.
    HotRegion,
    /// An administrator asked for a leader transfer.
    AdminTransferLeader,
}

impl OpKind {
    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::PromoteLearner => "promote-learner",
            OpKind::AddReplica => "add-replica",
            OpKind::ReplacePeer => "replace-peer",
            OpKind::RemoveExtra => "remove-extra-replica",
            OpKind::BalanceRegion => "balance-region",
            OpKind::BalanceLeader => "balance-leader",
            OpKind::HotRegion => "hot-region",
            OpKind::AdminTransferLeader => "transfer-leader",
        }
    }
}

/// How long a leader move off a peer being removed tries one voter
/// before the next.
const TRANSFER_TURN_MS: u64 = 30_000;

/// A plan of steps for one Region.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The Region it changes.
    pub region_id: u64,
    /// Why it exists.
    pub kind: OpKind,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The first step not yet seen done.
    pub current: usize,
    /// When it was created (ms since the epoch).
    pub created_ms: u64,
}

impl Operator {
    fn new(region_id: u64, kind: OpKind, steps: Vec<Step>) -> Self {
        Operator {
            region_id,
            kind,
            steps,
            current: 0,
            created_ms: 0,
        }
    }

    /// Skips the steps the Region shows done; true when all are.
    pub fn advance(&mut self, info: &RegionInfo) -> bool {
        while self
            .steps
            .get(self.current)
            .is_some_and(|s| s.is_done(info))
        {
            self.current += 1;
        }
        self.current >= self.steps.len()
    }

    /// The steps not yet seen done.
    pub fn remaining(&self) -> &[Step] {
        &self.steps[self.current.min(self.steps.len())..]
    }

    /// Fills the response with what the leader should do now. A learner
    /// is promoted only once it caught up (a voter that cannot ack would
    /// weaken the quorum), and a peer is never removed while it leads: the
    /// leader is moved off it first, to a caught-up voter on an Up store.
    pub fn fill(
        &self,
        info: &RegionInfo,
        view: &View,
        now_ms: u64,
        resp: &mut RegionHeartbeatResponse,
    ) {
        let Some(step) = self.steps.get(self.current) else {
            return;
        };
        if let Step::PromoteLearner(p) = step {
            if info.pending_peers.iter().any(|q| q.id == p.id) {
                return;
            }
        }
        if let Step::RemovePeer(p) = step {
            if info.leader.as_ref().is_some_and(|l| l.id == p.id) {
                let others: Vec<&metapb::Peer> = voters(&info.region)
                    .filter(|v| {
                        v.id != p.id
                            && view.placement(v.store_id) == Placement::Up
                            && info.pending_peers.iter().all(|q| q.id != v.id)
                    })
                    .collect();
                // A voter that cannot take over (Raft refuses to campaign
                // while it has a configuration change to apply) must not
                // hold the move up: the choice turns every few seconds.
                let turn = now_ms.saturating_sub(self.created_ms) / TRANSFER_TURN_MS;
                if let Some(v) = others.get(turn as usize % others.len().max(1)) {
                    Step::TransferLeader((*v).clone()).fill(resp);
                }
                return;
            }
        }
        step.fill(resp);
    }

    /// A short description for logs and the API.
    pub fn describe(&self) -> String {
        let steps: Vec<String> = self.steps.iter().map(Step::describe).collect();
        format!(
            "{}: {} (step {}/{})",
            self.kind.name(),
            steps.join(", then "),
            (self.current + 1).min(self.steps.len()),
            self.steps.len()
        )
    }

    /// The replica this operator will add and the one it will remove, by
    /// store, as far as the Region does not show them yet.
    fn pending_moves(&self, region: &metapb::Region) -> (Option<u64>, Option<u64>) {
        let has = |id: u64| region.peers.iter().any(|p| p.id == id);
        let mut adds = None;
        let mut removes = None;
        for s in &self.steps {
            match s {
                Step::AddLearner(p) if !has(p.id) => adds = Some(p.store_id),
                Step::RemovePeer(p) if has(p.id) => removes = Some(p.store_id),
                _ => {}
            }
        }
        (adds, removes)
    }

    /// The leader move this operator still has to make, as (from, to) stores.
    fn pending_leader_move(&self, info: &RegionInfo) -> Option<(u64, u64)> {
        let from = info.leader.as_ref()?.store_id;
        self.remaining().iter().find_map(|s| match s {
            Step::TransferLeader(p) if p.store_id != from => Some((from, p.store_id)),
            _ => None,
        })
    }
}

fn voters(region: &metapb::Region) -> impl Iterator<Item = &metapb::Peer> {
    region
        .peers
        .iter()
        .filter(|p| p.role == PeerRole::Voter as i32)
}

/// What a store looks like to the schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Up: may take new replicas and leaders.
    Up,
    /// Silent for a while: keeps what it has, gets nothing new.
    Disconnected,
    /// Its replicas must be rebuilt elsewhere (Down, Offline, Tombstone,
    /// or unknown).
    Lost,
}

/// The cluster as the schedulers see it: each store's placement, its
/// Region and leader counts and the load of its hot leaders, including
/// operators in flight.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Placement per store id.
    pub placement: HashMap<u64, Placement>,
    /// Region score per store: the summed [`View::weight`] of its replicas.
    pub regions: HashMap<u64, i64>,
    /// The mean approximate size of a Region (0 if unknown).
    pub mean_region_size: u64,
    /// Leaders per store.
    pub leaders: HashMap<u64, i64>,
    /// Whether balance-region and balance-leader may run.
    pub balance_region: bool,
    /// See `balance_region`.
    pub balance_leader: bool,
    /// Whether hot-region may run.
    pub balance_hot: bool,
    /// Load (keys per second) at or over which a Region is hot; 0 = never.
    pub hot_min_qps: u64,
    /// Summed load of the hot Regions each store leads.
    pub hot_load: HashMap<u64, u64>,
}

impl View {
    fn placement(&self, store: u64) -> Placement {
        self.placement
            .get(&store)
            .copied()
            .unwrap_or(Placement::Lost)
    }

    fn region_score(&self, store: u64) -> i64 {
        self.regions.get(&store).copied().unwrap_or(0)
    }

    /// What one replica of the Region adds to its store's score: 1000
    /// plus 1000 per mean Region size it holds (capped at 10 means), so a
    /// Region of the mean size weighs 2000 and an empty one 1000.
    pub fn weight(&self, info: &RegionInfo) -> i64 {
        let by_size = if self.mean_region_size == 0 {
            1000
        } else {
            (info.approximate_size.saturating_mul(1000) / self.mean_region_size).min(10_000)
        };
        1000 + by_size as i64
    }

    fn leader_count(&self, store: u64) -> i64 {
        self.leaders.get(&store).copied().unwrap_or(0)
    }

    fn hot_load(&self, store: u64) -> u64 {
        self.hot_load.get(&store).copied().unwrap_or(0)
    }

    /// Whether the Region is hot.
    pub fn is_hot(&self, info: &RegionInfo) -> bool {
        self.hot_min_qps > 0 && info.load() >= self.hot_min_qps
    }

    /// Counts the effect of an operator in flight on `info`'s Region.
    pub fn add_in_flight(&mut self, op: &Operator, info: &RegionInfo) {
        let (adds, removes) = op.pending_moves(&info.region);
        let weight = self.weight(info);
        if let Some(s) = adds {
            *self.regions.entry(s).or_default() += weight;
        }
        if let Some(s) = removes {
            *self.regions.entry(s).or_default() -= weight;
        }
        if let Some((from, to)) = op.pending_leader_move(info) {
            *self.leaders.entry(from).or_default() -= 1;
            *self.leaders.entry(to).or_default() += 1;
            if self.is_hot(info) {
                let from_load = self.hot_load.entry(from).or_default();
                *from_load = from_load.saturating_sub(info.load());
                *self.hot_load.entry(to).or_default() += info.load();
            }
        }
    }

    /// The Up store with the lowest Region score that holds none of `region`.
    fn best_target(&self, region: &metapb::Region) -> Option<u64> {
        let mut stores: Vec<u64> = self
            .placement
            .iter()
            .filter(|(id, p)| {
                **p == Placement::Up && region.peers.iter().all(|q| q.store_id != **id)
            })
            .map(|(id, _)| *id)
            .collect();
        stores.sort_by_key(|id| (self.region_score(*id), *id));
        stores.first().copied()
    }
}

/// The next operator for one Region, if it needs one. `new_id` hands out
/// peer ids (called only when a peer is added).
pub fn plan(
    info: &RegionInfo,
    max_replicas: usize,
    view: &View,
    new_id: &mut dyn FnMut() -> u64,
) -> Option<Operator> {
    check_replicas(info, max_replicas, view, new_id)
        .or_else(|| balance_hot_region(info, view))
        .or_else(|| balance_leader(info, view))
        .or_else(|| balance_region(info, max_replicas, view, new_id))
}

fn learner(store_id: u64, id: u64) -> metapb::Peer {
    metapb::Peer {
        id,
        store_id,
        role: PeerRole::Learner as i32,
    }
}

/// The replica checker (see the module docs).
fn check_replicas(
    info: &RegionInfo,
    max_replicas: usize,
    view: &View,
    new_id: &mut dyn FnMut() -> u64,
) -> Option<Operator> {
    let region = &info.region;
    let id = region.id;
    let lost = |p: &metapb::Peer| view.placement(p.store_id) == Placement::Lost;
    let pending = |p: &metapb::Peer| info.pending_peers.iter().any(|q| q.id == p.id);
    let learners: Vec<&metapb::Peer> = region
        .peers
        .iter()
        .filter(|p| p.role == PeerRole::Learner as i32)
        .collect();
    // A learner that can no longer catch up goes first.
    if let Some(l) = learners.iter().find(|p| lost(p)) {
        return Some(Operator::new(
            id,
            OpKind::ReplacePeer,
            vec![Step::RemovePeer((*l).clone())],
        ));
    }
    if let Some(ready) = learners.iter().find(|p| !pending(p)) {
        return Some(Operator::new(
            id,
            OpKind::PromoteLearner,
            vec![Step::PromoteLearner((*ready).clone())],
        ));
    }
    if !learners.is_empty() {
        // A learner is still catching up.
        return None;
    }
    let healthy = region.peers.iter().filter(|p| !lost(p)).count();
    if let Some(bad) = region.peers.iter().find(|p| lost(p)) {
        if healthy >= max_replicas {
            return Some(Operator::new(
                id,
                OpKind::ReplacePeer,
                vec![Step::RemovePeer(bad.clone())],
            ));
        }
        let target = view.best_target(region)?;
        let add = learner(target, new_id());
        return Some(Operator::new(
            id,
            OpKind::ReplacePeer,
            vec![
                Step::AddLearner(add.clone()),
                Step::PromoteLearner(add),
                Step::RemovePeer(bad.clone()),
            ],
        ));
    }
    if region.peers.len() < max_replicas {
        let target = view.best_target(region)?;
        let add = learner(target, new_id());
        return Some(Operator::new(
            id,
            OpKind::AddReplica,
            vec![Step::AddLearner(add)],
        ));
    }
    if region.peers.len() > max_replicas {
        let leader = info.leader.as_ref().map(|l| l.id);
        let extra = region
            .peers
            .iter()
            .filter(|p| Some(p.id) != leader)
            .max_by_key(|p| (view.region_score(p.store_id), p.store_id))?;
        return Some(Operator::new(
            id,
            OpKind::RemoveExtra,
            vec![Step::RemovePeer(extra.clone())],
        ));
    }
    None
}

/// Whether the Region is settled enough to be moved around: fully
/// replicated, no learners, nothing catching up, a known leader.
fn is_stable(info: &RegionInfo, max_replicas: usize) -> bool {
    info.leader.is_some()
        && info.pending_peers.is_empty()
        && info.region.peers.len() == max_replicas
        && voters(&info.region).count() == max_replicas
}

/// hot-region (see the module docs). The leader moves only if the target
/// then carries at most 90% of what the source carries now, so a move
/// never just swaps which store is the hotter one, and noise in the
/// measured load does not move leaders back and forth.
fn balance_hot_region(info: &RegionInfo, view: &View) -> Option<Operator> {
    if !view.balance_hot || !view.is_hot(info) || !info.pending_peers.is_empty() {
        return None;
    }
    let leader = info.leader.as_ref()?;
    let from = view.hot_load(leader.store_id);
    let to = voters(&info.region)
        .filter(|p| p.id != leader.id && view.placement(p.store_id) == Placement::Up)
        .min_by_key(|p| (view.hot_load(p.store_id), p.store_id))?;
    if (view.hot_load(to.store_id) + info.load()) * 10 > from * 9 {
        return None;
    }
    Some(Operator::new(
        info.region.id,
        OpKind::HotRegion,
        vec![Step::TransferLeader(to.clone())],
    ))
}

/// balance-leader (see the module docs).
fn balance_leader(info: &RegionInfo, view: &View) -> Option<Operator> {
    if !view.balance_leader || view.is_hot(info) || !info.pending_peers.is_empty() {
        return None;
    }
    let leader = info.leader.as_ref()?;
    let from = view.leader_count(leader.store_id);
    let to = voters(&info.region)
        .filter(|p| p.id != leader.id && view.placement(p.store_id) == Placement::Up)
        .min_by_key(|p| (view.leader_count(p.store_id), p.store_id))?;
    if from - view.leader_count(to.store_id) < 2 {
        return None;
    }
    Some(Operator::new(
        info.region.id,
        OpKind::BalanceLeader,
        vec![Step::TransferLeader(to.clone())],
    ))
}

/// balance-region (see the module docs).
fn balance_region(
    info: &RegionInfo,
    max_replicas: usize,
    view: &View,
    new_id: &mut dyn FnMut() -> u64,
) -> Option<Operator> {
    if !view.balance_region || view.is_hot(info) || !is_stable(info, max_replicas) {
        return None;
    }
    let region = &info.region;
    let target = view.best_target(region)?;
    let to = view.region_score(target);
    // The most loaded source; among equals, not the leader (no transfer needed).
    let leader = info.leader.as_ref().map(|l| l.id);
    let source = region
        .peers
        .iter()
        .filter(|p| view.placement(p.store_id) != Placement::Lost)
        .max_by_key(|p| {
            (
                view.region_score(p.store_id),
                Some(p.id) != leader,
                p.store_id,
            )
        })?;
    // Only a gap of two weights or more: the move must not merely swap
    // which of the two stores is the fuller one.
    if view.region_score(source.store_id) - to < 2 * view.weight(info) {
        return None;
    }
    let add = learner(target, new_id());
    Some(Operator::new(
        region.id,
        OpKind::BalanceRegion,
        vec![
            Step::AddLearner(add.clone()),
            Step::PromoteLearner(add),
            Step::RemovePeer(source.clone()),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u64, store: u64, learner: bool) -> metapb::Peer {
        let role = if learner {
            PeerRole::Learner
        } else {
            PeerRole::Voter
        };
        metapb::Peer {
            id,
            store_id: store,
            role: role as i32,
        }
    }

    fn info(peers: Vec<metapb::Peer>, pending: Vec<metapb::Peer>) -> RegionInfo {
        let leader = peers.first().cloned();
        RegionInfo {
            region: metapb::Region {
                id: 1,
                peers,
                ..Default::default()
            },
            leader,
            pending_peers: pending,
            ..Default::default()
        }
    }

    /// Stores 1..=n, all Up, with these region counts; leaders as given.
    fn view(regions: &[i64], leaders: &[i64]) -> View {
        let mut v = View {
            balance_region: true,
            balance_leader: true,
            ..View::default()
        };
        for (i, c) in regions.iter().enumerate() {
            let id = i as u64 + 1;
            v.placement.insert(id, Placement::Up);
            // Sizes unknown: every replica weighs 2000.
            v.regions.insert(id, *c * 2000);
            v.leaders.insert(id, leaders.get(i).copied().unwrap_or(0));
        }
        v
    }

    fn ids() -> impl FnMut() -> u64 {
        let mut next = 100;
        move || {
            next += 1;
            next
        }
    }

    #[test]
    fn adds_a_learner_on_the_least_loaded_store_without_a_replica() {
        let i = info(vec![peer(10, 1, false)], vec![]);
        let op = plan(&i, 3, &view(&[0, 5, 2], &[]), &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::AddReplica);
        assert_eq!(op.steps, vec![Step::AddLearner(peer(101, 3, true))]);
    }

    #[test]
    fn promotes_a_learner_only_once_it_caught_up() {
        let learner = peer(11, 2, true);
        let i = info(
            vec![peer(10, 1, false), learner.clone()],
            vec![learner.clone()],
        );
        assert!(plan(&i, 3, &view(&[1, 1, 0], &[]), &mut ids()).is_none());
        let i = info(vec![peer(10, 1, false), learner.clone()], vec![]);
        let op = plan(&i, 3, &view(&[1, 1, 0], &[]), &mut ids()).unwrap();
        assert_eq!(op.steps, vec![Step::PromoteLearner(learner)]);
    }

    #[test]
    fn replaces_a_replica_on_a_lost_store_add_first() {
        let i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        let mut v = view(&[1, 1, 1, 0], &[1, 0, 0, 0]);
        v.placement.insert(3, Placement::Lost);
        let op = plan(&i, 3, &v, &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::ReplacePeer);
        assert_eq!(
            op.steps,
            vec![
                Step::AddLearner(peer(101, 4, true)),
                Step::PromoteLearner(peer(101, 4, true)),
                Step::RemovePeer(peer(12, 3, false)),
            ]
        );
        // Without a store to move to, nothing can be done.
        v.placement.remove(&4);
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
    }

    #[test]
    fn removes_extra_replicas_but_never_the_leader() {
        let i = info(
            vec![
                peer(10, 1, false),
                peer(11, 2, false),
                peer(12, 3, false),
                peer(13, 4, false),
            ],
            vec![],
        );
        let op = plan(&i, 3, &view(&[9, 1, 2, 1], &[]), &mut ids()).unwrap();
        assert_eq!(op.steps, vec![Step::RemovePeer(peer(12, 3, false))]);
    }

    #[test]
    fn balance_region_moves_a_follower_from_the_fullest_store() {
        let i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        let op = plan(&i, 3, &view(&[10, 10, 10, 0], &[3, 3, 4, 0]), &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::BalanceRegion);
        assert_eq!(op.steps[0], Step::AddLearner(peer(101, 4, true)));
        // The leader (peer 10) stays; among the followers the highest store goes.
        assert_eq!(op.steps[2], Step::RemovePeer(peer(12, 3, false)));
        // Within one Region of each other: nothing to do.
        assert!(plan(&i, 3, &view(&[10, 10, 10, 9], &[3, 3, 3, 3]), &mut ids()).is_none());
    }

    #[test]
    fn balance_region_weighs_replicas_by_size() {
        let mut i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        i.approximate_size = 100;
        // Every store holds 10 replicas; stores 1-3 hold Regions of the
        // mean size (weight 2000), store 4 empty ones (weight 1000).
        let mut v = view(&[10, 10, 10, 0], &[3, 3, 4, 0]);
        v.mean_region_size = 100;
        v.regions.insert(4, 10 * 1000);
        let op = plan(&i, 3, &v, &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::BalanceRegion);
        assert_eq!(op.steps[0], Step::AddLearner(peer(101, 4, true)));
        // A big Region (weight 6000) needs a gap of 12000 to move.
        i.approximate_size = 500;
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
        v.regions.insert(4, 0);
        assert!(plan(&i, 3, &v, &mut ids()).is_some());
    }

    #[test]
    fn balance_leader_moves_to_the_voter_leading_least() {
        let i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        let op = plan(&i, 3, &view(&[1, 1, 1], &[5, 3, 2]), &mut ids()).unwrap();
        assert_eq!(op.steps, vec![Step::TransferLeader(peer(12, 3, false))]);
        let mut v = view(&[1, 1, 1], &[5, 3, 2]);
        v.balance_leader = false;
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
    }

    /// A Region led on store 1 carrying `load` keys per second, in a
    /// view where stores lead hot Regions carrying `hot` in all.
    fn hot(load: u64, hot: &[u64]) -> (RegionInfo, View) {
        let mut i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        i.read_qps = load;
        let mut v = view(&[1, 1, 1], &[1, 1, 1]);
        v.balance_hot = true;
        v.hot_min_qps = 100;
        for (s, l) in hot.iter().enumerate() {
            v.hot_load.insert(s as u64 + 1, *l);
        }
        (i, v)
    }

    #[test]
    fn hot_region_moves_a_leader_to_the_coolest_voter_store() {
        let (i, v) = hot(500, &[1000, 600, 0]);
        let op = plan(&i, 3, &v, &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::HotRegion);
        assert_eq!(op.steps, vec![Step::TransferLeader(peer(12, 3, false))]);
        // The only hot Region of its store stays: moving it would just
        // make another store the hot one.
        let (i, v) = hot(500, &[500, 0, 0]);
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
        // Nearly balanced (the target would carry over 90%): no move.
        let (i, v) = hot(100, &[1000, 850, 850]);
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
        // Paused.
        let (i, mut v) = hot(500, &[1000, 600, 0]);
        v.balance_hot = false;
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
    }

    #[test]
    fn count_balancing_leaves_hot_regions_alone() {
        // Store 1 leads 5 Regions, store 3 two: balance-leader would move
        // this one, but it is hot and hot-region keeps it where it is.
        let (i, mut v) = hot(500, &[500, 0, 0]);
        v.leaders = HashMap::from([(1, 5), (2, 3), (3, 2)]);
        assert!(plan(&i, 3, &v, &mut ids()).is_none());
        let (mut i, v) = (i.clone(), v);
        i.read_qps = 10;
        let op = plan(&i, 3, &v, &mut ids()).unwrap();
        assert_eq!(op.kind, OpKind::BalanceLeader);
    }

    #[test]
    fn operators_advance_and_never_remove_the_leader() {
        let mut i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        let mut op = Operator::new(
            1,
            OpKind::BalanceRegion,
            vec![
                Step::AddLearner(peer(13, 4, true)),
                Step::PromoteLearner(peer(13, 4, true)),
                Step::RemovePeer(peer(10, 1, false)),
            ],
        );
        let v = view(&[1, 1, 1, 0], &[]);
        assert!(!op.advance(&i));
        // Added but still catching up: the promotion waits.
        i.region.peers.push(peer(13, 4, true));
        i.pending_peers = vec![peer(13, 4, true)];
        assert!(!op.advance(&i));
        let mut resp = RegionHeartbeatResponse::default();
        op.fill(&i, &v, 0, &mut resp);
        assert!(resp.change_peer.is_none() && resp.transfer_leader.is_none());
        i.pending_peers.clear();
        i.region.peers.pop();
        i.region.peers.push(peer(13, 4, false));
        assert!(!op.advance(&i));
        assert_eq!(op.current, 2);
        // Peer 10 leads: the leader moves first, to each voter in turn
        // while it stays (one may be unable to take over).
        let mut resp = RegionHeartbeatResponse::default();
        op.fill(&i, &v, 0, &mut resp);
        assert!(resp.change_peer.is_none());
        assert_eq!(resp.transfer_leader.unwrap().peer.unwrap().id, 11);
        let mut resp = RegionHeartbeatResponse::default();
        op.fill(&i, &v, TRANSFER_TURN_MS, &mut resp);
        assert_eq!(resp.transfer_leader.unwrap().peer.unwrap().id, 12);
        i.leader = Some(peer(11, 2, false));
        let mut resp = RegionHeartbeatResponse::default();
        op.fill(&i, &v, 0, &mut resp);
        assert_eq!(
            resp.change_peer.unwrap().change_type,
            ChangePeerType::RemovePeer as i32
        );
        i.region.peers.remove(0);
        assert!(op.advance(&i));
    }
}
