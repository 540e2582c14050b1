//! The ferrofs master: one member of the master group. The namespace and file -> chunk
//! map are a replicated state machine (`sm`) on an openraft log (`raft`), in RocksDB;
//! beside it each member keeps chunkserver liveness and replica locations (soft state,
//! from heartbeats to every member). The leader places replicas, grants write leases
//! and bumps chunk versions, re-replicates, and serves the admin API and dashboard.

pub mod admin;
pub mod balancer;
pub mod changes;
pub mod chunks;
pub mod config;
pub mod db;
mod durable;
pub mod error;
mod failover;
mod health;
pub mod heartbeat;
pub mod history;
mod http;
mod internal;
mod leader;
pub mod lease;
pub mod members;
pub mod metrics;
mod migrate;
pub mod namespace;
pub mod placement;
mod pool;
pub mod prober;
pub mod raft;
pub mod registry;
pub mod rereplication;
mod scan;
pub mod sm;
mod spread;
pub mod state;
pub mod views;
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
    let local = listener.local_addr()?;
    let addr = if cfg.advertise.is_empty() {
        local.to_string()
    } else {
        cfg.advertise.clone()
    };
    tracing::info!(id = cfg.id, %addr, data = %cfg.data_dir.display(), "opening the namespace and log");
    let master = Master::open(cfg, addr.clone()).await?;
    tracing::info!(files = master.file_count(), "namespace open");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = http::router(master.clone());
    let feed = master.clone();
    tracing::info!(%local, "master listening");
    let transport = master.transport.clone();
    let server = tokio::spawn(async move {
        transport
            .serve(listener, app, async move {
                shutdown.await;
                // Long polls (the change feed, presence) would hold the shutdown for
                // their wait.
                feed.views.changes.close();
                feed.stopping.send_replace(true);
            })
            .await
    });
    tracing::info!("starting workers: leadership, re-replication, failure prober");
    let workers = [
        tokio::spawn(leader::run(master.clone(), stop_rx.clone())),
        tokio::spawn(failover::watch_leader(master.clone(), stop_rx.clone())),
        tokio::spawn(rereplication::run(master.clone(), stop_rx.clone())),
        tokio::spawn(prober::run(master.clone(), stop_rx.clone())),
        tokio::spawn(history::run(master.clone(), stop_rx)),
    ];
    let res = server
        .await
        .map_err(|e| MasterError::Config(format!("server task: {e}")))?;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    if let Err(e) = master.raft.shutdown().await {
        tracing::warn!(error = %e, "raft shutdown");
    }
    tracing::info!("master stopped");
    res.map_err(MasterError::from)
}

/// Build the router without starting workers (for in-process tests).
pub fn router(master: Arc<Master>) -> axum::Router {
    http::router(master)
}
