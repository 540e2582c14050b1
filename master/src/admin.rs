//! Admin operations behind `/api/v1`: cluster status, per-file chunk placement, fsck,
//! replication goals, maintenance and decommission.

use crate::db;
use crate::error::{Result, err};
use crate::sm::{self, Op};
use crate::state::Master;
use ferrofs_proto::admin::*;
use ferrofs_proto::namespace::{FileKind, ReaddirReq};
use ferrofs_proto::{ChunkId, ErrorCode, Ino};

/// The number of servers that accept copies (alive, neither in maintenance nor
/// decommissioning): a goal above it cannot be healed.
fn copy_targets(cl: &crate::views::Cluster, l: crate::chunks::Liveness) -> u32 {
    cl.reg
        .servers
        .values()
        .filter(|s| cl.reg.is_alive(&s.id, l.dead) && !s.maintenance && !s.decommission)
        .count() as u32
}

/// Why chunks below goal are not being healed, in words: too few servers to place the
/// copies on, or no replica left to copy from.
fn health_warnings(
    cl: &crate::views::Cluster,
    l: crate::chunks::Liveness,
    targets: u32,
    survey: &crate::chunks::Survey,
) -> Vec<String> {
    let alive = cl
        .reg
        .servers
        .values()
        .filter(|s| cl.reg.is_alive(&s.id, l.dead))
        .count();
    let mut out = vec![];
    for (goal, n) in &survey.stuck {
        out.push(format!(
            "{n} chunks cannot be healed: goal {goal} needs {goal} live chunkservers, \
             {alive} alive ({targets} accepting copies)"
        ));
    }
    let missing = survey.health.missing;
    if missing > 0 {
        out.push(format!(
            "{missing} chunks have no live replica: their files cannot be read until a \
             chunkserver holding them comes back"
        ));
    }
    out
}

impl Master {
    pub fn status(&self) -> Status {
        let l = self.liveness();
        let cl = self.cluster();
        let targets = copy_targets(&cl, l);
        let survey = cl.chunks.survey(&cl.reg, l, targets);
        let warnings = health_warnings(&cl, l, targets, &survey);
        let chunks = survey.health;
        let servers = cl.reg.status(l.dead);
        let m = &self.metrics;
        m.chunks_total.set(chunks.total as i64);
        m.chunks_under_replicated
            .set(chunks.under_replicated as i64);
        m.chunks_missing.set(chunks.missing as i64);
        m.chunks_over_replicated.set(chunks.over_replicated as i64);
        m.chunkservers_alive
            .set(servers.iter().filter(|s| s.alive).count() as i64);
        m.files.set(self.file_count() as i64);
        let mut workers: Vec<WorkerStatus> = self
            .workers
            .lock()
            .iter()
            .map(|(n, s)| WorkerStatus {
                name: n.clone(),
                status: s.clone(),
            })
            .collect();
        let dead = servers.iter().filter(|s| !s.alive).count();
        workers.push(WorkerStatus {
            name: "failure-detector".into(),
            status: format!(
                "{} of {} chunkservers alive, {dead} dead (timeout {:?})",
                servers.len() - dead,
                servers.len(),
                l.dead
            ),
        });
        Status {
            chunkservers: servers,
            chunks,
            files: self.file_count(),
            safe_mode: cl.safe_mode,
            default_replication: self.views.format().default_replication,
            chunk_size: self.chunk_size(),
            workers,
            rereplication: cl.progress.clone(),
            warnings,
            master_id: self.id,
            leader: self.is_leader(),
        }
    }

    pub fn file_info(&self, path: &str) -> Result<FileInfo> {
        let attr = self.resolve_local(path)?;
        let mut chunks = vec![];
        if attr.kind == FileKind::File {
            let prefix = db::file_chunk_prefix(attr.ino);
            let refs: Vec<(u64, u64)> = self
                .db
                .scan(&prefix)
                .map(|kv| kv.map(|(k, v)| (db::be_u64(&k[9..]), db::be_u64(&v))))
                .collect::<Result<_>>()?;
            let l = self.liveness();
            let cl = self.cluster();
            for (index, id) in refs {
                let (version, replicas, live) = match cl.chunks.get(&id) {
                    Some(c) => {
                        let reps: Vec<String> = c.current().cloned().collect();
                        let live = reps
                            .iter()
                            .filter(|s| cl.reg.is_alive(s, l.dead))
                            .cloned()
                            .collect();
                        (c.version, reps, live)
                    }
                    None => (0, vec![], vec![]),
                };
                chunks.push(FileChunk {
                    index,
                    id,
                    version,
                    replicas,
                    live_replicas: live,
                });
            }
        }
        Ok(FileInfo {
            path: path.to_string(),
            ino: attr.ino,
            size: attr.size,
            replication: attr.replication,
            chunks,
        })
    }

    pub fn under_replicated_list(&self) -> Vec<UnderReplicatedChunk> {
        let l = self.liveness();
        let cl = self.cluster();
        let all: Vec<ChunkId> = cl.chunks.ids().collect();
        cl.chunks
            .under_replicated(&all, &cl.reg, l)
            .into_iter()
            .take(10_000)
            .filter_map(|(id, u)| {
                let c = cl.chunks.get(&id)?;
                Some(UnderReplicatedChunk {
                    id,
                    ino: c.ino,
                    index: c.index,
                    live: u.live,
                    goal: u32::from(c.goal),
                })
            })
            .collect()
    }

    /// Walk `path` (a file or a directory tree), calling `f` on each file and directory.
    fn walk(&self, path: &str, f: &mut dyn FnMut(&str, Ino, FileKind) -> Result<()>) -> Result<()> {
        let attr = self.resolve_local(path)?;
        let mut stack = vec![(path.to_string(), attr.ino, attr.kind)];
        while let Some((p, ino, kind)) = stack.pop() {
            f(&p, ino, kind)?;
            if kind != FileKind::Dir {
                continue;
            }
            let mut after = None;
            loop {
                let r = self.readdir_local(&ReaddirReq {
                    ino,
                    after: after.clone(),
                    limit: 1000,
                })?;
                for e in &r.entries {
                    stack.push((
                        ferrofs_proto::path::join(&p, &e.name),
                        e.attr.ino,
                        e.attr.kind,
                    ));
                }
                after = r.entries.last().map(|e| e.name.clone());
                if !r.more {
                    break;
                }
            }
        }
        Ok(())
    }

    pub fn fsck(&self, path: &str) -> Result<FsckResp> {
        let mut files = vec![];
        self.walk(path, &mut |p, _, kind| {
            if kind == FileKind::File {
                let info = self.file_info(p)?;
                let goal = info.replication as usize;
                let missing = info
                    .chunks
                    .iter()
                    .filter(|c| c.live_replicas.is_empty())
                    .count();
                let under = info
                    .chunks
                    .iter()
                    .filter(|c| !c.live_replicas.is_empty() && c.live_replicas.len() < goal)
                    .count();
                files.push(FsckFile {
                    path: p.to_string(),
                    health: if missing > 0 {
                        FileHealth::Missing
                    } else if under > 0 {
                        FileHealth::UnderReplicated
                    } else {
                        FileHealth::Healthy
                    },
                    chunks: info.chunks.len() as u64,
                    under_replicated: under as u64,
                    missing: missing as u64,
                });
            }
            Ok(())
        })?;
        let count = |h| files.iter().filter(|f| f.health == h).count() as u64;
        Ok(FsckResp {
            healthy: count(FileHealth::Healthy),
            under_replicated: count(FileHealth::UnderReplicated),
            missing: count(FileHealth::Missing),
            files,
        })
    }

    pub async fn set_replication(&self, req: &SetReplicationReq) -> Result<SetReplicationResp> {
        if req.replication == 0 || req.replication > 16 {
            return Err(err(ErrorCode::BadRequest, "replication must be 1..=16"));
        }
        self.read_barrier().await?;
        let mut targets = vec![];
        if req.recursive {
            self.walk(&req.path, &mut |_, ino, _| {
                targets.push(ino);
                Ok(())
            })?;
        } else {
            targets.push(self.resolve_local(&req.path)?.ino);
        }
        for ino in &targets {
            // The change feed tells every mount (origin 0 is no mount's own).
            self.propose_internal(Op::Setattr(sm::Setattr {
                ino: *ino,
                replication: Some(req.replication),
                ..Default::default()
            }))
            .await?;
        }
        tracing::info!(path = %req.path, goal = req.replication, inodes = targets.len(), "replication goal set");
        Ok(SetReplicationResp {
            files_changed: targets.len() as u64,
        })
    }

    fn known_server(&self, id: &str) -> Result<()> {
        if self.cluster().reg.servers.contains_key(id) {
            Ok(())
        } else {
            Err(err(ErrorCode::NotFound, format!("no chunkserver {id}")))
        }
    }

    pub async fn set_maintenance(&self, id: &str, on: bool) -> Result<()> {
        self.known_server(id)?;
        self.propose_internal(Op::SetServerMode {
            cs: id.to_string(),
            maintenance: Some(on),
            decommission: None,
        })
        .await?;
        tracing::info!(cs = id, on, "maintenance mode");
        Ok(())
    }

    pub async fn decommission(&self, id: &str) -> Result<()> {
        self.known_server(id)?;
        self.propose_internal(Op::SetServerMode {
            cs: id.to_string(),
            maintenance: None,
            decommission: Some(true),
        })
        .await?;
        tracing::info!(cs = id, "decommissioning");
        Ok(())
    }
}
