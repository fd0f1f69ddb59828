//! Interval arithmetic as PostgreSQL does it.
//!
//! * `interval * number` and `interval / number` (DataFusion rejects
//!   them): months, days and time are scaled separately, fractions of a
//!   month cascade into days (30 to a month) and fractions of a day into
//!   time (`interval_mul`/`interval_div` in PostgreSQL's `timestamp.c`).
//! * `timestamp - timestamp` is an interval of days and time
//!   (`2 days 05:30:00`), not DataFusion's duration.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{division_by_zero, sql_error, undefined_function};
use crate::error::code;

const DAYS_PER_MONTH: f64 = 30.0;
const SECS_PER_DAY: f64 = 86_400.0;
const USECS_PER_SEC: f64 = 1_000_000.0;
const USECS_PER_DAY: i64 = 86_400_000_000;

/// PostgreSQL's `TSROUND`: to microsecond precision.
fn ts_round(v: f64) -> f64 {
    (v * 1_000_000.0).round_ties_even() / 1_000_000.0
}

fn interval_out_of_range() -> DataFusionError {
    sql_error(code::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

/// `(months, days, µs) * factor` (or `/ factor` if `divide`), exactly as
/// PostgreSQL 15 computes it.
pub fn scale_interval(
    months: i32,
    days: i32,
    micros: i64,
    factor: f64,
    divide: bool,
) -> Result<(i32, i32, i64)> {
    if divide && factor == 0.0 {
        return Err(division_by_zero());
    }
    let apply = |v: f64| if divide { v / factor } else { v * factor };
    let to_i32 = |v: f64| {
        if v.is_nan() || v > i32::MAX as f64 || v < i32::MIN as f64 {
            Err(interval_out_of_range())
        } else {
            Ok(v as i32)
        }
    };
    let r_months = to_i32(apply(months as f64))?;
    let mut r_days = to_i32(apply(days as f64))?;
    let month_remainder_days = ts_round((apply(months as f64) - r_months as f64) * DAYS_PER_MONTH);
    let mut sec_remainder = ts_round(
        (apply(days as f64) - r_days as f64 + month_remainder_days - month_remainder_days.trunc())
            * SECS_PER_DAY,
    );
    if sec_remainder.abs() >= SECS_PER_DAY {
        let whole = (sec_remainder / SECS_PER_DAY).trunc();
        r_days = r_days
            .checked_add(whole as i32)
            .ok_or_else(interval_out_of_range)?;
        sec_remainder -= whole * SECS_PER_DAY;
    }
    r_days = r_days
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(interval_out_of_range)?;
    let time = (apply(micros as f64) + sec_remainder * USECS_PER_SEC).round_ties_even();
    if time.is_nan() || time >= i64::MAX as f64 || time < i64::MIN as f64 {
        return Err(interval_out_of_range());
    }
    Ok((r_months, r_days, time as i64))
}

/// `interval * float8` or `interval / float8`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IntervalScale {
    divide: bool,
    signature: Signature,
}

impl IntervalScale {
    /// `interval / n` if `divide`, else `interval * n`.
    pub fn new(divide: bool) -> Self {
        IntervalScale {
            divide,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn interval_type() -> DataType {
    DataType::Interval(IntervalUnit::MonthDayNano)
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        if self.divide {
            "interval_div"
        } else {
            "interval_mul"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [DataType::Interval(_) | DataType::Null, n] if n.is_numeric() || n.is_null() => {
                Ok(vec![interval_type(), DataType::Float64])
            }
            _ => Err(undefined_function(self.name(), args)),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(interval_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [i, n] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes two arguments",
                self.name()
            )));
        };
        let spans = i.as_primitive::<IntervalMonthDayNanoType>();
        let factors = n.as_primitive::<Float64Type>();
        let out: IntervalMonthDayNanoArray = spans
            .iter()
            .zip(factors.iter())
            .map(|(s, f)| match (s, f) {
                (Some(s), Some(f)) => {
                    let (m, d, us) =
                        scale_interval(s.months, s.days, s.nanoseconds / 1000, f, self.divide)?;
                    let ns = us.checked_mul(1000).ok_or_else(interval_out_of_range)?;
                    Ok(Some(IntervalMonthDayNano::new(m, d, ns)))
                }
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `timestamp - timestamp` as PostgreSQL's interval: whole days and the
/// rest as time, both with the sign of the difference.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampMinus {
    signature: Signature,
}

impl Default for TimestampMinus {
    fn default() -> Self {
        TimestampMinus {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The microseconds of a timestamp array's values.
fn micros(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let DataType::Timestamp(unit, _) = a.data_type() else {
        return Err(DataFusionError::Internal(format!(
            "timestamp_mi of {}",
            a.data_type()
        )));
    };
    Ok(match unit {
        TimeUnit::Second => a
            .as_primitive::<TimestampSecondType>()
            .iter()
            .map(|v| v.map(|v| v.saturating_mul(1_000_000)))
            .collect(),
        TimeUnit::Millisecond => a
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|v| v.map(|v| v.saturating_mul(1000)))
            .collect(),
        TimeUnit::Microsecond => a
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect(),
        TimeUnit::Nanosecond => a
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|v| v.div_euclid(1000)))
            .collect(),
    })
}

impl ScalarUDFImpl for TimestampMinus {
    fn name(&self) -> &str {
        "timestamp_mi"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [a @ DataType::Timestamp(..), b @ DataType::Timestamp(..)] if a == b => {
                Ok(args.to_vec())
            }
            _ => Err(undefined_function("timestamp_mi", args)),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(interval_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b] = arrays.as_slice() else {
            return Err(DataFusionError::Internal(
                "timestamp_mi takes two arguments".into(),
            ));
        };
        let out: IntervalMonthDayNanoArray = micros(a)?
            .into_iter()
            .zip(micros(b)?)
            .map(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => {
                    let diff = x.checked_sub(y).ok_or_else(interval_out_of_range)?;
                    // interval_justify_hours: whole days out of the time.
                    let days = diff / USECS_PER_DAY;
                    let time = diff % USECS_PER_DAY;
                    Ok(Some(IntervalMonthDayNano::new(0, days as i32, time * 1000)))
                }
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        debug_assert_eq!(out.len(), a.len());
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_scale_like_postgres() {
        // interval '1 month' * 1.5 = 1 mon 15 days
        assert_eq!(scale_interval(1, 0, 0, 1.5, false).unwrap(), (1, 15, 0));
        // interval '1 day' * 0.1 = 02:24:00
        assert_eq!(
            scale_interval(0, 1, 0, 0.1, false).unwrap(),
            (0, 0, 8_640_000_000)
        );
        // interval '1 mon 1 day' / 3 = 10 days 08:00:00
        assert_eq!(
            scale_interval(1, 1, 0, 3.0, true).unwrap(),
            (0, 10, 8 * 3_600_000_000)
        );
        // interval '1 year' / 7 = 1 mon 21 days 10:17:08.5344
        assert_eq!(
            scale_interval(12, 0, 0, 7.0, true).unwrap(),
            (1, 21, 37_028_534_400)
        );
        // interval '1 day 2 hours' * 2.5 = 2 days 17:00:00
        assert_eq!(
            scale_interval(0, 1, 2 * 3_600_000_000, 2.5, false).unwrap(),
            (0, 2, 17 * 3_600_000_000)
        );
        assert!(scale_interval(0, 1, 0, 0.0, true).is_err());
    }
}
