//! SQL type names (as the parser gives them) into [`SqlType`]s, with
//! PostgreSQL's spellings and limits.

use datafusion::sql::sqlparser::ast::{
    CharacterLength, DataType, ExactNumberInfo, ObjectName, TimezoneInfo,
};

use crate::error::{code, Error, Result};
use crate::types::decimal::MAX_PRECISION;
use crate::types::SqlType;

/// What a column type declaration means, with `SERIAL` spelled out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnType {
    /// A plain type.
    Plain(SqlType),
    /// `smallserial`/`serial`/`bigserial`: the integer type, NOT NULL,
    /// defaulting to a sequence it owns.
    Serial(SqlType),
}

fn char_len(l: &Option<CharacterLength>, what: &str) -> Result<Option<u32>> {
    match l {
        None | Some(CharacterLength::Max) => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => {
            if *length == 0 || *length > 10_485_760 {
                return Err(Error::new(
                    code::INVALID_PARAMETER_VALUE,
                    format!("length for type {what} must be between 1 and 10485760"),
                ));
            }
            Ok(Some(*length as u32))
        }
    }
}

fn numeric(info: &ExactNumberInfo) -> Result<SqlType> {
    let (p, s) = match info {
        ExactNumberInfo::None => return Ok(SqlType::Numeric(None)),
        ExactNumberInfo::Precision(p) => (*p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
    };
    if p == 0 || p > MAX_PRECISION as u64 {
        return Err(Error::new(
            code::INVALID_PARAMETER_VALUE,
            format!("NUMERIC precision {p} must be between 1 and {MAX_PRECISION}"),
        ));
    }
    if s < 0 || s as u64 > p {
        return Err(Error::new(
            code::INVALID_PARAMETER_VALUE,
            format!("NUMERIC scale {s} must be between 0 and precision {p}"),
        ));
    }
    Ok(SqlType::Numeric(Some((p as u8, s as u8))))
}

/// The type a column declaration names.
pub fn column_type(dt: &DataType) -> Result<ColumnType> {
    Ok(ColumnType::Plain(match dt {
        DataType::Bool | DataType::Boolean => SqlType::Bool,
        DataType::SmallInt(_) | DataType::Int2(_) => SqlType::Int2,
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => SqlType::Int4,
        DataType::BigInt(_) | DataType::Int8(_) => SqlType::Int8,
        DataType::Real | DataType::Float4 => SqlType::Float4,
        DataType::DoublePrecision | DataType::Float8 | DataType::Double(_) => SqlType::Float8,
        DataType::Float(info) => match info {
            ExactNumberInfo::Precision(p) if *p <= 24 => SqlType::Float4,
            _ => SqlType::Float8,
        },
        DataType::Numeric(info) | DataType::Decimal(info) => numeric(info)?,
        DataType::Text | DataType::String(None) => SqlType::Text,
        DataType::Varchar(l) | DataType::CharacterVarying(l) => {
            SqlType::Varchar(char_len(l, "varchar")?)
        }
        DataType::Char(l) | DataType::Character(l) => {
            SqlType::Char(char_len(l, "char")?.unwrap_or(1))
        }
        DataType::Bytea => SqlType::Bytea,
        DataType::Date => SqlType::Date,
        DataType::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => SqlType::Time,
        DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            SqlType::Timestamp
        }
        DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
            SqlType::TimestampTz
        }
        DataType::Interval { .. } => SqlType::Interval,
        DataType::Uuid => SqlType::Uuid,
        DataType::JSON => SqlType::Json,
        DataType::JSONB => SqlType::Jsonb,
        DataType::Custom(name, modifiers) => return custom(name, modifiers),
        other => return Err(Error::unsupported(format!("type {other}"))),
    }))
}

/// Types the parser does not know by name (`serial`, `timestamptz`, …).
fn custom(name: &ObjectName, modifiers: &[String]) -> Result<ColumnType> {
    let n = name.to_string().to_lowercase();
    let n = n.strip_prefix("pg_catalog.").unwrap_or(&n);
    let plain = |t| Ok(ColumnType::Plain(t));
    match (n, modifiers.is_empty()) {
        ("serial" | "serial4", true) => Ok(ColumnType::Serial(SqlType::Int4)),
        ("bigserial" | "serial8", true) => Ok(ColumnType::Serial(SqlType::Int8)),
        ("smallserial" | "serial2", true) => Ok(ColumnType::Serial(SqlType::Int2)),
        ("timestamptz", _) => plain(SqlType::TimestampTz),
        ("timetz", _) => Err(Error::unsupported("type time with time zone")),
        ("bpchar", _) => plain(SqlType::Char(1)),
        ("float", true) => plain(SqlType::Float8),
        _ => Err(Error::new(
            code::UNDEFINED_OBJECT,
            format!("type \"{n}\" does not exist"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn ty(s: &str) -> Result<ColumnType> {
        let dt = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(s)
            .unwrap()
            .parse_data_type()
            .unwrap();
        column_type(&dt)
    }

    #[test]
    fn postgres_spellings_map_to_their_types() {
        let plain = |t| Ok(ColumnType::Plain(t));
        assert_eq!(ty("integer"), plain(SqlType::Int4));
        assert_eq!(ty("int8"), plain(SqlType::Int8));
        assert_eq!(
            ty("character varying(10)"),
            plain(SqlType::Varchar(Some(10)))
        );
        assert_eq!(ty("char"), plain(SqlType::Char(1)));
        assert_eq!(ty("numeric(10,2)"), plain(SqlType::Numeric(Some((10, 2)))));
        assert_eq!(ty("numeric"), plain(SqlType::Numeric(None)));
        assert_eq!(ty("timestamp with time zone"), plain(SqlType::TimestampTz));
        assert_eq!(ty("timestamptz"), plain(SqlType::TimestampTz));
        assert_eq!(ty("double precision"), plain(SqlType::Float8));
        assert_eq!(ty("serial"), Ok(ColumnType::Serial(SqlType::Int4)));
        assert_eq!(ty("jsonb"), plain(SqlType::Jsonb));
        assert!(ty("numeric(50)").is_err());
        assert!(ty("nosuchtype").is_err());
    }
}
