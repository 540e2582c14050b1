//! Chunkserver HTTP API. Chunk data travels as raw bytes bodies, never JSON.
//! `{id}` is the chunk id in decimal. Client-facing calls carry an access `token`;
//! internal calls (master -> chunkserver, chunkserver -> chunkserver) carry the cluster
//! secret in the `x-ferrofs-secret` header.

use crate::{ChunkId, Version};
use serde::{Deserialize, Serialize};

/// `PUT` raw bytes at `offset` (query: `WriteParams`). Streams to local disk and forwards
/// to the rest of the chain; replies `WriteResp` only once every replica has the bytes.
pub fn data_path(id: ChunkId) -> String {
    format!("/v1/chunk/{id}/data")
}
/// `GET` raw bytes (query: `ReadParams`); every 64 KiB block touched is CRC-verified.
/// Bytes past the chunk's stored length and up to `len` read as zeros only if the caller
/// asks for them (`len` is clipped to the stored length otherwise). With
/// `whole_blocks` the range is widened to the blocks it touches and the reply's
/// `DATA_OFFSET_HEADER` says at which chunk offset the returned bytes start.
pub fn read_path(id: ChunkId) -> String {
    format!("/v1/chunk/{id}/data")
}
/// `POST` (query: `TruncateParams`): set chunk length, pipelined like a write.
pub fn truncate_path(id: ChunkId) -> String {
    format!("/v1/chunk/{id}/truncate")
}
/// `POST` (query: `SyncParams`): fsync data and checksums on every replica in the chain.
pub fn sync_path(id: ChunkId) -> String {
    format!("/v1/chunk/{id}/sync")
}
/// `GET` (query: `token`): `ChunkInfo`, SHA-256 computed if not cached.
pub fn info_path(id: ChunkId) -> String {
    format!("/v1/chunk/{id}/info")
}
/// Internal `POST` JSON `CreateChunkReq`: master asks to create an empty chunk.
pub fn create_path(id: ChunkId) -> String {
    format!("/v1/internal/chunk/{id}/create")
}
/// Internal `POST` JSON `CreateChunksReq`, reply `CreateChunksResp`: master asks to
/// create several empty chunks at once (its pool of chunks made ahead of need).
pub const CREATE_CHUNKS: &str = "/v1/internal/chunks/create";
/// Most chunks one `CreateChunksReq` names.
pub const MAX_CREATE_CHUNKS: usize = 256;
/// Internal `POST` JSON `BumpVersionReq`: master bumps the version before a lease.
pub fn bump_path(id: ChunkId) -> String {
    format!("/v1/internal/chunk/{id}/bump")
}
/// Internal `PUT` raw whole-chunk bytes (query: `ReplicaParams`) from a peer copying a
/// replica, optionally followed by their SHA-256; the receiver verifies the SHA-256
/// before the replica counts.
pub fn replica_path(id: ChunkId) -> String {
    format!("/v1/internal/chunk/{id}/replica")
}
/// Internal `POST`: the master has queued commands; heartbeat now instead of waiting
/// for the next interval (commands still travel in the heartbeat reply).
pub const HEARTBEAT_NOW: &str = "/v1/internal/heartbeat-now";
/// Reply header of a read: the chunk offset of the first byte of the body (decimal).
pub const DATA_OFFSET_HEADER: &str = "x-ferrofs-data-offset";
/// `GET` health probe of any server.
pub const HEALTH: &str = "/health";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteParams {
    /// Version the replica must hold (the master bumped it before granting the lease).
    pub version: Version,
    pub offset: u64,
    /// fsync data and checksums before replying.
    #[serde(default)]
    pub sync: bool,
    /// Comma-separated `host:port` list of the downstream replicas, in order.
    #[serde(default)]
    pub chain: String,
    #[serde(default)]
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadParams {
    pub version: Version,
    pub offset: u64,
    pub len: u64,
    #[serde(default)]
    pub token: String,
    /// Return the whole verified `BLOCK_SIZE` blocks covering `[offset, offset+len)`
    /// (the last one clipped to the chunk's stored length) instead of just the range,
    /// so the client can cache them. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole_blocks: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruncateParams {
    pub version: Version,
    pub len: u64,
    #[serde(default)]
    pub chain: String,
    #[serde(default)]
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncParams {
    pub version: Version,
    #[serde(default)]
    pub chain: String,
    #[serde(default)]
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenParam {
    #[serde(default)]
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteResp {
    /// Number of replicas (this one and downstream) that applied the operation.
    pub replicas: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub chunk_id: ChunkId,
    pub version: Version,
    pub length: u64,
    /// Hex SHA-256 of the chunk's bytes `[0, length)`.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateChunkReq {
    pub version: Version,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateChunksReq {
    /// 1..=`MAX_CREATE_CHUNKS` distinct chunk ids, each created empty at `version`.
    pub chunks: Vec<ChunkId>,
    pub version: Version,
}

impl CreateChunksReq {
    /// The request's fields as the chunkserver accepts them, or why not.
    pub fn check(&self) -> Result<(), String> {
        if self.chunks.is_empty() || self.chunks.len() > MAX_CREATE_CHUNKS {
            return Err(format!(
                "a create names 1..={MAX_CREATE_CHUNKS} chunks, not {}",
                self.chunks.len()
            ));
        }
        if self.version == 0 {
            return Err("version 0 is no chunk's version".into());
        }
        let distinct: std::collections::HashSet<_> = self.chunks.iter().collect();
        if distinct.len() != self.chunks.len() {
            return Err("a chunk is named twice".into());
        }
        Ok(())
    }
}

/// The chunks of a `CreateChunksReq` that the chunkserver now holds empty at the asked
/// version (created, or there already); the others it could not create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateChunksResp {
    pub created: Vec<ChunkId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BumpVersionReq {
    pub from: Version,
    pub to: Version,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaParams {
    pub version: Version,
    pub length: u64,
    /// Hex SHA-256 of the replica: without a trailer the received bytes must match it;
    /// with `crc_trailer` it is the sender's own (its scrubber's or its writer's), kept
    /// by the receiver as it is once the CRC32Cs match, empty if the sender has none;
    /// empty with `sha_trailer`.
    #[serde(default)]
    pub sha256: String,
    /// The body is the `length` bytes followed by their 32-byte SHA-256, which the
    /// sender computes as it streams (so it need not read the chunk twice); the
    /// receiver checks the bytes against it all the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sha_trailer: bool,
    /// The body is the `length` bytes followed by the CRC32C of each 64 KiB block (4
    /// bytes little-endian each; the last block may be short), which the sender computes
    /// from the bytes it read and verified against its own checksums. The receiver checks
    /// the CRC32Cs it computes anyway against them and hashes nothing: a copy costs a
    /// CRC pass per side (HDFS and MooseFS move blocks under CRCs alone), and the
    /// SHA-256 (`sha256`) is verified by the receiver's scrubber later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crc_trailer: bool,
}
