//! `RawClient`: raw key-value operations over the whole cluster, each
//! routed and retried by [`RegionRpc`].

use std::sync::Arc;

use protocol::kvrpcpb::{self, KvPair};
use protocol::metapb;

use super::rpc::{next_start, ClientOptions, RegionRpc};
use crate::error::Result;
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
        let mut out = Vec::with_capacity(keys.len());
        self.rpc
            .batch(
                keys,
                |k| k.as_slice(),
                |ctx, keys| kvrpcpb::RawBatchGetRequest {
                    context: Some(ctx),
                    keys,
                },
                |r| out.extend(r.pairs),
            )
            .await?;
        Ok(out)
    }

    /// Sets `key` to `value`.
    pub async fn put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<()> {
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
        let mut cur = start;
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

    /// Splits the Region holding `key` so that a Region starts at `key`;
    /// returns the Regions that now cover the old one, in key order (just
    /// the Region holding `key` if one already started there).
    pub async fn split_region(&self, key: Vec<u8>) -> Result<Vec<metapb::Region>> {
        let (r, route) = self
            .rpc
            .request(&key, |ctx| kvrpcpb::SplitRegionRequest {
                context: Some(ctx),
                split_keys: vec![key.clone()],
            })
            .await?;
        self.rpc.cache.invalidate(route.region.id);
        Ok(r.regions)
    }

    /// Up to `limit` pairs of `[start, end)` in key order (0 = no limit).
    pub async fn scan(&self, start: Vec<u8>, end: Vec<u8>, limit: usize) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        let mut cur = start;
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
                })
                .await?;
            out.extend(r.pairs);
            if limit != 0 && out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
            match next_start(&route, &end) {
                Some(next) => cur = next,
                None => return Ok(out),
            }
        }
    }
}
