//! Chunk replicas on local disk and their in-memory index. Each replica is
//! `chunks/XX/{id:016x}_{version}.dat` (raw bytes; `XX` is the id's low byte, see
//! `layout.rs`) plus a `.meta` (see `meta.rs`). Every
//! operation here is blocking file I/O: async callers run it in `spawn_blocking`.
//!
//! Locking: `Chunk::op` (async) serializes mutations of one chunk for their whole
//! duration (a streamed write, a bump); `Chunk::st` is held shared while a reader reads
//! and verifies blocks and exclusively while one batch of data and its CRCs change, so a
//! reader never sees the two disagree.

use crate::changes::ChangeFan;
use crate::checksum::{self, CrcBuilder, CrcSource, ShaBuilder};
use crate::error::{ChunkserverError as E, IoContext, Result};
use crate::layout::{self, SUBDIRS};
use crate::meta::{self, Header};
use ferrofs_proto::heartbeat::ChunkReport;
use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::{BLOCK_SIZE, ChunkId, Version};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Size of the pieces long reads (sha, scrub, replication) are done in.
pub const PIECE: u64 = 1 << 20;

/// Mutable state of one replica.
#[derive(Debug, Clone)]
pub struct State {
    pub version: Version,
    pub length: u64,
    pub sha: Option<[u8; 32]>,
    /// Bumped on every change of the bytes, so a long unlocked pass can tell if it raced.
    pub generation: u64,
    /// Deleted or quarantined: every later operation fails with NotFound.
    pub removed: bool,
}

pub struct Chunk {
    pub id: ChunkId,
    pub op: tokio::sync::Mutex<()>,
    pub st: RwLock<State>,
}

impl Chunk {
    fn new(id: ChunkId, version: Version, length: u64, sha: Option<[u8; 32]>) -> Arc<Chunk> {
        Arc::new(Chunk {
            id,
            op: tokio::sync::Mutex::new(()),
            st: RwLock::new(State {
                version,
                length,
                sha,
                generation: 0,
                removed: false,
            }),
        })
    }

    /// Current (version, length).
    pub fn snapshot(&self) -> (Version, u64) {
        let st = self.st.read();
        (st.version, st.length)
    }

    /// Fail unless the replica is live and at exactly `version`.
    pub fn check_version(&self, version: Version) -> Result<()> {
        self.check(&self.st.read(), version)
    }

    fn check(&self, st: &State, version: Version) -> Result<()> {
        if st.removed {
            return Err(E::NotFound(self.id));
        }
        if st.version != version {
            return Err(E::StaleVersion {
                chunk: self.id,
                have: st.version,
                want: version,
            });
        }
        Ok(())
    }
}

/// One of the chunk directory's subdirectories (see `crate::layout`), with its
/// directory entries created and not yet fsynced: `create` only bumps `created`; the
/// next `sync` of a replica there fsyncs the directory once for all of them (`synced`
/// is the value of `created` the last fsync covered). A new, empty replica needs no
/// durability of its own: only the data the client syncs does.
struct Subdir {
    path: PathBuf,
    created: AtomicU64,
    synced: AtomicU64,
}

pub struct Store {
    /// Indexed by `layout::subdir_of`.
    subdirs: Vec<Subdir>,
    chunks: RwLock<HashMap<ChunkId, Arc<Chunk>>>,
    pub changes: ChangeFan,
    /// Replicas written since their last fsync: the write-back worker syncs them
    /// (`crate::writeback`), so data a client closed without fsync reaches the disk
    /// within a bounded window.
    dirty: parking_lot::Mutex<std::collections::HashSet<ChunkId>>,
    /// Sum of every replica's length, kept with each change of one (`set_length`):
    /// summing it per request took the chunk index's lock and every replica's, and was
    /// most of a chunkserver's CPU at 26,000 replicas.
    used: AtomicU64,
    /// `{data_dir}/chunks`, open for the store's life: `sync_all`'s syncfs reports the
    /// write-back errors of the file system since it was opened, so an error the
    /// kernel's own flusher met between two passes is not missed.
    root: File,
}

fn open_rw(p: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .ctx(|| format!("open {}", p.display()))
}

fn read_exact_at(f: &File, buf: &mut [u8], off: u64, what: &Path) -> Result<()> {
    f.read_exact_at(buf, off)
        .ctx(|| format!("read {} at {off}", what.display()))
}

impl Store {
    /// Open (creating if needed) `{data_dir}/chunks` and its subdirectories (see
    /// `crate::layout`) and rebuild the index from them.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let dir = data_dir.join("chunks");
        crate::layout::prepare(&dir)?;
        let subdirs: Vec<Subdir> = (0..SUBDIRS)
            .map(|i| Subdir {
                path: dir.join(layout::subdir_name(i)),
                created: AtomicU64::new(0),
                synced: AtomicU64::new(0),
            })
            .collect();
        let mut found = vec![];
        for sub in &subdirs {
            found.extend(crate::scan::scan(&sub.path)?);
        }
        tracing::info!(dir = %dir.display(), chunks = found.len(), "scanned chunk directory");
        let used = found.iter().map(|c| c.length).sum();
        let chunks = found
            .into_iter()
            .map(|c| (c.id, Chunk::new(c.id, c.version, c.length, c.sha)))
            .collect();
        let root = File::open(&dir).ctx(|| format!("open {}", dir.display()))?;
        Ok(Store {
            root,
            subdirs,
            chunks: RwLock::new(chunks),
            changes: ChangeFan::default(),
            dirty: Default::default(),
            used: AtomicU64::new(used),
        })
    }

    /// Replicas written since their last fsync, taken out of the dirty set.
    pub fn take_dirty(&self) -> Vec<ChunkId> {
        self.dirty.lock().drain().collect()
    }

    /// How many replicas wait for the write-back worker.
    pub fn dirty_count(&self) -> usize {
        self.dirty.lock().len()
    }

    /// The subdirectory holding the files of chunk `id`.
    fn sub(&self, id: ChunkId) -> &Subdir {
        &self.subdirs[layout::subdir_of(id)]
    }
    pub fn dat_path(&self, id: ChunkId, v: Version) -> PathBuf {
        self.sub(id)
            .path
            .join(format!("{}_{v}.dat", chunk_name(id)))
    }
    pub fn meta_path(&self, id: ChunkId, v: Version) -> PathBuf {
        self.sub(id)
            .path
            .join(format!("{}_{v}.meta", chunk_name(id)))
    }

    pub fn get(&self, id: ChunkId) -> Result<Arc<Chunk>> {
        self.chunks.read().get(&id).cloned().ok_or(E::NotFound(id))
    }

    pub fn ids(&self) -> Vec<ChunkId> {
        let mut v: Vec<_> = self.chunks.read().keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn report(&self) -> Vec<ChunkReport> {
        let mut v: Vec<ChunkReport> = self
            .chunks
            .read()
            .values()
            .map(|c| {
                let (version, length) = c.snapshot();
                ChunkReport {
                    chunk_id: c.id,
                    version,
                    length,
                }
            })
            .collect();
        v.sort_by_key(|r| r.chunk_id);
        v
    }

    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// Change a replica's length (its state locked for writing), and the sum with it.
    fn set_length(&self, st: &mut State, length: u64) {
        self.used.fetch_add(length, Ordering::AcqRel);
        self.used.fetch_sub(st.length, Ordering::AcqRel);
        st.length = length;
    }

    /// A replica left the index: its bytes no longer count.
    fn forget_length(&self, st: &State) {
        self.used.fetch_sub(st.length, Ordering::AcqRel);
    }

    /// fsync the directory of chunk `id`'s files.
    fn sync_dir(&self, id: ChunkId) -> Result<()> {
        let d = &self.sub(id).path;
        File::open(d)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("fsync {}", d.display()))
    }

    fn write_header(&self, meta: &File, st: &State) -> Result<()> {
        let h = Header {
            flags: 0,
            length: st.length,
            sha: st.sha,
        };
        meta.write_all_at(&h.encode(), 0)
            .ctx(|| "write meta header".to_string())
    }

    /// Create an empty replica. Ok(false) if it already exists at `version`.
    pub fn create(&self, id: ChunkId, version: Version) -> Result<bool> {
        let mut map = self.chunks.write();
        if let Some(c) = map.get(&id) {
            let have = c.snapshot().0;
            return if have == version {
                Ok(false)
            } else {
                Err(E::AlreadyExists { chunk: id, have })
            };
        }
        let (mp, dp) = (self.meta_path(id, version), self.dat_path(id, version));
        std::fs::write(&mp, Header::default().encode())
            .ctx(|| format!("create {}", mp.display()))?;
        File::create(&dp).ctx(|| format!("create {}", dp.display()))?;
        self.sub(id).created.fetch_add(1, Ordering::AcqRel);
        map.insert(id, Chunk::new(id, version, 0, None));
        drop(map);
        self.changes.added(ChunkReport {
            chunk_id: id,
            version,
            length: 0,
        });
        Ok(true)
    }

    /// Write `data` at `offset` (extending with zeros if past the end) and update CRCs.
    pub fn write(&self, c: &Chunk, version: Version, offset: u64, data: &[u8]) -> Result<()> {
        let mut st = c.st.write();
        c.check(&st, version)?;
        if data.is_empty() {
            return Ok(());
        }
        let (dp, mp) = (self.dat_path(c.id, version), self.meta_path(c.id, version));
        let (dat, meta) = (open_rw(&dp)?, open_rw(&mp)?);
        self.dirty.lock().insert(c.id);
        dat.write_all_at(data, offset)
            .ctx(|| format!("write {}", dp.display()))?;
        let old_len = st.length;
        let plan = checksum::plan_write(old_len, offset, data.len() as u64);
        self.apply_crc_plan(&dat, &meta, &dp, &mp, &plan, data)?;
        self.set_length(&mut st, old_len.max(offset + data.len() as u64));
        st.generation += 1;
        if st.length != old_len || st.sha.is_some() {
            st.sha = None;
            self.write_header(&meta, &st)?;
        }
        Ok(())
    }

    fn apply_crc_plan(
        &self,
        dat: &File,
        meta: &File,
        dp: &Path,
        mp: &Path,
        plan: &[(u64, CrcSource)],
        data: &[u8],
    ) -> Result<()> {
        let Some(first) = plan.first().map(|p| p.0) else {
            return Ok(());
        };
        let mut buf = Vec::new();
        let mut crcs = Vec::with_capacity(plan.len());
        for (_, src) in plan {
            crcs.push(match src {
                CrcSource::Data(r) => checksum::crc(&data[r.clone()]),
                CrcSource::Zeros(n) => checksum::zero_crc(*n),
                CrcSource::Disk(r) => {
                    buf.resize((r.end - r.start) as usize, 0);
                    read_exact_at(dat, &mut buf, r.start, dp)?;
                    checksum::crc(&buf)
                }
            });
        }
        meta.write_all_at(&meta::encode_crcs(&crcs), meta::crc_offset(first))
            .ctx(|| format!("write {}", mp.display()))
    }

    /// Read `[offset, offset+len)` clipped to the length, verifying every block touched.
    pub fn read(&self, c: &Chunk, version: Version, offset: u64, len: u64) -> Result<Vec<u8>> {
        Ok(self.read_checked(c, version, offset, len)?.0)
    }

    /// As `read`, with the stored CRC32Cs the bytes were verified against: one per block
    /// touched (so they stand for the bytes returned when `offset` is block-aligned).
    pub fn read_checked(
        &self,
        c: &Chunk,
        version: Version,
        offset: u64,
        len: u64,
    ) -> Result<(Vec<u8>, Vec<u32>)> {
        let st = c.st.read();
        c.check(&st, version)?;
        let end = offset.saturating_add(len).min(st.length);
        if offset >= end {
            return Ok((Vec::new(), Vec::new()));
        }
        let blocks = checksum::blocks_touched(offset, end - offset);
        let bstart = blocks.start * BLOCK_SIZE;
        let bend = (blocks.end * BLOCK_SIZE).min(st.length);
        let (dp, mp) = (self.dat_path(c.id, version), self.meta_path(c.id, version));
        let mut data = vec![0u8; (bend - bstart) as usize];
        let mut crcb = vec![0u8; 4 * (blocks.end - blocks.start) as usize];
        let corrupt = |block| E::Corrupt {
            chunk: c.id,
            version,
            block,
        };
        let dat = File::open(&dp).ctx(|| format!("open {}", dp.display()))?;
        let meta = File::open(&mp).ctx(|| format!("open {}", mp.display()))?;
        // A short file is as corrupt as a flipped bit.
        if dat.read_exact_at(&mut data, bstart).is_err() {
            return Err(corrupt(blocks.start));
        }
        if meta
            .read_exact_at(&mut crcb, meta::crc_offset(blocks.start))
            .is_err()
        {
            return Err(corrupt(blocks.start));
        }
        let crcs = meta::decode_crcs(&crcb);
        checksum::verify(&data, 0, &crcs).map_err(|b| corrupt(blocks.start + b))?;
        let from = (offset - bstart) as usize;
        data.truncate((end - bstart) as usize);
        data.drain(..from);
        Ok((data, crcs))
    }

    /// Set the length (shrink, or extend with zeros) and fix the CRCs.
    pub fn truncate(&self, c: &Chunk, version: Version, len: u64) -> Result<()> {
        let mut st = c.st.write();
        c.check(&st, version)?;
        let old_len = st.length;
        if len == old_len {
            return Ok(());
        }
        self.dirty.lock().insert(c.id);
        let (dp, mp) = (self.dat_path(c.id, version), self.meta_path(c.id, version));
        let (dat, meta) = (open_rw(&dp)?, open_rw(&mp)?);
        dat.set_len(len)
            .ctx(|| format!("truncate {}", dp.display()))?;
        meta.set_len(meta::meta_len(len))
            .ctx(|| format!("truncate {}", mp.display()))?;
        let plan: Vec<(u64, CrcSource)> = if len < old_len {
            // Only the new last block, if partial, changes.
            if len.is_multiple_of(BLOCK_SIZE) {
                Vec::new()
            } else {
                let b = len / BLOCK_SIZE;
                vec![(b, CrcSource::Disk(checksum::block_bytes(b, len)))]
            }
        } else {
            checksum::plan_write(old_len, len, 0)
        };
        self.apply_crc_plan(&dat, &meta, &dp, &mp, &plan, &[])?;
        self.set_length(&mut st, len);
        st.sha = None;
        st.generation += 1;
        self.write_header(&meta, &st)?;
        drop(st);
        self.changes.added(ChunkReport {
            chunk_id: c.id,
            version,
            length: len,
        });
        Ok(())
    }

    /// Everything written so far reaches the disk, directories included: one syncfs(2)
    /// of the file system the chunks live on. The write-back worker's pass: one journal
    /// commit for every replica written since the last pass, where an fsync per replica
    /// was a commit each (and each stalled the creates and writes behind it).
    pub fn sync_all(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let created: Vec<u64> = self
            .subdirs
            .iter()
            .map(|s| s.created.load(Ordering::Acquire))
            .collect();
        // SAFETY: syncfs only reads the descriptor, which `self.root` keeps open.
        if unsafe { libc::syncfs(self.root.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| "syncfs of the chunk directory's file system".to_string());
        }
        for (sub, c) in self.subdirs.iter().zip(created) {
            sub.synced.fetch_max(c, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Has the directory of chunk `id` been fsynced since its last create?
    #[cfg(test)]
    pub fn dir_synced(&self, id: ChunkId) -> bool {
        let sub = self.sub(id);
        sub.synced.load(Ordering::Acquire) >= sub.created.load(Ordering::Acquire)
    }

    /// fsync data and checksums (and the directory, if replicas were created since its
    /// last fsync). The fsyncs run concurrently, so the file system commits them together.
    pub fn sync(&self, c: &Chunk, version: Version) -> Result<()> {
        let st = c.st.read();
        c.check(&st, version)?;
        // Writes hold `st` for writing: none lands between this and the fsyncs.
        self.dirty.lock().remove(&c.id);
        let sub = self.sub(c.id);
        let created = sub.created.load(Ordering::Acquire);
        let dir_dirty = sub.synced.load(Ordering::Acquire) < created;
        let fsync = |p: PathBuf| -> Result<()> {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .ctx(|| format!("fsync {}", p.display()))
        };
        let (meta, dir) = std::thread::scope(|s| {
            let meta = s.spawn(|| fsync(self.meta_path(c.id, version)));
            let dir = dir_dirty.then(|| s.spawn(|| self.sync_dir(c.id)));
            let dat = fsync(self.dat_path(c.id, version));
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<()>>| {
                h.join()
                    .unwrap_or_else(|_| Err(E::Internal("fsync thread panicked".into())))
            };
            (dat.and(join(meta)), dir.map(join))
        });
        meta?;
        if let Some(r) = dir {
            r?;
            sub.synced.fetch_max(created, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Rename the replica from version `from` to `to`; Ok if already at `to`.
    pub fn bump(&self, c: &Chunk, from: Version, to: Version) -> Result<()> {
        let mut st = c.st.write();
        if st.removed {
            return Err(E::NotFound(c.id));
        }
        if st.version == to {
            return Ok(());
        }
        c.check(&st, from)?;
        let (m0, m1) = (self.meta_path(c.id, from), self.meta_path(c.id, to));
        let (d0, d1) = (self.dat_path(c.id, from), self.dat_path(c.id, to));
        std::fs::rename(&m0, &m1).ctx(|| format!("rename {}", m0.display()))?;
        std::fs::rename(&d0, &d1).ctx(|| format!("rename {}", d0.display()))?;
        self.sync_dir(c.id)?;
        st.version = to;
        let length = st.length;
        drop(st);
        self.changes.added(ChunkReport {
            chunk_id: c.id,
            version: to,
            length,
        });
        Ok(())
    }

    /// Delete the replica if at `max_version` or older (None: any). Ok(true) if deleted.
    pub fn delete(&self, id: ChunkId, max_version: Option<Version>) -> Result<bool> {
        // Lock order everywhere: index, then chunk state.
        let mut map = self.chunks.write();
        let Some(c) = map.get(&id).cloned() else {
            return Ok(false);
        };
        let mut st = c.st.write();
        if max_version.is_some_and(|m| st.version > m) {
            return Ok(false);
        }
        st.removed = true;
        map.remove(&id);
        drop(map);
        self.forget_length(&st);
        let v = st.version;
        drop(st);
        self.changes.removed(id);
        for p in [self.dat_path(id, v), self.meta_path(id, v)] {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(E::io(format!("delete {}", p.display()), e));
            }
        }
        Ok(true)
    }

    /// Move a corrupt replica aside (`*.corrupt`) so it is never served again.
    pub fn quarantine(&self, id: ChunkId, version: Version) -> Result<()> {
        let mut map = self.chunks.write();
        let Some(c) = map.get(&id).cloned() else {
            return Ok(());
        };
        let mut st = c.st.write();
        if st.version != version {
            return Ok(());
        }
        st.removed = true;
        map.remove(&id);
        drop(map);
        self.forget_length(&st);
        drop(st);
        self.changes.corrupt(id);
        for p in [self.dat_path(id, version), self.meta_path(id, version)] {
            let mut q = p.clone().into_os_string();
            q.push(".corrupt");
            std::fs::rename(&p, &q).ctx(|| format!("quarantine {}", p.display()))?;
        }
        Ok(())
    }

    /// SHA-256 and length of the replica, computed (verifying CRCs) unless cached.
    pub fn sha256(&self, c: &Chunk, version: Version) -> Result<([u8; 32], u64)> {
        let (gen0, length) = {
            let st = c.st.read();
            c.check(&st, version)?;
            if let Some(sha) = st.sha {
                return Ok((sha, st.length));
            }
            (st.generation, st.length)
        };
        let mut sha = ShaBuilder::default();
        let mut off = 0;
        while off < length {
            let piece = self.read(c, version, off, PIECE)?;
            if piece.is_empty() {
                break;
            }
            sha.update(&piece);
            off += piece.len() as u64;
        }
        let sha = sha.finish();
        let cached = self.cache_sha(c, version, gen0, sha)?;
        if !cached {
            return Err(E::Internal(format!(
                "chunk {} changed while computing its SHA-256; retry",
                chunk_name(c.id)
            )));
        }
        Ok((sha, length))
    }

    /// Whether the replica is still at `version` with the bytes of `generation`.
    pub fn unchanged_since(&self, c: &Chunk, version: Version, generation: u64) -> Result<bool> {
        let st = c.st.read();
        c.check(&st, version)?;
        Ok(st.generation == generation)
    }

    /// Store a SHA-256 computed over generation `generation`; false if the chunk changed.
    pub fn cache_sha(
        &self,
        c: &Chunk,
        version: Version,
        generation: u64,
        sha: [u8; 32],
    ) -> Result<bool> {
        let mut st = c.st.write();
        c.check(&st, version)?;
        if st.generation != generation {
            return Ok(false);
        }
        st.sha = Some(sha);
        let meta = open_rw(&self.meta_path(c.id, version))?;
        self.write_header(&meta, &st)?;
        Ok(true)
    }

    /// Path for a temporary file of a replica being received.
    pub fn temp_path(&self, id: ChunkId, version: Version) -> PathBuf {
        let r: u32 = rand::random();
        self.sub(id)
            .path
            .join(format!("{}_{version}.{r:08x}.tmp", chunk_name(id)))
    }

    /// Install a fully received and verified replica from the temp file `tmp_dat`,
    /// replacing any older version. Fails with StaleVersion if a newer one is held.
    /// `sha` is its SHA-256 if known. Like a write closed without fsync, the replica is
    /// marked dirty and fsynced by the write-back worker within `writeback_interval`
    /// (a `kill -9` loses nothing: the bytes are in the page cache).
    pub fn install(
        &self,
        id: ChunkId,
        version: Version,
        tmp_dat: &Path,
        length: u64,
        crcs: &[u32],
        sha: Option<[u8; 32]>,
    ) -> Result<()> {
        let tmp_meta = self.temp_path(id, version);
        let header = Header {
            flags: 0,
            length,
            sha,
        };
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(&meta::encode_crcs(crcs));
        let result = (|| {
            std::fs::write(&tmp_meta, &bytes).ctx(|| format!("write {}", tmp_meta.display()))?;
            let mut map = self.chunks.write();
            let existing = map.get(&id).cloned();
            let mut st_guard = existing.as_ref().map(|c| c.st.write());
            if let Some(st) = st_guard.as_deref()
                && st.version > version
            {
                return Err(E::StaleVersion {
                    chunk: id,
                    have: st.version,
                    want: version,
                });
            }
            std::fs::rename(&tmp_meta, self.meta_path(id, version))
                .ctx(|| format!("rename {}", tmp_meta.display()))?;
            std::fs::rename(tmp_dat, self.dat_path(id, version))
                .ctx(|| format!("rename {}", tmp_dat.display()))?;
            if let Some(st) = st_guard.as_deref_mut() {
                if st.version != version {
                    let _ = std::fs::remove_file(self.dat_path(id, st.version));
                    let _ = std::fs::remove_file(self.meta_path(id, st.version));
                }
                st.version = version;
                self.set_length(st, length);
                st.sha = sha;
                st.generation += 1;
            } else {
                self.used.fetch_add(length, Ordering::AcqRel);
                map.insert(id, Chunk::new(id, version, length, sha));
            }
            // The write-back worker fsyncs the files and, as after a create, the
            // directory (for the renames).
            self.sub(id).created.fetch_add(1, Ordering::AcqRel);
            self.dirty.lock().insert(id);
            drop(st_guard);
            drop(map);
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp_meta);
        }
        result?;
        self.changes.added(ChunkReport {
            chunk_id: id,
            version,
            length,
        });
        Ok(())
    }
}

/// Compute per-block CRCs and SHA-256 of a whole file (used by the scan to repair a
/// missing meta). Returns (length, crcs).
pub fn crcs_of_file(path: &Path) -> Result<(u64, Vec<u32>)> {
    let f = File::open(path).ctx(|| format!("open {}", path.display()))?;
    let length = f
        .metadata()
        .ctx(|| format!("stat {}", path.display()))?
        .len();
    let mut b = CrcBuilder::default();
    let mut buf = vec![0u8; PIECE as usize];
    let mut off = 0;
    while off < length {
        let n = (length - off).min(PIECE) as usize;
        read_exact_at(&f, &mut buf[..n], off, path)?;
        b.update(&buf[..n]);
        off += n as u64;
    }
    Ok((length, b.finish()))
}
