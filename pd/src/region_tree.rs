//! The routing table: which Region holds which key range.
//!
//! Invariant: Regions in the tree never overlap. A Region reported with a
//! newer epoch replaces every Region it overlaps; a Region reported with an
//! older epoch than one it overlaps is stale and ignored.

use std::collections::{BTreeMap, HashMap};

use protocol::metapb;

/// What PD knows of one Region.
#[derive(Debug, Clone, Default)]
pub struct RegionInfo {
    /// Shape, epoch and peers.
    pub region: metapb::Region,
    /// The leader, as last reported.
    pub leader: Option<metapb::Peer>,
    /// The term of the last accepted leader report.
    pub term: u64,
    /// Peers far behind the leader.
    pub pending_peers: Vec<metapb::Peer>,
    /// Approximate bytes of data.
    pub approximate_size: u64,
    /// Approximate number of keys.
    pub approximate_keys: u64,
    /// Keys read per second through the leader, as last reported.
    pub read_qps: u64,
    /// Keys written per second through the leader, as last reported.
    pub write_qps: u64,
}

impl RegionInfo {
    /// Keys read and written per second: the Region's load.
    pub fn load(&self) -> u64 {
        self.read_qps + self.write_qps
    }
}

/// Regions by id and by start key.
#[derive(Debug, Default)]
pub struct RegionTree {
    regions: HashMap<u64, RegionInfo>,
    by_start: BTreeMap<Vec<u8>, u64>,
}

fn epoch(r: &metapb::Region) -> (u64, u64) {
    let e = r.region_epoch.clone().unwrap_or_default();
    (e.version, e.conf_ver)
}

fn overlaps(a: &metapb::Region, start: &[u8], end: &[u8]) -> bool {
    let a_before_end = end.is_empty() || a.start_key.as_slice() < end;
    let a_after_start = a.end_key.is_empty() || start < a.end_key.as_slice();
    a_before_end && a_after_start
}

/// The outcome of offering a Region to the tree.
#[derive(Debug, PartialEq, Eq)]
pub enum Update {
    /// The Region is older than what the tree holds; nothing changed.
    Stale,
    /// Same shape, epoch and peers as before.
    Unchanged,
    /// The tree changed (it must be persisted).
    Changed,
}

impl RegionTree {
    /// Number of Regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The Region with this id.
    pub fn get(&self, id: u64) -> Option<&RegionInfo> {
        self.regions.get(&id)
    }

    /// The Region with this id, mutable (for soft state only).
    pub fn get_mut(&mut self, id: u64) -> Option<&mut RegionInfo> {
        self.regions.get_mut(&id)
    }

    /// The Region holding `key`.
    pub fn get_by_key(&self, key: &[u8]) -> Option<&RegionInfo> {
        let (_, id) = self.by_start.range(..=key.to_vec()).next_back()?;
        let info = self.regions.get(id)?;
        let end = &info.region.end_key;
        (end.is_empty() || key < end.as_slice()).then_some(info)
    }

    /// Regions overlapping `[start, end)` in key order (empty end =
    /// unbounded), at most `limit` of them (0 = all).
    pub fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<&RegionInfo> {
        let mut out = Vec::new();
        // The Region holding `start` begins at or before it.
        let first = self
            .get_by_key(start)
            .map(|i| i.region.start_key.clone())
            .unwrap_or_else(|| start.to_vec());
        for (_, id) in self.by_start.range(first..) {
            let Some(info) = self.regions.get(id) else {
                continue;
            };
            if !end.is_empty() && info.region.start_key.as_slice() >= end {
                break;
            }
            if overlaps(&info.region, start, end) {
                out.push(info);
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
        }
        out
    }

    /// Every Region, in key order.
    pub fn all(&self) -> Vec<&RegionInfo> {
        self.by_start
            .values()
            .filter_map(|id| self.regions.get(id))
            .collect()
    }

    /// Offers a Region's current shape; replaces what it supersedes.
    pub fn update(&mut self, region: &metapb::Region) -> Update {
        let (start, end) = (&region.start_key, &region.end_key);
        let new_epoch = epoch(region);
        if let Some(old) = self.regions.get(&region.id) {
            let old_epoch = epoch(&old.region);
            if new_epoch.0 < old_epoch.0 || new_epoch.1 < old_epoch.1 {
                return Update::Stale;
            }
            if old.region == *region {
                return Update::Unchanged;
            }
        }
        let overlapping: Vec<u64> = self
            .scan(start, end, 0)
            .into_iter()
            .filter(|i| i.region.id != region.id)
            .map(|i| i.region.id)
            .collect();
        for id in &overlapping {
            if let Some(other) = self.regions.get(id) {
                if epoch(&other.region).0 > new_epoch.0 {
                    return Update::Stale;
                }
            }
        }
        for id in overlapping {
            self.remove(id);
        }
        let mut info = self.remove(region.id).unwrap_or_default();
        info.region = region.clone();
        self.by_start.insert(region.start_key.clone(), region.id);
        self.regions.insert(region.id, info);
        Update::Changed
    }

    fn remove(&mut self, id: u64) -> Option<RegionInfo> {
        let info = self.regions.remove(&id)?;
        if self.by_start.get(&info.region.start_key) == Some(&id) {
            self.by_start.remove(&info.region.start_key);
        }
        Some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(id: u64, start: &str, end: &str, version: u64) -> metapb::Region {
        metapb::Region {
            id,
            start_key: start.as_bytes().to_vec(),
            end_key: end.as_bytes().to_vec(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version,
            }),
            peers: vec![],
        }
    }

    #[test]
    fn routes_keys_and_scans_in_order() {
        let mut t = RegionTree::default();
        t.update(&region(1, "", "m", 2));
        t.update(&region(2, "m", "", 2));
        assert_eq!(t.get_by_key(b"a").unwrap().region.id, 1);
        assert_eq!(t.get_by_key(b"m").unwrap().region.id, 2);
        assert_eq!(t.get_by_key(b"").unwrap().region.id, 1);
        let ids: Vec<u64> = t.scan(b"b", b"", 0).iter().map(|i| i.region.id).collect();
        assert_eq!(ids, vec![1, 2]);
        let ids: Vec<u64> = t.scan(b"n", b"z", 0).iter().map(|i| i.region.id).collect();
        assert_eq!(ids, vec![2]);
        assert_eq!(t.scan(b"", b"", 1).len(), 1);
    }

    #[test]
    fn newer_epoch_wins_and_stale_reports_are_ignored() {
        let mut t = RegionTree::default();
        assert_eq!(t.update(&region(1, "", "", 1)), Update::Changed);
        // A split: region 1 shrinks, region 2 appears.
        assert_eq!(t.update(&region(1, "", "m", 2)), Update::Changed);
        assert_eq!(t.update(&region(2, "m", "", 2)), Update::Changed);
        // The old, unsplit shape comes late: ignored.
        assert_eq!(t.update(&region(1, "", "", 1)), Update::Stale);
        assert_eq!(t.update(&region(2, "m", "", 2)), Update::Unchanged);
        assert_eq!(t.len(), 2);
    }
}
