//! Measuring a Region and choosing where to split it.
//!
//! A leader asks for a check once its Region took enough writes (see
//! `Peer::maybe_check_split`); the check runs off the store loop, over an
//! engine snapshot. A Region over either limit is cut into the fewest equal
//! parts that each fit both limits, so parts start at about half a limit
//! and grow to a full one before they are cut again.
//!
//! Only the `default` column family is measured: it holds raw data, and
//! with transactions it holds the values, which dominate the size.

use protocol::metapb;

use crate::engine::{Cf, Snapshot};
use crate::error::Result;

/// Most parts one check cuts a Region into (a Region far over the limit
/// is cut again at the next check).
const MAX_PARTS: u64 = 64;

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitCheckResult {
    /// Bytes of keys and values in the Region.
    pub size: u64,
    /// Keys in the Region.
    pub keys: u64,
    /// Where to cut it, sorted; empty when it fits both limits.
    pub split_keys: Vec<Vec<u8>>,
}

/// Measures `region` in `snap` and picks split keys when it is larger than
/// `size_limit` bytes or `keys_limit` keys.
pub fn check_region<S: Snapshot>(
    snap: &S,
    region: &metapb::Region,
    size_limit: u64,
    keys_limit: u64,
) -> Result<SplitCheckResult> {
    let (start, end) = (&region.start_key, &region.end_key);
    let (mut size, mut keys) = (0u64, 0u64);
    snap.scan(Cf::Default, start, end, &mut |k, v| {
        size += (k.len() + v.len()) as u64;
        keys += 1;
        true
    })?;
    let parts = size
        .div_ceil(size_limit.max(1))
        .max(keys.div_ceil(keys_limit.max(1)))
        .min(MAX_PARTS);
    let mut result = SplitCheckResult {
        size,
        keys,
        split_keys: Vec::new(),
    };
    if parts < 2 {
        return Ok(result);
    }
    let (part_size, part_keys) = (size.div_ceil(parts), keys.div_ceil(parts));
    let (mut acc_size, mut acc_keys) = (0u64, 0u64);
    let cuts = &mut result.split_keys;
    snap.scan(Cf::Default, start, end, &mut |k, v| {
        // A cut goes before the first key past a full part.
        if acc_keys > 0 && (acc_size >= part_size || acc_keys >= part_keys) {
            cuts.push(k.to_vec());
            acc_size = 0;
            acc_keys = 0;
        }
        acc_size += (k.len() + v.len()) as u64;
        acc_keys += 1;
        (cuts.len() as u64) < parts - 1
    })?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, MemEngine, WriteBatch};

    fn engine_with(n: usize, value_len: usize) -> MemEngine {
        let e = MemEngine::new();
        let mut wb = WriteBatch::default();
        for i in 0..n {
            wb.put(
                Cf::Default,
                format!("k{i:05}").into_bytes(),
                vec![0u8; value_len],
            );
        }
        // Data of other column families is not measured.
        wb.put(Cf::Write, b"k00001".to_vec(), vec![0u8; 1 << 20]);
        e.write(&wb, false).unwrap();
        e
    }

    fn whole() -> metapb::Region {
        metapb::Region::default()
    }

    #[test]
    fn a_small_region_is_not_split() {
        let e = engine_with(100, 94);
        let r = check_region(&e.snapshot(), &whole(), 100_000, 1000).unwrap();
        assert_eq!((r.size, r.keys), (100 * 100, 100));
        assert!(r.split_keys.is_empty());
    }

    #[test]
    fn a_region_over_the_size_limit_is_cut_into_equal_parts() {
        // 1000 entries of 100 bytes = 100 000 bytes; limit 30 000 -> 4 parts.
        let e = engine_with(1000, 94);
        let r = check_region(&e.snapshot(), &whole(), 30_000, 1_000_000).unwrap();
        assert_eq!(
            r.split_keys,
            vec![b"k00250".to_vec(), b"k00500".to_vec(), b"k00750".to_vec()]
        );
    }

    #[test]
    fn a_region_over_the_key_limit_is_cut_too() {
        let e = engine_with(1000, 4);
        let r = check_region(&e.snapshot(), &whole(), u64::MAX, 500).unwrap();
        assert_eq!(r.split_keys, vec![b"k00500".to_vec()]);
    }

    #[test]
    fn only_the_region_range_is_measured() {
        let e = engine_with(1000, 94);
        let region = metapb::Region {
            start_key: b"k00100".to_vec(),
            end_key: b"k00300".to_vec(),
            ..Default::default()
        };
        let r = check_region(&e.snapshot(), &region, 10_000, 1_000_000).unwrap();
        assert_eq!(r.keys, 200);
        assert_eq!(r.split_keys, vec![b"k00200".to_vec()]);
    }
}
