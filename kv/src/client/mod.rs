//! The client library used by `strata ctl`, the benchmark and (later) the
//! SQL layer: a Region cache and raw key-value operations with transparent
//! retries.

mod batch_conn;
mod raw;
mod region_cache;

pub use raw::{ClientOptions, RawClient};
pub use region_cache::{target_peer, RegionCache};
