//! Commands of the replicated log, the replies apply gives, and the effects it emits.
//! Encoded with postcard in the log: see the module doc of `sm` before changing a type.

use crate::sm::records::LeaseRec;
use ferrofs_proto::namespace::{Attr, FileKind, TimeSet, Timespec, XattrMode};
use ferrofs_proto::{ApiError, ChunkId, CsId, ErrorCode, Ino, Version};
use serde::{Deserialize, Serialize};

/// What every command carries besides its operation: who asked (for the retry cache and
/// the change feed) and the leader's clock when it was proposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ctx {
    /// The client's id; 0 for the master's own commands (never deduplicated).
    pub client: u64,
    /// The client's sequence number of this call (with `client`, the retry-cache key).
    pub seq: u64,
    /// The caller's change-feed origin (0: none), so a mount can skip its own changes.
    pub origin: u64,
    /// The leader's wall clock when it proposed the command.
    pub now: Timespec,
}

impl Ctx {
    /// Wall-clock milliseconds since the epoch (lease times).
    pub fn now_ms(&self) -> u64 {
        (self.now.sec.max(0) as u64) * 1000 + u64::from(self.now.nsec / 1_000_000)
    }

    /// The master's own command at `now`.
    pub fn internal(now: Timespec) -> Ctx {
        Ctx {
            now,
            ..Ctx::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Command {
    pub ctx: Ctx,
    pub op: Op,
}

/// One state-machine operation. Append new variants at the end only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// The first command of a new group: fixes the cluster's chunk size for good (a
    /// later config change must not remap existing files' offsets).
    Format(Format),
    Create(Create),
    Unlink(Unlink),
    Rename(Rename),
    Link(Link),
    Setattr(Setattr),
    Commit(Commit),
    SetXattr(SetXattr),
    RemoveXattr(RemoveXattr),
    /// Chunk ids below `upto` may be handed out by the leader that proposed this; ids
    /// are never reused, even by a later leader.
    ReserveChunkIds {
        upto: ChunkId,
    },
    /// A chunk created on its first replicas enters the file map, leased to its writer.
    AllocChunk(AllocChunk),
    /// A lease on an existing chunk, at a version the replicas were moved to (or kept
    /// at): the chunk's version becomes `version`.
    GrantLease(GrantLease),
    /// The holder closed the file: its holds on the file's leases end.
    EndLeases {
        ino: Ino,
        holder: u64,
    },
    /// A replica reported a version above the master's (the master crashed between a
    /// bump and recording it): the chunk moves to that version.
    AdoptVersion {
        chunk: ChunkId,
        version: Version,
    },
    /// Delete a file that was unlinked while open, once no client holds it any more.
    PurgeOrphan {
        ino: Ino,
    },
    /// Forget retry-cache entries recorded before `before_ms`.
    ExpireRetries {
        before_ms: u64,
    },
    /// An operator set a chunkserver's maintenance or decommission mode.
    SetServerMode {
        cs: CsId,
        maintenance: Option<bool>,
        decommission: Option<bool>,
    },
    /// Several operations of one client as one log entry, applied in order, all or
    /// nothing: each sees what the ones before it wrote, and a refusal of any of them
    /// writes none (the reply is that refusal). Answers `Reply::Batch` with every reply.
    /// A batch holds no batch.
    Batch(Vec<Op>),
    /// Inode numbers for one client to name its own creates with (`CreateAt`): the next
    /// `count` numbers of the inode counter become the client's (`ctx.client`),
    /// replacing what was left of its previous reservation. Answers `Reply::Inos`.
    ReserveInos {
        count: u64,
    },
    /// `Create` under an inode number the client reserved, so that it could answer its
    /// caller before the master did (the mount's deferred creates). The number must lie
    /// in the client's reservation above every number it used before; the name must
    /// not exist (as for an exclusive create, whatever `exclusive` says).
    CreateAt {
        ino: Ino,
        create: Create,
    },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Format(_) => "format",
            Op::Create(_) => "create",
            Op::Unlink(_) => "unlink",
            Op::Rename(_) => "rename",
            Op::Link(_) => "link",
            Op::Setattr(_) => "setattr",
            Op::Commit(_) => "commit",
            Op::SetXattr(_) => "setxattr",
            Op::RemoveXattr(_) => "removexattr",
            Op::ReserveChunkIds { .. } => "reserve_chunk_ids",
            Op::AllocChunk(_) => "alloc_chunk",
            Op::GrantLease(_) => "grant_lease",
            Op::EndLeases { .. } => "end_leases",
            Op::AdoptVersion { .. } => "adopt_version",
            Op::PurgeOrphan { .. } => "purge_orphan",
            Op::ExpireRetries { .. } => "expire_retries",
            Op::SetServerMode { .. } => "set_server_mode",
            Op::Batch(_) => "batch",
            Op::ReserveInos { .. } => "reserve_inos",
            Op::CreateAt { .. } => "create_at",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Format {
    pub chunk_size: u64,
    pub default_replication: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    pub parent: Ino,
    pub name: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u32,
    pub symlink_target: Option<String>,
    pub exclusive: bool,
    pub replication: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlink {
    pub parent: Ino,
    pub name: String,
    pub dir: bool,
    pub keep_open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub parent: Ino,
    pub name: String,
    pub new_parent: Ino,
    pub new_name: String,
    pub noreplace: bool,
    pub exchange: bool,
    pub keep_open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub ino: Ino,
    pub new_parent: Ino,
    pub new_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setattr {
    pub ino: Ino,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeSet>,
    pub mtime: Option<TimeSet>,
    pub replication: Option<u8>,
}

/// A chunk a commit says its writes went to: the commit fails if the file map does not
/// hold it there (it was lost or replaced), instead of answering success over lost data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub index: u64,
    pub chunk: ChunkId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub ino: Ino,
    pub size: u64,
    pub mtime: Option<Timespec>,
    pub chunks: Vec<ChunkRef>,
    /// The writer closed the file: its lease holds end too.
    pub end_leases: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetXattr {
    pub ino: Ino,
    pub name: String,
    pub value: Vec<u8>,
    pub mode: XattrMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveXattr {
    pub ino: Ino,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocChunk {
    pub ino: Ino,
    pub index: u64,
    pub chunk: ChunkId,
    pub version: Version,
    /// The replicas that hold the new chunk, in pipeline order.
    pub replicas: Vec<CsId>,
    pub holder: u64,
    pub until_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantLease {
    pub ino: Ino,
    pub index: u64,
    pub chunk: ChunkId,
    /// The version the leader found the chunk at when it decided (the grant fails if
    /// the chunk has moved past it meanwhile).
    pub from: Version,
    /// The version the replicas are at now (`from` when nothing was bumped).
    pub version: Version,
    pub replicas: Vec<CsId>,
    pub holder: u64,
    pub until_ms: u64,
}

/// An error reply as the retry cache stores it (postcard-friendly `ApiError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::new(r.code, r.message)
    }
}

pub fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

pub fn not_found(what: impl std::fmt::Display) -> Refusal {
    refuse(
        ErrorCode::NotFound,
        format!("{what}: no such file or directory"),
    )
}

/// What a command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Done,
    Attr(Attr),
    Created {
        attr: Attr,
        created: bool,
    },
    Unlinked {
        ino: Ino,
        nlink: u32,
    },
    Renamed {
        replaced: Option<Ino>,
    },
    Lease(LeaseRec),
    Batch(Vec<Reply>),
    /// Inode numbers `first..first + count`, reserved to the caller.
    Inos {
        first: Ino,
        count: u64,
    },
}

pub type Outcome = Result<Reply, Refusal>;

/// What apply changed beyond the stored records, for the in-memory views every member
/// keeps: the change feed (mount caches) and the chunk table (re-replication, leases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Entries (`Some(name)` of directory `ino`) and attributes (`None`) that changed.
    Changed {
        origin: u64,
        items: Vec<(Ino, Option<String>)>,
    },
    ChunkAdded {
        chunk: ChunkId,
        ino: Ino,
        index: u64,
        version: Version,
        goal: u8,
        lease: Option<LeaseRec>,
    },
    /// The chunk's version (and lease) changed; `replicas` hold that version now.
    ChunkVersion {
        chunk: ChunkId,
        version: Version,
        replicas: Vec<CsId>,
        lease: Option<LeaseRec>,
    },
    LeaseChanged {
        chunk: ChunkId,
        lease: Option<LeaseRec>,
    },
    /// Chunks gone from the file map: their replicas are garbage.
    ChunksDropped(Vec<ChunkId>),
    GoalChanged {
        chunks: Vec<ChunkId>,
        goal: u8,
    },
    Formatted {
        chunk_size: u64,
        default_replication: u8,
    },
    ServerMode {
        cs: CsId,
        maintenance_since_ms: Option<u64>,
        decommission: bool,
    },
}
