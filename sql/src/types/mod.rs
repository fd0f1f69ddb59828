//! SQL types and values.
//!
//! [`SqlType`] is a column's type as the catalog keeps it (PostgreSQL's
//! types, with their modifiers); [`Datum`] is one value of any of them, the
//! form values take between the wire, the key and row codecs and Arrow.
//!
//! Representations (chosen to match Arrow's, so conversion is a copy):
//!
//! | type | `Datum` | unit |
//! |---|---|---|
//! | `date` | `Date(i32)` | days since 1970-01-01 |
//! | `time` | `Time(i64)` | microseconds since midnight |
//! | `timestamp`, `timestamptz` | `Timestamp(i64)`, `TimestampTz(i64)` | microseconds since 1970-01-01 00:00 (UTC for tz) |
//! | `interval` | `Interval { months, days, micros }` | as PostgreSQL keeps it |
//! | `numeric` | `Numeric(Decimal)` | exact value and its scale |
//! | `text`, `varchar(n)`, `char(n)` | `Text(String)` | |
//! | `uuid` | `Uuid([u8; 16])` | |
//! | `json`, `jsonb` | `Json(String)` | the text (jsonb: normalised) |

pub mod arrow;
pub mod binary;
pub mod cast;
pub mod decimal;
pub mod quotient;
pub mod text;

pub use decimal::Decimal;

/// A column's type, as PostgreSQL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SqlType {
    /// `boolean`.
    Bool,
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `real`.
    Float4,
    /// `double precision`.
    Float8,
    /// `numeric(p, s)`, or unconstrained `numeric` (`None`).
    Numeric(Option<(u8, u8)>),
    /// `text`.
    Text,
    /// `varchar(n)` (`None`: no limit).
    Varchar(Option<u32>),
    /// `char(n)`: blank-padded to n.
    Char(u32),
    /// `bytea`.
    Bytea,
    /// `date`.
    Date,
    /// `time` (without time zone).
    Time,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `timestamptz`.
    TimestampTz,
    /// `interval`.
    Interval,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
}

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// SQL NULL, of any type.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `smallint`.
    Int2(i16),
    /// `integer`.
    Int4(i32),
    /// `bigint`.
    Int8(i64),
    /// `real`.
    Float4(f32),
    /// `double precision`.
    Float8(f64),
    /// `numeric`.
    Numeric(Decimal),
    /// `text`, `varchar`, `char`.
    Text(String),
    /// `bytea`.
    Bytea(Vec<u8>),
    /// `date`: days since 1970-01-01.
    Date(i32),
    /// `time`: microseconds since midnight.
    Time(i64),
    /// `timestamp`: microseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
    /// `timestamptz`: microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(i64),
    /// `interval`.
    Interval {
        /// Months.
        months: i32,
        /// Days.
        days: i32,
        /// Microseconds.
        micros: i64,
    },
    /// `uuid`.
    Uuid([u8; 16]),
    /// `json`, `jsonb`: the document's text.
    Json(String),
}

impl Datum {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }
}
