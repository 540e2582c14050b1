//! Background scrubber: walks every replica, verifying each block's CRC at a limited
//! rate, quarantining corrupt replicas (reported in the next heartbeat) and caching the
//! SHA-256 it computes on the way.

use crate::checksum::ShaBuilder;
use crate::error::ChunkserverError as E;
use crate::node::Node;
use crate::store::PIECE;
use ferrofs_proto::ChunkId;
use ferrofs_proto::ids::chunk_name;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::sleep;
use tracing::{info, warn};

enum Outcome {
    Ok,
    Corrupt,
    Skipped,
}

/// Verify one replica; sleeps between pieces to hold the rate.
async fn scrub_chunk(node: &Arc<Node>, id: ChunkId, rate: u64) -> Outcome {
    let Ok(c) = node.store.get(id) else {
        return Outcome::Skipped;
    };
    let (version, length, generation, cached) = {
        let st = c.st.read();
        (st.version, st.length, st.generation, st.sha)
    };
    let mut sha = ShaBuilder::default();
    let mut at = 0;
    while at < length {
        let c2 = c.clone();
        let r = node
            .blocking(move |s| {
                let piece = s.read(&c2, version, at, PIECE)?;
                sha.update(&piece);
                Ok((piece.len() as u64, sha))
            })
            .await;
        match r {
            Ok((0, _)) => return Outcome::Skipped,
            Ok((n, s)) => {
                sha = s;
                at += n;
                sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
            }
            Err(E::Corrupt { block, .. }) => {
                warn!(chunk = %chunk_name(id), version, block, "scrubber found a corrupt block");
                return Outcome::Corrupt;
            }
            // Deleted, bumped or truncated meanwhile: the next pass will see it.
            Err(_) => return Outcome::Skipped,
        }
    }
    let sha = sha.finish();
    if cached.is_some_and(|s| s != sha) {
        warn!(chunk = %chunk_name(id), version, "cached SHA-256 was stale; replacing it");
    }
    if cached != Some(sha) {
        let _ = node
            .blocking(move |s| s.cache_sha(&c, version, generation, sha))
            .await;
    }
    Outcome::Ok
}

/// The scrubber worker: runs until `shutdown` flips. Disabled when the rate is 0.
pub async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let rate = node.config.scrub_bytes_per_sec;
    if rate == 0 {
        *node.scrub_status.lock() = "disabled".into();
        return;
    }
    let mut pass = 0u64;
    loop {
        pass += 1;
        let ids = node.store.ids();
        let (mut corrupt, mut skipped) = (0, 0);
        for (i, id) in ids.iter().enumerate() {
            *node.scrub_status.lock() = format!("pass {pass}, {i}/{} chunks", ids.len());
            tokio::select! {
                o = scrub_chunk(&node, *id, rate) => match o {
                    Outcome::Ok => {}
                    Outcome::Corrupt => corrupt += 1,
                    Outcome::Skipped => skipped += 1,
                },
                _ = shutdown.changed() => return,
            }
        }
        let status = format!(
            "pass {pass} done: {} chunks, {corrupt} corrupt, {skipped} skipped",
            ids.len()
        );
        info!(
            pass,
            chunks = ids.len(),
            corrupt,
            skipped,
            "scrub pass finished"
        );
        *node.scrub_status.lock() = status;
        tokio::select! {
            _ = sleep(node.config.scrub_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
