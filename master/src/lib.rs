//! The ferrofs master: the namespace and file -> chunk map in RocksDB, chunkserver
//! liveness, replica placement, write leases and chunk versions, re-replication, and the
//! admin API with its dashboard.

pub mod admin;
pub mod balancer;
pub mod changes;
pub mod chunks;
pub mod config;
pub mod db;
pub mod error;
pub mod heartbeat;
pub mod history;
mod http;
pub mod lease;
pub mod metrics;
pub mod namespace;
pub mod placement;
pub mod prober;
pub mod records;
pub mod registry;
pub mod rereplication;
pub mod state;
pub mod xattr;

pub use config::MasterConfig;
pub use error::MasterError;
pub use state::Master;

use std::future::Future;
use std::sync::Arc;

/// Run a master on a pre-bound listener until `shutdown` resolves.
pub async fn run(
    cfg: MasterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MasterError> {
    cfg.validate().map_err(MasterError::Config)?;
    let addr = listener.local_addr()?;
    tracing::info!(data = %cfg.data_dir.display(), "opening namespace");
    let master = Master::open(cfg)?;
    tracing::info!(files = master.file_count(), "namespace open");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tracing::info!("starting re-replication worker");
    let worker = tokio::spawn(rereplication::run(master.clone(), stop_rx.clone()));
    let prober = tokio::spawn(prober::run(master.clone(), stop_rx.clone()));
    let sampler = tokio::spawn(history::run(master.clone(), stop_rx));
    tracing::info!(%addr, "master listening");
    let app = http::router(master.clone());
    let feed = master.clone();
    let res = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Long polls (the change feed, presence) would hold the shutdown for their wait.
            feed.changes.close();
            feed.stopping.send_replace(true);
        })
        .await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = prober.await;
    let _ = sampler.await;
    tracing::info!("master stopped");
    res.map_err(MasterError::from)
}

/// Build the router without starting workers (for in-process tests).
pub fn router(master: Arc<Master>) -> axum::Router {
    http::router(master)
}
