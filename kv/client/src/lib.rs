//! Strata's client library: the only door to the stores for everything that
//! is not a store (`strata ctl`, the benchmarks, the SQL layer).
//!
//! - [`pd_client`]: PD's client (routing, timestamps, ids), also used by
//!   stores for their heartbeats.
//! - [`RegionCache`] and [`RegionRpc`]: routing with transparent retries.
//! - [`RawClient`]: raw key-value operations.
//! - [`TxnClient`]: snapshot-isolated transactions (Percolator).
//! - [`TxnKv`]: the SQL layer's door (implemented by [`TxnClient`] and by
//!   the store crate's local in-memory store), [`BufferedTxn`] on top of it,
//!   and its [`conformance`] suite.
//! - [`coprocessor`]: the contract for code a SQL node runs inside the
//!   stores.
//! - [`keys`] and [`txn_key`]: the byte layout clients and stores agree on.
//!
//! Invariant: this crate links no storage engine and no Raft; a store
//! depends on it, never the other way round.

mod batch_conn;
mod buffered;
pub mod conformance;
pub mod coprocessor;
pub mod error;
pub mod keys;
pub mod pd_client;
mod raw;
mod region_cache;
mod rpc;
mod txn;
pub mod txn_key;
mod txn_kv;

pub use buffered::{BufferedTxn, Savepoint, TxnReader, DEFAULT_TXN_SIZE_LIMIT};
pub use error::{Error, Result};
pub use raw::RawClient;
pub use region_cache::{target_peer, RegionCache};
pub use rpc::{ClientOptions, RegionRpc};
pub use txn::{ScanPage, Transaction, TxnClient, TxnOutcome, DEFAULT_LOCK_TTL};
pub use txn_kv::{
    Change, CommitGuard, KeyRange, Page, Pair, SharedKv, StartTs, TxnKv, GUARD_REFUSED,
};
