//! Strata's SQL layer: a PostgreSQL-compatible SQL node over the
//! transactional KV store.
//!
//! - [`types`]: SQL types and values, their PostgreSQL text and binary
//!   forms, and their Arrow forms.
//! - [`codec`]: keys (order-preserving) and rows (values by column id).
//! - [`catalog`]: descriptors in the KV store, the cached catalog and its
//!   schema lease.
//! - [`error`]: errors with their SQLSTATE.
//! - [`plan`]: key ranges from predicates, type names.
//! - [`exec`]: tables for DataFusion (scans), DDL, INSERT, number blocks.
//! - [`session`]: a node and one connection's session (transactions,
//!   settings, statement dispatch).
//! - [`server`]: the pgwire edge (startup and authentication, cancel,
//!   statement timeout, SQL `PREPARE`).
//! - [`auth`]: users, SCRAM-SHA-256 verifiers, user DDL.
//!
//! Invariant: the only door to data is `client::TxnKv`; this crate sees
//! no protobuf type and links no storage engine.

pub mod auth;
pub mod catalog;
pub mod codec;
pub mod error;
pub mod exec;
pub mod plan;
pub mod server;
pub mod session;
pub mod types;

pub use error::{Error, Result};

/// The `server_version` reported to clients: PostgreSQL 15's behaviour is
/// the reference, and clients pick their catalog queries by this number.
pub const SERVER_VERSION: &str = "15.18 (Strata 0.1.0)";
