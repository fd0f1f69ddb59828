//! Casts from text by PostgreSQL's input functions. DataFusion's cast of
//! `'99999'` to smallint fails as a syntax error (22P02) where PostgreSQL
//! says the value is out of range (22003), and its cast of `'\x0102'` to
//! bytea keeps the six characters instead of reading two hex bytes.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::Error;
use crate::types::arrow::{arrow_type, ColumnBuilder};
use crate::types::text::{parse_text, TextFormat};
use crate::types::{Datum, SqlType};

/// The SQL type a cast from text to `dt` is read as by [`TextIn`], if
/// it is one whose input DataFusion gets wrong.
pub fn text_input_type(dt: &DataType) -> Option<SqlType> {
    Some(match dt {
        DataType::Int16 => SqlType::Int2,
        DataType::Int32 => SqlType::Int4,
        DataType::Int64 => SqlType::Int8,
        DataType::Binary => SqlType::Bytea,
        _ => return None,
    })
}

/// Whether values of `dt` are text.
pub fn is_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// `text::ty`, read by PostgreSQL's input function for `ty`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TextIn {
    ty: SqlType,
    name: String,
    signature: Signature,
}

impl TextIn {
    /// The cast from text to `ty`.
    pub fn new(ty: SqlType) -> Self {
        TextIn {
            ty,
            name: format!("text_to_{}", crate::types::binary::type_name(ty)),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl ScalarUDFImpl for TextIn {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] if is_text(t) => Ok(vec![t.clone()]),
            _ => Ok(vec![DataType::Utf8]),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(arrow_type(self.ty))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes one argument",
                self.name
            )));
        };
        let format = TextFormat::default();
        let mut out = ColumnBuilder::new(self.ty, a.len());
        let mut put = |s: Option<&str>| -> Result<()> {
            let d = match s {
                None => Datum::Null,
                Some(s) => parse_text(s, self.ty, &format).map_err(|e| external(e.into()))?,
            };
            out.push(&d).map_err(external)
        };
        match a.data_type() {
            DataType::Utf8 => a.as_string::<i32>().iter().try_for_each(&mut put)?,
            DataType::LargeUtf8 => a.as_string::<i64>().iter().try_for_each(&mut put)?,
            DataType::Utf8View => a.as_string_view().iter().try_for_each(&mut put)?,
            other => {
                return Err(DataFusionError::Internal(format!(
                    "{} of {other}",
                    self.name
                )))
            }
        }
        let array: ArrayRef = out.finish();
        Ok(ColumnarValue::Array(array))
    }
}
