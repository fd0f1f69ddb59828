//! `INSERT`: the SQL layer owns the write path. DataFusion evaluates the
//! source (`VALUES` or a query) against the statement's frozen view; each
//! row is completed with defaults, cast to the column types with
//! PostgreSQL's assignment rules, checked (NOT NULL, primary key
//! uniqueness) and written into the transaction's buffer. A violation
//! fails the statement before anything of it is committed.

use std::collections::HashSet;
use std::sync::Arc;

use client::{BufferedTxn, SharedKv, TxnReader};
use datafusion::execution::context::SessionContext;
use datafusion::sql::sqlparser::ast::{Insert, Query, TableObject};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::TryStreamExt;

use super::blocks::{rowid_counter_key, spread_rowid, Blocks};
use super::ddl::{ident_name, split_name};
use super::query::{from_datafusion, plan};
use crate::catalog::desc::DefaultExpr;
use crate::catalog::{Catalog, TableDesc};
use crate::codec::key::row_key;
use crate::codec::row::encode_row;
use crate::error::{code, Error, Result};
use crate::types::arrow::{datum_at, sql_type_of};
use crate::types::cast::assign;
use crate::types::text::{format_text, TextFormat};
use crate::types::Datum;

/// What an INSERT needs besides the statement.
pub struct InsertCtx<'a> {
    /// The statement's catalog.
    pub catalog: Arc<Catalog>,
    /// The connection's DataFusion context.
    pub df: &'a SessionContext,
    /// The transaction written into.
    pub txn: &'a mut BufferedTxn,
    /// The store (row id blocks).
    pub kv: &'a SharedKv,
    /// The node's number blocks.
    pub blocks: &'a Blocks,
    /// Session formatting settings (text to value conversions).
    pub format: &'a TextFormat,
}

/// Runs one INSERT; returns the number of rows inserted.
pub async fn insert(cx: InsertCtx<'_>, ins: &Insert) -> Result<u64> {
    if ins.on.is_some() {
        return Err(Error::unsupported("INSERT … ON CONFLICT (coming)"));
    }
    if ins.returning.is_some() {
        return Err(Error::unsupported("INSERT … RETURNING (coming)"));
    }
    let TableObject::TableName(name) = &ins.table else {
        return Err(Error::unsupported("INSERT into a table function"));
    };
    let (schema, table) = split_name(name)?;
    let desc = cx
        .catalog
        .find(&schema, &table)
        .filter(|t| t.is_table())
        .cloned()
        .ok_or_else(|| Error::undefined_table(&table))?;
    // Target columns, by position in the table.
    let targets: Vec<usize> = if ins.columns.is_empty() {
        desc.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.hidden)
            .map(|(i, _)| i)
            .collect()
    } else {
        let mut seen = HashSet::new();
        ins.columns
            .iter()
            .map(|n| {
                let col =
                    n.0.last()
                        .and_then(|p| p.as_ident())
                        .map(ident_name)
                        .unwrap_or_default();
                let i = desc
                    .columns
                    .iter()
                    .position(|c| c.name == col && !c.hidden)
                    .ok_or_else(|| {
                        Error::new(
                            code::UNDEFINED_COLUMN,
                            format!("column \"{col}\" of relation \"{table}\" does not exist"),
                        )
                    })?;
                if !seen.insert(i) {
                    return Err(Error::syntax(format!(
                        "column \"{col}\" specified more than once"
                    )));
                }
                Ok(i)
            })
            .collect::<Result<_>>()?
    };
    let reader = cx.txn.reader();
    let defaults = defaults(&cx, &desc, &targets, &reader).await?;
    let rows = match &ins.source {
        Some(q) => source_rows(&cx, q, &reader, targets.len()).await?,
        // DEFAULT VALUES.
        None => vec![Vec::new()],
    };
    let mut written: HashSet<Vec<u8>> = HashSet::new();
    let mut pending = Vec::with_capacity(rows.len());
    for src in rows {
        let mut row = defaults.clone();
        for (value, &i) in src.into_iter().zip(&targets) {
            row[i] = assign(value, desc.columns[i].ty, cx.format)?;
        }
        for (i, c) in desc.columns.iter().enumerate() {
            if c.hidden {
                let n = cx.blocks.next(cx.kv, &rowid_counter_key(desc.id)).await?;
                row[i] = Datum::Int8(spread_rowid(n));
            }
            if c.not_null && row[i].is_null() {
                return Err(Error::new(
                    code::NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        c.name, desc.name
                    ),
                )
                .with_detail(failing_row(&desc, &row, cx.format)));
            }
        }
        let key = primary_key(&desc, &row)?;
        if !written.insert(key.clone()) {
            return Err(duplicate_key(&desc, &row, cx.format));
        }
        pending.push((key, row));
    }
    // Keys that exist already (committed, or written earlier in the
    // transaction) are duplicates.
    let existing = reader
        .batch_get(pending.iter().map(|(k, _)| k.clone()).collect())
        .await?;
    if let Some(dup) = existing.first() {
        let row = pending
            .iter()
            .find(|(k, _)| *k == dup.key)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        return Err(duplicate_key(&desc, &row, cx.format));
    }
    let n = pending.len() as u64;
    for (key, row) in pending {
        let values: Vec<(u32, &Datum)> =
            desc.columns.iter().map(|c| c.id).zip(row.iter()).collect();
        cx.txn.put(key, encode_row(&values))?;
    }
    Ok(n)
}

/// The encoded primary key of a full row.
pub fn primary_key(desc: &TableDesc, row: &[Datum]) -> Result<Vec<u8>> {
    let cols: Vec<(&Datum, crate::types::SqlType, bool)> = desc
        .primary
        .columns
        .iter()
        .map(|(id, desc_order)| {
            let i = desc.columns.iter().position(|c| c.id == *id).unwrap_or(0);
            (&row[i], desc.columns[i].ty, *desc_order)
        })
        .collect();
    Ok(row_key(desc.id, &cols)?)
}

fn duplicate_key(desc: &TableDesc, row: &[Datum], f: &TextFormat) -> Error {
    let (names, values): (Vec<String>, Vec<String>) = desc
        .primary
        .columns
        .iter()
        .filter_map(|(id, _)| {
            let i = desc.columns.iter().position(|c| c.id == *id)?;
            let c = &desc.columns[i];
            Some((c.name.clone(), format_text(&row[i], c.ty, f)))
        })
        .unzip();
    Error::new(
        code::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\"",
            desc.primary.name
        ),
    )
    .with_detail(format!(
        "Key ({})=({}) already exists.",
        names.join(", "),
        values.join(", ")
    ))
}

fn failing_row(desc: &TableDesc, row: &[Datum], f: &TextFormat) -> String {
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

/// Each column's default for this statement (NULL where none): defaults
/// are evaluated once per statement.
async fn defaults(
    cx: &InsertCtx<'_>,
    desc: &TableDesc,
    targets: &[usize],
    reader: &TxnReader,
) -> Result<Vec<Datum>> {
    let mut out = vec![Datum::Null; desc.columns.len()];
    for (i, c) in desc.columns.iter().enumerate() {
        if targets.contains(&i) {
            continue;
        }
        match &c.default {
            None => {}
            Some(DefaultExpr::Sql(expr)) => {
                let q = parse_query(&format!("SELECT {expr}"))?;
                let mut rows = source_rows(cx, &q, reader, 1).await?;
                let v = rows.pop().and_then(|mut r| r.pop()).unwrap_or(Datum::Null);
                out[i] = assign(v, c.ty, cx.format)?;
            }
            Some(DefaultExpr::Sequence(_)) => {
                return Err(Error::unsupported("sequence defaults (coming)"));
            }
        }
    }
    Ok(out)
}

fn parse_query(sql: &str) -> Result<Query> {
    let mut p = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .map_err(|e| Error::syntax(e.to_string()))?;
    p.parse_query()
        .map(|q| *q)
        .map_err(|e| Error::syntax(e.to_string()))
}

/// The rows a source query yields, as datums of its own column types.
async fn source_rows(
    cx: &InsertCtx<'_>,
    q: &Query,
    reader: &TxnReader,
    width: usize,
) -> Result<Vec<Vec<Datum>>> {
    let stmt = datafusion::sql::sqlparser::ast::Statement::Query(Box::new(q.clone()));
    let plan = plan(cx.df, cx.catalog.clone(), reader.clone(), stmt).await?;
    let schema = plan.schema().as_arrow().clone();
    if schema.fields().len() != width {
        let msg = if schema.fields().len() > width {
            "INSERT has more expressions than target columns"
        } else {
            "INSERT has more target columns than expressions"
        };
        return Err(Error::syntax(msg));
    }
    let types: Vec<_> = schema.fields().iter().map(|f| sql_type_of(f)).collect();
    let stream = cx
        .df
        .execute_logical_plan(plan)
        .await
        .map_err(from_datafusion)?
        .execute_stream()
        .await
        .map_err(from_datafusion)?;
    let batches: Vec<_> = stream.try_collect().await.map_err(from_datafusion)?;
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .zip(&types)
                .map(|(a, ty)| datum_at(a.as_ref(), r, *ty))
                .collect::<Result<Vec<_>>>()?;
            rows.push(row);
        }
    }
    Ok(rows)
}
