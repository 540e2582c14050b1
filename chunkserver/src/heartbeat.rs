//! Control plane towards the master group: one link per master. Each registers with a
//! full chunk report (retrying with backoff), then heartbeats every interval with
//! capacity and the changes since the last one, and executes the commands the replies
//! carry (delete, replicate). Only the leader sends commands; a reply's term fences
//! them: commands from a term older than one already heard from are dropped (a deposed
//! leader that has not noticed yet). Changes wake the loop early, coalesced to at most
//! ~10 heartbeats a second.

use crate::changes::ChangeLog;
use crate::error::{ChunkserverError as E, Result};
use crate::node::Node;
use crate::replication;
use ferrofs_proto::heartbeat::{
    Command, HEARTBEAT, HeartbeatReq, HeartbeatResp, PRESENCE, PRESENCE_HOLD_MS, PresenceReq,
    REGISTER, RegisterReq, RegisterResp,
};
use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::{ChunkId, SECRET_HEADER, Version};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{debug, info, warn};

/// Minimum spacing of heartbeats woken early by local changes.
const MIN_SPACING: Duration = Duration::from_millis(100);

/// One master of the group, and the changes not yet reported to it.
pub struct Link {
    pub master: String,
    pub log: Arc<ChangeLog>,
}

async fn call<Req: Serialize, Resp: DeserializeOwned>(
    node: &Node,
    master: &str,
    path: &str,
    req: &Req,
) -> Result<Resp> {
    let url = format!("{master}{path}");
    let resp = node
        .http
        .post(&url)
        .header(SECRET_HEADER, &node.config.secret)
        .timeout(node.config.request_timeout)
        .json(req)
        .send()
        .await
        .map_err(|e| E::Internal(format!("POST {url}: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(E::Internal(format!("POST {url}: {status} {body}")));
    }
    resp.json()
        .await
        .map_err(|e| E::Internal(format!("POST {url}: bad reply: {e}")))
}

/// Register until it works; None if shutdown came first.
async fn register(
    node: &Arc<Node>,
    link: &Link,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<()> {
    let mut backoff = Duration::from_millis(100);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        // Everything pending is covered by the full report.
        let pending = link.log.take();
        let req = RegisterReq {
            id: node.id.clone(),
            addr: node.addr.clone(),
            capacity_bytes: node.usable_capacity(),
            used_bytes: node.store.used_bytes(),
            chunks: node.store.report(),
            rack: node.config.rack.clone(),
        };
        match call::<_, RegisterResp>(node, &link.master, REGISTER, &req).await {
            Ok(resp) => {
                if resp.chunk_size > 0 {
                    node.chunk_size.store(resp.chunk_size, Ordering::Relaxed);
                }
                if resp.heartbeat_interval_ms > 0 {
                    node.heartbeat_interval_ms
                        .store(resp.heartbeat_interval_ms, Ordering::Relaxed);
                }
                info!(id = %node.id, addr = %node.addr, master = %link.master,
                    chunks = req.chunks.len(), chunk_size = resp.chunk_size,
                    heartbeat_ms = resp.heartbeat_interval_ms, "registered with master");
                return Some(());
            }
            Err(e) => {
                link.log.restore(pending);
                if attempt == 1 || attempt.is_multiple_of(10) {
                    warn!(attempt, master = %link.master, error = %e, "register failed; retrying");
                }
            }
        }
        tokio::select! {
            _ = sleep(backoff) => {}
            _ = shutdown.changed() => return None,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn heartbeat(node: &Arc<Node>, link: &Link) -> Result<HeartbeatResp> {
    let delta = link.log.take();
    let req = HeartbeatReq {
        id: node.id.clone(),
        addr: node.addr.clone(),
        capacity_bytes: node.usable_capacity(),
        used_bytes: node.store.used_bytes(),
        added: delta.added.values().cloned().collect(),
        removed: delta.removed.iter().copied().collect(),
        corrupt: delta.corrupt.iter().copied().collect(),
        copies_in_flight: node.copies_in_flight.load(Ordering::Relaxed),
        io_bytes: node.io_bytes.load(Ordering::Relaxed),
        read_bytes: node.read_bytes.load(Ordering::Relaxed),
        written_bytes: node.written_bytes.load(Ordering::Relaxed),
        rack: node.config.rack.clone(),
    };
    let r = call::<_, HeartbeatResp>(node, &link.master, HEARTBEAT, &req).await;
    if r.is_err() {
        link.log.restore(delta);
    }
    r
}

async fn delete(node: Arc<Node>, chunk_id: ChunkId, max_version: Option<Version>) {
    let chunk = chunk_name(chunk_id);
    let Ok(c) = node.store.get(chunk_id) else {
        // Tell the master again so it stops asking.
        node.store.changes.removed(chunk_id);
        return;
    };
    // Wait for in-flight writes to this chunk before removing its files.
    let _op = c.op.lock().await;
    match node
        .blocking(move |s| s.delete(chunk_id, max_version))
        .await
    {
        Ok(true) => info!(%chunk, ?max_version, "deleted replica on master's order"),
        Ok(false) => debug!(%chunk, ?max_version, "delete skipped: newer version"),
        Err(e) => warn!(%chunk, error = %e, "delete failed"),
    }
}

fn execute(node: &Arc<Node>, cmd: Command) {
    match cmd {
        Command::Delete {
            chunk_id,
            max_version,
        } => {
            // Spawned: waiting for an in-flight write must not stall heartbeats.
            tokio::spawn(delete(node.clone(), chunk_id, max_version));
        }
        Command::Replicate {
            chunk_id,
            version,
            target,
        } => replication::spawn_copy(node.clone(), chunk_id, version, target),
    }
}

/// The heartbeat worker of one master: runs until `shutdown` flips.
pub async fn run(node: Arc<Node>, link: Link, mut shutdown: watch::Receiver<bool>) {
    loop {
        if register(&node, &link, &mut shutdown).await.is_none() {
            return;
        }
        let mut last = Instant::now();
        let mut failures = 0u32;
        loop {
            let interval =
                Duration::from_millis(node.heartbeat_interval_ms.load(Ordering::Relaxed).max(10));
            tokio::select! {
                _ = sleep_until(last + interval) => {}
                _ = link.log.notify.notified() => {
                    sleep_until(last + MIN_SPACING).await;
                }
                _ = shutdown.changed() => return,
            }
            last = Instant::now();
            match heartbeat(&node, &link).await {
                Ok(resp) => {
                    if failures > 0 {
                        info!(failures, master = %link.master, "heartbeats to master recovered");
                    }
                    failures = 0;
                    let newest = node.master_term.fetch_max(resp.term, Ordering::AcqRel);
                    if resp.term < newest && !resp.commands.is_empty() {
                        warn!(master = %link.master, term = resp.term, newest,
                            commands = resp.commands.len(),
                            "ignoring commands of a deposed leader");
                    } else {
                        for cmd in resp.commands {
                            execute(&node, cmd);
                        }
                    }
                    if resp.reregister {
                        info!("master asked to re-register");
                        break;
                    }
                }
                Err(e) => {
                    failures += 1;
                    // Log the first failure and then every 10th, not every second.
                    if failures == 1 || failures.is_multiple_of(10) {
                        warn!(failures, master = %link.master, error = %e, "heartbeat failed");
                    }
                }
            }
        }
    }
}

/// Keeps a presence poll open to a master until `shutdown` (see `PRESENCE`): if this
/// process dies, the master sees the connection close and probes it at once.
pub async fn presence(node: Arc<Node>, master: String, mut shutdown: watch::Receiver<bool>) {
    let url = format!("{master}{PRESENCE}");
    let req = PresenceReq {
        id: node.id.clone(),
    };
    let hold = Duration::from_millis(PRESENCE_HOLD_MS);
    loop {
        let poll = node
            .http
            .post(&url)
            .header(SECRET_HEADER, &node.config.secret)
            .timeout(hold + node.config.request_timeout)
            .json(&req)
            .send();
        let asked = Instant::now();
        let answered = tokio::select! {
            r = poll => matches!(r, Ok(r) if r.status().is_success()),
            _ = shutdown.changed() => return,
        };
        if !answered || asked.elapsed() < Duration::from_secs(1) {
            // Not registered yet, or the master is down, restarting or stopping
            // (heartbeats say so). Ask again shortly.
            tokio::select! {
                _ = sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
