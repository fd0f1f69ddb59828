//! Planning helpers that are pure functions of the statement and catalog.
//!
//! - [`ranges`]: predicates on primary-key columns into key ranges.
//! - [`point`]: point selects by primary key, read without DataFusion.
//! - [`types`]: SQL type names into column types.
//! - [`names`]: result column names as PostgreSQL gives them.
//! - [`views`]: views expanded into the statements that use them.
//! - [`subqueries`]: scalar subqueries made aggregates (decorrelation),
//!   `op ANY/ALL (subquery)` in terms DataFusion gets right.
//! - [`set_ops`]: INTERSECT ALL and EXCEPT ALL counting copies of rows.
//! - [`pg_rules`]: plan rewrites for PostgreSQL's literal types and
//!   arithmetic.

pub mod names;
pub mod pg_rules;
pub mod point;
pub mod ranges;
pub mod set_ops;
pub mod stats;
pub mod subqueries;
pub mod types;
pub mod views;
