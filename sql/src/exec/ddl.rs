//! DDL: statements that change the catalog. Each writes descriptors into
//! the session's transaction (so DDL commits or rolls back with it) and
//! bumps the catalog version once.

use client::{BufferedTxn, SharedKv};
use datafusion::sql::sqlparser::ast::{
    ColumnDef, ColumnOption, CreateTable, CreateTableOptions, ObjectName, SqlOption,
    TableConstraint,
};

use super::constraints::{self, Declared};
use super::sequence;
use crate::catalog::desc::{ColumnDesc, DefaultExpr, IndexDesc, ObjectKind, ROWID_COLUMN};
use crate::catalog::store::CatalogWriter;
use crate::catalog::{Catalog, Constraint, TableDesc, DEFAULT_SCHEMA};
use crate::codec::key::{index_prefix, PRIMARY_INDEX_ID, ROW_BUCKETS};
use crate::error::{code, Error, Result};
use crate::plan::types::{column_type, ColumnType};
use crate::types::SqlType;
use datafusion::execution::context::SessionContext;

/// `(schema, name)` of an object name (`t` or `s.t`), lower-cased as
/// PostgreSQL folds unquoted identifiers (the parser keeps quoted ones).
pub fn split_name(name: &ObjectName) -> Result<(String, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(ident_name)
                .ok_or_else(|| Error::syntax(format!("invalid name {name}")))
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [t] => Ok((DEFAULT_SCHEMA.to_string(), t.clone())),
        [s, t] => Ok((s.clone(), t.clone())),
        [db, s, t] if db == crate::catalog::DEFAULT_DATABASE => Ok((s.clone(), t.clone())),
        _ => Err(Error::unsupported(format!("the name {name}"))),
    }
}

/// An identifier as PostgreSQL names it: unquoted ones fold to lower case.
pub fn ident_name(i: &datafusion::sql::sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// `name` as a quoted identifier, for SQL text the node writes itself.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn schema_id(catalog: &Catalog, schema: &str) -> Result<u32> {
    catalog.schema(schema).map(|s| s.id).ok_or_else(|| {
        Error::new(
            code::UNDEFINED_SCHEMA,
            format!("schema \"{schema}\" does not exist"),
        )
    })
}

/// What a CREATE TABLE did.
pub enum Created {
    /// The table was created.
    Table,
    /// IF NOT EXISTS found it there: a notice, nothing done.
    AlreadyExists(String),
}

/// `CREATE TABLE`.
pub async fn create_table(
    catalog: &Catalog,
    df: &SessionContext,
    kv: &SharedKv,
    txn: &mut BufferedTxn,
    ct: &CreateTable,
) -> Result<Created> {
    if ct.query.is_some() {
        return Err(Error::unsupported("CREATE TABLE … AS"));
    }
    if ct.temporary {
        return Err(Error::unsupported("temporary tables"));
    }
    let (schema, name) = split_name(&ct.name)?;
    let schema_id = schema_id(catalog, &schema)?;
    if catalog.relation_exists(schema_id, &name) {
        if ct.if_not_exists {
            return Ok(Created::AlreadyExists(format!(
                "relation \"{name}\" already exists, skipping"
            )));
        }
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    let mut columns: Vec<ColumnDesc> = Vec::new();
    let mut primary: Option<Vec<String>> = None;
    let mut declared: Vec<Declared> = Vec::new();
    // Sequences of SERIAL and IDENTITY columns, made with the table.
    let mut owned = Vec::new();
    for (i, def) in ct.columns.iter().enumerate() {
        let mut col = column(def, i as u32 + 1, &mut primary, &mut declared)?;
        if let Some(s) = sequence::ddl::column_sequence(&name, def, &mut col)? {
            owned.push(s);
        }
        if columns.iter().any(|c| c.name == col.name) {
            return Err(Error::new(
                code::DUPLICATE_COLUMN,
                format!("column \"{}\" specified more than once", col.name),
            ));
        }
        columns.push(col);
    }
    for c in &ct.constraints {
        match c {
            TableConstraint::PrimaryKey(pk) => {
                if primary.is_some() {
                    return Err(multiple_primary_keys(&name));
                }
                primary = Some(constraints::index_columns(&pk.columns)?);
            }
            other => declared.push(constraints::from_table_constraint(other)?),
        }
    }
    let mut next_column_id = columns.len() as u32 + 1;
    let key_columns: Vec<(u32, bool)> = match primary {
        Some(names) => {
            let mut ids = Vec::new();
            for n in names {
                let c = columns.iter_mut().find(|c| c.name == n).ok_or_else(|| {
                    Error::undefined_column(&n).with_detail("named in the primary key")
                })?;
                if matches!(c.ty, SqlType::Json) {
                    return Err(Error::new(
                        code::UNDEFINED_FUNCTION,
                        "data type json has no default operator class for access method \"btree\"",
                    ));
                }
                c.not_null = true;
                if ids.iter().any(|(id, _)| *id == c.id) {
                    return Err(Error::new(
                        code::DUPLICATE_COLUMN,
                        format!("column \"{n}\" appears twice in primary key constraint"),
                    ));
                }
                ids.push((c.id, false));
            }
            ids
        }
        None => {
            let id = next_column_id;
            next_column_id += 1;
            columns.push(ColumnDesc {
                not_null: true,
                hidden: true,
                ..ColumnDesc::new(id, ROWID_COLUMN.to_string(), SqlType::Int8)
            });
            vec![(id, false)]
        }
    };
    let has_pk = !columns.iter().any(|c| c.hidden);
    let mut w = CatalogWriter::new(txn);
    let id = w.allocate_id().await?;
    let version = w.bump_version().await?;
    sequence::ddl::create_owned(
        &mut w,
        catalog,
        schema_id,
        &name,
        id,
        version,
        &mut columns,
        owned,
    )
    .await?;
    let pkey = format!("{name}_pkey");
    let buckets = match storage_buckets(&ct.table_options)? {
        Some(n) => n,
        None if grows_with_time(&columns, &key_columns) => ROW_BUCKETS,
        None => 0,
    };
    let mut desc = TableDesc {
        id,
        schema_id,
        name,
        kind: ObjectKind::Table,
        columns,
        next_column_id,
        primary: IndexDesc::new(PRIMARY_INDEX_ID, pkey.clone(), key_columns, true),
        indexes: Vec::new(),
        next_index_id: PRIMARY_INDEX_ID + 1,
        constraints: if has_pk {
            vec![Constraint::PrimaryKey { name: pkey }]
        } else {
            Vec::new()
        },
        version,
        buckets,
    };
    for d in declared {
        constraints::add(catalog, df, &mut desc, d)?;
    }
    w.put_table(&desc)?;
    if buckets > 0 {
        // Regions start at each bucket from the start, so the writes
        // spread at once (empty Regions if the statement fails: harmless).
        let prefix = index_prefix(desc.id, PRIMARY_INDEX_ID);
        let keys: Vec<Vec<u8>> = (1..buckets)
            .map(|b| [prefix.as_slice(), &[b]].concat())
            .collect();
        if let Err(e) = kv.split_hint(&keys).await {
            tracing::warn!(table = desc.id, "pre-splitting the buckets failed: {e}");
        }
    }
    Ok(Created::Table)
}

/// The `buckets` storage parameter of `CREATE TABLE … WITH (…)`, if
/// given: how many buckets the rows are spread over (0: none), whatever
/// the key. PostgreSQL's own table parameters are accepted and have no
/// effect here; others are refused, as PostgreSQL refuses them.
fn storage_buckets(options: &CreateTableOptions) -> Result<Option<u8>> {
    const POSTGRES: &[&str] = &[
        "fillfactor",
        "toast_tuple_target",
        "parallel_workers",
        "autovacuum_enabled",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "user_catalog_table",
    ];
    let CreateTableOptions::With(options) = options else {
        return Ok(None);
    };
    let mut buckets = None;
    for o in options {
        let (key, value) = match o {
            SqlOption::KeyValue { key, value } => (ident_name(key).to_lowercase(), Some(value)),
            SqlOption::Ident(key) => (ident_name(key).to_lowercase(), None),
            other => return Err(Error::unsupported(format!("the table option {other}"))),
        };
        if key == "buckets" {
            let n = value
                .map(|v| v.to_string())
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|n| *n <= 64)
                .ok_or_else(|| {
                    Error::new(
                        code::INVALID_PARAMETER_VALUE,
                        "invalid value for parameter \"buckets\"",
                    )
                    .with_detail("Valid values are between \"0\" and \"64\".")
                })?;
            buckets = Some(n);
        } else if !POSTGRES.contains(&key.as_str())
            && !key.starts_with("autovacuum_")
            && !key.starts_with("toast.")
        {
            return Err(Error::new(
                code::INVALID_PARAMETER_VALUE,
                format!("unrecognized parameter \"{key}\""),
            ));
        }
    }
    Ok(buckets)
}

/// Whether a primary key's values come in increasing order as rows are
/// added: its first column is the hidden row id, takes its values from a
/// sequence (SERIAL, IDENTITY) or is a date or timestamp. Such a table's
/// rows are spread over buckets (see [`crate::codec::key::ROW_BUCKETS`]),
/// or every insert would go to the Region holding the largest keys.
fn grows_with_time(columns: &[ColumnDesc], key: &[(u32, bool)]) -> bool {
    let Some(first) = key
        .first()
        .and_then(|(id, _)| columns.iter().find(|c| c.id == *id))
    else {
        return false;
    };
    first.hidden
        || matches!(first.default, Some(DefaultExpr::Sequence(_)))
        || matches!(
            first.ty,
            SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz
        )
}

fn multiple_primary_keys(table: &str) -> Error {
    Error::new(
        code::INVALID_TABLE_DEFINITION,
        format!("multiple primary keys for table \"{table}\" are not allowed"),
    )
}

/// A column as declared (its constraints go to `declared`).
pub(crate) fn column(
    def: &ColumnDef,
    id: u32,
    primary: &mut Option<Vec<String>>,
    declared: &mut Vec<Declared>,
) -> Result<ColumnDesc> {
    let name = ident_name(&def.name);
    let ty = match column_type(&def.data_type)? {
        ColumnType::Plain(t) => t,
        // Its sequence and NOT NULL: `sequence::ddl::column_sequence`.
        ColumnType::Serial(t) => t,
    };
    let mut col = ColumnDesc::new(id, name.clone(), ty);
    for opt in &def.options {
        if let Some(d) = constraints::from_column_option(&name, opt)? {
            declared.push(d);
            continue;
        }
        match &opt.option {
            ColumnOption::Null => {}
            ColumnOption::NotNull => col.not_null = true,
            ColumnOption::Default(e) => col.default = Some(DefaultExpr::Sql(e.to_string())),
            ColumnOption::PrimaryKey(_) => {
                if primary.is_some() {
                    return Err(multiple_primary_keys(&name));
                }
                *primary = Some(vec![name.clone()]);
                col.not_null = true;
            }
            // IDENTITY: `sequence::ddl::column_sequence`.
            ColumnOption::Generated {
                generation_expr: None,
                ..
            } => {}
            other => return Err(Error::unsupported(format!("the column option \"{other}\""))),
        }
    }
    Ok(col)
}

/// 42809 for DROP `what` naming an object of another kind, with
/// PostgreSQL's hint naming the right statement.
pub fn wrong_object_kind(name: &str, what: &str, kind: &ObjectKind) -> Error {
    let right = match kind {
        ObjectKind::Table => "DROP TABLE to remove a table",
        ObjectKind::View { .. } => "DROP VIEW to remove a view",
        ObjectKind::Sequence(_) => "DROP SEQUENCE to remove a sequence",
    };
    Error::new(
        code::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not a {what}"),
    )
    .with_hint(format!("Use {right}."))
}
