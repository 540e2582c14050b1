//! Write leases and chunk versions, as in GFS: before granting a lease on an existing
//! chunk the master bumps its version on every reachable up-to-date replica, then
//! persists the new version; a replica that missed the bump is stale forever.
//! New chunks are created empty on the chosen replicas before they enter the file map.

use crate::chunks::{ChunkState, LeaseState};
use crate::db::{self, encode};
use crate::error::{Result, err, not_found};
use crate::records::ChunkRec;
use crate::state::Master;
use ferrofs_proto::chunk::{BumpVersionReq, CreateChunkReq, bump_path, create_path};
use ferrofs_proto::namespace::{
    ChunkLoc, ChunksReq, ChunksResp, FileKind, LeaseReq, ReplicaLoc, WriteLease,
};
use ferrofs_proto::token::{self, Access};
use ferrofs_proto::{ChunkId, ErrorCode, Version};
use futures::future::join_all;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

impl Master {
    /// Locations of the chunks of a file in `[first_index, first_index + count)`.
    pub fn chunk_locations(&self, req: &ChunksReq) -> Result<ChunksResp> {
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
        let cl = self.cluster.lock();
        let chunks = found
            .into_iter()
            .map(|(index, id)| {
                let (version, replicas) = match cl.chunks.chunks.get(&id) {
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
            chunk_size: self.cfg.chunk_size,
            size: rec.size,
            chunks,
        })
    }

    /// Grant a write lease on chunk `index` of a file, allocating the chunk if needed.
    pub async fn lease(self: &Arc<Self>, req: &LeaseReq) -> Result<WriteLease> {
        let rec = self.inode(req.ino)?;
        if rec.kind != FileKind::File {
            return Err(err(ErrorCode::IsADirectory, "not a regular file"));
        }
        // A chunk is written to hold at least its first byte.
        crate::namespace::check_size(
            req.index
                .saturating_mul(self.cfg.chunk_size)
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

    /// Wall-clock end of a lease granted now, persisted with the grant: after a restart
    /// the master must assume the holder may still write until then (GFS §3.1).
    fn lease_end_ms(&self) -> u64 {
        db::now_ms() + self.cfg.lease_duration.as_millis() as u64
    }

    /// A lease reply valid for `remaining` (a reused lease keeps its original end).
    fn make_lease(
        &self,
        id: ChunkId,
        version: Version,
        replicas: Vec<ReplicaLoc>,
        remaining: std::time::Duration,
    ) -> WriteLease {
        let ttl = (self.cfg.lease_duration + self.cfg.token_ttl).as_millis() as u64;
        WriteLease {
            chunk_id: id,
            version,
            replicas,
            token: token::issue(self.cfg.secret.as_bytes(), id, Access::Write, ttl),
            chunk_size: self.cfg.chunk_size,
            lease_ms: remaining.as_millis() as u64,
        }
    }

    async fn allocate(&self, req: &LeaseReq, goal: u8) -> Result<WriteLease> {
        // Durable before any chunkserver holds the chunk: a crash between the creates
        // below and the batch recording the chunk must not hand the same id out again
        // (an orphan replica would pass for the new chunk, or its garbage delete would
        // remove the new chunk's data). Ids are reserved in blocks, so this rarely syncs.
        let id = self.alloc_chunk_id_durable().await?;
        let targets: Vec<ReplicaLoc> = {
            let mut cl = self.cluster.lock();
            let cands = cl
                .reg
                .candidates(self.cfg.dead_timeout, self.cfg.chunk_size);
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
            let chosen = crate::placement::choose(
                &cands,
                goal as usize,
                &req.exclude,
                self.cfg.chunk_size,
                id,
            );
            if chosen.is_empty() {
                // Live servers exist but none (outside `exclude`) has room for a chunk.
                return Err(err(
                    ErrorCode::NoSpace,
                    "no space left: no chunkserver has room for a new chunk",
                ));
            }
            // Enter the chunk before any server holds it, so a report of it is not
            // mistaken for garbage.
            cl.chunks.chunks.insert(
                id,
                ChunkState {
                    ino: req.ino,
                    index: req.index,
                    version: 1,
                    goal,
                    replicas: BTreeMap::new(),
                    length: 0,
                    lease: None,
                    allocating: true,
                },
            );
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
                        if let Some(s) = self.cluster.lock().reg.servers.get_mut(&t.id) {
                            s.used_bytes = s.capacity_bytes;
                        }
                    }
                    None
                }
            })
            .collect();
        if ok.is_empty() {
            self.cluster.lock().chunks.chunks.remove(&id);
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
                    self.cluster.lock().chunks.chunks.remove(&id);
                    return Err(err(
                        ErrorCode::NoChunkservers,
                        "could not create the chunk on any chunkserver",
                    ));
                }
            }
        }
        let mut b = rocksdb::WriteBatch::default();
        b.put(db::file_chunk_key(req.ino, req.index), id.to_be_bytes());
        b.put(
            db::chunk_key(id),
            encode(&ChunkRec {
                ino: req.ino,
                index: req.index,
                version,
            }),
        );
        b.put(db::lease_key(id), self.lease_end_ms().to_be_bytes());
        if let Err(e) = self.db.write(b) {
            self.cluster.lock().chunks.chunks.remove(&id);
            return Err(e);
        }
        {
            let mut cl = self.cluster.lock();
            if let Some(c) = cl.chunks.chunks.get_mut(&id) {
                c.allocating = false;
                c.version = c.version.max(version);
                for t in &ok {
                    c.replicas.insert(t.id.clone(), version);
                }
                c.lease = Some(LeaseState {
                    version,
                    replicas: ok.clone(),
                    expires: Instant::now() + self.cfg.lease_duration,
                });
            }
        }
        self.metrics.chunks_allocated.inc();
        tracing::debug!(
            chunk = id,
            ino = req.ino,
            index = req.index,
            replicas = ok.len(),
            "allocated chunk"
        );
        Ok(self.make_lease(id, version, ok, self.cfg.lease_duration))
    }

    async fn renew(&self, id: ChunkId, req: &LeaseReq) -> Result<WriteLease> {
        let (version, holders) = {
            let cl = self.cluster.lock();
            let c = cl.chunks.chunks.get(&id).ok_or_else(|| {
                err(
                    ErrorCode::Internal,
                    format!("chunk {id} missing from table"),
                )
            })?;
            // Reuse a live lease unless the client reports a failed replica.
            if let Some(l) = &c.lease
                && !l.replicas.is_empty()
                && req.exclude.is_empty()
                && l.expires > Instant::now()
                && l.version == c.version
            {
                return Ok(self.make_lease(
                    id,
                    l.version,
                    l.replicas.clone(),
                    l.expires - Instant::now(),
                ));
            }
            let holders: Vec<ReplicaLoc> = cl
                .chunks
                .readable(c, &cl.reg, self.cfg.dead_timeout)
                .into_iter()
                .filter(|r| !req.exclude.contains(&r.id))
                .collect();
            (c.version, holders)
        };
        if holders.is_empty() {
            return Err(err(
                ErrorCode::NoChunkservers,
                format!("no live replica of chunk {id} at version {version}"),
            ));
        }
        let Some((ok, new)) = self.bump_until_all_answer(id, holders, version).await else {
            return Err(err(
                ErrorCode::NoChunkservers,
                format!("no replica of chunk {id} accepted the new version"),
            ));
        };
        // Replicas moved first; a crash here leaves them ahead, and a replica reporting a
        // higher version than the master's is taken as current (GFS rule).
        let mut b = rocksdb::WriteBatch::default();
        b.put(
            db::chunk_key(id),
            encode(&ChunkRec {
                ino: req.ino,
                index: req.index,
                version: new,
            }),
        );
        b.put(db::lease_key(id), self.lease_end_ms().to_be_bytes());
        self.db.write(b)?;
        let mut cl = self.cluster.lock();
        let mut stale: Vec<(String, Version)> = vec![];
        if let Some(c) = cl.chunks.chunks.get_mut(&id) {
            c.version = c.version.max(new);
            for h in &ok {
                c.replicas.insert(h.id.clone(), new);
            }
            // Holders that missed the bump (down, hung, excluded) are stale now. One that
            // is not restarted never reports the chunk again, so order the delete now; it
            // waits in the command queue while the holder is unreachable.
            stale = c
                .replicas
                .iter()
                .filter(|(_, v)| **v < new)
                .map(|(cs, v)| (cs.clone(), *v))
                .collect();
            for (cs, _) in &stale {
                c.replicas.remove(cs);
            }
            c.lease = Some(LeaseState {
                version: new,
                replicas: ok.clone(),
                expires: Instant::now() + self.cfg.lease_duration,
            });
        }
        for (cs, v) in stale {
            tracing::info!(chunk = id, cs = %cs, have = v, current = new, "deleting replica that missed the version bump");
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
        drop(cl);
        tracing::debug!(
            chunk = id,
            version = new,
            replicas = ok.len(),
            "lease granted"
        );
        Ok(self.make_lease(id, new, ok, self.cfg.lease_duration))
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

    /// POST a JSON body to a chunkserver's internal API with the cluster secret. A
    /// refusal carries the chunkserver's error code.
    pub(crate) async fn internal_post<T: serde::Serialize>(
        &self,
        addr: &str,
        path: &str,
        body: &T,
    ) -> std::result::Result<(), InternalError> {
        let resp = self
            .http
            .post(format!("http://{addr}{path}"))
            .header(ferrofs_proto::SECRET_HEADER, &self.cfg.secret)
            // Creates and version bumps are small: a server that does not answer
            // quickly is left out rather than stalling the lease.
            .timeout(self.cfg.rpc_timeout.min(std::time::Duration::from_secs(3)))
            .json(body)
            .send()
            .await
            .map_err(|e| InternalError {
                code: None,
                msg: e.to_string(),
            })?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let code = serde_json::from_str::<ferrofs_proto::ApiError>(&text)
            .ok()
            .map(|e| e.code);
        Err(InternalError {
            code,
            msg: format!("{status}: {text}"),
        })
    }
}

/// A failed master -> chunkserver call.
#[derive(Debug)]
pub(crate) struct InternalError {
    pub code: Option<ErrorCode>,
    pub msg: String,
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}
