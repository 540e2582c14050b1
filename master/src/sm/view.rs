//! How apply reads the state and records what it would write: a [`View`] of the stored
//! key-value pairs (RocksDB in the master, a `BTreeMap` in tests), and a [`Tx`] that
//! collects writes and answers point reads through them, so one command sees its own
//! writes (a rename whose two parents are one directory).

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

/// The writes of one command, readable through (point reads only: a command never
/// scans a range it has written to).
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

    pub fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> ViewResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.view.scan(prefix, start, limit)
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
