//! Each SQL node's cached [`Catalog`], kept fresh by a schema lease (as F1
//! and TiDB do), so that statements pay no catalog RPC.
//!
//! The rule: *a statement never runs against a catalog version older than
//! one committed before the statement started.*
//!
//! - A background task reads the version key every `lease / 4` and reloads
//!   the descriptors when it moved. A successful check started at local
//!   time `t` makes the cache valid until `t + lease`.
//! - A statement uses the cache only while it is valid; past that it
//!   refreshes first (the only case that costs an RPC).
//! - A DDL, after its commit, waits `lease` before it reports success.
//!   Any node's cache validated before the commit has expired by then, so
//!   every statement that starts after the DDL returned sees it.
//!
//! A transaction that ran DDL itself reads the catalog through its own
//! transaction instead (it must see its uncommitted changes).

use std::sync::{Arc, Weak};
use std::time::Duration;

use client::{SharedKv, TxnReader};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::store;
use super::Catalog;
use crate::error::Result;

struct Cached {
    catalog: Arc<Catalog>,
    valid_until: Instant,
}

/// A SQL node's catalog cache.
pub struct CatalogCache {
    kv: SharedKv,
    lease: Duration,
    cached: Mutex<Cached>,
    /// Serialises refreshes (a statement and the background task).
    refreshing: tokio::sync::Mutex<()>,
}

impl CatalogCache {
    /// Loads the catalog and starts the background refresh (which stops
    /// when the cache is dropped).
    pub async fn start(kv: SharedKv, lease: Duration) -> Result<Arc<CatalogCache>> {
        let started = Instant::now();
        let reader = TxnReader::snapshot(kv.clone()).await?;
        let catalog = Arc::new(store::load(&reader).await?);
        let cache = Arc::new(CatalogCache {
            kv,
            lease,
            cached: Mutex::new(Cached {
                catalog,
                valid_until: started + lease,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(refresh_loop(Arc::downgrade(&cache), lease / 4));
        Ok(cache)
    }

    /// How long a DDL waits after its commit.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// A catalog no older than any version committed before this call.
    pub async fn current(&self) -> Result<Arc<Catalog>> {
        {
            let c = self.cached.lock();
            if Instant::now() < c.valid_until {
                return Ok(c.catalog.clone());
            }
        }
        self.refresh().await?;
        Ok(self.cached.lock().catalog.clone())
    }

    /// The cached catalog if its lease is still valid, without waiting:
    /// for synchronous callers (the sequence functions), which fall back
    /// to [`CatalogCache::current`] when it is not.
    pub fn cached(&self) -> Option<Arc<Catalog>> {
        let c = self.cached.lock();
        (Instant::now() < c.valid_until).then(|| c.catalog.clone())
    }

    /// Checks the version and reloads if it moved.
    pub async fn refresh(&self) -> Result<()> {
        let _one = self.refreshing.lock().await;
        let started = Instant::now();
        let reader = TxnReader::snapshot(self.kv.clone()).await?;
        let version = store::read_version(&reader).await?;
        let known = self.cached.lock().catalog.version;
        let catalog = if version != known {
            Some(Arc::new(store::load(&reader).await?))
        } else {
            None
        };
        let mut c = self.cached.lock();
        if let Some(catalog) = catalog {
            c.catalog = catalog;
        }
        c.valid_until = started + self.lease;
        Ok(())
    }
}

async fn refresh_loop(cache: Weak<CatalogCache>, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(cache) = cache.upgrade() else { return };
        if let Err(e) = cache.refresh().await {
            tracing::debug!("catalog refresh failed: {e}");
        }
    }
}
