//! `strata ctl`: inspect and operate a running cluster.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand};
use client::pd_client::{PdClient, RegionRoute, RpcPdClient};
use client::{ClientOptions, RawClient, TxnClient};
use protocol::kvrpcpb::KvPair;
use protocol::metapb::PeerRole;
use serde_json::{json, Value};

use super::parse_duration;

/// Flags of `strata ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// PD's gRPC address.
    #[arg(
        long,
        value_name = "HOST:PORT",
        global = true,
        default_value = "127.0.0.1:2379"
    )]
    pub pd: String,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Keys and values are hex, in arguments and output.
    #[arg(long, global = true)]
    pub hex: bool,
    /// Give up after this long.
    #[arg(long, value_name = "DURATION", global = true, default_value = "20s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// What `strata ctl` does.
#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// List stores with their state and Region and leader counts.
    Stores,
    /// Store administration.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Move the leader of REGION to its voter on STORE.
    TransferLeader { region: u64, store: u64 },
    /// List PD's pending operators.
    Operators,
    /// List, pause or resume PD's schedulers.
    #[command(subcommand)]
    Scheduler(SchedulerCommand),
    /// List Regions with their ranges, epochs, peers and leaders.
    Regions,
    /// Print a fresh timestamp from PD's timestamp oracle.
    Tso,
    /// Split the Region holding KEY so that a Region starts at KEY, and
    /// print the Regions that cover the old one.
    Split {
        key: String,
        /// KEY is a transactional key (default: a raw key).
        #[arg(long)]
        txn: bool,
    },
    /// Raw key-value operations.
    #[command(subcommand)]
    Raw(RawCommand),
    /// Transactional operations, each in a transaction of its own
    /// (snapshot isolation; the transactional key space is separate from
    /// the raw one).
    #[command(subcommand)]
    Txn(TxnCommand),
    /// Garbage collection of old versions.
    #[command(subcommand)]
    Gc(GcCommand),
}

/// Garbage collection of old versions.
#[derive(Subcommand, Debug)]
pub enum GcCommand {
    /// Print PD's GC safe point (reads and transactions older than it
    /// fail; stores remove versions only older reads could see) and the
    /// life time it trails now by.
    Status,
}

/// Transactional operations.
#[derive(Subcommand, Debug)]
pub enum TxnCommand {
    /// Print the value of KEY as of now (exit code 1 if it does not exist).
    Get { key: String },
    /// Set KEY to VALUE, and more KEY VALUE pairs, in one transaction.
    Put {
        key: String,
        value: String,
        /// More KEY VALUE pairs.
        more: Vec<String>,
    },
    /// Remove the KEYs in one transaction.
    Delete {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Print the pairs in [START, END) as of now; an empty END means the
    /// end of the key space.
    Scan {
        start: String,
        #[arg(default_value = "")]
        end: String,
        /// Print at most N pairs (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Run transactions read from stdin, one JSON line each, as adya's
    /// `run exec` sends them (list-append: ["append", k, v], ["r", k, null]),
    /// answering ok / fail / info per line on stdout.
    Exec {
        /// Lists live under this prefix + the key: give each adya run a
        /// prefix of its own, or it reads the lists an earlier run left.
        #[arg(long, default_value = "adya/")]
        prefix: String,
    },
}

/// Store administration.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Decommission store ID: it turns Offline, PD moves every replica
    /// away, then it is Tombstone and can be stopped.
    Delete { id: u64 },
}

/// PD's schedulers (balance-region, balance-leader, hot-region).
#[derive(Subcommand, Debug)]
pub enum SchedulerCommand {
    /// List the schedulers and whether each is paused.
    List,
    /// Stop a scheduler from creating operators.
    Pause { name: String },
    /// Let a paused scheduler run again.
    Resume { name: String },
}

/// Raw key-value operations.
#[derive(Subcommand, Debug)]
pub enum RawCommand {
    /// Print the value of KEY (exit code 1 if it does not exist).
    Get { key: String },
    /// Set KEY to VALUE.
    Put { key: String, value: String },
    /// Remove KEY.
    Delete { key: String },
    /// Print the pairs in [START, END); an empty END means the end of the key space.
    Scan {
        start: String,
        #[arg(default_value = "")]
        end: String,
        /// Print at most N pairs (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

struct Codec {
    hex: bool,
}

impl Codec {
    fn decode(&self, s: &str) -> anyhow::Result<Vec<u8>> {
        if self.hex {
            hex::decode(s).map_err(|e| anyhow!("{s:?} is not valid hex: {e}"))
        } else {
            Ok(s.as_bytes().to_vec())
        }
    }

    fn encode(&self, b: &[u8]) -> String {
        if self.hex {
            hex::encode(b)
        } else {
            String::from_utf8_lossy(b).into_owned()
        }
    }
}

fn role(r: i32) -> &'static str {
    if r == PeerRole::Learner as i32 {
        "Learner"
    } else {
        "Voter"
    }
}

fn fmt_time(ms: u64) -> String {
    if ms == 0 {
        return "never".into();
    }
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Runs one ctl command.
pub async fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let codec = Codec { hex: args.hex };
    let pd = Arc::new(
        RpcPdClient::connect(&args.pd, args.timeout.min(Duration::from_secs(5)))
            .await
            .context("cannot connect to the cluster")?,
    );
    match args.command {
        CtlCommand::Stores => stores(&pd, args.json).await,
        CtlCommand::Regions => regions(&pd, args.json).await,
        CtlCommand::Store(StoreCommand::Delete { id }) => {
            pd.delete_store(id).await?;
            if args.json {
                println!("{}", json!({ "store_id": id, "state": "Offline" }));
            } else {
                println!("store {id} is Offline; PD is moving its replicas away (watch `strata ctl stores`)");
            }
            Ok(ExitCode::SUCCESS)
        }
        CtlCommand::TransferLeader { region, store } => {
            pd.transfer_leader(region, store).await?;
            print_ok(args.json);
            Ok(ExitCode::SUCCESS)
        }
        CtlCommand::Operators => operators(&pd, args.json).await,
        CtlCommand::Scheduler(cmd) => scheduler(&pd, cmd, args.json).await,
        CtlCommand::Tso => {
            let ts = pd.tso(1).await?;
            let physical = pd::tso::physical_of(ts);
            let logical = ts & ((1 << pd::tso::LOGICAL_BITS) - 1);
            if args.json {
                println!(
                    "{}",
                    json!({ "ts": ts, "physical_ms": physical, "logical": logical })
                );
            } else {
                println!(
                    "{ts}\t(physical {} ms, logical {logical})",
                    fmt_time(physical)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CtlCommand::Split { key, txn } => {
            let key = codec.decode(&key)?;
            let regions = if txn {
                TxnClient::new(pd, client_options(args.timeout))
                    .split_region(&key)
                    .await?
            } else {
                raw_client(pd, args.timeout).split_region(key).await?
            };
            let routes: Vec<RegionRoute> = regions
                .into_iter()
                .map(|region| RegionRoute {
                    region,
                    leader: None,
                })
                .collect();
            print_regions(&routes, args.json)?;
            Ok(ExitCode::SUCCESS)
        }
        CtlCommand::Raw(cmd) => {
            let client = raw_client(pd, args.timeout);
            raw(&client, cmd, &codec, args.json).await
        }
        CtlCommand::Gc(GcCommand::Status) => {
            let gc = pd.gc_status().await?;
            let at = |ts: u64| fmt_time(pd::tso::physical_of(ts));
            if args.json {
                let services: Vec<_> = gc
                    .services
                    .iter()
                    .map(|s| json!({ "service_id": s.service_id, "safe_point": s.safe_point, "expires_in_ms": s.expires_in_ms }))
                    .collect();
                println!(
                    "{}",
                    json!({
                        "safe_point": gc.safe_point,
                        "safe_point_ms": pd::tso::physical_of(gc.safe_point),
                        "target": gc.target,
                        "life_time_ms": gc.life_time_ms,
                        "services": services,
                    })
                );
            } else {
                println!("safe point {}\t({})", gc.safe_point, at(gc.safe_point));
                println!("target     {}\t({})", gc.target, at(gc.target));
                println!(
                    "life time  {}",
                    humantime::format_duration(Duration::from_millis(gc.life_time_ms))
                );
                for s in &gc.services {
                    println!(
                        "service    {}\t({})\t{}",
                        s.safe_point,
                        at(s.safe_point),
                        s.service_id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CtlCommand::Txn(cmd) => {
            let client = TxnClient::new(pd, client_options(args.timeout));
            txn(&client, cmd, &codec, args.json).await
        }
    }
}

async fn txn(
    client: &TxnClient,
    cmd: TxnCommand,
    codec: &Codec,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        TxnCommand::Get { key } => {
            let v = client.begin().await?.get(&codec.decode(&key)?).await?;
            print_value(&key, v.as_deref(), codec, as_json)
        }
        TxnCommand::Put { key, value, more } => {
            if more.len() % 2 != 0 {
                return Err(anyhow!(
                    "KEY VALUE pairs expected: {} has no value",
                    more[more.len() - 1]
                ));
            }
            let mut t = client.begin().await?;
            t.put(codec.decode(&key)?, codec.decode(&value)?);
            for pair in more.chunks(2) {
                t.put(codec.decode(&pair[0])?, codec.decode(&pair[1])?);
            }
            let commit_ts = t.commit().await?;
            print_committed(commit_ts, as_json);
            Ok(ExitCode::SUCCESS)
        }
        TxnCommand::Delete { keys } => {
            let mut t = client.begin().await?;
            for k in &keys {
                t.delete(codec.decode(k)?);
            }
            let commit_ts = t.commit().await?;
            print_committed(commit_ts, as_json);
            Ok(ExitCode::SUCCESS)
        }
        TxnCommand::Exec { prefix } => super::txn_exec::run(client, &prefix).await,
        TxnCommand::Scan { start, end, limit } => {
            let t = client.begin().await?;
            let pairs = t
                .scan(&codec.decode(&start)?, &codec.decode(&end)?, limit)
                .await?;
            print_pairs(&pairs, codec, as_json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_committed(commit_ts: u64, as_json: bool) {
    if as_json {
        println!("{}", json!({ "ok": true, "commit_ts": commit_ts }));
    } else {
        println!("OK (committed at {commit_ts})");
    }
}

/// Prints a looked-up value; exit code 1 if there is none.
fn print_value(
    key: &str,
    v: Option<&[u8]>,
    codec: &Codec,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    if as_json {
        println!(
            "{}",
            json!({ "key": key, "value": v.map(|v| codec.encode(v)) })
        );
    } else if let Some(v) = v {
        println!("{}", codec.encode(v));
    } else {
        eprintln!("key not found");
    }
    Ok(if v.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_pairs(pairs: &[KvPair], codec: &Codec, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let list: Vec<Value> = pairs
            .iter()
            .map(|p| json!({ "key": codec.encode(&p.key), "value": codec.encode(&p.value) }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for p in pairs {
            println!("{}\t{}", codec.encode(&p.key), codec.encode(&p.value));
        }
    }
    Ok(())
}

fn client_options(timeout: Duration) -> ClientOptions {
    ClientOptions {
        timeout,
        ..ClientOptions::default()
    }
}

fn raw_client(pd: Arc<RpcPdClient>, timeout: Duration) -> RawClient {
    RawClient::new(pd, client_options(timeout))
}

async fn operators(pd: &RpcPdClient, as_json: bool) -> anyhow::Result<ExitCode> {
    let ops = pd.operators().await?;
    if as_json {
        let list: Vec<Value> = ops
            .iter()
            .map(|o| json!({ "region_id": o.region_id, "kind": o.kind, "description": o.description, "created_ms": o.created_ms }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "count": list.len(), "operators": list }))?
        );
    } else if ops.is_empty() {
        println!("no pending operators");
    } else {
        println!("{:<8} {:<22} STEPS", "REGION", "KIND");
        for o in &ops {
            println!("{:<8} {:<22} {}", o.region_id, o.kind, o.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn scheduler(
    pd: &RpcPdClient,
    cmd: SchedulerCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (name, paused) = match &cmd {
        SchedulerCommand::List => ("", false),
        SchedulerCommand::Pause { name } => (name.as_str(), true),
        SchedulerCommand::Resume { name } => (name.as_str(), false),
    };
    let list = pd.set_scheduler(name, paused).await?;
    if as_json {
        let v: Vec<Value> = list
            .iter()
            .map(|s| json!({ "name": s.name, "paused": s.paused }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for s in &list {
            let state = if s.paused { "paused" } else { "running" };
            println!("{:<16} {state}", s.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn stores(pd: &RpcPdClient, as_json: bool) -> anyhow::Result<ExitCode> {
    let resp = pd.all_stores().await?;
    if as_json {
        let list: Vec<Value> = resp
            .stores
            .iter()
            .zip(&resp.statuses)
            .map(|(s, st)| {
                json!({
                    "id": s.id, "address": s.address, "state": st.state,
                    "region_count": st.region_count, "leader_count": st.leader_count,
                    "last_heartbeat_ms": st.last_heartbeat_ms, "used_size": st.used_size,
                    "read_qps": st.read_qps, "write_qps": st.write_qps,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "count": list.len(), "stores": list }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6} {:<22} {:<13} {:>7} {:>7} {:>12} {:>8} {:>8}  LAST HEARTBEAT",
        "ID", "ADDRESS", "STATE", "REGIONS", "LEADERS", "USED", "READ/S", "WRITE/S"
    );
    for (s, st) in resp.stores.iter().zip(&resp.statuses) {
        println!(
            "{:<6} {:<22} {:<13} {:>7} {:>7} {:>12} {:>8} {:>8}  {}",
            s.id,
            s.address,
            st.state,
            st.region_count,
            st.leader_count,
            st.used_size,
            st.read_qps,
            st.write_qps,
            fmt_time(st.last_heartbeat_ms)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn regions(pd: &RpcPdClient, as_json: bool) -> anyhow::Result<ExitCode> {
    let routes = pd.scan_regions(vec![], vec![], 0).await?;
    print_regions(&routes, as_json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_regions(routes: &[RegionRoute], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let list: Vec<Value> = routes
            .iter()
            .map(|r| {
                let e = r.region.region_epoch.clone().unwrap_or_default();
                json!({
                    "id": r.region.id,
                    "start_key": hex::encode_upper(&r.region.start_key),
                    "end_key": hex::encode_upper(&r.region.end_key),
                    "epoch": { "conf_ver": e.conf_ver, "version": e.version },
                    "peers": r.region.peers.iter().map(|p| json!({"id": p.id, "store_id": p.store_id, "role": role(p.role)})).collect::<Vec<_>>(),
                    "leader_store_id": r.leader.as_ref().map(|l| l.store_id),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "count": list.len(), "regions": list }))?
        );
        return Ok(());
    }
    println!(
        "{:<8} {:<20} {:<20} {:<9} {:<8} PEERS (id@store)",
        "ID", "START", "END", "EPOCH", "LEADER"
    );
    for r in routes {
        let e = r.region.region_epoch.clone().unwrap_or_default();
        let key = kv::keys::fmt_region_key;
        let peers: Vec<String> = r
            .region
            .peers
            .iter()
            .map(|p| {
                let learner = if p.role == PeerRole::Learner as i32 {
                    "(learner)"
                } else {
                    ""
                };
                format!("{}@{}{}", p.id, p.store_id, learner)
            })
            .collect();
        println!(
            "{:<8} {:<20} {:<20} {:<9} {:<8} {}",
            r.region.id,
            key(&r.region.start_key),
            key(&r.region.end_key),
            format!("{}/{}", e.conf_ver, e.version),
            r.leader
                .as_ref()
                .map(|l| l.store_id.to_string())
                .unwrap_or_else(|| "?".into()),
            peers.join(" ")
        );
    }
    Ok(())
}

async fn raw(
    client: &RawClient,
    cmd: RawCommand,
    codec: &Codec,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        RawCommand::Get { key } => {
            let v = client.get(codec.decode(&key)?).await?;
            print_value(&key, v.as_deref(), codec, as_json)
        }
        RawCommand::Put { key, value } => {
            client
                .put(codec.decode(&key)?, codec.decode(&value)?)
                .await?;
            print_ok(as_json);
            Ok(ExitCode::SUCCESS)
        }
        RawCommand::Delete { key } => {
            client.delete(codec.decode(&key)?).await?;
            print_ok(as_json);
            Ok(ExitCode::SUCCESS)
        }
        RawCommand::Scan { start, end, limit } => {
            let pairs = client
                .scan(codec.decode(&start)?, codec.decode(&end)?, limit)
                .await?;
            print_pairs(&pairs, codec, as_json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_ok(as_json: bool) {
    if as_json {
        println!("{}", json!({ "ok": true }));
    } else {
        println!("OK");
    }
}
