//! Persisted records of the namespace. Field order is the postcard encoding: append new
//! fields only with a new `db::FORMAT` and a migration.

use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use ferrofs_proto::{CsId, Ino, Version};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InodeRec {
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub nlink: u32,
    pub rdev: u32,
    pub replication: u8,
    /// Directories: the parent directory (for cycle checks on rename).
    pub parent: Ino,
    /// Symlinks: the target.
    pub target: Option<String>,
}

impl InodeRec {
    pub fn attr(&self, ino: Ino) -> Attr {
        Attr {
            ino,
            kind: self.kind,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            size: self.size,
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
            nlink: self.nlink,
            rdev: self.rdev,
            replication: self.replication,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct DentryRec {
    pub ino: Ino,
    pub kind: FileKind,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ChunkRec {
    pub ino: Ino,
    pub index: u64,
    pub version: Version,
}

/// One client's hold on a write lease, and until when (unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub client: u64,
    pub until_ms: u64,
}

/// `L chunk`: a write lease on a chunk. While any holder's time has not passed, a holder
/// may be writing at `version`, so the chunk is neither copied nor trimmed; the lease
/// ends when its last holder closes the file (or its time passes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRec {
    pub version: Version,
    pub holders: Vec<Holder>,
    /// Pipeline order agreed with the chunkservers at the grant.
    pub replicas: Vec<CsId>,
}

impl LeaseRec {
    /// When the last holder's time passes (unix ms; 0 with no holders).
    pub fn until_ms(&self) -> u64 {
        self.holders.iter().map(|h| h.until_ms).max().unwrap_or(0)
    }

    pub fn live_at(&self, now_ms: u64) -> bool {
        self.until_ms() > now_ms
    }
}

/// `M cs`: an operator's mode for a chunkserver (maintenance, decommission), replicated
/// so that a new leader keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerModeRec {
    /// Unix ms when maintenance was switched on (None: not in maintenance).
    pub maintenance_since_ms: Option<u64>,
    pub decommission: bool,
}

/// `N client`: the inode numbers a client reserved (`Op::ReserveInos`) and has not
/// used yet, its last two reservations: the client refills before it runs out, and
/// creates named from the older one may still be on their way. `CreateAt` takes
/// numbers from a range in increasing order only, so a number is never used twice, not
/// even after its inode was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InoReservation {
    pub ranges: Vec<InoRange>,
}

/// Unused reserved numbers `next..end`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InoRange {
    pub next: u64,
    pub end: u64,
}
