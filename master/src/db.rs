//! RocksDB storage of the namespace, with group commit of the write-ahead log.
//!
//! Keys (one column family, one-byte prefix, big-endian numbers so they sort):
//! - `I ino` -> `InodeRec`          - `D parent name` -> `DentryRec`
//! - `C ino index` -> chunk id      - `K chunk` -> `ChunkRec`
//! - `O ino` -> () (open but unlinked)   - `S name` -> counter
//! - `L chunk` -> lease end (unix ms), so a restarted master knows which chunks may
//!   still be written by a lease holder
//! - `X ino name` -> extended attribute value (raw bytes, no format byte)
//! - `R client seq` -> (unix ms, reply): the retry cache (see `sm::apply`)
//! - `M cs` -> `ServerModeRec`: operator modes of chunkservers
//!
//! These are the state machine's keys, in the default column family. The Raft log and
//! vote live in the column families `raft_log` and `raft_meta` of the same database, so
//! one write-ahead log orders them all: a crash never leaves the state ahead of the log.
//!
//! Every batch is written to the WAL (not synced) before the call returns, so a killed
//! master loses nothing; a background thread syncs the WAL at most `wal_sync_interval`
//! apart and `wait_durable` lets fsync/close wait for the sync that covers their write.

use crate::error::{MasterError, Result};
use rocksdb::{DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Format version byte prefixed to every value, so encodings can change (see migrate).
pub const FORMAT: u8 = 1;

pub fn inode_key(ino: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'I');
    k.extend_from_slice(&ino.to_be_bytes());
    k
}
pub fn dentry_prefix(parent: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'D');
    k.extend_from_slice(&parent.to_be_bytes());
    k
}
pub fn dentry_key(parent: u64, name: &str) -> Vec<u8> {
    let mut k = dentry_prefix(parent);
    k.extend_from_slice(name.as_bytes());
    k
}
pub fn file_chunk_prefix(ino: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(b'C');
    k.extend_from_slice(&ino.to_be_bytes());
    k
}
pub fn file_chunk_key(ino: u64, index: u64) -> Vec<u8> {
    let mut k = file_chunk_prefix(ino);
    k.extend_from_slice(&index.to_be_bytes());
    k
}
pub fn chunk_key(id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'K');
    k.extend_from_slice(&id.to_be_bytes());
    k
}
/// `L chunk` -> wall-clock ms until which a write lease on the chunk may be live.
pub fn lease_key(id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'L');
    k.extend_from_slice(&id.to_be_bytes());
    k
}
pub fn orphan_key(ino: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'O');
    k.extend_from_slice(&ino.to_be_bytes());
    k
}
pub fn xattr_prefix(ino: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'X');
    k.extend_from_slice(&ino.to_be_bytes());
    k
}
pub fn xattr_key(ino: u64, name: &str) -> Vec<u8> {
    let mut k = xattr_prefix(ino);
    k.extend_from_slice(name.as_bytes());
    k
}
pub const RETRY_PREFIX: u8 = b'R';
pub fn retry_key(client: u64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(RETRY_PREFIX);
    k.extend_from_slice(&client.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}
/// `N client`: a client's reserved inode numbers (`sm::InoReservation`).
pub fn ino_reservation_key(client: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(b'N');
    k.extend_from_slice(&client.to_be_bytes());
    k
}
pub fn server_mode_key(cs: &str) -> Vec<u8> {
    let mut k = vec![b'M'];
    k.extend_from_slice(cs.as_bytes());
    k
}

/// Counter: the next inode number.
pub const NEXT_INO: &str = "ino";
/// Counter: chunk ids below this are reserved (handed out or skipped), never reused.
pub const NEXT_CHUNK: &str = "chunk";
/// Counter: number of files and directories.
pub const FILES: &str = "files";
/// The cluster's chunk size, fixed by the first `Format` command.
pub const CHUNK_SIZE: &str = "chunk_size";
/// Default replication goal given at format time (the root directory's goal).
pub const DEFAULT_REPLICATION: &str = "replication";
/// Layout version of the stored state (2: Raft state machine).
pub const LAYOUT: &str = "layout";

pub fn counter_key(name: &str) -> Vec<u8> {
    let mut k = vec![b'S'];
    k.extend_from_slice(name.as_bytes());
    k
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    out.extend(postcard::to_allocvec(v).expect("postcard encodes plain structs"));
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| MasterError::Corrupt(e.to_string()))
        }
        Some((v, _)) => Err(MasterError::Corrupt(format!("unknown record format {v}"))),
        None => Err(MasterError::Corrupt("empty record".into())),
    }
}

/// One key-value pair from a scan.
pub type Kv = (Box<[u8]>, Box<[u8]>);

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// Column family of the Raft log: index (big-endian) -> postcard `Entry`.
pub const CF_LOG: &str = "raft_log";
/// Column family of Raft's own records (vote, committed, last purged, snapshot meta).
pub const CF_META: &str = "raft_meta";

/// Exit status of a master whose log could not be synced (EX_IOERR).
pub const EXIT_SYNC_FAILED: i32 = 74;

/// Fault hook: once the file this names exists, WAL syncs fail (tests of the
/// fsyncgate rule).
pub const FAULT_SYNC_FAIL: &str = "FERROFS_FAULT_WAL_SYNC_FAIL";

/// The master's RocksDB: the state machine (default column family) and the Raft log and
/// meta, with group commit of the write-ahead log. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    db: Arc<DB>,
    written: Arc<AtomicU64>,
    synced: watch::Receiver<u64>,
    dirty: Arc<tokio::sync::Notify>,
    /// Someone waits for durability: sync now.
    urgent: Arc<tokio::sync::Notify>,
}

impl Db {
    /// Open (creating if needed) and start the group-commit syncer thread.
    pub fn open(dir: &Path, sync_interval: Duration) -> Result<Db> {
        std::fs::create_dir_all(dir)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(4);
        opts.set_max_total_wal_size(256 << 20);
        opts.increase_parallelism(2);
        // A 16 MiB memtable (RocksDB's default is 64) keeps point lookups fast as the
        // namespace grows: with 64 MiB the create rate fell ~20% over 1M files (the
        // memtable's skiplist outgrew the CPU caches); with 16 it holds (95-110% of the
        // starting rate in 4 runs) and the master's RSS at 1M files is ~65 MiB, not ~110.
        opts.set_write_buffer_size(16 << 20);
        let mut bopts = rocksdb::BlockBasedOptions::default();
        bopts.set_bloom_filter(10.0, false);
        bopts.set_block_cache(&rocksdb::Cache::new_lru_cache(64 << 20));
        opts.set_block_based_table_factory(&bopts);
        let mut log_opts = Options::default();
        log_opts.set_write_buffer_size(16 << 20);
        let cfs = vec![
            rocksdb::ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone()),
            rocksdb::ColumnFamilyDescriptor::new(CF_LOG, log_opts),
            rocksdb::ColumnFamilyDescriptor::new(CF_META, Options::default()),
        ];
        let db = Arc::new(DB::open_cf_descriptors(
            &opts,
            dir.join("namespace.rocksdb"),
            cfs,
        )?);
        let (tx, rx) = watch::channel(0u64);
        let dirty = Arc::new(tokio::sync::Notify::new());
        let written = Arc::new(AtomicU64::new(0));
        let (db2, dirty2, written2) = (Arc::downgrade(&db), dirty.clone(), written.clone());
        let urgent = Arc::new(tokio::sync::Notify::new());
        let urgent2 = urgent.clone();
        let interval = sync_interval.max(Duration::from_micros(100));
        let fail_when: Option<std::path::PathBuf> =
            std::env::var_os(FAULT_SYNC_FAIL).map(Into::into);
        // The syncer runs on its own OS thread: flush_wal(true) is a blocking fsync.
        // It wakes on the first unsynced write, waits up to `interval` so that writes
        // arriving meanwhile share the sync (group commit), then syncs once.
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("syncer runtime");
                rt.block_on(async move {
                    loop {
                        // A write nobody waits on is synced within `interval`, sharing
                        // the sync with whatever arrives meanwhile. A waiter (fsync/close)
                        // cuts the wait short: the sync starts at once, and writes that
                        // arrive during it share the next one (group commit).
                        tokio::select! {
                            _ = urgent2.notified() => {}
                            _ = dirty2.notified() => {
                                tokio::select! {
                                    _ = urgent2.notified() => {}
                                    _ = tokio::time::sleep(interval) => {}
                                }
                            }
                        }
                        if tx.is_closed() {
                            return;
                        }
                        // Every write counted before this load is in the WAL already.
                        let goal = written2.load(Ordering::Acquire);
                        if goal <= *tx.borrow() {
                            continue;
                        }
                        // The Db was dropped: stop, releasing RocksDB.
                        let Some(db) = db2.upgrade() else { return };
                        let faulted = fail_when.as_ref().is_some_and(|p| p.exists());
                        let res = if faulted {
                            Err(format!("fault injected by {FAULT_SYNC_FAIL}"))
                        } else {
                            db.flush_wal(true).map_err(|e| e.to_string())
                        };
                        if let Err(e) = res {
                            // A failed fsync may have dropped the dirty pages it was
                            // meant to write (the PostgreSQL "fsyncgate" lesson): a later
                            // sync that succeeds proves nothing about them. Nothing that
                            // waited may be told it is durable, and no write may go on:
                            // stop. The group (or the supervisor) carries on without us,
                            // and a restart recovers from what really is on disk.
                            tracing::error!(error = %e, "WAL sync failed: stopping the master");
                            eprintln!("ferrofs master: WAL sync failed ({e}); stopping");
                            std::process::exit(EXIT_SYNC_FAILED);
                        }
                        tx.send_replace(goal);
                    }
                });
            })?;
        Ok(Db {
            db,
            written,
            synced: rx,
            dirty,
            urgent,
        })
    }

    pub fn raw_arc(&self) -> Arc<DB> {
        self.db.clone()
    }

    pub fn raw(&self) -> &DB {
        &self.db
    }

    pub fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    pub fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.db.get_pinned(key)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    pub fn multi_get<T: DeserializeOwned>(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<T>>> {
        self.db
            .multi_get(keys)
            .into_iter()
            .map(|r| match r? {
                Some(v) => Ok(Some(decode(&v)?)),
                None => Ok(None),
            })
            .collect()
    }

    /// Write a batch to the WAL (unsynced) and return its sequence for `wait_durable`.
    /// Once it returns the batch survives a killed process (it is in the kernel); a
    /// power loss can take it until the next sync.
    pub fn write(&self, batch: WriteBatch) -> Result<u64> {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(batch, &wo)?;
        let seq = self.written.fetch_add(1, Ordering::AcqRel) + 1;
        self.dirty.notify_one();
        Ok(seq)
    }

    /// Sequence of the newest write so far.
    pub fn last_seq(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Wait until everything written so far is synced to disk.
    pub async fn sync_all(&self) {
        self.wait_durable(self.last_seq()).await
    }

    /// Wait until the WAL sync covering write `seq` has happened.
    pub async fn wait_durable(&self, seq: u64) {
        let mut rx = self.synced.clone();
        if *rx.borrow() >= seq {
            return;
        }
        self.urgent.notify_one();
        let _ = rx.wait_for(|s| *s >= seq).await;
    }

    /// Iterate keys with `prefix`, starting at `start` (>= prefix), in order.
    pub fn scan_from<'a>(
        &'a self,
        prefix: &'a [u8],
        start: &[u8],
    ) -> impl Iterator<Item = Result<Kv>> + 'a {
        self.db
            .iterator_opt(
                IteratorMode::From(start, Direction::Forward),
                prefix_bounded(prefix),
            )
            .map(|r| r.map_err(MasterError::from))
            .take_while(move |r| match r {
                Ok((k, _)) => k.starts_with(prefix),
                Err(_) => true,
            })
    }

    pub fn scan<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = Result<Kv>> + 'a {
        self.scan_from(prefix, prefix)
    }

    /// The number in the last key with one-byte `prefix` followed by a big-endian u64
    /// (0 if there is none).
    pub fn last_key_u64(&self, prefix: u8) -> Result<u64> {
        let mut start = vec![prefix];
        start.extend_from_slice(&[0xff; 9]);
        let mut it = self
            .db
            .iterator(IteratorMode::From(&start, Direction::Reverse));
        match it.next() {
            Some(kv) => {
                let (k, _) = kv?;
                Ok(if k.first() == Some(&prefix) && k.len() >= 9 {
                    be_u64(&k[1..9])
                } else {
                    0
                })
            }
            None => Ok(0),
        }
    }

    /// Size of the database files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.db
            .property_int_value("rocksdb.total-sst-files-size")
            .ok()
            .flatten()
            .unwrap_or(0)
            + self
                .db
                .property_int_value("rocksdb.cur-size-all-mem-tables")
                .ok()
                .flatten()
                .unwrap_or(0)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Wake the syncer so it notices the database is gone and exits.
        self.urgent.notify_one();
    }
}

/// Read options for a scan of the keys starting with `prefix`: the iterator stops at
/// the first key past the prefix. Without the bound, a prefix with no live key left
/// (a removed file's chunk map, a node without extended attributes) made the seek walk
/// every deletion tombstone after it up to the next live key, and purges of many
/// removed files (an `rm -rf`) spent their time there.
fn prefix_bounded(prefix: &[u8]) -> rocksdb::ReadOptions {
    let mut opts = rocksdb::ReadOptions::default();
    if let Some(end) = prefix_end(prefix) {
        opts.set_iterate_upper_bound(end);
    }
    opts
}

/// The smallest key greater than every key starting with `prefix` (None: no such
/// key, the prefix is empty or all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The state machine reads the default column family through this.
impl crate::sm::View for Db {
    fn get(&self, key: &[u8]) -> crate::sm::ViewResult<Option<Vec<u8>>> {
        self.db
            .get(key)
            .map_err(|e| crate::sm::StorageFailure(e.to_string()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> crate::sm::ViewResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = vec![];
        for kv in self.db.iterator_opt(
            IteratorMode::From(start, Direction::Forward),
            prefix_bounded(prefix),
        ) {
            let (k, v) = kv.map_err(|e| crate::sm::StorageFailure(e.to_string()))?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"C\x00\x01"), Some(b"C\x00\x02".to_vec()));
        assert_eq!(prefix_end(b"C\x00\xff"), Some(b"C\x01".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
