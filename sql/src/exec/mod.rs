//! Executing statements against the KV store.
//!
//! - [`scan`]: tables for DataFusion and the key-range scan node.
//! - [`query`]: DataFusion contexts, the catalog provider, error mapping.
//! - [`cop`]: store-side pushdown (filters, aggregates run in the
//!   stores' coprocessor).
//! - [`point`]: point selects by primary key, read without DataFusion.
//! - [`ddl`]: CREATE/DROP.
//! - [`alter`]: ALTER TABLE and TRUNCATE.
//! - [`view`]: CREATE VIEW and CREATE SCHEMA.
//! - [`index`]: CREATE/DROP/ALTER INDEX and their online schema changes.
//! - [`cleanup`]: removing dropped tables' rows in the background.
//! - [`constraints`]: declaring UNIQUE, CHECK and FOREIGN KEY.
//! - [`functions`]: session information functions (`version()`, …).
//! - [`pg`]: PostgreSQL's arithmetic and math where DataFusion's differs.
//! - [`write`]: the one path rows are written by: constraint checks,
//!   index entries, foreign-key actions.
//! - [`insert`]: INSERT (and ON CONFLICT).
//! - [`update`]: UPDATE and DELETE.
//! - [`returning`]: RETURNING lists.
//! - [`blocks`]: numbers from KV counters (hidden row ids, sequence runs).
//! - [`sequence`]: sequences (CREATE/DROP SEQUENCE, SERIAL/IDENTITY,
//!   `nextval` and friends).

pub mod alter;
pub mod blocks;
pub mod cleanup;
pub mod constraints;
pub mod cop;
pub mod ddl;
pub mod drop;
pub mod functions;
pub mod index;
pub mod index_expr;
pub mod insert;
pub mod pg;
pub mod point;
pub mod query;
pub mod returning;
pub mod scan;
pub mod sequence;
pub mod update;
pub mod view;
pub mod write;
