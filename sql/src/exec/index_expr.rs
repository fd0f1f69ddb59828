//! Expression indexes and partial indexes: the expressions an index keys
//! on (`lower(email)`) and the predicate a partial index keeps rows by
//! (`WHERE active`), checked when the index is made and evaluated over
//! the rows a statement or a backfill writes.
//!
//! A query uses such an index when its filters name the expression (to
//! form key ranges) and, for a partial index, include every conjunct of
//! the predicate: both are matched on the forms DataFusion's planner
//! gives them ([`IndexExpr::planned`]), recorded when the index is made.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Expr, ExprSchemable, Volatility};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::prelude::SessionContext;

use super::query::from_datafusion;
use super::write::{eval_bool, eval_column, rows_batch};
use crate::catalog::{IndexDesc, IndexExpr, TableDesc};
use crate::error::{code, Error, Result};
use crate::types::arrow::sql_type_of;
use crate::types::text::{format_text, TextFormat};
use crate::types::{Datum, SqlType};

/// Checks `sql`, an index key expression (or, with `predicate`, a
/// partial index's predicate) over `desc`'s columns, and describes it.
pub fn describe(
    df: &SessionContext,
    desc: &TableDesc,
    sql: &str,
    predicate: bool,
) -> Result<IndexExpr> {
    let (_, schema) = rows_batch(desc, &[])?;
    let expr = df.parse_sql_expr(sql, &schema).map_err(from_datafusion)?;
    let what = if predicate {
        "index predicate"
    } else {
        "index expression"
    };
    let mut mutable = None;
    let mut refused = None;
    expr.apply(|e| {
        match e {
            Expr::ScalarFunction(f) if f.func.signature().volatility != Volatility::Immutable => {
                mutable = Some(f.func.name().to_string());
            }
            Expr::AggregateFunction(_) => {
                refused = Some((code::GROUPING_ERROR, "aggregate functions"));
            }
            Expr::WindowFunction(_) => {
                refused = Some((code::WINDOWING_ERROR, "window functions"));
            }
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) => {
                refused = Some((code::FEATURE_NOT_SUPPORTED, "subqueries"));
            }
            _ => return Ok(TreeNodeRecursion::Continue),
        }
        Ok(TreeNodeRecursion::Stop)
    })
    .map_err(from_datafusion)?;
    if let Some((code, things)) = refused {
        return Err(Error::new(
            code,
            format!("{things} are not allowed in {what}s"),
        ));
    }
    if let Some(f) = mutable {
        return Err(Error::new(
            code::INVALID_OBJECT_DEFINITION,
            format!("functions in {what} must be marked IMMUTABLE"),
        )
        .with_detail(format!(
            "{f}() may give different answers for the same row."
        )));
    }
    let (_, field) = expr.to_field(&schema).map_err(from_datafusion)?;
    let ty = sql_type_of(&field);
    if predicate && ty != SqlType::Bool {
        return Err(Error::new(
            code::DATATYPE_MISMATCH,
            format!(
                "argument of WHERE must be type boolean, not type {}",
                crate::types::binary::type_name(ty)
            ),
        ));
    }
    let mut columns: Vec<u32> = expr
        .column_refs()
        .iter()
        .filter_map(|c| desc.column(&c.name).map(|c| c.id))
        .collect();
    columns.sort_unstable();
    columns.dedup();
    // As the planner gives filters: coerced, simplified, unqualified.
    let schema = Arc::new(schema);
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(schema.clone())
            .with_config_options(Arc::new(df.state().config_options().as_ref().clone()))
            .build(),
    );
    let planned = simplifier
        .coerce(expr, &schema)
        .and_then(|e| simplifier.simplify(e))
        .map_err(from_datafusion)?;
    let planned = unnormalize_col(planned);
    let planned = if predicate {
        split_conjunction(&planned)
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    } else {
        vec![planned.to_string()]
    };
    Ok(IndexExpr {
        sql: sql.to_string(),
        planned,
        ty,
        columns,
    })
}

/// What `idx` makes of each of `rows` (full rows of `desc`): the values
/// of its key expressions, or `None` for a row its predicate leaves out
/// (false or NULL). Plain indexes evaluate nothing.
pub fn key_inputs(
    df: &SessionContext,
    desc: &TableDesc,
    idx: &IndexDesc,
    rows: &[&Vec<Datum>],
) -> Result<Vec<Option<Vec<Datum>>>> {
    if !idx.computes() || rows.is_empty() {
        return Ok(vec![Some(Vec::new()); rows.len()]);
    }
    let (rb, schema) = rows_batch(desc, rows)?;
    let kept: Vec<bool> = match &idx.predicate {
        Some(p) => eval_bool(df, &p.sql, &rb, &schema)?
            .into_iter()
            .map(|v| v == Some(true))
            .collect(),
        None => vec![true; rows.len()],
    };
    let mut values: Vec<Vec<Datum>> = vec![Vec::with_capacity(idx.exprs.len()); rows.len()];
    for e in &idx.exprs {
        let column = eval_column(df, &e.sql, &rb, &schema)?;
        for (row, v) in values.iter_mut().zip(column) {
            row.push(v);
        }
    }
    Ok(values
        .into_iter()
        .zip(kept)
        .map(|(v, keep)| keep.then_some(v))
        .collect())
}

/// Whether `filters` (as the planner shows them) include every conjunct
/// of `idx`'s predicate, so the index holds every row they select.
pub fn predicate_holds(idx: &IndexDesc, filters: &[String]) -> bool {
    idx.predicate
        .as_ref()
        .is_none_or(|p| p.planned.iter().all(|c| filters.contains(c)))
}

/// `(a, lower(b))=(1, x)`: `idx`'s key of `row` (`computed`: its key
/// expressions' values), as PostgreSQL details a key.
pub fn key_text(
    desc: &TableDesc,
    idx: &IndexDesc,
    row: &[Datum],
    computed: &[Datum],
    f: &TextFormat,
) -> String {
    let (names, values): (Vec<String>, Vec<String>) = idx
        .columns
        .iter()
        .filter_map(|(id, _)| {
            let name = match idx.expr(*id) {
                Some(e) => e.sql.clone(),
                None => desc.column_by_id(*id)?.name.clone(),
            };
            let (d, ty) = part_value(desc, idx, *id, row, computed).ok()?;
            let v = match d {
                Datum::Null => "null".to_string(),
                d => format_text(d, ty, f),
            };
            Some((name, v))
        })
        .unzip();
    format!("({})=({})", names.join(", "), values.join(", "))
}

/// The value `row` has for key part `id` of `idx`, `computed` holding its
/// key expressions' values.
pub fn part_value<'a>(
    desc: &TableDesc,
    idx: &IndexDesc,
    id: u32,
    row: &'a [Datum],
    computed: &'a [Datum],
) -> Result<(&'a Datum, SqlType)> {
    if let Some(e) = idx.expr(id) {
        let i = (id - crate::catalog::EXPR_KEY_ID) as usize;
        let v = computed
            .get(i)
            .ok_or_else(|| Error::internal("an index expression was not evaluated"))?;
        return Ok((v, e.ty));
    }
    let i = desc
        .columns
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(|| Error::internal(format!("index column {id} is gone")))?;
    Ok((&row[i], desc.columns[i].ty))
}
