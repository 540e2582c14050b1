//! ferrofs chunkserver: stores chunk replicas as files with per-64 KiB-block CRC32C,
//! serves them over HTTP (reads verified, writes chain-replicated), registers and
//! heartbeats with the master, copies replicas on its orders, and scrubs in the
//! background.

mod changes;
mod checksum;
pub mod config;
pub mod error;
mod heartbeat;
mod layout;
mod meta;
mod node;
mod pipeline;
mod replication;
mod scan;
mod scrubber;
mod server;
mod store;
#[cfg(test)]
mod store_tests;
mod writeback;

pub use config::ChunkserverConfig;
pub use error::ChunkserverError;

use error::IoContext;
use node::Node;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::{info, warn};

/// Runs until `shutdown` resolves. Serves HTTP on the pre-bound listener. The variables
/// in `config::ENV_OVERRIDES` override the config passed in.
pub async fn run(
    mut config: ChunkserverConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ChunkserverError> {
    config.apply_env(|k| std::env::var(k).ok())?;
    config.validate()?;
    let data_dir = config.data_dir.clone();
    info!(data_dir = %data_dir.display(), master = %config.master, "starting chunkserver");
    std::fs::create_dir_all(&data_dir).ctx(|| format!("create {}", data_dir.display()))?;
    let id = node::load_or_create_id(&data_dir)?;
    let local = listener.local_addr().ctx(|| "listener address".into())?;
    let addr = config
        .advertise_addr
        .clone()
        .unwrap_or_else(|| local.to_string());
    info!(id = %id, listen = %local, advertise = %addr, "identity");
    if config.advertise_addr.is_none() && local.ip().is_unspecified() {
        warn!(addr = %addr, "listening on a wildcard address: set advertise_addr so peers can reach this chunkserver");
    }

    let dir = data_dir.clone();
    let store = tokio::task::spawn_blocking(move || store::Store::open(&dir))
        .await
        .map_err(|e| ChunkserverError::Internal(format!("scan task failed: {e}")))??;
    let capacity = match config.capacity_bytes {
        Some(c) => c,
        None => node::fs_stats(&data_dir).map(|s| s.0).ok_or_else(|| {
            ChunkserverError::Config(format!(
                "cannot statvfs {}; set capacity_bytes",
                data_dir.display()
            ))
        })?,
    };
    let node = Arc::new(Node::new(config, id, addr, Arc::new(store), capacity)?);
    info!(
        chunks = node.store.ids().len(),
        used = node.store.used_bytes(),
        capacity,
        "chunk store open"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = vec![];
    for master in node.config.masters() {
        let master = node
            .transport
            .base_url(&master)
            .map_err(|e| ChunkserverError::Config(e.to_string()))?;
        let link = heartbeat::Link {
            master: master.clone(),
            log: node.store.changes.subscribe(),
        };
        workers.push((
            "heartbeat",
            tokio::spawn(heartbeat::run(node.clone(), link, stop_rx.clone())),
        ));
        workers.push((
            "presence",
            tokio::spawn(heartbeat::presence(node.clone(), master, stop_rx.clone())),
        ));
    }
    workers.push((
        "writeback",
        tokio::spawn(writeback::run(node.clone(), stop_rx.clone())),
    ));
    workers.push((
        "scrubber",
        tokio::spawn(scrubber::run(node.clone(), stop_rx)),
    ));
    info!("serving HTTP");
    let served = node
        .transport
        .serve(listener, server::router(node.clone()), async move {
            shutdown.await;
            info!("shutting down");
            let _ = stop_tx.send(true);
        })
        .await;
    for (name, w) in workers {
        if let Err(e) = w.await {
            warn!(worker = name, error = %e, "worker ended abnormally");
        }
    }
    info!(scrub = %node.scrub_status.lock(), "chunkserver stopped");
    served.ctx(|| "HTTP server".into())
}
