//! What keeps transactional commands on the same keys apart inside a store.
//!
//! - [`Latches`]: a command that reads keys and then writes them (prewrite,
//!   commit, rollback, …) holds their latches from its snapshot until its
//!   write is applied, so no other command on those keys interleaves. Keys
//!   hash onto a fixed set of slots, taken in slot order (no deadlock); two
//!   keys sharing a slot only wait for each other.
//! - [`MemLocks`]: a one-phase commit takes its commit timestamp from PD
//!   and then writes. In between, a reader with a later timestamp must not
//!   read the keys (it would miss a write committed before it), so the
//!   keys are marked here before the timestamp is fetched, and readers
//!   wait for the mark to go.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{Notify, OwnedMutexGuard};

/// Latch slots of a store.
const SLOTS: usize = 2048;

/// Per-key latches (see the module docs).
pub struct Latches {
    slots: Vec<Arc<tokio::sync::Mutex<()>>>,
    hasher: RandomState,
}

/// Held latches; dropping it releases them.
pub struct LatchGuard {
    _held: Vec<OwnedMutexGuard<()>>,
}

impl Default for Latches {
    fn default() -> Self {
        Latches {
            slots: (0..SLOTS)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Latches {
    /// Waits until this command holds the latches of all `keys`.
    pub async fn acquire<K: AsRef<[u8]>>(&self, keys: &[K]) -> LatchGuard {
        let mut slots: Vec<usize> = keys
            .iter()
            .map(|k| self.hasher.hash_one(k.as_ref()) as usize % SLOTS)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let mut held = Vec::with_capacity(slots.len());
        for s in slots {
            held.push(self.slots[s].clone().lock_owned().await);
        }
        LatchGuard { _held: held }
    }
}

/// Keys of one-phase commits in flight (see the module docs), as (key,
/// start_ts): several transactions may mark one key at once, and each
/// mark goes only with its own transaction.
#[derive(Default)]
pub struct MemLocks {
    marks: Mutex<BTreeSet<(Vec<u8>, u64)>>,
    released: Notify,
}

/// Marks of one 1PC; dropping it removes them and wakes waiting readers.
pub struct MemLockGuard {
    locks: Arc<MemLocks>,
    marks: Vec<(Vec<u8>, u64)>,
}

impl Drop for MemLockGuard {
    fn drop(&mut self) {
        let mut set = self.locks.marks.lock();
        for m in &self.marks {
            set.remove(m);
        }
        drop(set);
        self.locks.released.notify_waiters();
    }
}

/// Longest a reader waits for a 1PC before it gives up and lets the client
/// retry (a 1PC holds its marks only for one Raft write).
const MAX_WAIT: Duration = Duration::from_secs(5);

/// A 1PC that may commit below a reader's timestamp was still in flight
/// when the reader stopped waiting: the read must not go ahead.
#[derive(Debug)]
pub struct StillCommitting;

impl MemLocks {
    /// Marks `keys` (encoded) as being committed by transaction `start_ts`.
    pub fn lock(self: &Arc<Self>, keys: Vec<Vec<u8>>, start_ts: u64) -> MemLockGuard {
        let marks: Vec<(Vec<u8>, u64)> = keys.into_iter().map(|k| (k, start_ts)).collect();
        self.marks.lock().extend(marks.iter().cloned());
        MemLockGuard {
            locks: self.clone(),
            marks,
        }
    }

    /// Whether a read at `read_ts` of the encoded range `[start, end)` (an
    /// empty end: unbounded) must wait.
    fn blocked(&self, start: &[u8], end: &[u8], read_ts: u64) -> bool {
        let set = self.marks.lock();
        // The common case, on every read: no 1PC in flight at all.
        if set.is_empty() {
            return false;
        }
        for (k, start_ts) in set.range((start.to_vec(), 0)..) {
            if !end.is_empty() && k.as_slice() >= end {
                break;
            }
            if *start_ts < read_ts {
                return true;
            }
        }
        false
    }

    /// Waits until no 1PC that may commit before `read_ts` is in flight on
    /// the encoded range `[start, end)`; fails if one still is after
    /// [`MAX_WAIT`] (reading then could miss its commit).
    pub async fn wait_clear(
        &self,
        start: &[u8],
        end: &[u8],
        read_ts: u64,
    ) -> Result<(), StillCommitting> {
        self.wait_clear_within(start, end, read_ts, MAX_WAIT).await
    }

    async fn wait_clear_within(
        &self,
        start: &[u8],
        end: &[u8],
        read_ts: u64,
        max_wait: Duration,
    ) -> Result<(), StillCommitting> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let released = self.released.notified();
            if !self.blocked(start, end, read_ts) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(StillCommitting);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latches_serialise_commands_on_a_key() {
        let latches = Arc::new(Latches::default());
        let first = latches.acquire(&[b"a".to_vec(), b"b".to_vec()]).await;
        let l = latches.clone();
        let waiter = tokio::spawn(async move {
            let _g = l.acquire(&[b"b".to_vec()]).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn readers_wait_for_a_one_pc_that_may_commit_before_them() {
        let locks = Arc::new(MemLocks::default());
        let guard = locks.lock(vec![b"k".to_vec()], 10);
        // Another 1PC on the same key ends first: the first mark stays.
        drop(locks.lock(vec![b"k".to_vec()], 12));
        // Older readers and other keys do not wait.
        assert!(!locks.blocked(b"k", b"l", 10));
        assert!(!locks.blocked(b"a", b"b", 99));
        assert!(locks.blocked(b"a", b"", 11));
        let l = locks.clone();
        let reader = tokio::spawn(async move { l.wait_clear(b"k", b"l", 11).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!reader.is_finished());
        drop(guard);
        assert!(reader.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_reader_that_stops_waiting_for_a_one_pc_does_not_read() {
        let locks = Arc::new(MemLocks::default());
        let _guard = locks.lock(vec![b"k".to_vec()], 10);
        let wait = Duration::from_millis(20);
        assert!(locks.wait_clear_within(b"k", b"l", 11, wait).await.is_err());
    }
}
