//! `ferrofs mount`: stale-mount detection and cleanup around the FUSE crate.

use crate::cli::MountArgs;
use anyhow::{Context, Result};
use std::path::Path;

/// Is `path` currently a ferrofs FUSE mount (per /proc/mounts)?
pub fn is_ferrofs_mount(path: &Path) -> bool {
    let Ok(m) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let p = path.display().to_string();
    m.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_src, target, fstype) = (f.next(), f.next(), f.next());
        target == Some(p.as_str()) && fstype.is_some_and(|t| t.starts_with("fuse"))
    })
}

/// Detach a mount left behind by a crashed daemon ("Transport endpoint is not
/// connected"). Returns whether something was cleaned.
pub fn cleanup_stale(path: &Path) -> bool {
    if !is_ferrofs_mount(path) {
        return false;
    }
    let c = std::ffi::CString::new(path.display().to_string()).expect("no NUL in path");
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    rc == 0
}

/// The `[mount]` section of a config file, or the defaults.
fn mount_options(config: Option<&Path>) -> Result<ferrofs_fuse::MountOptions> {
    let Some(path) = config else {
        return Ok(Default::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let Some(section) = doc.remove("mount") else {
        return Ok(Default::default());
    };
    let opts: ferrofs_fuse::MountOptions = section
        .try_into()
        .with_context(|| format!("{}: [mount]", path.display()))?;
    anyhow::ensure!(opts.threads > 0, "[mount] threads must be at least 1");
    Ok(opts)
}

pub async fn run(a: MountArgs) -> Result<()> {
    std::fs::create_dir_all(&a.mountpoint).ok();
    let mnt = a
        .mountpoint
        .canonicalize()
        .or_else(|_| std::path::absolute(&a.mountpoint))
        .with_context(|| format!("{}", a.mountpoint.display()))?;
    if is_ferrofs_mount(&mnt) {
        let stale = std::fs::metadata(&mnt).is_err();
        if stale {
            eprintln!(
                "ferrofs: {} was left mounted by a crashed client; unmounting it",
                mnt.display()
            );
            cleanup_stale(&mnt);
        } else {
            anyhow::bail!("{} is already mounted", mnt.display());
        }
    }
    let mut cfg = ferrofs_client::ClientConfig::new(&a.m.master)
        .with_env()
        .map_err(anyhow::Error::msg)?;
    cfg.block_cache_bytes = a.block_cache;
    cfg.transport = crate::tls_opt::transport(a.config.as_deref())?;
    let client = ferrofs_client::Client::new(cfg)?;
    // Fail early and clearly if the master is not there.
    client.statfs().await?;
    let mut opts = mount_options(a.config.as_deref())?;
    if let Some(v) = a.allow_other {
        opts.allow_other = v;
    }
    if let Some(n) = a.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        opts.threads = n;
    }
    opts.xattr |= a.xattr;
    opts.sync_on_close |= a.sync_on_close;
    opts.sync_namespace |= a.sync_namespace;
    if let Some(v) = a.page_fill {
        opts.page_fill = v;
    }
    let handle = tokio::runtime::Handle::current();
    let master = client.master.clone();
    let mnt2 = mnt.clone();
    let session =
        tokio::task::spawn_blocking(move || ferrofs_fuse::mount(client, &mnt2, opts, handle));
    let signal = crate::servers::shutdown_signal();
    tokio::select! {
        r = session => { r??; }
        _ = signal => {
            let c = std::ffi::CString::new(mnt.display().to_string())?;
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            // Creates and unlinks already answered still go to the master.
            master.stop_deferred();
            if tokio::time::timeout(DEFERRED_GRACE, master.barrier()).await.is_err() {
                tracing::error!(
                    ops = master.deferred_backlog(),
                    "deferred namespace operations not sent before exit"
                );
            }
        }
    }
    Ok(())
}

/// How long a mount stopped by a signal waits for its deferred namespace operations.
const DEFERRED_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
