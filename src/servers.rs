//! `ferrofs master` and `ferrofs chunkserver`: load config, apply flags, bind, run until
//! SIGINT/SIGTERM.

use crate::cli::{ChunkserverArgs, MasterArgs};
use anyhow::Context;
use ferrofs_chunkserver::ChunkserverConfig;
use ferrofs_master::MasterConfig;
use std::path::Path;

pub(crate) fn load<T: serde::de::DeserializeOwned + Default>(
    path: Option<&Path>,
    section: &str,
) -> anyhow::Result<T> {
    let Some(p) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    let part = doc
        .remove(section)
        .unwrap_or(toml::Value::Table(Default::default()));
    part.try_into()
        .with_context(|| format!("bad [{section}] section in {}", p.display()))
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

pub(crate) async fn bind(
    listen: &str,
    addr_file: Option<&Path>,
) -> anyhow::Result<tokio::net::TcpListener> {
    let l = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    if let Some(f) = addr_file {
        let tmp = f.with_extension("tmp");
        std::fs::write(&tmp, l.local_addr()?.to_string())?;
        std::fs::rename(&tmp, f)?;
    }
    Ok(l)
}

pub async fn master(a: MasterArgs) -> anyhow::Result<()> {
    let mut cfg: MasterConfig = load(a.config.as_deref(), "master")?;
    if let Some(d) = a.data {
        cfg.data_dir = d;
    }
    if let Some(v) = a.chunk_size {
        cfg.chunk_size = v;
    }
    if let Some(v) = a.replication {
        cfg.default_replication = v;
    }
    if let Some(v) = a.heartbeat_interval {
        cfg.heartbeat_interval = v;
    }
    if let Some(v) = a.dead_timeout {
        cfg.dead_timeout = v;
    }
    if let Some(v) = a.secret {
        cfg.secret = v;
    }
    if let Some(v) = a.admin_token {
        cfg.admin_token = v;
    }
    if let Some(v) = a.id {
        cfg.id = v;
    }
    if let Some(v) = a.peers {
        cfg.peers = v;
    }
    if let Some(v) = a.advertise {
        cfg.advertise = v;
    }
    if a.join {
        cfg.join = true;
    }
    if let Some(v) = a.election_timeout {
        cfg.election_timeout = v;
    }
    cfg.tls_dir = crate::tls_opt::dir(a.config.as_deref())?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("invalid master config: {e}"))?;
    let l = bind(&a.listen, a.addr_file.as_deref()).await?;
    ferrofs_master::run(cfg, l, shutdown_signal()).await?;
    Ok(())
}

pub async fn chunkserver(a: ChunkserverArgs) -> anyhow::Result<()> {
    let mut cfg: ChunkserverConfig = load(a.config.as_deref(), "chunkserver")?;
    if let Some(m) = a.master {
        cfg.master = m
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| {
                if m.starts_with("http") {
                    m.to_string()
                } else {
                    format!("http://{m}")
                }
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    if let Some(d) = a.data {
        cfg.data_dir = d;
    }
    if let Some(c) = a.capacity {
        cfg.capacity_bytes = Some(c);
    }
    if let Some(s) = a.secret {
        cfg.secret = s;
    }
    if let Some(r) = a.rack {
        cfg.rack = r;
    }
    cfg.tls_dir = crate::tls_opt::dir(a.config.as_deref())?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("invalid chunkserver config: {e}"))?;
    let l = bind(&a.listen, a.addr_file.as_deref()).await?;
    ferrofs_chunkserver::run(cfg, l, shutdown_signal()).await?;
    Ok(())
}
