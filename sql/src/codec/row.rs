//! Row values: a row's non-NULL columns keyed by column id, each value in a
//! compact length-prefixed form. The byte layouts are tabled in the
//! [module essay](super).

use crate::types::{Datum, Decimal, SqlType};

/// The first byte of every row value: the format's version.
pub const ROW_FORMAT_VERSION: u8 = 1;

/// Most bytes a LEB128 varint of a u64 takes.
const MAX_VARINT_LEN: usize = 10;

/// Why a row value (or one column value) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The first byte is not a known format version.
    #[error("unknown row format version {0}")]
    Version(u8),
    /// The bytes end in the middle of something.
    #[error("row value truncated at byte {at}")]
    Truncated {
        /// Offset where more bytes were needed.
        at: usize,
    },
    /// A varint is longer than its type allows.
    #[error("malformed varint at byte {at}")]
    Varint {
        /// Offset of the varint's first byte.
        at: usize,
    },
    /// Column ids are not strictly increasing.
    #[error("column id {id} after {prev} at byte {at}: ids out of order")]
    Unordered {
        /// Offset of the out-of-order id.
        at: usize,
        /// The id before it.
        prev: u32,
        /// The id.
        id: u32,
    },
    /// A value's bytes are not a value of the type asked for.
    #[error("invalid {ty:?} value{}: {reason}", in_column(.column))]
    BadValue {
        /// The column, when decoding a row.
        column: Option<u32>,
        /// The type asked for.
        ty: SqlType,
        /// What is wrong.
        reason: String,
    },
}

/// " in column N", or nothing.
fn in_column(column: &Option<u32>) -> String {
    column
        .map(|c| format!(" in column {c}"))
        .unwrap_or_default()
}

/// Encodes a row: its columns' ids and values. NULLs are left out (a column
/// missing from a row reads as NULL); entries are written in increasing id
/// order whatever the order given. Ids should be distinct: of repeated ones
/// the last is kept.
pub fn encode_row(values: &[(u32, &Datum)]) -> Vec<u8> {
    let mut sorted: Vec<(u32, &Datum)> = values.to_vec();
    // Stable: of equal ids the last given stays last.
    sorted.sort_by_key(|&(id, _)| id);
    let mut out = vec![ROW_FORMAT_VERSION];
    let mut value = Vec::new();
    for (i, &(id, d)) in sorted.iter().enumerate() {
        let superseded = sorted.get(i + 1).is_some_and(|&(next, _)| next == id);
        if superseded || d.is_null() {
            continue;
        }
        value.clear();
        encode_datum_value(&mut value, d);
        put_uvarint(&mut out, u64::from(id));
        put_uvarint(&mut out, value.len() as u64);
        out.extend_from_slice(&value);
    }
    out
}

/// Id of the entry that lists a row's recorded NULLs (column ids start
/// at 1). See [`encode_row_recording_nulls`].
pub const NULLS_ENTRY_ID: u32 = 0;

/// Encodes a row like [`encode_row`], and records which of the columns
/// `recorded` are NULL in it. A column added with a default reads, in
/// rows that lack it, as that default; a NULL written since must then be
/// told apart from "written before the column existed".
pub fn encode_row_recording_nulls(values: &[(u32, &Datum)], recorded: &[u32]) -> Vec<u8> {
    let nulls: Vec<u8> = values
        .iter()
        .filter(|(id, d)| d.is_null() && recorded.contains(id))
        .flat_map(|(id, _)| id.to_be_bytes())
        .collect();
    if nulls.is_empty() {
        return encode_row(values);
    }
    let list = Datum::Bytea(nulls);
    let mut all: Vec<(u32, &Datum)> = values.to_vec();
    all.push((NULLS_ENTRY_ID, &list));
    encode_row(&all)
}

/// Decodes like [`decode_row`]; a wanted column the row lacks, and whose
/// NULL the row did not record, reads as its `missing` value (encoded as
/// in rows) when it has one.
pub fn decode_row_with_missing(
    bytes: &[u8],
    wanted: &[(u32, SqlType)],
    missing: &[Option<&[u8]>],
) -> Result<Vec<Datum>, RowError> {
    let mut all = wanted.to_vec();
    all.push((NULLS_ENTRY_ID, SqlType::Bytea));
    let mut row = decode_row(bytes, &all)?;
    let recorded = match row.pop() {
        Some(Datum::Bytea(b)) => b,
        _ => Vec::new(),
    };
    for (i, (id, ty)) in wanted.iter().enumerate() {
        let Some(Some(value)) = missing.get(i) else {
            continue;
        };
        let was_recorded = recorded.chunks_exact(4).any(|c| c == id.to_be_bytes());
        if row[i].is_null() && !was_recorded {
            row[i] = decode_datum_value(value, *ty)?;
        }
    }
    Ok(row)
}

/// Decodes the `wanted` columns (id and type) of a row, in the order asked:
/// NULL for an id the row lacks (a NULL, or a column added after the row was
/// written); ids the row has but nobody asked for (dropped columns) are
/// skipped. The framing of the whole value is checked, and the values of the
/// wanted columns: garbage gives an error, never a panic.
pub fn decode_row(bytes: &[u8], wanted: &[(u32, SqlType)]) -> Result<Vec<Datum>, RowError> {
    let mut result = vec![Datum::Null; wanted.len()];
    // Positions of `wanted` by increasing id, merged with the row's entries.
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| wanted[i].0);
    let mut next = 0;
    for entry in row_entries(bytes)? {
        let (id, value) = entry?;
        while next < order.len() && wanted[order[next]].0 < id {
            next += 1;
        }
        // The same id may be wanted more than once.
        for &i in order[next..].iter().take_while(|&&i| wanted[i].0 == id) {
            let datum = decode_datum_value(value, wanted[i].1).map_err(|e| match e {
                RowError::BadValue { ty, reason, .. } => RowError::BadValue {
                    column: Some(id),
                    ty,
                    reason,
                },
                other => other,
            })?;
            result[i] = datum;
        }
    }
    Ok(result)
}

/// The entries of a row value, `(column id, value bytes)` in increasing id
/// order, after checking its version byte. Framing errors come out of the
/// iterator, which then stops.
pub fn row_entries(bytes: &[u8]) -> Result<RowEntries<'_>, RowError> {
    match bytes.first() {
        None => Err(RowError::Truncated { at: 0 }),
        Some(&ROW_FORMAT_VERSION) => Ok(RowEntries {
            bytes,
            pos: 1,
            prev: None,
        }),
        Some(&v) => Err(RowError::Version(v)),
    }
}

/// Iterator over a row value's entries; see [`row_entries`].
#[derive(Debug, Clone)]
pub struct RowEntries<'a> {
    bytes: &'a [u8],
    pos: usize,
    prev: Option<u32>,
}

impl<'a> RowEntries<'a> {
    /// Reads one entry at `self.pos`.
    fn entry(&mut self) -> Result<(u32, &'a [u8]), RowError> {
        let id_at = self.pos;
        let id = u32::try_from(get_uvarint(self.bytes, &mut self.pos)?)
            .map_err(|_| RowError::Varint { at: id_at })?;
        if let Some(prev) = self.prev.filter(|&prev| prev >= id) {
            return Err(RowError::Unordered {
                at: id_at,
                prev,
                id,
            });
        }
        self.prev = Some(id);
        let len_at = self.pos;
        let len = usize::try_from(get_uvarint(self.bytes, &mut self.pos)?)
            .map_err(|_| RowError::Varint { at: len_at })?;
        let value = self
            .bytes
            .get(self.pos..)
            .and_then(|rest| rest.get(..len))
            .ok_or(RowError::Truncated { at: self.pos })?;
        self.pos += len;
        Ok((id, value))
    }
}

impl<'a> Iterator for RowEntries<'a> {
    type Item = Result<(u32, &'a [u8]), RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let entry = self.entry();
        if entry.is_err() {
            // Nothing after a framing error can be trusted.
            self.pos = self.bytes.len();
        }
        Some(entry)
    }
}

/// Appends a value's compact form (the bytes of a row entry, without its
/// length): fixed-size big-endian for numbers and times, the bytes of text,
/// bytea and json, scale and minimal two's-complement mantissa for numeric.
/// NULL appends nothing: NULL is kept by leaving the value out.
pub fn encode_datum_value(out: &mut Vec<u8>, d: &Datum) {
    match d {
        Datum::Null => {}
        Datum::Bool(b) => out.push(u8::from(*b)),
        Datum::Int2(v) => out.extend_from_slice(&v.to_be_bytes()),
        Datum::Int4(v) | Datum::Date(v) => out.extend_from_slice(&v.to_be_bytes()),
        Datum::Int8(v) | Datum::Time(v) | Datum::Timestamp(v) | Datum::TimestampTz(v) => {
            out.extend_from_slice(&v.to_be_bytes())
        }
        Datum::Float4(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
        Datum::Float8(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
        Datum::Numeric(n) => {
            out.push(n.scale);
            out.extend_from_slice(minimal_twos_complement(&n.mantissa.to_be_bytes()));
        }
        Datum::Text(s) | Datum::Json(s) => out.extend_from_slice(s.as_bytes()),
        Datum::Bytea(b) => out.extend_from_slice(b),
        Datum::Interval {
            months,
            days,
            micros,
        } => {
            out.extend_from_slice(&months.to_be_bytes());
            out.extend_from_slice(&days.to_be_bytes());
            out.extend_from_slice(&micros.to_be_bytes());
        }
        Datum::Uuid(b) => out.extend_from_slice(b),
    }
}

/// Decodes a value's compact form (all of `bytes`) as a value of type `ty`:
/// the datum is the type's own variant (`Text` for `varchar` and `char`,
/// `Json` for `jsonb`). Integers are read from any of the 2-, 4- and 8-byte
/// forms that fits the type, and `double precision` also from the 4-byte
/// `real` form, so a value written from a narrower datum still reads.
pub fn decode_datum_value(bytes: &[u8], ty: SqlType) -> Result<Datum, RowError> {
    use SqlType as T;
    let datum = match ty {
        T::Bool => match bytes {
            [0] => Datum::Bool(false),
            [1] => Datum::Bool(true),
            _ => return Err(bad(ty, "expected one byte, 0 or 1")),
        },
        T::Int2 => Datum::Int2(narrow(decode_int(bytes, ty)?, ty)?),
        T::Int4 => Datum::Int4(narrow(decode_int(bytes, ty)?, ty)?),
        T::Int8 => Datum::Int8(decode_int(bytes, ty)?),
        T::Float4 => Datum::Float4(f32::from_bits(u32::from_be_bytes(fixed(bytes, ty)?))),
        T::Float8 => match bytes.len() {
            4 => Datum::Float8(f64::from(f32::from_bits(u32::from_be_bytes(fixed(
                bytes, ty,
            )?)))),
            _ => Datum::Float8(f64::from_bits(u64::from_be_bytes(fixed(bytes, ty)?))),
        },
        T::Numeric(_) => Datum::Numeric(decode_numeric(bytes, ty)?),
        T::Text | T::Varchar(_) | T::Char(_) => Datum::Text(decode_utf8(bytes, ty)?),
        T::Json | T::Jsonb => Datum::Json(decode_utf8(bytes, ty)?),
        T::Bytea => Datum::Bytea(bytes.to_vec()),
        T::Date => Datum::Date(i32::from_be_bytes(fixed(bytes, ty)?)),
        T::Time => Datum::Time(i64::from_be_bytes(fixed(bytes, ty)?)),
        T::Timestamp => Datum::Timestamp(i64::from_be_bytes(fixed(bytes, ty)?)),
        T::TimestampTz => Datum::TimestampTz(i64::from_be_bytes(fixed(bytes, ty)?)),
        T::Interval => {
            let b: [u8; 16] = fixed(bytes, ty)?;
            let (months, rest) = b.split_at(4);
            let (days, micros) = rest.split_at(4);
            Datum::Interval {
                months: i32::from_be_bytes(fixed(months, ty)?),
                days: i32::from_be_bytes(fixed(days, ty)?),
                micros: i64::from_be_bytes(fixed(micros, ty)?),
            }
        }
        T::Uuid => Datum::Uuid(fixed(bytes, ty)?),
    };
    Ok(datum)
}

/// A [`RowError::BadValue`] outside any row.
fn bad(ty: SqlType, reason: impl Into<String>) -> RowError {
    RowError::BadValue {
        column: None,
        ty,
        reason: reason.into(),
    }
}

/// `bytes` as an array of exactly `N` bytes.
fn fixed<const N: usize>(bytes: &[u8], ty: SqlType) -> Result<[u8; N], RowError> {
    bytes
        .try_into()
        .map_err(|_| bad(ty, format!("expected {N} bytes, found {}", bytes.len())))
}

/// An integer from its 2-, 4- or 8-byte big-endian form.
fn decode_int(bytes: &[u8], ty: SqlType) -> Result<i64, RowError> {
    match bytes.len() {
        2 => Ok(i64::from(i16::from_be_bytes(fixed(bytes, ty)?))),
        4 => Ok(i64::from(i32::from_be_bytes(fixed(bytes, ty)?))),
        8 => Ok(i64::from_be_bytes(fixed(bytes, ty)?)),
        n => Err(bad(ty, format!("expected 2, 4 or 8 bytes, found {n}"))),
    }
}

/// `v` as a narrower integer, if it fits.
fn narrow<T: TryFrom<i64>>(v: i64, ty: SqlType) -> Result<T, RowError> {
    T::try_from(v).map_err(|_| bad(ty, format!("{v} is out of range")))
}

/// Text from UTF-8 bytes.
fn decode_utf8(bytes: &[u8], ty: SqlType) -> Result<String, RowError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| bad(ty, e.to_string()))
}

/// The shortest big-endian two's-complement tail of `bytes` with the same
/// value (at least one byte): leading bytes that only repeat the sign go.
fn minimal_twos_complement(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    &bytes[start..]
}

/// A numeric from its scale byte and 1 to 16 mantissa bytes.
fn decode_numeric(bytes: &[u8], ty: SqlType) -> Result<Decimal, RowError> {
    let (&scale, mantissa) = bytes
        .split_first()
        .ok_or_else(|| bad(ty, "empty numeric"))?;
    if mantissa.is_empty() || mantissa.len() > 16 {
        return Err(bad(ty, format!("{} mantissa bytes", mantissa.len())));
    }
    // Sign-extend into 16 bytes.
    let fill = if mantissa[0] & 0x80 != 0 { 0xFF } else { 0x00 };
    let mut full = [fill; 16];
    full[16 - mantissa.len()..].copy_from_slice(mantissa);
    let mantissa = i128::from_be_bytes(full);
    Decimal::new(mantissa, scale).map_err(|e| bad(ty, e.to_string()))
}

/// Appends `v` as an unsigned LEB128 varint: 7 bits a byte, low first, the
/// high bit set on every byte but the last.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 varint at `*pos`, advancing it.
pub(crate) fn get_uvarint(bytes: &[u8], pos: &mut usize) -> Result<u64, RowError> {
    let start = *pos;
    let mut v: u64 = 0;
    for i in 0..MAX_VARINT_LEN {
        let b = *bytes
            .get(start + i)
            .ok_or(RowError::Truncated { at: start + i })?;
        let bits = u64::from(b & 0x7F);
        // The tenth byte may only hold u64's last bit.
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(RowError::Varint { at: start });
        }
        v |= bits << (7 * i);
        if b & 0x80 == 0 {
            *pos = start + i + 1;
            return Ok(v);
        }
    }
    Err(RowError::Varint { at: start })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn columns_added_with_a_default_read_it_unless_a_null_was_recorded() {
        let mut seven = Vec::new();
        encode_datum_value(&mut seven, &Datum::Int4(7));
        let wanted = [(1, SqlType::Int4), (2, SqlType::Int4)];
        let missing = [None, Some(seven.as_slice())];
        // Written before column 2 existed.
        let old = encode_row(&[(1, &Datum::Int4(1))]);
        assert_eq!(
            decode_row_with_missing(&old, &wanted, &missing).unwrap(),
            vec![Datum::Int4(1), Datum::Int4(7)]
        );
        // Written since, with a NULL in column 2, and with a value.
        let null = encode_row_recording_nulls(&[(1, &Datum::Null), (2, &Datum::Null)], &[2]);
        assert_eq!(
            decode_row_with_missing(&null, &wanted, &missing).unwrap(),
            vec![Datum::Null, Datum::Null]
        );
        let set = encode_row_recording_nulls(&[(1, &Datum::Int4(3)), (2, &Datum::Int4(4))], &[2]);
        assert_eq!(
            decode_row_with_missing(&set, &wanted, &missing).unwrap(),
            vec![Datum::Int4(3), Datum::Int4(4)]
        );
        // Plain decoding skips the list.
        assert_eq!(
            decode_row(&null, &wanted).unwrap(),
            vec![Datum::Null, Datum::Null]
        );
    }

    /// Every type, with the datum variant its values decode to.
    const ALL_TYPES: [SqlType; 20] = [
        SqlType::Bool,
        SqlType::Int2,
        SqlType::Int4,
        SqlType::Int8,
        SqlType::Float4,
        SqlType::Float8,
        SqlType::Numeric(None),
        SqlType::Numeric(Some((10, 2))),
        SqlType::Text,
        SqlType::Varchar(Some(5)),
        SqlType::Char(3),
        SqlType::Bytea,
        SqlType::Date,
        SqlType::Time,
        SqlType::Timestamp,
        SqlType::TimestampTz,
        SqlType::Interval,
        SqlType::Uuid,
        SqlType::Json,
        SqlType::Jsonb,
    ];

    /// Same value and same representation: floats by bits, numerics with
    /// their scale.
    fn identical(a: &Datum, b: &Datum) -> bool {
        match (a, b) {
            (Datum::Float4(x), Datum::Float4(y)) => x.to_bits() == y.to_bits(),
            (Datum::Float8(x), Datum::Float8(y)) => x.to_bits() == y.to_bits(),
            (Datum::Numeric(x), Datum::Numeric(y)) => {
                (x.mantissa, x.scale) == (y.mantissa, y.scale)
            }
            _ => a == b,
        }
    }

    fn decimal_strategy() -> BoxedStrategy<Decimal> {
        let limit = 10i128.pow(38);
        prop_oneof![
            (-1000i128..1000, 0u8..6),
            ((-limit + 1)..limit, 0u8..=38),
            Just((-limit + 1, 0)),
            Just((limit - 1, 38)),
        ]
        .prop_map(|(m, s)| Decimal::new(m, s).expect("in range"))
        .boxed()
    }

    /// A non-NULL value of type `ty`, any bit pattern for floats.
    fn value_strategy(ty: SqlType) -> BoxedStrategy<Datum> {
        use SqlType as T;
        match ty {
            T::Bool => any::<bool>().prop_map(Datum::Bool).boxed(),
            T::Int2 => any::<i16>().prop_map(Datum::Int2).boxed(),
            T::Int4 => any::<i32>().prop_map(Datum::Int4).boxed(),
            T::Int8 => any::<i64>().prop_map(Datum::Int8).boxed(),
            T::Float4 => any::<u32>()
                .prop_map(|b| Datum::Float4(f32::from_bits(b)))
                .boxed(),
            T::Float8 => any::<u64>()
                .prop_map(|b| Datum::Float8(f64::from_bits(b)))
                .boxed(),
            T::Numeric(_) => decimal_strategy().prop_map(Datum::Numeric).boxed(),
            T::Text | T::Varchar(_) | T::Char(_) => any::<String>().prop_map(Datum::Text).boxed(),
            T::Json | T::Jsonb => any::<String>().prop_map(Datum::Json).boxed(),
            T::Bytea => prop::collection::vec(any::<u8>(), 0..300)
                .prop_map(Datum::Bytea)
                .boxed(),
            T::Date => any::<i32>().prop_map(Datum::Date).boxed(),
            T::Time => any::<i64>().prop_map(Datum::Time).boxed(),
            T::Timestamp => any::<i64>().prop_map(Datum::Timestamp).boxed(),
            T::TimestampTz => any::<i64>().prop_map(Datum::TimestampTz).boxed(),
            T::Interval => (any::<i32>(), any::<i32>(), any::<i64>())
                .prop_map(|(months, days, micros)| Datum::Interval {
                    months,
                    days,
                    micros,
                })
                .boxed(),
            T::Uuid => any::<[u8; 16]>().prop_map(Datum::Uuid).boxed(),
        }
    }

    fn nullable_strategy(ty: SqlType) -> BoxedStrategy<Datum> {
        prop_oneof![1 => Just(Datum::Null), 5 => value_strategy(ty)].boxed()
    }

    /// A row: distinct ids (small and huge), a type and a value for each.
    fn row_strategy() -> impl Strategy<Value = Vec<(u32, SqlType, Datum)>> {
        let id = prop_oneof![0u32..40, any::<u32>(), Just(u32::MAX)];
        prop::collection::btree_set(id, 0..12)
            .prop_flat_map(|ids| {
                let columns: Vec<_> = ids
                    .into_iter()
                    .map(|id| {
                        prop::sample::select(ALL_TYPES.to_vec())
                            .prop_flat_map(move |ty| (Just(id), Just(ty), nullable_strategy(ty)))
                    })
                    .collect();
                columns
            })
            .prop_shuffle()
    }

    fn encode(columns: &[(u32, SqlType, Datum)]) -> Vec<u8> {
        let values: Vec<(u32, &Datum)> = columns.iter().map(|(id, _, d)| (*id, d)).collect();
        encode_row(&values)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Every column decodes to exactly what was written, whatever the
        /// order asked in; ids the row lacks read NULL.
        #[test]
        fn rows_round_trip(
            columns in row_strategy(),
            missing in prop::collection::vec(any::<u32>(), 0..4),
            seed in any::<u64>(),
        ) {
            let bytes = encode(&columns);
            let present: BTreeSet<u32> = columns.iter().map(|c| c.0).collect();
            let mut wanted: Vec<(u32, SqlType)> = columns.iter().map(|(id, ty, _)| (*id, *ty)).collect();
            let missing: Vec<u32> = missing.into_iter().filter(|id| !present.contains(id)).collect();
            wanted.extend(missing.iter().map(|&id| (id, SqlType::Int8)));
            // A deterministic shuffle of the request order.
            if !wanted.is_empty() {
                let n = wanted.len();
                wanted.rotate_left((seed as usize) % n);
                if seed & 1 == 1 { wanted.reverse(); }
            }
            let decoded = decode_row(&bytes, &wanted).expect("valid row");
            prop_assert_eq!(decoded.len(), wanted.len());
            for ((id, _), got) in wanted.iter().zip(&decoded) {
                let expected = columns.iter().find(|c| c.0 == *id).map_or(&Datum::Null, |c| &c.2);
                prop_assert!(identical(expected, got), "column {}: wrote {:?}, read {:?}", id, expected, got);
            }
        }

        /// Asking for a subset skips the other columns (dropped columns).
        #[test]
        fn unknown_columns_are_skipped(columns in row_strategy(), keep in any::<u64>()) {
            let bytes = encode(&columns);
            let kept: Vec<&(u32, SqlType, Datum)> = columns
                .iter()
                .enumerate()
                .filter(|(i, _)| keep >> (i % 64) & 1 == 1)
                .map(|(_, c)| c)
                .collect();
            let wanted: Vec<(u32, SqlType)> = kept.iter().map(|c| (c.0, c.1)).collect();
            let decoded = decode_row(&bytes, &wanted).expect("valid row");
            for (c, got) in kept.iter().zip(&decoded) {
                prop_assert!(identical(&c.2, got));
            }
        }

        /// Each value alone round-trips through the compact form.
        #[test]
        fn values_round_trip(
            (ty, d) in prop::sample::select(ALL_TYPES.to_vec())
                .prop_flat_map(|ty| (Just(ty), value_strategy(ty)))
        ) {
            let mut bytes = Vec::new();
            encode_datum_value(&mut bytes, &d);
            let back = decode_datum_value(&bytes, ty).expect("valid value");
            prop_assert!(identical(&d, &back), "{:?} → {:02X?} → {:?}", d, bytes, back);
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn garbage_never_panics(
            mut bytes in prop::collection::vec(any::<u8>(), 0..64),
            versioned in any::<bool>(),
        ) {
            if versioned && !bytes.is_empty() {
                bytes[0] = ROW_FORMAT_VERSION;
            }
            let wanted: Vec<(u32, SqlType)> =
                ALL_TYPES.iter().enumerate().map(|(i, ty)| (i as u32, *ty)).collect();
            let _ = decode_row(&bytes, &wanted);
            for ty in ALL_TYPES {
                let _ = decode_datum_value(&bytes, ty);
            }
        }

        /// Valid rows cut short or with a byte changed give Ok or Err, never a
        /// panic; cut short, they mostly give an error.
        #[test]
        fn damaged_rows_never_panic(
            columns in row_strategy(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            xor in 1u8..=255,
        ) {
            let bytes = encode(&columns);
            let wanted: Vec<(u32, SqlType)> = columns.iter().map(|(id, ty, _)| (*id, *ty)).collect();
            let cut_at = cut.index(bytes.len());
            let truncated = decode_row(&bytes[..cut_at], &wanted);
            if cut_at == 0 {
                prop_assert_eq!(truncated, Err(RowError::Truncated { at: 0 }));
            }
            let mut flipped = bytes.clone();
            let i = flip.index(flipped.len());
            flipped[i] ^= xor;
            let _ = decode_row(&flipped, &wanted);
        }
    }

    #[test]
    fn layout_of_a_small_row() {
        let (a, b, n) = (Datum::Int4(-2), Datum::Text("hé".into()), Datum::Null);
        let bytes = encode_row(&[(300, &b), (1, &a), (2, &n)]);
        assert_eq!(
            bytes,
            [
                ROW_FORMAT_VERSION,
                1,
                4,
                0xFF,
                0xFF,
                0xFF,
                0xFE, // id 1, 4 bytes, -2
                0xAC,
                0x02,
                3,
                b'h',
                0xC3,
                0xA9, // id 300 (varint AC 02), 3 bytes
            ]
        );
        assert_eq!(encode_row(&[]), [ROW_FORMAT_VERSION]);
        assert_eq!(encode_row(&[(5, &Datum::Null)]), [ROW_FORMAT_VERSION]);
    }

    #[test]
    fn repeated_ids_keep_the_last() {
        let (a, b) = (Datum::Int8(1), Datum::Int8(2));
        let bytes = encode_row(&[(3, &a), (3, &b)]);
        assert_eq!(decode_row(&bytes, &[(3, SqlType::Int8)]), Ok(vec![b]));
        let bytes = encode_row(&[(3, &a), (3, &Datum::Null)]);
        assert_eq!(
            decode_row(&bytes, &[(3, SqlType::Int8)]),
            Ok(vec![Datum::Null])
        );
    }

    #[test]
    fn each_type_decodes_to_its_own_variant() {
        let text = Datum::Text("x".into());
        let json = Datum::Json("{}".into());
        let cases = [
            (SqlType::Varchar(None), &text, Datum::Text("x".into())),
            (SqlType::Char(1), &text, Datum::Text("x".into())),
            (SqlType::Json, &json, Datum::Json("{}".into())),
            (SqlType::Jsonb, &json, Datum::Json("{}".into())),
            (SqlType::Int2, &Datum::Int2(3), Datum::Int2(3)),
            (SqlType::Int8, &Datum::Int2(3), Datum::Int8(3)),
            (SqlType::Int8, &Datum::Int4(-3), Datum::Int8(-3)),
            (SqlType::Int2, &Datum::Int8(-3), Datum::Int2(-3)),
            (SqlType::Float8, &Datum::Float4(1.5), Datum::Float8(1.5)),
            (
                SqlType::Timestamp,
                &Datum::Timestamp(9),
                Datum::Timestamp(9),
            ),
            (
                SqlType::TimestampTz,
                &Datum::TimestampTz(9),
                Datum::TimestampTz(9),
            ),
            (SqlType::Time, &Datum::Time(9), Datum::Time(9)),
        ];
        for (ty, written, expected) in cases {
            let bytes = encode_row(&[(1, written)]);
            assert_eq!(decode_row(&bytes, &[(1, ty)]), Ok(vec![expected]), "{ty:?}");
        }
    }

    #[test]
    fn numeric_keeps_its_scale_compactly() {
        let d = Decimal::parse("1.50").expect("numeric");
        let mut bytes = Vec::new();
        encode_datum_value(&mut bytes, &Datum::Numeric(d));
        // scale 2, mantissa 150 = 0x0096 (0x96 alone would be negative).
        assert_eq!(bytes, [2, 0x00, 0x96]);
        let back = decode_datum_value(&bytes, SqlType::Numeric(None)).expect("numeric");
        assert_eq!(back.clone(), Datum::Numeric(d));
        assert!(matches!(
            back,
            Datum::Numeric(Decimal {
                mantissa: 150,
                scale: 2
            })
        ));
        let mut bytes = Vec::new();
        encode_datum_value(&mut bytes, &Datum::Numeric(Decimal::from_i64(-1)));
        assert_eq!(bytes, [0, 0xFF]);
        let mut bytes = Vec::new();
        encode_datum_value(&mut bytes, &Datum::Numeric(Decimal::from_i64(0)));
        assert_eq!(bytes, [0, 0x00]);
        // 10^38 is past Decimal's limit; so is scale 39.
        let mut bad = vec![0];
        bad.extend_from_slice(&10i128.pow(38).to_be_bytes());
        assert!(decode_datum_value(&bad, SqlType::Numeric(None)).is_err());
        assert!(decode_datum_value(&[39, 1], SqlType::Numeric(None)).is_err());
        assert!(decode_datum_value(&[0], SqlType::Numeric(None)).is_err());
        assert!(decode_datum_value(&[0; 18], SqlType::Numeric(None)).is_err());
    }

    #[test]
    fn malformed_rows_are_errors() {
        let wanted = [(1, SqlType::Int8), (2, SqlType::Text)];
        assert_eq!(decode_row(&[], &wanted), Err(RowError::Truncated { at: 0 }));
        assert_eq!(decode_row(&[2], &wanted), Err(RowError::Version(2)));
        assert_eq!(
            decode_row(&[1], &wanted),
            Ok(vec![Datum::Null, Datum::Null])
        );
        // Length 8 but 2 bytes.
        assert_eq!(
            decode_row(&[1, 1, 8, 0, 0], &wanted),
            Err(RowError::Truncated { at: 3 })
        );
        // Id then nothing.
        assert_eq!(
            decode_row(&[1, 1], &wanted),
            Err(RowError::Truncated { at: 2 })
        );
        // Unterminated varint.
        assert_eq!(
            decode_row(&[1, 0x80], &wanted),
            Err(RowError::Truncated { at: 2 })
        );
        // An id beyond u32.
        assert_eq!(
            decode_row(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0], &wanted),
            Err(RowError::Varint { at: 1 })
        );
        // Eleven-byte varint.
        let mut long = vec![1];
        long.extend_from_slice(&[0x80; 10]);
        long.push(0);
        assert_eq!(decode_row(&long, &wanted), Err(RowError::Varint { at: 1 }));
        // Ids out of order, or repeated.
        assert_eq!(
            decode_row(&[1, 2, 0, 1, 0], &wanted),
            Err(RowError::Unordered {
                at: 3,
                prev: 2,
                id: 1
            })
        );
        assert!(matches!(
            decode_row(&[1, 2, 0, 2, 0], &wanted),
            Err(RowError::Unordered { .. })
        ));
        // An int of 3 bytes, text that is not UTF-8: errors naming the column.
        let err = decode_row(&[1, 1, 3, 0, 0, 0], &wanted).unwrap_err();
        assert!(matches!(
            err,
            RowError::BadValue {
                column: Some(1),
                ty: SqlType::Int8,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "invalid Int8 value in column 1: expected 2, 4 or 8 bytes, found 3"
        );
        let err = decode_row(&[1, 2, 1, 0xFF], &wanted).unwrap_err();
        assert!(matches!(
            err,
            RowError::BadValue {
                column: Some(2),
                ..
            }
        ));
        // A bad value in a column nobody asked for is not looked at.
        assert_eq!(
            decode_row(&[1, 3, 1, 0xFF], &wanted),
            Ok(vec![Datum::Null, Datum::Null])
        );
    }

    #[test]
    fn narrowing_out_of_range_is_an_error() {
        let bytes = encode_row(&[(1, &Datum::Int8(70_000))]);
        assert!(decode_row(&bytes, &[(1, SqlType::Int2)]).is_err());
        assert_eq!(
            decode_row(&bytes, &[(1, SqlType::Int4)]),
            Ok(vec![Datum::Int4(70_000)])
        );
        assert!(decode_datum_value(&[0, 0, 0, 0, 0, 0, 0, 0], SqlType::Float4).is_err());
        assert!(decode_datum_value(&[2], SqlType::Bool).is_err());
    }

    #[test]
    fn the_same_id_may_be_wanted_twice() {
        let bytes = encode_row(&[(4, &Datum::Int4(9))]);
        let got = decode_row(
            &bytes,
            &[(4, SqlType::Int4), (4, SqlType::Int8), (5, SqlType::Bool)],
        );
        assert_eq!(got, Ok(vec![Datum::Int4(9), Datum::Int8(9), Datum::Null]));
    }

    #[test]
    fn varints_round_trip_at_their_limits() {
        for v in [
            0,
            1,
            0x7F,
            0x80,
            0x3FFF,
            0x4000,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            let mut pos = 0;
            assert_eq!(get_uvarint(&out, &mut pos), Ok(v));
            assert_eq!(pos, out.len());
        }
        // u64::MAX takes ten bytes, the last 0x01; 0x02 there overflows.
        let mut over = vec![0xFF; 9];
        over.push(0x02);
        assert_eq!(get_uvarint(&over, &mut 0), Err(RowError::Varint { at: 0 }));
    }
}
