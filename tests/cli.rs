//! `strata` as a user runs it: `ctl` against a live cluster, and clear
//! errors with a non-zero exit for bad input, leaving stored data intact.

mod common;

use std::time::Duration;

use common::{start_pd, start_store, strata, voters_per_region, wait_for, Cluster};

fn ctl(pd: &str, args: &[&str]) -> (i32, String, String) {
    let out = strata()
        .args(["ctl", "--pd", pd, "--timeout", "10s"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ctl_raw_commands_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 3);
    let pd = cluster.pd.addr.clone();
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });

    assert_eq!(ctl(&pd, &["raw", "put", "hello", "world"]).0, 0);
    assert_eq!(ctl(&pd, &["raw", "put", "help", "me"]).0, 0);
    let (code, out, _) = ctl(&pd, &["raw", "get", "hello"]);
    assert_eq!((code, out.trim()), (0, "world"));
    let (code, out, _) = ctl(&pd, &["raw", "scan", "hel", ""]);
    assert_eq!(code, 0);
    assert_eq!(out, "hello\tworld\nhelp\tme\n");
    let (code, out, _) = ctl(&pd, &["raw", "scan", "a", "z", "--limit", "1", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!([{"key": "hello", "value": "world"}]));
    // Hex keys and values.
    assert_eq!(ctl(&pd, &["--hex", "raw", "put", "00ff", "0102"]).0, 0);
    let (code, out, _) = ctl(&pd, &["--hex", "raw", "get", "00ff"]);
    assert_eq!((code, out.trim()), (0, "0102"));
    // Missing keys exit 1; deletes remove.
    assert_eq!(ctl(&pd, &["raw", "delete", "help"]).0, 0);
    let (code, _, err) = ctl(&pd, &["raw", "get", "help"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");

    // An oversized key is refused with a clear error; nothing changes.
    let big = "k".repeat(5000);
    let (code, _, err) = ctl(&pd, &["raw", "put", &big, "v"]);
    assert_ne!(code, 0);
    assert!(err.contains("exceeds the limit"), "{err}");
    let (code, _, err) = ctl(&pd, &["--hex", "raw", "get", "zz"]);
    assert_ne!(code, 0);
    assert!(err.contains("not valid hex"), "{err}");
    assert_eq!(ctl(&pd, &["raw", "get", "hello"]).1.trim(), "world");

    // PD learns sizes from heartbeats, unflushed data included.
    wait_for("sizes in PD", Duration::from_secs(20), || {
        let r = common::http_get(&http, "/api/v1/regions");
        let s = common::http_get(&http, "/api/v1/stores");
        r["regions"][0]["approximate_size"].as_u64().unwrap_or(0) > 0
            && s["stores"][0]["used_size"].as_u64().unwrap_or(0) > 0
    });

    // Stores and Regions are listed, also as JSON.
    let (code, out, _) = ctl(&pd, &["stores", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["count"], 3);
    assert!(v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "Up"));
    let (code, out, _) = ctl(&pd, &["regions"]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 2, "{out}");

    // Transactions: their own key space, separate from raw keys.
    let (code, out, _) = ctl(&pd, &["txn", "put", "hello", "txn-world", "k2", "v2"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("OK (committed at "), "{out}");
    let (code, out, _) = ctl(&pd, &["txn", "get", "hello"]);
    assert_eq!((code, out.trim()), (0, "txn-world"));
    assert_eq!(ctl(&pd, &["raw", "get", "hello"]).1.trim(), "world");
    let (code, out, _) = ctl(&pd, &["txn", "scan", "", "", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"key": "hello", "value": "txn-world"}, {"key": "k2", "value": "v2"}])
    );
    assert_eq!(ctl(&pd, &["txn", "delete", "k2"]).0, 0);
    let (code, _, err) = ctl(&pd, &["txn", "get", "k2"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = ctl(&pd, &["txn", "put", "a", "1", "b"]);
    assert_ne!(code, 0);
    assert!(err.contains("has no value"), "{err}");
    let (code, _, err) = ctl(&pd, &["txn", "put", &big, "v"]);
    assert_ne!(code, 0);
    assert!(err.contains("exceeds the limit"), "{err}");

    // adya's exec protocol: one transaction per line in, one answer out.
    let mut exec = strata()
        .args(["ctl", "--pd", &pd, "txn", "exec"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = [
        r#"{"value":[["append",1,10],["r",1,null]]}"#,
        r#"{"value":[["r",1,null],["append",1,11],["append",2,20]]}"#,
        r#"{"value":[["r",1,null],["r",2,null],["r",3,null]]}"#,
        "not json",
        r#"{"value":[["w",1,2]]}"#,
    ];
    {
        use std::io::Write;
        let mut stdin = exec.stdin.take().unwrap();
        for l in input {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = exec.wait_with_output().unwrap();
    assert!(out.status.success());
    let answers: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 5);
    assert_eq!(
        answers[0],
        serde_json::json!({"type": "ok", "value": [["append", 1, 10], ["r", 1, [10]]]})
    );
    assert_eq!(
        answers[1],
        serde_json::json!({"type": "ok", "value": [["r", 1, [10]], ["append", 1, 11], ["append", 2, 20]]})
    );
    assert_eq!(
        answers[2],
        serde_json::json!({"type": "ok", "value": [["r", 1, [10, 11]], ["r", 2, [20]], ["r", 3, []]]})
    );
    assert_eq!(answers[3]["type"], "fail");
    assert_eq!(answers[4]["type"], "fail");
}

#[test]
fn clear_errors_for_bad_flags_and_unreachable_pd() {
    let out = strata()
        .args(["pd", "--data-dir", "/tmp/x", "--max-replicas", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max-replicas"));

    let out = strata().args(["kv", "--pd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = strata()
        .args([
            "kv",
            "--pd",
            "x",
            "--data-dir",
            "/tmp/x",
            "--gc-interval",
            "0s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than 0"));
    let out = strata()
        .args(["pd", "--data-dir", "/tmp/x", "--gc-life-time", "500ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 2s"));
    let out = strata()
        .args(["bench", "txn", "--workload", "multi", "--accounts", "10"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--accounts must be at least"));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s");
    let out = strata()
        .args([
            "kv",
            "--pd",
            "127.0.0.1:1",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--pd-timeout",
            "1s",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach PD at 127.0.0.1:1"), "{err}");

    let out = strata()
        .args(["ctl", "--pd", "127.0.0.1:1", "--timeout", "1s", "stores"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach PD"));
}

#[test]
fn refuses_foreign_and_corrupted_data() {
    let a = tempfile::tempdir().unwrap();
    let mut pd_a = start_pd(a.path());
    let mut store = start_store(a.path(), &pd_a.addr, 0);
    store.terminate();
    pd_a.terminate();

    // The store's directory belongs to cluster A; a new PD is cluster B.
    let b = tempfile::tempdir().unwrap();
    let pd_b = start_pd(b.path());
    let data = a.path().join("store-0");
    let out = strata()
        .args([
            "kv",
            "--pd",
            &pd_b.addr,
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to cluster"), "{err}");
    drop(pd_b);

    // A corrupted PD state file is refused, and left as it was.
    let state = a.path().join("pd").join("pd.state");
    let mut bytes = std::fs::read(&state).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x55;
    std::fs::write(&state, &bytes).unwrap();
    let out = strata()
        .args([
            "pd",
            "--data-dir",
            a.path().join("pd").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupted PD state"), "{err}");
    assert_eq!(std::fs::read(&state).unwrap(), bytes);
}

#[test]
fn tso_keeps_increasing_across_a_pd_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tso = |pd: &str| -> u64 {
        let (code, out, err) = ctl(pd, &["tso", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["ts"].as_u64().unwrap()
    };
    let mut pd = start_pd(dir.path());
    let a = tso(&pd.addr);
    let b = tso(&pd.addr);
    assert!(b > a);
    pd.terminate();
    let pd = start_pd(dir.path());
    let c = tso(&pd.addr);
    assert!(c > b, "{c} after restart is not above {b}");
}

#[test]
fn pd_and_stores_serve_prometheus_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let pd = start_pd(dir.path());
    let data = dir.path().join("s");
    let store = common::Proc::start(&[
        "kv",
        "--pd",
        &pd.addr,
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--status",
        "127.0.0.1:0",
    ]);
    let status = store
        .http
        .clone()
        .expect("the store prints its status address");
    assert_eq!(ctl(&pd.addr, &["raw", "put", "m", "1"]).0, 0);
    let kv = common::http_get_text(&status, "/metrics");
    assert!(
        kv.contains("strata_kv_requests_total{type=\"raw_put\"} 1"),
        "{kv}"
    );
    assert!(kv.contains("strata_raft_proposals_total"), "{kv}");
    assert!(kv.contains("strata_store_regions"), "{kv}");
    let pd_http = pd.http.clone().unwrap();
    let pdm = common::http_get_text(&pd_http, "/metrics");
    assert!(
        pdm.contains("strata_pd_requests_total{method=\"get_region\"}"),
        "{pdm}"
    );
    assert!(pdm.contains("strata_pd_regions 1"), "{pdm}");
    assert!(pdm.contains("strata_pd_stores{state=\"Up\"} 1"), "{pdm}");
}

#[test]
fn ctl_scheduling_commands_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 3);
    let pd = cluster.pd.addr.clone();
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });

    // Schedulers pause and resume, durably listed; unknown names are refused.
    let (code, out, _) = ctl(&pd, &["scheduler", "pause", "balance-leader"]);
    assert_eq!(code, 0);
    assert!(out.contains("balance-leader   paused"), "{out}");
    let (code, out, _) = ctl(&pd, &["scheduler", "list", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[1],
        serde_json::json!({"name": "balance-leader", "paused": true})
    );
    assert_eq!(ctl(&pd, &["scheduler", "resume", "balance-leader"]).0, 0);
    let (code, out, _) = ctl(&pd, &["scheduler", "pause", "hot-region"]);
    assert_eq!(code, 0);
    assert!(out.contains("hot-region       paused"), "{out}");
    assert_eq!(ctl(&pd, &["scheduler", "resume", "hot-region"]).0, 0);
    let (code, _, err) = ctl(&pd, &["scheduler", "pause", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown scheduler"), "{err}");

    // A leader transfer goes through PD to the Region's leader.
    let regions = common::http_get(&http, "/api/v1/regions");
    let region = regions["regions"][0]["id"].as_u64().unwrap();
    let leader = regions["regions"][0]["leader_store_id"].as_u64().unwrap();
    let target = regions["regions"][0]["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["store_id"].as_u64().unwrap())
        .find(|s| *s != leader)
        .unwrap();
    let (code, _, err) = ctl(
        &pd,
        &["transfer-leader", &region.to_string(), &target.to_string()],
    );
    assert_eq!(code, 0, "{err}");
    wait_for("the leader to move", Duration::from_secs(30), || {
        common::http_get(&http, "/api/v1/regions")["regions"][0]["leader_store_id"].as_u64()
            == Some(target)
    });
    let (code, _, err) = ctl(&pd, &["transfer-leader", &region.to_string(), "999"]);
    assert_ne!(code, 0);
    assert!(err.contains("has no voter on store 999"), "{err}");
    assert_eq!(ctl(&pd, &["operators"]).0, 0);

    // Decommissioning refuses to leave fewer stores than replicas.
    let (code, _, err) = ctl(&pd, &["store", "delete", &leader.to_string()]);
    assert_ne!(code, 0);
    assert!(err.contains("fewer than max-replicas"), "{err}");
    let (code, _, err) = ctl(&pd, &["store", "delete", "999"]);
    assert_ne!(code, 0);
    assert!(err.contains("999"), "{err}");
    let (code, out, _) = ctl(&pd, &["stores", "--json"]);
    assert_eq!(code, 0);
    assert!(out.matches("\"Up\"").count() == 3, "{out}");

    // Split sizes must be positive sizes.
    for bad in ["0", "12XB"] {
        let out = strata()
            .args([
                "kv",
                "--pd",
                &pd,
                "--data-dir",
                "/tmp/never",
                "--region-split-size",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--region-split-size {bad}");
    }
}
