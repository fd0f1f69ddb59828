//! `RawClient`: raw key-value operations over the whole cluster, each
//! routed and retried by [`RegionRpc`].
//!
//! Raw keys live in their own part of the Region key space: the client
//! stores a user key `k` as `r` ++ `k` (transactional keys start with `x`),
//! and strips the prefix from what it returns.

use std::sync::Arc;

use protocol::kvrpcpb::{self, KvPair};
use protocol::metapb;

use super::rpc::{next_start, ClientOptions, RegionRpc};
use crate::error::{Error, Result};
use crate::keys::{key_after, MAX_KEY_SIZE, RAW_PREFIX};
use crate::pd_client::{PdClient, RpcPdClient};

/// Raw key-value access to the cluster.
pub struct RawClient<P: PdClient = RpcPdClient> {
    rpc: RegionRpc<P>,
}

impl RawClient<RpcPdClient> {
    /// Connects to the cluster through PD at `pd_addr`.
    pub async fn connect(pd_addr: &str, opts: ClientOptions) -> Result<Self> {
        let pd = Arc::new(RpcPdClient::connect(pd_addr, opts.timeout).await?);
        Ok(RawClient::new(pd, opts))
    }
}

impl<P: PdClient> RawClient<P> {
    /// A client over an existing PD client.
    pub fn new(pd: Arc<P>, opts: ClientOptions) -> Self {
        RawClient {
            rpc: RegionRpc::new(pd, opts),
        }
    }

    /// The PD client behind this client.
    pub fn pd(&self) -> &Arc<P> {
        self.rpc.pd()
    }

    /// The value of `key`.
    pub async fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>> {
        let key = raw_key(&key)?;
        let (r, _) = self
            .rpc
            .request(&key, |ctx| kvrpcpb::RawGetRequest {
                context: Some(ctx),
                key: key.clone(),
            })
            .await?;
        Ok((!r.not_found).then_some(r.value))
    }

    /// The values of the `keys` that exist.
    pub async fn batch_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<KvPair>> {
        let keys = keys
            .iter()
            .map(|k| raw_key(k))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(keys.len());
        self.rpc
            .batch(
                keys,
                |k| k.as_slice(),
                |ctx, keys| kvrpcpb::RawBatchGetRequest {
                    context: Some(ctx),
                    keys,
                },
                |r| out.extend(r.pairs.into_iter().map(user_pair)),
            )
            .await?;
        Ok(out)
    }

    /// Sets `key` to `value`.
    pub async fn put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        let key = raw_key(&key)?;
        self.rpc
            .request(&key, |ctx| kvrpcpb::RawPutRequest {
                context: Some(ctx),
                key: key.clone(),
                value: value.clone(),
            })
            .await?;
        Ok(())
    }

    /// Sets every pair (atomically per Region, not across Regions).
    pub async fn batch_put(&self, pairs: Vec<KvPair>) -> Result<()> {
        let pairs = pairs
            .into_iter()
            .map(|p| {
                Ok(KvPair {
                    key: raw_key(&p.key)?,
                    value: p.value,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.rpc
            .batch(
                pairs,
                |p| p.key.as_slice(),
                |ctx, pairs| kvrpcpb::RawBatchPutRequest {
                    context: Some(ctx),
                    pairs,
                },
                |_| {},
            )
            .await
    }

    /// Removes `key`.
    pub async fn delete(&self, key: Vec<u8>) -> Result<()> {
        let key = raw_key(&key)?;
        self.rpc
            .request(&key, |ctx| kvrpcpb::RawDeleteRequest {
                context: Some(ctx),
                key: key.clone(),
            })
            .await?;
        Ok(())
    }

    /// Removes every key in `[start, end)` (empty end = end of the key space).
    pub async fn delete_range(&self, start: Vec<u8>, end: Vec<u8>) -> Result<()> {
        let (mut cur, end) = (raw_key(&start)?, raw_end(&end)?);
        loop {
            let (_, route) = self
                .rpc
                .request(&cur, |ctx| kvrpcpb::RawDeleteRangeRequest {
                    context: Some(ctx),
                    start_key: cur.clone(),
                    end_key: end.clone(),
                })
                .await?;
            match next_start(&route, &end) {
                Some(next) => cur = next,
                None => return Ok(()),
            }
        }
    }

    /// Splits the Region holding raw `key` so that a Region starts at it;
    /// returns the Regions that now cover the old one, in key order.
    pub async fn split_region(&self, key: Vec<u8>) -> Result<Vec<metapb::Region>> {
        self.rpc.split_at(raw_key(&key)?).await
    }

    /// Up to `limit` pairs of `[start, end)` in key order (0 = no limit).
    pub async fn scan(&self, start: Vec<u8>, end: Vec<u8>, limit: usize) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        let (mut cur, end) = (raw_key(&start)?, raw_end(&end)?);
        loop {
            let remaining = if limit == 0 {
                0
            } else {
                (limit - out.len()) as u32
            };
            let (r, route) = self
                .rpc
                .request(&cur, |ctx| kvrpcpb::RawScanRequest {
                    context: Some(ctx),
                    start_key: cur.clone(),
                    end_key: end.clone(),
                    limit: remaining,
                    max_bytes: 0,
                })
                .await?;
            // A page cut by the store's byte cap goes on in the same Region.
            let resume = match (r.more, r.pairs.last()) {
                (true, Some(last)) => Some(key_after(&last.key)),
                _ => None,
            };
            out.extend(r.pairs.into_iter().map(user_pair));
            if limit != 0 && out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            if let Some(resume) = resume {
                cur = resume;
                continue;
            }
            match next_start(&route, &end) {
                Some(next) => cur = next,
                None => return Ok(out),
            }
        }
    }
}

/// The Region-space key of a raw user key.
fn raw_key(key: &[u8]) -> Result<Vec<u8>> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::InvalidRequest(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_SIZE} bytes",
            key.len()
        )));
    }
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(RAW_PREFIX);
    k.extend_from_slice(key);
    Ok(k)
}

/// The Region-space end of a raw range (empty: the end of the raw keys).
fn raw_end(end: &[u8]) -> Result<Vec<u8>> {
    if end.is_empty() {
        Ok(vec![RAW_PREFIX + 1])
    } else {
        raw_key(end)
    }
}

/// A pair as the store returned it, with the user's key.
fn user_pair(mut p: KvPair) -> KvPair {
    p.key.remove(0);
    p
}
