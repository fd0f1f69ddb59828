//! DataFusion for queries: one [`QueryEngine`] per connection, configured
//! for PostgreSQL, whose `postgres` catalog shows the tables of a
//! [`Catalog`] snapshot read through one transaction view.
//!
//! Before each statement the session registers a fresh
//! [`StrataCatalogProvider`] (the catalog version and the view the
//! statement must use); DataFusion resolves table names through it while
//! planning, and every [`KvTable`] it hands out keeps that view, so the
//! whole statement reads one snapshot.

use std::ops::Deref;
use std::sync::Arc;

use crate::plan::stats::StatsCache;

use async_trait::async_trait;
use client::TxnReader;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result as DfResult;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

use super::scan::KvTable;
use crate::catalog::{Catalog, DEFAULT_DATABASE, DEFAULT_SCHEMA};
use crate::error::{code, Error, Result};

/// One connection's DataFusion: the context its functions and rules are
/// registered in, and a snapshot of that context's state that statements
/// plan and run with.
///
/// `SessionContext::state()` copies the whole state (every function
/// registry) and running a `DataFrame` copies it again into a task
/// context: per statement, that was most of a point select's CPU. The
/// snapshot and its task context are taken once, and again only through
/// [`QueryEngine::refresh`] after something is registered. Catalogs are
/// not part of it: they live in a list the snapshot shares with the
/// context, so the per-statement catalog registration is seen.
///
/// It dereferences to the context, for registering and for the
/// expression helpers that take one.
pub struct QueryEngine {
    ctx: SessionContext,
    state: SessionState,
    task: Arc<TaskContext>,
}

impl QueryEngine {
    /// A new engine for one connection.
    pub fn new() -> QueryEngine {
        QueryEngine::with_stats(None)
    }

    /// A new engine for one connection whose scans plan with the node's
    /// table statistics (`stats`, reachable as a config extension).
    pub fn with_stats(stats: Option<Arc<StatsCache>>) -> QueryEngine {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(DEFAULT_DATABASE, DEFAULT_SCHEMA)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            .with_target_partitions(4);
        let opts = config.options_mut();
        opts.sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        opts.sql_parser.parse_float_as_decimal = true;
        opts.sql_parser.map_string_types_to_utf8view = false;
        opts.execution.time_zone = Some("UTC".into());
        if let Some(stats) = stats {
            config = config.with_extension(stats);
        }
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(super::cop::rule::AggregateToStores));
        let ctx = SessionContext::new_with_state(crate::plan::pg_rules::install(state).build());
        super::functions::register(&ctx, "postgres");
        super::pg::register(&ctx);
        let state = ctx.state();
        let task = Arc::new(TaskContext::from(&state));
        QueryEngine { ctx, state, task }
    }

    /// Lets the stores run this session's filters and aggregates, or not
    /// (`SET strata.pushdown`).
    pub fn set_pushdown(&mut self, on: bool) {
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .set_extension(Arc::new(super::scan::Pushdown(on)));
        self.refresh();
    }

    /// Takes a new snapshot of the context: after registering functions
    /// or rules in it.
    pub fn refresh(&mut self) {
        self.state = self.ctx.state();
        self.task = Arc::new(TaskContext::from(&self.state));
    }

    /// Marks the start of a statement: what `now()` reads.
    pub fn begin_statement(&mut self) {
        self.state.mark_start_execution();
    }

    /// The state statements plan with.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The context statements run in.
    pub fn task(&self) -> Arc<TaskContext> {
        self.task.clone()
    }

    /// Optimises `plan`, makes it physical and starts it.
    pub async fn execute(&self, plan: &LogicalPlan) -> Result<SendableRecordBatchStream> {
        let physical = self
            .state
            .create_physical_plan(plan)
            .await
            .map_err(from_datafusion)?;
        datafusion::physical_plan::execute_stream(physical, self.task.clone())
            .map_err(from_datafusion)
    }
}

impl Default for QueryEngine {
    fn default() -> Self {
        QueryEngine::new()
    }
}

impl Deref for QueryEngine {
    type Target = SessionContext;

    fn deref(&self) -> &SessionContext {
        &self.ctx
    }
}

/// How a statement's tables differ from the catalog's, for the queries
/// the DML path plans.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// The table (by id) whose hidden columns are shown: the target of an
    /// UPDATE or DELETE, whose row ids locate the rows to change.
    pub hidden_of: Option<u32>,
    /// A table (by id) that reads as the given provider instead: the rows
    /// a statement wrote, for its RETURNING list.
    pub replaced: Option<(u32, Arc<dyn TableProvider>)>,
    /// Tables the statement itself made, by name, found in any schema
    /// before the catalog's: the FROM/USING rows an UPDATE or DELETE
    /// joined, for its RETURNING list.
    pub transient: Vec<(String, Arc<dyn TableProvider>)>,
    /// Where scans record the keys of the rows they read (`SELECT …
    /// FOR UPDATE` in a transaction block).
    pub keys_read: Option<super::scan::KeysRead>,
}

/// The `postgres` catalog of one statement.
#[derive(Debug)]
pub struct StrataCatalogProvider {
    catalog: Arc<Catalog>,
    reader: super::scan::Reader,
    scope: Arc<Scope>,
}

impl StrataCatalogProvider {
    /// The tables of `catalog`, read through `reader`, as `scope` says.
    pub fn new(catalog: Arc<Catalog>, reader: TxnReader, scope: Scope) -> Self {
        StrataCatalogProvider {
            catalog,
            reader: super::scan::Reader(reader),
            scope: Arc::new(scope),
        }
    }
}

impl CatalogProvider for StrataCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        self.catalog.schemas.keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let s = self.catalog.schema(name)?;
        Some(Arc::new(StrataSchemaProvider {
            catalog: self.catalog.clone(),
            reader: self.reader.clone(),
            scope: self.scope.clone(),
            schema_id: s.id,
        }))
    }
}

/// One schema of a statement's catalog.
#[derive(Debug)]
struct StrataSchemaProvider {
    catalog: Arc<Catalog>,
    reader: super::scan::Reader,
    scope: Arc<Scope>,
    schema_id: u32,
}

#[async_trait]
impl SchemaProvider for StrataSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        self.catalog
            .tables_in(self.schema_id)
            .map(|t| t.name.clone())
            .collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if let Some((_, provider)) = self.scope.transient.iter().find(|(n, _)| n == name) {
            return Ok(Some(provider.clone()));
        }
        let Some(t) = self.catalog.table(self.schema_id, name) else {
            return Ok(None);
        };
        if matches!(t.kind, crate::catalog::ObjectKind::Sequence(_)) {
            return Err(datafusion::error::DataFusionError::External(Box::new(
                Error::unsupported(format!(
                    "reading sequence \"{name}\" as a table (use currval('{name}') or nextval('{name}'))"
                )),
            )));
        }
        if !t.is_table() {
            return Ok(None);
        }
        if let Some((id, provider)) = &self.scope.replaced {
            if *id == t.id {
                return Ok(Some(provider.clone()));
            }
        }
        let hidden = self.scope.hidden_of == Some(t.id);
        Ok(Some(Arc::new(
            KvTable::exposing(t.clone(), self.reader.0.clone(), hidden)
                .recording(self.scope.keys_read.clone()),
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog.table(self.schema_id, name).is_some()
    }
}

/// Plans one parsed statement with DataFusion, against `catalog` read
/// through `reader`.
pub async fn plan(
    ctx: &QueryEngine,
    catalog: Arc<Catalog>,
    reader: TxnReader,
    stmt: Statement,
) -> Result<LogicalPlan> {
    plan_in(ctx, catalog, reader, stmt, Scope::default()).await
}

/// [`plan`], with the tables as `scope` says.
pub async fn plan_in(
    ctx: &QueryEngine,
    catalog: Arc<Catalog>,
    reader: TxnReader,
    stmt: Statement,
    scope: Scope,
) -> Result<LogicalPlan> {
    let mut stmt = stmt;
    crate::plan::views::expand(&catalog, &mut stmt)?;
    crate::plan::names::alias_duplicate_names(&mut stmt);
    // Sequence functions resolve names in the statement's catalog.
    crate::exec::sequence::use_catalog(ctx, Some(catalog.clone()));
    ctx.register_catalog(
        DEFAULT_DATABASE,
        Arc::new(StrataCatalogProvider::new(catalog, reader, scope)),
    );
    let state = ctx.state();
    let is_aggregate = |name: &str| state.aggregate_functions().contains_key(name);
    crate::plan::subqueries::aggregate_scalar_subqueries(&mut stmt, &is_aggregate);
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
        .await
        .map_err(from_datafusion)?;
    crate::plan::pg_rules::analyze(state, plan).map_err(from_datafusion)
}

/// A DataFusion error as the SQL error PostgreSQL would give.
pub fn from_datafusion(e: datafusion::error::DataFusionError) -> Error {
    use datafusion::error::DataFusionError as D;
    match e {
        D::External(inner) => match inner.downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => match other.downcast::<D>() {
                Ok(df) => from_datafusion(*df),
                Err(other) => Error::internal(other),
            },
        },
        D::Context(_, inner) | D::Diagnostic(_, inner) => from_datafusion(*inner),
        D::Collection(mut all) if !all.is_empty() => from_datafusion(all.swap_remove(0)),
        D::Shared(inner) => from_shared(&inner).unwrap_or_else(|| Error::internal(inner)),
        D::ArrowError(inner, _)
            if matches!(
                *inner,
                datafusion::arrow::error::ArrowError::ExternalError(_)
            ) =>
        {
            from_shared(&D::ArrowError(inner, None))
                .unwrap_or_else(|| Error::internal("external arrow error"))
        }
        D::ArrowError(inner, _) => {
            let m = inner.to_string();
            if m.contains("Divide by zero") {
                Error::new(code::DIVISION_BY_ZERO, "division by zero")
            } else if m.contains("Overflow") || m.contains("overflow") {
                Error::new(code::NUMERIC_VALUE_OUT_OF_RANGE, m)
            } else if let Some(e) = cast_out_of_range(&m) {
                e
            } else if m.contains("Cast error") || m.contains("Cannot cast") {
                Error::new(code::INVALID_TEXT_REPRESENTATION, m)
            } else {
                Error::new(code::DATA_EXCEPTION, m)
            }
        }
        D::SQL(inner, _) => Error::syntax(inner.to_string()),
        D::SchemaError(inner, _) => schema_error(inner.to_string()),
        D::Plan(m) => plan_error(m),
        D::NotImplemented(m) => Error::new(code::FEATURE_NOT_SUPPORTED, m),
        D::Execution(m) => {
            if m.contains("Divide by zero") || m.contains("division by zero") {
                Error::new(code::DIVISION_BY_ZERO, "division by zero")
            } else if m.contains("Scalar subquery returned more than one row") {
                Error::new(
                    code::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                )
            } else if let Some(e) = undefined_function(&m) {
                e
            } else {
                Error::new(code::DATA_EXCEPTION, m)
            }
        }
        other => Error::internal(other),
    }
}

/// Our error inside a shared (or boxed) DataFusion error: a hash join's
/// build side, shared by its partitions, fails with one of these.
fn from_shared(e: &datafusion::error::DataFusionError) -> Option<Error> {
    use datafusion::arrow::error::ArrowError;
    use datafusion::error::DataFusionError as D;
    let boxed = |b: &(dyn std::error::Error + Send + Sync + 'static)| {
        b.downcast_ref::<Error>()
            .cloned()
            .or_else(|| b.downcast_ref::<D>().and_then(from_shared))
    };
    match e {
        D::External(b) => boxed(b.as_ref()),
        D::Context(_, inner) | D::Diagnostic(_, inner) => from_shared(inner),
        D::Shared(inner) => from_shared(inner),
        D::ArrowError(inner, _) => match inner.as_ref() {
            ArrowError::ExternalError(b) => boxed(b.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// A cast of a number to a narrower integer type ("Can't cast value
/// 99999 to type Int16") as PostgreSQL reports it: 22003.
fn cast_out_of_range(m: &str) -> Option<Error> {
    let target = m
        .split("Can't cast value ")
        .nth(1)?
        .split(" to type ")
        .nth(1)?;
    let message = match target.trim() {
        "Int16" => "smallint out of range",
        "Int32" => "integer out of range",
        "Int64" => "bigint out of range",
        _ => "value out of range",
    };
    Some(Error::new(code::NUMERIC_VALUE_OUT_OF_RANGE, message))
}

/// A function's argument types rejected while coercing them (DataFusion
/// reports it as an execution error, with the function's own message
/// inside, e.g. "function round(double precision, integer) does not
/// exist"): 42883.
fn undefined_function(m: &str) -> Option<Error> {
    if !m.contains("coercion failed") {
        return None;
    }
    let inner = m
        .find("function ")
        .and_then(|i| {
            let rest = &m[i..];
            rest.find(" does not exist")
                .map(|j| rest[..j + " does not exist".len()].to_string())
        })
        .unwrap_or_else(|| m.to_string());
    Some(Error::new(code::UNDEFINED_FUNCTION, inner))
}

fn schema_error(m: String) -> Error {
    // "No field named x. Valid fields are ..." / "Ambiguous reference ..."
    if let Some(rest) = m.strip_prefix("No field named ") {
        let name = rest
            .split(['.', ' '])
            .next()
            .unwrap_or(rest)
            .trim_matches('"');
        return Error::undefined_column(name);
    }
    if m.contains("Ambiguous reference") {
        return Error::new(code::AMBIGUOUS_COLUMN, m);
    }
    Error::new(code::UNDEFINED_COLUMN, m)
}

fn plan_error(m: String) -> Error {
    if let Some(e) = undefined_function(&m) {
        return e;
    }
    if let Some(rest) = m.strip_prefix("table '") {
        let name = rest.split('\'').next().unwrap_or(rest);
        let short = name.rsplit('.').next().unwrap_or(name);
        return Error::undefined_table(short);
    }
    if m.contains("Invalid function") || m.contains("function") && m.contains("not found") {
        return Error::new(code::UNDEFINED_FUNCTION, m);
    }
    if m.contains("No function matches") || m.contains("Cannot infer common") {
        return Error::new(code::UNDEFINED_FUNCTION, m);
    }
    Error::new(code::SYNTAX_ERROR, m)
}
