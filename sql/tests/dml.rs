//! UPDATE, DELETE, RETURNING, ON CONFLICT and the constraints every write
//! checks (NOT NULL, UNIQUE, CHECK, FOREIGN KEY), through pgwire against a
//! SQL node over the in-memory store. Expected answers are PostgreSQL 15's.

mod common;

use common::{count, error, query, sqlstate, start};

#[tokio::test]
async fn update_and_delete_change_the_rows_their_condition_selects() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, n int);
         INSERT INTO t VALUES (1,'a',10),(2,'b',20),(3,'c',30),(4,'d',40),(5,'e',50)",
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "UPDATE t SET n = n + 1 WHERE id = 2").await, 1);
    assert_eq!(
        count(&c, "UPDATE t SET n = n * 2 WHERE id BETWEEN 3 AND 4").await,
        2
    );
    assert_eq!(count(&c, "UPDATE t SET name = 'z' WHERE id = 99").await, 0);
    assert_eq!(
        query(&c, "SELECT id, name, n FROM t ORDER BY id").await,
        vec!["1|a|10", "2|b|21", "3|c|60", "4|d|80", "5|e|50"]
    );
    // Subqueries in the condition and the new values.
    assert_eq!(
        count(
            &c,
            "UPDATE t SET n = (SELECT max(n) FROM t) WHERE id = (SELECT min(id) FROM t)"
        )
        .await,
        1
    );
    assert_eq!(query(&c, "SELECT n FROM t WHERE id = 1").await, vec!["80"]);
    assert_eq!(count(&c, "DELETE FROM t WHERE id IN (1, 3)").await, 2);
    assert_eq!(count(&c, "DELETE FROM t WHERE name LIKE 'x%'").await, 0);
    assert_eq!(
        query(&c, "SELECT id FROM t ORDER BY id").await,
        vec!["2", "4", "5"]
    );
    // NOT NULL holds on update; the failed statement changes nothing.
    assert_eq!(
        sqlstate(&c, "UPDATE t SET name = NULL WHERE id = 4").await,
        "23502"
    );
    assert_eq!(sqlstate(&c, "UPDATE t SET nope = 1").await, "42703");
    assert_eq!(sqlstate(&c, "UPDATE t SET n = 'x'").await, "22P02");
    assert_eq!(
        query(&c, "SELECT name FROM t WHERE id = 4").await,
        vec!["d"]
    );
    // Updates of the key move the row.
    assert_eq!(count(&c, "UPDATE t SET id = id + 10").await, 3);
    assert_eq!(
        query(&c, "SELECT id, name FROM t ORDER BY id").await,
        vec!["12|b", "14|d", "15|e"]
    );
    assert_eq!(
        query(&c, "SELECT name FROM t WHERE id = 14").await,
        vec!["d"]
    );
    assert!(query(&c, "SELECT name FROM t WHERE id = 4")
        .await
        .is_empty());
    let (code, msg, detail) = error(&c, "UPDATE t SET id = 12 WHERE id = 15").await;
    assert_eq!(code, "23505");
    assert_eq!(
        msg,
        "duplicate key value violates unique constraint \"t_pkey\""
    );
    assert_eq!(detail.as_deref(), Some("Key (id)=(12) already exists."));
    // Two keys swapped in one statement are fine.
    assert_eq!(
        count(
            &c,
            "UPDATE t SET id = CASE id WHEN 12 THEN 14 WHEN 14 THEN 12 ELSE id END"
        )
        .await,
        3
    );
    assert_eq!(
        query(&c, "SELECT id, name FROM t ORDER BY id").await,
        vec!["12|d", "14|b", "15|e"]
    );
    assert_eq!(count(&c, "DELETE FROM t").await, 3);
    assert!(query(&c, "SELECT * FROM t").await.is_empty());
}

#[tokio::test]
async fn tables_without_a_key_are_updated_and_deleted_by_row_id() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE log (msg text, n int); INSERT INTO log VALUES ('a',1),('a',1),('b',2)",
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "UPDATE log SET n = 5 WHERE msg = 'a'").await, 2);
    assert_eq!(
        query(&c, "SELECT msg, n FROM log ORDER BY msg, n").await,
        vec!["a|5", "a|5", "b|2"]
    );
    assert_eq!(count(&c, "DELETE FROM log WHERE n = 5").await, 2);
    assert_eq!(query(&c, "SELECT msg, n FROM log").await, vec!["b|2"]);
}

#[tokio::test]
async fn returning_gives_the_rows_written() {
    let c = start().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text DEFAULT 'dflt')")
        .await
        .unwrap();
    assert_eq!(
        query(
            &c,
            "INSERT INTO t VALUES (1,'a'),(2,'b') RETURNING id, upper(v) AS up"
        )
        .await,
        vec!["1|A", "2|B"]
    );
    assert_eq!(
        query(&c, "INSERT INTO t (id) VALUES (3) RETURNING *").await,
        vec!["3|dflt"]
    );
    assert_eq!(
        query(&c, "INSERT INTO t VALUES (4, DEFAULT) RETURNING v").await,
        vec!["dflt"]
    );
    assert_eq!(
        query(
            &c,
            "UPDATE t SET v = v || '!' WHERE id <= 2 RETURNING id, v"
        )
        .await
        .len(),
        2
    );
    assert_eq!(
        query(
            &c,
            "UPDATE t AS x SET v = 'y' WHERE x.id = 1 RETURNING x.v, id * 10"
        )
        .await,
        vec!["y|10"]
    );
    assert_eq!(
        query(&c, "DELETE FROM t WHERE id = 2 RETURNING *").await,
        vec!["2|b!"]
    );
    // The command tag still counts the rows.
    let tags: Vec<u64> = c
        .simple_query("DELETE FROM t WHERE id > 2 RETURNING id")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, vec![2]);
}

#[tokio::test]
async fn update_from_and_delete_using_join_other_tables() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE acct (id int PRIMARY KEY, balance int);
         CREATE TABLE delta (acct int, amount int);
         INSERT INTO acct VALUES (1, 100), (2, 100), (3, 100);
         INSERT INTO delta VALUES (1, 5), (3, -7)",
    )
    .await
    .unwrap();
    assert_eq!(
        count(
            &c,
            "UPDATE acct SET balance = balance + d.amount FROM delta d WHERE d.acct = acct.id"
        )
        .await,
        2
    );
    assert_eq!(
        query(&c, "SELECT balance FROM acct ORDER BY id").await,
        vec!["105", "100", "93"]
    );
    assert_eq!(
        count(
            &c,
            "DELETE FROM acct a USING delta d WHERE d.acct = a.id AND d.amount < 0"
        )
        .await,
        1
    );
    assert_eq!(
        query(&c, "SELECT id FROM acct ORDER BY id").await,
        vec!["1", "2"]
    );
    assert_eq!(
        count(
            &c,
            "DELETE FROM acct WHERE id NOT IN (SELECT acct FROM delta)"
        )
        .await,
        1
    );
    assert_eq!(query(&c, "SELECT id FROM acct").await, vec!["1"]);
}

#[tokio::test]
async fn on_conflict_skips_or_updates() {
    let c = start().await;
    c.batch_execute("CREATE TABLE kv (k text PRIMARY KEY, v int, u int UNIQUE)")
        .await
        .unwrap();
    assert_eq!(
        count(&c, "INSERT INTO kv VALUES ('a', 1, 1), ('b', 2, 2)").await,
        2
    );
    assert_eq!(
        count(
            &c,
            "INSERT INTO kv VALUES ('a', 9, 9), ('c', 3, 3) ON CONFLICT DO NOTHING"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &c,
            "INSERT INTO kv VALUES ('z', 9, 1) ON CONFLICT DO NOTHING"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &c,
            "INSERT INTO kv VALUES ('d', 4, 4), ('d', 5, 5) ON CONFLICT (k) DO NOTHING"
        )
        .await,
        1
    );
    assert_eq!(
        query(&c, "INSERT INTO kv VALUES ('a', 10, 10) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v RETURNING k, v").await,
        vec!["a|11"]
    );
    assert_eq!(
        count(&c, "INSERT INTO kv VALUES ('b', 0, 20) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE kv.v > 100").await,
        0
    );
    assert_eq!(
        count(&c, "INSERT INTO kv VALUES ('q', 7, 2) ON CONFLICT ON CONSTRAINT kv_u_key DO UPDATE SET v = 70").await,
        1
    );
    assert_eq!(
        query(&c, "SELECT k, v, u FROM kv ORDER BY k").await,
        vec!["a|11|1", "b|70|2", "c|3|3", "d|4|4"]
    );
    assert_eq!(
        sqlstate(
            &c,
            "INSERT INTO kv VALUES ('a', 1, 50), ('a', 2, 51) ON CONFLICT (k) DO UPDATE SET v = 0"
        )
        .await,
        "21000"
    );
    assert_eq!(
        sqlstate(
            &c,
            "INSERT INTO kv VALUES ('a', 1, 1) ON CONFLICT DO UPDATE SET v = 0"
        )
        .await,
        "42601"
    );
    assert_eq!(
        sqlstate(
            &c,
            "INSERT INTO kv VALUES ('a', 1, 1) ON CONFLICT (v) DO NOTHING"
        )
        .await,
        "42P10"
    );
    assert_eq!(
        sqlstate(
            &c,
            "INSERT INTO kv VALUES ('a', 1, 1) ON CONFLICT (k) DO UPDATE SET v = v + 1"
        )
        .await,
        "42702"
    );
    // A conflict on a key that is not the arbiter still fails.
    assert_eq!(
        sqlstate(
            &c,
            "INSERT INTO kv VALUES ('new', 1, 1) ON CONFLICT (k) DO NOTHING"
        )
        .await,
        "23505"
    );
}

#[tokio::test]
async fn unique_constraints_are_enforced_by_a_unique_index() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, a int, b int, CONSTRAINT ab UNIQUE (a, b))",
    )
    .await
    .unwrap();
    c.batch_execute("INSERT INTO u VALUES (1, 'x@y', 1, 1), (2, NULL, 1, 2), (3, NULL, NULL, NULL), (4, NULL, NULL, NULL)")
        .await
        .unwrap();
    let (code, msg, detail) = error(&c, "INSERT INTO u VALUES (5, 'x@y', 5, 5)").await;
    assert_eq!(code, "23505");
    assert_eq!(
        msg,
        "duplicate key value violates unique constraint \"u_email_key\""
    );
    assert_eq!(detail.as_deref(), Some("Key (email)=(x@y) already exists."));
    let (code, msg, _) = error(&c, "UPDATE u SET b = 1 WHERE id = 2").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "23505",
            "duplicate key value violates unique constraint \"ab\""
        )
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO u VALUES (6, 'q', 7, 7), (7, 'q', 8, 8)").await,
        "23505"
    );
    // The value is free again once its row changes or goes.
    assert_eq!(
        count(&c, "UPDATE u SET email = 'new@y' WHERE id = 1").await,
        1
    );
    assert_eq!(count(&c, "INSERT INTO u VALUES (8, 'x@y', 9, 9)").await, 1);
    assert_eq!(count(&c, "DELETE FROM u WHERE id = 8").await, 1);
    assert_eq!(count(&c, "INSERT INTO u VALUES (9, 'x@y', 9, 9)").await, 1);
    assert_eq!(query(&c, "SELECT count(*) FROM u").await, vec!["5"]);
    // In a block, the uniqueness check sees the block's own writes.
    c.batch_execute(
        "BEGIN; DELETE FROM u WHERE id = 9; INSERT INTO u VALUES (10, 'x@y', 9, 9); COMMIT",
    )
    .await
    .unwrap();
    assert_eq!(
        query(&c, "SELECT id FROM u WHERE email = 'x@y'").await,
        vec!["10"]
    );
}

#[tokio::test]
async fn check_constraints_refuse_rows_that_fail_them() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, price numeric CHECK (price > 0), lo int, hi int, CHECK (lo <= hi))",
    )
    .await
    .unwrap();
    c.batch_execute("INSERT INTO p VALUES (1, 10, 1, 2), (2, NULL, NULL, 5)")
        .await
        .unwrap();
    let (code, msg, detail) = error(&c, "INSERT INTO p VALUES (3, -1, 1, 2)").await;
    assert_eq!(code, "23514");
    assert_eq!(
        msg,
        "new row for relation \"p\" violates check constraint \"p_price_check\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Failing row contains (3, -1, 1, 2).")
    );
    let (_, msg, _) = error(&c, "UPDATE p SET lo = 3 WHERE id = 1").await;
    assert_eq!(
        msg,
        "new row for relation \"p\" violates check constraint \"p_check\""
    );
    assert_eq!(query(&c, "SELECT lo FROM p WHERE id = 1").await, vec!["1"]);
    assert_eq!(
        sqlstate(&c, "CREATE TABLE bad (a int CHECK (a + 1))").await,
        "42804"
    );
    assert_eq!(
        sqlstate(&c, "CREATE TABLE bad (a int CHECK (b > 0))").await,
        "42703"
    );
}

#[tokio::test]
async fn foreign_keys_are_enforced_with_their_actions() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE);
         CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent ON DELETE CASCADE ON UPDATE CASCADE);
         CREATE TABLE other (id int PRIMARY KEY, pcode text REFERENCES parent (code) ON DELETE SET NULL);
         CREATE TABLE strict (id int PRIMARY KEY, pid int, FOREIGN KEY (pid) REFERENCES parent (id));
         INSERT INTO parent VALUES (1, 'one'), (2, 'two'), (3, 'three');
         INSERT INTO child VALUES (10, 1), (11, 1), (12, 2), (13, NULL);
         INSERT INTO other VALUES (20, 'one'), (21, 'two');
         INSERT INTO strict VALUES (30, 3)",
    )
    .await
    .unwrap();
    let (code, msg, detail) = error(&c, "INSERT INTO child VALUES (14, 99)").await;
    assert_eq!(code, "23503");
    assert_eq!(
        msg,
        "insert or update on table \"child\" violates foreign key constraint \"child_pid_fkey\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Key (pid)=(99) is not present in table \"parent\".")
    );
    assert_eq!(
        sqlstate(&c, "UPDATE other SET pcode = 'nine' WHERE id = 20").await,
        "23503"
    );
    // RESTRICT / NO ACTION.
    let (code, msg, detail) = error(&c, "DELETE FROM parent WHERE id = 3").await;
    assert_eq!(code, "23503");
    assert_eq!(
        msg,
        "update or delete on table \"parent\" violates foreign key constraint \"strict_pid_fkey\" on table \"strict\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Key (id)=(3) is still referenced from table \"strict\".")
    );
    // CASCADE and SET NULL.
    assert_eq!(count(&c, "DELETE FROM parent WHERE id = 1").await, 1);
    assert_eq!(
        query(&c, "SELECT id, pid FROM child ORDER BY id").await,
        vec!["12|2", "13|NULL"]
    );
    assert_eq!(
        query(&c, "SELECT id, pcode FROM other ORDER BY id").await,
        vec!["20|NULL", "21|two"]
    );
    assert_eq!(count(&c, "UPDATE parent SET id = 22 WHERE id = 2").await, 1);
    assert_eq!(
        query(&c, "SELECT id, pid FROM child ORDER BY id").await,
        vec!["12|22", "13|NULL"]
    );
    // Dropping a referenced table needs CASCADE, which drops the constraint.
    assert_eq!(sqlstate(&c, "DROP TABLE parent").await, "2BP01");
    c.batch_execute("DROP TABLE parent CASCADE").await.unwrap();
    assert_eq!(count(&c, "INSERT INTO child VALUES (15, 12345)").await, 1);
    // Bad declarations.
    assert_eq!(
        sqlstate(&c, "CREATE TABLE x (a int REFERENCES nowhere)").await,
        "42P01"
    );
    c.batch_execute("CREATE TABLE nk (a int, b int)")
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&c, "CREATE TABLE x (a int REFERENCES nk (b))").await,
        "42830"
    );
    assert_eq!(
        sqlstate(&c, "CREATE TABLE x (a text REFERENCES child)").await,
        "42804"
    );
}

#[tokio::test]
async fn self_references_cascade_through_a_tree() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree (id) ON DELETE CASCADE);
         INSERT INTO tree VALUES (1, NULL);
         INSERT INTO tree VALUES (2, 1), (3, 1);
         INSERT INTO tree VALUES (4, 2), (5, 4)",
    )
    .await
    .unwrap();
    assert_eq!(count(&c, "DELETE FROM tree WHERE id = 2").await, 1);
    assert_eq!(
        query(&c, "SELECT id FROM tree ORDER BY id").await,
        vec!["1", "3"]
    );
    assert_eq!(count(&c, "DELETE FROM tree").await, 2);
}

#[tokio::test]
async fn a_failed_write_in_a_block_changes_nothing_after_rollback() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v int CHECK (v < 100)); INSERT INTO t VALUES (1, 1)",
    )
    .await
    .unwrap();
    c.batch_execute("BEGIN; UPDATE t SET v = 50").await.unwrap();
    assert_eq!(sqlstate(&c, "UPDATE t SET v = 500").await, "23514");
    assert_eq!(sqlstate(&c, "SELECT 1").await, "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(query(&c, "SELECT v FROM t").await, vec!["1"]);
    c.batch_execute("BEGIN; UPDATE t SET v = 50; SAVEPOINT s")
        .await
        .unwrap();
    assert_eq!(sqlstate(&c, "UPDATE t SET v = 500").await, "23514");
    c.batch_execute("ROLLBACK TO SAVEPOINT s; UPDATE t SET v = v + 1; COMMIT")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT v FROM t").await, vec!["51"]);
}

/// UPDATE and DELETE of one row by its whole primary key run without a
/// query plan (a key lookup, the new values computed over the row), with
/// the same answers as planned statements: PostgreSQL's types and
/// overflow errors, every constraint, index maintenance, a subquery in
/// SET (planned after all), prepared statements.
#[tokio::test]
async fn point_updates_and_deletes_keep_every_rule() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, k int NOT NULL DEFAULT 7, c text, n numeric(6,2),
                         CHECK (k < 1000));
         CREATE UNIQUE INDEX p_c ON p (c);
         CREATE INDEX p_k ON p (k);
         CREATE TABLE ch (id int PRIMARY KEY, p int REFERENCES p (id));
         CREATE TABLE two (a int, b text, v int, PRIMARY KEY (a, b));
         INSERT INTO p VALUES (1, 10, 'one', 1.5), (2, 20, 'two', NULL), (3, 2147483647 % 1000, 'three', 3);
         INSERT INTO ch VALUES (1, 2);
         INSERT INTO two VALUES (1, 'x', 1), (1, 'y', 2)",
    )
    .await
    .unwrap();
    assert_eq!(
        count(&c, "UPDATE p SET k = k + 1, c = c || '!' WHERE id = 1").await,
        1
    );
    assert_eq!(count(&c, "UPDATE p SET k = 5 WHERE id = 99").await, 0);
    assert_eq!(count(&c, "UPDATE p SET k = 5 WHERE id = NULL").await, 0);
    assert_eq!(
        count(&c, "UPDATE p SET n = n / 3, k = DEFAULT WHERE p.id = 1").await,
        1
    );
    assert_eq!(
        query(&c, "SELECT id, k, c, n FROM p ORDER BY id").await,
        vec!["1|7|one!|0.50", "2|20|two|NULL", "3|647|three|3.00"]
    );
    // The index on k was maintained: the old value is gone, the new there.
    assert_eq!(
        query(&c, "SELECT id FROM p WHERE k = 11").await,
        Vec::<String>::new()
    );
    assert_eq!(query(&c, "SELECT id FROM p WHERE k = 7").await, vec!["1"]);
    // Errors as PostgreSQL raises them, and the row is left as it was.
    assert_eq!(
        sqlstate(&c, "UPDATE p SET k = 2147483647 + k WHERE id = 2").await,
        "22003"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET k = k / 0 WHERE id = 2").await,
        "22012"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET k = 5000 WHERE id = 2").await,
        "23514"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET c = 'three' WHERE id = 2").await,
        "23505"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET k = NULL WHERE id = 2").await,
        "23502"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET n = 12345.678 WHERE id = 2").await,
        "22003"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET nosuch = 1 WHERE id = 2").await,
        "42703"
    );
    assert_eq!(
        sqlstate(&c, "UPDATE p SET k = nosuch + 1 WHERE id = 2").await,
        "42703"
    );
    assert_eq!(sqlstate(&c, "DELETE FROM p WHERE id = 2").await, "23503");
    assert_eq!(
        query(&c, "SELECT k, c FROM p WHERE id = 2").await,
        vec!["20|two"]
    );
    // A subquery in SET, the key changed, a two-column key.
    assert_eq!(
        count(
            &c,
            "UPDATE p SET k = (SELECT max(k) FROM p) - 1 WHERE id = 2"
        )
        .await,
        1
    );
    assert_eq!(count(&c, "UPDATE p SET id = 30 WHERE id = 3").await, 1);
    assert_eq!(
        count(&c, "UPDATE two SET v = v * 10 WHERE a = 1 AND b = 'y'").await,
        1
    );
    assert_eq!(
        count(&c, "DELETE FROM two WHERE b = 'x' AND a = 1").await,
        1
    );
    assert_eq!(query(&c, "SELECT a, b, v FROM two").await, vec!["1|y|20"]);
    assert_eq!(
        query(&c, "SELECT id, k FROM p ORDER BY id").await,
        vec!["1|7", "2|646", "30|647"]
    );
    // Prepared, with parameters.
    let upd = c
        .prepare("UPDATE p SET k = k + $1 WHERE id = $2")
        .await
        .unwrap();
    assert_eq!(c.execute(&upd, &[&3i32, &1i32]).await.unwrap(), 1);
    assert_eq!(c.execute(&upd, &[&3i32, &2i32]).await.unwrap(), 1);
    let del = c.prepare("DELETE FROM p WHERE id = $1").await.unwrap();
    assert_eq!(c.execute(&del, &[&30i32]).await.unwrap(), 1);
    assert_eq!(c.execute(&del, &[&30i32]).await.unwrap(), 0);
    assert_eq!(
        query(&c, "SELECT id, k FROM p ORDER BY id").await,
        vec!["1|10", "2|649"]
    );
    // In a block: its own writes are seen, a rollback undoes them.
    c.batch_execute(
        "BEGIN; UPDATE p SET k = k + 100 WHERE id = 1; UPDATE p SET k = k + 100 WHERE id = 1;
         DELETE FROM p WHERE id = 1; ROLLBACK",
    )
    .await
    .unwrap();
    assert_eq!(query(&c, "SELECT k FROM p WHERE id = 1").await, vec!["10"]);
    c.batch_execute("BEGIN; UPDATE p SET k = k + 100 WHERE id = 1; UPDATE p SET k = k + 100 WHERE id = 1; COMMIT")
        .await
        .unwrap();
    assert_eq!(query(&c, "SELECT k FROM p WHERE id = 1").await, vec!["210"]);
}

/// INSERT … VALUES of literals writes its rows without a query plan, each
/// item taken as PostgreSQL takes it: numbers as integer, bigint or
/// numeric, then assigned (rounded, range-checked); strings read by the
/// column type's input function; DEFAULT; bound parameters.
#[tokio::test]
async fn literal_inserts_take_their_column_types() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE li (i int, b bigint, f float8, n numeric(5,2), d date, ok bool,
                          v varchar(3), by bytea, j text DEFAULT 'dflt')",
    )
    .await
    .unwrap();
    assert_eq!(
        count(
            &c,
            "INSERT INTO li VALUES (1.5, -9000000000, 1, 2.345, '2024-02-29', 'yes', 'abc', '\\x0102', DEFAULT),
                                   (-2, 7, -0.5, -1, NULL, false, '', NULL, 'x')"
        )
        .await,
        2
    );
    assert_eq!(
        count(&c, "INSERT INTO li (f, n) VALUES (1e3, '7.125')").await,
        1
    );
    assert_eq!(count(&c, "INSERT INTO li (i) VALUES (3)").await, 1);
    let ins = c
        .prepare("INSERT INTO li (i, v, j) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    assert_eq!(
        c.execute(&ins, &[&4i32, &"xy", &None::<String>])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        query(
            &c,
            "SELECT i, b, f, n, d, ok, v, by, j FROM li ORDER BY i NULLS LAST"
        )
        .await,
        vec![
            "-2|7|-0.5|-1.00|NULL|f||NULL|x",
            "2|-9000000000|1|2.35|2024-02-29|t|abc|\\x0102|dflt",
            "3|NULL|NULL|NULL|NULL|NULL|NULL|NULL|dflt",
            "4|NULL|NULL|NULL|NULL|NULL|xy|NULL|NULL",
            "NULL|NULL|1000|7.13|NULL|NULL|NULL|NULL|dflt",
        ]
    );
    // PostgreSQL's errors, and nothing written.
    for (sql, state) in [
        ("INSERT INTO li (i) VALUES ('1.5')", "22P02"),
        ("INSERT INTO li (i) VALUES (9999999999)", "22003"),
        ("INSERT INTO li (n) VALUES (1000)", "22003"),
        ("INSERT INTO li (v) VALUES ('abcd')", "22001"),
        ("INSERT INTO li (d) VALUES ('2023-02-29')", "22008"),
        ("INSERT INTO li (ok) VALUES ('maybe')", "22P02"),
        ("INSERT INTO li (i) VALUES (1, 2)", "42601"),
        ("INSERT INTO li (i, b) VALUES (1)", "42601"),
    ] {
        assert_eq!(sqlstate(&c, sql).await, state, "{sql}");
    }
    assert_eq!(query(&c, "SELECT count(*) FROM li").await, vec!["5"]);
}
