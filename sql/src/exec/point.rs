//! Reading a [`PointSelect`]: one key lookup through the statement's view,
//! the row decoded into a one-row Arrow batch (the form every result
//! takes on its way to the client). Point writes ([`update`], [`delete`]):
//! one key lookup, the row changed through `write::apply`, no query plan.

use std::sync::Arc;

use client::TxnReader;
use datafusion::arrow::datatypes::Schema;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;

use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_expr::PhysicalExpr;

use super::insert::Written;
use super::query::{from_datafusion, QueryEngine};
use super::write::{apply, decode_table_row, rows_batch, DmlCtx, RowChange};
use crate::catalog::TableDesc;
use crate::codec::row::decode_row_with_missing;
use crate::error::{Error, Result};
use crate::plan::point::PointSelect;
use crate::types::arrow::{batch, datum_at, field, sql_type_of, ColumnBuilder};
use crate::types::cast::assign;
use crate::types::{Datum, SqlType};

/// The result columns of `point` and its rows (none or one).
pub async fn read(
    point: &PointSelect,
    reader: &TxnReader,
) -> Result<(Vec<(String, SqlType)>, SendableRecordBatchStream)> {
    let table = &point.table;
    let wanted: Vec<(u32, SqlType)> = point.columns.iter().map(|(_, id, ty)| (*id, *ty)).collect();
    let fields: Vec<_> = point
        .columns
        .iter()
        .map(|(name, id, ty)| {
            let nullable = table.column_by_id(*id).is_none_or(|c| !c.not_null);
            field(name, *ty, nullable)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let value = match &point.key {
        Some(key) => reader.get(key).await?,
        None => None,
    };
    let mut builders: Vec<ColumnBuilder> = wanted
        .iter()
        .map(|(_, ty)| ColumnBuilder::new(*ty, 1))
        .collect();
    let rows = match value {
        Some(bytes) => {
            let missing: Vec<Option<&[u8]>> = wanted
                .iter()
                .map(|(id, _)| table.column_by_id(*id).and_then(|c| c.missing.as_deref()))
                .collect();
            let row = decode_row_with_missing(&bytes, &wanted, &missing)?;
            for (b, d) in builders.iter_mut().zip(&row) {
                b.push(d)?;
            }
            1
        }
        None => 0,
    };
    let result = batch(schema.clone(), &mut builders, rows)?;
    let columns = point
        .columns
        .iter()
        .map(|(name, _, ty)| (name.clone(), *ty))
        .collect();
    let stream = futures::stream::iter([Ok(result)]);
    Ok((
        columns,
        Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
    ))
}

/// Runs a point UPDATE (`plan::point::point_target`): reads the row at
/// `key`, computes the `sets` (column position, SQL expression) over it
/// and writes it back through `write::apply`. The expressions are typed
/// and given PostgreSQL's operators by the session's analyzer, as in any
/// plan, but no query is planned. `None` when an expression cannot be
/// computed this way (a subquery, say): the caller plans the statement.
pub async fn update(
    cx: &mut DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    key: Option<Vec<u8>>,
    sets: &[(usize, String)],
) -> Result<Option<Written>> {
    let Ok(computed) = compile_sets(cx.df, desc, sets) else {
        return Ok(None);
    };
    let Some(row) = read_row(cx, desc, key).await? else {
        return Ok(Some(written(0)));
    };
    let (rb, _) = rows_batch(desc, &[&row])?;
    let mut new = row.clone();
    for ((i, _), (expr, ty)) in sets.iter().zip(&computed) {
        let value = expr
            .evaluate(&rb)
            .and_then(|v| v.into_array(1))
            .map_err(from_datafusion)?;
        let d = datum_at(value.as_ref(), 0, *ty)?;
        new[*i] = assign(d, desc.columns[*i].ty, cx.format)?;
    }
    apply(cx, desc, vec![RowChange::Update(row, new)]).await?;
    Ok(Some(written(1)))
}

/// Runs a point DELETE: reads the row at `key` (its index entries and
/// the rows referencing it need its values) and deletes it.
pub async fn delete(
    cx: &mut DmlCtx<'_>,
    desc: &Arc<TableDesc>,
    key: Option<Vec<u8>>,
) -> Result<Written> {
    let Some(row) = read_row(cx, desc, key).await? else {
        return Ok(written(0));
    };
    apply(cx, desc, vec![RowChange::Delete(row)]).await?;
    Ok(written(1))
}

fn written(count: u64) -> Written {
    Written {
        count,
        returned: None,
    }
}

/// The row at `key` as the statement's transaction sees it.
async fn read_row(
    cx: &DmlCtx<'_>,
    desc: &TableDesc,
    key: Option<Vec<u8>>,
) -> Result<Option<Vec<Datum>>> {
    let Some(key) = key else {
        return Ok(None);
    };
    let Some(value) = cx.txn.reader().get(&key).await? else {
        return Ok(None);
    };
    let columns: Vec<(u32, SqlType)> = desc.columns.iter().map(|c| (c.id, c.ty)).collect();
    decode_table_row(desc, &value, &columns).map(Some)
}

/// The SET expressions as physical expressions over a row of `desc` (as
/// `write::rows_batch` lays it out), with their result types.
fn compile_sets(
    df: &QueryEngine,
    desc: &TableDesc,
    sets: &[(usize, String)],
) -> Result<Vec<(Arc<dyn PhysicalExpr>, SqlType)>> {
    let (_, schema) = rows_batch(desc, &[])?;
    let exprs = sets
        .iter()
        .enumerate()
        .map(|(i, (_, sql))| {
            let e = df.parse_sql_expr(sql, &schema)?;
            Ok(e.alias(format!("__strata_set_{i}")))
        })
        .collect::<DfResult<Vec<_>>>()
        .map_err(from_datafusion)?;
    let input = LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(schema.clone()),
    });
    let plan = LogicalPlanBuilder::from(input)
        .project(exprs)
        .and_then(|b| b.build())
        .and_then(|p| crate::plan::pg_rules::analyze(df.state(), p))
        .map_err(from_datafusion)?;
    let LogicalPlan::Projection(projection) = &plan else {
        return Err(Error::internal(
            "SET expressions analyzed into no projection",
        ));
    };
    projection
        .expr
        .iter()
        .zip(projection.schema.fields())
        .map(|(e, f)| {
            let phys = df
                .create_physical_expr(e.clone(), &schema)
                .map_err(from_datafusion)?;
            Ok((phys, sql_type_of(f)))
        })
        .collect()
}
