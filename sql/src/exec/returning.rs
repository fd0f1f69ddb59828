//! `RETURNING`: the list is planned by DataFusion as a query over the
//! rows the statement wrote (new rows for INSERT and UPDATE, removed rows
//! for DELETE), standing in for the target table. So `*`, expressions,
//! aliases, functions and output names behave as in a SELECT.

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::SelectItem;

use super::ddl::quote_ident;
use super::query::{from_datafusion, plan_in, Scope};
use super::write::{rows_batch, DmlCtx};
use crate::catalog::TableDesc;
use crate::error::{Error, Result};
use crate::plan::names::{named, output_names};
use crate::types::arrow::sql_columns;
use crate::types::{Datum, SqlType};

/// A statement's RETURNING clause: its list and how it names the table.
pub struct Returning<'a> {
    /// The items.
    pub items: &'a [SelectItem],
    /// The alias the statement gave the table, if any.
    pub alias: Option<String>,
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
    let (batch, _) = rows_batch(desc, &refs)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(from_datafusion)?;
    let schema = cx
        .catalog
        .schema_name(desc.schema_id)
        .ok_or_else(|| Error::internal("a table in no schema"))?;
    let items: Vec<String> = ret.items.iter().map(|i| i.to_string()).collect();
    let alias = ret
        .alias
        .as_ref()
        .map(|a| format!(" AS {}", quote_ident(a)))
        .unwrap_or_default();
    let sql = format!(
        "SELECT {} FROM {}.{}{alias}",
        items.join(", "),
        quote_ident(schema),
        quote_ident(&desc.name)
    );
    let stmt = crate::session::Session::parse(&sql)?
        .pop()
        .ok_or_else(|| Error::internal("an empty RETURNING query"))?;
    let names = output_names(&stmt);
    let scope = Scope {
        hidden_of: None,
        replaced: Some((desc.id, Arc::new(table))),
        keys_read: None,
    };
    let plan = plan_in(cx.df, cx.catalog.clone(), cx.txn.reader(), stmt, scope).await?;
    let columns = named(sql_columns(plan.schema().as_arrow()), names);
    let batches = cx.df.execute(&plan).await?;
    Ok(Returned { columns, batches })
}
