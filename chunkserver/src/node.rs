//! Shared state of a running chunkserver (identity, store, HTTP client, what the master
//! told us) and the checks every handler uses: tokens, the cluster secret, free space.

use crate::config::ChunkserverConfig;
use crate::error::{ChunkserverError as E, IoContext, Result};
use crate::store::Store;
use ferrofs_proto::token::{self, Access};
use ferrofs_proto::{ChunkId, CsId};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tracing::warn;

pub struct Node {
    pub config: ChunkserverConfig,
    pub id: CsId,
    /// Advertised `host:port`.
    pub addr: String,
    pub store: Arc<Store>,
    pub http: reqwest::Client,
    /// Plain HTTP or mutual TLS: the scheme of every URL this node builds.
    pub transport: ferrofs_tls::Transport,
    pub capacity: u64,
    /// Learned from the master's register reply; 0 until then.
    pub chunk_size: AtomicU64,
    pub heartbeat_interval_ms: AtomicU64,
    pub copies: tokio::sync::Semaphore,
    pub copies_in_flight: AtomicU32,
    /// (chunk, target addr) of copies queued or running, to ignore repeated commands.
    pub copying: Mutex<HashSet<(ChunkId, String)>>,
    pub io_bytes: AtomicU64,
    /// Bytes read for clients and written into replicas (the master's history).
    pub read_bytes: AtomicU64,
    pub written_bytes: AtomicU64,
    pub scrub_status: Mutex<String>,
    /// Highest master term heard in a heartbeat reply (commands of older terms are
    /// ignored).
    pub master_term: AtomicU64,
}

impl Node {
    pub fn new(
        config: ChunkserverConfig,
        id: CsId,
        addr: String,
        store: Arc<Store>,
        capacity: u64,
    ) -> Result<Node> {
        let transport = ferrofs_tls::Transport::load(config.tls_dir.as_deref())
            .map_err(|e| E::Config(e.to_string()))?;
        let http = transport
            .client(
                reqwest::Client::builder()
                    .connect_timeout(config.request_timeout)
                    .pool_idle_timeout(Duration::from_secs(30)),
            )
            .map_err(|e| E::Internal(format!("building HTTP client: {e}")))?;
        Ok(Node {
            id,
            addr,
            store,
            http,
            transport,
            capacity,
            chunk_size: AtomicU64::new(0),
            heartbeat_interval_ms: AtomicU64::new(config.heartbeat_interval.as_millis() as u64),
            copies: tokio::sync::Semaphore::new(config.max_concurrent_copies),
            copies_in_flight: AtomicU32::new(0),
            copying: Mutex::new(HashSet::new()),
            io_bytes: AtomicU64::new(0),
            master_term: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            written_bytes: AtomicU64::new(0),
            scrub_status: Mutex::new("not started".into()),
            config,
        })
    }

    /// Chunk size from the master; NotReady before registration.
    pub fn chunk_size(&self) -> Result<u64> {
        match self.chunk_size.load(Ordering::Relaxed) {
            0 => Err(E::NotReady(
                "chunkserver has not registered with the master yet".into(),
            )),
            n => Ok(n),
        }
    }

    pub fn check_token(&self, token: &str, chunk: ChunkId, access: Access) -> Result<()> {
        token::verify(self.config.secret.as_bytes(), token, chunk, access)
            .map_err(|e| E::PermissionDenied(e.to_string()))
    }

    /// Internal calls must carry the cluster secret (when one is configured).
    pub fn check_secret(&self, headers: &axum::http::HeaderMap) -> Result<()> {
        let want = self.config.secret.as_bytes();
        if want.is_empty() {
            return Ok(());
        }
        let got = headers
            .get(ferrofs_proto::SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let same = ferrofs_proto::token::constant_time_eq(got, want);
        if same {
            Ok(())
        } else {
            Err(E::Unauthorized("missing or wrong cluster secret".into()))
        }
    }

    /// Capacity reported to the master: what chunks may use, i.e. without the reserve,
    /// so the master stops placing chunks here before this server starts refusing them.
    pub fn usable_capacity(&self) -> u64 {
        self.capacity
            .saturating_sub(self.config.reserve_bytes)
            .max(1)
    }

    /// Free bytes: the smaller of capacity minus used and the filesystem's free space.
    pub fn free_bytes(&self) -> u64 {
        let by_capacity = self.capacity.saturating_sub(self.store.used_bytes());
        match fs_stats(&self.config.data_dir) {
            Some((_, avail)) => by_capacity.min(avail),
            None => by_capacity,
        }
    }

    /// Refuse new data that would leave less than the reserve free.
    pub fn check_space(&self, extra: u64) -> Result<()> {
        let free = self.free_bytes();
        if free < self.config.reserve_bytes.saturating_add(extra) {
            return Err(E::NoSpace(format!(
                "{free} bytes free, reserve is {} bytes",
                self.config.reserve_bytes
            )));
        }
        Ok(())
    }

    /// Run blocking store work off the runtime. A checksum failure quarantines the
    /// replica, so it is never served again and the master hears of it.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| E::Internal(format!("blocking task failed: {e}")))?;
        if let Err(E::Corrupt {
            chunk,
            version,
            block,
        }) = &r
        {
            let (chunk, version) = (*chunk, *version);
            warn!(chunk = %ferrofs_proto::ids::chunk_name(chunk), version, block, "checksum mismatch: quarantining replica");
            let store = self.store.clone();
            let q = tokio::task::spawn_blocking(move || store.quarantine(chunk, version)).await;
            if let Ok(Err(e)) = q {
                warn!(error = %e, "quarantine failed");
            }
        }
        r
    }
}

/// (total, available) bytes of the filesystem holding `path`.
pub fn fs_stats(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes into the zeroed struct we pass; `c` is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    Some((s.f_blocks as u64 * frsize, s.f_bavail as u64 * frsize))
}

/// Load the chunkserver id from `{data_dir}/cs_id`, creating it on first start.
pub fn load_or_create_id(data_dir: &Path) -> Result<CsId> {
    let p = data_dir.join("cs_id");
    match std::fs::read_to_string(&p) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(E::io(format!("read {}", p.display()), e)),
    }
    let id = format!("cs-{:08x}", rand::random::<u32>());
    let tmp = data_dir.join("cs_id.tmp");
    std::fs::write(&tmp, format!("{id}\n")).ctx(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &p).ctx(|| format!("rename {}", tmp.display()))?;
    Ok(id)
}
