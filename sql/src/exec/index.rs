//! Secondary indexes: `CREATE [UNIQUE] INDEX`, `DROP INDEX`, `ALTER INDEX
//! … RENAME TO`, and the online schema changes that build and remove
//! them while the table is read and written.
//!
//! SQL nodes run with catalogs up to one schema lease apart, so an index
//! goes through states of which any two neighbours are safe side by side
//! (F1's online schema change, `catalog::IndexState`): each step is one
//! catalog transaction followed by a lease wait.
//!
//! - Build: delete-only → write-only → backfill → public. The backfill
//!   reads the rows a chunk per transaction and writes their entries; a
//!   row a concurrent statement changed after the chunk's snapshot
//!   touched the same entry key, so the chunk's commit conflicts and the
//!   chunk is read again.
//! - Drop: public → write-only → gone; then the entries are deleted.
//!
//! Inside a transaction block the online steps cannot run (each is its
//! own transaction): on a table the block made (no other session sees
//! it) the index is built or dropped in the block's transaction; on any
//! other, the block takes the first step (delete-only, or write-only for
//! a drop) and its COMMIT, once that is in force, runs the rest
//! ([`Deferred`]). A unique build that then meets a duplicate committed
//! meanwhile fails the COMMIT's answer after the block's other changes
//! committed (the index is removed; the error says so).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use client::{BufferedTxn, SharedKv, TxnReader};
use datafusion::sql::sqlparser::ast::{CreateIndex, Expr, IndexType, ObjectName};

use super::ddl::{ident_name, split_name};
use super::index_expr::{describe, key_inputs, key_text};
use super::write::{decode_table_row, entry_value, index_entry};
use crate::catalog::cache::CatalogCache;
use crate::catalog::store::{self, CatalogWriter};
use crate::catalog::{
    Catalog, ColumnDesc, Constraint, IndexDesc, IndexState, TableDesc, EXPR_KEY_ID,
};
use crate::codec::entry::entry_row_key;
use crate::codec::key::{index_prefix, prefix_end, PRIMARY_INDEX_ID};
use crate::error::{code, Error, Result};
use crate::types::text::TextFormat;
use crate::types::{Datum, SqlType};
use datafusion::prelude::SessionContext;

/// Rows a backfill transaction indexes.
const BACKFILL_CHUNK: usize = 1000;
/// Attempts of one catalog step or backfill chunk that meets conflicts.
const ATTEMPTS: usize = 50;

/// What a CREATE INDEX is to do.
#[derive(Debug)]
pub enum CreatePlan {
    /// IF NOT EXISTS met the name: the notice.
    Exists(String),
    /// Build `index` (its id still to be given) on the table with id
    /// `table`.
    Build {
        /// The table's id.
        table: u32,
        /// The index, in the state it starts in.
        index: IndexDesc,
    },
}

/// Checks a CREATE INDEX against `catalog` and says what to build.
pub fn plan_create(df: &SessionContext, catalog: &Catalog, ci: &CreateIndex) -> Result<CreatePlan> {
    let (schema, table) = split_name(&ci.table_name)?;
    let desc = catalog
        .find(&schema, &table)
        .ok_or_else(|| Error::undefined_table(&table))?;
    if !desc.is_table() {
        return Err(Error::new(
            code::WRONG_OBJECT_TYPE,
            format!("cannot create index on relation \"{table}\""),
        ));
    }
    if let Some(u) = &ci.using {
        if !matches!(u, IndexType::BTree) {
            return Err(Error::unsupported(format!(
                "access method \"{}\" (Strata's indexes are ordered, like btree)",
                u.to_string().to_lowercase()
            )));
        }
    }
    for (present, what) in [
        (ci.nulls_distinct == Some(false), "NULLS NOT DISTINCT"),
        (!ci.with.is_empty(), "index storage parameters (WITH …)"),
    ] {
        if present {
            return Err(Error::unsupported(what));
        }
    }
    let mut columns = Vec::with_capacity(ci.columns.len());
    let mut names = Vec::with_capacity(ci.columns.len());
    let mut exprs = Vec::new();
    let mut opposite = Vec::new();
    for c in &ci.columns {
        if c.operator_class.is_some() {
            return Err(Error::unsupported("operator classes in an index"));
        }
        let descending = c.column.options.asc == Some(false);
        // NULLs come last ascending and first descending unless asked
        // otherwise, as in PostgreSQL.
        let nulls_opposite = c
            .column
            .options
            .nulls_first
            .is_some_and(|first| first != descending);
        let (id, name, ty) = match &c.column.expr {
            Expr::Identifier(i) => {
                let name = ident_name(i);
                let col = table_column(desc, &name)?;
                (col.id, name, col.ty)
            }
            other => {
                let e = describe(df, desc, &other.to_string(), false)?;
                let id = EXPR_KEY_ID + exprs.len() as u32;
                let ty = e.ty;
                exprs.push(e);
                (id, expr_name(other), ty)
            }
        };
        match ty {
            SqlType::Json => {
                return Err(Error::new(
                    code::UNDEFINED_OBJECT,
                    "data type json has no default operator class for access method \"btree\"",
                ))
            }
            SqlType::Jsonb => return Err(Error::unsupported("an index on a jsonb column")),
            _ => {}
        }
        if nulls_opposite {
            opposite.push(id);
        }
        columns.push((id, descending));
        names.push(name);
    }
    if columns.is_empty() {
        return Err(Error::syntax("an index needs at least one column"));
    }
    let mut include = Vec::with_capacity(ci.include.len());
    for i in &ci.include {
        let id = table_column(desc, &ident_name(i))?.id;
        if !include.contains(&id) {
            include.push(id);
        }
    }
    let schema_id = desc.schema_id;
    let name = match &ci.name {
        Some(n) => {
            let name = index_name(n)?;
            if catalog.relation_exists(schema_id, &name) {
                if ci.if_not_exists {
                    return Ok(CreatePlan::Exists(format!(
                        "relation \"{name}\" already exists, skipping"
                    )));
                }
                return Err(Error::new(
                    code::DUPLICATE_TABLE,
                    format!("relation \"{name}\" already exists"),
                ));
            }
            name
        }
        None => free_name(
            catalog,
            schema_id,
            &format!("{table}_{}_idx", names.join("_")),
        ),
    };
    Ok(CreatePlan::Build {
        table: desc.id,
        index: IndexDesc {
            state: IndexState::DeleteOnly,
            include,
            exprs,
            nulls_opposite: opposite,
            predicate: match &ci.predicate {
                Some(p) => Some(describe(df, desc, &p.to_string(), true)?),
                None => None,
            },
            ..IndexDesc::new(0, name, columns, ci.unique)
        }
        .storing(desc),
    })
}

/// What an index's default name calls a key expression, as PostgreSQL
/// does: its function's name, else `expr`.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Nested(inner) => expr_name(inner),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident_name)
            .unwrap_or_else(|| "expr".into()),
        _ => "expr".into(),
    }
}

/// The visible column `name` of `desc`, or 42703.
fn table_column<'a>(desc: &'a TableDesc, name: &str) -> Result<&'a ColumnDesc> {
    desc.column(name).filter(|c| !c.hidden).ok_or_else(|| {
        Error::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{name}\" does not exist"),
        )
    })
}

/// An index's own name: PostgreSQL puts the index in its table's schema,
/// so a schema-qualified name is refused.
fn index_name(n: &ObjectName) -> Result<String> {
    match n.0.as_slice() {
        [only] => only
            .as_ident()
            .map(ident_name)
            .ok_or_else(|| Error::syntax(format!("invalid name {n}"))),
        _ => Err(Error::syntax(
            "index name may not be schema-qualified (the index goes in its table's schema)",
        )),
    }
}

/// `base`, or `base1`, `base2`, … : the first name no relation of the
/// schema has.
fn free_name(catalog: &Catalog, schema_id: u32, base: &str) -> String {
    if !catalog.relation_exists(schema_id, base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !catalog.relation_exists(schema_id, n))
        .unwrap_or_else(|| base.to_string())
}

/// The index `name` names (schema-qualified or in `public`), with its
/// table; `None` when there is none. An index behind a constraint (the
/// primary key, UNIQUE) is found too, with the constraint's name.
pub fn find<'c>(
    catalog: &'c Catalog,
    name: &ObjectName,
) -> Result<Option<(&'c Arc<TableDesc>, Option<usize>)>> {
    let (schema, index) = split_name(name)?;
    Ok(catalog.find_index(&schema, &index))
}

/// The error for an index name that names none.
pub fn no_index(name: &ObjectName) -> Error {
    let index = split_name(name).map(|(_, n)| n).unwrap_or_default();
    Error::new(
        code::UNDEFINED_OBJECT,
        format!("index \"{index}\" does not exist"),
    )
}

/// The constraint an index backs, if any (PostgreSQL then refuses to drop
/// the index alone).
pub fn backing_constraint(desc: &TableDesc, index: Option<usize>) -> Option<&str> {
    let id = index.map_or(PRIMARY_INDEX_ID, |i| desc.indexes[i].id);
    desc.constraints.iter().find_map(|c| match c {
        Constraint::PrimaryKey { name } if id == PRIMARY_INDEX_ID => Some(name.as_str()),
        Constraint::Unique { name, index_id } if *index_id == id => Some(name.as_str()),
        _ => None,
    })
}

/// Checks that DROP INDEX may drop the index at `index` of `desc`.
pub fn check_droppable(desc: &TableDesc, index: Option<usize>) -> Result<usize> {
    let name = index.map_or(desc.primary.name.as_str(), |i| {
        desc.indexes[i].name.as_str()
    });
    if let Some(c) = backing_constraint(desc, index) {
        return Err(Error::new(
            code::DEPENDENT_OBJECTS_STILL_EXIST,
            format!(
                "cannot drop index {name} because constraint {c} on table {} requires it",
                desc.name
            ),
        )
        .with_hint(format!(
            "You can drop constraint {c} on table {} instead.",
            desc.name
        )));
    }
    index.ok_or_else(|| Error::internal("a primary index without its constraint"))
}

/// Adds `index` to `desc` with a fresh id; returns the id.
pub fn add_to(catalog: &Catalog, desc: &mut TableDesc, mut index: IndexDesc) -> Result<u32> {
    if catalog.relation_exists(desc.schema_id, &index.name) {
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{}\" already exists", index.name),
        ));
    }
    index.id = desc.next_index_id;
    desc.next_index_id += 1;
    let id = index.id;
    desc.indexes.push(index);
    Ok(id)
}

/// Writes, in `txn`, the entries of the index `idx` of `desc` for every
/// row the transaction sees, refusing duplicates of a unique index. For
/// indexes no other transaction can see yet (a table made in the same
/// transaction, a constraint added by ALTER TABLE in it).
pub async fn build_in_txn(
    df: &SessionContext,
    txn: &mut BufferedTxn,
    desc: &TableDesc,
    idx: &IndexDesc,
    format: &TextFormat,
) -> Result<u64> {
    let reader = txn.reader();
    let mut claimed: HashSet<Vec<u8>> = HashSet::new();
    let mut count = 0;
    scan_all(&reader, &index_prefix(desc.id, PRIMARY_INDEX_ID), |pairs| {
        for e in entries(df, desc, idx, pairs)? {
            if e.claims && !claimed.insert(e.key.clone()) {
                return Err(duplicated(desc, idx, &e, format));
            }
            txn.put(e.key, e.value)?;
            count += 1;
        }
        Ok(())
    })
    .await?;
    Ok(count)
}

/// One row's index entry.
struct Entry {
    /// The entry's key.
    key: Vec<u8>,
    /// Whether it claims its values (see [`index_entry`]).
    claims: bool,
    /// The row's key.
    row_key: Vec<u8>,
    /// The row.
    row: Vec<Datum>,
    /// The entry's value.
    value: Vec<u8>,
    /// The index's key expressions' values for the row.
    computed: Vec<Datum>,
}

/// The entries of index `idx` for the row pairs `pairs` (none for a row
/// a partial index leaves out).
fn entries(
    df: &SessionContext,
    desc: &TableDesc,
    idx: &IndexDesc,
    pairs: &[client::Pair],
) -> Result<Vec<Entry>> {
    let columns: Vec<(u32, SqlType)> = desc.columns.iter().map(|c| (c.id, c.ty)).collect();
    let rows: Vec<Vec<Datum>> = pairs
        .iter()
        .map(|p| decode_table_row(desc, &p.value, &columns))
        .collect::<Result<_>>()?;
    let inputs = key_inputs(df, desc, idx, &rows.iter().collect::<Vec<_>>())?;
    let mut out = Vec::with_capacity(rows.len());
    for ((p, row), computed) in pairs.iter().zip(rows).zip(inputs) {
        let Some(computed) = computed else {
            continue;
        };
        let (key, claims) = index_entry(desc, idx, &row, &p.key, &computed)?;
        out.push(Entry {
            value: entry_value(desc, idx, &row, &p.key),
            key,
            claims,
            row_key: p.key.clone(),
            row,
            computed,
        });
    }
    Ok(out)
}

/// `could not create unique index …`: `row`'s values are taken.
fn duplicated(desc: &TableDesc, idx: &IndexDesc, e: &Entry, format: &TextFormat) -> Error {
    Error::new(
        code::UNIQUE_VIOLATION,
        format!("could not create unique index \"{}\"", idx.name),
    )
    .with_detail(format!(
        "Key {} is duplicated.",
        key_text(desc, idx, &e.row, &e.computed, format)
    ))
}

/// Runs the steps of online index changes: each step is a catalog
/// transaction, after which every SQL node's lease on older catalog
/// versions runs out before the next begins.
pub struct OnlineChange<'a> {
    /// The store.
    pub kv: &'a SharedKv,
    /// This node's catalog cache (refreshed after each step).
    pub cache: &'a CatalogCache,
    /// Formatting of values in error messages.
    pub format: &'a TextFormat,
    /// Evaluates index expressions and predicates.
    pub df: &'a SessionContext,
}

impl OnlineChange<'_> {
    /// Builds `index` on table `table` online; returns once it is public.
    /// Should the build fail (a duplicate in a unique index), the index is
    /// removed again and the error returned.
    pub async fn create(&self, table: u32, index: IndexDesc) -> Result<()> {
        let mut id = 0;
        self.step(table, |catalog, desc| {
            id = add_to(catalog, desc, index.clone())?;
            Ok(())
        })
        .await?;
        self.finish_create(table, id).await
    }

    /// Takes the delete-only index `id` of `table` to public: write-only,
    /// backfill, public. Should that fail, the index is removed again and
    /// the error returned.
    pub async fn finish_create(&self, table: u32, id: u32) -> Result<()> {
        let built = async {
            self.set_state(table, id, IndexState::WriteOnly).await?;
            self.backfill(table, id).await?;
            self.set_state(table, id, IndexState::Public).await
        }
        .await;
        if let Err(e) = built {
            if let Err(undo) = self.remove(table, id).await {
                tracing::warn!(table, index = id, error = %undo, "could not remove a failed index");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Drops the index with id `id` of table `table` online: public →
    /// write-only → gone, then its entries are deleted.
    pub async fn remove(&self, table: u32, id: u32) -> Result<()> {
        self.set_state(table, id, IndexState::WriteOnly).await?;
        self.finish_remove(table, id).await
    }

    /// Removes the index `id` of `table`, write-only by now (nothing
    /// reads it), then deletes its entries.
    pub async fn finish_remove(&self, table: u32, id: u32) -> Result<()> {
        self.step(table, |_, desc| {
            desc.indexes.retain(|i| i.id != id);
            // A unique constraint whose index failed to build goes too.
            desc.constraints
                .retain(|c| !matches!(c, Constraint::Unique { index_id, .. } if *index_id == id));
            Ok(())
        })
        .await?;
        delete_entries(self.kv, table, id).await
    }

    /// Moves the index `id` of `table` to `state` (nothing when it is
    /// there already).
    async fn set_state(&self, table: u32, id: u32, state: IndexState) -> Result<()> {
        self.step(table, |_, desc| {
            let idx = desc
                .indexes
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| Error::internal("an index being changed is gone"))?;
            idx.state = state;
            Ok(())
        })
        .await
    }

    /// One catalog step: `change` applied to the table's descriptor as a
    /// fresh transaction sees it, committed, then the lease waited out.
    async fn step<F>(&self, table: u32, mut change: F) -> Result<()>
    where
        F: FnMut(&Catalog, &mut TableDesc) -> Result<()>,
    {
        for _ in 0..ATTEMPTS {
            let mut txn =
                BufferedTxn::begin(self.kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
            let catalog = store::load(&txn.reader()).await?;
            let mut desc = catalog
                .by_id(table)
                .map(|d| d.as_ref().clone())
                .ok_or_else(|| {
                    Error::new(
                        code::UNDEFINED_TABLE,
                        "the table was dropped while its index changed",
                    )
                })?;
            change(&catalog, &mut desc)?;
            put_table(&mut txn, desc).await?;
            match txn.commit().await {
                Ok(_) => {
                    self.cache.refresh().await?;
                    tokio::time::sleep(self.cache.lease()).await;
                    return Ok(());
                }
                Err(client::Error::TxnConflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            code::SERIALIZATION_FAILURE,
            "could not change the index: the table's descriptor kept changing",
        ))
    }

    /// Writes the entries of every row of `table` into the write-only
    /// index `id`, a chunk of rows per transaction. Statements maintain
    /// the index meanwhile; a chunk whose rows they changed after its
    /// snapshot conflicts on the entry keys and is read again.
    async fn backfill(&self, table: u32, id: u32) -> Result<u64> {
        let catalog = self.cache.current().await?;
        let desc = catalog
            .by_id(table)
            .cloned()
            .ok_or_else(|| Error::undefined_table("(dropped)"))?;
        let idx = desc
            .index_by_id(id)
            .cloned()
            .ok_or_else(|| Error::internal("an index being built is gone"))?;
        let mut cursor = index_prefix(table, PRIMARY_INDEX_ID);
        let end = prefix_end(&cursor);
        let mut count = 0u64;
        let mut conflicts = 0;
        loop {
            let mut txn =
                BufferedTxn::begin(self.kv.clone(), client::DEFAULT_TXN_SIZE_LIMIT).await?;
            let reader = txn.reader();
            let page = reader
                .scan(&cursor, &end, BACKFILL_CHUNK, super::scan::PAGE_BYTES)
                .await?;
            let rows = entries(self.df, &desc, &idx, &page.pairs)?;
            let present = claimed_by_others(&reader, &rows).await?;
            let mut claimed: HashMap<&[u8], &[u8]> = HashMap::new();
            for e in &rows {
                if e.claims {
                    let other = present
                        .get(e.key.as_slice())
                        .map(Vec::as_slice)
                        .or_else(|| claimed.get(e.key.as_slice()).copied());
                    match other {
                        Some(owner) if owner != e.row_key.as_slice() => {
                            return Err(duplicated(&desc, &idx, e, self.format))
                        }
                        Some(_) => continue,
                        None => {
                            claimed.insert(&e.key, &e.row_key);
                        }
                    }
                }
                txn.put(e.key.clone(), e.value.clone())?;
            }
            match txn.commit().await {
                Ok(_) => {
                    count += rows.len() as u64;
                    match page.resume {
                        Some(r) => cursor = r,
                        None => return Ok(count),
                    }
                }
                Err(client::Error::TxnConflict(_)) if conflicts < ATTEMPTS * 100 => {
                    conflicts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The claiming entries of `rows` that already exist, with the row key
/// each points to.
async fn claimed_by_others(
    reader: &TxnReader,
    rows: &[Entry],
) -> Result<HashMap<Vec<u8>, Vec<u8>>> {
    let keys: Vec<Vec<u8>> = rows
        .iter()
        .filter(|e| e.claims)
        .map(|e| e.key.clone())
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut owners = HashMap::new();
    for p in reader.batch_get(keys).await? {
        let owner = entry_row_key(&p.value)?.to_vec();
        owners.insert(p.key, owner);
    }
    Ok(owners)
}

/// Deletes the entries of the index `id` of `table`, which no catalog
/// has any more (index ids are never reused), a chunk per transaction.
pub async fn delete_entries(kv: &SharedKv, table: u32, id: u32) -> Result<()> {
    let start = index_prefix(table, id);
    super::cleanup::remove_range(kv, &start, &prefix_end(&start)).await?;
    Ok(())
}

/// `CREATE INDEX` inside a transaction block, on a table the block made:
/// the index is public at once and built from the rows the block wrote.
pub async fn create_in_txn(
    df: &SessionContext,
    txn: &mut BufferedTxn,
    catalog: &Catalog,
    table: u32,
    index: IndexDesc,
    format: &TextFormat,
) -> Result<()> {
    let mut desc = own_table(catalog, table)?;
    let id = add_to(
        catalog,
        &mut desc,
        IndexDesc {
            state: IndexState::Public,
            ..index
        },
    )?;
    let idx = desc
        .index_by_id(id)
        .cloned()
        .ok_or_else(|| Error::internal("an index just added is gone"))?;
    build_in_txn(df, txn, &desc, &idx, format).await?;
    put_table(txn, desc).await
}

/// A schema change a transaction block began and its COMMIT finishes
/// online, once the block's catalog change is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferred {
    /// Build the delete-only index (table, index id).
    Build(u32, u32),
    /// Remove the write-only index (table, index id).
    Remove(u32, u32),
}

impl Deferred {
    /// Runs it.
    pub async fn finish(self, change: &OnlineChange<'_>) -> Result<()> {
        match self {
            Deferred::Build(table, id) => change.finish_create(table, id).await,
            Deferred::Remove(table, id) => change.finish_remove(table, id).await,
        }
    }
}

/// `CREATE INDEX` inside a transaction block on a table other sessions
/// use: the block adds the index delete-only (refusing now the duplicates
/// its snapshot shows a unique index would have), and its COMMIT builds
/// it online ([`Deferred::Build`]).
pub async fn begin_create_in_txn(
    df: &SessionContext,
    txn: &mut BufferedTxn,
    catalog: &Catalog,
    table: u32,
    index: IndexDesc,
    format: &TextFormat,
) -> Result<Deferred> {
    let mut desc = own_table(catalog, table)?;
    let id = add_to(catalog, &mut desc, index)?;
    if let Some(idx) = desc.index_by_id(id) {
        refuse_duplicates(df, &txn.reader(), &desc, idx, format).await?;
    }
    put_table(txn, desc).await?;
    Ok(Deferred::Build(table, id))
}

/// Fails with 23505 if the rows `reader` sees hold duplicates for the
/// unique index `idx` (nothing to check for another).
pub async fn refuse_duplicates(
    df: &SessionContext,
    reader: &TxnReader,
    desc: &TableDesc,
    idx: &IndexDesc,
    format: &TextFormat,
) -> Result<()> {
    if !idx.unique {
        return Ok(());
    }
    let mut claimed: HashSet<Vec<u8>> = HashSet::new();
    scan_all(reader, &index_prefix(desc.id, PRIMARY_INDEX_ID), |pairs| {
        for e in entries(df, desc, idx, pairs)? {
            if e.claims && !claimed.insert(e.key.clone()) {
                return Err(duplicated(desc, idx, &e, format));
            }
        }
        Ok(())
    })
    .await
}

/// `DROP INDEX` inside a transaction block on a table other sessions use:
/// the block makes the index write-only (nothing reads it any more), and
/// its COMMIT removes it ([`Deferred::Remove`]).
pub async fn begin_drop_in_txn(
    txn: &mut BufferedTxn,
    catalog: &Catalog,
    table: u32,
    id: u32,
) -> Result<Deferred> {
    let mut desc = own_table(catalog, table)?;
    if let Some(idx) = desc.indexes.iter_mut().find(|i| i.id == id) {
        idx.state = IndexState::WriteOnly;
    }
    put_table(txn, desc).await?;
    Ok(Deferred::Remove(table, id))
}

/// `DROP INDEX` inside a transaction block, on a table the block made:
/// the index and its entries go with the block's commit.
pub async fn drop_in_txn(
    txn: &mut BufferedTxn,
    catalog: &Catalog,
    table: u32,
    id: u32,
) -> Result<()> {
    let mut desc = own_table(catalog, table)?;
    desc.indexes.retain(|i| i.id != id);
    let reader = txn.reader();
    scan_all(&reader, &index_prefix(table, id), |pairs| {
        for p in pairs {
            txn.delete(p.key.clone())?;
        }
        Ok(())
    })
    .await?;
    put_table(txn, desc).await
}

/// `ALTER INDEX name RENAME TO new`: an index behind a constraint renames
/// the constraint too, as in PostgreSQL.
pub async fn rename(
    txn: &mut BufferedTxn,
    catalog: &Catalog,
    name: &ObjectName,
    new: &ObjectName,
) -> Result<()> {
    let Some((desc, index)) = find(catalog, name)? else {
        let index = split_name(name).map(|(_, n)| n).unwrap_or_default();
        return Err(Error::undefined_table(&index));
    };
    let new = index_name(new)?;
    if catalog.relation_exists(desc.schema_id, &new) {
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{new}\" already exists"),
        ));
    }
    let mut desc = desc.as_ref().clone();
    let old = match index {
        None => std::mem::replace(&mut desc.primary.name, new.clone()),
        Some(i) => std::mem::replace(&mut desc.indexes[i].name, new.clone()),
    };
    for c in &mut desc.constraints {
        match c {
            Constraint::PrimaryKey { name } | Constraint::Unique { name, .. } if *name == old => {
                *name = new.clone()
            }
            _ => {}
        }
    }
    put_table(txn, desc).await
}

/// The table `table` of `catalog`, to change.
fn own_table(catalog: &Catalog, table: u32) -> Result<TableDesc> {
    catalog
        .by_id(table)
        .map(|d| d.as_ref().clone())
        .ok_or_else(|| Error::internal("an index's table is gone"))
}

/// Writes a changed descriptor and bumps the catalog version.
async fn put_table(txn: &mut BufferedTxn, mut desc: TableDesc) -> Result<()> {
    desc.version += 1;
    let mut w = CatalogWriter::new(txn);
    w.put_table(&desc)?;
    w.bump_version().await?;
    Ok(())
}

/// What [`verify`] found: an index against its table, at one snapshot.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexCheck {
    /// Rows of the table.
    pub rows: u64,
    /// Entries of the index.
    pub entries: u64,
    /// Entries the rows call for that are absent (or point elsewhere).
    pub missing: u64,
    /// Entries present that no row calls for.
    pub extra: u64,
}

/// Compares the index `index` of table `schema.table` entry by entry with
/// the entries its rows call for, at one snapshot: how tests (and an
/// operator in doubt) check that an index holds exactly its table's rows.
pub async fn verify(kv: &SharedKv, schema: &str, table: &str, index: &str) -> Result<IndexCheck> {
    let reader = TxnReader::snapshot(kv.clone()).await?;
    let catalog = store::load(&reader).await?;
    let desc = catalog
        .find(schema, table)
        .ok_or_else(|| Error::undefined_table(table))?;
    let idx = desc
        .indexes
        .iter()
        .find(|i| i.name == index)
        .ok_or_else(|| {
            Error::new(
                code::UNDEFINED_OBJECT,
                format!("index \"{index}\" does not exist"),
            )
        })?;
    let df = super::query::QueryEngine::new();
    let mut wanted: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut check = IndexCheck::default();
    let rows_start = index_prefix(desc.id, PRIMARY_INDEX_ID);
    scan_all(&reader, &rows_start, |pairs| {
        check.rows += pairs.len() as u64;
        for e in entries(&df, desc, idx, pairs)? {
            wanted.insert(e.key, e.value);
        }
        Ok(())
    })
    .await?;
    scan_all(&reader, &index_prefix(desc.id, idx.id), |pairs| {
        check.entries += pairs.len() as u64;
        for p in pairs {
            match wanted.remove(&p.key) {
                Some(value) if value == p.value => {}
                Some(_) => check.missing += 1,
                None => check.extra += 1,
            }
        }
        Ok(())
    })
    .await?;
    check.missing += wanted.len() as u64;
    Ok(check)
}

/// Reads every pair under `prefix` a page at a time.
async fn scan_all<F>(reader: &TxnReader, prefix: &[u8], mut each: F) -> Result<()>
where
    F: FnMut(&[client::Pair]) -> Result<()>,
{
    let end = prefix_end(prefix);
    let mut cursor = prefix.to_vec();
    loop {
        let page = reader
            .scan(&cursor, &end, BACKFILL_CHUNK, super::scan::PAGE_BYTES)
            .await?;
        each(&page.pairs)?;
        match page.resume {
            Some(r) => cursor = r,
            None => return Ok(()),
        }
    }
}
