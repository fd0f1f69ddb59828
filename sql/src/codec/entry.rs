//! Index entry values: the key of the entry's row, and the values of the
//! columns the index stores (its key columns, its `INCLUDE` columns and
//! the primary key), so a query reading only those is answered from the
//! index without looking the rows up (an index-only scan).
//!
//! | bytes | meaning |
//! |---|---|
//! | 0x02 | format version ([`ENTRY_FORMAT_VERSION`]) |
//! | LEB128 varint | length of the row key |
//! | that many bytes | the row key |
//! | the rest | the stored columns, as a [row value](super::row) |
//!
//! Entries written before columns were stored are the bare row key (they
//! start with the table marker `t`): they read as storing nothing.

use super::key::TABLE_KEY_MARKER;
use super::row::{encode_row, get_uvarint, put_uvarint, RowError};
use crate::types::Datum;

/// First byte of an index entry value.
pub const ENTRY_FORMAT_VERSION: u8 = 2;

/// The value of an index entry for the row at `row_key` whose stored
/// columns hold `stored` (id and value).
pub fn encode_entry_value(row_key: &[u8], stored: &[(u32, &Datum)]) -> Vec<u8> {
    let row = encode_row(stored);
    let mut out = Vec::with_capacity(1 + 5 + row_key.len() + row.len());
    out.push(ENTRY_FORMAT_VERSION);
    put_uvarint(&mut out, row_key.len() as u64);
    out.extend_from_slice(row_key);
    out.extend_from_slice(&row);
    out
}

/// An entry value taken apart: the row's key, and its stored columns as a
/// row value (`None` for an entry of the first format, which stores none).
pub fn decode_entry_value(value: &[u8]) -> Result<(&[u8], Option<&[u8]>), RowError> {
    match value.first() {
        Some(&TABLE_KEY_MARKER) => Ok((value, None)),
        Some(&ENTRY_FORMAT_VERSION) => {
            let mut pos = 1;
            let len = usize::try_from(get_uvarint(value, &mut pos)?)
                .map_err(|_| RowError::Truncated { at: pos })?;
            let end = pos
                .checked_add(len)
                .filter(|end| *end <= value.len())
                .ok_or(RowError::Truncated { at: value.len() })?;
            Ok((&value[pos..end], Some(&value[end..])))
        }
        Some(&other) => Err(RowError::Version(other)),
        None => Err(RowError::Truncated { at: 0 }),
    }
}

/// The key of the row an index entry's value points to.
pub fn entry_row_key(value: &[u8]) -> Result<&[u8], RowError> {
    decode_entry_value(value).map(|(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::row::decode_row;
    use crate::codec::row_key;
    use crate::types::SqlType;

    #[test]
    fn entries_carry_the_row_key_and_the_stored_columns() {
        let id = Datum::Int8(7);
        let key = row_key(9, 0, &[(&id, SqlType::Int8, false)]).unwrap();
        let name = Datum::Text("ann".into());
        let value = encode_entry_value(&key, &[(3, &name), (1, &id), (2, &Datum::Null)]);
        let (k, stored) = decode_entry_value(&value).unwrap();
        assert_eq!(k, key.as_slice());
        let row = decode_row(
            stored.unwrap(),
            &[(1, SqlType::Int8), (2, SqlType::Int4), (3, SqlType::Text)],
        )
        .unwrap();
        assert_eq!(row, vec![id, Datum::Null, name]);
        assert_eq!(entry_row_key(&value).unwrap(), key.as_slice());
    }

    #[test]
    fn first_format_entries_are_the_row_key_alone() {
        let key = row_key(9, 0, &[(&Datum::Int4(1), SqlType::Int4, false)]).unwrap();
        assert_eq!(decode_entry_value(&key).unwrap(), (key.as_slice(), None));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_entry_value(&[]).is_err());
        assert!(decode_entry_value(&[9, 1, 2]).is_err());
        assert!(decode_entry_value(&[ENTRY_FORMAT_VERSION, 50, 1]).is_err());
        assert!(decode_entry_value(&[ENTRY_FORMAT_VERSION, 0xFF]).is_err());
    }
}
