//! PostgreSQL's semantics where DataFusion computes something else, as
//! functions DataFusion calls:
//!
//! - [`arith`]: integer `+ - * / %` and unary minus that fail with 22003
//!   instead of wrapping, float division that fails on zero (22012);
//! - [`numeric`]: numeric division and `avg` with PostgreSQL's result
//!   scale (`avg(int)` is numeric, not float);
//! - [`math`]: `round`, `trunc`, `ceil`, `floor`, `sign`, `abs`, `mod`,
//!   `div` with PostgreSQL's argument and result types;
//! - [`temporal`]: `interval * number`, `interval / number`,
//!   `timestamp - timestamp` (an interval);
//! - [`bytea`]: `length` and `octet_length` of bytea;
//! - [`logic`]: `NOT IN` over a list holding NULL, never true;
//! - [`text_in`]: text cast to integers and bytea by PostgreSQL's input
//!   rules (`'99999'::smallint` is 22003, `'\x01'::bytea` is one byte);
//! - [`subquery`]: `single_value`, the aggregate scalar subqueries become
//!   so that DataFusion can decorrelate them.
//!
//! The functions users call by name are registered over DataFusion's
//! ([`register`]); the operator replacements are placed by the analyzer
//! rules of [`crate::plan::pg_rules`].

pub mod arith;
pub mod bytea;
pub mod logic;
pub mod math;
pub mod numeric;
pub mod subquery;
pub mod temporal;
pub mod text_in;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ScalarUDF;

use crate::error::{code, Error};

/// Registers the functions that replace DataFusion's of the same name.
pub fn register(ctx: &SessionContext) {
    for f in math::functions() {
        ctx.register_udf(f);
    }
    for f in bytea::functions() {
        ctx.register_udf(f);
    }
    ctx.register_udaf(subquery::single_value());
}

/// A function [`crate::plan::pg_rules`] puts into plans, by name: they
/// are not registered (users do not call them), but a plan sent to the
/// stores names them and is rebuilt there.
pub(crate) fn rule_udf(name: &str) -> Option<Arc<ScalarUDF>> {
    use arith::{CheckedInt, CheckedNeg, FloatDiv, IntOp};
    Some(match name {
        "int_add" => udf(CheckedInt::new(IntOp::Add)),
        "int_sub" => udf(CheckedInt::new(IntOp::Sub)),
        "int_mul" => udf(CheckedInt::new(IntOp::Mul)),
        "int_div" => udf(CheckedInt::new(IntOp::Div)),
        "int_mod" => udf(CheckedInt::new(IntOp::Mod)),
        "int_neg" => udf(CheckedNeg::default()),
        "float_div" => udf(FloatDiv::default()),
        "numeric_div" => udf(numeric::NumericDiv::default()),
        "false_or_null" => udf(logic::FalseOrNull::default()),
        "timestamp_mi" => udf(temporal::TimestampMinus::default()),
        "interval_mul" => udf(temporal::IntervalScale::new(false)),
        "interval_div" => udf(temporal::IntervalScale::new(true)),
        _ => return None,
    })
}

/// PostgreSQL's `avg` as the rules plan it (named `avg`, like
/// DataFusion's, which it replaces for exact inputs).
pub(crate) fn pg_avg() -> Arc<datafusion::logical_expr::AggregateUDF> {
    Arc::new(datafusion::logical_expr::AggregateUDF::new_from_impl(
        numeric::PgAvg::default(),
    ))
}

/// A SQL error carried through DataFusion (`from_datafusion` unwraps it).
pub(crate) fn sql_error(code: &'static str, message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(Error::new(code, message)))
}

/// 22012, as PostgreSQL words it.
pub(crate) fn division_by_zero() -> DataFusionError {
    sql_error(code::DIVISION_BY_ZERO, "division by zero")
}

/// 22003 for a result that does not fit the integer type `dt`.
pub(crate) fn int_out_of_range(dt: &DataType) -> DataFusionError {
    let what = match dt {
        DataType::Int16 => "smallint out of range",
        DataType::Int32 => "integer out of range",
        DataType::Int64 => "bigint out of range",
        _ => "value out of range",
    };
    sql_error(code::NUMERIC_VALUE_OUT_OF_RANGE, what)
}

/// 22003 for a numeric result beyond what a numeric holds here.
pub(crate) fn numeric_out_of_range() -> DataFusionError {
    sql_error(
        code::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

/// 42883 for a function PostgreSQL has no version of for these argument
/// types.
pub(crate) fn undefined_function(name: &str, args: &[DataType]) -> DataFusionError {
    use crate::types::arrow::sql_type_of_arrow;
    use crate::types::SqlType;
    let types: Vec<String> = args
        .iter()
        .map(|t| match sql_type_of_arrow(t) {
            SqlType::Numeric(_) => "numeric".to_string(),
            ty => crate::types::binary::type_name(ty),
        })
        .collect();
    DataFusionError::External(Box::new(
        Error::new(
            code::UNDEFINED_FUNCTION,
            format!("function {name}({}) does not exist", types.join(", ")),
        )
        .with_hint(
            "No function matches the given name and argument types. \
             You might need to add explicit type casts.",
        ),
    ))
}

/// A scalar function value for one of these implementations.
pub(crate) fn udf<F: datafusion::logical_expr::ScalarUDFImpl + 'static>(f: F) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(f))
}
