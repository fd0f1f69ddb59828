//! `CREATE VIEW` and `CREATE SCHEMA`: catalog objects without rows of
//! their own. A view is stored as its query's text and its output
//! columns; statements that use it get the query in its place
//! (`plan::views`).

use std::sync::Arc;

use client::{BufferedTxn, TxnReader};
use datafusion::sql::sqlparser::ast::{CreateView, SchemaName, Statement};

use super::ddl::{ident_name, schema_id, split_name, Created};
use super::query::plan;
use crate::catalog::desc::{ColumnDesc, IndexDesc, ObjectKind, SchemaDesc};
use crate::catalog::store::CatalogWriter;
use crate::catalog::{Catalog, TableDesc};
use crate::error::{code, Error, Result};
use crate::plan::names::{named, output_names};
use crate::types::arrow::sql_columns;
use crate::types::binary::type_name;
use crate::types::SqlType;

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`.
pub async fn create_view(
    catalog: &Arc<Catalog>,
    df: &super::query::QueryEngine,
    txn: &mut BufferedTxn,
    reader: TxnReader,
    cv: &CreateView,
) -> Result<Created> {
    if cv.materialized {
        return Err(Error::unsupported("materialized views"));
    }
    let (schema, name) = split_name(&cv.name)?;
    let schema_id = schema_id(catalog, &schema)?;
    let existing = catalog.table(schema_id, &name).cloned();
    if existing.is_none() && catalog.relation_exists(schema_id, &name) {
        // The name is an index's.
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    if let Some(t) = &existing {
        if cv.if_not_exists {
            return Ok(Created::AlreadyExists(format!(
                "relation \"{name}\" already exists, skipping"
            )));
        }
        if !cv.or_replace {
            return Err(Error::new(
                code::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        if !matches!(t.kind, ObjectKind::View { .. }) {
            return Err(Error::new(
                code::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a view"),
            ));
        }
    }
    // The view's columns are its query's.
    let stmt = Statement::Query(cv.query.clone());
    let names = output_names(&stmt);
    let planned = plan(df, catalog.clone(), reader, stmt).await?;
    let mut columns = named(sql_columns(planned.schema().as_arrow()), names);
    if !cv.columns.is_empty() {
        if cv.columns.len() > columns.len() {
            return Err(Error::syntax(
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        for (c, n) in columns.iter_mut().zip(&cv.columns) {
            c.0 = ident_name(&n.name);
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|d| d.0 == c.0) {
            return Err(Error::new(
                code::DUPLICATE_COLUMN,
                format!("column \"{}\" specified more than once", c.0),
            ));
        }
    }
    if let Some(old) = &existing {
        check_replacement(old, &columns)?;
    }
    let mut w = CatalogWriter::new(txn);
    let id = match &existing {
        Some(t) => t.id,
        None => w.allocate_id().await?,
    };
    let version = w.bump_version().await?;
    let desc = TableDesc {
        id,
        schema_id,
        name,
        kind: ObjectKind::View {
            query: cv.query.to_string(),
        },
        columns: columns
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty))| ColumnDesc::new(i as u32 + 1, name, ty))
            .collect(),
        next_column_id: 0,
        primary: IndexDesc::new(0, String::new(), Vec::new(), false),
        indexes: Vec::new(),
        next_index_id: 0,
        constraints: Vec::new(),
        version,
        buckets: 0,
    };
    w.put_table(&desc)?;
    Ok(Created::Table)
}

/// CREATE OR REPLACE VIEW keeps the old view's columns, in order, with
/// their names and types; it may only add columns after them (42P16).
fn check_replacement(old: &TableDesc, columns: &[(String, SqlType)]) -> Result<()> {
    if columns.len() < old.columns.len() {
        return Err(Error::new(
            code::INVALID_TABLE_DEFINITION,
            "cannot drop columns from view",
        ));
    }
    for (was, (name, ty)) in old.columns.iter().zip(columns) {
        if was.name != *name {
            return Err(Error::new(
                code::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change name of view column \"{}\" to \"{name}\"",
                    was.name
                ),
            )
            .with_hint(
                "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.",
            ));
        }
        if was.ty != *ty {
            return Err(Error::new(
                code::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change data type of view column \"{name}\" from {} to {}",
                    type_name(was.ty),
                    type_name(*ty)
                ),
            ));
        }
    }
    Ok(())
}

/// `CREATE SCHEMA [IF NOT EXISTS] name`.
pub async fn create_schema(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    name: &SchemaName,
    if_not_exists: bool,
) -> Result<Created> {
    let name = match name {
        SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => {
            let parts: Vec<String> =
                n.0.iter()
                    .filter_map(|p| p.as_ident())
                    .map(ident_name)
                    .collect();
            match parts.as_slice() {
                [s] => s.clone(),
                _ => return Err(Error::unsupported(format!("the schema name {n}"))),
            }
        }
        SchemaName::UnnamedAuthorization(i) => ident_name(i),
    };
    if catalog.schema(&name).is_some() {
        if if_not_exists {
            return Ok(Created::AlreadyExists(format!(
                "schema \"{name}\" already exists, skipping"
            )));
        }
        return Err(Error::new(
            code::DUPLICATE_SCHEMA,
            format!("schema \"{name}\" already exists"),
        ));
    }
    let mut w = CatalogWriter::new(txn);
    let id = w.allocate_id().await?;
    w.bump_version().await?;
    w.put_schema(&SchemaDesc { id, name })?;
    Ok(Created::Table)
}
