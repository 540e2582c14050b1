//! Errors of starting and running a gateway (request errors are S3 or WebHDFS replies).

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid gateway config: {0}")]
    Config(String),
    #[error(transparent)]
    Client(#[from] ferrofs_client::ClientError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
