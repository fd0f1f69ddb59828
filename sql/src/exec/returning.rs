//! `RETURNING`: the list is planned by DataFusion as a query over the
//! rows the statement wrote (new rows for INSERT and UPDATE, removed rows
//! for DELETE), standing in for the target table. So `*`, expressions,
//! aliases, functions and output names behave as in a SELECT.
//!
//! An UPDATE … FROM or DELETE … USING may also name the other tables'
//! columns: the rows of each that joined a changed row come along as a
//! table of their own, matched to that row by its position.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::{SelectItem, SelectItemQualifiedWildcardKind};

use super::ddl::{ident_name, quote_ident};
use super::query::{from_datafusion, plan_in, Scope};
use super::write::{rows_batch, DmlCtx};
use crate::catalog::TableDesc;
use crate::error::{Error, Result};
use crate::plan::names::{named, output_names};
use crate::types::arrow::sql_columns;
use crate::types::{Datum, SqlType};

/// The column that matches a joined relation's row to the changed row it
/// joined (its position among the rows written).
pub const ROW_POSITION: &str = "__strata_row";

/// A statement's RETURNING clause: its list and how it names the table.
pub struct Returning<'a> {
    /// The items.
    pub items: &'a [SelectItem],
    /// The alias the statement gave the table, if any.
    pub alias: Option<String>,
    /// The FROM/USING relations of an UPDATE or DELETE, with their rows.
    pub joined: Vec<JoinedRows>,
}

/// The rows of one FROM/USING relation that joined the changed rows.
pub struct JoinedRows {
    /// How the statement names the relation.
    pub name: String,
    /// Its columns, in order, then [`ROW_POSITION`].
    pub schema: Arc<Schema>,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

impl JoinedRows {
    /// The relation called `name` with `columns`, no rows yet.
    pub fn new(name: String, columns: &[Arc<Field>]) -> JoinedRows {
        let mut fields: Vec<Arc<Field>> = columns.to_vec();
        fields.push(Arc::new(Field::new(ROW_POSITION, DataType::Int64, false)));
        JoinedRows {
            name,
            schema: Arc::new(Schema::new(fields)),
            batches: Vec::new(),
        }
    }

    /// Adds rows: `columns` (already cut to the rows kept) joined the
    /// changed rows at `positions`.
    pub fn push(&mut self, mut columns: Vec<ArrayRef>, positions: Vec<i64>) -> Result<()> {
        columns.push(Arc::new(Int64Array::from(positions)));
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| from_datafusion(e.into()))?;
        self.batches.push(batch);
        Ok(())
    }

    /// The relation's own columns (without the position).
    fn columns(&self) -> impl Iterator<Item = &str> {
        let n = self.schema.fields().len() - 1;
        self.schema.fields()[..n].iter().map(|f| f.name().as_str())
    }
}

/// The result of a RETURNING list.
pub struct Returned {
    /// Column names and types.
    pub columns: Vec<(String, SqlType)>,
    /// The rows.
    pub batches: SendableRecordBatchStream,
}

/// Evaluates `ret` over `rows` (full rows of `desc`).
pub async fn returning(
    cx: &DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    ret: &Returning<'_>,
    rows: &[Vec<Datum>],
) -> Result<Returned> {
    let refs: Vec<&Vec<Datum>> = rows.iter().collect();
    let (mut batch, _) = rows_batch(desc, &refs)?;
    let schema = cx
        .catalog
        .schema_name(desc.schema_id)
        .ok_or_else(|| Error::internal("a table in no schema"))?;
    let target = ret.alias.clone().unwrap_or_else(|| desc.name.clone());
    let mut items: Vec<String> = ret.items.iter().map(|i| i.to_string()).collect();
    let mut from = format!("{}.{}", quote_ident(schema), quote_ident(&desc.name));
    if let Some(a) = &ret.alias {
        from.push_str(&format!(" AS {}", quote_ident(a)));
    }
    let mut transient: Vec<(String, Arc<dyn TableProvider>)> = Vec::new();
    if !ret.joined.is_empty() {
        let target_columns: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>();
        items = expand_wildcards(ret.items, &target, &target_columns, &ret.joined);
        batch = with_positions(batch)?;
        for (i, j) in ret.joined.iter().enumerate() {
            let name = format!("{ROW_POSITION}_{i}");
            let table = MemTable::try_new(j.schema.clone(), vec![j.batches.clone()])
                .map_err(from_datafusion)?;
            from.push_str(&format!(
                " JOIN {}.{} AS {r} ON {t}.{ROW_POSITION} = {r}.{ROW_POSITION}",
                quote_ident(schema),
                quote_ident(&name),
                r = quote_ident(&j.name),
                t = quote_ident(&target),
            ));
            transient.push((name, Arc::new(table)));
        }
    }
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(from_datafusion)?;
    let sql = format!("SELECT {} FROM {from}", items.join(", "));
    let stmt = crate::session::Session::parse(&sql)?
        .pop()
        .ok_or_else(|| Error::internal("an empty RETURNING query"))?;
    let names = output_names(&stmt);
    let scope = Scope {
        replaced: Some((desc.id, Arc::new(table))),
        transient,
        ..Default::default()
    };
    let plan = plan_in(cx.df, cx.catalog.clone(), cx.txn.reader(), stmt, scope).await?;
    let columns = named(sql_columns(plan.schema().as_arrow()), names);
    let batches = cx.df.execute(&plan).await?;
    Ok(Returned { columns, batches })
}

/// `batch` with each row's position added as [`ROW_POSITION`].
fn with_positions(batch: RecordBatch) -> Result<RecordBatch> {
    let mut fields: Vec<Arc<Field>> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ROW_POSITION, DataType::Int64, false)));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(Int64Array::from_iter_values(
        0..batch.num_rows() as i64,
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| from_datafusion(e.into()))
}

/// The RETURNING items with `*` and `rel.*` spelt out column by column,
/// so the position columns stay out of the result: `*` is the target's
/// columns then each joined relation's, as in PostgreSQL.
fn expand_wildcards(
    items: &[SelectItem],
    target: &str,
    target_columns: &[&str],
    joined: &[JoinedRows],
) -> Vec<String> {
    let spell = |rel: &str, columns: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        columns
            .map(|c| format!("{}.{}", quote_ident(rel), quote_ident(c)))
            .collect()
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard(_) => {
                out.extend(spell(target, &mut target_columns.iter().copied()));
                for j in joined {
                    out.extend(spell(&j.name, &mut j.columns()));
                }
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                let rel =
                    n.0.last()
                        .and_then(|p| p.as_ident())
                        .map(ident_name)
                        .unwrap_or_default();
                if rel == target {
                    out.extend(spell(target, &mut target_columns.iter().copied()));
                } else if let Some(j) = joined.iter().find(|j| j.name == rel) {
                    out.extend(spell(&j.name, &mut j.columns()));
                } else {
                    out.push(item.to_string());
                }
            }
            other => out.push(other.to_string()),
        }
    }
    out
}
