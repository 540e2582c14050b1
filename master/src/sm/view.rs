//! How apply reads the state and records what it would write: a [`View`] of the stored
//! key-value pairs (RocksDB in the master, a `BTreeMap` in tests), and a [`Tx`] that
//! collects writes and answers point reads and range scans through them, so one
//! command sees its own writes (a rename whose two parents are one directory, a batch
//! that empties a directory and removes it).

use std::collections::BTreeMap;

/// A storage failure while reading state: fatal for the state machine (every member
/// must apply the same log to the same state, so a read that cannot be done stops it).
#[derive(Debug, thiserror::Error)]
#[error("state machine storage: {0}")]
pub struct StorageFailure(pub String);

pub type ViewResult<T> = Result<T, StorageFailure>;

/// Read access to the stored state.
pub trait View {
    fn get(&self, key: &[u8]) -> ViewResult<Option<Vec<u8>>>;
    /// Pairs whose key starts with `prefix`, from `start` (>= prefix) on, in key order,
    /// at most `limit`.
    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> ViewResult<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// One write apply emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// The writes of one command, readable through (point reads and range scans).
pub struct Tx<'a> {
    view: &'a dyn View,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Tx<'a> {
    pub fn new(view: &'a dyn View) -> Self {
        Tx {
            view,
            pending: BTreeMap::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> ViewResult<Option<Vec<u8>>> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.view.get(key),
        }
    }

    /// `View::scan` through this command's writes: a batch that removed a directory's
    /// entries and then removes the directory sees it empty.
    pub fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> ViewResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mine: Vec<_> = self
            .pending
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect();
        if mine.is_empty() {
            return self.view.scan(prefix, start, limit);
        }
        // Each pending delete may hide one stored pair: read that many more, so the
        // first `limit` of the merge are all there.
        let deletes = mine.iter().filter(|(_, v)| v.is_none()).count();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self
            .view
            .scan(prefix, start, limit.saturating_add(deletes))?
            .into_iter()
            .collect();
        for (k, v) in mine {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// Forget every write (the command was refused).
    pub fn discard(&mut self) {
        self.pending.clear();
    }

    pub fn into_writes(self) -> Vec<Write> {
        self.pending
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => Write::Put(k, v),
                None => Write::Delete(k),
            })
            .collect()
    }
}

/// An in-memory state for tests of apply.
#[derive(Debug, Default, Clone)]
pub struct MemView {
    pub kv: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemView {
    pub fn write(&mut self, writes: &[Write]) {
        for w in writes {
            match w {
                Write::Put(k, v) => {
                    self.kv.insert(k.clone(), v.clone());
                }
                Write::Delete(k) => {
                    self.kv.remove(k);
                }
            }
        }
    }
}

impl View for MemView {
    fn get(&self, key: &[u8]) -> ViewResult<Option<Vec<u8>>> {
        Ok(self.kv.get(key).cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> ViewResult<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .kv
            .range(start.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan through a command's writes: its deletes hide stored pairs, its puts
    /// show, in key order, and `limit` still counts what is visible.
    #[test]
    fn scans_see_the_commands_writes() {
        let mut v = MemView::default();
        for k in ["p1", "p2", "p3", "p4", "q1"] {
            v.kv.insert(k.as_bytes().to_vec(), b"old".to_vec());
        }
        let mut tx = Tx::new(&v);
        tx.delete(b"p1".to_vec());
        tx.delete(b"p2".to_vec());
        tx.put(b"p25".to_vec(), b"new".to_vec());
        tx.put(b"q2".to_vec(), b"other prefix".to_vec());
        let keys = |r: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<String> {
            r.into_iter()
                .map(|(k, _)| String::from_utf8(k).unwrap())
                .collect()
        };
        assert_eq!(keys(tx.scan(b"p", b"p", 2).unwrap()), ["p25", "p3"]);
        assert_eq!(keys(tx.scan(b"p", b"p", 10).unwrap()), ["p25", "p3", "p4"]);
        assert_eq!(keys(tx.scan(b"p", b"p3", 10).unwrap()), ["p3", "p4"]);
        tx.delete(b"p25".to_vec());
        tx.delete(b"p3".to_vec());
        tx.delete(b"p4".to_vec());
        assert!(tx.scan(b"p", b"p", 1).unwrap().is_empty());
        assert_eq!(keys(tx.scan(b"q", b"q", 5).unwrap()), ["q1", "q2"]);
    }
}
