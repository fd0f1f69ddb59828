//! ALTER TABLE, TRUNCATE, views and schemas through pgwire against a SQL
//! node over the in-memory store. Expected answers are PostgreSQL 15's.

mod common;

use common::{count, error, query, sqlstate, start};

#[tokio::test]
async fn columns_are_added_dropped_and_renamed_without_rewriting_rows() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, a text); INSERT INTO t VALUES (1, 'x'), (2, 'y')",
    )
    .await
    .unwrap();
    c.batch_execute("ALTER TABLE t ADD COLUMN b int")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 7")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ADD d text DEFAULT 'dd'")
        .await
        .unwrap();
    assert_eq!(
        query(&c, "SELECT * FROM t ORDER BY id").await,
        vec!["1|x|NULL|7|dd", "2|y|NULL|7|dd"]
    );
    // New rows: explicit NULLs stay NULL, defaults apply.
    c.batch_execute("INSERT INTO t (id, a, d) VALUES (3, 'z', NULL)")
        .await
        .unwrap();
    assert_eq!(
        query(&c, "SELECT c, d FROM t WHERE id = 3").await,
        vec!["7|NULL"]
    );
    assert_eq!(count(&c, "UPDATE t SET d = NULL WHERE id = 1").await, 1);
    assert_eq!(
        query(&c, "SELECT d FROM t ORDER BY id").await,
        vec!["NULL", "dd", "NULL"]
    );
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t ADD COLUMN a int").await,
        "42701"
    );
    c.batch_execute("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int")
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t ADD COLUMN e int NOT NULL").await,
        "23502"
    );
    c.batch_execute("ALTER TABLE t DROP COLUMN b")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t RENAME COLUMN a TO name")
        .await
        .unwrap();
    assert_eq!(
        query(&c, "SELECT id, name, c FROM t ORDER BY id").await,
        vec!["1|x|7", "2|y|7", "3|z|7"]
    );
    assert_eq!(sqlstate(&c, "SELECT b FROM t").await, "42703");
    // A column added again under an old name starts empty.
    c.batch_execute("ALTER TABLE t ADD COLUMN b int")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT count(b) FROM t").await, vec!["0"]);
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t DROP COLUMN nope").await,
        "42703"
    );
    c.batch_execute("ALTER TABLE t DROP COLUMN IF EXISTS nope")
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, "ALTER TABLE t DROP COLUMN id").await, "0A000");
    assert_eq!(
        sqlstate(&c, "ALTER TABLE nope ADD COLUMN x int").await,
        "42P01"
    );
    c.batch_execute("ALTER TABLE IF EXISTS nope ADD COLUMN x int")
        .await
        .unwrap();
}

#[tokio::test]
async fn defaults_and_not_null_are_altered() {
    let c = start().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, NULL)")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ALTER COLUMN v SET DEFAULT 5")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO t (id) VALUES (2)")
        .await
        .unwrap();
    assert_eq!(
        query(&c, "SELECT v FROM t ORDER BY id").await,
        vec!["NULL", "5"]
    );
    let (code, msg, _) = error(&c, "ALTER TABLE t ALTER COLUMN v SET NOT NULL").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "23502",
            "column \"v\" of relation \"t\" contains null values"
        )
    );
    c.batch_execute(
        "UPDATE t SET v = 0 WHERE v IS NULL; ALTER TABLE t ALTER COLUMN v SET NOT NULL",
    )
    .await
    .unwrap();
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3, NULL)").await,
        "23502"
    );
    c.batch_execute(
        "ALTER TABLE t ALTER COLUMN v DROP NOT NULL; ALTER TABLE t ALTER COLUMN v DROP DEFAULT",
    )
    .await
    .unwrap();
    c.batch_execute("INSERT INTO t (id) VALUES (3)")
        .await
        .unwrap();
    assert_eq!(
        query(&c, "SELECT v FROM t WHERE id = 3").await,
        vec!["NULL"]
    );
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t ALTER COLUMN id DROP NOT NULL").await,
        "42P16"
    );
}

#[tokio::test]
async fn constraints_are_added_checked_against_existing_rows_and_dropped() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE t (id int PRIMARY KEY, v int, pid int);
         INSERT INTO p VALUES (1);
         INSERT INTO t VALUES (1, 10, 1), (2, 10, 2)",
    )
    .await
    .unwrap();
    let (code, msg, detail) = error(&c, "ALTER TABLE t ADD CONSTRAINT v_u UNIQUE (v)").await;
    assert_eq!(code, "23505");
    assert_eq!(msg, "could not create unique index \"v_u\"");
    assert_eq!(detail.as_deref(), Some("Key (v)=(10) is duplicated."));
    let (code, msg, _) = error(&c, "ALTER TABLE t ADD CHECK (v > 10)").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "23514",
            "check constraint \"t_v_check\" of relation \"t\" is violated by some row"
        )
    );
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t ADD FOREIGN KEY (pid) REFERENCES p").await,
        "23503"
    );
    c.batch_execute("UPDATE t SET v = 20, pid = 1 WHERE id = 2")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ADD CONSTRAINT v_u UNIQUE (v)")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ADD CHECK (v >= 10)")
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE t ADD FOREIGN KEY (pid) REFERENCES p")
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3, 20, 1)").await,
        "23505"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3, 5, 1)").await,
        "23514"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (3, 30, 9)").await,
        "23503"
    );
    c.batch_execute(
        "ALTER TABLE t DROP CONSTRAINT v_u; ALTER TABLE t DROP CONSTRAINT t_v_check; ALTER TABLE t DROP CONSTRAINT t_pid_fkey",
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "INSERT INTO t VALUES (3, 5, 9)").await, 1);
    assert_eq!(
        sqlstate(&c, "ALTER TABLE t DROP CONSTRAINT v_u").await,
        "42704"
    );
    c.batch_execute("ALTER TABLE t DROP CONSTRAINT IF EXISTS v_u")
        .await
        .unwrap();
    // A check naming a renamed column follows it.
    c.batch_execute(
        "ALTER TABLE t ADD CONSTRAINT small CHECK (v < 1000); ALTER TABLE t RENAME COLUMN v TO w",
    )
    .await
    .unwrap();
    assert_eq!(
        sqlstate(&c, "INSERT INTO t VALUES (4, 5000, 1)").await,
        "23514"
    );
    // Dropping the column drops the check.
    c.batch_execute("ALTER TABLE t DROP COLUMN w")
        .await
        .unwrap();
    assert_eq!(count(&c, "INSERT INTO t VALUES (4, 1)").await, 1);
}

#[tokio::test]
async fn tables_are_renamed_and_truncated() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY, u int UNIQUE); INSERT INTO a VALUES (1, 1), (2, 2);
         CREATE TABLE b (id int PRIMARY KEY, aid int REFERENCES a); INSERT INTO b VALUES (1, 1)",
    )
    .await
    .unwrap();
    c.batch_execute("ALTER TABLE a RENAME TO aa").await.unwrap();
    assert_eq!(sqlstate(&c, "SELECT * FROM a").await, "42P01");
    assert_eq!(query(&c, "SELECT count(*) FROM aa").await, vec!["2"]);
    assert_eq!(sqlstate(&c, "ALTER TABLE aa RENAME TO b").await, "42P07");
    assert_eq!(sqlstate(&c, "TRUNCATE aa").await, "0A000");
    c.batch_execute("TRUNCATE b").await.unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM b").await, vec!["0"]);
    c.batch_execute("INSERT INTO b VALUES (1, 1); TRUNCATE aa CASCADE")
        .await
        .unwrap();
    assert_eq!(
        query(
            &c,
            "SELECT (SELECT count(*) FROM aa), (SELECT count(*) FROM b)"
        )
        .await,
        vec!["0|0"]
    );
    // Unique index entries went too.
    assert_eq!(count(&c, "INSERT INTO aa VALUES (5, 1)").await, 1);
    // TRUNCATE rolls back with its block.
    c.batch_execute("BEGIN; TRUNCATE aa, b; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM aa").await, vec!["1"]);
}

#[tokio::test]
async fn views_stand_for_their_queries() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);
         CREATE VIEW big AS SELECT id, v * 2 AS dbl FROM t WHERE v > 10;
         CREATE VIEW big_ids (n) AS SELECT id FROM big",
    )
    .await
    .unwrap();
    assert_eq!(
        query(&c, "SELECT * FROM big ORDER BY id").await,
        vec!["2|40", "3|60"]
    );
    assert_eq!(
        query(&c, "SELECT n FROM big_ids ORDER BY n").await,
        vec!["2", "3"]
    );
    assert_eq!(
        query(
            &c,
            "SELECT b.dbl FROM big b JOIN t ON t.id = b.id WHERE t.v = 30"
        )
        .await,
        vec!["60"]
    );
    // Views see later changes of their tables.
    c.batch_execute("INSERT INTO t VALUES (4, 40)")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM big").await, vec!["3"]);
    assert_eq!(sqlstate(&c, "CREATE VIEW big AS SELECT 1").await, "42P07");
    c.batch_execute("CREATE OR REPLACE VIEW big AS SELECT id, v AS dbl FROM t")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM big").await, vec!["4"]);
    // A CTE of the same name hides the view.
    assert_eq!(
        query(&c, "WITH big AS (SELECT 1 AS x) SELECT * FROM big").await,
        vec!["1"]
    );
    assert_eq!(sqlstate(&c, "DROP TABLE big").await, "42809");
    c.batch_execute("DROP VIEW big_ids; DROP VIEW big")
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, "SELECT * FROM big").await, "42P01");
    assert_eq!(
        sqlstate(&c, "CREATE VIEW bad AS SELECT nope FROM t").await,
        "42703"
    );
}

#[tokio::test]
async fn schemas_hold_their_own_tables() {
    let c = start().await;
    c.batch_execute(
        "CREATE SCHEMA app;
         CREATE TABLE app.t (id int PRIMARY KEY);
         CREATE TABLE t (id int PRIMARY KEY);
         INSERT INTO app.t VALUES (1), (2); INSERT INTO t VALUES (3)",
    )
    .await
    .unwrap();
    assert_eq!(query(&c, "SELECT count(*) FROM app.t").await, vec!["2"]);
    assert_eq!(query(&c, "SELECT id FROM public.t").await, vec!["3"]);
    assert_eq!(sqlstate(&c, "CREATE SCHEMA app").await, "42P06");
    c.batch_execute("CREATE SCHEMA IF NOT EXISTS app")
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, "CREATE TABLE nope.t (id int)").await, "3F000");
}

#[tokio::test]
async fn a_dropped_tables_rows_are_removed_once_the_drop_commits() {
    let kv: client::SharedKv = std::sync::Arc::new(kv::local::LocalTxnKv::new());
    let c = common::connect(kv.clone()).await;
    c.batch_execute(
        "CREATE TABLE keep (id int PRIMARY KEY); INSERT INTO keep VALUES (1);
         CREATE TABLE gone (id int PRIMARY KEY, u int UNIQUE);
         INSERT INTO gone SELECT g, g FROM generate_series(1, 2500) g",
    )
    .await
    .unwrap();
    let table_keys = || async {
        let ts = kv.begin().await.unwrap();
        kv.scan(ts.ts, b"t", b"u", 0, 0).await.unwrap().pairs.len()
    };
    assert_eq!(table_keys().await, 1 + 2 * 2500);
    // A drop rolled back leaves the rows.
    c.batch_execute("BEGIN; DROP TABLE gone; ROLLBACK")
        .await
        .unwrap();
    c.batch_execute("DROP TABLE keep2").await.unwrap_err();
    assert_eq!(query(&c, "SELECT count(*) FROM gone").await, vec!["2500"]);
    c.batch_execute("DROP TABLE gone").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while table_keys().await != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} keys left",
            table_keys().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(query(&c, "SELECT id FROM keep").await, vec!["1"]);
}
