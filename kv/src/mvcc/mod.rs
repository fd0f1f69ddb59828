//! Multi-version data and Percolator transactions over a store's engine.
//!
//! - [`key`]: where a user key's lock, commit records and values live
//!   (the layout lives in the client library, `client::txn_key`).
//! - [`reader`]: reads at a timestamp from an engine snapshot.
//! - [`gc`]: removal of versions below the GC safe point.
//! - [`txn`]: the Percolator actions (prewrite, commit, rollback, status
//!   checks, lock resolution, heartbeats); each reads a snapshot and stages
//!   its mutations in a write batch that the caller proposes through Raft.
//!
//! Timestamps come from PD's TSO: `physical_ms << 18 | logical`.

pub mod gc;
pub mod reader;
pub mod txn;

use protocol::mvccpb;
use thiserror::Error;

use crate::engine::EngineError;

pub use reader::MvccReader;

pub use client::pd_client::{physical_ms, ttl_ran_out, PHYSICAL_SHIFT};

/// Where a user key's lock, commit records and values live: the layout is
/// shared with the client library, which owns it.
pub mod key {
    pub use client::txn_key::*;
}

/// A lock found on a key, as readers and writers report it.
#[derive(Debug, Clone, PartialEq)]
pub struct LockInfo {
    /// The locked user key.
    pub key: Vec<u8>,
    /// The lock.
    pub lock: mvccpb::Lock,
}

/// Why a transactional read or action failed.
#[derive(Debug, Error)]
pub enum MvccError {
    /// Keys are locked by other transactions: their status must be
    /// resolved (through their primaries) before this can go on.
    #[error("{} key(s) locked by other transactions", .0.len())]
    Locked(Vec<LockInfo>),
    /// A transaction committed a newer version of a key this one writes.
    #[error("write conflict on key {key:02x?}: transaction {start_ts} vs one committed at {conflict_commit_ts} (started {conflict_start_ts})")]
    WriteConflict {
        key: Vec<u8>,
        start_ts: u64,
        conflict_start_ts: u64,
        conflict_commit_ts: u64,
    },
    /// The transaction was rolled back (a late prewrite or commit).
    #[error("transaction {start_ts} was rolled back (key {key:02x?})")]
    RolledBack { key: Vec<u8>, start_ts: u64 },
    /// A commit found neither the transaction's lock nor its commit record.
    #[error("transaction {start_ts} has no lock on key {key:02x?}")]
    LockNotFound { key: Vec<u8>, start_ts: u64 },
    /// A rollback of a transaction that already committed.
    #[error("transaction {start_ts} already committed at {commit_ts} (key {key:02x?})")]
    Committed {
        key: Vec<u8>,
        start_ts: u64,
        commit_ts: u64,
    },
    /// The commit timestamp is below the lock's minimum.
    #[error("commit_ts {commit_ts} is below the minimum {min_commit_ts} of key {key:02x?}")]
    CommitTsTooSmall {
        key: Vec<u8>,
        commit_ts: u64,
        min_commit_ts: u64,
    },
    /// The timestamp is older than the GC safe point: versions it would
    /// need may be gone.
    #[error("timestamp {ts} is older than the GC safe point {safe_point}")]
    TooOld { ts: u64, safe_point: u64 },
    /// The transaction's primary lock does not exist (yet, or any more).
    #[error("transaction {start_ts} not found at its primary {key:02x?}")]
    TxnNotFound { key: Vec<u8>, start_ts: u64 },
    /// The storage engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A stored record could not be decoded.
    #[error("corrupted MVCC data: {0}")]
    Corrupt(String),
}

impl From<prost::DecodeError> for MvccError {
    fn from(e: prost::DecodeError) -> Self {
        MvccError::Corrupt(e.to_string())
    }
}

impl From<key::BadKey> for MvccError {
    fn from(e: key::BadKey) -> Self {
        MvccError::Corrupt(e.0)
    }
}

/// MVCC results.
pub type Result<T> = std::result::Result<T, MvccError>;

#[cfg(test)]
mod tests;
