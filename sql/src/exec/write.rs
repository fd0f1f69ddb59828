//! The one place rows are written: [`apply`] takes a statement's changes
//! to a table (rows inserted, updated, deleted), checks every constraint
//! on them, and stages them in the transaction's buffer with their index
//! entries. INSERT, UPDATE, DELETE and the foreign-key actions all go
//! through it, so no path can skip a check.
//!
//! Checks, in PostgreSQL's order: NOT NULL, CHECK, uniqueness (primary
//! key and unique indexes), foreign keys (the referenced row exists; no
//! row still references a removed key, or the constraint's action
//! applies). Uniqueness is judged on the statement's result, so an
//! UPDATE that swaps two keys succeeds. A violation fails the statement
//! before anything of it is staged.
//!
//! **Unique index entries.** An entry's key is the index prefix and the
//! encoded index columns, its value the row's key. When an indexed
//! column is NULL the row key is appended to the entry key too: NULLs are
//! never equal, so such entries never collide.
//!
//! **Foreign keys under snapshot isolation.** A row that references
//! another locks the referenced key, so a concurrent delete of that row
//! and the insert of the reference cannot both commit. Rows that
//! reference a removed key are found by scanning the referencing table
//! (secondary indexes will make this a range read).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use client::{BufferedTxn, SharedKv};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ExprSchemable;
use futures::future::BoxFuture;

use super::blocks::Blocks;
use super::index_expr::{key_inputs, key_text, part_value};
use crate::catalog::desc::{Constraint, FkAction, IndexDesc};
use crate::catalog::{Catalog, TableDesc};
use crate::codec::entry::encode_entry_value;
use crate::codec::key::{
    encode_key, encode_key_part, index_prefix, prefix_end, spread_key, KeyColumn, INDEX_PREFIX_LEN,
    PRIMARY_INDEX_ID,
};
use crate::codec::row::{decode_row_with_missing, encode_row_recording_nulls};
use crate::error::{code, Error, Result};
use crate::exec::query::from_datafusion;
use crate::plan::stats::StatsCache;
use crate::types::arrow::{batch, datum_at, field, sql_type_of, ColumnBuilder};
use crate::types::text::{format_text, TextFormat};
use crate::types::{Datum, SqlType};

/// What a writing statement needs besides the statement.
pub struct DmlCtx<'a> {
    /// The statement's catalog.
    pub catalog: Arc<Catalog>,
    /// The connection's DataFusion context.
    pub df: &'a super::query::QueryEngine,
    /// The transaction written into.
    pub txn: &'a mut BufferedTxn,
    /// The store (number blocks).
    pub kv: &'a SharedKv,
    /// The node's number blocks.
    pub blocks: &'a Blocks,
    /// Session formatting settings (text to value conversions, messages).
    pub format: &'a TextFormat,
    /// The table versions the transaction's writes used.
    pub schema_use: &'a SchemaUse,
    /// Where an ALTER TABLE on a table other sessions use leaves the
    /// online index builds its commit is to finish; `None`: indexes are
    /// built in the transaction (a table it made).
    pub deferred: Option<&'a mut Vec<super::index::Deferred>>,
}

/// The descriptor version of each table a transaction wrote rows of (the
/// oldest it used): its commit must find them still current, so that no
/// write made under a catalog two schema-change steps old commits (the
/// online index states rely on neighbouring versions only).
#[derive(Debug, Default)]
pub struct SchemaUse(parking_lot::Mutex<std::collections::HashMap<u32, u64>>);

impl SchemaUse {
    /// Notes that rows of `table` were written under its `version`.
    pub fn record(&self, table: u32, version: u64) {
        self.0
            .lock()
            .entry(table)
            .and_modify(|v| *v = (*v).min(version))
            .or_insert(version);
    }

    /// The tables written, with the oldest version used for each.
    pub fn tables(&self) -> Vec<(u32, u64)> {
        self.0.lock().iter().map(|(t, v)| (*t, *v)).collect()
    }
}

/// One row's change. Rows are full: every column of the table, hidden
/// ones included, in the descriptor's order.
#[derive(Debug, Clone)]
pub enum RowChange {
    /// A new row.
    Insert(Vec<Datum>),
    /// A row replaced: old, new.
    Update(Vec<Datum>, Vec<Datum>),
    /// A row removed.
    Delete(Vec<Datum>),
}

impl RowChange {
    fn old(&self) -> Option<&Vec<Datum>> {
        match self {
            RowChange::Insert(_) => None,
            RowChange::Update(old, _) | RowChange::Delete(old) => Some(old),
        }
    }

    fn new_row(&self) -> Option<&Vec<Datum>> {
        match self {
            RowChange::Insert(new) | RowChange::Update(_, new) => Some(new),
            RowChange::Delete(_) => None,
        }
    }
}

/// How deep foreign-key actions may cascade.
const MAX_CASCADE_DEPTH: usize = 64;

/// Checks and stages `changes` to `desc` (see the module essay).
pub async fn apply(
    cx: &mut DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    changes: Vec<RowChange>,
) -> Result<()> {
    apply_at(cx, desc.clone(), changes, 0).await
}

fn apply_at<'a, 'b>(
    cx: &'a mut DmlCtx<'b>,
    desc: Arc<TableDesc>,
    changes: Vec<RowChange>,
    depth: usize,
) -> BoxFuture<'a, Result<()>>
where
    'b: 'a,
{
    Box::pin(async move {
        if changes.is_empty() {
            return Ok(());
        }
        if depth > MAX_CASCADE_DEPTH {
            return Err(Error::new(
                code::PROGRAM_LIMIT_EXCEEDED,
                "foreign key actions cascade too deep",
            ));
        }
        cx.schema_use.record(desc.id, desc.version);
        let new_rows: Vec<&Vec<Datum>> = changes.iter().filter_map(RowChange::new_row).collect();
        check_not_null(&desc, &new_rows, cx.format)?;
        check_constraints(cx, &desc, &new_rows)?;
        let plan = unique_plan(cx.df, &desc, &changes)?;
        check_unique(cx, &desc, &plan, &changes).await?;
        // Foreign keys are checked on the table as the statement leaves
        // it, as PostgreSQL checks them at the end of the statement: a row
        // may reference one inserted beside it, a cascaded update finds
        // its new referenced key, rows deleted here reference nothing.
        // Should a check refuse, the statement fails and its staged writes
        // go with it.
        stage(cx.txn, &plan)?;
        // Enough changed rows start an automatic ANALYZE.
        if let Some(stats) = cx.df.state().config().get_extension::<StatsCache>() {
            stats.note_changes(desc.id, changes.len());
        }
        check_references(cx, &desc, &changes).await?;
        referenced_by(cx, &desc, &changes, depth).await
    })
}

fn position(desc: &TableDesc, id: u32) -> usize {
    desc.columns.iter().position(|c| c.id == id).unwrap_or(0)
}

/// The encoded key of a full row.
pub fn row_key(desc: &TableDesc, row: &[Datum]) -> Result<Vec<u8>> {
    let cols: Vec<KeyColumn<'_>> = desc
        .primary
        .columns
        .iter()
        .map(|(id, descending)| {
            let i = position(desc, *id);
            (&row[i], desc.columns[i].ty, *descending)
        })
        .collect();
    Ok(crate::codec::key::row_key(desc.id, desc.buckets, &cols)?)
}

/// The key of `row`'s entry in the index `idx` (`computed`: the values
/// of its key expressions for the row), and whether the entry claims its
/// values (a unique index's entry without NULLs: then it is the indexed
/// values alone and must not exist already). Any other entry ends with
/// the row key, so it collides with none.
pub fn index_entry(
    desc: &TableDesc,
    idx: &IndexDesc,
    row: &[Datum],
    row_key: &[u8],
    computed: &[Datum],
) -> Result<(Vec<u8>, bool)> {
    let mut key = index_prefix(desc.id, idx.id);
    let mut claims = idx.unique;
    for (id, descending) in &idx.columns {
        let (d, ty) = part_value(desc, idx, *id, row, computed)?;
        let opposite = idx.nulls_opposite.contains(id);
        encode_key_part(&mut key, d, ty, *descending, opposite)?;
        claims &= !d.is_null();
    }
    if !claims {
        // The row key without its bucket byte: entries of equal values
        // come in primary-key order.
        match desc.buckets {
            0 => key.extend_from_slice(row_key),
            _ => {
                key.extend_from_slice(&row_key[..INDEX_PREFIX_LEN.min(row_key.len())]);
                key.extend_from_slice(row_key.get(INDEX_PREFIX_LEN + 1..).unwrap_or(&[]));
            }
        }
    }
    Ok((key, claims))
}

/// The value of `row`'s entry in the index `idx`: the row's key and the
/// columns the index stores.
pub fn entry_value(desc: &TableDesc, idx: &IndexDesc, row: &[Datum], row_key: &[u8]) -> Vec<u8> {
    let stored: Vec<(u32, &Datum)> = idx
        .stored
        .iter()
        .filter_map(|id| {
            let i = desc.columns.iter().position(|c| c.id == *id)?;
            Some((*id, &row[i]))
        })
        .collect();
    encode_entry_value(row_key, &stored)
}

fn check_not_null(desc: &TableDesc, rows: &[&Vec<Datum>], f: &TextFormat) -> Result<()> {
    for row in rows {
        for (i, c) in desc.columns.iter().enumerate() {
            if c.not_null && row[i].is_null() {
                return Err(Error::new(
                    code::NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        c.name, desc.name
                    ),
                )
                .with_detail(failing_row(desc, row, f)));
            }
        }
    }
    Ok(())
}

/// `Failing row contains (…).`, as PostgreSQL details a violation.
pub fn failing_row(desc: &TableDesc, row: &[Datum], f: &TextFormat) -> String {
    let values: Vec<String> = desc
        .columns
        .iter()
        .zip(row)
        .filter(|(c, _)| !c.hidden)
        .map(|(c, d)| match d {
            Datum::Null => "null".to_string(),
            d => format_text(d, c.ty, f),
        })
        .collect();
    format!("Failing row contains ({}).", values.join(", "))
}

/// The visible columns of `rows` as one Arrow batch, and the schema
/// (qualified by the table's name) expressions over them resolve in.
pub fn rows_batch(desc: &TableDesc, rows: &[&Vec<Datum>]) -> Result<(RecordBatch, DFSchema)> {
    let visible: Vec<usize> = (0..desc.columns.len())
        .filter(|i| !desc.columns[*i].hidden)
        .collect();
    let schema = Arc::new(Schema::new(
        visible
            .iter()
            .map(|i| field(&desc.columns[*i].name, desc.columns[*i].ty, true))
            .collect::<Vec<_>>(),
    ));
    let mut builders: Vec<ColumnBuilder> = visible
        .iter()
        .map(|i| ColumnBuilder::new(desc.columns[*i].ty, rows.len()))
        .collect();
    for row in rows {
        for (b, i) in builders.iter_mut().zip(&visible) {
            b.push(&row[*i])?;
        }
    }
    let rb = batch(schema.clone(), &mut builders, rows.len())?;
    let df_schema = DFSchema::try_from_qualified_schema(desc.name.as_str(), &schema)
        .map_err(from_datafusion)?;
    Ok((rb, df_schema))
}

/// Evaluates a SQL expression over each row of `rb` (whose columns
/// `schema` names), as an Arrow array and its SQL type.
fn eval(
    df: &SessionContext,
    sql: &str,
    rb: &RecordBatch,
    schema: &DFSchema,
    cast_to: Option<DataType>,
) -> Result<(ArrayRef, SqlType)> {
    let mut expr = df.parse_sql_expr(sql, schema).map_err(from_datafusion)?;
    if let Some(t) = cast_to {
        expr = datafusion::logical_expr::cast(expr, t);
    }
    let (_, field) = expr.to_field(schema).map_err(from_datafusion)?;
    let phys = df
        .create_physical_expr(expr, schema)
        .map_err(from_datafusion)?;
    let values = phys
        .evaluate(rb)
        .and_then(|v| v.into_array(rb.num_rows()))
        .map_err(from_datafusion)?;
    Ok((values, sql_type_of(&field)))
}

/// Evaluates a SQL expression over each row of `rb`.
pub fn eval_column(
    df: &SessionContext,
    sql: &str,
    rb: &RecordBatch,
    schema: &DFSchema,
) -> Result<Vec<Datum>> {
    let (values, ty) = eval(df, sql, rb, schema, None)?;
    (0..values.len())
        .map(|i| datum_at(values.as_ref(), i, ty))
        .collect()
}

/// Evaluates a boolean SQL expression over each row of `rb`.
pub fn eval_bool(
    df: &SessionContext,
    sql: &str,
    rb: &RecordBatch,
    schema: &DFSchema,
) -> Result<Vec<Option<bool>>> {
    let (values, _) = eval(df, sql, rb, schema, Some(DataType::Boolean))?;
    let bools = values
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| Error::internal("a boolean expression gave no booleans"))?;
    Ok((0..bools.len())
        .map(|i| (!bools.is_null(i)).then(|| bools.value(i)))
        .collect())
}

fn check_constraints(cx: &DmlCtx<'_>, desc: &TableDesc, rows: &[&Vec<Datum>]) -> Result<()> {
    let checks: Vec<(&str, &str)> = desc
        .constraints
        .iter()
        .filter_map(|c| match c {
            Constraint::Check { name, expr } => Some((name.as_str(), expr.as_str())),
            _ => None,
        })
        .collect();
    if checks.is_empty() || rows.is_empty() {
        return Ok(());
    }
    let (rb, schema) = rows_batch(desc, rows)?;
    for (name, expr) in checks {
        let values = eval_bool(cx.df, expr, &rb, &schema)?;
        if let Some(i) = values.iter().position(|v| *v == Some(false)) {
            return Err(Error::new(
                code::CHECK_VIOLATION,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    desc.name
                ),
            )
            .with_detail(failing_row(desc, rows[i], cx.format)));
        }
    }
    Ok(())
}

/// The keys a statement removes and adds, and what it stages.
struct UniquePlan {
    /// Keys (rows and index entries) the old rows held.
    removed: HashSet<Vec<u8>>,
    /// Keys that must be unique.
    claimed: Vec<Claim>,
    /// Pairs to put.
    puts: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A key a new row claims: its row key or a unique index entry.
struct Claim {
    key: Vec<u8>,
    /// The unique index (`None`: the primary key).
    index: Option<usize>,
    /// The change whose new row claims it.
    change: usize,
    /// The index's key expressions' values for the row.
    computed: Vec<Datum>,
}

impl Claim {
    /// The unique violation of this claim.
    fn violation(&self, desc: &TableDesc, changes: &[RowChange], f: &TextFormat) -> Error {
        let row = changes[self.change].new_row();
        duplicate(desc, self.index, row, &self.computed, f)
    }
}

/// The writes of `changes`: rows, and the entries of every index in the
/// state to take them (a delete-only index loses entries, gains none; a
/// partial index has entries only for the rows its predicate keeps).
fn unique_plan(df: &SessionContext, desc: &TableDesc, changes: &[RowChange]) -> Result<UniquePlan> {
    let mut plan = UniquePlan {
        removed: HashSet::new(),
        claimed: Vec::new(),
        puts: Vec::new(),
    };
    let olds: Vec<&Vec<Datum>> = changes.iter().filter_map(RowChange::old).collect();
    let news: Vec<&Vec<Datum>> = changes.iter().filter_map(RowChange::new_row).collect();
    // Per index, per old (new) row: its key expressions' values, or None
    // if the index leaves the row out.
    let mut old_inputs = Vec::with_capacity(desc.indexes.len());
    let mut new_inputs = Vec::with_capacity(desc.indexes.len());
    for idx in &desc.indexes {
        old_inputs.push(key_inputs(df, desc, idx, &olds)?);
        new_inputs.push(key_inputs(df, desc, idx, &news)?);
    }
    let (mut o, mut w) = (0, 0);
    for (n, change) in changes.iter().enumerate() {
        if let Some(old) = change.old() {
            let key = row_key(desc, old)?;
            for (i, idx) in desc.indexes.iter().enumerate() {
                if let Some(computed) = &old_inputs[i][o] {
                    plan.removed
                        .insert(index_entry(desc, idx, old, &key, computed)?.0);
                }
            }
            plan.removed.insert(key);
            o += 1;
        }
        if let Some(new) = change.new_row() {
            let key = row_key(desc, new)?;
            for (i, idx) in desc.indexes.iter().enumerate() {
                let Some(computed) = &new_inputs[i][w] else {
                    continue;
                };
                if !idx.takes_writes() {
                    continue;
                }
                let (entry, claims) = index_entry(desc, idx, new, &key, computed)?;
                if claims {
                    plan.claimed.push(Claim {
                        key: entry.clone(),
                        index: Some(i),
                        change: n,
                        computed: computed.clone(),
                    });
                }
                plan.puts.push((entry, entry_value(desc, idx, new, &key)));
            }
            plan.claimed.push(Claim {
                key: key.clone(),
                index: None,
                change: n,
                computed: Vec::new(),
            });
            plan.puts.push((key, encode_table_row(desc, new)));
            w += 1;
        }
    }
    Ok(plan)
}

async fn check_unique(
    cx: &DmlCtx<'_>,
    desc: &TableDesc,
    plan: &UniquePlan,
    changes: &[RowChange],
) -> Result<()> {
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut probe = Vec::new();
    for claim in &plan.claimed {
        if !seen.insert(claim.key.as_slice()) {
            return Err(claim.violation(desc, changes, cx.format));
        }
        if !plan.removed.contains(&claim.key) {
            probe.push(claim.key.clone());
        }
    }
    if probe.is_empty() {
        return Ok(());
    }
    let found = cx.txn.reader().batch_get(probe).await?;
    if let Some(p) = found.first() {
        let claim = plan
            .claimed
            .iter()
            .find(|c| c.key == p.key)
            .ok_or_else(|| Error::internal("a duplicate key not claimed"))?;
        return Err(claim.violation(desc, changes, cx.format));
    }
    Ok(())
}

/// `duplicate key value violates unique constraint …` for `row`, claimed
/// through the unique index at `index` (the primary key when `None`;
/// `computed`: the index's key expressions' values for the row).
pub fn duplicate(
    desc: &TableDesc,
    index: Option<usize>,
    row: Option<&Vec<Datum>>,
    computed: &[Datum],
    f: &TextFormat,
) -> Error {
    let idx = index.map_or(&desc.primary, |i| &desc.indexes[i]);
    let detail = row.map(|r| {
        format!(
            "Key {} already exists.",
            key_text(desc, idx, r, computed, f)
        )
    });
    let e = Error::new(
        code::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\"",
            idx.name
        ),
    );
    match detail {
        Some(d) => e.with_detail(d),
        None => e,
    }
}

/// `(a, b)=(1, x)`: columns `ids` of `row`, as PostgreSQL details a key.
fn columns_text(desc: &TableDesc, ids: &[u32], row: &[Datum], f: &TextFormat) -> String {
    let (names, values): (Vec<String>, Vec<String>) = ids
        .iter()
        .map(|id| {
            let i = position(desc, *id);
            let c = &desc.columns[i];
            let v = match &row[i] {
                Datum::Null => "null".to_string(),
                d => format_text(d, c.ty, f),
            };
            (c.name.clone(), v)
        })
        .unzip();
    format!("({})=({})", names.join(", "), values.join(", "))
}

fn stage(txn: &mut BufferedTxn, plan: &UniquePlan) -> Result<()> {
    let put: HashSet<&[u8]> = plan.puts.iter().map(|(k, _)| k.as_slice()).collect();
    for key in &plan.removed {
        if !put.contains(key.as_slice()) {
            txn.delete(key.clone())?;
        }
    }
    for (key, value) in &plan.puts {
        txn.put(key.clone(), value.clone())?;
    }
    Ok(())
}

/// A foreign key of `child` as it is used here.
struct ForeignKey<'a> {
    name: &'a str,
    /// Referencing columns (positions in the child's columns).
    columns: Vec<usize>,
    parent: Arc<TableDesc>,
    /// Referenced columns (positions in the parent's columns), in the
    /// order of `columns`.
    ref_columns: Vec<usize>,
    on_delete: FkAction,
    on_update: FkAction,
}

fn foreign_keys<'a>(catalog: &Catalog, child: &'a TableDesc) -> Result<Vec<ForeignKey<'a>>> {
    let mut out = Vec::new();
    for c in &child.constraints {
        let Constraint::ForeignKey {
            name,
            columns,
            ref_table,
            ref_columns,
            on_delete,
            on_update,
        } = c
        else {
            continue;
        };
        let parent = catalog.by_id(*ref_table).cloned().ok_or_else(|| {
            Error::internal(format!("foreign key {name} references a dropped table"))
        })?;
        out.push(ForeignKey {
            name,
            columns: columns.iter().map(|id| position(child, *id)).collect(),
            ref_columns: ref_columns
                .iter()
                .map(|id| position(&parent, *id))
                .collect(),
            parent,
            on_delete: *on_delete,
            on_update: *on_update,
        });
    }
    Ok(out)
}

impl ForeignKey<'_> {
    /// The referencing values of a child row, `None` when one is NULL (a
    /// row with a NULL in its foreign key references nothing).
    fn values<'r>(&self, child_row: &'r [Datum]) -> Option<Vec<&'r Datum>> {
        let v: Vec<&Datum> = self.columns.iter().map(|i| &child_row[*i]).collect();
        (!v.iter().any(|d| d.is_null())).then_some(v)
    }

    /// The key that identifies the referenced row: its row key when the
    /// referenced columns are the primary key, else its unique entry.
    fn parent_key(&self, values: &[&Datum]) -> Result<Vec<u8>> {
        let p = &self.parent;
        let value_of = |id: u32| -> Result<&Datum> {
            let i = position(p, id);
            self.ref_columns
                .iter()
                .position(|r| *r == i)
                .map(|j| values[j])
                .ok_or_else(|| Error::internal("foreign key columns match no key"))
        };
        let index = if same_columns(&p.primary, &self.ref_columns, p) {
            &p.primary
        } else {
            p.indexes
                .iter()
                .find(|idx| {
                    idx.unique
                        && idx.is_public()
                        && !idx.computes()
                        && same_columns(idx, &self.ref_columns, p)
                })
                .ok_or_else(|| Error::internal("foreign key references no unique key"))?
        };
        let mut key = index_prefix(p.id, index.id);
        for (id, descending) in &index.columns {
            let d = value_of(*id)?;
            let ty = p.columns[position(p, *id)].ty;
            let d = coerce_for_key(d, ty);
            encode_key(&mut key, &[(&d, ty, *descending)])?;
        }
        if index.id == PRIMARY_INDEX_ID {
            spread_key(&mut key, p.buckets);
        }
        Ok(key)
    }

    /// The referencing values as comparable bytes (the parent's key
    /// encoding of them, in the order of `columns`).
    fn encode(&self, values: &[&Datum]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (d, r) in values.iter().zip(&self.ref_columns) {
            let ty = self.parent.columns[*r].ty;
            encode_key(&mut out, &[(&coerce_for_key(d, ty), ty, false)])?;
        }
        Ok(out)
    }
}

/// A referencing value as the referenced column's type encodes it
/// (integer widths and float widths encode alike already).
fn coerce_for_key(d: &Datum, ty: SqlType) -> Datum {
    match (d, ty) {
        (Datum::Int2(v), SqlType::Int4) => Datum::Int4(*v as i32),
        _ => d.clone(),
    }
}

fn same_columns(idx: &IndexDesc, positions: &[usize], desc: &TableDesc) -> bool {
    let mut a: Vec<usize> = idx
        .columns
        .iter()
        .map(|(id, _)| position(desc, *id))
        .collect();
    let mut b = positions.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The rows written must reference rows that exist; the referenced keys
/// are locked.
pub async fn check_references(
    cx: &mut DmlCtx<'_>,
    desc: &TableDesc,
    changes: &[RowChange],
) -> Result<()> {
    let fks = foreign_keys(&cx.catalog, desc)?;
    for fk in &fks {
        let mut wanted: Vec<(Vec<u8>, &Vec<Datum>)> = Vec::new();
        for change in changes {
            let Some(new) = change.new_row() else {
                continue;
            };
            let Some(values) = fk.values(new) else {
                continue;
            };
            if let Some(old) = change.old() {
                if fk.values(old) == Some(values.clone()) {
                    continue;
                }
            }
            wanted.push((fk.parent_key(&values)?, new));
        }
        if wanted.is_empty() {
            continue;
        }
        let found = cx
            .txn
            .reader()
            .batch_get(wanted.iter().map(|(k, _)| k.clone()).collect())
            .await?;
        let found: HashSet<&[u8]> = found.iter().map(|p| p.key.as_slice()).collect();
        if let Some((_, row)) = wanted.iter().find(|(k, _)| !found.contains(k.as_slice())) {
            let ids: Vec<u32> = fk.columns.iter().map(|i| desc.columns[*i].id).collect();
            return Err(Error::new(
                code::FOREIGN_KEY_VIOLATION,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    desc.name, fk.name
                ),
            )
            .with_detail(format!(
                "Key {} is not present in table \"{}\".",
                columns_text(desc, &ids, row, cx.format),
                fk.parent.name
            )));
        }
        for (key, _) in wanted {
            cx.txn.lock(key)?;
        }
    }
    Ok(())
}

/// Rows of other tables (or this one) that reference keys the changes
/// remove or alter: refused, or changed as the constraint says.
async fn referenced_by(
    cx: &mut DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    changes: &[RowChange],
    depth: usize,
) -> Result<()> {
    let children: Vec<Arc<TableDesc>> = cx
        .catalog
        .tables
        .values()
        .filter(|t| {
            t.constraints.iter().any(
                |c| matches!(c, Constraint::ForeignKey { ref_table, .. } if *ref_table == desc.id),
            )
        })
        .cloned()
        .collect();
    if children.is_empty() {
        return Ok(());
    }
    for child in children {
        let catalog = cx.catalog.clone();
        let fks = foreign_keys(&catalog, &child)?;
        for fk in fks.iter().filter(|fk| fk.parent.id == desc.id) {
            // Referenced values that go away: encoded → (old parent row,
            // new parent row when updated).
            let mut gone: HashMap<Vec<u8>, (&Vec<Datum>, Option<&Vec<Datum>>)> = HashMap::new();
            for change in changes {
                let Some(old) = change.old() else { continue };
                let old_values: Vec<&Datum> = fk.ref_columns.iter().map(|i| &old[*i]).collect();
                if old_values.iter().any(|d| d.is_null()) {
                    continue;
                }
                let new = change.new_row();
                if let Some(new) = new {
                    let new_values: Vec<&Datum> = fk.ref_columns.iter().map(|i| &new[*i]).collect();
                    if fk.encode(&new_values)? == fk.encode(&old_values)? {
                        continue;
                    }
                }
                gone.insert(fk.encode(&old_values)?, (old, new));
            }
            if gone.is_empty() {
                continue;
            }
            let mut actions = Vec::new();
            for row in scan_table(cx, &child).await? {
                let Some(values) = fk.values(&row) else {
                    continue;
                };
                let Some((old_parent, new_parent)) = gone.get(&fk.encode(&values)?) else {
                    continue;
                };
                let action = if new_parent.is_some() {
                    fk.on_update
                } else {
                    fk.on_delete
                };
                match (action, new_parent) {
                    (FkAction::Restrict, _) | (FkAction::SetDefault, _) => {
                        let ids: Vec<u32> =
                            fk.ref_columns.iter().map(|i| desc.columns[*i].id).collect();
                        return Err(Error::new(
                            code::FOREIGN_KEY_VIOLATION,
                            format!(
                                "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                                desc.name, fk.name, child.name
                            ),
                        )
                        .with_detail(format!(
                            "Key {} is still referenced from table \"{}\".",
                            columns_text(desc, &ids, old_parent, cx.format),
                            child.name
                        )));
                    }
                    (FkAction::Cascade, None) => actions.push(RowChange::Delete(row)),
                    (FkAction::Cascade, Some(new_parent)) => {
                        let mut new = row.clone();
                        for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
                            new[*c] = new_parent[*r].clone();
                        }
                        actions.push(RowChange::Update(row, new));
                    }
                    (FkAction::SetNull, _) => {
                        let mut new = row.clone();
                        for c in &fk.columns {
                            new[*c] = Datum::Null;
                        }
                        actions.push(RowChange::Update(row, new));
                    }
                }
            }
            apply_at(cx, child.clone(), actions, depth + 1).await?;
        }
    }
    Ok(())
}

/// The stored value of a full row of `desc`.
pub fn encode_table_row(desc: &TableDesc, row: &[Datum]) -> Vec<u8> {
    let values: Vec<(u32, &Datum)> = desc.columns.iter().map(|c| c.id).zip(row.iter()).collect();
    let recorded: Vec<u32> = desc
        .columns
        .iter()
        .filter(|c| c.missing.is_some())
        .map(|c| c.id)
        .collect();
    encode_row_recording_nulls(&values, &recorded)
}

/// The `wanted` columns of a stored row of `desc` (columns added since
/// the row was written read as their `missing` value).
pub fn decode_table_row(
    desc: &TableDesc,
    bytes: &[u8],
    wanted: &[(u32, SqlType)],
) -> Result<Vec<Datum>> {
    let missing: Vec<Option<&[u8]>> = wanted
        .iter()
        .map(|(id, _)| desc.column_by_id(*id).and_then(|c| c.missing.as_deref()))
        .collect();
    Ok(decode_row_with_missing(bytes, wanted, &missing)?)
}

/// Every row of `desc` as the transaction sees it now.
pub async fn scan_table(cx: &DmlCtx<'_>, desc: &TableDesc) -> Result<Vec<Vec<Datum>>> {
    let reader = cx.txn.reader();
    let columns: Vec<(u32, SqlType)> = desc.columns.iter().map(|c| (c.id, c.ty)).collect();
    let mut start = index_prefix(desc.id, PRIMARY_INDEX_ID);
    let end = prefix_end(&start);
    let mut rows = Vec::new();
    loop {
        let page = reader
            .scan(
                &start,
                &end,
                super::scan::PAGE_ROWS,
                super::scan::PAGE_BYTES,
            )
            .await?;
        for p in page.pairs {
            rows.push(decode_table_row(desc, &p.value, &columns)?);
        }
        match page.resume {
            Some(r) => start = r,
            None => return Ok(rows),
        }
    }
}
