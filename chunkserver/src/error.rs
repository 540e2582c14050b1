//! The chunkserver's error enum, and its one mapping to the wire `ApiError`.

use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::{ApiError, ChunkId, ErrorCode, Version};

#[derive(Debug, thiserror::Error)]
pub enum ChunkserverError {
    #[error("invalid chunkserver config: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("chunk {} not found", chunk_name(*.0))]
    NotFound(ChunkId),
    #[error("chunk {}: replica is at version {have}, request names {want}", chunk_name(*chunk))]
    StaleVersion {
        chunk: ChunkId,
        have: Version,
        want: Version,
    },
    #[error("chunk {} already exists at version {have}", chunk_name(*chunk))]
    AlreadyExists { chunk: ChunkId, have: Version },
    #[error("chunk {} version {version}: block {block} failed checksum verification", chunk_name(*chunk))]
    Corrupt {
        chunk: ChunkId,
        version: Version,
        block: u64,
    },
    #[error("no space: {0}")]
    NoSpace(String),
    #[error("payload too large: {0}")]
    TooLarge(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("not ready: {0}")]
    NotReady(String),
    /// A replica of a pipeline failed; `failed` names it.
    #[error("pipeline failed at {failed}: {message}")]
    Pipeline { failed: String, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = ChunkserverError> = std::result::Result<T, E>;

impl ChunkserverError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ChunkserverError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn code(&self) -> ErrorCode {
        use ChunkserverError::*;
        match self {
            Config(_) | Io { .. } | Internal(_) => ErrorCode::Internal,
            NotFound(_) => ErrorCode::NotFound,
            StaleVersion { .. } => ErrorCode::StaleVersion,
            AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Corrupt { .. } => ErrorCode::ChunkCorrupt,
            NoSpace(_) => ErrorCode::NoSpace,
            TooLarge(_) => ErrorCode::PayloadTooLarge,
            BadRequest(_) => ErrorCode::BadRequest,
            PermissionDenied(_) => ErrorCode::PermissionDenied,
            Unauthorized(_) => ErrorCode::Unauthorized,
            // No dedicated "not ready" code exists; SafeMode (503) is the closest meaning.
            NotReady(_) => ErrorCode::SafeMode,
            Pipeline { .. } => ErrorCode::PipelineFailed,
        }
    }

    pub fn to_api(&self) -> ApiError {
        let mut e = ApiError::new(self.code(), self.to_string());
        if let ChunkserverError::Pipeline { failed, .. } = self {
            e.failed = Some(failed.clone());
        }
        e
    }
}

/// Attach a context string to I/O errors.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| ChunkserverError::io(context(), e))
    }
}
