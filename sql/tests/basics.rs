//! A SQL node over the local in-memory store, driven through pgwire by
//! tokio-postgres: tables, rows, key ranges, transactions and errors.

mod common;

use common::{connect, flat, rows, sqlstate, start};
use tokio_postgres::SimpleQueryMessage;

#[tokio::test]
async fn tables_are_created_filled_and_queried() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), ok boolean)",
    )
    .await
    .unwrap();
    let done = c
        .simple_query("INSERT INTO t VALUES (1, 'one', 1.5, true), (2, 'two', NULL, false), (3, 'three', 10, NULL)")
        .await
        .unwrap();
    assert!(done
        .iter()
        .any(|m| matches!(m, SimpleQueryMessage::CommandComplete(3))));
    assert_eq!(
        flat(rows(&c, "SELECT * FROM t ORDER BY id").await),
        vec!["1|one|1.50|t", "2|two|NULL|f", "3|three|10.00|NULL"]
    );
    assert_eq!(
        flat(rows(&c, "SELECT name FROM t WHERE id = 2").await),
        vec!["two"]
    );
    assert_eq!(
        flat(
            rows(
                &c,
                "SELECT count(*), sum(price) FROM t WHERE id BETWEEN 1 AND 2"
            )
            .await
        ),
        vec!["2|1.50"]
    );
    assert_eq!(
        flat(rows(&c, "SELECT id FROM t WHERE id IN (3, 1) ORDER BY id").await),
        vec!["1", "3"]
    );
    // PostgreSQL's column names and session functions.
    let msgs = c
        .simple_query("SELECT 1, id, count(*) AS n, 2::int FROM t GROUP BY id LIMIT 1")
        .await
        .unwrap();
    let SimpleQueryMessage::RowDescription(cols) = &msgs[0] else {
        panic!("no row description")
    };
    let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
    assert_eq!(names, vec!["?column?", "id", "n", "int4"]);
    let v = flat(
        rows(
            &c,
            "SELECT version(), current_database(), current_schema(), current_user",
        )
        .await,
    );
    assert!(v[0].starts_with("PostgreSQL 15.18 (Strata"), "{v:?}");
    assert!(v[0].ends_with("|postgres|public|postgres"), "{v:?}");
    // The key ranges read are visible in EXPLAIN.
    let plan = flat(rows(&c, "EXPLAIN SELECT * FROM t WHERE id = 2").await).join("\n");
    assert!(plan.starts_with("PointGet: table=t key=point 0x"), "{plan}");
    let plan = flat(rows(&c, "EXPLAIN SELECT * FROM t WHERE id IN (2, 3)").await).join("\n");
    assert!(plan.contains("KvScan: table=t ranges=[point"), "{plan}");
    let plan = flat(rows(&c, "EXPLAIN SELECT * FROM t WHERE id >= 2").await).join("\n");
    assert!(plan.contains("ranges=[["), "{plan}");
}

#[tokio::test]
async fn constraint_violations_change_nothing() {
    let c = start().await;
    c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v varchar(3) NOT NULL)")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO t VALUES (1, 'a')")
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (2, 'b'), (1, 'c')").await,
        "23505"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3, NULL)").await,
        "23502"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (4, 'abcd')").await,
        "22001"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3000000000000000000000, 'x')").await,
        "22003"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES ('x', 'x')").await,
        "22P02"
    );
    assert_eq!(flat(rows(&c, "SELECT * FROM t").await), vec!["1|a"]);
    assert_eq!(sqlstate(&c, "SELECT * FROM nope").await, "42P01");
    assert_eq!(sqlstate(&c, "SELECT nope FROM t").await, "42703");
    assert_eq!(sqlstate(&c, "SELEC 1").await, "42601");
    assert_eq!(sqlstate(&c, "CREATE TABLE t (a int)").await, "42P07");
    assert_eq!(sqlstate(&c, "SELECT 1/0").await, "22012");
}

#[tokio::test]
async fn transactions_commit_roll_back_and_fail() {
    let c = start().await;
    c.batch_execute("CREATE TABLE acct (id int PRIMARY KEY, balance bigint)")
        .await
        .unwrap();
    c.batch_execute(
        "BEGIN; INSERT INTO acct VALUES (1, 100); INSERT INTO acct VALUES (2, 50); COMMIT",
    )
    .await
    .unwrap();
    c.batch_execute("BEGIN; INSERT INTO acct VALUES (3, 1); ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        flat(rows(&c, "SELECT sum(balance) FROM acct").await),
        vec!["150"]
    );
    // Inside a block, an error fails the block until ROLLBACK.
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(
        sqlstate(&c, "INSERT INTO acct VALUES (1, 0)").await,
        "23505"
    );
    assert_eq!(sqlstate(&c, "SELECT 1").await, "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(flat(rows(&c, "SELECT count(*) FROM acct").await), vec!["2"]);
    // A transaction sees its own writes; savepoints undo part of it.
    c.batch_execute(
        "BEGIN; INSERT INTO acct VALUES (5, 5); SAVEPOINT s; INSERT INTO acct VALUES (6, 6)",
    )
    .await
    .unwrap();
    assert_eq!(flat(rows(&c, "SELECT count(*) FROM acct").await), vec!["4"]);
    c.batch_execute("ROLLBACK TO SAVEPOINT s; COMMIT")
        .await
        .unwrap();
    assert_eq!(
        flat(rows(&c, "SELECT id FROM acct ORDER BY id").await),
        vec!["1", "2", "5"]
    );
    // DDL is transactional.
    c.batch_execute("BEGIN; CREATE TABLE gone (a int); INSERT INTO gone VALUES (1); ROLLBACK")
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, "SELECT * FROM gone").await, "42P01");
    assert_eq!(
        sqlstate(&c, "BEGIN ISOLATION LEVEL SERIALIZABLE").await,
        "0A000"
    );
    assert_eq!(
        flat(rows(&c, "SHOW transaction isolation level").await),
        vec!["repeatable read"]
    );
}

#[tokio::test]
async fn two_sessions_see_each_others_commits() {
    let kv: client::SharedKv = std::sync::Arc::new(kv::local::LocalTxnKv::new());
    let a = connect(kv.clone()).await;
    let b = connect(kv).await;
    a.batch_execute("CREATE TABLE t (k text PRIMARY KEY, v int)")
        .await
        .unwrap();
    b.batch_execute("INSERT INTO t VALUES ('x', 1)")
        .await
        .unwrap();
    assert_eq!(flat(rows(&a, "SELECT * FROM t").await), vec!["x|1"]);
    // A block reads one snapshot.
    a.batch_execute("BEGIN").await.unwrap();
    assert_eq!(flat(rows(&a, "SELECT count(*) FROM t").await), vec!["1"]);
    b.batch_execute("INSERT INTO t VALUES ('y', 2)")
        .await
        .unwrap();
    assert_eq!(flat(rows(&a, "SELECT count(*) FROM t").await), vec!["1"]);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(flat(rows(&a, "SELECT count(*) FROM t").await), vec!["2"]);
}

#[tokio::test]
async fn tables_without_a_key_and_large_results() {
    let c = start().await;
    c.batch_execute("CREATE TABLE log (msg text, n int)")
        .await
        .unwrap();
    let values: Vec<String> = (0..3000).map(|i| format!("('m{i}', {i})")).collect();
    c.batch_execute(&format!("INSERT INTO log VALUES {}", values.join(",")))
        .await
        .unwrap();
    assert_eq!(
        flat(
            rows(
                &c,
                "SELECT count(*), min(n), max(n), count(DISTINCT msg) FROM log"
            )
            .await
        ),
        vec!["3000|0|2999|3000"]
    );
    // The hidden row id is not a column.
    assert_eq!(
        flat(rows(&c, "SELECT * FROM log WHERE n = 7").await),
        vec!["m7|7"]
    );
}

#[tokio::test]
async fn the_extended_protocol_binds_parameters_and_returns_binary() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE p (id bigint PRIMARY KEY, name text, score double precision, born date, ok bool)",
    )
    .await
    .unwrap();
    let ins = c
        .prepare("INSERT INTO p VALUES ($1, $2, $3, $4, $5)")
        .await
        .unwrap();
    let born = chrono::NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
    for i in 0..5i64 {
        let name = format!("n{i}");
        let n = c
            .execute(&ins, &[&i, &name, &(i as f64 * 1.5), &born, &(i % 2 == 0)])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let row = c
        .query_one(
            "SELECT name, score, born, ok FROM p WHERE id = $1",
            &[&3i64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "n3");
    assert_eq!(row.get::<_, f64>(1), 4.5);
    assert_eq!(row.get::<_, chrono::NaiveDate>(2), born);
    assert!(!row.get::<_, bool>(3));
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM p WHERE id >= $1 AND name <> $2",
            &[&1i64, &"n2"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    // Errors keep their SQLSTATE in the extended protocol too.
    let e = c
        .execute(&ins, &[&1i64, &"x", &0.0f64, &born, &true])
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23505"));
    let e = c.prepare("SELECT * FROM missing").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42P01"));
}

/// Which selects take the point path (one key lookup, `PointGet` in
/// EXPLAIN) and which are left to DataFusion: the point path takes only
/// what it can answer exactly as PostgreSQL would.
#[tokio::test]
async fn only_plain_selects_by_the_whole_key_are_point_gets() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, v text);
         CREATE TABLE c2 (a int, b text, v int, PRIMARY KEY (a, b));
         CREATE TABLE nokey (x int);
         CREATE VIEW pv AS SELECT id, v FROM p",
    )
    .await
    .unwrap();
    let point = [
        "SELECT v FROM p WHERE id = 1",
        "SELECT * FROM p WHERE 1 = id",
        "SELECT x.v AS w FROM p x WHERE x.id = '1'",
        "SELECT p.* FROM p WHERE (p.id = -1)",
        "SELECT v FROM p WHERE id = 3000000000",
        "SELECT v FROM p WHERE id = NULL",
        "SELECT v FROM c2 WHERE b = 'x' AND a = 1",
    ];
    for sql in point {
        let plan = flat(rows(&c, &format!("EXPLAIN {sql}")).await).join("\n");
        assert!(plan.starts_with("PointGet: table="), "{sql}: {plan}");
    }
    let general = [
        "SELECT v FROM p WHERE id = 1.5",
        "SELECT v FROM p WHERE id = 1 AND v = 'a'",
        "SELECT v FROM p WHERE id = 1 AND id = 2",
        "SELECT v FROM p WHERE id = 1 ORDER BY v",
        "SELECT v FROM p WHERE id = 1 LIMIT 1",
        "SELECT v FROM p WHERE id = 1 FOR UPDATE",
        "SELECT DISTINCT v FROM p WHERE id = 1",
        "SELECT upper(v) FROM p WHERE id = 1",
        "SELECT v FROM p WHERE id IN (1)",
        "SELECT v FROM pv WHERE id = 1",
        "SELECT v FROM c2 WHERE a = 1",
        "SELECT x FROM nokey WHERE x = 1",
        "SELECT p.v FROM p, c2 WHERE id = 1",
    ];
    for sql in general {
        let plan = flat(rows(&c, &format!("EXPLAIN {sql}")).await).join("\n");
        assert!(!plan.contains("PointGet"), "{sql}: {plan}");
    }
}

/// `SELECT … FOR UPDATE` in a block locks the rows it read: a concurrent
/// commit to one of them makes the block's commit fail with 40001 (write
/// skew through them is refused); without FOR UPDATE snapshot isolation
/// lets the same schedule commit.
#[tokio::test]
async fn for_update_locks_the_rows_read() {
    let kv: client::SharedKv = std::sync::Arc::new(kv::local::LocalTxnKv::new());
    let a = connect(kv.clone()).await;
    let b = connect(kv).await;
    a.batch_execute(
        "CREATE TABLE duty (id int PRIMARY KEY, on_call bool);
         INSERT INTO duty VALUES (1, true), (2, true), (3, true)",
    )
    .await
    .unwrap();
    // Without FOR UPDATE: both commit.
    a.batch_execute("BEGIN").await.unwrap();
    assert_eq!(
        flat(
            rows(
                &a,
                "SELECT count(*) FROM duty WHERE on_call AND id IN (1, 2)"
            )
            .await
        ),
        vec!["2"]
    );
    b.batch_execute("UPDATE duty SET on_call = false WHERE id = 2")
        .await
        .unwrap();
    a.batch_execute("UPDATE duty SET on_call = false WHERE id = 1; COMMIT")
        .await
        .unwrap();
    // With FOR UPDATE, on a range and on one row: the commit is refused.
    for sql in [
        "SELECT id FROM duty WHERE id >= 2 FOR UPDATE",
        "SELECT id FROM duty WHERE id = 3 FOR UPDATE",
    ] {
        b.batch_execute("UPDATE duty SET on_call = true")
            .await
            .unwrap();
        a.batch_execute("BEGIN").await.unwrap();
        assert!(
            flat(rows(&a, sql).await).contains(&"3".to_string()),
            "{sql}"
        );
        b.batch_execute("UPDATE duty SET on_call = false WHERE id = 3")
            .await
            .unwrap();
        a.batch_execute("UPDATE duty SET on_call = false WHERE id = 1")
            .await
            .unwrap();
        assert_eq!(sqlstate(&a, "COMMIT").await, "40001", "{sql}");
        assert_eq!(
            flat(rows(&a, "SELECT id FROM duty WHERE on_call ORDER BY id").await),
            vec!["1", "2"],
            "{sql}"
        );
    }
    // Outside a block FOR UPDATE just reads.
    assert_eq!(
        flat(rows(&a, "SELECT id FROM duty WHERE id = 1 FOR UPDATE").await),
        vec!["1"]
    );
}
