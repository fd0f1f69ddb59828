//! Runs every `sqllogictest/*.slt` file against Strata: PD, three stores and
//! a `strata sql` node as processes, driven over pgwire's simple query
//! protocol by tokio-postgres (values as the server prints them, NULL as
//! `NULL`, the empty string as `(empty)`).
//!
//! The expected results are PostgreSQL 15's. With `STRATA_SLT_URL` set (a
//! tokio-postgres connection string, e.g. `host=127.0.0.1 port=25433
//! user=postgres dbname=postgres`) the files run against that server instead
//! and no cluster is started: `scripts/slt-pg.sh` does that with a throwaway
//! PostgreSQL 15. The engine name is `strata` or `postgres`, so records can
//! say `skipif strata`.
//!
//! Every record runs even after a failure; each failure is printed with its
//! file and line, its SQL and the difference, and the test fails at the end
//! if there was any.
//!
//! * `STRATA_SLT_FILES=txn,keys` runs only the files whose names contain one
//!   of those words; `STRATA_SLT_DIR` reads the files from another directory.
//! * `STRATA_SLT_OVERRIDE=1` (only with `STRATA_SLT_URL`) rewrites the files'
//!   expected results with what that server answers:
//!   `STRATA_SLT_OVERRIDE=1 scripts/slt-pg.sh` after adding records (then
//!   read the diff: the answers are PostgreSQL's, not necessarily the intent).

mod common;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Record, Runner};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A tokio-postgres error that prints the server's message and SQLSTATE
/// (tokio-postgres's own Display says only "db error").
#[derive(Debug)]
struct PgError(tokio_postgres::Error);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(
                f,
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            ),
            None => match std::error::Error::source(&self.0) {
                Some(cause) => write!(f, "{}: {cause}", self.0),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

impl std::error::Error for PgError {}

/// One session, as the sqllogictest runner sees it.
struct Pg {
    client: Client,
    conn: tokio::task::JoinHandle<()>,
    engine: &'static str,
}

impl Pg {
    async fn connect(url: &str, engine: &'static str) -> Result<Pg, PgError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(PgError)?;
        let conn = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Pg {
            client,
            conn,
            engine,
        })
    }
}

#[async_trait]
impl AsyncDB for Pg {
    type Error = PgError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, PgError> {
        let messages = self.client.simple_query(sql).await.map_err(PgError)?;
        let mut columns = None;
        let mut rows = Vec::new();
        let mut count = 0;
        // Like the sqllogictest CLI's engine: only the first statement of a
        // record counts.
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => columns = Some(cols.len()),
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            None => "NULL".to_string(),
                            Some("") => "(empty)".to_string(),
                            Some(v) => v.to_string(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => {
                    count = n;
                    break;
                }
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {
        self.conn.abort();
    }

    fn engine_name(&self) -> &str {
        self.engine
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &PgError) -> Option<String> {
        err.0.code().map(|c| c.code().to_string())
    }
}

/// The .slt files to run, in name order.
fn slt_files() -> Vec<PathBuf> {
    let dir = match std::env::var("STRATA_SLT_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sqllogictest"),
    };
    let only: Vec<String> = std::env::var("STRATA_SLT_FILES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

/// sqllogictest 0.29.1's override mode matches `error (SQLSTATE)` records
/// without the SQLSTATE, so it rewrites each of them as a regex of the
/// message; this turns those back into `error (SQLSTATE)`.
fn restore_sqlstates(file: &std::path::Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let fixed = ["statement error ", "query error "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let code = rest.strip_suffix("\\)")?.rsplit_once("\\(SQLSTATE ")?.1;
            (code.len() == 5).then(|| format!("{p}({code})"))
        });
        out.push_str(fixed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    std::fs::write(file, out).unwrap();
}

/// Rewrites each file's expected results with the server's answers.
async fn override_files(url: &str, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let url = url.to_string();
        let mut runner = Runner::new(move || {
            let url = url.clone();
            async move { Pg::connect(&url, "postgres").await }
        });
        if let Err(e) = runner
            .update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
        {
            failures.push(format!("{}: {e}", file.display()));
        }
        runner.shutdown_async().await;
        restore_sqlstates(file);
        eprintln!("{}: rewritten", file.display());
    }
    failures
}

/// Runs every record of every file; returns the failures, printed.
async fn run_files(url: &str, engine: &'static str, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let started = Instant::now();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let records = match sqllogictest::parse_file::<DefaultColumnType>(file) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: cannot parse: {e}"));
                continue;
            }
        };
        let url = url.to_string();
        let mut runner = Runner::new(move || {
            let url = url.clone();
            async move { Pg::connect(&url, engine).await }
        });
        let mut failed = 0;
        for record in records {
            if let Record::Halt { .. } = record {
                break;
            }
            if let Err(e) = runner.run_async(record).await {
                failed += 1;
                let msg = format!("{}", e.display(false));
                eprintln!("FAILED {msg}");
                failures.push(msg);
            }
        }
        runner.shutdown_async().await;
        eprintln!(
            "{name}: {} ({:.1}s)",
            if failed == 0 {
                "ok".to_string()
            } else {
                format!("{failed} record(s) failed")
            },
            started.elapsed().as_secs_f64()
        );
    }
    failures
}

/// Waits until the SQL node answers a query (the cluster may still be
/// electing its first leader).
async fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let err = match Pg::connect(url, "strata").await {
            Ok(mut db) => match db.run("SELECT 1").await {
                Ok(_) => {
                    db.shutdown().await;
                    return;
                }
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

#[test]
fn sqllogictest_files() {
    let files = slt_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let failures = match std::env::var("STRATA_SLT_URL") {
        Ok(url) if !url.is_empty() => {
            if std::env::var("STRATA_SLT_OVERRIDE").is_ok_and(|v| v == "1") {
                rt.block_on(override_files(&url, &files))
            } else {
                rt.block_on(run_files(&url, "postgres", &files))
            }
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let cluster = common::Cluster::start(dir.path(), 3);
            // One SQL node: a short schema lease only makes DDL quicker.
            let sql = common::Proc::start(&[
                "sql",
                "--pd",
                &cluster.pd.addr,
                "--listen",
                "127.0.0.1:0",
                "--schema-lease",
                "100ms",
            ]);
            let (host, port) = sql.addr.rsplit_once(':').expect("host:port");
            let url = format!("host={host} port={port} user=postgres dbname=postgres");
            rt.block_on(async {
                wait_ready(&url).await;
                run_files(&url, "strata", &files).await
            })
        }
    };
    eprintln!(
        "{} file(s), {} failure(s), {:.1}s",
        files.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} record(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
