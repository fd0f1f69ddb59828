//! The client library used by `strata ctl`, the benchmarks and (later) the
//! SQL layer: a Region cache, raw key-value operations and snapshot-isolated
//! transactions, with transparent retries.

mod batch_conn;
mod raw;
mod region_cache;
mod rpc;
mod txn;

pub use raw::RawClient;
pub use region_cache::{target_peer, RegionCache};
pub use rpc::{ClientOptions, RegionRpc};
pub use txn::{Transaction, TxnClient, TxnOutcome, DEFAULT_LOCK_TTL};
