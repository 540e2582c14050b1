//! Namespace operations of the state machine: create, unlink, rename, link, setattr,
//! and the purge of a file's records. Each checks and writes in one command, so the
//! EEXIST, ENOTEMPTY and rename-cycle checks are atomic with their writes.

use super::apply::{Res, St};
use super::command::*;
use super::file::check_size;
use super::records::{DentryRec, InoRange, InoReservation, InodeRec};
use crate::db;
use ferrofs_proto::namespace::{FileKind, TimeSet, inherited};
use ferrofs_proto::{ChunkId, ErrorCode, Ino, ROOT_INO};
use std::collections::BTreeMap;

/// Deepest directory nesting followed by the rename-cycle check.
const MAX_DEPTH: usize = 4096;
/// Most inode numbers one `ReserveInos` hands out.
pub const MAX_RESERVE: u64 = 1 << 16;

impl St<'_> {
    /// The next inode number (a counter in the state: every member picks the same).
    fn alloc_ino(&mut self) -> Res<Ino> {
        self.take_inos(1)
    }

    /// The next `count` inode numbers off the counter; the first of them.
    fn take_inos(&mut self, count: u64) -> Res<Ino> {
        let first = self.counter(db::NEXT_INO)?.max(ROOT_INO + 1);
        self.set_counter(db::NEXT_INO, first + count);
        Ok(first)
    }

    fn add_files(&mut self, delta: i64) -> Res<()> {
        let n = self.counter(db::FILES)?;
        self.set_counter(db::FILES, n.saturating_add_signed(delta));
        Ok(())
    }

    /// The next `count` inode numbers become the calling client's (see `Op::ReserveInos`).
    pub(crate) fn reserve_inos(&mut self, count: u64) -> Res<Reply> {
        if self.ctx.client == 0 {
            return Err(refuse(ErrorCode::BadRequest, "reserving inodes needs a client id").into());
        }
        if !(1..=MAX_RESERVE).contains(&count) {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("reserve 1..={MAX_RESERVE} inode numbers, not {count}"),
            )
            .into());
        }
        let first = self.take_inos(count)?;
        let key = db::ino_reservation_key(self.ctx.client);
        let mut r: InoReservation = self.get(&key)?.unwrap_or_default();
        r.ranges.retain(|g| g.next < g.end);
        // The previous reservation stays usable; older ones end here.
        let keep = r.ranges.len().saturating_sub(1);
        r.ranges.drain(..keep);
        r.ranges.push(InoRange {
            next: first,
            end: first + count,
        });
        self.put(key, &r);
        Ok(Reply::Inos { first, count })
    }

    /// `Create` under inode `ino` of the caller's reservation (see `Op::CreateAt`).
    pub(crate) fn create_at(&mut self, ino: Ino, req: &Create) -> Res<Reply> {
        let key = db::ino_reservation_key(self.ctx.client);
        let mut r: InoReservation = self.get(&key)?.unwrap_or_default();
        let Some(range) = r
            .ranges
            .iter_mut()
            .find(|g| self.ctx.client != 0 && (g.next..g.end).contains(&ino))
        else {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("inode {ino} is not reserved to this client"),
            )
            .into());
        };
        range.next = ino + 1;
        let req = Create {
            exclusive: true,
            ..req.clone()
        };
        let reply = self.create_as(&req, Some(ino))?;
        self.put(key, &r);
        Ok(reply)
    }

    pub(crate) fn create(&mut self, req: &Create) -> Res<Reply> {
        self.create_as(req, None)
    }

    /// Create `req` under inode `ino`, or the counter's next number.
    fn create_as(&mut self, req: &Create, ino: Option<Ino>) -> Res<Reply> {
        let mut parent = self.dir(req.parent)?;
        if let Some(existing) = self.dentry(req.parent, &req.name)? {
            if !req.exclusive && req.kind == FileKind::File {
                let rec = self.inode(existing.ino)?;
                if rec.is_dir() {
                    return Err(refuse(
                        ErrorCode::IsADirectory,
                        format!("{}: is a directory", req.name),
                    )
                    .into());
                }
                return Ok(Reply::Created {
                    attr: rec.attr(existing.ino),
                    created: false,
                });
            }
            return Err(refuse(
                ErrorCode::AlreadyExists,
                format!("{}: already exists", req.name),
            )
            .into());
        }
        let now = self.ctx.now;
        let ino = match ino {
            Some(ino) => ino,
            None => self.alloc_ino()?,
        };
        let is_dir = req.kind == FileKind::Dir;
        let (mode, gid) = inherited(parent.mode, parent.gid, req.mode, req.gid, is_dir);
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
        self.put_inode(ino, &rec);
        self.put_inode(req.parent, &parent);
        self.put(
            db::dentry_key(req.parent, &req.name),
            &DentryRec {
                ino,
                kind: req.kind,
            },
        );
        self.add_files(1)?;
        self.changed(vec![
            (req.parent, Some(req.name.clone())),
            (req.parent, None),
        ]);
        Ok(Reply::Created {
            attr: rec.attr(ino),
            created: true,
        })
    }

    /// Drop one link to `ino`; deletes the inode (and its chunks) when none is left,
    /// unless the caller keeps it open (then it is an orphan until released).
    fn drop_link(&mut self, ino: Ino, rec: &mut InodeRec, keep_open: bool) -> Res<()> {
        rec.ctime = self.ctx.now;
        if rec.is_dir() {
            rec.nlink = 0;
        } else {
            rec.nlink = rec.nlink.saturating_sub(1);
        }
        if rec.nlink > 0 {
            self.put_inode(ino, rec);
            return Ok(());
        }
        self.add_files(-1)?;
        if keep_open && rec.kind == FileKind::File {
            self.put_inode(ino, rec);
            self.tx.put(db::orphan_key(ino), vec![]);
            return Ok(());
        }
        self.purge(ino)
    }

    /// Delete inode `ino` with its xattrs and chunk map.
    pub(crate) fn purge(&mut self, ino: Ino) -> Res<()> {
        self.tx.delete(db::inode_key(ino));
        self.tx.delete(db::orphan_key(ino));
        let xp = db::xattr_prefix(ino);
        for (k, _) in self.tx.scan(&xp, &xp, usize::MAX)? {
            self.tx.delete(k);
        }
        let ids = self.drop_chunks_from(ino, 0)?;
        self.changed(vec![(ino, None)]);
        let _ = ids;
        Ok(())
    }

    /// Remove the file map entries of `ino` from chunk `index` on, with their chunk
    /// records and leases; emits `ChunksDropped`.
    pub(crate) fn drop_chunks_from(&mut self, ino: Ino, index: u64) -> Res<Vec<ChunkId>> {
        let mut ids = vec![];
        for (i, id) in self.file_chunks(ino, index)? {
            self.tx.delete(db::file_chunk_key(ino, i));
            self.tx.delete(db::chunk_key(id));
            self.tx.delete(db::lease_key(id));
            ids.push(id);
        }
        if !ids.is_empty() {
            self.effects.push(Effect::ChunksDropped(ids.clone()));
        }
        Ok(ids)
    }

    pub(crate) fn unlink(&mut self, req: &Unlink) -> Res<Reply> {
        let mut parent = self.dir(req.parent)?;
        let d = self
            .dentry(req.parent, &req.name)?
            .ok_or_else(|| not_found(&req.name))?;
        let mut rec = self.inode(d.ino)?;
        if req.dir && !rec.is_dir() {
            return Err(refuse(
                ErrorCode::NotADirectory,
                format!("{}: not a directory", req.name),
            )
            .into());
        }
        if !req.dir && rec.is_dir() {
            return Err(refuse(
                ErrorCode::IsADirectory,
                format!("{}: is a directory", req.name),
            )
            .into());
        }
        if rec.is_dir() && !self.dir_is_empty(d.ino)? {
            return Err(refuse(
                ErrorCode::NotEmpty,
                format!("{}: directory not empty", req.name),
            )
            .into());
        }
        let now = self.ctx.now;
        self.tx.delete(db::dentry_key(req.parent, &req.name));
        if rec.is_dir() {
            parent.nlink = parent.nlink.saturating_sub(1);
        }
        parent.mtime = now;
        parent.ctime = now;
        self.put_inode(req.parent, &parent);
        self.drop_link(d.ino, &mut rec, req.keep_open)?;
        self.changed(vec![
            (req.parent, Some(req.name.clone())),
            (req.parent, None),
            (d.ino, None),
        ]);
        Ok(Reply::Unlinked {
            ino: d.ino,
            nlink: rec.nlink,
        })
    }

    /// A file unlinked while open is deleted once no client holds it (the leader
    /// decides that from the clients' open-file reports).
    pub(crate) fn purge_orphan(&mut self, ino: Ino) -> Res<Reply> {
        let Some(rec) = self.get::<InodeRec>(&db::inode_key(ino))? else {
            return Ok(Reply::Done);
        };
        if rec.nlink > 0 || self.tx.get(&db::orphan_key(ino))?.is_none() {
            return Ok(Reply::Done);
        }
        self.purge(ino)?;
        Ok(Reply::Done)
    }

    /// Is `ancestor` equal to `ino` or one of its ancestors?
    fn is_ancestor(&self, ancestor: Ino, mut ino: Ino) -> Res<bool> {
        for _ in 0..MAX_DEPTH {
            if ino == ancestor {
                return Ok(true);
            }
            if ino == ROOT_INO {
                return Ok(false);
            }
            ino = self.inode(ino)?.parent;
        }
        Err(refuse(ErrorCode::Internal, "directory parent chain too deep").into())
    }

    pub(crate) fn rename(&mut self, req: &Rename) -> Res<Reply> {
        let now = self.ctx.now;
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
            return Err(refuse(
                ErrorCode::InvalidArgument,
                "cannot move a directory into itself",
            )
            .into());
        }
        if let Some(d) = dst {
            if d.ino == src.ino {
                return Ok(Reply::Renamed { replaced: None });
            }
            if req.noreplace {
                return Err(refuse(
                    ErrorCode::AlreadyExists,
                    format!("{}: already exists", req.new_name),
                )
                .into());
            }
        } else if req.exchange {
            return Err(not_found(&req.new_name).into());
        }
        let mut replaced = None;
        let mut changed = vec![
            (req.parent, Some(req.name.clone())),
            (req.new_parent, Some(req.new_name.clone())),
            (req.parent, None),
            (req.new_parent, None),
            (src.ino, None),
        ];
        // Parent directory records, updated in place (they may be the same inode).
        let mut parents: BTreeMap<Ino, InodeRec> = BTreeMap::new();
        parents.insert(req.parent, self.inode(req.parent)?);
        if let std::collections::btree_map::Entry::Vacant(e) = parents.entry(req.new_parent) {
            e.insert(self.inode(req.new_parent)?);
        }
        if req.exchange {
            let d = dst.expect("checked above");
            let mut dst_rec = self.inode(d.ino)?;
            if req.parent != req.new_parent {
                if dst_rec.is_dir() && self.is_ancestor(d.ino, req.parent)? {
                    return Err(refuse(
                        ErrorCode::InvalidArgument,
                        "cannot exchange with an ancestor",
                    )
                    .into());
                }
                let (sd, dd) = (src_rec.is_dir() as u32, dst_rec.is_dir() as u32);
                if let Some(p) = parents.get_mut(&req.parent) {
                    p.nlink = p.nlink + dd - sd;
                }
                if let Some(p) = parents.get_mut(&req.new_parent) {
                    p.nlink = p.nlink + sd - dd;
                }
            }
            if src_rec.is_dir() {
                src_rec.parent = req.new_parent;
            }
            if dst_rec.is_dir() {
                dst_rec.parent = req.parent;
            }
            src_rec.ctime = now;
            dst_rec.ctime = now;
            self.put(db::dentry_key(req.parent, &req.name), &d);
            self.put(db::dentry_key(req.new_parent, &req.new_name), &src);
            self.put_inode(d.ino, &dst_rec);
            changed.push((d.ino, None));
        } else {
            if let Some(d) = dst {
                let mut dst_rec = self.inode(d.ino)?;
                match (src_rec.is_dir(), dst_rec.is_dir()) {
                    (true, false) => {
                        return Err(refuse(
                            ErrorCode::NotADirectory,
                            format!("{}: not a directory", req.new_name),
                        )
                        .into());
                    }
                    (false, true) => {
                        return Err(refuse(
                            ErrorCode::IsADirectory,
                            format!("{}: is a directory", req.new_name),
                        )
                        .into());
                    }
                    (true, true) => {
                        if !self.dir_is_empty(d.ino)? {
                            return Err(refuse(
                                ErrorCode::NotEmpty,
                                format!("{}: directory not empty", req.new_name),
                            )
                            .into());
                        }
                        if let Some(p) = parents.get_mut(&req.new_parent) {
                            p.nlink = p.nlink.saturating_sub(1);
                        }
                    }
                    (false, false) => {}
                }
                self.drop_link(d.ino, &mut dst_rec, req.keep_open)?;
                replaced = Some(d.ino);
                changed.push((d.ino, None));
            }
            self.tx.delete(db::dentry_key(req.parent, &req.name));
            self.put(db::dentry_key(req.new_parent, &req.new_name), &src);
            if src_rec.is_dir() && req.parent != req.new_parent {
                if let Some(p) = parents.get_mut(&req.parent) {
                    p.nlink = p.nlink.saturating_sub(1);
                }
                if let Some(p) = parents.get_mut(&req.new_parent) {
                    p.nlink += 1;
                }
                src_rec.parent = req.new_parent;
            }
            src_rec.ctime = now;
        }
        for (ino, mut p) in parents {
            p.mtime = now;
            p.ctime = now;
            self.put_inode(ino, &p);
        }
        self.put_inode(src.ino, &src_rec);
        self.changed(changed);
        Ok(Reply::Renamed { replaced })
    }

    pub(crate) fn link(&mut self, req: &Link) -> Res<Reply> {
        let mut parent = self.dir(req.new_parent)?;
        let mut rec = self.inode(req.ino)?;
        if rec.is_dir() {
            return Err(refuse(
                ErrorCode::PermissionDenied,
                "hard links to directories are not allowed",
            )
            .into());
        }
        if rec.nlink == 0 {
            return Err(not_found(format!("inode {}", req.ino)).into());
        }
        if self.dentry(req.new_parent, &req.new_name)?.is_some() {
            return Err(refuse(
                ErrorCode::AlreadyExists,
                format!("{}: already exists", req.new_name),
            )
            .into());
        }
        let now = self.ctx.now;
        rec.nlink += 1;
        rec.ctime = now;
        parent.mtime = now;
        parent.ctime = now;
        self.put(
            db::dentry_key(req.new_parent, &req.new_name),
            &DentryRec {
                ino: req.ino,
                kind: rec.kind,
            },
        );
        self.put_inode(req.ino, &rec);
        self.put_inode(req.new_parent, &parent);
        self.changed(vec![
            (req.new_parent, Some(req.new_name.clone())),
            (req.new_parent, None),
            (req.ino, None),
        ]);
        Ok(Reply::Attr(rec.attr(req.ino)))
    }

    pub(crate) fn setattr(&mut self, req: &Setattr) -> Res<Reply> {
        let mut rec = self.inode(req.ino)?;
        let now = self.ctx.now;
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
                return Err(refuse(ErrorCode::IsADirectory, "cannot truncate a directory").into());
            }
            check_size(size)?;
            if size < rec.size {
                // Drop chunks wholly past the new end (the client trimmed the partial
                // one first). Growing drops nothing: chunks past the old end may hold
                // another writer's bytes that are not committed yet.
                let cs = self.chunk_size()?;
                self.drop_chunks_from(req.ino, size.div_ceil(cs))?;
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
            if rec.kind == FileKind::File {
                let chunks = self
                    .file_chunks(req.ino, 0)?
                    .into_iter()
                    .map(|(_, id)| id)
                    .collect();
                self.effects.push(Effect::GoalChanged { chunks, goal: r });
            }
        }
        rec.ctime = now;
        self.put_inode(req.ino, &rec);
        self.changed(vec![(req.ino, None)]);
        Ok(Reply::Attr(rec.attr(req.ino)))
    }
}
