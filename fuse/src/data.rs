//! File data: open, create, read (through read-ahead), buffered write, flush, fsync,
//! close, setattr (which must order truncates and times after buffered writes), and
//! fallocate.
//!
//! Durability contract: flush (every close), fsync and release return only once the
//! bytes written through this mount are on every replica's disk and the size and mtime
//! are synced at the master; errors of write-behind surface there as errno.

use crate::core::{Core, R, fail};
use crate::handles::OpenFile;
use crate::inodes::InodeState;
use crate::namespace::NewNode;
use crate::writeback::{MAX_INFLIGHT, WriteBuffer, chunks_touched, write_out};
use bytes::Bytes;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{FileKind, SetattrReq, TimeSet, Timespec};
use fuser::{Errno, FileAttr, FopenFlags, INodeNo};
use std::ffi::OsStr;
use std::sync::Arc;

impl Core {
    /// Open a file: fresh attributes and chunk locations from the master
    /// (close-to-open), O_TRUNC, and whether the kernel may keep its page cache.
    pub fn open(&self, ino: Ino, flags: i32) -> R<(u64, FopenFlags)> {
        self.client.invalidate(ino);
        let mut attr = self.getattr_master(ino)?;
        if attr.kind == FileKind::Dir {
            return Err(Errno::EISDIR);
        }
        let (st, mut keep) = self.inodes.open(&attr);
        st.adjust(&mut attr);
        let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
        if flags & libc::O_TRUNC != 0 && writable && attr.size > 0 {
            let req = SetattrReq {
                ino,
                size: Some(0),
                ..Default::default()
            };
            if let Err(e) = self.setattr(req) {
                self.close_state(&st);
                return Err(e);
            }
            keep = false;
        }
        let append = flags & libc::O_APPEND != 0;
        self.pages.opened(&st, writable, !keep);
        let fh = self.handles.add_file(OpenFile {
            state: st,
            append,
            writable,
            ra: Default::default(),
        });
        let mut fl = self.cache_flags(ino, keep);
        if append {
            // The kernel picks an O_APPEND write's offset from its cached i_size, which
            // may predate another mount's appends; this mount writes at the end it
            // knows instead, so keep such writes out of the page cache.
            fl |= FopenFlags::FOPEN_DIRECT_IO;
        }
        Ok((fh, fl))
    }

    /// Create (or, without O_EXCL, open an existing) regular file and open it.
    pub fn create(
        &self,
        (uid, gid): (u32, u32),
        parent: Ino,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> R<(FileAttr, u64, FopenFlags)> {
        let (attr, created) = self.make(NewNode {
            parent,
            name,
            kind: FileKind::File,
            mode,
            uid,
            gid,
            rdev: 0,
            target: None,
            exclusive: flags & libc::O_EXCL != 0,
        })?;
        if !created {
            // Lost a race with another creator: open what is there.
            let (fh, fl) = self.open(attr.ino, flags)?;
            let attr = self.getattr(attr.ino)?;
            return Ok((attr, fh, fl));
        }
        let (st, _) = self.inodes.open(&attr);
        // A writer whatever the access mode: it is a new file being written.
        self.pages.opened(&st, true, false);
        let fh = self.handles.add_file(OpenFile {
            state: st,
            append: flags & libc::O_APPEND != 0,
            writable: true,
            ra: Default::default(),
        });
        Ok((self.attr(attr), fh, FopenFlags::empty()))
    }

    fn cache_flags(&self, ino: Ino, keep: bool) -> FopenFlags {
        if keep {
            return FopenFlags::FOPEN_KEEP_CACHE;
        }
        // The kernel drops its pages of the file for this open; make it re-fetch the
        // attributes too, so a size grown elsewhere is seen at once.
        if let Some(n) = self.notifier.get()
            && let Err(e) = n.inval_inode(INodeNo(ino), -1, 0)
        {
            tracing::debug!(ino, error = %e, "attribute invalidation failed");
        }
        FopenFlags::empty()
    }

    fn file(&self, fh: u64) -> R<Arc<OpenFile>> {
        self.handles.file(fh).ok_or(Errno::EBADF)
    }

    /// Send the buffered run to the chunkservers (caller holds `st.io`).
    /// Write out everything buffered and wait for every run in flight: afterwards all
    /// bytes written through this mount are on every replica (not yet fsynced).
    fn drain(&self, st: &InodeState, buf: &mut WriteBuffer) -> R<()> {
        self.start_run(st, buf);
        self.wait_inflight(buf, 0)
    }

    /// Start writing the buffered run in the background.
    fn start_run(&self, st: &InodeState, buf: &mut WriteBuffer) {
        if let Some((off, data)) = buf.take() {
            let (client, ino, cs) = (self.client.clone(), st.ino, self.chunk_size);
            buf.inflight.push_back(
                self.rt
                    .spawn(async move { write_out(&client, ino, off, data, cs, false).await }),
            );
        }
    }

    /// Wait for the oldest runs until at most `keep` remain in flight.
    fn wait_inflight(&self, buf: &mut WriteBuffer, keep: usize) -> R<()> {
        let mut first_err = None;
        while buf.inflight.len() > keep {
            let task = buf.inflight.pop_front().expect("non-empty");
            let r = match self.rt.block_on(task) {
                Ok(r) => r.map_err(|e| fail("write", &e)),
                Err(_) => Err(fuser::Errno::EIO),
            };
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Write-behind for a sequential writer whose buffer filled up: start the run and
    /// return once few enough runs are in flight. Errors are also kept for close/fsync.
    fn drain_behind(&self, st: &InodeState, buf: &mut WriteBuffer) -> R<()> {
        self.start_run(st, buf);
        self.wait_inflight(buf, MAX_INFLIGHT)
            .inspect_err(|&e| st.meta.lock().error = Some(e))
    }

    /// Drain for a caller that is not the owner of the buffered bytes: the error is
    /// kept for the next flush/fsync/close as well.
    fn drain_noting(&self, st: &InodeState, buf: &mut WriteBuffer) -> R<()> {
        self.drain(st, buf)
            .inspect_err(|&e| st.meta.lock().error = Some(e))
    }

    /// Record the size and mtime of local writes at the master (caller holds `st.io`).
    /// With `close` (the mount's last handle of the file goes), this mount's holds on
    /// the file's write leases end too.
    fn commit(&self, st: &InodeState, sync: bool, close: bool) -> R<()> {
        let (size, mtime, pending) = {
            let mut m = st.meta.lock();
            if !(m.uncommitted || close && m.wrote || m.pending.is_some()) {
                return Ok(());
            }
            (m.size, m.mtime, m.pending.take().map(|(p, _)| p))
        };
        let ino = st.ino;
        let stamp = self.md.stamp();
        let send = |attrs: Option<SetattrReq>| {
            self.call_here("commit", |c| async move {
                c.commit_with(ino, size, mtime, sync, close, attrs).await
            })
        };
        let mut a = send(pending.clone());
        if a.is_err()
            && let Some(p) = pending
        {
            // Refused as a whole (e.g. a chown the master does not allow): the writes'
            // commit must not fail with it, so commit alone, then the attributes, whose
            // error is this call's.
            a = match send(None) {
                Ok(_) => self.call_here("setattr", |c| async move { c.setattr(p).await }),
                Err(e) => {
                    // Nothing applied (the master unreachable): keep them for later.
                    let mut m = st.meta.lock();
                    if m.pending.is_none() {
                        m.pending = Some((p, Timespec::now()));
                    }
                    Err(e)
                }
            };
        }
        // The reply is the file's attributes after the commit: cached, unless anything
        // else changed meanwhile (a stat after the writes, as `git status` makes of
        // every file a checkout wrote, then needs no master call).
        self.md
            .invalidate_fresh(stamp, &[ino], &[], a.as_ref().ok());
        let a = a?;
        let mut m = st.meta.lock();
        m.uncommitted = false;
        if close {
            m.wrote = false;
        }
        m.mtime = None;
        m.size = m.size.max(a.size);
        m.cached = Some((a.mtime, a.size));
        Ok(())
    }

    /// Make everything written through this mount durable: buffer out, dirty chunks
    /// fsynced on every replica, size and mtime synced at the master. Reports (once)
    /// an earlier write-behind error.
    fn sync_all(&self, st: &InodeState, close: bool) -> R<()> {
        self.settle(st, close, true)
    }

    /// Send out everything written through this mount and commit the size and mtime;
    /// with `durable` also fsync the dirty chunks on every replica and sync the
    /// master's log on a majority (fsync(2)). Without it (close(2) by default, as HDFS
    /// and MooseFS close), the bytes are on every replica and the size in the master
    /// group's log when this returns; the chunkservers' write-back puts them on disk.
    /// Reports (once) an earlier write-behind error.
    fn settle(&self, st: &InodeState, close: bool, durable: bool) -> R<()> {
        let mut buf = st.io.lock();
        {
            let mut m = st.meta.lock();
            let sync_dirty = durable && !m.dirty.is_empty();
            let work = !buf.is_empty()
                || sync_dirty
                || m.uncommitted
                || close && m.wrote
                || m.pending.is_some();
            if !work {
                return m.error.take().map_or(Ok(()), Err);
            }
        }
        // Runs already in flight land first; the last run then goes out with the fsync
        // folded into its pipeline, so its chunks need no separate sync round.
        let r = self
            .wait_inflight(&mut buf, 0)
            .and_then(|()| match buf.take() {
                None => Ok(vec![]),
                Some((off, data)) => {
                    let touched = chunks_touched(off, data.len() as u64, self.chunk_size);
                    let (ino, cs) = (st.ino, self.chunk_size);
                    self.call_here("write", |c| async move {
                        write_out(&c, ino, off, data, cs, durable).await
                    })
                    .map(|()| touched.collect::<Vec<u64>>())
                }
            });
        let earlier = st.meta.lock().error.take();
        let synced = r?;
        if durable {
            let dirty: Vec<u64> = std::mem::take(&mut st.meta.lock().dirty)
                .into_iter()
                .filter(|i| !synced.contains(i))
                .collect();
            if !dirty.is_empty()
                && let Err(e) = self.call_here("fsync", |c| {
                    let (ino, dirty) = (st.ino, dirty.clone());
                    async move { c.sync_chunks(ino, &dirty).await }
                })
            {
                st.meta.lock().dirty.extend(dirty);
                return Err(e);
            }
        }
        self.commit(st, durable, close)?;
        earlier.map_or(Ok(()), Err)
    }

    pub fn read(&self, fh: u64, off: u64, len: u64) -> R<Bytes> {
        let f = self.file(fh)?;
        let st = &f.state;
        {
            let mut buf = st.io.lock();
            if !buf.is_empty() {
                self.drain_noting(st, &mut buf)?;
            }
        }
        let (size, generation, fill_to) = {
            let m = st.meta.lock();
            let fill_to = (!f.append && crate::pagefill::fillable(&m)).then_some(m.reported);
            (m.size, m.generation, fill_to)
        };
        let mut ra = f.ra.lock();
        if let Some(b) = ra.serve(off, len, generation, size) {
            self.maybe_prefetch(&mut ra, st.ino, generation, size);
            return Ok(b);
        }
        if off >= size {
            return Ok(Bytes::new());
        }
        // A sequential reader reaching the prefetched window waits for it (it is
        // usually done already) instead of starting a new fetch.
        if let Some((_, _, task)) = ra.take_prefetch(off, generation) {
            ra.plan(off, len); // keeps the window growing
            if let Ok(Ok(data)) = self.rt.block_on(task)
                && data.len() as u64 >= len.min(size - off)
            {
                let out = ra.store(off, data, len, generation);
                self.maybe_prefetch(&mut ra, st.ino, generation, size);
                return Ok(out);
            }
        }
        let want = ra.plan(off, len);
        let (start, fetch) = self.pages.span(fill_to, (off, len), want, size);
        let data = self.call_here("read", |c| {
            let ino = st.ino;
            async move { c.read_at(ino, start, fetch, size).await }
        })?;
        let data = if (start, fetch) == (off, want) {
            data
        } else {
            self.pages.offer(st, generation, start, data, (off, len))
        };
        let out = ra.store(off, data, len, generation);
        self.maybe_prefetch(&mut ra, st.ino, generation, size);
        Ok(out)
    }

    /// Start fetching the next read-ahead window in the background when due.
    fn maybe_prefetch(
        &self,
        ra: &mut crate::readahead::ReadAhead,
        ino: u64,
        generation: u64,
        size: u64,
    ) {
        if let Some((off, len)) = ra.prefetch_due(generation, size) {
            let client = self.client.clone();
            let task = self
                .rt
                .spawn(async move { client.read_at(ino, off, len, size).await });
            ra.next = Some((off, generation, task));
        }
    }

    /// write(2) through handle `fh`, or (`writeback`) the kernel writing cached pages
    /// back through it: those go to their own offset even on an O_APPEND handle.
    pub fn write(&self, fh: u64, off: u64, data: &[u8], writeback: bool) -> R<u32> {
        let f = self.file(fh)?;
        let st = &f.state;
        let mut buf = st.io.lock();
        let off = if f.append && !writeback {
            st.meta.lock().size
        } else {
            off
        };
        if off.saturating_add(data.len() as u64) > ferrofs_proto::MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if !buf.fits(off, data.len()) {
            if off == buf.end() {
                self.drain_behind(st, &mut buf)?;
            } else {
                // Not contiguous: earlier runs must land first (they may overlap).
                self.drain_noting(st, &mut buf)?;
            }
        }
        buf.append(off, data);
        {
            let mut m = st.meta.lock();
            m.uncommitted = true;
            m.size = m.size.max(off + data.len() as u64);
            m.mtime = Some(Timespec::now());
            m.dirty
                .extend(chunks_touched(off, data.len() as u64, self.chunk_size));
            m.generation += 1;
            m.wrote = true;
            if let Some((p, _)) = &mut m.pending {
                // A write after a deferred utimes moves the mtime on, as it would have.
                p.mtime = None;
            }
        }
        if buf.is_full() {
            self.drain_behind(st, &mut buf)?;
        }
        Ok(data.len() as u32)
    }

    /// A write by anyone but root clears the setuid bit, and setgid if group-executable
    /// (as write(2) does on local file systems). The kernel does this itself for
    /// page-cache writes, but not for FOPEN_DIRECT_IO handles (O_APPEND here).
    pub fn kill_privs_on_direct_write(&self, fh: u64, uid: u32) -> R<()> {
        let f = self.file(fh)?;
        if uid == 0 || !f.append {
            return Ok(());
        }
        let ino = f.state.ino;
        let mode = u32::from(self.getattr(ino)?.perm);
        let mut kill = mode & libc::S_ISUID;
        if mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0 {
            kill |= libc::S_ISGID;
        }
        if kill != 0 {
            self.setattr(SetattrReq {
                ino,
                mode: Some(mode & 0o7777 & !kill),
                ..Default::default()
            })?;
            // The kernel's cached mode is stale now (attributes only: offset -1).
            if let Some(n) = self.notifier.get() {
                let _ = n.inval_inode(INodeNo(ino), -1, 0);
            }
        }
        Ok(())
    }

    /// close(2) of one descriptor: everything written is on every replica and
    /// committed before it returns, so errors reach close; on disk too with
    /// `sync_on_close`.
    pub fn flush(&self, fh: u64) -> R<()> {
        let f = self.file(fh)?;
        // The file's only handle on this mount is closing (its RELEASE follows unless
        // the descriptor was duplicated): end the lease holds with this commit, so the
        // RELEASE needs no commit of its own. A write through a duplicate asks for a
        // lease again.
        let last = f.state.meta.lock().open <= 1;
        self.settle(&f.state, last, self.sync_on_close)
    }

    pub fn fsync(&self, fh: u64) -> R<()> {
        let f = self.file(fh)?;
        // The file's deferred create (and whatever was deferred before it) first.
        self.namespace_barrier();
        self.sync_all(&f.state, false)
    }

    /// Last close of a handle. The mount's last handle of the file also ends this
    /// mount's holds on its write leases (the chunks may be copied at once).
    pub fn release(&self, fh: u64) -> R<()> {
        let Some(f) = self.handles.remove_file(fh) else {
            return Ok(());
        };
        let last = f.state.meta.lock().open <= 1;
        let r = self.settle(&f.state, last, self.sync_on_close);
        self.pages.released(&f.state, f.writable);
        self.close_state(&f.state);
        r
    }

    fn close_state(&self, st: &InodeState) {
        if self.inodes.close(st) && st.meta.lock().unlinked {
            let ino = st.ino;
            // Errors are logged by `call_here`.
            let _ = self.call_here("release", |c| async move { c.release(ino).await });
            self.md.invalidate(&[ino], &[]);
        }
    }

    /// chmod, chown, truncate, utimes. Buffered writes go out (and are committed)
    /// first, so they neither land after a truncate nor overwrite the times set here.
    pub fn setattr(&self, req: SetattrReq) -> R<FileAttr> {
        let ino = req.ino;
        let st = self.inodes.get(ino);
        if let Some(st) = &st
            && let Some(a) = self.defer_setattr(st, &req)?
        {
            return Ok(a);
        }
        let mut guard = st.as_ref().map(|s| s.io.lock());
        if let (Some(st), Some(buf)) = (&st, guard.as_mut()) {
            self.drain(st, buf)?;
            self.commit(st, false, false)?;
        }
        let mut attr = None;
        // Whatever the outcome, the cached attributes may be wrong now.
        let _stale = Invalidate(&self.md, ino);
        if let Some(size) = req.size {
            // No page store of the old bytes runs now or lands after (`pagefill`).
            let _held = self.pages.hold();
            let a = self.run("truncate", self.client.truncate(ino, size))?;
            if let Some(st) = &st {
                let mut m = st.meta.lock();
                m.size = size;
                m.reported = size;
                m.generation += 1;
                let cs = self.chunk_size;
                m.dirty.retain(|i| i * cs < size);
                m.cached = Some((a.mtime, a.size));
            }
            self.inodes.forget_seen(ino);
            attr = Some(a);
        }
        let rest = SetattrReq { size: None, ..req };
        if rest.mode.is_some()
            || rest.uid.is_some()
            || rest.gid.is_some()
            || rest.atime.is_some()
            || rest.mtime.is_some()
            || rest.replication.is_some()
        {
            attr = Some(self.call_here("setattr", |c| async move { c.setattr(rest).await })?);
        }
        drop(guard);
        match attr {
            Some(a) => Ok(self.attr(a)),
            None => self.getattr(ino),
        }
    }

    /// chmod, chown and utimes of a file this mount is writing (and so will commit at
    /// close) wait for that commit and go with it, as `tar` and `cp -p` set them on
    /// every file they write: no call of their own. Until then this mount shows them
    /// (`InodeState::adjust`); other clients see them at the commit, as they see the
    /// writes' size. Anything else (size, replication) is not deferred.
    fn defer_setattr(&self, st: &InodeState, req: &SetattrReq) -> R<Option<FileAttr>> {
        if req.size.is_some() || req.replication.is_some() {
            return Ok(None);
        }
        let now = Timespec::now();
        let at = |t: Option<TimeSet>| {
            t.map(|t| match t {
                TimeSet::Now => TimeSet::At(now),
                t => t,
            })
        };
        let req = SetattrReq {
            atime: at(req.atime),
            mtime: at(req.mtime),
            ..req.clone()
        };
        {
            let _buf = st.io.lock();
            let mut m = st.meta.lock();
            if !m.wrote {
                return Ok(None);
            }
            match &mut m.pending {
                Some((p, ctime)) => {
                    crate::inodes::merge(p, &req);
                    *ctime = now;
                }
                None => m.pending = Some((req, now)),
            }
        }
        self.getattr(st.ino).map(Some)
    }

    /// posix_fallocate (mode 0): reserve by growing the size; holes read as zeros.
    pub fn fallocate(&self, fh: u64, off: u64, len: u64, mode: i32) -> R<()> {
        if mode != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let f = self.file(fh)?;
        let st = &f.state;
        let _buf = st.io.lock();
        let end = off.saturating_add(len);
        if end > ferrofs_proto::MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if end <= st.meta.lock().size {
            return Ok(());
        }
        let ino = st.ino;
        let a = self.call_here("fallocate", |c| async move {
            c.commit(ino, end, None, false).await
        });
        self.md.invalidate(&[ino], &[]);
        let a = a?;
        let mut m = st.meta.lock();
        m.size = m.size.max(end);
        if !m.uncommitted {
            m.cached = Some((a.mtime, a.size));
        }
        Ok(())
    }
}

/// Drops an inode's cached attributes when it goes out of scope (after the call that
/// changed them, on every return path).
struct Invalidate<'a>(&'a crate::mdcache::MdCache, Ino);

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.0.invalidate(&[self.1], &[]);
    }
}
