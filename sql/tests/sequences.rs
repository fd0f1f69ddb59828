//! Sequences on a SQL node over the local in-memory store, driven through
//! pgwire by tokio-postgres: CREATE/DROP SEQUENCE, nextval/currval/setval/
//! lastval with PostgreSQL 15's values and errors, SERIAL and IDENTITY
//! columns' sequences.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use strata_sql::session::{Node, NodeConfig};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio_postgres::{AsyncMessage, Client, NoTls, SimpleQueryMessage};

/// A node over a fresh in-memory store; the port it listens on.
async fn start_node() -> u16 {
    let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
    let config = NodeConfig {
        schema_lease: Duration::from_millis(20),
        ..NodeConfig::default()
    };
    let node = Node::start(kv, config).await.expect("node");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(strata_sql::server::serve(listener, node));
    port
}

/// A session on the node at `port`, and the notices it receives.
async fn session(port: u16) -> (Client, UnboundedReceiver<String>) {
    let (client, mut conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        NoTls,
    )
    .await
    .expect("connect");
    let (tx, rx) = unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notice(n) = m {
                let _ = tx.send(n.message().to_string());
            }
        }
    });
    (client, rx)
}

/// An error with the server's SQLSTATE and message.
fn shown(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

async fn start() -> Client {
    session(start_node().await).await.0
}

/// The rows of a simple query, as text (None for NULL).
async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", shown(&e)))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The rows, one string per row, columns joined by `|`.
async fn flat(c: &Client, sql: &str) -> Vec<String> {
    rows(c, sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// The one value of a one-row, one-column query.
async fn one(c: &Client, sql: &str) -> String {
    let r = flat(c, sql).await;
    assert_eq!(r.len(), 1, "{sql}: {r:?}");
    r[0].clone()
}

async fn exec(c: &Client, sql: &str) {
    c.batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {}", shown(&e)));
}

/// The SQLSTATE and message of a statement that must fail.
async fn error(c: &Client, sql: &str) -> (String, String) {
    match c.simple_query(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => {
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("{sql}: no server error in {e}"));
            (db.code().code().to_string(), db.message().to_string())
        }
    }
}

async fn sqlstate(c: &Client, sql: &str) -> String {
    error(c, sql).await.0
}

#[tokio::test]
async fn nextval_currval_setval_and_lastval_follow_postgres() {
    let c = start().await;
    exec(&c, "CREATE SEQUENCE s").await;
    assert_eq!(
        error(&c, "SELECT currval('s')").await,
        (
            "55000".into(),
            "currval of sequence \"s\" is not yet defined in this session".into()
        )
    );
    assert_eq!(
        error(&c, "SELECT lastval()").await,
        (
            "55000".into(),
            "lastval is not yet defined in this session".into()
        )
    );
    assert_eq!(one(&c, "SELECT nextval('s')").await, "1");
    assert_eq!(one(&c, "SELECT nextval('S')").await, "2");
    assert_eq!(one(&c, "SELECT nextval('public.s')").await, "3");
    assert_eq!(
        flat(&c, "SELECT currval('s'), lastval()").await,
        vec!["3|3"]
    );
    // setval: the next value follows it, or is it (is_called false).
    assert_eq!(one(&c, "SELECT setval('s', 10)").await, "10");
    assert_eq!(one(&c, "SELECT currval('s')").await, "10");
    assert_eq!(one(&c, "SELECT nextval('s')").await, "11");
    assert_eq!(one(&c, "SELECT setval('s', 20, false)").await, "20");
    assert_eq!(
        flat(&c, "SELECT currval('s'), lastval()").await,
        vec!["11|11"]
    );
    assert_eq!(one(&c, "SELECT nextval('s')").await, "20");
    // NULL in, NULL out.
    assert_eq!(
        flat(
            &c,
            "SELECT nextval(NULL), setval('s', NULL), setval('s', 5, NULL)"
        )
        .await,
        vec!["NULL|NULL|NULL"]
    );
    assert_eq!(one(&c, "SELECT nextval('s')").await, "21");
    // Values are bigint.
    let msgs = c.simple_query("SELECT nextval('s')").await.unwrap();
    let SimpleQueryMessage::RowDescription(cols) = &msgs[0] else {
        panic!("no row description")
    };
    assert_eq!(cols[0].name(), "nextval");
    let row = c
        .query_one("SELECT nextval('s'), lastval()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 23);
    assert_eq!(row.get::<_, i64>(1), 23);
}

#[tokio::test]
async fn one_statement_takes_one_value_per_row() {
    let c = start().await;
    exec(&c, "CREATE SEQUENCE s").await;
    assert_eq!(
        flat(&c, "SELECT nextval('s') FROM generate_series(1, 5)").await,
        vec!["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        flat(&c, "SELECT nextval('s') AS a, nextval('s') AS b").await,
        vec!["6|7"]
    );
    // More than a node's run at once.
    assert_eq!(
        one(&c, "SELECT count(DISTINCT n), min(n), max(n) FROM (SELECT nextval('s') AS n FROM generate_series(1, 250)) x").await,
        "250|8|257"
    );
    // Names per row.
    exec(&c, "CREATE SEQUENCE t START 100").await;
    assert_eq!(
        flat(&c, "SELECT nextval(CASE WHEN g % 2 = 0 THEN 's' ELSE 't' END) FROM (VALUES (1), (2), (3), (4)) AS v(g) ORDER BY 1").await,
        vec!["100", "101", "258", "259"]
    );
}

#[tokio::test]
async fn increments_bounds_and_cycles() {
    let c = start().await;
    exec(&c, "CREATE SEQUENCE up INCREMENT BY 10 START WITH 5").await;
    assert_eq!(
        flat(&c, "SELECT nextval('up') FROM generate_series(1, 3)").await,
        vec!["5", "15", "25"]
    );
    exec(&c, "CREATE SEQUENCE down INCREMENT -2 MINVALUE -5").await;
    assert_eq!(
        flat(&c, "SELECT nextval('down') FROM generate_series(1, 3)").await,
        vec!["-1", "-3", "-5"]
    );
    assert_eq!(
        error(&c, "SELECT nextval('down')").await,
        (
            "2200H".into(),
            "nextval: reached minimum value of sequence \"down\" (-5)".into()
        )
    );
    exec(&c, "CREATE SEQUENCE small MAXVALUE 2").await;
    assert_eq!(
        error(&c, "SELECT nextval('small') FROM generate_series(1, 3)").await,
        (
            "2200H".into(),
            "nextval: reached maximum value of sequence \"small\" (2)".into()
        )
    );
    // Still exhausted: the values were taken.
    assert_eq!(sqlstate(&c, "SELECT nextval('small')").await, "2200H");
    exec(&c, "CREATE SEQUENCE cyc MINVALUE 1 MAXVALUE 3 CYCLE").await;
    assert_eq!(
        flat(&c, "SELECT nextval('cyc') FROM generate_series(1, 7)").await,
        vec!["1", "2", "3", "1", "2", "3", "1"]
    );
    exec(
        &c,
        "CREATE SEQUENCE negcyc INCREMENT -3 MINVALUE -7 MAXVALUE -1 CYCLE",
    )
    .await;
    assert_eq!(
        flat(&c, "SELECT nextval('negcyc') FROM generate_series(1, 4)").await,
        vec!["-1", "-4", "-7", "-1"]
    );
    exec(&c, "CREATE SEQUENCE tiny AS smallint START 32766").await;
    assert_eq!(
        flat(&c, "SELECT nextval('tiny') FROM generate_series(1, 2)").await,
        vec!["32766", "32767"]
    );
    assert_eq!(sqlstate(&c, "SELECT nextval('tiny')").await, "2200H");
    exec(&c, "CREATE SEQUENCE top START 9223372036854775806").await;
    assert_eq!(
        flat(&c, "SELECT nextval('top') FROM generate_series(1, 2)").await,
        vec!["9223372036854775806", "9223372036854775807"]
    );
    assert_eq!(sqlstate(&c, "SELECT nextval('top')").await, "2200H");
    // Options in pg_dump's order.
    exec(&c, "CREATE SEQUENCE dumped AS integer START WITH 3 INCREMENT BY 2 NO MINVALUE NO MAXVALUE CACHE 1").await;
    assert_eq!(
        flat(&c, "SELECT nextval('dumped') AS a, nextval('dumped') AS b").await,
        vec!["3|5"]
    );
    // setval within the bounds only.
    assert_eq!(
        error(&c, "SELECT setval('cyc', 4)").await,
        (
            "22003".into(),
            "setval: value 4 is out of bounds for sequence \"cyc\" (1..3)".into()
        )
    );
}

#[tokio::test]
async fn values_are_not_transactional_and_currval_is_per_session() {
    let port = start_node().await;
    let (a, _) = session(port).await;
    let (b, _) = session(port).await;
    exec(&a, "CREATE SEQUENCE s").await;
    exec(&a, "BEGIN").await;
    assert_eq!(one(&a, "SELECT nextval('s')").await, "1");
    exec(&a, "ROLLBACK").await;
    assert_eq!(one(&a, "SELECT nextval('s')").await, "2");
    assert_eq!(sqlstate(&b, "SELECT currval('s')").await, "55000");
    assert_eq!(one(&b, "SELECT nextval('s')").await, "3");
    assert_eq!(flat(&a, "SELECT currval('s')").await, vec!["2"]);
    assert_eq!(flat(&b, "SELECT currval('s')").await, vec!["3"]);
    // A failed block still took its values.
    exec(&a, "BEGIN").await;
    assert_eq!(one(&a, "SELECT nextval('s')").await, "4");
    assert_eq!(sqlstate(&a, "SELECT 1/0").await, "22012");
    exec(&a, "ROLLBACK").await;
    assert_eq!(one(&b, "SELECT nextval('s')").await, "5");
}

#[tokio::test]
async fn two_nodes_never_hand_out_the_same_value() {
    let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = Node::start(kv.clone(), NodeConfig::default())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(strata_sql::server::serve(listener, node));
        nodes.push(session(port).await.0);
    }
    exec(&nodes[0], "CREATE SEQUENCE s").await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        for c in &nodes {
            for v in flat(c, "SELECT nextval('s') FROM generate_series(1, 60)").await {
                assert!(seen.insert(v.clone()), "{v} handed out twice");
            }
        }
    }
    // Each node holds a run: the second node's values come after the
    // first node's first run.
    assert_eq!(one(&nodes[1], "SELECT currval('s') > 100").await, "t");
}

#[tokio::test]
async fn create_and_drop_sequence_with_postgres_errors_and_notices() {
    let port = start_node().await;
    let (c, mut notices) = session(port).await;
    exec(&c, "CREATE SEQUENCE s").await;
    assert_eq!(
        error(&c, "CREATE SEQUENCE s").await,
        ("42P07".into(), "relation \"s\" already exists".into())
    );
    exec(&c, "CREATE SEQUENCE IF NOT EXISTS s").await;
    assert_eq!(
        notices.recv().await.unwrap(),
        "relation \"s\" already exists, skipping"
    );
    exec(&c, "CREATE TABLE t (a int)").await;
    assert_eq!(sqlstate(&c, "CREATE SEQUENCE t").await, "42P07");
    assert_eq!(
        error(&c, "SELECT nextval('t')").await,
        ("42809".into(), "\"t\" is not a sequence".into())
    );
    assert_eq!(
        error(&c, "SELECT nextval('nosuch')").await,
        ("42P01".into(), "relation \"nosuch\" does not exist".into())
    );
    assert_eq!(
        error(&c, "SELECT nextval('public.nosuch')").await,
        (
            "42P01".into(),
            "relation \"public.nosuch\" does not exist".into()
        )
    );
    assert_eq!(sqlstate(&c, "SELECT nextval('nos.x')").await, "3F000");
    assert_eq!(sqlstate(&c, "SELECT nextval('s x')").await, "42602");
    assert_eq!(sqlstate(&c, "SELECT nextval('')").await, "42602");
    assert_eq!(sqlstate(&c, "SELECT nextval('a.b.c.d')").await, "42601");
    assert_eq!(
        sqlstate(&c, "SELECT nextval('other.public.s')").await,
        "0A000"
    );
    assert_eq!(sqlstate(&c, "SELECT nextval()").await, "42883");
    // Quoted names keep their case.
    exec(&c, "CREATE SEQUENCE \"MixedCase\"").await;
    assert_eq!(one(&c, "SELECT nextval('\"MixedCase\"')").await, "1");
    assert_eq!(sqlstate(&c, "SELECT nextval('MixedCase')").await, "42P01");
    // Bad parameters.
    for (sql, state) in [
        ("CREATE SEQUENCE q INCREMENT 0", "22023"),
        ("CREATE SEQUENCE q AS text", "22023"),
        ("CREATE SEQUENCE q AS smallint MAXVALUE 100000", "22023"),
        ("CREATE SEQUENCE q MINVALUE 5 MAXVALUE 4", "22023"),
        ("CREATE SEQUENCE q START 0", "22023"),
        ("CREATE SEQUENCE q CACHE 0", "22023"),
        ("CREATE SEQUENCE q INCREMENT 1.5", "22P02"),
        ("CREATE SEQUENCE q START 1 START 2", "42601"),
        ("CREATE SEQUENCE q OWNED BY t", "42601"),
        ("CREATE SEQUENCE q OWNED BY nosuch.a", "42P01"),
        ("CREATE SEQUENCE q OWNED BY t.nosuch", "42703"),
        ("CREATE TEMPORARY SEQUENCE q", "0A000"),
        ("ALTER SEQUENCE s RESTART WITH 5", "0A000"),
        ("SELECT * FROM s", "0A000"),
        ("SELECT last_value FROM public.s", "0A000"),
    ] {
        assert_eq!(sqlstate(&c, sql).await, state, "{sql}");
    }
    // DROP.
    assert_eq!(one(&c, "SELECT nextval('s')").await, "1");
    assert_eq!(
        error(&c, "DROP SEQUENCE t").await,
        ("42809".into(), "\"t\" is not a sequence".into())
    );
    assert_eq!(
        error(&c, "DROP TABLE s").await,
        ("42809".into(), "\"s\" is not a table".into())
    );
    assert_eq!(sqlstate(&c, "DROP VIEW s").await, "42809");
    assert_eq!(
        error(&c, "DROP SEQUENCE s, nosuch").await,
        ("42P01".into(), "sequence \"nosuch\" does not exist".into())
    );
    exec(&c, "DROP SEQUENCE IF EXISTS s, nosuch").await;
    assert_eq!(
        notices.recv().await.unwrap(),
        "sequence \"nosuch\" does not exist, skipping"
    );
    assert_eq!(sqlstate(&c, "SELECT nextval('s')").await, "42P01");
    // lastval's sequence is gone.
    assert_eq!(sqlstate(&c, "SELECT lastval()").await, "55000");
    // A new sequence under the old name starts over.
    exec(&c, "CREATE SEQUENCE s").await;
    assert_eq!(sqlstate(&c, "SELECT currval('s')").await, "55000");
    assert_eq!(one(&c, "SELECT nextval('s')").await, "1");
    // OWNED BY: dropped with its table.
    exec(&c, "CREATE SEQUENCE o OWNED BY t.a").await;
    exec(&c, "DROP TABLE t").await;
    assert_eq!(sqlstate(&c, "SELECT nextval('o')").await, "42P01");
}

#[tokio::test]
async fn serial_and_identity_columns_own_their_sequences() {
    let port = start_node().await;
    let (c, mut notices) = session(port).await;
    exec(&c, "CREATE TABLE t (id serial PRIMARY KEY, v text)").await;
    assert_eq!(one(&c, "SELECT nextval('t_id_seq')").await, "1");
    // SERIAL is integer: its sequence stops at 2^31 - 1.
    assert_eq!(
        error(&c, "SELECT setval('t_id_seq', 2147483648)").await.1,
        "setval: value 2147483648 is out of bounds for sequence \"t_id_seq\" (1..2147483647)"
    );
    exec(&c, "CREATE TABLE a_b_seq (x int)").await;
    exec(
        &c,
        "CREATE TABLE a (b serial, c bigserial, d smallserial, \
         e smallint GENERATED BY DEFAULT AS IDENTITY (START WITH 10 INCREMENT BY 5), \
         f bigint GENERATED ALWAYS AS IDENTITY)",
    )
    .await;
    assert_eq!(
        flat(
            &c,
            "SELECT nextval('a_b_seq1'), nextval('a_c_seq'), nextval('a_d_seq'), \
             nextval('a_e_seq') AS e1, nextval('a_e_seq') AS e2, nextval('a_f_seq')"
        )
        .await,
        vec!["1|1|1|10|15|1"]
    );
    assert_eq!(
        sqlstate(&c, "SELECT setval('a_d_seq', 32768)").await,
        "22003"
    );
    // The sequences depend on their columns.
    assert_eq!(
        error(&c, "DROP SEQUENCE a_e_seq").await,
        (
            "2BP01".into(),
            "cannot drop sequence a_e_seq because column e of table a requires it".into()
        )
    );
    assert_eq!(
        error(&c, "DROP SEQUENCE a_b_seq1").await,
        (
            "2BP01".into(),
            "cannot drop sequence a_b_seq1 because other objects depend on it".into()
        )
    );
    exec(&c, "DROP SEQUENCE a_b_seq1 CASCADE").await;
    assert_eq!(
        notices.recv().await.unwrap(),
        "drop cascades to default value for column b of table a"
    );
    assert_eq!(sqlstate(&c, "SELECT nextval('a_b_seq1')").await, "42P01");
    exec(&c, "DROP TABLE a").await;
    for s in ["a_c_seq", "a_d_seq", "a_e_seq", "a_f_seq"] {
        assert_eq!(
            sqlstate(&c, &format!("SELECT nextval('{s}')")).await,
            "42P01",
            "{s}"
        );
    }
    assert_eq!(one(&c, "SELECT count(*) FROM a_b_seq").await, "0");
    // Column definitions PostgreSQL refuses.
    for (sql, state) in [
        ("CREATE TABLE e (x serial DEFAULT 5)", "42601"),
        (
            "CREATE TABLE e (x int DEFAULT 5 GENERATED ALWAYS AS IDENTITY)",
            "42601",
        ),
        (
            "CREATE TABLE e (x serial GENERATED ALWAYS AS IDENTITY)",
            "42601",
        ),
        ("CREATE TABLE e (x serial NULL)", "42601"),
        (
            "CREATE TABLE e (x int GENERATED ALWAYS AS IDENTITY NULL)",
            "42601",
        ),
        (
            "CREATE TABLE e (x int GENERATED ALWAYS AS IDENTITY GENERATED BY DEFAULT AS IDENTITY)",
            "42601",
        ),
        (
            "CREATE TABLE e (x text GENERATED ALWAYS AS IDENTITY)",
            "22023",
        ),
        (
            "CREATE TABLE e (x int GENERATED ALWAYS AS IDENTITY (INCREMENT 0))",
            "22023",
        ),
    ] {
        assert_eq!(sqlstate(&c, sql).await, state, "{sql}");
    }
    assert_eq!(sqlstate(&c, "SELECT * FROM e").await, "42P01");
    exec(&c, "DROP TABLE t").await;
    assert_eq!(sqlstate(&c, "SELECT nextval('t_id_seq')").await, "42P01");
}

#[tokio::test]
async fn a_block_rolls_back_its_sequences() {
    let c = start().await;
    exec(
        &c,
        "BEGIN; CREATE SEQUENCE s; CREATE TABLE t (id serial); ROLLBACK",
    )
    .await;
    assert_eq!(sqlstate(&c, "SELECT nextval('s')").await, "42P01");
    assert_eq!(sqlstate(&c, "SELECT nextval('t_id_seq')").await, "42P01");
    exec(&c, "CREATE SEQUENCE s").await;
    exec(&c, "BEGIN; DROP SEQUENCE s; ROLLBACK").await;
    assert_eq!(one(&c, "SELECT nextval('s')").await, "1");
}

#[tokio::test]
async fn a_block_uses_the_sequence_it_created() {
    let c = start().await;
    exec(&c, "BEGIN; CREATE SEQUENCE s").await;
    assert_eq!(one(&c, "SELECT nextval('s')").await, "1");
    exec(&c, "COMMIT").await;
    assert_eq!(one(&c, "SELECT nextval('s')").await, "2");
}

#[tokio::test]
async fn serial_columns_fill_from_their_sequence() {
    let c = start().await;
    exec(&c, "CREATE TABLE t (id serial PRIMARY KEY, v text)").await;
    exec(&c, "INSERT INTO t (v) VALUES ('a'), ('b')").await;
    assert_eq!(
        flat(&c, "SELECT id, v FROM t ORDER BY id").await,
        vec!["1|a", "2|b"]
    );
    assert_eq!(
        flat(&c, "SELECT currval('t_id_seq'), lastval()").await,
        vec!["2|2"]
    );
    exec(&c, "INSERT INTO t VALUES (10, 'c')").await;
    assert_eq!(one(&c, "SELECT nextval('t_id_seq')").await, "3");
    exec(
        &c,
        "CREATE TABLE u (id int GENERATED ALWAYS AS IDENTITY, v text)",
    )
    .await;
    exec(&c, "INSERT INTO u (v) VALUES ('x')").await;
    assert_eq!(sqlstate(&c, "INSERT INTO u VALUES (5, 'y')").await, "428C9");
    assert_eq!(flat(&c, "SELECT id, v FROM u").await, vec!["1|x"]);
}
