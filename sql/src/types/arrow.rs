//! SQL types and values as Arrow (DataFusion's) types and arrays.
//!
//! | SQL | Arrow |
//! |---|---|
//! | boolean | Boolean |
//! | smallint / integer / bigint | Int16 / Int32 / Int64 |
//! | real / double precision | Float32 / Float64 |
//! | numeric(p,s) | Decimal128(p, s) |
//! | numeric | Decimal128(38, 16) (values print without trailing zeros) |
//! | numeric quotient (`/`, `avg`) | Decimal128(38, 20) (values print with PostgreSQL's division scale, see [`super::quotient`]) |
//! | text, varchar(n), char(n), uuid, json, jsonb | Utf8 |
//! | bytea | Binary |
//! | date | Date32 |
//! | time | Time64(µs) |
//! | timestamp / timestamptz | Timestamp(µs) / Timestamp(µs, "UTC") |
//! | interval | Interval(MonthDayNano) |
//!
//! Where Arrow's type does not say which SQL type a column has (varchar
//! vs text, uuid, json), the field carries it in its metadata under
//! [`SQL_TYPE_KEY`]; the pgwire edge reads it to report the right type OID.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit, SchemaRef,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};

use super::quotient::QUOTIENT_NUMERIC_SCALE;
use super::{Datum, Decimal, SqlType};
use crate::error::{Error, Result};

/// Field metadata key holding the column's SQL type (JSON).
pub const SQL_TYPE_KEY: &str = "strata.sql_type";

/// Scale of unconstrained `numeric` in Arrow.
pub const UNCONSTRAINED_NUMERIC_SCALE: i8 = 16;

/// The Arrow type of a SQL type.
pub fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Bool => DataType::Boolean,
        SqlType::Int2 => DataType::Int16,
        SqlType::Int4 => DataType::Int32,
        SqlType::Int8 => DataType::Int64,
        SqlType::Float4 => DataType::Float32,
        SqlType::Float8 => DataType::Float64,
        SqlType::Numeric(Some((p, s))) => DataType::Decimal128(p, s as i8),
        SqlType::Numeric(None) => DataType::Decimal128(38, UNCONSTRAINED_NUMERIC_SCALE),
        SqlType::Text
        | SqlType::Varchar(_)
        | SqlType::Char(_)
        | SqlType::Uuid
        | SqlType::Json
        | SqlType::Jsonb => DataType::Utf8,
        SqlType::Bytea => DataType::Binary,
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time64(TimeUnit::Microsecond),
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        SqlType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
    }
}

/// An Arrow field for a column of `ty`, carrying the SQL type.
pub fn field(name: &str, ty: SqlType, nullable: bool) -> Field {
    let meta = serde_json::to_string(&ty).unwrap_or_default();
    Field::new(name, arrow_type(ty), nullable)
        .with_metadata(HashMap::from([(SQL_TYPE_KEY.to_string(), meta)]))
}

/// The SQL type of an Arrow field: its metadata if it carries one, else
/// the closest SQL type of its Arrow type.
pub fn sql_type_of(field: &Field) -> SqlType {
    if let Some(ty) = field
        .metadata()
        .get(SQL_TYPE_KEY)
        .and_then(|m| serde_json::from_str::<SqlType>(m).ok())
    {
        // Metadata survives some expressions that change the type: trust
        // it only while the Arrow type still matches.
        if arrow_type(ty) == *field.data_type() {
            return ty;
        }
    }
    sql_type_of_arrow(field.data_type())
}

/// The closest SQL type of an Arrow type.
pub fn sql_type_of_arrow(dt: &DataType) -> SqlType {
    match dt {
        DataType::Boolean => SqlType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => SqlType::Int2,
        DataType::Int32 | DataType::UInt16 => SqlType::Int4,
        DataType::Int64 | DataType::UInt32 => SqlType::Int8,
        DataType::UInt64 => SqlType::Numeric(None),
        DataType::Float16 | DataType::Float32 => SqlType::Float4,
        DataType::Float64 => SqlType::Float8,
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            if *p == 38 && (*s == UNCONSTRAINED_NUMERIC_SCALE || *s == QUOTIENT_NUMERIC_SCALE) {
                SqlType::Numeric(None)
            } else if *s < 0 {
                // 1e3 is Decimal128(1, -3): 1000 has four digits.
                let p = (*p as i16 - *s as i16).min(u8::MAX as i16) as u8;
                SqlType::Numeric(Some((p, 0)))
            } else {
                SqlType::Numeric(Some((*p, *s as u8)))
            }
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => SqlType::Bytea,
        DataType::Date32 | DataType::Date64 => SqlType::Date,
        DataType::Time32(_) | DataType::Time64(_) => SqlType::Time,
        DataType::Timestamp(_, None) => SqlType::Timestamp,
        DataType::Timestamp(_, Some(_)) => SqlType::TimestampTz,
        DataType::Interval(_) | DataType::Duration(_) => SqlType::Interval,
        _ => SqlType::Text,
    }
}

/// Builds one Arrow column from datums.
pub struct ColumnBuilder {
    ty: SqlType,
    inner: Box<dyn ArrayBuilder>,
}

impl ColumnBuilder {
    /// A builder for a column of `ty`, sized for `capacity` rows.
    pub fn new(ty: SqlType, capacity: usize) -> ColumnBuilder {
        let inner: Box<dyn ArrayBuilder> = match ty {
            SqlType::Bool => Box::new(BooleanBuilder::with_capacity(capacity)),
            SqlType::Int2 => Box::new(Int16Builder::with_capacity(capacity)),
            SqlType::Int4 => Box::new(Int32Builder::with_capacity(capacity)),
            SqlType::Int8 => Box::new(Int64Builder::with_capacity(capacity)),
            SqlType::Float4 => Box::new(Float32Builder::with_capacity(capacity)),
            SqlType::Float8 => Box::new(Float64Builder::with_capacity(capacity)),
            SqlType::Numeric(_) => {
                Box::new(Decimal128Builder::with_capacity(capacity).with_data_type(arrow_type(ty)))
            }
            SqlType::Text
            | SqlType::Varchar(_)
            | SqlType::Char(_)
            | SqlType::Uuid
            | SqlType::Json
            | SqlType::Jsonb => Box::new(StringBuilder::with_capacity(capacity, capacity * 16)),
            SqlType::Bytea => Box::new(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            SqlType::Date => Box::new(Date32Builder::with_capacity(capacity)),
            SqlType::Time => Box::new(Time64MicrosecondBuilder::with_capacity(capacity)),
            SqlType::Timestamp => Box::new(TimestampMicrosecondBuilder::with_capacity(capacity)),
            SqlType::TimestampTz => {
                Box::new(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"))
            }
            SqlType::Interval => Box::new(IntervalMonthDayNanoBuilder::with_capacity(capacity)),
        };
        ColumnBuilder { ty, inner }
    }

    /// Appends one value (NULL, or a datum of the column's type).
    pub fn push(&mut self, d: &Datum) -> Result<()> {
        let mismatch = || Error::internal(format!("value {d:?} in a column of type {:?}", self.ty));
        let any = self.inner.as_any_mut();
        macro_rules! put {
            ($b:ty, $v:expr) => {{
                let b = any.downcast_mut::<$b>().ok_or_else(mismatch)?;
                match d {
                    Datum::Null => b.append_null(),
                    _ => b.append_value($v),
                }
            }};
        }
        match (self.ty, d) {
            (SqlType::Bool, Datum::Bool(v)) => put!(BooleanBuilder, *v),
            (SqlType::Int2, Datum::Int2(v)) => put!(Int16Builder, *v),
            (SqlType::Int4, Datum::Int4(v)) => put!(Int32Builder, *v),
            (SqlType::Int8, Datum::Int8(v)) => put!(Int64Builder, *v),
            (SqlType::Float4, Datum::Float4(v)) => put!(Float32Builder, *v),
            (SqlType::Float8, Datum::Float8(v)) => put!(Float64Builder, *v),
            (SqlType::Numeric(p), Datum::Numeric(v)) => {
                let scale = match p {
                    Some((_, s)) => s,
                    None => UNCONSTRAINED_NUMERIC_SCALE as u8,
                };
                let v = v.rescale(scale).map_err(|e| {
                    Error::new(
                        crate::error::code::NUMERIC_VALUE_OUT_OF_RANGE,
                        e.to_string(),
                    )
                })?;
                put!(Decimal128Builder, v.mantissa)
            }
            (
                SqlType::Text
                | SqlType::Varchar(_)
                | SqlType::Char(_)
                | SqlType::Json
                | SqlType::Jsonb,
                Datum::Text(s) | Datum::Json(s),
            ) => put!(StringBuilder, s),
            (SqlType::Uuid, Datum::Uuid(u)) => put!(StringBuilder, format_uuid(u)),
            (SqlType::Bytea, Datum::Bytea(v)) => put!(BinaryBuilder, v),
            (SqlType::Date, Datum::Date(v)) => put!(Date32Builder, *v),
            (SqlType::Time, Datum::Time(v)) => put!(Time64MicrosecondBuilder, *v),
            (SqlType::Timestamp, Datum::Timestamp(v)) => put!(TimestampMicrosecondBuilder, *v),
            (SqlType::TimestampTz, Datum::TimestampTz(v)) => {
                put!(TimestampMicrosecondBuilder, *v)
            }
            (
                SqlType::Interval,
                Datum::Interval {
                    months,
                    days,
                    micros,
                },
            ) => put!(
                IntervalMonthDayNanoBuilder,
                IntervalMonthDayNano::new(*months, *days, micros.saturating_mul(1000))
            ),
            (ty, Datum::Null) => self.push_null(ty)?,
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn push_null(&mut self, ty: SqlType) -> Result<()> {
        let any = self.inner.as_any_mut();
        let missing = || Error::internal("builder of another type");
        macro_rules! null {
            ($b:ty) => {
                any.downcast_mut::<$b>().ok_or_else(missing)?.append_null()
            };
        }
        match ty {
            SqlType::Bool => null!(BooleanBuilder),
            SqlType::Int2 => null!(Int16Builder),
            SqlType::Int4 => null!(Int32Builder),
            SqlType::Int8 => null!(Int64Builder),
            SqlType::Float4 => null!(Float32Builder),
            SqlType::Float8 => null!(Float64Builder),
            SqlType::Numeric(_) => null!(Decimal128Builder),
            SqlType::Text
            | SqlType::Varchar(_)
            | SqlType::Char(_)
            | SqlType::Uuid
            | SqlType::Json
            | SqlType::Jsonb => null!(StringBuilder),
            SqlType::Bytea => null!(BinaryBuilder),
            SqlType::Date => null!(Date32Builder),
            SqlType::Time => null!(Time64MicrosecondBuilder),
            SqlType::Timestamp | SqlType::TimestampTz => null!(TimestampMicrosecondBuilder),
            SqlType::Interval => null!(IntervalMonthDayNanoBuilder),
        }
        Ok(())
    }

    /// The column built so far.
    pub fn finish(&mut self) -> ArrayRef {
        self.inner.finish()
    }
}

/// A record batch of `schema` from columns built by [`ColumnBuilder`]s.
pub fn batch(
    schema: SchemaRef,
    builders: &mut [ColumnBuilder],
    rows: usize,
) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
    let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema, columns, &options)
        .map_err(|e| Error::internal(format!("building a batch: {e}")))
}

/// The canonical text of a uuid.
pub fn format_uuid(u: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*u).hyphenated().to_string()
}

/// The value at `row` of `array`, as a datum of the SQL type `ty` the
/// column is reported as (see [`sql_type_of`]).
pub fn datum_at(array: &dyn Array, row: usize, ty: SqlType) -> Result<Datum> {
    if array.is_null(row) || *array.data_type() == DataType::Null {
        return Ok(Datum::Null);
    }
    let unsupported = || {
        Error::new(
            crate::error::code::FEATURE_NOT_SUPPORTED,
            format!("values of type {} cannot be returned", array.data_type()),
        )
    };
    Ok(match array.data_type() {
        DataType::Boolean => Datum::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Datum::Int2(array.as_primitive::<Int8Type>().value(row) as i16),
        DataType::UInt8 => Datum::Int2(array.as_primitive::<UInt8Type>().value(row) as i16),
        DataType::Int16 => Datum::Int2(array.as_primitive::<Int16Type>().value(row)),
        DataType::UInt16 => Datum::Int4(array.as_primitive::<UInt16Type>().value(row) as i32),
        DataType::Int32 => Datum::Int4(array.as_primitive::<Int32Type>().value(row)),
        DataType::UInt32 => Datum::Int8(array.as_primitive::<UInt32Type>().value(row) as i64),
        DataType::Int64 => Datum::Int8(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => {
            let v = array.as_primitive::<UInt64Type>().value(row);
            Datum::Numeric(Decimal::new(v as i128, 0).map_err(|_| unsupported())?)
        }
        DataType::Float32 => Datum::Float4(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Datum::Float8(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(p, s) => {
            let m = array.as_primitive::<Decimal128Type>().value(row);
            let d = if *s < 0 {
                // A negative scale (1.5e2 is 15 × 10^1) multiplies.
                10i128
                    .checked_pow(s.unsigned_abs() as u32)
                    .and_then(|f| m.checked_mul(f))
                    .and_then(|m| Decimal::new(m, 0).ok())
                    .ok_or_else(|| {
                        Error::new(
                            crate::error::code::NUMERIC_VALUE_OUT_OF_RANGE,
                            "value overflows numeric format",
                        )
                    })?
            } else {
                Decimal {
                    mantissa: m,
                    scale: *s as u8,
                }
            };
            // An unconstrained numeric column prints without the padding
            // its Arrow scale adds, a quotient with PostgreSQL's scale.
            Datum::Numeric(match ty {
                SqlType::Numeric(None) if *p == 38 && *s == QUOTIENT_NUMERIC_SCALE => {
                    super::quotient::display(d)
                }
                SqlType::Numeric(None) => d.normalize(),
                _ => d,
            })
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = match array.data_type() {
                DataType::Utf8 => array.as_string::<i32>().value(row),
                DataType::LargeUtf8 => array.as_string::<i64>().value(row),
                _ => array.as_string_view().value(row),
            };
            match ty {
                SqlType::Json | SqlType::Jsonb => Datum::Json(s.to_string()),
                SqlType::Uuid => match uuid::Uuid::parse_str(s) {
                    Ok(u) => Datum::Uuid(*u.as_bytes()),
                    Err(_) => Datum::Text(s.to_string()),
                },
                _ => Datum::Text(s.to_string()),
            }
        }
        DataType::Binary => Datum::Bytea(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Datum::Bytea(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Datum::Bytea(array.as_binary_view().value(row).to_vec()),
        DataType::Date32 => Datum::Date(array.as_primitive::<Date32Type>().value(row)),
        DataType::Time64(TimeUnit::Microsecond) => {
            Datum::Time(array.as_primitive::<Time64MicrosecondType>().value(row))
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            Datum::Time(array.as_primitive::<Time64NanosecondType>().value(row) / 1000)
        }
        DataType::Timestamp(unit, tz) => {
            let micros = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1000),
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row) / 1000
                }
            };
            if tz.is_some() {
                Datum::TimestampTz(micros)
            } else {
                Datum::Timestamp(micros)
            }
        }
        // timestamp - timestamp: days and time, as PostgreSQL's interval.
        DataType::Duration(unit) => {
            use datafusion::arrow::datatypes::{
                DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
                DurationSecondType,
            };
            let micros = match unit {
                TimeUnit::Second => array
                    .as_primitive::<DurationSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<DurationMillisecondType>()
                    .value(row)
                    .saturating_mul(1000),
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => {
                    array.as_primitive::<DurationNanosecondType>().value(row) / 1000
                }
            };
            const DAY: i64 = 86_400_000_000;
            Datum::Interval {
                months: 0,
                days: (micros / DAY) as i32,
                micros: micros % DAY,
            }
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            Datum::Interval {
                months: v.months,
                days: v.days,
                micros: v.nanoseconds / 1000,
            }
        }
        _ => return Err(unsupported()),
    })
}

/// A schema's fields as `(name, SQL type)`.
pub fn sql_columns(schema: &datafusion::arrow::datatypes::Schema) -> Vec<(String, SqlType)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), sql_type_of(f)))
        .collect()
}

/// Shared pointer to an Arrow schema.
pub type Schema = Arc<datafusion::arrow::datatypes::Schema>;
