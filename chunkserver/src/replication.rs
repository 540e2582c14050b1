//! Whole-replica copies between chunkservers, ordered by the master: sending a local
//! replica (CRC-verified as it is read, SHA-256 declared up front) and receiving one into
//! a temp file that only replaces the old replica once its length and SHA-256 match.

use crate::checksum::{CrcBuilder, ShaBuilder};
use crate::error::{ChunkserverError as E, IoContext, Result};
use crate::node::Node;
use crate::store::PIECE;
use axum::body::Body;
use bytes::Bytes;
use ferrofs_proto::chunk::{self as api, ReplicaParams};
use ferrofs_proto::heartbeat::ChunkReport;
use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::namespace::ReplicaLoc;
use ferrofs_proto::{ApiError, ChunkId, SECRET_HEADER, Version};
use futures::StreamExt;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::{info, warn};

/// Copy the local replica of `id` at `version` to `target`.
pub async fn copy_to(
    node: Arc<Node>,
    id: ChunkId,
    version: Version,
    target: &ReplicaLoc,
) -> Result<u64> {
    let c = node.store.get(id)?;
    let (sha, length) = {
        let _op = c.op.lock().await;
        let c2 = c.clone();
        node.blocking(move |s| s.sha256(&c2, version)).await?
    };
    let n2 = node.clone();
    let stream = futures::stream::try_unfold(0u64, move |at| {
        let (node, c) = (n2.clone(), c.clone());
        async move {
            if at >= length {
                return Ok(None);
            }
            let n = (length - at).min(PIECE);
            let piece = node
                .blocking(move |s| s.read(&c, version, at, n))
                .await
                .map_err(std::io::Error::other)?;
            if piece.is_empty() {
                return Err(std::io::Error::other("chunk shrank while copying"));
            }
            let next = at + piece.len() as u64;
            Ok::<_, std::io::Error>(Some((Bytes::from(piece), next)))
        }
    });
    let params = ReplicaParams {
        version,
        length,
        sha256: hex::encode(sha),
    };
    // Allow for slow links: the request timeout plus a second per MiB.
    let limit = node.config.request_timeout + Duration::from_secs(length >> 20);
    let resp = node
        .http
        .put(format!("http://{}{}", target.addr, api::replica_path(id)))
        .header(SECRET_HEADER, &node.config.secret)
        .query(&params)
        .timeout(limit)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|e| E::Internal(format!("sending replica to {}: {e}", target.addr)))?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        let msg = serde_json::from_slice::<ApiError>(&body)
            .map(|a| a.message)
            .unwrap_or_default();
        return Err(E::Internal(format!(
            "{} refused replica: {status} {msg}",
            target.addr
        )));
    }
    Ok(length)
}

/// Run a `Replicate` command in the background, bounded by `max_concurrent_copies`.
pub fn spawn_copy(node: Arc<Node>, id: ChunkId, version: Version, target: ReplicaLoc) {
    let key = (id, target.addr.clone());
    if !node.copying.lock().insert(key.clone()) {
        return; // already queued or running
    }
    node.copies_in_flight.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let result = match node.copies.acquire().await {
            Ok(_permit) => copy_to(node.clone(), id, version, &target).await,
            Err(_) => Err(E::Internal("copy semaphore closed".into())),
        };
        node.copying.lock().remove(&key);
        node.copies_in_flight.fetch_sub(1, Ordering::Relaxed);
        let chunk = chunk_name(id);
        match result {
            Ok(bytes) => {
                info!(%chunk, version, target = %target.addr, target_id = %target.id, bytes,
                ms = started.elapsed().as_millis() as u64, "replica copied")
            }
            Err(e) => warn!(%chunk, version, target = %target.addr, target_id = %target.id,
                error = %e, "replica copy failed"),
        }
        node.store.changes.notify.notify_one();
    });
}

/// Temp file being filled with a received replica, with its running checksums.
struct Incoming {
    path: PathBuf,
    file: File,
    crcs: CrcBuilder,
    sha: ShaBuilder,
}

impl Incoming {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .ctx(|| format!("write {}", self.path.display()))?;
        self.crcs.update(data);
        self.sha.update(data);
        Ok(())
    }
}

async fn append(inc: Incoming, data: Vec<u8>) -> Result<Incoming> {
    tokio::task::spawn_blocking(move || {
        let mut inc = inc;
        inc.append(&data).map(|()| inc)
    })
    .await
    .map_err(|e| E::Internal(format!("blocking task failed: {e}")))?
}

/// Receive a whole replica from a peer (`PUT replica_path`).
pub async fn receive(
    node: Arc<Node>,
    id: ChunkId,
    p: ReplicaParams,
    body: Body,
) -> Result<ChunkReport> {
    let want_sha: [u8; 32] = hex::decode(&p.sha256)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| E::BadRequest(format!("bad sha256 {:?}", p.sha256)))?;
    if let Ok(n) = node.chunk_size()
        && p.length > n
    {
        return Err(E::TooLarge(format!(
            "replica of {} bytes exceeds chunk size {n}",
            p.length
        )));
    }
    if let Ok(c) = node.store.get(id) {
        let have = c.snapshot().0;
        if have > p.version {
            return Err(E::StaleVersion {
                chunk: id,
                have,
                want: p.version,
            });
        }
    }
    node.check_space(p.length)?;
    let path = node.store.temp_path(id, p.version);
    let file = File::create(&path).ctx(|| format!("create {}", path.display()))?;
    let inc = Incoming {
        path: path.clone(),
        file,
        crcs: CrcBuilder::default(),
        sha: ShaBuilder::default(),
    };
    let result = receive_into(&node, id, &p, want_sha, inc, body).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    result
}

async fn receive_into(
    node: &Arc<Node>,
    id: ChunkId,
    p: &ReplicaParams,
    want_sha: [u8; 32],
    mut inc: Incoming,
    body: Body,
) -> Result<ChunkReport> {
    let mut frames = body.into_data_stream();
    let mut buf = Vec::with_capacity(PIECE as usize);
    let mut total = 0u64;
    loop {
        let frame = frames.next().await;
        let done = frame.is_none();
        if let Some(f) = frame {
            let b = f.map_err(|e| E::BadRequest(format!("reading replica body: {e}")))?;
            total += b.len() as u64;
            if total > p.length {
                return Err(E::BadRequest(format!(
                    "replica body longer than {} bytes",
                    p.length
                )));
            }
            buf.extend_from_slice(&b);
        }
        if !buf.is_empty() && (done || buf.len() as u64 >= PIECE) {
            inc = append(inc, std::mem::take(&mut buf)).await?;
        }
        if done {
            break;
        }
    }
    if total != p.length {
        return Err(E::BadRequest(format!(
            "replica body is {total} bytes, expected {}",
            p.length
        )));
    }
    let Incoming {
        path, crcs, sha, ..
    } = inc;
    let sha = sha.finish();
    if sha != want_sha {
        return Err(E::BadRequest(format!(
            "replica SHA-256 {} does not match {}",
            hex::encode(sha),
            p.sha256
        )));
    }
    let crcs = crcs.finish();
    // Keep local writers out while the replica is swapped in.
    let existing = node.store.get(id).ok();
    let _op = match &existing {
        Some(c) => Some(c.op.lock().await),
        None => None,
    };
    let (version, length) = (p.version, p.length);
    node.blocking(move |s| s.install(id, version, &path, length, &crcs, sha))
        .await?;
    info!(chunk = %chunk_name(id), version, length, "received replica");
    Ok(ChunkReport {
        chunk_id: id,
        version,
        length,
    })
}
