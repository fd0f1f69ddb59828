//! Table references rewritten in the statement's syntax tree before
//! DataFusion plans it.
//!
//! - Views are expanded: each reference to a view becomes the view's query
//!   as a derived table under the view's name (or the reference's alias),
//!   with the view's column names. Views of views expand in turn; a name a
//!   CTE of the statement defines is left alone.
//! - A set-returning function with one output column aliased without a
//!   column list (`generate_series(1, 3) g`) names its column after the
//!   alias, as PostgreSQL does (DataFusion calls it `value`).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Statement, TableAlias, TableAliasColumnDef,
    TableFactor, VisitMut, VisitorMut,
};

use crate::catalog::{Catalog, ObjectKind, DEFAULT_SCHEMA};
use crate::error::{Error, Result};
use crate::exec::ddl::ident_name;

/// Expansions allowed in one statement (a guard against views that end
/// up referring to themselves).
const MAX_EXPANSIONS: usize = 256;

/// Replaces the views `stmt` references by their queries.
pub fn expand(catalog: &Catalog, stmt: &mut Statement) -> Result<()> {
    let mut ctes = HashSet::new();
    let _ = stmt.visit(&mut CteNames(&mut ctes));
    let mut v = Expander {
        catalog,
        ctes,
        count: 0,
        error: None,
    };
    let _ = stmt.visit(&mut v);
    match v.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct CteNames<'a>(&'a mut HashSet<String>);

impl VisitorMut for CteNames<'_> {
    type Break = ();
    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.0.insert(ident_name(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }
}

struct Expander<'a> {
    catalog: &'a Catalog,
    ctes: HashSet<String>,
    count: usize,
    error: Option<Error>,
}

impl VisitorMut for Expander<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            alias: Some(alias),
            args: Some(_),
            ..
        } = factor
        {
            let function = name.0.last().and_then(|p| p.as_ident()).map(ident_name);
            if alias.columns.is_empty()
                && matches!(function.as_deref(), Some("generate_series" | "unnest"))
            {
                alias.columns = vec![TableAliasColumnDef {
                    name: alias.name.clone(),
                    data_type: None,
                }];
            }
            return ControlFlow::Continue(());
        }
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .map(ident_name)
            .collect();
        let (schema, table) = match parts.as_slice() {
            [t] if self.ctes.contains(t) => return ControlFlow::Continue(()),
            [t] => (DEFAULT_SCHEMA.to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => return ControlFlow::Continue(()),
        };
        let Some(view) = self.catalog.find(&schema, &table) else {
            return ControlFlow::Continue(());
        };
        let ObjectKind::View { query } = &view.kind else {
            return ControlFlow::Continue(());
        };
        self.count += 1;
        if self.count > MAX_EXPANSIONS {
            self.error = Some(Error::new(
                crate::error::code::INVALID_OBJECT_DEFINITION,
                format!("infinite recursion detected in rules for relation \"{table}\""),
            ));
            return ControlFlow::Break(());
        }
        let subquery = match parse_query(query) {
            Ok(q) => q,
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        };
        let alias = TableAlias {
            explicit: true,
            name: alias
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_else(|| Ident::with_quote('"', table.clone())),
            columns: view
                .columns
                .iter()
                .map(|c| TableAliasColumnDef {
                    name: Ident::with_quote('"', c.name.clone()),
                    data_type: None,
                })
                .collect(),
            at: None,
        };
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(subquery),
            alias: Some(alias),
            sample: None,
        };
        ControlFlow::Continue(())
    }
}

/// A view's stored query text, parsed.
pub fn parse_query(sql: &str) -> Result<Query> {
    let mut p = datafusion::sql::sqlparser::parser::Parser::new(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
    )
    .try_with_sql(sql)
    .map_err(|e| Error::syntax(e.to_string()))?;
    p.parse_query()
        .map(|q| *q)
        .map_err(|e| Error::syntax(e.to_string()))
}

/// Ids of the relations (tables, views, sequences) the view query `sql`
/// names directly: what the view depends on. Names of the query's own
/// CTEs and names that resolve to nothing are left out.
pub fn relations_read(catalog: &Catalog, sql: &str) -> Result<Vec<u32>> {
    let mut query = parse_query(sql)?;
    let mut ctes = HashSet::new();
    let _ = query.visit(&mut CteNames(&mut ctes));
    let mut ids = Vec::new();
    let _ = datafusion::sql::sqlparser::ast::visit_relations(&query, |name| {
        if let Some(t) = resolve(catalog, &ctes, name) {
            ids.push(t.id);
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(ids)
}

/// The relation of the catalog `name` refers to in a query whose CTEs are
/// `ctes`.
fn resolve<'c>(
    catalog: &'c Catalog,
    ctes: &HashSet<String>,
    name: &ObjectName,
) -> Option<&'c std::sync::Arc<crate::catalog::TableDesc>> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(ident_name)
        .collect();
    match parts.as_slice() {
        [t] if ctes.contains(t) => None,
        [t] => catalog.find(DEFAULT_SCHEMA, t),
        [s, t] => catalog.find(s, t),
        _ => None,
    }
}

/// The view query `sql` with its references to relation `id` naming it
/// `new_name` (the relation is being renamed), if it has any. Views are
/// kept as SQL text, so a rename rewrites the views that read the
/// relation, as PostgreSQL's views follow it; a reference without an
/// alias gets its old name as one, so columns qualified by it still
/// resolve.
pub fn rename_relation(
    catalog: &Catalog,
    sql: &str,
    id: u32,
    new_name: &str,
) -> Result<Option<String>> {
    let mut query = parse_query(sql)?;
    let mut ctes = HashSet::new();
    let _ = query.visit(&mut CteNames(&mut ctes));
    let mut renamer = Renamer {
        catalog,
        ctes,
        id,
        new_name,
        changed: false,
    };
    let _ = query.visit(&mut renamer);
    Ok(renamer.changed.then(|| query.to_string()))
}

struct Renamer<'a> {
    catalog: &'a Catalog,
    ctes: HashSet<String>,
    id: u32,
    new_name: &'a str,
    changed: bool,
}

impl VisitorMut for Renamer<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, .. } = t else {
            return ControlFlow::Continue(());
        };
        if resolve(self.catalog, &self.ctes, name).map(|d| d.id) != Some(self.id) {
            return ControlFlow::Continue(());
        }
        if let Some(last) = name.0.last_mut() {
            let old = last.as_ident().cloned();
            *last = ObjectNamePart::Identifier(Ident::with_quote('"', self.new_name));
            if alias.is_none() {
                *alias = old.map(|name| TableAlias {
                    explicit: true,
                    name,
                    columns: Vec::new(),
                    at: None,
                });
            }
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}
