//! Namespace operations: lookup, attributes of unopened inodes, creating and removing
//! names, rename, links, directory listings, statfs.

use crate::attr::{file_type, to_file_attr};
use crate::core::{Core, R, name_str};
use crate::handles::{DirItem, OpenDir};
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{
    Attr, CreateAtReq, CreateReq, FileKind, NsOp, RenameReq, RenameResp, Timespec, UnlinkReq,
    inherited,
};
use fuser::{Errno, FileAttr, FileType, RenameFlags};
use std::ffi::OsStr;
use std::sync::Arc;

/// What a new node is made of (mkdir, mknod, symlink, create).
pub struct NewNode<'a> {
    pub parent: Ino,
    pub name: &'a OsStr,
    pub kind: FileKind,
    /// Permission bits, umask already applied.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub target: Option<String>,
    pub exclusive: bool,
}

impl NewNode<'_> {
    /// The master's request for this node, named `name`.
    fn request(&self, name: &str) -> CreateReq {
        CreateReq {
            parent: self.parent,
            name: name.to_string(),
            kind: self.kind,
            mode: self.mode & 0o7777,
            uid: self.uid,
            gid: self.gid,
            rdev: self.rdev,
            symlink_target: self.target.clone(),
            exclusive: self.exclusive,
            replication: None,
        }
    }
}

/// statfs numbers, in 4 KiB blocks.
pub struct Statfs {
    pub blocks: u64,
    pub bfree: u64,
    pub files: u64,
    pub ffree: u64,
}

impl Core {
    pub fn lookup(&self, parent: Ino, name: &OsStr) -> R<FileAttr> {
        let name = name_str(name)?;
        let a = match self.md.entry(parent, name) {
            Some(a) => a,
            None if self.md.absent(parent, name) => return Err(Errno::ENOENT),
            None => {
                let stamp = self.md.stamp();
                let a =
                    self.call_here("lookup", |c| async move { c.lookup(parent, name).await })?;
                self.md.put_read(stamp, Some((parent, name)), &a);
                a
            }
        };
        if a.kind == FileKind::Dir {
            self.inodes.set_parent(a.ino, parent);
        }
        Ok(self.attr(a))
    }

    /// A lookup whose failure is not the caller's error (ENOENT is logged at debug).
    fn lookup_quiet(&self, parent: Ino, name: &str) -> Option<Attr> {
        self.call_here("lookup", |c| async move { c.lookup(parent, name).await })
            .ok()
    }

    pub fn getattr(&self, ino: Ino) -> R<FileAttr> {
        if let Some(a) = self.md.attr(ino) {
            return Ok(self.attr(a));
        }
        Ok(self.attr(self.getattr_master(ino)?))
    }

    /// Attributes from the master (cached for later).
    pub fn getattr_master(&self, ino: Ino) -> R<Attr> {
        let stamp = self.md.stamp();
        let a = self.call_here("getattr", |c| async move { c.getattr(ino).await })?;
        self.md.put_read(stamp, None, &a);
        Ok(a)
    }

    /// Create a node; returns the master's reply (and whether it was created), or what
    /// it will be for a deferred create.
    pub fn make(&self, n: NewNode<'_>) -> R<(Attr, bool)> {
        let name = name_str(n.name)?.to_string();
        if let Some(a) = self.make_deferred(&n, &name) {
            return Ok((a, true));
        }
        let parent = n.parent;
        let stamp = self.md.stamp();
        let req = n.request(&name);
        let r = self.call_here("create", |c| async move { c.create(req).await });
        let Ok(r) = r else {
            // EEXIST and the like: the directory may hold names this mount has not seen.
            self.md.invalidate(&[], &[(parent, &name)]);
            return r.map(|r| (r.attr, r.created));
        };
        if r.created {
            // The directory's new mtime came back with the reply: the GETATTR the
            // kernel sends for it next is answered here.
            self.md
                .invalidate_fresh(stamp, &[parent], &[], r.parent.as_ref());
            self.md.put_created(stamp, parent, &name, &r.attr);
            if r.attr.kind == FileKind::Dir {
                self.md.put_new_dir(stamp, r.attr.ino);
            }
        } else {
            // The name existed (another client made it): the directory is not complete.
            self.md.invalidate(&[], &[(parent, &name)]);
        }
        if r.attr.kind == FileKind::Dir {
            self.inodes.set_parent(r.attr.ino, n.parent);
        }
        Ok((r.attr, r.created))
    }

    /// Create a file or directory without waiting for the master, when this mount
    /// knows the name is free (a complete directory without it) and has an inode
    /// number for it: the create is queued (`MasterClient::defer_create`) and sent in order with
    /// the others; every later master call of this mount waits for it. The attributes
    /// are the ones the master will give it (the set-group-ID directory's group and
    /// bit, the directory's goal), with this mount's clock.
    fn make_deferred(&self, n: &NewNode<'_>, name: &str) -> Option<Attr> {
        let dir = match n.kind {
            FileKind::File => false,
            FileKind::Dir => true,
            _ => return None,
        };
        if n.rdev != 0 || !self.md.absent(n.parent, name) {
            return None;
        }
        let parent = self.md.attr(n.parent).filter(|p| p.kind == FileKind::Dir)?;
        let stamp = self.md.stamp();
        let ino = self.client.master.defer_create(|ino| {
            NsOp::Create(CreateAtReq {
                ino,
                create: n.request(name),
            })
        })?;
        let (mode, gid) = inherited(parent.mode, parent.gid, n.mode, n.gid, dir);
        let now = Timespec::now();
        let attr = Attr {
            ino,
            kind: n.kind,
            mode,
            uid: n.uid,
            gid,
            size: 0,
            atime: now,
            mtime: now,
            ctime: now,
            nlink: if dir { 2 } else { 1 },
            rdev: 0,
            replication: parent.replication,
        };
        self.md.put_created(stamp, n.parent, name, &attr);
        self.md.touch_dir(n.parent, now, i32::from(dir));
        if dir {
            self.md.put_new_dir(stamp, ino);
            self.inodes.set_parent(ino, n.parent);
        }
        Some(attr)
    }

    /// Unlink a file without waiting for the master, when this mount has its entry
    /// cached, it has no other link and it is not open here; remove a directory so when
    /// its entry is cached and it is known empty (see `make_deferred`). An `rm -rf` of
    /// a tree the mount holds then waits for the master nowhere.
    fn unlink_deferred(&self, parent: Ino, name: &str, dir: bool) -> bool {
        let Some(a) = self.md.entry(parent, name) else {
            return false;
        };
        let known = if dir {
            // Empty: its complete listing has no entry left (the feed would have
            // ended completeness had another client added one).
            a.kind == FileKind::Dir && self.md.known_empty(a.ino)
        } else {
            a.kind != FileKind::Dir && a.nlink == 1 && self.inodes.get(a.ino).is_none()
        };
        if !known {
            return false;
        }
        let op = NsOp::Unlink(UnlinkReq {
            parent,
            name: name.to_string(),
            dir,
            keep_open: false,
        });
        if !self.client.master.defer(op) {
            return false;
        }
        self.md.put_removed(parent, name, a.ino);
        // A removed subdirectory takes its `..` link to the parent with it.
        self.md
            .touch_dir(parent, Timespec::now(), if dir { -1 } else { 0 });
        self.inodes.forget_seen(a.ino);
        true
    }

    /// Wait until the master has applied every deferred create and unlink queued so far
    /// (fsync of a file or directory).
    pub fn namespace_barrier(&self) {
        self.rt.block_on(self.client.master.barrier());
    }

    /// Whether `name` in `parent` is an inode this mount has open (one lookup, only
    /// when something is open at all).
    fn open_here(&self, parent: Ino, name: &str) -> bool {
        if !self.inodes.any_open() {
            return false;
        }
        self.lookup_quiet(parent, name)
            .is_some_and(|a| self.inodes.get(a.ino).is_some())
    }

    /// An inode lost a link while possibly open here: release it at its last close,
    /// or now if it is not open after all (the master ignores RELEASE of a linked inode).
    fn lost_link(&self, ino: Ino, kept_open: bool) {
        match self.inodes.get(ino) {
            Some(st) => st.meta.lock().unlinked = true,
            None if kept_open => {
                self.md.invalidate(&[ino], &[]);
                if let Err(e) = self.call_here("release", |c| async move { c.release(ino).await }) {
                    tracing::warn!(ino, errno = e.code(), "release of an unlinked inode failed");
                }
            }
            None => {}
        }
        self.inodes.forget_seen(ino);
    }

    pub fn unlink(&self, parent: Ino, name: &OsStr, dir: bool) -> R<()> {
        let name = name_str(name)?;
        if self.unlink_deferred(parent, name, dir) {
            return Ok(());
        }
        let keep = !dir && self.open_here(parent, name);
        let stamp = self.md.stamp();
        let r = self.call_here("unlink", |c| async move {
            c.unlink(parent, name, dir, keep).await
        });
        // Whatever happened, the cached view of the name may be wrong now.
        let ino = r.as_ref().map_or(parent, |r| r.ino);
        let fresh = r.as_ref().ok().and_then(|r| r.parent.as_ref());
        self.md
            .invalidate_fresh(stamp, &[parent, ino], &[(parent, name)], fresh);
        let r = r?;
        if r.nlink == 0 {
            self.lost_link(r.ino, keep);
        }
        Ok(())
    }

    pub fn rename(
        &self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> R<()> {
        if flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let (name, new_name) = (name_str(name)?, name_str(new_name)?);
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        let keep = !exchange && self.open_here(new_parent, new_name);
        let req = RenameReq {
            parent,
            name: name.to_string(),
            new_parent,
            new_name: new_name.to_string(),
            noreplace: flags.contains(RenameFlags::RENAME_NOREPLACE),
            exchange,
            keep_open: keep,
        };
        let moved = [
            self.md.entry(parent, name),
            self.md.entry(new_parent, new_name),
        ];
        let stamp = self.md.stamp();
        let r = self.call_here("rename", |c| async move { c.rename(req).await });
        let mut inos: Vec<Ino> = moved.iter().flatten().map(|a| a.ino).collect();
        inos.extend([parent, new_parent]);
        if let Ok(RenameResp {
            replaced: Some(i), ..
        }) = &r
        {
            inos.push(*i);
        }
        match (&r, &moved[0]) {
            // The source's inode known: the cached entries follow the rename.
            (Ok(_), Some(src)) if !exchange => self.md.put_renamed(
                stamp,
                (parent, name),
                (new_parent, new_name),
                src.ino,
                &inos,
            ),
            _ => self
                .md
                .invalidate(&inos, &[(parent, name), (new_parent, new_name)]),
        }
        let r = r?;
        if let Some(ino) = r.replaced {
            self.lost_link(ino, keep);
        }
        if parent != new_parent {
            // Keep `..` right for a directory that moved.
            if let Some(a) = self.lookup_quiet(new_parent, new_name)
                && a.kind == FileKind::Dir
            {
                self.inodes.set_parent(a.ino, new_parent);
            }
        }
        Ok(())
    }

    pub fn link(&self, ino: Ino, new_parent: Ino, new_name: &OsStr) -> R<FileAttr> {
        let new_name = name_str(new_name)?;
        let a = self.call_here("link", |c| async move {
            c.link(ino, new_parent, new_name).await
        });
        self.md
            .invalidate(&[ino, new_parent], &[(new_parent, new_name)]);
        let a = a?;
        self.inodes.forget_seen(ino);
        Ok(self.attr(a))
    }

    pub fn readlink(&self, ino: Ino) -> R<String> {
        self.call_here("readlink", |c| async move { c.readlink(ino).await })
    }

    /// Open a directory; its listing is taken at the first READDIR (`OpenDir`).
    pub fn opendir(&self, ino: Ino) -> R<u64> {
        Ok(self.handles.add_dir(OpenDir {
            ino,
            items: Default::default(),
        }))
    }

    /// The whole listing of `ino`, with `.` and `..`: from the metadata cache when it
    /// holds the directory whole (names and kinds; attributes are looked up per
    /// READDIRPLUS reply, `plus_attr`), else from the master (with attributes).
    fn list(&self, ino: Ino) -> R<Vec<DirItem>> {
        let dotdot = if ino == ferrofs_proto::ROOT_INO {
            ino
        } else {
            self.inodes.parent(ino)
        };
        let dots = [(ino, "."), (dotdot, "..")].map(|(ino, name)| DirItem {
            ino,
            kind: FileType::Directory,
            name: name.into(),
            attr: None,
        });
        let mut items = Vec::new();
        match self.md.listing(ino) {
            Some(l) => {
                items.reserve_exact(l.len() + 2);
                items.extend(dots);
                for (name, child, kind) in l {
                    if kind == FileKind::Dir {
                        self.inodes.set_parent(child, ino);
                    }
                    items.push(DirItem {
                        ino: child,
                        kind: file_type(kind),
                        name,
                        attr: None,
                    });
                }
            }
            None => {
                let stamp = self.md.stamp();
                let entries =
                    self.call_here("readdir", |c| async move { c.readdir_all(ino).await })?;
                self.md.put_listing(
                    stamp,
                    ino,
                    entries.iter().map(|e| (e.name.as_str(), &e.attr)),
                );
                items.reserve_exact(entries.len() + 2);
                items.extend(dots);
                for e in entries {
                    if e.attr.kind == FileKind::Dir {
                        self.inodes.set_parent(e.attr.ino, ino);
                    }
                    items.push(DirItem {
                        ino: e.attr.ino,
                        kind: file_type(e.attr.kind),
                        name: e.name.into(),
                        attr: Some(e.attr),
                    });
                }
            }
        }
        Ok(items)
    }

    /// The attributes a READDIRPLUS entry carries: the listing's, the cache's or the
    /// master's (adjusted for files open here). `.` and `..` (which the kernel
    /// ignores) and an entry removed since the listing was taken get a placeholder
    /// the kernel must not keep.
    fn plus_attr(&self, dir: Ino, items: &[DirItem], i: usize, fill: &mut PlusFill) -> PlusAttr {
        let item = &items[i];
        if i < 2 {
            return PlusAttr::Placeholder(dot_attr(item.ino));
        }
        let a = item
            .attr
            .clone()
            .or_else(|| self.md.attr(item.ino))
            .or_else(|| fill.get(self, dir, items, i));
        match a {
            Some(a) => PlusAttr::Cache(self.attr(a)),
            None => {
                let mut a = dot_attr(item.ino);
                a.kind = item.kind;
                PlusAttr::Placeholder(a)
            }
        }
    }

    /// Entries from `offset` on, and with `plus` their attributes. `add` returns true
    /// when the reply is full.
    pub fn readdir(
        &self,
        fh: u64,
        offset: u64,
        plus: bool,
        mut add: impl FnMut(&DirItem, u64, Option<PlusAttr>) -> bool,
    ) -> R<()> {
        let d = self.handles.dir(fh).ok_or(Errno::EBADF)?;
        let items = {
            let mut g = d.items.lock();
            match &*g {
                Some(items) => items.clone(),
                None => g.insert(Arc::new(self.list(d.ino)?)).clone(),
            }
        };
        let mut fill = PlusFill::default();
        for i in (offset as usize)..items.len() {
            let attr = plus.then(|| self.plus_attr(d.ino, &items, i, &mut fill));
            if add(&items[i], i as u64 + 1, attr) {
                break;
            }
        }
        Ok(())
    }

    pub fn statfs(&self) -> R<Statfs> {
        let s = self.call_here("statfs", |c| async move { c.statfs().await })?;
        let bs = u64::from(crate::attr::BLOCK_SIZE);
        Ok(Statfs {
            blocks: s.capacity_bytes / bs,
            bfree: s.free_bytes / bs,
            files: s.files,
            ffree: u64::from(u32::MAX).saturating_sub(s.files),
        })
    }
}

/// Entries of a cached listing fetched with attributes from the master, a page at a
/// time, for a READDIRPLUS reply whose entries' attributes the cache no longer holds
/// (one call for the reply, not one per entry).
#[derive(Default)]
struct PlusFill {
    attrs: std::collections::HashMap<Ino, Attr>,
    /// The fetched pages reach this far (`None`: nothing fetched yet).
    through: Option<Through>,
}

enum Through {
    Name(Arc<str>),
    End,
}

/// Entries asked for at a time: more than one READDIRPLUS reply holds.
const PLUS_PAGE: u32 = 512;

impl PlusFill {
    fn get(&mut self, core: &Core, dir: Ino, items: &[DirItem], i: usize) -> Option<Attr> {
        let ino = items[i].ino;
        if let Some(a) = self.attrs.get(&ino) {
            return Some(a.clone());
        }
        let covered = match &self.through {
            None => false,
            Some(Through::End) => true,
            Some(Through::Name(n)) => *items[i].name <= **n,
        };
        if covered {
            return None; // removed since the listing was taken
        }
        // Entries 0 and 1 are `.` and `..`; the master lists names after `after`.
        let after = (i > 2).then(|| items[i - 1].name.to_string());
        let stamp = core.md.stamp();
        let page = core.call_here("readdir", |c| async move {
            c.readdir(dir, after, PLUS_PAGE).await
        });
        let Ok(page) = page else {
            // Placeholders for the rest of this reply rather than a wait per entry.
            self.through = Some(Through::End);
            return None;
        };
        self.through = Some(match (page.more, page.entries.last()) {
            (true, Some(e)) => Through::Name(e.name.as_str().into()),
            _ => Through::End,
        });
        for e in page.entries {
            core.md.put_read(stamp, Some((dir, &e.name)), &e.attr);
            self.attrs.insert(e.attr.ino, e.attr);
        }
        self.attrs.get(&ino).cloned()
    }
}

/// A READDIRPLUS entry's attributes (`Core::readdir`).
pub enum PlusAttr {
    /// The inode's attributes, for the kernel to cache for the usual TTL.
    Cache(FileAttr),
    /// Stand-in attributes, valid for no time at all.
    Placeholder(FileAttr),
}

/// Attributes to give the kernel for `.` and `..` in readdirplus (it ignores them).
pub fn dot_attr(ino: Ino) -> FileAttr {
    let mut a = to_file_attr(&Attr {
        ino,
        kind: FileKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        atime: Default::default(),
        mtime: Default::default(),
        ctime: Default::default(),
        nlink: 2,
        rdev: 0,
        replication: 0,
    });
    a.ino = fuser::INodeNo(ino);
    a
}
