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
//! fetched at. Writable opens and truncates take `hold()`, which waits for a store in
//! progress and makes any later one see their change. The pages a READ is filling are
//! locked by the kernel until its reply, so a store never covers them (it would wait
//! on them), and waiting for other reads' pages on this thread blocks no FUSE worker.
//! A store past the kernel's idea of the file's length makes the kernel take the file
//! to be that long, so a fill never reaches past the length last reported to it
//! (`Meta::reported`): after another client's truncate this mount's own `size` can be
//! larger, and its bytes there read as zeros.
//! Consistency is close-to-open, as for the kernel's own cache of the file.

use crate::inodes::InodeState;
use bytes::Bytes;
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

    /// Held across anything that gives the kernel pages a store must not overwrite
    /// (an open that may write) or changes the data under them (a truncate).
    pub fn hold(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write()
    }

    /// Offer the pages of `block` (file bytes from `start`) outside `[off, off+len)`,
    /// the range the kernel's READ is filling, rounded out to whole pages.
    pub fn offer(
        &self,
        st: &Arc<InodeState>,
        generation: u64,
        start: u64,
        block: &Bytes,
        off: u64,
        len: u64,
    ) {
        let Some(tx) = &self.tx else { return };
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
            return;
        }
        let fill = Fill {
            st: st.clone(),
            generation,
            pieces,
        };
        if let Err(TrySendError::Disconnected(_)) = tx.try_send(fill) {
            tracing::debug!("page fill thread is gone");
        }
    }
}

/// Whether a store for `st` at `generation` may go ahead now (see the module doc).
pub fn may_store(st: &InodeState, generation: u64) -> bool {
    let m = st.meta.lock();
    m.open > 0 && m.writers == 0 && !m.uncommitted && m.generation == generation
}

fn store_loop(rx: Receiver<Fill>, notifier: Arc<OnceLock<Notifier>>, lock: Arc<RwLock<()>>) {
    while let Ok(fill) = rx.recv() {
        let Some(n) = notifier.get() else { continue };
        let _held = lock.read();
        if !may_store(&fill.st, fill.generation) {
            continue;
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
