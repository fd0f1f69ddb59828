//! Operators and the replica checker.
//!
//! An operator is one membership step for one Region (add a learner, promote
//! it, remove a peer). PD keeps at most one per Region, hands it to the
//! Region's leader in every heartbeat response until the Region's reported
//! shape shows it done, and drops it after a timeout so it is re-planned
//! from the Region's then-current state. Carrying a step out twice is
//! harmless: the leader ignores a step its Region already reflects.

use protocol::metapb::{self, PeerRole};
use protocol::pdpb::{ChangePeer, ChangePeerType};

use crate::region_tree::RegionInfo;

/// One pending membership step.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The Region it changes.
    pub region_id: u64,
    /// The step.
    pub step: ChangePeer,
    /// When it was created (ms since the epoch).
    pub created_ms: u64,
}

impl Operator {
    /// Whether `region` already reflects the step.
    pub fn is_done(&self, region: &metapb::Region) -> bool {
        let Some(target) = &self.step.peer else {
            return true;
        };
        let found = region.peers.iter().find(|p| p.id == target.id);
        match ChangePeerType::try_from(self.step.change_type) {
            Ok(ChangePeerType::AddLearner) => found.is_some(),
            Ok(ChangePeerType::PromoteLearner) => {
                found.is_some_and(|p| p.role == PeerRole::Voter as i32)
            }
            Ok(ChangePeerType::RemovePeer) | Err(_) => found.is_none(),
        }
    }

    /// The kind of step, e.g. `AddLearner`.
    pub fn kind(&self) -> &'static str {
        ChangePeerType::try_from(self.step.change_type)
            .map(|t| t.as_str_name())
            .unwrap_or("Unknown")
    }

    /// A short description for logs and the HTTP API.
    pub fn describe(&self) -> String {
        let kind = self.kind();
        let p = self.step.peer.clone().unwrap_or_default();
        format!("{kind} peer {} on store {}", p.id, p.store_id)
    }
}

/// A store a new replica may be placed on.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The store.
    pub store_id: u64,
    /// Regions it holds now (fewer is better).
    pub region_count: usize,
}

/// What the Region needs next to reach `max_replicas` healthy replicas:
/// promote a caught-up learner, or add a learner on the least loaded store
/// that holds no replica of it. `new_peer_id` is called only when a peer is
/// added.
pub fn check_replicas(
    info: &RegionInfo,
    max_replicas: usize,
    candidates: &[Candidate],
    new_peer_id: &mut dyn FnMut() -> u64,
) -> Option<ChangePeer> {
    let region = &info.region;
    let is_pending = |p: &metapb::Peer| info.pending_peers.iter().any(|q| q.id == p.id);
    let learners: Vec<&metapb::Peer> = region
        .peers
        .iter()
        .filter(|p| p.role == PeerRole::Learner as i32)
        .collect();
    if let Some(ready) = learners.iter().find(|p| !is_pending(p)) {
        return Some(ChangePeer {
            change_type: ChangePeerType::PromoteLearner as i32,
            peer: Some((*ready).clone()),
        });
    }
    if !learners.is_empty() || region.peers.len() >= max_replicas {
        // A learner is still catching up, or the Region is complete.
        return None;
    }
    let target = candidates
        .iter()
        .filter(|c| region.peers.iter().all(|p| p.store_id != c.store_id))
        .min_by_key(|c| (c.region_count, c.store_id))?;
    Some(ChangePeer {
        change_type: ChangePeerType::AddLearner as i32,
        peer: Some(metapb::Peer {
            id: new_peer_id(),
            store_id: target.store_id,
            role: PeerRole::Learner as i32,
        }),
    })
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
        RegionInfo {
            region: metapb::Region {
                id: 1,
                peers,
                ..Default::default()
            },
            pending_peers: pending,
            ..Default::default()
        }
    }

    fn stores(ids: &[(u64, usize)]) -> Vec<Candidate> {
        ids.iter()
            .map(|&(store_id, region_count)| Candidate {
                store_id,
                region_count,
            })
            .collect()
    }

    #[test]
    fn adds_a_learner_on_the_least_loaded_store_without_a_replica() {
        let i = info(vec![peer(10, 1, false)], vec![]);
        let mut next = 100;
        let op = check_replicas(&i, 3, &stores(&[(1, 0), (2, 5), (3, 2)]), &mut || {
            next += 1;
            next
        })
        .unwrap();
        assert_eq!(op.change_type, ChangePeerType::AddLearner as i32);
        assert_eq!(op.peer.unwrap(), peer(101, 3, true));
    }

    #[test]
    fn promotes_a_learner_only_once_it_caught_up() {
        let learner = peer(11, 2, true);
        let i = info(
            vec![peer(10, 1, false), learner.clone()],
            vec![learner.clone()],
        );
        assert!(check_replicas(&i, 3, &stores(&[(3, 0)]), &mut || 99).is_none());
        let i = info(vec![peer(10, 1, false), learner.clone()], vec![]);
        let op = check_replicas(&i, 3, &stores(&[(3, 0)]), &mut || 99).unwrap();
        assert_eq!(op.change_type, ChangePeerType::PromoteLearner as i32);
    }

    #[test]
    fn complete_regions_and_missing_stores_need_nothing() {
        let i = info(
            vec![peer(10, 1, false), peer(11, 2, false), peer(12, 3, false)],
            vec![],
        );
        assert!(check_replicas(&i, 3, &stores(&[(4, 0)]), &mut || 99).is_none());
        let i = info(vec![peer(10, 1, false)], vec![]);
        assert!(check_replicas(&i, 3, &stores(&[(1, 0)]), &mut || 99).is_none());
    }
}
