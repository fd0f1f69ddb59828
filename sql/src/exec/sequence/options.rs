//! A new sequence's parameters from its options (`CREATE SEQUENCE`,
//! SERIAL, `GENERATED … AS IDENTITY (…)`), with PostgreSQL 15's defaults,
//! checks and messages (`init_params` in `sequence.c`).

use datafusion::sql::sqlparser::ast::{Expr, SequenceOptions, UnaryOperator, Value};

use crate::catalog::desc::SequenceDesc;
use crate::error::{code, Error, Result};
use crate::types::SqlType;

/// The smallest and largest value of a sequence data type, and its name;
/// `None` for a type a sequence cannot have.
pub fn type_range(ty: SqlType) -> Option<(i64, i64, &'static str)> {
    match ty {
        SqlType::Int2 => Some((i16::MIN.into(), i16::MAX.into(), "smallint")),
        SqlType::Int4 => Some((i32::MIN.into(), i32::MAX.into(), "integer")),
        SqlType::Int8 => Some((i64::MIN, i64::MAX, "bigint")),
        _ => None,
    }
}

fn invalid(message: String) -> Error {
    Error::new(code::INVALID_PARAMETER_VALUE, message)
}

/// The parameters of a sequence of type `ty` (already checked to be an
/// integer type) given `options`. `owned_by` is left `None`.
pub fn sequence_desc(ty: SqlType, options: &[SequenceOptions]) -> Result<SequenceDesc> {
    let Some((type_min, type_max, type_name)) = type_range(ty) else {
        return Err(invalid(
            "sequence type must be smallint, integer, or bigint".into(),
        ));
    };
    let (mut increment, mut min, mut max, mut start, mut cache, mut cycle) =
        (None, None, None, None, None, false);
    for o in options {
        match o {
            SequenceOptions::IncrementBy(e, _) => increment = Some(int8(e)?),
            SequenceOptions::MinValue(e) => min = e.as_ref().map(int8).transpose()?,
            SequenceOptions::MaxValue(e) => max = e.as_ref().map(int8).transpose()?,
            SequenceOptions::StartWith(e, _) => start = Some(int8(e)?),
            SequenceOptions::Cache(e) => cache = Some(int8(e)?),
            // The parser's flag says `NO CYCLE`.
            SequenceOptions::Cycle(no) => cycle = !no,
        }
    }
    let increment = increment.unwrap_or(1);
    if increment == 0 {
        return Err(invalid("INCREMENT must not be zero".into()));
    }
    let max = max.unwrap_or(if increment > 0 { type_max } else { -1 });
    if max < type_min || max > type_max {
        return Err(invalid(format!(
            "MAXVALUE ({max}) is out of range for sequence data type {type_name}"
        )));
    }
    let min = min.unwrap_or(if increment > 0 { 1 } else { type_min });
    if min < type_min || min > type_max {
        return Err(invalid(format!(
            "MINVALUE ({min}) is out of range for sequence data type {type_name}"
        )));
    }
    if min >= max {
        return Err(invalid(format!(
            "MINVALUE ({min}) must be less than MAXVALUE ({max})"
        )));
    }
    let start = start.unwrap_or(if increment > 0 { min } else { max });
    if start < min {
        return Err(invalid(format!(
            "START value ({start}) cannot be less than MINVALUE ({min})"
        )));
    }
    if start > max {
        return Err(invalid(format!(
            "START value ({start}) cannot be greater than MAXVALUE ({max})"
        )));
    }
    let cache = cache.unwrap_or(1);
    if cache <= 0 {
        return Err(invalid(format!(
            "CACHE ({cache}) must be greater than zero"
        )));
    }
    Ok(SequenceDesc {
        ty,
        start,
        increment,
        min,
        max,
        cycle,
        cache,
        owned_by: None,
    })
}

/// An option's value as PostgreSQL reads it (`int8in` of its text).
fn int8(e: &Expr) -> Result<i64> {
    let (negative, inner) = match e {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => (true, expr.as_ref()),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => (false, expr.as_ref()),
        other => (false, other),
    };
    let text = match inner {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            other => {
                return Err(Error::syntax(format!(
                    "syntax error at or near \"{other}\""
                )))
            }
        },
        other => {
            return Err(Error::syntax(format!(
                "syntax error at or near \"{other}\""
            )))
        }
    };
    let text = if negative { format!("-{text}") } else { text };
    if !text
        .trim_start_matches(['-', '+'])
        .bytes()
        .all(|b| b.is_ascii_digit())
    {
        return Err(Error::new(
            code::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type bigint: \"{text}\""),
        ));
    }
    text.parse::<i64>().map_err(|_| {
        Error::new(
            code::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{text}\" is out of range for type bigint"),
        )
    })
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn desc(ty: SqlType, sql: &str) -> Result<SequenceDesc> {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &format!("CREATE SEQUENCE s {sql}"))
            .unwrap()
            .pop()
            .unwrap();
        let Statement::CreateSequence {
            sequence_options, ..
        } = stmt
        else {
            panic!("not a CREATE SEQUENCE")
        };
        sequence_desc(ty, &sequence_options)
    }

    #[test]
    fn defaults_follow_the_increments_sign_and_the_type() {
        let d = desc(SqlType::Int8, "").unwrap();
        assert_eq!(
            (d.start, d.increment, d.min, d.max, d.cache, d.cycle),
            (1, 1, 1, i64::MAX, 1, false)
        );
        let d = desc(SqlType::Int2, "INCREMENT BY -1").unwrap();
        assert_eq!((d.start, d.min, d.max), (-1, -32768, -1));
        let d = desc(SqlType::Int4, "").unwrap();
        assert_eq!(d.max, 2147483647);
        let d = desc(
            SqlType::Int8,
            "INCREMENT 5 MINVALUE -10 MAXVALUE 10 START WITH 0 CACHE 20 CYCLE",
        )
        .unwrap();
        assert_eq!(
            (d.start, d.increment, d.min, d.max, d.cache, d.cycle),
            (0, 5, -10, 10, 20, true)
        );
        assert!(!desc(SqlType::Int8, "NO CYCLE").unwrap().cycle);
    }

    #[test]
    fn bad_parameters_are_refused_with_postgres_messages() {
        let msg = |ty, sql| desc(ty, sql).unwrap_err().message;
        assert_eq!(
            msg(SqlType::Int8, "INCREMENT 0"),
            "INCREMENT must not be zero"
        );
        assert_eq!(
            msg(SqlType::Int2, "MAXVALUE 100000"),
            "MAXVALUE (100000) is out of range for sequence data type smallint"
        );
        assert_eq!(
            msg(SqlType::Int8, "MINVALUE 5 MAXVALUE 5"),
            "MINVALUE (5) must be less than MAXVALUE (5)"
        );
        assert_eq!(
            msg(SqlType::Int8, "START 0"),
            "START value (0) cannot be less than MINVALUE (1)"
        );
        assert_eq!(
            msg(SqlType::Int8, "MAXVALUE 10 START 100"),
            "START value (100) cannot be greater than MAXVALUE (10)"
        );
        assert_eq!(
            msg(SqlType::Int8, "CACHE 0"),
            "CACHE (0) must be greater than zero"
        );
        assert_eq!(
            desc(SqlType::Int8, "INCREMENT 1.5").unwrap_err().code,
            code::INVALID_TEXT_REPRESENTATION
        );
        assert_eq!(
            desc(SqlType::Int8, "INCREMENT 99999999999999999999")
                .unwrap_err()
                .code,
            code::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            desc(SqlType::Text, "").unwrap_err().message,
            "sequence type must be smallint, integer, or bigint"
        );
    }
}
