//! An in-memory [`Engine`] for the deterministic simulation and unit tests.
//!
//! Every write is durable the moment it returns (a "crash" in the simulation
//! keeps the engine and drops everything else). Snapshots share the maps
//! copy-on-write, so taking one is O(1) and the first write after it pays
//! for the copy.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{Cf, Engine, Result, Snapshot, WriteBatch, WriteOp};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// All column families, one ordered map each.
#[derive(Clone, Default)]
struct Maps([Arc<Map>; 4]);

/// The in-memory engine.
#[derive(Clone, Default)]
pub struct MemEngine {
    maps: Arc<RwLock<Maps>>,
}

impl MemEngine {
    /// A new, empty engine.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A point-in-time view of a [`MemEngine`].
pub struct MemSnapshot {
    maps: Maps,
}

fn range(start: &[u8], end: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end.to_vec())
    };
    (Bound::Included(start.to_vec()), upper)
}

/// Visits `[start, end)` of `map` in key order, or backwards if `reverse`.
fn scan_map(
    map: &Map,
    start: &[u8],
    end: &[u8],
    reverse: bool,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) {
    if !end.is_empty() && start >= end {
        return;
    }
    let pairs = map.range(range(start, end));
    let pairs: Box<dyn Iterator<Item = (&Vec<u8>, &Vec<u8>)>> = if reverse {
        Box::new(pairs.rev())
    } else {
        Box::new(pairs)
    };
    for (k, v) in pairs {
        if !visit(k, v) {
            break;
        }
    }
}

impl Snapshot for MemSnapshot {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.maps.0[cf as usize].get(key).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        scan_map(&self.maps.0[cf as usize], start, end, false, visit);
        Ok(())
    }

    fn scan_rev(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        scan_map(&self.maps.0[cf as usize], start, end, true, visit);
        Ok(())
    }
}

impl Engine for MemEngine {
    type Snapshot = MemSnapshot;

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.maps.read().0[cf as usize].get(key).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        // Scan a snapshot so `visit` may call back into the engine.
        self.snapshot().scan(cf, start, end, visit)
    }

    fn write(&self, batch: &WriteBatch, _sync: bool) -> Result<()> {
        let mut maps = self.maps.write();
        for op in batch.ops() {
            match op {
                WriteOp::Put { cf, key, value } => {
                    Arc::make_mut(&mut maps.0[*cf as usize]).insert(key.clone(), value.clone());
                }
                WriteOp::Delete { cf, key } => {
                    Arc::make_mut(&mut maps.0[*cf as usize]).remove(key);
                }
                WriteOp::DeleteRange { cf, start, end } => {
                    if start >= end {
                        continue;
                    }
                    let map = Arc::make_mut(&mut maps.0[*cf as usize]);
                    let doomed: Vec<Vec<u8>> = map
                        .range(range(start, end))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in doomed {
                        map.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> MemSnapshot {
        MemSnapshot {
            maps: self.maps.read().clone(),
        }
    }

    fn approximate_size(&self, start: &[u8], end: &[u8]) -> Result<u64> {
        let snap = self.snapshot();
        let mut size = 0u64;
        for cf in Cf::DATA {
            snap.scan(cf, start, end, &mut |k, v| {
                size += (k.len() + v.len()) as u64;
                true
            })?;
        }
        Ok(size)
    }

    fn used_size(&self) -> Result<u64> {
        let maps = self.maps.read();
        let bytes = maps
            .0
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.len() + v.len()) as u64);
        Ok(bytes.sum())
    }
}
