//! Sequence statements the SQL parser (sqlparser 0.62) does not take as
//! PostgreSQL does, tried again when it refuses a query string:
//!
//! - `CREATE SEQUENCE` with its options in any order (`pg_dump` writes
//!   `START WITH` before `INCREMENT BY`; the parser wants one fixed order):
//!   the options are put in the parser's order and the string parsed again.
//! - The same options in `GENERATED … AS IDENTITY ( … )`.
//! - `ALTER SEQUENCE`, which the parser does not know: 0A000 with a hint,
//!   rather than a syntax error.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::{Error, Result};

/// The statements of `sql`, after the parser refused it with `e`: parsed
/// again with CREATE SEQUENCE options reordered, or the error to report.
pub fn reparse(sql: &str, e: ParserError) -> Result<Vec<Statement>> {
    let original = || Error::syntax(e.to_string());
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Err(original());
    };
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut changed = false;
    for (n, stmt) in tokens.split(|t| *t == Token::SemiColon).enumerate() {
        if n > 0 {
            out.push(Token::SemiColon);
        }
        let significant: Vec<Token> = stmt
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
            .cloned()
            .collect();
        if is_word(significant.first(), Keyword::ALTER)
            && is_word(significant.get(1), Keyword::SEQUENCE)
        {
            return Err(Error::unsupported("ALTER SEQUENCE")
                .with_hint("To restart a sequence, use setval('name', value, false)."));
        }
        let reordered = match reorder_create_sequence(&significant)? {
            Some(r) => Some(r),
            None => reorder_identity_options(&significant)?,
        };
        match reordered {
            Some(reordered) => {
                changed = true;
                for t in reordered {
                    out.push(t);
                    out.push(Token::Whitespace(Whitespace::Space));
                }
            }
            None => out.extend(stmt.iter().filter(|t| **t != Token::EOF).cloned()),
        }
    }
    if !changed {
        return Err(original());
    }
    Parser::new(&dialect)
        .with_tokens(out)
        .parse_statements()
        .map_err(|_| original())
}

fn is_word(t: Option<&Token>, k: Keyword) -> bool {
    matches!(t, Some(Token::Word(w)) if w.keyword == k && w.quote_style.is_none())
}

/// A statement's tokens with the option lists of its
/// `… AS IDENTITY ( options )` in the parser's order; `None` when there
/// is nothing to change.
fn reorder_identity_options(stmt: &[Token]) -> Result<Option<Vec<Token>>> {
    let mut out = Vec::with_capacity(stmt.len());
    let mut changed = false;
    let mut i = 0;
    while i < stmt.len() {
        out.push(stmt[i].clone());
        if is_word(stmt.get(i), Keyword::IDENTITY) && stmt.get(i + 1) == Some(&Token::LParen) {
            if let Some(len) = stmt[i + 2..].iter().position(|t| *t == Token::RParen) {
                let options = &stmt[i + 2..i + 2 + len];
                if let Some(reordered) = reorder_clauses(options)? {
                    changed = true;
                    out.push(Token::LParen);
                    out.extend(reordered);
                    i += 2 + len;
                    continue;
                }
            }
        }
        i += 1;
    }
    Ok(changed.then_some(out))
}

/// The parser's order of CREATE SEQUENCE clauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Clause {
    Increment,
    MinValue,
    MaxValue,
    Start,
    Cache,
    Cycle,
    OwnedBy,
}

/// A CREATE SEQUENCE's tokens with its clauses in the parser's order;
/// `None` when `stmt` is something else or has clauses this cannot read
/// (the parser's error then stands).
fn reorder_create_sequence(stmt: &[Token]) -> Result<Option<Vec<Token>>> {
    let mut i = 0;
    let at = |i: usize, k: Keyword| is_word(stmt.get(i), k);
    if !at(i, Keyword::CREATE) {
        return Ok(None);
    }
    i += 1;
    if at(i, Keyword::TEMP) || at(i, Keyword::TEMPORARY) {
        i += 1;
    }
    if !at(i, Keyword::SEQUENCE) {
        return Ok(None);
    }
    i += 1;
    if at(i, Keyword::IF) && at(i + 1, Keyword::NOT) && at(i + 2, Keyword::EXISTS) {
        i += 3;
    }
    // The name: words joined by dots.
    loop {
        if !matches!(stmt.get(i), Some(Token::Word(_))) {
            return Ok(None);
        }
        i += 1;
        if stmt.get(i) == Some(&Token::Period) {
            i += 1;
        } else {
            break;
        }
    }
    if at(i, Keyword::AS) {
        i += 1;
        if !matches!(stmt.get(i), Some(Token::Word(_))) {
            return Ok(None);
        }
        i += 1;
    }
    let head = &stmt[..i];
    Ok(reorder_clauses(&stmt[i..])?.map(|tail| {
        let mut out = head.to_vec();
        out.extend(tail);
        out
    }))
}

/// Sequence option clauses (`INCREMENT BY 2 START 5 …`) in the parser's
/// order; `None` when they already are, or when something is not one.
fn reorder_clauses(stmt: &[Token]) -> Result<Option<Vec<Token>>> {
    let at = |i: usize, k: Keyword| is_word(stmt.get(i), k);
    let mut i = 0;
    let mut clauses: Vec<(Clause, &[Token])> = Vec::new();
    // A number, optionally signed: how many tokens it takes.
    let number = |i: usize| match (stmt.get(i), stmt.get(i + 1)) {
        (Some(Token::Number(..)), _) => Some(1),
        (Some(Token::Minus | Token::Plus), Some(Token::Number(..))) => Some(2),
        _ => None,
    };
    while i < stmt.len() {
        let start = i;
        let clause = if at(i, Keyword::INCREMENT) {
            i += 1;
            if at(i, Keyword::BY) {
                i += 1;
            }
            i += number(i).unwrap_or(0);
            Clause::Increment
        } else if at(i, Keyword::MINVALUE) || at(i, Keyword::MAXVALUE) {
            let c = if at(i, Keyword::MINVALUE) {
                Clause::MinValue
            } else {
                Clause::MaxValue
            };
            i += 1;
            i += number(i).unwrap_or(0);
            c
        } else if at(i, Keyword::NO)
            && (at(i + 1, Keyword::MINVALUE) || at(i + 1, Keyword::MAXVALUE))
        {
            let c = if at(i + 1, Keyword::MINVALUE) {
                Clause::MinValue
            } else {
                Clause::MaxValue
            };
            i += 2;
            c
        } else if at(i, Keyword::START) {
            i += 1;
            if at(i, Keyword::WITH) {
                i += 1;
            }
            i += number(i).unwrap_or(0);
            Clause::Start
        } else if at(i, Keyword::CACHE) {
            i += 1;
            i += number(i).unwrap_or(0);
            Clause::Cache
        } else if at(i, Keyword::CYCLE) {
            i += 1;
            Clause::Cycle
        } else if at(i, Keyword::NO) && at(i + 1, Keyword::CYCLE) {
            i += 2;
            Clause::Cycle
        } else if at(i, Keyword::OWNED) && at(i + 1, Keyword::BY) {
            i += 2;
            while matches!(stmt.get(i), Some(Token::Word(_)) | Some(Token::Period)) {
                i += 1;
            }
            Clause::OwnedBy
        } else {
            return Ok(None);
        };
        if clauses.iter().any(|(c, _)| *c == clause) {
            return Err(Error::syntax("conflicting or redundant options"));
        }
        clauses.push((clause, &stmt[start..i]));
    }
    if clauses.windows(2).all(|w| w[0].0 < w[1].0) {
        return Ok(None);
    }
    clauses.sort_by_key(|(c, _)| *c);
    let mut out = Vec::new();
    for (_, tokens) in clauses {
        out.extend_from_slice(tokens);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;

    fn parse(sql: &str) -> Result<Vec<Statement>> {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).or_else(|e| reparse(sql, e))
    }

    #[test]
    fn create_sequence_options_come_in_any_order() {
        let s = parse(
            "CREATE SEQUENCE public.t_id_seq AS integer START WITH 5 INCREMENT BY -1 NO MINVALUE MAXVALUE 10 CACHE 1; SELECT 1",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].to_string(),
            "CREATE SEQUENCE public.t_id_seq AS INTEGER INCREMENT BY -1 NO MINVALUE MAXVALUE 10 START WITH 5 CACHE 1"
        );
        assert_eq!(
            parse("CREATE SEQUENCE s CYCLE START 3").unwrap()[0].to_string(),
            "CREATE SEQUENCE s START 3 CYCLE"
        );
        assert_eq!(
            parse("CREATE SEQUENCE s START 1 START 2").unwrap_err().code,
            code::SYNTAX_ERROR
        );
        assert_eq!(
            parse("CREATE SEQUENCE s BOGUS 1").unwrap_err().code,
            code::SYNTAX_ERROR
        );
        assert_eq!(
            parse("CREATE TABLE t (a int GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5), b text)")
                .unwrap()[0]
                .to_string(),
            "CREATE TABLE t (a INT GENERATED ALWAYS AS IDENTITY ( INCREMENT BY 5 START WITH 10 ), b TEXT)"
        );
    }

    #[test]
    fn alter_sequence_is_refused_as_unsupported() {
        let e = parse("ALTER SEQUENCE s RESTART WITH 5").unwrap_err();
        assert_eq!(e.code, code::FEATURE_NOT_SUPPORTED);
        assert_eq!(parse("SELEC 1").unwrap_err().code, code::SYNTAX_ERROR);
    }
}
