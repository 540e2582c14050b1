//! Identifiers shared across roles.

/// Inode number in the master's namespace. 1 is the root directory.
pub type Ino = u64;
/// Chunk identifier, allocated by the master, never reused.
pub type ChunkId = u64;
/// Chunk version, bumped by the master on every write lease. 0 means "no chunk yet".
pub type Version = u64;
/// Chunkserver identifier: a string generated once and kept in the chunkserver's data dir.
pub type CsId = String;

/// Canonical text form of a chunk id, used in file names and logs (16 hex digits).
pub fn chunk_name(id: ChunkId) -> String {
    format!("{id:016x}")
}
