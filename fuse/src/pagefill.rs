//! Verified blocks into the kernel's page cache.
//!
//! A chunkserver reads and CRC-checks whole 64 KiB blocks, so a small random read gets
//! the block it falls in at no extra cost. The bytes the kernel asked for go back in
//! the READ reply; the rest of the block is handed to the kernel's page cache here
//! (FUSE_NOTIFY_STORE, on a thread of its own, after the reply), so later reads of the
//! same block are page cache hits with no FUSE request at all.
//!
//! A store overwrites whatever the cached pages hold, so it must never meet this
//! mount's own unwritten data: a file is filled only while it is open here and no
//! handle of it may write (the kernel writes back every dirty page before RELEASE),
//! nothing of it is uncommitted, and its data generation is the one the bytes were
//! fetched at. Writable opens, cache-dropping opens and truncates take `hold()`,
//! which waits for a store in progress and makes any later one see their change. The pages a READ is filling are
//! locked by the kernel until its reply, so a store never covers them (it would wait
//! on them), and waiting for other reads' pages on this thread blocks no FUSE worker.
//! A store past the kernel's idea of the file's length makes the kernel take the file
//! to be that long, so a fill never reaches past the length last reported to it
//! (`Meta::reported`): after another client's truncate this mount's own `size` can be
//! larger, and its bytes there read as zeros.
//! Consistency is close-to-open, as for the kernel's own cache of the file.

use crate::inodes::{InodeState, Meta};
use bytes::Bytes;
use ferrofs_proto::BLOCK_SIZE;
use fuser::{INodeNo, Notifier};
use parking_lot::{RwLock, RwLockWriteGuard};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};

/// Fills waiting for the store thread; more are dropped (they are only an
/// optimization).
const QUEUE: usize = 256;

/// Pages of one file to store, fetched at data generation `generation`.
struct Fill {
    st: Arc<InodeState>,
    generation: u64,
    pieces: Vec<(u64, Bytes)>,
}

pub struct PageFill {
    tx: Option<SyncSender<Fill>>,
    lock: Arc<RwLock<()>>,
}

impl PageFill {
    /// A filler storing through `notifier` once it is set; `enabled` false stores
    /// nothing.
    pub fn new(notifier: Arc<OnceLock<Notifier>>, enabled: bool) -> Self {
        let lock = Arc::new(RwLock::new(()));
        let tx = enabled.then(|| {
            let (tx, rx) = sync_channel(QUEUE);
            let l = lock.clone();
            std::thread::Builder::new()
                .name("ferrofs-pagefill".into())
                .spawn(move || store_loop(rx, notifier, l))
                .map(|_| tx)
                .ok()
        });
        PageFill {
            tx: tx.flatten(),
            lock,
        }
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Held across anything that changes the data under the kernel's pages (a
    /// truncate): no store runs meanwhile, and one after sees the change.
    pub fn hold(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write()
    }

    /// A new handle of `st`: one that may write (`writable`) keeps fills off the file
    /// until its release; an open after which the kernel drops its pages of the file
    /// (`drops_cache`) makes fills of bytes fetched before it stale.
    pub fn opened(&self, st: &InodeState, writable: bool, drops_cache: bool) {
        if !(writable || drops_cache) {
            return;
        }
        let _held = self.hold();
        let mut m = st.meta.lock();
        m.writers += u32::from(writable);
        if drops_cache {
            m.generation += 1;
        }
    }

    /// The release of a handle of `st` that `opened` counted as `writable`.
    pub fn released(&self, st: &InodeState, writable: bool) {
        if writable {
            let mut m = st.meta.lock();
            m.writers = m.writers.saturating_sub(1);
        }
    }

    /// What a read of `[off, off+len)` of a file of `size` bytes fetches when
    /// read-ahead wants `want`: a small random read (read-ahead adds nothing) of a file
    /// that may be filled (`fill_to`: the length the kernel was last told, see the
    /// module doc) asks for the whole blocks it touches, since the chunkserver reads
    /// and verifies those anyway. Returns (offset, length).
    pub fn span(
        &self,
        fill_to: Option<u64>,
        (off, len): (u64, u64),
        want: u64,
        size: u64,
    ) -> (u64, u64) {
        let Some(fill_to) = fill_to.filter(|_| self.enabled()) else {
            return (off, want);
        };
        if want != len || len > BLOCK_SIZE {
            return (off, want);
        }
        let start = off / BLOCK_SIZE * BLOCK_SIZE;
        let end = ((off + len).div_ceil(BLOCK_SIZE) * BLOCK_SIZE)
            .min(size)
            .min(fill_to.max(off + len));
        if end <= off + len && start == off {
            return (off, want);
        }
        (start, end.max(off + len) - start)
    }

    /// Offer the pages of `block` (file bytes from `start`, as `span` asked for)
    /// outside `[off, off+len)`, the range the kernel's READ is filling, rounded out to
    /// whole pages; returns the bytes of that range, for the reply.
    pub fn offer(
        &self,
        st: &Arc<InodeState>,
        generation: u64,
        start: u64,
        block: Bytes,
        (off, len): (u64, u64),
    ) -> Bytes {
        let a = ((off - start) as usize).min(block.len());
        let asked = block.slice(a..(a + len as usize).min(block.len()));
        let Some(tx) = &self.tx else { return asked };
        let end = start + block.len() as u64;
        let page = page_size();
        let (lo, hi) = (off / page * page, (off + len).div_ceil(page) * page);
        let mut pieces = Vec::with_capacity(2);
        if lo > start {
            pieces.push((start, block.slice(..(lo - start) as usize)));
        }
        if hi < end {
            pieces.push((hi, block.slice((hi - start) as usize..)));
        }
        if pieces.is_empty() {
            return asked;
        }
        let fill = Fill {
            st: st.clone(),
            generation,
            pieces,
        };
        if let Err(TrySendError::Disconnected(_)) = tx.try_send(fill) {
            tracing::debug!("page fill thread is gone");
        }
        asked
    }
}

/// Whether the file may be filled now, at its current data generation (see the
/// module doc).
pub fn fillable(m: &Meta) -> bool {
    m.open > 0 && m.writers == 0 && !m.uncommitted
}

fn store_loop(rx: Receiver<Fill>, notifier: Arc<OnceLock<Notifier>>, lock: Arc<RwLock<()>>) {
    while let Ok(fill) = rx.recv() {
        let Some(n) = notifier.get() else { continue };
        let _held = lock.read();
        {
            let m = fill.st.meta.lock();
            if !fillable(&m) || m.generation != fill.generation {
                continue;
            }
        }
        for (off, bytes) in &fill.pieces {
            if let Err(e) = n.store(INodeNo(fill.st.ino), *off, bytes) {
                // The kernel forgot the inode meanwhile, or the session is closing.
                tracing::debug!(ino = fill.st.ino, off, error = %e, "page store failed");
                break;
            }
        }
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}
