//! The open file table: file handles (with their read-ahead) and directory handles
//! (with the listing snapshotted at opendir, so offsets stay stable while the directory
//! changes).

use crate::inodes::InodeState;
use crate::readahead::ReadAhead;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::Attr;
use fuser::FileType;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct OpenFile {
    pub state: Arc<InodeState>,
    /// O_APPEND: every write goes to the current end of the file.
    pub append: bool,
    /// Opened for writing: counted in `Meta::writers` until its release.
    pub writable: bool,
    pub ra: Mutex<ReadAhead>,
}

pub struct DirItem {
    pub ino: Ino,
    pub kind: FileType,
    pub name: Arc<str>,
    /// Attributes from the master's listing (absent for `.` and `..`, and for a listing
    /// from the metadata cache: `Core::readdir` looks them up for READDIRPLUS).
    pub attr: Option<Attr>,
}

/// An open directory: its listing is taken at the first READDIR (an opendir only to
/// fsync or fchdir costs no listing), and offsets index into it from then on.
pub struct OpenDir {
    pub ino: Ino,
    pub items: parking_lot::Mutex<Option<Arc<Vec<DirItem>>>>,
}

#[derive(Default)]
pub struct Handles {
    next: AtomicU64,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    dirs: Mutex<HashMap<u64, Arc<OpenDir>>>,
}

impl Handles {
    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn add_file(&self, f: OpenFile) -> u64 {
        let fh = self.next();
        self.files.lock().insert(fh, Arc::new(f));
        fh
    }

    pub fn file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.files.lock().get(&fh).cloned()
    }

    pub fn remove_file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.files.lock().remove(&fh)
    }

    pub fn add_dir(&self, d: OpenDir) -> u64 {
        let fh = self.next();
        self.dirs.lock().insert(fh, Arc::new(d));
        fh
    }

    pub fn dir(&self, fh: u64) -> Option<Arc<OpenDir>> {
        self.dirs.lock().get(&fh).cloned()
    }

    pub fn remove_dir(&self, fh: u64) {
        self.dirs.lock().remove(&fh);
    }
}
