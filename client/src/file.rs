//! File data I/O on top of chunks: reads that fail over between replicas and pad holes
//! with zeros, writes that rebuild the pipeline around a failed replica (HDFS pipeline
//! recovery: the master leaves the failed replica out and bumps the chunk version, so
//! the failed copy is stale), sync, and truncate.

use crate::Client;
use crate::blockcache::BlockKey;
use crate::error::{ClientError, Result};
use bytes::{Bytes, BytesMut};
use ferrofs_proto::namespace::*;
use ferrofs_proto::rpc;
use ferrofs_proto::{BLOCK_SIZE, CsId, ErrorCode, Ino};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Locations cached per file; refreshed after this long or on a read error.
const LOC_TTL: Duration = Duration::from_secs(5);
/// A replica that failed a read is tried last for this long.
const SUSPECT_FOR: Duration = Duration::from_secs(30);
/// Rounds over a chunk's replicas (with fresh locations between them) before a read
/// fails.
const READ_ROUNDS: u32 = 4;
/// Piece size for concurrent fetches inside one large read.
const READ_PIECE: u64 = 2 << 20;
/// Re-request a lease this long before the master says it ends.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Reads shorter than this (per chunk) go through the block cache; longer ones are
/// mostly sequential and would only push the random-access working set out.
const CACHED_READ_MAX: u64 = 256 << 10;

#[derive(Default)]
pub(crate) struct LocCache {
    pub chunk_size: u64,
    pub chunks: BTreeMap<u64, ChunkLoc>,
    /// Index ranges fetched: [first, end).
    pub ranges: Vec<(u64, u64, Instant)>,
}

impl LocCache {
    fn covers(&self, first: u64, end: u64) -> bool {
        self.ranges
            .iter()
            .any(|(a, b, t)| *a <= first && end <= *b && t.elapsed() < LOC_TTL)
    }
}

pub(crate) struct CachedLease {
    pub lease: WriteLease,
    pub until: Instant,
}

impl Client {
    /// Forget cached chunk locations of `ino` (on open, for close-to-open consistency).
    /// Also drops the file's cached blocks.
    pub fn invalidate(&self, ino: Ino) {
        self.inner.locs.lock().remove(&ino);
        self.inner.blocks.lock().invalidate(ino);
    }

    async fn locations(
        &self,
        ino: Ino,
        first: u64,
        end: u64,
        refresh: bool,
    ) -> Result<(u64, Vec<ChunkLoc>)> {
        if !refresh {
            let locs = self.inner.locs.lock();
            if let Some(c) = locs.get(&ino).filter(|c| c.covers(first, end)) {
                return Ok((
                    c.chunk_size,
                    c.chunks.range(first..end).map(|(_, l)| l.clone()).collect(),
                ));
            }
        }
        // Fetch a generous window so sequential reads need few master calls.
        let count = (end - first).clamp(64, 4096) as u32;
        let resp: ChunksResp = self
            .master
            .rpc::<rpc::Chunks>(&ChunksReq {
                ino,
                first_index: first,
                count,
            })
            .await?;
        let fetched_end = first + u64::from(count);
        let mut locs = self.inner.locs.lock();
        let c = locs.entry(ino).or_default();
        c.chunk_size = resp.chunk_size;
        let keys: Vec<u64> = c
            .chunks
            .range(first..fetched_end)
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            c.chunks.remove(&k);
        }
        for l in resp.chunks {
            c.chunks.insert(l.index, l);
        }
        c.ranges.retain(|(_, _, t)| t.elapsed() < LOC_TTL);
        c.ranges.push((first, fetched_end, Instant::now()));
        Ok((
            resp.chunk_size,
            c.chunks
                .range(first..end.min(fetched_end))
                .map(|(_, l)| l.clone())
                .collect(),
        ))
    }

    /// Chunk size of the cluster (cached).
    pub async fn chunk_size(&self) -> Result<u64> {
        let cs = *self.inner.chunk_size.lock();
        if let Some(cs) = cs {
            return Ok(cs);
        }
        let s: StatfsResp = self.master.rpc::<rpc::Statfs>(&Empty {}).await?;
        *self.inner.chunk_size.lock() = Some(s.chunk_size);
        Ok(s.chunk_size)
    }

    /// Read `[offset, offset+len)` of a file whose size is `size`; holes and unwritten
    /// tails read as zeros; short only at end of file. Large reads are split into
    /// pieces fetched concurrently (spread over replicas).
    pub async fn read_at(&self, ino: Ino, offset: u64, len: u64, size: u64) -> Result<Bytes> {
        if offset >= size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = (offset + len).min(size);
        if end - offset > 2 * READ_PIECE {
            let pieces: Vec<(u64, u64)> = (offset..end)
                .step_by(READ_PIECE as usize)
                .map(|o| (o, READ_PIECE.min(end - o)))
                .collect();
            let parts = futures::future::join_all(
                pieces
                    .iter()
                    .map(|(o, l)| self.read_range(ino, *o, *l, size)),
            )
            .await;
            let mut out = BytesMut::with_capacity((end - offset) as usize);
            for p in parts {
                out.extend_from_slice(&p?);
            }
            return Ok(out.freeze());
        }
        self.read_range(ino, offset, len, size).await
    }

    async fn read_range(&self, ino: Ino, offset: u64, len: u64, size: u64) -> Result<Bytes> {
        let end = (offset + len).min(size);
        let cs = self.chunk_size().await?;
        let (first, last) = (offset / cs, (end - 1) / cs);
        let mut out = BytesMut::with_capacity((end - offset) as usize);
        let (_, locs) = self.locations(ino, first, last + 1, false).await?;
        for index in first..=last {
            let cstart = index * cs;
            let a = offset.max(cstart) - cstart;
            let b = end.min(cstart + cs) - cstart;
            let want = (b - a) as usize;
            let loc = locs.iter().find(|l| l.index == index).cloned();
            let data = match loc {
                None => Bytes::new(),
                Some(loc) => self.read_chunk(ino, loc, a, b - a).await?,
            };
            let n = data.len().min(want);
            out.extend_from_slice(&data[..n]);
            out.resize(out.len() + (want - n), 0);
        }
        Ok(out.freeze())
    }

    /// Read from one chunk. Small reads are served from the block cache when it holds
    /// every block they touch, and otherwise fetch those whole blocks and keep them;
    /// large reads stream just the range and leave the cache alone.
    async fn read_chunk(&self, ino: Ino, loc: ChunkLoc, off: u64, len: u64) -> Result<Bytes> {
        if len >= CACHED_READ_MAX || !self.inner.blocks.lock().enabled() {
            return Ok(self.fetch_chunk(ino, loc, off, len, false).await?.2);
        }
        let key = |l: &ChunkLoc| BlockKey {
            ino,
            index: l.index,
            chunk: l.chunk_id,
            version: l.version,
            block: 0,
        };
        let blocks = off / BLOCK_SIZE..(off + len).div_ceil(BLOCK_SIZE);
        let cached = self.inner.blocks.lock().get_all(key(&loc), blocks.clone());
        if let Some(cached) = cached {
            return Ok(from_blocks(&cached, blocks.start * BLOCK_SIZE, off, len));
        }
        let epoch = self.inner.blocks.lock().epoch();
        let (loc, start, data) = self.fetch_chunk(ino, loc, off, len, true).await?;
        let Some(start) = start.filter(|s| *s <= off) else {
            return Ok(data); // not whole blocks (an older chunkserver): the range as asked
        };
        self.inner
            .blocks
            .lock()
            .insert(key(&loc), start, &data, epoch);
        let a = ((off - start) as usize).min(data.len());
        let b = ((off + len - start) as usize).min(data.len());
        Ok(data.slice(a..b))
    }

    /// Fetch `[off, off+len)` of a chunk (or with `whole_blocks` the blocks covering
    /// it), trying each replica and refreshing locations once if all fail. Returns the
    /// location read (it may have been refreshed) and the chunk offset the bytes start
    /// at, when the chunkserver said.
    async fn fetch_chunk(
        &self,
        ino: Ino,
        mut loc: ChunkLoc,
        off: u64,
        len: u64,
        whole_blocks: bool,
    ) -> Result<(ChunkLoc, Option<u64>, Bytes)> {
        let mut last = String::from("no live replica");
        // Locations can be a moment behind the chunk (a version bump, a replica added or
        // gone): refresh them a few times, backing off, before giving up.
        for round in 0..READ_ROUNDS {
            if round > 1 {
                tokio::time::sleep(Duration::from_millis(50 << (round - 2))).await;
            }
            for r in self.read_order(&loc, off) {
                let got = if whole_blocks {
                    self.chunks
                        .read_blocks(&r, loc.chunk_id, loc.version, off, len, &loc.token)
                        .await
                } else {
                    self.chunks
                        .read(&r, loc.chunk_id, loc.version, off, len, &loc.token)
                        .await
                        .map(|b| (Some(off), b))
                };
                match got {
                    Ok((start, b)) => {
                        self.inner.suspects.lock().remove(&r.addr);
                        return Ok((loc, start, b));
                    }
                    Err(e) => {
                        tracing::debug!(chunk = loc.chunk_id, replica = %r.addr, error = %e, "read failed, trying next replica");
                        self.inner
                            .suspects
                            .lock()
                            .insert(r.addr.clone(), Instant::now());
                        last = e.to_string();
                    }
                }
            }
            if round + 1 < READ_ROUNDS {
                let (_, fresh) = self.locations(ino, loc.index, loc.index + 1, true).await?;
                match fresh.into_iter().find(|l| l.index == loc.index) {
                    Some(l) => loc = l,
                    None => return Ok((loc, None, Bytes::new())), // truncated away meanwhile
                }
            }
        }
        Err(ClientError::NoReplica {
            chunk: loc.chunk_id,
            last,
        })
    }

    /// Replicas of a chunk in the order to try them: spread over replicas by chunk and
    /// offset, but replicas that failed a read recently go last, so a hung or broken
    /// chunkserver delays one read rather than every read until the master notices.
    fn read_order(&self, loc: &ChunkLoc, off: u64) -> Vec<ReplicaLoc> {
        let n = loc.replicas.len();
        let start = ((loc.chunk_id as usize) ^ ((off >> 20) as usize)) % n.max(1);
        let mut order: Vec<ReplicaLoc> = (0..n)
            .map(|i| loc.replicas[(start + i) % n].clone())
            .collect();
        let mut suspects = self.inner.suspects.lock();
        suspects.retain(|_, t| t.elapsed() < SUSPECT_FOR);
        // Stable: healthy replicas keep their spread order, suspects move to the end.
        order.sort_by_key(|r| suspects.get(&r.addr).copied());
        order
    }

    async fn lease(&self, ino: Ino, index: u64, exclude: &[CsId]) -> Result<WriteLease> {
        if exclude.is_empty()
            && let Some(c) = self.inner.leases.lock().get(&(ino, index))
            && c.until > Instant::now()
        {
            return Ok(c.lease.clone());
        }
        let lease: WriteLease = self
            .master
            .rpc::<rpc::Lease>(&LeaseReq {
                ino,
                index,
                exclude: exclude.to_vec(),
                holder: self.master.id(),
            })
            .await?;
        let until =
            Instant::now() + Duration::from_millis(lease.lease_ms).saturating_sub(LEASE_MARGIN);
        self.inner.leases.lock().insert(
            (ino, index),
            CachedLease {
                lease: lease.clone(),
                until,
            },
        );
        // The chunk may be new or have a new version: drop cached read locations.
        if let Some(c) = self.inner.locs.lock().get_mut(&ino) {
            c.chunks.remove(&index);
            c.ranges.clear();
        }
        Ok(lease)
    }

    fn drop_lease(&self, ino: Ino, index: u64, version: u64) {
        let mut l = self.inner.leases.lock();
        if l.get(&(ino, index))
            .is_some_and(|c| c.lease.version == version)
        {
            l.remove(&(ino, index));
        }
    }

    /// Run a pipelined operation on chunk `index`, rebuilding the pipeline on failure.
    async fn with_pipeline<F, Fut>(&self, ino: Ino, index: u64, op: F) -> Result<()>
    where
        F: Fn(WriteLease) -> Fut,
        Fut: std::future::Future<
                Output = std::result::Result<
                    ferrofs_proto::chunk::WriteResp,
                    crate::chunkio::PipelineError,
                >,
            >,
    {
        let mut exclude: Vec<CsId> = vec![];
        let mut last = String::new();
        let mut no_space = false;
        let attempts = self.inner.cfg.write_attempts.max(1);
        for attempt in 0..attempts {
            let lease = match self.lease(ino, index, &exclude).await {
                Ok(l) => l,
                // The replicas left out were full: that, not their absence, is why.
                Err(e) if no_space => {
                    return Err(ClientError::Api(ferrofs_proto::ApiError::new(
                        ErrorCode::NoSpace,
                        format!("no space left on the chunkservers of chunk {index}: {e}"),
                    )));
                }
                Err(e) => return Err(e),
            };
            match op(lease.clone()).await {
                Ok(_) => {
                    self.inner
                        .written
                        .lock()
                        .entry(ino)
                        .or_default()
                        .insert(index, lease.chunk_id);
                    return Ok(());
                }
                Err(pe) => {
                    self.drop_lease(ino, index, lease.version);
                    last = pe.error.to_string();
                    no_space |= pe.error.is(ErrorCode::NoSpace);
                    match (&pe.failed, pe.error.code()) {
                        (Some(f), _) => {
                            tracing::warn!(ino, index, chunk = lease.chunk_id, failed = %f.addr, error = %pe.error, "replica failed, rebuilding pipeline");
                            exclude.push(f.id.clone());
                        }
                        (
                            None,
                            Some(
                                ErrorCode::StaleVersion
                                | ErrorCode::NotFound
                                | ErrorCode::NoChunkservers,
                            ),
                        ) => {}
                        (None, Some(_)) => return Err(pe.error),
                        (None, None) => {
                            tracing::warn!(ino, index, error = %pe.error, "pipeline error");
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
                }
            }
        }
        if no_space {
            // Every replica tried was full: say so with the code callers match on.
            return Err(ClientError::Api(ferrofs_proto::ApiError::new(
                ErrorCode::NoSpace,
                format!("no space left on the chunkservers of chunk {index}: {last}"),
            )));
        }
        Err(ClientError::WriteFailed {
            chunk: index,
            attempts,
            last,
        })
    }

    /// Write `data` at `offset` of chunk `index` of a file. Returns once every replica
    /// in the pipeline has the bytes (on disk too if `sync`).
    pub async fn write_chunk(
        &self,
        ino: Ino,
        index: u64,
        offset: u64,
        data: Bytes,
        sync: bool,
    ) -> Result<()> {
        let io = self.chunks.clone();
        let len = data.len() as u64;
        let r = self
            .with_pipeline(ino, index, |lease| {
                let (io, data) = (io.clone(), data.clone());
                async move { io.write(&lease, offset, data, sync).await }
            })
            .await;
        // Even a failed write may have landed on some replicas.
        self.inner
            .blocks
            .lock()
            .invalidate_range(ino, index, offset, len);
        r
    }

    /// Write at any file offset, split across chunks. Does not change the file size at
    /// the master: call `commit` after.
    pub async fn write_at(&self, ino: Ino, offset: u64, data: Bytes) -> Result<()> {
        let cs = self.chunk_size().await?;
        let mut pos = 0usize;
        while pos < data.len() {
            let abs = offset + pos as u64;
            let index = abs / cs;
            let in_chunk = abs % cs;
            let n = ((cs - in_chunk) as usize).min(data.len() - pos);
            self.write_chunk(ino, index, in_chunk, data.slice(pos..pos + n), false)
                .await?;
            pos += n;
        }
        Ok(())
    }

    /// fsync the given chunks of a file on all their replicas.
    pub async fn sync_chunks(&self, ino: Ino, indexes: &[u64]) -> Result<()> {
        let io = self.chunks.clone();
        let futs = indexes.iter().map(|&index| {
            let io = io.clone();
            self.with_pipeline(ino, index, move |lease| {
                let io = io.clone();
                async move { io.sync(&lease).await }
            })
        });
        for r in futures::future::join_all(futs).await {
            r?;
        }
        Ok(())
    }

    /// Record a new size (grow only) and mtime, and check that the chunks written
    /// since the last commit are still the file's (`ChunkLost` otherwise); with `sync`
    /// the master group has it on disk (a majority). This client keeps its leases.
    pub async fn commit(
        &self,
        ino: Ino,
        size: u64,
        mtime: Option<Timespec>,
        sync: bool,
    ) -> Result<Attr> {
        self.commit_with(ino, size, mtime, sync, false, None).await
    }

    /// `commit`, as the writer closes the file: its holds on the file's leases end, so
    /// the chunks may be copied at once, and its cached leases are dropped (a later
    /// write asks for a lease again).
    pub async fn close(
        &self,
        ino: Ino,
        size: u64,
        mtime: Option<Timespec>,
        sync: bool,
    ) -> Result<Attr> {
        self.commit_with(ino, size, mtime, sync, true, None).await
    }

    /// `commit` or (`close`) `close`, with attribute changes applied right after it,
    /// atomically, in the same call (see `CommitReq::attrs`).
    pub async fn commit_with(
        &self,
        ino: Ino,
        size: u64,
        mtime: Option<Timespec>,
        sync: bool,
        close: bool,
        attrs: Option<SetattrReq>,
    ) -> Result<Attr> {
        if close {
            self.inner.leases.lock().retain(|(i, _), _| *i != ino);
        }
        let written = self.inner.written.lock().remove(&ino).unwrap_or_default();
        let chunks = written
            .iter()
            .map(|(index, chunk_id)| ChunkRef {
                index: *index,
                chunk_id: *chunk_id,
            })
            .collect();
        let r = self
            .master
            .rpc::<rpc::Commit>(&CommitReq {
                ino,
                size,
                mtime,
                sync,
                chunks,
                close,
                attrs,
            })
            .await;
        if r.is_err() && !r.as_ref().is_err_and(|e| e.is(ErrorCode::ChunkLost)) {
            // Not decided: the next commit checks these chunks again.
            let mut w = self.inner.written.lock();
            let e = w.entry(ino).or_default();
            for (i, c) in written {
                e.entry(i).or_insert(c);
            }
        }
        r
    }

    /// Set the size of a file: the partial last chunk is trimmed on its replicas first,
    /// then the master drops whole chunks past the end.
    pub async fn truncate(&self, ino: Ino, size: u64) -> Result<Attr> {
        let cs = self.chunk_size().await?;
        let cur = self.getattr(ino).await?;
        if size < cur.size && !size.is_multiple_of(cs) {
            let index = size / cs;
            let (_, locs) = self.locations(ino, index, index + 1, true).await?;
            if locs.iter().any(|l| l.index == index) {
                let io = self.chunks.clone();
                let len = size % cs;
                self.with_pipeline(ino, index, move |lease| {
                    let io = io.clone();
                    async move { io.truncate(&lease, len).await }
                })
                .await?;
            }
        }
        self.invalidate(ino);
        self.inner
            .leases
            .lock()
            .retain(|(i, idx), _| *i != ino || *idx * cs < size);
        self.setattr(SetattrReq {
            ino,
            size: Some(size),
            ..Default::default()
        })
        .await
    }
}

/// `[off, off+len)` of a chunk out of cached blocks that start at chunk offset `start`;
/// short where the chunk ended (a short last block), like a read from the chunkserver.
///
/// A block cached short was the chunk's last one when it was fetched; the chunk may
/// have grown since by writes to later blocks (which drop only the blocks they touch),
/// so the rest of a short block that is not the last one asked for is a hole: zeros.
/// (A write into the short block itself drops it, and a truncate drops every block.)
fn from_blocks(blocks: &[Bytes], start: u64, off: u64, len: u64) -> Bytes {
    let a = (off - start) as usize;
    if let [one] = blocks {
        let b = ((off + len - start) as usize).min(one.len());
        return one.slice(a.min(b)..b);
    }
    let mut all = BytesMut::with_capacity(blocks.len() * BLOCK_SIZE as usize);
    for (i, b) in blocks.iter().enumerate() {
        all.extend_from_slice(b);
        if i + 1 < blocks.len() {
            all.resize(all.len() + (BLOCK_SIZE as usize).saturating_sub(b.len()), 0);
        }
    }
    let b = ((off + len - start) as usize).min(all.len());
    all.freeze().slice(a.min(b)..b)
}

#[cfg(test)]
mod tests {
    use super::*;
    const B: usize = BLOCK_SIZE as usize;

    #[test]
    fn short_block_before_a_later_block_reads_as_a_hole() {
        // Block 0 was cached when the chunk ended at 100 bytes; block 1 later.
        let blocks = [Bytes::from(vec![1u8; 100]), Bytes::from(vec![2u8; 10])];
        let got = from_blocks(&blocks, 0, 50, B as u64 + 5);
        let mut want = vec![1u8; 50];
        want.resize(B - 50, 0);
        want.extend_from_slice(&[2u8; 10]);
        assert!(got == want, "block 1's bytes stay at their offsets");
        // The last block asked for stays short: the read is short at the chunk's end.
        assert_eq!(from_blocks(&blocks, 0, 0, 3 * B as u64).len(), B + 10);
        assert_eq!(from_blocks(&blocks[..1], 0, 10, B as u64).len(), 90);
    }
}
