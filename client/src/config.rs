//! Client configuration.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The master group: one base URL or several, comma-separated
    /// (`http://10.0.0.1:9000,http://10.0.0.2:9000`); the client finds the leader.
    pub master: String,
    /// Timeout of one request to the master or a chunkserver. Default 30s.
    pub request_timeout: Duration,
    /// A chunk read gives up on a replica that sends nothing (no reply, or no more
    /// bytes) for this long and tries the next one, so a hung chunkserver costs a
    /// bounded delay rather than the whole request timeout. Default 5s.
    pub read_stall_timeout: Duration,
    /// How long a call keeps retrying while no master leads (an election, a restart);
    /// after this it fails with `no master quorum (reached: ...)`. Default 30s.
    pub master_retry: Duration,
    /// Attempts at a chunk write, rebuilding the pipeline between them. Default 5.
    pub write_attempts: u32,
    /// Bytes per write request to the chunk pipeline. Default 4MiB.
    pub write_piece: usize,
    /// Concurrent write requests per file in `put`. Default 4.
    pub write_concurrency: usize,
    /// Bytes of verified 64 KiB blocks kept for small reads (below 256 KiB): the
    /// first small read of a block fetches the whole block, later ones are served
    /// locally until the file is re-opened (`Client::invalidate`) or this client writes
    /// there. 0 disables the cache. Default 256MiB.
    pub block_cache_bytes: u64,
    /// Plain HTTP (the default) or mutual TLS with a node's material (`with_tls`).
    pub transport: ferrofs_tls::Transport,
}

impl ClientConfig {
    pub fn new(master: impl Into<String>) -> Self {
        ClientConfig {
            master: crate::master::parse_masters(&master.into()).join(","),
            request_timeout: Duration::from_secs(30),
            read_stall_timeout: Duration::from_secs(5),
            master_retry: Duration::from_secs(30),
            write_attempts: 5,
            write_piece: 4 << 20,
            write_concurrency: 4,
            block_cache_bytes: 256 << 20,
            transport: ferrofs_tls::Transport::default(),
        }
    }

    /// Speak HTTPS with the material in `dir` (`ca.pem`, `cert.pem`, `key.pem`, from
    /// `ferrofs ca issue`); `None` keeps plain HTTP.
    pub fn with_tls(mut self, dir: Option<&std::path::Path>) -> std::result::Result<Self, String> {
        self.transport = ferrofs_tls::Transport::load(dir).map_err(|e| e.to_string())?;
        Ok(self)
    }
}

/// Environment variable overriding `master_retry` (e.g. `5s`), for tools and scripts.
pub const MASTER_TIMEOUT_ENV: &str = "FERROFS_MASTER_TIMEOUT";

impl ClientConfig {
    /// Apply the environment's overrides (`FERROFS_MASTER_TIMEOUT`).
    pub fn with_env(mut self) -> std::result::Result<Self, String> {
        if let Ok(v) = std::env::var(MASTER_TIMEOUT_ENV) {
            self.master_retry = ferrofs_proto::units::parse_duration(&v)
                .map_err(|e| format!("{MASTER_TIMEOUT_ENV}: {e}"))?;
        }
        Ok(self)
    }
}
