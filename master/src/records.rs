//! Persisted records of the namespace. Field order is the postcard encoding: append new
//! fields only with a new `db::FORMAT` and a migration.

use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use ferrofs_proto::{Ino, Version};
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
