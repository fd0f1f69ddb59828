//! `length` and `octet_length` that take bytea as PostgreSQL's do.
//! DataFusion's `length` reads bytea as UTF-8 text (failing on other
//! bytes) and its `octet_length` does not take bytea at all.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::undefined_function;

/// The functions to register over DataFusion's.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(Length::new(false)),
        ScalarUDF::new_from_impl(Length::new(true)),
    ]
}

/// `length(text)` (characters; also `char_length`, `character_length`),
/// `length(bytea)` (bytes), and `octet_length` of either (bytes); all
/// integer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Length {
    octets: bool,
    aliases: Vec<String>,
    signature: Signature,
}

impl Length {
    /// `octet_length` if `octets`, else `length`.
    pub fn new(octets: bool) -> Self {
        // `length` also takes DataFusion's `character_length` names:
        // that function lists `length` among its aliases, and a session
        // state rebuilt from this one (`SessionStateBuilder::
        // new_from_existing`) registers its functions again in no
        // particular order, so it must not remain to take `length` back.
        let aliases = if octets {
            vec![]
        } else {
            vec!["char_length".to_string(), "character_length".to_string()]
        };
        Length {
            octets,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// Lengths of the values of `a`, measured by `len`.
fn lengths<'a, I>(values: I, len: impl Fn(I::Item) -> Option<usize>) -> Result<ArrayRef>
where
    I: Iterator + 'a,
{
    let out: Int32Array = values
        .map(|v| {
            len(v)
                .map(|n| i32::try_from(n).map_err(|_| super::int_out_of_range(&DataType::Int32)))
                .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

impl ScalarUDFImpl for Length {
    fn name(&self) -> &str {
        if self.octets {
            "octet_length"
        } else {
            "length"
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t] if is_text(t) || is_binary(t) => Ok(vec![t.clone()]),
            [DataType::Null] => Ok(vec![DataType::Utf8]),
            [DataType::Dictionary(_, v)] if is_text(v) => Ok(vec![DataType::Utf8]),
            _ => Err(undefined_function(self.name(), args)),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes one argument",
                self.name()
            )));
        };
        let octets = self.octets;
        let text = |s: Option<&str>| s.map(|s| if octets { s.len() } else { s.chars().count() });
        let bytes = |b: Option<&[u8]>| b.map(<[u8]>::len);
        let out = match a.data_type() {
            DataType::Utf8 => lengths(a.as_string::<i32>().iter(), text)?,
            DataType::LargeUtf8 => lengths(a.as_string::<i64>().iter(), text)?,
            DataType::Utf8View => lengths(a.as_string_view().iter(), text)?,
            DataType::Binary => lengths(a.as_binary::<i32>().iter(), bytes)?,
            DataType::LargeBinary => lengths(a.as_binary::<i64>().iter(), bytes)?,
            DataType::BinaryView => lengths(a.as_binary_view().iter(), bytes)?,
            other => return Err(undefined_function(self.name(), &[other.clone()])),
        };
        debug_assert_eq!(out.len(), a.len());
        Ok(ColumnarValue::Array(out))
    }
}
