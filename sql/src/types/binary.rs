//! PostgreSQL's binary wire format for every [`SqlType`] (the `typsend` /
//! `typreceive` functions), which drivers such as tokio-postgres, asyncpg,
//! sqlx and JDBC use for bind parameters and results, plus the catalog
//! facts a RowDescription needs: type OIDs, `atttypmod`, `typlen` and
//! `format_type` names.
//!
//! | type | bytes |
//! |---|---|
//! | `bool` | 1 byte, 0 or 1 (any non-zero byte reads as true) |
//! | `int2`/`int4`/`int8` | big-endian two's complement |
//! | `float4`/`float8` | big-endian IEEE 754 |
//! | `numeric` | `i16` ndigits, `i16` weight, `u16` sign (0x0000 +, 0x4000 −), `u16` dscale, then ndigits base-10000 `i16` digits |
//! | `text`, `varchar`, `char`, `json` | the UTF-8 bytes |
//! | `jsonb` | a version byte (1), then the text |
//! | `bytea` | the bytes |
//! | `date` | `i32` days since **2000-01-01** (`i32::MAX`/`MIN` = ±infinity) |
//! | `time` | `i64` µs since midnight |
//! | `timestamp`, `timestamptz` | `i64` µs since **2000-01-01** (UTC for tz; `i64::MAX`/`MIN` = ±infinity) |
//! | `interval` | `i64` µs, `i32` days, `i32` months |
//! | `uuid` | 16 bytes |
//!
//! [`Datum`] counts dates and timestamps from 1970, so both directions
//! shift by 10957 days; the infinities map onto each other. Decoding
//! checks what PostgreSQL's receive functions check (ranges, numeric
//! digits, UTF-8, JSON syntax, the column's `varchar(n)`/`char(n)`/
//! `numeric(p,s)` modifier) and never panics: a wrong length is SQLSTATE
//! 22P03 (`invalid_binary_representation`).

use super::text::{
    date_is_valid, fit_char, fit_numeric, fit_varchar, parse_json_text, timestamp_is_valid,
    SqlState, TextError, DATE_INFINITY, DATE_NEG_INFINITY, EPOCH_DIFF_DAYS, EPOCH_DIFF_USECS,
    TIMESTAMP_INFINITY, TIMESTAMP_NEG_INFINITY, USECS_PER_DAY,
};
use super::{Datum, Decimal, SqlType};

/// A binary value PostgreSQL would refuse, with its SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BinaryError {
    state: SqlState,
    message: String,
    detail: Option<String>,
}

impl BinaryError {
    fn new(state: SqlState, message: impl Into<String>) -> BinaryError {
        BinaryError {
            state,
            message: message.into(),
            detail: None,
        }
    }

    /// 22P03 for a value of the wrong size or shape.
    fn format() -> BinaryError {
        BinaryError::new(
            SqlState::InvalidBinaryRepresentation,
            "incorrect binary data format",
        )
    }

    /// The error class.
    pub fn state(&self) -> SqlState {
        self.state
    }

    /// The SQLSTATE code, e.g. `22P03`.
    pub fn sqlstate(&self) -> &'static str {
        self.state.code()
    }

    /// PostgreSQL's primary message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// PostgreSQL's DETAIL line, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<TextError> for BinaryError {
    fn from(e: TextError) -> BinaryError {
        BinaryError {
            state: e.state(),
            message: e.message().to_string(),
            detail: e.detail().map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------
// Catalog facts
// ---------------------------------------------------------------------------

/// The type's OID in `pg_type` (what RowDescription and
/// ParameterDescription carry).
pub fn type_oid(ty: SqlType) -> u32 {
    match ty {
        SqlType::Bool => 16,
        SqlType::Bytea => 17,
        SqlType::Int8 => 20,
        SqlType::Int2 => 21,
        SqlType::Int4 => 23,
        SqlType::Text => 25,
        SqlType::Json => 114,
        SqlType::Float4 => 700,
        SqlType::Float8 => 701,
        SqlType::Char(_) => 1042,
        SqlType::Varchar(_) => 1043,
        SqlType::Date => 1082,
        SqlType::Time => 1083,
        SqlType::Timestamp => 1114,
        SqlType::TimestampTz => 1184,
        SqlType::Interval => 1186,
        SqlType::Numeric(_) => 1700,
        SqlType::Uuid => 2950,
        SqlType::Jsonb => 3802,
    }
}

/// The type an OID names, with no modifier (`varchar`, `numeric`);
/// `bpchar` without a length is `char(1)`, as PostgreSQL's
/// `CAST(x AS char)` is. `None` for other OIDs.
pub fn type_from_oid(oid: u32) -> Option<SqlType> {
    Some(match oid {
        16 => SqlType::Bool,
        17 => SqlType::Bytea,
        20 => SqlType::Int8,
        21 => SqlType::Int2,
        23 => SqlType::Int4,
        25 => SqlType::Text,
        114 => SqlType::Json,
        700 => SqlType::Float4,
        701 => SqlType::Float8,
        1042 => SqlType::Char(1),
        1043 => SqlType::Varchar(None),
        1082 => SqlType::Date,
        1083 => SqlType::Time,
        1114 => SqlType::Timestamp,
        1184 => SqlType::TimestampTz,
        1186 => SqlType::Interval,
        1700 => SqlType::Numeric(None),
        2950 => SqlType::Uuid,
        3802 => SqlType::Jsonb,
        _ => return None,
    })
}

/// `atttypmod` as PostgreSQL reports it: `varchar(n)` and `char(n)` are
/// n + 4, `numeric(p,s)` is ((p << 16) | s) + 4, anything else -1.
pub fn type_modifier(ty: SqlType) -> i32 {
    match ty {
        SqlType::Varchar(Some(n)) | SqlType::Char(n) => n as i32 + 4,
        SqlType::Numeric(Some((p, s))) => (((p as i32) << 16) | s as i32) + 4,
        _ => -1,
    }
}

/// `typlen`: the fixed size in bytes, or -1 for variable-length types
/// (RowDescription's data type size).
pub fn type_size(ty: SqlType) -> i16 {
    match ty {
        SqlType::Bool => 1,
        SqlType::Int2 => 2,
        SqlType::Int4 | SqlType::Float4 | SqlType::Date => 4,
        SqlType::Int8
        | SqlType::Float8
        | SqlType::Time
        | SqlType::Timestamp
        | SqlType::TimestampTz => 8,
        SqlType::Interval | SqlType::Uuid => 16,
        SqlType::Numeric(_)
        | SqlType::Text
        | SqlType::Varchar(_)
        | SqlType::Char(_)
        | SqlType::Bytea
        | SqlType::Json
        | SqlType::Jsonb => -1,
    }
}

/// PostgreSQL's `format_type` text: `integer`, `character varying(10)`,
/// `numeric(10,2)`, `timestamp without time zone`, …
pub fn type_name(ty: SqlType) -> String {
    match ty {
        SqlType::Bool => "boolean".into(),
        SqlType::Int2 => "smallint".into(),
        SqlType::Int4 => "integer".into(),
        SqlType::Int8 => "bigint".into(),
        SqlType::Float4 => "real".into(),
        SqlType::Float8 => "double precision".into(),
        SqlType::Numeric(None) => "numeric".into(),
        SqlType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
        SqlType::Text => "text".into(),
        SqlType::Varchar(None) => "character varying".into(),
        SqlType::Varchar(Some(n)) => format!("character varying({n})"),
        SqlType::Char(n) => format!("character({n})"),
        SqlType::Bytea => "bytea".into(),
        SqlType::Date => "date".into(),
        SqlType::Time => "time without time zone".into(),
        SqlType::Timestamp => "timestamp without time zone".into(),
        SqlType::TimestampTz => "timestamp with time zone".into(),
        SqlType::Interval => "interval".into(),
        SqlType::Uuid => "uuid".into(),
        SqlType::Json => "json".into(),
        SqlType::Jsonb => "jsonb".into(),
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// Appends PostgreSQL's binary form of `d` as a value of column type `ty`
/// (the value's bytes only, without the length word). Integers and floats
/// are written at `ty`'s width, `char(n)` text is blank-padded and `jsonb`
/// gets its version byte. SQL NULL appends nothing (the wire sends NULL as
/// a length of -1).
pub fn encode_binary(d: &Datum, ty: SqlType, out: &mut Vec<u8>) {
    match d {
        Datum::Null => {}
        Datum::Bool(b) => out.push(*b as u8),
        Datum::Int2(v) => encode_int(*v as i64, ty, out),
        Datum::Int4(v) => encode_int(*v as i64, ty, out),
        Datum::Int8(v) => encode_int(*v, ty, out),
        Datum::Float4(v) => match ty {
            SqlType::Float8 => out.extend_from_slice(&(*v as f64).to_be_bytes()),
            _ => out.extend_from_slice(&v.to_be_bytes()),
        },
        Datum::Float8(v) => match ty {
            SqlType::Float4 => out.extend_from_slice(&(*v as f32).to_be_bytes()),
            _ => out.extend_from_slice(&v.to_be_bytes()),
        },
        Datum::Numeric(n) => encode_numeric(n, out),
        Datum::Text(s) => {
            out.extend_from_slice(s.as_bytes());
            if let SqlType::Char(n) = ty {
                let count = s.chars().count();
                out.extend(std::iter::repeat_n(
                    b' ',
                    (n as usize).saturating_sub(count),
                ));
            }
        }
        Datum::Bytea(b) => out.extend_from_slice(b),
        Datum::Date(d) => {
            let pg = match *d {
                DATE_INFINITY | DATE_NEG_INFINITY => *d,
                d => (d as i64 - EPOCH_DIFF_DAYS).clamp(i32::MIN as i64 + 1, i32::MAX as i64 - 1)
                    as i32,
            };
            out.extend_from_slice(&pg.to_be_bytes());
        }
        Datum::Time(t) => out.extend_from_slice(&t.to_be_bytes()),
        Datum::Timestamp(t) | Datum::TimestampTz(t) => {
            let pg = match *t {
                TIMESTAMP_INFINITY | TIMESTAMP_NEG_INFINITY => *t,
                t => t.saturating_sub(EPOCH_DIFF_USECS).max(i64::MIN + 1),
            };
            out.extend_from_slice(&pg.to_be_bytes());
        }
        Datum::Interval {
            months,
            days,
            micros,
        } => {
            out.extend_from_slice(&micros.to_be_bytes());
            out.extend_from_slice(&days.to_be_bytes());
            out.extend_from_slice(&months.to_be_bytes());
        }
        Datum::Uuid(u) => out.extend_from_slice(u),
        Datum::Json(s) => {
            if ty == SqlType::Jsonb {
                out.push(1);
            }
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// [`encode_binary`] into a new vector.
pub fn to_binary(d: &Datum, ty: SqlType) -> Vec<u8> {
    let mut out = Vec::new();
    encode_binary(d, ty, &mut out);
    out
}

fn encode_int(v: i64, ty: SqlType, out: &mut Vec<u8>) {
    match ty {
        SqlType::Int2 => out.extend_from_slice(&(v as i16).to_be_bytes()),
        SqlType::Int8 => out.extend_from_slice(&v.to_be_bytes()),
        _ => out.extend_from_slice(&(v as i32).to_be_bytes()),
    }
}

/// `numeric_send`: base-10000 digits aligned on the decimal point, with
/// leading and trailing zero digits stripped and the scale as dscale.
fn encode_numeric(n: &Decimal, out: &mut Vec<u8>) {
    let scale = n.scale as usize;
    let digits = n.mantissa.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let mut groups: Vec<i16> = int
        .as_bytes()
        .chunks(4)
        .chain(frac.as_bytes().chunks(4))
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + (d - b'0') as i16))
        .collect();
    let mut weight = (int.len() / 4) as i32 - 1;
    let lead = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..lead);
    weight -= lead as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let sign = if groups.is_empty() {
        weight = 0;
        NUMERIC_POS
    } else if n.mantissa < 0 {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], BinaryError> {
    bytes.try_into().map_err(|_| BinaryError::format())
}

/// PostgreSQL's receive function for `ty` applied to `bytes` (one value,
/// without its length word), with the column's modifier applied as
/// PostgreSQL's `varcharrecv`, `bpcharrecv` and `numeric_recv` do.
/// Never panics; see the module notes for the checks.
pub fn decode_binary(bytes: &[u8], ty: SqlType) -> Result<Datum, BinaryError> {
    Ok(match ty {
        SqlType::Bool => Datum::Bool(fixed::<1>(bytes)?[0] != 0),
        SqlType::Int2 => Datum::Int2(i16::from_be_bytes(fixed(bytes)?)),
        SqlType::Int4 => Datum::Int4(i32::from_be_bytes(fixed(bytes)?)),
        SqlType::Int8 => Datum::Int8(i64::from_be_bytes(fixed(bytes)?)),
        SqlType::Float4 => Datum::Float4(f32::from_be_bytes(fixed(bytes)?)),
        SqlType::Float8 => Datum::Float8(f64::from_be_bytes(fixed(bytes)?)),
        SqlType::Numeric(typmod) => {
            let d = decode_numeric(bytes)?;
            Datum::Numeric(match typmod {
                Some((p, s)) => fit_numeric(d, p, s)?,
                None => d,
            })
        }
        SqlType::Text | SqlType::Varchar(None) => Datum::Text(utf8(bytes)?.to_string()),
        SqlType::Varchar(Some(n)) => Datum::Text(fit_varchar(utf8(bytes)?, n)?),
        SqlType::Char(n) => Datum::Text(fit_char(utf8(bytes)?, n)?),
        SqlType::Bytea => Datum::Bytea(bytes.to_vec()),
        SqlType::Json => Datum::Json(parse_json_text(utf8(bytes)?, false)?),
        SqlType::Jsonb => {
            let (&version, rest) = bytes.split_first().ok_or_else(BinaryError::format)?;
            if version != 1 {
                return Err(BinaryError::new(
                    SqlState::InvalidBinaryRepresentation,
                    format!("unsupported jsonb version number {version}"),
                ));
            }
            Datum::Json(parse_json_text(utf8(rest)?, true)?)
        }
        SqlType::Date => {
            let pg = i32::from_be_bytes(fixed(bytes)?);
            Datum::Date(match pg {
                DATE_INFINITY | DATE_NEG_INFINITY => pg,
                _ => {
                    let d = pg as i64 + EPOCH_DIFF_DAYS;
                    match i32::try_from(d) {
                        Ok(d) if date_is_valid(d) => d,
                        _ => return Err(out_of_range("date out of range")),
                    }
                }
            })
        }
        SqlType::Time => {
            let t = i64::from_be_bytes(fixed(bytes)?);
            if !(0..=USECS_PER_DAY).contains(&t) {
                return Err(out_of_range("time out of range"));
            }
            Datum::Time(t)
        }
        SqlType::Timestamp | SqlType::TimestampTz => {
            let pg = i64::from_be_bytes(fixed(bytes)?);
            let t = match pg {
                TIMESTAMP_INFINITY | TIMESTAMP_NEG_INFINITY => pg,
                _ => match pg.checked_add(EPOCH_DIFF_USECS) {
                    Some(t) if timestamp_is_valid(t) => t,
                    _ => return Err(out_of_range("timestamp out of range")),
                },
            };
            if ty == SqlType::Timestamp {
                Datum::Timestamp(t)
            } else {
                Datum::TimestampTz(t)
            }
        }
        SqlType::Interval => {
            let b: [u8; 16] = fixed(bytes)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let days = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let months = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            Datum::Interval {
                months,
                days,
                micros,
            }
        }
        SqlType::Uuid => Datum::Uuid(fixed(bytes)?),
    })
}

fn out_of_range(message: &str) -> BinaryError {
    BinaryError::new(SqlState::DatetimeFieldOverflow, message)
}

/// Text bytes must be UTF-8 without NUL, as PostgreSQL's `pq_getmsgtext`
/// (encoding verification) requires.
fn utf8(bytes: &[u8]) -> Result<&str, BinaryError> {
    let bad_at = |i: usize| {
        let lead = bytes[i];
        let len = if lead & 0x80 == 0 {
            1
        } else if lead & 0xe0 == 0xc0 {
            2
        } else if lead & 0xf0 == 0xe0 {
            3
        } else if lead & 0xf8 == 0xf0 {
            4
        } else {
            1
        };
        let shown: Vec<String> = bytes[i..(i + len).min(bytes.len())]
            .iter()
            .map(|b| format!("0x{b:02x}"))
            .collect();
        BinaryError::new(
            SqlState::CharacterNotInRepertoire,
            format!(
                "invalid byte sequence for encoding \"UTF8\": {}",
                shown.join(" ")
            ),
        )
    };
    let s = std::str::from_utf8(bytes).map_err(|e| bad_at(e.valid_up_to()))?;
    if let Some(i) = bytes.iter().position(|b| *b == 0) {
        return Err(bad_at(i));
    }
    Ok(s)
}

/// `numeric_recv`: checks the header and digits, truncates to dscale and
/// builds the [`Decimal`] (refusing NaN/±Infinity and values past 38
/// digits or 38 decimals).
fn decode_numeric(bytes: &[u8]) -> Result<Decimal, BinaryError> {
    if bytes.len() < 8 {
        return Err(BinaryError::format());
    }
    let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ndigits = be16(0) as usize;
    let weight = be16(2) as i16 as i64;
    let sign = be16(4);
    let dscale = be16(6);
    if bytes.len() != 8 + 2 * ndigits {
        return Err(BinaryError::format());
    }
    if !matches!(
        sign,
        NUMERIC_POS | NUMERIC_NEG | NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF
    ) {
        return Err(BinaryError::new(
            SqlState::InvalidBinaryRepresentation,
            "invalid sign in external \"numeric\" value",
        ));
    }
    if dscale & 0x3FFF != dscale {
        return Err(BinaryError::new(
            SqlState::InvalidBinaryRepresentation,
            "invalid scale in external \"numeric\" value",
        ));
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let d = be16(8 + 2 * i) as i16;
        if !(0..10000).contains(&d) {
            return Err(BinaryError::new(
                SqlState::InvalidBinaryRepresentation,
                "invalid digit in external \"numeric\" value",
            ));
        }
        digits.push(d as i128);
    }
    if matches!(sign, NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF) {
        return Err(BinaryError::new(
            SqlState::FeatureNotSupported,
            "NaN and infinite numeric values are not supported",
        ));
    }
    let overflow = || {
        BinaryError::from(
            TextError::new(SqlState::NumericValueOutOfRange, "numeric field overflow").with_detail(
                "A numeric value may have at most 38 significant digits and 38 digits after the decimal point.",
            ),
        )
    };
    if dscale > text_max_scale() {
        return Err(overflow());
    }
    // value × 10^dscale, truncated: group i is worth digit × 10^e with
    // e = 4 (weight − i) + dscale; the first group with e < 0 contributes
    // its integer part and the rest nothing (their sum is below one).
    let mut m: i128 = 0;
    for (i, d) in digits.iter().enumerate() {
        let e = 4 * (weight - i as i64) + dscale as i64;
        if *d == 0 {
            if e < 0 {
                break;
            }
            continue;
        }
        if e >= 0 {
            let p = u32::try_from(e)
                .ok()
                .and_then(|e| 10i128.checked_pow(e))
                .ok_or_else(overflow)?;
            m = d
                .checked_mul(p)
                .and_then(|v| m.checked_add(v))
                .ok_or_else(overflow)?;
        } else {
            if e > -4 {
                m += d / 10i128.pow((-e) as u32);
            }
            break;
        }
    }
    if sign == NUMERIC_NEG {
        m = -m;
    }
    Decimal::new(m, dscale as u8).map_err(|_| overflow())
}

fn text_max_scale() -> u16 {
    super::decimal::MAX_PRECISION as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::tests::ty;
    use crate::types::text::{format_text, parse_text, TextFormat};
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `(type, text input, bytes)`: the bytes are what PostgreSQL 15.18's
    /// send function returned (`SELECT <type>send('<input>'::<type>)`,
    /// TimeZone UTC).
    const PG_SEND: &[(&str, &str, &str)] = &[
        ("bool", "t", "01"),
        ("bool", "f", "00"),
        ("int2", "-2", "fffe"),
        ("int2", "32767", "7fff"),
        ("int4", "-1", "ffffffff"),
        ("int4", "2147483647", "7fffffff"),
        ("int8", "5", "0000000000000005"),
        ("int8", "-9223372036854775808", "8000000000000000"),
        ("float4", "1.5", "3fc00000"),
        ("float4", "-0", "80000000"),
        ("float4", "NaN", "7fc00000"),
        ("float4", "-Infinity", "ff800000"),
        ("float4", "1e-45", "00000001"),
        ("float8", "0.1", "3fb999999999999a"),
        ("float8", "-0", "8000000000000000"),
        ("float8", "Infinity", "7ff0000000000000"),
        ("float8", "4.9e-324", "0000000000000001"),
        ("numeric", "0", "0000000000000000"),
        ("numeric", "0.00", "0000000000000002"),
        ("numeric", "1.50", "000200000000000200011388"),
        ("numeric", "-12345.678", "0003000140000003000109291a7c"),
        ("numeric", "0.0001", "0001ffff000000040001"),
        ("numeric", "10000", "00010001000000000001"),
        ("numeric", "1e20", "00010005000000000001"),
        ("numeric", "0.00001234500", "0002fffe0000000b04d21388"),
        (
            "numeric",
            "99999999999999999999999999999999999999",
            "000a0009000000000063270f270f270f270f270f270f270f270f270f",
        ),
        (
            "numeric",
            "-0.00000000000000000000000000000000000001",
            "0001fff6400000260064",
        ),
        (
            "numeric",
            "12345678901234567890.123456789012345678",
            "000a00040000001204d2162e23340d801ed204d2162e23340d801e78",
        ),
        ("numeric(10,2)", "3.14159", "000200000000000200030578"),
        ("text", "hé", "68c3a9"),
        ("text", "", ""),
        ("varchar(3)", "abc", "616263"),
        ("char(4)", "ab", "61622020"),
        ("bytea", "\\\\x00ff10", "5c78303066663130"),
        ("date", "2024-01-01", "0000223e"),
        ("date", "2000-01-01", "00000000"),
        ("date", "1970-01-01", "ffffd533"),
        ("date", "infinity", "7fffffff"),
        ("date", "-infinity", "80000000"),
        ("date", "4714-11-24 BC", "ffda97a7"),
        ("date", "5874897-12-31", "7fda970c"),
        ("time", "00:00", "0000000000000000"),
        ("time", "10:00:00.5", "0000000861cc0920"),
        ("time", "24:00:00", "000000141dd76000"),
        ("timestamp", "2024-01-01 10:00:00", "0002b0de36ada800"),
        ("timestamp", "2000-01-01 00:00", "0000000000000000"),
        (
            "timestamp",
            "1970-01-01 00:00:00.000001",
            "fffca2fec4c82001",
        ),
        ("timestamp", "infinity", "7fffffffffffffff"),
        ("timestamp", "-infinity", "8000000000000000"),
        ("timestamp", "4714-11-24 00:00 BC", "fd0f7cc1411fa000"),
        (
            "timestamp",
            "294246-12-31 23:59:59.999999",
            "7ffca2465aa35fff",
        ),
        ("timestamptz", "2000-01-01 00:00:00+00", "0000000000000000"),
        ("timestamptz", "2024-07-01 12:00:00+02", "0002bf2b6dcbe800"),
        (
            "interval",
            "1 year 2 mons 3 days 04:05:06.5",
            "000000036c9361a0000000030000000e",
        ),
        ("interval", "-1 days", "0000000000000000ffffffff00000000"),
        (
            "interval",
            "-00:00:00.000001",
            "ffffffffffffffff0000000000000000",
        ),
        (
            "interval",
            "178956970 years 7 mons",
            "0000000000000000000000007fffffff",
        ),
        (
            "uuid",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        ),
        ("json", "{\"b\":1, \"a\":2}", "7b2262223a312c202261223a327d"),
        (
            "jsonb",
            "{\"b\":1, \"a\":2}",
            "017b2261223a20322c202262223a20317d",
        ),
        (
            "jsonb",
            "[1, 2.50, \"x\"]",
            "015b312c20322e35302c202278225d",
        ),
    ];

    #[test]
    fn binary_formats_match_postgresql_15() {
        let f = TextFormat::default();
        for (t, input, expected) in PG_SEND {
            let ty = ty(t);
            let d = parse_text(input, ty, &f).unwrap();
            assert_eq!(hex(&to_binary(&d, ty)), *expected, "{t} {input}");
            let back = decode_binary(&unhex(expected), ty).unwrap();
            // (NaN is not equal to itself: compare bytes and text.)
            assert_eq!(hex(&to_binary(&back, ty)), *expected, "{t} {input}");
            assert_eq!(
                format_text(&back, ty, &f),
                format_text(&d, ty, &f),
                "{t} {input}"
            );
        }
    }

    #[test]
    fn receive_checks_what_postgresql_checks() {
        let err = |bytes: &[u8], t: &str| decode_binary(bytes, ty(t)).unwrap_err();
        let code = |bytes: &[u8], t: &str| err(bytes, t).sqlstate();
        for t in [
            "bool",
            "int2",
            "int4",
            "int8",
            "float4",
            "float8",
            "date",
            "time",
            "timestamp",
            "interval",
            "uuid",
        ] {
            assert_eq!(code(&[0; 3], t), "22P03", "{t}");
            assert_eq!(code(&[0; 17], t), "22P03", "{t}");
        }
        assert_eq!(decode_binary(&[7], SqlType::Bool), Ok(Datum::Bool(true)));
        // numeric: header, sign, scale and digits are checked.
        assert_eq!(code(&unhex("000100000000"), "numeric"), "22P03");
        assert_eq!(code(&unhex("0001000000000000"), "numeric"), "22P03");
        assert_eq!(
            err(&unhex("0000000012340000"), "numeric").message(),
            "invalid sign in external \"numeric\" value"
        );
        assert_eq!(
            err(&unhex("000000000000ffff"), "numeric").message(),
            "invalid scale in external \"numeric\" value"
        );
        assert_eq!(
            err(&unhex("00010000000000002710"), "numeric").message(),
            "invalid digit in external \"numeric\" value"
        );
        assert_eq!(code(&unhex("00000000c0000000"), "numeric"), "0A000");
        assert_eq!(code(&unhex("0001001000000000000100"), "numeric"), "22P03");
        // 10000^16: 65 digits.
        assert_eq!(code(&unhex("00010010000000000001"), "numeric"), "22003");
        // A dscale hiding digits truncates them, as numeric_recv does.
        assert_eq!(
            decode_binary(&unhex("000200000000000100010d05"), SqlType::Numeric(None))
                .map(|d| format_text(&d, SqlType::Numeric(None), &TextFormat::default())),
            Ok("1.3".into())
        );
        // typmods apply on receive.
        assert_eq!(
            code(&unhex("00010001000000000001"), "numeric(3,0)"),
            "22003"
        );
        assert_eq!(
            err(b"abcd", "varchar(3)").message(),
            "value too long for type character varying(3)"
        );
        assert_eq!(
            decode_binary(b"ab", SqlType::Char(4)),
            Ok(Datum::Text("ab  ".into()))
        );
        // Text must be UTF-8 without NUL bytes.
        assert_eq!(
            err(b"a\xc3(", "text").message(),
            "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28"
        );
        assert_eq!(
            err(b"a\0", "text").message(),
            "invalid byte sequence for encoding \"UTF8\": 0x00"
        );
        assert_eq!(code(b"a\xff", "varchar"), "22021");
        // JSON is validated; jsonb needs version 1.
        assert_eq!(code(b"{", "json"), "22P02");
        assert_eq!(
            err(b"\x02{}", "jsonb").message(),
            "unsupported jsonb version number 2"
        );
        assert_eq!(code(b"", "jsonb"), "22P03");
        assert_eq!(
            decode_binary(b"\x01{\"b\":1,\"a\":2}", SqlType::Jsonb),
            Ok(Datum::Json("{\"a\": 2, \"b\": 1}".into()))
        );
        // Ranges of dates, times and timestamps.
        assert_eq!(
            err(&(-2_451_546i32).to_be_bytes(), "date").message(),
            "date out of range"
        );
        assert_eq!(code(&2_145_031_949i32.to_be_bytes(), "date"), "22008");
        assert_eq!(
            err(&(USECS_PER_DAY + 1).to_be_bytes(), "time").message(),
            "time out of range"
        );
        assert_eq!(code(&(-1i64).to_be_bytes(), "time"), "22008");
        // 294277-01-01 (valid in PostgreSQL, past what Datum holds) and
        // 4714-11-23 BC.
        assert_eq!(
            code(&9_223_371_331_200_000_000i64.to_be_bytes(), "timestamp"),
            "22008"
        );
        assert_eq!(
            code(&(-211_813_488_000_000_001i64).to_be_bytes(), "timestamptz"),
            "22008"
        );
        assert_eq!(
            decode_binary(&i64::MAX.to_be_bytes(), SqlType::Timestamp),
            Ok(Datum::Timestamp(i64::MAX))
        );
    }

    #[test]
    fn catalog_facts() {
        let cases: &[(SqlType, u32, i32, i16, &str)] = &[
            (SqlType::Bool, 16, -1, 1, "boolean"),
            (SqlType::Bytea, 17, -1, -1, "bytea"),
            (SqlType::Int8, 20, -1, 8, "bigint"),
            (SqlType::Int2, 21, -1, 2, "smallint"),
            (SqlType::Int4, 23, -1, 4, "integer"),
            (SqlType::Text, 25, -1, -1, "text"),
            (SqlType::Json, 114, -1, -1, "json"),
            (SqlType::Float4, 700, -1, 4, "real"),
            (SqlType::Float8, 701, -1, 8, "double precision"),
            (SqlType::Char(5), 1042, 9, -1, "character(5)"),
            (
                SqlType::Varchar(Some(10)),
                1043,
                14,
                -1,
                "character varying(10)",
            ),
            (SqlType::Varchar(None), 1043, -1, -1, "character varying"),
            (SqlType::Date, 1082, -1, 4, "date"),
            (SqlType::Time, 1083, -1, 8, "time without time zone"),
            (
                SqlType::Timestamp,
                1114,
                -1,
                8,
                "timestamp without time zone",
            ),
            (
                SqlType::TimestampTz,
                1184,
                -1,
                8,
                "timestamp with time zone",
            ),
            (SqlType::Interval, 1186, -1, 16, "interval"),
            (
                SqlType::Numeric(Some((10, 2))),
                1700,
                655366,
                -1,
                "numeric(10,2)",
            ),
            (SqlType::Numeric(None), 1700, -1, -1, "numeric"),
            (SqlType::Uuid, 2950, -1, 16, "uuid"),
            (SqlType::Jsonb, 3802, -1, -1, "jsonb"),
        ];
        for &(t, oid, typmod, size, name) in cases {
            assert_eq!(type_oid(t), oid, "{t:?}");
            assert_eq!(type_modifier(t), typmod, "{t:?}");
            assert_eq!(type_size(t), size, "{t:?}");
            assert_eq!(type_name(t), name, "{t:?}");
            assert_eq!(type_from_oid(oid).map(type_oid), Some(oid));
        }
    }

    fn datum_strategy() -> impl Strategy<Value = (Datum, SqlType)> {
        prop_oneof![
            any::<bool>().prop_map(|b| (Datum::Bool(b), SqlType::Bool)),
            any::<i16>().prop_map(|v| (Datum::Int2(v), SqlType::Int2)),
            any::<i32>().prop_map(|v| (Datum::Int4(v), SqlType::Int4)),
            any::<i64>().prop_map(|v| (Datum::Int8(v), SqlType::Int8)),
            any::<u32>().prop_map(|v| (Datum::Float4(f32::from_bits(v)), SqlType::Float4)),
            any::<u64>().prop_map(|v| (Datum::Float8(f64::from_bits(v)), SqlType::Float8)),
            (-(10i128.pow(38) - 1)..10i128.pow(38), 0u8..=38).prop_map(|(m, s)| (
                Datum::Numeric(Decimal::new(m, s).unwrap()),
                SqlType::Numeric(None)
            )),
            "[^\u{0}]{0,20}".prop_map(|s| (Datum::Text(s), SqlType::Text)),
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|b| (Datum::Bytea(b), SqlType::Bytea)),
            prop_oneof![
                Just(i32::MIN),
                Just(i32::MAX),
                -2_440_588i32..=2_145_042_905
            ]
            .prop_map(|d| (Datum::Date(d), SqlType::Date)),
            (0..=USECS_PER_DAY).prop_map(|t| (Datum::Time(t), SqlType::Time)),
            prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                -210_866_803_200_000_000i64..i64::MAX
            ]
            .prop_map(|t| (Datum::TimestampTz(t), SqlType::TimestampTz)),
            (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| (
                Datum::Interval {
                    months,
                    days,
                    micros
                },
                SqlType::Interval
            )),
            any::<[u8; 16]>().prop_map(|u| (Datum::Uuid(u), SqlType::Uuid)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn binary_round_trips((d, t) in datum_strategy()) {
            let back = decode_binary(&to_binary(&d, t), t).unwrap();
            match (&d, &back) {
                (Datum::Float4(a), Datum::Float4(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                (Datum::Float8(a), Datum::Float8(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                // numeric keeps its scale: compare the text too.
                (Datum::Numeric(a), Datum::Numeric(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                _ => prop_assert_eq!(back, d),
            }
        }

        /// No bytes make the receive functions panic.
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            for t in ["bool", "int2", "int4", "int8", "float4", "float8", "numeric", "numeric(5,2)", "varchar(3)",
                      "char(3)", "text", "bytea", "date", "time", "timestamp", "timestamptz", "interval", "uuid",
                      "json", "jsonb"] {
                let _ = decode_binary(&bytes, ty(t));
            }
        }

        /// Well-formed numerics of any shape decode without panicking.
        #[test]
        fn numeric_shapes_never_panic(
            weight in any::<i16>(),
            dscale in 0u16..0x4000,
            neg in any::<bool>(),
            digits in proptest::collection::vec(0i16..10000, 0..12),
        ) {
            let mut b = Vec::new();
            b.extend_from_slice(&(digits.len() as i16).to_be_bytes());
            b.extend_from_slice(&weight.to_be_bytes());
            b.extend_from_slice(&(if neg { 0x4000u16 } else { 0 }).to_be_bytes());
            b.extend_from_slice(&dscale.to_be_bytes());
            for d in &digits {
                b.extend_from_slice(&d.to_be_bytes());
            }
            let _ = decode_binary(&b, SqlType::Numeric(None));
        }
    }
}
