//! `UPDATE` and `DELETE`: the SQL layer decides which rows change. The
//! statement becomes a query DataFusion plans like any other —
//! `SELECT <every column of the target, its row id too>, <each SET
//! expression> FROM <target> [, FROM/USING tables] WHERE <condition>` —
//! so the condition is pushed into the target's scan as key ranges
//! (`WHERE id = 5` reads one row), subqueries and joins work, and the
//! rows stream in batches. Each batch becomes row changes for
//! [`write::apply`], which checks constraints and stages them.
//!
//! The query reads the statement's frozen view, so rows the statement
//! writes are never read back by it. A target row that joins several
//! FROM/USING rows changes once.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::UInt32Array;
use datafusion::arrow::compute::take;
use datafusion::sql::sqlparser::ast::{
    Delete, FromTable, ObjectName, SelectItem, TableFactor, TableWithJoins, Update,
    UpdateTableFromKind,
};
use futures::StreamExt;

use super::ddl::{ident_name, quote_ident, split_name};
use super::insert::{assignments, Written};
use super::query::{from_datafusion, plan_in, Scope};
use super::returning::{returning, JoinedRows, Returning};
use super::write::{apply, row_key, DmlCtx, RowChange};
use crate::catalog::TableDesc;
use crate::error::{Error, Result};
use crate::plan::point::point_target;
use crate::types::arrow::{datum_at, sql_type_of};
use crate::types::cast::assign;
use crate::types::{Datum, SqlType};

/// Runs one UPDATE.
pub async fn update(cx: &mut DmlCtx<'_>, upd: &Update) -> Result<Written> {
    if upd.limit.is_some() || !upd.order_by.is_empty() {
        return Err(Error::unsupported("UPDATE … ORDER BY/LIMIT"));
    }
    let target = Target::of(cx, &upd.table)?;
    let sets = assignments(&target.desc, &upd.assignments)?;
    if upd.from.is_none() && upd.returning.is_none() {
        let point = point_target(&cx.catalog, &upd.table, upd.selection.as_ref(), cx.format);
        if let Some((desc, key)) = point {
            if let Some(w) = super::point::update(cx, &desc, key, &sets).await? {
                return Ok(w);
            }
        }
    }
    let others = match &upd.from {
        None => Vec::new(),
        Some(UpdateTableFromKind::AfterSet(t)) | Some(UpdateTableFromKind::BeforeSet(t)) => {
            t.clone()
        }
    };
    let extra: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, (_, e))| format!("({e}) AS \"__strata_set_{i}\""))
        .collect();
    let query = target.query(
        &upd.table,
        &others,
        &extra,
        upd.selection.as_ref(),
        upd.returning.is_some(),
    );
    let desc = target.desc.clone();
    let sets = &sets;
    let changes =
        move |row: Vec<Datum>, values: Vec<Datum>, cx: &DmlCtx<'_>| -> Result<RowChange> {
            let mut new = row.clone();
            for ((i, _), v) in sets.iter().zip(values) {
                new[*i] = assign(v, desc.columns[*i].ty, cx.format)?;
            }
            Ok(RowChange::Update(row, new))
        };
    target
        .run(cx, &query, upd.returning.as_deref(), changes)
        .await
}

/// Runs one DELETE.
pub async fn delete(cx: &mut DmlCtx<'_>, del: &Delete) -> Result<Written> {
    if del.limit.is_some() || !del.order_by.is_empty() || !del.tables.is_empty() {
        return Err(Error::unsupported(
            "DELETE … ORDER BY/LIMIT or of several tables",
        ));
    }
    let from = match &del.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    let [table] = from.as_slice() else {
        return Err(Error::unsupported("DELETE from several tables (use USING)"));
    };
    let target = Target::of(cx, table)?;
    if del.using.is_none() && del.returning.is_none() {
        let point = point_target(&cx.catalog, table, del.selection.as_ref(), cx.format);
        if let Some((desc, key)) = point {
            return super::point::delete(cx, &desc, key).await;
        }
    }
    let others = del.using.clone().unwrap_or_default();
    let query = target.query(
        table,
        &others,
        &[],
        del.selection.as_ref(),
        del.returning.is_some(),
    );
    target
        .run(cx, &query, del.returning.as_deref(), |row, _, _| {
            Ok(RowChange::Delete(row))
        })
        .await
}

/// The table an UPDATE or DELETE changes.
struct Target {
    desc: Arc<TableDesc>,
    /// How the statement names it (its alias, or its name).
    alias: Option<String>,
    qualifier: String,
}

impl Target {
    fn of(cx: &DmlCtx<'_>, t: &TableWithJoins) -> Result<Target> {
        if !t.joins.is_empty() {
            return Err(Error::unsupported(
                "JOIN in the target of UPDATE/DELETE (use FROM/USING)",
            ));
        }
        let TableFactor::Table { name, alias, .. } = &t.relation else {
            return Err(Error::unsupported(
                "UPDATE/DELETE of something other than a table",
            ));
        };
        let (schema, table) = split_name(name)?;
        let desc = cx
            .catalog
            .find(&schema, &table)
            .cloned()
            .ok_or_else(|| Error::undefined_table(&table))?;
        if !desc.is_table() {
            return Err(Error::new(
                crate::error::code::WRONG_OBJECT_TYPE,
                format!("cannot change rows of \"{table}\": it is not a table"),
            ));
        }
        let alias = alias.as_ref().map(|a| ident_name(&a.name));
        let qualifier = match &alias {
            Some(a) => quote_ident(a),
            None => qualified(name),
        };
        Ok(Target {
            desc,
            alias,
            qualifier,
        })
    }

    /// The query that finds the rows to change: every column of the
    /// target, then `extra` expressions, then (for a RETURNING list) the
    /// columns of each FROM/USING relation.
    fn query(
        &self,
        table: &TableWithJoins,
        others: &[TableWithJoins],
        extra: &[String],
        selection: Option<&datafusion::sql::sqlparser::ast::Expr>,
        returning: bool,
    ) -> DmlQuery {
        let mut items: Vec<String> = self
            .desc
            .columns
            .iter()
            .map(|c| format!("{}.{}", self.qualifier, quote_ident(&c.name)))
            .collect();
        items.extend(extra.iter().cloned());
        let joined = if returning {
            relation_names(others)
        } else {
            Vec::new()
        };
        items.extend(joined.iter().map(|n| format!("{}.*", quote_ident(n))));
        let mut from = vec![table.to_string()];
        from.extend(others.iter().map(|t| t.to_string()));
        let mut sql = format!("SELECT {} FROM {}", items.join(", "), from.join(", "));
        if let Some(w) = selection {
            sql.push_str(&format!(" WHERE {w}"));
        }
        DmlQuery {
            sql,
            extra: extra.len(),
            joined,
        }
    }

    /// Runs the query and applies `change` (old row, extra values) to
    /// each target row it finds, once per row.
    async fn run<F>(
        &self,
        cx: &mut DmlCtx<'_>,
        query: &DmlQuery,
        returning_items: Option<&[SelectItem]>,
        change: F,
    ) -> Result<Written>
    where
        F: Fn(Vec<Datum>, Vec<Datum>, &DmlCtx<'_>) -> Result<RowChange>,
    {
        let stmt = crate::session::Session::parse(&query.sql)?
            .pop()
            .ok_or_else(|| Error::internal("an empty DML query"))?;
        let scope = Scope {
            hidden_of: Some(self.desc.id),
            ..Default::default()
        };
        let plan = plan_in(cx.df, cx.catalog.clone(), cx.txn.reader(), stmt, scope).await?;
        let width = self.desc.columns.len();
        let values_width = width + query.extra;
        let schema = plan.schema().clone();
        let types: Vec<SqlType> = schema
            .as_arrow()
            .fields()
            .iter()
            .take(values_width)
            .map(|f| sql_type_of(f))
            .collect();
        // Which columns of the query belong to each joined relation.
        let mut joined: Vec<(Vec<usize>, JoinedRows)> = query
            .joined
            .iter()
            .map(|name| {
                let at: Vec<usize> = (values_width..schema.fields().len())
                    .filter(|i| {
                        schema
                            .qualified_field(*i)
                            .0
                            .is_some_and(|q| q.table() == name.as_str())
                    })
                    .collect();
                let fields: Vec<_> = at.iter().map(|i| schema.fields()[*i].clone()).collect();
                (at, JoinedRows::new(name.clone(), &fields))
            })
            .collect();
        let mut stream = cx.df.execute(&plan).await?;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut written = Vec::new();
        let mut count = 0u64;
        while let Some(b) = stream.next().await {
            let b = b.map_err(from_datafusion)?;
            let mut changes = Vec::with_capacity(b.num_rows());
            let mut kept: Vec<u32> = Vec::new();
            for r in 0..b.num_rows() {
                let mut values = Vec::with_capacity(values_width);
                for (i, ty) in types.iter().enumerate() {
                    let ty = if i < width {
                        self.desc.columns[i].ty
                    } else {
                        *ty
                    };
                    values.push(datum_at(b.column(i).as_ref(), r, ty)?);
                }
                let extra = values.split_off(width);
                if !seen.insert(row_key(&self.desc, &values)?) {
                    continue;
                }
                changes.push(change(values, extra, cx)?);
                kept.push(r as u32);
            }
            if returning_items.is_some() {
                let first = written.len() as i64;
                let positions: Vec<i64> = (first..first + kept.len() as i64).collect();
                let kept = UInt32Array::from(kept);
                for (at, rows) in &mut joined {
                    let columns = at
                        .iter()
                        .map(|i| take(b.column(*i), &kept, None))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| from_datafusion(e.into()))?;
                    rows.push(columns, positions.clone())?;
                }
                for c in &changes {
                    match c {
                        RowChange::Update(_, r) | RowChange::Delete(r) | RowChange::Insert(r) => {
                            written.push(r.clone())
                        }
                    }
                }
            }
            count += changes.len() as u64;
            apply(cx, &self.desc, changes).await?;
        }
        let returned = match returning_items {
            Some(items) => {
                let ret = Returning {
                    items,
                    alias: self.alias.clone(),
                    joined: joined.into_iter().map(|(_, rows)| rows).collect(),
                };
                Some(returning(cx, &self.desc, &ret, &written).await?)
            }
            None => None,
        };
        Ok(Written { count, returned })
    }
}

/// The query an UPDATE or DELETE runs to find its rows.
struct DmlQuery {
    sql: String,
    /// How many values follow the target's columns.
    extra: usize,
    /// The FROM/USING relations whose columns come last, by name.
    joined: Vec<String>,
}

/// How a statement names each relation of its FROM/USING list (the alias,
/// or the table's own name); relations it cannot name are left out.
fn relation_names(others: &[TableWithJoins]) -> Vec<String> {
    fn name_of(t: &TableFactor, out: &mut Vec<String>) {
        let alias = match t {
            TableFactor::Table {
                name, alias: None, ..
            } => {
                if let Some(n) = name.0.last().and_then(|p| p.as_ident()) {
                    out.push(ident_name(n));
                }
                return;
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => {
                out.extend(relation_names(std::slice::from_ref(table_with_joins)));
                return;
            }
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. } => alias,
            _ => return,
        };
        if let Some(a) = alias {
            out.push(ident_name(&a.name));
        }
    }
    let mut out = Vec::new();
    for t in others {
        name_of(&t.relation, &mut out);
        for j in &t.joins {
            name_of(&j.relation, &mut out);
        }
    }
    out
}

/// An object name as quoted SQL text.
fn qualified(name: &ObjectName) -> String {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| quote_ident(&ident_name(i)))
        .collect::<Vec<_>>()
        .join(".")
}
