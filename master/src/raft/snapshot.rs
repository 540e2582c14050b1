//! Snapshots of the state machine, for members that fall behind the purged log or join
//! the group. Building one takes a RocksDB checkpoint (hard links, so the state machine
//! is held up only for the memtable flush), then dumps its default column family into a
//! file in the background: magic, length-prefixed key/value pairs, an end marker and a
//! CRC32C of everything before it. Installing one replaces the whole state in a single
//! RocksDB batch (a crash leaves the old state or the new one, never a mix).
//!
//! Files, in `DATA/snapshots/`: `current.snap` + `current.meta` (the newest snapshot,
//! served to others), `recv-N.snap` (one being received), `ckpt-N/` (a checkpoint
//! being dumped).

use super::sm_store::{APPLIED_KEY, MEMBERSHIP_KEY};
use super::{LogId, Member, Membership, NodeId, StorageError, TypeConfig, read_err, write_err};
use crate::db::{CF_LOG, CF_META, Db};
use openraft::SnapshotMeta;
use openraft::storage::Snapshot;
use parking_lot::Mutex;
use rocksdb::{IteratorMode, WriteBatch};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: &[u8; 8] = b"FFSNAP01";
const END: u32 = u32::MAX;
/// Largest key or value a snapshot may carry (bounds what a corrupt file can allocate).
const MAX_ITEM: u32 = 64 << 20;

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The snapshot directory of one member.
#[derive(Clone)]
pub struct SnapshotFiles {
    dir: PathBuf,
    seq: Arc<AtomicU64>,
    receiving: Arc<Mutex<Option<PathBuf>>>,
}

impl SnapshotFiles {
    pub fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        // Leftovers of an interrupted build or receive.
        for e in std::fs::read_dir(&dir)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("ckpt-") {
                let _ = std::fs::remove_dir_all(e.path());
            } else if name.starts_with("recv-") || name.starts_with("build-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(SnapshotFiles {
            dir,
            seq: Arc::new(AtomicU64::new(1)),
            receiving: Arc::new(Mutex::new(None)),
        })
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::AcqRel)
    }

    fn current_paths(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("current.snap"), self.dir.join("current.meta"))
    }

    pub async fn receive_file(&self) -> Result<tokio::fs::File, StorageError> {
        let p = self.dir.join(format!("recv-{}.snap", self.next()));
        let f = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&p)
            .await
            .map_err(|e| write_err(&e))?;
        *self.receiving.lock() = Some(p);
        Ok(f)
    }

    /// Make `path` (a complete snapshot file) the current snapshot, described by `meta`.
    fn set_current(&self, path: &Path, meta: &SnapshotMeta<NodeId, Member>) -> std::io::Result<()> {
        let (snap, metap) = self.current_paths();
        let tmp = self.dir.join("current.meta.tmp");
        std::fs::write(&tmp, postcard::to_allocvec(meta).map_err(io)?)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(path, &snap)?;
        std::fs::rename(&tmp, &metap)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    pub async fn current(&self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let (snap, metap) = self.current_paths();
        let Ok(bytes) = tokio::fs::read(&metap).await else {
            return Ok(None);
        };
        let meta: SnapshotMeta<NodeId, Member> =
            postcard::from_bytes(&bytes).map_err(|e| read_err(&e))?;
        let f = tokio::fs::File::open(&snap)
            .await
            .map_err(|e| read_err(&e))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(f),
        }))
    }
}

/// Builds one snapshot from a checkpoint taken when it was created.
pub struct Builder {
    files: SnapshotFiles,
    applied: Option<LogId>,
    membership: Membership,
    checkpoint: Result<PathBuf, String>,
}

impl Builder {
    /// Take the checkpoint now, between two applied entries.
    pub fn new(
        db: Db,
        files: SnapshotFiles,
        applied: Option<LogId>,
        membership: Membership,
    ) -> Self {
        let path = files.dir.join(format!("ckpt-{}", files.next()));
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(db.raw())
            .and_then(|c| c.create_checkpoint(&path))
            .map(|()| path)
            .map_err(|e| e.to_string());
        Builder {
            files,
            applied,
            membership,
            checkpoint,
        }
    }

    pub async fn build(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let ckpt = self.checkpoint.clone().map_err(|e| write_err(&io(e)))?;
        let out = self
            .files
            .dir
            .join(format!("build-{}.snap", self.files.next()));
        let (ckpt2, out2) = (ckpt.clone(), out.clone());
        let count = tokio::task::spawn_blocking(move || dump(&ckpt2, &out2))
            .await
            .map_err(|e| write_err(&io(e)))?
            .map_err(|e| write_err(&e));
        let _ = std::fs::remove_dir_all(&ckpt);
        let count = count?;
        let id = match &self.applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.files.next()),
            None => format!("0-0-{}", self.files.next()),
        };
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id: id,
        };
        self.files
            .set_current(&out, &meta)
            .map_err(|e| write_err(&e))?;
        tracing::info!(last = ?self.applied, records = count, "built a snapshot");
        self.files
            .current()
            .await?
            .ok_or_else(|| read_err(&io("snapshot vanished after it was built")))
    }
}

/// Write the checkpoint's state (the default column family, without the applied
/// position) to `out`; returns the number of records.
fn dump(ckpt: &Path, out: &Path) -> std::io::Result<u64> {
    let opts = rocksdb::Options::default();
    let db = rocksdb::DB::open_cf_for_read_only(
        &opts,
        ckpt,
        [rocksdb::DEFAULT_COLUMN_FAMILY_NAME, CF_LOG, CF_META],
        false,
    )
    .map_err(io)?;
    let f = std::fs::File::create(out)?;
    let mut w = Crc(BufWriter::new(f), 0);
    w.write_all(MAGIC)?;
    let mut n = 0;
    for kv in db.iterator(IteratorMode::Start) {
        let (k, v) = kv.map_err(io)?;
        if k.starts_with(b"Z") {
            continue;
        }
        w.write_all(&(k.len() as u32).to_le_bytes())?;
        w.write_all(&k)?;
        w.write_all(&(v.len() as u32).to_le_bytes())?;
        w.write_all(&v)?;
        n += 1;
    }
    w.write_all(&END.to_le_bytes())?;
    let crc = w.1;
    let mut inner = w.0;
    inner.write_all(&crc.to_le_bytes())?;
    inner.flush()?;
    inner.into_inner().map_err(io)?.sync_all()?;
    Ok(n)
}

/// A writer that keeps the CRC32C of what went through it.
struct Crc<W>(W, u32);

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 = crc32c::crc32c_append(self.1, &buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Read a snapshot file into a batch that replaces the whole state.
fn load(path: &Path, db: &Db, meta: &SnapshotMeta<NodeId, Member>) -> std::io::Result<WriteBatch> {
    let mut r = BufReader::new(std::fs::File::open(path)?);
    let mut crc = 0u32;
    let mut read = |n: usize, r: &mut BufReader<std::fs::File>| -> std::io::Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        r.read_exact(&mut v)?;
        crc = crc32c::crc32c_append(crc, &v);
        Ok(v)
    };
    if read(8, &mut r)? != MAGIC {
        return Err(io("not a ferrofs snapshot (bad magic)"));
    }
    let mut b = WriteBatch::default();
    b.delete_range(&[0u8][..], &[0xffu8; 64][..]);
    loop {
        let klen = u32::from_le_bytes(read(4, &mut r)?.try_into().expect("4 bytes"));
        if klen == END {
            break;
        }
        if klen > MAX_ITEM {
            return Err(io("corrupt snapshot: key too long"));
        }
        let k = read(klen as usize, &mut r)?;
        let vlen = u32::from_le_bytes(read(4, &mut r)?.try_into().expect("4 bytes"));
        if vlen > MAX_ITEM {
            return Err(io("corrupt snapshot: value too long"));
        }
        let v = read(vlen as usize, &mut r)?;
        b.put(k, v);
    }
    let want = crc;
    let mut got = [0u8; 4];
    r.read_exact(&mut got)?;
    if u32::from_le_bytes(got) != want {
        return Err(io("corrupt snapshot: checksum mismatch"));
    }
    b.put(
        APPLIED_KEY,
        postcard::to_allocvec(&meta.last_log_id).map_err(io)?,
    );
    b.put(
        MEMBERSHIP_KEY,
        postcard::to_allocvec(&meta.last_membership).map_err(io)?,
    );
    let _ = db;
    Ok(b)
}

/// Replace the state with a received snapshot and keep it as the current one.
pub async fn install(
    db: &Db,
    files: &SnapshotFiles,
    meta: &SnapshotMeta<NodeId, Member>,
    data: tokio::fs::File,
) -> Result<(), StorageError> {
    data.sync_all().await.map_err(|e| write_err(&e))?;
    drop(data);
    let path = files
        .receiving
        .lock()
        .take()
        .ok_or_else(|| write_err(&io("no snapshot is being received")))?;
    let (db2, path2, meta2) = (db.clone(), path.clone(), meta.clone());
    let batch = tokio::task::spawn_blocking(move || load(&path2, &db2, &meta2))
        .await
        .map_err(|e| write_err(&io(e)))?
        .map_err(|e| write_err(&e))?;
    let seq = db.write(batch).map_err(|e| write_err(&e))?;
    db.wait_durable(seq).await;
    files.set_current(&path, meta).map_err(|e| write_err(&e))?;
    Ok(())
}
