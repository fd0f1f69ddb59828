//! SQL-level prepared statements: `PREPARE name [(types)] AS statement`,
//! `EXECUTE name [(arguments)]`, `DEALLOCATE [PREPARE] name | ALL`.
//!
//! They belong to the session (not to its transaction: a rolled-back
//! PREPARE stays, as in PostgreSQL) and are described once, like an
//! extended-protocol Parse ([`super::extended`]). EXECUTE puts each
//! argument expression in place of its `$n`, cast to the parameter's type,
//! and runs the result as the statement itself (its completion tag is the
//! prepared statement's: `SELECT 2`, `INSERT 0 1`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, CastKind, Expr, Ident, ObjectName, Statement, Value, ValueWithSpan,
};

use super::extended::{ast_type, describe, Prepared};
use crate::error::{code, Error, Result};
use crate::exec::ddl::ident_name;
use crate::plan::types::{column_type, ColumnType};
use crate::session::{Outcome, Session};
use crate::types::SqlType;

/// A session's prepared statements, by name.
#[derive(Debug, Default)]
pub struct PreparedStatements {
    by_name: BTreeMap<String, Arc<Prepared>>,
}

impl PreparedStatements {
    /// The statement prepared as `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Prepared>> {
        self.by_name.get(name)
    }
}

fn not_found(name: &str) -> Error {
    Error::new(
        code::INVALID_SQL_STATEMENT_NAME,
        format!("prepared statement \"{name}\" does not exist"),
    )
}

/// The name an `EXECUTE` names.
fn object_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(ident_name)
        .unwrap_or_default()
}

/// `PREPARE name [(types)] AS statement`.
pub async fn prepare(session: &mut Session, stmt: Statement) -> Result<Outcome> {
    let Statement::Prepare {
        name,
        data_types,
        statement,
    } = stmt
    else {
        return Err(Error::internal("not a PREPARE"));
    };
    let name = ident_name(&name);
    if session.prepared.by_name.contains_key(&name) {
        return Err(Error::new(
            code::DUPLICATE_PSTATEMENT,
            format!("prepared statement \"{name}\" already exists"),
        ));
    }
    if !matches!(
        *statement,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)
    ) {
        let first = statement.to_string();
        let first = first.split_whitespace().next().unwrap_or_default();
        return Err(Error::syntax(format!(
            "syntax error at or near \"{first}\""
        )));
    }
    let given = data_types
        .iter()
        .map(|t| {
            Ok(Some(match column_type(t)? {
                ColumnType::Plain(t) => t,
                ColumnType::Serial(_) => {
                    return Err(Error::new(
                        code::UNDEFINED_OBJECT,
                        format!("type \"{t}\" does not exist"),
                    ))
                }
            }))
        })
        .collect::<Result<Vec<Option<SqlType>>>>()?;
    let prepared = describe(session, *statement, &given).await?;
    session.prepared.by_name.insert(name, Arc::new(prepared));
    Ok(Outcome::Command("PREPARE".into()))
}

/// The statement an `EXECUTE` stands for, with its arguments in place;
/// any other statement as it is.
pub fn resolve(session: &Session, stmt: Statement) -> Result<Statement> {
    let Statement::Execute {
        name: Some(name),
        parameters,
        immediate: false,
        into,
        using,
        ..
    } = &stmt
    else {
        return Ok(stmt);
    };
    if !into.is_empty() || !using.is_empty() {
        return Err(Error::syntax(
            "EXECUTE … INTO/USING is not PostgreSQL syntax",
        ));
    }
    let name = object_name(name);
    let prepared = session
        .prepared
        .get(&name)
        .ok_or_else(|| not_found(&name))?;
    if parameters.len() != prepared.params.len() {
        return Err(Error::syntax(format!(
            "wrong number of parameters for prepared statement \"{name}\""
        ))
        .with_detail(format!(
            "Expected {} parameters but got {}.",
            prepared.params.len(),
            parameters.len()
        )));
    }
    let args: Vec<Expr> = parameters
        .iter()
        .zip(&prepared.params)
        .map(|(arg, ty)| Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(Expr::Nested(Box::new(arg.clone()))),
            data_type: ast_type(*ty),
            array: false,
            format: None,
        })
        .collect();
    let mut out = prepared.stmt.clone();
    let _ = visit_expressions_mut(&mut out, |e: &mut Expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(p),
            ..
        }) = e
        {
            if let Some(arg) = p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| args.get(i))
            {
                *e = arg.clone();
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    Ok(out)
}

/// `DEALLOCATE [PREPARE] name | ALL`.
pub fn deallocate(session: &mut Session, name: &Ident) -> Result<Outcome> {
    if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
        session.prepared.by_name.clear();
        return Ok(Outcome::Command("DEALLOCATE ALL".into()));
    }
    let name = ident_name(name);
    match session.prepared.by_name.remove(&name) {
        Some(_) => Ok(Outcome::Command("DEALLOCATE".into())),
        None => Err(not_found(&name)),
    }
}

/// The result columns of `EXECUTE name`, for the extended protocol's
/// Describe.
pub fn execute_columns(session: &Session, stmt: &Statement) -> Option<Vec<(String, SqlType)>> {
    match stmt {
        Statement::Execute {
            name: Some(name), ..
        } => session
            .prepared
            .get(&object_name(name))
            .map(|p| p.columns.clone()),
        _ => None,
    }
}
