//! The extended query protocol: Parse, Bind, Describe, Execute.
//!
//! Parse turns the SQL into a [`Prepared`] statement: its syntax tree, the
//! types of its parameters (the client's where it gave them, else inferred:
//! from DataFusion's plan for queries, from the target columns for
//! `INSERT … VALUES`, text otherwise) and, for queries, its result columns
//! (for Describe). Execute decodes the bound parameters (text or binary, by
//! type), puts them into the tree as typed literals and runs it like a
//! simple-protocol statement, with each column in the format the client
//! asked for.

use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::{
    self, visit_expressions, visit_expressions_mut, CastKind, DataType as AstType, Expr, SetExpr,
    Statement, TableObject, Value, ValueWithSpan,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::stmt::QueryParser;
use pgwire::api::{ClientInfo, Type};
use pgwire::error::PgWireResult;
use tokio::sync::Mutex;

use super::{rows, to_pgwire};
use crate::error::{code, Error, Result};
use crate::exec::ddl::{ident_name, split_name};
use crate::plan::types::{column_type, ColumnType};
use crate::session::Session;
use crate::types::arrow::sql_type_of_arrow;
use crate::types::binary::{decode_binary, type_from_oid, type_oid};
use crate::types::text::{format_text, parse_text, TextFormat};
use crate::types::{Datum, SqlType};

/// A parsed statement of the extended protocol.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The statement (`None`: an empty query).
    pub stmt: Statement,
    /// Parameter types, `$1` first.
    pub params: Vec<SqlType>,
    /// Result columns, for statements that return rows.
    pub columns: Vec<(String, SqlType)>,
}

/// Parses statements for one connection (it plans queries with the
/// connection's session to learn parameter and result types).
pub struct StatementParser {
    pub(super) session: Arc<Mutex<Session>>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Arc<Prepared>;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Arc<Prepared>>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        super::check_text(sql).map_err(to_pgwire)?;
        let mut stmts = Session::parse(sql).map_err(to_pgwire)?;
        if stmts.len() > 1 {
            return Err(to_pgwire(Error::syntax(
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        let Some(stmt) = stmts.pop() else {
            return Ok(None);
        };
        let given: Vec<Option<SqlType>> = types
            .iter()
            .map(|t| t.as_ref().and_then(|t| type_from_oid(t.oid())))
            .collect();
        let mut session = self.session.lock().await;
        let prepared = describe(&mut session, stmt, &given)
            .await
            .map_err(to_pgwire)?;
        Ok(Some(Arc::new(prepared)))
    }

    fn get_parameter_types(&self, stmt: &Arc<Prepared>) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .params
            .iter()
            .map(|t| Type::from_oid(type_oid(*t)).unwrap_or(Type::TEXT))
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Arc<Prepared>,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(rows::fields(&stmt.columns, |i| match format {
            Some(f) => f.format_for(i),
            None => FieldFormat::Text,
        }))
    }
}

/// The number of `$n` parameters a statement uses (the highest n).
fn count_params(stmt: &mut Statement) -> Result<usize> {
    let mut max = 0usize;
    let mut bad = None;
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(p),
            ..
        }) = e
        {
            match p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n >= 1 => max = max.max(n),
                _ => bad = Some(p.clone()),
            }
        }
        ControlFlow::<()>::Continue(())
    });
    match bad {
        Some(p) => Err(Error::syntax(format!("invalid parameter {p}"))),
        None => Ok(max),
    }
}

/// The `$n` a statement casts directly (`$1::bigint`), with the type.
fn cast_params(stmt: &Statement) -> Vec<(usize, SqlType)> {
    let mut out = Vec::new();
    let _ = visit_expressions(stmt, |e: &Expr| {
        if let Expr::Cast {
            expr, data_type, ..
        } = e
        {
            if let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) = expr.as_ref()
            {
                let n = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok());
                if let (Some(n), Ok(ColumnType::Plain(ty))) = (n, column_type(data_type)) {
                    if n >= 1 {
                        out.push((n, ty));
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// Parameter and result types of a statement (for Parse, and for SQL
/// `PREPARE`).
pub(crate) async fn describe(
    session: &mut Session,
    mut stmt: Statement,
    given: &[Option<SqlType>],
) -> Result<Prepared> {
    let n = count_params(&mut stmt)?.max(given.len());
    let mut params: Vec<Option<SqlType>> =
        (0..n).map(|i| given.get(i).copied().flatten()).collect();
    // `$n::type` gives `$n` that type, as in PostgreSQL (DataFusion leaves
    // a placeholder under a cast untyped).
    for (i, ty) in cast_params(&stmt) {
        if let Some(slot) = params.get_mut(i - 1) {
            slot.get_or_insert(ty);
        }
    }
    let mut columns = Vec::new();
    match &stmt {
        Statement::Query(_) => {
            let (inferred, cols) = session.describe_query(stmt.clone()).await?;
            infer_params(&mut params, inferred);
            columns = cols;
        }
        Statement::Update(_) | Statement::Delete(_) => {
            // Typed as the query that finds the rows types them (`id =
            // $1`: the key's type); one that does not plan stays text.
            if let Some(q) = finding_query(&stmt) {
                if let Ok((inferred, _)) = session.describe_query(q).await {
                    infer_params(&mut params, inferred);
                }
            }
        }
        Statement::Insert(ins) => {
            for (i, ty) in session.insert_param_types(ins).await? {
                if let Some(slot) = params.get_mut(i - 1) {
                    slot.get_or_insert(ty);
                }
            }
        }
        Statement::ShowVariable { .. } => columns = vec![("setting".into(), SqlType::Text)],
        Statement::Execute { .. } => {
            columns = super::prepare::execute_columns(session, &stmt).unwrap_or_default()
        }
        _ => {}
    }
    Ok(Prepared {
        stmt,
        params: params
            .into_iter()
            .map(|t| t.unwrap_or(SqlType::Text))
            .collect(),
        columns,
    })
}

/// Fills the parameter types still unknown with those DataFusion
/// inferred (by `$n` name).
fn infer_params(
    params: &mut [Option<SqlType>],
    inferred: std::collections::HashMap<String, Option<datafusion::arrow::datatypes::DataType>>,
) {
    for (name, ty) in inferred {
        if let Some(i) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            if let Some(slot) = i.checked_sub(1).and_then(|i| params.get_mut(i)) {
                if slot.is_none() {
                    *slot = ty.as_ref().map(sql_type_of_arrow);
                }
            }
        }
    }
}

/// For an UPDATE or DELETE of one table without FROM/USING: a query over
/// the table computing its SET expressions under its condition, whose
/// parameters DataFusion types.
fn finding_query(stmt: &Statement) -> Option<Statement> {
    let (table, items, selection) = match stmt {
        Statement::Update(u) if u.from.is_none() => {
            let items: Vec<String> = u
                .assignments
                .iter()
                .map(|a| format!("({})", a.value))
                .collect();
            (&u.table, items, u.selection.as_ref())
        }
        Statement::Delete(d) if d.using.is_none() => {
            let (ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from)) =
                &d.from;
            let [table] = from.as_slice() else {
                return None;
            };
            (table, Vec::new(), d.selection.as_ref())
        }
        _ => return None,
    };
    let items = if items.is_empty() {
        "1".to_string()
    } else {
        items.join(", ")
    };
    let mut sql = format!("SELECT {items} FROM {table}");
    if let Some(w) = selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    Session::parse(&sql).ok()?.pop()
}

/// The `$n` placed directly in `INSERT … VALUES` rows, with the type of
/// the column each fills.
pub fn values_params(
    ins: &ast::Insert,
    column_types: &[(String, SqlType)],
) -> Vec<(usize, SqlType)> {
    let mut out = Vec::new();
    let Some(src) = &ins.source else { return out };
    let SetExpr::Values(values) = src.body.as_ref() else {
        return out;
    };
    let targets: Vec<SqlType> = if ins.columns.is_empty() {
        column_types.iter().map(|c| c.1).collect()
    } else {
        ins.columns
            .iter()
            .map(|n| {
                let name =
                    n.0.last()
                        .and_then(|p| p.as_ident())
                        .map(ident_name)
                        .unwrap_or_default();
                column_types
                    .iter()
                    .find(|c| c.0 == name)
                    .map(|c| c.1)
                    .unwrap_or(SqlType::Text)
            })
            .collect()
    };
    for row in &values.rows {
        for (e, ty) in row.iter().zip(&targets) {
            if let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) = e
            {
                if let Some(n) = p.strip_prefix('$').and_then(|n| n.parse().ok()) {
                    out.push((n, *ty));
                }
            }
        }
    }
    out
}

/// The table an INSERT writes, as `(schema, name)`.
pub fn insert_target(ins: &ast::Insert) -> Result<(String, String)> {
    match &ins.table {
        TableObject::TableName(n) => split_name(n),
        _ => Err(Error::unsupported("INSERT into a table function")),
    }
}

/// Decodes the bound parameters of a portal.
pub fn bind_params(portal: &Portal<Arc<Prepared>>, format: &TextFormat) -> Result<Vec<Datum>> {
    let types = &portal.statement.statement.params;
    if portal.parameters.len() != types.len() {
        return Err(Error::new(
            code::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameters.len(),
                types.len()
            ),
        ));
    }
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let ty = types[i];
            let Some(bytes) = raw else {
                return Ok(Datum::Null);
            };
            match portal.parameter_format.format_for(i) {
                FieldFormat::Binary => decode_binary(bytes, ty)
                    .map_err(|e| Error::new(code::INVALID_BINARY_REPRESENTATION, e.to_string())),
                FieldFormat::Text => {
                    let s = std::str::from_utf8(bytes).map_err(|_| {
                        Error::new(
                            code::CHARACTER_NOT_IN_REPERTOIRE,
                            "invalid byte sequence for encoding \"UTF8\"",
                        )
                    })?;
                    Ok(parse_text(s, ty, format)?)
                }
            }
        })
        .collect()
}

/// The statement with its parameters replaced by literals of their types.
pub fn substitute(stmt: &Statement, params: &[(Datum, SqlType)], format: &TextFormat) -> Statement {
    let mut stmt = stmt.clone();
    let _ = visit_expressions_mut(&mut stmt, |e: &mut Expr| {
        if let Expr::Value(ValueWithSpan {
            value: Value::Placeholder(p),
            ..
        }) = e
        {
            if let Some((d, ty)) = p
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| params.get(n - 1))
            {
                *e = literal(d, *ty, format);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    stmt
}

/// A datum as a SQL literal of its type.
fn literal(d: &Datum, ty: SqlType, format: &TextFormat) -> Expr {
    let value = |v: Value| Expr::Value(v.into());
    match d {
        Datum::Null => return value(Value::Null),
        Datum::Bool(b) => return value(Value::Boolean(*b)),
        Datum::Text(s) if matches!(ty, SqlType::Text | SqlType::Varchar(None)) => {
            return value(Value::SingleQuotedString(s.clone()))
        }
        _ => {}
    }
    let text = format_text(d, ty, format);
    Expr::Cast {
        kind: CastKind::DoubleColon,
        expr: Box::new(value(Value::SingleQuotedString(text))),
        data_type: ast_type(ty),
        array: false,
        format: None,
    }
}

/// The parser's name of a SQL type (for casts of bound literals).
pub(crate) fn ast_type(ty: SqlType) -> AstType {
    use datafusion::sql::sqlparser::ast::{CharacterLength, ExactNumberInfo, TimezoneInfo};
    match ty {
        SqlType::Bool => AstType::Boolean,
        SqlType::Int2 => AstType::SmallInt(None),
        SqlType::Int4 => AstType::Int(None),
        SqlType::Int8 => AstType::BigInt(None),
        SqlType::Float4 => AstType::Real,
        SqlType::Float8 => AstType::DoublePrecision,
        SqlType::Numeric(None) => AstType::Numeric(ExactNumberInfo::None),
        SqlType::Numeric(Some((p, s))) => {
            AstType::Numeric(ExactNumberInfo::PrecisionAndScale(p as u64, s as i64))
        }
        SqlType::Varchar(Some(n)) | SqlType::Char(n) => {
            AstType::Varchar(Some(CharacterLength::IntegerLength {
                length: n as u64,
                unit: None,
            }))
        }
        SqlType::Bytea => AstType::Bytea,
        SqlType::Date => AstType::Date,
        SqlType::Time => AstType::Time(None, TimezoneInfo::None),
        SqlType::Timestamp => AstType::Timestamp(None, TimezoneInfo::None),
        SqlType::TimestampTz => AstType::Timestamp(None, TimezoneInfo::WithTimeZone),
        SqlType::Interval => AstType::Interval {
            fields: None,
            precision: None,
        },
        SqlType::Text | SqlType::Varchar(None) | SqlType::Uuid | SqlType::Json | SqlType::Jsonb => {
            AstType::Text
        }
    }
}

/// Column formats a portal asked for.
pub fn result_formats(portal: &Portal<Arc<Prepared>>, n: usize) -> Vec<FieldFormat> {
    (0..n)
        .map(|i| portal.result_column_format.format_for(i))
        .collect()
}
