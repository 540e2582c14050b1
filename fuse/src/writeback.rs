//! The write buffer of an open inode: sequential writes coalesce into one run of up to
//! `MAX_BUFFER` bytes, which goes to the chunkservers when it is full, when a write is
//! not contiguous with it, and before anything that must see the data (reads, flush,
//! fsync, close, truncate). All handles of an inode on this mount share one buffer, so
//! a read through any handle sees every write made through this mount.

use bytes::{Bytes, BytesMut};
use ferrofs_client::{Client, ClientError};
use ferrofs_proto::Ino;
use futures::{StreamExt, TryStreamExt};
use std::ops::Range;

/// Largest run of buffered bytes.
pub const MAX_BUFFER: usize = 8 << 20;
/// Chunks of one flushed run written at the same time.
const PARALLEL_CHUNKS: usize = 4;
/// Full runs of a sequential writer going out in the background at once (write-behind).
pub const MAX_INFLIGHT: usize = 4;

/// A run being written in the background.
pub type Inflight = tokio::task::JoinHandle<Result<(), ClientError>>;

#[derive(Default)]
pub struct WriteBuffer {
    off: u64,
    data: BytesMut,
    /// Runs written behind the application, oldest first. They only ever hold
    /// sequential, non-overlapping ranges: a write that is not contiguous waits for
    /// all of them first, so bytes never land out of order.
    pub inflight: std::collections::VecDeque<Inflight>,
}

impl WriteBuffer {
    /// Nothing buffered and nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.inflight.is_empty()
    }

    /// Can `len` bytes at `off` be appended without flushing first?
    pub fn fits(&self, off: u64, len: usize) -> bool {
        self.data.is_empty() || (off == self.end() && self.data.len() + len <= MAX_BUFFER)
    }

    pub fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }

    /// Append bytes; the caller has checked `fits` (or flushed).
    pub fn append(&mut self, off: u64, bytes: &[u8]) {
        debug_assert!(self.fits(off, bytes.len()) || self.data.is_empty());
        if self.data.is_empty() {
            self.off = off;
            self.data.reserve(bytes.len().max(256 << 10));
        }
        self.data.extend_from_slice(bytes);
    }

    pub fn is_full(&self) -> bool {
        self.data.len() >= MAX_BUFFER
    }

    /// Take the buffered run, leaving the buffer empty.
    pub fn take(&mut self) -> Option<(u64, Bytes)> {
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).freeze();
        Some((self.off, data))
    }
}

/// Indexes of the chunks that `len` bytes at `off` touch.
pub fn chunks_touched(off: u64, len: u64, chunk_size: u64) -> Range<u64> {
    if len == 0 {
        return 0..0;
    }
    off / chunk_size..(off + len - 1) / chunk_size + 1
}

/// Split a run at chunk boundaries: (chunk index, offset in chunk, range in `data`).
pub fn split(off: u64, len: usize, chunk_size: u64) -> Vec<(u64, u64, Range<usize>)> {
    let mut out = vec![];
    let mut pos = 0usize;
    while pos < len {
        let abs = off + pos as u64;
        let in_chunk = abs % chunk_size;
        let n = ((chunk_size - in_chunk) as usize).min(len - pos);
        out.push((abs / chunk_size, in_chunk, pos..pos + n));
        pos += n;
    }
    out
}

/// Write a run to the chunkservers, several chunks at a time. Returns once every
/// replica of every touched chunk has the bytes; with `sync`, on disk too (each replica
/// fsyncs the chunk as part of the same pipelined request, which saves a round of the
/// pipeline for the last run before a close).
pub async fn write_out(
    client: &Client,
    ino: Ino,
    off: u64,
    data: Bytes,
    chunk_size: u64,
    sync: bool,
) -> Result<(), ClientError> {
    futures::stream::iter(split(off, data.len(), chunk_size))
        .map(|(index, in_chunk, r)| client.write_chunk(ino, index, in_chunk, data.slice(r), sync))
        .buffer_unordered(PARALLEL_CHUNKS)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_writes_coalesce_until_full() {
        let mut b = WriteBuffer::default();
        assert!(b.fits(100, 10));
        b.append(100, &[1; 10]);
        assert!(b.fits(110, 5));
        assert!(!b.fits(111, 5), "a gap needs a flush");
        assert!(!b.fits(100, 5), "an overwrite needs a flush");
        b.append(110, &[2; 5]);
        assert!(!b.fits(115, MAX_BUFFER));
        let (off, data) = b.take().unwrap();
        assert_eq!((off, data.len()), (100, 15));
        assert!(b.is_empty() && b.take().is_none());
    }

    #[test]
    fn split_at_chunk_boundaries() {
        assert_eq!(split(0, 0, 10), vec![]);
        assert_eq!(split(5, 10, 10), vec![(0, 5, 0..5), (1, 0, 5..10)]);
        assert_eq!(split(10, 10, 10), vec![(1, 0, 0..10)]);
        assert_eq!(
            split(19, 12, 10),
            vec![(1, 9, 0..1), (2, 0, 1..11), (3, 0, 11..12)]
        );
        assert_eq!(chunks_touched(19, 12, 10), 1..4);
        assert_eq!(chunks_touched(10, 10, 10), 1..2);
        assert_eq!(chunks_touched(10, 0, 10), 0..0);
    }
}
