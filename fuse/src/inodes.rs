//! Per-inode state shared by every open handle of an inode on this mount: the write
//! buffer, the local view of the size (the master's, or further if this mount wrote
//! past it and has not committed yet), dirty chunks awaiting fsync, and whether the
//! inode was unlinked while open. Also what this mount last saw of closed files (for
//! FOPEN_KEEP_CACHE) and the parent of directories it has seen (for `..`).

use crate::writeback::WriteBuffer;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Attr, SetattrReq, TimeSet, Timespec};
use fuser::Errno;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Bound on the remembered (mtime, size) of closed files.
const MAX_SEEN: usize = 100_000;

#[derive(Default)]
pub struct Meta {
    /// Open handles on this mount.
    pub open: u32,
    /// Of those, the handles that may write (see `pagefill`).
    pub writers: u32,
    /// The size last given to the kernel in an attribute reply (or by a local
    /// truncate): a page fill must not reach past it, or the kernel would take the
    /// file to be that long (`size` can be larger after another client's truncate).
    pub reported: u64,
    /// Local view of the size.
    pub size: u64,
    /// Writes made since the last commit (size and mtime not yet at the master).
    pub uncommitted: bool,
    /// Time of the last local write, sent with the next commit.
    pub mtime: Option<Timespec>,
    /// Chunks written since the last fsync of their replicas.
    pub dirty: BTreeSet<u64>,
    /// Bumped by every write and truncate; read-ahead windows of older generations are
    /// stale.
    pub generation: u64,
    /// The master unlinked it while it was open here: RELEASE it at last close.
    pub unlinked: bool,
    /// An error from a write-behind flush, reported at the next flush/fsync/close.
    pub error: Option<Errno>,
    /// The (mtime, size) at the master that the kernel's page cache of the file
    /// reflects: set when an open drops the cache, and by this mount's own commits,
    /// truncates and fallocates (whose bytes the cache holds). Not by attribute replies:
    /// a stat that reports another mount's change leaves the cache as stale as it was,
    /// so the next open must still drop it (close-to-open).
    pub cached: Option<(Timespec, u64)>,
    /// This mount wrote to it since it last ended its lease holds (at the last close).
    pub wrote: bool,
    /// chmod, chown and utimes made while this mount writes the file, not yet at the
    /// master: they go with the next commit (see `Core::setattr`), and when the last
    /// of them was made (the ctime they give).
    pub pending: Option<(SetattrReq, Timespec)>,
}

pub struct InodeState {
    pub ino: Ino,
    pub meta: Mutex<Meta>,
    /// Held across chunk I/O of this inode's buffered data: serializes writes, flushes
    /// and truncates of the inode. Never take `meta` then `io`.
    pub io: Mutex<WriteBuffer>,
}

impl InodeState {
    /// Apply local knowledge to an attribute reply from the master.
    pub fn adjust(&self, a: &mut Attr) {
        let mut m = self.meta.lock();
        if m.uncommitted {
            a.size = a.size.max(m.size);
            if let Some(t) = m.mtime {
                a.mtime = t;
                a.ctime = a.ctime.max(t);
            }
        } else {
            // Grow only: a reply that raced with a local commit or truncate may be
            // older than what this mount knows; shrinking comes from local truncates.
            m.size = m.size.max(a.size);
        }
        if let Some((p, ctime)) = &m.pending {
            overlay(a, p, *ctime);
        }
        m.reported = a.size;
    }
}

/// Attribute changes not yet at the master, as the master will apply them.
pub fn overlay(a: &mut Attr, p: &SetattrReq, ctime: Timespec) {
    let at = |t: &TimeSet| match t {
        TimeSet::Now => ctime,
        TimeSet::At(t) => *t,
    };
    if let Some(m) = p.mode {
        a.mode = m & 0o7777;
    }
    if let Some(u) = p.uid {
        a.uid = u;
    }
    if let Some(g) = p.gid {
        a.gid = g;
    }
    if let Some(t) = &p.atime {
        a.atime = at(t);
    }
    if let Some(t) = &p.mtime {
        a.mtime = at(t);
    }
    a.ctime = a.ctime.max(ctime);
}

/// Fold a later attribute change into pending ones (the later wins, field by field).
pub fn merge(into: &mut SetattrReq, later: &SetattrReq) {
    into.mode = later.mode.or(into.mode);
    into.uid = later.uid.or(into.uid);
    into.gid = later.gid.or(into.gid);
    into.atime = later.atime.or(into.atime);
    into.mtime = later.mtime.or(into.mtime);
}

#[derive(Default)]
pub struct Inodes {
    open: Mutex<HashMap<Ino, Arc<InodeState>>>,
    seen: Mutex<HashMap<Ino, (Timespec, u64)>>,
    parents: Mutex<HashMap<Ino, Ino>>,
    /// Chunks of closed files written since their last fsync (a close does not sync,
    /// `MountOptions::sync_on_close` aside): a later open's fsync(2) must still sync
    /// them, as fsync covers every write to the file, not only its own handle's.
    unsynced: Mutex<HashMap<Ino, BTreeSet<u64>>>,
}

impl Inodes {
    pub fn get(&self, ino: Ino) -> Option<Arc<InodeState>> {
        self.open.lock().get(&ino).cloned()
    }

    /// Inodes with a handle open on this mount.
    pub fn open_inos(&self) -> Vec<Ino> {
        self.open.lock().keys().copied().collect()
    }

    pub fn any_open(&self) -> bool {
        !self.open.lock().is_empty()
    }

    /// Register one more open handle. Returns the state and whether this mount may
    /// keep its page cache of the file: the master's mtime and size are what the cache
    /// reflects (or it has writes of its own in flight, which the cache holds).
    pub fn open(&self, attr: &Attr) -> (Arc<InodeState>, bool) {
        let mut open = self.open.lock();
        if let Some(st) = open.get(&attr.ino) {
            let mut m = st.meta.lock();
            m.open += 1;
            let now = Some((attr.mtime, attr.size));
            let keep = m.uncommitted || m.cached == now;
            if !m.uncommitted {
                m.cached = now;
            }
            return (st.clone(), keep);
        }
        let keep = self.seen.lock().get(&attr.ino) == Some(&(attr.mtime, attr.size));
        let st = Arc::new(InodeState {
            ino: attr.ino,
            meta: Mutex::new(Meta {
                open: 1,
                size: attr.size,
                reported: attr.size,
                cached: Some((attr.mtime, attr.size)),
                dirty: self.unsynced.lock().remove(&attr.ino).unwrap_or_default(),
                ..Default::default()
            }),
            io: Mutex::new(WriteBuffer::default()),
        });
        open.insert(attr.ino, st.clone());
        (st, keep)
    }

    /// Drop one open handle. Returns true when it was the last one; the state is gone
    /// from the table then and what its page cache reflects is remembered.
    pub fn close(&self, st: &InodeState) -> bool {
        let mut open = self.open.lock();
        let mut m = st.meta.lock();
        m.open = m.open.saturating_sub(1);
        if m.open > 0 {
            return false;
        }
        open.remove(&st.ino);
        if !m.dirty.is_empty() && !m.unlinked {
            let mut u = self.unsynced.lock();
            if u.len() >= MAX_SEEN {
                // The chunkservers' write-back has synced these long since.
                u.clear();
            }
            u.insert(st.ino, std::mem::take(&mut m.dirty));
        }
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_SEEN {
            seen.clear();
        }
        match m.cached {
            Some(v) if !m.uncommitted && !m.unlinked => {
                seen.insert(st.ino, v);
            }
            _ => {
                seen.remove(&st.ino);
            }
        }
        true
    }

    pub fn forget_seen(&self, ino: Ino) {
        self.seen.lock().remove(&ino);
    }

    pub fn set_parent(&self, dir: Ino, parent: Ino) {
        let mut p = self.parents.lock();
        if p.len() >= MAX_SEEN {
            p.clear();
        }
        p.insert(dir, parent);
    }

    pub fn parent(&self, dir: Ino) -> Ino {
        self.parents
            .lock()
            .get(&dir)
            .copied()
            .unwrap_or(ferrofs_proto::ROOT_INO)
    }
}

/// Tell the master every `SESSION_INTERVAL_MS` which files this mount holds open, so a
/// file unlinked while open here is kept (across master restarts and leader changes)
/// until this mount closes it.
pub async fn report_open(inodes: Arc<Inodes>, client: ferrofs_client::Client) {
    use ferrofs_proto::namespace::{SESSION_INTERVAL_MS, SessionReq};
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(SESSION_INTERVAL_MS));
    loop {
        tick.tick().await;
        let open = inodes.open_inos();
        if open.is_empty() {
            continue;
        }
        let req = SessionReq {
            client: client.master.id(),
            open,
        };
        if let Err(e) = client.master.rpc::<ferrofs_proto::rpc::Session>(&req).await {
            tracing::debug!(error = %e, "could not report open files");
        }
    }
}
