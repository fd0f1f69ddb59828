//! Deterministic cluster simulation.
//!
//! Three stores (the real `Store` core over the in-memory engine) and PD's
//! real `Cluster` run in one thread. A seeded RNG decides everything that
//! varies: which client operation is issued where, Region splits at random
//! keys, message delays, drops and duplicates, partitions, and store
//! crashes and restarts, and when each store's writer lands the batches
//! its rounds hand it (a store goes on stepping and starting rounds for
//! other Regions meanwhile, as with its writer thread). RocksDB's IO is not
//! simulated: a crash keeps the in-memory engine (every write to it is
//! durable) and loses everything else, batches not yet written included.
//!
//! Checked after every step: at most one leader per term per Region; no
//! two Regions in PD's routing table overlap; no two initialized peers on a
//! store overlap; every key belongs to exactly one Region (among the
//! Regions the stores hold at the newest version covering the key). At the
//! end, PD's table covers the whole key space.
//! Checked on the history (every read against every write, with invocation
//! and completion times): no read returns a value that was never written,
//! or one that an acknowledged write had overwritten before the read began
//! (so no acknowledged write is lost and reads are linearizable), and reads
//! never go back in time. At the end, after healing, every replica holds
//! the same data.
//!
//! `cargo test --test simulation` runs 50 seeds. Environment:
//! `STRATA_SIM_SEEDS=N` runs N seeds, `STRATA_SIM_SEED=S` replays one seed,
//! `STRATA_SIM_STEPS=N` changes the length of a run. A failing seed prints
//! itself and replays exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};

use kv::engine::{Cf, Engine, MemEngine, Snapshot as _};
use kv::raftstore::{
    bootstrap_region, first_region, PdTask, ReadCommand, RoundWrite, SplitCommand, Store,
    StoreConfig, WriteCommand, MAX_WRITES_IN_FLIGHT,
};
use pd::meta_store::MemMetaStore;
use pd::{Cluster, ClusterConfig};
use protocol::errorpb::region_error::Kind;
use protocol::metapb::{self, PeerRole};
use protocol::pdpb::{ChangePeerType, RegionHeartbeatRequest, StoreStats};
use protocol::raft_cmdpb::{request::Cmd, ColumnFamily, PutRequest, Request};
use protocol::raft_serverpb::RaftMessage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stores of the small cluster (the directed tests); the seeded runs add
/// a fourth, so PD also balances and replaces replicas.
const STORES: u64 = 3;
const KEYS: [&[u8]; 8] = [b"a", b"d", b"g", b"k", b"n", b"q", b"u", b"x"];
/// Write tokens at or above this are splits, not client operations.
const SPLIT_TOKEN: u64 = 1 << 40;
/// Steps between ticks of every store.
const TICK_EVERY: u64 = 5;
/// Milliseconds of PD time per step.
const MS_PER_STEP: u64 = 10;
const REGION_ID: u64 = 1;

fn store_config() -> StoreConfig {
    StoreConfig {
        election_ticks: 10,
        heartbeat_ticks: 2,
        pd_heartbeat_ticks: 4,
        raft_log_gc_ticks: 3,
        raft_log_gc_threshold: 16,
        raft_log_gc_max_lag: 40,
        read_timeout_ticks: 20,
        ..StoreConfig::default()
    }
}

/// One client operation of the history.
#[derive(Debug, Clone)]
struct Op {
    key: &'static [u8],
    kind: OpKind,
    invoked: u64,
    /// Completion step; `None` while pending or when the outcome is unknown.
    completed: Option<u64>,
    /// The value written, or the value read (`None` = absent).
    value: Option<u64>,
    ok: bool,
    /// The outcome can never be known (the store crashed, or said so).
    unknown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Put,
    Get,
}

struct Node {
    store: Option<Store<MemEngine>>,
    engine: MemEngine,
    /// Tokens this incarnation of the store owes an answer.
    pending: Vec<u64>,
    /// Batches handed to the store's writer and not written yet.
    writes: VecDeque<RoundWrite>,
}

struct InFlight {
    at: u64,
    seq: u64,
    msg: RaftMessage,
    snapshot: bool,
}

struct Sim {
    seed: u64,
    stores: u64,
    rng: ChaCha8Rng,
    step: u64,
    nodes: Vec<Node>,
    pd: Cluster<MemMetaStore>,
    net: Vec<InFlight>,
    net_seq: u64,
    /// Stores cut off from everyone, until the step given.
    isolated: BTreeMap<u64, u64>,
    /// Links cut in both directions, as (lower, higher) store ids.
    cut_links: BTreeSet<(u64, u64)>,
    /// Messages take 1 to this many steps.
    max_delay: u64,
    ops: Vec<Op>,
    next_value: u64,
    leaders: HashMap<(u64, u64), u64>,
    /// Digest of everything that happened, to prove determinism.
    trace: u64,
    crashes: u64,
    partitions: u64,
    snapshots: u64,
    /// Splits proposed and applied (on their leader).
    splits_proposed: u64,
    splits_applied: u64,
    /// Operator steps PD handed out: (add, remove, transfer leader).
    steps: (u64, u64, u64),
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x100000001b3).rotate_left(17)
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim::with_stores(seed, STORES)
    }

    fn with_stores(seed: u64, stores: u64) -> Sim {
        // Stores count as Down after 2 s of PD time (200 steps), so a
        // crashed store's replicas are rebuilt elsewhere while it is away.
        let cfg = ClusterConfig {
            store_disconnect_ms: 1000,
            max_store_down_ms: 2000,
            ..ClusterConfig::default()
        };
        let mut pd = Cluster::open(MemMetaStore::default(), cfg, 0, 1).unwrap();
        let mut nodes = Vec::new();
        for id in 1..=stores {
            let store = metapb::Store {
                id,
                address: format!("sim-{id}"),
                ..Default::default()
            };
            let engine = MemEngine::new();
            if id == 1 {
                // Ids come from PD, as a real first store gets them.
                let region_id = pd.alloc_id().unwrap();
                assert_eq!(region_id, REGION_ID);
                let region = first_region(region_id, pd.alloc_id().unwrap(), 1);
                bootstrap_region(&engine, &region).unwrap();
                pd.bootstrap(store, region).unwrap();
            } else {
                pd.put_store(store).unwrap();
            }
            nodes.push(Node {
                store: None,
                engine,
                pending: Vec::new(),
                writes: VecDeque::new(),
            });
        }
        let mut sim = Sim {
            seed,
            stores,
            rng: ChaCha8Rng::seed_from_u64(seed),
            step: 0,
            nodes,
            pd,
            net: Vec::new(),
            net_seq: 0,
            isolated: BTreeMap::new(),
            cut_links: BTreeSet::new(),
            max_delay: 8,
            ops: Vec::new(),
            next_value: 1,
            leaders: HashMap::new(),
            trace: 0,
            crashes: 0,
            partitions: 0,
            snapshots: 0,
            splits_proposed: 0,
            splits_applied: 0,
            steps: (0, 0, 0),
        };
        for id in 1..=stores {
            sim.start(id);
        }
        sim
    }

    fn start(&mut self, id: u64) {
        let seed = self.rng.random();
        let node = &mut self.nodes[(id - 1) as usize];
        node.store = Some(Store::open(node.engine.clone(), id, store_config(), seed).unwrap());
    }

    fn crash(&mut self, id: u64) {
        let node = &mut self.nodes[(id - 1) as usize];
        node.store = None;
        node.writes.clear();
        self.crashes += 1;
        // Whatever it owed an answer may or may not have happened.
        for t in node.pending.drain(..) {
            self.ops[t as usize].unknown = true;
        }
        self.trace = mix(self.trace, 1000 + id);
    }

    fn alive(&self) -> Vec<u64> {
        (1..=self.stores)
            .filter(|id| self.nodes[(*id - 1) as usize].store.is_some())
            .collect()
    }

    fn fail(&self, what: String) -> ! {
        panic!(
            "simulation seed {} failed at step {}: {what}\nreplay with STRATA_SIM_SEED={} cargo test --test simulation",
            self.seed, self.step, self.seed
        );
    }

    /// The store a client would send a request for `key` to: the live
    /// leader of the newest Region holding it, or (as a stale cache would)
    /// sometimes any live store.
    fn pick_target(&mut self, key: &[u8]) -> Option<u64> {
        let alive = self.alive();
        let stale = self.rng.random_bool(0.1);
        match self.leader_for(key) {
            Some((store, _)) if !stale => Some(store),
            _ if alive.is_empty() => None,
            _ => Some(alive[self.rng.random_range(0..alive.len())]),
        }
    }

    /// Issues a random operation to the store a client would pick.
    fn issue_op(&mut self) {
        let key = KEYS[self.rng.random_range(0..KEYS.len())];
        let Some(target) = self.pick_target(key) else {
            return;
        };
        let kind = if self.rng.random_bool(0.5) {
            OpKind::Put
        } else {
            OpKind::Get
        };
        self.issue(target, key, kind);
    }

    /// Issues an operation to store `target`, as a client with a stale
    /// cache might.
    fn issue(&mut self, target: u64, key: &'static [u8], kind: OpKind) {
        let token = self.ops.len() as u64;
        let value = (kind == OpKind::Put).then(|| {
            self.next_value += 1;
            self.next_value
        });
        self.ops.push(Op {
            key,
            kind,
            invoked: self.step,
            completed: None,
            value,
            ok: false,
            unknown: false,
        });
        let node = &mut self.nodes[(target - 1) as usize];
        let Some(store) = node.store.as_mut() else {
            return;
        };
        let Some(region) = store
            .peers()
            .map(|(_, p)| p.region())
            .find(|r| !r.peers.is_empty() && kv::keys::in_range(key, &r.start_key, &r.end_key))
            .cloned()
        else {
            self.ops[token as usize].completed = Some(self.step);
            return;
        };
        let epoch = region.region_epoch.clone().unwrap_or_default();
        node.pending.push(token);
        match kind {
            OpKind::Put => store.propose_write(
                token,
                WriteCommand {
                    region_id: region.id,
                    epoch,
                    gc_safe_point: 0,
                    requests: vec![Request {
                        cmd: Some(Cmd::Put(PutRequest {
                            cf: ColumnFamily::CfDefault as i32,
                            key: key.to_vec(),
                            value: value.unwrap_or_default().to_string().into_bytes(),
                        })),
                    }],
                },
            ),
            OpKind::Get => store.read(
                token,
                ReadCommand {
                    region_id: region.id,
                    epoch,
                    keys: vec![key.to_vec()],
                    range: None,
                },
            ),
        }
        self.trace = mix(self.trace, token * 7 + target);
    }

    /// Asks PD to move a random Region's leader to a random store (PD
    /// refuses when that store holds no voter or an operator is pending).
    fn issue_transfer_leader(&mut self) {
        let regions: Vec<u64> = self
            .pd
            .scan_regions(b"", b"", 0)
            .iter()
            .map(|i| i.region.id)
            .collect();
        let region = regions[self.rng.random_range(0..regions.len())];
        let store = self.rng.random_range(1..=self.stores);
        let ok = self
            .pd
            .transfer_leader(region, store, self.step * MS_PER_STEP)
            .is_ok();
        self.trace = mix(self.trace, region * 13 + store + ok as u64);
    }

    /// Proposes a split of the Region holding a random key at that key,
    /// on that Region's leader, with ids from PD.
    fn issue_split(&mut self) {
        let key = KEYS[self.rng.random_range(0..KEYS.len())];
        let Some((store_id, region)) = self.leader_for(key) else {
            return;
        };
        if region.start_key.as_slice() == key {
            return;
        }
        let ids = self.pd.ask_batch_split(&region, 1).unwrap();
        let token = SPLIT_TOKEN + self.splits_proposed;
        self.splits_proposed += 1;
        let cmd = SplitCommand {
            region_id: region.id,
            epoch: region.region_epoch.clone().unwrap_or_default(),
            split_keys: vec![key.to_vec()],
            ids,
        };
        if let Some(store) = self.nodes[(store_id - 1) as usize].store.as_mut() {
            store.propose_split(token, cmd);
        }
        self.trace = mix(self.trace, token + store_id);
    }

    fn complete(
        &mut self,
        id: u64,
        token: u64,
        ok: bool,
        unknown: bool,
        read: Option<Option<u64>>,
    ) {
        let node = &mut self.nodes[(id - 1) as usize];
        node.pending.retain(|t| *t != token);
        let op = &mut self.ops[token as usize];
        op.completed = Some(self.step);
        op.ok = ok;
        op.unknown = unknown;
        if let Some(v) = read {
            op.value = v;
        }
        self.trace = mix(self.trace, token * 31 + ok as u64);
    }

    fn run_round(&mut self, id: u64) {
        // The writer lands none, some or all of the batches it holds.
        let landing = self.rng.random_range(0..=MAX_WRITES_IN_FLIGHT);
        let node = &mut self.nodes[(id - 1) as usize];
        let Some(store) = node.store.as_mut() else {
            return;
        };
        let mut ran = Ok(());
        for _ in 0..landing {
            let Some(w) = node.writes.pop_front() else {
                break;
            };
            ran = w
                .write_to(&node.engine)
                .map_err(kv::Error::from)
                .and_then(|()| store.write_done());
            if ran.is_err() {
                break;
            }
        }
        if ran.is_ok() {
            ran = store.begin_round().map(|w| node.writes.extend(w));
        }
        if let Err(e) = ran {
            self.fail(format!("store {id} failed: {e}"));
        }
        let out = store.take_output();
        self.snapshots += out.snapshots.len() as u64;
        for m in out.messages {
            self.send(m, false);
        }
        for m in out.snapshots {
            if !self.send(m.clone(), true) {
                self.report_snapshot(&m, false);
            }
        }
        for split in &out.splits {
            if split.token.is_some() {
                self.splits_applied += 1;
            }
        }
        for (token, r) in out.writes {
            if token >= SPLIT_TOKEN {
                continue;
            }
            let unknown = matches!(&r, Err(e) if matches!(e.kind, Some(Kind::ServerIsBusy(_))));
            self.complete(id, token, r.is_ok(), unknown, None);
        }
        for (token, r) in out.reads {
            match r {
                Ok(view) => {
                    let key = self.ops[token as usize].key;
                    let v = view.snapshot.get(Cf::Default, key).unwrap();
                    let v = v.map(|b| String::from_utf8(b).unwrap().parse::<u64>().unwrap());
                    self.complete(id, token, true, false, Some(v));
                }
                Err(_) => self.complete(id, token, false, false, None),
            }
        }
        for t in out.pd_tasks {
            let hb = match t {
                PdTask::RegionHeartbeat(hb) => hb,
                PdTask::ReportSplit(regions) => {
                    if !self.rng.random_bool(0.2) {
                        self.pd.report_batch_split(&regions).unwrap();
                    }
                    continue;
                }
                // Splits here are proposed at random keys, not by size.
                PdTask::SplitCheck(_) => continue,
            };
            if self.rng.random_bool(0.05) {
                continue;
            }
            // Every third Region is hot, so hot-region moves its leader
            // around too (without drawing on the seeded rng).
            let read_qps = if hb.region.id % 3 == 0 { 500 } else { 0 };
            let req = RegionHeartbeatRequest {
                region: Some(hb.region),
                leader: Some(hb.leader),
                pending_peers: hb.pending_peers,
                term: hb.term,
                read_qps,
                ..Default::default()
            };
            let resp = self
                .pd
                .region_heartbeat(req, self.step * MS_PER_STEP)
                .unwrap();
            if let Some(store) = self.nodes[(id - 1) as usize].store.as_mut() {
                if let Some(cp) = resp.change_peer {
                    if cp.change_type == ChangePeerType::RemovePeer as i32 {
                        self.steps.1 += 1;
                    } else {
                        self.steps.0 += 1;
                    }
                    store.change_peer(resp.region_id, &cp).unwrap();
                }
                if let Some(to) = resp.transfer_leader.and_then(|t| t.peer) {
                    self.steps.2 += 1;
                    store.transfer_leader(resp.region_id, &to);
                }
            }
        }
    }

    fn cut(&self, a: u64, b: u64) -> bool {
        let cut_off = |s: u64| {
            self.isolated
                .get(&s)
                .is_some_and(|until| *until > self.step)
        };
        a != b && (cut_off(a) || cut_off(b) || self.cut_links.contains(&(a.min(b), a.max(b))))
    }

    /// The live leader of the newest Region holding `key` (highest
    /// version, then term), with that Region.
    fn leader_for(&self, key: &[u8]) -> Option<(u64, metapb::Region)> {
        let mut best: Option<((u64, u64), u64, metapb::Region)> = None;
        for id in self.alive() {
            let Some(store) = self.nodes[(id - 1) as usize].store.as_ref() else {
                continue;
            };
            for (_, p) in store.peers() {
                let r = p.region();
                if !p.is_leader() || !kv::keys::in_range(key, &r.start_key, &r.end_key) {
                    continue;
                }
                let rank = (version(r), p.term());
                if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
                    best = Some((rank, id, r.clone()));
                }
            }
        }
        best.map(|(_, id, r)| (id, r))
    }

    /// The live leader of the newest Region holding `key`.
    fn leader_store(&self, key: &[u8]) -> Option<u64> {
        self.leader_for(key).map(|(id, _)| id)
    }

    /// Tells a snapshot's sender whether it arrived, as the real transport
    /// does (a lost snapshot is sent again).
    fn report_snapshot(&mut self, msg: &RaftMessage, ok: bool) {
        let from = msg.from_peer.as_ref().map(|p| p.store_id).unwrap_or(0);
        let to_peer = msg.to_peer.as_ref().map(|p| p.id).unwrap_or(0);
        if let Some(store) = self.nodes[(from - 1) as usize].store.as_mut() {
            store.report_snapshot(msg.region_id, to_peer, ok);
        }
    }

    /// Puts a message on the network; false if it is lost at once.
    fn send(&mut self, msg: RaftMessage, snapshot: bool) -> bool {
        let (from, to) = (
            msg.from_peer.as_ref().map(|p| p.store_id).unwrap_or(0),
            msg.to_peer.as_ref().map(|p| p.store_id).unwrap_or(0),
        );
        if self.cut(from, to) || self.rng.random_bool(0.05) {
            return false;
        }
        let copies = if self.rng.random_bool(0.02) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.step + self.rng.random_range(1..=self.max_delay);
            self.net_seq += 1;
            self.net.push(InFlight {
                at,
                seq: self.net_seq,
                msg: msg.clone(),
                snapshot,
            });
        }
        true
    }

    fn deliver(&mut self) {
        let now = self.step;
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.net.len() {
            if self.net[i].at <= now {
                due.push(self.net.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|m| (m.at, m.seq));
        for m in due {
            let to = m.msg.to_peer.as_ref().map(|p| p.store_id).unwrap_or(0);
            let from = m.msg.from_peer.as_ref().map(|p| p.store_id).unwrap_or(0);
            let arrives = !self.cut(from, to) && self.nodes[(to - 1) as usize].store.is_some();
            if m.snapshot {
                self.report_snapshot(&m.msg, arrives);
            }
            if !arrives {
                continue;
            }
            if let Some(store) = self.nodes[(to - 1) as usize].store.as_mut() {
                self.trace = mix(self.trace, m.seq);
                if let Err(e) = store.step(m.msg) {
                    self.fail(format!("store {to} rejected a message: {e}"));
                }
            }
        }
    }

    fn faults(&mut self, chaos: bool) {
        if !chaos {
            return;
        }
        let alive = self.alive();
        if self.rng.random_bool(0.003) && alive.len() > 1 {
            let victim = alive[self.rng.random_range(0..alive.len())];
            self.crash(victim);
        }
        for id in 1..=self.stores {
            if self.nodes[(id - 1) as usize].store.is_none() && self.rng.random_bool(0.01) {
                self.start(id);
                self.trace = mix(self.trace, 2000 + id);
            }
        }
        if self.rng.random_bool(0.003) {
            let victim = self.rng.random_range(1..=self.stores);
            let until = self.step + self.rng.random_range(50..400);
            self.isolated.insert(victim, until);
            self.partitions += 1;
            self.trace = mix(self.trace, 3000 + victim);
        }
    }

    fn check_leaders(&mut self) {
        for id in self.alive() {
            let Some(store) = self.nodes[(id - 1) as usize].store.as_ref() else {
                continue;
            };
            for (region, peer) in store.peers() {
                if !peer.is_leader() {
                    continue;
                }
                let me = peer.meta().id;
                let prev = *self.leaders.entry((*region, peer.term())).or_insert(me);
                if prev != me {
                    self.fail(format!(
                        "two leaders in term {} of region {region}: peers {prev} and {me}",
                        peer.term()
                    ));
                }
            }
        }
    }

    /// No two Regions overlap, in PD or among a store's initialized peers,
    /// and the newest Regions holding any key agree on one Region.
    fn check_regions(&self) {
        let table: Vec<metapb::Region> = self
            .pd
            .scan_regions(b"", b"", 0)
            .into_iter()
            .map(|i| i.region.clone())
            .collect();
        if let Some(w) = table.windows(2).find(|w| !ordered(&w[0], &w[1])) {
            self.fail(format!("PD regions {} and {} overlap", w[0].id, w[1].id));
        }
        let mut all = Vec::new();
        for id in self.alive() {
            let Some(store) = self.nodes[(id - 1) as usize].store.as_ref() else {
                continue;
            };
            let mut mine: Vec<metapb::Region> = store
                .peers()
                .filter(|(_, p)| p.is_initialized())
                .map(|(_, p)| p.region().clone())
                .collect();
            mine.sort_by(|a, b| a.start_key.cmp(&b.start_key));
            if let Some(w) = mine.windows(2).find(|w| !ordered(&w[0], &w[1])) {
                self.fail(format!(
                    "store {id} holds overlapping regions {} and {}",
                    w[0].id, w[1].id
                ));
            }
            all.extend(mine);
        }
        for key in KEYS {
            let holding: Vec<&metapb::Region> = all
                .iter()
                .filter(|r| kv::keys::in_range(key, &r.start_key, &r.end_key))
                .collect();
            let Some(newest) = holding.iter().map(|r| version(r)).max() else {
                continue;
            };
            let ids: BTreeSet<u64> = holding
                .iter()
                .filter(|r| version(r) == newest)
                .map(|r| r.id)
                .collect();
            if ids.len() > 1 {
                self.fail(format!(
                    "key {key:?} belongs to regions {ids:?} at version {newest}"
                ));
            }
        }
    }

    fn one_step(&mut self, chaos: bool, client_load: f64) {
        self.step += 1;
        self.faults(chaos);
        self.deliver();
        if self.step % TICK_EVERY == 0 {
            let now = self.step * MS_PER_STEP;
            for id in self.alive() {
                if let Some(s) = self.nodes[(id - 1) as usize].store.as_mut() {
                    s.tick();
                }
                let stats = StoreStats {
                    store_id: id,
                    ..Default::default()
                };
                self.pd.store_heartbeat(stats, now).unwrap();
            }
        }
        let outstanding = self.nodes.iter().map(|n| n.pending.len()).sum::<usize>();
        if outstanding < 6 && self.rng.random_bool(client_load) {
            self.issue_op();
        }
        if chaos && self.rng.random_bool(0.004) {
            self.issue_split();
        }
        if chaos && self.rng.random_bool(0.004) {
            self.issue_transfer_leader();
        }
        for id in 1..=self.stores {
            self.run_round(id);
        }
        self.check_leaders();
        self.check_regions();
    }

    fn heal(&mut self) {
        self.isolated.clear();
        self.cut_links.clear();
        for id in 1..=self.stores {
            if self.nodes[(id - 1) as usize].store.is_none() {
                self.start(id);
            }
        }
    }
}

fn version(r: &metapb::Region) -> u64 {
    r.region_epoch.as_ref().map(|e| e.version).unwrap_or(0)
}

/// Whether `a` ends at or before `b` starts (`a` sorted first).
fn ordered(a: &metapb::Region, b: &metapb::Region) -> bool {
    !a.end_key.is_empty() && a.end_key <= b.start_key
}

/// Checks every read against the writes of its key (see the module docs).
fn check_history(sim: &Sim) {
    let writes: HashMap<u64, &Op> = sim
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Put)
        .filter_map(|o| o.value.map(|v| (v, o)))
        .collect();
    let acked_before = |key: &[u8], t: u64| -> Vec<&Op> {
        sim.ops
            .iter()
            .filter(|o| {
                o.kind == OpKind::Put && o.ok && o.key == key && o.completed.is_some_and(|c| c < t)
            })
            .collect()
    };
    let reads: Vec<&Op> = sim
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Get && o.ok)
        .collect();
    for r in &reads {
        let done = r.completed.unwrap_or(u64::MAX);
        let overwritten = |w_done: Option<u64>| {
            acked_before(r.key, r.invoked)
                .into_iter()
                .find(|w2| w_done.is_some_and(|d| d < w2.invoked))
        };
        match r.value {
            None => {
                if let Some(w) = acked_before(r.key, r.invoked).first() {
                    sim.fail(format!(
                        "read of {:?} at {} saw nothing, but write {:?} was acknowledged",
                        r.key, r.invoked, w.value
                    ));
                }
            }
            Some(v) => {
                let Some(w) = writes.get(&v) else {
                    sim.fail(format!("read returned {v}, never written"))
                };
                if w.key != r.key || w.invoked > done {
                    sim.fail(format!(
                        "read of {:?} returned {v} from the future or another key",
                        r.key
                    ));
                }
                if w.unknown || !w.ok {
                    // A write with no acknowledgement may still have happened.
                    if !w.unknown && w.completed.is_some() && !w.ok {
                        sim.fail(format!("read returned {v}, whose write was refused"));
                    }
                }
                if let Some(w2) = overwritten(w.completed) {
                    sim.fail(format!(
                        "stale read of {:?} at {}: returned {v}, but {:?} was acknowledged at {:?} after it",
                        r.key, r.invoked, w2.value, w2.completed
                    ));
                }
            }
        }
    }
    // Reads never go back in time: a read that starts after another read
    // finished may not return a write that strictly preceded that read's.
    for a in &reads {
        for b in &reads {
            let (Some(va), Some(vb)) = (a.value, b.value) else {
                continue;
            };
            if a.key != b.key || a.completed.unwrap_or(u64::MAX) >= b.invoked {
                continue;
            }
            let (wa, wb) = (writes[&va], writes[&vb]);
            if wb.completed.is_some_and(|c| c < wa.invoked) {
                sim.fail(format!(
                    "read at {} returned {vb}, older than {va} read before it",
                    b.invoked
                ));
            }
        }
    }
}

/// After healing: for every Region, the replicas that applied the same log
/// hold the same data in its range; PD's table covers the key space.
fn check_replicas(sim: &mut Sim) {
    let mut by_region: BTreeMap<u64, Vec<(u64, u64, Vec<(Vec<u8>, Vec<u8>)>)>> = BTreeMap::new();
    for id in sim.alive() {
        let node = &sim.nodes[(id - 1) as usize];
        let Some(store) = node.store.as_ref() else {
            continue;
        };
        let snap = node.engine.snapshot();
        for (region_id, peer) in store.peers() {
            if !peer.is_initialized() {
                continue;
            }
            let r = peer.region();
            let mut data = Vec::new();
            snap.scan(Cf::Default, &r.start_key, &r.end_key, &mut |k, v| {
                data.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
            by_region
                .entry(*region_id)
                .or_default()
                .push((id, peer.applied_index(), data));
        }
    }
    for (region_id, states) in by_region {
        let Some(max_applied) = states.iter().map(|s| s.1).max() else {
            continue;
        };
        let full: Vec<_> = states.iter().filter(|s| s.1 == max_applied).collect();
        for s in &full[1..] {
            if s.2 != full[0].2 {
                sim.fail(format!(
                    "stores {} and {} applied index {max_applied} of region {region_id} but hold different data",
                    full[0].0, s.0
                ));
            }
        }
    }
    let table = sim.pd.scan_regions(b"", b"", 0);
    let covered = table.first().is_some_and(|f| f.region.start_key.is_empty())
        && table.last().is_some_and(|l| l.region.end_key.is_empty())
        && table
            .windows(2)
            .all(|w| w[0].region.end_key == w[1].region.start_key);
    if !covered {
        let ranges: Vec<_> = table
            .iter()
            .map(|i| {
                (
                    i.region.id,
                    i.region.start_key.clone(),
                    i.region.end_key.clone(),
                )
            })
            .collect();
        sim.fail(format!(
            "PD's regions do not cover the key space: {ranges:?}"
        ));
    }
}

fn run_seed(seed: u64, steps: u64) -> u64 {
    let mut sim = Sim::with_stores(seed, 4);
    for _ in 0..steps {
        sim.one_step(true, 0.3);
    }
    sim.heal();
    // Let the cluster settle, then read every key once more.
    for _ in 0..600 {
        sim.one_step(false, 0.0);
    }
    for _ in 0..(KEYS.len() * 4) {
        sim.issue_op();
        for _ in 0..40 {
            sim.one_step(false, 0.0);
        }
    }
    for _ in 0..200 {
        sim.one_step(false, 0.0);
    }
    check_history(&sim);
    check_replicas(&mut sim);
    let acked = sim.ops.iter().filter(|o| o.ok).count();
    let writes = sim
        .ops
        .iter()
        .filter(|o| o.ok && o.kind == OpKind::Put)
        .count();
    let max_term = sim.leaders.keys().map(|(_, t)| *t).max().unwrap_or(0);
    eprintln!(
        "seed {seed}: {} ops, {acked} acknowledged ({writes} writes), {} unknown, {} leader terms (max {max_term}), {} crashes, {} partitions, {} snapshots, {}/{} splits applied, {} regions, operator steps: {} add/promote, {} remove, {} transfer-leader",
        sim.ops.len(),
        sim.ops.iter().filter(|o| o.unknown).count(),
        sim.leaders.len(),
        sim.crashes,
        sim.partitions,
        sim.snapshots,
        sim.splits_applied,
        sim.splits_proposed,
        sim.pd.scan_regions(b"", b"", 0).len(),
        sim.steps.0,
        sim.steps.1,
        sim.steps.2,
    );
    assert!(writes > 0, "seed {seed}: no write succeeded");
    sim.trace
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Seeds that once failed, run every time: 679 and the rest up to 1970
/// found a write reported as stale although it committed (a leader's
/// proposal queue out of index order after it lost and regained
/// leadership); with splits and scheduling, 333 found an acknowledged write
/// lost (a destroyed uninitialized peer cleared the whole key space), 68 a
/// destroyed peer re-created under its old id, 131 a leader that applied
/// its own removal.
const REGRESSION_SEEDS: &[u64] = &[
    679, 688, 832, 851, 1183, 1305, 1535, 1893, 1970, 333, 68, 131,
];

#[test]
fn seeded_cluster_simulation() {
    let steps = env_u64("STRATA_SIM_STEPS").unwrap_or(3000);
    let seeds: Vec<u64> = match env_u64("STRATA_SIM_SEED") {
        Some(s) => vec![s],
        None => (0..env_u64("STRATA_SIM_SEEDS").unwrap_or(50))
            .chain(REGRESSION_SEEDS.iter().copied())
            .collect(),
    };
    let mut failed = Vec::new();
    for seed in seeds {
        let r = catch_unwind(AssertUnwindSafe(|| run_seed(seed, steps)));
        if r.is_err() {
            eprintln!("simulation seed {seed} FAILED (replay: STRATA_SIM_SEED={seed} cargo test --test simulation)");
            failed.push(seed);
        }
    }
    assert!(failed.is_empty(), "failing seeds: {failed:?}");
}

#[test]
fn a_seed_replays_exactly() {
    let a = run_seed(7, 800);
    let b = run_seed(7, 800);
    assert_eq!(a, b, "the same seed produced two different histories");
}

#[test]
fn replication_reaches_three_voters() {
    let mut sim = Sim::new(1);
    for _ in 0..3000 {
        sim.one_step(false, 0.1);
    }
    let region = sim.pd.region_by_id(REGION_ID).unwrap().region.clone();
    let voters = region
        .peers
        .iter()
        .filter(|p| p.role == PeerRole::Voter as i32)
        .count();
    assert_eq!(voters, 3, "region after 3000 steps: {region:?}");
    // Every store holds a peer with the data.
    for id in 1..=sim.stores {
        let store = sim.nodes[(id - 1) as usize].store.as_ref().unwrap();
        assert!(
            store.peer(REGION_ID).is_some_and(|p| p.is_initialized()),
            "store {id}"
        );
    }
}

/// A leader's lease rests on a follower's promise not to vote for anyone
/// else for an election timeout. The follower restarts and forgets that
/// promise while a partitioned candidate asks for its vote, and the leader
/// keeps serving reads from its lease. The follower must sit out one
/// election timeout, or the candidate wins, commits writes, and the old
/// leader serves stale reads. Forty seeds vary the timing; fast links make
/// the election fit inside the lease.
#[test]
fn a_restarted_follower_does_not_elect_a_second_leader_inside_a_lease() {
    for seed in 0..40 {
        let mut sim = Sim::new(1000 + seed);
        sim.max_delay = 2;
        for _ in 0..3000 {
            sim.one_step(false, 0.0);
        }
        let leader = sim.leader_store(b"a").expect("a stable leader");
        let others: Vec<u64> = (1..=STORES).filter(|s| *s != leader).collect();
        let (f1, f2) = (others[0], others[1]);
        // f2 loses the leader and keeps campaigning; f1 refuses it.
        sim.cut_links.insert((leader.min(f2), leader.max(f2)));
        for _ in 0..300 {
            sim.one_step(false, 0.0);
        }
        // A read confirmed through f1 gives the leader its lease.
        sim.issue(leader, b"a", OpKind::Get);
        for _ in 0..500 {
            if sim.ops.last().is_some_and(|o| o.completed.is_some()) {
                break;
            }
            sim.one_step(false, 0.0);
        }
        // The leader loses f1 too; f1 restarts, forgetting its promise.
        sim.cut_links.insert((leader.min(f1), leader.max(f1)));
        sim.crash(f1);
        sim.start(f1);
        for i in 0..150 {
            sim.one_step(false, 0.0);
            if i % 3 == 0 {
                if let Some(new) = sim.leader_store(b"a").filter(|l| *l != leader) {
                    sim.issue(new, b"a", OpKind::Put);
                }
                sim.issue(leader, b"a", OpKind::Get);
            }
        }
        check_history(&sim);
    }
}

/// A leader must not hand over to a peer whose store is down: while a
/// transfer is under way it takes no writes, and PD repeats a move it
/// still wants (the store counts as Up for 20 s after its last
/// heartbeat), so the Region would stall until PD gave up on the store.
#[test]
fn a_leader_does_not_hand_over_to_a_dead_peer() {
    let mut sim = Sim::new(7);
    for _ in 0..3000 {
        sim.one_step(false, 0.0);
    }
    let (leader, region) = sim.leader_for(b"a").expect("a stable leader");
    let dead = (1..=STORES).find(|s| *s != leader).unwrap();
    let target = region
        .peers
        .iter()
        .find(|p| p.store_id == dead)
        .unwrap()
        .clone();
    sim.crash(dead);
    // Two election timeouts: the leader notices the peer is silent.
    for _ in 0..100 {
        sim.one_step(false, 0.0);
    }
    let first = sim.ops.len();
    for i in 0..400 {
        if i % 20 == 0 {
            // As PD's heartbeat responses would, again and again.
            let store = sim.nodes[(leader - 1) as usize].store.as_mut().unwrap();
            store.transfer_leader(region.id, &target);
            sim.issue(leader, b"a", OpKind::Put);
        }
        sim.one_step(false, 0.0);
    }
    assert_eq!(sim.leader_store(b"a"), Some(leader));
    for op in &sim.ops[first..] {
        assert!(
            // A stall is an election timeout (50 steps) or more; a write
            // takes a few message delays.
            op.ok && op.completed.is_some_and(|c| c - op.invoked < 50),
            "a write stalled or failed while the leader was asked to hand over: {op:?}"
        );
    }
    check_history(&sim);
}
