//! End to end, with processes: the SQL node as PostgreSQL clients see it.
//!
//! - the real `psql` runs a script against `strata playground` (two tables,
//!   a join with GROUP BY and ORDER BY, a committed transaction with a
//!   savepoint rolled back to, a rolled-back one, INSERT … SELECT, DEFAULT
//!   and NULL) and prints exactly what it prints against PostgreSQL 15; the
//!   playground then stops cleanly on SIGTERM;
//! - a bank over SQL, with PD, three stores and a `strata sql` node as
//!   processes: concurrent transfers (`BEGIN`, an INSERT of a debit and a
//!   credit row into a ledger, two UPDATEs of account balances, `COMMIT`)
//!   while a store is SIGKILLed and restarted. Every snapshot's total is
//!   unchanged and every balance in it is the sum of its ledger rows, every
//!   acknowledged transfer survives, no refused one (40001) left a trace,
//!   none whose outcome was unknown is half there, and transfers commit
//!   again after the restart.
//! - inserts and selects while Regions split under the table and leaders
//!   move: no statement fails, every read is exact.
//! - sixteen clients inserting into a SERIAL-keyed table write through
//!   every store (PD's per-store write rates), and the rows read back in
//!   id order.
//!
//! tokio-postgres is used through the simple query protocol only.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    move_leaders, region_ranges, store_stats, voters_per_region, wait_for, Cluster, Proc,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

// ---------------------------------------------------------------------------
// psql against the playground
// ---------------------------------------------------------------------------

/// What psql runs (`-f script.sql`).
const SCRIPT: &str = "\
-- Two tables, a join with GROUP BY and ORDER BY, and transactions: one
-- committed (with a savepoint rolled back to), one rolled back.
CREATE TABLE customers (
    id int PRIMARY KEY,
    name text NOT NULL,
    city varchar(20) DEFAULT 'Lisbon'
);
CREATE TABLE orders (
    id bigint,
    customer int NOT NULL,
    total numeric(10,2) NOT NULL,
    placed date,
    PRIMARY KEY (id)
);
INSERT INTO customers VALUES (1, 'Ada', 'London'), (2, 'Grace', 'New York'), (3, 'Edsger', 'Eindhoven');
INSERT INTO customers (id, name) VALUES (4, 'Barbara'), (5, 'Donald');
INSERT INTO orders VALUES
    (100, 1, 12.50, '2024-01-05'),
    (101, 1, 7.25, '2024-02-10'),
    (102, 2, 100.00, '2024-02-29'),
    (103, 3, 0.10, NULL),
    (104, 3, 0.20, '2024-03-01');
SELECT c.name, c.city, count(*) AS orders, sum(o.total) AS spent
FROM customers c JOIN orders o ON o.customer = c.id
GROUP BY c.name, c.city
ORDER BY spent DESC;
BEGIN;
INSERT INTO orders VALUES (105, 4, 42.00, '2024-04-01');
SAVEPOINT before_mistake;
INSERT INTO orders VALUES (106, 4, 1000000.00, '2024-04-02');
ROLLBACK TO SAVEPOINT before_mistake;
COMMIT;
BEGIN;
INSERT INTO orders SELECT id + 1000, customer, total * 2, placed FROM orders;
SELECT count(*) AS orders, sum(total) AS total FROM orders;
ROLLBACK;
SELECT count(*) AS orders, sum(total) AS total FROM orders;
SELECT c.name, c.city, count(o.id) AS orders, min(o.placed) AS first_order
FROM customers c LEFT JOIN orders o ON o.customer = c.id
GROUP BY c.name, c.city
ORDER BY c.name;
SELECT id, customer, total, placed FROM orders WHERE placed IS NULL OR id > 104 ORDER BY id;
DROP TABLE orders;
DROP TABLE customers;
DROP TABLE IF EXISTS customers;
";

/// psql's standard output for SCRIPT, with `-P border=2 -P null=(null)`
/// (aligned, framed so no line ends in padding). PostgreSQL 15 gives
/// exactly this.
const EXPECTED_STDOUT: &str = "\
CREATE TABLE
CREATE TABLE
INSERT 0 3
INSERT 0 2
INSERT 0 5
+--------+-----------+--------+--------+
|  name  |   city    | orders | spent  |
+--------+-----------+--------+--------+
| Grace  | New York  |      1 | 100.00 |
| Ada    | London    |      2 |  19.75 |
| Edsger | Eindhoven |      2 |   0.30 |
+--------+-----------+--------+--------+
(3 rows)

BEGIN
INSERT 0 1
SAVEPOINT
INSERT 0 1
ROLLBACK
COMMIT
BEGIN
INSERT 0 6
+--------+--------+
| orders | total  |
+--------+--------+
|     12 | 486.15 |
+--------+--------+
(1 row)

ROLLBACK
+--------+--------+
| orders | total  |
+--------+--------+
|      6 | 162.05 |
+--------+--------+
(1 row)

+---------+-----------+--------+-------------+
|  name   |   city    | orders | first_order |
+---------+-----------+--------+-------------+
| Ada     | London    |      2 | 2024-01-05  |
| Barbara | Lisbon    |      1 | 2024-04-01  |
| Donald  | Lisbon    |      0 | (null)      |
| Edsger  | Eindhoven |      2 | 2024-03-01  |
| Grace   | New York  |      1 | 2024-02-29  |
+---------+-----------+--------+-------------+
(5 rows)

+-----+----------+-------+------------+
| id  | customer | total |   placed   |
+-----+----------+-------+------------+
| 103 |        3 |  0.10 | (null)     |
| 105 |        4 | 42.00 | 2024-04-01 |
+-----+----------+-------+------------+
(2 rows)

DROP TABLE
DROP TABLE
DROP TABLE
";

/// psql's standard error for SCRIPT: the notice of the last DROP.
const EXPECTED_STDERR: &str =
    "psql:script.sql:45: NOTICE:  table \"customers\" does not exist, skipping\n";

/// Fails (never skips) when psql is not installed.
fn require_psql() {
    let found = Command::new("psql")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "psql is not on PATH: this test runs the real PostgreSQL client. Install it \
         (Debian: apt-get install postgresql-client; scripts/setup.sh does it)"
    );
}

/// Runs `cmd` to its end, or kills it after `timeout`.
fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for the child"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// The end of the playground's log, for failure messages.
fn log_tail(data_dir: &Path) -> String {
    let log = std::fs::read_to_string(data_dir.join("strata.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[test]
fn a_psql_script_runs_against_the_playground() {
    require_psql();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut playground = common::start_playground(&data, &[]);
    let http = playground
        .http
        .clone()
        .expect("the playground prints PD's HTTP address");
    let (host, port) = playground.addr.rsplit_once(':').expect("host:port");
    assert_eq!(host, "127.0.0.1");

    // The SQL port accepts connections, and every Region has its three
    // replicas: the script meets a settled cluster.
    wait_for(
        "the SQL port to accept connections",
        Duration::from_secs(60),
        || TcpStream::connect(&playground.addr).is_ok(),
    );
    wait_for("3 voters per Region", Duration::from_secs(60), || {
        let v = voters_per_region(&http);
        !v.is_empty() && v.iter().all(|n| *n == 3)
    });

    // Run from the script's directory so psql names it `script.sql` in its
    // messages. English messages and UTF-8 whatever the caller's locale;
    // no ~/.psqlrc (-X), no PG* variables of the caller's.
    std::fs::write(dir.path().join("script.sql"), SCRIPT).unwrap();
    let mut psql = Command::new("psql");
    psql.current_dir(dir.path())
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-P",
            "border=2",
            "-P",
            "null=(null)",
        ])
        .args(["-h", host, "-p", port, "-U", "postgres", "-d", "postgres"])
        .args(["-f", "script.sql"])
        .env("LC_ALL", "C.UTF-8")
        .env("PGCONNECT_TIMEOUT", "10");
    for var in [
        "PGOPTIONS",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGPASSWORD",
        "PGCLIENTENCODING",
        "PGTZ",
        "PGDATESTYLE",
    ] {
        psql.env_remove(var);
    }
    let out = output_within(psql, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "psql failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- the playground's log\n{}",
        out.status,
        log_tail(&data)
    );
    assert_eq!(
        stdout, EXPECTED_STDOUT,
        "psql's output\n--- stderr\n{stderr}"
    );
    assert_eq!(stderr, EXPECTED_STDERR, "psql's messages");

    // SIGTERM stops every part and the process exits 0.
    let status = playground.terminate();
    assert!(
        status.success(),
        "the playground exited with {status} on SIGTERM"
    );
}

// ---------------------------------------------------------------------------
// A bank over SQL, with a store killed
// ---------------------------------------------------------------------------

const ACCOUNTS: i64 = 20;
const INITIAL: i64 = 1000;
const WORKERS: i64 = 4;
/// How long transfers run at least.
const RUN: Duration = Duration::from_secs(20);
/// When the store is killed, and for how long it stays down.
const KILL_AFTER: Duration = Duration::from_secs(5);
const DOWN_FOR: Duration = Duration::from_secs(8);
/// Transfers acknowledged after the restart that show the cluster recovered;
/// the run goes on past RUN until there are this many, up to MAX_RUN.
const COMMITS_AFTER_RESTART: u64 = 10;
const MAX_RUN: Duration = Duration::from_secs(90);
/// Longest wait for one statement. Longer than the SQL node's own KV
/// timeout (20 s), so the node normally answers first.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a statement did not succeed.
#[derive(Debug, Clone)]
enum Failure {
    /// The server answered with an error; the session lives on.
    Db { code: String, message: String },
    /// The connection broke or the statement timed out: the session is
    /// gone (it is dropped).
    Lost(String),
}

impl Failure {
    /// "40001", "08006", … or "lost".
    fn kind(&self) -> &str {
        match self {
            Failure::Db { code, .. } => code,
            Failure::Lost(_) => "lost",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Db { code, message } => write!(f, "{message} (SQLSTATE {code})"),
            Failure::Lost(why) => write!(f, "session lost: {why}"),
        }
    }
}

/// A session with the SQL node; its connection task ends with it.
struct Session {
    client: Client,
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Session {
    async fn connect(addr: &str) -> Result<Session, Failure> {
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        let url =
            format!("host={host} port={port} user=postgres dbname=postgres connect_timeout=10");
        let (client, connection) =
            match tokio::time::timeout(STATEMENT_TIMEOUT, tokio_postgres::connect(&url, NoTls))
                .await
            {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(failure(e)),
                Err(_) => return Err(Failure::Lost("connect timed out".into())),
            };
        let conn = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Session { client, conn })
    }

    /// Runs `sql` (simple query protocol) within STATEMENT_TIMEOUT; the rows
    /// of every result, as text.
    async fn run(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Failure> {
        let messages =
            match tokio::time::timeout(STATEMENT_TIMEOUT, self.client.simple_query(sql)).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => return Err(failure(e)),
                Err(_) => {
                    return Err(Failure::Lost(format!(
                        "no answer within {STATEMENT_TIMEOUT:?}"
                    )))
                }
            };
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
                }
                _ => None,
            })
            .collect())
    }

    /// Runs `sql`, which must succeed.
    async fn must(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

fn failure(e: tokio_postgres::Error) -> Failure {
    match e.as_db_error() {
        Some(db) => Failure::Db {
            code: db.code().code().to_string(),
            message: db.message().to_string(),
        },
        None => Failure::Lost(match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }),
    }
}

/// An integer column of a result row.
fn int(v: &Option<String>) -> i64 {
    let s = v.as_deref().expect("not NULL");
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// What became of a transfer, as its client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// COMMIT succeeded: both rows must exist.
    Acknowledged,
    /// Certainly not committed: BEGIN or the INSERT failed (COMMIT was never
    /// sent), or COMMIT failed with 40001. Neither row may exist.
    Refused,
    /// COMMIT failed otherwise (08006, a lost session, …): both rows or
    /// neither.
    Unknown,
}

/// One attempted transfer: rows `id` (the debit) and `id + 1` (the credit).
#[derive(Debug, Clone)]
struct Transfer {
    id: i64,
    from: i64,
    to: i64,
    amount: i64,
    fate: Fate,
    /// When it began (since the run started) and how long it took.
    began: Duration,
    took: Duration,
}

/// What the workers, the reader and the test share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Set when the killed store is running again.
    restarted: Mutex<Option<Instant>>,
    acknowledged: AtomicU64,
    acknowledged_after_restart: AtomicU64,
    reads_after_restart: AtomicU64,
    /// Failed statements by "STATEMENT SQLSTATE", with the first message.
    errors: Mutex<BTreeMap<String, (u64, String)>>,
    /// Balances a reader saw differ from their ledger sums.
    mismatches: Mutex<Vec<String>>,
}

impl Shared {
    fn restarted_before(&self, t: Instant) -> bool {
        self.restarted.lock().unwrap().is_some_and(|r| r <= t)
    }

    fn count(&self, statement: &str, f: &Failure) {
        let mut errors = self.errors.lock().unwrap();
        let e = errors
            .entry(format!("{statement} {}", f.kind()))
            .or_insert_with(|| (0, f.to_string()));
        e.0 += 1;
    }
}

/// Waits until the SQL node answers a query.
async fn ready_session(addr: &str) -> Session {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let err = match Session::connect(addr).await {
            Ok(s) => match s.run("SELECT 1").await {
                Ok(_) => return s,
                Err(e) => e,
            },
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "the SQL node is not ready: {err}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A session, reusing `session` if it is still there; None (after a short
/// pause, so a down node is not hammered) if connecting failed.
async fn session<'a>(
    session: &'a mut Option<Session>,
    addr: &str,
    shared: &Shared,
) -> Option<&'a Session> {
    if session.is_none() {
        match Session::connect(addr).await {
            Ok(s) => *session = Some(s),
            Err(e) => {
                shared.count("connect", &e);
                tokio::time::sleep(Duration::from_millis(200)).await;
                return None;
            }
        }
    }
    session.as_ref()
}

/// One transfer in its own session; says what became of it and whether the
/// session is still usable.
async fn transfer(s: &Session, t: &Transfer, shared: &Shared) -> (Fate, bool) {
    let insert = format!(
        "INSERT INTO ledger VALUES ({}, {}, {}), ({}, {}, {})",
        t.id,
        t.from,
        -t.amount,
        t.id + 1,
        t.to,
        t.amount
    );
    let debit = format!(
        "UPDATE account SET balance = balance - {} WHERE id = {}",
        t.amount, t.from
    );
    let credit = format!(
        "UPDATE account SET balance = balance + {} WHERE id = {}",
        t.amount, t.to
    );
    for (name, sql) in [
        ("BEGIN", "BEGIN"),
        ("INSERT", insert.as_str()),
        ("UPDATE", debit.as_str()),
        ("UPDATE", credit.as_str()),
    ] {
        if let Err(f) = s.run(sql).await {
            shared.count(name, &f);
            // COMMIT was never sent: nothing of it can be committed.
            let alive = !matches!(f, Failure::Lost(_)) && s.run("ROLLBACK").await.is_ok();
            return (Fate::Refused, alive);
        }
    }
    match s.run("COMMIT").await {
        Ok(_) => (Fate::Acknowledged, true),
        Err(f) => {
            shared.count("COMMIT", &f);
            let fate = match &f {
                Failure::Db { code, .. } if code == "40001" => Fate::Refused,
                _ => Fate::Unknown,
            };
            // A failed COMMIT ends the block; a ROLLBACK makes sure (at
            // worst it draws a "no transaction in progress" warning).
            let alive = !matches!(f, Failure::Lost(_)) && s.run("ROLLBACK").await.is_ok();
            (fate, alive)
        }
    }
}

/// Transfers between random accounts until told to stop, with ids from
/// `w * 1_000_000` up; every attempt is returned with its fate. Failed
/// transfers are not repeated: the next one takes new ids.
async fn worker(w: i64, addr: String, shared: Arc<Shared>, started: Instant) -> Vec<Transfer> {
    let mut rng = ChaCha8Rng::seed_from_u64(w as u64);
    let mut next_id = w * 1_000_000;
    let mut current = None;
    let mut done = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(s) = session(&mut current, &addr, &shared).await else {
            continue;
        };
        let from = rng.random_range(0..ACCOUNTS);
        let mut t = Transfer {
            id: next_id,
            from,
            to: (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS,
            amount: rng.random_range(1..=100),
            fate: Fate::Unknown,
            began: started.elapsed(),
            took: Duration::ZERO,
        };
        next_id += 2;
        let began = Instant::now();
        let (fate, alive) = transfer(s, &t, &shared).await;
        t.fate = fate;
        t.took = began.elapsed();
        if fate == Fate::Acknowledged {
            shared.acknowledged.fetch_add(1, Ordering::Relaxed);
            if shared.restarted_before(began) {
                shared
                    .acknowledged_after_restart
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        if !alive {
            current = None;
        }
        done.push(t);
        // Pacing, to keep the load modest: at most 20 transfers a second
        // per worker.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done
}

/// What the reader saw.
#[derive(Debug, Default)]
struct Reads {
    ok: u64,
    failed: u64,
    /// Totals other than ACCOUNTS * INITIAL: each one a failure of the test.
    wrong: Vec<String>,
}

/// Reads the total in a loop until told to stop, in turn: a plain sum of
/// the ledger, a sum of its per-account sums (GROUP BY), the sum of the
/// balances, and each balance beside its ledger sum (a join): each one
/// snapshot.
async fn reader(addr: String, shared: Arc<Shared>) -> Reads {
    let mut reads = Reads::default();
    let mut current = None;
    let mut round = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(s) = session(&mut current, &addr, &shared).await else {
            continue;
        };
        round += 1;
        let began = Instant::now();
        let (sql, result) = match round % 4 {
            0 => {
                let sql = "SELECT sum(amount) FROM ledger";
                (sql, s.run(sql).await.map(|rows| (int(&rows[0][0]), None)))
            }
            1 => {
                let sql = "SELECT account, sum(amount) FROM ledger GROUP BY account";
                let r = s
                    .run(sql)
                    .await
                    .map(|rows| (rows.iter().map(|r| int(&r[1])).sum(), Some(rows.len())));
                (sql, r)
            }
            2 => {
                let sql = "SELECT sum(balance) FROM account";
                (sql, s.run(sql).await.map(|rows| (int(&rows[0][0]), None)))
            }
            _ => {
                let sql = "SELECT a.id, a.balance, l.total FROM account a \
                           JOIN (SELECT account, sum(amount) AS total FROM ledger GROUP BY account) l \
                           ON l.account = a.id";
                let r = s.run(sql).await.map(|rows| {
                    for r in &rows {
                        if int(&r[1]) != int(&r[2]) {
                            reads_mismatch(&shared, r);
                        }
                    }
                    (rows.iter().map(|r| int(&r[1])).sum(), Some(rows.len()))
                });
                (sql, r)
            }
        };
        match result {
            Ok((total, accounts)) => {
                reads.ok += 1;
                if shared.restarted_before(began) {
                    shared.reads_after_restart.fetch_add(1, Ordering::Relaxed);
                }
                if total != ACCOUNTS * INITIAL || accounts.is_some_and(|n| n != ACCOUNTS as usize) {
                    reads
                        .wrong
                        .push(format!("{sql}: total {total}, accounts {accounts:?}"));
                }
            }
            Err(f) => {
                reads.failed += 1;
                shared.count("SELECT", &f);
                if matches!(f, Failure::Lost(_)) {
                    current = None;
                }
            }
        }
        // Pacing, to keep the load modest (the workers are the load).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reads
}

/// Notes a balance that differs from its ledger rows in one snapshot.
fn reads_mismatch(shared: &Shared, row: &[Option<String>]) {
    shared
        .mismatches
        .lock()
        .unwrap()
        .push(format!("account {row:?}: balance and ledger disagree"));
}

/// The store leading most Regions: its index in `cluster.stores`, its id
/// and how many Regions it leads.
fn busiest_store(cluster: &Cluster) -> (usize, u64, u64) {
    let stats = store_stats(&cluster.http());
    let (id, address, _, _, leaders) = stats
        .iter()
        .filter(|s| s.2 == "Up")
        .max_by_key(|s| s.4)
        .cloned()
        .unwrap_or_else(|| panic!("no store is up: {stats:?}"));
    let i = cluster
        .stores
        .iter()
        .position(|p| p.addr == address)
        .unwrap_or_else(|| panic!("store {id} at {address} is not one of ours: {stats:?}"));
    (i, id, leaders)
}

/// Rows of `sql`, retried until the cluster answers (after the run, the
/// restarted store may still be catching up).
async fn read_settled(s: &mut Session, addr: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match s.run(sql).await {
            Ok(rows) => return rows,
            Err(f) => {
                assert!(Instant::now() < deadline, "{sql}: {f}");
                if matches!(f, Failure::Lost(_)) {
                    *s = ready_session(addr).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// PD and three stores (with `store_flags`) once every Region has three
/// voters, and a SQL node on them.
fn sql_cluster(dir: &Path, store_flags: &[&str]) -> (Cluster, Proc) {
    let cluster = Cluster::start_with(dir, 3, store_flags);
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let node = Proc::start(&["sql", "--pd", &cluster.pd.addr, "--listen", "127.0.0.1:0"]);
    (cluster, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_transfers_survive_a_killed_store() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cluster, node) = sql_cluster(dir.path(), &[]);
    let addr = node.addr.clone();
    let mut setup = ready_session(&addr).await;

    // Each account starts with one row of +INITIAL (ids 0..ACCOUNTS; the
    // workers' ids start at 1_000_000).
    setup
        .must("CREATE TABLE ledger (id bigint PRIMARY KEY, account int NOT NULL, amount bigint NOT NULL)")
        .await;
    let seed: Vec<String> = (0..ACCOUNTS)
        .map(|a| format!("({a}, {a}, {INITIAL})"))
        .collect();
    setup
        .must(&format!("INSERT INTO ledger VALUES {}", seed.join(", ")))
        .await;
    let total = setup.must("SELECT sum(amount) FROM ledger").await;
    assert_eq!(int(&total[0][0]), ACCOUNTS * INITIAL);
    setup
        .must("CREATE TABLE account (id int PRIMARY KEY, balance bigint NOT NULL)")
        .await;
    setup
        .must(&format!(
            "INSERT INTO account SELECT account, amount FROM ledger WHERE id < {ACCOUNTS}"
        ))
        .await;

    let shared = Arc::new(Shared::default());
    let started = Instant::now();
    let workers: Vec<_> = (1..=WORKERS)
        .map(|w| tokio::spawn(worker(w, addr.clone(), shared.clone(), started)))
        .collect();
    let reads = tokio::spawn(reader(addr.clone(), shared.clone()));

    // The fault: the store leading most Regions (so leaders must be
    // elected elsewhere) is SIGKILLed, and restarted on its data later.
    tokio::time::sleep(KILL_AFTER).await;
    let (victim, victim_id, victim_leaders) = busiest_store(&cluster);
    cluster.stores[victim].kill();
    let killed_at = started.elapsed();
    let acknowledged_before_kill = shared.acknowledged.load(Ordering::Relaxed);
    tokio::time::sleep(DOWN_FOR).await;
    cluster.stores[victim] = common::start_store(dir.path(), &cluster.pd.addr, victim);
    *shared.restarted.lock().unwrap() = Some(Instant::now());
    let restarted_at = started.elapsed();
    let acknowledged_while_down =
        shared.acknowledged.load(Ordering::Relaxed) - acknowledged_before_kill;

    // Transfers run for RUN, and on until the cluster has shown it recovered
    // (transfers acknowledged and a total read after the restart).
    let recovered = || {
        shared.acknowledged_after_restart.load(Ordering::Relaxed) >= COMMITS_AFTER_RESTART
            && shared.reads_after_restart.load(Ordering::Relaxed) >= 1
    };
    while started.elapsed() < MAX_RUN && (started.elapsed() < RUN || !recovered()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    let ran_for = started.elapsed();
    let mut transfers = Vec::new();
    for w in workers {
        // Each has at most one transfer (three statements) to finish.
        let done = tokio::time::timeout(4 * STATEMENT_TIMEOUT, w)
            .await
            .expect("a worker did not stop")
            .expect("a worker panicked");
        transfers.extend(done);
    }
    let reads = tokio::time::timeout(2 * STATEMENT_TIMEOUT, reads)
        .await
        .expect("the reader did not stop")
        .expect("the reader panicked");

    let count = |f: Fate| transfers.iter().filter(|t| t.fate == f).count();
    let slowest = transfers
        .iter()
        .max_by_key(|t| t.took)
        .cloned()
        .expect("transfers were attempted");
    eprintln!(
        "ran {:.1}s (store {victim_id}, leading {victim_leaders} Region(s), killed at {:.1}s, back at {:.1}s): \
         {} transfers acknowledged ({acknowledged_while_down} while the store was down, {} after the restart), \
         {} refused, {} unknown; the slowest began at {:.1}s and took {:.1}s; {} totals read, {} reads failed",
        ran_for.as_secs_f64(),
        killed_at.as_secs_f64(),
        restarted_at.as_secs_f64(),
        count(Fate::Acknowledged),
        shared.acknowledged_after_restart.load(Ordering::Relaxed),
        count(Fate::Refused),
        count(Fate::Unknown),
        slowest.began.as_secs_f64(),
        slowest.took.as_secs_f64(),
        reads.ok,
        reads.failed,
    );
    for (kind, (n, first)) in shared.errors.lock().unwrap().iter() {
        eprintln!("  {n:>5} × {kind}: e.g. {first}");
    }

    // Every snapshot had the whole money.
    assert!(
        reads.wrong.is_empty(),
        "{} reads saw a wrong total (expected {}):\n{}",
        reads.wrong.len(),
        ACCOUNTS * INITIAL,
        reads.wrong.join("\n")
    );
    assert!(reads.ok > 0, "no total was ever read");
    let mismatches = shared.mismatches.lock().unwrap().clone();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // The ledger after the run: every row is the seed's or a transfer's, as
    // that transfer's client wrote it, and each transfer is there as its
    // client was told.
    let rows = read_settled(&mut setup, &addr, "SELECT id, account, amount FROM ledger").await;
    let mut ledger: HashMap<i64, (i64, i64)> = HashMap::new();
    for r in &rows {
        assert!(
            ledger
                .insert(int(&r[0]), (int(&r[1]), int(&r[2])))
                .is_none(),
            "id twice: {r:?}"
        );
    }
    let mut problems = Vec::new();
    let mut expected_balance: BTreeMap<i64, i64> = BTreeMap::new();
    for a in 0..ACCOUNTS {
        match ledger.remove(&a) {
            Some(row) if row == (a, INITIAL) => *expected_balance.entry(a).or_default() += INITIAL,
            other => problems.push(format!("seed row {a} is {other:?}")),
        }
    }
    for t in &transfers {
        let debit = ledger.remove(&t.id);
        let credit = ledger.remove(&(t.id + 1));
        if debit.is_some_and(|d| d != (t.from, -t.amount))
            || credit.is_some_and(|c| c != (t.to, t.amount))
        {
            problems.push(format!("{t:?} has rows {debit:?} and {credit:?}"));
        }
        match (t.fate, debit.is_some(), credit.is_some()) {
            (Fate::Acknowledged, true, true) | (Fate::Refused, false, false) => {}
            (Fate::Unknown, true, true) | (Fate::Unknown, false, false) => {}
            (fate, d, c) => problems.push(format!(
                "{fate:?} transfer {t:?}: debit row {}, credit row {}",
                if d { "present" } else { "missing" },
                if c { "present" } else { "missing" },
            )),
        }
        if let (Some(d), Some(c)) = (debit, credit) {
            *expected_balance.entry(d.0).or_default() += d.1;
            *expected_balance.entry(c.0).or_default() += c.1;
        }
    }
    for (id, row) in &ledger {
        problems.push(format!("row {id} {row:?} belongs to no transfer"));
    }
    // Balances are the sums of the rows, and the whole money is there.
    let balances = read_settled(
        &mut setup,
        &addr,
        "SELECT account, sum(amount) FROM ledger GROUP BY account ORDER BY account",
    )
    .await;
    let balances: BTreeMap<i64, i64> = balances.iter().map(|r| (int(&r[0]), int(&r[1]))).collect();
    if balances != expected_balance {
        problems.push(format!(
            "balances {balances:?}, expected {expected_balance:?}"
        ));
    }
    let total = read_settled(&mut setup, &addr, "SELECT sum(amount) FROM ledger").await;
    if int(&total[0][0]) != ACCOUNTS * INITIAL {
        problems.push(format!("final total {:?}", total[0][0]));
    }
    let accounts = read_settled(
        &mut setup,
        &addr,
        "SELECT id, balance FROM account ORDER BY id",
    )
    .await;
    let accounts: BTreeMap<i64, i64> = accounts.iter().map(|r| (int(&r[0]), int(&r[1]))).collect();
    if accounts != expected_balance {
        problems.push(format!(
            "account balances {accounts:?}, expected {expected_balance:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems, the first ones:\n{}",
        problems.len(),
        problems
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The cluster recovered: transfers committed after the restart.
    let after = shared.acknowledged_after_restart.load(Ordering::Relaxed);
    assert!(
        after >= COMMITS_AFTER_RESTART,
        "only {after} transfers were acknowledged after the restart (in {:.1}s)",
        (ran_for - restarted_at).as_secs_f64()
    );
    assert!(
        shared.reads_after_restart.load(Ordering::Relaxed) > 0,
        "no total was read after the restart"
    );
    // The processes (stores, PD, the SQL node) are SIGKILLed when dropped.
    drop(setup);
    drop(node);
    drop(cluster);
}

// ---------------------------------------------------------------------------
// Regions split and leaders move under SQL traffic
// ---------------------------------------------------------------------------

/// A writer inserts rows (autocommit, 40 at a time, ~200 bytes each, 800 KB
/// in all) into a
/// table while Regions split by size (64 KiB) under it and every Region's
/// leader is moved again and again; readers count the rows, read ranges
/// and single rows meanwhile. No statement may fail, and every read sees
/// at least every insert acknowledged before it began and at most those
/// acknowledged when it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_ride_through_splits_and_leader_moves() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, node) = sql_cluster(dir.path(), &["--region-split-size", "64KiB"]);
    let http = cluster.http();
    let addr = node.addr.clone();
    let setup = ready_session(&addr).await;
    setup
        .must("CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, body text NOT NULL)")
        .await;
    setup.must("CREATE INDEX items_grp ON items (grp)").await;

    const BATCHES: i64 = 100;
    const PER_BATCH: i64 = 40;
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();

    let writer = {
        let (addr, acked, failures) = (addr.clone(), acked.clone(), failures.clone());
        tokio::spawn(async move {
            let s = ready_session(&addr).await;
            for b in 0..BATCHES {
                let rows: Vec<String> = (0..PER_BATCH)
                    .map(|i| {
                        let id = b * PER_BATCH + i;
                        format!("({id}, {}, '{}')", id % 10, "x".repeat(200))
                    })
                    .collect();
                let sql = format!("INSERT INTO items VALUES {}", rows.join(", "));
                match s.run(&sql).await {
                    Ok(_) => {
                        acked.fetch_add(PER_BATCH as u64, Ordering::SeqCst);
                    }
                    Err(f) => failures
                        .lock()
                        .unwrap()
                        .push(format!("INSERT batch {b}: {f}")),
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (addr, acked, stop, failures) =
                (addr.clone(), acked.clone(), stop.clone(), failures.clone());
            tokio::spawn(async move {
                let s = ready_session(&addr).await;
                let mut reads = 0u64;
                let mut round = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    round += 1;
                    let before = acked.load(Ordering::SeqCst) as i64;
                    let mode = (round + r) % 5;
                    let last = before.max(1) - 1;
                    let sql = match mode {
                        0 => "SELECT count(*) FROM items".to_string(),
                        1 => format!("SELECT count(*) FROM items WHERE id BETWEEN 0 AND {last}"),
                        // Through the index, its entries cut at Region
                        // boundaries into parallel partitions.
                        3 => "SELECT count(*) FROM items WHERE grp = 3".to_string(),
                        // Backwards from the table's end, across Regions.
                        4 => "SELECT coalesce(max(id), 0) FROM \
                              (SELECT id FROM items ORDER BY id DESC LIMIT 1) t"
                            .to_string(),
                        _ => format!("SELECT count(*) FROM items WHERE id = {last}"),
                    };
                    // Rows with grp = 3 among the first n ids.
                    let threes = |n: i64| (n + 6) / 10;
                    match s.run(&sql).await {
                        Ok(rows) => {
                            let n = int(&rows[0][0]);
                            let after = acked.load(Ordering::SeqCst) as i64;
                            let exact = match mode {
                                0 => (before..=after).contains(&n),
                                // Before the first acknowledgement the first
                                // batch may or may not be there.
                                1 => before == 0 || n == before,
                                3 => (threes(before)..=threes(after)).contains(&n),
                                4 => before == 0 || (before - 1..after).contains(&n),
                                _ => before == 0 || n == 1,
                            };
                            if !exact {
                                failures.lock().unwrap().push(format!(
                                    "{sql}: {n} rows, acknowledged {before}..{after}"
                                ));
                            }
                            reads += 1;
                        }
                        Err(f) => failures.lock().unwrap().push(format!("{sql}: {f}")),
                    }
                }
                reads
            })
        })
        .collect();
    // Leaders move while the writer runs.
    let mover = {
        let (pd, http, stop) = (cluster.pd.addr.clone(), http.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut rounds = 0;
            while !stop.load(Ordering::SeqCst) {
                move_leaders(&pd, &http);
                rounds += 1;
                std::thread::sleep(Duration::from_millis(700));
            }
            rounds
        })
    };
    tokio::time::timeout(Duration::from_secs(240), writer)
        .await
        .expect("the writer did not finish")
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut reads = 0;
    for r in readers {
        reads += tokio::time::timeout(2 * STATEMENT_TIMEOUT, r)
            .await
            .expect("a reader hung")
            .unwrap();
    }
    let moves = mover.await.unwrap();
    let regions = region_ranges(&http).len();
    eprintln!("{reads} reads, {moves} rounds of leader moves, {regions} Regions");
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(regions > 1, "the table never split");
    let total = setup
        .must("SELECT count(*), count(DISTINCT id) FROM items")
        .await;
    assert_eq!(int(&total[0][0]), BATCHES * PER_BATCH);
    assert_eq!(int(&total[0][1]), BATCHES * PER_BATCH);
    // The index holds every row: read through it, all of it.
    let through_index = setup
        .must("SELECT count(*) FROM items WHERE grp BETWEEN 0 AND 9")
        .await;
    assert_eq!(int(&through_index[0][0]), BATCHES * PER_BATCH);
    // A read whose range spans Regions is cut at their boundaries into
    // parallel partitions, and EXPLAIN says so (how far the table split
    // depends on the machine's pace: only when it spans several).
    let plan = setup
        .must("EXPLAIN SELECT * FROM items WHERE id >= 0")
        .await;
    let plan: Vec<String> = plan.into_iter().flatten().flatten().collect();
    let plan = plan.join("\n");
    assert!(plan.contains("KvScan: table=items"), "{plan}");
    if plan.contains("region_parts=") {
        assert!(!plan.contains("partitions=1 "), "{plan}");
    }
    // The counts above ran in the stores (partial aggregates merged
    // here), also while the Regions split and moved.
    let plan = setup
        .must("EXPLAIN SELECT count(*) FROM items WHERE id >= 0")
        .await;
    let plan: Vec<String> = plan.into_iter().flatten().flatten().collect();
    let plan = plan.join("\n");
    assert!(plan.contains("partial_aggregate("), "{plan}");
    drop(setup);
    drop(node);
    drop(cluster);
}

/// PD's keys written per second through each store's leaders, by store id.
fn write_rates(http: &str) -> BTreeMap<u64, u64> {
    common::stores_json(http)
        .iter()
        .map(|s| {
            (
                s["id"].as_u64().unwrap_or(0),
                s["write_qps"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Sixteen clients insert into a SERIAL-keyed table (sequential ids from
/// one SQL node) on three stores: the writes land on every store, as
/// PD's per-store write rates show, since the table spreads its rows over
/// buckets (pre-split into Regions whose leaders PD spreads); the ids are
/// still 1, 2, 3 … and `ORDER BY id` reads them back in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_inserts_land_on_every_store() {
    const CLIENTS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let (cluster, node) = sql_cluster(dir.path(), &[]);
    let http = cluster.http();
    let addr = node.addr.clone();
    let setup = ready_session(&addr).await;
    setup
        .must("CREATE TABLE events (id serial PRIMARY KEY, body text NOT NULL)")
        .await;
    // The buckets' Regions exist at once; PD spreads their leaders.
    assert!(
        region_ranges(&http).len() >= 8,
        "{:?}",
        region_ranges(&http)
    );
    wait_for("leaders on every store", Duration::from_secs(60), || {
        store_stats(&http).iter().all(|s| s.4 >= 2)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, stop, acked, failures) =
                (addr.clone(), stop.clone(), acked.clone(), failures.clone());
            tokio::spawn(async move {
                let s = ready_session(&addr).await;
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let sql = format!(
                        "INSERT INTO events (body) VALUES ('client {c} row {n} {}')",
                        "x".repeat(200)
                    );
                    match s.run(&sql).await {
                        Ok(_) => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(f) => failures.lock().unwrap().push(format!("{sql}: {f}")),
                    }
                }
            })
        })
        .collect();
    // PD's per-store write rates, sampled while the clients insert.
    let sampler = {
        let (http, stop) = (http.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut written: BTreeMap<u64, u64> = BTreeMap::new();
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(500));
                for (store, rate) in write_rates(&http) {
                    *written.entry(store).or_default() += rate;
                }
            }
            written
        })
    };
    tokio::time::sleep(Duration::from_secs(15)).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        tokio::time::timeout(2 * STATEMENT_TIMEOUT, c)
            .await
            .expect("a client hung")
            .unwrap();
    }
    let written = sampler.await.unwrap();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let acked = acked.load(Ordering::SeqCst) as i64;
    let total: u64 = written.values().sum();
    eprintln!("{acked} rows inserted; keys written per store (sampled rates): {written:?}");
    assert!(acked > 100, "only {acked} inserts");
    assert_eq!(written.len(), 3, "{written:?}");
    for (store, w) in &written {
        // Eight buckets over three stores: each leads two or three.
        assert!(
            *w * 8 >= total,
            "store {store} wrote {w} of {total} keys: {written:?}"
        );
    }
    // Read back in key order, without gaps: 1, 2, 3 …
    let rows = setup.must("SELECT id FROM events ORDER BY id").await;
    let ids: Vec<i64> = rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(ids.len() as i64, acked);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "not in order");
    assert_eq!(ids.first(), Some(&1));
    let max = *ids.last().unwrap_or(&0);
    assert!(
        max < acked + 100,
        "SERIAL values went up to {max} for {acked} rows"
    );
    let last = setup
        .must("SELECT id FROM events ORDER BY id DESC LIMIT 3")
        .await;
    let last: Vec<i64> = last.iter().map(|r| int(&r[0])).collect();
    let expected: Vec<i64> = ids.iter().rev().take(3).copied().collect();
    assert_eq!(last, expected);
    drop(setup);
    drop(node);
    drop(cluster);
}
