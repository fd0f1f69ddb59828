//! `TxnClient`: snapshot-isolated transactions over the whole cluster
//! (Percolator, as TiKV's client does it).
//!
//! `begin` takes a start timestamp from PD (concurrent requests share one
//! TSO call). Reads go to the stores at that timestamp; writes stay in the
//! transaction's buffer until `commit`:
//!
//! 1. all keys in one Region: one prewrite that commits at once (1PC);
//! 2. a small transaction (at most [`ASYNC_COMMIT_MAX_KEYS`] keys) over
//!    several Regions commits asynchronously, as TiKV does: it prewrites
//!    every Region in parallel, the primary's lock listing the other keys,
//!    and each store gives its locks a `min_commit_ts` from a fresh
//!    timestamp. Once every prewrite succeeded the transaction is
//!    committed, at the largest of them: the client answers then, one Raft
//!    round and one timestamp earlier than two-phase commit, and commits
//!    the keys in the background. A resolver that meets such a lock after
//!    its TTL asks every key ([`KvCheckSecondaryLocks`]): all locked means
//!    committed, any missing means rolled back;
//! 3. otherwise prewrite the primary's Region, then the other Regions in
//!    parallel (heartbeats keep the primary lock alive meanwhile); take a
//!    commit timestamp; commit the primary (the transaction is committed
//!    from here on); commit the secondaries in the background (a reader
//!    that meets one resolves it through the primary).
//!
//! Until the background commits land, this client's own readers settle
//! the locks they meet from the commit timestamp it remembers, without
//! waiting.
//!
//! [`KvCheckSecondaryLocks`]: protocol::kvrpcpb::KvCheckSecondaryLocksRequest
//!
//! A reader or writer that meets another transaction's lock asks the
//! lock's primary for the transaction's status, rolling it back if its TTL
//! ran out, settles the lock the same way, and retries. A write-write
//! conflict, or a lock that does not clear before the deadline, fails the
//! transaction with [`Error::TxnConflict`]: nothing of it is visible, and
//! it may be retried as a whole. So does a prewrite that waited
//! `MAX_LOCK_WAIT` for locks of running transactions (two writers could
//! otherwise wait for each other for ever). A commit whose outcome the
//! client could not learn fails with [`Error::TxnUndetermined`].
//!
//! While transactions run, the client keeps a service safe point at PD at
//! the oldest one's start timestamp (refreshed every second), so that GC
//! does not overtake a long transaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use protocol::kvrpcpb::{self, KeyError, KvPair, LockInfo, Mutation};
use protocol::mvccpb::Op;
use tokio::time::Instant;

use super::rpc::{next_start, Backoff, ClientOptions, RegionRpc};
use crate::coprocessor::CopPage;
use crate::error::{Error, Result};
use crate::keys::key_after;
use crate::pd_client::PdClient;
use crate::pd_client::{ttl_ran_out, RpcPdClient, TsoBatcher};
use crate::txn_key::{decode_key, encode_key, encode_range};
use crate::txn_kv::{Change, CommitGuard, KeyRange, Page, Pair, StartTs, TxnKv, GUARD_REFUSED};

/// Lock TTL of a transaction's keys, in ms past the moment they are
/// written (others may clean them up after that if it has not committed).
pub const DEFAULT_LOCK_TTL: u64 = 3000;

/// Longest a prewrite waits for other transactions' locks whose owners are
/// still running before it aborts (a lock whose owner died is rolled back
/// within the lock TTL, so this outlasts that).
const MAX_LOCK_WAIT: Duration = Duration::from_millis(DEFAULT_LOCK_TTL + 500);

/// Most keys a transaction may have to commit asynchronously: its primary
/// lock lists them all, and a resolver asks each (TiKV's default too).
pub const ASYNC_COMMIT_MAX_KEYS: usize = 256;
/// Most bytes of keys an async commit's primary lock lists.
const ASYNC_COMMIT_MAX_KEY_BYTES: usize = 16 * 1024;

/// How often the client refreshes its service safe point.
const SERVICE_REFRESH: Duration = Duration::from_secs(1);
/// How long PD keeps a service safe point that is not refreshed (a client
/// that died holds GC back this long at most).
const SERVICE_TTL_SECS: u64 = 10;

/// The start timestamps of the client's running transactions.
#[derive(Default)]
struct Running(BTreeMap<u64, usize>);

impl Running {
    fn start(&mut self, ts: u64) {
        *self.0.entry(ts).or_default() += 1;
    }

    fn finish(&mut self, ts: u64) {
        if let Some(n) = self.0.get_mut(&ts) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&ts);
            }
        }
    }

    fn oldest(&self) -> Option<u64> {
        self.0.keys().next().copied()
    }
}

/// Keeps PD's service safe point for this client at its oldest running
/// transaction's start, and removes it while none runs; stops (removing
/// it) when the client is gone.
async fn hold_service_safe_point(pd: Arc<RpcPdClient>, running: Weak<Mutex<Running>>) {
    let id = format!("txn-client-{:016x}", rand::random::<u64>());
    let mut registered = false;
    let mut ticker = tokio::time::interval(SERVICE_REFRESH);
    loop {
        ticker.tick().await;
        let Some(oldest) = running.upgrade().map(|r| r.lock().oldest()) else {
            break;
        };
        let r = match oldest {
            Some(ts) => pd
                .update_service_safe_point(&id, ts, SERVICE_TTL_SECS)
                .await
                .map(|_| registered = true),
            None if registered => pd
                .update_service_safe_point(&id, 0, 0)
                .await
                .map(|_| registered = false),
            None => Ok(()),
        };
        if let Err(e) = r {
            tracing::debug!("service safe point update failed: {e}");
        }
    }
    if registered {
        let _ = pd.update_service_safe_point(&id, 0, 0).await;
    }
}

struct Shared {
    rpc: RegionRpc<RpcPdClient>,
    tso: TsoBatcher,
    running: Arc<Mutex<Running>>,
    /// Transactions of this client that are committed but whose keys are
    /// still being committed in the background: start_ts → commit_ts.
    committing: Mutex<std::collections::HashMap<u64, u64>>,
}

/// Transactions over the cluster.
#[derive(Clone)]
pub struct TxnClient {
    shared: Arc<Shared>,
}

impl TxnClient {
    /// Connects to the cluster through PD at `pd_addr`.
    pub async fn connect(pd_addr: &str, opts: ClientOptions) -> Result<Self> {
        let pd = Arc::new(RpcPdClient::connect(pd_addr, opts.timeout).await?);
        Ok(TxnClient::new(pd, opts))
    }

    /// A client over an existing PD client (call within a Tokio runtime:
    /// it starts the timestamp batcher).
    pub fn new(pd: Arc<RpcPdClient>, opts: ClientOptions) -> Self {
        let running = Arc::new(Mutex::new(Running::default()));
        tokio::spawn(hold_service_safe_point(
            pd.clone(),
            Arc::downgrade(&running),
        ));
        TxnClient {
            shared: Arc::new(Shared {
                rpc: RegionRpc::new(pd.clone(), opts),
                tso: TsoBatcher::start(pd),
                running,
                committing: Mutex::default(),
            }),
        }
    }

    /// Settles another transaction's lock through its primary as of the
    /// timestamp `now` (rolling the transaction back if its TTL ran out);
    /// `false` means its owner is still running. Stores' GC uses this.
    pub async fn resolve_lock(&self, lock: &LockInfo, now: u64) -> Result<bool> {
        self.shared.resolve(lock, now).await
    }

    /// Settles the outcome of a transaction whose commit ended with
    /// [`Error::TxnUndetermined`], from its start timestamp and primary key
    /// ([`Transaction::primary_key`]): waits until its locks' TTL ran out
    /// if it is still locked, and rolls back a primary that was never
    /// prewritten, so that the answer is final. Returns the commit
    /// timestamp, or `None` if it did not (and never will) commit.
    pub async fn settle(&self, start_ts: u64, primary: &[u8]) -> Result<Option<u64>> {
        let shared = &self.shared;
        let deadline = shared.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        while Instant::now() < deadline {
            let now = shared.tso.get().await?;
            match shared.status(primary, start_ts, now, true).await? {
                Some(TxnOutcome::Committed(ts)) => return Ok(Some(ts)),
                Some(TxnOutcome::RolledBack) => return Ok(None),
                None | Some(TxnOutcome::Running) => backoff.wait().await,
            }
        }
        Err(shared
            .rpc
            .deadline_error("the transaction's primary stayed locked"))
    }

    /// A fresh timestamp from PD.
    pub async fn current_ts(&self) -> Result<u64> {
        self.shared.tso.get().await
    }

    /// Splits the Region holding the transactional `key` so that a Region
    /// starts at it; returns the Regions that now cover the old one.
    pub async fn split_region(&self, key: &[u8]) -> Result<Vec<protocol::metapb::Region>> {
        self.shared.rpc.split_at(encode_key(key)).await
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Transaction> {
        let start_ts = self.current_ts().await?;
        self.shared.running.lock().start(start_ts);
        Ok(Transaction {
            shared: self.shared.clone(),
            start_ts,
            began: Instant::now(),
            buffer: BTreeMap::new(),
        })
    }
}

/// One transaction: reads at its start timestamp, buffered writes.
pub struct Transaction {
    shared: Arc<Shared>,
    start_ts: u64,
    /// When start_ts was taken: lock TTLs count from start_ts.
    began: Instant,
    buffer: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.shared.running.lock().finish(self.start_ts);
    }
}

/// One page of a transactional scan.
#[derive(Debug, Default)]
pub struct ScanPage {
    /// Pairs in key order.
    pub pairs: Vec<KvPair>,
    /// Where the next page starts; `None` once the range is done.
    pub resume: Option<Vec<u8>>,
}

/// What became of a transaction, as its primary key tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnOutcome {
    /// Still running: its primary is locked and the lock's TTL holds.
    Running,
    /// Committed at this timestamp.
    Committed(u64),
    /// Rolled back: nothing of it is or will be visible.
    RolledBack,
}

/// What a response's per-key errors call for.
enum Outcome {
    /// Locks of other transactions to resolve before retrying.
    Locks(Vec<LockInfo>),
    /// The transaction cannot go on.
    Abort(Error),
}

fn classify(errors: Vec<KeyError>) -> Option<Outcome> {
    if errors.is_empty() {
        return None;
    }
    let mut locks = Vec::new();
    for e in errors {
        if let Some(l) = e.locked {
            locks.push(l);
        } else if let Some(c) = e.conflict {
            return Some(Outcome::Abort(Error::TxnConflict(format!(
                "write conflict on key {:?}: a transaction that started at {} committed at {}",
                String::from_utf8_lossy(&c.key),
                c.conflict_start_ts,
                c.conflict_commit_ts
            ))));
        } else if !e.abort.is_empty() {
            return Some(Outcome::Abort(Error::TxnConflict(e.abort)));
        } else {
            return Some(Outcome::Abort(Error::Remote(format!(
                "unexpected transaction error: {e:?}"
            ))));
        }
    }
    Some(Outcome::Locks(locks))
}

impl Shared {
    /// The committed value of `key` as of `ts`.
    pub(crate) async fn get_at(&self, ts: u64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let shared = self;
        let deadline = shared.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let encoded = encode_key(key);
        let mut last = String::from("none");
        while Instant::now() < deadline {
            let (resp, _) = shared
                .rpc
                .request(&encoded, |ctx| kvrpcpb::KvGetRequest {
                    context: Some(ctx),
                    key: key.to_vec(),
                    version: ts,
                })
                .await?;
            match classify(resp.errors) {
                None => return Ok((!resp.not_found).then_some(resp.value)),
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    shared.resolve_all(&locks, &mut backoff).await?;
                }
            }
        }
        Err(shared.lock_error(&last))
    }

    /// The committed values of the keys in `remote` ((encoded, user) key
    /// pairs, sorted) that exist as of `ts`: one request per Region, in
    /// parallel.
    pub(crate) async fn batch_get_at(
        &self,
        ts: u64,
        mut remote: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut found = Vec::new();
        let shared = self;
        let deadline = shared.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let mut last = String::from("none");
        while !remote.is_empty() && Instant::now() < deadline {
            let mut errors = Vec::new();
            let mut pairs = Vec::new();
            shared
                .rpc
                .batch(
                    remote.clone(),
                    |k| k.0.as_slice(),
                    |ctx, group| kvrpcpb::KvBatchGetRequest {
                        context: Some(ctx),
                        keys: group.into_iter().map(|(_, user)| user).collect(),
                        version: ts,
                    },
                    |r| {
                        errors.extend(r.errors);
                        pairs.extend(r.pairs);
                    },
                )
                .await?;
            match classify(errors) {
                None => {
                    found.extend(pairs.into_iter().map(|p| (p.key, p.value)));
                    remote.clear();
                }
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    shared.resolve_all(&locks, &mut backoff).await?;
                }
            }
        }
        if !remote.is_empty() {
            return Err(shared.lock_error(&last));
        }
        Ok(found)
    }

    /// Committed pairs of `[start, end)` as of `ts`, up to the caps; the
    /// user key the next page starts at when a cap cut it.
    pub(crate) async fn scan_at(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<(Vec<KvPair>, Option<Vec<u8>>)> {
        let shared = self;
        let deadline = shared.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let (enc_start, enc_end) = encode_range(start, end);
        let mut page = Gathered::new(max_rows, max_bytes, false);
        // Where the next request starts: the user key (the store clamps it
        // to the Region) and its encoded form (which Region to ask).
        let mut from = start.to_vec();
        let mut cur = enc_start;
        let mut last = String::from("none");
        while Instant::now() < deadline {
            let (rows_left, bytes_left) = page.left();
            let (resp, route) = shared
                .rpc
                .request(&cur, |ctx| kvrpcpb::KvScanRequest {
                    context: Some(ctx),
                    start_key: from.clone(),
                    end_key: end.to_vec(),
                    limit: rows_left,
                    version: ts,
                    max_bytes: bytes_left,
                    reverse: false,
                })
                .await?;
            match classify(resp.errors) {
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    shared.resolve_all(&locks, &mut backoff).await?;
                    continue;
                }
                None => {}
            }
            page.take(resp.pairs);
            let full = page.full();
            if full || resp.more {
                // The store's cap or ours cut the page: the next one starts
                // just after the last key, in the same Region.
                let Some(last_key) = page.pairs.last().map(|p| key_after(&p.key)) else {
                    return Ok((page.pairs, None));
                };
                if full {
                    return Ok((page.pairs, Some(last_key)));
                }
                cur = encode_key(&last_key);
                from = last_key;
                continue;
            }
            match next_start(&route, &enc_end) {
                Some(next) => cur = next,
                None => return Ok((page.pairs, None)),
            }
        }
        Err(shared.lock_error(&last))
    }
}

impl Shared {
    /// One coprocessor request from `start` (see [`TxnKv::coprocess`]),
    /// locks met resolved and asked again.
    pub(crate) async fn coprocess_at(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        plan: &[u8],
    ) -> Result<CopPage> {
        let deadline = self.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let cur = encode_key(start);
        let mut last = String::from("none");
        while Instant::now() < deadline {
            let (resp, route) = self
                .rpc
                .request(&cur, |ctx| kvrpcpb::KvCoprocessorRequest {
                    context: Some(ctx),
                    start_key: start.to_vec(),
                    end_key: end.to_vec(),
                    version: ts,
                    plan: plan.to_vec(),
                })
                .await?;
            if resp.unsupported {
                return Err(Error::Unsupported("the store has no coprocessor".into()));
            }
            match classify(resp.errors) {
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    self.resolve_all(&locks, &mut backoff).await?;
                    continue;
                }
                None => {}
            }
            return Ok(CopPage {
                data: resp.data,
                scanned: resp.scanned,
                store_id: route.leader.map_or(0, |p| p.store_id),
                resume: resp.more.then_some(resp.resume_key),
            });
        }
        Err(self.lock_error(&last))
    }
}

impl Shared {
    /// [`Shared::scan_at`] backwards: committed pairs of `[start, end)`
    /// as of `ts` in reverse key order, from the last, up to the caps;
    /// when a cap cut the page, the exclusive end of the next one.
    pub(crate) async fn scan_at_rev(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<(Vec<KvPair>, Option<Vec<u8>>)> {
        let deadline = self.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let (enc_start, enc_end) = encode_range(start, end);
        let mut page = Gathered::new(max_rows, max_bytes, true);
        // The part left is [start, upper): `upper` as the user key asked
        // for (the store clamps it to the Region), `below` encoded (which
        // Region to ask: the one holding the keys just below it).
        let mut upper = end.to_vec();
        let mut below = enc_end;
        let mut last = String::from("none");
        while Instant::now() < deadline {
            let (rows_left, bytes_left) = page.left();
            let probe = self.rpc.locate_before(&below).await?;
            let (resp, route) = self
                .rpc
                .request(&probe, |ctx| kvrpcpb::KvScanRequest {
                    context: Some(ctx),
                    start_key: start.to_vec(),
                    end_key: upper.clone(),
                    limit: rows_left,
                    version: ts,
                    max_bytes: bytes_left,
                    reverse: true,
                })
                .await?;
            let region = &route.region;
            if !region.end_key.is_empty() && region.end_key < below {
                // The Region split after it was looked up: the part above
                // it is still unread.
                continue;
            }
            match classify(resp.errors) {
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    self.resolve_all(&locks, &mut backoff).await?;
                    continue;
                }
                None => {}
            }
            page.take(resp.pairs);
            let full = page.full();
            if full || resp.more {
                let Some(last_key) = page.pairs.last().map(|p| p.key.clone()) else {
                    return Ok((page.pairs, None));
                };
                if full {
                    return Ok((page.pairs, Some(last_key)));
                }
                below = encode_key(&last_key);
                upper = last_key;
                continue;
            }
            if region.start_key <= enc_start {
                return Ok((page.pairs, None));
            }
            below = region.start_key.clone();
        }
        Err(self.lock_error(&last))
    }

    fn lock_error(&self, last: &str) -> Error {
        Error::TxnConflict(format!(
            "locks did not clear within {:?}: {last}",
            self.rpc.opts.timeout
        ))
    }

    /// What became of the transaction `start_ts` as its primary key shows
    /// it at the timestamp `now`; the primary's store rolls it back if its
    /// TTL ran out, and, with `rollback_if_missing`, if it never got there.
    /// `None`: the primary was not prewritten (yet).
    async fn status(
        &self,
        primary: &[u8],
        start_ts: u64,
        now: u64,
        rollback_if_missing: bool,
    ) -> Result<Option<TxnOutcome>> {
        let (status, _) = self
            .rpc
            .request(&encode_key(primary), |ctx| {
                kvrpcpb::KvCheckTxnStatusRequest {
                    context: Some(ctx),
                    primary_key: primary.to_vec(),
                    lock_ts: start_ts,
                    current_ts: now,
                    rollback_if_not_exist: rollback_if_missing,
                }
            })
            .await?;
        if status.errors.iter().any(|e| e.txn_not_found) {
            return Ok(None);
        }
        if let Some(e) = status.errors.into_iter().next() {
            return Err(Error::Remote(format!(
                "checking a transaction's primary: {e:?}"
            )));
        }
        Ok(Some(match kvrpcpb::TxnState::try_from(status.state) {
            Ok(kvrpcpb::TxnState::Locked) => match status.lock_info {
                // An async commit whose primary lock expired: its keys tell.
                Some(lock)
                    if lock.use_async_commit
                        && ttl_ran_out(lock.lock_version, lock.lock_ttl, now) =>
                {
                    self.settle_async(&lock).await?
                }
                _ => TxnOutcome::Running,
            },
            Ok(kvrpcpb::TxnState::Committed) => TxnOutcome::Committed(status.commit_version),
            _ => TxnOutcome::RolledBack,
        }))
    }

    /// Decides the async-commit transaction whose primary holds `primary`
    /// (its TTL ran out) from all its keys, and settles them that way: it
    /// committed (at its locks' largest `min_commit_ts`) if every key is
    /// locked or committed, else it never will (the stores leave rollback
    /// records where a key was missing).
    async fn settle_async(&self, primary: &LockInfo) -> Result<TxnOutcome> {
        let start_ts = primary.lock_version;
        let mut keys: Vec<(Vec<u8>, Vec<u8>)> = primary
            .secondaries
            .iter()
            .map(|k| (encode_key(k), k.clone()))
            .collect();
        let mut min_commit_ts = primary.min_commit_ts;
        let (mut committed, mut rolled_back, mut errors) = (None, false, Vec::new());
        self.rpc
            .batch(
                keys.clone(),
                |k| k.0.as_slice(),
                |ctx, group| kvrpcpb::KvCheckSecondaryLocksRequest {
                    context: Some(ctx),
                    keys: group.into_iter().map(|(_, user)| user).collect(),
                    start_version: start_ts,
                },
                |r| {
                    errors.extend(r.errors);
                    for l in &r.locks {
                        min_commit_ts = min_commit_ts.max(l.min_commit_ts);
                    }
                    if r.commit_ts != 0 {
                        committed = Some(r.commit_ts);
                    }
                    rolled_back |= r.rolled_back;
                },
            )
            .await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(Error::Remote(format!(
                "checking an async commit's keys: {e:?}"
            )));
        }
        let outcome = match (committed, rolled_back) {
            (Some(ts), _) => TxnOutcome::Committed(ts),
            (None, true) => TxnOutcome::RolledBack,
            (None, false) => TxnOutcome::Committed(min_commit_ts),
        };
        let commit_version = match outcome {
            TxnOutcome::Committed(ts) => ts,
            _ => 0,
        };
        keys.push((encode_key(&primary.key), primary.key.clone()));
        self.resolve_batch(start_ts, commit_version, keys).await?;
        Ok(outcome)
    }

    /// Settles another transaction's lock through its primary, as of the
    /// timestamp `now`. `false` means the owner is still running (the caller
    /// waits and retries).
    async fn resolve(&self, lock: &LockInfo, now: u64) -> Result<bool> {
        let keys = vec![(encode_key(&lock.key), lock.key.clone())];
        self.resolve_keys(lock, keys, now).await
    }

    /// Settles the locks on `keys` (encoded and user forms) of the
    /// transaction that holds `lock`: one status check through its
    /// primary, then one request per Region. `false`: still running.
    async fn resolve_keys(
        &self,
        lock: &LockInfo,
        keys: Vec<(Vec<u8>, Vec<u8>)>,
        now: u64,
    ) -> Result<bool> {
        // A transaction of this client, committed, its keys on their way.
        let known = self.committing.lock().get(&lock.lock_version).copied();
        let commit_version = match known {
            Some(ts) => ts,
            None => match self
                .status(
                    &lock.primary_lock,
                    lock.lock_version,
                    now,
                    ttl_ran_out(lock.lock_version, lock.lock_ttl, now),
                )
                .await?
            {
                // The primary's prewrite may still be on its way.
                None | Some(TxnOutcome::Running) => return Ok(false),
                Some(TxnOutcome::Committed(ts)) => ts,
                Some(TxnOutcome::RolledBack) => 0,
            },
        };
        self.resolve_batch(lock.lock_version, commit_version, keys)
            .await?;
        Ok(true)
    }

    /// Commits (at `commit_version`; 0: rolls back) the locks of the
    /// transaction `start_ts` on `keys` (encoded and user forms), one
    /// request per Region.
    async fn resolve_batch(
        &self,
        start_ts: u64,
        commit_version: u64,
        keys: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        let mut errors = Vec::new();
        self.rpc
            .batch(
                keys,
                |k| k.0.as_slice(),
                |ctx, group| kvrpcpb::KvResolveLockRequest {
                    context: Some(ctx),
                    start_version: start_ts,
                    commit_version,
                    keys: group.into_iter().map(|(_, user)| user).collect(),
                },
                |r| errors.extend(r.errors),
            )
            .await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(Error::Remote(format!("resolving a lock: {e:?}")));
        }
        Ok(())
    }

    /// Resolves `locks` by transaction (a reader meeting the secondaries
    /// of a large commit settles thousands with one status check and a
    /// request per Region); pauses and returns `true` if any owner is
    /// still running.
    async fn resolve_all(&self, locks: &[LockInfo], backoff: &mut Backoff) -> Result<bool> {
        let now = self.tso.get().await?;
        let mut by_txn: BTreeMap<(u64, Vec<u8>), (&LockInfo, Vec<(Vec<u8>, Vec<u8>)>)> =
            BTreeMap::new();
        for l in locks {
            by_txn
                .entry((l.lock_version, l.primary_lock.clone()))
                .or_insert_with(|| (l, Vec::new()))
                .1
                .push((encode_key(&l.key), l.key.clone()));
        }
        let mut waiting = false;
        for (lock, keys) in by_txn.into_values() {
            waiting |= !self.resolve_keys(lock, keys, now).await?;
        }
        if waiting {
            backoff.wait().await;
        }
        Ok(waiting)
    }
}

impl Transaction {
    /// The transaction's start timestamp (its snapshot).
    pub fn start_ts(&self) -> u64 {
        self.start_ts
    }

    /// The value of `key` as this transaction sees it.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.buffer.get(key) {
            return Ok(v.clone());
        }
        self.shared.get_at(self.start_ts, key).await
    }

    /// The values of the `keys` that exist, as this transaction sees them,
    /// in key order: one request per Region, in parallel.
    pub async fn batch_get(&self, keys: &[Vec<u8>]) -> Result<Vec<KvPair>> {
        let mut found: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut remote = Vec::new();
        for k in keys {
            match self.buffer.get(k) {
                Some(Some(v)) => {
                    found.insert(k.clone(), v.clone());
                }
                Some(None) => {}
                None => remote.push((encode_key(k), k.clone())),
            }
        }
        remote.sort();
        remote.dedup();
        found.extend(self.shared.batch_get_at(self.start_ts, remote).await?);
        Ok(found
            .into_iter()
            .map(|(key, value)| KvPair { key, value })
            .collect())
    }

    /// Up to `limit` pairs of `[start, end)` as this transaction sees them,
    /// in key order (0 = no limit; an empty end = the end of the key space).
    pub async fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        let mut from = start.to_vec();
        loop {
            let want = if limit == 0 { 0 } else { limit - out.len() };
            let page = self.scan_page(&from, end, want, 0).await?;
            out.extend(page.pairs);
            match page.resume {
                Some(next) if limit == 0 || out.len() < limit => from = next,
                _ => break,
            }
        }
        if limit != 0 {
            out.truncate(limit);
        }
        Ok(out)
    }

    /// One page of `[start, end)` as this transaction sees them: pairs in
    /// key order until about `max_rows` pairs or `max_bytes` bytes (0 = no
    /// cap; the store caps each answer anyway), and where the next page
    /// starts (`None`: the range is done). Memory stays bounded by the
    /// caps whatever the range holds.
    pub async fn scan_page(
        &self,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<ScanPage> {
        let (committed, resume) = self
            .shared
            .scan_at(self.start_ts, start, end, max_rows, max_bytes)
            .await?;
        // Overlay the buffer on what the committed page covers: its writes
        // replace what they touch.
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            committed.into_iter().map(|p| (p.key, p.value)).collect();
        let upper = match (&resume, end.is_empty()) {
            (Some(r), _) => std::ops::Bound::Excluded(r.clone()),
            (None, true) => std::ops::Bound::Unbounded,
            (None, false) => std::ops::Bound::Excluded(end.to_vec()),
        };
        for (k, v) in self
            .buffer
            .range((std::ops::Bound::Included(start.to_vec()), upper))
        {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        let pairs = merged
            .into_iter()
            .map(|(key, value)| KvPair { key, value })
            .collect();
        Ok(ScanPage { pairs, resume })
    }

    /// The key whose commit decides the transaction (its smallest written
    /// key), once it wrote one: with [`Transaction::start_ts`], what
    /// [`TxnClient::settle`] needs after an undetermined commit.
    pub fn primary_key(&self) -> Option<&[u8]> {
        self.buffer.keys().next().map(Vec::as_slice)
    }

    /// Sets `key` to `value` when the transaction commits.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.buffer.insert(key, Some(value));
    }

    /// Deletes `key` when the transaction commits.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.buffer.insert(key, None);
    }

    /// Drops the transaction: nothing was written before commit.
    pub fn rollback(self) {}

    /// Commits the buffered writes; returns the commit timestamp (the
    /// start timestamp for a transaction that wrote nothing).
    pub async fn commit(mut self) -> Result<u64> {
        if self.buffer.is_empty() {
            return Ok(self.start_ts);
        }
        let mutations = std::mem::take(&mut self.buffer)
            .into_iter()
            .map(|(key, v)| match v {
                Some(v) => (key, Op::Put, v),
                None => (key, Op::Del, Vec::new()),
            })
            .collect();
        Shared::commit_mutations(&self.shared, self.start_ts, self.began, mutations, &|| {
            Box::pin(async { true })
        })
        .await
    }
}

impl Shared {
    /// Commits `mutations` ((user key, op, value), sorted by key, not
    /// empty) as the transaction that started at `start_ts` (at `began`).
    pub(crate) async fn commit_mutations(
        shared: &Arc<Shared>,
        start_ts: u64,
        began: Instant,
        mutations: Vec<(Vec<u8>, Op, Vec<u8>)>,
        guard: &CommitGuard,
    ) -> Result<u64> {
        let mutations: Vec<(Vec<u8>, Mutation)> = mutations
            .into_iter()
            .map(|(key, op, value)| {
                let m = Mutation {
                    op: op as i32,
                    key: key.clone(),
                    value,
                };
                (encode_key(&key), m)
            })
            .collect();
        let primary = mutations[0].1.key.clone();
        let txn = Committer {
            shared: shared.clone(),
            start_ts,
            primary: primary.clone(),
            txn_size: mutations.len() as u64,
            // A lock's TTL counts from start_ts: it must outlast the time
            // the transaction already ran.
            lock_ttl: DEFAULT_LOCK_TTL + began.elapsed().as_millis() as u64,
            began,
        };
        let groups = shared.rpc.group(mutations, |m| m.0.as_slice()).await?;
        let refused = || Error::TxnConflict(GUARD_REFUSED.into());
        if groups.len() == 1 {
            let all: Vec<_> = groups.into_iter().flat_map(|(_, g)| g).collect();
            if !guard().await {
                return Err(refused());
            }
            // A 1PC prewrite is a commit: without an answer it may have
            // happened.
            let one_pc = txn.prewrite(&all, Mode::OnePc).await.map_err(|e| match e {
                Error::Deadline(..) => Error::TxnUndetermined(e.to_string()),
                e => e,
            })?;
            if let Some(ts) = one_pc.one_pc_ts {
                return Ok(ts);
            }
            // The store did not commit at once (the Region split meanwhile):
            // the keys are prewritten, go on with two phases.
            if !guard().await {
                let _ = txn.rollback_all(all).await;
                return Err(refused());
            }
            return txn.commit_prewritten(all).await;
        }
        let key_bytes: usize = groups
            .iter()
            .flat_map(|(_, g)| g)
            .map(|m| m.1.key.len())
            .sum();
        let small = txn.txn_size as usize <= ASYNC_COMMIT_MAX_KEYS
            && key_bytes <= ASYNC_COMMIT_MAX_KEY_BYTES;
        if shared.rpc.opts.async_commit && small {
            // The commit point is the end of the prewrites: ask first.
            if !guard().await {
                return Err(refused());
            }
            return txn
                .commit_async(groups.into_iter().flat_map(|(_, g)| g).collect())
                .await;
        }
        let (primary_group, others): (Vec<_>, Vec<_>) = groups
            .into_iter()
            .partition(|(_, g)| g.iter().any(|m| m.1.key == primary));
        let primary_items: Vec<_> = primary_group.into_iter().flat_map(|(_, g)| g).collect();
        let other_items: Vec<_> = others.into_iter().flat_map(|(_, g)| g).collect();
        txn.prewrite(&primary_items, Mode::TwoPhase).await?;
        // From here the primary lock must outlive the commit, however slow.
        let _keep_alive = txn.keep_alive();
        let prewritten = match txn.prewrite(&other_items, Mode::TwoPhase).await {
            Ok(_) if guard().await => Ok(()),
            Ok(_) => Err(refused()),
            Err(e) => Err(e),
        };
        if let Err(e) = prewritten {
            let all = primary_items.into_iter().chain(other_items).collect();
            // Best effort: locks left behind expire with their TTL.
            let _ = txn.rollback_all(all).await;
            return Err(e);
        }
        txn.commit_prewritten(primary_items.into_iter().chain(other_items).collect())
            .await
    }
}

/// How a prewrite request goes about the commit.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    /// Locks for two-phase commit.
    TwoPhase,
    /// Commit at once if the request holds every key.
    OnePc,
    /// Async-commit locks; the primary's lists these other keys.
    Async(&'a [Vec<u8>]),
}

/// What the prewrites of some keys answered.
#[derive(Debug, Default)]
struct Prewrote {
    /// The store committed them at once (1PC) at this timestamp, or a
    /// retry found them committed there.
    one_pc_ts: Option<u64>,
    /// The largest `min_commit_ts` of the locks left.
    min_commit_ts: u64,
}

/// The commit of one transaction's keys.
struct Committer {
    shared: Arc<Shared>,
    start_ts: u64,
    primary: Vec<u8>,
    txn_size: u64,
    lock_ttl: u64,
    began: Instant,
}

/// Stops a transaction's heartbeats when dropped.
struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Committer {
    /// Extends the primary lock's TTL every third of the default TTL, so
    /// that it always reaches a full TTL past now, until dropped.
    fn keep_alive(&self) -> KeepAlive {
        let (shared, primary) = (self.shared.clone(), self.primary.clone());
        let (start_ts, began) = (self.start_ts, self.began);
        KeepAlive(tokio::spawn(async move {
            let encoded = encode_key(&primary);
            let period = std::time::Duration::from_millis(DEFAULT_LOCK_TTL / 3);
            loop {
                tokio::time::sleep(period).await;
                let ttl = began.elapsed().as_millis() as u64 + DEFAULT_LOCK_TTL;
                let sent = shared
                    .rpc
                    .request(&encoded, |ctx| kvrpcpb::KvTxnHeartBeatRequest {
                        context: Some(ctx),
                        primary_lock: primary.clone(),
                        start_version: start_ts,
                        advise_lock_ttl: ttl,
                    })
                    .await;
                match sent {
                    // The lock is gone (committed or rolled back): done.
                    Ok((r, _)) if !r.errors.is_empty() => return,
                    Ok(_) => {}
                    Err(e) => tracing::debug!(start_ts, "heartbeat failed: {e}"),
                }
            }
        }))
    }

    /// Prewrites `items` (encoded key, mutation) the way `mode` says,
    /// resolving others' locks in the way.
    async fn prewrite(&self, items: &[(Vec<u8>, Mutation)], mode: Mode<'_>) -> Result<Prewrote> {
        if items.is_empty() {
            return Ok(Prewrote::default());
        }
        let shared = &self.shared;
        let deadline = shared.rpc.deadline();
        let mut backoff = Backoff::new(deadline);
        let mut last = String::from("none");
        let mut blocked_since = None;
        while Instant::now() < deadline {
            let mut errors = Vec::new();
            let mut out = Prewrote::default();
            let total = items.len();
            shared
                .rpc
                .batch(
                    items.to_vec(),
                    |m| m.0.as_slice(),
                    |ctx, group| {
                        let holds_primary = group.iter().any(|m| m.1.key == self.primary);
                        kvrpcpb::KvPrewriteRequest {
                            context: Some(ctx),
                            // Only a request holding every key may commit
                            // at once: after a split, each Region's part
                            // is a plain prewrite.
                            try_one_pc: matches!(mode, Mode::OnePc) && group.len() == total,
                            use_async_commit: matches!(mode, Mode::Async(_)),
                            secondaries: match mode {
                                Mode::Async(keys) if holds_primary => keys.to_vec(),
                                _ => Vec::new(),
                            },
                            mutations: group.into_iter().map(|(_, m)| m).collect(),
                            primary_lock: self.primary.clone(),
                            start_version: self.start_ts,
                            lock_ttl: self.lock_ttl,
                            txn_size: self.txn_size,
                            min_commit_ts: self.start_ts + 1,
                        }
                    },
                    |r| {
                        errors.extend(r.errors);
                        if r.one_pc_commit_ts != 0 {
                            out.one_pc_ts = Some(r.one_pc_commit_ts);
                        }
                        out.min_commit_ts = out.min_commit_ts.max(r.min_commit_ts);
                    },
                )
                .await?;
            match classify(errors) {
                None => return Ok(out),
                Some(Outcome::Abort(e)) => return Err(e),
                Some(Outcome::Locks(locks)) => {
                    last = format!("{} lock(s)", locks.len());
                    if !shared.resolve_all(&locks, &mut backoff).await? {
                        continue;
                    }
                    // Two writers each holding a key the other wants would
                    // wait for each other for ever (heartbeats keep both
                    // alive): one that waited this long gives up.
                    let since = *blocked_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= MAX_LOCK_WAIT {
                        return Err(Error::TxnConflict(format!(
                            "{last} held by running transactions for {MAX_LOCK_WAIT:?}"
                        )));
                    }
                }
            }
        }
        Err(shared.lock_error(&last))
    }

    /// Commits `items` asynchronously: prewrites them all at once; when
    /// every prewrite succeeded the transaction is committed (at the
    /// largest `min_commit_ts` the stores gave), and the keys are committed
    /// in the background.
    async fn commit_async(&self, items: Vec<(Vec<u8>, Mutation)>) -> Result<u64> {
        let secondaries: Vec<Vec<u8>> = items
            .iter()
            .filter(|m| m.1.key != self.primary)
            .map(|m| m.1.key.clone())
            .collect();
        let keep_alive = self.keep_alive();
        let prewrote = match self.prewrite(&items, Mode::Async(&secondaries)).await {
            Ok(p) => p,
            Err(e) => {
                drop(keep_alive);
                // A prewrite whose answer was lost may have locked its
                // keys, and with all locked the transaction committed.
                // Rolling every key back decides it; a key that refuses
                // (a resolver committed it) leaves it undetermined.
                let definite = matches!(e, Error::TxnConflict(_));
                return match self.rollback_all(items).await {
                    Err(_) if !definite => Err(Error::TxnUndetermined(e.to_string())),
                    _ => Err(e),
                };
            }
        };
        let commit_ts = prewrote.min_commit_ts;
        self.commit_in_background(commit_ts, items, Some(keep_alive));
        Ok(commit_ts)
    }

    /// Commits prewritten `items`: the primary, then the rest in the
    /// background.
    async fn commit_prewritten(&self, items: Vec<(Vec<u8>, Mutation)>) -> Result<u64> {
        let shared = self.shared.clone();
        let commit_ts = shared.tso.get().await?;
        let primary = encode_key(&self.primary);
        let outcome = shared
            .rpc
            .request(&primary, |ctx| kvrpcpb::KvCommitRequest {
                context: Some(ctx),
                start_version: self.start_ts,
                keys: vec![self.primary.clone()],
                commit_version: commit_ts,
            })
            .await;
        let resp = match outcome {
            Ok((r, _)) => r,
            // Prewritten keys passed every check, so a store error here is
            // no verdict: an earlier attempt may have committed.
            Err(e @ (Error::Deadline(..) | Error::Remote(_))) => {
                return Err(Error::TxnUndetermined(e.to_string()))
            }
            Err(e) => return Err(e),
        };
        match classify(resp.errors) {
            None => {}
            Some(Outcome::Abort(e)) => return Err(e),
            Some(Outcome::Locks(_)) => {
                return Err(Error::Remote("the primary's commit met a lock".into()))
            }
        }
        let secondaries: Vec<_> = items.into_iter().filter(|m| m.0 != primary).collect();
        self.commit_in_background(commit_ts, secondaries, None);
        Ok(commit_ts)
    }

    /// Commits `items` of the committed transaction at `commit_ts` in the
    /// background, keeping `keep_alive` until done. Meanwhile this client's
    /// readers settle the locks they meet from `commit_ts`; others resolve
    /// them the usual way.
    fn commit_in_background(
        &self,
        commit_ts: u64,
        items: Vec<(Vec<u8>, Mutation)>,
        keep_alive: Option<KeepAlive>,
    ) {
        if items.is_empty() {
            return;
        }
        let (shared, start_ts) = (self.shared.clone(), self.start_ts);
        shared.committing.lock().insert(start_ts, commit_ts);
        tokio::spawn(async move {
            let mut errors = Vec::new();
            let r = shared
                .rpc
                .batch(
                    items,
                    |m| m.0.as_slice(),
                    |ctx, group| kvrpcpb::KvCommitRequest {
                        context: Some(ctx),
                        start_version: start_ts,
                        keys: group.into_iter().map(|(_, m)| m.key).collect(),
                        commit_version: commit_ts,
                    },
                    |r| errors.extend(r.errors),
                )
                .await;
            shared.committing.lock().remove(&start_ts);
            drop(keep_alive);
            // Readers resolve the locks left; a key error here means a
            // lock stays until then, which must not happen.
            if let Err(e) = r {
                tracing::debug!(start_ts, "committing keys in the background failed: {e}");
            }
            if let Some(e) = errors.first() {
                tracing::warn!(
                    start_ts,
                    commit_ts,
                    "committing keys in the background: {} key error(s), first: {e:?}",
                    errors.len()
                );
            }
        });
    }

    /// Rolls back prewritten keys after a failed prewrite; an error means
    /// some key may still be locked (it expires with its TTL) or was
    /// committed by a resolver.
    async fn rollback_all(&self, items: Vec<(Vec<u8>, Mutation)>) -> Result<()> {
        let start_ts = self.start_ts;
        let mut errors = Vec::new();
        let r = self
            .shared
            .rpc
            .batch(
                items,
                |m| m.0.as_slice(),
                |ctx, group| kvrpcpb::KvBatchRollbackRequest {
                    context: Some(ctx),
                    start_version: start_ts,
                    keys: group.into_iter().map(|(_, m)| m.key).collect(),
                },
                |r| errors.extend(r.errors),
            )
            .await
            .and_then(|()| match errors.into_iter().next() {
                Some(e) => Err(Error::Remote(format!("rolling back: {e:?}"))),
                None => Ok(()),
            });
        if let Err(e) = &r {
            tracing::debug!(start_ts, "rollback failed: {e}");
        }
        r
    }
}

/// A running transaction's hold on GC: released when dropped.
struct RunningHold {
    running: Arc<Mutex<Running>>,
    ts: u64,
}

impl Drop for RunningHold {
    fn drop(&mut self) {
        self.running.lock().finish(self.ts);
    }
}

/// A scan page gathered from the Regions' answers under the caller's caps
/// (0: none).
struct Gathered {
    pairs: Vec<KvPair>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
    /// Whether keys come in reverse order.
    reverse: bool,
}

impl Gathered {
    fn new(max_rows: usize, max_bytes: usize, reverse: bool) -> Gathered {
        Gathered {
            pairs: Vec::new(),
            bytes: 0,
            max_rows,
            max_bytes,
            reverse,
        }
    }

    /// Rows and bytes still wanted, as a scan request asks (0: no cap).
    fn left(&self) -> (u32, u64) {
        let rows = if self.max_rows == 0 {
            0
        } else {
            self.max_rows - self.pairs.len()
        };
        let bytes = if self.max_bytes == 0 {
            0
        } else {
            self.max_bytes - self.bytes
        };
        (rows as u32, bytes as u64)
    }

    /// Adds one answer's pairs. Pairs of an earlier Region may come again
    /// if it split meanwhile: only keys past the last one kept are taken.
    fn take(&mut self, pairs: Vec<KvPair>) {
        for p in pairs {
            let past = self.pairs.last().is_none_or(|l| {
                if self.reverse {
                    p.key < l.key
                } else {
                    p.key > l.key
                }
            });
            if past {
                self.bytes += p.key.len() + p.value.len();
                self.pairs.push(p);
            }
        }
    }

    /// Whether a cap of the caller's is reached.
    fn full(&self) -> bool {
        (self.max_rows != 0 && self.pairs.len() >= self.max_rows)
            || (self.max_bytes != 0 && self.bytes >= self.max_bytes)
    }
}

/// A page of the store's pairs as [`TxnKv`] gives it.
fn page_of(pairs: Vec<KvPair>, resume: Option<Vec<u8>>) -> Page {
    let pairs = pairs
        .into_iter()
        .map(|p| Pair {
            key: p.key,
            value: p.value,
        })
        .collect();
    Page { pairs, resume }
}

#[async_trait::async_trait]
impl TxnKv for TxnClient {
    async fn begin(&self) -> Result<StartTs> {
        let ts = self.current_ts().await?;
        self.shared.running.lock().start(ts);
        let hold = RunningHold {
            running: self.shared.running.clone(),
            ts,
        };
        Ok(StartTs::new(ts, Some(Box::new(hold))))
    }

    async fn get(&self, ts: u64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.shared.get_at(ts, key).await
    }

    async fn batch_get(&self, ts: u64, keys: Vec<Vec<u8>>) -> Result<Vec<Pair>> {
        let mut remote: Vec<_> = keys.into_iter().map(|k| (encode_key(&k), k)).collect();
        remote.sort();
        remote.dedup();
        let mut found = self.shared.batch_get_at(ts, remote).await?;
        found.sort();
        Ok(found
            .into_iter()
            .map(|(key, value)| Pair { key, value })
            .collect())
    }

    async fn scan(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let (pairs, resume) = self
            .shared
            .scan_at(ts, start, end, max_rows, max_bytes)
            .await?;
        Ok(page_of(pairs, resume))
    }

    async fn scan_reverse(
        &self,
        ts: u64,
        start: &[u8],
        end: &[u8],
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let (pairs, resume) = self
            .shared
            .scan_at_rev(ts, start, end, max_rows, max_bytes)
            .await?;
        Ok(page_of(pairs, resume))
    }

    async fn commit(&self, start: &StartTs, changes: Vec<(Vec<u8>, Change)>) -> Result<u64> {
        self.commit_guarded(start, changes, &|| Box::pin(async { true }))
            .await
    }

    async fn commit_guarded(
        &self,
        start: &StartTs,
        changes: Vec<(Vec<u8>, Change)>,
        guard: &CommitGuard,
    ) -> Result<u64> {
        if changes.is_empty() {
            return Ok(start.ts);
        }
        let mutations = changes
            .into_iter()
            .map(|(key, change)| match change {
                Change::Put(v) => (key, Op::Put, v),
                Change::Delete => (key, Op::Del, Vec::new()),
                Change::Lock => (key, Op::Lock, Vec::new()),
            })
            .collect();
        Shared::commit_mutations(&self.shared, start.ts, start.began, mutations, guard).await
    }

    async fn coprocess(&self, ts: u64, start: &[u8], end: &[u8], plan: &[u8]) -> Result<CopPage> {
        self.shared.coprocess_at(ts, start, end, plan).await
    }

    async fn split_hint(&self, keys: &[Vec<u8>]) -> Result<()> {
        for key in keys {
            self.split_region(key).await?;
        }
        Ok(())
    }

    async fn ranges(&self, start: &[u8], end: &[u8]) -> Result<Vec<KeyRange>> {
        let (enc_start, enc_end) = encode_range(start, end);
        let routes = self
            .shared
            .rpc
            .pd()
            .scan_regions(enc_start.clone(), enc_end.clone(), 0)
            .await?;
        // Region boundaries inside the range, as user keys (a boundary
        // that is not a transactional key cuts nothing here).
        let cuts = routes.iter().filter_map(|r| {
            let b = &r.region.start_key;
            (*b > enc_start && *b < enc_end)
                .then(|| decode_key(b).ok())
                .flatten()
        });
        Ok(KeyRange::cut(start, end, cuts))
    }
}
