//! `RegionRpc`: requests to the leaders of the Regions holding keys, with
//! the retries that keep routing invisible — the part of the client that
//! the raw and the transactional clients share.
//!
//! Each request finds its Region through the [`RegionCache`] (by its key in
//! the Region key space), goes to the Region's leader, and on a routing
//! error or an unreachable store the cache is fixed and the request tried
//! again with backoff, until the operation's deadline. Callers see success,
//! a real error (bad input, a storage failure), or `Error::Deadline` —
//! never a routing error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use parking_lot::Mutex;
use protocol::errorpb::{region_error::Kind, RegionError};
use protocol::kvrpcpb::{self, kv_client::KvClient, Context};
use protocol::metapb;

use super::batch_conn::BatchConn;
use protocol::{BatchCommand, RawResponse};
use tokio::time::Instant;

use super::region_cache::{target_peer, RegionCache};
use crate::error::{Error, Result};
use crate::pd_client::{channel, PdClient, RegionRoute, RpcPdClient};

/// Options of a client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long one operation may take, retries included.
    pub timeout: Duration,
    /// How long one attempt at one store may take.
    pub attempt_timeout: Duration,
    /// Whether small multi-Region transactions commit asynchronously (see
    /// `txn`); off: they always commit in two phases.
    pub async_commit: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(3),
            async_commit: true,
        }
    }
}

/// Multiplexed connections to stores, by store id.
struct StoreConns<P: PdClient> {
    pd: Arc<P>,
    conns: Mutex<HashMap<u64, Arc<BatchConn>>>,
}

impl<P: PdClient> StoreConns<P> {
    async fn get(&self, store_id: u64) -> Result<Arc<BatchConn>> {
        if let Some(c) = self
            .conns
            .lock()
            .get(&store_id)
            .filter(|c| c.is_alive())
            .cloned()
        {
            return Ok(c);
        }
        let store = self.pd.get_store(store_id).await?;
        // No per-call timeout on the channel: the stream lives long, and
        // every request has its own attempt timeout.
        let ch = channel(&store.address, Duration::from_secs(24 * 3600))?;
        let client = KvClient::new(ch)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let c = Arc::new(BatchConn::open(client));
        self.conns.lock().insert(store_id, c.clone());
        Ok(c)
    }

    fn forget(&self, store_id: u64) {
        self.conns.lock().remove(&store_id);
    }
}

/// How one attempt at one Region ended.
enum Attempt<R> {
    Done(R),
    /// The cache was corrected; try again (after a pause if `backoff`).
    Retry {
        backoff: bool,
        why: String,
    },
    Fail(Error),
}

/// Exponential backoff bounded by a deadline.
pub(super) struct Backoff {
    next: Duration,
    deadline: Instant,
}

impl Backoff {
    pub(super) fn new(deadline: Instant) -> Self {
        Backoff {
            next: Duration::from_millis(10),
            deadline,
        }
    }

    pub(super) async fn wait(&mut self) {
        let until = (Instant::now() + self.next).min(self.deadline);
        tokio::time::sleep_until(until).await;
        self.next = (self.next * 2).min(Duration::from_millis(500));
    }
}

/// Requests to Region leaders with transparent retries.
pub struct RegionRpc<P: PdClient = RpcPdClient> {
    pub(super) cache: RegionCache<P>,
    conns: StoreConns<P>,
    pub(super) opts: ClientOptions,
}

impl<P: PdClient> RegionRpc<P> {
    /// Requests over an existing PD client.
    pub fn new(pd: Arc<P>, opts: ClientOptions) -> Self {
        RegionRpc {
            cache: RegionCache::new(pd.clone()),
            conns: StoreConns {
                pd,
                conns: Mutex::new(HashMap::new()),
            },
            opts,
        }
    }

    /// The PD client behind this client.
    pub fn pd(&self) -> &Arc<P> {
        self.cache.pd()
    }

    pub(super) fn deadline(&self) -> Instant {
        Instant::now() + self.opts.timeout
    }

    pub(super) fn deadline_error(&self, last: &str) -> Error {
        Error::Deadline(self.opts.timeout, format!("last error: {last}"))
    }

    /// Sends one request to `route`'s leader and interprets the answer.
    async fn attempt<Q: BatchCommand>(
        &self,
        route: &RegionRoute,
        build: impl FnOnce(Context) -> Q,
    ) -> Attempt<Q::Response> {
        let region_id = route.region.id;
        let Some(peer) = target_peer(route) else {
            self.cache.invalidate(region_id);
            return Attempt::Retry {
                backoff: true,
                why: format!("region {region_id} has no voter"),
            };
        };
        let store_id = peer.store_id;
        let conn = match self.conns.get(store_id).await {
            Ok(c) => c,
            Err(e) => {
                return Attempt::Retry {
                    backoff: true,
                    why: e.to_string(),
                }
            }
        };
        let ctx = Context {
            region_id,
            region_epoch: route.region.region_epoch.clone(),
            peer: Some(peer),
        };
        let reply = conn.send(build(ctx).into_batch());
        let mut resp = match tokio::time::timeout(self.opts.attempt_timeout, reply).await {
            Ok(Ok(Ok(cmd))) => match Q::from_batch(cmd) {
                Some(r) => r,
                None => {
                    return Attempt::Fail(Error::Remote(
                        "store answered with another response kind".into(),
                    ))
                }
            },
            // A request the store cannot take, or an answer too large to
            // carry, fails the same way every time: no retry.
            Ok(Ok(Err(status))) if !retryable(&status) => {
                self.conns.forget(store_id);
                return Attempt::Fail(Error::Remote(format!(
                    "store {store_id}: {}",
                    status.message()
                )));
            }
            Ok(Ok(Err(status))) => {
                self.conns.forget(store_id);
                self.cache.on_peer_unreachable(region_id, store_id);
                return Attempt::Retry {
                    backoff: true,
                    why: format!("store {store_id}: {}", status.message()),
                };
            }
            Ok(Err(_)) | Err(_) => {
                self.cache.on_peer_unreachable(region_id, store_id);
                return Attempt::Retry {
                    backoff: true,
                    why: format!("store {store_id} timed out"),
                };
            }
        };
        if let Some(e) = resp.region_error_mut().take() {
            let backoff = self.on_region_error(region_id, store_id, &e);
            return Attempt::Retry {
                backoff,
                why: e.message,
            };
        }
        if !resp.error_mut().is_empty() {
            return Attempt::Fail(Error::Remote(std::mem::take(resp.error_mut())));
        }
        Attempt::Done(resp)
    }

    /// Corrects the cache after a routing error; says whether to pause.
    fn on_region_error(&self, region_id: u64, store_id: u64, e: &RegionError) -> bool {
        match &e.kind {
            Some(Kind::NotLeader(nl)) => match &nl.leader {
                Some(l) if l.store_id != store_id => {
                    self.cache.update_leader(region_id, l.clone());
                    false
                }
                // An election is under way: give it a moment.
                _ => {
                    self.cache.on_peer_unreachable(region_id, store_id);
                    true
                }
            },
            Some(Kind::EpochNotMatch(en)) => {
                self.cache
                    .on_epoch_not_match(region_id, en.current_regions.clone());
                false
            }
            Some(Kind::StoreNotMatch(_)) => {
                self.conns.forget(store_id);
                self.cache.invalidate(region_id);
                true
            }
            Some(Kind::KeyNotInRegion(_)) | Some(Kind::RegionNotFound(_)) | None => {
                self.cache.invalidate(region_id);
                true
            }
            Some(Kind::ServerIsBusy(_)) | Some(Kind::StaleCommand(_)) => true,
        }
    }

    /// Runs a single-Region request for `key` until it succeeds, fails for
    /// real, or the deadline passes. Returns the response and the Region it
    /// was served by.
    pub(super) async fn request<Q: BatchCommand>(
        &self,
        key: &[u8],
        mut build: impl FnMut(Context) -> Q,
    ) -> Result<(Q::Response, RegionRoute)> {
        let deadline = self.deadline();
        let mut backoff = Backoff::new(deadline);
        let mut last = String::from("none");
        while Instant::now() < deadline {
            let route = match self.cache.locate(key).await {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    backoff.wait().await;
                    continue;
                }
            };
            match self.attempt(&route, &mut build).await {
                Attempt::Done(r) => return Ok((r, route)),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry {
                    backoff: pause,
                    why,
                } => {
                    tracing::debug!(region = route.region.id, "retrying: {why}");
                    last = why;
                    if pause {
                        backoff.wait().await;
                    }
                }
            }
        }
        Err(self.deadline_error(&last))
    }

    /// A key of the Region holding the keys just below `end` (encoded, not
    /// empty), to route a backward read of a range ending at `end`.
    pub(super) async fn locate_before(&self, end: &[u8]) -> Result<Vec<u8>> {
        // Below `end` and above every key below it that is shorter than
        // it by less than 32 bytes: Region boundaries are keys, so one
        // lying between the probe and `end` is met and stepped over below.
        let mut probe = end.to_vec();
        match probe.pop() {
            Some(0) | None => {}
            Some(last) => {
                probe.push(last - 1);
                probe.extend_from_slice(&[0xFF; 32]);
            }
        }
        loop {
            let route = self.cache.locate(&probe).await?;
            let region_end = &route.region.end_key;
            if region_end.is_empty() || region_end.as_slice() >= end {
                return Ok(probe);
            }
            probe = region_end.clone();
        }
    }

    /// Splits `items` by the Region holding each one's key.
    pub(super) async fn group<T>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &[u8],
    ) -> Result<Vec<(RegionRoute, Vec<T>)>> {
        let mut groups: Vec<(RegionRoute, Vec<T>)> = Vec::new();
        for item in items {
            let route = self.cache.locate(key(&item)).await?;
            match groups
                .iter_mut()
                .find(|(r, _)| r.region.id == route.region.id)
            {
                Some((_, g)) => g.push(item),
                None => groups.push((route, vec![item])),
            }
        }
        Ok(groups)
    }

    /// Runs a multi-key request: one request per Region, in parallel; keys
    /// of Regions that answered with a routing error are regrouped and
    /// retried. `merge` receives each successful response.
    pub(super) async fn batch<T: Clone + Weigh, Q: BatchCommand>(
        &self,
        items: Vec<T>,
        key: impl Fn(&T) -> &[u8] + Copy,
        build: impl Fn(Context, Vec<T>) -> Q,
        mut merge: impl FnMut(Q::Response),
    ) -> Result<()> {
        let deadline = self.deadline();
        let mut backoff = Backoff::new(deadline);
        let mut pending = items;
        let mut last = String::from("none");
        while !pending.is_empty() {
            if Instant::now() >= deadline {
                return Err(self.deadline_error(&last));
            }
            let groups = match self.group(std::mem::take(&mut pending), key).await {
                Ok(g) => g,
                Err(e) => return Err(e),
            };
            let attempts = groups.into_iter().flat_map(|(route, items)| {
                chunks(items).into_iter().map(move |c| (route.clone(), c))
            });
            let attempts = attempts.map(|(route, items)| {
                let build = &build;
                async move {
                    let batch = items.clone();
                    let r = self.attempt(&route, move |ctx| build(ctx, batch)).await;
                    (items, r)
                }
            });
            let mut pause = false;
            for (items, r) in join_all(attempts).await {
                match r {
                    Attempt::Done(resp) => merge(resp),
                    Attempt::Fail(e) => return Err(e),
                    Attempt::Retry { backoff: p, why } => {
                        tracing::debug!("retrying part of a batch: {why}");
                        pause |= p;
                        last = why;
                        pending.extend(items);
                    }
                }
            }
            if pause && !pending.is_empty() {
                backoff.wait().await;
            }
        }
        Ok(())
    }
    /// Splits the Region holding the Region-space key `key` so that a
    /// Region starts at it; returns the Regions that now cover the old
    /// one, in key order (just the Region holding `key` if one already
    /// started there).
    pub async fn split_at(&self, key: Vec<u8>) -> Result<Vec<metapb::Region>> {
        let (r, route) = self
            .request(&key, |ctx| kvrpcpb::SplitRegionRequest {
                context: Some(ctx),
                split_keys: vec![key.clone()],
            })
            .await?;
        self.cache.invalidate(route.region.id);
        Ok(r.regions)
    }
}

/// Most keys one multi-key request carries.
const MAX_REQUEST_KEYS: usize = 4096;
/// About the most bytes one multi-key request carries (one item alone may
/// be larger): a transaction of any size prewrites in requests the store
/// takes.
const MAX_REQUEST_BYTES: usize = 4 << 20;

/// What an item of a multi-key request adds to the request's size.
pub(super) trait Weigh {
    /// Bytes of keys and values.
    fn weight(&self) -> usize;
}

impl Weigh for Vec<u8> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for (Vec<u8>, Vec<u8>) {
    fn weight(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

impl Weigh for kvrpcpb::KvPair {
    fn weight(&self) -> usize {
        self.key.len() + self.value.len()
    }
}

impl Weigh for (Vec<u8>, kvrpcpb::Mutation) {
    fn weight(&self) -> usize {
        self.1.key.len() + self.1.value.len()
    }
}

/// One Region's items cut into requests of at most [`MAX_REQUEST_KEYS`]
/// keys and about [`MAX_REQUEST_BYTES`] bytes.
fn chunks<T: Weigh>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let w = item.weight();
        match out.last_mut() {
            Some(c) if c.len() < MAX_REQUEST_KEYS && bytes + w <= MAX_REQUEST_BYTES => {
                bytes += w;
                c.push(item);
            }
            _ => {
                bytes = w;
                out.push(vec![item]);
            }
        }
    }
    out
}

/// Whether a failed gRPC call may succeed when repeated (a broken
/// connection, an overloaded store) rather than fail the same way again
/// (a message over the size limit, a request the store does not know).
fn retryable(status: &tonic::Status) -> bool {
    use tonic::Code;
    !matches!(
        status.code(),
        Code::OutOfRange | Code::InvalidArgument | Code::Unimplemented | Code::FailedPrecondition
    )
}

/// Where a range walk continues after `route`'s Region, if it does.
pub(super) fn next_start(route: &RegionRoute, end: &[u8]) -> Option<Vec<u8>> {
    let region_end = &route.region.end_key;
    if region_end.is_empty() || (!end.is_empty() && region_end.as_slice() >= end) {
        None
    } else {
        Some(region_end.clone())
    }
}
