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

use datafusion::sql::sqlparser::ast::{
    Delete, FromTable, ObjectName, SelectItem, TableFactor, TableWithJoins, Update,
    UpdateTableFromKind,
};
use futures::StreamExt;

use super::ddl::{ident_name, quote_ident, split_name};
use super::insert::{assignments, Written};
use super::query::{from_datafusion, plan_in, Scope};
use super::returning::{returning, Returning};
use super::write::{apply, row_key, DmlCtx, RowChange};
use crate::catalog::TableDesc;
use crate::error::{Error, Result};
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
    let others = match &upd.from {
        None => Vec::new(),
        Some(UpdateTableFromKind::AfterSet(t)) | Some(UpdateTableFromKind::BeforeSet(t)) => {
            t.clone()
        }
    };
    let extra: Vec<String> = sets.iter().map(|(_, e)| format!("({e})")).collect();
    let sql = target.query(&upd.table, &others, &extra, upd.selection.as_ref());
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
        .run(cx, &sql, upd.returning.as_deref(), changes)
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
    let others = del.using.clone().unwrap_or_default();
    let sql = target.query(table, &others, &[], del.selection.as_ref());
    target
        .run(cx, &sql, del.returning.as_deref(), |row, _, _| {
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
    /// target, then `extra` expressions.
    fn query(
        &self,
        table: &TableWithJoins,
        others: &[TableWithJoins],
        extra: &[String],
        selection: Option<&datafusion::sql::sqlparser::ast::Expr>,
    ) -> String {
        let mut items: Vec<String> = self
            .desc
            .columns
            .iter()
            .map(|c| format!("{}.{}", self.qualifier, quote_ident(&c.name)))
            .collect();
        items.extend(extra.iter().cloned());
        let mut from = vec![table.to_string()];
        from.extend(others.iter().map(|t| t.to_string()));
        let mut sql = format!("SELECT {} FROM {}", items.join(", "), from.join(", "));
        if let Some(w) = selection {
            sql.push_str(&format!(" WHERE {w}"));
        }
        sql
    }

    /// Runs the query and applies `change` (old row, extra values) to
    /// each target row it finds, once per row.
    async fn run<F>(
        &self,
        cx: &mut DmlCtx<'_>,
        sql: &str,
        returning_items: Option<&[SelectItem]>,
        change: F,
    ) -> Result<Written>
    where
        F: Fn(Vec<Datum>, Vec<Datum>, &DmlCtx<'_>) -> Result<RowChange>,
    {
        let stmt = crate::session::Session::parse(sql)?
            .pop()
            .ok_or_else(|| Error::internal("an empty DML query"))?;
        let scope = Scope {
            hidden_of: Some(self.desc.id),
            replaced: None,
            keys_read: None,
        };
        let plan = plan_in(cx.df, cx.catalog.clone(), cx.txn.reader(), stmt, scope).await?;
        let types: Vec<SqlType> = plan
            .schema()
            .as_arrow()
            .fields()
            .iter()
            .map(|f| sql_type_of(f))
            .collect();
        let width = self.desc.columns.len();
        let mut stream = cx.df.execute(&plan).await?;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut written = Vec::new();
        let mut count = 0u64;
        while let Some(b) = stream.next().await {
            let b = b.map_err(from_datafusion)?;
            let mut changes = Vec::with_capacity(b.num_rows());
            for r in 0..b.num_rows() {
                let mut values = Vec::with_capacity(types.len());
                for (i, a) in b.columns().iter().enumerate() {
                    let ty = if i < width {
                        self.desc.columns[i].ty
                    } else {
                        types[i]
                    };
                    values.push(datum_at(a.as_ref(), r, ty)?);
                }
                let extra = values.split_off(width);
                if !seen.insert(row_key(&self.desc, &values)?) {
                    continue;
                }
                changes.push(change(values, extra, cx)?);
            }
            count += changes.len() as u64;
            if returning_items.is_some() {
                for c in &changes {
                    match c {
                        RowChange::Update(_, r) | RowChange::Delete(r) | RowChange::Insert(r) => {
                            written.push(r.clone())
                        }
                    }
                }
            }
            apply(cx, &self.desc, changes).await?;
        }
        let returned = match returning_items {
            Some(items) => {
                let ret = Returning {
                    items,
                    alias: self.alias.clone(),
                };
                Some(returning(cx, &self.desc, &ret, &written).await?)
            }
            None => None,
        };
        Ok(Written { count, returned })
    }
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
