//! Executing statements against the KV store.
//!
//! - [`scan`]: tables for DataFusion and the key-range scan node.
//! - [`query`]: DataFusion contexts, the catalog provider, error mapping.
//! - [`ddl`]: CREATE/DROP.
//! - [`functions`]: session information functions (`version()`, …).
//! - [`insert`]: INSERT.
//! - [`blocks`]: numbers from KV counters (hidden row ids).

pub mod blocks;
pub mod ddl;
pub mod functions;
pub mod insert;
pub mod query;
pub mod scan;
