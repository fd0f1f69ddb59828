//! `CREATE SEQUENCE`, `DROP SEQUENCE`, and the sequences SERIAL and
//! IDENTITY columns own (made with their table, dropped with it).
//!
//! Like all DDL these write descriptors into the session's transaction and
//! bump the catalog version once; they never write a sequence's state key
//! (see `catalog::store`).

use std::sync::Arc;

use client::BufferedTxn;
use datafusion::sql::sqlparser::ast::{
    ColumnDef, ColumnOption, GeneratedAs, ObjectName, SequenceOptions, Statement,
};

use super::names::choose_sequence_name;
use super::options::{sequence_desc, type_range};
use crate::catalog::desc::{
    ColumnDesc, DefaultExpr, Identity, IndexDesc, ObjectKind, SequenceDesc,
};
use crate::catalog::store::CatalogWriter;
use crate::catalog::{Catalog, TableDesc};
use crate::codec::key::PRIMARY_INDEX_ID;
use crate::error::{code, Error, Result};
use crate::exec::ddl::{ident_name, split_name, wrong_object_kind, Created};
use crate::exec::drop::Dropped;
use crate::plan::types::{column_type, ColumnType};
use crate::types::SqlType;

/// The descriptor of sequence `name` (no columns, no rows).
fn sequence_table(
    id: u32,
    schema_id: u32,
    name: String,
    desc: SequenceDesc,
    version: u64,
) -> TableDesc {
    TableDesc {
        id,
        schema_id,
        name,
        kind: ObjectKind::Sequence(desc),
        columns: Vec::new(),
        next_column_id: 1,
        primary: IndexDesc::new(PRIMARY_INDEX_ID, String::new(), Vec::new(), true),
        indexes: Vec::new(),
        next_index_id: PRIMARY_INDEX_ID + 1,
        constraints: Vec::new(),
        version,
        buckets: 0,
    }
}

fn schema_id(catalog: &Catalog, schema: &str) -> Result<u32> {
    catalog.schema(schema).map(|s| s.id).ok_or_else(|| {
        Error::new(
            code::UNDEFINED_SCHEMA,
            format!("schema \"{schema}\" does not exist"),
        )
    })
}

/// `CREATE SEQUENCE`.
pub async fn create_sequence(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    stmt: &Statement,
) -> Result<Created> {
    let Statement::CreateSequence {
        temporary,
        if_not_exists,
        name,
        data_type,
        sequence_options,
        owned_by,
    } = stmt
    else {
        return Err(Error::internal("not a CREATE SEQUENCE"));
    };
    if *temporary {
        return Err(Error::unsupported("temporary sequences"));
    }
    let (schema, name) = split_name(name)?;
    let schema_id = schema_id(catalog, &schema)?;
    if catalog.relation_exists(schema_id, &name) && *if_not_exists {
        return Ok(Created::AlreadyExists(format!(
            "relation \"{name}\" already exists, skipping"
        )));
    }
    let ty = match data_type {
        None => SqlType::Int8,
        Some(dt) => match column_type(dt)? {
            ColumnType::Plain(t) => t,
            ColumnType::Serial(_) => SqlType::Text,
        },
    };
    let mut desc = sequence_desc(ty, sequence_options)?;
    if let Some(owner) = owned_by {
        desc.owned_by = owner_column(catalog, schema_id, owner)?;
    }
    if catalog.relation_exists(schema_id, &name) {
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let mut w = CatalogWriter::new(txn);
    let id = w.allocate_id().await?;
    let version = w.bump_version().await?;
    w.put_table(&sequence_table(id, schema_id, name, desc, version))?;
    Ok(Created::Table)
}

/// `OWNED BY table.column` (or `NONE`): the owning (table, column) ids.
fn owner_column(
    catalog: &Catalog,
    seq_schema: u32,
    owner: &ObjectName,
) -> Result<Option<(u32, u32)>> {
    let parts: Vec<String> = owner
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(ident_name))
        .collect();
    let (schema, table, column) = match parts.as_slice() {
        [none] if none == "none" => return Ok(None),
        [t, c] => (crate::catalog::DEFAULT_SCHEMA.to_string(), t, c),
        [s, t, c] => (s.clone(), t, c),
        _ => {
            return Err(Error::syntax("invalid OWNED BY option")
                .with_hint("Specify OWNED BY table.column or OWNED BY NONE."))
        }
    };
    let table_schema = schema_id(catalog, &schema)?;
    let t = catalog
        .table(table_schema, table)
        .ok_or_else(|| Error::undefined_table(table))?;
    if !t.is_table() {
        return Err(Error::new(
            code::WRONG_OBJECT_TYPE,
            format!("referenced relation \"{table}\" is not a table or foreign table"),
        ));
    }
    if table_schema != seq_schema {
        return Err(Error::new(
            code::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "sequence must be in same schema as table it is linked to",
        ));
    }
    let c = t.column(column).filter(|c| !c.hidden).ok_or_else(|| {
        Error::new(
            code::UNDEFINED_COLUMN,
            format!("column \"{column}\" of relation \"{table}\" does not exist"),
        )
    })?;
    Ok(Some((t.id, c.id)))
}

/// Columns (table, column) whose default takes values from sequence `id`.
fn users(catalog: &Catalog, id: u32) -> Vec<(&Arc<TableDesc>, &ColumnDesc)> {
    catalog
        .tables
        .values()
        .flat_map(|t| t.columns.iter().map(move |c| (t, c)))
        .filter(|(_, c)| c.default == Some(DefaultExpr::Sequence(id)))
        .collect()
}

/// `DROP SEQUENCE [IF EXISTS] names [CASCADE]`. A sequence an IDENTITY
/// column requires cannot be dropped; one a SERIAL default uses only with
/// CASCADE, which drops the default.
pub async fn drop_sequences(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<Dropped> {
    let mut found: Vec<Arc<TableDesc>> = Vec::new();
    let mut notices = Vec::new();
    for n in names {
        let (schema, name) = split_name(n)?;
        match catalog.find(&schema, &name) {
            Some(t) if matches!(t.kind, ObjectKind::Sequence(_)) => {
                if !found.iter().any(|f| f.id == t.id) {
                    found.push(t.clone());
                }
            }
            Some(t) => return Err(wrong_object_kind(&name, "sequence", &t.kind)),
            None if if_exists => {
                notices.push(format!("sequence \"{name}\" does not exist, skipping"))
            }
            None => {
                return Err(Error::new(
                    code::UNDEFINED_TABLE,
                    format!("sequence \"{name}\" does not exist"),
                ))
            }
        }
    }
    // Defaults to drop, by table: (table, column ids).
    let mut defaults: Vec<(Arc<TableDesc>, Vec<u32>)> = Vec::new();
    let mut cascaded = Vec::new();
    for s in &found {
        let users = users(catalog, s.id);
        if let Some((t, c)) = users.iter().find(|(_, c)| c.identity.is_some()) {
            return Err(Error::new(
                code::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop sequence {} because column {} of table {} requires it",
                    s.name, c.name, t.name
                ),
            )
            .with_hint(format!(
                "You can drop column {} of table {} instead.",
                c.name, t.name
            )));
        }
        let lines: Vec<String> = users
            .iter()
            .map(|(t, c)| format!("default value for column {} of table {}", c.name, t.name))
            .collect();
        if !lines.is_empty() && !cascade {
            let detail = lines
                .iter()
                .map(|l| format!("{l} depends on sequence {}", s.name))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Error::new(
                code::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop sequence {} because other objects depend on it",
                    s.name
                ),
            )
            .with_detail(detail)
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        cascaded.extend(lines);
        for (t, c) in users {
            match defaults.iter_mut().find(|(d, _)| d.id == t.id) {
                Some((_, cols)) => cols.push(c.id),
                None => defaults.push((t.clone(), vec![c.id])),
            }
        }
    }
    match cascaded.len() {
        0 => {}
        1 => notices.push(format!("drop cascades to {}", cascaded[0])),
        n => notices.push(format!("drop cascades to {n} other objects")),
    }
    if found.is_empty() {
        return Ok(Dropped {
            notices,
            ..Dropped::default()
        });
    }
    let mut w = CatalogWriter::new(txn);
    let version = w.bump_version().await?;
    for (t, cols) in defaults {
        let mut t = (*t).clone();
        for c in t.columns.iter_mut().filter(|c| cols.contains(&c.id)) {
            c.default = None;
        }
        t.version = version;
        w.put_table(&t)?;
    }
    for s in found {
        w.delete_table(s.id)?;
    }
    Ok(Dropped {
        notices,
        changed: true,
        tables: Vec::new(),
    })
}

/// Drops the sequences owned by columns of table `table_id` (DROP TABLE).
pub fn drop_owned(w: &mut CatalogWriter<'_>, catalog: &Catalog, table_id: u32) -> Result<()> {
    for t in catalog.tables.values() {
        if let ObjectKind::Sequence(d) = &t.kind {
            if d.owned_by.is_some_and(|(owner, _)| owner == table_id) {
                w.delete_table(t.id)?;
            }
        }
    }
    Ok(())
}

/// A sequence a column of a new table gets (SERIAL, IDENTITY): made with
/// the table by [`create_owned`], owned by the column.
#[derive(Debug, Clone)]
pub struct ColumnSequence {
    column_id: u32,
    column: String,
    ty: SqlType,
    options: Vec<SequenceOptions>,
}

fn column_error(message: &str, column: &str, table: &str) -> Error {
    Error::syntax(format!(
        "{message} for column \"{column}\" of table \"{table}\""
    ))
}

/// What column definition `def` of table `table` asks of sequences
/// (SERIAL types, `GENERATED … AS IDENTITY`), checked as PostgreSQL does;
/// makes `col` NOT NULL and sets its identity kind when it gets one.
pub fn column_sequence(
    table: &str,
    def: &ColumnDef,
    col: &mut ColumnDesc,
) -> Result<Option<ColumnSequence>> {
    let serial = matches!(column_type(&def.data_type)?, ColumnType::Serial(_));
    let mut identity: Option<(Identity, Vec<SequenceOptions>)> = None;
    let (mut has_default, mut null) = (false, false);
    for opt in &def.options {
        match &opt.option {
            ColumnOption::Generated {
                generated_as,
                sequence_options,
                generation_expr: None,
                ..
            } => {
                if identity.is_some() {
                    return Err(column_error(
                        "multiple identity specifications",
                        &col.name,
                        table,
                    ));
                }
                if has_default || serial {
                    return Err(column_error(
                        "both default and identity specified",
                        &col.name,
                        table,
                    ));
                }
                let kind = match generated_as {
                    GeneratedAs::Always => Identity::Always,
                    GeneratedAs::ByDefault => Identity::ByDefault,
                    GeneratedAs::ExpStored => return Err(Error::unsupported("generated columns")),
                };
                identity = Some((kind, sequence_options.clone().unwrap_or_default()));
            }
            ColumnOption::Default(_) => {
                if identity.is_some() {
                    return Err(column_error(
                        "both default and identity specified",
                        &col.name,
                        table,
                    ));
                }
                if serial {
                    return Err(column_error(
                        "multiple default values specified",
                        &col.name,
                        table,
                    ));
                }
                has_default = true;
            }
            ColumnOption::Null => null = true,
            _ => {}
        }
    }
    if !serial && identity.is_none() {
        return Ok(None);
    }
    if null {
        return Err(column_error(
            "conflicting NULL/NOT NULL declarations",
            &col.name,
            table,
        ));
    }
    if identity.is_some() && type_range(col.ty).is_none() {
        return Err(Error::new(
            code::INVALID_PARAMETER_VALUE,
            "identity column type must be smallint, integer, or bigint",
        ));
    }
    let (kind, options) = match identity {
        Some((k, o)) => (Some(k), o),
        None => (None, Vec::new()),
    };
    // Checked now, before anything is written.
    sequence_desc(col.ty, &options)?;
    col.not_null = true;
    col.identity = kind;
    Ok(Some(ColumnSequence {
        column_id: col.id,
        column: col.name.clone(),
        ty: col.ty,
        options,
    }))
}

/// Makes the sequences `pending` asks for table `table` (id `table_id`,
/// being created in schema `schema_id` at catalog `version`), named as
/// PostgreSQL names them, and points the columns' defaults at them.
#[allow(clippy::too_many_arguments)]
pub async fn create_owned(
    w: &mut CatalogWriter<'_>,
    catalog: &Catalog,
    schema_id: u32,
    table: &str,
    table_id: u32,
    version: u64,
    columns: &mut [ColumnDesc],
    pending: Vec<ColumnSequence>,
) -> Result<()> {
    let mut chosen: Vec<String> = Vec::new();
    for p in pending {
        let name = choose_sequence_name(table, &p.column, |n| {
            n == table || catalog.table(schema_id, n).is_some() || chosen.iter().any(|c| c == n)
        });
        let mut desc = sequence_desc(p.ty, &p.options)?;
        desc.owned_by = Some((table_id, p.column_id));
        let id = w.allocate_id().await?;
        w.put_table(&sequence_table(id, schema_id, name.clone(), desc, version))?;
        if let Some(c) = columns.iter_mut().find(|c| c.id == p.column_id) {
            c.default = Some(DefaultExpr::Sequence(id));
        }
        chosen.push(name);
    }
    Ok(())
}
