//! Namespace operations: lookup, create, unlink, rename, link, readdir, setattr, commit.
//! Mutations run under `ns_lock` and land as one RocksDB batch each, so every operation
//! is atomic and in the WAL before it is acknowledged.

use crate::db::{self, encode};
use crate::error::{MasterError, Result, err, not_found};
use crate::records::{DentryRec, InodeRec};
use crate::state::Master;
use ferrofs_proto::namespace::*;
use ferrofs_proto::path::validate_name;
use ferrofs_proto::{ChunkId, ErrorCode, Ino, ROOT_INO};
use rocksdb::WriteBatch;
use std::sync::atomic::Ordering;

impl Master {
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

    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        Ok(self.inode(ino)?.attr(ino))
    }

    pub fn lookup(&self, parent: Ino, name: &str) -> Result<Attr> {
        validate_name(name)?;
        self.dir(parent)?;
        let d = self.dentry(parent, name)?.ok_or_else(|| not_found(name))?;
        self.getattr(d.ino)
    }

    pub fn resolve(&self, path: &str) -> Result<Attr> {
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
        self.getattr(ino)
    }

    pub fn create(&self, req: &CreateReq) -> Result<CreateResp> {
        validate_name(&req.name)?;
        if req.kind == FileKind::Symlink && req.symlink_target.as_deref().unwrap_or("").is_empty() {
            return Err(err(ErrorCode::BadRequest, "symlink needs a target"));
        }
        if req.replication == Some(0) || req.replication.is_some_and(|r| r > 16) {
            return Err(err(ErrorCode::BadRequest, "replication must be 1..=16"));
        }
        let _g = self.ns_lock.lock();
        let mut parent = self.dir(req.parent)?;
        if let Some(existing) = self.dentry(req.parent, &req.name)? {
            if !req.exclusive && req.kind == FileKind::File {
                let rec = self.inode(existing.ino)?;
                if rec.is_dir() {
                    return Err(err(
                        ErrorCode::IsADirectory,
                        format!("{}: is a directory", req.name),
                    ));
                }
                return Ok(CreateResp {
                    attr: rec.attr(existing.ino),
                    created: false,
                });
            }
            return Err(err(
                ErrorCode::AlreadyExists,
                format!("{}: already exists", req.name),
            ));
        }
        let now = Timespec::now();
        let ino = self.alloc_ino();
        let is_dir = req.kind == FileKind::Dir;
        // A set-group-ID directory hands its group to new entries, and the bit to new
        // subdirectories (the kernel already stripped S_ISGID from a file's mode where
        // the creator is not in that group).
        let (mut mode, mut gid) = (req.mode & 0o7777, req.gid);
        if parent.mode & 0o2000 != 0 {
            gid = parent.gid;
            if is_dir {
                mode |= 0o2000;
            }
        }
        let rec = InodeRec {
            kind: req.kind,
            mode,
            uid: req.uid,
            gid,
            size: req
                .symlink_target
                .as_ref()
                .map(|t| t.len() as u64)
                .unwrap_or(0),
            atime: now,
            mtime: now,
            ctime: now,
            nlink: if is_dir { 2 } else { 1 },
            rdev: req.rdev,
            replication: req.replication.unwrap_or(parent.replication),
            parent: req.parent,
            target: req.symlink_target.clone(),
        };
        if is_dir {
            parent.nlink += 1;
        }
        parent.mtime = now;
        parent.ctime = now;
        let mut b = WriteBatch::default();
        b.put(db::inode_key(ino), encode(&rec));
        b.put(db::inode_key(req.parent), encode(&parent));
        b.put(
            db::dentry_key(req.parent, &req.name),
            encode(&DentryRec {
                ino,
                kind: req.kind,
            }),
        );
        self.files.fetch_add(1, Ordering::AcqRel);
        self.put_counters(&mut b);
        self.db.write(b)?;
        self.metrics.ns_ops.get_or_create(&op("create")).inc();
        Ok(CreateResp {
            attr: rec.attr(ino),
            created: true,
        })
    }

    /// Drop one link to `ino` inside batch `b`. Returns the chunks to delete once the
    /// batch is written (empty if the inode lives on or is kept open).
    fn drop_link(
        &self,
        b: &mut WriteBatch,
        ino: Ino,
        rec: &mut InodeRec,
        keep_open: bool,
    ) -> Result<Vec<ChunkId>> {
        let now = Timespec::now();
        rec.ctime = now;
        if rec.is_dir() {
            rec.nlink = 0;
        } else {
            rec.nlink = rec.nlink.saturating_sub(1);
        }
        if rec.nlink > 0 {
            b.put(db::inode_key(ino), encode(rec));
            return Ok(vec![]);
        }
        self.files.fetch_sub(1, Ordering::AcqRel);
        if keep_open && rec.kind == FileKind::File {
            b.put(db::inode_key(ino), encode(rec));
            b.put(db::orphan_key(ino), []);
            return Ok(vec![]);
        }
        self.purge(b, ino)
    }

    /// Delete inode `ino` and its chunk map inside `b`; returns the chunk ids.
    fn purge(&self, b: &mut WriteBatch, ino: Ino) -> Result<Vec<ChunkId>> {
        b.delete(db::inode_key(ino));
        b.delete(db::orphan_key(ino));
        for kv in self.db.scan(&db::xattr_prefix(ino)) {
            b.delete(&kv?.0);
        }
        let prefix = db::file_chunk_prefix(ino);
        let mut ids = vec![];
        for kv in self.db.scan(&prefix) {
            let (k, v) = kv?;
            let id = db::be_u64(&v);
            b.delete(&k);
            b.delete(db::chunk_key(id));
            b.delete(db::lease_key(id));
            ids.push(id);
        }
        Ok(ids)
    }

    fn dir_is_empty(&self, ino: Ino) -> Result<bool> {
        let prefix = db::dentry_prefix(ino);
        Ok(self.db.scan(&prefix).next().is_none())
    }

    pub fn unlink(&self, req: &UnlinkReq) -> Result<UnlinkResp> {
        validate_name(&req.name)?;
        let (resp, dropped) = {
            let _g = self.ns_lock.lock();
            let mut parent = self.dir(req.parent)?;
            let d = self
                .dentry(req.parent, &req.name)?
                .ok_or_else(|| not_found(&req.name))?;
            let mut rec = self.inode(d.ino)?;
            if req.dir && !rec.is_dir() {
                return Err(err(
                    ErrorCode::NotADirectory,
                    format!("{}: not a directory", req.name),
                ));
            }
            if !req.dir && rec.is_dir() {
                return Err(err(
                    ErrorCode::IsADirectory,
                    format!("{}: is a directory", req.name),
                ));
            }
            if rec.is_dir() && !self.dir_is_empty(d.ino)? {
                return Err(err(
                    ErrorCode::NotEmpty,
                    format!("{}: directory not empty", req.name),
                ));
            }
            let now = Timespec::now();
            let mut b = WriteBatch::default();
            b.delete(db::dentry_key(req.parent, &req.name));
            if rec.is_dir() {
                parent.nlink = parent.nlink.saturating_sub(1);
            }
            parent.mtime = now;
            parent.ctime = now;
            b.put(db::inode_key(req.parent), encode(&parent));
            let dropped = self.drop_link(&mut b, d.ino, &mut rec, req.keep_open)?;
            self.put_counters(&mut b);
            self.db.write(b)?;
            (
                UnlinkResp {
                    ino: d.ino,
                    nlink: rec.nlink,
                },
                dropped,
            )
        };
        self.drop_chunks(&dropped);
        self.metrics.ns_ops.get_or_create(&op("unlink")).inc();
        Ok(resp)
    }

    /// Release a file that was unlinked while open: delete it now if no links remain.
    pub fn release(&self, ino: Ino) -> Result<()> {
        let dropped = {
            let _g = self.ns_lock.lock();
            let Some(rec) = self.db.get::<InodeRec>(&db::inode_key(ino))? else {
                return Ok(());
            };
            if rec.nlink > 0 || self.db.get_raw(&db::orphan_key(ino))?.is_none() {
                return Ok(());
            }
            let mut b = WriteBatch::default();
            let dropped = self.purge(&mut b, ino)?;
            self.db.write(b)?;
            dropped
        };
        self.drop_chunks(&dropped);
        Ok(())
    }

    /// Files left open-but-unlinked by clients of a previous master run are deleted.
    pub(crate) fn purge_orphans(&self) -> Result<()> {
        let mut inos = vec![];
        for kv in self.db.scan(b"O") {
            let (k, _) = kv?;
            inos.push(db::be_u64(&k[1..]));
        }
        for ino in &inos {
            self.release(*ino)?;
        }
        if !inos.is_empty() {
            tracing::info!(count = inos.len(), "purged files unlinked while open");
        }
        Ok(())
    }

    /// Is `ancestor` equal to `ino` or one of its ancestors?
    fn is_ancestor(&self, ancestor: Ino, mut ino: Ino) -> Result<bool> {
        for _ in 0..4096 {
            if ino == ancestor {
                return Ok(true);
            }
            if ino == ROOT_INO {
                return Ok(false);
            }
            ino = self.inode(ino)?.parent;
        }
        Err(MasterError::Corrupt(
            "directory parent chain too deep".into(),
        ))
    }

    pub fn rename(&self, req: &RenameReq) -> Result<RenameResp> {
        validate_name(&req.name)?;
        validate_name(&req.new_name)?;
        let (resp, dropped) = {
            let _g = self.ns_lock.lock();
            self.rename_locked(req)?
        };
        self.drop_chunks(&dropped);
        self.metrics.ns_ops.get_or_create(&op("rename")).inc();
        Ok(resp)
    }

    fn rename_locked(&self, req: &RenameReq) -> Result<(RenameResp, Vec<ChunkId>)> {
        let now = Timespec::now();
        self.dir(req.parent)?;
        self.dir(req.new_parent)?;
        let src = self
            .dentry(req.parent, &req.name)?
            .ok_or_else(|| not_found(&req.name))?;
        let mut src_rec = self.inode(src.ino)?;
        let dst = self.dentry(req.new_parent, &req.new_name)?;
        if src_rec.is_dir()
            && req.new_parent != req.parent
            && self.is_ancestor(src.ino, req.new_parent)?
        {
            return Err(err(
                ErrorCode::InvalidArgument,
                "cannot move a directory into itself",
            ));
        }
        if let Some(d) = dst {
            if d.ino == src.ino {
                return Ok((RenameResp { replaced: None }, vec![]));
            }
            if req.noreplace {
                return Err(err(
                    ErrorCode::AlreadyExists,
                    format!("{}: already exists", req.new_name),
                ));
            }
        } else if req.exchange {
            return Err(not_found(&req.new_name));
        }
        let mut b = WriteBatch::default();
        let mut dropped = vec![];
        let mut replaced = None;
        // Parent directory records, updated in place (they may be the same inode).
        let mut parents: std::collections::BTreeMap<Ino, InodeRec> = Default::default();
        parents.insert(req.parent, self.inode(req.parent)?);
        parents
            .entry(req.new_parent)
            .or_insert(self.inode(req.new_parent)?);

        if req.exchange {
            let d = dst.expect("checked above");
            let mut dst_rec = self.inode(d.ino)?;
            if req.parent != req.new_parent {
                if dst_rec.is_dir() && self.is_ancestor(d.ino, req.parent)? {
                    return Err(err(
                        ErrorCode::InvalidArgument,
                        "cannot exchange with an ancestor",
                    ));
                }
                let (sd, dd) = (src_rec.is_dir() as u32, dst_rec.is_dir() as u32);
                if let Some(p) = parents.get_mut(&req.parent) {
                    p.nlink = p.nlink + dd - sd;
                }
                if let Some(p) = parents.get_mut(&req.new_parent) {
                    p.nlink = p.nlink + sd - dd;
                }
            }
            src_rec.parent = req.new_parent;
            dst_rec.parent = req.parent;
            src_rec.ctime = now;
            dst_rec.ctime = now;
            b.put(db::dentry_key(req.parent, &req.name), encode(&d));
            b.put(db::dentry_key(req.new_parent, &req.new_name), encode(&src));
            b.put(db::inode_key(d.ino), encode(&dst_rec));
        } else {
            if let Some(d) = dst {
                let mut dst_rec = self.inode(d.ino)?;
                match (src_rec.is_dir(), dst_rec.is_dir()) {
                    (true, false) => {
                        return Err(err(
                            ErrorCode::NotADirectory,
                            format!("{}: not a directory", req.new_name),
                        ));
                    }
                    (false, true) => {
                        return Err(err(
                            ErrorCode::IsADirectory,
                            format!("{}: is a directory", req.new_name),
                        ));
                    }
                    (true, true) => {
                        if !self.dir_is_empty(d.ino)? {
                            return Err(err(
                                ErrorCode::NotEmpty,
                                format!("{}: directory not empty", req.new_name),
                            ));
                        }
                        if let Some(p) = parents.get_mut(&req.new_parent) {
                            p.nlink = p.nlink.saturating_sub(1);
                        }
                    }
                    (false, false) => {}
                }
                dropped = self.drop_link(&mut b, d.ino, &mut dst_rec, req.keep_open)?;
                replaced = Some(d.ino);
            }
            b.delete(db::dentry_key(req.parent, &req.name));
            b.put(db::dentry_key(req.new_parent, &req.new_name), encode(&src));
            if src_rec.is_dir() && req.parent != req.new_parent {
                if let Some(p) = parents.get_mut(&req.parent) {
                    p.nlink = p.nlink.saturating_sub(1);
                }
                if let Some(p) = parents.get_mut(&req.new_parent) {
                    p.nlink += 1;
                }
            }
            src_rec.parent = if src_rec.is_dir() {
                req.new_parent
            } else {
                src_rec.parent
            };
            src_rec.ctime = now;
        }
        for (ino, mut p) in parents {
            p.mtime = now;
            p.ctime = now;
            b.put(db::inode_key(ino), encode(&p));
        }
        b.put(db::inode_key(src.ino), encode(&src_rec));
        self.put_counters(&mut b);
        self.db.write(b)?;
        Ok((RenameResp { replaced }, dropped))
    }

    pub fn link(&self, req: &LinkReq) -> Result<Attr> {
        validate_name(&req.new_name)?;
        let _g = self.ns_lock.lock();
        let mut parent = self.dir(req.new_parent)?;
        let mut rec = self.inode(req.ino)?;
        if rec.is_dir() {
            return Err(err(
                ErrorCode::PermissionDenied,
                "hard links to directories are not allowed",
            ));
        }
        if rec.nlink == 0 {
            return Err(not_found(format!("inode {}", req.ino)));
        }
        if self.dentry(req.new_parent, &req.new_name)?.is_some() {
            return Err(err(
                ErrorCode::AlreadyExists,
                format!("{}: already exists", req.new_name),
            ));
        }
        let now = Timespec::now();
        rec.nlink += 1;
        rec.ctime = now;
        parent.mtime = now;
        parent.ctime = now;
        let mut b = WriteBatch::default();
        b.put(
            db::dentry_key(req.new_parent, &req.new_name),
            encode(&DentryRec {
                ino: req.ino,
                kind: rec.kind,
            }),
        );
        b.put(db::inode_key(req.ino), encode(&rec));
        b.put(db::inode_key(req.new_parent), encode(&parent));
        self.db.write(b)?;
        Ok(rec.attr(req.ino))
    }

    pub fn readdir(&self, req: &ReaddirReq) -> Result<ReaddirResp> {
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
        let limit = req.limit.clamp(1, 10_000) as usize;
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

    pub fn readlink(&self, ino: Ino) -> Result<ReadlinkResp> {
        let rec = self.inode(ino)?;
        match rec.target {
            Some(target) if rec.kind == FileKind::Symlink => Ok(ReadlinkResp { target }),
            _ => Err(err(ErrorCode::InvalidArgument, "not a symlink")),
        }
    }

    pub fn setattr(&self, req: &SetattrReq) -> Result<Attr> {
        if req.replication == Some(0) || req.replication.is_some_and(|r| r > 16) {
            return Err(err(ErrorCode::BadRequest, "replication must be 1..=16"));
        }
        let (attr, dropped) = {
            let _g = self.ns_lock.lock();
            let mut rec = self.inode(req.ino)?;
            let now = Timespec::now();
            let mut b = WriteBatch::default();
            let mut dropped = vec![];
            if let Some(m) = req.mode {
                rec.mode = m & 0o7777;
            }
            if let Some(u) = req.uid {
                rec.uid = u;
            }
            if let Some(g) = req.gid {
                rec.gid = g;
            }
            if let Some(size) = req.size {
                if rec.is_dir() {
                    return Err(err(ErrorCode::IsADirectory, "cannot truncate a directory"));
                }
                check_size(size)?;
                {
                    // Drop chunks wholly past the new end (the client trimmed the partial
                    // one), including chunks a crashed writer left past the old end.
                    let first_gone = size.min(rec.size).div_ceil(self.cfg.chunk_size);
                    let prefix = db::file_chunk_prefix(req.ino);
                    let start = db::file_chunk_key(req.ino, first_gone);
                    for kv in self.db.scan_from(&prefix, &start) {
                        let (k, v) = kv?;
                        let id = db::be_u64(&v);
                        b.delete(&k);
                        b.delete(db::chunk_key(id));
                        b.delete(db::lease_key(id));
                        dropped.push(id);
                    }
                }
                rec.size = size;
                rec.mtime = now;
            }
            match req.atime {
                Some(TimeSet::Now) => rec.atime = now,
                Some(TimeSet::At(t)) => rec.atime = t,
                None => {}
            }
            match req.mtime {
                Some(TimeSet::Now) => rec.mtime = now,
                Some(TimeSet::At(t)) => rec.mtime = t,
                None => {}
            }
            if let Some(r) = req.replication {
                rec.replication = r;
            }
            rec.ctime = now;
            b.put(db::inode_key(req.ino), encode(&rec));
            self.db.write(b)?;
            (rec.attr(req.ino), dropped)
        };
        self.drop_chunks(&dropped);
        if let Some(r) = req.replication {
            self.set_chunk_goal(req.ino, r);
        }
        Ok(attr)
    }

    /// Update the in-memory goal of every chunk of `ino`.
    pub(crate) fn set_chunk_goal(&self, ino: Ino, goal: u8) {
        let prefix = db::file_chunk_prefix(ino);
        let ids: Vec<ChunkId> = self
            .db
            .scan(&prefix)
            .filter_map(|kv| kv.ok().map(|(_, v)| db::be_u64(&v)))
            .collect();
        let mut cl = self.cluster.lock();
        for id in ids {
            if let Some(c) = cl.chunks.chunks.get_mut(&id) {
                c.goal = goal;
            }
        }
    }

    /// Record the outcome of writes: the size grows to at least `size`. With `sync`, wait
    /// for the WAL sync that covers it (a client's fsync/close).
    pub async fn commit(&self, req: &CommitReq) -> Result<Attr> {
        let (attr, seq) = {
            let _g = self.ns_lock.lock();
            let mut rec = self.inode(req.ino)?;
            if rec.kind != FileKind::File {
                return Err(err(ErrorCode::InvalidArgument, "not a regular file"));
            }
            check_size(req.size)?;
            let mut changed = false;
            if req.size > rec.size {
                rec.size = req.size;
                changed = true;
            }
            if let Some(m) = req.mtime
                && m != rec.mtime
            {
                rec.mtime = m;
                rec.ctime = Timespec::now();
                changed = true;
            }
            let seq = if changed {
                let mut b = WriteBatch::default();
                b.put(db::inode_key(req.ino), encode(&rec));
                self.db.write(b)?
            } else {
                self.db.last_seq()
            };
            (rec.attr(req.ino), seq)
        };
        if req.sync {
            self.db.wait_durable(seq).await;
            self.release_leases(req.ino);
        }
        Ok(attr)
    }

    /// A durable commit ends the writer's leases on the file: its chunks may be copied
    /// or trimmed again, and the next write takes a new lease (and version).
    fn release_leases(&self, ino: Ino) {
        let prefix = db::file_chunk_prefix(ino);
        let ids: Vec<ChunkId> = self
            .db
            .scan(&prefix)
            .filter_map(|kv| kv.ok().map(|(_, v)| db::be_u64(&v)))
            .collect();
        let mut b = WriteBatch::default();
        {
            let mut cl = self.cluster.lock();
            for id in ids {
                if let Some(c) = cl.chunks.chunks.get_mut(&id)
                    && c.lease.take().is_some()
                {
                    b.delete(db::lease_key(id));
                }
            }
        }
        // Losing this write in a crash only makes a restarted master wait out the lease.
        if let Err(e) = self.db.write(b) {
            tracing::warn!(error = %e, "could not persist lease release");
        }
    }

    pub fn statfs(&self) -> StatfsResp {
        let cl = self.cluster.lock();
        let dead = self.cfg.dead_timeout;
        let (mut cap, mut used) = (0u64, 0u64);
        for s in cl.reg.servers.values() {
            if s.last_heartbeat.elapsed() < dead && !s.decommission {
                cap += s.capacity_bytes;
                used += s.used_bytes;
            }
        }
        let r = u64::from(self.cfg.default_replication.max(1));
        StatfsResp {
            capacity_bytes: cap / r,
            used_bytes: used / r,
            free_bytes: cap.saturating_sub(used) / r,
            files: self.file_count(),
            chunk_size: self.cfg.chunk_size,
        }
    }
}

/// Sizes past `MAX_FILE_SIZE` are EFBIG.
pub(crate) fn check_size(size: u64) -> Result<()> {
    if size > ferrofs_proto::MAX_FILE_SIZE {
        return Err(err(
            ErrorCode::FileTooLarge,
            format!(
                "size {size} is past the largest file size, {}",
                ferrofs_proto::MAX_FILE_SIZE
            ),
        ));
    }
    Ok(())
}

pub(crate) fn op(name: &str) -> crate::metrics::OpLabel {
    crate::metrics::OpLabel {
        op: name.to_string(),
    }
}
