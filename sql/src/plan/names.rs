//! Result column names as PostgreSQL gives them: a column reference is
//! named after the column, a function call after the function, a cast
//! after the type, `CASE` is `case`, and anything else is `?column?`.
//! (DataFusion names columns after the whole expression, `Int64(1)`.)

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, Query, SelectItem, SetExpr, Statement, TimezoneInfo,
};

use super::types::{column_type, ColumnType};
use crate::exec::ddl::ident_name;
use crate::types::binary::type_oid;
use crate::types::SqlType;

/// PostgreSQL's names of a query's result columns, where they can be told
/// from its text (`None` for a column whose name DataFusion already gets
/// right, and `None` altogether for a `*` select list).
pub fn output_names(stmt: &Statement) -> Option<Vec<Option<String>>> {
    match stmt {
        Statement::Query(q) => query_names(q),
        _ => None,
    }
}

fn query_names(q: &Query) -> Option<Vec<Option<String>>> {
    body_names(&q.body)
}

fn body_names(body: &SetExpr) -> Option<Vec<Option<String>>> {
    match body {
        SetExpr::Select(s) => s
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => Some(Some(expr_name(e))),
                SelectItem::ExprWithAlias { alias, .. } => Some(Some(ident_name(alias))),
                _ => None,
            })
            .collect(),
        SetExpr::SetOperation { left, .. } => body_names(left),
        SetExpr::Query(q) => query_names(q),
        _ => None,
    }
}

/// Gives the unaliased items of a query's select list whose PostgreSQL
/// names repeat an earlier item's (`SELECT 1, 1`, `SELECT t.id, u.id`) an
/// alias of their own: PostgreSQL allows duplicate result names,
/// DataFusion's projections do not. The names the client sees still come
/// from [`output_names`] of the statement as written.
pub fn alias_duplicate_names(stmt: &mut Statement) {
    let Statement::Query(q) = stmt else { return };
    let SetExpr::Select(s) = q.body.as_mut() else {
        return;
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in s.projection.iter_mut().enumerate() {
        let name = match item {
            SelectItem::UnnamedExpr(e) => expr_name(e),
            SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
            _ => continue,
        };
        if seen.contains(&name) {
            if let SelectItem::UnnamedExpr(e) = item {
                *item = SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: datafusion::sql::sqlparser::ast::Ident::with_quote(
                        '"',
                        format!("{name}#{i}"),
                    ),
                };
            }
        }
        seen.push(name);
    }
}

/// The name PostgreSQL gives a result column computed by `e`.
pub fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => ident_name(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident_name)
            .unwrap_or_else(|| "?column?".into()),
        Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            // A cast of a column keeps the column's name.
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => expr_name(expr),
            _ => type_label(data_type),
        },
        Expr::Nested(inner) => expr_name(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Subquery(q) => query_names(q)
            .and_then(|n| n.into_iter().next().flatten())
            .unwrap_or_else(|| "?column?".into()),
        _ => "?column?".into(),
    }
}

/// PostgreSQL's internal name of a type, as casts are named.
fn type_label(dt: &DataType) -> String {
    if let DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) = dt {
        return "timestamptz".into();
    }
    match column_type(dt) {
        Ok(ColumnType::Plain(t)) | Ok(ColumnType::Serial(t)) => internal_name(t).into(),
        Err(_) => "?column?".into(),
    }
}

fn internal_name(t: SqlType) -> &'static str {
    match type_oid(t) {
        16 => "bool",
        17 => "bytea",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        114 => "json",
        700 => "float4",
        701 => "float8",
        1042 => "bpchar",
        1043 => "varchar",
        1082 => "date",
        1083 => "time",
        1114 => "timestamp",
        1184 => "timestamptz",
        1186 => "interval",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        _ => "?column?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;

    fn names(sql: &str) -> Vec<Option<String>> {
        let stmt = Session::parse(sql).unwrap().pop().unwrap();
        output_names(&stmt).unwrap()
    }

    #[test]
    fn columns_are_named_as_postgres_names_them() {
        let n = names("SELECT 1, a, t.b, count(*), 1::int, 2 AS x, (c), CASE WHEN true THEN 1 END, now()::date FROM t");
        let n: Vec<String> = n.into_iter().map(|n| n.unwrap()).collect();
        assert_eq!(
            n,
            vec!["?column?", "a", "b", "count", "int4", "x", "c", "case", "date"]
        );
        assert!(output_names(&Session::parse("SELECT * FROM t").unwrap()[0]).is_none());
    }
}

/// Result columns with PostgreSQL's names where the query text tells them
/// (`names` from [`output_names`]).
pub fn named(
    mut columns: Vec<(String, crate::types::SqlType)>,
    names: Option<Vec<Option<String>>>,
) -> Vec<(String, crate::types::SqlType)> {
    if let Some(names) = names.filter(|n| n.len() == columns.len()) {
        for (c, n) in columns.iter_mut().zip(names) {
            if let Some(n) = n {
                c.0 = n;
            }
        }
    }
    columns
}
