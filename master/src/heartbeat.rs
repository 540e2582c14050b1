//! Chunkserver registration and heartbeats: liveness, capacity, and reconciliation of
//! chunk reports against the chunk table. Unknown chunks are garbage and stale versions
//! are deleted; a version newer than the master's is adopted (the master crashed between
//! bumping the replicas and persisting, GFS §4.5). Replies carry the queued commands.

use crate::registry::Server;
use crate::sm::Op;
use crate::state::Master;
use crate::views::{Cluster, EarlyReport};
use ferrofs_proto::heartbeat::*;
use ferrofs_proto::{ChunkId, CsId, Version};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

impl Master {
    pub fn register(self: &Arc<Self>, req: RegisterReq) -> RegisterResp {
        let mut adopt = vec![];
        self.never_reuse(req.chunks.iter().map(|r| r.chunk_id));
        let leader = self.is_leader();
        {
            let mut cl = self.cluster();
            let prev = cl.reg.servers.remove(&req.id);
            let mut server = Server {
                id: req.id.clone(),
                addr: req.addr.clone(),
                rack: rack_or_default(&req.rack),
                capacity_bytes: req.capacity_bytes,
                used_bytes: req.used_bytes,
                last_heartbeat: Instant::now(),
                copies_in_flight: 0,
                chunks: HashSet::new(),
                commands: vec![],
                recent_allocs: 0,
                maintenance: false,
                maintenance_since: None,
                decommission: false,
                presence: Default::default(),
                full_report: true,
            };
            if let Some(m) = cl.modes.get(&req.id).cloned() {
                server.apply_mode(&m);
            }
            if let Some(p) = prev {
                // Its presence poll may have come in first.
                server.presence = p.presence;
                for id in &p.chunks {
                    if let Some(c) = cl.chunks.get_mut(id) {
                        c.replicas.remove(&req.id);
                    }
                }
            }
            cl.reg.servers.insert(req.id.clone(), server);
            for r in &req.chunks {
                if let Some(a) = reconcile(&mut cl, &req.id, r, leader) {
                    adopt.push(a);
                }
            }
            let alive = cl.reg.servers.len();
            tracing::info!(cs = %req.id, addr = %req.addr, chunks = req.chunks.len(), servers = alive, "chunkserver registered");
        }
        self.adopt(adopt);
        RegisterResp {
            heartbeat_interval_ms: self.cfg.heartbeat_interval.as_millis() as u64,
            chunk_size: self.views.format().chunk_size,
        }
    }

    pub fn heartbeat(self: &Arc<Self>, req: HeartbeatReq) -> HeartbeatResp {
        let mut adopt = vec![];
        self.never_reuse(req.added.iter().map(|r| r.chunk_id));
        let leader = self.is_leader();
        let copies_ended;
        let commands = {
            let mut cl = self.cluster();
            let copies_before: usize = cl.copies.values().map(Vec::len).sum();
            let Some(s) = cl.reg.servers.get_mut(&req.id) else {
                return HeartbeatResp {
                    reregister: true,
                    commands: vec![],
                    term: 0,
                };
            };
            // A new leader takes no decision on a server's replicas before it has the
            // server's full report: ask for one.
            if leader && !s.full_report {
                return HeartbeatResp {
                    reregister: true,
                    commands: vec![],
                    term: 0,
                };
            }
            let prev_beat = std::mem::replace(&mut s.last_heartbeat, Instant::now());
            s.addr = req.addr.clone();
            if !req.rack.is_empty() {
                s.rack = rack_or_default(&req.rack);
            }
            s.capacity_bytes = req.capacity_bytes;
            if req.used_bytes != s.used_bytes {
                s.recent_allocs = 0;
            }
            s.used_bytes = req.used_bytes;
            s.copies_in_flight = req.copies_in_flight;
            for id in req.removed.iter().chain(req.corrupt.iter()) {
                s.chunks.remove(id);
            }
            for id in req.removed.iter().chain(req.corrupt.iter()) {
                if let Some(c) = cl.chunks.get_mut(id) {
                    // A writer under a lease naming it finds out at its next write and
                    // asks for a lease without it (a bump): the lease itself lasts, so
                    // nothing copies the chunk while it may be written.
                    c.replicas.remove(&req.id);
                }
                cl.early.remove(id);
            }
            if !req.corrupt.is_empty() {
                tracing::warn!(cs = %req.id, chunks = ?req.corrupt, "chunkserver reported corrupt replicas");
            }
            for r in &req.added {
                if let Some(a) = reconcile(&mut cl, &req.id, r, leader) {
                    adopt.push(a);
                }
            }
            if req.copies_in_flight == 0 {
                forget_ended_copies(&mut cl, &req.id, prev_beat);
            }
            copies_ended = cl.copies.values().map(Vec::len).sum::<usize>() < copies_before;
            let queued = cl
                .reg
                .servers
                .get_mut(&req.id)
                .map(|s| std::mem::take(&mut s.commands))
                .unwrap_or_default();
            if leader { queued } else { vec![] }
        };
        self.adopt(adopt);
        if copies_ended {
            // Hand the freed copy slots out now rather than at the next tick.
            self.rereplication_wake.notify_one();
        }
        HeartbeatResp {
            reregister: false,
            commands,
            term: self.raft.metrics().borrow().current_term,
        }
    }

    /// Move the chunk id counter past every id a chunkserver holds. An id allocated just
    /// before a crash may not have reached the persisted counter; handing it out again
    /// would make the crash's orphan replica look like a replica of the new chunk.
    fn never_reuse(&self, ids: impl Iterator<Item = ChunkId>) {
        if let Some(max) = ids.max() {
            self.next_chunk_floor(max.saturating_add(1));
        }
    }

    /// Record versions newer than the master's that replicas reported (leader only;
    /// followers learn them from the log).
    fn adopt(self: &Arc<Self>, adopt: Vec<(ChunkId, Version)>) {
        if adopt.is_empty() {
            return;
        }
        let m = self.clone();
        tokio::spawn(async move {
            for (chunk, version) in adopt {
                if let Err(e) = m
                    .propose_internal(Op::AdoptVersion { chunk, version })
                    .await
                {
                    tracing::warn!(chunk, version, error = %e, "could not record an adopted version");
                }
            }
        });
    }
}

/// The source of copy jobs queued before its previous heartbeat (so handed to it in that
/// reply) now runs none: those copies ended, and any whose target has not reported the
/// chunk failed (target died, refused, ran out of space). Forget them so the next pass
/// picks another target now rather than after the copy timeout. A copy that succeeded
/// but whose target reports a moment later only causes a surplus replica, trimmed later.
fn forget_ended_copies(cl: &mut Cluster, source: &str, prev_beat: Instant) {
    let mut ended = 0usize;
    cl.copies.retain(|_, jobs| {
        jobs.retain(|j| {
            let done = j.source == source && j.started < prev_beat;
            ended += usize::from(done);
            !done
        });
        !jobs.is_empty()
    });
    if ended > 0 {
        tracing::info!(cs = %source, copies = ended, "copies ended without the target reporting the chunk; will retry");
    }
}

/// Apply one reported replica to the cluster view. Returns a version to adopt when the
/// report carries a newer version than the master's (leader only). Only a leader
/// queues deletes; a follower keeps reports of chunks it does not know yet.
fn reconcile(
    cl: &mut Cluster,
    cs: &CsId,
    r: &ChunkReport,
    leader: bool,
) -> Option<(ChunkId, Version)> {
    let Some(c) = cl.chunks.get_mut(&r.chunk_id) else {
        if leader {
            // Not in the namespace: a deleted file's chunk or an orphan of a failed
            // create.
            cl.reg.push_command(
                cs,
                Command::Delete {
                    chunk_id: r.chunk_id,
                    max_version: Some(r.version),
                },
            );
        } else {
            cl.remember_early(
                r.chunk_id,
                EarlyReport {
                    cs: cs.clone(),
                    version: r.version,
                    length: r.length,
                },
            );
        }
        return None;
    };
    // Mid-bump, a replica at the old version or the new one is neither stale nor newer.
    let bumping = c.bumping.is_some_and(|from| r.version >= from);
    // A heartbeat built before a bump and delivered after the bump's answer reports
    // the version this replica had: the master already knows better.
    if r.version < c.version && c.replicas.get(cs).is_some_and(|v| *v >= c.version) {
        return None;
    }
    if r.version < c.version && !bumping {
        c.replicas.remove(cs);
        if let Some(s) = cl.reg.servers.get_mut(cs) {
            s.chunks.remove(&r.chunk_id);
        }
        if leader {
            tracing::info!(chunk = r.chunk_id, cs = %cs, have = r.version, current = c.version, "deleting stale replica");
            cl.reg.push_command(
                cs,
                Command::Delete {
                    chunk_id: r.chunk_id,
                    max_version: Some(r.version),
                },
            );
        }
        return None;
    }
    let mut adopted = None;
    if r.version > c.version && !bumping && leader {
        tracing::warn!(chunk = r.chunk_id, cs = %cs, reported = r.version, known = c.version, "adopting newer chunk version");
        adopted = Some((r.chunk_id, r.version));
    }
    c.replicas.insert(cs.clone(), r.version);
    c.length = c.length.max(r.length);
    if let Some(s) = cl.reg.servers.get_mut(cs) {
        s.chunks.insert(r.chunk_id);
    }
    // A copy to this server has completed.
    if let Some(jobs) = cl.copies.get_mut(&r.chunk_id) {
        let before = jobs.len();
        jobs.retain(|j| &j.target != cs);
        if jobs.len() < before {
            cl.progress.completed += 1;
            cl.progress.bytes_copied += r.length;
        }
        if jobs.is_empty() {
            cl.copies.remove(&r.chunk_id);
        }
    }
    adopted
}

/// A chunkserver's rack as the registry keeps it: what it names if valid, else the
/// default rack (an old chunkserver names none).
fn rack_or_default(r: &str) -> String {
    if ferrofs_proto::heartbeat::valid_rack(r) {
        r.to_string()
    } else {
        ferrofs_proto::heartbeat::DEFAULT_RACK.to_string()
    }
}
