//! `DROP TABLE`, `DROP VIEW` and `DROP SCHEMA`, with the objects that
//! depend on what is dropped: foreign keys of other tables and views over
//! the dropped relations. Without CASCADE a dependent object refuses the
//! drop (2BP01, naming it as PostgreSQL does); with CASCADE it goes too
//! (views are dropped, foreign keys removed from their tables).

use std::collections::HashSet;
use std::sync::Arc;

use client::BufferedTxn;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart, ObjectType};

use super::ddl::{ident_name, split_name, wrong_object_kind};
use super::sequence;
use crate::catalog::desc::SchemaDesc;
use crate::catalog::store::CatalogWriter;
use crate::catalog::{Catalog, Constraint, ObjectKind, TableDesc, DEFAULT_SCHEMA};
use crate::error::{code, Error, Result};

/// What a DROP did.
#[derive(Debug, Default)]
pub struct Dropped {
    /// Notices: names skipped under IF EXISTS, objects dropped by CASCADE.
    pub notices: Vec<String>,
    /// Whether the catalog changed.
    pub changed: bool,
    /// Ids of the tables dropped, whose rows are to be removed once the
    /// drop commits.
    pub tables: Vec<u32>,
}

/// `DROP TABLE`, `DROP VIEW` or `DROP SCHEMA` of `names`.
pub async fn drop_objects(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    kind: ObjectType,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<Dropped> {
    let what = match kind {
        ObjectType::Table => "table",
        ObjectType::View => "view",
        ObjectType::Schema => return drop_schemas(catalog, txn, names, if_exists, cascade).await,
        other => return Err(Error::unsupported(format!("DROP {other}"))),
    };
    let mut found: Vec<Arc<TableDesc>> = Vec::new();
    let mut notices = Vec::new();
    for n in names {
        let (schema, name) = split_name(n)?;
        match catalog.find(&schema, &name) {
            Some(t)
                if matches!(
                    (&t.kind, kind),
                    (ObjectKind::Table, ObjectType::Table)
                        | (ObjectKind::View { .. }, ObjectType::View)
                ) =>
            {
                if !found.iter().any(|f| f.id == t.id) {
                    found.push(t.clone())
                }
            }
            Some(t) => return Err(wrong_object_kind(&name, what, &t.kind)),
            None if if_exists => {
                notices.push(format!("{what} \"{name}\" does not exist, skipping"));
            }
            None => {
                return Err(Error::new(
                    code::UNDEFINED_TABLE,
                    format!("{what} \"{name}\" does not exist"),
                ))
            }
        }
    }
    let mut dropped = drop_relations(catalog, txn, found, cascade).await?;
    notices.append(&mut dropped.notices);
    dropped.notices = notices;
    Ok(dropped)
}

/// Drops the relations `found` and what depends on them (refused without
/// `cascade` if anything does).
async fn drop_relations(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    mut found: Vec<Arc<TableDesc>>,
    cascade: bool,
) -> Result<Dropped> {
    if found.is_empty() {
        return Ok(Dropped::default());
    }
    let mut cascaded = Vec::new();
    for (view, on) in dependent_views(catalog, &found)? {
        if !cascade {
            return Err(dependents_exist(
                &describe(catalog, &on),
                format!("view {} depends on {}", view.name, describe(catalog, &on)),
            ));
        }
        cascaded.push(format!("view {}", view.name));
        found.push(view);
    }
    let foreign_keys = referencing(catalog, &found);
    if let Some((child, constraint, parent)) = foreign_keys.first() {
        if !cascade {
            return Err(dependents_exist(
                &describe(catalog, parent),
                format!(
                    "constraint {constraint} on table {} depends on {}",
                    child.name,
                    describe(catalog, parent)
                ),
            ));
        }
    }
    let mut w = CatalogWriter::new(txn);
    w.bump_version().await?;
    // The foreign keys that reference dropped tables go.
    let mut children: Vec<TableDesc> = Vec::new();
    for (child, constraint, _) in foreign_keys {
        cascaded.push(format!("constraint {constraint} on table {}", child.name));
        let i = match children.iter().position(|c| c.id == child.id) {
            Some(i) => i,
            None => {
                children.push((*child).clone());
                children.len() - 1
            }
        };
        children[i].constraints.retain(|c| c.name() != constraint);
    }
    for mut child in children {
        child.version += 1;
        w.put_table(&child)?;
    }
    let mut tables = Vec::new();
    for t in &found {
        // The rows stay behind under the dropped table's id, which is
        // never reused, until `exec::cleanup` removes them.
        w.delete_table(t.id)?;
        sequence::ddl::drop_owned(&mut w, catalog, t.id)?;
        if t.is_table() {
            tables.push(t.id);
        }
    }
    Ok(Dropped {
        notices: cascade_notice(&cascaded).into_iter().collect(),
        changed: true,
        tables,
    })
}

/// `DROP SCHEMA`: refused while it holds objects, unless `cascade`.
async fn drop_schemas(
    catalog: &Catalog,
    txn: &mut BufferedTxn,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<Dropped> {
    let mut notices = Vec::new();
    let mut schemas: Vec<&SchemaDesc> = Vec::new();
    for n in names {
        let name = match n.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => ident_name(i),
            _ => return Err(Error::syntax(format!("improper schema name \"{n}\""))),
        };
        match catalog.schema(&name) {
            Some(_) if name == DEFAULT_SCHEMA => {
                return Err(Error::unsupported("dropping the schema public"))
            }
            Some(s) => {
                if !schemas.iter().any(|f| f.id == s.id) {
                    schemas.push(s)
                }
            }
            None if if_exists => {
                notices.push(format!("schema \"{name}\" does not exist, skipping"))
            }
            None => {
                return Err(Error::new(
                    code::UNDEFINED_SCHEMA,
                    format!("schema \"{name}\" does not exist"),
                ))
            }
        }
    }
    if schemas.is_empty() {
        return Ok(Dropped {
            notices,
            ..Dropped::default()
        });
    }
    let contents: Vec<Arc<TableDesc>> = schemas
        .iter()
        .flat_map(|s| catalog.tables_in(s.id).cloned())
        .collect();
    let (relations, sequences): (Vec<_>, Vec<_>) = contents
        .into_iter()
        .partition(|t| !matches!(t.kind, ObjectKind::Sequence(_)));
    let owned_by_dropped = |s: &Arc<TableDesc>| match &s.kind {
        ObjectKind::Sequence(d) => d
            .owned_by
            .is_some_and(|(owner, _)| relations.iter().any(|r| r.id == owner)),
        _ => false,
    };
    let described: Vec<String> = relations
        .iter()
        .chain(&sequences)
        .map(|t| describe(catalog, t))
        .collect();
    if let (Some(first), false) = (described.first(), cascade) {
        let schema = catalog.schema_name(
            relations
                .first()
                .or(sequences.first())
                .map_or(0, |t| t.schema_id),
        );
        return Err(dependents_exist(
            &format!("schema {}", schema.unwrap_or_default()),
            format!("{first} depends on schema {}", schema.unwrap_or_default()),
        ));
    }
    // Sequences not owned by a dropped column (those go with it);
    // columns elsewhere that take defaults from them lose those defaults.
    let names: Vec<ObjectName> = sequences
        .iter()
        .filter(|s| !owned_by_dropped(s))
        .map(|s| qualified(catalog, s))
        .collect();
    let mut dropped = drop_relations(catalog, txn, relations, true).await?;
    if !names.is_empty() {
        sequence::drop_sequences(catalog, txn, &names, true, true).await?;
    }
    let mut w = CatalogWriter::new(txn);
    w.bump_version().await?;
    for s in &schemas {
        w.delete_schema(&s.name)?;
    }
    notices.extend(cascade_notice(&described));
    Ok(Dropped {
        notices,
        changed: true,
        tables: std::mem::take(&mut dropped.tables),
    })
}

/// PostgreSQL's notice for objects a CASCADE took along.
fn cascade_notice(cascaded: &[String]) -> Option<String> {
    match cascaded {
        [] => None,
        [one] => Some(format!("drop cascades to {one}")),
        many => Some(format!("drop cascades to {} other objects", many.len())),
    }
}

/// 2BP01 for dropping `what` while `detail` depends on it.
fn dependents_exist(what: &str, detail: String) -> Error {
    Error::new(
        code::DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop {what} because other objects depend on it"),
    )
    .with_detail(detail)
    .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
}

/// `table t`, `view s.v`: an object as PostgreSQL names it in messages
/// (qualified outside `public`).
fn describe(catalog: &Catalog, t: &TableDesc) -> String {
    let kind = match t.kind {
        ObjectKind::Table => "table",
        ObjectKind::View { .. } => "view",
        ObjectKind::Sequence(_) => "sequence",
    };
    match catalog.schema_name(t.schema_id) {
        Some(s) if s != DEFAULT_SCHEMA => format!("{kind} {s}.{}", t.name),
        _ => format!("{kind} {}", t.name),
    }
}

/// `schema.name` of `t`, quoted.
fn qualified(catalog: &Catalog, t: &TableDesc) -> ObjectName {
    let schema = catalog.schema_name(t.schema_id).unwrap_or(DEFAULT_SCHEMA);
    ObjectName(vec![
        ObjectNamePart::Identifier(Ident::with_quote('"', schema)),
        ObjectNamePart::Identifier(Ident::with_quote('"', t.name.clone())),
    ])
}

/// Views not in `dropped` that read a relation in it, directly or through
/// other such views: (view, the relation it reads), in an order where a
/// view comes after the relation it depends on.
fn dependent_views(
    catalog: &Catalog,
    dropped: &[Arc<TableDesc>],
) -> Result<Vec<(Arc<TableDesc>, Arc<TableDesc>)>> {
    let mut gone: Vec<Arc<TableDesc>> = dropped.to_vec();
    let mut ids: HashSet<u32> = dropped.iter().map(|t| t.id).collect();
    let mut out = Vec::new();
    let mut views: Vec<(Arc<TableDesc>, Vec<u32>)> = Vec::new();
    for t in catalog.tables.values() {
        if let ObjectKind::View { query } = &t.kind {
            if !ids.contains(&t.id) {
                views.push((
                    t.clone(),
                    crate::plan::views::relations_read(catalog, query)?,
                ));
            }
        }
    }
    loop {
        let next = views
            .iter()
            .position(|(_, reads)| reads.iter().any(|r| ids.contains(r)));
        let Some(i) = next else { break };
        let (view, reads) = views.swap_remove(i);
        let on = reads
            .iter()
            .find_map(|r| gone.iter().find(|g| g.id == *r))
            .cloned()
            .unwrap_or_else(|| view.clone());
        ids.insert(view.id);
        gone.push(view.clone());
        out.push((view, on));
    }
    Ok(out)
}

/// Foreign keys of tables not in `dropped` that reference a table in it:
/// (referencing table, constraint name, referenced table).
fn referencing(
    catalog: &Catalog,
    dropped: &[Arc<TableDesc>],
) -> Vec<(Arc<TableDesc>, String, Arc<TableDesc>)> {
    let mut out = Vec::new();
    for t in catalog.tables.values() {
        if dropped.iter().any(|d| d.id == t.id) {
            continue;
        }
        for c in &t.constraints {
            if let Constraint::ForeignKey {
                name, ref_table, ..
            } = c
            {
                if let Some(p) = dropped.iter().find(|d| d.id == *ref_table) {
                    out.push((t.clone(), name.clone(), p.clone()));
                }
            }
        }
    }
    out
}
