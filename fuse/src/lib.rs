//! FUSE adapter (stub until the FUSE issue lands).

use std::path::Path;

#[derive(Debug, Clone)]
pub struct MountOptions {
    pub allow_other: bool,
    pub threads: usize,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            allow_other: true,
            threads: 16,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FuseError {
    #[error("mount failed: {0}")]
    Mount(String),
}

pub fn mount(
    _client: ferrofs_client::Client,
    _mountpoint: &Path,
    _opts: MountOptions,
    _rt: tokio::runtime::Handle,
) -> Result<(), FuseError> {
    Err(FuseError::Mount("FUSE support is not built yet".into()))
}
