//! `INTERSECT ALL` and `EXCEPT ALL` with PostgreSQL's multiset answers.
//!
//! DataFusion plans them as a semi or anti join on every column, so
//! `{a, a, b} EXCEPT ALL {a}` loses both `a`s and `{a, a} INTERSECT ALL
//! {a}` keeps both. PostgreSQL keeps `a` max(m − n, 0) and min(m, n)
//! times. Numbering the copies of each row on both sides (`row_number()`
//! over a partition by every column) and joining on the number too gives
//! exactly that: the k-th copy on the left meets the k-th on the right.
//!
//! The joins to rewrite are told by what only the set operations plan: a
//! semi or anti join whose keys are all the left side's columns, NULLs
//! equal, no filter, over a left side that is not `DISTINCT` (that is
//! the plain `INTERSECT`/`EXCEPT`).

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, NullEquality, Result};
use datafusion::config::ConfigOptions;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, Join, JoinType, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::optimizer::analyzer::AnalyzerRule;

/// The column numbering copies of a row on each side.
const LEFT_COPY: &str = "__strata_left_copy";
const RIGHT_COPY: &str = "__strata_right_copy";

/// The analyzer rule (see the module documentation).
#[derive(Debug, Default)]
pub struct SetOpsAll;

impl AnalyzerRule for SetOpsAll {
    fn name(&self) -> &str {
        "set_ops_all"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan
            .transform_up_with_subqueries(|p| match p {
                LogicalPlan::Join(j) if is_set_op_all(&j) => Ok(Transformed::yes(counted(j)?)),
                p => Ok(Transformed::no(p)),
            })?
            .data)
    }
}

fn is_set_op_all(j: &Join) -> bool {
    let left = j.left.schema();
    matches!(j.join_type, JoinType::LeftAnti | JoinType::LeftSemi)
        && j.null_equality == NullEquality::NullEqualsNull
        && j.filter.is_none()
        && !matches!(j.left.as_ref(), LogicalPlan::Distinct(_))
        && j.on.len() == left.fields().len()
        && j.on.iter().all(|(l, r)| l.try_as_col().is_some() && r.try_as_col().is_some())
        // Not one already rewritten (the analyzer runs again at execution).
        && !left.fields().iter().any(|f| f.name() == LEFT_COPY)
}

/// The join `j` on the copies' numbers too, keeping the left's columns.
fn counted(j: Join) -> Result<LogicalPlan> {
    let Join {
        left,
        right,
        on,
        join_type,
        ..
    } = j;
    let columns: Vec<Expr> = left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut keys: (Vec<Column>, Vec<Column>) = on
        .iter()
        .filter_map(|(l, r)| Some((l.try_as_col()?.clone(), r.try_as_col()?.clone())))
        .unzip();
    keys.0.push(Column::from_name(LEFT_COPY));
    keys.1.push(Column::from_name(RIGHT_COPY));
    LogicalPlanBuilder::from(numbered(left, LEFT_COPY)?)
        .join_detailed(
            numbered(right, RIGHT_COPY)?,
            join_type,
            keys,
            None,
            NullEquality::NullEqualsNull,
        )?
        .project(columns)?
        .build()
}

/// `plan` with each row's copy number among equal rows, as `name`.
fn numbered(plan: Arc<LogicalPlan>, name: &str) -> Result<LogicalPlan> {
    let columns: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let copy = row_number().partition_by(columns).build()?.alias(name);
    LogicalPlanBuilder::from(plan).window(vec![copy])?.build()
}
