//! The directory entries of the mount's metadata cache (`mdcache`), indexed by
//! directory: a lookup is one hash probe and one tree search, and a complete
//! directory is listed in name order from its own entries, without scanning every
//! entry the cache holds (a mount that unpacked a large tree holds up to `MAX_ENTRIES`)
//! or sorting. An entry keeps its inode's kind (which never changes), so a listing
//! needs no attribute lookups.

use ferrofs_proto::Ino;
use ferrofs_proto::namespace::FileKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// An entry: the inode it names, its kind and when it was cached.
#[derive(Debug, Clone, Copy)]
pub struct Dentry {
    pub ino: Ino,
    pub kind: FileKind,
    pub at: Instant,
}

#[derive(Default)]
pub struct Dentries {
    /// Names are shared with the listings taken from them (`dir`), so a listing of
    /// 10,000 entries copies no string.
    dirs: HashMap<Ino, BTreeMap<Arc<str>, Dentry>>,
    len: usize,
}

impl Dentries {
    pub fn get(&self, parent: Ino, name: &str) -> Option<&Dentry> {
        self.dirs.get(&parent)?.get(name)
    }

    #[cfg(test)]
    pub fn get_mut(&mut self, parent: Ino, name: &str) -> Option<&mut Dentry> {
        self.dirs.get_mut(&parent)?.get_mut(name)
    }

    pub fn contains(&self, parent: Ino, name: &str) -> bool {
        self.get(parent, name).is_some()
    }

    pub fn insert(&mut self, parent: Ino, name: &str, d: Dentry) {
        let dir = self.dirs.entry(parent).or_default();
        match dir.get_mut(name) {
            Some(old) => *old = d,
            None => {
                dir.insert(Arc::from(name), d);
                self.len += 1;
            }
        }
    }

    pub fn remove(&mut self, parent: Ino, name: &str) {
        let Some(dir) = self.dirs.get_mut(&parent) else {
            return;
        };
        if dir.remove(name).is_some() {
            self.len -= 1;
            if dir.is_empty() {
                self.dirs.remove(&parent);
            }
        }
    }

    pub fn clear(&mut self) {
        self.dirs.clear();
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The entries of `parent`, in name order.
    pub fn dir(&self, parent: Ino) -> impl ExactSizeIterator<Item = (&Arc<str>, &Dentry)> {
        static NONE: BTreeMap<Arc<str>, Dentry> = BTreeMap::new();
        self.dirs.get(&parent).unwrap_or(&NONE).iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_by_directory_in_name_order() {
        let at = Instant::now();
        let e = |ino| Dentry {
            ino,
            kind: FileKind::File,
            at,
        };
        let mut d = Dentries::default();
        d.insert(1, "b", e(11));
        d.insert(1, "a", e(10));
        d.insert(2, "a", e(20));
        d.insert(1, "b", e(12));
        assert_eq!(d.len(), 3, "a replaced entry is counted once");
        let names: Vec<_> = d.dir(1).map(|(n, e)| (&**n, e.ino)).collect();
        assert_eq!(names, [("a", 10), ("b", 12)]);
        assert!(d.contains(2, "a") && !d.contains(2, "b") && !d.contains(3, "a"));
        d.remove(1, "a");
        d.remove(1, "missing");
        d.remove(9, "a");
        assert_eq!(d.len(), 2);
        d.remove(2, "a");
        assert!(d.dir(2).next().is_none() && !d.dirs.contains_key(&2));
        d.clear();
        assert_eq!(d.len(), 0);
        assert!(d.dir(1).next().is_none());
    }
}
