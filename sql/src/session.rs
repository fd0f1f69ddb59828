//! A SQL node ([`Node`], shared by its connections) and one connection's
//! [`Session`]: its transaction, settings and DataFusion context.
//!
//! **How a statement runs.** [`Session::execute`] gets one parsed
//! statement. Transaction control, SET/SHOW and DDL are handled here;
//! queries go to DataFusion with the session's catalog and view; INSERT
//! goes to `exec::insert`. Outside BEGIN … COMMIT a statement runs in a
//! transaction of its own (autocommit); a write that meets a conflict is
//! retried here, whole, before anything was sent to the client. Inside a
//! block, an error fails the block: later statements get 25P02 until
//! ROLLBACK, and COMMIT of a failed block rolls back.
//!
//! Isolation: every transaction runs at snapshot isolation, which is
//! reported as REPEATABLE READ; READ COMMITTED (what drivers ask for) is
//! accepted and runs the same way; SERIALIZABLE is refused (0A000).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use client::{BufferedTxn, Savepoint, SharedKv, TxnReader};
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{displayable, SendableRecordBatchStream};
use datafusion::sql::sqlparser::ast::{
    AlterIndexOperation, CreateIndex, Expr, ObjectName, Set, Statement, TransactionIsolationLevel,
    TransactionMode, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::catalog::cache::CatalogCache;
use crate::catalog::{store, Catalog, TableDesc};
use crate::error::{code, Error, Result};
use crate::exec::blocks::Blocks;
use crate::exec::ddl::{self, ident_name, split_name, Created};
use crate::exec::insert::insert;
use crate::exec::query::{from_datafusion, plan, QueryEngine};
use crate::exec::update::{delete, update};
use crate::exec::write::{DmlCtx, SchemaUse};
use crate::exec::{alter, index, view};
use crate::plan::names::{named, output_names};
use crate::plan::stats::StatsCache;
use crate::types::arrow::sql_columns;
use crate::types::text::{TextFormat, TimeZoneSetting};
use crate::types::SqlType;

/// How a SQL node behaves.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The schema lease (see `catalog::cache`).
    pub schema_lease: Duration,
    /// Largest transaction, in bytes of buffered writes.
    pub txn_size_limit: usize,
    /// Times an autocommit statement is retried after a conflict.
    pub autocommit_retries: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            schema_lease: Duration::from_millis(500),
            txn_size_limit: client::DEFAULT_TXN_SIZE_LIMIT,
            autocommit_retries: 10,
        }
    }
}

/// What every connection of a SQL node shares.
pub struct Node {
    kv: SharedKv,
    catalog: Arc<CatalogCache>,
    blocks: Blocks,
    config: NodeConfig,
    stats: Arc<StatsCache>,
}

impl Node {
    /// Starts a node over `kv`: bootstraps the catalog on a new cluster
    /// and loads it.
    pub async fn start(kv: SharedKv, config: NodeConfig) -> Result<Arc<Node>> {
        store::bootstrap(kv.clone(), "postgres").await?;
        let catalog = CatalogCache::start(kv.clone(), config.schema_lease).await?;
        Ok(Arc::new(Node {
            stats: StatsCache::new(kv.clone()),
            kv,
            catalog,
            blocks: Blocks::default(),
            config,
        }))
    }

    /// The store.
    pub fn kv(&self) -> &SharedKv {
        &self.kv
    }

    /// The node's catalog cache (users, for authentication).
    pub fn catalog(&self) -> &Arc<CatalogCache> {
        &self.catalog
    }
}

/// What a statement produced.
pub enum Outcome {
    /// Rows: their columns and a stream of Arrow batches.
    Rows {
        /// Column names and types.
        columns: Vec<(String, SqlType)>,
        /// The rows.
        batches: SendableRecordBatchStream,
        /// The completion tag, before the row count (`SELECT`, `INSERT 0`,
        /// `UPDATE`, `DELETE`: RETURNING gives rows too).
        command: &'static str,
    },
    /// A command's completion tag (`CREATE TABLE`, `INSERT 0 3`, …).
    Command(String),
    /// A transaction began (`BEGIN`).
    Began,
    /// A transaction ended (`COMMIT` or `ROLLBACK`, the tag).
    Ended(String),
}

/// The transaction a session is in.
struct OpenTxn {
    txn: BufferedTxn,
    /// An error happened: only ROLLBACK (or COMMIT, which rolls back) now.
    failed: bool,
    /// The block ran DDL: statements read the catalog through it, and
    /// COMMIT waits out the schema lease.
    ddl: bool,
    /// Savepoints: name, buffer, whether DDL ran before, schema changes
    /// deferred before.
    savepoints: Vec<(String, Savepoint, bool, usize)>,
    /// The table versions its writes used.
    schema_use: SchemaUse,
    /// Online index changes its COMMIT finishes.
    deferred: Vec<index::Deferred>,
}

/// The state PostgreSQL reports in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// Not in a block.
    Idle,
    /// In a block.
    InBlock,
    /// In a failed block.
    Failed,
}

/// One connection.
pub struct Session {
    node: Arc<Node>,
    df: QueryEngine,
    txn: Option<OpenTxn>,
    /// Value formatting settings (DateStyle, TimeZone, extra_float_digits).
    pub format: TextFormat,
    vars: HashMap<String, String>,
    notices: Vec<String>,
    /// Tables this session dropped, whose rows go once the drop commits
    /// (`exec::cleanup` checks the drop committed).
    dropped: Vec<u32>,
    /// Online index changes the running statement began, for its commit
    /// (or its block's) to finish.
    pending: Vec<index::Deferred>,
    /// Cancel requests and `statement_timeout` stop statements through
    /// this (`server::cancel`).
    pub interrupts: crate::server::cancel::Interrupts,
    /// `statement_timeout` (zero: none).
    statement_timeout: Duration,
    /// Statements of SQL `PREPARE` (`server::prepare`).
    pub(crate) prepared: crate::server::prepare::PreparedStatements,
    /// The user the session logged in as.
    user: String,
    /// Settings the client sent at startup: what `RESET` returns to.
    startup_vars: HashMap<String, String>,
}

impl Session {
    /// A new session on `node`.
    pub fn new(node: Arc<Node>) -> Session {
        let mut df = QueryEngine::with_stats(Some(node.stats.clone()));
        crate::exec::sequence::register(
            &df,
            node.kv.clone(),
            node.blocks.clone(),
            node.catalog.clone(),
        );
        let interrupts = crate::server::cancel::Interrupts::default();
        crate::server::interrupt_exec::install(&df, &interrupts);
        df.refresh();
        Session {
            node,
            df,
            txn: None,
            format: TextFormat::default(),
            vars: HashMap::new(),
            notices: Vec::new(),
            dropped: Vec::new(),
            pending: Vec::new(),
            interrupts,
            statement_timeout: Duration::ZERO,
            prepared: Default::default(),
            user: crate::auth::BOOTSTRAP_USER.to_string(),
            startup_vars: HashMap::new(),
        }
    }

    /// Where the session stands, for ReadyForQuery.
    pub fn status(&self) -> TxnStatus {
        match &self.txn {
            None => TxnStatus::Idle,
            Some(t) if t.failed => TxnStatus::Failed,
            Some(_) => TxnStatus::InBlock,
        }
    }

    /// Applies a setting a client sent in its startup message (unknown
    /// names are kept, as PostgreSQL accepts any GUC there).
    pub fn apply_startup_setting(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "user" => {
                crate::exec::functions::register(&self.df, value);
                self.df.refresh();
                self.user = value.to_string();
                Ok(())
            }
            "database" | "options" | "replication" => Ok(()),
            "client_encoding" => Ok(()),
            other => {
                self.set_var(&other.to_lowercase(), value)?;
                self.startup_vars
                    .insert(other.to_lowercase(), value.to_string());
                Ok(())
            }
        }
    }

    /// The user the session logged in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `statement_timeout` (zero: none).
    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// A setting's value as SET gave it (`application_name`, …).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A row stream of the block failed after its statement returned
    /// (`server::cancel`): the block fails as after any error.
    pub fn fail_block(&mut self) {
        if let Some(t) = &mut self.txn {
            t.failed = true;
        }
    }

    /// After a statement was stopped midway (cancel, timeout): the block
    /// it ran in fails, as after any error. A statement that held the
    /// block's transaction when it was dropped took it along; an empty
    /// failed one stands in (only ROLLBACK or COMMIT are taken now).
    pub async fn after_interrupt(&mut self, in_block: bool) {
        match &mut self.txn {
            Some(t) => t.failed = true,
            None if in_block => {
                match BufferedTxn::begin(self.node.kv.clone(), self.node.config.txn_size_limit)
                    .await
                {
                    Ok(txn) => {
                        self.txn = Some(OpenTxn {
                            txn,
                            failed: true,
                            ddl: false,
                            savepoints: Vec::new(),
                            schema_use: SchemaUse::default(),
                            deferred: Vec::new(),
                        })
                    }
                    Err(e) => tracing::warn!("cannot mark the interrupted block failed: {e}"),
                }
            }
            None => {}
        }
    }

    /// Notices raised since the last call.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Parses a query string into statements (PostgreSQL dialect).
    pub fn parse(sql: &str) -> Result<Vec<Statement>> {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .or_else(|e| crate::auth::users::reparse(sql, e))
            .or_else(|e| crate::exec::sequence::reparse(sql, e))
    }

    /// Runs one statement. An error inside a block fails the block.
    pub async fn execute(&mut self, stmt: Statement) -> Result<Outcome> {
        if let Some(t) = &self.txn {
            if t.failed && !ends_block(&stmt) {
                return Err(Error::new(
                    code::IN_FAILED_SQL_TRANSACTION,
                    "current transaction is aborted, commands ignored until end of transaction block",
                ));
            }
        }
        self.df.begin_statement();
        let r = match crate::server::prepare::resolve(self, stmt) {
            Ok(stmt) => self.dispatch(stmt).await,
            Err(e) => Err(e),
        };
        if r.is_err() {
            if let Some(t) = &mut self.txn {
                t.failed = true;
            }
        }
        r
    }

    async fn dispatch(&mut self, stmt: Statement) -> Result<Outcome> {
        match stmt {
            Statement::StartTransaction { modes, .. } => self.begin(&modes).await,
            Statement::Commit { .. } => self.commit().await,
            Statement::Rollback {
                savepoint: None, ..
            } => {
                self.rollback();
                Ok(Outcome::Ended("ROLLBACK".into()))
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => self.rollback_to(&ident_name(&name)),
            Statement::Savepoint { name } => self.savepoint(ident_name(&name)),
            Statement::ReleaseSavepoint { name } => self.release(&ident_name(&name)),
            Statement::Set(set) => self.set(set),
            Statement::Reset(r) => self.reset(r.reset),
            Statement::Prepare { .. } => crate::server::prepare::prepare(self, stmt).await,
            Statement::Deallocate { name, .. } => crate::server::prepare::deallocate(self, &name),
            Statement::CreateRole(_)
            | Statement::CreateUser(_)
            | Statement::AlterRole { .. }
            | Statement::AlterUser(_) => self.write(stmt).await,
            Statement::ShowVariable { variable } => {
                let name: Vec<String> = variable.iter().map(ident_name).collect();
                // `SHOW time zone` is two words; `SHOW strata.pushdown`,
                // a qualified (custom) parameter, arrives as two too.
                let spoken = name.join(" ");
                if name.len() == 2 && !spoken.eq_ignore_ascii_case("time zone") {
                    self.show(&name.join("."))
                } else {
                    self.show(&spoken)
                }
            }
            Statement::Query(_) => self.query(stmt).await,
            Statement::Explain {
                statement, analyze, ..
            } => self.explain(*statement, analyze).await,
            Statement::CreateIndex(ci) => self.create_index(ci).await,
            Statement::Analyze(a) => self.analyze(a.table_name.as_ref()).await,
            Statement::Drop {
                object_type: datafusion::sql::sqlparser::ast::ObjectType::Index,
                if_exists,
                names,
                ..
            } => self.drop_index(&names, if_exists).await,
            Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::CreateTable(_)
            | Statement::AlterIndex { .. }
            | Statement::Drop { .. } => self.write(stmt).await,
            Statement::CreateSequence { .. }
            | Statement::AlterTable(_)
            | Statement::Truncate(_)
            | Statement::CreateView(_)
            | Statement::CreateSchema { .. } => self.write(stmt).await,
            other => Err(Error::unsupported(format!(
                "the statement \"{}\"",
                first_words(&other.to_string())
            ))),
        }
    }

    async fn begin(&mut self, modes: &[TransactionMode]) -> Result<Outcome> {
        check_isolation(modes)?;
        if self.txn.is_some() {
            self.notices
                .push("there is already a transaction in progress".into());
            return Ok(Outcome::Began);
        }
        let txn = BufferedTxn::begin(self.node.kv.clone(), self.node.config.txn_size_limit).await?;
        self.txn = Some(OpenTxn {
            txn,
            failed: false,
            ddl: false,
            savepoints: Vec::new(),
            schema_use: SchemaUse::default(),
            deferred: Vec::new(),
        });
        Ok(Outcome::Began)
    }

    async fn commit(&mut self) -> Result<Outcome> {
        let Some(t) = self.txn.take() else {
            self.notices
                .push("there is no transaction in progress".into());
            return Ok(Outcome::Ended("COMMIT".into()));
        };
        if t.failed {
            return Ok(Outcome::Ended("ROLLBACK".into()));
        }
        self.commit_checked(t.txn, &t.schema_use, t.ddl).await??;
        if t.ddl {
            self.after_ddl().await?;
        }
        for d in t.deferred {
            if let Err(e) = d.finish(&self.online_change()).await {
                return Err(e.with_hint(
                    "The transaction committed, but this index change did not: run it again outside a transaction block.",
                ));
            }
        }
        Ok(Outcome::Ended("COMMIT".into()))
    }

    fn rollback(&mut self) {
        if self.txn.take().is_none() {
            self.notices
                .push("there is no transaction in progress".into());
        }
    }

    fn savepoint(&mut self, name: String) -> Result<Outcome> {
        let Some(t) = &mut self.txn else {
            return Err(Error::new(
                code::NO_ACTIVE_SQL_TRANSACTION,
                "SAVEPOINT can only be used in transaction blocks",
            ));
        };
        let sp = t.txn.savepoint();
        t.savepoints.push((name, sp, t.ddl, t.deferred.len()));
        Ok(Outcome::Command("SAVEPOINT".into()))
    }

    fn find_savepoint(&mut self, name: &str, what: &str) -> Result<(&mut OpenTxn, usize)> {
        let Some(t) = &mut self.txn else {
            return Err(Error::new(
                code::NO_ACTIVE_SQL_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            ));
        };
        match t.savepoints.iter().rposition(|(n, ..)| n == name) {
            Some(i) => Ok((t, i)),
            None => Err(Error::new(
                code::INVALID_SAVEPOINT,
                format!("savepoint \"{name}\" does not exist"),
            )),
        }
    }

    fn rollback_to(&mut self, name: &str) -> Result<Outcome> {
        let (t, i) = self.find_savepoint(name, "ROLLBACK TO SAVEPOINT")?;
        let (_, sp, ddl, deferred) = t.savepoints[i].clone();
        t.deferred.truncate(deferred);
        t.txn.rollback_to(&sp);
        t.ddl = ddl;
        t.failed = false;
        // The savepoint stays; later ones go.
        t.savepoints.truncate(i + 1);
        Ok(Outcome::Command("ROLLBACK".into()))
    }

    fn release(&mut self, name: &str) -> Result<Outcome> {
        let (t, i) = self.find_savepoint(name, "RELEASE SAVEPOINT")?;
        t.savepoints.truncate(i);
        Ok(Outcome::Command("RELEASE".into()))
    }

    /// The catalog a statement plans against: the node's (lease-checked),
    /// or the transaction's own when it ran DDL.
    async fn catalog(&self) -> Result<Arc<Catalog>> {
        match &self.txn {
            Some(t) if t.ddl => Ok(Arc::new(store::load(&t.txn.reader()).await?)),
            _ => self.node.catalog.current().await,
        }
    }

    /// The view a read runs at: the block's, or a fresh snapshot.
    async fn reader(&self) -> Result<TxnReader> {
        match &self.txn {
            Some(t) => Ok(t.txn.reader()),
            None => Ok(TxnReader::snapshot(self.node.kv.clone()).await?),
        }
    }

    async fn query(&mut self, stmt: Statement) -> Result<Outcome> {
        let catalog = self.catalog().await?;
        if let Some(point) = crate::plan::point::point_select(&catalog, &stmt, &self.format) {
            // One key: outside a block, the newest version (no timestamp).
            let reader = match &self.txn {
                Some(t) => t.txn.reader(),
                None => TxnReader::latest(self.node.kv.clone()),
            };
            let (columns, batches) = crate::exec::point::read(&point, &reader).await?;
            return Ok(Outcome::Rows {
                columns,
                batches,
                command: "SELECT",
            });
        }
        let names = output_names(&stmt);
        let reader = self.reader().await?;
        // FOR UPDATE/SHARE in a block: the rows read are locked (a
        // concurrent commit to one of them makes this block's commit fail
        // with 40001); outside a block there is nothing to hold them for.
        let locking =
            matches!(&stmt, Statement::Query(q) if !q.locks.is_empty()) && self.txn.is_some();
        let keys = locking.then(crate::exec::scan::KeysRead::default);
        let scope = crate::exec::query::Scope {
            keys_read: keys.clone(),
            ..Default::default()
        };
        let plan = crate::exec::query::plan_in(&self.df, catalog, reader, stmt, scope).await?;
        let columns = named(sql_columns(plan.schema().as_arrow()), names);
        let mut batches = self.df.execute(&plan).await?;
        if let (Some(keys), Some(t)) = (keys, self.txn.as_mut()) {
            let schema = batches.schema();
            let read = datafusion::physical_plan::common::collect(batches)
                .await
                .map_err(from_datafusion)?;
            for key in std::mem::take(&mut *keys.lock()) {
                t.txn.lock(key)?;
            }
            batches = Box::pin(
                datafusion::physical_plan::memory::MemoryStream::try_new(read, schema, None)
                    .map_err(from_datafusion)?,
            );
        }
        Ok(Outcome::Rows {
            columns,
            batches,
            command: "SELECT",
        })
    }

    /// The parameter types DataFusion infers for a query (by `$n` name)
    /// and its result columns, for the extended protocol's Describe.
    pub async fn describe_query(
        &mut self,
        stmt: Statement,
    ) -> Result<(
        HashMap<String, Option<datafusion::arrow::datatypes::DataType>>,
        Vec<(String, SqlType)>,
    )> {
        self.df.begin_statement();
        let catalog = self.catalog().await?;
        let reader = self.reader().await?;
        let names = output_names(&stmt);
        let plan = plan(&self.df, catalog, reader, stmt).await?;
        let params = plan.get_parameter_types().map_err(from_datafusion)?;
        Ok((params, named(sql_columns(plan.schema().as_arrow()), names)))
    }

    /// The types of the `$n` an `INSERT … VALUES` puts into columns.
    pub async fn insert_param_types(
        &mut self,
        ins: &datafusion::sql::sqlparser::ast::Insert,
    ) -> Result<Vec<(usize, SqlType)>> {
        let (schema, name) = crate::server::extended::insert_target(ins)?;
        let catalog = self.catalog().await?;
        let Some(t) = catalog.find(&schema, &name) else {
            return Err(Error::undefined_table(&name));
        };
        let cols: Vec<(String, SqlType)> = t
            .visible_columns()
            .map(|c| (c.name.clone(), c.ty))
            .collect();
        Ok(crate::server::extended::values_params(ins, &cols))
    }

    async fn explain(&mut self, stmt: Statement, analyze: bool) -> Result<Outcome> {
        if !matches!(stmt, Statement::Query(_)) {
            return Err(Error::unsupported(
                "EXPLAIN of statements other than queries",
            ));
        }
        let catalog = self.catalog().await?;
        let started = std::time::Instant::now();
        let ms = |since: std::time::Instant| since.elapsed().as_secs_f64() * 1000.0;
        if let Some(point) = crate::plan::point::point_select(&catalog, &stmt, &self.format) {
            let mut lines = vec![point.describe()];
            if analyze {
                let mut rows = 0;
                if let Outcome::Rows { mut batches, .. } = self.query(stmt).await? {
                    while let Some(b) = futures::StreamExt::next(&mut batches).await {
                        rows += b.map_err(from_datafusion)?.num_rows();
                    }
                }
                lines[0].push_str(&format!(" (actual rows={rows})"));
                lines.push(format!("Execution Time: {:.3} ms", ms(started)));
            }
            return Ok(Outcome::Rows {
                columns: vec![("QUERY PLAN".into(), SqlType::Text)],
                batches: text_rows("QUERY PLAN", lines)?,
                command: "SELECT",
            });
        }
        let reader = self.reader().await?;
        let plan = plan(&self.df, catalog, reader, stmt).await?;
        let physical = self
            .df
            .state()
            .create_physical_plan(&plan)
            .await
            .map_err(from_datafusion)?;
        let planned = ms(started);
        let mut lines: Vec<String>;
        if analyze {
            // Run it to the end, then show each operator with what it
            // counted: rows, time, requests to the store.
            let executed = std::time::Instant::now();
            datafusion::physical_plan::collect(physical.clone(), self.df.task())
                .await
                .map_err(from_datafusion)?;
            let text = DisplayableExecutionPlan::with_metrics(physical.as_ref())
                .indent(false)
                .to_string();
            lines = text.lines().map(str::to_string).collect();
            lines.push(format!("Planning Time: {planned:.3} ms"));
            lines.push(format!("Execution Time: {:.3} ms", ms(executed)));
        } else {
            let text = displayable(physical.as_ref()).indent(false).to_string();
            lines = text.lines().map(str::to_string).collect();
        }
        Ok(Outcome::Rows {
            columns: vec![("QUERY PLAN".into(), SqlType::Text)],
            batches: text_rows("QUERY PLAN", lines)?,
            command: "SELECT",
        })
    }

    /// `ANALYZE [table]`: samples the table (every table without a name)
    /// and stores its statistics for the planner.
    async fn analyze(&mut self, table: Option<&ObjectName>) -> Result<Outcome> {
        let catalog = self.catalog().await?;
        let tables: Vec<Arc<TableDesc>> = match table {
            Some(name) => {
                let (schema, name) = crate::exec::ddl::split_name(name)?;
                let desc = catalog
                    .find(&schema, &name)
                    .ok_or_else(|| Error::undefined_table(&name))?;
                if !desc.is_table() {
                    self.notices.push(format!(
                        "skipping \"{name}\" --- cannot analyze non-tables or special system tables"
                    ));
                    return Ok(Outcome::Command("ANALYZE".into()));
                }
                vec![desc.clone()]
            }
            None => catalog
                .tables
                .values()
                .filter(|t| t.is_table())
                .cloned()
                .collect(),
        };
        for desc in tables {
            self.node.stats.analyze(&desc).await?;
        }
        Ok(Outcome::Command("ANALYZE".into()))
    }

    /// A statement that writes: in the block, or in a transaction of its
    /// own, retried on conflict.
    async fn write(&mut self, stmt: Statement) -> Result<Outcome> {
        if let Some(mut t) = self.txn.take() {
            self.pending.clear();
            let r = self.write_in(&mut t.txn, &stmt, t.ddl, &t.schema_use).await;
            t.ddl |= matches!(r, Ok((_, true)));
            if r.is_ok() {
                t.deferred.append(&mut self.pending);
            }
            self.txn = Some(t);
            return r.map(|(o, _)| o);
        }
        let mut attempt = 0;
        loop {
            self.pending.clear();
            let mut txn =
                BufferedTxn::begin(self.node.kv.clone(), self.node.config.txn_size_limit).await?;
            let schema_use = SchemaUse::default();
            let (outcome, ddl) = self.write_in(&mut txn, &stmt, false, &schema_use).await?;
            // A commit, and the lease wait after DDL, are not cut short.
            let _hold = self.interrupts.hold();
            match self.commit_checked(txn, &schema_use, ddl).await? {
                Ok(_) => {
                    if ddl {
                        self.after_ddl().await?;
                    }
                    for d in std::mem::take(&mut self.pending) {
                        d.finish(&self.online_change()).await.map_err(|e| {
                            e.with_hint(
                                "The statement committed, but its unique index was not built: the constraint was removed.",
                            )
                        })?;
                    }
                    return Ok(outcome);
                }
                Err(client::Error::TxnConflict(_))
                    if attempt < self.node.config.autocommit_retries =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "retrying an autocommit statement after a conflict");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Commits `txn`, whose writes used the table versions `used`: only
    /// while the node's catalog, valid for a while yet, still has those
    /// versions (else a conflict: the statement or block is retried or
    /// fails with 40001). A transaction that ran DDL read the catalog
    /// through itself and conflicts with other DDL on the version key.
    /// The outer error is the catalog's, the inner the commit's.
    async fn commit_checked(
        &self,
        txn: BufferedTxn,
        used: &SchemaUse,
        ddl: bool,
    ) -> Result<client::Result<u64>> {
        let tables = used.tables();
        if ddl || tables.is_empty() {
            return Ok(txn.commit().await);
        }
        let cache = self.node.catalog.clone();
        // Checked first (a conflict that names the table, before any
        // prewrite)…
        let catalog = cache.current().await?;
        if let Some(name) = changed_table(&catalog, &tables) {
            return Ok(Err(client::Error::TxnConflict(format!(
                "the definition of table \"{name}\" changed while the transaction wrote to it"
            ))));
        }
        // …and again just before the commit timestamp is fixed, however
        // long the prewrite took: against a catalog whose lease holds, so
        // no newer version has been in force for a lease yet.
        let written: Vec<Arc<TableDesc>> = tables
            .iter()
            .filter_map(|(id, _)| catalog.by_id(*id).cloned())
            .collect();
        let tables = Arc::new(tables);
        let guard = move || -> futures::future::BoxFuture<'static, bool> {
            let (cache, tables) = (cache.clone(), tables.clone());
            Box::pin(async move {
                match cache.current().await {
                    Ok(c) => changed_table(&c, &tables).is_none(),
                    Err(_) => false,
                }
            })
        };
        let committed = txn.commit_guarded(&guard).await;
        if committed.is_ok() {
            // Tables enough rows of changed since their last ANALYZE are
            // analyzed again.
            for desc in &written {
                self.node.stats.maybe_analyze(desc);
            }
        }
        Ok(committed)
    }

    /// Runs a writing statement in `txn`; says whether it changed the
    /// catalog.
    async fn write_in(
        &mut self,
        txn: &mut BufferedTxn,
        stmt: &Statement,
        ddl_block: bool,
        schema_use: &SchemaUse,
    ) -> Result<(Outcome, bool)> {
        let catalog = if ddl_block {
            Arc::new(store::load(&txn.reader()).await?)
        } else {
            self.node.catalog.current().await?
        };
        match stmt {
            s if crate::auth::users::is_user_ddl(s) => {
                let done = crate::auth::users::execute(txn, s, &self.user).await?;
                self.notices.extend(done.notices);
                Ok((Outcome::Command(done.tag), done.changed))
            }
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                let mut cx = DmlCtx {
                    catalog,
                    df: &self.df,
                    txn,
                    kv: &self.node.kv,
                    blocks: &self.node.blocks,
                    format: &self.format,
                    schema_use,
                    deferred: None,
                };
                let (written, command) = match stmt {
                    Statement::Insert(ins) => (insert(&mut cx, ins).await?, "INSERT 0"),
                    Statement::Update(upd) => (update(&mut cx, upd).await?, "UPDATE"),
                    Statement::Delete(del) => (delete(&mut cx, del).await?, "DELETE"),
                    _ => unreachable!("matched above"),
                };
                let outcome = match written.returned {
                    Some(r) => Outcome::Rows {
                        columns: r.columns,
                        batches: r.batches,
                        command,
                    },
                    None => Outcome::Command(format!("{command} {}", written.count)),
                };
                Ok((outcome, false))
            }
            Statement::AlterTable(at) => {
                // A unique index for a table other sessions use is built
                // online once this commits.
                let (schema, name) = split_name(&at.name)?;
                let shared = self
                    .node
                    .catalog
                    .current()
                    .await?
                    .find(&schema, &name)
                    .is_some();
                let mut deferred = Vec::new();
                let mut cx = DmlCtx {
                    catalog,
                    df: &self.df,
                    txn,
                    kv: &self.node.kv,
                    blocks: &self.node.blocks,
                    format: &self.format,
                    schema_use,
                    deferred: shared.then_some(&mut deferred),
                };
                let mut notices = Vec::new();
                let r = alter::alter_table(&mut cx, at, &mut notices).await?;
                self.pending.extend(deferred);
                self.notices.extend(notices);
                match r {
                    alter::Altered::Changed => Ok((Outcome::Command("ALTER TABLE".into()), true)),
                    alter::Altered::Skipped(notice) => {
                        self.notices.push(notice);
                        Ok((Outcome::Command("ALTER TABLE".into()), false))
                    }
                }
            }
            Statement::Truncate(t) => {
                if matches!(
                    t.identity,
                    Some(datafusion::sql::sqlparser::ast::TruncateIdentityOption::Restart)
                ) {
                    return Err(Error::unsupported("TRUNCATE … RESTART IDENTITY"));
                }
                let mut cx = DmlCtx {
                    catalog,
                    df: &self.df,
                    txn,
                    kv: &self.node.kv,
                    blocks: &self.node.blocks,
                    format: &self.format,
                    schema_use,
                    deferred: None,
                };
                let names: Vec<_> = t.table_names.iter().map(|n| n.name.clone()).collect();
                let cascade = matches!(
                    t.cascade,
                    Some(datafusion::sql::sqlparser::ast::CascadeOption::Cascade)
                );
                alter::truncate(&mut cx, &names, cascade).await?;
                Ok((Outcome::Command("TRUNCATE TABLE".into()), false))
            }
            Statement::AlterIndex {
                name,
                operation: AlterIndexOperation::RenameIndex { index_name },
            } => {
                index::rename(txn, &catalog, name, index_name).await?;
                Ok((Outcome::Command("ALTER INDEX".into()), true))
            }
            Statement::CreateView(cv) => {
                let reader = txn.reader();
                match view::create_view(&catalog, &self.df, txn, reader, cv).await? {
                    Created::Table => Ok((Outcome::Command("CREATE VIEW".into()), true)),
                    Created::AlreadyExists(notice) => {
                        self.notices.push(notice);
                        Ok((Outcome::Command("CREATE VIEW".into()), false))
                    }
                }
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => match view::create_schema(&catalog, txn, schema_name, *if_not_exists).await? {
                Created::Table => Ok((Outcome::Command("CREATE SCHEMA".into()), true)),
                Created::AlreadyExists(notice) => {
                    self.notices.push(notice);
                    Ok((Outcome::Command("CREATE SCHEMA".into()), false))
                }
            },
            Statement::CreateTable(ct) => {
                match ddl::create_table(&catalog, &self.df, &self.node.kv, txn, ct).await? {
                    Created::Table => Ok((Outcome::Command("CREATE TABLE".into()), true)),
                    Created::AlreadyExists(notice) => {
                        self.notices.push(notice);
                        Ok((Outcome::Command("CREATE TABLE".into()), false))
                    }
                }
            }
            Statement::CreateSequence { .. } => {
                let done = "CREATE SEQUENCE".to_string();
                match crate::exec::sequence::create_sequence(&catalog, txn, stmt).await? {
                    Created::Table => Ok((Outcome::Command(done), true)),
                    Created::AlreadyExists(notice) => {
                        self.notices.push(notice);
                        Ok((Outcome::Command(done), false))
                    }
                }
            }
            Statement::Drop {
                object_type: datafusion::sql::sqlparser::ast::ObjectType::Sequence,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let dropped = crate::exec::sequence::drop_sequences(
                    &catalog, txn, names, *if_exists, *cascade,
                )
                .await?;
                self.notices.extend(dropped.notices);
                Ok((Outcome::Command("DROP SEQUENCE".into()), dropped.changed))
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let dropped = crate::exec::drop::drop_objects(
                    &catalog,
                    txn,
                    *object_type,
                    names,
                    *if_exists,
                    *cascade,
                )
                .await?;
                self.notices.extend(dropped.notices);
                self.dropped.extend(dropped.tables);
                Ok((
                    Outcome::Command(format!("DROP {}", object_type.to_string().to_uppercase())),
                    dropped.changed,
                ))
            }
            _ => Err(Error::internal("not a writing statement")),
        }
    }

    /// `CREATE INDEX`: built online; inside a block, in the block on a
    /// table it made, else finished online by its COMMIT (`exec::index`).
    async fn create_index(&mut self, ci: CreateIndex) -> Result<Outcome> {
        let done = Outcome::Command("CREATE INDEX".into());
        let catalog = self.catalog().await?;
        let (table, index) = match index::plan_create(&self.df, &catalog, &ci)? {
            index::CreatePlan::Exists(notice) => {
                self.notices.push(notice);
                return Ok(done);
            }
            index::CreatePlan::Build { table, index } => (table, index),
        };
        if let Some(mut t) = self.txn.take() {
            let r = match self.made_in_block(table).await {
                Ok(true) => {
                    index::create_in_txn(&self.df, &mut t.txn, &catalog, table, index, &self.format)
                        .await
                }
                Ok(false) => index::begin_create_in_txn(
                    &self.df,
                    &mut t.txn,
                    &catalog,
                    table,
                    index,
                    &self.format,
                )
                .await
                .map(|d| t.deferred.push(d)),
                Err(e) => Err(e),
            };
            t.ddl |= r.is_ok();
            self.txn = Some(t);
            return r.map(|_| done);
        }
        // The build is one statement of several transactions: it is not
        // stopped halfway (a failed build removes its index itself).
        let _hold = self.interrupts.hold();
        self.online_change().create(table, index).await?;
        Ok(done)
    }

    /// `DROP INDEX`: online; inside a block, in the block on a table it
    /// made, else finished online by its COMMIT.
    async fn drop_index(&mut self, names: &[ObjectName], if_exists: bool) -> Result<Outcome> {
        let catalog = self.catalog().await?;
        let mut targets = Vec::new();
        for n in names {
            match index::find(&catalog, n)? {
                Some((desc, i)) => {
                    let i = index::check_droppable(desc, i)?;
                    targets.push((desc.id, desc.indexes[i].id));
                }
                None if if_exists => {
                    let name = split_name(n).map(|(_, n)| n).unwrap_or_default();
                    self.notices
                        .push(format!("index \"{name}\" does not exist, skipping"));
                }
                None => return Err(index::no_index(n)),
            }
        }
        let done = Outcome::Command("DROP INDEX".into());
        if let Some(mut t) = self.txn.take() {
            let mut r = Ok(());
            for (table, id) in &targets {
                let made = self.made_in_block(*table).await;
                let catalog = store::load(&t.txn.reader()).await;
                r = match (made, catalog) {
                    (Ok(true), Ok(c)) => index::drop_in_txn(&mut t.txn, &c, *table, *id).await,
                    (Ok(false), Ok(c)) => index::begin_drop_in_txn(&mut t.txn, &c, *table, *id)
                        .await
                        .map(|d| t.deferred.push(d)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                if r.is_err() {
                    break;
                }
            }
            t.ddl |= r.is_ok() && !targets.is_empty();
            self.txn = Some(t);
            return r.map(|_| done);
        }
        let _hold = self.interrupts.hold();
        for (table, id) in targets {
            self.online_change().remove(table, id).await?;
        }
        Ok(done)
    }

    /// Whether the transaction block made the table `table` (no other
    /// session can use it yet).
    async fn made_in_block(&self, table: u32) -> Result<bool> {
        Ok(self.node.catalog.current().await?.by_id(table).is_none())
    }

    fn online_change(&self) -> index::OnlineChange<'_> {
        index::OnlineChange {
            kv: &self.node.kv,
            cache: &self.node.catalog,
            format: &self.format,
            df: &self.df,
        }
    }

    /// After a DDL commit: the local cache learns it at once, and the
    /// statement returns only once every node's lease on older versions ran
    /// out.
    async fn after_ddl(&mut self) -> Result<()> {
        self.node.catalog.refresh().await?;
        tokio::time::sleep(self.node.catalog.lease()).await;
        crate::exec::cleanup::spawn(self.node.kv.clone(), std::mem::take(&mut self.dropped));
        Ok(())
    }

    fn set(&mut self, set: Set) -> Result<Outcome> {
        match set {
            Set::SingleAssignment {
                variable, values, ..
            } if crate::server::settings::is_default(&values) => {
                return self
                    .reset(datafusion::sql::sqlparser::ast::Reset::ConfigurationParameter(variable))
                    .map(|_| Outcome::Command("SET".into()));
            }
            Set::SingleAssignment {
                variable, values, ..
            } if variable.to_string().eq_ignore_ascii_case("search_path") => {
                self.set_var(
                    "search_path",
                    &crate::server::settings::search_path(&values),
                )?;
            }
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = variable.to_string().to_lowercase();
                let value = values
                    .iter()
                    .map(setting_value)
                    .collect::<Vec<_>>()
                    .join(", ");
                self.set_var(&name, &value)?;
            }
            Set::SetTimeZone { value, .. } => {
                let v = setting_value(&value);
                self.set_var("timezone", &v)?;
            }
            Set::SetTransaction { modes, .. } => check_isolation(&modes)?,
            other => return Err(Error::unsupported(format!("\"{other}\""))),
        }
        Ok(Outcome::Command("SET".into()))
    }

    fn set_var(&mut self, name: &str, value: &str) -> Result<()> {
        let bad = |e: String| Error::new(code::INVALID_PARAMETER_VALUE, e);
        match name {
            "extra_float_digits" => {
                let n: i32 = value.trim().parse().map_err(|_| {
                    bad(format!(
                        "invalid value for parameter \"extra_float_digits\": \"{value}\""
                    ))
                })?;
                if !(-15..=3).contains(&n) {
                    return Err(bad(format!(
                        "{n} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"
                    )));
                }
                self.format.extra_float_digits = n;
            }
            "datestyle" => {
                self.format.set_date_style(value).map_err(Error::from)?;
            }
            "timezone" | "time zone" => {
                let tz = if value.eq_ignore_ascii_case("local")
                    || value.eq_ignore_ascii_case("default")
                {
                    TimeZoneSetting::default()
                } else {
                    TimeZoneSetting::parse(value).map_err(Error::from)?
                };
                self.format.time_zone = tz;
            }
            "statement_timeout" => {
                self.statement_timeout = crate::server::settings::parse_millis(name, value)?;
            }
            "strata.pushdown" => {
                let on = crate::server::settings::parse_bool(value).ok_or_else(|| {
                    bad(format!(
                        "parameter \"strata.pushdown\" requires a Boolean value"
                    ))
                })?;
                self.df.set_pushdown(on);
            }
            "transaction_isolation" | "default_transaction_isolation" => {
                if value.to_lowercase().contains("serializable") {
                    return Err(serializable_refused());
                }
            }
            _ => {}
        }
        self.vars.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// `RESET name` / `RESET ALL` (and `SET name TO DEFAULT`): back to
    /// what the client sent at startup, else the default. The settings
    /// are rebuilt from the defaults with the others applied again.
    fn reset(&mut self, what: datafusion::sql::sqlparser::ast::Reset) -> Result<Outcome> {
        use datafusion::sql::sqlparser::ast::Reset;
        let mut vars = std::mem::take(&mut self.vars);
        match what {
            Reset::ALL => vars = self.startup_vars.clone(),
            Reset::ConfigurationParameter(name) => {
                let name = name.to_string().to_lowercase();
                let name = if name == "time zone" {
                    "timezone".to_string()
                } else {
                    name
                };
                vars.remove(&name);
                if let Some(v) = self.startup_vars.get(&name) {
                    vars.insert(name, v.clone());
                }
            }
        }
        self.format = TextFormat::default();
        self.statement_timeout = Duration::ZERO;
        self.df.set_pushdown(true);
        for (name, value) in vars {
            self.set_var(&name, &value)?;
        }
        Ok(Outcome::Command("RESET".into()))
    }

    fn show(&mut self, name: &str) -> Result<Outcome> {
        let name = name.to_lowercase();
        let value = match name.as_str() {
            "transaction isolation level" | "transaction_isolation" => {
                "repeatable read".to_string()
            }
            "extra_float_digits" => self.format.extra_float_digits.to_string(),
            "datestyle" => self.format.date_style_name(),
            "timezone" | "time zone" => self.format.time_zone.name(),
            "server_version" => crate::SERVER_VERSION.to_string(),
            "server_encoding" | "client_encoding" => "UTF8".to_string(),
            "standard_conforming_strings" => "on".to_string(),
            "integer_datetimes" => "on".to_string(),
            "intervalstyle" => "postgres".to_string(),
            "statement_timeout" => crate::server::settings::show_millis(self.statement_timeout),
            "strata.pushdown" => self
                .vars
                .get("strata.pushdown")
                .and_then(|v| crate::server::settings::parse_bool(v))
                .map_or("on", |on| if on { "on" } else { "off" })
                .to_string(),
            "application_name" => self
                .vars
                .get("application_name")
                .cloned()
                .unwrap_or_default(),
            "search_path" => self
                .vars
                .get("search_path")
                .cloned()
                .unwrap_or_else(|| "\"$user\", public".into()),
            other => match self.vars.get(other) {
                Some(v) => v.clone(),
                None => {
                    return Err(Error::new(
                        code::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{other}\""),
                    ))
                }
            },
        };
        let column = name.rsplit(' ').next().unwrap_or(&name).to_string();
        Ok(Outcome::Rows {
            columns: vec![(column.clone(), SqlType::Text)],
            batches: text_rows(&column, vec![value])?,
            command: "SELECT",
        })
    }
}

/// Whether a statement may run in a failed block.
/// The first of `tables` (id, version used) whose descriptor `catalog`
/// has at another version, by name.
fn changed_table(catalog: &Catalog, tables: &[(u32, u64)]) -> Option<String> {
    tables
        .iter()
        .find_map(|(id, version)| match catalog.by_id(*id) {
            Some(t) if t.version == *version => None,
            Some(t) => Some(t.name.clone()),
            None => Some("(dropped)".to_string()),
        })
}

fn ends_block(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. })
}

fn serializable_refused() -> Error {
    Error::new(
        code::FEATURE_NOT_SUPPORTED,
        "SERIALIZABLE isolation is not supported",
    )
    .with_detail("Strata runs every transaction at snapshot isolation (REPEATABLE READ).")
    .with_hint("Use REPEATABLE READ or READ COMMITTED.")
}

fn check_isolation(modes: &[TransactionMode]) -> Result<()> {
    for m in modes {
        match m {
            TransactionMode::IsolationLevel(TransactionIsolationLevel::Serializable) => {
                return Err(serializable_refused())
            }
            TransactionMode::AccessMode(_) | TransactionMode::IsolationLevel(_) => {}
        }
    }
    Ok(())
}

/// A SET value as text (`'UTC'` → `UTC`, `3` → `3`, `DEFAULT`).
fn setting_value(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// A one-column text result.
fn text_rows(column: &str, values: Vec<String>) -> Result<SendableRecordBatchStream> {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    let schema = Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]));
    let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(values))],
    )
    .map_err(|e| Error::internal(e))?;
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(vec![Ok(batch)]),
    )))
}
