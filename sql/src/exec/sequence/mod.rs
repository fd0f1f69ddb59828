//! PostgreSQL sequences: `CREATE/DROP SEQUENCE`, SERIAL and IDENTITY
//! columns, and `nextval`/`currval`/`setval`/`lastval`.
//!
//! A sequence is a catalog object (`ObjectKind::Sequence`, its parameters
//! in a `SequenceDesc`); its state (PostgreSQL's `last_value`,
//! `is_called`) lives under a key of its own (`catalog::store`). DDL
//! writes descriptors in the session's transaction; values are *not*
//! transactional: each node takes runs of values in short transactions of
//! their own and hands them out from memory, so values are unique, grow
//! within a node, and may have gaps (as PostgreSQL's do).
//!
//! - [`options`]: a sequence's parameters from its options (PostgreSQL's
//!   defaults, checks and messages).
//! - [`counter`]: the stored state, runs of values, a node's runs
//!   ([`SequenceBlocks`]).
//! - [`names`]: names given as text (`nextval('public.s')`), names made up
//!   for SERIAL sequences (`t_id_seq`).
//! - [`ddl`]: CREATE/DROP SEQUENCE, the sequences of SERIAL/IDENTITY
//!   columns.
//! - [`functions`]: the four SQL functions, and [`next_value`] for column
//!   defaults.
//! - [`parse`]: statements the SQL parser does not take as PostgreSQL does.
//!
//! Invariant: only [`counter`] reads or writes a sequence's state key, and
//! never inside a session's transaction.

pub mod counter;
pub mod ddl;
pub mod functions;
pub mod names;
pub mod options;
pub mod parse;

pub use counter::SequenceBlocks;
pub use ddl::{create_sequence, drop_sequences};
pub use functions::{next_value, register, use_catalog};
pub use parse::reparse;
