//! Client errors. "The server refused" (`Api`, with the wire error code) is kept apart
//! from "the server could not be reached", so callers can decide what to retry.

use ferrofs_proto::{ApiError, ChunkId, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A server answered with an error.
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("master unreachable at {url}: {msg}")]
    MasterUnreachable { url: String, msg: String },
    #[error("chunkserver {addr} unreachable: {msg}")]
    ChunkserverUnreachable { addr: String, msg: String },
    #[error("no replica could serve chunk {chunk}: {last}")]
    NoReplica { chunk: ChunkId, last: String },
    #[error("write of chunk {chunk} failed after {attempts} attempts: {last}")]
    WriteFailed {
        chunk: ChunkId,
        attempts: u32,
        last: String,
    },
    #[error("bad response from {from}: {msg}")]
    Protocol { from: String, msg: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A setting the client cannot work with (an https master without TLS material).
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

impl ClientError {
    /// The wire error code if a server refused the call.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(e) => Some(e.code),
            _ => None,
        }
    }

    pub fn is(&self, code: ErrorCode) -> bool {
        self.code() == Some(code)
    }
}

impl From<ApiError> for ClientError {
    fn from(e: ApiError) -> Self {
        ClientError::Api(e)
    }
}
