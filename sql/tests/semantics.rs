//! Query results follow PostgreSQL 15 where DataFusion computes something
//! else: literal types, integer overflow (22003), division by zero
//! (22012), numeric division and `avg`, math functions, casts from text,
//! interval arithmetic and bytea functions. Through pgwire against a SQL
//! node over the in-memory store; every expected answer is PostgreSQL's.

mod common;

use common::{query, start};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, SimpleQueryMessage};

/// The one row of a simple query as `a|b|NULL`.
async fn row(c: &Client, sql: &str) -> String {
    let rows = query(c, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows.into_iter().next().unwrap_or_default()
}

/// The SQLSTATE and message of a statement that must fail.
async fn error(c: &Client, sql: &str) -> (String, String) {
    let (code, message, _) = common::error(c, sql).await;
    (code, message)
}

/// The types of a query's result columns, as Describe reports them.
async fn types(c: &Client, sql: &str) -> Vec<Type> {
    let stmt = c
        .prepare(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    stmt.columns().iter().map(|c| c.type_().clone()).collect()
}

#[tokio::test]
async fn decimal_literals_keep_their_exponent() {
    let c = start().await;
    assert_eq!(
        row(&c, "SELECT 1.5e2, 1e3, 1.5E-2, .5, 5., 2.5e-3, -1.5e2").await,
        "150|1000|0.015|0.5|5|0.0025|-150"
    );
    assert_eq!(row(&c, "SELECT 1.5e2 + 1, 1e3 * 2").await, "151|2000");
    assert_eq!(types(&c, "SELECT 1.5e2").await, vec![Type::NUMERIC]);
    // Into columns too.
    c.batch_execute(
        "CREATE TABLE f (id int PRIMARY KEY, r real, d double precision, n numeric);
         INSERT INTO f VALUES (1, 1e3, 1.5e2, 2.5e1)",
    )
    .await
    .unwrap();
    assert_eq!(row(&c, "SELECT r, d, n FROM f").await, "1000|150|25");
}

#[tokio::test]
async fn integer_literals_are_int4_unless_they_need_more() {
    let c = start().await;
    assert_eq!(types(&c, "SELECT 1").await, vec![Type::INT4]);
    assert_eq!(types(&c, "SELECT 2147483648").await, vec![Type::INT8]);
    assert_eq!(
        types(&c, "SELECT 1 + 1, -1, 2 * 3").await,
        vec![Type::INT4; 3]
    );
    assert_eq!(
        types(&c, "SELECT 1::bigint + 1, 1::smallint + 1::smallint").await,
        vec![Type::INT8, Type::INT2]
    );
    assert_eq!(
        types(&c, "SELECT count(*), sum(1), max(1), avg(1)").await,
        vec![Type::INT8, Type::INT8, Type::INT4, Type::NUMERIC]
    );
    assert_eq!(
        types(&c, "SELECT sum(1::bigint)").await,
        vec![Type::NUMERIC]
    );
    assert_eq!(
        types(&c, "SELECT x FROM (VALUES (1), (2)) v(x)").await,
        vec![Type::INT4]
    );
    assert_eq!(
        types(&c, "SELECT x FROM (VALUES (1), (2147483648)) v(x)").await,
        vec![Type::INT8]
    );
    assert_eq!(types(&c, "SELECT 1 UNION SELECT 2").await, vec![Type::INT4]);
    // A recursive query keeps DataFusion's types but the right answer.
    assert_eq!(
        row(
            &c,
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) \
             SELECT sum(n) FROM r"
        )
        .await,
        "15"
    );
    // Window functions with literal arguments.
    assert_eq!(
        row(
            &c,
            "SELECT string_agg(l::text, ',') FROM (SELECT lag(x, 1, 0) OVER (ORDER BY x) AS l \
             FROM (VALUES (1), (2), (3)) v(x)) s"
        )
        .await,
        "0,1,2"
    );
}

#[tokio::test]
async fn int4_literals_still_find_bigint_keys() {
    let c = start().await;
    c.batch_execute(
        "CREATE TABLE k (id bigint PRIMARY KEY, v int, s smallint);
         INSERT INTO k VALUES (1, 10, 1), (5, 50, 5), (5000000000, 7, 7)",
    )
    .await
    .unwrap();
    assert_eq!(row(&c, "SELECT v FROM k WHERE id = 5").await, "50");
    assert_eq!(row(&c, "SELECT v FROM k WHERE id = 5000000000").await, "7");
    assert_eq!(
        row(&c, "SELECT count(*) FROM k WHERE id BETWEEN 1 AND 5").await,
        "2"
    );
    let plan: Vec<String> = c
        .simple_query("EXPLAIN SELECT v FROM k WHERE id = 5")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("PointGet: table=k key=point ")),
        "{plan:?}"
    );
    // Literals into smaller and larger columns.
    c.batch_execute("INSERT INTO k VALUES (2147483648, 2147483647, 32767)")
        .await
        .unwrap();
    assert_eq!(
        row(&c, "SELECT v, s FROM k WHERE id = 2147483648").await,
        "2147483647|32767"
    );
    assert_eq!(
        error(&c, "INSERT INTO k VALUES (9, 1, 32768)").await.0,
        "22003"
    );
}

#[tokio::test]
async fn integer_overflow_is_an_error() {
    let c = start().await;
    for (sql, message) in [
        ("SELECT 2147483647 + 1", "integer out of range"),
        ("SELECT -2147483647 - 2", "integer out of range"),
        ("SELECT 65536 * 65536", "integer out of range"),
        ("SELECT 9223372036854775807 + 1", "bigint out of range"),
        (
            "SELECT 32767::smallint + 1::smallint",
            "smallint out of range",
        ),
        ("SELECT -((-32768)::smallint)", "smallint out of range"),
        ("SELECT -((-2147483648)::int)", "integer out of range"),
        ("SELECT abs((-2147483648)::int)", "integer out of range"),
        (
            "SELECT (-32768)::smallint / (-1)::smallint",
            "smallint out of range",
        ),
        ("SELECT 99999::smallint", "smallint out of range"),
        (
            "SELECT '99999'::smallint",
            "value \"99999\" is out of range for type smallint",
        ),
    ] {
        assert_eq!(
            error(&c, sql).await,
            ("22003".into(), message.into()),
            "{sql}"
        );
    }
    assert_eq!(row(&c, "SELECT (-2147483648)::int % (-1)").await, "0");
    assert_eq!(row(&c, "SELECT 2147483647::bigint + 1").await, "2147483648");
    c.batch_execute(
        "CREATE TABLE o (id int PRIMARY KEY, a int, b bigint);
         INSERT INTO o VALUES (1, 2147483647, 9223372036854775807), (2, 1, 1)",
    )
    .await
    .unwrap();
    assert_eq!(error(&c, "SELECT a + 1 FROM o").await.0, "22003");
    assert_eq!(
        error(&c, "SELECT a * 2 FROM o WHERE id = 1").await.0,
        "22003"
    );
    assert_eq!(
        error(&c, "SELECT a + 1, count(*) FROM o GROUP BY a + 1")
            .await
            .0,
        "22003"
    );
    // sum(int) is bigint, sum(bigint) numeric: neither overflows.
    assert_eq!(
        row(&c, "SELECT sum(a), sum(b) FROM o").await,
        "2147483648|9223372036854775808"
    );
    assert_eq!(
        types(&c, "SELECT sum(a), sum(b) FROM o").await,
        vec![Type::INT8, Type::NUMERIC]
    );
}

#[tokio::test]
async fn division_by_zero_is_22012() {
    let c = start().await;
    for sql in [
        "SELECT 5 / 0",
        "SELECT 5 % 0",
        "SELECT 5.0 / 0",
        "SELECT 5.0 % 0",
        "SELECT 5::float8 / 0",
        "SELECT mod(5, 0)",
        "SELECT div(5, 0)",
        "SELECT interval '1 day' / 0",
    ] {
        assert_eq!(
            error(&c, sql).await,
            ("22012".into(), "division by zero".into()),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn numeric_division_and_avg_have_postgres_scale() {
    let c = start().await;
    assert_eq!(
        row(
            &c,
            "SELECT 10.0 / 4, 1 / 3::numeric, 7::numeric / 2, 1000000.0 / 3"
        )
        .await,
        "2.5000000000000000|0.33333333333333333333|3.5000000000000000|333333.333333333333"
    );
    assert_eq!(
        row(&c, "SELECT avg(x), avg(y), avg(z) FROM (VALUES (1, 1::bigint, 1::numeric(10,2)), (2, 2, 2)) v(x, y, z)").await,
        "1.5000000000000000|1.5000000000000000|1.5000000000000000"
    );
    assert_eq!(
        row(&c, "SELECT avg(x) FROM (VALUES (1), (1), (0)) v(x)").await,
        "0.66666666666666666667"
    );
    assert_eq!(
        row(&c, "SELECT avg(x) FROM (VALUES (1000000), (2000000)) v(x)").await,
        "1500000.000000000000"
    );
    assert_eq!(
        row(&c, "SELECT avg(x) FROM (VALUES (1.5::float8), (2)) v(x)").await,
        "1.75"
    );
    assert_eq!(
        row(&c, "SELECT avg(x) FROM (SELECT 1 AS x WHERE false) s").await,
        "NULL"
    );
    // Integer division truncates; float division is a float.
    assert_eq!(
        row(&c, "SELECT 7 / 2, -7 / 2, 7 % -3, 1.0::float8 / 4").await,
        "3|-3|1|0.25"
    );
}

#[tokio::test]
async fn math_functions_match_postgres() {
    let c = start().await;
    assert_eq!(
        row(
            &c,
            "SELECT round(2.5), round(-2.5), round(3.456, 2), round(3.7, 3), round(1234.5, -2)"
        )
        .await,
        "3|-3|3.46|3.700|1200"
    );
    assert_eq!(
        row(&c, "SELECT trunc(3.789, 1), trunc(-3.789), ceil(4.2), ceiling(4.2), floor(-4.2), ceil(-0.5)").await,
        "3.7|-3|5|5|-5|0"
    );
    assert_eq!(
        row(&c, "SELECT round(2.5::float8), floor(4.7::float8)").await,
        "2|4"
    );
    assert_eq!(
        row(&c, "SELECT round(5), round(5, 2), trunc(5, 1)").await,
        "5|5.00|5.0"
    );
    assert_eq!(
        types(
            &c,
            "SELECT round(5), round(5, 2), sign(-3), ceil(4.2::real)"
        )
        .await,
        vec![Type::FLOAT8, Type::NUMERIC, Type::FLOAT8, Type::FLOAT8]
    );
    assert_eq!(
        row(
            &c,
            "SELECT sign(-3), sign(-3.5), sign(0), mod(17, 5), mod(-7, 3), mod(7.5, 2)"
        )
        .await,
        "-1|-1|0|2|-1|1.5"
    );
    assert_eq!(
        row(&c, "SELECT div(7, 2), div(-7.5, 2), abs(-5), abs(-5.5)").await,
        "3|-3|5|5.5"
    );
    assert_eq!(error(&c, "SELECT round(2.5::float8, 1)").await.0, "42883");
    // Float and numeric to integer round (floats half to even).
    assert_eq!(
        row(
            &c,
            "SELECT 2.5::float8::int, 3.5::float8::int, 2.7::float8::int, 2.5::int, (-2.5)::int"
        )
        .await,
        "2|4|3|3|-3"
    );
    assert_eq!(error(&c, "SELECT 'abc'::int").await.0, "22P02");
    assert_eq!(row(&c, "SELECT ' 12 '::int").await, "12");
}

#[tokio::test]
async fn interval_arithmetic_matches_postgres() {
    let c = start().await;
    assert_eq!(
        row(
            &c,
            "SELECT timestamp '2024-03-01 12:00:00' - timestamp '2024-02-28 06:30:00'"
        )
        .await,
        "2 days 05:30:00"
    );
    assert_eq!(
        row(
            &c,
            "SELECT timestamp '2024-01-01' - timestamp '2024-01-02 00:00:01'"
        )
        .await,
        "-1 days -00:00:01"
    );
    assert_eq!(
        row(
            &c,
            "SELECT date '2024-02-29' + interval '1 month', date '2024-03-31' - interval '1 month'"
        )
        .await,
        "2024-03-29 00:00:00|2024-02-29 00:00:00"
    );
    assert_eq!(
        row(
            &c,
            "SELECT interval '1 day' * 2, 2 * interval '1 hour', interval '1 month' * 1.5"
        )
        .await,
        "2 days|02:00:00|1 mon 15 days"
    );
    assert_eq!(
        row(
            &c,
            "SELECT interval '1 mon 1 day' / 3, interval '1 year' / 7"
        )
        .await,
        "10 days 08:00:00|1 mon 21 days 10:17:08.5344"
    );
    assert_eq!(
        types(&c, "SELECT timestamp '2024-01-01' - timestamp '2023-01-01', date '2024-01-01' + interval '1 day'").await,
        vec![Type::INTERVAL, Type::TIMESTAMP]
    );
}

#[tokio::test]
async fn bytea_input_and_length() {
    let c = start().await;
    assert_eq!(row(&c, r"SELECT '\x0102'::bytea").await, r"\x0102");
    c.batch_execute(r"CREATE TABLE b (id int PRIMARY KEY, b bytea, t text); INSERT INTO b VALUES (1, '\x01ff02', 'héllo')")
        .await
        .unwrap();
    assert_eq!(
        row(
            &c,
            "SELECT length(b), octet_length(b), length(t), char_length(t), octet_length(t) FROM b"
        )
        .await,
        "3|3|5|5|6"
    );
    assert_eq!(
        row(&c, r"SELECT id FROM b WHERE b = '\x01ff02'::bytea").await,
        "1"
    );
    assert_eq!(error(&c, r"SELECT '\xzz'::bytea").await.0, "22023");
}
