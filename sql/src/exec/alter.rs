//! `ALTER TABLE` and `TRUNCATE`.
//!
//! ALTER TABLE edits a copy of the table's descriptor operation by
//! operation and writes it back once, in the session's transaction (so it
//! commits or rolls back with it). Columns are keyed by id in rows, so
//! adding, dropping or renaming a column rewrites no row; a column added
//! with a default records that value as what older rows read
//! (`ColumnDesc::missing`). What must hold for existing rows — NOT NULL,
//! a CHECK, a UNIQUE (whose index entries are built here), a FOREIGN KEY
//! — is verified by reading the table through the transaction.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ObjectName, RenameTableNameKind,
    TableConstraint,
};

use super::constraints::{self, Declared};
use super::ddl::{column, ident_name, split_name};
use super::insert::eval_constant;
use super::write::{check_references, eval_bool, rows_batch, scan_table, DmlCtx, RowChange};
use crate::catalog::desc::{Constraint, DefaultExpr};
use crate::catalog::store::CatalogWriter;
use crate::catalog::{ObjectKind, TableDesc};
use crate::codec::key::prefix_end;
use crate::codec::row::encode_datum_value;
use crate::error::{code, Error, Result};
use crate::plan::views::rename_relation;
use crate::types::cast::assign;
use crate::types::Datum;

/// What an ALTER TABLE did.
pub enum Altered {
    /// The table changed.
    Changed,
    /// Nothing to do (IF EXISTS on a missing table): a notice.
    Skipped(String),
}

/// Runs one ALTER TABLE; notices go to `notices`.
pub async fn alter_table(
    cx: &mut DmlCtx<'_>,
    at: &AlterTable,
    notices: &mut Vec<String>,
) -> Result<Altered> {
    let (schema, name) = split_name(&at.name)?;
    let Some(found) = cx
        .catalog
        .find(&schema, &name)
        .filter(|t| t.is_table())
        .cloned()
    else {
        if at.if_exists {
            return Ok(Altered::Skipped(format!(
                "relation \"{name}\" does not exist, skipping"
            )));
        }
        return Err(Error::undefined_table(&name));
    };
    let mut desc: TableDesc = (*found).clone();
    for op in &at.operations {
        operation(cx, &mut desc, op, notices).await?;
    }
    desc.version += 1;
    let catalog = cx.catalog.clone();
    let mut w = CatalogWriter::new(cx.txn);
    w.bump_version().await?;
    w.put_table(&desc)?;
    if desc.name != found.name {
        // Views name the tables they read: they follow the rename.
        for view in catalog.tables.values() {
            let ObjectKind::View { query } = &view.kind else {
                continue;
            };
            if let Some(query) = rename_relation(&catalog, query, desc.id, &desc.name)? {
                let mut v = (**view).clone();
                v.kind = ObjectKind::View { query };
                v.version += 1;
                w.put_table(&v)?;
            }
        }
    }
    Ok(Altered::Changed)
}

async fn operation(
    cx: &mut DmlCtx<'_>,
    desc: &mut TableDesc,
    op: &AlterTableOperation,
    notices: &mut Vec<String>,
) -> Result<()> {
    match op {
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => {
            let name = ident_name(&column_def.name);
            if desc.columns.iter().any(|c| c.name == name && !c.hidden) {
                let msg = format!(
                    "column \"{name}\" of relation \"{}\" already exists",
                    desc.name
                );
                if *if_not_exists {
                    notices.push(format!("{msg}, skipping"));
                    return Ok(());
                }
                return Err(Error::new(code::DUPLICATE_COLUMN, msg));
            }
            add_column(cx, desc, column_def).await
        }
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => {
            let cascade = matches!(
                drop_behavior,
                Some(datafusion::sql::sqlparser::ast::DropBehavior::Cascade)
            );
            for n in column_names {
                let name = ident_name(n);
                if desc.column(&name).filter(|c| !c.hidden).is_none() {
                    if *if_exists {
                        notices.push(format!(
                            "column \"{name}\" of relation \"{}\" does not exist, skipping",
                            desc.name
                        ));
                        continue;
                    }
                    return Err(no_column(desc, &name));
                }
                drop_column(cx, desc, &name, cascade)?;
            }
            Ok(())
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => rename_column(
            cx,
            desc,
            &ident_name(old_column_name),
            &ident_name(new_column_name),
        ),
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::To(n) | RenameTableNameKind::As(n)) = table_name;
            rename_table(cx, desc, n)
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            alter_column(cx, desc, &ident_name(column_name), op).await
        }
        AlterTableOperation::AddConstraint { constraint, .. } => {
            if let TableConstraint::PrimaryKey(_) = constraint {
                return Err(Error::unsupported(
                    "adding a primary key to an existing table (declare it in CREATE TABLE)",
                ));
            }
            let declared = constraints::from_table_constraint(constraint)?;
            add_constraint(cx, desc, declared).await
        }
        AlterTableOperation::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => {
            let cascade = matches!(
                drop_behavior,
                Some(datafusion::sql::sqlparser::ast::DropBehavior::Cascade)
            );
            drop_constraint(cx, desc, &ident_name(name), *if_exists, cascade, notices)
        }
        AlterTableOperation::RenameConstraint { old_name, new_name } => {
            let (old, new) = (ident_name(old_name), ident_name(new_name));
            if desc.constraints.iter().any(|c| c.name() == new) || desc.primary.name == new {
                return Err(Error::new(
                    code::DUPLICATE_OBJECT,
                    format!(
                        "constraint \"{new}\" for relation \"{}\" already exists",
                        desc.name
                    ),
                ));
            }
            let mut found = false;
            for c in &mut desc.constraints {
                if c.name() == old {
                    found = true;
                    match c {
                        Constraint::PrimaryKey { name }
                        | Constraint::Unique { name, .. }
                        | Constraint::Check { name, .. }
                        | Constraint::ForeignKey { name, .. } => *name = new.clone(),
                    }
                }
            }
            if desc.primary.name == old {
                desc.primary.name = new.clone();
            }
            for i in &mut desc.indexes {
                if i.name == old {
                    i.name = new.clone();
                }
            }
            if !found {
                return Err(no_constraint(desc, &old));
            }
            Ok(())
        }
        other => Err(Error::unsupported(format!("ALTER TABLE … {other}"))),
    }
}

fn no_column(desc: &TableDesc, name: &str) -> Error {
    Error::new(
        code::UNDEFINED_COLUMN,
        format!(
            "column \"{name}\" of relation \"{}\" does not exist",
            desc.name
        ),
    )
}

fn no_constraint(desc: &TableDesc, name: &str) -> Error {
    Error::new(
        code::UNDEFINED_OBJECT,
        format!(
            "constraint \"{name}\" of relation \"{}\" does not exist",
            desc.name
        ),
    )
}

async fn add_column(
    cx: &mut DmlCtx<'_>,
    desc: &mut TableDesc,
    def: &datafusion::sql::sqlparser::ast::ColumnDef,
) -> Result<()> {
    let mut primary = None;
    let mut declared = Vec::new();
    let mut col = column(def, desc.next_column_id, &mut primary, &mut declared)?;
    if primary.is_some() {
        return Err(Error::unsupported(
            "adding a primary key column to an existing table (declare it in CREATE TABLE)",
        ));
    }
    if matches!(col.default, Some(DefaultExpr::Sequence(_)))
        || crate::plan::types::column_type(&def.data_type)
            .map(|t| matches!(t, crate::plan::types::ColumnType::Serial(_)))
            .unwrap_or(false)
        || def.options.iter().any(|o| {
            matches!(
                o.option,
                datafusion::sql::sqlparser::ast::ColumnOption::Generated { .. }
                    | datafusion::sql::sqlparser::ast::ColumnOption::Identity(_)
            )
        })
    {
        return Err(Error::unsupported(
            "adding a SERIAL or identity column to an existing table",
        ));
    }
    desc.next_column_id += 1;
    // What the rows already there read in the new column.
    let value = match &col.default {
        Some(DefaultExpr::Sql(expr)) => {
            let v = eval_constant(cx, expr, &cx.txn.reader()).await?;
            assign(v, col.ty, cx.format)?
        }
        _ => Datum::Null,
    };
    if !value.is_null() {
        let mut bytes = Vec::new();
        encode_datum_value(&mut bytes, &value);
        col.missing = Some(bytes);
    }
    let not_null = col.not_null;
    let name = col.name.clone();
    desc.columns.push(col);
    if not_null && value.is_null() && !scan_table(cx, desc).await?.is_empty() {
        return Err(contains_nulls(desc, &name));
    }
    for d in declared {
        add_constraint(cx, desc, d).await?;
    }
    Ok(())
}

fn contains_nulls(desc: &TableDesc, column: &str) -> Error {
    Error::new(
        code::NOT_NULL_VIOLATION,
        format!(
            "column \"{column}\" of relation \"{}\" contains null values",
            desc.name
        ),
    )
}

/// Names of the columns a CHECK expression uses.
fn check_columns(cx: &DmlCtx<'_>, desc: &TableDesc, expr: &str) -> Result<HashSet<String>> {
    let (_, schema) = rows_batch(desc, &[])?;
    let e = cx
        .df
        .parse_sql_expr(expr, &schema)
        .map_err(super::query::from_datafusion)?;
    Ok(e.column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .collect())
}

fn drop_column(cx: &DmlCtx<'_>, desc: &mut TableDesc, name: &str, cascade: bool) -> Result<()> {
    let Some(col) = desc.column(name).cloned() else {
        return Err(no_column(desc, name));
    };
    if desc.primary.columns.iter().any(|(id, _)| *id == col.id) && !desc.has_hidden_rowid() {
        return Err(Error::unsupported(format!(
            "dropping column \"{name}\" of the primary key (rows are stored by it)"
        )));
    }
    // Other tables' foreign keys on this column need CASCADE.
    for t in cx.catalog.tables.values().filter(|t| t.id != desc.id) {
        for c in &t.constraints {
            if let Constraint::ForeignKey {
                name: fk,
                ref_table,
                ref_columns,
                ..
            } = c
            {
                if *ref_table == desc.id && ref_columns.contains(&col.id) && !cascade {
                    return Err(Error::new(
                        code::DEPENDENT_OBJECTS_STILL_EXIST,
                        format!("cannot drop column {name} of table {} because other objects depend on it", desc.name),
                    )
                    .with_detail(format!("constraint {fk} on table {} depends on column {name} of table {}", t.name, desc.name))
                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                }
            }
        }
    }
    // Constraints and indexes that use the column go with it.
    let mut gone_indexes = Vec::new();
    let mut keep = Vec::new();
    for c in std::mem::take(&mut desc.constraints) {
        let uses = match &c {
            Constraint::PrimaryKey { .. } => false,
            Constraint::Unique { index_id, .. } => desc
                .indexes
                .iter()
                .any(|i| i.id == *index_id && i.uses(col.id)),
            Constraint::Check { expr, .. } => check_columns(cx, desc, expr)?.contains(name),
            Constraint::ForeignKey {
                columns,
                ref_table,
                ref_columns,
                ..
            } => {
                columns.contains(&col.id)
                    || (*ref_table == desc.id && ref_columns.contains(&col.id))
            }
        };
        if uses {
            if let Constraint::Unique { index_id, .. } = &c {
                gone_indexes.push(*index_id);
            }
        } else {
            keep.push(c);
        }
    }
    desc.constraints = keep;
    desc.indexes
        .retain(|i| !gone_indexes.contains(&i.id) && !i.uses(col.id));
    desc.columns.retain(|c| c.id != col.id);
    Ok(())
}

fn rename_column(cx: &DmlCtx<'_>, desc: &mut TableDesc, old: &str, new: &str) -> Result<()> {
    if desc.column(old).filter(|c| !c.hidden).is_none() {
        return Err(no_column(desc, old));
    }
    if desc.column(new).is_some() {
        return Err(Error::new(
            code::DUPLICATE_COLUMN,
            format!(
                "column \"{new}\" of relation \"{}\" already exists",
                desc.name
            ),
        ));
    }
    // CHECK expressions name columns: rewrite them.
    let before = desc.clone();
    for c in &mut desc.constraints {
        if let Constraint::Check { expr, .. } = c {
            if check_columns(cx, &before, expr)?.contains(old) {
                *expr = rename_in_expr(expr, old, new)?;
            }
        }
    }
    let Some(id) = desc.columns.iter_mut().find(|c| c.name == old).map(|c| {
        c.name = new.to_string();
        c.id
    }) else {
        return Ok(());
    };
    // So do index expressions and predicates.
    let renamed = desc.clone();
    for idx in &mut desc.indexes {
        let parts = idx.exprs.iter_mut().map(|e| (e, false));
        for (e, predicate) in parts.chain(idx.predicate.iter_mut().map(|p| (p, true))) {
            if e.columns.contains(&id) {
                let sql = rename_in_expr(&e.sql, old, new)?;
                *e = super::index_expr::describe(cx.df, &renamed, &sql, predicate)?;
            }
        }
    }
    Ok(())
}

/// `expr` with the column `old` called `new`.
fn rename_in_expr(expr: &str, old: &str, new: &str) -> Result<String> {
    use datafusion::sql::sqlparser::ast::{visit_expressions_mut, Expr, Ident};
    use std::ops::ControlFlow;
    let mut e = datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(expr)
    .and_then(|mut p| p.parse_expr())
    .map_err(|e| Error::internal(format!("a stored CHECK does not parse: {e}")))?;
    let _ = visit_expressions_mut(&mut e, |x| {
        match x {
            Expr::Identifier(i) if ident_name(i) == old => *i = Ident::with_quote('"', new),
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last_mut() {
                    if ident_name(last) == old {
                        *last = Ident::with_quote('"', new);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(e.to_string())
}

fn rename_table(cx: &DmlCtx<'_>, desc: &mut TableDesc, to: &ObjectName) -> Result<()> {
    let (_, new) = split_name(to)?;
    if cx.catalog.table(desc.schema_id, &new).is_some() {
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{new}\" already exists"),
        ));
    }
    desc.name = new;
    Ok(())
}

async fn alter_column(
    cx: &mut DmlCtx<'_>,
    desc: &mut TableDesc,
    name: &str,
    op: &AlterColumnOperation,
) -> Result<()> {
    let Some(i) = desc
        .columns
        .iter()
        .position(|c| c.name == name && !c.hidden)
    else {
        return Err(no_column(desc, name));
    };
    match op {
        AlterColumnOperation::SetNotNull => {
            desc.columns[i].not_null = true;
            let id = desc.columns[i].id;
            let rows = scan_table(cx, desc).await?;
            let pos = desc.columns.iter().position(|c| c.id == id).unwrap_or(i);
            if rows.iter().any(|r| r[pos].is_null()) {
                return Err(contains_nulls(desc, name));
            }
        }
        AlterColumnOperation::DropNotNull => {
            let id = desc.columns[i].id;
            if !desc.has_hidden_rowid() && desc.primary.columns.iter().any(|(c, _)| *c == id) {
                return Err(Error::new(
                    code::INVALID_TABLE_DEFINITION,
                    format!("column \"{name}\" is in a primary key"),
                ));
            }
            desc.columns[i].not_null = false;
        }
        AlterColumnOperation::SetDefault { value } => {
            // The default must be a value of the column's type.
            let v = eval_constant(cx, &value.to_string(), &cx.txn.reader()).await;
            if let Ok(v) = v {
                assign(v, desc.columns[i].ty, cx.format)?;
            }
            desc.columns[i].default = Some(DefaultExpr::Sql(value.to_string()));
        }
        AlterColumnOperation::DropDefault => desc.columns[i].default = None,
        other => return Err(Error::unsupported(format!("ALTER COLUMN … {other}"))),
    }
    Ok(())
}

/// Adds a constraint and verifies the rows already there satisfy it.
async fn add_constraint(
    cx: &mut DmlCtx<'_>,
    desc: &mut TableDesc,
    declared: Declared,
) -> Result<()> {
    let catalog = cx.catalog.clone();
    constraints::add(&catalog, cx.df, desc, declared)?;
    let Some(added) = desc.constraints.last().cloned() else {
        return Ok(());
    };
    if let (Constraint::Unique { index_id, .. }, Some(deferred)) =
        (&added, cx.deferred.as_deref_mut())
    {
        // Others use the table: the index starts delete-only (refusing at
        // once the duplicates this snapshot shows), the commit builds it
        // online, and it backs the constraint once public.
        let idx = desc
            .indexes
            .iter_mut()
            .find(|i| i.id == *index_id)
            .ok_or_else(|| Error::internal("a unique constraint without its index"))?;
        idx.state = crate::catalog::IndexState::DeleteOnly;
        let idx = idx.clone();
        deferred.push(super::index::Deferred::Build(desc.id, idx.id));
        return super::index::refuse_duplicates(cx.df, &cx.txn.reader(), desc, &idx, cx.format)
            .await;
    }
    let rows = scan_table(cx, desc).await?;
    if rows.is_empty() {
        return Ok(());
    }
    match added {
        Constraint::Check { name, expr } => {
            let refs: Vec<&Vec<Datum>> = rows.iter().collect();
            let (rb, schema) = rows_batch(desc, &refs)?;
            if eval_bool(cx.df, &expr, &rb, &schema)?.contains(&Some(false)) {
                return Err(Error::new(
                    code::CHECK_VIOLATION,
                    format!(
                        "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                        desc.name
                    ),
                ));
            }
        }
        Constraint::Unique { index_id, .. } => {
            let idx = desc
                .index_by_id(index_id)
                .cloned()
                .ok_or_else(|| Error::internal("a unique constraint without its index"))?;
            super::index::build_in_txn(cx.df, cx.txn, desc, &idx, cx.format).await?;
        }
        Constraint::ForeignKey { .. } => {
            let changes: Vec<RowChange> = rows.into_iter().map(RowChange::Insert).collect();
            let only = TableDesc {
                constraints: vec![added],
                ..desc.clone()
            };
            check_references(cx, &only, &changes).await?;
        }
        Constraint::PrimaryKey { .. } => {}
    }
    Ok(())
}

fn drop_constraint(
    cx: &DmlCtx<'_>,
    desc: &mut TableDesc,
    name: &str,
    if_exists: bool,
    cascade: bool,
    notices: &mut Vec<String>,
) -> Result<()> {
    let Some(pos) = desc.constraints.iter().position(|c| c.name() == name) else {
        if if_exists {
            notices.push(format!(
                "constraint \"{name}\" of relation \"{}\" does not exist, skipping",
                desc.name
            ));
            return Ok(());
        }
        return Err(no_constraint(desc, name));
    };
    match desc.constraints[pos].clone() {
        Constraint::PrimaryKey { .. } => {
            return Err(Error::unsupported(
                "dropping a primary key (rows are stored by it)",
            ))
        }
        Constraint::Unique { index_id, .. } => {
            let idx_cols: Vec<u32> = desc
                .indexes
                .iter()
                .find(|i| i.id == index_id)
                .map(|i| i.columns.iter().map(|(c, _)| *c).collect())
                .unwrap_or_default();
            let mut sorted = idx_cols.clone();
            sorted.sort_unstable();
            for t in cx.catalog.tables.values() {
                for c in &t.constraints {
                    if let Constraint::ForeignKey {
                        name: fk,
                        ref_table,
                        ref_columns,
                        ..
                    } = c
                    {
                        let mut r = ref_columns.clone();
                        r.sort_unstable();
                        if *ref_table == desc.id && r == sorted && !cascade {
                            return Err(Error::new(
                                code::DEPENDENT_OBJECTS_STILL_EXIST,
                                format!("cannot drop constraint {name} on table {} because other objects depend on it", desc.name),
                            )
                            .with_detail(format!("constraint {fk} on table {} depends on index {name}", t.name))
                            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                        }
                    }
                }
            }
            desc.indexes.retain(|i| i.id != index_id);
        }
        Constraint::Check { .. } | Constraint::ForeignKey { .. } => {}
    }
    desc.constraints.remove(pos);
    Ok(())
}

/// `TRUNCATE`: every row of the tables goes (and their index entries), in
/// the session's transaction. Tables referenced by foreign keys of other
/// tables need those truncated too, or CASCADE.
pub async fn truncate(cx: &mut DmlCtx<'_>, names: &[ObjectName], cascade: bool) -> Result<()> {
    let mut tables: Vec<Arc<TableDesc>> = Vec::new();
    for n in names {
        let (schema, name) = split_name(n)?;
        let t = cx
            .catalog
            .find(&schema, &name)
            .filter(|t| t.is_table())
            .cloned()
            .ok_or_else(|| Error::undefined_table(&name))?;
        if !tables.iter().any(|x| x.id == t.id) {
            tables.push(t);
        }
    }
    // Referencing tables: added under CASCADE, refused otherwise.
    loop {
        let mut added = false;
        let ids: Vec<u32> = tables.iter().map(|t| t.id).collect();
        for t in cx.catalog.tables.values() {
            if ids.contains(&t.id) {
                continue;
            }
            let refers = t.constraints.iter().find_map(|c| match c {
                Constraint::ForeignKey { ref_table, .. } if ids.contains(ref_table) => {
                    tables.iter().find(|p| p.id == *ref_table).cloned()
                }
                _ => None,
            });
            if let Some(parent) = refers {
                if !cascade {
                    return Err(Error::new(
                        code::FEATURE_NOT_SUPPORTED,
                        "cannot truncate a table referenced in a foreign key constraint",
                    )
                    .with_detail(format!(
                        "Table \"{}\" references \"{}\".",
                        t.name, parent.name
                    ))
                    .with_hint(format!(
                        "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                        t.name
                    )));
                }
                tables.push(t.clone());
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    for t in &tables {
        let start = crate::codec::key::table_prefix(t.id);
        delete_range(cx, &start, &prefix_end(&start)).await?;
    }
    Ok(())
}

/// Deletes every key in `[start, end)` as the transaction sees them.
async fn delete_range(cx: &mut DmlCtx<'_>, start: &[u8], end: &[u8]) -> Result<()> {
    let mut from = start.to_vec();
    loop {
        let page = cx
            .txn
            .reader()
            .scan(&from, end, super::scan::PAGE_ROWS, super::scan::PAGE_BYTES)
            .await?;
        for p in page.pairs {
            cx.txn.delete(p.key)?;
        }
        match page.resume {
            Some(r) => from = r,
            None => return Ok(()),
        }
    }
}
