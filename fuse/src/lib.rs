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
mod dentries;
pub mod errno;
mod fs;
mod handles;
mod inodes;
mod mdcache;
mod namespace;
mod pagefill;
mod readahead;
mod writeback;
mod xattr;

use std::path::Path;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// close(2) fsyncs the file's new data on every replica and syncs the master's
    /// log, as fsync(2) does (HDFS's `dfs.datanode.synconclose`, MooseFS's
    /// `HDD_FSYNC_BEFORE_CLOSE`). Off by default, as there and on ext4: close returns
    /// once every replica holds the bytes and the master group's log (on a majority)
    /// the size; the chunkservers write the data back to disk within their
    /// `writeback_interval`. Default: off.
    pub sync_on_close: bool,
    /// Every create, mkdir, unlink and rmdir waits for the master's answer (CephFS's
    /// `wsync`). Off by default: where the mount knows the answer (a new name in a
    /// directory whose every entry it holds, an unlink of a file it has cached with one
    /// link and not open), it answers at once and sends the operation to the master in
    /// the background, in order, in batches; every other call of the mount waits for
    /// the ones queued before it, and fsync(2) of the file or its directory waits until
    /// they are applied. Other clients see such a name once it is sent (milliseconds),
    /// and a `kill -9` of the mount loses what was still queued. Default: off.
    pub sync_namespace: bool,
    /// A small read fetches the whole 64 KiB blocks it touches (the chunkserver reads
    /// and verifies them anyway) and hands their other pages to the kernel's page
    /// cache, so nearby reads need no request (`pagefill`). Only for files no handle of
    /// this mount may write. Default: on.
    pub page_fill: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: true,
            threads: 16,
            fsname: "ferrofs".into(),
            xattr: false,
            sync_on_close: false,
            sync_namespace: false,
            page_fill: true,
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
    if !opts.sync_namespace {
        let on_fail = deferred_failed(md.clone(), notifier.clone());
        rt.block_on(client.master.start_deferred(on_fail));
    }
    rt.spawn(mdcache::follow(md.clone(), client.clone()));
    let inodes: Arc<inodes::Inodes> = Default::default();
    rt.spawn(inodes::report_open(inodes.clone(), client.clone()));
    let master = client.master.clone();
    let fs = fs::FerroFs {
        core: core::Core {
            client,
            rt: rt.clone(),
            chunk_size,
            inodes,
            handles: Default::default(),
            notifier: notifier.clone(),
            local: Default::default(),
            md,
            xattr: opts.xattr,
            sync_on_close: opts.sync_on_close,
            pages: pagefill::PageFill::new(notifier.clone(), opts.page_fill),
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
    let served = session.run().map_err(FuseError::Session);
    // What was answered at once still reaches the master.
    master.stop_deferred();
    let backlog = master.deferred_backlog();
    if backlog > 0 {
        tracing::info!(ops = backlog, "sending deferred namespace operations");
    }
    rt.block_on(master.barrier());
    served?;
    tracing::info!(mountpoint = %mountpoint.display(), "unmounted");
    Ok(())
}

/// What a deferred operation the master refused leaves behind: this mount's cached
/// view of the name and its directory is dropped (here and in the kernel), so the next
/// look asks the master. The error itself is logged by the client.
fn deferred_failed(
    md: Arc<mdcache::MdCache>,
    notifier: Arc<OnceLock<fuser::Notifier>>,
) -> Arc<ferrofs_client::deferred::OnFail> {
    use ferrofs_proto::namespace::NsOp;
    Arc::new(move |op: &NsOp, _e: &ferrofs_client::ClientError| {
        let (parent, name, ino) = match op {
            NsOp::Create(c) => (c.create.parent, c.create.name.as_str(), Some(c.ino)),
            NsOp::Unlink(u) => (u.parent, u.name.as_str(), None),
        };
        let inos: Vec<u64> = std::iter::once(parent).chain(ino).collect();
        md.invalidate(&inos, &[(parent, name)]);
        // Not from this task: the kernel's invalidation waits for the directory's lock,
        // which a create in it may hold while its call waits for this very flusher.
        let (notifier, name) = (notifier.clone(), name.to_string());
        std::thread::spawn(move || {
            if let Some(n) = notifier.get()
                && let Err(e) = n.inval_entry(fuser::INodeNo(parent), std::ffi::OsStr::new(&name))
            {
                tracing::debug!(parent, name, error = %e, "entry invalidation failed");
            }
        });
    })
}

#[cfg(test)]
mod tests {
    use super::MountOptions;

    /// etc/ferrofs.toml's `[mount]` section lists every option at its default.
    #[test]
    fn example_config_is_the_defaults() {
        let doc: toml::Table = toml::from_str(include_str!("../../etc/ferrofs.toml")).unwrap();
        let section = doc["mount"].as_table().expect("a [mount] section").clone();
        let keys: Vec<&String> = section.keys().collect();
        for k in [
            "allow_other",
            "threads",
            "fsname",
            "xattr",
            "sync_on_close",
            "sync_namespace",
            "page_fill",
        ] {
            assert!(keys.iter().any(|x| x.as_str() == k), "[mount] lacks {k}");
        }
        let o: MountOptions = section.try_into().expect("[mount] parses");
        let d = MountOptions::default();
        assert_eq!(
            (
                o.allow_other,
                o.threads,
                o.fsname,
                o.xattr,
                o.sync_on_close,
                o.sync_namespace,
                o.page_fill
            ),
            (
                d.allow_other,
                d.threads,
                d.fsname,
                d.xattr,
                d.sync_on_close,
                d.sync_namespace,
                d.page_fill
            )
        );
        assert!(toml::from_str::<MountOptions>("sync_on_clos = true").is_err());
    }
}
