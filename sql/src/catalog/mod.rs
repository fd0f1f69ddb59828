//! The catalog: databases, schemas, tables, columns, constraints,
//! sequences, views and users, kept in the transactional KV store under
//! their own key prefix and versioned.
//!
//! - [`desc`]: the descriptors (what a table *is*), serialised as JSON.
//! - [`store`]: where they live in the key space, and reading/writing them
//!   inside a transaction (DDL is transactional: it writes descriptors into
//!   the session's transaction like any other write).
//! - [`cache`]: each SQL node's cached [`Catalog`] and its schema lease.
//!
//! A [`Catalog`] is an immutable snapshot of every descriptor at one
//! version; statements plan against one, so a statement never sees half a
//! DDL.

pub mod cache;
pub mod desc;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use desc::{
    ColumnDesc, Constraint, DefaultExpr, IndexDesc, IndexExpr, IndexState, ObjectKind, SchemaDesc,
    TableDesc, UserDesc, EXPR_KEY_ID,
};

/// The database every SQL node serves.
pub const DEFAULT_DATABASE: &str = "postgres";
/// The schema tables go to when none is named.
pub const DEFAULT_SCHEMA: &str = "public";
/// Id of the `public` schema (created at bootstrap).
pub const PUBLIC_SCHEMA_ID: u32 = 1;
/// First id handed to user objects.
pub const FIRST_USER_ID: u32 = 100;

/// Every descriptor at one catalog version.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// The version (bumped by every DDL).
    pub version: u64,
    /// Schemas by name.
    pub schemas: BTreeMap<String, SchemaDesc>,
    /// Tables, views and sequences by id.
    pub tables: BTreeMap<u32, Arc<TableDesc>>,
    /// Users by name.
    pub users: BTreeMap<String, UserDesc>,
}

impl Catalog {
    /// The schema named `name`.
    pub fn schema(&self, name: &str) -> Option<&SchemaDesc> {
        self.schemas.get(name)
    }

    /// The table, view or sequence `name` in schema `schema_id`.
    pub fn table(&self, schema_id: u32, name: &str) -> Option<&Arc<TableDesc>> {
        self.tables
            .values()
            .find(|t| t.schema_id == schema_id && t.name == name)
    }

    /// The object named `name` in `schema` (by schema name).
    pub fn find(&self, schema: &str, name: &str) -> Option<&Arc<TableDesc>> {
        let s = self.schema(schema)?;
        self.table(s.id, name)
    }

    /// The object with id `id`.
    pub fn by_id(&self, id: u32) -> Option<&Arc<TableDesc>> {
        self.tables.get(&id)
    }

    /// The objects of schema `schema_id`, by name.
    pub fn tables_in(&self, schema_id: u32) -> impl Iterator<Item = &Arc<TableDesc>> {
        self.tables
            .values()
            .filter(move |t| t.schema_id == schema_id)
    }

    /// The index named `name` in schema `schema` (by schema name): its
    /// table and its position among the table's secondary indexes (`None`
    /// for the primary key's).
    pub fn find_index(&self, schema: &str, name: &str) -> Option<(&Arc<TableDesc>, Option<usize>)> {
        let s = self.schema(schema)?;
        self.tables_in(s.id).find_map(|t| {
            if t.is_table() && t.primary.name == name {
                return Some((t, None));
            }
            let i = t.indexes.iter().position(|i| i.name == name)?;
            Some((t, Some(i)))
        })
    }

    /// Whether a table, view, sequence or index of schema `schema_id` is
    /// called `name` (they share one namespace, PostgreSQL's `pg_class`).
    pub fn relation_exists(&self, schema_id: u32, name: &str) -> bool {
        self.tables_in(schema_id).any(|t| {
            t.name == name
                || (t.is_table() && t.primary.name == name)
                || t.indexes.iter().any(|i| i.name == name)
        })
    }

    /// The name of the schema with id `id`.
    pub fn schema_name(&self, id: u32) -> Option<&str> {
        self.schemas
            .values()
            .find(|s| s.id == id)
            .map(|s| s.name.as_str())
    }
}
