//! Secondary indexes over the in-memory store: built and dropped online
//! while other SQL nodes write the table, and afterwards holding exactly the
//! table's rows (checked entry by entry).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client::TxnReader;
use common::{connect, numbers, query, sqlstate};
use strata_sql::codec::key::{index_prefix, prefix_end};
use strata_sql::exec::index::{verify, IndexCheck};
use tokio_postgres::Client;

/// Rows the table starts with.
const ROWS: u64 = 3000;

/// Inserts, updates of indexed columns and deletes until `stop`; returns
/// how many statements succeeded. Conflicts (40001) are expected and
/// skipped; any other error fails the test.
async fn writer(c: Client, worker: u64, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut seed = worker * 7919 + 1;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = next() % ROWS + 1;
        let sql = match next() % 4 {
            0 => format!(
                "INSERT INTO t VALUES ({}, {}, 'w{worker}-{n}')",
                1_000_000 * (worker + 1) + n,
                next() % 50
            ),
            1 => format!("UPDATE t SET a = a + 1, b = b || '+' WHERE id = {id}"),
            2 => format!("DELETE FROM t WHERE id = {id}"),
            _ => format!("UPDATE t SET a = NULL WHERE id = {id}"),
        };
        match c.simple_query(&sql).await {
            Ok(_) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.code().map(|s| s.code()) == Some("40001") => {}
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

fn clean(check: &IndexCheck) -> bool {
    check.missing == 0 && check.extra == 0 && check.entries == check.rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_build_and_drop_online_while_other_nodes_write() {
    let kv = common::local_store();
    let a = connect(kv.clone()).await;
    a.simple_query(&format!(
        "CREATE TABLE t (id bigint PRIMARY KEY, a int, b text);
         INSERT INTO t SELECT g, g % 50, 'b' || g FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        // Each writer on a SQL node of its own, beside the one running
        // the DDL: they learn of each step through their schema leases.
        let c = connect(kv.clone()).await;
        writers.push(tokio::spawn(writer(c, w, stop.clone(), done.clone())));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = done.load(Ordering::Relaxed);
    a.simple_query("CREATE INDEX t_a ON t (a)").await.unwrap();
    a.simple_query("CREATE UNIQUE INDEX t_b ON t (b DESC)")
        .await
        .unwrap();
    // A unique constraint takes the same online path, and so do
    // expression and partial indexes.
    a.simple_query("ALTER TABLE t ADD CONSTRAINT t_ab UNIQUE (a, b)")
        .await
        .unwrap();
    a.simple_query("CREATE INDEX t_upper ON t (upper(b), a)")
        .await
        .unwrap();
    a.simple_query("CREATE INDEX t_part ON t (b) WHERE a < 10")
        .await
        .unwrap();
    let during = done.load(Ordering::Relaxed) - before;
    // With the indexes public, the writers keep maintaining them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reader = TxnReader::snapshot(kv.clone()).await.unwrap();
    let catalog = strata_sql::catalog::store::load(&reader).await.unwrap();
    let desc = catalog.find("public", "t").unwrap().clone();
    let t_a = desc.indexes.iter().find(|i| i.name == "t_a").unwrap().id;
    a.simple_query("DROP INDEX t_a").await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        during > 0,
        "no write went through while the indexes were built"
    );

    for index in ["t_b", "t_ab", "t_upper"] {
        let check = verify(&kv, "public", "t", index).await.unwrap();
        assert!(clean(&check), "{index}: {check:?}");
    }
    // The partial index holds exactly the rows its predicate keeps.
    let check = verify(&kv, "public", "t", "t_part").await.unwrap();
    assert!(check.missing == 0 && check.extra == 0, "{check:?}");
    let kept = query(&a, "SELECT count(*) FROM t WHERE a < 10").await;
    assert_eq!(kept, vec![check.entries.to_string()]);
    assert!(check.entries < check.rows, "{check:?}");
    let check = verify(&kv, "public", "t", "t_b").await.unwrap();
    assert!(check.rows > ROWS / 2, "{check:?}");
    // The dropped index is gone, entries too.
    assert_eq!(sqlstate(&a, "DROP INDEX t_a").await, "42704");
    let start = index_prefix(desc.id, t_a);
    let reader = TxnReader::snapshot(kv.clone()).await.unwrap();
    let left = reader
        .scan(&start, &prefix_end(&start), 10, 1 << 20)
        .await
        .unwrap();
    assert!(left.pairs.is_empty(), "entries of a dropped index remain");
    // The unique index refuses a duplicate from either node.
    let taken = query(&a, "SELECT b FROM t ORDER BY id LIMIT 1")
        .await
        .remove(0);
    let b = connect(kv.clone()).await;
    assert_eq!(
        sqlstate(&b, &format!("INSERT INTO t VALUES (-1, 0, '{taken}')")).await,
        "23505"
    );
    assert!(query(&b, "SELECT id FROM t WHERE id = -1").await.is_empty());
}

#[tokio::test]
async fn a_failed_unique_build_leaves_no_index() {
    let kv = common::local_store();
    let c = connect(kv.clone()).await;
    c.simple_query(
        "CREATE TABLE d (id int PRIMARY KEY, v int);
         INSERT INTO d SELECT g, g % 1500 FROM generate_series(1, 3000) g",
    )
    .await
    .unwrap();
    // The duplicate (v = 0: ids 1500 and 3000) is met in the second chunk.
    let (state, message, detail) = common::error(&c, "CREATE UNIQUE INDEX d_v ON d (v)").await;
    assert_eq!(state, "23505");
    assert_eq!(message, "could not create unique index \"d_v\"");
    assert!(detail.unwrap_or_default().contains("is duplicated"));
    // No index is left behind: the name is free, writes need no entry.
    c.simple_query("INSERT INTO d VALUES (5000, 1)")
        .await
        .unwrap();
    c.simple_query("CREATE INDEX d_v ON d (v)").await.unwrap();
    let check = verify(&kv, "public", "d", "d_v").await.unwrap();
    assert!(clean(&check), "{check:?}");
    assert_eq!(check.rows, 3001);
}

/// Tables `dx` (indexed), `dp` (the same rows, no index) and `ds` (the
/// same rows, a SERIAL key spreading them over buckets, two indexes) for
/// the differential tests.
async fn twin_tables(c: &Client) {
    let setup = "(id {key} PRIMARY KEY, a int, b text, n int);
         INSERT INTO {t} SELECT g, g % 13, 'k' || (g % 17), CASE WHEN g % 4 = 0 THEN NULL ELSE g % 29 END
         FROM generate_series(1, 600) g";
    for (t, key) in [("dx", "int"), ("dp", "int"), ("ds", "serial")] {
        let sql = setup.replace("{t}", t).replace("{key}", key);
        c.simple_query(&format!("CREATE TABLE {t} {sql}"))
            .await
            .unwrap();
    }
    c.simple_query(
        "CREATE INDEX ds_a ON ds (a);
         CREATE INDEX ds_b_n ON ds (b, n DESC) INCLUDE (a)",
    )
    .await
    .unwrap();
    c.simple_query(
        "CREATE INDEX dx_a ON dx (a);
         CREATE INDEX dx_b_n ON dx (b, n DESC) INCLUDE (a);
         CREATE UNIQUE INDEX dx_n_id ON dx (n, id);
         CREATE INDEX dx_upper ON dx (upper(b));
         CREATE INDEX dx_part ON dx (a, n) WHERE id > 300;
         CREATE INDEX dx_n_first ON dx (n NULLS FIRST, a DESC NULLS LAST);
         ANALYZE dx",
    )
    .await
    .unwrap();
}

/// A random predicate over `dx`'s columns: equalities, IN lists with
/// NULL, ranges, ORs of ranges, LIKE prefixes, IS NULL, AND and OR.
fn random_predicate(next: &mut impl FnMut(u64) -> u64) -> String {
    let mut atom = || -> String {
        let col = ["a", "n", "id"][next(3) as usize];
        let v = next(30) as i64 - 2;
        match next(16) {
            11 => format!("{col} BETWEEN {v} AND {} OR {col} > {}", v + 2, v + 20),
            12 => format!(
                "{col} < {v} OR {col} = {} OR {col} BETWEEN {v} AND {}",
                v + 5,
                v + 1
            ),
            0 => format!("{col} = {v}"),
            1 => format!("{col} IN ({v}, {}, NULL)", v + 3),
            2 => format!("{col} < {v}"),
            3 => format!("{col} >= {v}"),
            4 => format!("{col} BETWEEN {v} AND {}", v + 4),
            5 => format!("b = 'k{}'", next(19)),
            6 => format!("b = 'k{}' AND n > {v}", next(19)),
            7 => format!("{col} IS NULL"),
            8 => format!("b LIKE 'k{}%'", next(3)),
            9 => format!("b LIKE 'k1%' AND b >= 'k{}'", next(19)),
            10 => format!("n IS NULL AND b = 'k{}'", next(19)),
            13 => format!("upper(b) = 'K{}' AND id > 300 AND a = {v}", next(19)),
            14 => format!("id > 300 AND a = {v} AND n > {}", next(30)),
            _ => format!("b = 'k{}' AND (n < {v} OR n >= {})", next(19), v + 9),
        }
    };
    let (first, second) = (atom(), atom());
    match first.len() % 3 {
        0 => first,
        1 => format!("{first} AND {second}"),
        _ => format!("{first} OR {second}"),
    }
}

/// Random predicates over indexed columns give the same rows through the
/// indexes as over a copy of the table without any.
#[tokio::test]
async fn index_scans_agree_with_full_scans() {
    let c = common::start().await;
    twin_tables(&c).await;
    let mut next = numbers(42);
    let (mut through_index, mut bucketed) = (0, 0);
    for _ in 0..150 {
        let pred = random_predicate(&mut next);
        let q = |t: &str| format!("SELECT id, a, b, n FROM {t} WHERE {pred} ORDER BY id");
        let plan = query(&c, &format!("EXPLAIN {}", q("dx"))).await.join("\n");
        through_index += plan.contains("index=") as u32;
        let expected = query(&c, &q("dp")).await;
        assert_eq!(query(&c, &q("dx")).await, expected, "{pred}\n{plan}");
        let plan = query(&c, &format!("EXPLAIN {}", q("ds"))).await.join("\n");
        bucketed += plan.contains("buckets=8") as u32;
        assert_eq!(query(&c, &q("ds")).await, expected, "{pred}\n{plan}");
    }
    assert!(
        through_index > 40,
        "only {through_index} queries used an index"
    );
    assert!(bucketed > 40, "only {bucketed} queries read buckets");
}

/// `ORDER BY … LIMIT` read in index or key order (either direction),
/// index-only reads and filters applied by the scan give the same rows
/// as the same queries over the copy without indexes.
#[tokio::test]
async fn ordered_and_index_only_reads_agree_with_full_scans() {
    let c = common::start().await;
    twin_tables(&c).await;
    let mut next = numbers(7);
    let (mut ordered, mut index_only, mut reverse, mut merged) = (0, 0, 0, 0);
    for i in 0..200 {
        let pred = match i % 4 {
            0 => "true".to_string(),
            _ => random_predicate(&mut next),
        };
        let cols = ["id, a", "id, n", "*", "id, b, n", "a, id", "b, a"][next(6) as usize];
        let dir = ["ASC", "DESC"][next(2) as usize];
        let order = match next(7) {
            5 => format!(
                "n {dir} NULLS {}, id {dir}",
                if dir == "ASC" { "FIRST" } else { "LAST" }
            ),
            6 => format!("n NULLS FIRST, a DESC NULLS LAST, id"),
            0 => format!("a {dir}, id {dir}"),
            1 => format!("n {dir}, id {dir}"),
            2 => format!("id {dir}"),
            3 => format!(
                "b {dir}, n {}, id {dir}",
                if dir == "ASC" { "DESC" } else { "ASC" }
            ),
            _ => format!("b {dir}, n {dir}, id {dir}"),
        };
        let limit = 1 + next(25);
        let q =
            |t: &str| format!("SELECT {cols} FROM {t} WHERE {pred} ORDER BY {order} LIMIT {limit}");
        let plan = query(&c, &format!("EXPLAIN {}", q("dx"))).await.join("\n");
        ordered += !plan.contains("SortExec") as u32;
        index_only += plan.contains("index_only") as u32;
        reverse += plan.contains(" reverse") as u32;
        let expected = query(&c, &q("dp")).await;
        assert_eq!(query(&c, &q("dx")).await, expected, "{}\n{plan}", q("dx"));
        let plan = query(&c, &format!("EXPLAIN {}", q("ds"))).await.join("\n");
        merged += (plan.contains("buckets=8") && !plan.contains("SortExec")) as u32;
        assert_eq!(query(&c, &q("ds")).await, expected, "{}\n{plan}", q("ds"));
    }
    assert!(merged > 15, "only {merged} ordered reads merged buckets");
    assert!(ordered > 60, "only {ordered} queries read in order");
    assert!(index_only > 20, "only {index_only} index-only reads");
    assert!(reverse > 30, "only {reverse} reverse reads");
}

/// With statistics (`ANALYZE`, or automatic after enough changes), the
/// planner reads an index only when it is cheaper than the table: a rare
/// value through it, a common one by a full scan.
#[tokio::test]
async fn statistics_choose_the_cheaper_path() {
    let c = common::start().await;
    c.simple_query(
        "CREATE TABLE s (id int PRIMARY KEY, flag int, v int);
         CREATE INDEX s_flag ON s (flag);
         CREATE INDEX s_v ON s (v);
         INSERT INTO s SELECT g, CASE WHEN g % 100 = 0 THEN 1 ELSE 0 END, g % 1000
         FROM generate_series(1, 5000) g",
    )
    .await
    .unwrap();
    // The insert changed more than 50 rows + 10%: the table is analyzed
    // in the background.
    let explain = |sql: &'static str| {
        let c = &c;
        async move { query(c, &format!("EXPLAIN {sql}")).await.join("\n") }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !explain("SELECT * FROM s WHERE flag = 0")
        .await
        .contains("rows≈")
    {
        assert!(std::time::Instant::now() < deadline, "never analyzed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.simple_query("ANALYZE s").await.unwrap();
    let cases = [
        (
            "SELECT * FROM s WHERE flag = 1",
            Some("index=s_flag"),
            "rows≈50",
        ),
        ("SELECT * FROM s WHERE flag = 0", None, "rows≈5000"),
        (
            "SELECT * FROM s WHERE flag = 0 AND v = 5",
            Some("index=s_v"),
            "rows≈5",
        ),
        ("SELECT * FROM s WHERE v > 990", Some("index=s_v"), "rows≈"),
        ("SELECT * FROM s WHERE v > 10", None, "rows≈5000"),
        ("SELECT v FROM s WHERE v > 10", Some("index_only"), "rows≈"),
    ];
    for (sql, index, rows) in cases {
        let plan = explain(sql).await;
        match index {
            Some(i) => assert!(plan.contains(i), "{sql}: wanted {i}\n{plan}"),
            None => assert!(!plan.contains("index="), "{sql}: wanted no index\n{plan}"),
        }
        assert!(plan.contains(rows), "{sql}: wanted {rows}\n{plan}");
    }
    assert_eq!(sqlstate(&c, "ANALYZE nosuch").await, "42P01");
    c.simple_query("ANALYZE").await.unwrap();
}

/// EXPLAIN shows the access path chosen: the primary key, an index (with
/// its ranges), or the whole table.
#[tokio::test]
async fn explain_shows_the_access_path() {
    let c = common::start().await;
    c.simple_query(
        "CREATE TABLE e (id int PRIMARY KEY, a int, b text, d int);
         CREATE INDEX e_a ON e (a);
         CREATE UNIQUE INDEX e_b ON e (b);
         CREATE INDEX e_a_d ON e (a, d);
         CREATE INDEX e_d_desc ON e (d DESC);
         CREATE INDEX e_lower ON e (lower(b));
         CREATE INDEX e_part ON e (d, b) WHERE a > 100",
    )
    .await
    .unwrap();
    let cases = [
        ("SELECT * FROM e WHERE a = 1", "index=e_a ranges=[["),
        ("SELECT * FROM e WHERE a = 1 AND d = 2", "index=e_a_d ranges=[["),
        ("SELECT * FROM e WHERE a = 1 AND d > 2", "index=e_a_d ranges=[["),
        ("SELECT * FROM e WHERE b = 'x'", "index=e_b ranges=[point "),
        ("SELECT * FROM e WHERE b IN ('x', 'y')", "index=e_b ranges=[point "),
        ("SELECT * FROM e WHERE a > 5", "index=e_a ranges=[["),
        ("SELECT * FROM e WHERE d = 3", "index=e_d_desc ranges=[["),
        ("SELECT * FROM e WHERE id = 1 AND a = 1", "KvScan: table=e ranges=[point "),
        ("SELECT * FROM e WHERE id > 1 AND a = 1", "index=e_a "),
        ("SELECT * FROM e WHERE a + 1 = 2", "KvScan: table=e ranges=[[-, -)]"),
        ("SELECT * FROM e WHERE b LIKE 'ab%'", "index=e_b ranges=[["),
        (
            "SELECT * FROM e WHERE a BETWEEN 1 AND 2 OR a BETWEEN 5 AND 6 OR a = 9",
            "index=e_a ranges=[[0x118000000000000001, 0x118000000000000003), [0x118000000000000005, 0x118000000000000007), [0x118000000000000009, 0x11800000000000000a)]",
        ),
        (
            "SELECT * FROM e WHERE id BETWEEN 1 AND 5 OR id BETWEEN 3 AND 9",
            "KvScan: table=e ranges=[[0x118000000000000001, 0x11800000000000000a)]",
        ),
        ("SELECT * FROM e WHERE b IS NULL", "index=e_b ranges=[["),
        ("SELECT * FROM e WHERE b LIKE '%b'", "KvScan: table=e ranges=[[-, -)]"),
        ("SELECT * FROM e WHERE d > 3", "index=e_d_desc ranges=[["),
        ("SELECT * FROM e WHERE d < 3 OR d > 9", "index=e_d_desc ranges=[["),
        ("SELECT * FROM e WHERE lower(b) = 'x'", "index=e_lower ranges=[["),
        ("SELECT * FROM e WHERE lower(b) LIKE 'x%'", "index=e_lower ranges=[["),
        ("SELECT * FROM e WHERE d = 5 AND b = 'x' AND a > 100", "index=e_part ranges=[["),
        ("SELECT * FROM e WHERE d = 5 AND b = 'x'", "index=e_b ranges=[point "),
    ];
    for (sql, shown) in cases {
        let plan = query(&c, &format!("EXPLAIN {sql}")).await.join("\n");
        assert!(plan.contains(shown), "{sql}: wanted {shown}\n{plan}");
    }
    // Ordered reads: no sort, only the first rows read, backwards when
    // the order is the key's reversed; index-only reads; filters the
    // ranges do not implement applied by the scan.
    let ordered = [
        (
            "SELECT * FROM e ORDER BY id DESC LIMIT 3",
            "KvScan: table=e ranges=[[-, -)] partitions=1 reverse limit=3",
        ),
        (
            "SELECT * FROM e ORDER BY a LIMIT 3",
            "index=e_a ranges=[[-, -)] partitions=1 limit=3",
        ),
        (
            "SELECT * FROM e ORDER BY a DESC, id DESC LIMIT 3",
            "index=e_a ranges=[[-, -)] partitions=1 reverse limit=3",
        ),
        (
            "SELECT * FROM e WHERE a = 4 ORDER BY d DESC LIMIT 2",
            "index=e_a_d ranges=[[",
        ),
        (
            "SELECT * FROM e ORDER BY d LIMIT 1",
            "index=e_d_desc ranges=[[-, -)] partitions=1 reverse limit=1",
        ),
        (
            "SELECT a, id FROM e WHERE a > 3 ORDER BY a LIMIT 5",
            "index=e_a ranges=[[",
        ),
        (
            "SELECT a, id FROM e WHERE a > 3 ORDER BY a LIMIT 5",
            "index_only limit=5",
        ),
        (
            "SELECT id FROM e WHERE a = 4 AND b LIKE '%x' ORDER BY id LIMIT 2",
            "filter=",
        ),
    ];
    for (sql, shown) in ordered {
        let plan = query(&c, &format!("EXPLAIN {sql}")).await.join("\n");
        assert!(plan.contains(shown), "{sql}: wanted {shown}\n{plan}");
        assert!(!plan.contains("SortExec"), "{sql}: sorts\n{plan}");
    }
    // EXPLAIN ANALYZE runs the query and shows what each operator did:
    // rows, time, requests to the store.
    c.simple_query("INSERT INTO e SELECT g, g % 7, 'b' || g, g FROM generate_series(1, 50) g")
        .await
        .unwrap();
    let plan = query(
        &c,
        "EXPLAIN ANALYZE SELECT * FROM e WHERE a = 3 ORDER BY id LIMIT 4",
    )
    .await
    .join("\n");
    for shown in [
        "index=e_a",
        "output_rows=4",
        "kv_requests=",
        "kv_pairs_read=",
        "Execution Time: ",
    ] {
        assert!(plan.contains(shown), "wanted {shown}\n{plan}");
    }
    let plan = query(&c, "EXPLAIN ANALYZE SELECT * FROM e WHERE id = 3")
        .await
        .join("\n");
    assert!(
        plan.contains("PointGet: table=e") && plan.contains("(actual rows=1)"),
        "{plan}"
    );
}

/// A table whose key grows with time (SERIAL, a timestamp) spreads its
/// rows over buckets, consecutive keys in different parts of the key
/// space, and reads still see them in key order: a plain SELECT, ORDER
/// BY with LIMIT both ways, ranges, IN lists, point reads, writes by key,
/// foreign keys pointing at it; a table keyed by plain integers does not,
/// and `WITH (buckets = n)` chooses.
#[tokio::test]
async fn sequential_keys_spread_over_buckets_and_read_back_in_order() {
    let kv = common::local_store();
    let c = connect(kv.clone()).await;
    c.simple_query(
        "CREATE TABLE ev (id serial PRIMARY KEY, v text);
         CREATE TABLE at (t timestamp PRIMARY KEY, v int);
         CREATE TABLE child (id int PRIMARY KEY, ev int REFERENCES ev (id) ON DELETE CASCADE);
         CREATE TABLE plain (id int PRIMARY KEY);
         CREATE TABLE off (id serial PRIMARY KEY) WITH (buckets = 0, fillfactor = 70);
         CREATE TABLE four (k text PRIMARY KEY) WITH (buckets = 4);
         INSERT INTO off SELECT g FROM generate_series(1, 100) g;
         INSERT INTO four SELECT 'k' || g FROM generate_series(1, 100) g;
         INSERT INTO ev (v) SELECT 'v' || g FROM generate_series(1, 2500) g;
         INSERT INTO at SELECT timestamp '2026-01-01' + g * interval '1 minute', g FROM generate_series(1, 300) g;
         INSERT INTO plain SELECT g FROM generate_series(1, 100) g;
         INSERT INTO child VALUES (1, 7), (2, 2000)",
    )
    .await
    .unwrap();
    // Where the rows are: the byte after the index prefix is the bucket.
    let reader = TxnReader::snapshot(kv.clone()).await.unwrap();
    let catalog = strata_sql::catalog::store::load(&reader).await.unwrap();
    for (table, buckets) in [("ev", 8), ("at", 8), ("plain", 0), ("off", 0), ("four", 4)] {
        let desc = catalog.find("public", table).unwrap();
        let start = index_prefix(desc.id, 1);
        let page = reader
            .scan(&start, &prefix_end(&start), 10_000, 0)
            .await
            .unwrap();
        let mut seen: Vec<u8> = page.pairs.iter().map(|p| p.key[start.len()]).collect();
        seen.sort();
        seen.dedup();
        match buckets {
            0 => assert_eq!(seen, [0x11], "{table}: the key's own first byte"),
            n => assert_eq!(seen, (0..n).collect::<Vec<u8>>(), "{table}"),
        }
        let plan = query(&c, &format!("EXPLAIN SELECT * FROM {table}"))
            .await
            .join("\n");
        let shown = format!("buckets={buckets}");
        assert_eq!(plan.contains(&shown), buckets > 0, "{plan}");
    }
    assert_eq!(
        query(&c, "SELECT k FROM four WHERE k > 'k97'").await,
        ["k98", "k99"]
    );
    for bad in ["buckets = 65", "buckets = -1", "nosuch = 1"] {
        let sql = format!("CREATE TABLE bad (id int PRIMARY KEY) WITH ({bad})");
        assert_eq!(sqlstate(&c, &sql).await, "22023", "{sql}");
    }
    let ids = |n: std::ops::RangeInclusive<i32>| n.map(|i| i.to_string()).collect::<Vec<_>>();
    // Merged back into key order, with or without ORDER BY.
    assert_eq!(query(&c, "SELECT id FROM ev").await, ids(1..=2500));
    assert_eq!(
        query(&c, "SELECT id FROM ev ORDER BY id").await,
        ids(1..=2500)
    );
    let desc: Vec<String> = ids(2491..=2500).into_iter().rev().collect();
    assert_eq!(
        query(&c, "SELECT id FROM ev ORDER BY id DESC LIMIT 10").await,
        desc
    );
    assert_eq!(
        query(&c, "SELECT id FROM ev WHERE id > 1000 ORDER BY id LIMIT 5").await,
        ids(1001..=1005)
    );
    assert_eq!(
        query(&c, "SELECT id FROM ev WHERE id BETWEEN 40 AND 60").await,
        ids(40..=60)
    );
    assert_eq!(
        query(&c, "SELECT id FROM ev WHERE id IN (9, 3, 700, 5000, 1)").await,
        ["1", "3", "9", "700"]
    );
    assert_eq!(
        query(
            &c,
            "SELECT id FROM ev WHERE id < 4 OR id = 2000 OR id > 2498"
        )
        .await,
        ["1", "2", "3", "2000", "2499", "2500"]
    );
    assert_eq!(
        query(
            &c,
            "SELECT v FROM at WHERE t = timestamp '2026-01-01 01:00:00'"
        )
        .await,
        ["60"]
    );
    assert_eq!(
        query(&c, "SELECT v FROM at ORDER BY t DESC LIMIT 3").await,
        ["300", "299", "298"]
    );
    let plan = query(&c, "EXPLAIN SELECT id FROM ev ORDER BY id DESC LIMIT 10")
        .await
        .join("\n");
    assert!(!plan.contains("SortExec"), "{plan}");
    // Aggregates are pushed down per bucket; rows come merged.
    assert_eq!(
        query(&c, "SELECT count(*), sum(id), min(v), max(id) FROM ev").await,
        ["2500|3126250|v1|2500"]
    );
    // Writes by key find their rows.
    c.simple_query(
        "UPDATE ev SET v = 'changed' WHERE id = 77;
         DELETE FROM ev WHERE id BETWEEN 100 AND 199;
         DELETE FROM ev WHERE id = 7",
    )
    .await
    .unwrap();
    assert_eq!(
        query(&c, "SELECT v FROM ev WHERE id = 77").await,
        ["changed"]
    );
    assert_eq!(query(&c, "SELECT count(*) FROM ev").await, ["2399"]);
    // The cascade found the child by the parent's key.
    assert_eq!(query(&c, "SELECT id FROM child").await, ["2"]);
    assert_eq!(
        sqlstate(&c, "INSERT INTO child VALUES (3, 150)").await,
        "23503"
    );
    assert_eq!(
        sqlstate(&c, "INSERT INTO ev VALUES (2000, 'dup')").await,
        "23505"
    );
    // New SERIAL values are still PostgreSQL's small increasing numbers.
    assert_eq!(
        query(&c, "INSERT INTO ev (v) VALUES ('next') RETURNING id").await,
        ["2501"]
    );
}
