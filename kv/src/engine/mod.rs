//! The storage engine seam: everything a store keeps goes through [`Engine`].
//!
//! A store has one engine with four column families:
//!
//! | [`Cf`]      | holds                                                      |
//! |-------------|------------------------------------------------------------|
//! | `Default`   | raw key-value data (and, with transactions, MVCC values)   |
//! | `Lock`      | Percolator locks (transactions)                            |
//! | `Write`     | Percolator commit records (transactions)                   |
//! | `Raft`      | store ident, per-Region state, Raft hard state and log     |
//!
//! Two implementations: [`RocksEngine`] for real stores and [`MemEngine`] for
//! the deterministic simulation (RocksDB's IO cannot be simulated). Both pass
//! the same conformance suite (`conformance.rs`).
//!
//! Contract: a [`WriteBatch`] is applied atomically; with `sync` it is
//! durable when `write` returns. Writes are durable in the order they were
//! written, so a synced write also makes every earlier write durable. Any
//! error from `write` means the store can no longer trust its state and must
//! stop (it must not acknowledge anything more); read errors may be retried.

#[cfg(test)]
mod conformance;
mod memory;
mod rocks;

pub use memory::MemEngine;
pub use rocks::RocksEngine;

use thiserror::Error;

/// A column family of a store's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// Raw data and MVCC values.
    Default,
    /// Percolator locks.
    Lock,
    /// Percolator commit records.
    Write,
    /// Store and Raft metadata and the Raft log.
    Raft,
}

impl Cf {
    /// Every column family, in a fixed order (`Cf as usize` indexes it).
    pub const ALL: [Cf; 4] = [Cf::Default, Cf::Lock, Cf::Write, Cf::Raft];
    /// The column families that hold Region data (what a snapshot carries).
    pub const DATA: [Cf; 3] = [Cf::Default, Cf::Lock, Cf::Write];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Default => "default",
            Cf::Lock => "lock",
            Cf::Write => "write",
            Cf::Raft => "raft",
        }
    }

    /// The column family with this wire number (the index in [`Cf::ALL`]).
    pub fn from_u32(n: u32) -> Option<Cf> {
        Cf::ALL.get(n as usize).copied()
    }
}

/// Errors of the storage engine.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The engine failed to read or write; the store should stop.
    #[error("storage engine error: {0}")]
    Io(String),
    /// Stored bytes failed a checksum or could not be decoded.
    #[error("corrupted data: {0}")]
    Corruption(String),
}

/// Engine results.
pub type Result<T> = std::result::Result<T, EngineError>;

/// One mutation of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Sets `key` to `value`.
    Put {
        cf: Cf,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Removes `key`.
    Delete { cf: Cf, key: Vec<u8> },
    /// Removes every key in `[start, end)`.
    DeleteRange {
        cf: Cf,
        start: Vec<u8>,
        end: Vec<u8>,
    },
}

/// Mutations applied atomically, in order, by [`Engine::write`].
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
    data_size: usize,
}

impl WriteBatch {
    /// Sets `key` to `value` in `cf`.
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        self.data_size += key.len() + value.len();
        self.ops.push(WriteOp::Put { cf, key, value });
    }

    /// Removes `key` from `cf`.
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.data_size += key.len();
        self.ops.push(WriteOp::Delete { cf, key });
    }

    /// Removes `[start, end)` from `cf`. `end` must be non-empty: an open
    /// range is spelled with an explicit upper bound by the caller.
    pub fn delete_range(&mut self, cf: Cf, start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) {
        let (start, end) = (start.into(), end.into());
        self.data_size += start.len() + end.len();
        self.ops.push(WriteOp::DeleteRange { cf, start, end });
    }

    /// Appends every op of `other`.
    pub fn extend(&mut self, other: WriteBatch) {
        self.data_size += other.data_size;
        self.ops.extend(other.ops);
    }

    /// The mutations, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Whether the batch holds no mutation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of mutations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Bytes of keys and values in the batch.
    pub fn data_size(&self) -> usize {
        self.data_size
    }
}

/// A consistent, read-only view of an engine at one point in time.
pub trait Snapshot: Send + Sync + 'static {
    /// The value of `key` in `cf`.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the pairs of `[start, end)` in key order (an empty `end` means
    /// no upper bound) until `visit` returns `false`.
    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;

    /// Visits the pairs of `[start, end)` in reverse key order, from the
    /// last, until `visit` returns `false` (an empty `end`: no upper
    /// bound).
    fn scan_rev(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;
}

/// A store's storage engine. Cloning is cheap and shares the engine.
pub trait Engine: Clone + Send + Sync + 'static {
    /// The engine's snapshot type.
    type Snapshot: Snapshot;

    /// The current value of `key` in `cf`.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the current pairs of `[start, end)`; see [`Snapshot::scan`].
    fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;

    /// Applies `batch` atomically; durable on return when `sync` is set.
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()>;

    /// A consistent view of the engine as of now.
    fn snapshot(&self) -> Self::Snapshot;

    /// Approximate bytes of data stored in `[start, end)` of the data
    /// column families (an empty `end` means no upper bound), memtables
    /// included.
    fn approximate_size(&self, start: &[u8], end: &[u8]) -> Result<u64>;

    /// Bytes the engine uses for all column families, in files and memory.
    fn used_size(&self) -> Result<u64>;
}
