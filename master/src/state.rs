//! The master's shared state: the RocksDB namespace, the in-memory cluster view (chunk
//! table + chunkserver registry + copies in flight), counters, and worker statuses.

use crate::chunks::{ChunkState, ChunkTable, LeaseState, Liveness};
use crate::config::MasterConfig;
use crate::db::{self, Db};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::records::{ChunkRec, InodeRec};
use crate::registry::Registry;
use ferrofs_proto::admin::RereplicationProgress;
use ferrofs_proto::heartbeat::Command;
use ferrofs_proto::namespace::{FileKind, Timespec};
use ferrofs_proto::{ChunkId, CsId, Ino, ROOT_INO};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Chunk ids reserved per durable counter write.
const CHUNK_ID_BLOCK: u64 = 1024;

/// Serializes lease decisions for one chunk slot (file, index).
pub(crate) type LeaseLock = Arc<tokio::sync::Mutex<()>>;

/// A replica copy the master has commanded and not yet seen complete.
#[derive(Debug, Clone)]
pub struct CopyJob {
    pub source: CsId,
    pub target: CsId,
    pub started: Instant,
}

#[derive(Debug, Default)]
pub struct Cluster {
    pub chunks: ChunkTable,
    pub reg: Registry,
    pub copies: HashMap<ChunkId, Vec<CopyJob>>,
    pub progress: RereplicationProgress,
    pub safe_mode: bool,
    /// Balancer hints: when this chunk is over goal, trim the replica on this server.
    pub prefer_trim: HashMap<ChunkId, CsId>,
}

pub struct Master {
    pub cfg: MasterConfig,
    pub db: Db,
    /// Serializes namespace mutations (check-then-write must be atomic). Reads skip it.
    pub(crate) ns_lock: Mutex<()>,
    pub cluster: Mutex<Cluster>,
    pub http: reqwest::Client,
    pub(crate) next_ino: AtomicU64,
    pub(crate) next_chunk: AtomicU64,
    /// Chunk ids below this are durably reserved (see `alloc_chunk_id_durable`).
    pub(crate) chunk_reserved: AtomicU64,
    pub(crate) reserve_lock: tokio::sync::Mutex<()>,
    pub(crate) lease_locks: Mutex<HashMap<(Ino, u64), LeaseLock>>,
    pub started: Instant,
    pub metrics: Metrics,
    pub workers: Mutex<BTreeMap<String, String>>,
    pub(crate) files: AtomicU64,
    /// Namespace changes, for mounts' metadata caches.
    pub changes: crate::changes::ChangeFeed,
    /// Wakes the re-replication worker early: a copy ended, so a slot is free.
    pub rereplication_wake: tokio::sync::Notify,
    /// Wakes the failure prober early: a chunkserver's presence poll was dropped.
    pub prober_wake: tokio::sync::Notify,
    /// Flips to true when the master starts shutting down (ends presence polls).
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The dashboard's one-second samples and the counters feeding them.
    pub history: crate::history::Recorder,
}

impl Master {
    /// Open the namespace, create the root on first start, load the chunk table, and
    /// purge files left open-but-unlinked by a previous run.
    pub fn open(cfg: MasterConfig) -> Result<Arc<Master>> {
        let db = Db::open(&cfg.data_dir, cfg.wal_sync_interval)?;
        let http = reqwest::Client::builder()
            .timeout(cfg.rpc_timeout)
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| crate::error::MasterError::Config(e.to_string()))?;
        let counter = |name: &str, default: u64| -> Result<u64> {
            Ok(db
                .get_raw(&db::counter_key(name))?
                .map(|v| db::be_u64(&v))
                .unwrap_or(default))
        };
        // The counters are lower bounds; the keys in use are the truth.
        let next_ino = counter("ino", ROOT_INO + 1)?.max(db.last_key_u64(b'I')? + 1);
        let next_chunk = counter("chunk", 1)?.max(db.last_key_u64(b'K')? + 1);
        let files = counter("files", 0)?;
        let m = Master {
            db,
            http,
            ns_lock: Mutex::new(()),
            cluster: Mutex::new(Cluster {
                safe_mode: true,
                ..Default::default()
            }),
            next_ino: AtomicU64::new(next_ino),
            next_chunk: AtomicU64::new(next_chunk),
            chunk_reserved: AtomicU64::new(next_chunk),
            reserve_lock: tokio::sync::Mutex::new(()),
            lease_locks: Mutex::new(HashMap::new()),
            started: Instant::now(),
            metrics: Metrics::default(),
            workers: Mutex::new(BTreeMap::new()),
            files: AtomicU64::new(files),
            changes: Default::default(),
            rereplication_wake: tokio::sync::Notify::new(),
            prober_wake: tokio::sync::Notify::new(),
            stopping: tokio::sync::watch::channel(false).0,
            history: Default::default(),
            cfg,
        };
        if m.db.get::<InodeRec>(&db::inode_key(ROOT_INO))?.is_none() {
            let now = Timespec::now();
            let root = InodeRec {
                kind: FileKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                atime: now,
                mtime: now,
                ctime: now,
                nlink: 2,
                rdev: 0,
                replication: m.cfg.default_replication,
                parent: ROOT_INO,
                target: None,
            };
            let mut b = rocksdb::WriteBatch::default();
            b.put(db::inode_key(ROOT_INO), db::encode(&root));
            let seq = m.db.write(b)?;
            let _ = seq;
            tracing::info!("created root directory");
        }
        m.load_chunks()?;
        m.purge_orphans()?;
        Ok(Arc::new(m))
    }

    fn load_chunks(&self) -> Result<()> {
        let mut goals: HashMap<Ino, u8> = HashMap::new();
        let mut table = ChunkTable::default();
        for kv in self.db.scan(b"K") {
            let (k, v) = kv?;
            let id = db::be_u64(&k[1..]);
            let rec: ChunkRec = db::decode(&v)?;
            let goal = match goals.get(&rec.ino) {
                Some(g) => *g,
                None => {
                    let g = self
                        .db
                        .get::<InodeRec>(&db::inode_key(rec.ino))?
                        .map(|i| i.replication)
                        .unwrap_or(self.cfg.default_replication);
                    goals.insert(rec.ino, g);
                    g
                }
            };
            table.chunks.insert(
                id,
                ChunkState {
                    ino: rec.ino,
                    index: rec.index,
                    version: rec.version,
                    goal,
                    replicas: BTreeMap::new(),
                    length: 0,
                    lease: None,
                    allocating: false,
                },
            );
        }
        // Leases granted before the restart may still be in use: their holders can write
        // at the current version until the lease ends, so no copies of those chunks yet.
        let now = db::now_ms();
        let mut leased = 0;
        for kv in self.db.scan(b"L") {
            let (k, v) = kv?;
            let until = db::be_u64(&v);
            if let Some(c) = table
                .chunks
                .get_mut(&db::be_u64(&k[1..]))
                .filter(|_| until > now)
            {
                c.lease = Some(LeaseState {
                    version: c.version,
                    replicas: vec![],
                    expires: Instant::now() + std::time::Duration::from_millis(until - now),
                });
                leased += 1;
            }
        }
        tracing::info!(chunks = table.chunks.len(), leased, "loaded chunk table");
        self.cluster.lock().chunks = table;
        Ok(())
    }

    pub fn liveness(&self) -> Liveness {
        Liveness {
            dead: self.cfg.dead_timeout,
            window: self.cfg.maintenance_window,
        }
    }

    pub(crate) fn alloc_ino(&self) -> Ino {
        self.next_ino.fetch_add(1, Ordering::AcqRel)
    }

    /// Allocate a chunk id that can never be handed out again, even after a crash:
    /// ids come from a block reserved durably in advance (`CHUNK_ID_BLOCK` at a time).
    pub(crate) async fn alloc_chunk_id_durable(&self) -> Result<ChunkId> {
        let id = self.next_chunk.fetch_add(1, Ordering::AcqRel);
        if id < self.chunk_reserved.load(Ordering::Acquire) {
            return Ok(id);
        }
        let _g = self.reserve_lock.lock().await;
        if id >= self.chunk_reserved.load(Ordering::Acquire) {
            let upto = self.next_chunk.load(Ordering::Acquire).max(id + 1) + CHUNK_ID_BLOCK;
            let mut b = rocksdb::WriteBatch::default();
            b.put(db::counter_key("chunk"), upto.to_be_bytes());
            let seq = self.db.write(b)?;
            self.db.wait_durable(seq).await;
            self.chunk_reserved.fetch_max(upto, Ordering::AcqRel);
        }
        Ok(id)
    }

    /// Persist the inode and file counters in `b`. Only namespace mutations call this,
    /// under `ns_lock`, so the persisted inode counter never goes backwards.
    pub(crate) fn put_counters(&self, b: &mut rocksdb::WriteBatch) {
        b.put(
            db::counter_key("ino"),
            self.next_ino.load(Ordering::Acquire).to_be_bytes(),
        );
        b.put(
            db::counter_key("files"),
            self.files.load(Ordering::Acquire).to_be_bytes(),
        );
    }

    /// Forget chunks whose file is gone or truncated, and tell their holders to delete
    /// them. Holders that are down now delete them when they report them on return.
    pub(crate) fn drop_chunks(&self, ids: &[ChunkId]) {
        if ids.is_empty() {
            return;
        }
        let mut cl = self.cluster.lock();
        for id in ids {
            if let Some(c) = cl.chunks.chunks.remove(id) {
                cl.copies.remove(id);
                for holder in c.replicas.keys() {
                    cl.reg.push_command(
                        holder,
                        Command::Delete {
                            chunk_id: *id,
                            max_version: None,
                        },
                    );
                }
            }
        }
        self.metrics.chunks_deleted.inc_by(ids.len() as u64);
    }

    pub fn set_worker_status(&self, name: &str, status: impl Into<String>) {
        self.workers.lock().insert(name.to_string(), status.into());
    }

    pub fn file_count(&self) -> u64 {
        self.files.load(Ordering::Acquire)
    }
}
