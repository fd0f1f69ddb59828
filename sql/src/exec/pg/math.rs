//! PostgreSQL's math functions where DataFusion's differ: `round`,
//! `trunc`, `ceil`/`ceiling`, `floor`, `sign`, `abs`, `mod`, `div`.
//!
//! * Numerics are exact: `round(2.5)` is 3 (half away from zero),
//!   `trunc(3.789, 1)` is `3.7` (the scale asked for, not the argument's),
//!   `ceil(4.2)` is `5`.
//! * Integers go to double precision in the one-argument forms
//!   (`round(5)` and `sign(-3)` are float8, as PostgreSQL resolves them),
//!   to numeric in `round(int, n)` and `div`.
//! * Floats round half to even (`round(2.5::float8)` is 2); PostgreSQL has
//!   no `round(float8, int)`, so that is 42883.
//! * `abs` of the smallest integer and `mod`/`div` by zero fail (22003,
//!   22012).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, PrimitiveArray};
use datafusion::arrow::compute::{try_unary, unary};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Decimal128Type, Field, FieldRef, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::arith::{int_mod, is_sql_int};
use super::numeric::{as_decimal_type, pow10};
use super::{division_by_zero, int_out_of_range, numeric_out_of_range, undefined_function};

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MathFn {
    /// `round(x)`, `round(numeric, int)`
    Round,
    /// `trunc(x)`, `trunc(numeric, int)`
    Trunc,
    /// `ceil(x)` (also `ceiling`)
    Ceil,
    /// `floor(x)`
    Floor,
    /// `sign(x)`
    Sign,
    /// `abs(x)`
    Abs,
    /// `mod(a, b)`
    Mod,
    /// `div(a, b)`: the integer part of `a / b`, as a numeric
    Div,
}

/// The functions to register over DataFusion's.
pub fn functions() -> Vec<ScalarUDF> {
    use MathFn::*;
    [Round, Trunc, Ceil, Floor, Sign, Abs, Mod, Div]
        .into_iter()
        .map(|f| ScalarUDF::new_from_impl(PgMath::new(f)))
        .collect()
}

/// One of PostgreSQL's math functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PgMath {
    f: MathFn,
    aliases: Vec<String>,
    signature: Signature,
}

impl PgMath {
    /// The function `f`.
    pub fn new(f: MathFn) -> Self {
        let aliases = match f {
            MathFn::Ceil => vec!["ceiling".to_string()],
            _ => vec![],
        };
        PgMath {
            f,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// How a numeric is brought to fewer decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    HalfAway,
    Trunc,
    Ceil,
    Floor,
}

/// `m × 10^-s` brought to `n` decimals (`n` may be negative: tens,
/// hundreds…) by `mode`, as a mantissa at scale `out` (≥ `max(n, 0)` when
/// `n < s`, ≥ `s` otherwise).
fn round_decimal(m: i128, s: u8, n: i64, mode: Mode, out: u8) -> Option<i128> {
    if n >= s as i64 {
        return m.checked_mul(pow10((out - s) as u32)?);
    }
    let d = (s as i64 - n) as u32;
    let Some(div) = pow10(d) else {
        // More digits dropped than a mantissa has: only zero is left
        // (ceil and floor drop no more than the scale).
        return Some(0);
    };
    let (mut q, r) = (m / div, m % div);
    match mode {
        Mode::HalfAway if r.abs() >= div - r.abs() => q += m.signum(),
        Mode::Ceil if r > 0 => q += 1,
        Mode::Floor if r < 0 => q -= 1,
        _ => {}
    }
    if n >= 0 {
        q.checked_mul(pow10(out as u32 - n as u32)?)
    } else {
        q.checked_mul(pow10((-n) as u32 + out as u32)?)
    }
}

/// The argument types of a one-argument rounding function: integers and
/// floats as float8, numerics as they are.
fn one_arg(name: &str, args: &[DataType]) -> Result<Vec<DataType>> {
    match args {
        [t] if is_sql_int(t) || t.is_floating() || t.is_null() || *t == DataType::Int8 => {
            Ok(vec![DataType::Float64])
        }
        [t @ (DataType::Decimal128(..) | DataType::Decimal256(..))] => Ok(vec![
            as_decimal_type(t).unwrap_or(DataType::Decimal128(38, 0))
        ]),
        _ => Err(undefined_function(name, args)),
    }
}

/// The Arrow type of a numeric of `(p, s)` brought to `scale` decimals.
fn rounded_type(p: u8, s: i8, scale: u8) -> DataType {
    let int_digits = (p as i32 - s as i32).max(0);
    let precision = (int_digits + 1 + scale as i32).clamp(scale.max(1) as i32, 38) as u8;
    DataType::Decimal128(precision, scale.min(38) as i8)
}

/// A literal integer argument's value.
fn literal_int(v: Option<&ScalarValue>) -> Option<i64> {
    match v? {
        ScalarValue::Int8(Some(n)) => Some(*n as i64),
        ScalarValue::Int16(Some(n)) => Some(*n as i64),
        ScalarValue::Int32(Some(n)) => Some(*n as i64),
        ScalarValue::Int64(Some(n)) => Some(*n),
        _ => None,
    }
}

impl PgMath {
    fn result_type(&self, args: &[DataType], n: Option<i64>) -> Result<DataType> {
        use MathFn::*;
        Ok(match (self.f, args) {
            (Round | Trunc | Ceil | Floor | Sign, [t]) if t.is_floating() || is_sql_int(t) => {
                DataType::Float64
            }
            (Round | Trunc | Ceil | Floor, [DataType::Decimal128(p, s)]) => rounded_type(*p, *s, 0),
            (Round | Trunc, [DataType::Decimal128(p, s), _]) => match n {
                Some(n) => rounded_type(*p, *s, n.clamp(0, 38) as u8),
                None => DataType::Decimal128(*p, (*s).max(0)),
            },
            (Sign, [DataType::Decimal128(..)]) => DataType::Decimal128(1, 0),
            (Abs, [t]) => t.clone(),
            (Mod, [a, b]) if is_sql_int(a) && a == b => a.clone(),
            (Mod, [DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)]) => {
                let s = (*s1).max(*s2).max(0);
                let ints = (*p1 as i8 - *s1).max(*p2 as i8 - *s2).max(0);
                DataType::Decimal128((ints + s).clamp(1, 38) as u8, s)
            }
            (Div, [_, _]) => DataType::Decimal128(38, 0),
            _ => return Err(undefined_function(self.name(), args)),
        })
    }
}

impl ScalarUDFImpl for PgMath {
    fn name(&self) -> &str {
        match self.f {
            MathFn::Round => "round",
            MathFn::Trunc => "trunc",
            MathFn::Ceil => "ceil",
            MathFn::Floor => "floor",
            MathFn::Sign => "sign",
            MathFn::Abs => "abs",
            MathFn::Mod => "mod",
            MathFn::Div => "div",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        use MathFn::*;
        let name = self.name();
        let decimal = |t: &DataType| {
            if t.is_floating() {
                None
            } else {
                as_decimal_type(t)
            }
        };
        match (self.f, args) {
            (Round | Trunc | Ceil | Floor | Sign, [_]) => one_arg(name, args),
            (Round | Trunc, [x, n]) if n.is_integer() || n.is_null() => match decimal(x) {
                Some(x) => Ok(vec![x, DataType::Int64]),
                None => Err(undefined_function(name, args)),
            },
            (Abs, [t]) => match t {
                DataType::Int8 => Ok(vec![DataType::Int16]),
                t if is_sql_int(t) || t.is_floating() => Ok(vec![t.clone()]),
                DataType::Null => Ok(vec![DataType::Float64]),
                t => decimal(t)
                    .map(|d| vec![d])
                    .ok_or_else(|| undefined_function(name, args)),
            },
            (Mod, [a, b]) if is_sql_int(a) && is_sql_int(b) => {
                let t = if a == &DataType::Int64 || b == &DataType::Int64 {
                    DataType::Int64
                } else if a == &DataType::Int32 || b == &DataType::Int32 {
                    DataType::Int32
                } else {
                    DataType::Int16
                };
                Ok(vec![t.clone(), t])
            }
            (Mod | Div, [a, b]) => match (decimal(a), decimal(b)) {
                (Some(a), Some(b)) => Ok(vec![a, b]),
                _ => Err(undefined_function(name, args)),
            },
            _ => Err(undefined_function(name, args)),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.result_type(args, None)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let n = literal_int(args.scalar_arguments.get(1).copied().flatten());
        let dt = self.result_type(&types, n)?;
        Ok(Arc::new(Field::new(self.name(), dt, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out_type = args.return_field.data_type().clone();
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = match arrays.as_slice() {
            [x] => self.unary(x, &out_type)?,
            [a, b] => self.binary(a, b, &out_type)?,
            _ => return Err(undefined_function(self.name(), &[])),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Applies `f` to every value of a float64 array.
fn floats(x: &ArrayRef, f: impl Fn(f64) -> f64) -> ArrayRef {
    Arc::new(unary::<Float64Type, _, Float64Type>(
        x.as_primitive::<Float64Type>(),
        f,
    ))
}

/// `abs` of an integer array: 22003 for the type's minimum.
fn int_abs<T: ArrowPrimitiveType>(
    x: &ArrayRef,
    abs: impl Fn(T::Native) -> Option<T::Native>,
) -> Result<ArrayRef> {
    let r: PrimitiveArray<T> = try_unary(x.as_primitive::<T>(), |v| {
        abs(v).ok_or_else(|| ArrowError::ArithmeticOverflow(String::new()))
    })
    .map_err(|_| int_out_of_range(x.data_type()))?;
    Ok(Arc::new(r))
}

/// A decimal array from per-value results, with its type checked.
fn decimals(
    values: impl Iterator<Item = Result<Option<i128>>>,
    out: &DataType,
) -> Result<ArrayRef> {
    let DataType::Decimal128(p, s) = out else {
        return Err(DataFusionError::Internal(format!(
            "decimal result of type {out}"
        )));
    };
    let limit = pow10(*p as u32).unwrap_or(i128::MAX);
    let a: Decimal128Array = values
        .map(|v| match v? {
            Some(m) if m.abs() >= limit => Err(numeric_out_of_range()),
            v => Ok(v),
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(a.with_precision_and_scale(*p, *s)?))
}

/// A decimal array's type parameters.
fn decimal_params(x: &ArrayRef) -> Result<(u8, u8)> {
    match x.data_type() {
        DataType::Decimal128(p, s) => Ok((*p, (*s).max(0) as u8)),
        other => Err(DataFusionError::Internal(format!(
            "decimal argument of type {other}"
        ))),
    }
}

fn out_scale(out: &DataType) -> u8 {
    match out {
        DataType::Decimal128(_, s) => (*s).max(0) as u8,
        _ => 0,
    }
}

impl PgMath {
    fn unary(&self, x: &ArrayRef, out: &DataType) -> Result<ArrayRef> {
        use MathFn::*;
        match (self.f, x.data_type()) {
            (Round, DataType::Float64) => Ok(floats(x, f64::round_ties_even)),
            (Trunc, DataType::Float64) => Ok(floats(x, f64::trunc)),
            (Ceil, DataType::Float64) => Ok(floats(x, f64::ceil)),
            (Floor, DataType::Float64) => Ok(floats(x, f64::floor)),
            (Sign, DataType::Float64) => Ok(floats(x, |v| {
                if v == 0.0 || v.is_nan() {
                    v * 0.0
                } else {
                    v.signum()
                }
            })),
            (Abs, DataType::Float64) => Ok(floats(x, f64::abs)),
            (Abs, DataType::Float32) => Ok(Arc::new(unary::<Float32Type, _, Float32Type>(
                x.as_primitive::<Float32Type>(),
                f32::abs,
            ))),
            (Abs, DataType::Int16) => int_abs::<Int16Type>(x, i16::checked_abs),
            (Abs, DataType::Int32) => int_abs::<Int32Type>(x, i32::checked_abs),
            (Abs, DataType::Int64) => int_abs::<Int64Type>(x, i64::checked_abs),
            (Round | Trunc | Ceil | Floor, DataType::Decimal128(..)) => {
                let (_, s) = decimal_params(x)?;
                let mode = match self.f {
                    Round => Mode::HalfAway,
                    Trunc => Mode::Trunc,
                    Ceil => Mode::Ceil,
                    _ => Mode::Floor,
                };
                let to = out_scale(out);
                let a = x.as_primitive::<Decimal128Type>();
                decimals(
                    a.iter().map(|v| {
                        v.map(|m| round_decimal(m, s, 0, mode, to).ok_or_else(numeric_out_of_range))
                            .transpose()
                    }),
                    out,
                )
            }
            (Sign, DataType::Decimal128(..)) => {
                let a = x.as_primitive::<Decimal128Type>();
                decimals(a.iter().map(|v| Ok(v.map(i128::signum))), out)
            }
            (Abs, DataType::Decimal128(p, s)) => {
                let a = x.as_primitive::<Decimal128Type>();
                decimals(
                    a.iter().map(|v| Ok(v.map(i128::abs))),
                    &DataType::Decimal128(*p, *s),
                )
            }
            (_, t) => Err(undefined_function(self.name(), &[t.clone()])),
        }
    }

    fn binary(&self, a: &ArrayRef, b: &ArrayRef, out: &DataType) -> Result<ArrayRef> {
        use MathFn::*;
        match (self.f, a.data_type()) {
            (Mod, t) if is_sql_int(t) => int_mod(a, b),
            (Round | Trunc, DataType::Decimal128(..)) => {
                let (_, s) = decimal_params(a)?;
                let mode = if self.f == Round {
                    Mode::HalfAway
                } else {
                    Mode::Trunc
                };
                let to = out_scale(out);
                let x = a.as_primitive::<Decimal128Type>();
                let n = b.as_primitive::<Int64Type>();
                decimals(
                    x.iter().zip(n.iter()).map(|(m, n)| match (m, n) {
                        (Some(m), Some(n)) => round_decimal(m, s, n.clamp(-40, 38), mode, to)
                            .map(Some)
                            .ok_or_else(numeric_out_of_range),
                        _ => Ok(None),
                    }),
                    out,
                )
            }
            (Mod | Div, DataType::Decimal128(..)) => {
                let (_, sa) = decimal_params(a)?;
                let (_, sb) = decimal_params(b)?;
                let s = sa.max(sb);
                let fa = pow10((s - sa) as u32).ok_or_else(numeric_out_of_range)?;
                let fb = pow10((s - sb) as u32).ok_or_else(numeric_out_of_range)?;
                let x = a.as_primitive::<Decimal128Type>();
                let y = b.as_primitive::<Decimal128Type>();
                let div = self.f == Div;
                decimals(
                    x.iter().zip(y.iter()).map(|(m, n)| match (m, n) {
                        (Some(m), Some(n)) => {
                            let (m, n) = match (m.checked_mul(fa), n.checked_mul(fb)) {
                                (Some(m), Some(n)) => (m, n),
                                _ => return Err(numeric_out_of_range()),
                            };
                            if n == 0 {
                                return Err(division_by_zero());
                            }
                            Ok(Some(if div { m / n } else { m % n }))
                        }
                        _ => Ok(None),
                    }),
                    out,
                )
            }
            (_, t) => Err(undefined_function(
                self.name(),
                &[t.clone(), b.data_type().clone()],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_like_postgres() {
        // round(2.5) = 3, round(-2.5) = -3, trunc(3.789, 1) = 3.7,
        // round(1234.5, -2) = 1200, round(3.7, 3) = 3.700.
        assert_eq!(round_decimal(25, 1, 0, Mode::HalfAway, 0), Some(3));
        assert_eq!(round_decimal(-25, 1, 0, Mode::HalfAway, 0), Some(-3));
        assert_eq!(round_decimal(3789, 3, 1, Mode::Trunc, 1), Some(37));
        assert_eq!(round_decimal(12345, 1, -2, Mode::HalfAway, 0), Some(1200));
        assert_eq!(round_decimal(37, 1, 3, Mode::HalfAway, 3), Some(3700));
        // ceil(4.2) = 5, floor(-4.2) = -5, ceil(-0.5) = 0.
        assert_eq!(round_decimal(42, 1, 0, Mode::Ceil, 0), Some(5));
        assert_eq!(round_decimal(-42, 1, 0, Mode::Floor, 0), Some(-5));
        assert_eq!(round_decimal(-5, 1, 0, Mode::Ceil, 0), Some(0));
    }

    #[test]
    fn result_types_follow_the_scale_asked_for() {
        assert_eq!(rounded_type(4, 3, 1), DataType::Decimal128(3, 1));
        assert_eq!(rounded_type(2, 1, 0), DataType::Decimal128(2, 0));
        assert_eq!(rounded_type(38, 16, 2), DataType::Decimal128(25, 2));
    }
}
