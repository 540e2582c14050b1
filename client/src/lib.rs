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
pub mod deferred;
pub mod error;
mod file;
pub mod master;
mod namespace;
pub mod staged;
mod stream;
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
    /// Chunks written since the last commit of each file (index -> chunk id).
    pub written: Mutex<HashMap<Ino, std::collections::BTreeMap<u64, ferrofs_proto::ChunkId>>>,
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
    pub fn new(mut cfg: ClientConfig) -> Result<Client> {
        // Every master URL in the transport's scheme (an https one without TLS material
        // is an error here, not a failed handshake later).
        cfg.master = master::parse_masters(&cfg.master)
            .iter()
            .map(|m| cfg.transport.base_url(m))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Config(e.to_string()))?
            .join(",");
        let http = http_client(&cfg)?;
        Ok(Client {
            master: MasterClient::new(&cfg, http.clone()),
            chunks: ChunkIo::new(http, cfg.transport.clone())
                .with_read_stall_timeout(cfg.read_stall_timeout),
            inner: Arc::new(Inner {
                locs: Mutex::new(HashMap::new()),
                leases: Mutex::new(HashMap::new()),
                written: Mutex::new(HashMap::new()),
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

    /// Name this client's namespace calls with `origin` in the master's change feed
    /// (a mount uses it to skip the changes it made itself).
    pub fn with_origin(mut self, origin: u64) -> Client {
        self.master = self.master.with_origin(origin);
        self
    }

    /// A clone with connections of its own, sharing every cache with `self`: for a
    /// thread that runs its own current-thread runtime (the FUSE workers), so a call's
    /// socket I/O happens on the calling thread instead of bouncing through runtime
    /// worker threads (about half the latency of a master call on a small machine).
    /// Use it only from that one runtime: its connections are driven by it.
    pub fn with_own_connections(&self) -> Result<Client> {
        let http = http_client(&self.inner.cfg)?;
        Ok(Client {
            master: self.master.with_http(http.clone()),
            chunks: self.chunks.with_http(http),
            inner: self.inner.clone(),
        })
    }
}

fn http_client(cfg: &ClientConfig) -> Result<reqwest::Client> {
    cfg.transport
        .client(
            reqwest::Client::builder()
                .timeout(cfg.request_timeout)
                .connect_timeout(std::time::Duration::from_secs(3))
                .pool_max_idle_per_host(64)
                .tcp_nodelay(true),
        )
        .map_err(|e| ClientError::Protocol {
            from: "http client".into(),
            msg: e.to_string(),
        })
}
