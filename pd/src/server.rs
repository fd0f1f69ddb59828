//! Starts PD: opens its state, binds the gRPC and HTTP listeners and serves
//! until shut down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use protocol::pdpb::pd_server::PdServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, ClusterConfig};
use crate::error::{PdError, Result};
use crate::meta_store::FileMetaStore;
use crate::service::{now_ms, PdService};

/// Where and how PD runs.
#[derive(Debug, Clone)]
pub struct PdConfig {
    /// Directory of PD's durable state.
    pub data_dir: PathBuf,
    /// gRPC listen address (`HOST:PORT`, port 0 picks one).
    pub listen: String,
    /// HTTP API listen address.
    pub http: String,
    /// Scheduling tunables.
    pub cluster: ClusterConfig,
}

/// A running PD.
pub struct PdHandle {
    /// Where the gRPC service listens.
    pub grpc_addr: SocketAddr,
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// The cluster's id.
    pub cluster_id: u64,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(addr: &str, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| PdError::InvalidValue(format!("cannot listen for {what} on {addr}: {e}")))
}

fn new_cluster_id(now_ms: u64) -> u64 {
    (now_ms / 1000) << 32 | u64::from(rand::random::<u32>())
}

impl PdHandle {
    /// Opens PD's state under `cfg.data_dir` and starts serving.
    pub async fn start(cfg: PdConfig) -> Result<PdHandle> {
        let meta = FileMetaStore::open(&cfg.data_dir)?;
        let now = now_ms();
        let cluster = Cluster::open(meta, cfg.cluster.clone(), now, new_cluster_id(now))?;
        let cluster_id = cluster.cluster_id();
        let shared = Arc::new(Mutex::new(cluster));
        let grpc = bind(&cfg.listen, "gRPC").await?;
        let http = bind(&cfg.http, "HTTP").await?;
        let grpc_addr = grpc
            .local_addr()
            .map_err(|e| PdError::Storage(e.to_string()))?;
        let http_addr = http
            .local_addr()
            .map_err(|e| PdError::Storage(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);

        let service = PdServer::new(PdService::new(shared.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let mut rx = stopped.clone();
        let grpc_task = tokio::spawn(async move {
            let r = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(protocol::nodelay_incoming(grpc), async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!("PD gRPC server failed: {e}");
            }
        });
        let mut rx = stopped.clone();
        let app = crate::http::router(shared);
        let http_task = tokio::spawn(async move {
            let r = axum::serve(http, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!("PD HTTP server failed: {e}");
            }
        });
        tracing::info!(%grpc_addr, %http_addr, cluster_id, "PD started");
        Ok(PdHandle {
            grpc_addr,
            http_addr,
            cluster_id,
            stop,
            tasks: vec![grpc_task, http_task],
        })
    }

    /// Stops serving and waits for the servers to finish in-flight
    /// requests, for at most two seconds (stores keep connections open).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for mut t in self.tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(2), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
}
