//! Sequence names: the text `nextval('…')` takes (PostgreSQL's text to
//! `regclass`), and the names PostgreSQL makes up for the sequences of
//! SERIAL and IDENTITY columns.

use std::sync::Arc;

use crate::catalog::{Catalog, TableDesc, DEFAULT_DATABASE, DEFAULT_SCHEMA};
use crate::error::{code, Error, Result};

/// Longest identifier, in bytes (PostgreSQL's NAMEDATALEN - 1).
pub const MAX_IDENTIFIER: usize = 63;

fn invalid_name() -> Error {
    Error::new(code::INVALID_NAME, "invalid name syntax")
}

/// `s` cut to at most `max` bytes on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The dotted parts of a relation name written as text (`s`,
/// `public.s`, `"MySeq"`): unquoted parts fold to lower case, quoted ones
/// keep their case (`""` is a quote), blanks around parts are ignored.
pub fn split_text_name(text: &str) -> Result<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut part = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => return Err(invalid_name()),
                    Some('"') if chars.next_if_eq(&'"').is_some() => part.push('"'),
                    Some('"') => break,
                    Some(c) => part.push(c),
                }
            }
            if part.is_empty() {
                return Err(invalid_name());
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != '.' && !c.is_whitespace()) {
                part.extend(c.to_lowercase());
            }
            if part.is_empty() {
                return Err(invalid_name());
            }
        }
        parts.push(clip(&part, MAX_IDENTIFIER).to_string());
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(parts),
            Some('.') => continue,
            Some(_) => return Err(invalid_name()),
        }
    }
}

/// The object a text name (as `nextval` takes it) names: 42P01 when there
/// is none, 3F000 for an unknown schema, 42602 for a malformed name.
pub fn resolve<'c>(catalog: &'c Catalog, text: &str) -> Result<&'c Arc<TableDesc>> {
    let parts = split_text_name(text)?;
    let (schema, name) = match parts.as_slice() {
        [n] => (DEFAULT_SCHEMA, n),
        [s, n] => (s.as_str(), n),
        [db, s, n] => {
            if db != DEFAULT_DATABASE {
                return Err(Error::new(
                    code::FEATURE_NOT_SUPPORTED,
                    format!("cross-database references are not implemented: \"{db}.{s}.{n}\""),
                ));
            }
            (s.as_str(), n)
        }
        _ => {
            return Err(Error::syntax(format!(
                "improper relation name (too many dotted names): {}",
                parts.join(".")
            )))
        }
    };
    if catalog.schema(schema).is_none() {
        return Err(Error::new(
            code::UNDEFINED_SCHEMA,
            format!("schema \"{schema}\" does not exist"),
        ));
    }
    catalog.find(schema, name).ok_or_else(|| {
        let shown = if parts.len() == 1 {
            name.clone()
        } else {
            format!("{schema}.{name}")
        };
        Error::undefined_table(&shown)
    })
}

/// PostgreSQL's `makeObjectName`: `name1_name2_label`, the two names cut
/// (the longer first) so that the whole fits in an identifier.
pub fn object_name(name1: &str, name2: &str, label: &str) -> String {
    let avail = MAX_IDENTIFIER.saturating_sub(2 + label.len());
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    format!("{}_{}_{label}", clip(name1, n1), clip(name2, n2))
}

/// PostgreSQL's `ChooseRelationName` for a column's sequence:
/// `table_column_seq`, or `…_seq1`, `…_seq2`, … when `taken` says a name
/// is in use.
pub fn choose_sequence_name(table: &str, column: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut label = "seq".to_string();
    let mut pass = 0;
    loop {
        let name = object_name(table, column, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
        label = format!("seq{pass}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_fold_unquoted_parts_and_keep_quoted_ones() {
        let ok = |t: &str| split_text_name(t).unwrap();
        assert_eq!(ok("s"), vec!["s"]);
        assert_eq!(ok(" S "), vec!["s"]);
        assert_eq!(ok("public.S"), vec!["public", "s"]);
        assert_eq!(ok("\"MixedCase\""), vec!["MixedCase"]);
        assert_eq!(ok("public . \"a\"\"b\""), vec!["public", "a\"b"]);
        for bad in ["", "d4 x", "\"d4\"x", "\"open", "a..b", "\"\"", "a."] {
            assert_eq!(
                split_text_name(bad).unwrap_err().code,
                code::INVALID_NAME,
                "{bad}"
            );
        }
    }

    #[test]
    fn made_up_names_are_postgres_ones() {
        assert_eq!(choose_sequence_name("t", "id", |_| false), "t_id_seq");
        assert_eq!(
            choose_sequence_name("a", "b", |n| n == "a_b_seq"),
            "a_b_seq1"
        );
        let long = "x".repeat(70);
        let n = object_name(&long, "id", "seq");
        assert_eq!(n.len(), MAX_IDENTIFIER);
        assert!(n.ends_with("_id_seq"));
    }
}
