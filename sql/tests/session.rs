//! Session features over a SQL node on the in-memory store, driven by
//! tokio-postgres and, where a client library would not misbehave on
//! purpose, by raw TCP: cancel requests, `statement_timeout`, SQL
//! `PREPARE`/`EXECUTE`/`DEALLOCATE`, `RESET`, password authentication and
//! users, and a node that survives clients that vanish or send garbage.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{count, error, query, sqlstate};
use strata_sql::auth::AuthMethod;
use strata_sql::server::{Server, ServerConfig};
use strata_sql::session::{Node, NodeConfig};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A query that runs for minutes unless stopped.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 1000000000)";

/// How long a stopped statement may take to stop.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// A SQL node behind a listener, with the server's handle.
struct Harness {
    port: u16,
    server: Arc<Server>,
    node: Arc<Node>,
}

impl Harness {
    async fn start(auth: AuthMethod, initial_password: Option<&str>) -> Harness {
        let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let config = NodeConfig {
            schema_lease: Duration::from_millis(20),
            ..NodeConfig::default()
        };
        let node = Node::start(kv, config).await.expect("node");
        strata_sql::auth::prepare(&node, auth, initial_password)
            .await
            .expect("prepare");
        let server = Server::new(node.clone(), ServerConfig { auth });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(strata_sql::server::serve_with(listener, server.clone()));
        Harness { port, server, node }
    }

    async fn trust() -> Harness {
        Harness::start(AuthMethod::Trust, None).await
    }

    async fn login(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> Result<Client, tokio_postgres::Error> {
        let mut cfg = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres",
            self.port
        );
        if let Some(pw) = password {
            cfg.push_str(&format!(" password={pw}"));
        }
        let (client, conn) = tokio_postgres::connect(&cfg, NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    async fn client(&self) -> Client {
        self.login("postgres", None).await.expect("connect")
    }
}

/// The SQLSTATE and message of an error.
fn code_and_message(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {e:?}"));
    (db.code().code().to_string(), db.message().to_string())
}

mod cancel {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_request_stops_a_long_query() {
        let h = Harness::trust().await;
        let c = h.client().await;
        let token = c.cancel_token();
        let started = Instant::now();
        let (r, _) = tokio::join!(c.simple_query(ENDLESS), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(NoTls).await.expect("cancel");
        });
        let e = r.expect_err("cancelled");
        assert_eq!(
            code_and_message(&e),
            (
                "57014".into(),
                "canceling statement due to user request".into()
            )
        );
        assert!(started.elapsed() < STOP_WITHIN, "{:?}", started.elapsed());
        // The session goes on.
        assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_stops_an_extended_protocol_query_too() {
        let h = Harness::trust().await;
        let c = h.client().await;
        let token = c.cancel_token();
        let (r, _) = tokio::join!(
            c.query(
                "SELECT count(*) FROM generate_series(1, 1000000000) g WHERE g > $1::bigint",
                &[&0i64]
            ),
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                token.cancel_query(NoTls).await.expect("cancel");
            }
        );
        let e = r.expect_err("cancelled");
        assert_eq!(code_and_message(&e).0, "57014", "{e:?}");
        let n: i64 = c
            .query_one("SELECT $1::bigint + 1", &[&1i64])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_statement_fails_its_block() {
        let h = Harness::trust().await;
        let c = h.client().await;
        c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
            .await
            .unwrap();
        c.batch_execute("BEGIN; INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let token = c.cancel_token();
        let (r, _) = tokio::join!(c.simple_query(ENDLESS), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(NoTls).await.expect("cancel");
        });
        assert_eq!(code_and_message(&r.expect_err("cancelled")).0, "57014");
        assert_eq!(sqlstate(&c, "SELECT 1").await, "25P02");
        c.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(query(&c, "SELECT count(*) FROM t").await, vec!["0"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_write_in_a_block_leaves_the_block_failed() {
        let h = Harness::trust().await;
        let c = h.client().await;
        c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            .await
            .unwrap();
        c.batch_execute("BEGIN; INSERT INTO t VALUES (0)")
            .await
            .unwrap();
        let token = c.cancel_token();
        let (r, _) = tokio::join!(
            c.simple_query("INSERT INTO t SELECT g FROM generate_series(1, 1000000000) g"),
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                token.cancel_query(NoTls).await.expect("cancel");
            }
        );
        assert_eq!(code_and_message(&r.expect_err("cancelled")).0, "57014");
        assert_eq!(sqlstate(&c, "SELECT 1").await, "25P02");
        c.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(query(&c, "SELECT count(*) FROM t").await, vec!["0"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_between_statements_does_nothing() {
        let h = Harness::trust().await;
        let c = h.client().await;
        c.cancel_token().cancel_query(NoTls).await.expect("cancel");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
        // A wrong secret cancels nothing (the cancel request of another
        // session's token goes to that session only).
        let other = h.client().await;
        let token = other.cancel_token();
        let (r, _) = tokio::join!(
            c.simple_query("SELECT count(*) FROM generate_series(1, 300000)"),
            async { token.cancel_query(NoTls).await.expect("cancel") }
        );
        assert!(r.is_ok());
    }
}

mod timeout {
    use super::*;

    #[tokio::test]
    async fn statement_timeout_is_set_and_shown_as_postgresql_does() {
        let c = common::start().await;
        assert_eq!(query(&c, "SHOW statement_timeout").await, vec!["0"]);
        for (set, shown) in [
            ("'100ms'", "100ms"),
            ("100", "100ms"),
            ("'1s'", "1s"),
            ("1000", "1s"),
            ("'1.5s'", "1500ms"),
            ("'2min'", "2min"),
            ("0", "0"),
        ] {
            c.batch_execute(&format!("SET statement_timeout = {set}"))
                .await
                .unwrap();
            assert_eq!(
                query(&c, "SHOW statement_timeout").await,
                vec![shown],
                "{set}"
            );
        }
        let (code, message, _) = error(&c, "SET statement_timeout = 'abc'").await;
        assert_eq!(code, "22023");
        assert_eq!(
            message,
            "invalid value for parameter \"statement_timeout\": \"abc\""
        );
        assert_eq!(sqlstate(&c, "SET statement_timeout = -1").await, "22023");
        assert_eq!(
            sqlstate(&c, "SET statement_timeout = '10 sec'").await,
            "22023"
        );
        c.batch_execute("SET statement_timeout TO '5s'")
            .await
            .unwrap();
        c.batch_execute("RESET statement_timeout").await.unwrap();
        assert_eq!(query(&c, "SHOW statement_timeout").await, vec!["0"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_over_the_timeout_is_stopped() {
        let c = common::start().await;
        c.batch_execute("SET statement_timeout = '100ms'")
            .await
            .unwrap();
        let started = Instant::now();
        let e = c.simple_query(ENDLESS).await.expect_err("timeout");
        assert_eq!(
            code_and_message(&e),
            (
                "57014".into(),
                "canceling statement due to statement timeout".into()
            )
        );
        assert!(started.elapsed() < STOP_WITHIN, "{:?}", started.elapsed());
        // Fast statements are not affected; the extended protocol has the
        // same limit.
        assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
        let e = c
            .query(
                "SELECT count(*) FROM generate_series(1, 1000000000) g WHERE g > $1::bigint",
                &[&0i64],
            )
            .await
            .expect_err("timeout");
        assert_eq!(code_and_message(&e).0, "57014");
        // A write is stopped too, and leaves nothing.
        c.batch_execute("SET statement_timeout = 0").await.unwrap();
        c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            .await
            .unwrap();
        c.batch_execute("SET statement_timeout = '200ms'")
            .await
            .unwrap();
        let e = c
            .simple_query("INSERT INTO t SELECT g FROM generate_series(1, 1000000000) g")
            .await
            .expect_err("timeout");
        assert_eq!(code_and_message(&e).0, "57014");
        assert_eq!(query(&c, "SELECT count(*) FROM t").await, vec!["0"]);
        c.batch_execute("SET statement_timeout = 0").await.unwrap();
        assert_eq!(count(&c, "INSERT INTO t VALUES (1)").await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeout_counts_per_statement() {
        let c = common::start().await;
        c.batch_execute("SET statement_timeout = '300ms'")
            .await
            .unwrap();
        // Each statement of a query string has its own limit.
        let msgs = c
            .simple_query(
                "SELECT count(*) FROM generate_series(1, 1000); \
                 SELECT count(*) FROM generate_series(1, 1000); \
                 SELECT 3",
            )
            .await
            .unwrap();
        let rows = msgs
            .iter()
            .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
            .count();
        assert_eq!(rows, 3);
    }
}

mod prepared {
    use super::*;

    #[tokio::test]
    async fn prepare_execute_deallocate() {
        let c = common::start().await;
        c.batch_execute("PREPARE p(int, text) AS SELECT $1 + 1, $2")
            .await
            .unwrap();
        assert_eq!(query(&c, "EXECUTE p(41, 'x')").await, vec!["42|x"]);
        assert_eq!(query(&c, "EXECUTE p('41', 'y')").await, vec!["42|y"]);
        let (code, message, _) = error(&c, "PREPARE p AS SELECT 1").await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("42P05", "prepared statement \"p\" already exists")
        );
        let (code, message, _) = error(&c, "EXECUTE q").await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("26000", "prepared statement \"q\" does not exist")
        );
        let (code, message, detail) = error(&c, "EXECUTE p(1)").await;
        assert_eq!(code, "42601");
        assert_eq!(
            message,
            "wrong number of parameters for prepared statement \"p\""
        );
        assert_eq!(detail.as_deref(), Some("Expected 2 parameters but got 1."));
        assert_eq!(sqlstate(&c, "EXECUTE p(1, 2, 3)").await, "42601");
        assert_eq!(sqlstate(&c, "EXECUTE p('abc', 'x')").await, "22P02");
        assert_eq!(sqlstate(&c, "DEALLOCATE q").await, "26000");
        c.batch_execute("DEALLOCATE p").await.unwrap();
        assert_eq!(sqlstate(&c, "EXECUTE p(1, 'x')").await, "26000");
        // Types inferred from the statement; untyped ones are text.
        c.batch_execute("PREPARE q AS SELECT $1::int * 2")
            .await
            .unwrap();
        assert_eq!(query(&c, "EXECUTE q(21)").await, vec!["42"]);
        c.batch_execute("PREPARE r AS SELECT $1").await.unwrap();
        assert_eq!(query(&c, "EXECUTE r('a')").await, vec!["a"]);
        // Arguments may be expressions.
        assert_eq!(query(&c, "EXECUTE q(20 + 1)").await, vec!["42"]);
        assert_eq!(sqlstate(&c, "PREPARE s AS BEGIN").await, "42601");
        let msgs = c.simple_query("DEALLOCATE PREPARE ALL").await.unwrap();
        assert!(matches!(
            msgs.last(),
            Some(SimpleQueryMessage::CommandComplete(_))
        ));
        assert_eq!(sqlstate(&c, "EXECUTE q(1)").await, "26000");
    }

    #[tokio::test]
    async fn prepared_writes_and_their_tags() {
        let c = common::start().await;
        c.batch_execute("CREATE TABLE t (a int PRIMARY KEY, b text)")
            .await
            .unwrap();
        c.batch_execute("PREPARE ins(int, text) AS INSERT INTO t VALUES ($1, $2)")
            .await
            .unwrap();
        assert_eq!(count(&c, "EXECUTE ins(1, 'one')").await, 1);
        assert_eq!(count(&c, "EXECUTE ins(2, 'two')").await, 1);
        assert_eq!(sqlstate(&c, "EXECUTE ins(1, 'again')").await, "23505");
        c.batch_execute("PREPARE up(int) AS UPDATE t SET b = b || '!' WHERE a <= $1")
            .await
            .unwrap();
        assert_eq!(count(&c, "EXECUTE up(2)").await, 2);
        c.batch_execute("PREPARE sel AS SELECT * FROM t ORDER BY a")
            .await
            .unwrap();
        assert_eq!(query(&c, "EXECUTE sel").await, vec!["1|one!", "2|two!"]);
        // The extended protocol can run and describe them.
        let rows = c.query("EXECUTE sel", &[]).await.unwrap();
        assert_eq!(rows.len(), 2);
        let b: &str = rows[0].get(1);
        assert_eq!(b, "one!");
        // Prepared statements belong to the session, not the transaction.
        c.batch_execute("BEGIN; PREPARE zz AS SELECT 2; ROLLBACK")
            .await
            .unwrap();
        assert_eq!(query(&c, "EXECUTE zz").await, vec!["2"]);
        // And to this session only.
        let other = common::start().await;
        assert_eq!(sqlstate(&other, "EXECUTE zz").await, "26000");
    }
}

mod settings {
    use super::*;

    #[tokio::test]
    async fn reset_returns_to_defaults() {
        let c = common::start().await;
        assert_eq!(query(&c, "SHOW application_name").await, vec![""]);
        c.batch_execute("SET application_name = 'foo'")
            .await
            .unwrap();
        assert_eq!(query(&c, "SHOW application_name").await, vec!["foo"]);
        c.batch_execute("RESET application_name").await.unwrap();
        assert_eq!(query(&c, "SHOW application_name").await, vec![""]);

        assert_eq!(
            query(&c, "SHOW search_path").await,
            vec!["\"$user\", public"]
        );
        c.batch_execute("SET search_path = public, pg_catalog")
            .await
            .unwrap();
        assert_eq!(
            query(&c, "SHOW search_path").await,
            vec!["public, pg_catalog"]
        );
        c.batch_execute("SET search_path TO \"$user\", public")
            .await
            .unwrap();
        assert_eq!(
            query(&c, "SHOW search_path").await,
            vec!["\"$user\", public"]
        );
        c.batch_execute("SET search_path = 'a b'").await.unwrap();
        assert_eq!(query(&c, "SHOW search_path").await, vec!["\"a b\""]);

        c.batch_execute("SET extra_float_digits = 0").await.unwrap();
        c.batch_execute("SET DateStyle = 'ISO, DMY'").await.unwrap();
        c.batch_execute("SET TimeZone = 'Europe/Paris'")
            .await
            .unwrap();
        c.batch_execute("SET statement_timeout = '1min'")
            .await
            .unwrap();
        c.batch_execute("RESET TimeZone").await.unwrap();
        assert_eq!(query(&c, "SHOW TimeZone").await, vec!["UTC"]);
        assert_eq!(query(&c, "SHOW statement_timeout").await, vec!["1min"]);
        c.batch_execute("SET DateStyle TO DEFAULT").await.unwrap();
        assert_eq!(query(&c, "SHOW DateStyle").await, vec!["ISO, MDY"]);
        assert_eq!(query(&c, "SHOW extra_float_digits").await, vec!["0"]);
        c.batch_execute("RESET ALL").await.unwrap();
        for (name, value) in [
            ("search_path", "\"$user\", public"),
            ("extra_float_digits", "1"),
            ("statement_timeout", "0"),
            ("application_name", ""),
        ] {
            assert_eq!(
                query(&c, &format!("SHOW {name}")).await,
                vec![value],
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn reset_returns_to_what_the_client_sent_at_startup() {
        let h = Harness::trust().await;
        let (c, conn) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres application_name=app \
                 options='-c statement_timeout=5s'",
                h.port
            ),
            NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        assert_eq!(query(&c, "SHOW application_name").await, vec!["app"]);
        assert_eq!(query(&c, "SHOW statement_timeout").await, vec!["5s"]);
        c.batch_execute("SET application_name = 'other'; SET statement_timeout = 0")
            .await
            .unwrap();
        c.batch_execute("RESET ALL").await.unwrap();
        assert_eq!(query(&c, "SHOW application_name").await, vec!["app"]);
        assert_eq!(query(&c, "SHOW statement_timeout").await, vec!["5s"]);
    }
}

mod auth {
    use super::*;

    async fn scram() -> Harness {
        Harness::start(AuthMethod::Scram, Some("s3cret")).await
    }

    #[tokio::test]
    async fn passwords_are_checked_with_scram() {
        let h = scram().await;
        let c = h
            .login("postgres", Some("s3cret"))
            .await
            .expect("right password");
        assert_eq!(query(&c, "SELECT current_user").await, vec!["postgres"]);
        let e = h
            .login("postgres", Some("wrong"))
            .await
            .expect_err("wrong password");
        assert_eq!(
            code_and_message(&e),
            (
                "28P01".into(),
                "password authentication failed for user \"postgres\"".into()
            )
        );
        let e = h
            .login("nobody", Some("s3cret"))
            .await
            .expect_err("unknown user");
        assert_eq!(
            code_and_message(&e),
            (
                "28P01".into(),
                "password authentication failed for user \"nobody\"".into()
            )
        );
        // The node keeps serving.
        assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
    }

    #[tokio::test]
    async fn users_are_created_altered_and_dropped() {
        let h = scram().await;
        let c = h.login("postgres", Some("s3cret")).await.unwrap();
        let done = c
            .simple_query("CREATE USER alice WITH PASSWORD 'pw1'")
            .await
            .unwrap();
        assert!(matches!(
            done.last(),
            Some(SimpleQueryMessage::CommandComplete(_))
        ));
        let (code, message, _) = error(&c, "CREATE USER alice").await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("42710", "role \"alice\" already exists")
        );
        c.batch_execute("CREATE ROLE bob LOGIN PASSWORD 'pw2'")
            .await
            .unwrap();
        c.batch_execute("CREATE ROLE carol PASSWORD 'pw3'")
            .await
            .unwrap();

        let alice = h.login("alice", Some("pw1")).await.expect("alice logs in");
        assert_eq!(query(&alice, "SELECT current_user").await, vec!["alice"]);
        h.login("bob", Some("pw2")).await.expect("bob logs in");
        // A role without LOGIN cannot log in (as a wrong password).
        let e = h
            .login("carol", Some("pw3"))
            .await
            .expect_err("carol has no LOGIN");
        assert_eq!(code_and_message(&e).0, "28P01");

        // An ordinary user changes its own password, and nothing else.
        alice
            .batch_execute("ALTER USER alice WITH PASSWORD 'pw1b'")
            .await
            .unwrap();
        assert_eq!(sqlstate(&alice, "CREATE USER mallory").await, "42501");
        assert_eq!(
            sqlstate(&alice, "ALTER USER bob PASSWORD 'x'").await,
            "42501"
        );
        assert_eq!(sqlstate(&alice, "DROP USER bob").await, "42501");
        h.login("alice", Some("pw1"))
            .await
            .expect_err("old password");
        h.login("alice", Some("pw1b")).await.expect("new password");

        let (code, message, _) = error(&c, "ALTER USER nobody WITH PASSWORD 'x'").await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("42704", "role \"nobody\" does not exist")
        );
        let (code, message, _) = error(&c, "DROP USER nobody").await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("42704", "role \"nobody\" does not exist")
        );
        c.batch_execute("DROP USER IF EXISTS nobody, carol")
            .await
            .unwrap();
        c.batch_execute("DROP USER alice, bob").await.unwrap();
        h.login("alice", Some("pw1b"))
            .await
            .expect_err("alice is gone");
        assert_eq!(sqlstate(&c, "DROP USER postgres").await, "55006");
    }

    #[tokio::test]
    async fn user_ddl_is_transactional() {
        let h = scram().await;
        let c = h.login("postgres", Some("s3cret")).await.unwrap();
        c.batch_execute("BEGIN; CREATE USER temp PASSWORD 'x'; ROLLBACK")
            .await
            .unwrap();
        h.login("temp", Some("x")).await.expect_err("rolled back");
        assert_eq!(sqlstate(&c, "DROP USER temp").await, "42704");
        c.batch_execute("BEGIN; CREATE USER kept PASSWORD 'x'; COMMIT")
            .await
            .unwrap();
        h.login("kept", Some("x")).await.expect("committed");
        // The superuser's password can be changed; the initial password
        // does not come back when the node restarts.
        c.batch_execute("ALTER USER postgres PASSWORD 'new'")
            .await
            .unwrap();
        strata_sql::auth::prepare(&h.node, AuthMethod::Scram, Some("s3cret"))
            .await
            .unwrap();
        h.login("postgres", Some("new"))
            .await
            .expect("changed password");
        h.login("postgres", Some("s3cret"))
            .await
            .expect_err("initial password is not reset");
    }

    #[tokio::test]
    async fn scram_needs_a_superuser_password() {
        let kv: client::SharedKv = Arc::new(kv::local::LocalTxnKv::new());
        let node = Node::start(kv, NodeConfig::default()).await.unwrap();
        let e = strata_sql::auth::prepare(&node, AuthMethod::Scram, None)
            .await
            .expect_err("no password");
        assert!(e.message.contains("--initial-password"), "{e}");
        strata_sql::auth::prepare(&node, AuthMethod::Scram, Some("pw"))
            .await
            .expect("with a password");
    }

    #[tokio::test]
    async fn trust_lets_existing_users_in_only() {
        let h = Harness::trust().await;
        let c = h.client().await;
        let e = h.login("nobody", None).await.expect_err("unknown user");
        assert_eq!(
            code_and_message(&e),
            ("28000".into(), "role \"nobody\" does not exist".into())
        );
        c.batch_execute("CREATE ROLE viewer").await.unwrap();
        let e = h.login("viewer", None).await.expect_err("no LOGIN");
        assert_eq!(
            code_and_message(&e),
            (
                "28000".into(),
                "role \"viewer\" is not permitted to log in".into()
            )
        );
        c.batch_execute("ALTER ROLE viewer LOGIN").await.unwrap();
        let v = h.login("viewer", None).await.expect("LOGIN now");
        assert_eq!(query(&v, "SELECT current_user").await, vec!["viewer"]);
    }
}

mod robustness {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A connection past startup (trust), speaking raw protocol.
    async fn raw(port: u16) -> TcpStream {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(&196608i32.to_be_bytes());
        for kv in ["user", "postgres", "database", "postgres"] {
            body.extend_from_slice(kv.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        s.write_all(&msg).await.unwrap();
        read_until_ready(&mut s).await.expect("startup");
        s
    }

    /// Reads messages up to ReadyForQuery; the error codes of any
    /// ErrorResponse on the way; `None` if the connection closed first.
    async fn read_until_ready(s: &mut TcpStream) -> Option<Vec<String>> {
        let mut errors = Vec::new();
        loop {
            let mut head = [0u8; 5];
            tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut head))
                .await
                .expect("an answer in time")
                .ok()?;
            let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            let mut body = vec![0u8; len.saturating_sub(4)];
            s.read_exact(&mut body).await.ok()?;
            match head[0] {
                b'E' => {
                    let code = body
                        .split(|b| *b == 0)
                        .find_map(|f| f.strip_prefix(b"C"))
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .unwrap_or_default();
                    errors.push(code);
                }
                b'Z' => return Some(errors),
                _ => {}
            }
        }
    }

    fn query_message(sql: &[u8]) -> Vec<u8> {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
        msg.extend_from_slice(sql);
        msg.push(0);
        msg
    }

    /// Whether the server closed the connection (EOF or reset) in time.
    async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    #[tokio::test]
    async fn a_client_gone_mid_transaction_leaves_nothing_behind() {
        let h = Harness::trust().await;
        let c = h.client().await;
        c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
            .await
            .unwrap();
        c.batch_execute("INSERT INTO t VALUES (1, 0)")
            .await
            .unwrap();
        {
            let gone = h.client().await;
            gone.batch_execute(
                "BEGIN; UPDATE t SET v = 100 WHERE id = 1; INSERT INTO t VALUES (2, 2)",
            )
            .await
            .unwrap();
            // Dropping the client closes its connection mid-block.
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // No lock: another session writes the same rows at once, and the
        // vanished block's writes never happened.
        assert_eq!(count(&c, "UPDATE t SET v = 1 WHERE id = 1").await, 1);
        assert_eq!(count(&c, "INSERT INTO t VALUES (2, 20)").await, 1);
        assert_eq!(
            query(&c, "SELECT * FROM t ORDER BY id").await,
            vec!["1|1", "2|20"]
        );
        // Its connection is gone from the node.
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.server.connections() != 1 {
            assert!(
                Instant::now() < deadline,
                "{} connections",
                h.server.connections()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_gone_mid_statement_stops_the_statement() {
        let h = Harness::trust().await;
        let c = h.client().await;
        for sql in [
            ENDLESS,
            "BEGIN; INSERT INTO t SELECT g FROM generate_series(1, 1000000000) g",
        ] {
            if !sql.starts_with("SELECT") {
                c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
                    .await
                    .unwrap();
            }
            let mut s = raw(h.port).await;
            assert_eq!(h.server.connections(), 2);
            s.write_all(&query_message(sql.as_bytes())).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(s);
            // The node notices, stops the statement and closes the session
            // (minutes before the statement would have ended).
            let deadline = Instant::now() + STOP_WITHIN;
            while h.server.connections() != 1 {
                assert!(Instant::now() < deadline, "the statement still runs");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
        }
        assert_eq!(query(&c, "SELECT count(*) FROM t").await, vec!["0"]);
    }

    #[tokio::test]
    async fn a_huge_length_closes_only_that_connection() {
        let h = Harness::trust().await;
        let c = h.client().await;
        let mut s = raw(h.port).await;
        // A 2 GiB query.
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
        msg.extend_from_slice(b"SELECT");
        s.write_all(&msg).await.unwrap();
        assert!(closed(&mut s).await);
        // A negative length.
        let mut s = raw(h.port).await;
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&(-5i32).to_be_bytes());
        s.write_all(&msg).await.unwrap();
        assert!(closed(&mut s).await);
        // Garbage instead of a startup message.
        let mut s = TcpStream::connect(("127.0.0.1", h.port)).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(closed(&mut s).await);
        assert_eq!(query(&c, "SELECT 1").await, vec!["1"]);
    }

    #[tokio::test]
    async fn invalid_utf8_in_a_query_is_an_error() {
        let h = Harness::trust().await;
        let mut s = raw(h.port).await;
        s.write_all(&query_message(b"SELECT 'caf\xe9'"))
            .await
            .unwrap();
        assert_eq!(
            read_until_ready(&mut s).await,
            Some(vec!["22021".to_string()])
        );
        // The connection goes on.
        s.write_all(&query_message(b"SELECT 1")).await.unwrap();
        assert_eq!(read_until_ready(&mut s).await, Some(vec![]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_hundred_connections_idle_and_busy() {
        let h = Arc::new(Harness::trust().await);
        let setup = h.client().await;
        setup
            .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
            .await
            .unwrap();
        let clients: Vec<Client> = futures::future::join_all((0..300).map(|_| h.client())).await;
        assert!(h.server.connections() >= 300);
        let work = clients.iter().enumerate().map(|(i, c)| async move {
            if i % 3 == 0 {
                // Busy: a write and a read each.
                c.batch_execute(&format!("INSERT INTO t VALUES ({i}, {i})"))
                    .await
                    .unwrap();
                let r = query(c, &format!("SELECT v FROM t WHERE id = {i}")).await;
                assert_eq!(r, vec![i.to_string()]);
            } else {
                assert_eq!(query(c, "SELECT 1").await, vec!["1"]);
            }
        });
        futures::future::join_all(work).await;
        assert_eq!(query(&setup, "SELECT count(*) FROM t").await, vec!["100"]);
        drop(clients);
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.server.connections() > 1 {
            assert!(
                Instant::now() < deadline,
                "{} connections left",
                h.server.connections()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
