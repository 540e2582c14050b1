//! Whole-replica copies between chunkservers, ordered by the master: sending a local
//! replica (CRC-verified as it is read, its block CRC32Cs sent after the bytes and its
//! SHA-256, if known, beside them) and receiving one into a temp file that only
//! replaces the old replica once its length and checksums match. A received replica is
//! fsynced by the write-back worker, as a file closed without fsync(2).

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

/// Pieces read ahead of the network while sending a replica.
const SEND_AHEAD: usize = 4;
/// Bytes per write of a received replica.
const RECEIVE_PIECE: usize = 4 << 20;
/// Length of the SHA-256 trailer of a replica body sent with `sha_trailer`.
const SHA_LEN: usize = 32;

/// Length of the trailer of a replica body of `length` bytes.
fn trailer_len(p: &ReplicaParams) -> usize {
    if p.sha_trailer {
        SHA_LEN
    } else if p.crc_trailer {
        4 * p.length.div_ceil(ferrofs_proto::BLOCK_SIZE) as usize
    } else {
        0
    }
}

/// Copy the local replica of `id` at `version` to `target`.
///
/// The bytes are read (CRC-verified) by a producer task a few pieces ahead of the
/// network and followed by the CRC32Cs of the blocks sent (`crc_trailer`); the target
/// checks its own against them. The replica's SHA-256 travels with it when known and is
/// not hashed again on the way (the target's scrubber verifies it later, as this
/// server's does): a heal costs a CRC pass per side, not a SHA-256 pass, as HDFS and
/// MooseFS copy blocks under their CRCs alone.
pub async fn copy_to(
    node: Arc<Node>,
    id: ChunkId,
    version: Version,
    target: &ReplicaLoc,
) -> Result<u64> {
    let c = node.store.get(id)?;
    let (known_sha, length, generation) = {
        let _op = c.op.lock().await;
        let st = c.st.read();
        if st.removed || st.version != version {
            return Err(E::StaleVersion {
                chunk: id,
                have: st.version,
                want: version,
            });
        }
        (st.sha, st.length, st.generation)
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(SEND_AHEAD);
    tokio::spawn(produce(node.clone(), c, version, length, generation, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let params = ReplicaParams {
        version,
        length,
        sha256: known_sha.map(hex::encode).unwrap_or_default(),
        sha_trailer: false,
        crc_trailer: true,
    };
    // Allow for slow links: the request timeout plus a second per MiB.
    let limit = node.config.request_timeout + Duration::from_secs(length >> 20);
    let resp = node
        .http
        .put(node.transport.url(&target.addr, &api::replica_path(id)))
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

/// Read a replica piece by piece into `tx`, then the CRC32C trailer.
/// A read error, or a change of the chunk while it was read, ends the stream with an
/// error, so the target never installs a torn copy.
async fn produce(
    node: Arc<Node>,
    c: Arc<crate::store::Chunk>,
    version: Version,
    length: u64,
    generation: u64,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    // The stored CRC32Cs each piece was verified against (pieces are whole blocks).
    let mut crcs: Vec<u32> =
        Vec::with_capacity(length.div_ceil(ferrofs_proto::BLOCK_SIZE) as usize);
    let mut at = 0u64;
    while at < length {
        let n = (length - at).min(PIECE);
        let c2 = c.clone();
        let read = node
            .blocking(move |s| s.read_checked(&c2, version, at, n))
            .await;
        let piece = match read {
            Ok((p, piece_crcs)) if !p.is_empty() => {
                crcs.extend(piece_crcs);
                p
            }
            Ok(_) => {
                let _ = tx
                    .send(Err(std::io::Error::other("chunk shrank while copying")))
                    .await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e))).await;
                return;
            }
        };
        at += piece.len() as u64;
        if tx.send(Ok(Bytes::from(piece))).await.is_err() {
            return; // the request was dropped
        }
    }
    // The CRCs stand for the replica only if no write landed while it was read.
    let c2 = c.clone();
    let unchanged = node
        .blocking(move |s| s.unchanged_since(&c2, version, generation))
        .await;
    let last = match unchanged {
        Ok(true) => Ok(Bytes::from(
            crcs.iter()
                .flat_map(|c| c.to_le_bytes())
                .collect::<Vec<u8>>(),
        )),
        Ok(false) => Err(std::io::Error::other("chunk changed while copying")),
        Err(e) => Err(std::io::Error::other(e)),
    };
    let _ = tx.send(last).await;
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
        node.store.changes.notify_all();
    });
}

/// Temp file being filled with a received replica, with its running checksums (the
/// SHA-256 only when the sender asks the bytes be checked against one).
struct Incoming {
    path: PathBuf,
    file: File,
    crcs: CrcBuilder,
    sha: Option<ShaBuilder>,
}

impl Incoming {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .ctx(|| format!("write {}", self.path.display()))?;
        self.crcs.update(data);
        if let Some(sha) = self.sha.as_mut() {
            sha.update(data);
        }
        Ok(())
    }
}

/// A write in flight; gives back the file and the emptied buffer for reuse.
type Appending = tokio::task::JoinHandle<Result<(Incoming, Vec<u8>)>>;

/// Write and hash `data` on a blocking thread while the caller receives more.
fn append(inc: Incoming, data: Vec<u8>) -> Appending {
    tokio::task::spawn_blocking(move || {
        let (mut inc, mut data) = (inc, data);
        inc.append(&data)?;
        data.clear();
        Ok((inc, data))
    })
}

async fn finish_append(task: Appending) -> Result<(Incoming, Vec<u8>)> {
    task.await
        .map_err(|e| E::Internal(format!("blocking task failed: {e}")))?
}

/// Receive a whole replica from a peer (`PUT replica_path`).
pub async fn receive(
    node: Arc<Node>,
    id: ChunkId,
    p: ReplicaParams,
    body: Body,
) -> Result<ChunkReport> {
    let mut frames = body.into_data_stream();
    let result = receive_checked(&node, id, &p, &mut frames).await;
    if result.is_err() {
        // Read what the sender is still sending before refusing: a reply sent before the
        // body is read makes the connection close under the sender, which then sees a
        // send error instead of the reason.
        drain(&mut frames, p.length.min(DRAIN_MAX) + DRAIN_SLACK).await;
    }
    result
}

/// Bytes past a refused replica's declared length still read before replying.
const DRAIN_SLACK: u64 = 1 << 20;
/// Most of a refused replica's declared length read before replying.
const DRAIN_MAX: u64 = 128 << 20;

async fn receive_checked(
    node: &Arc<Node>,
    id: ChunkId,
    p: &ReplicaParams,
    frames: &mut axum::body::BodyDataStream,
) -> Result<ChunkReport> {
    if p.sha_trailer && p.crc_trailer {
        return Err(E::BadRequest(
            "sha_trailer and crc_trailer exclude each other".into(),
        ));
    }
    let parse_sha = |hex_sha: &str| -> Result<[u8; 32]> {
        hex::decode(hex_sha)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| E::BadRequest(format!("bad sha256 {hex_sha:?}")))
    };
    // With `crc_trailer` a given SHA-256 is the sender's, kept as it is; otherwise the
    // bytes are hashed and checked against the one given up front or in the trailer.
    let want_sha: Option<[u8; 32]> = match (p.sha_trailer, p.crc_trailer) {
        (false, false) => Some(parse_sha(&p.sha256)?),
        (_, true) if !p.sha256.is_empty() => Some(parse_sha(&p.sha256)?),
        _ => None,
    };
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
        sha: (!p.crc_trailer).then(ShaBuilder::default),
    };
    let result = receive_into(node, id, p, want_sha, inc, frames).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    result
}

/// Read and drop what is left of a body, up to `limit` bytes or 5 seconds.
async fn drain(frames: &mut axum::body::BodyDataStream, limit: u64) {
    let mut seen = 0u64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while seen <= limit {
        match tokio::time::timeout_at(deadline, frames.next()).await {
            Ok(Some(Ok(b))) => seen += b.len() as u64,
            _ => return,
        }
    }
}

async fn receive_into(
    node: &Arc<Node>,
    id: ChunkId,
    p: &ReplicaParams,
    want_sha: Option<[u8; 32]>,
    inc: Incoming,
    frames: &mut axum::body::BodyDataStream,
) -> Result<ChunkReport> {
    let mut buf = Vec::with_capacity(RECEIVE_PIECE);
    let trailer_len = trailer_len(p);
    let mut trailer = Vec::with_capacity(trailer_len.min(64 << 10));
    let mut total = 0u64;
    // At most one write in flight: the next piece is received while it runs.
    let mut writing: Option<Appending> = None;
    let mut idle = Some(inc);
    loop {
        let frame = frames.next().await;
        let done = frame.is_none();
        if let Some(f) = frame {
            let b = f.map_err(|e| E::BadRequest(format!("reading replica body: {e}")))?;
            let data_left = p.length.saturating_sub(total) as usize;
            let (data, rest) = b.split_at(b.len().min(data_left));
            total += data.len() as u64;
            buf.extend_from_slice(data);
            if trailer.len() + rest.len() > trailer_len {
                return Err(E::BadRequest(format!(
                    "replica body longer than {} bytes",
                    p.length + trailer_len as u64
                )));
            }
            trailer.extend_from_slice(rest);
        }
        if !buf.is_empty() && (done || buf.len() >= RECEIVE_PIECE) {
            // Two buffers take turns: one being written, one being filled.
            let (inc, spare) = match (writing.take(), idle.take()) {
                (Some(task), _) => finish_append(task).await?,
                (None, Some(inc)) => (inc, Vec::with_capacity(RECEIVE_PIECE)),
                (None, None) => unreachable!("the temp file is either idle or being written"),
            };
            let data = std::mem::replace(&mut buf, spare);
            writing = Some(append(inc, data));
        }
        if done {
            break;
        }
    }
    let inc = match (writing.take(), idle.take()) {
        (Some(task), _) => finish_append(task).await?.0,
        (None, Some(inc)) => inc,
        (None, None) => unreachable!("the temp file is either idle or being written"),
    };
    if total != p.length || trailer.len() != trailer_len {
        return Err(E::BadRequest(format!(
            "replica body is {} bytes, expected {}",
            total + trailer.len() as u64,
            p.length + trailer_len as u64
        )));
    }
    let Incoming {
        path, crcs, sha, ..
    } = inc;
    let crcs = crcs.finish();
    let sha = match sha {
        None => {
            let sent = trailer
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
            if let Some(block) = sent.zip(&crcs).position(|(s, c)| s != *c) {
                return Err(E::BadRequest(format!(
                    "replica block {block}: CRC32C does not match the sender's"
                )));
            }
            want_sha
        }
        Some(sha) => {
            let sha = sha.finish();
            let want_sha = match want_sha {
                Some(s) => s,
                None => trailer
                    .as_slice()
                    .try_into()
                    .expect("trailer length checked above"),
            };
            if sha != want_sha {
                return Err(E::BadRequest(format!(
                    "replica SHA-256 {} does not match {}",
                    hex::encode(sha),
                    hex::encode(want_sha)
                )));
            }
            Some(sha)
        }
    };
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
