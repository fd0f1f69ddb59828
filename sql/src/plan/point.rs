//! Point selects: `SELECT columns FROM t WHERE pk = value [AND …]`, every
//! primary-key column fixed by an equality and nothing else asked, read
//! with one key lookup instead of a DataFusion plan; and point writes,
//! `UPDATE`/`DELETE` with such a condition ([`point_target`]), which read
//! and change their row without a query plan (`exec::point`).
//!
//! Planning such a statement with DataFusion costs far more than reading
//! its row (a session state, the analyzer and optimizer passes, a physical
//! plan: about two thirds of a point select's CPU). [`point_select`]
//! recognises the shape on the syntax tree and yields the key to read; any
//! statement it is not sure about (another clause, an expression, a
//! comparison PostgreSQL would type differently, a view) is left to
//! DataFusion, which stays the one place of SQL semantics. Bound
//! parameters arrive as typed literals (`'5'::integer`, see
//! `server::extended::substitute`), so prepared and simple statements take
//! the same path.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, Expr, GroupByExpr, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableFactor, TableWithJoins,
    UnaryOperator, Value,
};

use super::ranges::{describe, EncodedRange};
use super::types::{column_type, ColumnType};
use crate::catalog::{Catalog, TableDesc};
use crate::codec::key::{row_key, KeyColumn, INDEX_PREFIX_LEN};
use crate::exec::ddl::{ident_name, split_name};
use crate::types::text::{parse_text, TextFormat};
use crate::types::{Datum, SqlType};

/// A point select, ready to read.
#[derive(Debug, Clone)]
pub struct PointSelect {
    /// The table read.
    pub table: Arc<TableDesc>,
    /// The row's key; `None` when no row can match (`id = NULL`, a value
    /// out of the column type's range).
    pub key: Option<Vec<u8>>,
    /// The result columns: name, column id and type, in select-list order.
    pub columns: Vec<(String, u32, SqlType)>,
}

impl PointSelect {
    /// The one line `EXPLAIN` shows for it.
    pub fn describe(&self) -> String {
        let key = match &self.key {
            Some(k) => {
                // The primary key's bytes, after any bucket byte.
                let prefix = INDEX_PREFIX_LEN + usize::from(self.table.buckets > 0);
                let range = EncodedRange {
                    start: k.clone(),
                    end: Vec::new(),
                    point: true,
                };
                describe(&range, prefix)
            }
            None => "none (no row can match)".to_string(),
        };
        format!("PointGet: table={} key={key}", self.table.name)
    }
}

/// The point select `stmt` is, if it is one (see the module doc).
pub fn point_select(
    catalog: &Catalog,
    stmt: &Statement,
    format: &TextFormat,
) -> Option<PointSelect> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let select = plain_select(q)?;
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let (table, qualifier) = table_of(catalog, &from.relation)?;
    let columns = projection(&table, &qualifier, &select.projection)?;
    let fixed = key_values(&table, &qualifier, select.selection.as_ref()?, format)?;
    let key = match fixed {
        Some(values) => Some(key_of(&table, &values)?),
        None => None,
    };
    Some(PointSelect {
        table,
        key,
        columns,
    })
}

/// The row an UPDATE or DELETE of `target` with condition `selection`
/// changes, when it is a point write: one table (no alias, no join) with
/// a primary key, every key column fixed by an equality and nothing else
/// in the condition. The key is `None` when no row can match.
pub fn point_target(
    catalog: &Catalog,
    target: &TableWithJoins,
    selection: Option<&Expr>,
    format: &TextFormat,
) -> Option<(Arc<TableDesc>, Option<Vec<u8>>)> {
    if !target.joins.is_empty() {
        return None;
    }
    let TableFactor::Table { alias: None, .. } = &target.relation else {
        return None;
    };
    let (table, qualifier) = table_of(catalog, &target.relation)?;
    let key = match key_values(&table, &qualifier, selection?, format)? {
        Some(values) => Some(key_of(&table, &values)?),
        None => None,
    };
    Some((table, key))
}

/// The row key of `table` whose primary-key columns hold `values`.
fn key_of(table: &TableDesc, values: &[Datum]) -> Option<Vec<u8>> {
    let parts: Vec<KeyColumn<'_>> = table
        .primary
        .columns
        .iter()
        .zip(values)
        .map(|((id, desc), d)| Some((d, table.column_by_id(*id)?.ty, *desc)))
        .collect::<Option<_>>()?;
    row_key(table.id, table.buckets, &parts).ok()
}

/// The SELECT of a query with no clause but the select list, one FROM item
/// and WHERE.
fn plain_select(q: &Query) -> Option<&Select> {
    let plain_query = q.with.is_none()
        && q.order_by.is_none()
        && q.limit_clause.is_none()
        && q.fetch.is_none()
        && q.locks.is_empty()
        && q.for_clause.is_none()
        && q.settings.is_none()
        && q.format_clause.is_none()
        && q.pipe_operators.is_empty();
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let no_grouping = match &s.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => exprs.is_empty() && modifiers.is_empty(),
        GroupByExpr::All(_) => false,
    };
    let plain_select = s.optimizer_hints.is_empty()
        && s.distinct.is_none()
        && s.select_modifiers.is_none()
        && s.top.is_none()
        && s.exclude.is_none()
        && s.into.is_none()
        && s.lateral_views.is_empty()
        && s.prewhere.is_none()
        && s.connect_by.is_empty()
        && no_grouping
        && s.cluster_by.is_empty()
        && s.distribute_by.is_empty()
        && s.sort_by.is_empty()
        && s.having.is_none()
        && s.named_window.is_empty()
        && s.qualify.is_none()
        && s.value_table_mode.is_none();
    (plain_query && plain_select).then_some(s.as_ref())
}

/// The table a FROM item names, and the name its columns are qualified
/// with (its alias, else its own name).
fn table_of(catalog: &Catalog, relation: &TableFactor) -> Option<(Arc<TableDesc>, String)> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        json_path: None,
        sample: None,
        index_hints,
    } = relation
    else {
        return None;
    };
    if !with_hints.is_empty() || !partitions.is_empty() || !index_hints.is_empty() {
        return None;
    }
    let (schema, table_name) = split_name(name).ok()?;
    let table = catalog.find(&schema, &table_name)?.clone();
    if !table.is_table() || table.has_hidden_rowid() {
        return None;
    }
    let qualifier = match alias {
        None => table_name,
        Some(a) if a.columns.is_empty() && a.at.is_none() => ident_name(&a.name),
        Some(_) => return None,
    };
    Some((table, qualifier))
}

/// The column `e` names, if it is a (possibly qualified) visible column
/// of `table`.
fn column_ref<'t>(
    table: &'t TableDesc,
    qualifier: &str,
    e: &Expr,
) -> Option<&'t crate::catalog::ColumnDesc> {
    let name = match e {
        Expr::Identifier(i) => ident_name(i),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, c] if ident_name(q) == qualifier => ident_name(c),
            _ => return None,
        },
        Expr::Nested(inner) => return column_ref(table, qualifier, inner),
        _ => return None,
    };
    table.column(&name).filter(|c| !c.hidden)
}

/// The select list, if it is made of columns and `*` only.
fn projection(
    table: &TableDesc,
    qualifier: &str,
    items: &[SelectItem],
) -> Option<Vec<(String, u32, SqlType)>> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let c = column_ref(table, qualifier, e)?;
                out.push((c.name.clone(), c.id, c.ty));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let c = column_ref(table, qualifier, expr)?;
                out.push((ident_name(alias), c.id, c.ty));
            }
            SelectItem::Wildcard(options) if *options == Default::default() => {
                out.extend(
                    table
                        .visible_columns()
                        .map(|c| (c.name.clone(), c.id, c.ty)),
                );
            }
            SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(name),
                options,
            ) if *options == Default::default() => {
                let [part] = name.0.as_slice() else {
                    return None;
                };
                if part.as_ident().map(ident_name).as_deref() != Some(qualifier) {
                    return None;
                }
                out.extend(
                    table
                        .visible_columns()
                        .map(|c| (c.name.clone(), c.id, c.ty)),
                );
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The primary-key values a WHERE clause fixes, in key order: `None`
/// (outer) when it is not exactly one equality per key column, `Some(None)`
/// when it can match no row.
fn key_values(
    table: &TableDesc,
    qualifier: &str,
    selection: &Expr,
    format: &TextFormat,
) -> Option<Option<Vec<Datum>>> {
    let mut conjuncts = Vec::new();
    flatten_and(selection, &mut conjuncts);
    if conjuncts.len() != table.primary.columns.len() {
        return None;
    }
    let mut values: Vec<Option<Datum>> = vec![None; table.primary.columns.len()];
    let mut matches_nothing = false;
    for e in conjuncts {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = e
        else {
            return None;
        };
        let (column, value) = match column_ref(table, qualifier, left) {
            Some(c) => (c, right.as_ref()),
            None => (column_ref(table, qualifier, right)?, left.as_ref()),
        };
        let slot = table
            .primary
            .columns
            .iter()
            .position(|(id, _)| *id == column.id)?;
        if values[slot].is_some() {
            return None;
        }
        match key_literal(value, column.ty, format)? {
            Some(d) => values[slot] = Some(d),
            None => {
                matches_nothing = true;
                values[slot] = Some(Datum::Null);
            }
        }
    }
    if matches_nothing {
        return Some(None);
    }
    values.into_iter().collect::<Option<Vec<_>>>().map(Some)
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        Expr::Nested(inner) => flatten_and(inner, out),
        other => out.push(other),
    }
}

/// What a literal compared with a key column of type `column` equals to,
/// as PostgreSQL compares them: `None` (outer) when this module does not
/// decide it, `Some(None)` when it equals no value of the column.
///
/// Taken: integer columns against integer literals (`5`, `-5`, a bound
/// `'5'::bigint`) and untyped strings (`'5'`); text and varchar columns
/// against strings. A value outside the column type's range equals none
/// of its values (PostgreSQL compares in the wider type).
fn key_literal(e: &Expr, column: SqlType, format: &TextFormat) -> Option<Option<Datum>> {
    let is_int = |t: SqlType| matches!(t, SqlType::Int2 | SqlType::Int4 | SqlType::Int8);
    let is_text = |t: SqlType| matches!(t, SqlType::Text | SqlType::Varchar(_));
    if !is_int(column) && !is_text(column) {
        return None;
    }
    match e {
        Expr::Nested(inner) => key_literal(inner, column, format),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(None),
            Value::Number(n, _) if is_int(column) => fit_integer(n.parse::<i64>().ok()?, column),
            Value::SingleQuotedString(s) if is_text(column) => Some(Some(Datum::Text(s.clone()))),
            // An untyped literal takes the column's type, as in PostgreSQL.
            Value::SingleQuotedString(s) => match parse_text(s, column, format).ok()? {
                d @ (Datum::Int2(_) | Datum::Int4(_) | Datum::Int8(_)) => Some(Some(d)),
                _ => None,
            },
            _ => None,
        },
        Expr::UnaryOp { .. } if is_int(column) => {
            fit_integer(signed_number(e)?.parse::<i64>().ok()?, column)
        }
        Expr::Cast { .. } => {
            let (s, ty) = typed_string(e)?;
            if is_int(ty) && is_int(column) {
                let n = match parse_text(s, ty, format).ok()? {
                    Datum::Int2(n) => i64::from(n),
                    Datum::Int4(n) => i64::from(n),
                    Datum::Int8(n) => n,
                    _ => return None,
                };
                fit_integer(n, column)
            } else if matches!(ty, SqlType::Text | SqlType::Varchar(None)) && is_text(column) {
                Some(Some(Datum::Text(s.to_string())))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The text of a number literal, with its sign when negated (`-5`).
pub fn signed_number(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => signed_number(expr)
            .filter(|n| !n.starts_with('-'))
            .map(|n| format!("-{n}")),
        _ => None,
    }
}

/// A quoted string cast to a plain type (`'5'::integer`, the form bound
/// parameters arrive in): the text and the type.
pub fn typed_string(e: &Expr) -> Option<(&str, SqlType)> {
    let Expr::Cast {
        kind: CastKind::DoubleColon | CastKind::Cast,
        expr,
        data_type,
        array: false,
        format: None,
    } = e
    else {
        return None;
    };
    let Expr::Value(v) = expr.as_ref() else {
        return None;
    };
    let Value::SingleQuotedString(s) = &v.value else {
        return None;
    };
    let ColumnType::Plain(ty) = column_type(data_type).ok()? else {
        return None;
    };
    Some((s, ty))
}

/// `n` as a value of the integer type `column`; `Some(None)` out of range.
fn fit_integer(n: i64, column: SqlType) -> Option<Option<Datum>> {
    Some(match column {
        SqlType::Int2 => i16::try_from(n).ok().map(Datum::Int2),
        SqlType::Int4 => i32::try_from(n).ok().map(Datum::Int4),
        SqlType::Int8 => Some(Datum::Int8(n)),
        _ => return None,
    })
}
