//! Measuring a Region and choosing where to split it.
//!
//! A leader asks for a check once its Region took enough writes (see
//! `Peer::maybe_check_split`); the check runs off the store loop, over an
//! engine snapshot. A Region over either limit is cut into the fewest equal
//! parts that each fit both limits, so parts start at about half a limit
//! and grow to a full one before they are cut again.
//!
//! The `default` column family (raw pairs, large transactional values) and
//! the `write` column family (commit records, with small values inline)
//! are measured; a key is a raw pair or a committed version. Cuts are
//! placed by whichever of the two holds more bytes, and a cut in the
//! transactional key space is a user key, never between its versions.

use protocol::metapb;

use crate::engine::{Cf, Snapshot};
use crate::error::Result;
use crate::mvcc::key::{truncate_version, TXN_PREFIX};

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
    let (default_size, raw_keys) = measure(snap, Cf::Default, start, end)?;
    let (write_size, versions) = measure(snap, Cf::Write, start, end)?;
    let (size, keys) = (default_size + write_size, raw_keys + versions);
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
    let (cf, cf_size, cf_keys) = if write_size > default_size {
        (Cf::Write, write_size, versions)
    } else {
        (Cf::Default, default_size, raw_keys)
    };
    let (part_size, part_keys) = (cf_size.div_ceil(parts), cf_keys.div_ceil(parts).max(1));
    let (mut acc_size, mut acc_keys) = (0u64, 0u64);
    let cuts = &mut result.split_keys;
    snap.scan(cf, start, end, &mut |k, v| {
        // A cut goes before the first key past a full part.
        if acc_keys > 0 && (acc_size >= part_size || acc_keys >= part_keys) {
            let cut = truncate_version(k);
            let after_last = cuts.last().map_or(start.as_slice(), |c| c.as_slice());
            if cut > after_last {
                cuts.push(cut.to_vec());
                acc_size = 0;
                acc_keys = 0;
            }
        }
        acc_size += (k.len() + v.len()) as u64;
        acc_keys += 1;
        (cuts.len() as u64) < parts - 1
    })?;
    Ok(result)
}

/// Bytes and keys of `cf` in `[start, end)`. Transactional values in the
/// `default` column family count bytes only: their versions are counted
/// in `write`.
fn measure<S: Snapshot>(snap: &S, cf: Cf, start: &[u8], end: &[u8]) -> Result<(u64, u64)> {
    let (mut size, mut keys) = (0u64, 0u64);
    snap.scan(cf, start, end, &mut |k, v| {
        size += (k.len() + v.len()) as u64;
        if cf == Cf::Write || k.first() != Some(&TXN_PREFIX) {
            keys += 1;
        }
        true
    })?;
    Ok((size, keys))
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
        // Locks are not measured.
        wb.put(Cf::Lock, b"k00001".to_vec(), vec![0u8; 1 << 20]);
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

    #[test]
    fn transactional_data_is_cut_between_keys_never_between_versions() {
        use crate::mvcc::key::{append_ts, encode_key};
        let e = MemEngine::new();
        let mut wb = WriteBatch::default();
        // 100 keys with 10 versions each, values inline in `write`.
        for i in 0..100 {
            let key = encode_key(format!("k{i:03}").as_bytes());
            for ts in 1..=10u64 {
                wb.put(Cf::Write, append_ts(&key, ts), vec![0u8; 50]);
            }
        }
        e.write(&wb, false).unwrap();
        let r = check_region(&e.snapshot(), &whole(), u64::MAX, 250).unwrap();
        assert_eq!(r.keys, 1000);
        assert_eq!(r.split_keys.len(), 3);
        for (i, cut) in r.split_keys.iter().enumerate() {
            assert_eq!(*cut, encode_key(format!("k{:03}", (i + 1) * 25).as_bytes()));
        }
    }
}
