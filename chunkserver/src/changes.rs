//! Replica changes not yet reported to the masters (added, removed, corrupt), kept
//! across failed heartbeats, with a `Notify` that wakes the heartbeat loop early. Every
//! master of the group gets heartbeats (standbys keep a warm replica map), so each has
//! a log of its own; `ChangeFan` records every change into all of them.

use ferrofs_proto::ChunkId;
use ferrofs_proto::heartbeat::ChunkReport;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};

/// Changes not yet reported to the master.
#[derive(Debug, Default, Clone)]
pub struct Delta {
    pub added: BTreeMap<ChunkId, ChunkReport>,
    pub removed: BTreeSet<ChunkId>,
    pub corrupt: BTreeSet<ChunkId>,
}

/// What changed since the last heartbeat; `notify` wakes the heartbeat loop early.
#[derive(Default)]
pub struct ChangeLog {
    delta: Mutex<Delta>,
    pub notify: tokio::sync::Notify,
}

impl ChangeLog {
    pub fn added(&self, r: ChunkReport) {
        let mut d = self.delta.lock();
        d.removed.remove(&r.chunk_id);
        d.corrupt.remove(&r.chunk_id);
        d.added.insert(r.chunk_id, r);
        drop(d);
        self.notify.notify_one();
    }
    pub fn removed(&self, id: ChunkId) {
        let mut d = self.delta.lock();
        d.added.remove(&id);
        d.removed.insert(id);
        drop(d);
        self.notify.notify_one();
    }
    pub fn corrupt(&self, id: ChunkId) {
        let mut d = self.delta.lock();
        d.added.remove(&id);
        d.corrupt.insert(id);
        drop(d);
        self.notify.notify_one();
    }
    pub fn take(&self) -> Delta {
        std::mem::take(&mut *self.delta.lock())
    }
    /// Put back a delta whose heartbeat failed, under anything recorded since.
    pub fn restore(&self, old: Delta) {
        let mut d = self.delta.lock();
        let newer = |d: &Delta, id: &ChunkId| {
            d.added.contains_key(id) || d.removed.contains(id) || d.corrupt.contains(id)
        };
        for (id, r) in old.added {
            if !newer(&d, &id) {
                d.added.insert(id, r);
            }
        }
        for id in old.removed {
            if !newer(&d, &id) {
                d.removed.insert(id);
            }
        }
        for id in old.corrupt {
            if !newer(&d, &id) {
                d.corrupt.insert(id);
            }
        }
    }
}

/// Every change goes to each subscriber's log (one per master).
#[derive(Default)]
pub struct ChangeFan {
    logs: Mutex<Vec<std::sync::Arc<ChangeLog>>>,
}

impl ChangeFan {
    /// A new log that sees every change from now on.
    pub fn subscribe(&self) -> std::sync::Arc<ChangeLog> {
        let log = std::sync::Arc::new(ChangeLog::default());
        self.logs.lock().push(log.clone());
        log
    }

    fn each(&self, f: impl Fn(&ChangeLog)) {
        for l in self.logs.lock().iter() {
            f(l);
        }
    }

    pub fn added(&self, r: ChunkReport) {
        self.each(|l| l.added(r.clone()));
    }
    pub fn removed(&self, id: ChunkId) {
        self.each(|l| l.removed(id));
    }
    pub fn corrupt(&self, id: ChunkId) {
        self.each(|l| l.corrupt(id));
    }
    /// Wake every heartbeat loop (something they report changed).
    pub fn notify_all(&self) {
        self.each(|l| l.notify.notify_one());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(id: ChunkId, version: u64) -> ChunkReport {
        ChunkReport {
            chunk_id: id,
            version,
            length: 0,
        }
    }

    /// A failed heartbeat's delta goes back under whatever happened since.
    #[test]
    fn restore_keeps_newer_changes() {
        let log = ChangeLog::default();
        log.added(rep(1, 1));
        log.added(rep(2, 1));
        log.corrupt(3);
        let old = log.take();
        log.removed(1);
        log.added(rep(2, 2));
        log.restore(old);
        let d = log.take();
        assert!(d.removed.contains(&1) && !d.added.contains_key(&1));
        assert_eq!(d.added[&2].version, 2);
        assert!(d.corrupt.contains(&3));
        assert!(log.take().added.is_empty());
    }
}
