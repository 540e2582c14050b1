//! Wire types shared by every ferrofs role: ids, error codes, and the request/response
//! body of every HTTP call, next to the path it travels on. Servers route on these
//! constants and clients call them, so a path and its reply type cannot drift apart.

pub mod admin;
pub mod chunk;
pub mod error;
pub mod heartbeat;
pub mod ids;
pub mod namespace;
pub mod path;
pub mod raft;
pub mod rpc;
pub mod token;
pub mod units;
pub mod validate;

pub use error::{ApiError, ErrorCode};
pub use ids::{ChunkId, CsId, Ino, Version};

/// Default chunk size: 64 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 20;
/// Size of a checksummed block inside a chunk: 64 KiB, one CRC32C each.
pub const BLOCK_SIZE: u64 = 64 << 10;
/// Inode number of the root directory.
pub const ROOT_INO: Ino = 1;
/// Longest file name accepted, as in most local file systems.
pub const MAX_NAME_LEN: usize = 255;
/// Largest file size, 128 PiB (as MooseFS): sizes and writes beyond it are EFBIG.
pub const MAX_FILE_SIZE: u64 = 1 << 57;
/// Header a master or chunkserver uses to carry the cluster secret on internal calls.
pub const SECRET_HEADER: &str = "x-ferrofs-secret";
