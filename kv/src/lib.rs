//! A Strata store.
//!
//! The client library is its own crate (`kv/client`, package
//! `strata-client`); a store uses it too (PD's client, lock resolution in
//! GC).
//! - [`engine`]: the storage engine trait, RocksDB and in-memory engines.
//! - [`raftstore`]: the Multi-Raft store core (sans-IO).
//! - [`keys`]: byte layout of the store's own keys.
//! - [`local`]: a whole transactional store in memory, for tests above the
//!   client.
//! - [`mvcc`]: multi-version data and Percolator transaction actions.
//! - [`region_error`]: constructors of the typed routing errors.
//! - [`server`]: the store process: store loop, gRPC services, transport.
//! - [`metrics`]: the store's Prometheus metrics.

// The client library, as the store's own modules name it.
use ::client::pd_client;
pub mod coprocessor;
pub mod engine;
pub mod error;
pub mod keys;
pub mod local;
pub mod metrics;
pub mod mvcc;
pub mod raftstore;
pub mod region_error;
pub mod server;

pub use error::{Error, Result};
