//! The directory entries of the mount's metadata cache (`mdcache`), indexed by
//! directory: a lookup is one hash probe and one tree search, and a complete
//! directory is listed in name order from its own entries, without scanning every
//! entry the cache holds (a mount that unpacked a large tree holds up to `MAX_ENTRIES`)
//! or sorting.

use ferrofs_proto::Ino;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// An entry: the inode it names and when it was cached.
pub type Dentry = (Ino, Instant);

#[derive(Default)]
pub struct Dentries {
    dirs: HashMap<Ino, BTreeMap<String, Dentry>>,
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
                dir.insert(name.to_string(), d);
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
    pub fn dir(&self, parent: Ino) -> impl Iterator<Item = (&str, &Dentry)> {
        self.dirs
            .get(&parent)
            .into_iter()
            .flat_map(|d| d.iter().map(|(n, e)| (n.as_str(), e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_by_directory_in_name_order() {
        let now = Instant::now();
        let mut d = Dentries::default();
        d.insert(1, "b", (11, now));
        d.insert(1, "a", (10, now));
        d.insert(2, "a", (20, now));
        d.insert(1, "b", (12, now));
        assert_eq!(d.len(), 3, "a replaced entry is counted once");
        let names: Vec<_> = d.dir(1).map(|(n, e)| (n, e.0)).collect();
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
