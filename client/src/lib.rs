//! The ferrofs client library: namespace calls to the master, and file data I/O to
//! chunkservers with replica failover and write-pipeline recovery.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrofs_client::ClientError> {
//! let c = ferrofs_client::Client::new(ferrofs_client::ClientConfig::new("http://127.0.0.1:9000"))?;
//! c.mkdir_p("/data").await?;
//! c.put_bytes("/data/hello.txt", bytes::Bytes::from_static(b"hello")).await?;
//! assert_eq!(&c.get_bytes("/data/hello.txt").await?[..], b"hello");
//! # Ok(()) }
//! ```

pub mod blockcache;
pub mod chunkio;
pub mod config;
pub mod error;
mod file;
pub mod master;
mod namespace;
mod transfer;

pub use config::ClientConfig;
pub use error::{ClientError, Result};
pub use transfer::Progress;

use chunkio::ChunkIo;
use ferrofs_proto::Ino;
use master::MasterClient;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) struct Inner {
    pub cfg: ClientConfig,
    pub locs: Mutex<HashMap<Ino, file::LocCache>>,
    pub leases: Mutex<HashMap<(Ino, u64), file::CachedLease>>,
    pub chunk_size: Mutex<Option<u64>>,
    /// Replicas (by address) that recently failed a read: tried last for a while.
    pub suspects: Mutex<HashMap<String, std::time::Instant>>,
    /// Verified blocks of small reads.
    pub blocks: Mutex<blockcache::BlockCache>,
}

/// A handle to a ferrofs cluster. Cheap to clone; clones share caches and connections.
#[derive(Clone)]
pub struct Client {
    pub master: MasterClient,
    pub chunks: ChunkIo,
    pub(crate) inner: Arc<Inner>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(std::time::Duration::from_secs(3))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Protocol {
                from: "http client".into(),
                msg: e.to_string(),
            })?;
        Ok(Client {
            master: MasterClient::new(&cfg, http.clone()),
            chunks: ChunkIo::new(http).with_read_stall_timeout(cfg.read_stall_timeout),
            inner: Arc::new(Inner {
                locs: Mutex::new(HashMap::new()),
                leases: Mutex::new(HashMap::new()),
                chunk_size: Mutex::new(None),
                suspects: Mutex::new(HashMap::new()),
                blocks: Mutex::new(blockcache::BlockCache::new(cfg.block_cache_bytes)),
                cfg,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// Bytes of verified blocks held by the small-read cache.
    pub fn cached_block_bytes(&self) -> u64 {
        self.inner.blocks.lock().bytes()
    }
}
