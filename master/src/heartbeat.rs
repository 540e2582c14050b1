//! Chunkserver registration and heartbeats: liveness, capacity, and reconciliation of
//! chunk reports against the chunk table. Unknown chunks are garbage and stale versions
//! are deleted; a version newer than the master's is adopted (the master crashed between
//! bumping the replicas and persisting, GFS §4.5). Replies carry the queued commands.

use crate::db::{self, encode};
use crate::records::ChunkRec;
use crate::registry::Server;
use crate::state::{Cluster, Master};
use ferrofs_proto::heartbeat::*;
use ferrofs_proto::{ChunkId, CsId};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Master {
    pub fn register(&self, req: RegisterReq) -> RegisterResp {
        let mut adopt = vec![];
        self.never_reuse(req.chunks.iter().map(|r| r.chunk_id));
        {
            let mut cl = self.cluster.lock();
            let prev = cl.reg.servers.remove(&req.id);
            let mut server = Server {
                id: req.id.clone(),
                addr: req.addr.clone(),
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
            };
            if let Some(p) = prev {
                // A re-registration (restart) keeps operator-set modes.
                server.maintenance = p.maintenance;
                server.maintenance_since = p.maintenance_since;
                server.decommission = p.decommission;
                // Its presence poll may have come in first.
                server.presence = p.presence;
                for id in &p.chunks {
                    if let Some(c) = cl.chunks.chunks.get_mut(id) {
                        c.replicas.remove(&req.id);
                    }
                }
            }
            cl.reg.servers.insert(req.id.clone(), server);
            for r in &req.chunks {
                if let Some(a) = reconcile(&mut cl, &req.id, r) {
                    adopt.push(a);
                }
            }
            let alive = cl.reg.servers.len();
            tracing::info!(cs = %req.id, addr = %req.addr, chunks = req.chunks.len(), servers = alive, "chunkserver registered");
        }
        self.persist_adopted(&adopt);
        RegisterResp {
            heartbeat_interval_ms: self.cfg.heartbeat_interval.as_millis() as u64,
            chunk_size: self.cfg.chunk_size,
        }
    }

    pub fn heartbeat(&self, req: HeartbeatReq) -> HeartbeatResp {
        let mut adopt = vec![];
        self.never_reuse(req.added.iter().map(|r| r.chunk_id));
        let copies_ended;
        let commands = {
            let mut cl = self.cluster.lock();
            let copies_before: usize = cl.copies.values().map(Vec::len).sum();
            let Some(s) = cl.reg.servers.get_mut(&req.id) else {
                return HeartbeatResp {
                    reregister: true,
                    commands: vec![],
                };
            };
            let prev_beat = std::mem::replace(&mut s.last_heartbeat, Instant::now());
            s.addr = req.addr.clone();
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
                if let Some(c) = cl.chunks.chunks.get_mut(id) {
                    c.replicas.remove(&req.id);
                    // A lease naming a replica that is gone would only send the next
                    // write into a failure; end it so the next lease bumps the version
                    // without that replica and re-replication may start.
                    if c.lease
                        .as_ref()
                        .is_some_and(|l| l.replicas.iter().any(|r| r.id == req.id))
                    {
                        c.lease = None;
                    }
                }
            }
            if !req.corrupt.is_empty() {
                tracing::warn!(cs = %req.id, chunks = ?req.corrupt, "chunkserver reported corrupt replicas");
            }
            for r in &req.added {
                if let Some(a) = reconcile(&mut cl, &req.id, r) {
                    adopt.push(a);
                }
            }
            if req.copies_in_flight == 0 {
                forget_ended_copies(&mut cl, &req.id, prev_beat);
            }
            copies_ended = cl.copies.values().map(Vec::len).sum::<usize>() < copies_before;
            cl.reg
                .servers
                .get_mut(&req.id)
                .map(|s| std::mem::take(&mut s.commands))
                .unwrap_or_default()
        };
        self.persist_adopted(&adopt);
        if copies_ended {
            // Hand the freed copy slots out now rather than at the next tick.
            self.rereplication_wake.notify_one();
        }
        HeartbeatResp {
            reregister: false,
            commands,
        }
    }

    /// Move the chunk id counter past every id a chunkserver holds. An id allocated just
    /// before a crash may not have reached the persisted counter; handing it out again
    /// would make the crash's orphan replica look like a replica of the new chunk.
    fn never_reuse(&self, ids: impl Iterator<Item = ChunkId>) {
        if let Some(max) = ids.max() {
            let next = max.saturating_add(1);
            let before = self.next_chunk.fetch_max(next, Ordering::AcqRel);
            if before < next {
                tracing::warn!(
                    before,
                    after = next,
                    "chunk id counter moved past ids reported by a chunkserver"
                );
            }
        }
    }

    fn persist_adopted(&self, adopt: &[(u64, ChunkRec)]) {
        if adopt.is_empty() {
            return;
        }
        let mut b = rocksdb::WriteBatch::default();
        for (id, rec) in adopt {
            b.put(db::chunk_key(*id), encode(rec));
        }
        if let Err(e) = self.db.write(b) {
            tracing::error!(error = %e, "could not persist adopted chunk versions");
        }
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

/// Apply one reported replica to the cluster view. Returns a chunk record to persist
/// when the report carries a newer version than the master's.
fn reconcile(cl: &mut Cluster, cs: &CsId, r: &ChunkReport) -> Option<(u64, ChunkRec)> {
    let Some(c) = cl.chunks.chunks.get_mut(&r.chunk_id) else {
        // Not in the namespace: a deleted file's chunk or an orphan of a failed create.
        cl.reg.push_command(
            cs,
            Command::Delete {
                chunk_id: r.chunk_id,
                max_version: Some(r.version),
            },
        );
        return None;
    };
    if r.version < c.version {
        tracing::info!(chunk = r.chunk_id, cs = %cs, have = r.version, current = c.version, "deleting stale replica");
        c.replicas.remove(cs);
        cl.reg.push_command(
            cs,
            Command::Delete {
                chunk_id: r.chunk_id,
                max_version: Some(r.version),
            },
        );
        if let Some(s) = cl.reg.servers.get_mut(cs) {
            s.chunks.remove(&r.chunk_id);
        }
        return None;
    }
    let mut adopted = None;
    if r.version > c.version {
        tracing::warn!(chunk = r.chunk_id, cs = %cs, reported = r.version, known = c.version, "adopting newer chunk version");
        c.version = r.version;
        adopted = Some((
            r.chunk_id,
            ChunkRec {
                ino: c.ino,
                index: c.index,
                version: r.version,
            },
        ));
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
