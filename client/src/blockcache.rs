//! Client-side cache of verified chunk blocks for small random reads.
//!
//! A small read asks the chunkserver for the whole `BLOCK_SIZE` blocks it touches (the
//! chunkserver reads and CRC-verifies them anyway) and keeps them here, so later reads
//! of the same blocks need no round trip. Entries are keyed by the chunk's identity
//! (id and version) as well as its place in the file, so a new version never serves old
//! bytes; the cache is bounded by bytes and evicts the least recently used block.
//!
//! Consistency is close-to-open, like the kernel's page cache over NFS: `invalidate`
//! drops every block of a file (on open), and this client's own writes drop the blocks
//! they touch. A fill that raced with an invalidation of its file is not kept: every
//! invalidation stamps the file with a new epoch, and a fill carries the epoch read
//! before its fetch started.

use bytes::Bytes;
use ferrofs_proto::{BLOCK_SIZE, ChunkId, Ino, Version};
use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// Where a block lives: file, chunk index, chunk identity, block index in the chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockKey {
    pub ino: Ino,
    pub index: u64,
    pub chunk: ChunkId,
    pub version: Version,
    pub block: u64,
}

/// Epoch map entries kept before the map is reset to a floor (bounds its memory).
const MAX_EPOCHS: usize = 65_536;

pub struct BlockCache {
    capacity: u64,
    bytes: u64,
    lru: LruCache<BlockKey, Bytes>,
    /// Keys held per file, for invalidation without scanning the whole cache.
    by_ino: HashMap<Ino, HashSet<BlockKey>>,
    /// Bumped by every invalidation.
    clock: u64,
    /// Last invalidation of each file; files not listed were last invalidated at or
    /// before `floor`.
    epochs: HashMap<Ino, u64>,
    floor: u64,
}

impl BlockCache {
    /// A cache holding at most `capacity` bytes of blocks (0: caches nothing).
    pub fn new(capacity: u64) -> Self {
        BlockCache {
            capacity,
            bytes: 0,
            lru: LruCache::unbounded(),
            by_ino: HashMap::new(),
            clock: 0,
            epochs: HashMap::new(),
            floor: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Bytes of blocks held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Blocks held.
    pub fn len(&self) -> usize {
        self.lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    /// Take before fetching blocks; pass to `insert`.
    pub fn epoch(&self) -> u64 {
        self.clock
    }

    /// The blocks `blocks` of a chunk if every one is cached (marking them used).
    pub fn get_all(&mut self, key: BlockKey, blocks: Range<u64>) -> Option<Vec<Bytes>> {
        blocks
            .map(|block| self.lru.get(&BlockKey { block, ..key }).cloned())
            .collect()
    }

    /// Keep `data`, which starts at chunk offset `start` (a block boundary) and holds
    /// whole blocks (the last may be short: the chunk's end), unless the file was
    /// invalidated since `epoch`. Blocks of other versions of the chunk are dropped.
    pub fn insert(&mut self, key: BlockKey, start: u64, data: &Bytes, epoch: u64) {
        if !self.enabled() || !start.is_multiple_of(BLOCK_SIZE) {
            return;
        }
        let last_invalidated = self.epochs.get(&key.ino).copied().unwrap_or(self.floor);
        if last_invalidated > epoch {
            return;
        }
        self.remove_where(key.ino, |k| {
            k.index == key.index && (k.chunk, k.version) != (key.chunk, key.version)
        });
        let first = start / BLOCK_SIZE;
        for (i, piece) in data.chunks(BLOCK_SIZE as usize).enumerate() {
            let k = BlockKey {
                block: first + i as u64,
                ..key
            };
            let v = data.slice_ref(piece);
            self.bytes += v.len() as u64;
            if let Some(old) = self.lru.put(k, v) {
                self.bytes -= old.len() as u64;
            }
            self.by_ino.entry(k.ino).or_default().insert(k);
        }
        while self.bytes > self.capacity {
            let Some((k, v)) = self.lru.pop_lru() else {
                break;
            };
            self.bytes -= v.len() as u64;
            self.forget_key(&k);
        }
    }

    /// Drop every block of `ino` and refuse fills that started before now.
    pub fn invalidate(&mut self, ino: Ino) {
        self.stamp(ino);
        self.remove_where(ino, |_| true);
    }

    /// Drop the blocks of chunk `index` of `ino` that overlap `[offset, offset+len)`
    /// of the chunk (this client wrote there), and refuse fills that started before now.
    pub fn invalidate_range(&mut self, ino: Ino, index: u64, offset: u64, len: u64) {
        self.stamp(ino);
        let blocks = offset / BLOCK_SIZE..offset.saturating_add(len).div_ceil(BLOCK_SIZE);
        self.remove_where(ino, |k| k.index == index && blocks.contains(&k.block));
    }

    fn stamp(&mut self, ino: Ino) {
        self.clock += 1;
        if self.epochs.len() >= MAX_EPOCHS && !self.epochs.contains_key(&ino) {
            self.epochs.clear();
            self.floor = self.clock;
        }
        self.epochs.insert(ino, self.clock);
    }

    fn remove_where(&mut self, ino: Ino, pred: impl Fn(&BlockKey) -> bool) {
        let Some(keys) = self.by_ino.get_mut(&ino) else {
            return;
        };
        let doomed: Vec<BlockKey> = keys.iter().filter(|k| pred(k)).copied().collect();
        for k in &doomed {
            keys.remove(k);
            if let Some(v) = self.lru.pop(k) {
                self.bytes -= v.len() as u64;
            }
        }
        if keys.is_empty() {
            self.by_ino.remove(&ino);
        }
    }

    fn forget_key(&mut self, k: &BlockKey) {
        if let Some(keys) = self.by_ino.get_mut(&k.ino) {
            keys.remove(k);
            if keys.is_empty() {
                self.by_ino.remove(&k.ino);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const B: u64 = BLOCK_SIZE;

    fn key(ino: Ino, version: Version) -> BlockKey {
        BlockKey {
            ino,
            index: 0,
            chunk: 7,
            version,
            block: 0,
        }
    }

    fn blocks(n: u64, fill: u8) -> Bytes {
        Bytes::from(vec![fill; (n * B) as usize])
    }

    #[test]
    fn serves_only_when_every_block_is_present() {
        let mut c = BlockCache::new(16 * B);
        let e = c.epoch();
        c.insert(key(1, 1), 2 * B, &blocks(2, 9), e);
        assert_eq!(c.len(), 2);
        let got = c.get_all(key(1, 1), 2..4).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|b| b.len() == B as usize && b[0] == 9));
        assert!(c.get_all(key(1, 1), 1..3).is_none());
        assert!(c.get_all(key(1, 2), 2..3).is_none(), "other version");
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let mut c = BlockCache::new(3 * B);
        let e = c.epoch();
        c.insert(key(1, 1), 0, &blocks(3, 1), e);
        assert_eq!(c.bytes(), 3 * B);
        c.get_all(key(1, 1), 0..1).unwrap(); // block 0 is now the most recent
        c.insert(key(1, 1), 5 * B, &blocks(1, 2), e);
        assert_eq!(c.bytes(), 3 * B);
        assert!(c.get_all(key(1, 1), 1..2).is_none(), "block 1 was the LRU");
        assert!(c.get_all(key(1, 1), 0..1).is_some());
        assert!(c.get_all(key(1, 1), 5..6).is_some());
        // A short last block counts its real size.
        c.insert(key(2, 1), 0, &Bytes::from(vec![3u8; 100]), e);
        assert_eq!(c.bytes(), 2 * B + 100);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut c = BlockCache::new(0);
        c.insert(key(1, 1), 0, &blocks(1, 1), c.epoch());
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn invalidation_drops_a_file_or_a_written_range() {
        let mut c = BlockCache::new(64 * B);
        let e = c.epoch();
        c.insert(key(1, 1), 0, &blocks(4, 1), e);
        c.insert(key(2, 1), 0, &blocks(4, 1), e);
        c.invalidate_range(1, 0, B + 10, 10); // touches block 1 only
        assert!(c.get_all(key(1, 1), 1..2).is_none());
        assert!(c.get_all(key(1, 1), 0..1).is_some());
        assert!(c.get_all(key(1, 1), 2..4).is_some());
        c.invalidate_range(1, 3, 0, B); // another chunk of the file
        assert!(c.get_all(key(1, 1), 2..4).is_some());
        c.invalidate(1);
        assert!(c.get_all(key(1, 1), 0..1).is_none());
        assert!(c.get_all(key(2, 1), 0..4).is_some(), "other file kept");
        assert_eq!(c.bytes(), 4 * B);
    }

    #[test]
    fn fill_racing_an_invalidation_is_not_kept() {
        let mut c = BlockCache::new(64 * B);
        let before = c.epoch();
        c.invalidate(1); // e.g. a write landed while the fetch was in flight
        c.insert(key(1, 1), 0, &blocks(1, 1), before);
        assert!(c.is_empty());
        c.insert(key(2, 1), 0, &blocks(1, 1), before);
        assert_eq!(c.len(), 1, "other files are unaffected");
        c.insert(key(1, 1), 0, &blocks(1, 1), c.epoch());
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn new_version_replaces_old_blocks() {
        let mut c = BlockCache::new(64 * B);
        let e = c.epoch();
        c.insert(key(1, 1), 0, &blocks(2, 1), e);
        c.insert(key(1, 2), 0, &blocks(1, 2), e);
        assert!(c.get_all(key(1, 1), 1..2).is_none());
        assert_eq!(c.get_all(key(1, 2), 0..1).unwrap()[0][0], 2);
        assert_eq!(c.bytes(), B);
    }
}
