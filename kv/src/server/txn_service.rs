//! The transactional half of the KV service: MVCC reads at a timestamp
//! and Percolator actions, each on one Region.
//!
//! A read first waits out one-phase commits in flight on its keys (see
//! [`MemLocks`](super::latches::MemLocks)), then takes a linearizable
//! snapshot through the store loop, as a raw read does, and reads it with
//! an [`MvccReader`]. An action takes its keys' latches, takes such a
//! snapshot, runs (see [`crate::mvcc::txn`]), proposes its write batch
//! through Raft as one entry, and releases the latches once it applied.
//! Keys arrive as user keys and are encoded here; ranges are clamped to
//! the Region, so a client may send a range that starts before it.

use protocol::kvrpcpb::{self, KeyError, KvPair};
use protocol::mvccpb::Op;
use protocol::raft_cmdpb::{self, request::Cmd, ColumnFamily};
use protocol::TxnResponse;

use super::kv_service::{check_key, check_value, scan_byte_cap, Failure, KvService, Outcome};
use crate::coprocessor::{CopFailure, MvccSource};
use crate::engine::{Cf, Engine, WriteBatch, WriteOp};
use crate::metrics::RequestTimer;
use crate::mvcc::key::{decode_key, encode_key, encode_range, versions_end};
use crate::mvcc::txn::{self, Mutation, Prewrite, TxnStatus};
use crate::mvcc::{LockInfo, MvccError, MvccReader};
use crate::raftstore::ReadView;
use client::coprocessor::COP_BUDGET_PAIRS;

/// Most locks one region-wide resolve or lock scan handles.
const MAX_LOCKS_PER_CALL: usize = 4096;

impl From<MvccError> for Failure {
    fn from(e: MvccError) -> Self {
        match e {
            MvccError::Engine(e) => Failure::Other(e.to_string()),
            MvccError::Corrupt(e) => Failure::Other(e),
            e => Failure::Txn(e),
        }
    }
}

pub(super) fn lock_info(l: LockInfo) -> kvrpcpb::LockInfo {
    kvrpcpb::LockInfo {
        primary_lock: decode_key(&l.lock.primary).unwrap_or(l.lock.primary),
        lock_version: l.lock.start_ts,
        key: l.key,
        lock_ttl: l.lock.ttl,
        txn_size: l.lock.txn_size,
        lock_type: l.lock.op,
        min_commit_ts: l.lock.min_commit_ts,
        use_async_commit: l.lock.use_async_commit,
        secondaries: l.lock.secondaries,
    }
}

/// Locks as the store keeps them (encoded key, lock), as clients see them.
pub(super) fn lock_infos(
    locks: Vec<(Vec<u8>, protocol::mvccpb::Lock)>,
) -> crate::mvcc::Result<Vec<kvrpcpb::LockInfo>> {
    locks
        .into_iter()
        .map(|(k, lock)| {
            Ok(lock_info(LockInfo {
                key: decode_key(&k)?,
                lock,
            }))
        })
        .collect()
}

/// Fails with `TooOld` if `ts` is below `safe_point`.
fn refuse_below(ts: u64, safe_point: u64) -> Outcome<()> {
    if ts < safe_point {
        return Err(MvccError::TooOld { ts, safe_point }.into());
    }
    Ok(())
}

/// Fails with `TooOld` if the records of transaction `start_ts` may be
/// gone: below the safe point GC may have removed its commit record, and
/// "not found" would be a lie, not a rollback.
fn records_kept(start_ts: u64, safe_point: u64) -> crate::mvcc::Result<()> {
    if start_ts < safe_point {
        return Err(MvccError::TooOld {
            ts: start_ts,
            safe_point,
        });
    }
    Ok(())
}

/// The per-key errors a transactional failure is reported as.
fn key_errors(e: MvccError) -> Vec<KeyError> {
    match e {
        MvccError::Locked(locks) => locks
            .into_iter()
            .map(|l| KeyError {
                locked: Some(lock_info(l)),
                ..Default::default()
            })
            .collect(),
        MvccError::WriteConflict {
            key,
            start_ts,
            conflict_start_ts,
            conflict_commit_ts,
        } => vec![KeyError {
            conflict: Some(kvrpcpb::WriteConflict {
                start_ts,
                conflict_start_ts,
                conflict_commit_ts,
                key,
            }),
            ..Default::default()
        }],
        MvccError::CommitTsTooSmall { min_commit_ts, .. } => vec![KeyError {
            min_commit_ts,
            ..Default::default()
        }],
        MvccError::TxnNotFound { .. } => vec![KeyError {
            txn_not_found: true,
            ..Default::default()
        }],
        e => vec![KeyError {
            abort: e.to_string(),
            ..Default::default()
        }],
    }
}

/// Builds a transactional response from an outcome.
fn respond_txn<R: TxnResponse, T>(outcome: Outcome<T>, fill: impl FnOnce(&mut R, T)) -> R {
    let mut resp = R::default();
    match outcome {
        Ok(v) => fill(&mut resp, v),
        Err(Failure::Region(e)) => *resp.region_error_mut() = Some(e),
        Err(Failure::Other(e)) => *resp.error_mut() = e,
        Err(Failure::Txn(e)) => *resp.errors_mut() = key_errors(e),
    }
    resp
}

/// The Raft commands that carry out a write batch of an action.
pub(super) fn batch_requests(wb: WriteBatch) -> Vec<raft_cmdpb::Request> {
    let cf = |cf: Cf| match cf {
        Cf::Lock => ColumnFamily::CfLock,
        Cf::Write => ColumnFamily::CfWrite,
        _ => ColumnFamily::CfDefault,
    } as i32;
    wb.ops()
        .iter()
        .filter_map(|op| match op {
            WriteOp::Put { cf: c, key, value } => Some(Cmd::Put(raft_cmdpb::PutRequest {
                cf: cf(*c),
                key: key.clone(),
                value: value.clone(),
            })),
            WriteOp::Delete { cf: c, key } => Some(Cmd::Delete(raft_cmdpb::DeleteRequest {
                cf: cf(*c),
                key: key.clone(),
            })),
            // Actions never delete ranges.
            WriteOp::DeleteRange { .. } => None,
        })
        .map(|cmd| raft_cmdpb::Request { cmd: Some(cmd) })
        .collect()
}

/// Checks and encodes user keys.
fn encode_keys(keys: &[Vec<u8>]) -> Outcome<Vec<Vec<u8>>> {
    keys.iter()
        .map(|k| {
            check_key(k)?;
            Ok(encode_key(k))
        })
        .collect()
}

/// The part of the encoded range `[start, end)` inside the Region (empty
/// if none).
pub(super) fn clamp_to_region(
    start: Vec<u8>,
    end: Vec<u8>,
    region: &protocol::metapb::Region,
) -> (Vec<u8>, Vec<u8>) {
    let start = start.max(region.start_key.clone());
    let end = crate::keys::clamp_end(&end, &region.end_key);
    if !end.is_empty() && start >= end {
        return (start.clone(), start);
    }
    (start, end)
}

impl<E: Engine> KvService<E> {
    /// A snapshot of the Region for a read at `ts` of the encoded range
    /// `[start, end)` (the keys `keys` for a point read).
    async fn txn_snapshot(
        &self,
        ctx: Option<kvrpcpb::Context>,
        keys: Vec<Vec<u8>>,
        range: (Vec<u8>, Vec<u8>),
        ts: u64,
    ) -> Outcome<ReadView<E::Snapshot>> {
        self.check_not_too_old(ts)?;
        self.mem_locks
            .wait_clear(&range.0, &range.1, ts)
            .await
            .map_err(|_| {
                Failure::Region(crate::region_error::server_is_busy(
                    "a one-phase commit on these keys is still being written",
                ))
            })?;
        let view = self.read(ctx, keys, None).await?;
        // Again, now that the snapshot is taken: the safe point may have
        // moved (and GC acted on it) while the read waited.
        self.check_not_too_old(ts)?;
        Ok(view)
    }

    /// A snapshot for a read at `ts` of the user-key range
    /// `[start, end)`, with the encoded part of it inside the Region and
    /// whether the Region's end cut it.
    async fn range_snapshot(
        &self,
        ctx: Option<kvrpcpb::Context>,
        start: &[u8],
        end: &[u8],
        ts: u64,
    ) -> Outcome<(ReadView<E::Snapshot>, Vec<u8>, Vec<u8>, bool)> {
        if start.len() > crate::keys::MAX_KEY_SIZE || end.len() > crate::keys::MAX_KEY_SIZE {
            return Err(Failure::Other(
                "range bound exceeds the key size limit".into(),
            ));
        }
        let (start, end) = encode_range(start, end);
        let view = self
            .txn_snapshot(ctx, vec![], (start.clone(), end.clone()), ts)
            .await?;
        let (start, clamped) = clamp_to_region(start, end.clone(), &view.region);
        let cut = clamped != end;
        Ok((view, start, clamped, cut))
    }

    /// Refuses a read older than the GC safe point.
    fn check_not_too_old(&self, ts: u64) -> Outcome<()> {
        refuse_below(ts, self.gc.safe_point())
    }

    /// Refuses a prewrite older than the GC target: its locks could land
    /// behind the lock resolution that lets the safe point move there.
    fn check_prewrite_not_too_old(&self, ts: u64) -> Outcome<()> {
        refuse_below(ts, self.gc.target().max(self.gc.safe_point()))
    }

    /// Runs an action on `keys` (encoded) under their latches and writes
    /// what it staged through Raft. Each key counts once as the Region's
    /// write load.
    async fn txn_write<T>(
        &self,
        ctx: Option<kvrpcpb::Context>,
        keys: &[Vec<u8>],
        action: impl FnOnce(&MvccReader<'_, E::Snapshot>, &mut WriteBatch) -> crate::mvcc::Result<T>,
    ) -> Outcome<T> {
        self.txn_write_guarded(ctx, keys, (), action).await
    }

    /// [`Self::txn_write`], keeping `guard` (a 1PC's marks) alive with the
    /// latches until the write's fate is known.
    async fn txn_write_guarded<T, G: Send + 'static>(
        &self,
        ctx: Option<kvrpcpb::Context>,
        keys: &[Vec<u8>],
        guard: G,
        action: impl FnOnce(&MvccReader<'_, E::Snapshot>, &mut WriteBatch) -> crate::mvcc::Result<T>,
    ) -> Outcome<T> {
        let (region_id, epoch) = self.route(ctx)?;
        self.load
            .record_writes(region_id, keys.iter().map(Vec::as_slice));
        let latches = self.latches.acquire(keys).await;
        let view = self
            .snapshot(region_id, epoch.clone(), keys.to_vec(), None)
            .await?;
        let mut wb = WriteBatch::default();
        let out = action(&MvccReader::new(&*view.snapshot), &mut wb)?;
        if !wb.is_empty() {
            let requests = batch_requests(wb);
            self.propose_guarded(region_id, epoch, requests, 0, (latches, guard))
                .await?;
        }
        Ok(out)
    }

    /// Serves one `KvGetRequest`.
    pub(super) async fn handle_kv_get(&self, req: kvrpcpb::KvGetRequest) -> kvrpcpb::KvGetResponse {
        let _timer = RequestTimer::new("kv_get");
        let outcome = async {
            check_key(&req.key)?;
            let key = encode_key(&req.key);
            let range = (key.clone(), versions_end(&key));
            let view = self
                .txn_snapshot(req.context, vec![key.clone()], range, req.version)
                .await?;
            Ok(MvccReader::new(&*view.snapshot).get(&key, req.version)?)
        }
        .await;
        respond_txn(outcome, |r: &mut kvrpcpb::KvGetResponse, v| match v {
            Some(v) => r.value = v,
            None => r.not_found = true,
        })
    }

    /// Serves one `KvBatchGetRequest`: every lock met is reported at once.
    pub(super) async fn handle_kv_batch_get(
        &self,
        req: kvrpcpb::KvBatchGetRequest,
    ) -> kvrpcpb::KvBatchGetResponse {
        let _timer = RequestTimer::new("kv_batch_get");
        let outcome = async {
            let keys = encode_keys(&req.keys)?;
            let (Some(first), Some(last)) = (keys.iter().min(), keys.iter().max()) else {
                return Ok(Vec::new());
            };
            let range = (first.clone(), versions_end(last));
            let view = self
                .txn_snapshot(req.context, keys.clone(), range, req.version)
                .await?;
            let reader = MvccReader::new(&*view.snapshot);
            let mut pairs = Vec::new();
            let mut locks = Vec::new();
            for (user, key) in req.keys.into_iter().zip(&keys) {
                match reader.get(key, req.version) {
                    Ok(Some(value)) => pairs.push(KvPair { key: user, value }),
                    Ok(None) => {}
                    Err(MvccError::Locked(l)) => locks.extend(l),
                    Err(e) => return Err(e.into()),
                }
            }
            if !locks.is_empty() {
                return Err(MvccError::Locked(locks).into());
            }
            Ok(pairs)
        }
        .await;
        respond_txn(outcome, |r: &mut kvrpcpb::KvBatchGetResponse, p| {
            r.pairs = p
        })
    }

    /// Serves one `KvScanRequest` over the part of the range in the Region.
    pub(super) async fn handle_kv_scan(
        &self,
        req: kvrpcpb::KvScanRequest,
    ) -> kvrpcpb::KvScanResponse {
        let _timer = RequestTimer::new("kv_scan");
        let outcome = async {
            let (view, start, end, _) = self
                .range_snapshot(req.context, &req.start_key, &req.end_key, req.version)
                .await?;
            if start == end {
                return Ok((Vec::new(), false));
            }
            let reader = MvccReader::new(&*view.snapshot);
            let (limit, cap) = (req.limit as usize, scan_byte_cap(req.max_bytes));
            let (pairs, more) = if req.reverse {
                reader.scan_page_rev(&start, &end, req.version, limit, cap)?
            } else {
                reader.scan_page(&start, &end, req.version, limit, cap)?
            };
            let pairs = pairs
                .into_iter()
                .map(|(key, value)| KvPair { key, value })
                .collect();
            Ok((pairs, more))
        }
        .await;
        respond_txn(outcome, |r: &mut kvrpcpb::KvScanResponse, (p, more)| {
            r.pairs = p;
            r.more = more;
        })
    }

    /// Serves one `KvCoprocessorRequest`: runs the plan over the part of
    /// the range in the Region (at most a budget of pairs) off the async
    /// runtime, and says where the rest of the range starts.
    pub(super) async fn handle_kv_coprocessor(
        &self,
        req: kvrpcpb::KvCoprocessorRequest,
    ) -> kvrpcpb::KvCoprocessorResponse {
        let _timer = RequestTimer::new("kv_coprocessor");
        let Some(cop) = self.coprocessor.clone() else {
            return kvrpcpb::KvCoprocessorResponse {
                unsupported: true,
                ..Default::default()
            };
        };
        let outcome = async {
            let (view, start, clamped_end, cut) = self
                .range_snapshot(req.context, &req.start_key, &req.end_key, req.version)
                .await?;
            // Past the Region's end, the range goes on in the next one.
            let region_end = &view.region.end_key;
            let beyond = (cut && !region_end.is_empty())
                .then(|| decode_key(region_end))
                .transpose()
                .map_err(|e| Failure::Other(format!("Region end key: {e}")))?;
            let (ts, snapshot, plan) = (req.version, view.snapshot, req.plan);
            let ran = tokio::task::spawn_blocking(move || {
                MvccSource::new(&*snapshot, start, clamped_end, ts, COP_BUDGET_PAIRS)
                    .run(&*cop, &plan)
            })
            .await
            .map_err(|e| Failure::Other(format!("coprocessor task: {e}")))?;
            let (data, read) = match ran {
                Ok(out) => out,
                Err(CopFailure::Read(e)) => return Err(e.into()),
                Err(CopFailure::Plan(e)) => return Err(Failure::Other(e)),
            };
            Ok((data, read.scanned, read.resume.or(beyond)))
        }
        .await;
        respond_txn(
            outcome,
            |r: &mut kvrpcpb::KvCoprocessorResponse, (data, scanned, resume)| {
                r.data = data;
                r.scanned = scanned;
                r.more = resume.is_some();
                r.resume_key = resume.unwrap_or_default();
            },
        )
    }

    /// Serves one `KvPrewriteRequest`, committing at once for 1PC.
    pub(super) async fn handle_kv_prewrite(
        &self,
        req: kvrpcpb::KvPrewriteRequest,
    ) -> kvrpcpb::KvPrewriteResponse {
        let _timer = RequestTimer::new("kv_prewrite");
        let outcome = async {
            if req.mutations.is_empty() {
                return Err(Failure::Other("prewrite without mutations".into()));
            }
            check_key(&req.primary_lock)?;
            let mut mutations = Vec::with_capacity(req.mutations.len());
            for m in &req.mutations {
                check_key(&m.key)?;
                check_value(&m.value)?;
                let op = match Op::try_from(m.op) {
                    Ok(op @ (Op::Put | Op::Del | Op::Lock)) => op,
                    _ => return Err(Failure::Other(format!("bad mutation op {}", m.op))),
                };
                mutations.push(Mutation {
                    op,
                    key: encode_key(&m.key),
                    value: m.value.clone(),
                });
            }
            self.check_prewrite_not_too_old(req.start_version)?;
            let keys: Vec<Vec<u8>> = mutations.iter().map(|m| m.key.clone()).collect();
            let mut prewrite = Prewrite {
                start_ts: req.start_version,
                primary: encode_key(&req.primary_lock),
                lock_ttl: req.lock_ttl,
                txn_size: req.txn_size,
                min_commit_ts: req.min_commit_ts,
                one_pc_commit_ts: None,
                async_commit: req.use_async_commit.then(|| req.secondaries.clone()),
            };
            // 1PC and async commit: readers of these keys wait from here
            // until the write applied, so that none reads at or past the
            // timestamp taken next without seeing the write. A 1PC commits
            // at it; an async-commit lock may not commit below it (every
            // read of the keys so far came before it).
            let marks = if req.try_one_pc || req.use_async_commit {
                let marks = self.mem_locks.lock(keys.clone(), req.start_version);
                let now = self
                    .tso
                    .get()
                    .await
                    // Retryable: an earlier attempt of this 1PC may have
                    // committed, and the client must not take this for an
                    // answer.
                    .map_err(|e| {
                        Failure::Region(crate::region_error::server_is_busy(format!(
                            "no timestamp from PD: {e}"
                        )))
                    })?;
                let ts = now.max(req.min_commit_ts);
                if req.try_one_pc {
                    prewrite.one_pc_commit_ts = Some(ts);
                } else {
                    prewrite.min_commit_ts = ts;
                }
                Some(marks)
            } else {
                None
            };
            let ctx = req.context;
            let done = self
                .txn_write_guarded(ctx, &keys, marks, |r, wb| {
                    txn::prewrite(r, &prewrite, &mutations, wb)
                })
                .await?;
            // A retry of a 1PC that took effect answers with the timestamp
            // it committed at, also when it came back as plain prewrites
            // (the Region split meanwhile).
            let one_pc_ts = done.committed.or(prewrite.one_pc_commit_ts).unwrap_or(0);
            // An async commit already committed (by a resolver, once all
            // keys were locked) did so at its locks' largest minimum.
            let min_commit_ts = done.committed.unwrap_or(done.min_commit_ts);
            Ok((one_pc_ts, min_commit_ts))
        }
        .await;
        respond_txn(
            outcome,
            |r: &mut kvrpcpb::KvPrewriteResponse, (one_pc_ts, min_commit_ts)| {
                r.one_pc_commit_ts = one_pc_ts;
                r.min_commit_ts = min_commit_ts;
            },
        )
    }

    /// Serves one `KvCommitRequest`.
    pub(super) async fn handle_kv_commit(
        &self,
        req: kvrpcpb::KvCommitRequest,
    ) -> kvrpcpb::KvCommitResponse {
        let _timer = RequestTimer::new("kv_commit");
        let outcome = async {
            if req.commit_version <= req.start_version {
                return Err(Failure::Other(format!(
                    "commit_version {} is not after start_version {}",
                    req.commit_version, req.start_version
                )));
            }
            let keys = encode_keys(&req.keys)?;
            let (start, commit) = (req.start_version, req.commit_version);
            self.txn_write(req.context, &keys, |r, wb| {
                txn::commit(r, &keys, start, commit, wb)
            })
            .await
        }
        .await;
        respond_txn(outcome, |_: &mut kvrpcpb::KvCommitResponse, ()| {})
    }

    /// Serves one `KvBatchRollbackRequest`.
    pub(super) async fn handle_kv_batch_rollback(
        &self,
        req: kvrpcpb::KvBatchRollbackRequest,
    ) -> kvrpcpb::KvBatchRollbackResponse {
        let _timer = RequestTimer::new("kv_batch_rollback");
        let outcome = async {
            let keys = encode_keys(&req.keys)?;
            let start = req.start_version;
            self.txn_write(req.context, &keys, |r, wb| {
                txn::rollback(r, &keys, start, wb)
            })
            .await
        }
        .await;
        respond_txn(outcome, |_: &mut kvrpcpb::KvBatchRollbackResponse, ()| {})
    }

    /// Serves one `KvCheckTxnStatusRequest`.
    pub(super) async fn handle_kv_check_txn_status(
        &self,
        req: kvrpcpb::KvCheckTxnStatusRequest,
    ) -> kvrpcpb::KvCheckTxnStatusResponse {
        let _timer = RequestTimer::new("kv_check_txn_status");
        let req_primary = req.primary_key.clone();
        let outcome = async {
            check_key(&req.primary_key)?;
            let primary = encode_key(&req.primary_key);
            let keys = [primary.clone()];
            let (lock_ts, now, rollback) = (req.lock_ts, req.current_ts, req.rollback_if_not_exist);
            self.txn_write(req.context, &keys, |r, wb| {
                records_kept(lock_ts, self.gc.safe_point())?;
                txn::check_txn_status(r, &primary, lock_ts, now, rollback, wb)
            })
            .await
        }
        .await;
        respond_txn(
            outcome,
            |r: &mut kvrpcpb::KvCheckTxnStatusResponse, st| match st {
                TxnStatus::Locked(lock) => {
                    r.state = kvrpcpb::TxnState::Locked as i32;
                    r.lock_ttl = lock.ttl;
                    r.lock_info = Some(lock_info(LockInfo {
                        key: req_primary,
                        lock,
                    }));
                }
                TxnStatus::Committed(ts) => {
                    r.state = kvrpcpb::TxnState::Committed as i32;
                    r.commit_version = ts;
                }
                TxnStatus::RolledBack => r.state = kvrpcpb::TxnState::RolledBack as i32,
            },
        )
    }

    /// Serves one `KvCheckSecondaryLocksRequest`.
    pub(super) async fn handle_kv_check_secondary_locks(
        &self,
        req: kvrpcpb::KvCheckSecondaryLocksRequest,
    ) -> kvrpcpb::KvCheckSecondaryLocksResponse {
        let _timer = RequestTimer::new("kv_check_secondary_locks");
        let outcome = async {
            let keys = encode_keys(&req.keys)?;
            let start = req.start_version;
            let found = self
                .txn_write(req.context, &keys, |r, wb| {
                    records_kept(start, self.gc.safe_point())?;
                    txn::check_secondary_locks(r, &keys, start, wb)
                })
                .await?;
            let locks = lock_infos(found.locks)?;
            Ok((locks, found.commit_ts.unwrap_or(0), found.rolled_back))
        }
        .await;
        respond_txn(
            outcome,
            |r: &mut kvrpcpb::KvCheckSecondaryLocksResponse, (locks, commit_ts, rolled_back)| {
                r.locks = locks;
                r.commit_ts = commit_ts;
                r.rolled_back = rolled_back;
            },
        )
    }

    /// The encoded keys of the Region that transaction `start_ts` locks
    /// (at most [`MAX_LOCKS_PER_CALL`]).
    async fn region_locks_of(
        &self,
        ctx: Option<kvrpcpb::Context>,
        start_ts: u64,
    ) -> Outcome<Vec<Vec<u8>>> {
        let view = self.read(ctx, vec![], None).await?;
        let (start, end) = encode_range(b"", b"");
        let (start, end) = clamp_to_region(start, end, &view.region);
        if start == end {
            return Ok(Vec::new());
        }
        let locks = MvccReader::new(&*view.snapshot).scan_locks(
            &start,
            &end,
            &mut |l| l.start_ts == start_ts,
            MAX_LOCKS_PER_CALL,
        )?;
        Ok(locks.into_iter().map(|(k, _)| k).collect())
    }

    /// Serves one `KvResolveLockRequest`: the named keys, or every lock of
    /// the transaction in the Region.
    pub(super) async fn handle_kv_resolve_lock(
        &self,
        req: kvrpcpb::KvResolveLockRequest,
    ) -> kvrpcpb::KvResolveLockResponse {
        let _timer = RequestTimer::new("kv_resolve_lock");
        let outcome = async {
            let start = req.start_version;
            let commit = (req.commit_version != 0).then_some(req.commit_version);
            if commit.is_some_and(|c| c <= start) {
                return Err(Failure::Other(
                    "commit_version is not after start_version".into(),
                ));
            }
            let keys = if req.keys.is_empty() {
                self.region_locks_of(req.context.clone(), start).await?
            } else {
                encode_keys(&req.keys)?
            };
            if keys.is_empty() {
                return Ok(());
            }
            self.txn_write(req.context, &keys, |r, wb| {
                txn::resolve_locks(r, &keys, start, commit, wb)
            })
            .await
        }
        .await;
        respond_txn(outcome, |_: &mut kvrpcpb::KvResolveLockResponse, ()| {})
    }

    /// Serves one `KvTxnHeartBeatRequest`.
    pub(super) async fn handle_kv_txn_heart_beat(
        &self,
        req: kvrpcpb::KvTxnHeartBeatRequest,
    ) -> kvrpcpb::KvTxnHeartBeatResponse {
        let _timer = RequestTimer::new("kv_txn_heart_beat");
        let outcome = async {
            check_key(&req.primary_lock)?;
            let primary = encode_key(&req.primary_lock);
            let keys = [primary.clone()];
            let (start, ttl) = (req.start_version, req.advise_lock_ttl);
            self.txn_write(req.context, &keys, |r, wb| {
                txn::heartbeat(r, &primary, start, ttl, wb)
            })
            .await
        }
        .await;
        respond_txn(outcome, |r: &mut kvrpcpb::KvTxnHeartBeatResponse, ttl| {
            r.lock_ttl = ttl
        })
    }

    /// Serves one `KvScanLockRequest` over the part of the range in the Region.
    pub(super) async fn handle_kv_scan_lock(
        &self,
        req: kvrpcpb::KvScanLockRequest,
    ) -> kvrpcpb::KvScanLockResponse {
        let _timer = RequestTimer::new("kv_scan_lock");
        let outcome = async {
            let view = self.read(req.context, vec![], None).await?;
            let (start, end) = encode_range(&req.start_key, &req.end_key);
            let (start, end) = clamp_to_region(start, end, &view.region);
            if start == end {
                return Ok(Vec::new());
            }
            let limit = (req.limit as usize).clamp(1, MAX_LOCKS_PER_CALL);
            let max = req.max_version;
            let locks = MvccReader::new(&*view.snapshot).scan_locks(
                &start,
                &end,
                &mut |l| l.start_ts <= max,
                limit,
            )?;
            lock_infos(locks).map_err(Failure::from)
        }
        .await;
        respond_txn(outcome, |r: &mut kvrpcpb::KvScanLockResponse, l| {
            r.locks = l
        })
    }
}
