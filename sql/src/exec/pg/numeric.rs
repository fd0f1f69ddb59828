//! Numeric division and `avg` as PostgreSQL computes them.
//!
//! DataFusion divides decimals at a scale of its own (`10.0 / 4` is
//! `2.50000`) and averages integers as floats; PostgreSQL divides numerics
//! at the scale of [`crate::types::quotient`] (`2.5000000000000000`) and
//! averages integers and numerics exactly, as a numeric. Both give their
//! result as a quotient column (`Decimal128(38, 20)`, printed with the
//! scale PostgreSQL would give each value).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{
    i256, DataType, Decimal128Type, Field, FieldRef, Int16Type, Int32Type, Int64Type,
};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use super::{division_by_zero, numeric_out_of_range};
use crate::types::arrow::UNCONSTRAINED_NUMERIC_SCALE;
use crate::types::quotient::{division_scale, QUOTIENT_NUMERIC_SCALE};

/// Magnitude limit of a 38-digit mantissa.
const LIMIT: i128 = 10i128.pow(38);

/// The Arrow type of numeric quotients.
pub fn quotient_type() -> DataType {
    DataType::Decimal128(38, QUOTIENT_NUMERIC_SCALE)
}

/// `10^n` as an i128, if it fits.
pub fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// The decimal type an argument of type `dt` is computed in: decimals as
/// they are (a negative scale becomes 0), integers with their digits.
pub fn as_decimal_type(dt: &DataType) -> Option<DataType> {
    Some(match dt {
        DataType::Decimal128(p, s) if *s >= 0 => DataType::Decimal128(*p, *s),
        DataType::Decimal128(..) | DataType::Decimal256(..) => DataType::Decimal128(38, 0),
        DataType::Int8 => DataType::Decimal128(3, 0),
        DataType::Int16 => DataType::Decimal128(5, 0),
        DataType::Int32 => DataType::Decimal128(10, 0),
        DataType::Int64 => DataType::Decimal128(19, 0),
        DataType::Null => DataType::Decimal128(1, 0),
        _ => return None,
    })
}

/// The scale PostgreSQL would display a value of `m` in a column of
/// Arrow type `(p, s)` with: the type's scale, except in unconstrained
/// numeric and quotient columns, whose values show only their significant
/// decimals.
pub fn display_scale(m: i128, p: u8, s: i8) -> u8 {
    let s = s.max(0) as u8;
    if p == 38 && (s as i8 == UNCONSTRAINED_NUMERIC_SCALE || s as i8 == QUOTIENT_NUMERIC_SCALE) {
        crate::types::Decimal {
            mantissa: m,
            scale: s,
        }
        .normalize()
        .scale
    } else {
        s
    }
}

fn pow10_256(n: u32) -> Option<i256> {
    i256::from_i128(10).checked_pow(n)
}

/// `(a × 10^-sa) / (b × 10^-sb)` rounded half away from zero to `t`
/// decimals, as a mantissa of scale `t`; `None` if it does not fit.
pub fn div_round(a: i128, sa: u8, b: i128, sb: u8, t: u8) -> Option<i128> {
    let e = sb as i32 + t as i32 - sa as i32;
    let (num, den) = if e >= 0 {
        (
            i256::from_i128(a).checked_mul(pow10_256(e as u32)?)?,
            i256::from_i128(b),
        )
    } else {
        (
            i256::from_i128(a),
            i256::from_i128(b).checked_mul(pow10_256((-e) as u32)?)?,
        )
    };
    let q = num.checked_div(den)?;
    let r = num.checked_rem(den)?;
    let twice = r.checked_abs()?.checked_mul(i256::from_i128(2))?;
    let q = if twice >= den.checked_abs()? {
        let away = if num.is_negative() != den.is_negative() {
            i256::from_i128(-1)
        } else {
            i256::from_i128(1)
        };
        q.checked_add(away)?
    } else {
        q
    };
    q.to_i128()
}

/// The PostgreSQL quotient of two decimals given as `(mantissa,
/// precision, scale)`, as a mantissa of the quotient type.
pub fn quotient(a: (i128, u8, i8), b: (i128, u8, i8)) -> Result<i128> {
    if b.0 == 0 {
        return Err(division_by_zero());
    }
    let (sa, sb) = (a.2.max(0) as u8, b.2.max(0) as u8);
    let scale = division_scale(
        (a.0, sa, display_scale(a.0, a.1, a.2)),
        (b.0, sb, display_scale(b.0, b.1, b.2)),
    )
    .min(QUOTIENT_NUMERIC_SCALE as i32) as u8;
    let q = div_round(a.0, sa, b.0, sb, scale).ok_or_else(numeric_out_of_range)?;
    pow10((QUOTIENT_NUMERIC_SCALE as u8 - scale) as u32)
        .and_then(|f| q.checked_mul(f))
        .filter(|m| m.abs() < LIMIT)
        .ok_or_else(numeric_out_of_range)
}

/// Numeric `a / b` at PostgreSQL's scale; 22012 for a zero divisor.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NumericDiv {
    signature: Signature,
}

impl Default for NumericDiv {
    fn default() -> Self {
        NumericDiv {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for NumericDiv {
    fn name(&self) -> &str {
        "numeric_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        args.iter()
            .map(|t| {
                as_decimal_type(t).ok_or_else(|| {
                    DataFusionError::Plan(format!("No function matches numeric_div({t})"))
                })
            })
            .collect()
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(quotient_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "numeric_div takes two arguments".into(),
            ));
        };
        let (DataType::Decimal128(pa, sa), DataType::Decimal128(pb, sb)) =
            (a.data_type().clone(), b.data_type().clone())
        else {
            return Err(DataFusionError::Internal(format!(
                "numeric_div on {} and {}",
                a.data_type(),
                b.data_type()
            )));
        };
        let (x, y) = (
            a.as_primitive::<Decimal128Type>(),
            b.as_primitive::<Decimal128Type>(),
        );
        let out = (0..x.len())
            .map(|i| {
                if x.is_null(i) || y.is_null(i) {
                    return Ok(None);
                }
                quotient((x.value(i), pa, sa), (y.value(i), pb, sb)).map(Some)
            })
            .collect::<Result<Decimal128Array>>()?
            .with_precision_and_scale(38, QUOTIENT_NUMERIC_SCALE)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `avg` of integers and numerics: an exact numeric quotient (PostgreSQL's
/// `avg(int)` is numeric; DataFusion's is a float).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgAvg {
    signature: Signature,
}

impl Default for PgAvg {
    fn default() -> Self {
        PgAvg {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Whether `avg` of a value of type `dt` is the exact numeric one.
pub fn exact_avg_input(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Decimal128(..)
    )
}

/// The scale sums of `dt` are kept at.
fn sum_scale(dt: &DataType) -> (u8, i8) {
    match dt {
        DataType::Decimal128(p, s) => (*p, (*s).max(0)),
        _ => (0, 0),
    }
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [t @ DataType::Decimal128(..)] => Ok(vec![
                as_decimal_type(t).unwrap_or(DataType::Decimal128(38, 0))
            ]),
            [t] if exact_avg_input(t) => Ok(vec![t.clone()]),
            _ => Err(DataFusionError::Plan(format!(
                "No function matches avg({args:?})"
            ))),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(quotient_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let dt = args
            .expr_fields
            .first()
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Int64);
        let (p, s) = sum_scale(&dt);
        Ok(Box::new(AvgAccumulator {
            input: dt,
            precision: p,
            scale: s,
            sum: 0,
            count: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let dt = args
            .input_fields
            .first()
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Int64);
        let (_, s) = sum_scale(&dt);
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[sum]", args.name),
                DataType::Decimal128(38, s),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[count]", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }
}

/// Running sum (as a mantissa at the input's scale) and count.
#[derive(Debug)]
struct AvgAccumulator {
    input: DataType,
    precision: u8,
    scale: i8,
    sum: i128,
    count: i64,
}

impl AvgAccumulator {
    /// The non-null values of `a` as mantissas at the sum's scale.
    fn mantissas(&self, a: &ArrayRef) -> Result<Vec<i128>> {
        let out: Vec<i128> = match a.data_type() {
            DataType::Int16 => a
                .as_primitive::<Int16Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .collect(),
            DataType::Int32 => a
                .as_primitive::<Int32Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .collect(),
            DataType::Int64 => a
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .map(i128::from)
                .collect(),
            DataType::Decimal128(_, _) => a
                .as_primitive::<Decimal128Type>()
                .iter()
                .flatten()
                .collect(),
            other => {
                return Err(DataFusionError::Internal(format!(
                    "avg of {other}, planned for {}",
                    self.input
                )))
            }
        };
        Ok(out)
    }

    fn add(&mut self, values: &[i128], sign: i128) -> Result<()> {
        for v in values {
            self.sum = self
                .sum
                .checked_add(v * sign)
                .filter(|s| s.abs() < LIMIT)
                .ok_or_else(numeric_out_of_range)?;
        }
        self.count += sign as i64 * values.len() as i64;
        Ok(())
    }
}

impl Accumulator for AvgAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(a) = values.first() else {
            return Ok(());
        };
        let v = self.mantissas(a)?;
        self.add(&v, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(a) = values.first() else {
            return Ok(());
        };
        let v = self.mantissas(a)?;
        self.add(&v, -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [sums, counts] = states else {
            return Err(DataFusionError::Internal("avg state of two columns".into()));
        };
        let sums = sums.as_primitive::<Decimal128Type>();
        let counts = counts.as_primitive::<Int64Type>();
        for i in 0..sums.len() {
            if sums.is_null(i) || counts.is_null(i) {
                continue;
            }
            self.sum = self
                .sum
                .checked_add(sums.value(i))
                .filter(|s| s.abs() < LIMIT)
                .ok_or_else(numeric_out_of_range)?;
            self.count += counts.value(i);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Decimal128(Some(self.sum), 38, self.scale),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.count == 0 {
            return Ok(ScalarValue::Decimal128(None, 38, QUOTIENT_NUMERIC_SCALE));
        }
        // The sum shows the input's decimals (all of them for an
        // unconstrained numeric input, as its values would).
        let p = if self.precision == 38 { 38 } else { 0 };
        let q = quotient((self.sum, p, self.scale), (self.count as i128, 0, 0))?;
        Ok(ScalarValue::Decimal128(Some(q), 38, QUOTIENT_NUMERIC_SCALE))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_rounds_half_away_from_zero() {
        assert_eq!(div_round(2, 0, 3, 0, 2), Some(67));
        assert_eq!(div_round(-2, 0, 3, 0, 2), Some(-67));
        assert_eq!(div_round(1, 0, 8, 0, 2), Some(13)); // 0.125
        assert_eq!(div_round(100, 1, 4, 0, 3), Some(2500)); // 10.0 / 4
        assert_eq!(div_round(12345, 3, 1, 0, 1), Some(123)); // 12.345 -> 12.3
    }

    #[test]
    fn quotients_have_postgres_digits() {
        let e = |m: i128| m * 10i128.pow(4);
        // 1 / 3: 20 decimals.
        assert_eq!(
            quotient((1, 1, 0), (3, 1, 0)).unwrap(),
            33_333_333_333_333_333_333
        );
        // 3 / 2 = 1.5 at scale 16, kept at 20.
        assert_eq!(
            quotient((3, 1, 0), (2, 1, 0)).unwrap(),
            e(15_000_000_000_000_000)
        );
        assert!(quotient((3, 1, 0), (0, 1, 0)).is_err());
    }
}
