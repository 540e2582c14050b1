//! The Raft log and vote in RocksDB: entries in column family `raft_log` (key: index,
//! big-endian), the vote and the purge point in `raft_meta`.
//!
//! Durability: the vote is synced before it is reported saved (a member that forgets
//! its vote could vote twice in a term). Entries are written to the write-ahead log and
//! reported flushed at once when `sync_log` is off: they survive a killed process, and
//! the group's fsyncs (a client's fsync/close) sync the log on a majority explicitly
//! (`Master::sync_majority`). With `sync_log` on, every append waits for a WAL sync
//! (group commit: appends arriving during a sync share the next one).

use super::{Entry, LogId, NodeId, StorageError, TypeConfig, read_err, write_err};
use crate::db::{CF_LOG, CF_META, Db};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"last_purged";

#[derive(Clone)]
pub struct LogStore {
    db: Db,
    sync_log: bool,
}

impl LogStore {
    pub fn new(db: Db, sync_log: bool) -> Self {
        LogStore { db, sync_log }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        let raw = self.db.raw();
        match raw
            .get_cf(self.db.cf(CF_META), key)
            .map_err(|e| read_err(&e))?
        {
            None => Ok(None),
            Some(v) => postcard::from_bytes(&v).map(Some).map_err(|e| read_err(&e)),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, b: &mut WriteBatch, key: &[u8], v: &T) {
        let bytes = postcard::to_allocvec(v).expect("postcard encodes plain values");
        b.put_cf(self.db.cf(CF_META), key, bytes);
    }

    fn write(&self, b: WriteBatch) -> Result<u64, StorageError> {
        self.db.write(b).map_err(|e| write_err(&e))
    }

    /// The entry at `index`, if the log holds it.
    pub fn entry(&self, index: u64) -> Result<Option<Entry>, StorageError> {
        let raw = self.db.raw();
        match raw
            .get_cf(self.db.cf(CF_LOG), index.to_be_bytes())
            .map_err(|e| read_err(&e))?
        {
            None => Ok(None),
            Some(v) => postcard::from_bytes(&v).map(Some).map_err(|e| read_err(&e)),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x + 1,
            Bound::Unbounded => 0,
        };
        let raw = self.db.raw();
        let mut out = vec![];
        let from = start.to_be_bytes();
        for kv in raw.iterator_cf(
            self.db.cf(CF_LOG),
            IteratorMode::From(&from, Direction::Forward),
        ) {
            let (k, v) = kv.map_err(|e| read_err(&e))?;
            let index = crate::db::be_u64(&k);
            if !range.contains(&index) {
                break;
            }
            out.push(postcard::from_bytes::<Entry>(&v).map_err(|e| read_err(&e))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let raw = self.db.raw();
        let last = match raw
            .iterator_cf(self.db.cf(CF_LOG), IteratorMode::End)
            .next()
        {
            None => None,
            Some(kv) => {
                let (_, v) = kv.map_err(|e| read_err(&e))?;
                Some(
                    postcard::from_bytes::<Entry>(&v)
                        .map_err(|e| read_err(&e))?
                        .log_id,
                )
            }
        };
        let last_purged_log_id: Option<LogId> = self.meta(PURGED)?;
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last.or(last_purged_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        self.put_meta(&mut b, VOTE, vote);
        let seq = self.write(b)?;
        self.db.wait_durable(seq).await;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        self.put_meta(&mut b, COMMITTED, &committed);
        self.write(b)?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = WriteBatch::default();
        let cf = self.db.cf(CF_LOG);
        for e in entries {
            let bytes = postcard::to_allocvec(&e).map_err(|e| write_err(&e))?;
            b.put_cf(cf, e.log_id.index.to_be_bytes(), bytes);
        }
        let seq = self.write(b)?;
        if self.sync_log {
            let db = self.db.clone();
            tokio::spawn(async move {
                db.wait_durable(seq).await;
                callback.log_io_completed(Ok(()));
            });
        } else {
            callback.log_io_completed(Ok(()));
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.db.cf(CF_LOG),
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        b.delete_cf(self.db.cf(CF_LOG), u64::MAX.to_be_bytes());
        let seq = self.write(b)?;
        // A truncation that a power loss undoes could let a stale entry come back.
        self.db.wait_durable(seq).await;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        self.put_meta(&mut b, PURGED, &log_id);
        b.delete_range_cf(
            self.db.cf(CF_LOG),
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        self.write(b)?;
        Ok(())
    }
}
