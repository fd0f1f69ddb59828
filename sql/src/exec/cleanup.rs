//! Removing the rows of dropped tables. DROP TABLE only deletes the
//! descriptor (in the statement's transaction); once it committed and the
//! schema lease ran out, the table's keys are deleted in the background, a
//! chunk per transaction. Table ids are never reused, so a table whose
//! descriptor is gone from a committed catalog can have its keys removed
//! safely: each cleanup checks that first (a drop that was rolled back
//! leaves its table alone).

use client::{BufferedTxn, SharedKv, TxnReader};

use crate::catalog::store;
use crate::codec::key::{prefix_end, table_prefix};
use crate::error::Result;

/// Keys deleted per transaction.
const CHUNK: usize = 1000;

/// Deletes, in the background, the keys of the tables `ids` if they are
/// dropped.
pub fn spawn(kv: SharedKv, ids: Vec<u32>) {
    if ids.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for id in ids {
            match remove_dropped(&kv, id).await {
                Ok(n) => tracing::debug!(table = id, keys = n, "removed a dropped table's keys"),
                Err(e) => {
                    tracing::warn!(table = id, error = %e, "could not remove a dropped table's keys")
                }
            }
        }
    });
}

/// Deletes the keys of table `id` if no committed catalog has it; returns
/// how many went.
pub async fn remove_dropped(kv: &SharedKv, id: u32) -> Result<u64> {
    let catalog = store::load(&TxnReader::snapshot(kv.clone()).await?).await?;
    if catalog.by_id(id).is_some() {
        return Ok(0);
    }
    let start = table_prefix(id);
    remove_range(kv, &start, &prefix_end(&start)).await
}

/// Deletes every key of `[start, end)`, a chunk per transaction; returns
/// how many went. For keys nothing reads or writes any more.
pub async fn remove_range(kv: &SharedKv, start: &[u8], end: &[u8]) -> Result<u64> {
    let mut removed = 0u64;
    for _ in 0..100_000 {
        let mut txn = BufferedTxn::begin(kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
        let page = txn.reader().scan(start, end, CHUNK, 4 << 20).await?;
        if page.pairs.is_empty() {
            return Ok(removed);
        }
        let n = page.pairs.len() as u64;
        for p in page.pairs {
            txn.delete(p.key)?;
        }
        match txn.commit().await {
            Ok(_) => removed += n,
            Err(client::Error::TxnConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}
