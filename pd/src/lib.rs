//! The placement driver (PD): cluster bootstrap, store registry, the Region
//! routing table, id allocation, the timestamp oracle, replica scheduling,
//! its gRPC service and HTTP API.
//!
//! - [`cluster`]: `Cluster`, PD's state machine (no IO but its `MetaStore`).
//! - [`region_tree`]: the routing table.
//! - [`schedule`]: operators and the replica checker.
//! - [`tso`]: the timestamp oracle.
//! - [`gc`]: service safe points and lock resolution: where the GC safe
//!   point may go.
//! - [`meta_store`]: PD's durable state file.
//! - [`service`], [`http`], [`server`]: the gRPC service, the HTTP API, start-up.

pub mod cluster;
pub mod error;
pub mod gc;
pub mod http;
pub mod meta_store;
pub mod metrics;
pub mod region_tree;
pub mod schedule;
pub mod server;
pub mod service;
pub mod tso;

pub use cluster::{Cluster, ClusterConfig, StoreHealth, StoreView};
pub use error::{PdError, Result};
pub use server::{PdConfig, PdHandle};
