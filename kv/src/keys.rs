//! The byte layout of every key a store writes to its `raft` column family.
//!
//! | key                                   | value                    |
//! |---------------------------------------|--------------------------|
//! | `0x01`                                | `StoreIdent`             |
//! | `0x02` region_id:u64be `0x01`         | `RegionLocalState`       |
//! | `0x02` region_id:u64be `0x02`         | raft `HardState`         |
//! | `0x02` region_id:u64be `0x03`         | `RaftApplyState`         |
//! | `0x03` region_id:u64be index:u64be    | raft `Entry`             |
//!
//! Region data lives in the data column families: raw pairs under
//! [`RAW_PREFIX`] ++ the user's key (the raw client adds it), transactional
//! data under `x` ++ the encoded user key (see [`crate::mvcc::key`]).

pub use client::keys::{fmt_key, in_range, MAX_KEY_SIZE, MAX_VALUE_SIZE, RAW_PREFIX};

/// `end` as an explicit exclusive bound for engine range deletions: an empty
/// end (the end of the key space) becomes a key above every valid user key.
pub fn data_end(end: &[u8]) -> Vec<u8> {
    if end.is_empty() {
        vec![0xff; MAX_KEY_SIZE + 1]
    } else {
        end.to_vec()
    }
}

/// A range end clamped to a Region's end (empty means unbounded on both).
pub fn clamp_end(end: &[u8], region_end: &[u8]) -> Vec<u8> {
    match (end.is_empty(), region_end.is_empty()) {
        (true, _) => region_end.to_vec(),
        (false, true) => end.to_vec(),
        (false, false) => end.min(region_end).to_vec(),
    }
}

/// Key of the store's identity (cluster id and store id).
pub const STORE_IDENT_KEY: &[u8] = &[0x01];

/// Key of the highest GC safe point this store applied deletions for
/// (8 bytes, big-endian): reads below it are refused, also after a restart.
pub const GC_SAFE_POINT_KEY: &[u8] = &[0x04];

const REGION_META_PREFIX: u8 = 0x02;
const RAFT_LOG_PREFIX: u8 = 0x03;

const REGION_STATE_SUFFIX: u8 = 0x01;
const HARD_STATE_SUFFIX: u8 = 0x02;
const APPLY_STATE_SUFFIX: u8 = 0x03;

fn region_meta_key(region_id: u64, suffix: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(10);
    k.push(REGION_META_PREFIX);
    k.extend_from_slice(&region_id.to_be_bytes());
    k.push(suffix);
    k
}

/// Key of a Region's `RegionLocalState`.
pub fn region_state_key(region_id: u64) -> Vec<u8> {
    region_meta_key(region_id, REGION_STATE_SUFFIX)
}

/// Key of a Region's Raft hard state.
pub fn hard_state_key(region_id: u64) -> Vec<u8> {
    region_meta_key(region_id, HARD_STATE_SUFFIX)
}

/// Key of a Region's `RaftApplyState`.
pub fn apply_state_key(region_id: u64) -> Vec<u8> {
    region_meta_key(region_id, APPLY_STATE_SUFFIX)
}

/// The range holding every Region's metadata keys.
pub fn region_meta_range() -> (Vec<u8>, Vec<u8>) {
    (vec![REGION_META_PREFIX], vec![REGION_META_PREFIX + 1])
}

/// If `key` is a `RegionLocalState` key, the Region id it belongs to.
pub fn decode_region_state_key(key: &[u8]) -> Option<u64> {
    if key.len() != 10 || key[0] != REGION_META_PREFIX || key[9] != REGION_STATE_SUFFIX {
        return None;
    }
    Some(u64::from_be_bytes(key[1..9].try_into().ok()?))
}

/// Key of the Raft log entry `index` of a Region.
pub fn raft_log_key(region_id: u64, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(RAFT_LOG_PREFIX);
    k.extend_from_slice(&region_id.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The index of a Raft log key.
pub fn raft_log_index(key: &[u8]) -> Option<u64> {
    if key.len() != 17 || key[0] != RAFT_LOG_PREFIX {
        return None;
    }
    Some(u64::from_be_bytes(key[9..17].try_into().ok()?))
}

/// A Region boundary for people: `-` for the open end, a raw key as the
/// user key, a transactional key as `txn:` and the user key, anything else
/// in hex.
pub fn fmt_region_key(key: &[u8]) -> String {
    match key.split_first() {
        None => "-".to_string(),
        Some((&RAW_PREFIX, user)) => fmt_key(user),
        Some((&crate::mvcc::key::TXN_PREFIX, _)) => match crate::mvcc::key::decode_key(key) {
            Ok(user) => format!("txn:{}", fmt_key(&user)),
            Err(_) => format!("0x{}", hex::encode(key)),
        },
        Some(_) => format!("0x{}", hex::encode(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_keys_show_their_key_space() {
        assert_eq!(fmt_region_key(b""), "-");
        assert_eq!(fmt_region_key(b"rabc"), "\"abc\"");
        let txn = crate::mvcc::key::encode_key(b"k1");
        assert_eq!(fmt_region_key(&txn), "txn:\"k1\"");
        assert_eq!(fmt_region_key(b"\x01\x02"), "0x0102");
    }

    #[test]
    fn log_keys_sort_by_region_then_index() {
        assert!(raft_log_key(1, 9) < raft_log_key(1, 10));
        assert!(raft_log_key(1, u64::MAX) < raft_log_key(2, 0));
        assert_eq!(raft_log_index(&raft_log_key(7, 42)), Some(42));
    }

    #[test]
    fn region_state_keys_round_trip() {
        let k = region_state_key(99);
        assert_eq!(decode_region_state_key(&k), Some(99));
        assert_eq!(decode_region_state_key(&hard_state_key(99)), None);
        let (lo, hi) = region_meta_range();
        assert!(k > lo && k < hi);
    }
}
