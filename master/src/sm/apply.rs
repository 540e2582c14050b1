//! `apply`: one command against the state, giving writes, reply and effects; plus the
//! typed reads and writes every operation uses, and the retry cache that makes a
//! client's retried call (same client id and sequence number) answer its first result
//! instead of running twice (HDFS's retry cache).

use super::command::*;
use super::records::{ChunkRec, DentryRec, InodeRec, LeaseRec, ServerModeRec};
use super::view::{StorageFailure, Tx, View, Write};
use crate::db::{self, be_u64};
use ferrofs_proto::{ChunkId, ErrorCode, Ino};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Retry-cache entries kept per client: a call retried after this many newer calls of
/// the same client is not recognised (a client has far fewer calls in flight).
pub const RETRY_WINDOW: u64 = 4096;

/// The result of applying one command.
#[derive(Debug)]
pub struct Applied {
    pub writes: Vec<Write>,
    pub reply: Outcome,
    pub effects: Vec<Effect>,
}

/// Why an operation stopped: refused (the reply), or the state could not be read.
pub(crate) enum Fail {
    Refused(Refusal),
    Storage(StorageFailure),
}

impl From<Refusal> for Fail {
    fn from(r: Refusal) -> Self {
        Fail::Refused(r)
    }
}

impl From<StorageFailure> for Fail {
    fn from(e: StorageFailure) -> Self {
        Fail::Storage(e)
    }
}

pub(crate) type Res<T> = Result<T, Fail>;

/// Apply `cmd` to the state seen through `view`.
pub fn apply(view: &dyn View, cmd: &Command) -> Result<Applied, StorageFailure> {
    let mut st = St {
        tx: Tx::new(view),
        effects: vec![],
        ctx: cmd.ctx.clone(),
    };
    let cached = cmd.ctx.client != 0;
    if cached && let Some(reply) = st.cached_reply()? {
        return Ok(Applied {
            writes: vec![],
            reply,
            effects: vec![],
        });
    }
    let reply = match st.run(&cmd.op) {
        Ok(r) => Ok(r),
        Err(Fail::Refused(r)) => {
            st.tx.discard();
            st.effects.clear();
            Err(r)
        }
        Err(Fail::Storage(e)) => return Err(e),
    };
    if cached {
        st.remember(&reply);
    }
    Ok(Applied {
        writes: st.tx.into_writes(),
        reply,
        effects: st.effects,
    })
}

/// The state as one command sees it, with what it has emitted so far.
pub(crate) struct St<'a> {
    pub tx: Tx<'a>,
    pub effects: Vec<Effect>,
    pub ctx: Ctx,
}

impl St<'_> {
    fn run(&mut self, op: &Op) -> Res<Reply> {
        match op {
            Op::Format(f) => self.format(f),
            Op::Create(c) => self.create(c),
            Op::Unlink(u) => self.unlink(u),
            Op::Rename(r) => self.rename(r),
            Op::Link(l) => self.link(l),
            Op::Setattr(s) => self.setattr(s),
            Op::Commit(c) => self.commit(c),
            Op::SetXattr(s) => self.setxattr(s),
            Op::RemoveXattr(r) => self.removexattr(r),
            Op::ReserveChunkIds { upto } => self.reserve_chunk_ids(*upto),
            Op::AllocChunk(a) => self.alloc_chunk(a),
            Op::GrantLease(g) => self.grant_lease(g),
            Op::EndLeases { ino, holder } => {
                self.end_leases(*ino, *holder)?;
                Ok(Reply::Done)
            }
            Op::AdoptVersion { chunk, version } => self.adopt_version(*chunk, *version),
            Op::PurgeOrphan { ino } => self.purge_orphan(*ino),
            Op::ExpireRetries { before_ms } => self.expire_retries(*before_ms),
            Op::SetServerMode {
                cs,
                maintenance,
                decommission,
            } => self.set_server_mode(cs, *maintenance, *decommission),
            Op::Batch(ops) => self.batch(ops),
            Op::ReserveInos { count } => self.reserve_inos(*count),
            Op::CreateAt { ino, create } => self.create_at(*ino, create),
        }
    }

    /// Every op in order over the same transaction; `apply` discards it all if one is
    /// refused.
    fn batch(&mut self, ops: &[Op]) -> Res<Reply> {
        let mut replies = Vec::with_capacity(ops.len());
        for op in ops {
            if matches!(op, Op::Batch(_)) {
                return Err(refuse(ErrorCode::BadRequest, "a batch cannot hold a batch").into());
            }
            replies.push(self.run(op)?);
        }
        Ok(Reply::Batch(replies))
    }

    // ---- typed access ----

    pub fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Res<Option<T>> {
        match self.tx.get(key)? {
            None => Ok(None),
            Some(v) => db::decode(&v)
                .map(Some)
                .map_err(|e| refuse(ErrorCode::Internal, format!("corrupt record: {e}")).into()),
        }
    }

    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, v: &T) {
        self.tx.put(key, db::encode(v));
    }

    pub fn inode(&self, ino: Ino) -> Res<InodeRec> {
        self.get(&db::inode_key(ino))?
            .ok_or_else(|| not_found(format!("inode {ino}")).into())
    }

    pub fn put_inode(&mut self, ino: Ino, rec: &InodeRec) {
        self.put(db::inode_key(ino), rec);
    }

    pub fn dir(&self, ino: Ino) -> Res<InodeRec> {
        let rec = self.inode(ino)?;
        if !rec.is_dir() {
            return Err(refuse(
                ErrorCode::NotADirectory,
                format!("inode {ino} is not a directory"),
            )
            .into());
        }
        Ok(rec)
    }

    pub fn dentry(&self, parent: Ino, name: &str) -> Res<Option<DentryRec>> {
        self.get(&db::dentry_key(parent, name))
    }

    pub fn dir_is_empty(&self, ino: Ino) -> Res<bool> {
        let p = db::dentry_prefix(ino);
        Ok(self.tx.scan(&p, &p, 1)?.is_empty())
    }

    pub fn counter(&self, name: &str) -> Res<u64> {
        Ok(self
            .tx
            .get(&db::counter_key(name))?
            .map(|v| be_u64(&v))
            .unwrap_or(0))
    }

    pub fn set_counter(&mut self, name: &str, v: u64) {
        self.tx.put(db::counter_key(name), v.to_be_bytes().to_vec());
    }

    pub fn chunk_size(&self) -> Res<u64> {
        match self.counter(db::CHUNK_SIZE)? {
            0 => Err(refuse(ErrorCode::Internal, "the cluster is not formatted yet").into()),
            cs => Ok(cs),
        }
    }

    /// The chunk map of a file from `index` on: (index, chunk id).
    pub fn file_chunks(&self, ino: Ino, from: u64) -> Res<Vec<(u64, ChunkId)>> {
        let prefix = db::file_chunk_prefix(ino);
        Ok(self
            .tx
            .scan(&prefix, &db::file_chunk_key(ino, from), usize::MAX)?
            .into_iter()
            .map(|(k, v)| (be_u64(&k[9..]), be_u64(&v)))
            .collect())
    }

    pub fn chunk(&self, id: ChunkId) -> Res<Option<ChunkRec>> {
        self.get(&db::chunk_key(id))
    }

    pub fn lease(&self, id: ChunkId) -> Res<Option<LeaseRec>> {
        self.get(&db::lease_key(id))
    }

    pub fn set_lease(&mut self, id: ChunkId, lease: Option<&LeaseRec>) {
        match lease {
            Some(l) => self.put(db::lease_key(id), l),
            None => self.tx.delete(db::lease_key(id)),
        }
    }

    /// Record that entries/attributes changed, for the change feed.
    pub fn changed(&mut self, items: Vec<(Ino, Option<String>)>) {
        self.effects.push(Effect::Changed {
            origin: self.ctx.origin,
            items,
        });
    }

    // ---- the retry cache: `R client seq` -> (unix ms, reply) ----

    fn cached_reply(&self) -> Result<Option<Outcome>, StorageFailure> {
        let key = db::retry_key(self.ctx.client, self.ctx.seq);
        Ok(match self.tx.get(&key)? {
            None => None,
            Some(v) => db::decode::<(u64, Outcome)>(&v).ok().map(|(_, r)| r),
        })
    }

    fn remember(&mut self, reply: &Outcome) {
        let (client, seq) = (self.ctx.client, self.ctx.seq);
        self.put(db::retry_key(client, seq), &(self.ctx.now_ms(), reply));
        if seq >= RETRY_WINDOW {
            self.tx.delete(db::retry_key(client, seq - RETRY_WINDOW));
        }
    }

    fn expire_retries(&mut self, before_ms: u64) -> Res<Reply> {
        let p = [db::RETRY_PREFIX];
        for (k, v) in self.tx.scan(&p, &p, usize::MAX)? {
            let old = db::decode::<(u64, Outcome)>(&v).map_or(true, |(t, _)| t < before_ms);
            if old {
                self.tx.delete(k);
            }
        }
        Ok(Reply::Done)
    }

    fn set_server_mode(
        &mut self,
        cs: &str,
        maintenance: Option<bool>,
        decommission: Option<bool>,
    ) -> Res<Reply> {
        let key = db::server_mode_key(cs);
        let mut rec: ServerModeRec = self.get(&key)?.unwrap_or_default();
        match maintenance {
            Some(true) if rec.maintenance_since_ms.is_none() => {
                rec.maintenance_since_ms = Some(self.ctx.now_ms())
            }
            Some(false) => rec.maintenance_since_ms = None,
            _ => {}
        }
        if let Some(d) = decommission {
            rec.decommission = d;
        }
        if rec == ServerModeRec::default() {
            self.tx.delete(key);
        } else {
            self.put(key, &rec);
        }
        self.effects.push(Effect::ServerMode {
            cs: cs.to_string(),
            maintenance_since_ms: rec.maintenance_since_ms,
            decommission: rec.decommission,
        });
        Ok(Reply::Done)
    }

    fn format(&mut self, f: &Format) -> Res<Reply> {
        if self.counter(db::CHUNK_SIZE)? != 0 {
            return Ok(Reply::Done); // formatted already: the first format stays
        }
        self.set_counter(db::CHUNK_SIZE, f.chunk_size);
        self.set_counter(db::DEFAULT_REPLICATION, u64::from(f.default_replication));
        if self
            .get::<InodeRec>(&db::inode_key(ferrofs_proto::ROOT_INO))?
            .is_none()
        {
            let now = self.ctx.now;
            let root = InodeRec {
                kind: ferrofs_proto::namespace::FileKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                atime: now,
                mtime: now,
                ctime: now,
                nlink: 2,
                rdev: 0,
                replication: f.default_replication,
                parent: ferrofs_proto::ROOT_INO,
                target: None,
            };
            self.put_inode(ferrofs_proto::ROOT_INO, &root);
        }
        self.effects.push(Effect::Formatted {
            chunk_size: f.chunk_size,
            default_replication: f.default_replication,
        });
        Ok(Reply::Done)
    }
}
