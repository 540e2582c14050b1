//! The master group: Raft messages between members (postcard bodies, cluster secret),
//! the durability barrier a leader uses for fsync, and the membership API every member
//! answers (`GET /api/v1/masters`).

use serde::{Deserialize, Serialize};

/// `POST` postcard `AppendEntriesRequest` -> postcard `Result<AppendEntriesResponse, RaftError>`.
pub const APPEND: &str = "/raft/v1/append";
/// `POST` postcard `VoteRequest` -> postcard `Result<VoteResponse, RaftError>`.
pub const VOTE: &str = "/raft/v1/vote";
/// `POST` postcard `InstallSnapshotRequest` -> postcard `Result<InstallSnapshotResponse, RaftError>`.
pub const SNAPSHOT: &str = "/raft/v1/snapshot";
/// `POST` JSON `SyncReq`: sync the log up to an entry to disk (a client's fsync needs
/// the entries it depends on synced on a majority).
pub const SYNC: &str = "/raft/v1/sync";

/// `GET`: `MastersResp` (answered by every member, leader or not).
pub const MASTERS: &str = "/api/v1/masters";
/// `GET`: `MasterMember`, the answering member as it sees itself.
pub const MASTER_SELF: &str = "/api/v1/masters/self";
/// `POST` JSON `AddMasterReq` (admin token): add a member (learner first, then voter).
pub const MASTERS_ADD: &str = "/api/v1/masters/add";
/// `POST` JSON `RemoveMasterReq` (admin token): remove a member.
pub const MASTERS_REMOVE: &str = "/api/v1/masters/remove";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncReq {
    /// The entry that must be on disk: the term and node id of the leader that wrote
    /// it, and its index.
    pub term: u64,
    pub leader: u64,
    pub index: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResp {
    /// The member holds that entry (same term) and synced its log through it.
    pub synced: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MasterRole {
    Leader,
    Follower,
    Learner,
    Candidate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MasterMember {
    pub id: u64,
    pub addr: String,
    pub role: MasterRole,
    /// Answers (the leader's view; on a follower: itself, and the leader it follows).
    pub alive: bool,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MastersResp {
    pub leader: Option<u64>,
    pub term: u64,
    /// The member that answered.
    pub this: u64,
    pub members: Vec<MasterMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddMasterReq {
    pub id: u64,
    /// `host:port` the other members reach it at.
    pub addr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveMasterReq {
    pub id: u64,
}
