//! Write leases and chunk versions, as in GFS. The leader decides and talks to the
//! chunkservers, then records the outcome as a state-machine command. A lease has
//! holders (the clients writing under it); it lasts while any holder's time has not
//! passed and ends when the last one closes the file. While it lasts the chunk is never
//! copied or trimmed. Holders keep the lease (and the version) across fsyncs and
//! closes-and-reopens: a new lease keeps the chunk's version when every replica that
//! passes for current is in it and alive and none was copied since the version last
//! moved; otherwise the leader first bumps the version on the replicas it keeps, so the
//! ones left out become stale. While a bump is in flight a replica reporting the old
//! version is neither deleted nor taken as newer.
//! New chunks are created empty on the chosen replicas before they enter the file map,
//! or taken ready-made from the leader's pool (`crate::pool`).

use crate::chunks::ChunkState;
use crate::db;
use crate::error::{Result, err, not_found};
use crate::sm::{self, LeaseRec, Op, Reply};
use crate::state::Master;
use ferrofs_proto::chunk::{BumpVersionReq, CreateChunkReq, bump_path, create_path};
use ferrofs_proto::namespace::{
    ChunkLoc, ChunksReq, ChunksResp, FileKind, LeaseReq, ReplicaLoc, WriteLease,
};
use ferrofs_proto::token::{self, Access};
use ferrofs_proto::{ChunkId, ErrorCode, Version};
use futures::future::join_all;
use std::sync::Arc;

/// Chunk ids reserved per `ReserveChunkIds` command.
const CHUNK_ID_BLOCK: u64 = 1024;

/// How a lease on an existing chunk is granted.
enum Plan {
    /// The holder holds it already, with time to spare.
    Held(LeaseRec),
    /// At the chunk's version, with these replicas.
    Keep {
        version: Version,
        replicas: Vec<String>,
    },
    /// After moving these holders past version `from`.
    Bump {
        from: Version,
        holders: Vec<ReplicaLoc>,
    },
}

impl Master {
    /// Locations of the chunks of a file in `[first_index, first_index + count)`.
    pub async fn chunk_locations(&self, req: &ChunksReq) -> Result<ChunksResp> {
        self.read_barrier().await?;
        let rec = self.inode(req.ino)?;
        if rec.kind != FileKind::File {
            return Err(err(ErrorCode::IsADirectory, "not a regular file"));
        }
        let prefix = db::file_chunk_prefix(req.ino);
        let start = db::file_chunk_key(req.ino, req.first_index);
        let end = req
            .first_index
            .saturating_add(u64::from(req.count.clamp(1, 4096)));
        let mut found = vec![];
        for kv in self.db.scan_from(&prefix, &start) {
            let (k, v) = kv?;
            let index = db::be_u64(&k[9..]);
            if index >= end {
                break;
            }
            found.push((index, db::be_u64(&v)));
        }
        let secret = self.cfg.secret.as_bytes();
        let ttl = self.cfg.token_ttl.as_millis() as u64;
        let cl = self.cluster();
        let chunks = found
            .into_iter()
            .map(|(index, id)| {
                let (version, replicas) = match cl.chunks.get(&id) {
                    Some(c) => (
                        c.version,
                        cl.chunks.readable(c, &cl.reg, self.cfg.dead_timeout),
                    ),
                    None => (0, vec![]),
                };
                ChunkLoc {
                    index,
                    chunk_id: id,
                    version,
                    replicas,
                    token: token::issue(secret, id, Access::Read, ttl),
                }
            })
            .collect::<Vec<ChunkLoc>>();
        // Right after a restart replica locations are still arriving: ask to retry
        // rather than report a chunk as unreadable.
        if cl.safe_mode && chunks.iter().any(|c| c.replicas.is_empty()) {
            return Err(err(
                ErrorCode::SafeMode,
                "master is starting: chunk locations not yet reported",
            ));
        }
        Ok(ChunksResp {
            chunk_size: self.chunk_size(),
            size: rec.size,
            chunks,
        })
    }

    /// Grant a write lease on chunk `index` of a file, allocating the chunk if needed.
    pub async fn lease(self: &Arc<Self>, req: &LeaseReq) -> Result<WriteLease> {
        if !self.is_leader() {
            self.read_barrier().await?; // answers NotLeader with the leader's address
        }
        let rec = self.inode(req.ino)?;
        if rec.kind != FileKind::File {
            return Err(err(ErrorCode::IsADirectory, "not a regular file"));
        }
        // A chunk is written to hold at least its first byte.
        crate::namespace::check_size(
            req.index
                .saturating_mul(self.chunk_size())
                .saturating_add(1),
        )?;
        if rec.nlink == 0 && self.db.get_raw(&db::orphan_key(req.ino))?.is_none() {
            return Err(not_found(format!("inode {}", req.ino)));
        }
        // One lease decision at a time per chunk slot; other chunks proceed in parallel.
        let lock = self
            .lease_locks
            .lock()
            .entry((req.ino, req.index))
            .or_default()
            .clone();
        let _g = lock.lock().await;
        let existing = self
            .db
            .get_raw(&db::file_chunk_key(req.ino, req.index))?
            .map(|v| db::be_u64(&v));
        let res = match existing {
            None => self.allocate(req, rec.replication).await,
            Some(id) => self.renew(id, req).await,
        };
        drop(_g);
        // Drop the lock entry when nobody else waits on it.
        let mut locks = self.lease_locks.lock();
        if locks
            .get(&(req.ino, req.index))
            .is_some_and(|l| Arc::strong_count(l) <= 2)
        {
            locks.remove(&(req.ino, req.index));
        }
        drop(locks);
        if res.is_ok() {
            self.metrics.leases.inc();
        }
        res
    }

    /// Wall-clock end of a hold granted now.
    fn hold_until_ms(&self) -> u64 {
        db::now_ms() + self.cfg.lease_duration.as_millis() as u64
    }

    /// The lease reply for `rec`, as `holder` sees it. Locks the cluster view: never
    /// call it with the lock held.
    fn make_lease(&self, id: ChunkId, rec: &LeaseRec, holder: u64) -> Result<WriteLease> {
        let ttl = (self.cfg.lease_duration + self.cfg.token_ttl).as_millis() as u64;
        let until = rec
            .holders
            .iter()
            .find(|h| h.client == holder)
            .map_or(0, |h| h.until_ms);
        let replicas: Vec<ReplicaLoc> = {
            let cl = self.cluster();
            rec.replicas
                .iter()
                .filter_map(|r| cl.reg.servers.get(r).map(|s| s.loc()))
                .collect()
        };
        if replicas.is_empty() {
            // Its replicas have not registered with this master yet (a new leader).
            return Err(err(
                ErrorCode::NoChunkservers,
                format!("the replicas of chunk {id} have not reported to this master yet"),
            ));
        }
        Ok(WriteLease {
            chunk_id: id,
            version: rec.version,
            replicas,
            token: token::issue(self.cfg.secret.as_bytes(), id, Access::Write, ttl),
            chunk_size: self.chunk_size(),
            lease_ms: until.saturating_sub(db::now_ms()),
        })
    }

    /// A chunk id nobody ever had: from a block reserved through the log (a new leader
    /// reserves a block of its own, so ids a deposed leader held are skipped, never
    /// reused).
    pub(crate) async fn alloc_chunk_id(&self) -> Result<ChunkId> {
        let mut b = self.ids.lock().await;
        let floor = self.id_floor.load(std::sync::atomic::Ordering::Acquire);
        if b.next < floor {
            b.next = floor;
        }
        if b.next >= b.upto {
            let stored = self
                .db
                .get_raw(&db::counter_key(db::NEXT_CHUNK))?
                .map_or(1, |v| db::be_u64(&v));
            let base = stored.max(floor).max(1);
            let upto = base + CHUNK_ID_BLOCK;
            self.propose_internal(Op::ReserveChunkIds { upto }).await?;
            b.next = base;
            b.upto = upto;
        }
        let id = b.next;
        b.next += 1;
        Ok(id)
    }

    async fn allocate(self: &Arc<Self>, req: &LeaseReq, goal: u8) -> Result<WriteLease> {
        if let Some((id, replicas)) = self.take_pooled(req, goal) {
            self.metrics.chunks_from_pool.inc();
            return self.record_allocation(req, id, replicas, 1).await;
        }
        let id = self.alloc_chunk_id().await?;
        let chunk_size = self.chunk_size();
        let targets: Vec<ReplicaLoc> = {
            let mut cl = self.cluster();
            let cands = cl.reg.candidates(self.cfg.dead_timeout, chunk_size);
            if cands.is_empty() {
                let any = cl
                    .reg
                    .servers
                    .values()
                    .any(|s| s.last_heartbeat.elapsed() < self.cfg.dead_timeout);
                return Err(if any {
                    err(
                        ErrorCode::NoSpace,
                        "no space left: no chunkserver has room for a new chunk",
                    )
                } else {
                    err(ErrorCode::NoChunkservers, "no chunkservers available")
                });
            }
            let chosen =
                crate::placement::choose(&cands, goal as usize, &req.exclude, chunk_size, id);
            if chosen.is_empty() {
                // Live servers exist but none (outside `exclude`) has room for a chunk.
                return Err(err(
                    ErrorCode::NoSpace,
                    "no space left: no chunkserver has room for a new chunk",
                ));
            }
            // Enter the chunk before any server holds it, so a report of it is not
            // mistaken for garbage.
            let mut st = ChunkState::recorded(req.ino, req.index, 1, goal);
            st.allocating = true;
            st.copied = false;
            cl.chunks.insert(id, st);
            chosen
                .iter()
                .filter_map(|c| {
                    let s = cl.reg.servers.get_mut(c)?;
                    s.recent_allocs += 1;
                    Some(s.loc())
                })
                .collect()
        };
        let path = create_path(id);
        let body = CreateChunkReq { version: 1 };
        let want = targets.len();
        let results = join_all(
            targets
                .iter()
                .map(|t| self.internal_post(&t.addr, &path, &body)),
        )
        .await;
        let results_all_no_space = results.iter().all(|r| {
            r.as_ref()
                .is_err_and(|e| e.code == Some(ErrorCode::NoSpace))
        });
        let ok: Vec<ReplicaLoc> = targets
            .into_iter()
            .zip(results)
            .filter_map(|(t, r)| match r {
                Ok(()) => Some(t),
                Err(e) => {
                    tracing::warn!(chunk = id, cs = %t.id, error = %e, "chunk create failed");
                    if e.code == Some(ErrorCode::NoSpace) {
                        // Treat it as full until its next heartbeat says otherwise.
                        if let Some(s) = self.cluster().reg.servers.get_mut(&t.id) {
                            s.used_bytes = s.capacity_bytes;
                        }
                    }
                    None
                }
            })
            .collect();
        if ok.is_empty() {
            self.cluster().chunks.remove(&id);
            // Servers refusing for lack of space is a full cluster, not a missing one.
            if results_all_no_space {
                return Err(err(
                    ErrorCode::NoSpace,
                    "no space left: every chosen chunkserver refused the chunk for lack of space",
                ));
            }
            return Err(err(
                ErrorCode::NoChunkservers,
                "could not create the chunk on any chunkserver",
            ));
        }
        // A create that failed may still have made the empty chunk on its server (it
        // died before answering). That copy must never count: move the chunks that did
        // answer to version 2, so an empty version-1 copy reported later is stale.
        let (mut ok, mut version) = (ok, 1);
        if ok.len() < want {
            match self.bump_until_all_answer(id, ok, 1).await {
                Some((o, v)) => (ok, version) = (o, v),
                None => {
                    self.cluster().chunks.remove(&id);
                    return Err(err(
                        ErrorCode::NoChunkservers,
                        "could not create the chunk on any chunkserver",
                    ));
                }
            }
        }
        self.record_allocation(req, id, ok, version).await
    }

    /// Record chunk `id`, created empty at `version` on `ok`, as chunk `req.index` of
    /// the file, with the asker holding its lease.
    async fn record_allocation(
        &self,
        req: &LeaseReq,
        id: ChunkId,
        ok: Vec<ReplicaLoc>,
        version: Version,
    ) -> Result<WriteLease> {
        let op = Op::AllocChunk(sm::AllocChunk {
            ino: req.ino,
            index: req.index,
            chunk: id,
            version,
            replicas: ok.iter().map(|r| r.id.clone()).collect(),
            holder: req.holder,
            until_ms: self.hold_until_ms(),
        });
        let rec = match self.propose_internal(op).await {
            Ok((Reply::Lease(rec), _)) => rec,
            Ok((r, _)) => {
                return Err(err(ErrorCode::Internal, format!("unexpected reply {r:?}")));
            }
            Err(e) => {
                // The file went away (or leadership did): the new replicas are garbage.
                self.forget_allocation(id, &ok);
                return Err(e);
            }
        };
        self.metrics.chunks_allocated.inc();
        tracing::debug!(
            chunk = id,
            ino = req.ino,
            index = req.index,
            replicas = ok.len(),
            "allocated chunk"
        );
        self.make_lease(id, &rec, req.holder)
    }

    pub(crate) fn forget_allocation(&self, id: ChunkId, replicas: &[ReplicaLoc]) {
        let mut cl = self.cluster();
        if cl.chunks.get(&id).is_some_and(|c| c.allocating) {
            cl.chunks.remove(&id);
        }
        for r in replicas {
            cl.reg.push_command(
                &r.id,
                ferrofs_proto::heartbeat::Command::Delete {
                    chunk_id: id,
                    max_version: None,
                },
            );
        }
    }

    async fn renew(&self, id: ChunkId, req: &LeaseReq) -> Result<WriteLease> {
        let now_ms = db::now_ms();
        let plan = {
            let cl = self.cluster();
            let c = cl.chunks.get(&id).ok_or_else(|| {
                err(
                    ErrorCode::Internal,
                    format!("chunk {id} missing from table"),
                )
            })?;
            let live = c
                .lease
                .as_ref()
                .filter(|l| l.live_at(now_ms) && l.version == c.version);
            let alive = |r: &String| cl.reg.is_alive(r, self.cfg.dead_timeout);
            if let Some(l) = live
                && req.exclude.is_empty()
                && !l.replicas.is_empty()
                && l.replicas.iter().all(alive)
            {
                let mine = l.holders.iter().find(|h| h.client == req.holder);
                let half = self.cfg.lease_duration.as_millis() as u64 / 2;
                if mine.is_some_and(|h| h.until_ms > now_ms + half) {
                    // Held, with time to spare: nothing to record.
                    Plan::Held(l.clone())
                } else {
                    // Join or extend the live lease at its version.
                    Plan::Keep {
                        version: c.version,
                        replicas: l.replicas.clone(),
                    }
                }
            } else {
                let current: Vec<String> = c.current().cloned().collect();
                let holders: Vec<String> = current
                    .iter()
                    .filter(|r| alive(r) && !req.exclude.contains(r))
                    .cloned()
                    .collect();
                if holders.is_empty() {
                    return Err(err(
                        ErrorCode::NoChunkservers,
                        format!("no live replica of chunk {id} at version {}", c.version),
                    ));
                }
                // Without a bump, every replica that passes for current must be in the
                // new lease: none left out, dead, copied meanwhile, or mid-bump.
                let whole = holders.len() == current.len()
                    && live.is_none()
                    && !c.copied
                    && c.bumping.is_none()
                    && !cl.copies.contains_key(&id);
                if whole {
                    Plan::Keep {
                        version: c.version,
                        replicas: holders,
                    }
                } else {
                    let locs = holders
                        .iter()
                        .filter_map(|r| cl.reg.servers.get(r).map(|s| s.loc()))
                        .collect();
                    Plan::Bump {
                        from: c.version,
                        holders: locs,
                    }
                }
            }
        };
        let (from, version, replicas) = match plan {
            Plan::Held(rec) => return self.make_lease(id, &rec, req.holder),
            Plan::Keep { version, replicas } => (version, version, replicas),
            Plan::Bump { from, holders } => {
                if let Some(c) = self.cluster().chunks.get_mut(&id) {
                    c.bumping = Some(from);
                }
                let bumped = self.bump_until_all_answer(id, holders, from).await;
                let Some((ok, new)) = bumped else {
                    self.end_bump(id);
                    return Err(err(
                        ErrorCode::NoChunkservers,
                        format!("no replica of chunk {id} accepted the new version"),
                    ));
                };
                (from, new, ok.into_iter().map(|r| r.id).collect())
            }
        };
        let op = Op::GrantLease(sm::GrantLease {
            ino: req.ino,
            index: req.index,
            chunk: id,
            from,
            version,
            replicas,
            holder: req.holder,
            until_ms: self.hold_until_ms(),
        });
        let res = self.propose_internal(op).await;
        self.end_bump(id);
        let rec = match res? {
            (Reply::Lease(rec), _) => rec,
            (r, _) => return Err(err(ErrorCode::Internal, format!("unexpected reply {r:?}"))),
        };
        if version != from {
            self.delete_stale(id, version);
        }
        tracing::debug!(
            chunk = id,
            version,
            replicas = rec.replicas.len(),
            "lease granted"
        );
        self.make_lease(id, &rec, req.holder)
    }

    fn end_bump(&self, id: ChunkId) {
        if let Some(c) = self.cluster().chunks.get_mut(&id) {
            c.bumping = None;
        }
    }

    /// Holders that missed a bump to `version` (down, hung, excluded) are stale now.
    /// One that is not restarted never reports the chunk again, so order the delete now;
    /// it waits in the command queue while the holder is unreachable.
    fn delete_stale(&self, id: ChunkId, version: Version) {
        let mut cl = self.cluster();
        let Some(c) = cl.chunks.get_mut(&id) else {
            return;
        };
        let stale: Vec<(String, Version)> = c
            .replicas
            .iter()
            .filter(|(_, v)| **v < version)
            .map(|(cs, v)| (cs.clone(), *v))
            .collect();
        for (cs, _) in &stale {
            c.replicas.remove(cs);
        }
        for (cs, v) in stale {
            tracing::info!(chunk = id, cs = %cs, have = v, current = version, "deleting replica that missed the version bump");
            if let Some(s) = cl.reg.servers.get_mut(&cs) {
                s.chunks.remove(&id);
            }
            cl.reg.push_command(
                &cs,
                ferrofs_proto::heartbeat::Command::Delete {
                    chunk_id: id,
                    max_version: Some(v),
                },
            );
        }
    }

    /// Move the replicas on `holders` from version `from` to a new version on which
    /// every one of them answered. A holder whose bump failed may still have applied
    /// it (killed after renaming, a reply lost or late), and would later report the new
    /// version without the data the lease holder writes next; so after any failure the
    /// ones that answered are bumped once more, leaving the doubtful copy a version
    /// behind (stale, deleted when it reports). Returns the replicas and their version,
    /// or None if none answered.
    async fn bump_until_all_answer(
        &self,
        id: ChunkId,
        mut holders: Vec<ReplicaLoc>,
        mut from: Version,
    ) -> Option<(Vec<ReplicaLoc>, Version)> {
        let path = bump_path(id);
        loop {
            let body = BumpVersionReq { from, to: from + 1 };
            let results = join_all(
                holders
                    .iter()
                    .map(|h| self.internal_post(&h.addr, &path, &body)),
            )
            .await;
            let asked = holders.len();
            holders = holders
                .into_iter()
                .zip(results)
                .filter_map(|(h, r)| match r {
                    Ok(()) => Some(h),
                    Err(e) => {
                        tracing::warn!(chunk = id, cs = %h.id, to = from + 1, error = %e, "version bump failed");
                        None
                    }
                })
                .collect();
            from += 1;
            if holders.is_empty() {
                return None;
            }
            if holders.len() == asked {
                return Some((holders, from));
            }
        }
    }
}
