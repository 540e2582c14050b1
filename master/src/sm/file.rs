//! File data operations of the state machine: commits of written sizes, chunk id
//! reservations, new chunks, leases and their ends, and adopted versions. The leader
//! has already talked to the chunkservers; these re-check against the namespace and
//! record the outcome (or refuse, when the file or chunk is gone meanwhile).

use super::apply::{Res, St};
use super::command::*;
use super::records::{ChunkRec, Holder, InodeRec, LeaseRec};
use crate::db;
use ferrofs_proto::namespace::FileKind;
use ferrofs_proto::{ChunkId, ErrorCode, Ino, MAX_FILE_SIZE};

/// Sizes past `MAX_FILE_SIZE` are EFBIG.
pub(crate) fn check_size(size: u64) -> Result<(), Refusal> {
    if size > MAX_FILE_SIZE {
        return Err(refuse(
            ErrorCode::FileTooLarge,
            format!("size {size} is past the largest file size, {MAX_FILE_SIZE}"),
        ));
    }
    Ok(())
}

impl St<'_> {
    fn file(&self, ino: Ino) -> Res<InodeRec> {
        let rec = self.inode(ino)?;
        if rec.kind != FileKind::File {
            return Err(refuse(ErrorCode::InvalidArgument, "not a regular file").into());
        }
        Ok(rec)
    }

    /// A file that may get chunks: linked, or unlinked but still held open.
    fn writable_file(&self, ino: Ino) -> Res<InodeRec> {
        let rec = self.file(ino)?;
        if rec.nlink == 0 && self.tx.get(&db::orphan_key(ino))?.is_none() {
            return Err(not_found(format!("inode {ino}")).into());
        }
        Ok(rec)
    }

    pub(crate) fn commit(&mut self, c: &Commit) -> Res<Reply> {
        let mut rec = self.file(c.ino)?;
        check_size(c.size)?;
        for r in &c.chunks {
            let held = self
                .tx
                .get(&db::file_chunk_key(c.ino, r.index))?
                .map(|v| db::be_u64(&v));
            if held != Some(r.chunk) {
                return Err(refuse(
                    ErrorCode::ChunkLost,
                    format!(
                        "chunk {} of inode {} is no longer in the file (it holds {:?}): \
                         the data written there is lost",
                        r.chunk, c.ino, held
                    ),
                )
                .into());
            }
        }
        let mut changed = false;
        if c.size > rec.size {
            rec.size = c.size;
            changed = true;
        }
        if let Some(m) = c.mtime
            && m != rec.mtime
        {
            rec.mtime = m;
            rec.ctime = self.ctx.now;
            changed = true;
        }
        if changed {
            self.put_inode(c.ino, &rec);
            self.changed(vec![(c.ino, None)]);
        }
        if c.end_leases {
            self.end_leases(c.ino, self.ctx.client)?;
        }
        Ok(Reply::Attr(rec.attr(c.ino)))
    }

    pub(crate) fn reserve_chunk_ids(&mut self, upto: ChunkId) -> Res<Reply> {
        let cur = self.counter(db::NEXT_CHUNK)?;
        if upto > cur {
            self.set_counter(db::NEXT_CHUNK, upto);
        }
        Ok(Reply::Done)
    }

    pub(crate) fn alloc_chunk(&mut self, a: &AllocChunk) -> Res<Reply> {
        let rec = self.writable_file(a.ino)?;
        if self.tx.get(&db::file_chunk_key(a.ino, a.index))?.is_some() {
            return Err(refuse(
                ErrorCode::AlreadyExists,
                format!("chunk {} of inode {} exists already", a.index, a.ino),
            )
            .into());
        }
        if a.chunk >= self.counter(db::NEXT_CHUNK)? || self.chunk(a.chunk)?.is_some() {
            return Err(refuse(
                ErrorCode::Internal,
                format!("chunk id {} was not reserved or is in use", a.chunk),
            )
            .into());
        }
        let lease = LeaseRec {
            version: a.version,
            holders: vec![Holder {
                client: a.holder,
                until_ms: a.until_ms,
            }],
            replicas: a.replicas.clone(),
        };
        self.tx.put(
            db::file_chunk_key(a.ino, a.index),
            a.chunk.to_be_bytes().to_vec(),
        );
        self.put(
            db::chunk_key(a.chunk),
            &ChunkRec {
                ino: a.ino,
                index: a.index,
                version: a.version,
            },
        );
        self.set_lease(a.chunk, Some(&lease));
        self.effects.push(Effect::ChunkAdded {
            chunk: a.chunk,
            ino: a.ino,
            index: a.index,
            version: a.version,
            goal: rec.replication,
            lease: Some(lease.clone()),
        });
        Ok(Reply::Lease(lease))
    }

    pub(crate) fn grant_lease(&mut self, g: &GrantLease) -> Res<Reply> {
        self.writable_file(g.ino)?;
        let slot = self
            .tx
            .get(&db::file_chunk_key(g.ino, g.index))?
            .map(|v| db::be_u64(&v));
        let Some(mut chunk) = self.chunk(g.chunk)?.filter(|_| slot == Some(g.chunk)) else {
            return Err(not_found(format!("chunk {} of inode {}", g.index, g.ino)).into());
        };
        if chunk.version != g.from || g.version < g.from {
            return Err(refuse(
                ErrorCode::StaleVersion,
                format!(
                    "chunk {} is at version {}, not {} (decided on meanwhile)",
                    g.chunk, chunk.version, g.from
                ),
            )
            .into());
        }
        let now_ms = self.ctx.now_ms();
        let mut lease = match self.lease(g.chunk)? {
            Some(l) if l.version == g.version && l.live_at(now_ms) => l,
            _ => LeaseRec {
                version: g.version,
                holders: vec![],
                replicas: vec![],
            },
        };
        lease
            .holders
            .retain(|h| h.until_ms > now_ms && h.client != g.holder);
        lease.holders.push(Holder {
            client: g.holder,
            until_ms: g.until_ms,
        });
        lease.replicas = g.replicas.clone();
        self.set_lease(g.chunk, Some(&lease));
        if g.version != chunk.version {
            chunk.version = g.version;
            self.put(db::chunk_key(g.chunk), &chunk);
            self.effects.push(Effect::ChunkVersion {
                chunk: g.chunk,
                version: g.version,
                replicas: g.replicas.clone(),
                lease: Some(lease.clone()),
            });
        } else {
            self.effects.push(Effect::LeaseChanged {
                chunk: g.chunk,
                lease: Some(lease.clone()),
            });
        }
        Ok(Reply::Lease(lease))
    }

    /// End `holder`'s holds on every lease of `ino` (and forget holds whose time passed).
    pub(crate) fn end_leases(&mut self, ino: Ino, holder: u64) -> Res<()> {
        let now_ms = self.ctx.now_ms();
        for (_, id) in self.file_chunks(ino, 0)? {
            let Some(mut l) = self.lease(id)? else {
                continue;
            };
            let before = l.holders.len();
            l.holders
                .retain(|h| h.client != holder && h.until_ms > now_ms);
            if l.holders.len() == before {
                continue;
            }
            let lease = (!l.holders.is_empty()).then_some(l);
            self.set_lease(id, lease.as_ref());
            self.effects.push(Effect::LeaseChanged { chunk: id, lease });
        }
        Ok(())
    }

    pub(crate) fn adopt_version(&mut self, id: ChunkId, version: u64) -> Res<Reply> {
        let Some(mut c) = self.chunk(id)? else {
            return Ok(Reply::Done);
        };
        if version > c.version {
            c.version = version;
            self.put(db::chunk_key(id), &c);
            let lease = self.lease(id)?;
            self.effects.push(Effect::ChunkVersion {
                chunk: id,
                version,
                replicas: vec![],
                lease,
            });
        }
        Ok(Reply::Done)
    }
}
