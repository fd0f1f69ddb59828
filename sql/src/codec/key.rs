//! Order-preserving ("memcomparable") key encoding: the bytes of encoded
//! values compare, with plain `memcmp`, the way PostgreSQL orders the values.
//! The byte layouts are tabled in the [module essay](super).

use crate::types::{Datum, Decimal, SqlType};

/// First byte of every table key: `t`.
pub const TABLE_KEY_MARKER: u8 = b't';

/// Index id of a table's primary index, under which its rows live.
/// Secondary indexes get ids from 2 up.
pub const PRIMARY_INDEX_ID: u32 = 1;

/// Marker of a `boolean` value.
pub const BOOL_MARKER: u8 = 0x10;
/// Marker of a `smallint`, `integer` or `bigint` value (all three alike).
pub const INT_MARKER: u8 = 0x11;
/// Marker of a `real` or `double precision` value (both as `f64`).
pub const FLOAT_MARKER: u8 = 0x12;
/// Marker of a negative `numeric` value.
pub const NUMERIC_NEG_MARKER: u8 = 0x13;
/// Marker of the `numeric` zero (nothing follows it).
pub const NUMERIC_ZERO_MARKER: u8 = 0x14;
/// Marker of a positive `numeric` value.
pub const NUMERIC_POS_MARKER: u8 = 0x15;
/// Marker of a `text`, `varchar` or `char` value.
pub const TEXT_MARKER: u8 = 0x16;
/// Marker of a `bytea` value.
pub const BYTEA_MARKER: u8 = 0x17;
/// Marker of a `date` value.
pub const DATE_MARKER: u8 = 0x18;
/// Marker of a `time` value.
pub const TIME_MARKER: u8 = 0x19;
/// Marker of a `timestamp` value.
pub const TIMESTAMP_MARKER: u8 = 0x1A;
/// Marker of a `timestamptz` value.
pub const TIMESTAMPTZ_MARKER: u8 = 0x1B;
/// Marker of an `interval` value.
pub const INTERVAL_MARKER: u8 = 0x1C;
/// Marker of a `uuid` value.
pub const UUID_MARKER: u8 = 0x1D;
/// Marker of SQL NULL, of any type: above every non-NULL marker, so NULLs
/// sort last ascending (and, inverted to 0x01, first descending).
pub const NULL_MARKER: u8 = 0xFE;

/// Byte that escapes a 0x00 inside text and bytea (0x00 is written 0x00 0xFF).
const ESCAPED_ZERO: u8 = 0xFF;
/// Terminator of text and bytea: 0x00 0x01, below every escaped byte.
const STRING_END: [u8; 2] = [0x00, 0x01];
/// Terminator of a numeric's digit bytes, below every digit byte.
const NUMERIC_END: u8 = 0x00;
/// Added to a numeric's decimal exponent to make it one unsigned byte.
const EXPONENT_BIAS: i32 = 0x80;
/// The encoding of NaN among floats: above +Infinity's (0xFFF0_0000_0000_0000).
const FLOAT_NAN_BITS: u64 = u64::MAX;
/// Microseconds in a day (PostgreSQL compares intervals counting a month as
/// 30 days and a day as 24 hours).
const MICROS_PER_DAY: i128 = 86_400_000_000;

/// One column of a key: the value, its column's type, and whether the
/// column is in descending order.
pub type KeyColumn<'a> = (&'a Datum, SqlType, bool);

/// Why a value could not be encoded into a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The type has no order PostgreSQL can index with a btree (`json`).
    #[error("type {0:?} cannot be used in a key")]
    NotKeyable(SqlType),
    /// The value is not one of the column's type.
    #[error("a {datum} value cannot be encoded as a key of type {ty:?}")]
    TypeMismatch {
        /// The column's type.
        ty: SqlType,
        /// The kind of value given instead.
        datum: &'static str,
    },
    /// The numeric breaks [`Decimal`]'s own limits (38 digits, scale ≤ 38).
    #[error("numeric with mantissa {mantissa} and scale {scale} is out of range")]
    InvalidNumeric {
        /// The numeric's mantissa.
        mantissa: i128,
        /// The numeric's scale.
        scale: u8,
    },
}

/// Appends the key encoding of `d`, a value of a column of type `ty`, in
/// descending order if `desc`. On error `out` is left as it was.
///
/// `smallint`, `integer` and `bigint` values are interchangeable (any of the
/// three datums encodes alike under any of the three types), as are `real`
/// and `double precision`; otherwise the datum must be the type's own.
pub fn encode_key_datum(
    out: &mut Vec<u8>,
    d: &Datum,
    ty: SqlType,
    desc: bool,
) -> Result<(), KeyError> {
    let start = out.len();
    if let Err(e) = encode_ascending(out, d, ty) {
        out.truncate(start);
        return Err(e);
    }
    if desc {
        invert(&mut out[start..]);
    }
    Ok(())
}

/// Marker of SQL NULL in a column whose NULLs sort first ascending (an
/// index column declared `NULLS FIRST`; inverted to 0xFE, last, in a
/// `DESC NULLS LAST` one): below every non-NULL marker.
pub const NULL_LOW_MARKER: u8 = 0x01;

/// [`encode_key_datum`] for an index column whose NULLs go to the other
/// end than PostgreSQL's default for its direction when `nulls_opposite`
/// (`ASC NULLS FIRST`, `DESC NULLS LAST`).
pub fn encode_key_part(
    out: &mut Vec<u8>,
    d: &Datum,
    ty: SqlType,
    desc: bool,
    nulls_opposite: bool,
) -> Result<(), KeyError> {
    if nulls_opposite && d.is_null() {
        out.push(if desc {
            !NULL_LOW_MARKER
        } else {
            NULL_LOW_MARKER
        });
        return Ok(());
    }
    encode_key_datum(out, d, ty, desc)
}

/// Appends the key encoding of a tuple of columns, one after the other. As
/// each encoding is prefix-free, tuples compare column by column. On error
/// `out` is left as it was.
pub fn encode_key(out: &mut Vec<u8>, values: &[KeyColumn<'_>]) -> Result<(), KeyError> {
    let start = out.len();
    for &(d, ty, desc) in values {
        if let Err(e) = encode_key_datum(out, d, ty, desc) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}

/// The prefix of every key of a table: `t` and the table id (4 bytes,
/// big-endian).
pub fn table_prefix(table_id: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(5);
    key.push(TABLE_KEY_MARKER);
    key.extend_from_slice(&table_id.to_be_bytes());
    key
}

/// The prefix of every key of one index of a table: the table prefix and the
/// index id (4 bytes, big-endian). Index [`PRIMARY_INDEX_ID`] holds the rows.
pub fn index_prefix(table_id: u32, index_id: u32) -> Vec<u8> {
    let mut key = table_prefix(table_id);
    key.extend_from_slice(&index_id.to_be_bytes());
    key
}

/// The key of an index entry: the index prefix and the encoded `values`.
pub fn index_key(
    table_id: u32,
    index_id: u32,
    values: &[KeyColumn<'_>],
) -> Result<Vec<u8>, KeyError> {
    let mut key = index_prefix(table_id, index_id);
    encode_key(&mut key, values)?;
    Ok(key)
}

/// The key of a row: the primary index prefix, its bucket byte when the
/// table's rows are spread over `buckets` (0: none), and the encoded
/// primary key.
pub fn row_key(table_id: u32, buckets: u8, pk: &[KeyColumn<'_>]) -> Result<Vec<u8>, KeyError> {
    let mut key = index_key(table_id, PRIMARY_INDEX_ID, pk)?;
    spread_key(&mut key, buckets);
    Ok(key)
}

/// Bytes of an index prefix: `t`, table id, index id.
pub const INDEX_PREFIX_LEN: usize = 9;

/// Buckets the rows of a table are spread over when its primary key
/// grows with time (a SERIAL or IDENTITY column, a timestamp, the hidden
/// row id): consecutive keys land in different Regions, so sequential
/// inserts are not all written by one store.
pub const ROW_BUCKETS: u8 = 8;

/// The bucket of a row whose encoded primary key is `pk`: a fixed hash
/// of the bytes (32-bit FNV-1a, whose low bits see only the bytes' low
/// bits, then MurmurHash3's finalizer to mix all of them in), modulo
/// `buckets`. Part of the on-disk layout: it never changes.
pub fn bucket_of(pk: &[u8], buckets: u8) -> u8 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in pk {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^= hash >> 16;
    (hash % u32::from(buckets.max(1))) as u8
}

/// Puts the bucket byte into a primary index key (prefix, then encoded
/// primary key) when the table spreads its rows over `buckets`.
pub fn spread_key(key: &mut Vec<u8>, buckets: u8) {
    if buckets > 0 && key.len() >= INDEX_PREFIX_LEN {
        let b = bucket_of(&key[INDEX_PREFIX_LEN..], buckets);
        key.insert(INDEX_PREFIX_LEN, b);
    }
}

/// The pieces of `[start, end)`, a range of a primary index in
/// primary-key order, within each bucket of a table spreading its rows
/// over `buckets`, in bucket order. A bound outside the index (the
/// prefix itself, or past it) stands for the bucket's own bound.
pub fn bucket_ranges(start: &[u8], end: &[u8], buckets: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
    let prefix = &start[..INDEX_PREFIX_LEN.min(start.len())];
    let within = |k: &[u8]| k.len() > INDEX_PREFIX_LEN && k.starts_with(prefix);
    (0..buckets)
        .map(|b| {
            let mut bucket = prefix.to_vec();
            bucket.push(b);
            let mut s = bucket.clone();
            if within(start) {
                s.extend_from_slice(&start[INDEX_PREFIX_LEN..]);
            }
            let e = if within(end) {
                let mut e = bucket.clone();
                e.extend_from_slice(&end[INDEX_PREFIX_LEN..]);
                e
            } else {
                prefix_end(&bucket)
            };
            (s, e)
        })
        .collect()
}

/// The smallest key greater than every key starting with `key`: trailing
/// 0xFF bytes dropped and the last remaining byte incremented. Empty when
/// there is no such key (`key` is empty or all 0xFF): the range is
/// unbounded above.
pub fn prefix_end(key: &[u8]) -> Vec<u8> {
    let kept = key.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1);
    let mut end = key[..kept].to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Inverts every byte: reverses the order of a prefix-free set of encodings.
fn invert(bytes: &mut [u8]) {
    for b in bytes {
        *b = !*b;
    }
}

/// Appends the ascending encoding of `d` (marker included).
fn encode_ascending(out: &mut Vec<u8>, d: &Datum, ty: SqlType) -> Result<(), KeyError> {
    use SqlType as T;
    if matches!(ty, T::Json | T::Jsonb) {
        return Err(KeyError::NotKeyable(ty));
    }
    match (ty, d) {
        (_, Datum::Null) => out.push(NULL_MARKER),
        (T::Bool, Datum::Bool(b)) => out.extend_from_slice(&[BOOL_MARKER, u8::from(*b)]),
        (T::Int2 | T::Int4 | T::Int8, Datum::Int2(v)) => put_i64(out, INT_MARKER, i64::from(*v)),
        (T::Int2 | T::Int4 | T::Int8, Datum::Int4(v)) => put_i64(out, INT_MARKER, i64::from(*v)),
        (T::Int2 | T::Int4 | T::Int8, Datum::Int8(v)) => put_i64(out, INT_MARKER, *v),
        (T::Float4 | T::Float8, Datum::Float4(v)) => put_float(out, f64::from(*v)),
        (T::Float4 | T::Float8, Datum::Float8(v)) => put_float(out, *v),
        (T::Numeric(_), Datum::Numeric(n)) => put_numeric(out, *n)?,
        (T::Text | T::Varchar(_), Datum::Text(s)) => put_bytes(out, TEXT_MARKER, s.as_bytes()),
        // char(n) compares without its padding: 'a' = 'a  '.
        (T::Char(_), Datum::Text(s)) => {
            put_bytes(out, TEXT_MARKER, s.trim_end_matches(' ').as_bytes())
        }
        (T::Bytea, Datum::Bytea(b)) => put_bytes(out, BYTEA_MARKER, b),
        (T::Date, Datum::Date(v)) => {
            out.push(DATE_MARKER);
            out.extend_from_slice(&flip_i32(*v));
        }
        (T::Time, Datum::Time(v)) => put_i64(out, TIME_MARKER, *v),
        (T::Timestamp, Datum::Timestamp(v)) => put_i64(out, TIMESTAMP_MARKER, *v),
        (T::TimestampTz, Datum::TimestampTz(v)) => put_i64(out, TIMESTAMPTZ_MARKER, *v),
        (
            T::Interval,
            Datum::Interval {
                months,
                days,
                micros,
            },
        ) => {
            out.push(INTERVAL_MARKER);
            out.extend_from_slice(&flip_i128(interval_span(*months, *days, *micros)));
        }
        (T::Uuid, Datum::Uuid(b)) => {
            out.push(UUID_MARKER);
            out.extend_from_slice(b);
        }
        _ => {
            return Err(KeyError::TypeMismatch {
                ty,
                datum: datum_kind(d),
            })
        }
    }
    Ok(())
}

/// The name of a datum's variant, for errors.
fn datum_kind(d: &Datum) -> &'static str {
    match d {
        Datum::Null => "null",
        Datum::Bool(_) => "boolean",
        Datum::Int2(_) => "smallint",
        Datum::Int4(_) => "integer",
        Datum::Int8(_) => "bigint",
        Datum::Float4(_) => "real",
        Datum::Float8(_) => "double precision",
        Datum::Numeric(_) => "numeric",
        Datum::Text(_) => "text",
        Datum::Bytea(_) => "bytea",
        Datum::Date(_) => "date",
        Datum::Time(_) => "time",
        Datum::Timestamp(_) => "timestamp",
        Datum::TimestampTz(_) => "timestamptz",
        Datum::Interval { .. } => "interval",
        Datum::Uuid(_) => "uuid",
        Datum::Json(_) => "json",
    }
}

/// Big-endian with the sign bit flipped: signed order becomes byte order.
fn flip_i32(v: i32) -> [u8; 4] {
    ((v as u32) ^ (1 << 31)).to_be_bytes()
}

/// Big-endian with the sign bit flipped.
fn flip_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Big-endian with the sign bit flipped.
fn flip_i128(v: i128) -> [u8; 16] {
    ((v as u128) ^ (1 << 127)).to_be_bytes()
}

/// Appends `marker` and the sign-flipped big-endian `v`.
fn put_i64(out: &mut Vec<u8>, marker: u8, v: i64) {
    out.push(marker);
    out.extend_from_slice(&flip_i64(v));
}

/// Appends a float in PostgreSQL's order: -Infinity < negatives < -0 = +0 <
/// positives < +Infinity < NaN, all NaNs alike.
fn put_float(out: &mut Vec<u8>, v: f64) {
    out.push(FLOAT_MARKER);
    out.extend_from_slice(&float_key_bits(v).to_be_bytes());
}

/// The order-preserving image of a float: positives get the sign bit set,
/// negatives are inverted whole (a larger magnitude is a smaller value).
fn float_key_bits(v: f64) -> u64 {
    if v.is_nan() {
        return FLOAT_NAN_BITS;
    }
    // -0.0 == 0.0 is true: both become +0.0.
    let v = if v == 0.0 { 0.0 } else { v };
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// PostgreSQL's interval comparison value: `(months × 30 + days)` days and
/// `micros` as one span of microseconds (never overflows an i128).
fn interval_span(months: i32, days: i32, micros: i64) -> i128 {
    let days = i128::from(months) * 30 + i128::from(days);
    days * MICROS_PER_DAY + i128::from(micros)
}

/// Appends `marker`, the bytes with each 0x00 escaped as 0x00 0xFF, and the
/// terminator 0x00 0x01.
fn put_bytes(out: &mut Vec<u8>, marker: u8, bytes: &[u8]) {
    put_unterminated(out, marker, bytes);
    out.extend_from_slice(&STRING_END);
}

fn put_unterminated(out: &mut Vec<u8>, marker: u8, bytes: &[u8]) {
    out.push(marker);
    out.reserve(bytes.len() + STRING_END.len());
    for &b in bytes {
        out.push(b);
        if b == 0x00 {
            out.push(ESCAPED_ZERO);
        }
    }
}

/// Appends what the ascending key encoding of every text value starting
/// with `prefix` starts with: `LIKE 'prefix%'` is the key range from it to
/// its [`prefix_end`].
pub fn encode_text_prefix(out: &mut Vec<u8>, prefix: &str) {
    put_unterminated(out, TEXT_MARKER, prefix.as_bytes());
}

/// Appends a numeric as `0.d₁d₂…dₙ × 10^exponent` with d₁ and dₙ not zero
/// (so equal values of any scale encode alike): the sign as the marker, then
/// the exponent byte, the digits two to a byte (`1 + 10·a + b`, an odd last
/// digit paired with 0) and the terminator 0x00. Negative values have all
/// bytes after the marker inverted, since a larger magnitude is smaller.
fn put_numeric(out: &mut Vec<u8>, n: Decimal) -> Result<(), KeyError> {
    let invalid = KeyError::InvalidNumeric {
        mantissa: n.mantissa,
        scale: n.scale,
    };
    if Decimal::new(n.mantissa, n.scale).is_err() {
        return Err(invalid);
    }
    if n.mantissa == 0 {
        out.push(NUMERIC_ZERO_MARKER);
        return Ok(());
    }
    let negative = n.mantissa < 0;
    out.push(if negative {
        NUMERIC_NEG_MARKER
    } else {
        NUMERIC_POS_MARKER
    });
    let start = out.len();
    // The digits of |mantissa|; stripping every trailing zero (not only
    // those after the point, as `Decimal::normalize` does) also makes 1000
    // and 1e3 alike.
    let all_digits = n.mantissa.unsigned_abs().to_string();
    let exponent = all_digits.len() as i32 - i32::from(n.scale);
    // A valid decimal has 1..=38 digits and scale 0..=38: exponent -37..=38.
    let exponent = u8::try_from(exponent + EXPONENT_BIAS).map_err(|_| invalid)?;
    out.push(exponent);
    let digits = all_digits.trim_end_matches('0').as_bytes();
    for pair in digits.chunks(2) {
        let high = pair[0] - b'0';
        let low = pair.get(1).map_or(0, |d| d - b'0');
        out.push(1 + 10 * high + low);
    }
    out.push(NUMERIC_END);
    if negative {
        invert(&mut out[start..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    // ---- helpers --------------------------------------------------------

    fn key(d: &Datum, ty: SqlType, desc: bool) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_datum(&mut out, d, ty, desc).expect("keyable value");
        out
    }

    fn asc(d: &Datum, ty: SqlType) -> Vec<u8> {
        key(d, ty, false)
    }

    fn num(s: &str) -> Datum {
        Datum::Numeric(Decimal::parse(s).expect("test numeric"))
    }

    fn num_key(s: &str) -> Vec<u8> {
        asc(&num(s), SqlType::Numeric(None))
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.to_string())
    }

    fn interval(months: i32, days: i32, micros: i64) -> Datum {
        Datum::Interval {
            months,
            days,
            micros,
        }
    }

    /// Every type a key column may have.
    const KEYABLE: [SqlType; 17] = [
        SqlType::Bool,
        SqlType::Int2,
        SqlType::Int4,
        SqlType::Int8,
        SqlType::Float4,
        SqlType::Float8,
        SqlType::Numeric(None),
        SqlType::Text,
        SqlType::Varchar(Some(8)),
        SqlType::Char(4),
        SqlType::Bytea,
        SqlType::Date,
        SqlType::Time,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Interval,
        SqlType::Uuid,
    ];

    // ---- reference order ------------------------------------------------

    /// PostgreSQL's order of two non-NULL floats: NaN above everything and
    /// equal to itself, -0 = +0. Written independently of the encoding.
    fn pg_float_cmp(a: f64, b: f64) -> Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.partial_cmp(&b).expect("not NaN"),
        }
    }

    /// PostgreSQL's interval order, as `interval_cmp_value` computes it.
    fn pg_interval_cmp(a: (i32, i32, i64), b: (i32, i32, i64)) -> Ordering {
        let span = |(m, d, us): (i32, i32, i64)| {
            (i128::from(m) * 30 + i128::from(d)) * 86_400_000_000 + i128::from(us)
        };
        span(a).cmp(&span(b))
    }

    /// PostgreSQL's ascending order of two non-NULL values of type `ty`.
    fn pg_cmp_value(a: &Datum, b: &Datum, ty: SqlType) -> Ordering {
        use Datum as D;
        match (a, b) {
            (D::Bool(x), D::Bool(y)) => x.cmp(y),
            (D::Int2(x), D::Int2(y)) => x.cmp(y),
            (D::Int4(x), D::Int4(y)) => x.cmp(y),
            (D::Int8(x), D::Int8(y)) => x.cmp(y),
            (D::Float4(x), D::Float4(y)) => pg_float_cmp(f64::from(*x), f64::from(*y)),
            (D::Float8(x), D::Float8(y)) => pg_float_cmp(*x, *y),
            (D::Numeric(x), D::Numeric(y)) => x.cmp(y),
            // bpchar: trailing blanks are insignificant; C collation.
            (D::Text(x), D::Text(y)) if matches!(ty, SqlType::Char(_)) => x
                .trim_end_matches(' ')
                .as_bytes()
                .cmp(y.trim_end_matches(' ').as_bytes()),
            (D::Text(x), D::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (D::Bytea(x), D::Bytea(y)) => x.cmp(y),
            (D::Date(x), D::Date(y)) => x.cmp(y),
            (D::Time(x), D::Time(y)) => x.cmp(y),
            (D::Timestamp(x), D::Timestamp(y)) => x.cmp(y),
            (D::TimestampTz(x), D::TimestampTz(y)) => x.cmp(y),
            (
                D::Interval {
                    months: m1,
                    days: d1,
                    micros: u1,
                },
                D::Interval {
                    months: m2,
                    days: d2,
                    micros: u2,
                },
            ) => pg_interval_cmp((*m1, *d1, *u1), (*m2, *d2, *u2)),
            (D::Uuid(x), D::Uuid(y)) => x.cmp(y),
            _ => panic!("reference order: {a:?} and {b:?} are not of one type"),
        }
    }

    /// PostgreSQL's order of one key column: NULLS LAST ascending, and
    /// descending the exact reverse (NULLS FIRST).
    fn pg_cmp(a: &Datum, b: &Datum, ty: SqlType, desc: bool) -> Ordering {
        let ascending = match (a.is_null(), b.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => pg_cmp_value(a, b, ty),
        };
        if desc {
            ascending.reverse()
        } else {
            ascending
        }
    }

    /// Lexicographic order of two tuples under PostgreSQL's per-column order.
    fn pg_cmp_tuple(a: &[Datum], b: &[Datum], cols: &[(SqlType, bool)]) -> Ordering {
        for ((x, y), &(ty, desc)) in a.iter().zip(b).zip(cols) {
            let o = pg_cmp(x, y, ty, desc);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    // ---- value generators -------------------------------------------------

    fn float_strategy() -> BoxedStrategy<f64> {
        prop_oneof![
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
            (-4i32..=4).prop_map(|v| f64::from(v) / 2.0),
            prop::sample::select(vec![
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
                f64::from_bits(0x7FF0_0000_0000_0001),
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                f64::MAX,
                f64::MIN,
                5e-324,
            ]),
        ]
        .boxed()
    }

    fn float4_strategy() -> BoxedStrategy<f32> {
        prop_oneof![
            any::<f32>(),
            any::<u32>().prop_map(f32::from_bits),
            (-4i32..=4).prop_map(|v| v as f32 / 2.0),
            prop::sample::select(vec![
                0.0f32,
                -0.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::NAN,
                -f32::NAN,
                f32::MAX,
                f32::MIN,
            ]),
        ]
        .boxed()
    }

    /// Decimals of every size, biased to small ones so that pairs collide.
    fn decimal_strategy() -> BoxedStrategy<Decimal> {
        let limit = 10i128.pow(38);
        prop_oneof![
            (-200i128..200, 0u8..4),
            ((-limit + 1)..limit, 0u8..=38),
            (1u32..=38, 0u8..=38).prop_flat_map(|(digits, scale)| {
                let bound = 10i128.pow(digits);
                ((-bound + 1)..bound, Just(scale))
            }),
            // Few significant digits followed by zeros: many equal values
            // of different scales, and exponents at the extremes.
            (-99i128..=99, 0u32..=36, 0u8..=38)
                .prop_map(|(m, zeros, scale)| (m * 10i128.pow(zeros), scale)),
        ]
        .prop_map(|(m, s)| Decimal::new(m, s).expect("in range"))
        .boxed()
    }

    /// Strings over an alphabet of troublemakers (0x00, 0x01, blanks,
    /// multi-byte characters), so prefixes and escapes are frequent.
    fn string_strategy() -> BoxedStrategy<String> {
        let alphabet = vec![
            '\0', '\u{1}', ' ', 'a', 'b', '\u{7f}', 'é', '\u{ffff}', '😀',
        ];
        prop_oneof![
            prop::collection::vec(prop::sample::select(alphabet), 0..6)
                .prop_map(|cs| cs.into_iter().collect::<String>()),
            any::<String>(),
        ]
        .boxed()
    }

    fn bytes_strategy() -> BoxedStrategy<Vec<u8>> {
        prop_oneof![
            prop::collection::vec(
                prop::sample::select(vec![0u8, 1, 2, 0x7F, 0xFE, 0xFF]),
                0..6
            ),
            prop::collection::vec(any::<u8>(), 0..24),
        ]
        .boxed()
    }

    fn interval_strategy() -> BoxedStrategy<Datum> {
        prop_oneof![
            // Small fields, micros in half days: equal spans of different
            // shapes ('1 mon' = '30 days' = '720 hours') are frequent.
            (-2i32..=2, -62i32..=62, -3i64..=3).prop_map(|(m, d, h)| interval(
                m,
                d,
                h * 43_200_000_000
            )),
            (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(m, d, u)| interval(m, d, u)),
        ]
        .boxed()
    }

    fn i64_strategy() -> BoxedStrategy<i64> {
        prop_oneof![
            any::<i64>(),
            -3i64..=3,
            prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX, -1, 0]),
        ]
        .boxed()
    }

    /// A non-NULL value of type `ty`.
    fn value_strategy(ty: SqlType) -> BoxedStrategy<Datum> {
        use SqlType as T;
        match ty {
            T::Bool => any::<bool>().prop_map(Datum::Bool).boxed(),
            T::Int2 => prop_oneof![any::<i16>(), -3i16..=3]
                .prop_map(Datum::Int2)
                .boxed(),
            T::Int4 => prop_oneof![any::<i32>(), -3i32..=3]
                .prop_map(Datum::Int4)
                .boxed(),
            T::Int8 => i64_strategy().prop_map(Datum::Int8).boxed(),
            T::Float4 => float4_strategy().prop_map(Datum::Float4).boxed(),
            T::Float8 => float_strategy().prop_map(Datum::Float8).boxed(),
            T::Numeric(_) => decimal_strategy().prop_map(Datum::Numeric).boxed(),
            T::Text | T::Varchar(_) => string_strategy().prop_map(Datum::Text).boxed(),
            // Padded to 4 characters as the SQL layer stores char(4), or not.
            T::Char(n) => (string_strategy(), any::<bool>())
                .prop_map(move |(s, pad)| {
                    let len = s.chars().count();
                    let pad = if pad {
                        (n as usize).saturating_sub(len)
                    } else {
                        0
                    };
                    Datum::Text(format!("{s}{}", " ".repeat(pad)))
                })
                .boxed(),
            T::Bytea => bytes_strategy().prop_map(Datum::Bytea).boxed(),
            T::Date => prop_oneof![any::<i32>(), -3i32..=3]
                .prop_map(Datum::Date)
                .boxed(),
            T::Time => prop_oneof![0i64..86_400_000_000, i64_strategy()]
                .prop_map(Datum::Time)
                .boxed(),
            T::Timestamp => i64_strategy().prop_map(Datum::Timestamp).boxed(),
            T::TimestampTz => i64_strategy().prop_map(Datum::TimestampTz).boxed(),
            T::Interval => interval_strategy(),
            T::Uuid => prop_oneof![
                any::<[u8; 16]>(),
                prop::sample::select(vec![[0u8; 16], [0xFF; 16], [1; 16]]),
            ]
            .prop_map(Datum::Uuid)
            .boxed(),
            T::Json | T::Jsonb => unreachable!("json is not keyable"),
        }
    }

    /// A value of type `ty`, NULL one time in seven.
    fn nullable_strategy(ty: SqlType) -> BoxedStrategy<Datum> {
        prop_oneof![1 => Just(Datum::Null), 6 => value_strategy(ty)].boxed()
    }

    fn keyable_type() -> impl Strategy<Value = SqlType> {
        prop::sample::select(KEYABLE.to_vec())
    }

    /// A type, a direction and two values of that type.
    fn pair_strategy() -> impl Strategy<Value = (SqlType, bool, Datum, Datum)> {
        (keyable_type(), any::<bool>()).prop_flat_map(|(ty, desc)| {
            (
                Just(ty),
                Just(desc),
                nullable_strategy(ty),
                nullable_strategy(ty),
            )
        })
    }

    /// Two or three columns of mixed types and directions, and two tuples;
    /// the second shares a prefix of the first half of the time.
    fn tuple_pair_strategy() -> impl Strategy<Value = (Vec<(SqlType, bool)>, Vec<Datum>, Vec<Datum>)>
    {
        prop::collection::vec((keyable_type(), any::<bool>()), 2..=3).prop_flat_map(|cols| {
            let values = |cols: &[(SqlType, bool)]| {
                cols.iter()
                    .map(|&(ty, _)| nullable_strategy(ty))
                    .collect::<Vec<_>>()
            };
            let n = cols.len();
            (Just(cols.clone()), values(&cols), values(&cols), 0..=n).prop_map(
                |(cols, a, mut b, shared)| {
                    b[..shared].clone_from_slice(&a[..shared]);
                    (cols, a, b)
                },
            )
        })
    }

    // ---- properties -------------------------------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// For every type and direction, byte order = PostgreSQL's order,
        /// and equal encodings exactly for equal values.
        #[test]
        fn key_order_matches_postgres((ty, desc, a, b) in pair_strategy()) {
            let (ka, kb) = (key(&a, ty, desc), key(&b, ty, desc));
            prop_assert_eq!(ka.cmp(&kb), pg_cmp(&a, &b, ty, desc),
                "{:?} {:?} vs {:?} (desc {}): {:02X?} vs {:02X?}", ty, a, b, desc, ka, kb);
        }

        /// Numeric keys against `Decimal::cmp`, with pairs close together
        /// (same digits at another scale, a neighbour in the last digit).
        #[test]
        fn numeric_key_order_matches_decimal_cmp(
            a in decimal_strategy(),
            b in decimal_strategy(),
            delta in -2i128..=2,
            delta_scale in 0u8..=38,
            near in any::<bool>(),
        ) {
            let b = if near {
                // a ± delta × 10^-delta_scale, when that is representable.
                a.rescale(a.scale.max(delta_scale))
                    .ok()
                    .and_then(|x| {
                        let step = 10i128.pow(u32::from(x.scale - delta_scale));
                        let m = delta.checked_mul(step)?.checked_add(x.mantissa)?;
                        Decimal::new(m, x.scale).ok()
                    })
                    .unwrap_or(b)
            } else {
                b
            };
            for desc in [false, true] {
                let ty = SqlType::Numeric(None);
                let (ka, kb) = (key(&Datum::Numeric(a), ty, desc), key(&Datum::Numeric(b), ty, desc));
                let expected = if desc { a.cmp(&b).reverse() } else { a.cmp(&b) };
                prop_assert_eq!(ka.cmp(&kb), expected, "{} vs {} desc {}", a, b, desc);
            }
        }

        /// The same number at every scale it fits encodes identically.
        #[test]
        fn numeric_scales_encode_alike(d in decimal_strategy(), extra in 0u8..=38) {
            let scale = d.scale.saturating_add(extra).min(38);
            if let Ok(wider) = d.rescale(scale) {
                let ty = SqlType::Numeric(None);
                prop_assert_eq!(asc(&Datum::Numeric(d), ty), asc(&Datum::Numeric(wider), ty));
                prop_assert_eq!(asc(&Datum::Numeric(d), ty), asc(&Datum::Numeric(d.normalize()), ty));
            }
        }

        /// Tuples compare column by column, whatever the types and
        /// directions.
        #[test]
        fn composite_keys_order_lexicographically((cols, a, b) in tuple_pair_strategy()) {
            let encode = |values: &[Datum]| {
                let columns: Vec<KeyColumn<'_>> = values
                    .iter()
                    .zip(&cols)
                    .map(|(d, &(ty, desc))| (d, ty, desc))
                    .collect();
                let mut out = Vec::new();
                encode_key(&mut out, &columns).expect("keyable");
                out
            };
            let (ka, kb) = (encode(&a), encode(&b));
            prop_assert_eq!(ka.cmp(&kb), pg_cmp_tuple(&a, &b, &cols),
                "{:?}: {:?} vs {:?}", cols, a, b);
        }

        /// No encoding is a proper prefix of another, across all types and
        /// directions (so a column's end is known without its length).
        #[test]
        fn encodings_are_prefix_free(
            (ty1, desc1, a, _) in pair_strategy(),
            (ty2, desc2, b, _) in pair_strategy(),
        ) {
            let (ka, kb) = (key(&a, ty1, desc1), key(&b, ty2, desc2));
            if ka != kb {
                prop_assert!(!kb.starts_with(&ka), "{:02X?} is a prefix of {:02X?}", ka, kb);
                prop_assert!(!ka.starts_with(&kb), "{:02X?} is a prefix of {:02X?}", kb, ka);
            }
        }

        /// Every key extending a prefix sorts below its `prefix_end`, and
        /// `prefix_end` itself does not extend the prefix.
        #[test]
        fn prefix_end_bounds_the_prefix(
            prefix in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFE, 0xFF]), 0..6),
            suffix in prop::collection::vec(any::<u8>(), 0..6),
        ) {
            let end = prefix_end(&prefix);
            let extended = [prefix.as_slice(), suffix.as_slice()].concat();
            if end.is_empty() {
                prop_assert!(prefix.iter().all(|&b| b == 0xFF));
            } else {
                prop_assert!(extended < end);
                prop_assert!(prefix < end);
                prop_assert!(!end.starts_with(&prefix));
            }
        }

        /// Intervals against PostgreSQL's span order, with pairs that move
        /// months into days and days into microseconds ('1 mon' = '30 days'
        /// = '720 hours'), give or take a microsecond.
        #[test]
        fn interval_order_matches_postgres(
            (months, days, hours) in (-1000i32..=1000, -30_000i32..=30_000, -1000i64..=1000),
            (shift_months, shift_days, nudge) in (-3i32..=3, -3i32..=3, -1i64..=1),
            desc in any::<bool>(),
        ) {
            let hour = 3_600_000_000i64;
            let a = (months, days, hours * hour);
            let b = (
                months - shift_months,
                days + 30 * shift_months - shift_days,
                hours * hour + i64::from(shift_days) * 24 * hour + nudge,
            );
            let ka = key(&interval(a.0, a.1, a.2), SqlType::Interval, desc);
            let kb = key(&interval(b.0, b.1, b.2), SqlType::Interval, desc);
            let expected = pg_interval_cmp(a, b);
            let expected = if desc { expected.reverse() } else { expected };
            prop_assert_eq!(ka.cmp(&kb), expected, "{:?} vs {:?}", a, b);
            prop_assert_eq!(ka == kb, nudge == 0);
        }

        /// Integers encode alike whatever their width.
        #[test]
        fn integer_widths_encode_alike(v in any::<i16>()) {
            let k = asc(&Datum::Int8(i64::from(v)), SqlType::Int8);
            prop_assert_eq!(&asc(&Datum::Int4(i32::from(v)), SqlType::Int4), &k);
            prop_assert_eq!(&asc(&Datum::Int2(v), SqlType::Int2), &k);
            prop_assert_eq!(&asc(&Datum::Int2(v), SqlType::Int8), &k);
        }
    }

    // ---- edge cases ---------------------------------------------------------

    #[test]
    fn integer_extremes_and_markers() {
        let k = |v: i64| asc(&Datum::Int8(v), SqlType::Int8);
        assert_eq!(k(i64::MIN), [INT_MARKER, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(k(0), [INT_MARKER, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            k(i64::MAX),
            [INT_MARKER, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert!(k(i64::MIN) < k(i64::MIN + 1));
        assert!(k(-1) < k(0));
        assert!(k(i64::MAX - 1) < k(i64::MAX));
        assert!(k(i64::MAX) < asc(&Datum::Null, SqlType::Int8));
        assert_eq!(asc(&Datum::Int4(7), SqlType::Int4), k(7));
    }

    #[test]
    fn nulls_go_to_the_other_end_when_asked() {
        let v = asc(&Datum::Int4(i32::MIN), SqlType::Int4);
        let mut null_first = Vec::new();
        encode_key_part(&mut null_first, &Datum::Null, SqlType::Int4, false, true).unwrap();
        assert!(null_first < v);
        let v = key(&Datum::Int4(i32::MIN), SqlType::Int4, true);
        let mut null_last = Vec::new();
        encode_key_part(&mut null_last, &Datum::Null, SqlType::Int4, true, true).unwrap();
        assert!(null_last > v);
        let mut same = Vec::new();
        encode_key_part(&mut same, &Datum::Int4(3), SqlType::Int4, true, true).unwrap();
        assert_eq!(same, key(&Datum::Int4(3), SqlType::Int4, true));
    }

    #[test]
    fn nulls_last_ascending_first_descending() {
        let ty = SqlType::Text;
        assert_eq!(asc(&Datum::Null, ty), [NULL_MARKER]);
        assert_eq!(key(&Datum::Null, ty, true), [!NULL_MARKER]);
        let big = text("\u{10FFFF}\u{10FFFF}");
        assert!(asc(&big, ty) < asc(&Datum::Null, ty));
        assert!(key(&Datum::Null, ty, true) < key(&big, ty, true));
        assert!(key(&Datum::Null, ty, true) < key(&text(""), ty, true));
    }

    #[test]
    fn strings_escape_zero_bytes() {
        let ty = SqlType::Text;
        let (empty, zero, zero_zero) = (
            asc(&text(""), ty),
            asc(&text("\0"), ty),
            asc(&text("\0\0"), ty),
        );
        assert_eq!(empty, [TEXT_MARKER, 0x00, 0x01]);
        assert_eq!(zero, [TEXT_MARKER, 0x00, 0xFF, 0x00, 0x01]);
        assert_eq!(zero_zero, [TEXT_MARKER, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x01]);
        assert!(empty < zero && zero < zero_zero);
        assert!(zero_zero < asc(&text("\0\u{1}"), ty));
        assert!(zero < asc(&text("\u{1}"), ty));
        assert!(asc(&text("a"), ty) < asc(&text("a\0"), ty));
        assert!(asc(&text("a\0"), ty) < asc(&text("ab"), ty));
        // C collation: byte order, so 'B' < 'a' and 'z' < 'é'.
        assert!(asc(&text("B"), ty) < asc(&text("a"), ty));
        assert!(asc(&text("z"), ty) < asc(&text("é"), ty));
        let bytea = |b: &[u8]| asc(&Datum::Bytea(b.to_vec()), SqlType::Bytea);
        assert!(bytea(b"") < bytea(b"\0"));
        assert!(bytea(b"\0") < bytea(b"\0\0"));
        assert!(bytea(b"\0\xFF") < bytea(b"\x01"));
        // Descending reverses the whole order, escapes included.
        let desc = |s: &str| key(&text(s), ty, true);
        assert!(desc("\0\0") < desc("\0") && desc("\0") < desc(""));
        assert!(desc("ab") < desc("a\0") && desc("a\0") < desc("a"));
    }

    #[test]
    fn char_ignores_trailing_blanks() {
        let ty = SqlType::Char(4);
        assert_eq!(asc(&text("ab  "), ty), asc(&text("ab"), ty));
        // Padded 'ab  ' sorts before 'ab\x01' as PostgreSQL's bpchar does,
        // though the blank is the larger byte.
        assert!(asc(&text("ab  "), ty) < asc(&text("ab\u{1} "), ty));
        // Under text the blanks count.
        assert_ne!(
            asc(&text("ab  "), SqlType::Text),
            asc(&text("ab"), SqlType::Text)
        );
    }

    #[test]
    fn float_zeros_infinities_and_nan() {
        let k = |v: f64| asc(&Datum::Float8(v), SqlType::Float8);
        assert_eq!(k(-0.0), k(0.0));
        assert!(k(f64::NEG_INFINITY) < k(f64::MIN));
        assert!(k(-1.0) < k(-0.5));
        assert!(k(-f64::MIN_POSITIVE) < k(-0.0));
        assert!(k(0.0) < k(5e-324));
        assert!(k(f64::MAX) < k(f64::INFINITY));
        assert!(k(f64::INFINITY) < k(f64::NAN));
        assert_eq!(k(f64::NAN), k(-f64::NAN));
        assert_eq!(k(f64::NAN), k(f64::from_bits(0x7FF0_0000_0000_0001)));
        assert!(k(f64::NAN) < asc(&Datum::Null, SqlType::Float8));
        // real widens exactly to double: one encoding for both.
        assert_eq!(asc(&Datum::Float4(1.5), SqlType::Float4), k(1.5));
        assert_eq!(asc(&Datum::Float4(f32::NAN), SqlType::Float4), k(f64::NAN));
        assert_eq!(asc(&Datum::Float4(-0.0), SqlType::Float4), k(0.0));
    }

    #[test]
    fn numeric_negatives_scales_and_layout() {
        let order = [
            "-1e30", "-1.5", "-1.49", "-1", "-0.001", "0", "0.001", "0.0011", "0.01", "1", "1.5",
            "10", "99", "100", "1e30",
        ];
        for pair in order.windows(2) {
            assert!(
                num_key(pair[0]) < num_key(pair[1]),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(num_key("1.5"), num_key("1.50"));
        assert_eq!(num_key("-1.5"), num_key("-1.500000"));
        assert_eq!(num_key("0"), num_key("0.000"));
        assert_eq!(num_key("1000"), num_key("1000.0"));
        assert_eq!(num_key("0"), [NUMERIC_ZERO_MARKER]);
        // 1.5 = 0.15 × 10^1: exponent 1, digit pair 15 → 16, terminator.
        assert_eq!(num_key("1.5"), [NUMERIC_POS_MARKER, 0x81, 16, 0x00]);
        // 123 = 0.123 × 10^3: pairs 12, 30 → 13, 31.
        assert_eq!(num_key("123"), [NUMERIC_POS_MARKER, 0x83, 13, 31, 0x00]);
        // Negatives invert everything after the marker.
        assert_eq!(num_key("-1.5"), [NUMERIC_NEG_MARKER, !0x81, !16, 0xFF]);
        // The examples of the module essay.
        assert_eq!(num_key("-1.5"), [0x13, 0x7E, 0xEF, 0xFF]);
        assert_eq!(num_key("-1"), [0x13, 0x7E, 0xF4, 0xFF]);
        assert_eq!(num_key("0.001"), [0x15, 0x7E, 0x0B, 0x00]);
        // The extremes of exponents: 10^-38 and 38 nines.
        let tiny = Datum::Numeric(Decimal::new(1, 38).expect("valid"));
        let huge = Datum::Numeric(Decimal::new(10i128.pow(38) - 1, 0).expect("valid"));
        let ty = SqlType::Numeric(None);
        assert!(asc(&tiny, ty) > num_key("0") && asc(&tiny, ty) < num_key("1e-37"));
        assert!(asc(&huge, ty) > num_key("1e36"));
        assert!(asc(&huge, ty) < asc(&Datum::Null, ty));
    }

    #[test]
    fn invalid_numeric_is_an_error() {
        let bad = Datum::Numeric(Decimal {
            mantissa: i128::MIN,
            scale: 200,
        });
        let mut out = vec![1, 2];
        let err = encode_key_datum(&mut out, &bad, SqlType::Numeric(None), false);
        assert!(matches!(err, Err(KeyError::InvalidNumeric { .. })));
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn intervals_compare_as_one_span() {
        let k = |m, d, us| asc(&interval(m, d, us), SqlType::Interval);
        let day = 86_400_000_000;
        assert_eq!(k(1, 0, 0), k(0, 30, 0));
        assert_eq!(k(0, 1, 0), k(0, 0, day));
        assert_eq!(k(1, -30, 0), k(0, 0, 0));
        assert!(k(0, 29, day - 1) < k(1, 0, 0));
        assert!(k(-1, 0, 0) < k(0, -29, 0));
        assert!(k(i32::MIN, i32::MIN, i64::MIN) < k(i32::MAX, i32::MAX, i64::MAX));
    }

    #[test]
    fn dates_times_uuids_bools() {
        let d = |v| asc(&Datum::Date(v), SqlType::Date);
        assert!(d(i32::MIN) < d(-1) && d(-1) < d(0) && d(0) < d(i32::MAX));
        assert_eq!(d(0), [DATE_MARKER, 0x80, 0, 0, 0]);
        let ts = |v| asc(&Datum::TimestampTz(v), SqlType::TimestampTz);
        assert!(ts(-1) < ts(0));
        let u = |b: [u8; 16]| asc(&Datum::Uuid(b), SqlType::Uuid);
        assert!(u([0; 16]) < u([0xFF; 16]));
        assert_eq!(u([7; 16]).len(), 17);
        let b = |v| asc(&Datum::Bool(v), SqlType::Bool);
        assert!(b(false) < b(true));
    }

    #[test]
    fn json_and_mismatches_are_errors() {
        let mut out = vec![9];
        for ty in [SqlType::Json, SqlType::Jsonb] {
            let r = encode_key_datum(&mut out, &Datum::Json("{}".into()), ty, false);
            assert_eq!(r, Err(KeyError::NotKeyable(ty)));
            let r = encode_key_datum(&mut out, &Datum::Null, ty, true);
            assert_eq!(r, Err(KeyError::NotKeyable(ty)));
        }
        let r = encode_key_datum(&mut out, &text("1"), SqlType::Int4, false);
        assert_eq!(
            r,
            Err(KeyError::TypeMismatch {
                ty: SqlType::Int4,
                datum: "text"
            })
        );
        assert_eq!(out, [9]);
        // A failing column leaves no half-written tuple behind.
        let one = Datum::Int4(1);
        let json = Datum::Json("[]".into());
        let cols: [KeyColumn<'_>; 2] =
            [(&one, SqlType::Int4, false), (&json, SqlType::Jsonb, false)];
        assert!(encode_key(&mut out, &cols).is_err());
        assert_eq!(out, [9]);
        assert!(row_key(1, 0, &cols).is_err());
    }

    #[test]
    fn buckets_spread_consecutive_keys_and_ranges_cover_every_bucket() {
        let keys: Vec<Vec<u8>> = (0..64)
            .map(|i| row_key(7, ROW_BUCKETS, &[(&Datum::Int4(i), SqlType::Int4, false)]).unwrap())
            .collect();
        let mut seen = [0; ROW_BUCKETS as usize];
        for (i, k) in keys.iter().enumerate() {
            let plain = row_key(7, 0, &[(&Datum::Int4(i as i32), SqlType::Int4, false)]).unwrap();
            // The bucket byte sits between the prefix and the key.
            assert_eq!(k[..INDEX_PREFIX_LEN], plain[..INDEX_PREFIX_LEN]);
            assert_eq!(k[INDEX_PREFIX_LEN + 1..], plain[INDEX_PREFIX_LEN..]);
            assert_eq!(
                k[INDEX_PREFIX_LEN],
                bucket_of(&plain[INDEX_PREFIX_LEN..], ROW_BUCKETS)
            );
            seen[k[INDEX_PREFIX_LEN] as usize] += 1;
        }
        // Sequential keys reach every bucket, none with more than twice its share.
        assert!(seen.iter().all(|n| *n > 0 && *n <= 16), "{seen:?}");
        // A key range [3, 40) is a piece of every bucket holding exactly
        // the keys of the range in it.
        let bound = |i: i32| row_key(7, 0, &[(&Datum::Int4(i), SqlType::Int4, false)]).unwrap();
        let pieces = bucket_ranges(&bound(3), &bound(40), ROW_BUCKETS);
        assert_eq!(pieces.len(), ROW_BUCKETS as usize);
        for (i, k) in keys.iter().enumerate() {
            let inside = pieces.iter().filter(|(s, e)| s <= k && k < e).count();
            assert_eq!(inside, usize::from((3..40).contains(&i)), "key {i}");
        }
        // The whole index: every key in exactly one piece.
        let prefix = index_prefix(7, PRIMARY_INDEX_ID);
        let pieces = bucket_ranges(&prefix, &prefix_end(&prefix), ROW_BUCKETS);
        for k in &keys {
            assert_eq!(pieces.iter().filter(|(s, e)| s <= k && k < e).count(), 1);
        }
        // The layout is fixed: these buckets never change.
        let first: Vec<u8> = keys[..8].iter().map(|k| k[INDEX_PREFIX_LEN]).collect();
        assert_eq!(first, [7, 1, 4, 3, 6, 1, 4, 0]);
    }

    #[test]
    fn table_layout() {
        assert_eq!(table_prefix(0x0102_0304), [b't', 1, 2, 3, 4]);
        assert_eq!(index_prefix(7, 2), [b't', 0, 0, 0, 7, 0, 0, 0, 2]);
        let one = Datum::Int8(1);
        let name = text("x");
        let key = row_key(
            7,
            0,
            &[(&one, SqlType::Int8, false), (&name, SqlType::Text, true)],
        )
        .expect("keyable");
        let mut expected = index_prefix(7, PRIMARY_INDEX_ID);
        expected.extend_from_slice(&[INT_MARKER, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[!TEXT_MARKER, !b'x', 0xFF, 0xFE]);
        assert_eq!(key, expected);
        // All of table 7's keys lie below the prefix end, table 8 above.
        let end = prefix_end(&table_prefix(7));
        assert_eq!(end, table_prefix(8));
        assert!(key < end);
        let idx = index_key(7, 2, &[(&one, SqlType::Int8, false)]).expect("keyable");
        assert!(idx > key && idx < end);
    }

    #[test]
    fn prefix_end_carries() {
        assert_eq!(prefix_end(b"abc"), b"abd");
        assert_eq!(prefix_end(&[1, 0xFF]), [2]);
        assert_eq!(prefix_end(&[1, 0xFE, 0xFF, 0xFF]), [1, 0xFF]);
        assert_eq!(prefix_end(&[0xFF, 0xFF]), Vec::<u8>::new());
        assert_eq!(prefix_end(&[]), Vec::<u8>::new());
        assert_eq!(prefix_end(&[0]), [1]);
    }
}
