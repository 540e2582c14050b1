//! In-memory views every master member keeps beside the replicated state: the cluster
//! (chunk table with soft replica locations, chunkserver registry, leader-side copy
//! bookkeeping), the namespace change feed for mounts, and the cluster's format. The
//! state machine store updates them from the effects of each applied command
//! ([`Views::apply_effects`]) and rebuilds them from the stored state at start and
//! after a snapshot is installed ([`Views::reload`]).

use crate::changes::ChangeFeed;
use crate::chunks::{ChunkState, ChunkTable};
use crate::db::{self, Db};
use crate::registry::Registry;
use crate::scan::Scan;
use crate::sm::{ChunkRec, Effect, InodeRec, LeaseRec, ServerModeRec};
use ferrofs_proto::admin::RereplicationProgress;
use ferrofs_proto::heartbeat::Command;
use ferrofs_proto::{ChunkId, CsId, Ino, Version};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// A replica copy the master has commanded and not yet seen complete.
#[derive(Debug, Clone)]
pub struct CopyJob {
    pub source: CsId,
    pub target: CsId,
    pub started: Instant,
}

/// A replica report of a chunk this member does not know yet (a follower hears of a new
/// chunk's replicas before it applies the allocation).
#[derive(Debug, Clone)]
pub struct EarlyReport {
    pub cs: CsId,
    pub version: Version,
    pub length: u64,
}

/// Most early reports kept (older ones are dropped; a full report brings them back).
const EARLY_MAX: usize = 100_000;

#[derive(Debug, Default)]
pub struct Cluster {
    pub chunks: ChunkTable,
    pub reg: Registry,
    pub copies: HashMap<ChunkId, Vec<CopyJob>>,
    pub progress: RereplicationProgress,
    pub safe_mode: bool,
    /// Balancer hints: when this chunk is over goal, trim the replica on this server.
    pub prefer_trim: HashMap<ChunkId, CsId>,
    /// Operator modes of chunkservers, from the state machine.
    pub modes: HashMap<CsId, ServerModeRec>,
    /// Reports of chunks not (yet) in the table, kept by followers.
    pub early: HashMap<ChunkId, Vec<EarlyReport>>,
    /// Which chunks the re-replication pass looks at next.
    pub scan: Scan,
    /// Leader: empty chunks made ahead of need (`crate::pool`).
    pub pool: crate::pool::ChunkPool,
}

impl Cluster {
    pub fn remember_early(&mut self, chunk: ChunkId, r: EarlyReport) {
        if self.early.len() >= EARLY_MAX {
            self.early.clear();
        }
        let v = self.early.entry(chunk).or_default();
        v.retain(|e| e.cs != r.cs);
        v.push(r);
    }
}

/// The cluster's format, fixed by the first command of the group.
#[derive(Debug, Clone, Copy, Default)]
pub struct Format {
    pub chunk_size: u64,
    pub default_replication: u8,
}

#[derive(Default)]
pub struct Views {
    pub cluster: Mutex<Cluster>,
    pub changes: ChangeFeed,
    format: Mutex<Format>,
    files: AtomicU64,
    /// This member leads the group (set by the leadership watcher). Only a leader
    /// queues commands for chunkservers.
    leader: AtomicBool,
}

impl Views {
    pub fn format(&self) -> Format {
        *self.format.lock()
    }

    pub fn file_count(&self) -> u64 {
        self.files.load(Ordering::Acquire)
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Release);
    }

    /// Rebuild everything derived from the stored state (at start, after a snapshot).
    pub fn reload(&self, db: &Db) -> crate::error::Result<()> {
        let counter = |name: &str| -> crate::error::Result<u64> {
            Ok(db
                .get_raw(&db::counter_key(name))?
                .map(|v| db::be_u64(&v))
                .unwrap_or(0))
        };
        *self.format.lock() = Format {
            chunk_size: counter(db::CHUNK_SIZE)?,
            default_replication: counter(db::DEFAULT_REPLICATION)? as u8,
        };
        self.files.store(counter(db::FILES)?, Ordering::Release);
        let mut goals: HashMap<Ino, u8> = HashMap::new();
        let mut table = ChunkTable::default();
        for kv in db.scan(b"K") {
            let (k, v) = kv?;
            let id = db::be_u64(&k[1..]);
            let rec: ChunkRec = db::decode(&v)?;
            let goal = match goals.get(&rec.ino) {
                Some(g) => *g,
                None => {
                    let g = db
                        .get::<InodeRec>(&db::inode_key(rec.ino))?
                        .map(|i| i.replication)
                        .unwrap_or(self.format().default_replication);
                    goals.insert(rec.ino, g);
                    g
                }
            };
            table.insert(
                id,
                ChunkState::recorded(rec.ino, rec.index, rec.version, goal),
            );
        }
        let mut leased = 0;
        for kv in db.scan(b"L") {
            let (k, v) = kv?;
            let Ok(lease) = db::decode::<LeaseRec>(&v) else {
                continue;
            };
            if let Some(c) = table.get_mut(&db::be_u64(&k[1..])) {
                c.lease = Some(lease);
                leased += 1;
            }
        }
        let mut modes = HashMap::new();
        for kv in db.scan(b"M") {
            let (k, v) = kv?;
            let cs = String::from_utf8_lossy(&k[1..]).into_owned();
            modes.insert(cs, db::decode::<ServerModeRec>(&v)?);
        }
        tracing::info!(chunks = table.len(), leased, "loaded chunk table");
        let mut cl = self.cluster.lock();
        // Replica locations are soft state: keep what chunkservers reported.
        for (id, c) in table.iter_mut() {
            if let Some(old) = cl.chunks.get(id) {
                c.replicas = old.replicas.clone();
                c.length = old.length;
            }
        }
        cl.chunks = table;
        for (cs, m) in &modes {
            cl.reg.set_mode(cs, m);
        }
        cl.modes = modes;
        Ok(())
    }

    /// Apply the effects of one applied command.
    pub fn apply_effects(&self, effects: Vec<Effect>) {
        let leader = self.is_leader();
        for e in effects {
            match e {
                Effect::Changed { origin, items } => self.changes.push(origin, items),
                Effect::Formatted {
                    chunk_size,
                    default_replication,
                } => {
                    *self.format.lock() = Format {
                        chunk_size,
                        default_replication,
                    };
                }
                Effect::ChunkAdded {
                    chunk,
                    ino,
                    index,
                    version,
                    goal,
                    lease,
                } => {
                    let mut cl = self.cluster.lock();
                    let early = cl.early.remove(&chunk).unwrap_or_default();
                    let c = cl
                        .chunks
                        .entry(chunk)
                        .or_insert_with(|| ChunkState::recorded(ino, index, version, goal));
                    c.allocating = false;
                    c.version = c.version.max(version);
                    c.goal = goal;
                    c.copied = false;
                    if let Some(l) = &lease {
                        for r in &l.replicas {
                            c.replicas.insert(r.clone(), version);
                        }
                    }
                    for r in early {
                        c.replicas.insert(r.cs, r.version);
                        c.length = c.length.max(r.length);
                    }
                    c.lease = lease;
                }
                Effect::ChunkVersion {
                    chunk,
                    version,
                    replicas,
                    lease,
                } => {
                    let mut cl = self.cluster.lock();
                    if let Some(c) = cl.chunks.get_mut(&chunk) {
                        c.version = c.version.max(version);
                        for r in replicas {
                            c.replicas.insert(r, version);
                        }
                        c.lease = lease;
                        c.copied = false;
                    }
                }
                Effect::LeaseChanged { chunk, lease } => {
                    if let Some(c) = self.cluster.lock().chunks.get_mut(&chunk) {
                        c.lease = lease;
                    }
                }
                Effect::ChunksDropped(ids) => {
                    let mut cl = self.cluster.lock();
                    for id in &ids {
                        cl.early.remove(id);
                        if let Some(c) = cl.chunks.remove(id) {
                            cl.copies.remove(id);
                            if leader {
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
                    }
                }
                Effect::GoalChanged { chunks, goal } => {
                    let mut cl = self.cluster.lock();
                    for id in chunks {
                        if let Some(c) = cl.chunks.get_mut(&id) {
                            c.goal = goal;
                        }
                    }
                }
                Effect::ServerMode {
                    cs,
                    maintenance_since_ms,
                    decommission,
                } => {
                    let m = ServerModeRec {
                        maintenance_since_ms,
                        decommission,
                    };
                    let mut cl = self.cluster.lock();
                    cl.reg.set_mode(&cs, &m);
                    cl.modes.insert(cs, m);
                }
            }
        }
    }

    /// The file count after an applied command (kept beside the stored counter).
    pub fn set_file_count(&self, n: u64) {
        self.files.store(n, Ordering::Release);
    }
}
