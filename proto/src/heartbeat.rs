//! Chunkserver <-> master control plane: registration, heartbeats, and the commands the
//! master sends back in heartbeat replies (as HDFS does).

use crate::namespace::ReplicaLoc;
use crate::{ChunkId, CsId, Version};
use serde::{Deserialize, Serialize};

pub const REGISTER: &str = "/rpc/v1/cs/register";
pub const HEARTBEAT: &str = "/rpc/v1/cs/heartbeat";
/// A long poll each chunkserver keeps open (`PresenceReq`, answered `{}` after at most
/// `PRESENCE_HOLD`, then asked again at once). When the chunkserver's process dies its
/// kernel closes the connection, and the master probes the server at once instead of
/// waiting for a missed heartbeat (as MooseFS notices a dropped connection).
pub const PRESENCE: &str = "/rpc/v1/cs/presence";
/// Longest the master holds a presence poll.
pub const PRESENCE_HOLD_MS: u64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresenceReq {
    pub id: CsId,
}

/// The answer to a presence poll that was held to its end: ask again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PresenceResp {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkReport {
    pub chunk_id: ChunkId,
    pub version: Version,
    pub length: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterReq {
    pub id: CsId,
    /// `host:port` clients and peers use to reach this chunkserver.
    pub addr: String,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    /// Full chunk report.
    pub chunks: Vec<ChunkReport>,
    /// The rack (failure domain) this chunkserver is in; empty: `DEFAULT_RACK`.
    #[serde(default)]
    pub rack: String,
}

/// The rack of a chunkserver that names none.
pub const DEFAULT_RACK: &str = "default";

/// A rack name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_rack(r: &str) -> bool {
    (1..=64).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterResp {
    pub heartbeat_interval_ms: u64,
    pub chunk_size: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatReq {
    pub id: CsId,
    pub addr: String,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    /// Chunks created, changed version, or received since the last heartbeat.
    #[serde(default)]
    pub added: Vec<ChunkReport>,
    /// Chunks deleted since the last heartbeat.
    #[serde(default)]
    pub removed: Vec<ChunkId>,
    /// Chunks found corrupt (by a read or the scrubber) and dropped.
    #[serde(default)]
    pub corrupt: Vec<ChunkId>,
    /// Replica copies this chunkserver is running now.
    #[serde(default)]
    pub copies_in_flight: u32,
    /// Bytes read + written for clients since start (for load-aware placement and metrics).
    #[serde(default)]
    pub io_bytes: u64,
    /// Bytes read for clients since start (the dashboard's history).
    #[serde(default)]
    pub read_bytes: u64,
    /// Bytes written into replicas since start, as head or middle of a pipeline.
    #[serde(default)]
    pub written_bytes: u64,
    /// The rack (as in `RegisterReq`); empty: unchanged.
    #[serde(default)]
    pub rack: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Delete the replica if it is at `version` or older (None: any version).
    Delete {
        chunk_id: ChunkId,
        #[serde(default)]
        max_version: Option<Version>,
    },
    /// Copy the local replica (at `version`) to `target`, verified by SHA-256.
    Replicate {
        chunk_id: ChunkId,
        version: Version,
        target: ReplicaLoc,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResp {
    /// The master does not know this chunkserver (it restarted): register again with a
    /// full report.
    #[serde(default)]
    pub reregister: bool,
    #[serde(default)]
    pub commands: Vec<Command>,
    /// The answering master's Raft term: commands from a term older than one the
    /// chunkserver already heard are a deposed leader's, and are ignored.
    #[serde(default)]
    pub term: u64,
}
