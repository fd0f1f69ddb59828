//! A store process: opens the engine, joins the cluster through PD
//! (identity check, first-store bootstrap, registration), then runs the
//! store loop, the gRPC services, the transport and the PD worker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use client::coprocessor::Coprocessor;
use protocol::kvrpcpb::kv_server::KvServer;
use protocol::metapb;
use protocol::raft_serverpb::raft_transport_server::RaftTransportServer;
use protocol::raft_serverpb::StoreIdent;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::gc::GcState;
use super::kv_service::KvService;
use super::load_split::{self, LoadSplitConfig, LoadTracker};
use super::pd_worker::PdWorker;
use super::raft_service::RaftService;
use super::split::{SplitChecker, SplitLimits};
use super::store_loop::{self, StoreMsg, StoreRouter};
use super::transport::{NodeSinks, Resolver};
use crate::engine::{Cf, Engine, RocksEngine, WriteBatch};
use crate::error::{Error, Result};
use crate::keys;
use crate::pd_client::{is_already_bootstrapped, RpcPdClient};
use crate::raftstore::{
    bootstrap_region, first_region, load_store_ident, save_store_ident, Store, StoreConfig,
};
use client::{ClientOptions, TxnClient};

/// How long servers may take to finish in-flight requests at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How a store process runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// PD's gRPC address.
    pub pd: String,
    /// Data directory (RocksDB lives in `DIR/db`).
    pub data_dir: PathBuf,
    /// gRPC listen address (port 0 picks one).
    pub listen: String,
    /// Address other stores and clients use; defaults to the bound address.
    pub advertise: Option<String>,
    /// HTTP status address serving `/metrics`; none if unset.
    pub status: Option<String>,
    /// Raft tunables.
    pub store: StoreConfig,
    /// When a hot Region is split by load.
    pub load_split: LoadSplitConfig,
    /// Length of one store-loop tick.
    pub tick: Duration,
    /// Interval of store heartbeats.
    pub heartbeat_interval: Duration,
    /// How often GC removes versions below PD's safe point.
    pub gc_interval: Duration,
    /// How long to wait for PD at start-up.
    pub pd_wait: Duration,
    /// The code SQL nodes may run next to the data (none: such requests
    /// are answered "unsupported" and SQL nodes do the work themselves).
    pub coprocessor: Option<Arc<dyn Coprocessor>>,
    /// Write Raft batches on a writer thread while the store loop goes on
    /// (see `store_loop`); off: the loop writes them itself.
    pub async_log_writer: bool,
}

impl NodeConfig {
    /// A configuration with default tunables.
    pub fn new(pd: String, data_dir: PathBuf, listen: String) -> Self {
        NodeConfig {
            pd,
            data_dir,
            listen,
            advertise: None,
            status: None,
            store: StoreConfig::default(),
            load_split: LoadSplitConfig::default(),
            tick: Duration::from_millis(100),
            heartbeat_interval: Duration::from_secs(1),
            gc_interval: Duration::from_secs(60),
            pd_wait: Duration::from_secs(15),
            coprocessor: None,
            async_log_writer: false,
        }
    }
}

/// A running store.
pub struct NodeHandle {
    /// The store's id.
    pub store_id: u64,
    /// Where its gRPC services listen.
    pub addr: SocketAddr,
    /// Where its status server (`/metrics`) listens, if it has one.
    pub status_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    router: StoreRouter<RocksEngine>,
    tasks: Vec<JoinHandle<()>>,
    loop_thread: Option<std::thread::JoinHandle<()>>,
    fatal: watch::Receiver<Option<String>>,
}

/// Finds out which store this data directory is, allocating an id for a
/// new one; refuses a directory that belongs to another cluster.
async fn resolve_identity(
    pd: &RpcPdClient,
    engine: &RocksEngine,
    dir: &std::path::Path,
) -> Result<u64> {
    let cluster_id = pd.cluster_id();
    if let Some(ident) = load_store_ident(engine)? {
        if ident.cluster_id != cluster_id {
            return Err(Error::IdentityMismatch(format!(
                "data directory {} belongs to cluster {}, but PD at {} serves cluster {}",
                dir.display(),
                ident.cluster_id,
                pd.addr(),
                cluster_id
            )));
        }
        return Ok(ident.store_id);
    }
    let mut has_regions = false;
    let (start, end) = keys::region_meta_range();
    engine.scan(Cf::Raft, &start, &end, &mut |_, _| {
        has_regions = true;
        false
    })?;
    if has_regions {
        return Err(Error::Corruption(format!(
            "data directory {} holds Regions but no store identity",
            dir.display()
        )));
    }
    let store_id = pd.alloc_id().await?;
    save_store_ident(
        engine,
        &StoreIdent {
            cluster_id,
            store_id,
        },
    )?;
    tracing::info!(store_id, cluster_id, "new store identity");
    Ok(store_id)
}

/// The Region this store prepared for bootstrap earlier, if any.
fn prepared_region(engine: &RocksEngine) -> Result<Option<metapb::Region>> {
    let (start, end) = keys::region_meta_range();
    let mut found = None;
    engine.scan(Cf::Raft, &start, &end, &mut |k, v| {
        if keys::decode_region_state_key(k).is_some() {
            found = Some(v.to_vec());
            false
        } else {
            true
        }
    })?;
    match found {
        Some(b) => {
            use prost::Message as _;
            let st = protocol::raft_serverpb::RegionLocalState::decode(b.as_slice())?;
            Ok(st.region)
        }
        None => Ok(None),
    }
}

/// Bootstraps the cluster with this store's first Region if nobody has.
async fn maybe_bootstrap(
    pd: &RpcPdClient,
    engine: &RocksEngine,
    store: &metapb::Store,
) -> Result<()> {
    let (_, bootstrapped) = pd.cluster_info().await?;
    let prepared = prepared_region(engine)?;
    if bootstrapped {
        if let Some(r) = prepared {
            // Our own earlier bootstrap may have succeeded; anything else
            // is a leftover of a lost race and must go.
            let ours = pd.get_region_by_id(r.id).await?.is_some();
            if !ours {
                discard_region(engine, r.id)?;
            }
        }
        return Ok(());
    }
    let region = match prepared {
        Some(r) => r,
        None => {
            let region_id = pd.alloc_id().await?;
            let peer_id = pd.alloc_id().await?;
            let region = first_region(region_id, peer_id, store.id);
            // Prepared locally first: a crash before PD answers retries with
            // the same Region.
            bootstrap_region(engine, &region)?;
            region
        }
    };
    match pd.bootstrap(store.clone(), region.clone()).await {
        Ok(()) => {
            tracing::info!(region = region.id, "bootstrapped the cluster");
            Ok(())
        }
        Err(e) if is_already_bootstrapped(&e) => discard_region(engine, region.id),
        Err(e) => Err(e.into()),
    }
}

fn discard_region(engine: &RocksEngine, region_id: u64) -> Result<()> {
    let mut wb = WriteBatch::default();
    wb.delete(Cf::Raft, keys::region_state_key(region_id));
    wb.delete(Cf::Raft, keys::apply_state_key(region_id));
    wb.delete(Cf::Raft, keys::hard_state_key(region_id));
    Ok(engine.write(&wb, true)?)
}

/// Serves `/metrics` until `stop` turns true.
async fn serve_status(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { crate::metrics::render() }),
    );
    let r = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = r {
        tracing::error!("status server failed: {e}");
    }
}

impl NodeHandle {
    /// Starts a store; returns once it serves requests.
    pub async fn start(cfg: NodeConfig) -> Result<NodeHandle> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
            Error::InvalidRequest(format!(
                "cannot create data directory {}: {e}",
                cfg.data_dir.display()
            ))
        })?;
        let engine = RocksEngine::open(&cfg.data_dir.join("db"))?;
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .map_err(|e| Error::InvalidRequest(format!("cannot listen on {}: {e}", cfg.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let status_listener = match &cfg.status {
            Some(a) => Some(TcpListener::bind(a).await.map_err(|e| {
                Error::InvalidRequest(format!("cannot listen for status on {a}: {e}"))
            })?),
            None => None,
        };
        let status_addr = match &status_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?,
            ),
            None => None,
        };
        let advertise = cfg.advertise.clone().unwrap_or_else(|| addr.to_string());

        let pd = Arc::new(RpcPdClient::connect(&cfg.pd, cfg.pd_wait).await?);
        let store_id = resolve_identity(&pd, &engine, &cfg.data_dir).await?;
        let meta = metapb::Store {
            id: store_id,
            address: advertise,
            state: 0,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        maybe_bootstrap(&pd, &engine, &meta).await?;
        pd.put_store(meta).await?;

        let seed = rand::random();
        let store = Store::open(engine.clone(), store_id, cfg.store.clone(), seed)?;
        let gc_state = Arc::new(GcState::new(store.gc_safe_point()));
        let (tx, rx) = std::sync::mpsc::channel::<StoreMsg<RocksEngine>>();
        let to_loop = tx.clone();
        let router = StoreRouter::new(tx);
        let (pd_tx, pd_rx) = mpsc::unbounded_channel();
        let sinks = NodeSinks::new(
            tokio::runtime::Handle::current(),
            Resolver::new(pd.clone()),
            router.clone(),
            pd_tx,
        );
        let counts = crate::metrics::StoreCounts::for_store(store_id);
        let tick = cfg.tick;
        let async_writer = cfg.async_log_writer;
        let loop_counts = counts.clone();
        let (fatal_tx, fatal) = watch::channel(None);
        let loop_thread = std::thread::Builder::new()
            .name(format!("store-{store_id}"))
            .spawn(move || {
                let run =
                    || store_loop::run(store, rx, to_loop, async_writer, sinks, tick, loop_counts);
                let failure = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("the store loop panicked".to_string()),
                };
                if let Some(why) = failure {
                    tracing::error!(store = store_id, "store loop stopped: {why}");
                    let _ = fatal_tx.send(Some(why));
                }
            })
            .map_err(|e| Error::InvalidRequest(format!("cannot start store thread: {e}")))?;

        let (stop, stopped) = watch::channel(false);
        let load = Arc::new(LoadTracker::new(cfg.load_split));
        let kv_service = KvService::new(
            router.clone(),
            store_id,
            pd.clone(),
            load.clone(),
            gc_state.clone(),
            cfg.coprocessor.clone(),
        );
        let resolver = TxnClient::new(pd.clone(), ClientOptions::default());
        let gc = tokio::spawn(kv_service.clone().run_gc(
            resolver,
            cfg.gc_interval,
            stopped.clone(),
        ));
        let kv = KvServer::new(kv_service)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let raft = RaftTransportServer::new(RaftService::new(router.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let mut rx_stop = stopped.clone();
        let server = tokio::spawn(async move {
            let r = tonic::transport::Server::builder()
                .add_service(kv)
                .add_service(raft)
                .serve_with_incoming_shutdown(protocol::nodelay_incoming(listener), async move {
                    let _ = rx_stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!("store gRPC server failed: {e}");
            }
        });
        let limits = SplitLimits {
            size: cfg.store.region_split_size,
            keys: cfg.store.region_split_keys,
        };
        let checker = Arc::new(SplitChecker::new(engine.clone(), limits));
        let pd_worker = PdWorker {
            pd: pd.clone(),
            store_id,
            engine,
            router: router.clone(),
            counts,
            checker,
            load: load.clone(),
            gc: gc_state,
            heartbeat_interval: cfg.heartbeat_interval,
        };
        let worker = tokio::spawn(pd_worker.run(pd_rx, stopped.clone()));
        let load_splitter = tokio::spawn(load_split::run(
            load,
            pd.clone(),
            router.clone(),
            stopped.clone(),
        ));
        let stopped_status = stopped;
        let mut tasks = vec![server, worker, load_splitter, gc];
        if let Some(l) = status_listener {
            tasks.push(tokio::spawn(serve_status(l, stopped_status)));
        }
        tracing::info!(store_id, %addr, "store started");
        Ok(NodeHandle {
            store_id,
            addr,
            stop,
            router,
            status_addr,
            tasks,
            loop_thread: Some(loop_thread),
            fatal,
        })
    }

    /// Resolves when the store can no longer work (its engine failed or its
    /// loop panicked), with the reason. The process should then exit: the
    /// store answers nothing any more, and a supervisor should see it die.
    pub async fn failed(&self) -> String {
        let mut fatal = self.fatal.clone();
        let why = match fatal.wait_for(|f| f.is_some()).await {
            Ok(why) => why.clone().unwrap_or_default(),
            // The loop thread is gone without saying why.
            Err(_) => "the store loop stopped".to_string(),
        };
        why
    }

    /// Stops serving, stops the store loop and waits for everything.
    /// Long-lived streams from other stores would keep a graceful gRPC
    /// shutdown waiting forever, so servers get a grace period, then stop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.router.send(StoreMsg::Stop);
        for mut t in self.tasks.drain(..) {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut t).await.is_err() {
                t.abort();
            }
        }
        if let Some(t) = self.loop_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
