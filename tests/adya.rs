//! History check with an independent checker: adya (an Elle-style
//! isolation checker) generates a list-append workload, runs it against
//! PD and three stores (as processes) while Regions split, leaders move and
//! a store is SIGKILLed and restarted, and checks the recorded history
//! against snapshot isolation: no G0, G1a/b/c, G-single, lost update or
//! incompatible order. Write skew (G2-item) is allowed under snapshot
//! isolation, so it is not checked for.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adya::gen::{GenOpts, TxnOp};
use adya::run::{Client, Outcome, RunOpts};
use adya::{check, History, Opts, Valid, Workload};
use client::Error;
use client::{ClientOptions, TxnClient};
use common::{voters_per_region, wait_for, Cluster};

fn list_key(k: i64) -> Vec<u8> {
    format!("adya/{k:08}").into_bytes()
}

/// One adya process: runs each transaction through a `TxnClient`.
struct Strata {
    rt: tokio::runtime::Handle,
    client: TxnClient,
}

async fn run_txn(client: &TxnClient, ops: &[TxnOp]) -> Result<Vec<Option<Vec<i64>>>, Error> {
    let mut t = client.begin().await?;
    let mut reads = Vec::with_capacity(ops.len());
    for op in ops {
        let (TxnOp::Append(k, _) | TxnOp::Read(k) | TxnOp::Write(k, _)) = op;
        let key = list_key(*k);
        let mut list: Vec<i64> = match t.get(&key).await? {
            Some(v) => serde_json::from_slice(&v).expect("stored lists are JSON"),
            None => Vec::new(),
        };
        match op {
            TxnOp::Append(_, v) => {
                list.push(*v);
                t.put(key, serde_json::to_vec(&list).expect("a list encodes"));
                reads.push(None);
            }
            TxnOp::Read(_) => reads.push(Some(list)),
            TxnOp::Write(..) => panic!("list-append has no writes"),
        }
    }
    t.commit().await?;
    Ok(reads)
}

impl Client for Strata {
    fn txn(&mut self, ops: &[TxnOp]) -> Outcome {
        match self.rt.block_on(run_txn(&self.client, ops)) {
            Ok(reads) => Outcome::Ok(reads),
            Err(Error::TxnUndetermined(e)) => Outcome::Info(e),
            Err(e) => Outcome::Fail(e.to_string()),
        }
    }
}

#[test]
fn list_append_history_is_snapshot_isolated_under_faults() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 3);
    let http = cluster.http();
    wait_for("3 voters", Duration::from_secs(60), || {
        voters_per_region(&http) == vec![3]
    });
    let opts = ClientOptions {
        timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    };
    let client = rt
        .block_on(TxnClient::connect(&cluster.pd.addr, opts))
        .unwrap();

    // Faults while the workload runs.
    let done = Arc::new(AtomicBool::new(false));
    let faults = {
        let (client, done, handle) = (client.clone(), done.clone(), rt.handle().clone());
        let (pd, dir, http) = (cluster.pd.addr.clone(), cluster.dir.clone(), http.clone());
        let mut victim = cluster.stores.remove(2);
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(700));
                round += 1;
                let key = list_key((round * 7 % 40) as i64);
                let _ = handle.block_on(client.split_region(&key));
                if round % 3 == 0 {
                    common::move_leaders(&pd, &http);
                }
                if round == 6 {
                    victim.kill();
                }
                if round == 12 {
                    victim = common::start_store(&dir, &pd, 2);
                }
            }
            victim
        })
    };

    let connect = || -> Result<Box<dyn Client>, adya::Error> {
        Ok(Box::new(Strata {
            rt: rt.handle().clone(),
            client: client.clone(),
        }))
    };
    let run_opts = RunOpts {
        processes: 6,
        txns: 2500,
        time_limit: Some(Duration::from_secs(60)),
        gen: GenOpts::default(),
        seed: 7,
        nemesis: None,
    };
    let (history, stats) = adya::run::run(&connect, &run_opts).unwrap();
    done.store(true, Ordering::Relaxed);
    cluster.stores.push(faults.join().unwrap());
    eprintln!(
        "adya: {} ok, {} fail, {} info",
        stats.ok, stats.fail, stats.info
    );
    assert!(stats.ok > 300, "too few transactions committed: {stats:?}");

    let history = History::parse(&history).unwrap();
    let report = check(
        &history,
        Workload::ListAppend,
        &Opts {
            models: vec!["snapshot-isolation".into()],
            ..Opts::default()
        },
    );
    if report.valid == Valid::False {
        for (kind, list) in &report.anomalies {
            for a in list.iter().take(2) {
                eprintln!("{kind}: {}", a.explanation);
            }
        }
    }
    assert_ne!(
        report.valid,
        Valid::False,
        "anomalies: {:?}",
        report.anomaly_types
    );
    eprintln!("adya: valid = {:?}", report.valid);
}
