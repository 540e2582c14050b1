//! The process's TLS directory: `--tls DIR` (env `FERROFS_TLS`), else `dir` in the
//! `[tls]` section of the role's `--config` file; none means plain HTTP. A process
//! speaks one transport, so the choice is made once, in `main`, and read here.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static FLAG: OnceLock<Option<PathBuf>> = OnceLock::new();

/// What a bare `--tls` (no directory) stands for: only `up` accepts it, and makes the
/// material itself.
pub const AUTO: &str = "auto";

/// `[tls]` in a config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// The node's TLS directory (`ferrofs ca issue ... OUT_DIR`).
    pub dir: Option<PathBuf>,
}

/// Record `--tls` (called once by `main`), `AUTO` included.
pub fn set(flag: Option<PathBuf>) {
    let _ = FLAG.set(flag);
}

/// `--tls` as given, `AUTO` included.
pub fn flag() -> Option<PathBuf> {
    FLAG.get().cloned().flatten()
}

/// The TLS directory for a process started with `config` (its `--config` file).
pub fn dir(config: Option<&Path>) -> Result<Option<PathBuf>> {
    let d = match flag() {
        Some(d) => Some(d),
        None => crate::servers::load::<TlsSection>(config, "tls")?.dir,
    };
    match d {
        Some(d) if d.as_os_str() == AUTO => {
            anyhow::bail!("--tls needs a directory (ca.pem, cert.pem, key.pem): --tls DIR")
        }
        Some(d) => {
            anyhow::ensure!(
                d.join("cert.pem").exists(),
                "--tls {}: no cert.pem there (make one with `ferrofs ca issue`)",
                d.display()
            );
            Ok(Some(d))
        }
        None => Ok(None),
    }
}

/// A client transport for tools and mounts started with `config`.
pub fn transport(config: Option<&Path>) -> Result<ferrofs_tls::Transport> {
    let d = dir(config)?;
    ferrofs_tls::Transport::load(d.as_deref()).with_context(|| match &d {
        Some(d) => format!("loading TLS material from {}", d.display()),
        None => "HTTP client".into(),
    })
}
