//! Assignment casts: a value stored into a column of another type, with
//! PostgreSQL's rules (`INSERT`, `UPDATE`, parameters). Out-of-range
//! numbers are 22003, over-long strings 22001, unparsable text 22P02:
//! nothing is silently wrapped or cut.

use super::text::{format_text, parse_text, TextError, TextFormat};
use super::{Datum, Decimal, SqlType};
use crate::error::{code, Error, Result};

impl From<TextError> for Error {
    fn from(e: TextError) -> Self {
        let mut err = Error::new(e.sqlstate(), e.message().to_string());
        err.detail = e.detail().map(str::to_string);
        err.hint = e.hint().map(str::to_string);
        err
    }
}

fn out_of_range(ty: SqlType) -> Error {
    let name = match ty {
        SqlType::Int2 => "smallint out of range",
        SqlType::Int4 => "integer out of range",
        SqlType::Int8 => "bigint out of range",
        _ => "value out of range",
    };
    Error::new(code::NUMERIC_VALUE_OUT_OF_RANGE, name)
}

fn int_to(v: i128, ty: SqlType) -> Result<Datum> {
    let bad = || out_of_range(ty);
    Ok(match ty {
        SqlType::Int2 => Datum::Int2(i16::try_from(v).map_err(|_| bad())?),
        SqlType::Int4 => Datum::Int4(i32::try_from(v).map_err(|_| bad())?),
        SqlType::Int8 => Datum::Int8(i64::try_from(v).map_err(|_| bad())?),
        _ => return Err(Error::internal("int_to: not an integer type")),
    })
}

fn numeric_overflow() -> Error {
    Error::new(code::NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow")
}

/// Fits a decimal to a numeric column's precision and scale.
fn fit_numeric(d: Decimal, ty: SqlType) -> Result<Datum> {
    match ty {
        SqlType::Numeric(Some((p, s))) => d.fit(p, s).map(Datum::Numeric).map_err(|_| {
            numeric_overflow().with_detail(format!(
                "A field with precision {p}, scale {s} must round to an absolute value less than 10^{}.",
                p - s
            ))
        }),
        _ => Ok(Datum::Numeric(d)),
    }
}

/// Checks a string against `varchar(n)`/`char(n)` as an assignment does:
/// too long is an error unless only spaces are cut; `char(n)` is padded.
fn fit_text(s: String, ty: SqlType) -> Result<Datum> {
    let (n, pad) = match ty {
        SqlType::Varchar(Some(n)) => (n as usize, false),
        SqlType::Char(n) => (n as usize, true),
        _ => return Ok(Datum::Text(s)),
    };
    let len = s.chars().count();
    if len > n {
        let kept: String = s.chars().take(n).collect();
        if s.chars().skip(n).any(|c| c != ' ') {
            let what = if pad {
                "character"
            } else {
                "character varying"
            };
            return Err(Error::new(
                code::STRING_DATA_RIGHT_TRUNCATION,
                format!("value too long for type {what}({n})"),
            ));
        }
        return Ok(Datum::Text(kept));
    }
    if pad && len < n {
        let mut s = s;
        s.extend(std::iter::repeat_n(' ', n - len));
        return Ok(Datum::Text(s));
    }
    Ok(Datum::Text(s))
}

/// Rounds a float to an integer the way PostgreSQL does (half to even).
fn float_to_int(f: f64, ty: SqlType) -> Result<Datum> {
    if !f.is_finite() {
        return Err(out_of_range(ty));
    }
    let r = f.round_ties_even();
    if r < i64::MIN as f64 || r >= i64::MAX as f64 {
        return Err(out_of_range(ty));
    }
    int_to(r as i128, ty)
}

/// `d` (of any type) as a value of a column of type `to`.
pub fn assign(d: Datum, to: SqlType, f: &TextFormat) -> Result<Datum> {
    use SqlType as T;
    Ok(match (d, to) {
        (Datum::Null, _) => Datum::Null,
        (Datum::Text(s), T::Text | T::Varchar(_) | T::Char(_)) => fit_text(s, to)?,
        (Datum::Text(s), _) => parse_text(&s, to, f)?,
        (Datum::Bool(b), T::Bool) => Datum::Bool(b),
        (Datum::Int2(v), T::Int2 | T::Int4 | T::Int8) => int_to(v as i128, to)?,
        (Datum::Int4(v), T::Int2 | T::Int4 | T::Int8) => int_to(v as i128, to)?,
        (Datum::Int8(v), T::Int2 | T::Int4 | T::Int8) => int_to(v as i128, to)?,
        (Datum::Int2(v), T::Float4) => Datum::Float4(v as f32),
        (Datum::Int4(v), T::Float4) => Datum::Float4(v as f32),
        (Datum::Int8(v), T::Float4) => Datum::Float4(v as f32),
        (Datum::Int2(v), T::Float8) => Datum::Float8(v as f64),
        (Datum::Int4(v), T::Float8) => Datum::Float8(v as f64),
        (Datum::Int8(v), T::Float8) => Datum::Float8(v as f64),
        (Datum::Int2(v), T::Numeric(_)) => fit_numeric(Decimal::from_i64(v as i64), to)?,
        (Datum::Int4(v), T::Numeric(_)) => fit_numeric(Decimal::from_i64(v as i64), to)?,
        (Datum::Int8(v), T::Numeric(_)) => fit_numeric(Decimal::from_i64(v), to)?,
        (Datum::Float4(v), T::Float4) => Datum::Float4(v),
        (Datum::Float4(v), T::Float8) => Datum::Float8(v as f64),
        (Datum::Float8(v), T::Float8) => Datum::Float8(v),
        (Datum::Float8(v), T::Float4) => {
            let r = v as f32;
            if v.is_finite() && !r.is_finite() {
                return Err(Error::new(
                    code::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            Datum::Float4(r)
        }
        (Datum::Float4(v), T::Int2 | T::Int4 | T::Int8) => float_to_int(v as f64, to)?,
        (Datum::Float8(v), T::Int2 | T::Int4 | T::Int8) => float_to_int(v, to)?,
        (Datum::Float4(v), T::Numeric(_)) => float_to_numeric(v as f64, to, f)?,
        (Datum::Float8(v), T::Numeric(_)) => float_to_numeric(v, to, f)?,
        (Datum::Numeric(n), T::Numeric(_)) => fit_numeric(n, to)?,
        (Datum::Numeric(n), T::Int2 | T::Int4 | T::Int8) => {
            int_to(n.rescale(0).map_err(|_| out_of_range(to))?.mantissa, to)?
        }
        (Datum::Numeric(n), T::Float8) => Datum::Float8(n.to_f64()),
        (Datum::Numeric(n), T::Float4) => Datum::Float4(n.to_f64() as f32),
        (Datum::Bytea(b), T::Bytea) => Datum::Bytea(b),
        (Datum::Date(v), T::Date) => Datum::Date(v),
        (Datum::Date(v), T::Timestamp) => Datum::Timestamp(v as i64 * 86_400_000_000),
        (Datum::Time(v), T::Time) => Datum::Time(v),
        (Datum::Timestamp(v), T::Timestamp) => Datum::Timestamp(v),
        (Datum::Timestamp(v), T::Date) => Datum::Date(v.div_euclid(86_400_000_000) as i32),
        (Datum::TimestampTz(v), T::TimestampTz) => Datum::TimestampTz(v),
        (Datum::Timestamp(v), T::TimestampTz) => {
            let secs = v.div_euclid(1_000_000);
            let off = f.time_zone.offset_for_local(secs) as i64;
            Datum::TimestampTz(v - off * 1_000_000)
        }
        (Datum::TimestampTz(v), T::Timestamp) => {
            let off = f.time_zone.offset_at_utc(v.div_euclid(1_000_000)) as i64;
            Datum::Timestamp(v + off * 1_000_000)
        }
        (d @ Datum::Interval { .. }, T::Interval) => d,
        (Datum::Uuid(u), T::Uuid) => Datum::Uuid(u),
        (Datum::Json(s), T::Json | T::Jsonb) => parse_text(&s, to, f)?,
        (d, T::Text | T::Varchar(_) | T::Char(_)) => {
            let from = natural_type(&d);
            fit_text(format_text(&d, from, f), to)?
        }
        (d, to) => {
            return Err(Error::new(
                code::DATATYPE_MISMATCH,
                format!(
                    "column is of type {} but expression is of type {}",
                    super::binary::type_name(to),
                    super::binary::type_name(natural_type(&d))
                ),
            )
            .with_hint("You will need to rewrite or cast the expression."))
        }
    })
}

fn float_to_numeric(v: f64, to: SqlType, f: &TextFormat) -> Result<Datum> {
    if !v.is_finite() {
        return Err(Error::unsupported("NaN or infinity in numeric"));
    }
    // Through the shortest text that reads back as the same float, as
    // PostgreSQL does.
    let text = format_text(
        &Datum::Float8(v),
        SqlType::Float8,
        &TextFormat {
            extra_float_digits: 0,
            ..f.clone()
        },
    );
    let d = Decimal::parse(&text).map_err(|_| numeric_overflow())?;
    fit_numeric(d, to)
}

/// The type a datum most naturally has (for messages and formatting).
pub fn natural_type(d: &Datum) -> SqlType {
    match d {
        Datum::Null | Datum::Text(_) => SqlType::Text,
        Datum::Bool(_) => SqlType::Bool,
        Datum::Int2(_) => SqlType::Int2,
        Datum::Int4(_) => SqlType::Int4,
        Datum::Int8(_) => SqlType::Int8,
        Datum::Float4(_) => SqlType::Float4,
        Datum::Float8(_) => SqlType::Float8,
        Datum::Numeric(_) => SqlType::Numeric(None),
        Datum::Bytea(_) => SqlType::Bytea,
        Datum::Date(_) => SqlType::Date,
        Datum::Time(_) => SqlType::Time,
        Datum::Timestamp(_) => SqlType::Timestamp,
        Datum::TimestampTz(_) => SqlType::TimestampTz,
        Datum::Interval { .. } => SqlType::Interval,
        Datum::Uuid(_) => SqlType::Uuid,
        Datum::Json(_) => SqlType::Jsonb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(d: Datum, to: SqlType) -> Result<Datum> {
        assign(d, to, &TextFormat::default())
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(a(Datum::Int8(5), SqlType::Int4), Ok(Datum::Int4(5)));
        let e = a(Datum::Int8(1 << 40), SqlType::Int4).unwrap_err();
        assert_eq!(e.code, code::NUMERIC_VALUE_OUT_OF_RANGE);
        assert_eq!(e.message, "integer out of range");
        assert_eq!(a(Datum::Float8(2.5), SqlType::Int4), Ok(Datum::Int4(2)));
        assert_eq!(a(Datum::Float8(3.5), SqlType::Int4), Ok(Datum::Int4(4)));
    }

    #[test]
    fn strings_are_checked_against_their_length() {
        let v = SqlType::Varchar(Some(3));
        assert_eq!(
            a(Datum::Text("abc".into()), v),
            Ok(Datum::Text("abc".into()))
        );
        assert_eq!(
            a(Datum::Text("abc  ".into()), v),
            Ok(Datum::Text("abc".into()))
        );
        let e = a(Datum::Text("abcd".into()), v).unwrap_err();
        assert_eq!(e.code, code::STRING_DATA_RIGHT_TRUNCATION);
        assert_eq!(e.message, "value too long for type character varying(3)");
        assert_eq!(
            a(Datum::Text("a".into()), SqlType::Char(3)),
            Ok(Datum::Text("a  ".into()))
        );
    }

    #[test]
    fn text_is_parsed_into_the_column_type() {
        assert_eq!(
            a(Datum::Text("42".into()), SqlType::Int8),
            Ok(Datum::Int8(42))
        );
        let e = a(Datum::Text("x".into()), SqlType::Int4).unwrap_err();
        assert_eq!(e.code, code::INVALID_TEXT_REPRESENTATION);
        let n = a(Datum::Text("12.345".into()), SqlType::Numeric(Some((5, 2)))).unwrap();
        assert_eq!(n, Datum::Numeric(Decimal::parse("12.35").unwrap()));
        let e = a(Datum::Int4(1000), SqlType::Numeric(Some((5, 2)))).unwrap_err();
        assert_eq!(e.code, code::NUMERIC_VALUE_OUT_OF_RANGE);
    }
}
