//! `x NOT IN (…, NULL, …)`, which is never true: FALSE when `x` is in the
//! list, NULL otherwise. DataFusion 55's simplifier drops the NULL of such
//! a list on a column that cannot be NULL (and then returns rows), so
//! `plan::pg_rules` plans it as `false_or_null(x IN (the other items))`,
//! a function the simplifier cannot see through.

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `false_or_null(b)`: FALSE where `b` is TRUE, NULL elsewhere.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FalseOrNull {
    signature: Signature,
}

impl Default for FalseOrNull {
    fn default() -> Self {
        FalseOrNull {
            signature: Signature::exact(vec![DataType::Boolean], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FalseOrNull {
    fn name(&self) -> &str {
        "false_or_null"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [found] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "false_or_null takes one argument".into(),
            ));
        };
        let found = found.as_boolean();
        let out: BooleanArray = (0..found.len())
            .map(|i| (found.is_valid(i) && found.value(i)).then_some(false))
            .collect();
        Ok(ColumnarValue::Array(std::sync::Arc::new(out)))
    }
}
