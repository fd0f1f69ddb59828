//! The PostgreSQL wire protocol edge (`pgwire`): connections, startup and
//! authentication, the simple and extended query protocols, cancel
//! requests, errors and transaction status.
//!
//! One [`Connection`] per socket holds that connection's [`Session`]; the
//! socket closing drops it, and with it any open transaction (nothing of
//! an uncommitted transaction was written to the store, so nothing is left
//! behind). Values are formatted once, here ([`rows`]); errors carry the
//! SQLSTATE the layers below chose.
//!
//! - [`startup`]: startup message, authentication, BackendKeyData.
//! - [`cancel`]: CancelRequest and `statement_timeout` stop statements;
//!   [`interrupt_exec`] checks them at every batch a scan produces.
//! - [`extended`]: Parse, Bind, Describe, Execute.
//! - [`prepare`]: SQL `PREPARE`, `EXECUTE`, `DEALLOCATE`.
//! - [`settings`]: settings with PostgreSQL's own syntax.

pub mod cancel;
pub mod extended;
pub mod hold_flush;
pub mod interrupt_exec;
pub mod prepare;
pub mod rows;
pub mod settings;
pub mod startup;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::sql::sqlparser::ast::Statement;
use futures::{Sink, SinkExt};
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldFormat, QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::extendedquery::{Bind, Execute};
use pgwire::messages::response::{NoticeResponse, TransactionStatus};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::auth::{AuthMethod, CatalogAuthSource};
use crate::error::{code, Error, Result};
use crate::session::{Node, Outcome, Session, TxnStatus};
use cancel::{CancelRegistry, Canceller, Deadline, Interruptible, Interrupts};
use extended::{bind_params, result_formats, substitute, Prepared, StatementParser};
use hold_flush::HoldFlush;

/// An error as pgwire sends it.
pub fn to_pgwire(e: Error) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn error_info(e: Error) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".into(), e.code.into(), e.message);
    info.detail = e.detail;
    info.hint = e.hint;
    info
}

/// How a SQL node serves clients.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// How clients authenticate.
    pub auth: AuthMethod,
}

/// What every connection of a listener shares.
pub struct Server {
    node: Arc<Node>,
    auth: AuthMethod,
    /// SCRAM-SHA-256 against the catalog's verifiers (used with
    /// [`AuthMethod::Scram`]).
    scram: ScramAuth,
    registry: Arc<CancelRegistry>,
    canceller: Arc<Canceller>,
}

impl Server {
    /// A server for `node`.
    pub fn new(node: Arc<Node>, config: ServerConfig) -> Arc<Server> {
        let mut scram = ScramAuth::new(Arc::new(CatalogAuthSource::new(node.clone())));
        scram.set_iterations(crate::auth::scram::ITERATIONS);
        let registry = Arc::new(CancelRegistry::default());
        Arc::new(Server {
            node,
            auth: config.auth,
            scram,
            canceller: Arc::new(Canceller::new(registry.clone())),
            registry,
        })
    }

    /// Connections that finished startup and are still open.
    pub fn connections(&self) -> usize {
        self.registry.len()
    }
}

/// Accepts connections on `listener` for ever, one task per connection,
/// with `trust` authentication.
pub async fn serve(listener: TcpListener, node: Arc<Node>) -> std::io::Result<()> {
    serve_with(listener, Server::new(node, ServerConfig::default())).await
}

/// Accepts connections on `listener` for ever, one task per connection.
/// A failed accept (out of file descriptors, a connection reset before it
/// was accepted) is logged and retried: it must not stop the node.
pub async fn serve_with(listener: TcpListener, server: Arc<Server>) -> std::io::Result<()> {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let conn = Arc::new(Connection::new(server.clone()));
        let socket = match watch_peer(socket, &conn.inner.interrupts) {
            Ok(socket) => socket,
            Err(e) => {
                tracing::warn!(%peer, "cannot set up a connection: {e}");
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, conn).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Gives `interrupts` a second handle on the client's socket, to notice
/// its end while a statement runs (pgwire reads the socket only between
/// messages). Without one (out of file descriptors) statements just are
/// not stopped that way.
fn watch_peer(
    socket: tokio::net::TcpStream,
    interrupts: &Interrupts,
) -> std::io::Result<tokio::net::TcpStream> {
    // The std socket is non-blocking (tokio made it so), and a clone
    // shares that: peeking at it never waits.
    let socket = socket.into_std()?;
    match socket.try_clone() {
        Ok(watch) => interrupts.watch_peer(watch),
        Err(e) => tracing::debug!("cannot watch a client: {e}"),
    }
    tokio::net::TcpStream::from_std(socket)
}

/// One client connection: the handlers pgwire calls, around its session.
pub struct Connection {
    inner: Arc<ConnState>,
}

/// A connection's state, shared by its handlers.
pub struct ConnState {
    server: Arc<Server>,
    session: Arc<Mutex<Session>>,
    parser: Arc<StatementParser>,
    interrupts: Interrupts,
    startup: parking_lot::Mutex<startup::StartupState>,
}

impl Connection {
    /// A connection to `server`.
    pub fn new(server: Arc<Server>) -> Connection {
        let session = Session::new(server.node.clone());
        let interrupts = session.interrupts.clone();
        let session = Arc::new(Mutex::new(session));
        Connection {
            inner: Arc::new(ConnState {
                parser: Arc::new(StatementParser {
                    session: session.clone(),
                }),
                session,
                interrupts,
                startup: Default::default(),
                server,
            }),
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.inner.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.inner.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.inner.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.inner.server.canceller.clone()
    }
}

fn status_of(s: TxnStatus) -> TransactionStatus {
    match s {
        TxnStatus::Idle => TransactionStatus::Idle,
        TxnStatus::InBlock => TransactionStatus::Transaction,
        TxnStatus::Failed => TransactionStatus::Error,
    }
}

/// pgwire decodes query text leniently (invalid UTF-8 becomes U+FFFD), so
/// a query holding U+FFFD may have been invalid bytes: refused as
/// PostgreSQL refuses invalid UTF-8, rather than stored changed.
fn check_text(sql: &str) -> Result<()> {
    if sql.contains('\u{FFFD}') {
        return Err(Error::new(
            code::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\"",
        )
        .with_hint(
            "The query text is not valid UTF-8, or holds U+FFFD, which cannot be told apart from it.",
        ));
    }
    Ok(())
}

/// Settings PostgreSQL reports in ParameterStatus when they change.
fn reported(session: &Session) -> [(&'static str, String); 3] {
    [
        (
            "application_name",
            session
                .var("application_name")
                .unwrap_or_default()
                .to_string(),
        ),
        ("DateStyle", session.format.date_style_name()),
        ("TimeZone", session.format.time_zone.name()),
    ]
}

/// Sends the notices the session's last statement raised.
async fn send_notices<C>(client: &mut C, session: &mut Session) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in session.take_notices() {
        let notice = ErrorInfo::new("NOTICE".into(), "00000".into(), n);
        client
            .send(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                notice,
            )))
            .await?;
    }
    Ok(())
}

/// Runs one statement, stopped by a cancel request or its deadline.
/// COMMIT and ROLLBACK are never stopped (a commit is not cut short).
async fn run_statement(
    session: &mut Session,
    stmt: Statement,
    interrupts: &Interrupts,
    deadline: Deadline,
) -> Result<Outcome> {
    if matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. }) {
        return session.execute(stmt).await;
    }
    let in_block = session.status() != TxnStatus::Idle;
    match interrupts.run(deadline, session.execute(stmt)).await {
        Ok(r) => r,
        Err(reason) => {
            tracing::info!(?reason, "statement interrupted");
            session.after_interrupt(in_block).await;
            Err(reason.error())
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for ConnState {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.interrupts.begin_message();
        let mut session = self.session.lock().await;
        if self.interrupts.take_stream_failure() {
            session.fail_block();
        }
        let stmts = match check_text(query).and_then(|_| Session::parse(query)) {
            Ok(s) => s,
            Err(e) => return Ok(vec![Response::Error(Box::new(error_info(e)))]),
        };
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let is_commit = matches!(stmt, Statement::Commit { .. });
            let is_setting = matches!(stmt, Statement::Set(_) | Statement::Reset(_));
            let before = is_setting.then(|| reported(&session));
            let deadline = Deadline::after(session.statement_timeout());
            let r = run_statement(&mut session, stmt, &self.interrupts, deadline).await;
            send_notices(client, &mut session).await?;
            if let (Some(before), true) = (before, r.is_ok()) {
                for ((name, old), (_, new)) in before.into_iter().zip(reported(&session)) {
                    if old != new {
                        client
                            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                                name.to_string(),
                                new,
                            )))
                            .await?;
                    }
                }
            }
            match r {
                Err(e) if is_commit => {
                    // A failed COMMIT ends the block: the client is idle.
                    client.set_transaction_status(status_of(session.status()));
                    return Err(to_pgwire(e));
                }
                Err(e) => {
                    out.push(Response::Error(Box::new(error_info(e))));
                    break;
                }
                Ok(outcome) => out.push(response(
                    outcome,
                    &session,
                    &self.interrupts,
                    deadline,
                    |_| FieldFormat::Text,
                )),
            }
        }
        Ok(out)
    }
}

/// The response to a statement's outcome, with columns in `format`; its
/// rows stop on a cancel request or at `deadline`.
fn response(
    outcome: Outcome,
    session: &Session,
    interrupts: &Interrupts,
    deadline: Deadline,
    format: impl Fn(usize) -> FieldFormat,
) -> Response {
    match outcome {
        Outcome::Rows {
            columns,
            batches,
            command,
        } => {
            let formats: Vec<FieldFormat> = (0..columns.len()).map(&format).collect();
            let fields = Arc::new(rows::fields(&columns, &format));
            let data = rows::data_rows(batches, columns, formats, session.format.clone());
            let data = Interruptible::new(data, interrupts, deadline);
            let mut r = QueryResponse::new(fields, data);
            r.set_command_tag(command);
            Response::Query(r)
        }
        Outcome::Command(tag) => Response::Execution(tag_of(&tag)),
        Outcome::Began => Response::TransactionStart(Tag::new("BEGIN")),
        Outcome::Ended(tag) => Response::TransactionEnd(Tag::new(&tag)),
    }
}

#[async_trait]
impl ExtendedQueryHandler for ConnState {
    type Statement = Arc<Prepared>;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Every Execute is a message a cancel request may stop, including
        // one that only fetches more rows of a suspended portal.
        self.interrupts.begin_message();
        self._on_execute(&mut HoldFlush(client), message).await
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // pgwire's own Bind, its BindComplete left for Sync to send.
        PgwireBind(self)
            .on_bind(&mut HoldFlush(client), message)
            .await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Arc<Prepared>>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        if self.interrupts.take_stream_failure() {
            session.fail_block();
        }
        let prepared = &portal.statement.statement;
        let params = bind_params(portal, &session.format).map_err(to_pgwire)?;
        let typed: Vec<_> = params
            .into_iter()
            .zip(prepared.params.iter().copied())
            .collect();
        let stmt = substitute(&prepared.stmt, &typed, &session.format);
        let is_commit = matches!(stmt, Statement::Commit { .. });
        let deadline = Deadline::after(session.statement_timeout());
        let r = run_statement(&mut session, stmt, &self.interrupts, deadline).await;
        send_notices(client, &mut session).await?;
        match r {
            Ok(outcome) => {
                let formats = match &outcome {
                    Outcome::Rows { columns, .. } => result_formats(portal, columns.len()),
                    _ => Vec::new(),
                };
                Ok(response(
                    outcome,
                    &session,
                    &self.interrupts,
                    deadline,
                    |i| formats.get(i).copied().unwrap_or(FieldFormat::Text),
                ))
            }
            Err(e) => {
                if is_commit {
                    client.set_transaction_status(status_of(session.status()));
                }
                Err(to_pgwire(e))
            }
        }
    }
}

/// The connection's handler with pgwire's default Bind (which
/// [`ConnState`] wraps to hold its flush back).
struct PgwireBind<'a>(&'a ConnState);

#[async_trait]
impl ExtendedQueryHandler for PgwireBind<'_> {
    type Statement = Arc<Prepared>;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.0.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Arc<Prepared>>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        ExtendedQueryHandler::do_query(self.0, client, portal, max_rows).await
    }
}

/// A completion tag (`INSERT 0 3` → command and row count).
fn tag_of(tag: &str) -> Tag {
    let mut parts = tag.rsplitn(2, ' ');
    match (
        parts.next().and_then(|n| n.parse::<usize>().ok()),
        parts.next(),
    ) {
        (Some(n), Some(cmd)) if cmd.starts_with("INSERT ") => {
            Tag::new("INSERT").with_oid(0).with_rows(n)
        }
        (Some(n), Some(cmd)) => Tag::new(cmd).with_rows(n),
        _ => Tag::new(tag),
    }
}
