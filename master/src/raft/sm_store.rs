//! The Raft state machine store: applies committed entries with [`crate::sm::apply`],
//! writing each entry's batch together with the applied log id (one RocksDB batch, so
//! the state and its position never disagree), then hands the effects to the
//! in-memory [`Views`]. Snapshots are built from a RocksDB checkpoint and installed in
//! one batch (see `snapshot`).

use super::snapshot::{self, SnapshotFiles};
use super::{Entry, LogId, Member, Membership, NodeId, StorageError, TypeConfig, write_err};
use crate::db::{self, Db};
use crate::sm::{self, Outcome, Reply, Write};
use crate::views::Views;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StoredMembership};
use rocksdb::WriteBatch;
use std::sync::Arc;

/// Keys of the applied position in the default column family (with the state, so they
/// move in the same batch). `Z` sorts after every state prefix.
pub const APPLIED_KEY: &[u8] = b"Zapplied";
pub const MEMBERSHIP_KEY: &[u8] = b"Zmembership";

pub struct SmStore {
    db: Db,
    views: Arc<Views>,
    applied: Option<LogId>,
    membership: Membership,
    files: SnapshotFiles,
}

impl SmStore {
    pub fn open(db: Db, views: Arc<Views>, files: SnapshotFiles) -> Result<SmStore, StorageError> {
        let get = |k: &[u8]| -> Result<Option<Vec<u8>>, StorageError> {
            db.get_raw(k).map_err(|e| super::read_err(&e))
        };
        let applied = match get(APPLIED_KEY)? {
            Some(v) => postcard::from_bytes(&v).map_err(|e| super::read_err(&e))?,
            None => None,
        };
        let membership = match get(MEMBERSHIP_KEY)? {
            Some(v) => postcard::from_bytes(&v).map_err(|e| super::read_err(&e))?,
            None => StoredMembership::default(),
        };
        views.reload(&db).map_err(|e| super::read_err(&e))?;
        Ok(SmStore {
            db,
            views,
            applied,
            membership,
            files,
        })
    }

    fn put_position(&self, b: &mut WriteBatch) {
        b.put(
            APPLIED_KEY,
            postcard::to_allocvec(&self.applied).expect("encodes"),
        );
    }
}

impl RaftSnapshotBuilder<TypeConfig> for snapshot::Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        self.build().await
    }
}

impl RaftStateMachine<TypeConfig> for SmStore {
    type SnapshotBuilder = snapshot::Builder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = vec![];
        for ent in entries {
            let mut b = WriteBatch::default();
            let mut effects = vec![];
            let mut files = None;
            let reply = match ent.payload {
                EntryPayload::Blank => Ok(Reply::Done),
                EntryPayload::Normal(cmd) => {
                    let out = sm::apply(&self.db, &cmd).map_err(|e| write_err(&e))?;
                    let files_key = db::counter_key(db::FILES);
                    for w in out.writes {
                        match w {
                            Write::Put(k, v) => {
                                if k == files_key {
                                    files = Some(db::be_u64(&v));
                                }
                                b.put(k, v)
                            }
                            Write::Delete(k) => b.delete(k),
                        }
                    }
                    effects = out.effects;
                    out.reply
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(ent.log_id), m);
                    b.put(
                        MEMBERSHIP_KEY,
                        postcard::to_allocvec(&self.membership).expect("encodes"),
                    );
                    Ok(Reply::Done)
                }
            };
            self.applied = Some(ent.log_id);
            self.put_position(&mut b);
            self.db.write(b).map_err(|e| write_err(&e))?;
            if let Some(n) = files {
                self.views.set_file_count(n);
            }
            self.views.apply_effects(effects);
            replies.push(reply);
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        snapshot::Builder::new(
            self.db.clone(),
            self.files.clone(),
            self.applied,
            self.membership.clone(),
        )
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        Ok(Box::new(self.files.receive_file().await?))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Member>,
        data: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        snapshot::install(&self.db, &self.files, meta, *data).await?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.views
            .reload(&self.db)
            .map_err(|e| super::read_err(&e))?;
        // Mounts cached what the old state said: start their caches over.
        self.views.changes.restart();
        tracing::info!(last = ?meta.last_log_id, "installed a snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.files.current().await
    }
}
