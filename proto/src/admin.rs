//! Admin HTTP API of the master (JSON, versioned under `/api/v1`).

use crate::{ChunkId, CsId, Ino, Version};
use serde::{Deserialize, Serialize};

pub const STATUS: &str = "/api/v1/status";
/// `GET ?path=P`: `FileInfo`.
pub const FILES: &str = "/api/v1/files";
pub const CHUNKSERVERS: &str = "/api/v1/chunkservers";
/// `GET`: chunks below goal, most urgent first.
pub const UNDER_REPLICATED: &str = "/api/v1/chunks/under-replicated";
/// `POST` JSON `SetReplicationReq` (needs the admin token).
pub const SET_REPLICATION: &str = "/api/v1/replication";
/// `GET ?path=P`: `FsckResp`.
pub const FSCK: &str = "/api/v1/fsck";
/// `POST /api/v1/chunkservers/{id}/maintenance` JSON `{"on": bool}` (admin token).
pub fn maintenance_path(id: &str) -> String {
    format!("/api/v1/chunkservers/{id}/maintenance")
}
/// `POST /api/v1/chunkservers/{id}/decommission` (admin token).
pub fn decommission_path(id: &str) -> String {
    format!("/api/v1/chunkservers/{id}/decommission")
}
pub const METRICS: &str = "/metrics";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsState {
    Alive,
    Dead,
    Maintenance,
    Decommissioning,
    Decommissioned,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkserverStatus {
    pub id: CsId,
    pub addr: String,
    pub alive: bool,
    pub state: CsState,
    pub chunks: u64,
    pub used_bytes: u64,
    pub capacity_bytes: u64,
    pub copies_in_flight: u32,
    pub last_heartbeat_ms_ago: u64,
    /// Its presence poll is open, so a crash of its process is noticed at once.
    #[serde(default)]
    pub presence: bool,
    /// Its rack (failure domain): with two or more, every chunk spans two.
    #[serde(default)]
    pub rack: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChunkHealth {
    pub total: u64,
    pub healthy: u64,
    pub under_replicated: u64,
    pub over_replicated: u64,
    pub missing: u64,
    /// Chunks with exactly one live replica left (most urgent).
    pub endangered: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub name: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub chunkservers: Vec<ChunkserverStatus>,
    pub chunks: ChunkHealth,
    pub files: u64,
    pub safe_mode: bool,
    pub default_replication: u8,
    pub chunk_size: u64,
    pub workers: Vec<WorkerStatus>,
    /// Replica copies completed / bytes copied since the master started.
    pub rereplication: RereplicationProgress,
    /// Plain-language problems, e.g. chunks that cannot be healed and why.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// This master's id and whether it leads the group (status is the view of the
    /// member that answered; the leader's is authoritative).
    #[serde(default)]
    pub master_id: u64,
    #[serde(default)]
    pub leader: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RereplicationProgress {
    pub queued: u64,
    pub in_flight: u64,
    pub completed: u64,
    pub bytes_copied: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileChunk {
    pub index: u64,
    pub id: ChunkId,
    pub version: Version,
    /// Chunkservers holding the current version (alive or not).
    pub replicas: Vec<CsId>,
    /// Of those, the live ones.
    pub live_replicas: Vec<CsId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub ino: Ino,
    pub size: u64,
    pub replication: u8,
    pub chunks: Vec<FileChunk>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PathQuery {
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetReplicationReq {
    pub path: String,
    pub replication: u8,
    #[serde(default)]
    pub recursive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetReplicationResp {
    pub files_changed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnderReplicatedChunk {
    pub id: ChunkId,
    pub ino: Ino,
    pub index: u64,
    pub live: u32,
    pub goal: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileHealth {
    Healthy,
    UnderReplicated,
    Missing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsckFile {
    pub path: String,
    pub health: FileHealth,
    pub chunks: u64,
    pub under_replicated: u64,
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsckResp {
    pub files: Vec<FsckFile>,
    pub healthy: u64,
    pub under_replicated: u64,
    pub missing: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceReq {
    pub on: bool,
}

/// `GET ?since=<unix ms>`: `HistoryResp`, the master's one-second samples newer than
/// `since` (all it keeps, about an hour, without it).
pub const HISTORY: &str = "/api/v1/history";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    pub since: u64,
}

/// One chunkserver's disk in a history sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskSample {
    pub id: CsId,
    pub used_bytes: u64,
    pub capacity_bytes: u64,
    pub alive: bool,
}

/// The cluster over one sample interval. Rates are per second over the interval
/// (bytes counted by the chunkservers: written counts every replica's copy).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistorySample {
    /// Unix time of the sample, milliseconds.
    pub t: u64,
    pub read_bps: f64,
    pub write_bps: f64,
    /// Namespace calls (lookups, creates, renames ...) per second.
    pub meta_ops: f64,
    pub rereplication_bps: f64,
    pub chunks: u64,
    pub under_replicated: u64,
    pub missing: u64,
    pub disks: Vec<DiskSample>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryResp {
    pub interval_ms: u64,
    pub samples: Vec<HistorySample>,
}
