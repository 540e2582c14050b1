//! Client configuration.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Master base URL, e.g. `http://127.0.0.1:9000`.
    pub master: String,
    /// Timeout of one request to the master or a chunkserver. Default 30s.
    pub request_timeout: Duration,
    /// A chunk read gives up on a replica that sends nothing (no reply, or no more
    /// bytes) for this long and tries the next one, so a hung chunkserver costs a
    /// bounded delay rather than the whole request timeout. Default 5s.
    pub read_stall_timeout: Duration,
    /// How long to keep retrying a master that cannot be reached (e.g. restarting).
    /// Default 20s.
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
}

impl ClientConfig {
    pub fn new(master: impl Into<String>) -> Self {
        let mut master = master.into();
        if !master.starts_with("http://") && !master.starts_with("https://") {
            master = format!("http://{master}");
        }
        while master.ends_with('/') {
            master.pop();
        }
        ClientConfig {
            master,
            request_timeout: Duration::from_secs(30),
            read_stall_timeout: Duration::from_secs(5),
            master_retry: Duration::from_secs(20),
            write_attempts: 5,
            write_piece: 4 << 20,
            write_concurrency: 4,
            block_cache_bytes: 256 << 20,
        }
    }
}
