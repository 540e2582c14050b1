//! Errors that cross the wire: a stable code plus a message, one mapping to HTTP status.
//! The FUSE crate maps the same codes to errno.

use serde::{Deserialize, Serialize};

/// Stable error codes. Never renumber or rename: clients match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Malformed request: bad JSON, bad parameter, bad path component.
    BadRequest,
    NotFound,
    AlreadyExists,
    NotADirectory,
    IsADirectory,
    NotEmpty,
    /// Caller lacks permission (admin token, chunk access token).
    PermissionDenied,
    Unauthorized,
    /// Not enough live chunkservers (or space) to place a chunk.
    NoSpace,
    NoChunkservers,
    /// A chunk replica failed checksum verification.
    ChunkCorrupt,
    /// The write names a version older than the replica's (or the master's).
    StaleVersion,
    /// A replica in a write pipeline failed; `failed` in the body names which.
    PipelineFailed,
    /// Body larger than the server accepts.
    PayloadTooLarge,
    /// Rename of a directory into its own subtree, and similar.
    InvalidArgument,
    NameTooLong,
    /// Master is in safe mode and refuses this mutation for now.
    SafeMode,
    Timeout,
    Internal,
    /// The named extended attribute does not exist (ENODATA).
    NoSuchAttribute,
    /// A size or write past `MAX_FILE_SIZE` (EFBIG).
    FileTooLarge,
    /// This master is not the group's leader; `leader` names the one to ask (if known).
    NotLeader,
    /// No quorum of masters could be reached within the client's retry time.
    NoQuorum,
    /// A commit names a chunk the file no longer holds: the data written there is lost
    /// (EIO).
    ChunkLost,
}

impl ErrorCode {
    /// The one mapping from error code to HTTP status.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | InvalidArgument | NameTooLong | StaleVersion => 400,
            Unauthorized => 401,
            PermissionDenied => 403,
            NotFound | NoSuchAttribute => 404,
            AlreadyExists | NotADirectory | IsADirectory | NotEmpty => 409,
            PayloadTooLarge | FileTooLarge => 413,
            ChunkCorrupt => 422,
            NoSpace | NoChunkservers | SafeMode | NoQuorum => 503,
            NotLeader => 421,
            ChunkLost => 410,
            PipelineFailed => 502,
            Timeout => 504,
            Internal => 500,
        }
    }
}

/// JSON body of every error reply: `{"code": "NotFound", "message": "...", "failed": null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `PipelineFailed`: address of the replica that failed, so the client can drop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// For `NotLeader`: base URL of the leader, when the answering master knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            failed: None,
            leader: None,
        }
    }
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("{what}: no such file or directory"),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, message.to_string())
    }
}
