//! The key and row codec: how SQL rows become key-value pairs.
//!
//! A table's row lives at one key, built from its primary key, and its
//! value holds every column (the primary key's too), so the SQL layer
//! never decodes keys: keys only have to *sort* right, values only have to
//! *read back* right. Hence two unrelated encodings:
//!
//! - [`key`]: order-preserving ("memcomparable") encoding. Comparing
//!   encoded keys byte by byte gives PostgreSQL's order of the values, so
//!   the store's ordered range scans are SQL range scans.
//! - [`row`]: a compact value keyed by column id, which survives `ADD
//!   COLUMN` and `DROP COLUMN` without rewriting rows.
//!
//! # Key layout
//!
//! | bytes | meaning |
//! |---|---|
//! | `t` (0x74) | table keyspace ([`TABLE_KEY_MARKER`]) |
//! | 4 bytes, big-endian | table id ([`table_prefix`]) |
//! | 4 bytes, big-endian | index id: 1 = primary index, rows live there ([`PRIMARY_INDEX_ID`]); secondary indexes ≥ 2 ([`index_prefix`]) |
//! | 1 byte, primary index of a spreading table only | the row's bucket ([`key::bucket_of`]) |
//! | encoded value, per key column | [`encode_key_datum`], one after the other ([`encode_key`]) |
//!
//! So a row is `t{table}{00 00 00 01}{encoded pk}` → [row value](#row-layout)
//! ([`row_key`]); catalog keys are laid out elsewhere. A table whose
//! primary key grows with time (its first column SERIAL, IDENTITY, a
//! date or timestamp; the hidden row id) spreads its rows over
//! [`key::ROW_BUCKETS`] buckets: the byte after the index id is a fixed
//! hash of the encoded primary key, so consecutive keys land in different
//! Regions and sequential inserts are written by every store. A point
//! read computes the bucket; a range of the primary key is read in each
//! bucket and the pieces merged back into key order. All of an index's
//! (or table's) keys lie in `[prefix, prefix_end(prefix))` ([`prefix_end`]
//! increments with carry; empty means unbounded).
//!
//! # Key encoding of one value
//!
//! Every value starts with a marker byte: non-NULL values have low markers
//! (0x10..=0x1D, one per type family), NULL has 0xFE, above all of them, so
//! NULLs sort last ascending (PostgreSQL's `ASC NULLS LAST`). 0x00 and 0xFF
//! never start an ascending value: `prefix + [0x00]` and `prefix + [0xFF]`
//! bound all values of a column from below and above.
//!
//! A **descending** column is the ascending encoding with every byte
//! inverted (`!b`), marker included: NULL becomes 0x01 and sorts first
//! (PostgreSQL's `DESC NULLS FIRST`). Inversion reverses the order of a
//! prefix-free set of strings, and every encoding below is prefix-free, so
//! a tuple's encodings concatenated compare column by column.
//!
//! | type | marker | then | order |
//! |---|---|---|---|
//! | NULL (any type) | 0xFE | nothing | after every value |
//! | `boolean` | 0x10 | 0x00 false, 0x01 true | false < true |
//! | `smallint`, `integer`, `bigint` | 0x11 | 8 bytes: the value as i64, big-endian, sign bit flipped | numeric; widths encode alike |
//! | `real`, `double precision` | 0x12 | 8 bytes: the value as f64, -0 made +0, bits big-endian with the sign bit set if positive, all bits inverted if negative; any NaN is FF FF FF FF FF FF FF FF | -Inf < … < -0 = +0 < … < +Inf < NaN |
//! | `numeric` < 0 | 0x13 | as for > 0, every byte inverted | |
//! | `numeric` = 0 | 0x14 | nothing | |
//! | `numeric` > 0 | 0x15 | exponent byte, digit bytes, 0x00 | by value, scale ignored |
//! | `text`, `varchar`, `char` | 0x16 | UTF-8 bytes, 0x00 escaped as 00 FF, then 00 01; `char(n)` without trailing blanks | bytes (C collation) |
//! | `bytea` | 0x17 | bytes escaped as for text, then 00 01 | bytes |
//! | `date` | 0x18 | 4 bytes: i32 days, big-endian, sign bit flipped | by day |
//! | `time` | 0x19 | 8 bytes: i64 µs, as for integers | |
//! | `timestamp` | 0x1A | 8 bytes: i64 µs, as for integers | |
//! | `timestamptz` | 0x1B | 8 bytes: i64 µs (UTC), as for integers | |
//! | `interval` | 0x1C | 16 bytes: i128 span = (months × 30 + days) × 86 400 000 000 + µs, big-endian, sign bit flipped | by span: `1 mon` = `30 days` |
//! | `uuid` | 0x1D | the 16 bytes | bytes |
//! | `json`, `jsonb` | — | refused: [`KeyError::NotKeyable`] | |
//!
//! Text and bytea: the terminator 00 01 sorts below any continuing byte
//! (≥ 01, or 00 FF for an escaped zero), so a string sorts before its
//! extensions, and `""` < `"\0"` < `"\0\0"` < `"\x01"`.
//!
//! Numerics: a nonzero value is written `0.d₁d₂…dₙ × 10^e` with d₁ ≠ 0 and
//! dₙ ≠ 0, which is unique for the value (`1.5`, `1.50` and `15e-1` are all
//! 0.15 × 10¹; trailing zeros of integers go too: 1000 = 0.1 × 10⁴):
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 byte | e + 0x80 (e is -37..=38 for a valid [`Decimal`](crate::types::Decimal)) |
//! | ⌈n/2⌉ bytes | digits in pairs, `1 + 10·a + b` (0x01..=0x64); an odd last digit is paired with 0 |
//! | 0x00 | end, below every digit byte: a shorter digit string is smaller |
//!
//! Among positives a larger exponent is a larger value, and at equal
//! exponents the digit strings compare as decimal fractions; negatives
//! invert these bytes, since a larger magnitude is a smaller number. So
//! -1.5 (13 7E EF FF) < -1 (13 7E F4 FF) < 0 (14) < 0.001 (15 7E 0B 00).
//!
//! # Row layout
//!
//! A row value is the row's non-NULL columns, each under its column id:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0x01 | format version ([`ROW_FORMAT_VERSION`]) |
//! | then per non-NULL column, in strictly increasing column id order: | |
//! | LEB128 varint (u32) | column id |
//! | LEB128 varint | length of the value in bytes |
//! | that many bytes | the value's compact form |
//!
//! A column missing from the row is NULL: a NULL, or a column added after
//! the row was written. Ids nobody asks for (dropped columns) are skipped by
//! their length without knowing their type. LEB128: 7 bits a byte, low
//! first, high bit set on all bytes but the last (300 = AC 02).
//!
//! The compact forms ([`encode_datum_value`]; the decoder takes the type
//! from the catalog):
//!
//! | type | compact form |
//! |---|---|
//! | `boolean` | 1 byte: 0x00 or 0x01 |
//! | `smallint` / `integer` / `bigint` | 2 / 4 / 8 bytes, big-endian two's complement (the datum's width: any width that fits is read) |
//! | `real` / `double precision` | 4 / 8 bytes: IEEE bits, big-endian (NaN payloads kept) |
//! | `numeric` | 1 byte scale, then the mantissa (i128) as 1..=16 bytes big-endian two's complement, minimal: 1.50 = 02 00 96 |
//! | `text`, `varchar`, `char`, `json`, `jsonb` | UTF-8 bytes |
//! | `bytea` | the bytes |
//! | `date` | 4 bytes: i32 days, big-endian |
//! | `time`, `timestamp`, `timestamptz` | 8 bytes: i64 µs, big-endian |
//! | `interval` | 4 bytes months, 4 bytes days (i32), 8 bytes µs (i64), big-endian |
//! | `uuid` | the 16 bytes |
//!
//! Decoding never panics: truncated or malformed bytes give a [`RowError`].
//!
//! # Index entries
//!
//! A secondary index's entry key is its prefix, the encoded indexed
//! values and (unless it is a unique index's entry without NULLs) the row
//! key; the value ([`entry`]) is the row key and the values of the columns
//! the index stores, laid out as a row value, so index-only scans decode
//! values, never keys.

pub mod entry;
pub mod key;
pub mod row;

pub use key::{
    encode_key, encode_key_datum, index_key, index_prefix, prefix_end, row_key, table_prefix,
    KeyColumn, KeyError, NULL_MARKER, PRIMARY_INDEX_ID, TABLE_KEY_MARKER,
};
pub use row::{
    decode_datum_value, decode_row, encode_datum_value, encode_row, row_entries, RowEntries,
    RowError, ROW_FORMAT_VERSION,
};
