//! Integer and float arithmetic as PostgreSQL does it. DataFusion's
//! integer `+ - *` wrap around silently (`2147483647 + 1` is
//! `-2147483648`) and its float division by zero is `Infinity`;
//! PostgreSQL fails with 22003 ("integer out of range") and 22012
//! ("division by zero"). These functions replace the operators on
//! integers and floats (see [`crate::plan::pg_rules`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::compute::try_binary;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{division_by_zero, int_out_of_range};
use crate::error::code;

/// The integer types PostgreSQL has (smallint, integer, bigint).
pub fn is_sql_int(dt: &DataType) -> bool {
    matches!(dt, DataType::Int16 | DataType::Int32 | DataType::Int64)
}

/// The wider of two integer types (NULL takes the other's type), as
/// PostgreSQL resolves `int2 + int4` to `int4`.
fn wider_int(a: &DataType, b: &DataType) -> Result<DataType> {
    let rank = |t: &DataType| match t {
        DataType::Null | DataType::Int8 => Some(0),
        DataType::Int16 | DataType::UInt8 => Some(1),
        DataType::Int32 | DataType::UInt16 => Some(2),
        DataType::Int64 | DataType::UInt32 => Some(3),
        _ => None,
    };
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => Ok(match x.max(y) {
            0 | 1 => DataType::Int16,
            2 => DataType::Int32,
            _ => DataType::Int64,
        }),
        _ => Err(DataFusionError::Plan(format!(
            "No function matches integer arithmetic on {a} and {b}"
        ))),
    }
}

/// An Arrow arithmetic error as PostgreSQL reports it for type `dt`.
fn arrow_error(e: ArrowError, dt: &DataType) -> DataFusionError {
    match e {
        ArrowError::ArithmeticOverflow(_) => int_out_of_range(dt),
        ArrowError::DivideByZero => division_by_zero(),
        e => DataFusionError::ArrowError(Box::new(e), None),
    }
}

/// An integer operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating)
    Div,
    /// `%` (the sign of the dividend; `x % -1` is 0 even for the minimum)
    Mod,
}

/// `a op b` on integers of one type: 22003 when the result does not fit
/// the type, 22012 for a zero divisor.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedInt {
    op: IntOp,
    signature: Signature,
}

impl CheckedInt {
    /// The checked form of `op`.
    pub fn new(op: IntOp) -> Self {
        CheckedInt {
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CheckedInt {
    fn name(&self) -> &str {
        match self.op {
            IntOp::Add => "int_add",
            IntOp::Sub => "int_sub",
            IntOp::Mul => "int_mul",
            IntOp::Div => "int_div",
            IntOp::Mod => "int_mod",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [a, b] => {
                let t = wider_int(a, b)?;
                Ok(vec![t.clone(), t])
            }
            _ => Err(DataFusionError::Plan(format!(
                "{} takes two arguments",
                self.name()
            ))),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [a, b] => wider_int(a, b),
            _ => Err(DataFusionError::Plan(format!(
                "{} takes two arguments",
                self.name()
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes two arguments",
                self.name()
            )));
        };
        let dt = a.data_type().clone();
        let out = match self.op {
            IntOp::Add => numeric::add(a, b),
            IntOp::Sub => numeric::sub(a, b),
            IntOp::Mul => numeric::mul(a, b),
            IntOp::Div => numeric::div(a, b),
            IntOp::Mod => return int_mod(a, b).map(ColumnarValue::Array),
        }
        .map_err(|e| arrow_error(e, &dt))?;
        Ok(ColumnarValue::Array(out))
    }
}

/// `a % b` on integer arrays of one type: 22012 for a zero divisor, and
/// `minimum % -1` is 0 (Arrow's checked remainder calls it an overflow).
pub fn int_mod(a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef> {
    fn typed<T: ArrowPrimitiveType>(
        a: &ArrayRef,
        b: &ArrayRef,
        rem: impl Fn(T::Native, T::Native) -> Option<T::Native>,
    ) -> Result<ArrayRef> {
        let r: PrimitiveArray<T> =
            try_binary(a.as_primitive::<T>(), b.as_primitive::<T>(), |x, y| {
                rem(x, y).ok_or(ArrowError::DivideByZero)
            })
            .map_err(|e| arrow_error(e, a.data_type()))?;
        Ok(Arc::new(r))
    }
    if a.data_type() != b.data_type() {
        return Err(DataFusionError::Internal(
            "int_mod on two types".to_string(),
        ));
    }
    match a.data_type() {
        DataType::Int16 => typed::<Int16Type>(a, b, |x, y| (y != 0).then(|| x.wrapping_rem(y))),
        DataType::Int32 => typed::<Int32Type>(a, b, |x, y| (y != 0).then(|| x.wrapping_rem(y))),
        DataType::Int64 => typed::<Int64Type>(a, b, |x, y| (y != 0).then(|| x.wrapping_rem(y))),
        other => Err(DataFusionError::Internal(format!("int_mod on {other}"))),
    }
}

/// Unary minus on an integer: 22003 for the type's minimum.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CheckedNeg {
    signature: Signature,
}

impl Default for CheckedNeg {
    fn default() -> Self {
        CheckedNeg {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for CheckedNeg {
    fn name(&self) -> &str {
        "int_neg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [a] => Ok(vec![wider_int(a, a)?]),
            _ => Err(DataFusionError::Plan("int_neg takes one argument".into())),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [a] => wider_int(a, a),
            _ => Err(DataFusionError::Plan("int_neg takes one argument".into())),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "int_neg takes one argument".into(),
            ));
        };
        let out = numeric::neg(a.as_ref()).map_err(|e| arrow_error(e, a.data_type()))?;
        Ok(ColumnarValue::Array(out))
    }
}

/// `a / b` on floats: 22012 for a zero divisor (DataFusion gives
/// `Infinity` or `NaN`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FloatDiv {
    signature: Signature,
}

impl Default for FloatDiv {
    fn default() -> Self {
        FloatDiv {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn float_type(a: &DataType, b: &DataType) -> DataType {
    if matches!(
        (a, b),
        (DataType::Float32, DataType::Float32)
            | (DataType::Float32, DataType::Null)
            | (DataType::Null, DataType::Float32)
    ) {
        DataType::Float32
    } else {
        DataType::Float64
    }
}

impl ScalarUDFImpl for FloatDiv {
    fn name(&self) -> &str {
        "float_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [a, b] => {
                let t = float_type(a, b);
                Ok(vec![t.clone(), t])
            }
            _ => Err(DataFusionError::Plan(
                "float_div takes two arguments".into(),
            )),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [a, b] => Ok(float_type(a, b)),
            _ => Err(DataFusionError::Plan(
                "float_div takes two arguments".into(),
            )),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "float_div takes two arguments".into(),
            ));
        };
        let zero = || ArrowError::DivideByZero;
        let out: ArrayRef = match (a.data_type(), b.data_type()) {
            (DataType::Float32, DataType::Float32) => Arc::new(
                try_binary::<_, _, _, Float32Type>(
                    a.as_primitive::<Float32Type>(),
                    b.as_primitive::<Float32Type>(),
                    |x, y| if y == 0.0 { Err(zero()) } else { Ok(x / y) },
                )
                .map_err(|e| arrow_error(e, &DataType::Float32))?,
            ),
            (DataType::Float64, DataType::Float64) => Arc::new(
                try_binary::<_, _, _, Float64Type>(
                    a.as_primitive::<Float64Type>(),
                    b.as_primitive::<Float64Type>(),
                    |x, y| if y == 0.0 { Err(zero()) } else { Ok(x / y) },
                )
                .map_err(|e| arrow_error(e, &DataType::Float64))?,
            ),
            (x, y) => {
                return Err(super::sql_error(
                    code::UNDEFINED_FUNCTION,
                    format!("float_div on {x} and {y}"),
                ))
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;

    #[test]
    fn remainder_by_minus_one_is_zero_and_by_zero_fails() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![i32::MIN, 7, -7]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![-1, 3, 3]));
        let r = int_mod(&a, &b).unwrap();
        assert_eq!(
            r.as_primitive::<Int32Type>().values().to_vec(),
            vec![0, 1, -1]
        );
        let z: ArrayRef = Arc::new(Int32Array::from(vec![0, 1, 1]));
        assert!(int_mod(&a, &z).is_err());
    }

    #[test]
    fn integer_types_widen_like_postgres() {
        assert_eq!(
            wider_int(&DataType::Int16, &DataType::Int32).unwrap(),
            DataType::Int32
        );
        assert_eq!(
            wider_int(&DataType::Null, &DataType::Int16).unwrap(),
            DataType::Int16
        );
        assert!(wider_int(&DataType::Utf8, &DataType::Int16).is_err());
    }
}
