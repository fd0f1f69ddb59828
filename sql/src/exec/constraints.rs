//! Declaring constraints: UNIQUE, CHECK and FOREIGN KEY as CREATE TABLE
//! (or ALTER TABLE … ADD CONSTRAINT) states them, checked and named as
//! PostgreSQL does, and recorded in the table's descriptor. They are
//! enforced by `exec::write`.

use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::ExprSchemable;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, ColumnOptionDef, Expr, ForeignKeyConstraint, IndexColumn, ReferentialAction,
    TableConstraint,
};

use super::ddl::{ident_name, split_name};
use super::write::rows_batch;
use crate::catalog::desc::{FkAction, IndexDesc};
use crate::catalog::{Catalog, Constraint, TableDesc};
use crate::error::{code, Error, Result};
use crate::exec::query::from_datafusion;
use crate::types::binary::type_name;
use crate::types::SqlType;

/// A constraint as declared, before it is checked against the table.
#[derive(Debug, Clone)]
pub enum Declared {
    /// `UNIQUE (columns)`.
    Unique {
        /// Its name, if given.
        name: Option<String>,
        /// The columns.
        columns: Vec<String>,
    },
    /// `CHECK (expr)`; `column` when declared on a column (it names it).
    Check {
        /// Its name, if given.
        name: Option<String>,
        /// The expression.
        expr: Expr,
        /// The column it was declared on.
        column: Option<String>,
    },
    /// `FOREIGN KEY (columns) REFERENCES table (columns)`.
    ForeignKey {
        /// Its name, if given.
        name: Option<String>,
        /// Referencing columns.
        columns: Vec<String>,
        /// The referenced table's name.
        table: (String, String),
        /// Referenced columns (its primary key when empty).
        ref_columns: Vec<String>,
        /// ON DELETE.
        on_delete: FkAction,
        /// ON UPDATE.
        on_update: FkAction,
    },
}

/// The constraint a column option declares, if it is one (UNIQUE, CHECK,
/// REFERENCES).
pub fn from_column_option(column: &str, def: &ColumnOptionDef) -> Result<Option<Declared>> {
    let name = def.name.as_ref().map(ident_name);
    Ok(match &def.option {
        ColumnOption::Unique(_) => Some(Declared::Unique {
            name,
            columns: vec![column.to_string()],
        }),
        ColumnOption::Check(c) => Some(Declared::Check {
            name: name.or_else(|| c.name.as_ref().map(ident_name)),
            expr: (*c.expr).clone(),
            column: Some(column.to_string()),
        }),
        ColumnOption::ForeignKey(fk) => Some(foreign_key(
            name.or_else(|| fk.name.as_ref().map(ident_name)),
            vec![column.to_string()],
            fk,
        )?),
        _ => None,
    })
}

/// The constraint a table constraint declares (PRIMARY KEY excepted:
/// CREATE TABLE builds the primary index itself).
pub fn from_table_constraint(c: &TableConstraint) -> Result<Declared> {
    match c {
        TableConstraint::Unique(u) => Ok(Declared::Unique {
            name: u.name.as_ref().map(ident_name),
            columns: index_columns(&u.columns)?,
        }),
        TableConstraint::Check(c) => Ok(Declared::Check {
            name: c.name.as_ref().map(ident_name),
            expr: (*c.expr).clone(),
            column: None,
        }),
        TableConstraint::ForeignKey(fk) => foreign_key(
            fk.name.as_ref().map(ident_name),
            fk.columns.iter().map(ident_name).collect(),
            fk,
        ),
        other => Err(Error::unsupported(format!("the constraint \"{other}\""))),
    }
}

/// Column names of an index column list (plain columns only).
pub fn index_columns(cols: &[IndexColumn]) -> Result<Vec<String>> {
    cols.iter()
        .map(|ic| match &ic.column.expr {
            Expr::Identifier(id) => Ok(ident_name(id)),
            e => Err(Error::unsupported(format!("a key on the expression {e}"))),
        })
        .collect()
}

fn foreign_key(
    name: Option<String>,
    columns: Vec<String>,
    fk: &ForeignKeyConstraint,
) -> Result<Declared> {
    let action = |a: &Option<ReferentialAction>| match a {
        None | Some(ReferentialAction::NoAction) | Some(ReferentialAction::Restrict) => {
            Ok(FkAction::Restrict)
        }
        Some(ReferentialAction::Cascade) => Ok(FkAction::Cascade),
        Some(ReferentialAction::SetNull) => Ok(FkAction::SetNull),
        Some(ReferentialAction::SetDefault) => Err(Error::unsupported(
            "ON DELETE/UPDATE SET DEFAULT (CASCADE, SET NULL, RESTRICT and NO ACTION are)",
        )),
    };
    Ok(Declared::ForeignKey {
        name,
        columns,
        table: split_name(&fk.foreign_table)?,
        ref_columns: fk.referred_columns.iter().map(ident_name).collect(),
        on_delete: action(&fk.on_delete)?,
        on_update: action(&fk.on_update)?,
    })
}

/// Checks `declared` against `desc` (the table being created or altered)
/// and records it: a unique index, a CHECK expression, a foreign key.
pub fn add(
    catalog: &Catalog,
    df: &SessionContext,
    desc: &mut TableDesc,
    declared: Declared,
) -> Result<()> {
    match declared {
        Declared::Unique { name, columns } => {
            let ids = column_ids(desc, &columns)?;
            for id in &ids {
                if let Some(c) = desc.column_by_id(*id) {
                    if matches!(c.ty, SqlType::Json) {
                        return Err(Error::new(
                            code::UNDEFINED_FUNCTION,
                            "data type json has no default operator class for access method \"btree\"",
                        ));
                    }
                }
            }
            let name = name.unwrap_or_else(|| {
                unique_name(
                    catalog,
                    desc,
                    &format!("{}_{}_key", desc.name, columns.join("_")),
                )
            });
            check_name_free(catalog, desc, &name, true)?;
            let id = desc.next_index_id;
            desc.next_index_id += 1;
            let index = IndexDesc::new(
                id,
                name.clone(),
                ids.into_iter().map(|id| (id, false)).collect(),
                true,
            )
            .storing(desc);
            desc.indexes.push(index);
            desc.constraints
                .push(Constraint::Unique { name, index_id: id });
        }
        Declared::Check { name, expr, column } => {
            let sql = expr.to_string();
            let used = check_expression(df, desc, &sql)?;
            // PostgreSQL names a table CHECK on one column after it.
            let column = column.or(match used.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            });
            let name = name.unwrap_or_else(|| {
                let base = match &column {
                    Some(c) => format!("{}_{c}_check", desc.name),
                    None => format!("{}_check", desc.name),
                };
                unique_name(catalog, desc, &base)
            });
            check_name_free(catalog, desc, &name, false)?;
            desc.constraints.push(Constraint::Check { name, expr: sql });
        }
        Declared::ForeignKey {
            name,
            columns,
            table,
            ref_columns,
            on_delete,
            on_update,
        } => {
            let name = name.unwrap_or_else(|| {
                unique_name(
                    catalog,
                    desc,
                    &format!("{}_{}_fkey", desc.name, columns.join("_")),
                )
            });
            check_name_free(catalog, desc, &name, false)?;
            let ids = column_ids(desc, &columns)?;
            // The referenced table: this one (a self reference) or another.
            let this = catalog.schema_name(desc.schema_id) == Some(table.0.as_str())
                && table.1 == desc.name;
            let parent: TableDesc = if this {
                desc.clone()
            } else {
                catalog
                    .find(&table.0, &table.1)
                    .filter(|t| t.is_table())
                    .map(|t| (**t).clone())
                    .ok_or_else(|| Error::undefined_table(&table.1))?
            };
            let ref_ids: Vec<u32> = if ref_columns.is_empty() {
                if parent.has_hidden_rowid() {
                    return Err(Error::new(
                        code::INVALID_FOREIGN_KEY,
                        format!(
                            "there is no primary key for referenced table \"{}\"",
                            parent.name
                        ),
                    ));
                }
                parent.primary.columns.iter().map(|(id, _)| *id).collect()
            } else {
                column_ids(&parent, &ref_columns)?
            };
            if ref_ids.len() != ids.len() {
                return Err(Error::new(
                    code::INVALID_FOREIGN_KEY,
                    "number of referencing and referenced columns for foreign key disagree",
                ));
            }
            let mut sorted = ref_ids.clone();
            sorted.sort_unstable();
            let keyed = |idx: &IndexDesc| {
                let mut cols: Vec<u32> = idx.columns.iter().map(|(id, _)| *id).collect();
                cols.sort_unstable();
                cols == sorted
            };
            let unique = (!parent.has_hidden_rowid() && keyed(&parent.primary))
                || parent
                    .indexes
                    .iter()
                    .any(|i| i.unique && i.is_public() && !i.computes() && keyed(i));
            if !unique {
                return Err(Error::new(
                    code::INVALID_FOREIGN_KEY,
                    format!(
                        "there is no unique constraint matching given keys for referenced table \"{}\"",
                        parent.name
                    ),
                ));
            }
            for (a, b) in ids.iter().zip(&ref_ids) {
                let (ca, cb) = match (desc.column_by_id(*a), parent.column_by_id(*b)) {
                    (Some(ca), Some(cb)) => (ca, cb),
                    _ => return Err(Error::internal("a key column vanished")),
                };
                if key_family(ca.ty) != key_family(cb.ty) {
                    return Err(Error::new(
                        code::DATATYPE_MISMATCH,
                        format!("foreign key constraint \"{name}\" cannot be implemented"),
                    )
                    .with_detail(format!(
                        "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                        ca.name,
                        cb.name,
                        type_name(ca.ty),
                        type_name(cb.ty)
                    )));
                }
            }
            desc.constraints.push(Constraint::ForeignKey {
                name,
                columns: ids,
                ref_table: parent.id,
                ref_columns: ref_ids,
                on_delete,
                on_update,
            });
        }
    }
    Ok(())
}

/// Types whose key encodings compare alike (a foreign key's columns must
/// share one with the columns they reference).
fn key_family(ty: SqlType) -> SqlType {
    match ty {
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 => SqlType::Int8,
        SqlType::Float4 | SqlType::Float8 => SqlType::Float8,
        SqlType::Numeric(_) => SqlType::Numeric(None),
        SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_) => SqlType::Text,
        other => other,
    }
}

fn column_ids(desc: &TableDesc, names: &[String]) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for n in names {
        let c = desc
            .columns
            .iter()
            .find(|c| c.name == *n && !c.hidden)
            .ok_or_else(|| {
                Error::new(
                    code::UNDEFINED_COLUMN,
                    format!("column \"{n}\" named in key does not exist"),
                )
            })?;
        if ids.contains(&c.id) {
            return Err(Error::new(
                code::DUPLICATE_COLUMN,
                format!("column \"{n}\" appears twice in unique constraint"),
            ));
        }
        ids.push(c.id);
    }
    Ok(ids)
}

/// `base`, or `base1`, `base2`, … : the first name no constraint or index
/// of the table has.
fn unique_name(catalog: &Catalog, desc: &TableDesc, base: &str) -> String {
    let taken = |n: &str| {
        desc.constraints.iter().any(|c| c.name() == n)
            || desc.primary.name == n
            || catalog.relation_exists(desc.schema_id, n)
    };
    if !taken(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_string())
}

/// A new constraint's name must be free in its table; a unique
/// constraint's also names its index, a relation (42P07 if taken).
fn check_name_free(catalog: &Catalog, desc: &TableDesc, name: &str, index: bool) -> Result<()> {
    let taken = desc.constraints.iter().any(|c| c.name() == name);
    let relation = desc.primary.name == name
        || desc.indexes.iter().any(|i| i.name == name)
        || catalog.relation_exists(desc.schema_id, name);
    if index && (taken || relation) {
        return Err(Error::new(
            code::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        ));
    }
    if taken {
        return Err(Error::new(
            code::DUPLICATE_OBJECT,
            format!(
                "constraint \"{name}\" for relation \"{}\" already exists",
                desc.name
            ),
        ));
    }
    Ok(())
}

/// A CHECK expression must be a boolean over the table's columns; the
/// names of the columns it uses.
fn check_expression(df: &SessionContext, desc: &TableDesc, sql: &str) -> Result<Vec<String>> {
    let (_, schema) = rows_batch(desc, &[])?;
    let expr = df.parse_sql_expr(sql, &schema).map_err(from_datafusion)?;
    let (_, field) = expr.to_field(&schema).map_err(from_datafusion)?;
    let ty = field.data_type();
    if !matches!(ty, datafusion::arrow::datatypes::DataType::Boolean) {
        return Err(Error::new(
            code::DATATYPE_MISMATCH,
            format!("argument of CHECK must be type boolean, not type {ty}"),
        ));
    }
    let mut used: Vec<String> = expr
        .column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .collect();
    used.sort();
    used.dedup();
    Ok(used)
}
