//! The master: one member of the master group. It owns the Raft node (whose state
//! machine holds the namespace), the in-memory views derived from it, and the
//! leader-only bookkeeping (lease decisions, the chunk id block, which clients hold
//! unlinked files open). Proposing a command and reading linearizably live here.

use crate::config::MasterConfig;
use crate::db::{self, Db};
use crate::error::{MasterError, Result};
use crate::metrics::Metrics;
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::sm_store::SmStore;
use crate::raft::snapshot::SnapshotFiles;
use crate::raft::{LogId, Member, NodeId, Raft};
use crate::sm::{Command, Ctx, Op, Reply};
use crate::views::{Cluster, Views};
use ferrofs_proto::namespace::Timespec;
use ferrofs_proto::{ApiError, ErrorCode, Ino};
use openraft::error::{ClientWriteError, RaftError};
use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Serializes lease decisions for one chunk slot (file, index).
pub(crate) type LeaseLock = Arc<tokio::sync::Mutex<()>>;

/// Chunk ids the leader may hand out: `[next, upto)` was reserved through the log.
#[derive(Debug, Default)]
pub(crate) struct IdBlock {
    pub next: u64,
    pub upto: u64,
}

pub struct Master {
    pub cfg: MasterConfig,
    pub id: NodeId,
    /// `host:port` this member is reached at.
    pub addr: String,
    pub db: Db,
    pub raft: Raft,
    pub(crate) log: LogStore,
    pub views: Arc<Views>,
    pub http: reqwest::Client,
    /// Plain HTTP or mutual TLS: the scheme of every URL this member builds.
    pub transport: ferrofs_tls::Transport,
    pub(crate) lease_locks: Mutex<HashMap<(Ino, u64), LeaseLock>>,
    pub(crate) ids: tokio::sync::Mutex<IdBlock>,
    /// Chunk ids at or above this were seen on chunkservers (never hand them out).
    pub(crate) id_floor: AtomicU64,
    /// Leader: which clients reported holding which inodes open, and when.
    pub(crate) claims: Mutex<HashMap<Ino, HashMap<u64, Instant>>>,
    /// When this member last became leader (None: not leader).
    pub(crate) leader_since: Mutex<Option<Instant>>,
    pub started: Instant,
    pub metrics: Metrics,
    pub workers: Mutex<BTreeMap<String, String>>,
    /// Wakes the re-replication worker early: a copy ended, so a slot is free.
    pub rereplication_wake: tokio::sync::Notify,
    /// Wakes the failure prober early: a chunkserver's presence poll was dropped.
    pub prober_wake: tokio::sync::Notify,
    /// Flips to true when the master starts shutting down (ends presence polls).
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The state was converted from a single master's (before the group existed): the
    /// first leadership takes a snapshot so members added later start from it.
    pub(crate) migrated: bool,
    /// The dashboard's one-second samples and the counters feeding them.
    pub history: crate::history::Recorder,
}

impl Master {
    /// Open the state and log, start the Raft node, and on a fresh group initialize it
    /// with `peers` (every member does the same; the first to be elected formats it).
    pub async fn open(cfg: MasterConfig, addr: String) -> Result<Arc<Master>> {
        let db = Db::open(&cfg.data_dir, cfg.wal_sync_interval)?;
        let migrated = crate::migrate::run(&db, &cfg).await?;
        let transport = ferrofs_tls::Transport::load(cfg.tls_dir.as_deref())
            .map_err(|e| MasterError::Config(e.to_string()))?;
        let http = transport
            .client(
                reqwest::Client::builder()
                    .timeout(cfg.rpc_timeout)
                    .pool_max_idle_per_host(32)
                    .tcp_nodelay(true),
            )
            .map_err(|e| MasterError::Config(e.to_string()))?;
        let views = Arc::new(Views::default());
        views.cluster.lock().safe_mode = true;
        let files = SnapshotFiles::open(cfg.data_dir.join("snapshots"))?;
        let log = LogStore::new(db.clone(), cfg.sync_log);
        let sm = SmStore::open(db.clone(), views.clone(), files)
            .map_err(|e| MasterError::Config(format!("state machine: {e}")))?;
        let rcfg = openraft::Config {
            cluster_name: "ferrofs".into(),
            heartbeat_interval: cfg.raft_heartbeat.as_millis() as u64,
            election_timeout_min: cfg.election_timeout.as_millis() as u64,
            election_timeout_max: 2 * cfg.election_timeout.as_millis() as u64,
            install_snapshot_timeout: 10_000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(cfg.snapshot_every),
            max_in_snapshot_log_to_keep: 1000,
            max_payload_entries: 1000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| MasterError::Config(format!("raft: {e}")))?;
        let net = Network::new(http.clone(), cfg.secret.clone(), transport.scheme());
        let raft = Raft::new(cfg.id, Arc::new(rcfg), net, log.clone(), sm)
            .await
            .map_err(|e| MasterError::Config(format!("raft: {e}")))?;
        if cfg.join {
            tracing::info!(id = cfg.id, "waiting to be added to a master group");
        } else if !raft
            .is_initialized()
            .await
            .map_err(|e| MasterError::Config(e.to_string()))?
        {
            let mut members: BTreeMap<NodeId, Member> = cfg
                .peer_map()
                .map_err(MasterError::Config)?
                .into_iter()
                .map(|(id, addr)| (id, Member { addr }))
                .collect();
            if members.is_empty() {
                members.insert(cfg.id, Member { addr: addr.clone() });
            }
            tracing::info!(members = ?members, "initializing a new master group");
            match raft.initialize(members).await {
                Ok(()) => {}
                Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(MasterError::Config(format!("raft initialize: {e}"))),
            }
        }
        let floor = db
            .get_raw(&db::counter_key(db::NEXT_CHUNK))?
            .map(|v| db::be_u64(&v));
        Ok(Arc::new(Master {
            id: cfg.id,
            addr,
            db,
            raft,
            log,
            views,
            http,
            transport,
            lease_locks: Mutex::new(HashMap::new()),
            ids: tokio::sync::Mutex::new(IdBlock::default()),
            id_floor: AtomicU64::new(floor.unwrap_or(1)),
            claims: Mutex::new(HashMap::new()),
            leader_since: Mutex::new(None),
            started: Instant::now(),
            metrics: Metrics::default(),
            workers: Mutex::new(BTreeMap::new()),
            rereplication_wake: tokio::sync::Notify::new(),
            prober_wake: tokio::sync::Notify::new(),
            stopping: tokio::sync::watch::channel(false).0,
            migrated,
            history: Default::default(),
            cfg,
        }))
    }

    pub fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.views.cluster.lock()
    }

    pub fn liveness(&self) -> crate::chunks::Liveness {
        crate::chunks::Liveness {
            dead: self.cfg.dead_timeout,
            window: self.cfg.maintenance_window,
        }
    }

    pub fn chunk_size(&self) -> u64 {
        match self.views.format().chunk_size {
            0 => self.cfg.chunk_size,
            cs => cs,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.views.is_leader()
    }

    pub fn set_worker_status(&self, name: &str, status: impl Into<String>) {
        self.workers.lock().insert(name.to_string(), status.into());
    }

    pub fn file_count(&self) -> u64 {
        self.views.file_count()
    }

    /// Base URL of the current leader, as far as this member knows.
    pub fn leader_url(&self) -> Option<String> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&id)
            .map(|n| self.transport.url(&n.addr, ""))
    }

    fn not_leader(&self, leader: Option<String>) -> MasterError {
        let mut e = ApiError::new(
            ErrorCode::NotLeader,
            match &leader {
                Some(l) => format!("master {} is not the leader; ask {l}", self.id),
                None => format!("master {} is not the leader; no leader is known", self.id),
            },
        );
        e.leader = leader;
        MasterError::Api(e)
    }

    /// Calls only the leader answers (the change feed, statfs, sessions): `NotLeader`
    /// with the leader's address on any other member.
    pub async fn leader_or_redirect(&self) -> Result<()> {
        if self.is_leader() {
            return Ok(());
        }
        Err(self.not_leader(self.leader_url()))
    }

    /// Propose `op` and wait until it is applied; returns the state machine's reply and
    /// the entry's log id. Refusals come back as their `ApiError`s.
    pub async fn propose(&self, ctx: Ctx, op: Op) -> Result<(Reply, LogId)> {
        let name = op.name();
        let write = self.raft.client_write(Command { ctx, op });
        let Ok(res) = tokio::time::timeout(self.cfg.propose_timeout, write).await else {
            self.metrics.propose_timeouts.inc();
            tracing::warn!(op = name, timeout = ?self.cfg.propose_timeout, "a proposal was not committed in time");
            return Err(MasterError::code(
                ErrorCode::NoQuorum,
                format!(
                    "master {} could not commit {name} within {:?} (no quorum reachable?)",
                    self.id, self.cfg.propose_timeout
                ),
            ));
        };
        match res {
            Ok(r) => {
                self.metrics
                    .ns_ops
                    .get_or_create(&crate::metrics::OpLabel { op: name.into() })
                    .inc();
                match r.data {
                    Ok(reply) => Ok((reply, r.log_id)),
                    Err(refusal) => Err(MasterError::Api(refusal.into())),
                }
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(self.not_leader(f.leader_node.map(|n| self.transport.url(&n.addr, ""))))
            }
            Err(RaftError::APIError(e)) => {
                Err(MasterError::code(ErrorCode::Internal, e.to_string()))
            }
            Err(RaftError::Fatal(e)) => Err(MasterError::code(
                ErrorCode::Internal,
                format!("master {} stopped: {e}", self.id),
            )),
        }
    }

    /// Propose a command of the master's own (no retry-cache entry).
    pub async fn propose_internal(&self, op: Op) -> Result<(Reply, LogId)> {
        self.propose(Ctx::internal(Timespec::now()), op).await
    }

    /// Wait until this member may answer a read linearizably: it is the leader (a
    /// quorum confirmed it after the read arrived) and has applied everything committed
    /// before. A deposed leader learns it here and answers `NotLeader`.
    pub async fn read_barrier(&self) -> Result<()> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(self.not_leader(f.leader_node.map(|n| self.transport.url(&n.addr, ""))))
            }
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::QuorumNotEnough(q))) => {
                Err(MasterError::code(
                    ErrorCode::NoQuorum,
                    format!("master {} cannot reach a quorum: {q}", self.id),
                ))
            }
            Err(RaftError::Fatal(e)) => Err(MasterError::code(
                ErrorCode::Internal,
                format!("master {} stopped: {e}", self.id),
            )),
        }
    }

    /// Make everything up to `log_id` durable on a majority of the group: this member
    /// syncs its log, and enough others confirm they synced theirs through that entry.
    pub async fn sync_majority(self: &Arc<Self>, log_id: LogId) -> Result<()> {
        crate::durable::sync_majority(self, log_id).await
    }

    /// Time of the next command (the leader's clock).
    pub fn now() -> Timespec {
        Timespec::now()
    }

    /// A client's claims on open inodes (from `SessionReq`).
    pub fn claim(&self, client: u64, open: &[Ino]) {
        let now = Instant::now();
        let mut c = self.claims.lock();
        for ino in open {
            c.entry(*ino).or_default().insert(client, now);
        }
    }

    /// Does any client other than `except` hold `ino` open (reported within the grace)?
    pub fn claimed(&self, ino: Ino, except: u64) -> bool {
        let grace = self.cfg.orphan_grace;
        self.claims
            .lock()
            .get(&ino)
            .is_some_and(|m| m.iter().any(|(c, t)| *c != except && t.elapsed() < grace))
    }

    pub(crate) fn next_chunk_floor(&self, at_least: u64) {
        self.id_floor.fetch_max(at_least, Ordering::AcqRel);
    }
}
