//! FUSE client of ferrofs: mounts the cluster as a POSIX-ish file system through the
//! client library. FUSE inode numbers are ferrofs inode numbers (root is 1 in both).
//!
//! - `fs`: the `fuser::Filesystem` adapter; `core`: state shared by worker threads;
//! - `namespace`, `data`: the operations, returning `Result<_, Errno>`;
//! - `inodes`, `handles`: per-inode state and the open file table;
//! - `writeback`, `readahead`: write coalescing and sequential read-ahead;
//! - `attr`, `errno`: conversions to what the kernel wants.

mod attr;
mod core;
mod data;
pub mod errno;
mod fs;
mod handles;
mod inodes;
mod mdcache;
mod namespace;
mod readahead;
mod writeback;
mod xattr;

use std::path::Path;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Let users other than the mounting one use the mount (the kernel checks modes).
    pub allow_other: bool,
    /// Worker threads serving kernel requests, so a slow read never blocks lookups.
    pub threads: usize,
    /// Name shown as the mount's source in /proc/mounts.
    pub fsname: String,
    /// Serve extended attributes (`user.` and `trusted.`, stored on the master). With
    /// them on, the kernel asks for `security.capability` before every write(2) and
    /// `ls -l` asks for two attributes per file (one FUSE round trip each, answered
    /// locally); off, the kernel stops asking and callers get EOPNOTSUPP. Default: off.
    pub xattr: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: true,
            threads: 16,
            fsname: "ferrofs".into(),
            xattr: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    #[error("mount failed: {0}")]
    Mount(String),
    #[error("cannot reach the master: {0}")]
    Client(#[from] ferrofs_client::ClientError),
    #[error("FUSE session ended with an error: {0}")]
    Session(std::io::Error),
}

/// Mount the cluster at `mountpoint` and serve it. Blocks until the file system is
/// unmounted. `rt` runs the client's futures.
pub fn mount(
    client: ferrofs_client::Client,
    mountpoint: &Path,
    opts: MountOptions,
    rt: tokio::runtime::Handle,
) -> Result<(), FuseError> {
    use fuser::{Config, MountOption, SessionACL};
    let chunk_size = rt.block_on(client.chunk_size())?;
    let notifier = Arc::new(OnceLock::new());
    // A random id for this mount's calls, so the change feed tells it its own changes.
    let origin = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish().max(1)
    };
    let client = client.with_origin(origin);
    let md = Arc::new(mdcache::MdCache::new(origin));
    rt.spawn(mdcache::follow(md.clone(), client.clone()));
    let inodes: Arc<inodes::Inodes> = Default::default();
    rt.spawn(inodes::report_open(inodes.clone(), client.clone()));
    let fs = fs::FerroFs {
        core: core::Core {
            client,
            rt,
            chunk_size,
            inodes,
            handles: Default::default(),
            notifier: notifier.clone(),
            local: Default::default(),
            md,
            xattr: opts.xattr,
        },
    };
    let mut cfg = Config::default();
    cfg.mount_options = vec![
        MountOption::FSName(opts.fsname.clone()),
        MountOption::Subtype("ferrofs".into()),
        MountOption::DefaultPermissions,
        MountOption::RW,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    cfg.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    cfg.n_threads = Some(opts.threads.max(1));
    let session = fuser::Session::new(fs, mountpoint, &cfg)
        .map_err(|e| FuseError::Mount(format!("{}: {e}", mountpoint.display())))?;
    let _ = notifier.set(session.notifier());
    tracing::info!(mountpoint = %mountpoint.display(), threads = opts.threads, chunk_size, "mounted");
    session.run().map_err(FuseError::Session)?;
    tracing::info!(mountpoint = %mountpoint.display(), "unmounted");
    Ok(())
}
