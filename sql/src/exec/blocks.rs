//! Blocks of numbers taken from a counter in the KV store, handed out from
//! memory: hidden row ids of tables without a primary key, and the values
//! of sequences (their runs live in [`SequenceBlocks`], which knows
//! increments, bounds and cycling; see `exec::sequence`).
//!
//! A node takes [`BLOCK`] numbers at a time in a short transaction of its
//! own, so numbers are unique across SQL nodes, increase within a node,
//! and a restart loses at most the rest of a block (gaps are allowed, as
//! in PostgreSQL's sequences).

use std::collections::HashMap;
use std::sync::Arc;

use client::{BufferedTxn, SharedKv};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::exec::sequence::SequenceBlocks;

/// Numbers taken at once.
const BLOCK: u64 = 1000;

/// Counters' blocks held by this node, by counter key. Clones share the
/// blocks: a node has one, and every session's sequence functions hold a
/// clone of it.
#[derive(Default, Clone)]
pub struct Blocks {
    held: Arc<Mutex<HashMap<Vec<u8>, (u64, u64)>>>,
    /// Held while a block is taken: sessions that find a block used up
    /// together wait for one to take the next (no block taken and lost).
    refilling: Arc<tokio::sync::Mutex<()>>,
    sequences: SequenceBlocks,
}

impl Blocks {
    /// The runs of sequence values this node holds.
    pub fn sequences(&self) -> &SequenceBlocks {
        &self.sequences
    }

    /// The next number of the counter at `key` (numbers start at 1).
    pub async fn next(&self, kv: &SharedKv, key: &[u8]) -> Result<u64> {
        if let Some(n) = self.take_held(key) {
            return Ok(n);
        }
        let _refilling = self.refilling.lock().await;
        if let Some(n) = self.take_held(key) {
            return Ok(n);
        }
        let (start, end) = take_block(kv, key).await?;
        self.held.lock().insert(key.to_vec(), (start + 1, end));
        Ok(start)
    }

    /// The next number of the block held for `key`, if one is left.
    fn take_held(&self, key: &[u8]) -> Option<u64> {
        let mut held = self.held.lock();
        let (next, end) = held.get_mut(key)?;
        (*next < *end).then(|| {
            *next += 1;
            *next - 1
        })
    }
}

async fn take_block(kv: &SharedKv, key: &[u8]) -> Result<(u64, u64)> {
    for _ in 0..20 {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        let start = match txn.reader().get(key).await? {
            Some(v) => u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| Error::internal("corrupted counter"))?,
            ),
            None => 1,
        };
        let end = start + BLOCK;
        txn.put(key.to_vec(), end.to_be_bytes().to_vec())?;
        match txn.commit().await {
            Ok(_) => return Ok((start, end)),
            Err(client::Error::TxnConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(
        crate::error::code::SERIALIZATION_FAILURE,
        "could not allocate numbers: too much contention",
    ))
}

/// Key of the hidden row id counter of a table.
pub fn rowid_counter_key(table_id: u32) -> Vec<u8> {
    let mut k = b"mr".to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

/// A hidden row id for the `n`th number of a table's counter: the top bits
/// are a hash of `n`, so consecutive inserts spread over 16 key ranges
/// (and Regions) instead of all landing at the table's end.
pub fn spread_rowid(n: u64) -> i64 {
    let mut h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    let shard = h & 0xF;
    ((shard << 59) | (n & ((1 << 59) - 1))) as i64
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn row_ids_are_unique_and_spread() {
        let ids: Vec<i64> = (1..=10_000).map(spread_rowid).collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        let shards: HashSet<i64> = ids.iter().map(|i| i >> 59).collect();
        assert_eq!(shards.len(), 16);
        assert!(ids.iter().all(|i| *i >= 0));
    }

    #[tokio::test]
    async fn blocks_hand_out_increasing_unique_numbers() {
        let kv: SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let (a, b) = (Blocks::default(), Blocks::default());
        let mut seen = HashSet::new();
        let mut last = 0;
        for _ in 0..1500 {
            let n = a.next(&kv, b"mtest").await.unwrap();
            assert!(n > last);
            last = n;
            assert!(seen.insert(n));
            assert!(seen.insert(b.next(&kv, b"mtest").await.unwrap()));
        }
    }
}
