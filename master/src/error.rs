//! The master's error type and its one mapping to wire errors.

use ferrofs_proto::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("config: {0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = MasterError> = std::result::Result<T, E>;

impl MasterError {
    pub fn code(code: ErrorCode, msg: impl Into<String>) -> Self {
        MasterError::Api(ApiError::new(code, msg))
    }
    pub fn to_api(&self) -> ApiError {
        match self {
            MasterError::Api(e) => e.clone(),
            other => ApiError::internal(other),
        }
    }
}

/// Shorthand constructors for the namespace's common refusals.
pub fn not_found(what: impl std::fmt::Display) -> MasterError {
    MasterError::Api(ApiError::not_found(what))
}
pub fn err(code: ErrorCode, msg: impl Into<String>) -> MasterError {
    MasterError::code(code, msg)
}
