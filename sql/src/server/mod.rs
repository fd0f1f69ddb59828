//! The PostgreSQL wire protocol edge (`pgwire`): connections, startup,
//! the simple query protocol, errors and transaction status.
//!
//! One [`Connection`] per socket holds that connection's [`Session`]; the
//! socket closing drops it, and with it any open transaction (nothing of
//! an uncommitted transaction was written to the store, so nothing is left
//! behind). Values are formatted once, here ([`rows`]); errors carry the
//! SQLSTATE the layers below chose.

pub mod extended;
pub mod rows;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldFormat, QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::{NoticeResponse, TransactionStatus};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::error::Error;
use crate::session::{Node, Outcome, Session, TxnStatus};
use extended::{bind_params, result_formats, substitute, Prepared, StatementParser};

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

/// Accepts connections on `listener` for ever, one task per connection.
pub async fn serve(listener: TcpListener, node: Arc<Node>) -> std::io::Result<()> {
    loop {
        let (socket, peer) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        let conn = Arc::new(Connection::new(node.clone()));
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, conn).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// One client connection: the handlers pgwire calls, around its session.
pub struct Connection {
    inner: Arc<ConnState>,
}

/// A connection's state, shared by its handlers.
pub struct ConnState {
    session: Arc<Mutex<Session>>,
    parser: Arc<StatementParser>,
}

impl Connection {
    /// A connection served by `node`.
    pub fn new(node: Arc<Node>) -> Connection {
        let session = Arc::new(Mutex::new(Session::new(node)));
        Connection {
            inner: Arc::new(ConnState {
                parser: Arc::new(StatementParser {
                    session: session.clone(),
                }),
                session,
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
}

/// The ParameterStatus values PostgreSQL 15 sends at startup.
struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let meta = client.metadata();
        let user = meta
            .get("user")
            .cloned()
            .unwrap_or_else(|| "postgres".into());
        let app = meta.get("application_name").cloned().unwrap_or_default();
        let tz = meta
            .get("TimeZone")
            .cloned()
            .unwrap_or_else(|| "UTC".into());
        Some(HashMap::from([
            ("application_name".into(), app),
            ("client_encoding".into(), "UTF8".into()),
            ("DateStyle".into(), "ISO, MDY".into()),
            ("default_transaction_read_only".into(), "off".into()),
            ("in_hot_standby".into(), "off".into()),
            ("integer_datetimes".into(), "on".into()),
            ("IntervalStyle".into(), "postgres".into()),
            ("is_superuser".into(), "on".into()),
            ("server_encoding".into(), "UTF8".into()),
            ("server_version".into(), crate::SERVER_VERSION.into()),
            ("session_authorization".into(), user),
            ("standard_conforming_strings".into(), "on".into()),
            ("TimeZone".into(), tz),
        ]))
    }
}

#[async_trait]
impl StartupHandler for ConnState {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            // Settings a client asks for at startup are session settings.
            {
                let mut s = self.session.lock().await;
                for (k, v) in &startup.parameters {
                    let _ = s.apply_startup_setting(k, v);
                }
            }
            let pid = (rand::random::<u32>() >> 1) as i32;
            client.set_pid_and_secret_key(pid, SecretKey::I32(rand::random()));
            finish_authentication(client, &Parameters).await?;
        }
        Ok(())
    }
}

fn status_of(s: TxnStatus) -> TransactionStatus {
    match s {
        TxnStatus::Idle => TransactionStatus::Idle,
        TxnStatus::InBlock => TransactionStatus::Transaction,
        TxnStatus::Failed => TransactionStatus::Error,
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
        let mut session = self.session.lock().await;
        let stmts = match Session::parse(query) {
            Ok(s) => s,
            Err(e) => return Ok(vec![Response::Error(Box::new(error_info(e)))]),
        };
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let is_commit = matches!(
                stmt,
                datafusion::sql::sqlparser::ast::Statement::Commit { .. }
            );
            let r = session.execute(stmt).await;
            for n in session.take_notices() {
                let notice = ErrorInfo::new("NOTICE".into(), "00000".into(), n);
                client
                    .send(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                        notice,
                    )))
                    .await?;
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
                Ok(outcome) => out.push(response(outcome, &session, |_| FieldFormat::Text)),
            }
        }
        Ok(out)
    }
}

/// The response to a statement's outcome, with columns in `format`.
fn response(
    outcome: Outcome,
    session: &Session,
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
        let prepared = &portal.statement.statement;
        let params = bind_params(portal, &session.format).map_err(to_pgwire)?;
        let typed: Vec<_> = params
            .into_iter()
            .zip(prepared.params.iter().copied())
            .collect();
        let stmt = substitute(&prepared.stmt, &typed, &session.format);
        let is_commit = matches!(
            stmt,
            datafusion::sql::sqlparser::ast::Statement::Commit { .. }
        );
        match session.execute(stmt).await {
            Ok(outcome) => {
                let formats = match &outcome {
                    Outcome::Rows { columns, .. } => result_formats(portal, columns.len()),
                    _ => Vec::new(),
                };
                Ok(response(outcome, &session, |i| {
                    formats.get(i).copied().unwrap_or(FieldFormat::Text)
                }))
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
