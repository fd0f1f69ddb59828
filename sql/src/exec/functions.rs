//! PostgreSQL's session information functions, registered in each
//! connection's DataFusion context: `version()`, `current_database()`,
//! `current_schema()`, `current_user`, `session_user`.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};

use crate::catalog::{DEFAULT_DATABASE, DEFAULT_SCHEMA};

/// What `version()` answers: clients parse `PostgreSQL <major>.<minor>`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {} on {}-linux, Strata {}",
        crate::SERVER_VERSION,
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

fn constant(ctx: &SessionContext, name: &str, value: String) {
    let f = move |_: &[ColumnarValue]| {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            value.clone(),
        ))))
    };
    ctx.register_udf(create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(f),
    ));
}

/// Registers the functions for a session of `user`.
pub fn register(ctx: &SessionContext, user: &str) {
    constant(ctx, "version", version_string());
    constant(ctx, "current_database", DEFAULT_DATABASE.to_string());
    constant(ctx, "current_schema", DEFAULT_SCHEMA.to_string());
    constant(ctx, "current_user", user.to_string());
    constant(ctx, "session_user", user.to_string());
    constant(ctx, "current_role", user.to_string());
}
