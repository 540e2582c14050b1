//! Namespace calls as the master serves them: reads from the applied state after a
//! linearizable barrier, and mutations checked at the edge (names, sizes, goals) and
//! then proposed as state-machine commands (`crate::sm`), whose apply is the one place
//! that decides them.

use crate::db;
use crate::error::{MasterError, Result, err, not_found};
use crate::sm::{self, Ctx, DentryRec, InodeRec, Op, Reply};
use crate::state::Master;
use ferrofs_proto::namespace::*;
use ferrofs_proto::path::validate_name;
use ferrofs_proto::{ErrorCode, Ino, ROOT_INO};
use std::sync::Arc;

fn unexpected(r: Reply) -> MasterError {
    err(ErrorCode::Internal, format!("unexpected reply {r:?}"))
}

fn check_replication(r: Option<u8>) -> Result<()> {
    if r == Some(0) || r.is_some_and(|r| r > 16) {
        return Err(err(ErrorCode::BadRequest, "replication must be 1..=16"));
    }
    Ok(())
}

pub(crate) fn check_size(size: u64) -> Result<()> {
    sm::check_size(size).map_err(|r| MasterError::Api(r.into()))
}

/// The state machine's create for a checked request.
fn create_op(req: &CreateReq) -> Result<sm::Create> {
    validate_name(&req.name)?;
    if req.kind == FileKind::Symlink && req.symlink_target.as_deref().unwrap_or("").is_empty() {
        return Err(err(ErrorCode::BadRequest, "symlink needs a target"));
    }
    check_replication(req.replication)?;
    Ok(sm::Create {
        parent: req.parent,
        name: req.name.clone(),
        kind: req.kind,
        mode: req.mode,
        uid: req.uid,
        gid: req.gid,
        rdev: req.rdev,
        symlink_target: req.symlink_target.clone(),
        exclusive: req.exclusive,
        replication: req.replication,
    })
}

fn unlink_op(req: &UnlinkReq) -> Result<sm::Unlink> {
    validate_name(&req.name)?;
    Ok(sm::Unlink {
        parent: req.parent,
        name: req.name.clone(),
        dir: req.dir,
        keep_open: req.keep_open,
    })
}

impl Master {
    // ---- reads (callers pass the barrier first; admin paths read locally) ----

    pub fn inode(&self, ino: Ino) -> Result<InodeRec> {
        self.db
            .get::<InodeRec>(&db::inode_key(ino))?
            .ok_or_else(|| not_found(format!("inode {ino}")))
    }

    fn dir(&self, ino: Ino) -> Result<InodeRec> {
        let rec = self.inode(ino)?;
        if !rec.is_dir() {
            return Err(err(
                ErrorCode::NotADirectory,
                format!("inode {ino} is not a directory"),
            ));
        }
        Ok(rec)
    }

    fn dentry(&self, parent: Ino, name: &str) -> Result<Option<DentryRec>> {
        self.db.get(&db::dentry_key(parent, name))
    }

    pub fn getattr_local(&self, ino: Ino) -> Result<Attr> {
        Ok(self.inode(ino)?.attr(ino))
    }

    pub async fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.read_barrier().await?;
        self.getattr_local(ino)
    }

    pub async fn lookup(&self, parent: Ino, name: &str) -> Result<Attr> {
        validate_name(name)?;
        self.read_barrier().await?;
        self.dir(parent)?;
        let d = self.dentry(parent, name)?.ok_or_else(|| not_found(name))?;
        self.getattr_local(d.ino)
    }

    /// Resolve a path in the applied state of this member (no barrier).
    pub fn resolve_local(&self, path: &str) -> Result<Attr> {
        let parts = ferrofs_proto::path::components(path)?;
        let mut ino = ROOT_INO;
        for (i, p) in parts.iter().enumerate() {
            let parent = self.inode(ino)?;
            if !parent.is_dir() {
                return Err(err(
                    ErrorCode::NotADirectory,
                    format!("/{}: not a directory", parts[..i].join("/")),
                ));
            }
            ino = self.dentry(ino, p)?.ok_or_else(|| not_found(path))?.ino;
        }
        self.getattr_local(ino)
    }

    pub async fn resolve(&self, path: &str) -> Result<Attr> {
        self.read_barrier().await?;
        self.resolve_local(path)
    }

    pub fn readdir_local(&self, req: &ReaddirReq) -> Result<ReaddirResp> {
        self.dir(req.ino)?;
        let prefix = db::dentry_prefix(req.ino);
        let start = match &req.after {
            Some(after) => {
                let mut k = db::dentry_key(req.ino, after);
                k.push(0); // strictly after `after`
                k
            }
            None => prefix.clone(),
        };
        let limit = req
            .limit
            .clamp(1, ferrofs_proto::namespace::READDIR_MAX_LIMIT) as usize;
        let mut names = vec![];
        let mut keys = vec![];
        let mut more = false;
        for kv in self.db.scan_from(&prefix, &start) {
            let (k, v) = kv?;
            if names.len() == limit {
                more = true;
                break;
            }
            let d: DentryRec = db::decode(&v)?;
            names.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
            keys.push(db::inode_key(d.ino));
        }
        let recs = self.db.multi_get::<InodeRec>(&keys)?;
        let entries = names
            .into_iter()
            .zip(keys.iter().zip(recs))
            .filter_map(|(name, (k, rec))| {
                rec.map(|r| DirEntry {
                    name,
                    attr: r.attr(db::be_u64(&k[1..])),
                })
            })
            .collect();
        Ok(ReaddirResp { entries, more })
    }

    pub async fn readdir(&self, req: &ReaddirReq) -> Result<ReaddirResp> {
        self.read_barrier().await?;
        self.readdir_local(req)
    }

    pub async fn readlink(&self, ino: Ino) -> Result<ReadlinkResp> {
        self.read_barrier().await?;
        let rec = self.inode(ino)?;
        match rec.target {
            Some(target) if rec.kind == FileKind::Symlink => Ok(ReadlinkResp { target }),
            _ => Err(err(ErrorCode::InvalidArgument, "not a symlink")),
        }
    }

    pub fn statfs(&self) -> Result<StatfsResp> {
        let chunk_size = self.views.format().chunk_size;
        if chunk_size == 0 {
            return Err(err(
                ErrorCode::SafeMode,
                "the master group is starting: the cluster is not formatted yet",
            ));
        }
        let cl = self.cluster();
        let dead = self.cfg.dead_timeout;
        let (mut cap, mut used) = (0u64, 0u64);
        for s in cl.reg.servers.values() {
            if s.last_heartbeat.elapsed() < dead && !s.decommission {
                cap += s.capacity_bytes;
                used += s.used_bytes;
            }
        }
        let r = u64::from(self.views.format().default_replication.max(1));
        Ok(StatfsResp {
            capacity_bytes: cap / r,
            used_bytes: used / r,
            free_bytes: cap.saturating_sub(used) / r,
            files: self.file_count(),
            chunk_size,
        })
    }

    // ---- mutations ----

    pub async fn create(&self, ctx: Ctx, req: &CreateReq) -> Result<CreateResp> {
        let op = Op::Create(create_op(req)?);
        match self.propose(ctx, op).await?.0 {
            Reply::Created { attr, created } => Ok(CreateResp {
                attr,
                created,
                parent: self.getattr_local(req.parent).ok(),
            }),
            r => Err(unexpected(r)),
        }
    }

    /// Inode numbers for the caller's deferred creates (`Op::ReserveInos`).
    pub async fn reserve_inos(&self, ctx: Ctx, req: &ReserveInosReq) -> Result<ReserveInosResp> {
        let op = Op::ReserveInos {
            count: u64::from(req.count),
        };
        match self.propose(ctx, op).await?.0 {
            Reply::Inos { first, count } => Ok(ReserveInosResp { first, count }),
            r => Err(unexpected(r)),
        }
    }

    /// A client's deferred creates and unlinks, in order, as one `Op::Batch`.
    pub async fn ns_batch(&self, ctx: Ctx, req: &NsBatchReq) -> Result<NsBatchResp> {
        let mut ops = Vec::with_capacity(req.ops.len());
        for op in &req.ops {
            ops.push(match op {
                NsOp::Create(c) => Op::CreateAt {
                    ino: c.ino,
                    create: create_op(&c.create)?,
                },
                NsOp::Unlink(u) => Op::Unlink(unlink_op(u)?),
            });
        }
        let client = ctx.client;
        let replies = match self.propose(ctx, Op::Batch(ops)).await?.0 {
            Reply::Batch(rs) => rs,
            r => return Err(unexpected(r)),
        };
        let mut out = Vec::with_capacity(replies.len());
        for (op, r) in req.ops.iter().zip(replies) {
            out.push(match (op, r) {
                (NsOp::Create(_), Reply::Created { attr, created }) => {
                    NsReply::Created(CreateResp {
                        attr,
                        created,
                        parent: None,
                    })
                }
                (NsOp::Unlink(u), Reply::Unlinked { ino, nlink }) => {
                    if u.keep_open && nlink == 0 {
                        self.claim(client, &[ino]);
                    }
                    NsReply::Unlinked(UnlinkResp {
                        ino,
                        nlink,
                        parent: None,
                    })
                }
                (_, r) => return Err(unexpected(r)),
            });
        }
        Ok(NsBatchResp { replies: out })
    }

    pub async fn unlink(&self, ctx: Ctx, req: &UnlinkReq) -> Result<UnlinkResp> {
        let op = Op::Unlink(unlink_op(req)?);
        let client = ctx.client;
        match self.propose(ctx, op).await?.0 {
            Reply::Unlinked { ino, nlink } => {
                if req.keep_open && nlink == 0 {
                    self.claim(client, &[ino]);
                }
                Ok(UnlinkResp {
                    ino,
                    nlink,
                    parent: self.getattr_local(req.parent).ok(),
                })
            }
            r => Err(unexpected(r)),
        }
    }

    pub async fn rename(&self, ctx: Ctx, req: &RenameReq) -> Result<RenameResp> {
        validate_name(&req.name)?;
        validate_name(&req.new_name)?;
        let op = Op::Rename(sm::Rename {
            parent: req.parent,
            name: req.name.clone(),
            new_parent: req.new_parent,
            new_name: req.new_name.clone(),
            noreplace: req.noreplace,
            exchange: req.exchange,
            keep_open: req.keep_open,
        });
        let client = ctx.client;
        match self.propose(ctx, op).await?.0 {
            Reply::Renamed { replaced } => {
                if req.keep_open
                    && let Some(ino) = replaced
                {
                    self.claim(client, &[ino]);
                }
                Ok(RenameResp { replaced })
            }
            r => Err(unexpected(r)),
        }
    }

    pub async fn link(&self, ctx: Ctx, req: &LinkReq) -> Result<Attr> {
        validate_name(&req.new_name)?;
        let op = Op::Link(sm::Link {
            ino: req.ino,
            new_parent: req.new_parent,
            new_name: req.new_name.clone(),
        });
        match self.propose(ctx, op).await?.0 {
            Reply::Attr(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    pub async fn setattr(&self, ctx: Ctx, req: &SetattrReq) -> Result<Attr> {
        check_replication(req.replication)?;
        if let Some(size) = req.size {
            check_size(size)?;
        }
        match self.propose(ctx, setattr_op(req)).await?.0 {
            Reply::Attr(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// Record the outcome of writes: the size grows to at least `size`. With `sync`,
    /// wait until the commit is on disk on a majority of the group (a client's fsync);
    /// with `close`, the client's holds on the file's leases end.
    pub async fn commit(self: &Arc<Self>, ctx: Ctx, req: &CommitReq) -> Result<Attr> {
        check_size(req.size)?;
        let op = Op::Commit(sm::Commit {
            ino: req.ino,
            size: req.size,
            mtime: req.mtime,
            chunks: req
                .chunks
                .iter()
                .map(|c| sm::ChunkRef {
                    index: c.index,
                    chunk: c.chunk_id,
                })
                .collect(),
            end_leases: req.close,
        });
        let op = match &req.attrs {
            None => op,
            Some(a) => Op::Batch(vec![op, setattr_op(a)]),
        };
        let (reply, log_id) = self.propose(ctx, op).await?;
        if req.sync {
            self.sync_majority(log_id).await?;
        }
        let reply = match reply {
            Reply::Batch(mut rs) => rs.pop().unwrap_or(Reply::Done),
            r => r,
        };
        match reply {
            Reply::Attr(a) => Ok(a),
            r => Err(unexpected(r)),
        }
    }

    /// A client closed its last handle of a file that was unlinked while open: delete
    /// the file unless another client still holds it.
    pub async fn release(&self, ctx: Ctx, ino: Ino) -> Result<()> {
        let client = ctx.client;
        if let Some(m) = self.claims.lock().get_mut(&ino) {
            m.remove(&client);
        }
        if self.claimed(ino, client) {
            return Ok(());
        }
        self.propose(ctx, Op::PurgeOrphan { ino }).await?;
        self.claims.lock().remove(&ino);
        Ok(())
    }
}

fn setattr_op(req: &SetattrReq) -> Op {
    Op::Setattr(sm::Setattr {
        ino: req.ino,
        mode: req.mode,
        uid: req.uid,
        gid: req.gid,
        size: req.size,
        atime: req.atime,
        mtime: req.mtime,
        replication: req.replication,
    })
}
