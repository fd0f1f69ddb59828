//! What the SQL tests over the in-memory store share: a node behind a
//! real pgwire listener, a tokio-postgres client, and helpers that turn
//! answers into text.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use strata_sql::session::{Node, NodeConfig};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A client of a fresh SQL node over a new in-memory store.
pub async fn start() -> Client {
    connect(local_store()).await
}

/// A new in-memory store whose coprocessor runs the SQL layer's
/// pushed-down work, as a cluster's stores do.
pub fn local_store() -> client::SharedKv {
    Arc::new(
        kv::local::LocalTxnKv::new().with_coprocessor(Arc::new(strata_sql::exec::cop::CopEndpoint)),
    )
}

/// A client of a fresh SQL node over `kv`.
pub async fn connect(kv: client::SharedKv) -> Client {
    let config = NodeConfig {
        schema_lease: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let node = Node::start(kv, config).await.expect("node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(strata_sql::server::serve(listener, node));
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

/// The rows of a simple query, as text (None for NULL).
pub async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// Rows as `a|b|NULL` lines.
pub fn flat(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// The rows of a query as `a|b` lines.
pub async fn query(c: &Client, sql: &str) -> Vec<String> {
    flat(rows(c, sql).await)
}

/// The row count a statement reports.
pub async fn count(c: &Client, sql: &str) -> u64 {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(n),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no command completion"))
}

/// The SQLSTATE of a statement that must fail.
pub async fn sqlstate(c: &Client, sql: &str) -> String {
    match c.simple_query(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => {
            let code = e
                .code()
                .map(|c| c.code().to_string())
                .unwrap_or_else(|| panic!("{sql}: no SQLSTATE in {e}"));
            eprintln!("{sql}: {code} {:?}", e.as_db_error().map(|d| d.message()));
            code
        }
    }
}

/// The SQLSTATE and message of a statement that must fail.
pub async fn error(c: &Client, sql: &str) -> (String, String, Option<String>) {
    match c.simple_query(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => {
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("{sql}: not a database error: {e}"));
            (
                db.code().code().to_string(),
                db.message().to_string(),
                db.detail().map(str::to_string),
            )
        }
    }
}

/// A pseudo-random number generator (tests must replay): each call gives
/// a number below its argument.
pub fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    }
}
