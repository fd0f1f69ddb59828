//! `RegionCache`: the client's map of Regions and their leaders.
//!
//! Filled lazily from PD, corrected by the routing errors stores return:
//! `NotLeader` moves the leader, `EpochNotMatch` replaces the Region with
//! its current shape, anything else drops the entry so the next lookup asks
//! PD again. Invariant: cached Regions never overlap (an insert evicts every
//! entry it overlaps).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use protocol::metapb::{self, PeerRole};

use crate::error::Result;
use crate::pd_client::{PdClient, RegionRoute};

/// The client's Region map.
pub struct RegionCache<P: PdClient> {
    pd: Arc<P>,
    by_start: RwLock<BTreeMap<Vec<u8>, RegionRoute>>,
}

fn overlaps(r: &metapb::Region, start: &[u8], end: &[u8]) -> bool {
    (end.is_empty() || r.start_key.as_slice() < end)
        && (r.end_key.is_empty() || start < r.end_key.as_slice())
}

fn contains(r: &metapb::Region, key: &[u8]) -> bool {
    crate::keys::in_range(key, &r.start_key, &r.end_key)
}

impl<P: PdClient> RegionCache<P> {
    /// An empty cache that asks `pd` on a miss.
    pub fn new(pd: Arc<P>) -> Self {
        RegionCache {
            pd,
            by_start: RwLock::new(BTreeMap::new()),
        }
    }

    /// The PD client behind the cache.
    pub fn pd(&self) -> &Arc<P> {
        &self.pd
    }

    fn cached(&self, key: &[u8]) -> Option<RegionRoute> {
        let map = self.by_start.read();
        let (_, r) = map.range(..=key.to_vec()).next_back()?;
        contains(&r.region, key).then(|| r.clone())
    }

    /// The Region holding `key`, from the cache or PD.
    pub async fn locate(&self, key: &[u8]) -> Result<RegionRoute> {
        if let Some(r) = self.cached(key) {
            return Ok(r);
        }
        let r = self.pd.get_region(key.to_vec()).await?;
        self.insert(r.clone());
        Ok(r)
    }

    /// Caches `route`, evicting every entry it overlaps.
    pub fn insert(&self, route: RegionRoute) {
        let mut map = self.by_start.write();
        let (start, end) = (route.region.start_key.clone(), route.region.end_key.clone());
        let doomed: Vec<Vec<u8>> = map
            .iter()
            .filter(|(_, r)| overlaps(&r.region, &start, &end))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            map.remove(&k);
        }
        map.insert(start, route);
    }

    /// Drops a Region so the next lookup asks PD.
    pub fn invalidate(&self, region_id: u64) {
        self.by_start
            .write()
            .retain(|_, r| r.region.id != region_id);
    }

    /// A store said `leader` leads `region_id`.
    pub fn update_leader(&self, region_id: u64, leader: metapb::Peer) {
        let mut map = self.by_start.write();
        if let Some(r) = map.values_mut().find(|r| r.region.id == region_id) {
            if r.region.peers.iter().any(|p| p.id == leader.id) {
                r.leader = Some(leader);
            } else {
                // A leader we do not know as a member: our Region is stale.
                let start = r.region.start_key.clone();
                map.remove(&start);
            }
        }
    }

    /// A store answered with the Regions' current shapes.
    pub fn on_epoch_not_match(&self, region_id: u64, current: Vec<metapb::Region>) {
        let old_leader = self
            .by_start
            .read()
            .values()
            .find(|r| r.region.id == region_id)
            .and_then(|r| r.leader.clone());
        self.invalidate(region_id);
        for region in current {
            let leader = old_leader
                .clone()
                .filter(|l| region.peers.iter().any(|p| p.id == l.id));
            self.insert(RegionRoute { region, leader });
        }
    }

    /// The store of the peer we tried for `region_id` did not answer: try
    /// the next voter next time.
    pub fn on_peer_unreachable(&self, region_id: u64, store_id: u64) {
        let mut map = self.by_start.write();
        let Some(r) = map.values_mut().find(|r| r.region.id == region_id) else {
            return;
        };
        let voters: Vec<&metapb::Peer> = r
            .region
            .peers
            .iter()
            .filter(|p| p.role == PeerRole::Voter as i32)
            .collect();
        let pos = voters.iter().position(|p| p.store_id == store_id);
        r.leader = match pos {
            Some(i) if voters.len() > 1 => Some(voters[(i + 1) % voters.len()].clone()),
            _ => None,
        };
    }
}

/// The peer a request for `route` should go to: the leader, or a voter.
pub fn target_peer(route: &RegionRoute) -> Option<metapb::Peer> {
    route.leader.clone().or_else(|| {
        route
            .region
            .peers
            .iter()
            .find(|p| p.role == PeerRole::Voter as i32)
            .cloned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use protocol::metapb::RegionEpoch;

    /// A PD that answers from a fixed, possibly stale, list of Regions.
    struct StalePd {
        regions: Mutex<Vec<RegionRoute>>,
        asked: Mutex<usize>,
    }

    impl PdClient for StalePd {
        async fn get_region(&self, key: Vec<u8>) -> Result<RegionRoute> {
            *self.asked.lock() += 1;
            self.regions
                .lock()
                .iter()
                .find(|r| contains(&r.region, &key))
                .cloned()
                .ok_or_else(|| crate::error::Error::Pd("no region".into()))
        }
        async fn scan_regions(&self, _: Vec<u8>, _: Vec<u8>, _: u32) -> Result<Vec<RegionRoute>> {
            Ok(self.regions.lock().clone())
        }
        async fn get_store(&self, id: u64) -> Result<metapb::Store> {
            Ok(metapb::Store {
                id,
                ..Default::default()
            })
        }
    }

    fn peer(id: u64, store: u64) -> metapb::Peer {
        metapb::Peer {
            id,
            store_id: store,
            role: PeerRole::Voter as i32,
        }
    }

    fn route(id: u64, start: &str, end: &str, version: u64, leader: Option<u64>) -> RegionRoute {
        let peers = vec![
            peer(id * 10 + 1, 1),
            peer(id * 10 + 2, 2),
            peer(id * 10 + 3, 3),
        ];
        let leader = leader.map(|s| peers[(s - 1) as usize].clone());
        RegionRoute {
            region: metapb::Region {
                id,
                start_key: start.into(),
                end_key: end.into(),
                region_epoch: Some(RegionEpoch {
                    conf_ver: 1,
                    version,
                }),
                peers,
            },
            leader,
        }
    }

    fn cache(routes: Vec<RegionRoute>) -> (RegionCache<StalePd>, Arc<StalePd>) {
        let pd = Arc::new(StalePd {
            regions: Mutex::new(routes),
            asked: Mutex::new(0),
        });
        (RegionCache::new(pd.clone()), pd)
    }

    #[tokio::test]
    async fn caches_lookups() {
        let (c, pd) = cache(vec![route(1, "", "", 1, Some(1))]);
        c.locate(b"a").await.unwrap();
        c.locate(b"z").await.unwrap();
        assert_eq!(*pd.asked.lock(), 1);
    }

    #[tokio::test]
    async fn epoch_not_match_replaces_the_stale_region() {
        // PD still reports the unsplit Region; a store tells us the truth.
        let (c, _) = cache(vec![route(1, "", "", 1, Some(2))]);
        c.locate(b"a").await.unwrap();
        c.on_epoch_not_match(
            1,
            vec![
                route(1, "", "m", 2, None).region,
                route(2, "m", "", 2, None).region,
            ],
        );
        let r = c.locate(b"x").await.unwrap();
        assert_eq!(r.region.id, 2);
        let r = c.locate(b"a").await.unwrap();
        assert_eq!(r.region.region_epoch.unwrap().version, 2);
        // The old leader stays a good guess when it is still a member.
        assert_eq!(r.leader.unwrap().store_id, 2);
    }

    #[tokio::test]
    async fn not_leader_and_unreachable_move_the_target() {
        let (c, _) = cache(vec![route(1, "", "", 1, Some(1))]);
        c.locate(b"a").await.unwrap();
        c.update_leader(1, peer(13, 3));
        assert_eq!(
            target_peer(&c.locate(b"a").await.unwrap())
                .unwrap()
                .store_id,
            3
        );
        c.on_peer_unreachable(1, 3);
        assert_eq!(
            target_peer(&c.locate(b"a").await.unwrap())
                .unwrap()
                .store_id,
            1
        );
        // A leader that is not a member means our Region is stale: ask PD.
        c.update_leader(1, peer(99, 9));
        assert!(c.cached(b"a").is_none());
    }
}
