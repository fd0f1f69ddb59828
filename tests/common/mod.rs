//! Helpers for end-to-end tests that run `strata` processes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `strata` binary under test.
pub fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

/// A `strata` server process, killed when dropped.
pub struct Proc {
    pub child: Child,
    /// The address the process printed it listens on.
    pub addr: String,
    /// The second address it printed (PD's HTTP API), if any.
    pub http: Option<String>,
    pub args: Vec<String>,
}

impl Proc {
    /// Starts `strata ARGS...` and waits until it prints a line containing
    /// "listening on ADDR".
    pub fn start(args: &[&str]) -> Proc {
        let (mut child, rx) = spawn(args);
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("strata {args:?} did not report its address");
            }
        };
        let after = line
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let addr = after.split_whitespace().next().unwrap_or("").to_string();
        let http = after
            .split("http://")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .map(String::from);
        Proc {
            child,
            addr,
            http,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("process {pid} did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `strata ARGS...` with its stdout piped; its lines arrive on the
/// receiver, in order.
fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = strata()
        .args(args)
        .env(
            "STRATA_LOG",
            std::env::var("STRATA_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn strata");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the reader has what it wanted (sends then
        // fail), so the process never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(line) => {
                    let _ = tx.send(line);
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {}
                Err(_) => break,
            }
        }
    });
    (child, rx)
}

/// Starts `strata playground` on `data_dir` with every part (PD, stores,
/// the SQL node) on a loopback port chosen by the OS, and waits until it
/// reports that it runs. `addr` is the SQL node's address (PostgreSQL wire
/// protocol), `http` PD's HTTP API.
pub fn start_playground(data_dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "playground",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--pd-port",
        "0",
        "--store-port",
        "0",
        "--sql-port",
        "0",
    ];
    args.extend_from_slice(extra);
    let (mut child, rx) = spawn(&args);
    // It prints PD's line ("  PD:  ADDR  (HTTP API: http://HTTP/api/...)")
    // before the SQL node's ("  SQL:  ADDR  (PostgreSQL wire protocol)").
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed = Vec::new();
    let mut http = None;
    loop {
        let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("strata {args:?} did not report its SQL address; it printed {printed:?}");
            }
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"PD:") => {
                http = line
                    .split("http://")
                    .nth(1)
                    .and_then(|s| s.split('/').next())
                    .map(String::from);
            }
            Some(&"SQL:") if words.len() > 1 => {
                return Proc {
                    child,
                    addr: words[1].to_string(),
                    http,
                    args: args.iter().map(|s| s.to_string()).collect(),
                };
            }
            _ => {}
        }
        printed.push(line);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PD and stores as processes, each with its own data directory.
pub struct Cluster {
    pub dir: PathBuf,
    pub pd: Proc,
    pub stores: Vec<Proc>,
}

impl Cluster {
    /// Starts PD and `n` stores on loopback ports chosen by the OS.
    pub fn start(dir: &Path, n: usize) -> Cluster {
        Cluster::start_with(dir, n, &[])
    }

    /// Starts PD and `n` stores, each with extra flags.
    pub fn start_with(dir: &Path, n: usize, store_flags: &[&str]) -> Cluster {
        let pd = start_pd(dir);
        let mut stores = Vec::new();
        for i in 0..n {
            stores.push(start_store_with(dir, &pd.addr, i, store_flags));
        }
        Cluster {
            dir: dir.to_path_buf(),
            pd,
            stores,
        }
    }

    /// PD's HTTP address.
    pub fn http(&self) -> String {
        self.pd.http.clone().expect("PD prints its HTTP address")
    }
}

pub fn start_pd(dir: &Path) -> Proc {
    start_pd_with(dir, &[])
}

/// Starts PD with extra flags.
pub fn start_pd_with(dir: &Path, extra: &[&str]) -> Proc {
    let data = dir.join("pd");
    let mut args = vec![
        "pd",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Proc::start(&args)
}

pub fn start_store(dir: &Path, pd: &str, i: usize) -> Proc {
    start_store_with(dir, pd, i, &[])
}

/// Starts store `i` with extra flags. Even-numbered stores write their
/// Raft log with the async writer, so every cluster test runs both ways
/// side by side.
pub fn start_store_with(dir: &Path, pd: &str, i: usize, extra: &[&str]) -> Proc {
    let data = dir.join(format!("store-{i}"));
    let mut args = vec![
        "kv",
        "--pd",
        pd,
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    if i % 2 == 0 {
        args.push("--async-log-writer");
    }
    args.extend_from_slice(extra);
    Proc::start(&args)
}

/// `GET http://addr/path`, returning the body.
pub fn http_get_text(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to HTTP server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// `GET http://addr/path`, returning the JSON body.
pub fn http_get(addr: &str, path: &str) -> serde_json::Value {
    let body = http_get_text(addr, path);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad JSON from {path}: {e}: {body}"))
}

/// Polls `check` every 200 ms until it holds or `timeout` passes.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Voters of every Region, as PD's HTTP API reports them.
pub fn voters_per_region(http: &str) -> Vec<usize> {
    let v = http_get(http, "/api/v1/regions");
    v["regions"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    r["peers"]
                        .as_array()
                        .map(|p| p.iter().filter(|p| p["role"] == "Voter").count())
                        .unwrap_or(0)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Regions as PD's HTTP API reports them, in key order: (id, start, end)
/// with keys in upper-case hex.
pub fn region_ranges(http: &str) -> Vec<(u64, String, String)> {
    let v = http_get(http, "/api/v1/regions");
    v["regions"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["id"].as_u64().unwrap_or(0),
                        r["start_key"].as_str().unwrap_or("").to_string(),
                        r["end_key"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The stores, as PD's HTTP API reports them (`/api/v1/stores`).
pub fn stores_json(http: &str) -> Vec<serde_json::Value> {
    let v = http_get(http, "/api/v1/stores");
    v["stores"].as_array().cloned().unwrap_or_default()
}

/// Per store, as PD's HTTP API reports it: (id, address, state, regions, leaders).
pub fn store_stats(http: &str) -> Vec<(u64, String, String, u64, u64)> {
    stores_json(http)
        .iter()
        .map(|s| {
            (
                s["id"].as_u64().unwrap_or(0),
                s["address"].as_str().unwrap_or("").to_string(),
                s["state"].as_str().unwrap_or("").to_string(),
                s["region_count"].as_u64().unwrap_or(0),
                s["leader_count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Asks PD (through `strata ctl`) to move every Region's leader to another
/// of its voters; refusals (e.g. a transfer already running) are ignored.
pub fn move_leaders(pd: &str, http: &str) {
    let regions = http_get(http, "/api/v1/regions");
    for r in regions["regions"].as_array().cloned().unwrap_or_default() {
        let leader = r["leader_store_id"].as_u64().unwrap_or(0);
        let Some(to) = r["peers"].as_array().and_then(|p| {
            p.iter()
                .filter_map(|p| p["store_id"].as_u64())
                .find(|s| *s != leader)
        }) else {
            continue;
        };
        let _ = strata()
            .args(["ctl", "--pd", pd, "transfer-leader"])
            .args([r["id"].to_string(), to.to_string()])
            .output();
    }
}
