//! Stored-state layout versions. Layout 2 is the Raft state machine: the cluster's chunk
//! size and default replication stored (not taken from each start's config), exact
//! inode and chunk id counters, and leases with their holders. A data directory of a
//! single master from before (layout 1, no `S layout` key) is converted in place when
//! it is opened; it becomes a group of one.

use crate::config::MasterConfig;
use crate::db::{self, Db};
use crate::error::Result;
use crate::sm::{ChunkRec, Holder, LeaseRec};
use rocksdb::WriteBatch;

pub const LAYOUT_VERSION: u64 = 2;

/// Bring the stored state to the current layout. Returns true if an old single
/// master's state was converted (it then needs a snapshot before members can join).
pub async fn run(db: &Db, cfg: &MasterConfig) -> Result<bool> {
    let counter = |name: &str| -> Result<Option<u64>> {
        Ok(db.get_raw(&db::counter_key(name))?.map(|v| db::be_u64(&v)))
    };
    if let Some(v) = counter(db::LAYOUT)? {
        if v > LAYOUT_VERSION {
            return Err(crate::error::MasterError::Config(format!(
                "the data directory has layout {v}; this master knows up to {LAYOUT_VERSION}"
            )));
        }
        if let Some(cs) = counter(db::CHUNK_SIZE)?
            && cs != 0
            && cs != cfg.chunk_size
        {
            tracing::warn!(
                stored = cs,
                configured = cfg.chunk_size,
                "chunk_size in the config differs from the cluster's; keeping the cluster's"
            );
        }
        return Ok(false);
    }
    let mut b = WriteBatch::default();
    b.put(db::counter_key(db::LAYOUT), LAYOUT_VERSION.to_be_bytes());
    let old = db
        .get_raw(&db::inode_key(ferrofs_proto::ROOT_INO))?
        .is_some();
    if old {
        tracing::warn!(
            chunk_size = cfg.chunk_size,
            "converting a single master's namespace to the replicated layout"
        );
        b.put(
            db::counter_key(db::CHUNK_SIZE),
            cfg.chunk_size.to_be_bytes(),
        );
        b.put(
            db::counter_key(db::DEFAULT_REPLICATION),
            u64::from(cfg.default_replication).to_be_bytes(),
        );
        // Layout 1's counters were lower bounds; the keys in use are the truth.
        let ino = counter(db::NEXT_INO)?
            .unwrap_or(0)
            .max(db.last_key_u64(b'I')? + 1);
        let chunk = counter(db::NEXT_CHUNK)?
            .unwrap_or(0)
            .max(db.last_key_u64(b'K')? + 1);
        b.put(db::counter_key(db::NEXT_INO), ino.to_be_bytes());
        b.put(db::counter_key(db::NEXT_CHUNK), chunk.to_be_bytes());
        // Layout 1 stored a lease as its end (unix ms): keep the live ones, holder
        // unknown (0), so nothing is copied until they end.
        let now = db::now_ms();
        for kv in db.scan(b"L") {
            let (k, v) = kv?;
            let id = db::be_u64(&k[1..]);
            let until = db::be_u64(&v);
            match db.get::<ChunkRec>(&db::chunk_key(id))? {
                Some(c) if until > now => b.put(
                    &k,
                    db::encode(&LeaseRec {
                        version: c.version,
                        holders: vec![Holder {
                            client: 0,
                            until_ms: until,
                        }],
                        replicas: vec![],
                    }),
                ),
                _ => b.delete(&k),
            }
        }
    }
    let seq = db.write(b)?;
    db.wait_durable(seq).await;
    Ok(old)
}
