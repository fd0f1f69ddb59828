//! A Strata store and the client library that talks to stores.
//!
//! - [`client`]: the client library (Region cache, raw KV with retries).
//! - [`engine`]: the storage engine trait, RocksDB and in-memory engines.
//! - [`raftstore`]: the Multi-Raft store core (sans-IO).
//! - [`keys`]: byte layout of the store's own keys.
//! - [`mvcc`]: multi-version data and Percolator transaction actions.
//! - [`region_error`]: constructors of the typed routing errors.
//! - [`server`]: the store process: store loop, gRPC services, transport.
//! - [`pd_client`]: PD's client.
//! - [`metrics`]: the store's Prometheus metrics.

pub mod client;
pub mod engine;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod mvcc;
pub mod pd_client;
pub mod raftstore;
pub mod region_error;
pub mod server;

pub use error::{Error, Result};
