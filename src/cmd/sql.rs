//! `strata sql`: a SQL node. It speaks the PostgreSQL wire protocol and
//! keeps no data of its own: everything lives in the cluster behind PD.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use client::{ClientOptions, SharedKv, TxnClient};
use sql::auth::AuthMethod;
use sql::server::{Server, ServerConfig};
use sql::session::{Node, NodeConfig};

use super::shutdown_signal;

/// Flags of `strata sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// PD's gRPC address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2379")]
    pub pd: String,
    /// Where clients connect (`psql -h HOST -p PORT`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5432")]
    pub listen: String,
    #[command(flatten)]
    pub node: SqlNodeArgs,
}

/// SQL node settings shared with the playground.
#[derive(Args, Debug, Clone)]
pub struct SqlNodeArgs {
    /// How long a SQL node may use its cached catalog without checking it
    /// (DDL waits this long after its commit, so every node sees it).
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = super::parse_interval)]
    pub schema_lease: Duration,
    /// Largest transaction: bytes of writes one transaction may buffer.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = super::parse_bytes)]
    pub txn_size_limit: u64,
    /// How clients authenticate. `trust`: anyone who can reach the port
    /// may connect as any existing user, with no password (for local
    /// development). `scram`: users log in with a password, checked by
    /// SCRAM-SHA-256 (PostgreSQL's `scram-sha-256`); only a verifier of
    /// each password is kept. Users are made with CREATE USER … PASSWORD.
    #[arg(long, value_enum, value_name = "METHOD", default_value = "trust")]
    pub auth: Auth,
    /// First password of the superuser `postgres`, set only if it has none
    /// yet (later ones are changed with ALTER USER postgres PASSWORD '…').
    /// Needed the first time a cluster is served with `--auth scram`.
    /// Prefer the environment variable: a flag shows in the process list.
    #[arg(
        long,
        env = "STRATA_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub initial_password: Option<String>,
}

/// How clients authenticate (see `--auth`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No password: any existing user.
    Trust,
    /// A password, checked with SCRAM-SHA-256.
    Scram,
}

impl From<Auth> for AuthMethod {
    fn from(a: Auth) -> AuthMethod {
        match a {
            Auth::Trust => AuthMethod::Trust,
            Auth::Scram => AuthMethod::Scram,
        }
    }
}

/// A running SQL node.
pub struct SqlHandle {
    /// The address it accepts clients on.
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SqlHandle {
    /// Stops accepting clients.
    pub fn shutdown(self) {
        self.task.abort();
    }
}

/// Starts a SQL node on `listen` over the cluster at `pd`.
pub async fn start(pd: &str, listen: &str, args: &SqlNodeArgs) -> anyhow::Result<SqlHandle> {
    // Async commit stays off for SQL until a regression is understood:
    // sysbench oltp_update_index (a row and its index entry in two
    // Regions) fell from ~380 to ~140-210 tps with it, with multi-second
    // stalls, while the KV bank workload gained (docs/benchmarks.md).
    let opts = ClientOptions {
        async_commit: false,
        ..ClientOptions::default()
    };
    let client = TxnClient::connect(pd, opts)
        .await
        .with_context(|| format!("cannot reach PD at {pd}"))?;
    let kv: SharedKv = Arc::new(client);
    let config = NodeConfig {
        schema_lease: args.schema_lease,
        txn_size_limit: usize::try_from(args.txn_size_limit).unwrap_or(usize::MAX),
        ..NodeConfig::default()
    };
    let node = Node::start(kv, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the SQL node: {e}"))?;
    let auth = AuthMethod::from(args.auth);
    sql::auth::prepare(&node, auth, args.initial_password.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the SQL node: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let server = Server::new(node, ServerConfig { auth });
    let task = tokio::spawn(sql::server::serve_with(listener, server));
    Ok(SqlHandle { addr, task })
}

/// Runs a SQL node until a signal arrives.
pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let handle = start(&args.pd, &args.listen, &args.node).await?;
    println!("Strata SQL node listening on {}", handle.addr);
    println!(
        "Connect:  psql -h {} -p {} -U postgres",
        handle.addr.ip(),
        handle.addr.port()
    );
    shutdown_signal().await;
    handle.shutdown();
    Ok(ExitCode::SUCCESS)
}
