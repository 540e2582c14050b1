//! The state a mount shares between its worker threads, and helpers every operation
//! uses: running client futures, logging failures once with their errno, and adjusting
//! the master's attributes with what this mount knows locally.

use crate::attr::to_file_attr;
use crate::errno::errno_of;
use crate::handles::Handles;
use crate::inodes::Inodes;
use ferrofs_client::{Client, ClientError};
use ferrofs_proto::namespace::Attr;
use fuser::{Errno, FileAttr, Notifier};
use std::ffi::OsStr;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use thread_local::ThreadLocal;
use tokio::runtime::Handle;

pub type R<T> = Result<T, Errno>;

pub struct Core {
    pub client: Client,
    pub rt: Handle,
    pub chunk_size: u64,
    pub inodes: Arc<Inodes>,
    pub handles: Handles,
    /// Set once the session exists; used to drop stale kernel attributes on open.
    pub notifier: Arc<OnceLock<Notifier>>,
    /// Per fuser worker thread: a current-thread runtime and a client with its own
    /// connections (see `call_here`).
    pub local: ThreadLocal<Local>,
    /// Attributes and entries, kept coherent by the master's change feed.
    pub md: Arc<crate::mdcache::MdCache>,
    /// Extended attributes served (`MountOptions::xattr`).
    pub xattr: bool,
    /// close(2) makes the data durable, as fsync(2) does (`MountOptions::sync_on_close`).
    pub sync_on_close: bool,
    /// The rest of each block a small read fetched, into the kernel's page cache.
    pub pages: crate::pagefill::PageFill,
}

/// What one fuser worker thread runs its client calls on.
pub struct Local {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Core {
    /// Run a client call on the runtime (fuser worker threads are not runtime threads,
    /// so blocking here is fine) and map its error to errno.
    pub fn run<T>(&self, what: &str, f: impl Future<Output = Result<T, ClientError>>) -> R<T> {
        self.rt.block_on(f).map_err(|e| fail(what, &e))
    }

    /// Run a client call on this worker thread's own current-thread runtime and
    /// connections: the requests' socket I/O happens right here, which halves the
    /// latency of a master call compared with handing it to the shared runtime's
    /// worker threads and back. Background work (write-behind, prefetch) stays on the
    /// shared runtime (`run`, `rt.spawn`), since nothing drives this runtime between
    /// calls.
    pub fn call_here<T, Fut>(&self, what: &str, f: impl FnOnce(Client) -> Fut) -> R<T>
    where
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let local = self.local.get_or_try(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ClientError::Protocol {
                    from: "runtime".into(),
                    msg: e.to_string(),
                })?;
            let client = self.client.with_own_connections()?;
            Ok::<_, ClientError>(Local { rt, client })
        });
        match local {
            Ok(l) => l.rt.block_on(f(l.client.clone())),
            Err(e) => {
                tracing::warn!(error = %e, "no per-thread runtime, using the shared one");
                self.rt.block_on(f(self.client.clone()))
            }
        }
        .map_err(|e| fail(what, &e))
    }

    /// Kernel attributes for a master reply, with this mount's unflushed size and mtime.
    pub fn attr(&self, mut a: Attr) -> FileAttr {
        if let Some(st) = self.inodes.get(a.ino) {
            st.adjust(&mut a);
        }
        to_file_attr(&a)
    }
}

/// Map a client error to errno, logging it: expected refusals quietly, the rest loudly.
pub fn fail(what: &str, e: &ClientError) -> Errno {
    let errno = errno_of(e);
    match errno.code() {
        libc::ENOENT
        | libc::EEXIST
        | libc::ENOTEMPTY
        | libc::ENOTDIR
        | libc::EISDIR
        | libc::ENODATA => {
            tracing::debug!(op = what, error = %e, "refused")
        }
        _ => tracing::warn!(op = what, errno = errno.code(), error = %e, "failed"),
    }
    errno
}

/// File names travel as UTF-8 strings.
pub fn name_str(n: &OsStr) -> R<&str> {
    n.to_str().ok_or(Errno::EINVAL)
}
