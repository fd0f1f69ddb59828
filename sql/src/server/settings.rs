//! Session settings with PostgreSQL's own syntax: `statement_timeout` (a
//! time with a unit, shown in the largest unit that divides it) and
//! `search_path` (a list of names, quoted where needed when shown).

use std::time::Duration;

use datafusion::sql::sqlparser::ast::{Expr, Value};

use crate::error::{code, Error, Result};

/// Largest `statement_timeout`, in milliseconds (PostgreSQL's int range).
const MAX_MS: f64 = i32::MAX as f64;

/// Units a time setting accepts, in milliseconds (case matters, as in
/// PostgreSQL).
const UNITS: [(&str, f64); 6] = [
    ("us", 0.001),
    ("ms", 1.0),
    ("s", 1_000.0),
    ("min", 60_000.0),
    ("h", 3_600_000.0),
    ("d", 86_400_000.0),
];

fn invalid(name: &str, value: &str) -> Error {
    Error::new(
        code::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// Parses a time setting in milliseconds (`statement_timeout`): a number
/// with an optional unit (`us`, `ms`, `s`, `min`, `h`, `d`; default ms),
/// rounded to whole milliseconds, between 0 and 2147483647.
pub fn parse_millis(name: &str, value: &str) -> Result<Duration> {
    let text = value.trim();
    let split = text
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_digit()
                || *c == '.'
                || ((*c == '-' || *c == '+') && *i == 0)
                || ((*c == 'e' || *c == 'E')
                    && text[i + 1..]
                        .starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+')))
        })
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| invalid(name, value))?;
    let unit = unit.trim();
    let factor = if unit.is_empty() {
        1.0
    } else {
        match UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, f)) => *f,
            None => {
                return Err(invalid(name, value).with_hint(
                    "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".",
                ))
            }
        }
    };
    // PostgreSQL rounds to the nearest, ties to even (rint).
    let ms = (n * factor).round_ties_even();
    if !ms.is_finite() || ms.abs() > MAX_MS * 2.0 {
        return Err(invalid(name, value).with_hint("Value exceeds integer range."));
    }
    if !(0.0..=MAX_MS).contains(&ms) {
        return Err(Error::new(
            code::INVALID_PARAMETER_VALUE,
            format!(
                "{ms} ms is outside the valid range for parameter \"{name}\" (0 .. {})",
                i32::MAX
            ),
        ));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// A Boolean setting's value as PostgreSQL accepts it (`on`/`off`,
/// `true`/`false`, `yes`/`no`, `1`/`0`, any case, quoted or not).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value
        .trim()
        .trim_matches('\'')
        .to_ascii_lowercase()
        .as_str()
    {
        "on" | "true" | "yes" | "1" | "t" | "y" => Some(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// A time setting as `SHOW` prints it: `0`, or the largest unit that
/// divides it (`100ms`, `1s`, `2min`, `3h`, `1d`).
pub fn show_millis(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0".into();
    }
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// The value of `SET search_path = a, "B", 'c d'` as PostgreSQL stores
/// and shows it: each name, quoted when it is not a plain lower-case
/// identifier, joined by `, `.
pub fn search_path(values: &[Expr]) -> String {
    values
        .iter()
        .map(|e| match e {
            Expr::Identifier(i) => quote_ident(&i.value),
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => quote_ident(s),
                other => quote_ident(&other.to_string()),
            },
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name`, double-quoted unless it is a plain lower-case identifier.
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Whether a SET value is the keyword `DEFAULT` (`SET x TO DEFAULT` means
/// `RESET x`).
pub fn is_default(values: &[Expr]) -> bool {
    matches!(values, [Expr::Identifier(i)] if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &str) -> std::result::Result<u128, String> {
        parse_millis("statement_timeout", v)
            .map(|d| d.as_millis())
            .map_err(|e| e.message)
    }

    #[test]
    fn timeouts_parse_as_postgresql_does() {
        assert_eq!(ms("100ms"), Ok(100));
        assert_eq!(ms("100"), Ok(100));
        assert_eq!(ms("1s"), Ok(1000));
        assert_eq!(ms(" 100 ms "), Ok(100));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("1.5"), Ok(2));
        assert_eq!(ms("500us"), Ok(0));
        assert_eq!(ms("2min"), Ok(120_000));
        assert_eq!(ms("0"), Ok(0));
        assert!(ms("abc").unwrap_err().contains("invalid value"));
        assert!(ms("10 sec").unwrap_err().contains("invalid value"));
        assert!(ms("1MS").unwrap_err().contains("invalid value"));
        assert_eq!(
            ms("-1").unwrap_err(),
            "-1 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)"
        );
        assert!(ms("1000000000000").unwrap_err().contains("invalid value"));
    }

    #[test]
    fn timeouts_show_in_the_largest_unit() {
        let show = |n: u64| show_millis(Duration::from_millis(n));
        assert_eq!(show(0), "0");
        assert_eq!(show(100), "100ms");
        assert_eq!(show(1000), "1s");
        assert_eq!(show(1500), "1500ms");
        assert_eq!(show(60_000), "1min");
        assert_eq!(show(10_800_000), "3h");
        assert_eq!(show(86_400_000), "1d");
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(quote_ident("public"), "public");
        assert_eq!(quote_ident("$user"), "\"$user\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("Mixed"), "\"Mixed\"");
    }
}
