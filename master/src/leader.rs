//! Leadership: a worker that watches this member's Raft state and takes up or lays down
//! the leader's duties, and the leader's periodic housekeeping.
//!
//! On becoming leader, first a read barrier (everything committed before the election
//! is applied here), then: format a fresh group; forget every chunkserver's report and
//! ask each for a full one (no delete, copy or trim decision before it arrives: safe
//! mode); treat every chunk as possibly copied (its next lease bumps the version);
//! start a new chunk id block; forget the old leader's copy jobs and command queues.
//! Only then is the member "leader" for the rest of the master (`Views::is_leader`).
//!
//! Housekeeping: delete files unlinked while open that no client has reported holding
//! for `orphan_grace` (never within `orphan_grace` of becoming leader), and expire old
//! retry-cache entries.

use crate::db;
use crate::sm::{Format, Op};
use crate::state::{IdBlock, Master};
use openraft::ServerState;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Retry-cache entries older than this are forgotten.
const RETRY_TTL: Duration = Duration::from_secs(15 * 60);
/// How often the retry cache is swept.
const RETRY_SWEEP: Duration = Duration::from_secs(5 * 60);

pub async fn run(m: Arc<Master>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut rx = m.raft.metrics();
    let mut leading = false;
    let mut last_sweep = Instant::now();
    let mut last_orphans = Instant::now();
    loop {
        let now_leader = {
            let mt = rx.borrow_and_update();
            mt.state == ServerState::Leader && mt.current_leader == Some(m.id)
        };
        if now_leader && !leading {
            match m.raft.ensure_linearizable().await {
                Ok(_) => {
                    take_up(&m).await;
                    leading = true;
                }
                Err(e) => tracing::info!(error = %e, "not settled as leader yet"),
            }
        } else if !now_leader && leading {
            lay_down(&m);
            leading = false;
        }
        if leading {
            m.expire_pool();
            if last_orphans.elapsed() >= m.cfg.orphan_grace / 2 {
                last_orphans = Instant::now();
                purge_orphans(&m).await;
            }
            if last_sweep.elapsed() >= RETRY_SWEEP {
                last_sweep = Instant::now();
                let before_ms = db::now_ms().saturating_sub(RETRY_TTL.as_millis() as u64);
                if let Err(e) = m.propose_internal(Op::ExpireRetries { before_ms }).await {
                    tracing::warn!(error = %e, "could not expire the retry cache");
                }
            }
        }
        let settle = if now_leader && !leading {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(settle) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn take_up(m: &Arc<Master>) {
    let term = m.raft.metrics().borrow().current_term;
    tracing::info!(id = m.id, term, "became the leader of the master group");
    if m.views.format().chunk_size == 0 {
        let op = Op::Format(Format {
            chunk_size: m.cfg.chunk_size,
            default_replication: m.cfg.default_replication,
        });
        match m.propose_internal(op).await {
            Ok(_) => tracing::info!(chunk_size = m.cfg.chunk_size, "formatted the cluster"),
            Err(e) => tracing::error!(error = %e, "could not format the cluster"),
        }
    }
    m.clear_pool();
    let addrs: Vec<String> = {
        let mut cl = m.cluster();
        cl.safe_mode = true;
        cl.copies.clear();
        cl.prefer_trim.clear();
        for s in cl.reg.servers.values_mut() {
            s.full_report = false;
            s.commands.clear();
        }
        for c in cl.chunks.iter_mut().map(|(_, c)| c) {
            c.copied = true;
            c.bumping = None;
        }
        cl.reg.servers.values().map(|s| s.addr.clone()).collect()
    };
    *m.ids.lock().await = IdBlock::default();
    m.claims.lock().clear();
    *m.leader_since.lock() = Some(Instant::now());
    m.views.set_leader(true);
    // Ask every chunkserver for its full report now rather than at its next heartbeat.
    for addr in addrs {
        let m = m.clone();
        tokio::spawn(async move {
            let _ = m
                .internal_post(&addr, ferrofs_proto::chunk::HEARTBEAT_NOW, &())
                .await;
        });
    }
    if m.migrated {
        // Members added later must start from the converted state, not from a log
        // that does not hold it: snapshot it and drop the log before the snapshot.
        if let Err(e) = snapshot_and_purge(m).await {
            tracing::warn!(error = %e, "could not snapshot the converted namespace");
        }
    }
}

fn lay_down(m: &Master) {
    tracing::info!(id = m.id, "no longer the leader");
    m.views.set_leader(false);
    *m.leader_since.lock() = None;
    m.clear_pool();
    let mut cl = m.cluster();
    cl.copies.clear();
    for s in cl.reg.servers.values_mut() {
        s.commands.clear();
    }
}

async fn snapshot_and_purge(m: &Master) -> Result<(), String> {
    m.raft
        .trigger()
        .snapshot()
        .await
        .map_err(|e| e.to_string())?;
    let applied = m.raft.metrics().borrow().last_applied;
    let applied = applied.ok_or("nothing applied")?;
    m.raft
        .wait(Some(Duration::from_secs(60)))
        .snapshot(applied, "converted namespace snapshot")
        .await
        .map_err(|e| e.to_string())?;
    m.raft
        .trigger()
        .purge_log(applied.index)
        .await
        .map_err(|e| e.to_string())
}

/// Delete files unlinked while open that no client has reported holding lately.
async fn purge_orphans(m: &Arc<Master>) {
    let leading_for = m
        .leader_since
        .lock()
        .map(|t| t.elapsed())
        .unwrap_or_default();
    if leading_for < m.cfg.orphan_grace {
        return; // clients have not all reported to this leader yet
    }
    let inos: Vec<u64> =
        m.db.scan(b"O")
            .filter_map(|kv| kv.ok().map(|(k, _)| db::be_u64(&k[1..])))
            .collect();
    let mut purged = 0;
    for ino in inos {
        if m.claimed(ino, 0) {
            continue;
        }
        match m.propose_internal(Op::PurgeOrphan { ino }).await {
            Ok(_) => purged += 1,
            Err(e) => tracing::warn!(ino, error = %e, "could not purge an orphan"),
        }
        m.claims.lock().remove(&ino);
    }
    if purged > 0 {
        tracing::info!(
            purged,
            "deleted files unlinked while open that no client holds"
        );
    }
}
