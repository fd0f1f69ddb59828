//! `strata ctl txn exec`: the client side of adya's `run exec` protocol, so
//! that adya (an Elle-style isolation checker) can drive Strata from
//! outside with its own workload and fault schedule.
//!
//! One JSON transaction per line on stdin, e.g.
//! `{"value":[["append",3,7],["r",4,null]]}`; one JSON answer per line on
//! stdout: `{"type":"ok","value":[...]}` with the reads filled in,
//! `{"type":"fail",...}` only when the transaction certainly did not
//! commit, `{"type":"info",...}` when its outcome stays unknown (a commit
//! whose answer was lost is first settled through its primary key). A
//! list lives as a JSON array under the transactional key PREFIX + KEY
//! (`--prefix`, default `adya/`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use client::Error;
use client::TxnClient;
use serde_json::{json, Value};

/// Why a transaction ended without committing, or may have.
enum Outcome {
    Fail(String),
    Info(String),
}

impl From<Error> for Outcome {
    fn from(e: Error) -> Self {
        match e {
            // The commit was sent and its answer never came.
            Error::TxnUndetermined(why) => Outcome::Info(why),
            // Anything else happened before the commit point.
            e => Outcome::Fail(e.to_string()),
        }
    }
}

fn list_key(prefix: &str, k: &Value) -> Vec<u8> {
    format!("{prefix}{k}").into_bytes()
}

fn parse_list(v: Option<Vec<u8>>) -> Result<Vec<Value>, Outcome> {
    match v {
        None => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Outcome::Fail(format!("stored list is not JSON: {e}"))),
    }
}

/// Runs one transaction of micro-operations; returns them with reads filled.
async fn run_txn(client: &TxnClient, prefix: &str, ops: &[Value]) -> Result<Vec<Value>, Outcome> {
    let mut t = client.begin().await?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let (f, k, v) = match op.as_array().map(Vec::as_slice) {
            Some([f, k, v]) => (f.as_str().unwrap_or(""), k, v),
            _ => return Err(Outcome::Fail(format!("bad micro-op {op}"))),
        };
        let key = list_key(prefix, k);
        let mut list = parse_list(t.get(&key).await?)?;
        match f {
            "append" => {
                list.push(v.clone());
                t.put(key, Value::Array(list).to_string().into_bytes());
                out.push(json!(["append", k, v]));
            }
            "r" => out.push(json!(["r", k, list])),
            other => return Err(Outcome::Fail(format!("unknown micro-op {other:?}"))),
        }
    }
    let (start_ts, primary) = (t.start_ts(), t.primary_key().map(<[u8]>::to_vec));
    match (t.commit().await, primary) {
        (Ok(_), _) => Ok(out),
        // The answer was lost: ask the transaction's primary what became
        // of it, so that adya gets a definite answer where one exists.
        (Err(Error::TxnUndetermined(why)), Some(primary)) => {
            match client.settle(start_ts, &primary).await {
                Ok(Some(_)) => Ok(out),
                Ok(None) => Err(Outcome::Fail(format!("rolled back after: {why}"))),
                Err(e) => Err(Outcome::Info(format!("{why}; then {e}"))),
            }
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// Serves transactions from stdin until it closes.
pub async fn run(client: &TxnClient, prefix: &str) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(txn) => match txn["value"].as_array() {
                Some(ops) => match run_txn(client, prefix, ops).await {
                    Ok(value) => json!({ "type": "ok", "value": value }),
                    Err(Outcome::Fail(e)) => json!({ "type": "fail", "error": e }),
                    Err(Outcome::Info(e)) => json!({ "type": "info", "error": e }),
                },
                None => json!({ "type": "fail", "error": "no \"value\" list of micro-ops" }),
            },
            Err(e) => json!({ "type": "fail", "error": format!("bad JSON: {e}") }),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
