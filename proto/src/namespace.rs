//! Master RPCs for the namespace: inodes, directory entries, and the file -> chunk map.
//! All are `POST` with a JSON body to the path constant beside the request type.

use crate::{ChunkId, CsId, Ino, Version};
use serde::{Deserialize, Serialize};

pub const LOOKUP: &str = "/rpc/v1/ns/lookup";
pub const GETATTR: &str = "/rpc/v1/ns/getattr";
pub const RESOLVE: &str = "/rpc/v1/ns/resolve";
pub const SETATTR: &str = "/rpc/v1/ns/setattr";
pub const CREATE: &str = "/rpc/v1/ns/create";
pub const UNLINK: &str = "/rpc/v1/ns/unlink";
pub const RENAME: &str = "/rpc/v1/ns/rename";
pub const LINK: &str = "/rpc/v1/ns/link";
pub const READDIR: &str = "/rpc/v1/ns/readdir";
pub const READLINK: &str = "/rpc/v1/ns/readlink";
pub const RELEASE: &str = "/rpc/v1/ns/release";
pub const STATFS: &str = "/rpc/v1/ns/statfs";
pub const CHUNKS: &str = "/rpc/v1/file/chunks";
pub const LEASE: &str = "/rpc/v1/file/lease";
pub const COMMIT: &str = "/rpc/v1/file/commit";
/// Long poll for namespace changes (see `ChangesReq`).
pub const CHANGES: &str = "/rpc/v1/ns/changes";
/// Header naming the client that makes a namespace call (a random id per mount), so
/// the change feed can tell a mount which changes it made itself.
pub const ORIGIN_HEADER: &str = "x-ferrofs-origin";
pub const GETXATTR: &str = "/rpc/v1/ns/getxattr";
pub const SETXATTR: &str = "/rpc/v1/ns/setxattr";
pub const LISTXATTR: &str = "/rpc/v1/ns/listxattr";
pub const REMOVEXATTR: &str = "/rpc/v1/ns/removexattr";
/// Inode numbers for a client's own creates (see `ReserveInosReq`).
pub const RESERVE_INOS: &str = "/rpc/v1/ns/reserve_inos";
/// Several creates and unlinks of one client, applied in order (see `NsBatchReq`).
pub const NS_BATCH: &str = "/rpc/v1/ns/batch";
/// A client's report of the files it holds open (see `SessionReq`).
pub const SESSION: &str = "/rpc/v1/ns/session";
/// Longest extended attribute name, in bytes (Linux's `XATTR_NAME_MAX`).
pub const XATTR_NAME_MAX: usize = 255;
/// Largest extended attribute value, in bytes (Linux's `XATTR_SIZE_MAX`).
pub const XATTR_SIZE_MAX: usize = 65536;
/// Largest list of one inode's attribute names, each counted with its NUL, in bytes
/// (Linux's `XATTR_LIST_MAX`): a listxattr(2) answer always fits the kernel's buffer.
pub const XATTR_LIST_MAX: usize = 65536;
/// Most extended attributes one inode may carry.
pub const XATTR_COUNT_MAX: usize = 1024;

/// Seconds and nanoseconds since the Unix epoch; 64-bit seconds, negative allowed.
/// A valid one has `nsec < NSEC_PER_SEC` and `|sec| <= MAX_TIME_SEC` (`validate`); the
/// master stores only valid times, and the conversions below are total anyway (they
/// clamp), so no stored value can panic a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: u32,
}

pub const NSEC_PER_SEC: u32 = 1_000_000_000;

/// Largest distance from the epoch a stored time may have, in seconds (2^55, about a
/// billion years either way): `SystemTime` and 64-bit `time_t` arithmetic on it cannot
/// overflow, and `localtime(3)` (whose year is an `int`) can still print it.
pub const MAX_TIME_SEC: i64 = 1 << 55;

impl Timespec {
    pub fn now() -> Self {
        Self::from_system_time(std::time::SystemTime::now())
    }

    pub fn is_valid(self) -> bool {
        self.nsec < NSEC_PER_SEC && (-MAX_TIME_SEC..=MAX_TIME_SEC).contains(&self.sec)
    }

    /// The nearest valid time: seconds clamped to `±MAX_TIME_SEC`, nanoseconds to
    /// 999,999,999 (and to 0 at the clamped ends).
    pub fn clamped(self) -> Self {
        if self.sec > MAX_TIME_SEC {
            return Timespec {
                sec: MAX_TIME_SEC,
                nsec: 0,
            };
        }
        if self.sec < -MAX_TIME_SEC {
            return Timespec {
                sec: -MAX_TIME_SEC,
                nsec: 0,
            };
        }
        Timespec {
            sec: self.sec,
            nsec: self.nsec.min(NSEC_PER_SEC - 1),
        }
    }

    /// The time as a `SystemTime`; total: an invalid value converts as `clamped()`.
    pub fn to_system_time(self) -> std::time::SystemTime {
        use std::time::{Duration, UNIX_EPOCH};
        let t = self.clamped();
        let nsec = Duration::from_nanos(u64::from(t.nsec));
        let t = if t.sec >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(t.sec.unsigned_abs()) + nsec)
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(t.sec.unsigned_abs()))
                .and_then(|e| e.checked_add(nsec))
        };
        t.unwrap_or(UNIX_EPOCH)
    }

    /// The time of a `SystemTime`, clamped to the valid range.
    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timespec {
                sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nsec: d.subsec_nanos(),
            }
            .clamped(),
            Err(e) => {
                let d = e.duration();
                let mut sec = i64::try_from(d.as_secs()).map_or(i64::MIN, |s| -s);
                let mut nsec = 0;
                if d.subsec_nanos() > 0 {
                    sec = sec.saturating_sub(1);
                    nsec = NSEC_PER_SEC - d.subsec_nanos();
                }
                Timespec { sec, nsec }.clamped()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// Attributes of an inode as the master keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attr {
    pub ino: Ino,
    pub kind: FileKind,
    /// Permission bits only (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub nlink: u32,
    pub rdev: u32,
    /// Replication goal of a file (directories: the goal new children inherit).
    pub replication: u8,
}

/// The permission bits and group of a new node in a directory with mode `dir_mode`
/// and group `dir_gid`: a set-group-ID directory hands its group to new entries, and
/// the bit to new subdirectories (the kernel already stripped S_ISGID from a file's
/// mode where the creator is not in that group). The master applies it; a mount that
/// answers a create before the master uses it to show the same attributes.
pub fn inherited(dir_mode: u32, dir_gid: u32, mode: u32, gid: u32, is_dir: bool) -> (u32, u32) {
    let mode = mode & 0o7777;
    if dir_mode & 0o2000 == 0 {
        return (mode, gid);
    }
    (if is_dir { mode | 0o2000 } else { mode }, dir_gid)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookupReq {
    pub parent: Ino,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetattrReq {
    pub ino: Ino,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveReq {
    pub path: String,
}

/// A time to set: the master's clock, or a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSet {
    Now,
    At(Timespec),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetattrReq {
    pub ino: Ino,
    #[serde(default)]
    pub mode: Option<u32>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// New size. Chunks wholly past it are dropped by the master; the client trims the
    /// partial last chunk on its replicas first (see `client::truncate`).
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub atime: Option<TimeSet>,
    #[serde(default)]
    pub mtime: Option<TimeSet>,
    /// Replication goal for this inode (files: heals up or trims down).
    #[serde(default)]
    pub replication: Option<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateReq {
    pub parent: Ino,
    pub name: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub rdev: u32,
    /// For symlinks: the target.
    #[serde(default)]
    pub symlink_target: Option<String>,
    /// Fail with AlreadyExists if the name exists (O_EXCL, mkdir). If false and a regular
    /// file exists, it is returned with `created = false`.
    #[serde(default = "yes")]
    pub exclusive: bool,
    /// Replication goal; default: the parent directory's, else the cluster's.
    #[serde(default)]
    pub replication: Option<u8>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateResp {
    pub attr: Attr,
    pub created: bool,
    /// The directory's attributes after the call (its mtime, ctime and nlink changed),
    /// so a client need not ask for them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Attr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlinkReq {
    pub parent: Ino,
    pub name: String,
    /// Remove a directory (rmdir) rather than a non-directory (unlink).
    #[serde(default)]
    pub dir: bool,
    /// Keep the inode (nlink 0) while the caller has it open; released by RELEASE.
    #[serde(default)]
    pub keep_open: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlinkResp {
    pub ino: Ino,
    pub nlink: u32,
    /// The directory's attributes after the call (see `CreateResp::parent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Attr>,
}

/// Reserve `count` inode numbers to the calling client (its `CLIENT_HEADER` id), for
/// creates it answers before the master has (`CreateAtReq`). A new reservation
/// replaces what is left of the client's previous one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReserveInosReq {
    pub count: u32,
}

/// Inode numbers `first..first + count`, the caller's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReserveInosResp {
    pub first: Ino,
    pub count: u64,
}

/// A create under inode number `ino` of the caller's reservation: refused unless the
/// number is reserved to the caller and above every number it used before, or if the
/// name exists (whatever `create.exclusive` says).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAtReq {
    pub ino: Ino,
    pub create: CreateReq,
}

/// One operation of a `NsBatchReq`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NsOp {
    Create(CreateAtReq),
    Unlink(UnlinkReq),
}

/// Creates and unlinks of one client applied in order as one command, all or nothing:
/// a refusal of any of them is the reply, and none is applied. A mount sends the
/// namespace operations it answered at once this way (its deferred operations).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NsBatchReq {
    pub ops: Vec<NsOp>,
}

/// What each operation of a batch answered, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NsReply {
    Created(CreateResp),
    Unlinked(UnlinkResp),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NsBatchResp {
    pub replies: Vec<NsReply>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameReq {
    pub parent: Ino,
    pub name: String,
    pub new_parent: Ino,
    pub new_name: String,
    /// RENAME_NOREPLACE: fail with AlreadyExists if the target exists.
    #[serde(default)]
    pub noreplace: bool,
    /// RENAME_EXCHANGE: swap the two entries atomically.
    #[serde(default)]
    pub exchange: bool,
    /// Keep a replaced file's inode while the caller has it open.
    #[serde(default)]
    pub keep_open: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameResp {
    /// Inode that the rename replaced (and unlinked), if any.
    pub replaced: Option<Ino>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkReq {
    pub ino: Ino,
    pub new_parent: Ino,
    pub new_name: String,
}

/// Most entries one READDIR page holds (a larger `limit` is served as this).
pub const READDIR_MAX_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReaddirReq {
    pub ino: Ino,
    /// Return entries whose name sorts after this one (pagination cursor).
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    1000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirEntry {
    pub name: String,
    pub attr: Attr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReaddirResp {
    pub entries: Vec<DirEntry>,
    /// More entries follow the last one returned.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadlinkResp {
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseReq {
    pub ino: Ino,
}

/// An empty request or reply body (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Sent every `SESSION_INTERVAL_MS` by a client that holds files open: the inodes it
/// holds. A file unlinked while open is kept until no client has reported it for a
/// while (and a new leader waits that long before deleting any), so a master restart or
/// a leader change never deletes a file a mount still reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionReq {
    pub client: u64,
    pub open: Vec<Ino>,
}

/// How often a client with open files sends `SessionReq`.
pub const SESSION_INTERVAL_MS: u64 = 5_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatfsResp {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub files: u64,
    pub chunk_size: u64,
}

/// A chunkserver as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicaLoc {
    pub id: CsId,
    /// `host:port` of the chunkserver's HTTP listener.
    pub addr: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunksReq {
    pub ino: Ino,
    pub first_index: u64,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkLoc {
    pub index: u64,
    pub chunk_id: ChunkId,
    pub version: Version,
    /// Live replicas holding the current version, best first.
    pub replicas: Vec<ReplicaLoc>,
    /// Read access token for this chunk.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunksResp {
    pub chunk_size: u64,
    pub size: u64,
    /// Chunks that exist in the requested range; indexes absent here are holes (zeros).
    pub chunks: Vec<ChunkLoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseReq {
    pub ino: Ino,
    pub index: u64,
    /// Replicas the client saw fail: the master leaves them out and bumps the version so
    /// their copies become stale.
    #[serde(default)]
    pub exclude: Vec<CsId>,
    /// The asking client's id: its hold on the lease ends when it closes the file
    /// (`CommitReq::close`), while other writers' holds go on.
    #[serde(default)]
    pub holder: u64,
}

/// Permission to write one chunk: the version to write at and the pipeline order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteLease {
    pub chunk_id: ChunkId,
    pub version: Version,
    /// Pipeline order: the client sends to `replicas[0]`, which forwards down the chain.
    pub replicas: Vec<ReplicaLoc>,
    /// Write access token for this chunk.
    pub token: String,
    pub chunk_size: u64,
    /// Milliseconds the lease stays valid; re-request it after.
    pub lease_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitReq {
    pub ino: Ino,
    /// File size after the writes being committed: the master keeps max(current, size).
    pub size: u64,
    #[serde(default)]
    pub mtime: Option<Timespec>,
    /// Wait until the namespace change is synced to disk on a majority of the master
    /// group (fsync, or close with sync-on-close).
    #[serde(default)]
    pub sync: bool,
    /// The chunks the writes went to: the commit fails (`ChunkLost`) if the file no
    /// longer holds one of them, rather than answering success over lost data.
    #[serde(default)]
    pub chunks: Vec<ChunkRef>,
    /// The client closed the file: its holds on the file's write leases end, so the
    /// chunks may be copied at once (another writer's hold goes on).
    #[serde(default)]
    pub close: bool,
    /// Attribute changes (chmod, chown, utimes) made while the file was being written,
    /// applied right after the commit, atomically with it: a writer's `fchmod` and
    /// `futimens` before close need no call of their own. `ino` must be this file's;
    /// `size` and `replication` are refused here (a truncate is a setattr of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<SetattrReq>,
}

/// A chunk of a file, by index and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub index: u64,
    pub chunk_id: ChunkId,
}

/// Ask for the namespace changes after `since` of feed `epoch`. The master answers at
/// once if it has some, else after at most `wait_ms` (an empty list). A feed is
/// in memory: a restarted master has a new epoch, and a reader that fell more than
/// the master's backlog behind gets `reset`; either way the reader must forget
/// everything it cached and continue from `next`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangesReq {
    pub epoch: u64,
    pub since: u64,
    #[serde(default)]
    pub wait_ms: u64,
    /// The reader's own `ORIGIN_HEADER`: its changes are left out (and do not end the
    /// wait).
    #[serde(default)]
    pub origin: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangesResp {
    pub epoch: u64,
    /// Ask for changes after this next time.
    pub next: u64,
    /// Changes were missed: drop every cached entry and attribute.
    pub reset: bool,
    pub changes: Vec<Change>,
}

/// One namespace change: the entry `name` of directory `ino` (added, removed or
/// replaced; the directory's own attributes changed with it), or, without a name,
/// the attributes of inode `ino`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `ORIGIN_HEADER` of the call that made it (0: none given).
    pub origin: u64,
    pub ino: Ino,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What `setxattr` may do to an existing attribute (XATTR_CREATE / XATTR_REPLACE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XattrMode {
    /// Create it or replace it.
    #[default]
    Either,
    /// Fail with AlreadyExists if it exists.
    Create,
    /// Fail with NoSuchAttribute if it does not exist.
    Replace,
}

/// Set an extended attribute. The value travels as hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetxattrReq {
    pub ino: Ino,
    pub name: String,
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    #[serde(default)]
    pub mode: XattrMode,
}

/// Get or remove the extended attribute `name` of `ino`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XattrReq {
    pub ino: Ino,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XattrValue {
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct XattrList {
    pub names: Vec<String>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(s.as_bytes()).map_err(D::Error::custom)
    }
}
