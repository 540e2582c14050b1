//! The write-back worker: replicas written without an fsync (files closed without
//! fsync(2), the default close as in HDFS and MooseFS) are fsynced within
//! `writeback_interval`, and once more when the chunkserver stops.
//!
//! A `kill -9` of the chunkserver loses nothing either way (the bytes are in the
//! kernel's page cache); the window bounds what a power loss of the machine can take.

use crate::node::Node;
use std::sync::Arc;
use tokio::sync::watch;
use tracing::warn;

/// Sync every replica written since the last pass: one syncfs of the chunks' file
/// system (writes that land meanwhile mark their replicas dirty again, for the next
/// pass). Should that fail, each replica is fsynced on its own, so the failing ones are
/// named; the ones gone or bumped since are skipped (the new version's writes mark it
/// dirty again). Returns how many were synced.
pub fn flush(node: &Node) -> usize {
    let dirty = node.store.take_dirty();
    if dirty.is_empty() {
        return 0;
    }
    match node.store.sync_all() {
        Ok(()) => return dirty.len(),
        Err(e) => warn!(error = %e, "write-back syncfs failed; syncing replica by replica"),
    }
    let mut synced = 0;
    for id in dirty {
        let Ok(c) = node.store.get(id) else { continue };
        let version = c.snapshot().0;
        match node.store.sync(&c, version) {
            Ok(()) => synced += 1,
            Err(e) => warn!(chunk = id, error = %e, "write-back fsync failed"),
        }
    }
    synced
}

pub async fn run(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(node.config.writeback_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => *stop.borrow(),
            _ = stop.changed() => true,
        };
        let n = node.clone();
        let _ = tokio::task::spawn_blocking(move || flush(&n)).await;
        if stopping {
            return;
        }
    }
}
