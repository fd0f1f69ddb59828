//! Plan rewrites that make DataFusion compute what PostgreSQL computes
//! (see `docs`/`sql-stack.md` §3.6 for the differences). Installed in every
//! connection's DataFusion session by [`install`]:
//!
//! - [`PgLiterals`], an analyzer rule run before type coercion, types
//!   literals as PostgreSQL does: an integer literal that fits 32 bits is
//!   `integer` (DataFusion: `bigint`), so `SELECT 1` is int4 and
//!   `2147483647 + 1` overflows as PostgreSQL's does; a decimal literal
//!   with an exponent (`1.5e2`, which DataFusion makes a decimal of
//!   negative scale) is an ordinary numeric (`150`).
//! - [`PgOperators`], an analyzer rule run after type coercion (types are
//!   then exact), replaces what DataFusion computes differently with the
//!   functions of [`crate::exec::pg`]: integer arithmetic that fails on
//!   overflow (22003) instead of wrapping, numeric and float division
//!   with PostgreSQL's scale and 22012, `sum(bigint)` as numeric,
//!   `avg(int)`/`avg(numeric)` as exact numerics, `date ± interval` as a
//!   timestamp, `timestamp - timestamp` as an interval, text cast to
//!   integers and bytea by PostgreSQL's input rules, and float/numeric
//!   cast to integer rounded (not truncated), `float op numeric` in
//!   double precision, and `NOT IN` over a list holding NULL as never
//!   true.
//! - [`PgExprPlanner`] plans `interval * number` and `interval / number`,
//!   which DataFusion rejects while planning.
//!
//! Every rewrite keeps the rewritten expression's column name, so the
//! plan above it still finds it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::expr::{InList, ScalarFunction, WindowFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    AggregateUDF, BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator,
    ScalarUDF, Union, WindowFunctionDefinition,
};
use datafusion::optimizer::analyzer::type_coercion::TypeCoercionRewriter;
use datafusion::optimizer::analyzer::{Analyzer, AnalyzerRule};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::exec::pg::arith::{is_sql_int, CheckedInt, CheckedNeg, FloatDiv, IntOp};
use crate::exec::pg::logic::FalseOrNull;
use crate::exec::pg::math::{MathFn, PgMath};
use crate::exec::pg::numeric::{exact_avg_input, NumericDiv};
use crate::exec::pg::temporal::{IntervalScale, TimestampMinus};
use crate::exec::pg::text_in::{is_text, text_input_type, TextIn};
use crate::exec::pg::udf;

/// Adds the rules and the planner of this module to a session being
/// built: [`PgLiterals`] first (then `plan::set_ops`'s rule) and
/// [`PgOperators`] last among the analyzer rules, [`PgExprPlanner`] first among the expression planners.
pub fn install(mut builder: SessionStateBuilder) -> SessionStateBuilder {
    let analyzer = builder.analyzer().get_or_insert_with(Analyzer::new);
    analyzer.rules.insert(0, Arc::new(PgLiterals));
    analyzer
        .rules
        .insert(1, Arc::new(crate::plan::set_ops::SetOpsAll));
    analyzer.rules.push(Arc::new(PgOperators));
    builder
        .expr_planners()
        .get_or_insert_with(Vec::new)
        .insert(0, Arc::new(PgExprPlanner));
    builder
}

/// Runs the session's analyzer (with these rules) on a freshly planned
/// statement, so that the plan's schema states the types the statement
/// will produce. A plan with parameters whose types are unknown (Describe
/// of `SELECT $1`) may not analyze; it is returned as planned.
pub fn analyze(state: &SessionState, plan: LogicalPlan) -> Result<LogicalPlan> {
    let has_params = plan
        .get_parameter_types()
        .map(|p| !p.is_empty())
        .unwrap_or(true);
    match state
        .analyzer()
        .execute_and_check(plan.clone(), state.config_options(), |_, _| {})
    {
        Ok(analyzed) => Ok(analyzed),
        Err(_) if has_params => Ok(plan),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------

/// Types literals as PostgreSQL does (see the module documentation).
///
/// Plans with a recursive query are left alone: the recursive term reads
/// a work table whose schema DataFusion fixed from the initial term while
/// planning, so the initial term's types must not change.
#[derive(Debug, Default)]
pub struct PgLiterals;

impl AnalyzerRule for PgLiterals {
    fn name(&self) -> &str {
        "pg_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        if has_recursive_query(&plan)? {
            return Ok(plan);
        }
        Ok(plan.transform_up_with_subqueries(literals_in_node)?.data)
    }
}

fn has_recursive_query(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|p| {
        if matches!(p, LogicalPlan::RecursiveQuery(_)) {
            found = true;
            Ok(TreeNodeRecursion::Stop)
        } else {
            Ok(TreeNodeRecursion::Continue)
        }
    })?;
    Ok(found)
}

fn literals_in_node(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    // LIMIT and OFFSET are coerced to bigint anyway.
    if matches!(plan, LogicalPlan::Limit(_)) {
        return Ok(Transformed::no(plan));
    }
    let names = NamePreserver::new(&plan);
    let t = plan.map_expressions(|e| {
        let saved = names.save(&e);
        Ok(e.transform_down(pg_literal)?
            .update_data(|e| saved.restore(e)))
    })?;
    // A VALUES list and a UNION keep the schema they were built with, so
    // they are rebuilt (a UNION's inputs are coerced to common types
    // next); the nodes above take their schemas from their inputs again
    // (type coercion, which runs next, does not for all of them).
    t.map_data(|p| match p {
        LogicalPlan::Values(v) => LogicalPlanBuilder::values(v.values)?.build(),
        LogicalPlan::Union(u) => Ok(LogicalPlan::Union(Union::try_new_with_loose_types(
            u.inputs,
        )?)),
        p => p.recompute_schema(),
    })
}

/// One literal as PostgreSQL types it.
fn pg_literal(e: Expr) -> Result<Transformed<Expr>> {
    Ok(match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), meta) if i32::try_from(v).is_ok() => {
            Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta))
        }
        Expr::Literal(ScalarValue::Decimal128(Some(m), p, s), meta) if s < 0 => {
            let precision = p as i32 - s as i32;
            match 10i128
                .checked_pow(s.unsigned_abs() as u32)
                .and_then(|f| m.checked_mul(f))
            {
                Some(m) if precision <= 38 => Transformed::yes(Expr::Literal(
                    ScalarValue::Decimal128(Some(m), precision as u8, 0),
                    meta,
                )),
                _ => Transformed::no(Expr::Literal(ScalarValue::Decimal128(Some(m), p, s), meta)),
            }
        }
        // sum(x::bigint) is numeric. After type coercion it looks like
        // sum(int4), which coercion casts to bigint, so it is told now.
        Expr::AggregateFunction(mut f) if explicit_bigint_sum(&f.func, &f.params.args) => {
            f.params.args = vec![cast(f.params.args.remove(0), DataType::Decimal128(38, 0))];
            Transformed::yes(Expr::AggregateFunction(f))
        }
        // count(*) is planned as count(Int64(1)), which DataFusion
        // recognises by that literal.
        Expr::AggregateFunction(ref f) if f.func.name() == "count" => {
            Transformed::new(e, false, TreeNodeRecursion::Jump)
        }
        Expr::WindowFunction(ref w) if w.fun.name() == "count" => {
            Transformed::new(e, false, TreeNodeRecursion::Jump)
        }
        e => Transformed::no(e),
    })
}

/// Whether `func(args)` is `sum` of an expression cast to bigint.
fn explicit_bigint_sum(func: &AggregateUDF, args: &[Expr]) -> bool {
    func.name() == "sum"
        && matches!(args, [Expr::Cast(c)] if *c.field.data_type() == DataType::Int64)
}

// ---------------------------------------------------------------------------
// Operators and functions
// ---------------------------------------------------------------------------

/// Replaces operators and aggregates DataFusion computes differently from
/// PostgreSQL (see the module documentation). Runs after type coercion,
/// so both sides of an operator have one type.
#[derive(Debug, Default)]
pub struct PgOperators;

impl AnalyzerRule for PgOperators {
    fn name(&self) -> &str {
        "pg_operators"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan.transform_up_with_subqueries(operators_in_node)?.data)
    }
}

fn operators_in_node(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let schema = merge_schema(&plan.inputs());
    let names = NamePreserver::new(&plan);
    let t = plan.map_expressions(|e| {
        let saved = names.save(&e);
        Ok(e.transform_up(|e| pg_operator(e, &schema))?
            .update_data(|e| saved.restore(e)))
    })?;
    let transformed = t.transformed;
    // Types below may have changed (a sum became numeric): every node
    // recomputes its schema, as type coercion does.
    let plan = match t.data {
        LogicalPlan::Union(u) => {
            let stale = u.inputs.iter().any(|i| {
                i.schema()
                    .fields()
                    .iter()
                    .zip(u.schema.fields())
                    .any(|(a, b)| a.data_type() != b.data_type())
            });
            if stale {
                TypeCoercionRewriter::coerce_union(u)?
            } else {
                LogicalPlan::Union(u)
            }
        }
        LogicalPlan::Values(v) => LogicalPlan::Values(v),
        p => p.recompute_schema()?,
    };
    Ok(if transformed {
        Transformed::yes(plan)
    } else {
        Transformed::no(plan)
    })
}

fn call(f: Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(f, args))
}

fn cast(e: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), to))
}

fn is_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..))
}

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_))
}

/// `float op numeric` (a comparison or arithmetic): PostgreSQL casts the
/// numeric to double precision, where DataFusion's coercion cast the
/// float to a decimal (which fails on Infinity and NaN, and rounds). Says
/// whether it changed the operands.
fn float_over_numeric(
    left: Box<Expr>,
    op: Operator,
    right: Box<Expr>,
    schema: &DFSchema,
) -> (Box<Expr>, Box<Expr>, bool) {
    use Operator::*;
    let applies = matches!(
        op,
        Eq | NotEq
            | Lt
            | LtEq
            | Gt
            | GtEq
            | IsDistinctFrom
            | IsNotDistinctFrom
            | Plus
            | Minus
            | Multiply
            | Divide
    );
    let float_under_decimal = |e: &Expr| match e {
        Expr::Cast(c) if matches!(c.field.data_type(), DataType::Decimal128(..)) => c
            .expr
            .get_type(schema)
            .is_ok_and(|t| t.is_floating())
            .then(|| (*c.expr).clone()),
        _ => None,
    };
    if !applies {
        return (left, right, false);
    }
    let double = |e: Expr| Box::new(cast(e, DataType::Float64));
    match (float_under_decimal(&left), float_under_decimal(&right)) {
        (Some(l), _) => (double(l), double(*right), true),
        (None, Some(r)) => (double(*left), double(r), true),
        (None, None) => (left, right, false),
    }
}

/// A NULL literal, perhaps cast to the list's type.
fn is_null_literal(e: &Expr) -> bool {
    match e {
        Expr::Literal(v, _) => v.is_null(),
        Expr::Cast(c) => is_null_literal(&c.expr),
        _ => false,
    }
}

/// Whether `e` is the interval DataFusion's coercion makes of an integer
/// added to a date (`date + 1`: a number of days, and a date result in
/// PostgreSQL too).
fn days_from_integer(e: &Expr) -> bool {
    matches!(e, Expr::Cast(c)
        if matches!(c.expr.as_ref(), Expr::Cast(inner) if matches!(inner.field.data_type(), DataType::Duration(_))))
}

/// `date` as the timestamp PostgreSQL adds intervals to.
fn date_as_timestamp(e: Expr) -> Expr {
    cast(e, DataType::Timestamp(TimeUnit::Microsecond, None))
}

/// A binary operator of PostgreSQL's, if DataFusion's differs.
fn pg_binary(
    left: Expr,
    op: Operator,
    right: Expr,
    lt: &DataType,
    rt: &DataType,
) -> Transformed<Expr> {
    let int_op = match op {
        Operator::Plus => Some(IntOp::Add),
        Operator::Minus => Some(IntOp::Sub),
        Operator::Multiply => Some(IntOp::Mul),
        Operator::Divide => Some(IntOp::Div),
        Operator::Modulo => Some(IntOp::Mod),
        _ => None,
    };
    match (int_op, op) {
        (Some(iop), _) if is_sql_int(lt) && lt == rt => {
            return Transformed::yes(call(udf(CheckedInt::new(iop)), vec![left, right]))
        }
        (_, Operator::Divide)
            if matches!(lt, DataType::Decimal128(..)) && matches!(rt, DataType::Decimal128(..)) =>
        {
            return Transformed::yes(call(udf(NumericDiv::default()), vec![left, right]))
        }
        (_, Operator::Divide) if lt.is_floating() && rt.is_floating() => {
            return Transformed::yes(call(udf(FloatDiv::default()), vec![left, right]))
        }
        (_, Operator::Plus | Operator::Minus)
            if *lt == DataType::Date32 && is_interval(rt) && !days_from_integer(&right) =>
        {
            return Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(date_as_timestamp(left)),
                op,
                Box::new(right),
            )))
        }
        (_, Operator::Plus)
            if is_interval(lt) && *rt == DataType::Date32 && !days_from_integer(&left) =>
        {
            return Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(left),
                op,
                Box::new(date_as_timestamp(right)),
            )))
        }
        (_, Operator::Minus) if is_timestamp(lt) && lt == rt => {
            return Transformed::yes(call(udf(TimestampMinus::default()), vec![left, right]))
        }
        _ => {}
    }
    Transformed::no(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        op,
        Box::new(right),
    )))
}

/// `sum(bigint)` is numeric in PostgreSQL (it cannot overflow);
/// `avg` of integers and numerics is an exact numeric.
fn pg_aggregate(
    func: &Arc<AggregateUDF>,
    args: &[Expr],
    distinct: bool,
    schema: &DFSchema,
) -> Option<(Arc<AggregateUDF>, Vec<Expr>)> {
    let [arg] = args else { return None };
    // Type coercion made DataFusion's avg(int) an avg of floats.
    let arg = match arg {
        Expr::Cast(c) if func.name() == "avg" && c.field.data_type().is_floating() => {
            match c.expr.get_type(schema) {
                Ok(t) if is_sql_int(&t) => c.expr.as_ref(),
                _ => arg,
            }
        }
        _ => arg,
    };
    let t = arg.get_type(schema).ok()?;
    // sum(int2) and sum(int4) are bigint (type coercion cast them so).
    let widened = matches!(arg, Expr::Cast(c)
        if matches!(c.expr.get_type(schema), Ok(DataType::Int16 | DataType::Int32)));
    match func.name() {
        "sum" if t == DataType::Int64 && !widened => Some((
            func.clone(),
            vec![cast(arg.clone(), DataType::Decimal128(38, 0))],
        )),
        "avg" if !distinct && exact_avg_input(&t) => {
            Some((crate::exec::pg::pg_avg(), vec![arg.clone()]))
        }
        _ => None,
    }
}

/// One expression as PostgreSQL computes it, if DataFusion differs.
fn pg_operator(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let ty = |e: &Expr| e.get_type(schema).ok();
    Ok(match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (left, right, floats) = float_over_numeric(left, op, right, schema);
            let t = match (ty(&left), ty(&right)) {
                (Some(lt), Some(rt)) => pg_binary(*left, op, *right, &lt, &rt),
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            };
            if floats {
                Transformed::yes(t.data)
            } else {
                t
            }
        }
        Expr::InList(l) if l.negated && l.list.iter().any(is_null_literal) => {
            let rest: Vec<Expr> = l.list.into_iter().filter(|e| !is_null_literal(e)).collect();
            let found = if rest.is_empty() {
                Expr::Literal(ScalarValue::Boolean(Some(false)), None)
            } else {
                Expr::InList(InList::new(l.expr, rest, false))
            };
            Transformed::yes(call(udf(FalseOrNull::default()), vec![found]))
        }
        Expr::Negative(inner) if ty(&inner).is_some_and(|t| is_sql_int(&t)) => {
            Transformed::yes(call(udf(CheckedNeg::default()), vec![*inner]))
        }
        Expr::AggregateFunction(mut f) => {
            match pg_aggregate(&f.func, &f.params.args, f.params.distinct, schema) {
                Some((func, args)) => {
                    f.func = func;
                    f.params.args = args;
                    Transformed::yes(Expr::AggregateFunction(f))
                }
                None => Transformed::no(Expr::AggregateFunction(f)),
            }
        }
        Expr::WindowFunction(mut w) => {
            let rewritten = match &w.fun {
                WindowFunctionDefinition::AggregateUDF(func) => {
                    pg_aggregate(func, &w.params.args, w.params.distinct, schema)
                }
                WindowFunctionDefinition::WindowUDF(_) => None,
            };
            match rewritten {
                Some((func, args)) => {
                    let WindowFunction { params, .. } = *w;
                    let mut params = params;
                    params.args = args;
                    w = Box::new(WindowFunction {
                        fun: WindowFunctionDefinition::AggregateUDF(func),
                        params,
                    });
                    Transformed::yes(Expr::WindowFunction(w))
                }
                None => Transformed::no(Expr::WindowFunction(w)),
            }
        }
        Expr::Cast(c) => {
            let to = c.field.data_type().clone();
            match ty(&c.expr) {
                Some(from) if is_text(&from) => match text_input_type(&to) {
                    Some(sql) => Transformed::yes(call(udf(TextIn::new(sql)), vec![*c.expr])),
                    None => Transformed::no(Expr::Cast(c)),
                },
                // PostgreSQL rounds to the nearest integer (floats half to
                // even, numerics half away from zero); DataFusion truncates.
                Some(from)
                    if is_sql_int(&to)
                        && (from.is_floating() || matches!(from, DataType::Decimal128(..))) =>
                {
                    let arg = if from.is_floating() {
                        cast(*c.expr, DataType::Float64)
                    } else {
                        *c.expr
                    };
                    let round = udf(PgMath::new(MathFn::Round));
                    Transformed::yes(cast(call(round, vec![arg]), to))
                }
                _ => Transformed::no(Expr::Cast(c)),
            }
        }
        e => Transformed::no(e),
    })
}

// ---------------------------------------------------------------------------
// Interval arithmetic
// ---------------------------------------------------------------------------

/// Plans `interval * number`, `number * interval` and `interval / number`
/// as PostgreSQL computes them (DataFusion fails to type them).
#[derive(Debug, Default)]
pub struct PgExprPlanner;

impl ExprPlanner for PgExprPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let divide = match expr.op {
            BinaryOperator::Multiply => false,
            BinaryOperator::Divide => true,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let scale = || udf(IntervalScale::new(divide));
        if is_interval(&lt) && rt.is_numeric() {
            let n = cast(expr.right, DataType::Float64);
            return Ok(PlannerResult::Planned(call(scale(), vec![expr.left, n])));
        }
        if !divide && lt.is_numeric() && is_interval(&rt) {
            let n = cast(expr.left, DataType::Float64);
            return Ok(PlannerResult::Planned(call(scale(), vec![expr.right, n])));
        }
        Ok(PlannerResult::Original(expr))
    }
}
