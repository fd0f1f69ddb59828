//! Strata's SQL layer: a PostgreSQL-compatible SQL node over the
//! transactional KV store.
//!
//! - [`types`]: SQL types and values, their PostgreSQL text and binary
//!   forms, and their Arrow forms.
//! - [`codec`]: keys (order-preserving) and rows (values by column id).
//! - [`catalog`]: descriptors in the KV store, the cached catalog and its
//!   schema lease.
//! - [`error`]: errors with their SQLSTATE.
//!
//! Invariant: the only door to data is `client::TxnKv`; this crate sees
//! no protobuf type and links no storage engine.

pub mod catalog;
pub mod codec;
pub mod error;
pub mod types;

pub use error::{Error, Result};
