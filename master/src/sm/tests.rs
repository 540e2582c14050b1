//! Table tests of `apply` on an in-memory state: what each command replies, writes and
//! emits. No RocksDB, no HTTP, no Raft.

use super::*;
use crate::db;
use ferrofs_proto::namespace::{FileKind, TimeSet, Timespec, XattrMode};
use ferrofs_proto::{ErrorCode, ROOT_INO};

const CS: u64 = 1 << 20;

struct T {
    state: MemView,
    seq: u64,
    clock: i64,
}

impl T {
    /// A formatted state (root directory, 1 MiB chunks, replication 3).
    fn new() -> T {
        let mut t = T {
            state: MemView::default(),
            seq: 0,
            clock: 1_000,
        };
        t.ok(
            0,
            Op::Format(Format {
                chunk_size: CS,
                default_replication: 3,
            }),
        );
        t
    }

    fn ctx(&mut self, client: u64) -> Ctx {
        self.seq += 1;
        self.clock += 1;
        Ctx {
            client,
            seq: self.seq,
            origin: client,
            now: Timespec {
                sec: self.clock,
                nsec: 0,
            },
        }
    }

    /// Apply a command with an explicit context and keep its writes.
    fn run_ctx(&mut self, ctx: Ctx, op: Op) -> Applied {
        let a = apply(&self.state, &Command { ctx, op }).expect("storage");
        self.state.write(&a.writes);
        a
    }

    fn run(&mut self, client: u64, op: Op) -> Applied {
        let ctx = self.ctx(client);
        self.run_ctx(ctx, op)
    }

    fn ok(&mut self, client: u64, op: Op) -> Applied {
        let a = self.run(client, op.clone());
        assert!(a.reply.is_ok(), "{op:?} refused: {:?}", a.reply);
        a
    }

    fn refused(&mut self, client: u64, op: Op, code: ErrorCode) -> Applied {
        let a = self.run(client, op.clone());
        match &a.reply {
            Err(r) => assert_eq!(r.code, code, "{op:?}: {r:?}"),
            Ok(r) => panic!("{op:?} answered {r:?}, expected {code:?}"),
        }
        a
    }

    fn inode(&self, ino: u64) -> Option<InodeRec> {
        self.state
            .kv
            .get(&db::inode_key(ino))
            .map(|v| db::decode(v).unwrap())
    }

    fn keys_with(&self, prefix: &[u8]) -> usize {
        self.state
            .kv
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count()
    }

    fn create(&mut self, parent: u64, name: &str, kind: FileKind) -> u64 {
        match self.ok(7, Op::Create(create(parent, name, kind))).reply {
            Ok(Reply::Created { attr, created }) => {
                assert!(created);
                attr.ino
            }
            r => panic!("{r:?}"),
        }
    }

    /// Reserve ids and allocate chunk `chunk` at `index` of `ino`, leased to `holder`.
    fn alloc(&mut self, ino: u64, index: u64, chunk: u64, holder: u64) -> Applied {
        self.ok(0, Op::ReserveChunkIds { upto: chunk + 1 });
        self.run(
            0,
            Op::AllocChunk(AllocChunk {
                ino,
                index,
                chunk,
                version: 1,
                replicas: vec!["a".into(), "b".into()],
                holder,
                until_ms: u64::MAX / 2,
            }),
        )
    }
}

fn create(parent: u64, name: &str, kind: FileKind) -> Create {
    Create {
        parent,
        name: name.into(),
        kind,
        mode: 0o644,
        uid: 1,
        gid: 1,
        rdev: 0,
        symlink_target: None,
        exclusive: true,
        replication: None,
    }
}

fn rename(parent: u64, name: &str, new_parent: u64, new_name: &str) -> Rename {
    Rename {
        parent,
        name: name.into(),
        new_parent,
        new_name: new_name.into(),
        noreplace: false,
        exchange: false,
        keep_open: false,
    }
}

fn dropped(a: &Applied) -> Vec<u64> {
    a.effects
        .iter()
        .filter_map(|e| match e {
            Effect::ChunksDropped(ids) => Some(ids.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn changed(a: &Applied) -> Vec<(u64, Option<String>)> {
    a.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Changed { items, .. } => Some(items.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The first format fixes the chunk size; a later one (another config) changes nothing.
#[test]
fn format_fixes_the_chunk_size() {
    let mut t = T::new();
    assert!(t.inode(ROOT_INO).is_some_and(|r| r.is_dir()));
    let a = t.ok(
        0,
        Op::Format(Format {
            chunk_size: 4 * CS,
            default_replication: 1,
        }),
    );
    assert!(a.writes.is_empty() && a.effects.is_empty());
    let cs = t.state.kv[&db::counter_key(db::CHUNK_SIZE)].clone();
    assert_eq!(db::be_u64(&cs), CS);
}

/// Inode numbers come from the state, so every member picks the same ones; an
/// exclusive create of an existing name is refused and writes nothing.
#[test]
fn create_picks_inode_numbers_from_the_state() {
    let mut t = T::new();
    let a = t.create(ROOT_INO, "a", FileKind::File);
    let b = t.create(ROOT_INO, "b", FileKind::Dir);
    assert_eq!((a, b), (2, 3));
    assert_eq!(t.inode(ROOT_INO).unwrap().nlink, 3);
    let before = t.state.kv.len();
    let r = t.refused(
        7,
        Op::Create(create(ROOT_INO, "a", FileKind::File)),
        ErrorCode::AlreadyExists,
    );
    // Only the retry-cache entry of the refusal is written.
    assert_eq!(r.writes.len(), 1);
    assert!(r.effects.is_empty());
    assert_eq!(t.state.kv.len(), before + 1);
}

/// A retried call (same client and sequence) answers the first result and does
/// nothing again: a create that succeeded is not answered EEXIST on its retry.
#[test]
fn retries_are_applied_once() {
    let mut t = T::new();
    let ctx = t.ctx(42);
    let op = Op::Create(create(ROOT_INO, "once", FileKind::File));
    let first = t.run_ctx(ctx.clone(), op.clone());
    let again = t.run_ctx(ctx.clone(), op.clone());
    assert_eq!(first.reply, again.reply);
    assert!(again.writes.is_empty() && again.effects.is_empty());
    // The master's own commands (client 0) are never cached.
    let mut internal = ctx;
    internal.client = 0;
    let r = t.run_ctx(internal, op);
    assert_eq!(r.reply.unwrap_err().code, ErrorCode::AlreadyExists);
}

/// Renaming a directory into its own subtree is refused.
#[test]
fn rename_into_own_subtree_is_refused() {
    let mut t = T::new();
    let d = t.create(ROOT_INO, "d", FileKind::Dir);
    let e = t.create(d, "e", FileKind::Dir);
    t.refused(
        7,
        Op::Rename(rename(ROOT_INO, "d", e, "x")),
        ErrorCode::InvalidArgument,
    );
    t.ok(7, Op::Rename(rename(ROOT_INO, "d", ROOT_INO, "d2")));
}

/// A rename emits the change-feed entries of both names, both parents, the moved inode
/// and the replaced one, computed inside the command (not looked up beside it).
#[test]
fn rename_emits_every_changed_entry() {
    let mut t = T::new();
    let a = t.create(ROOT_INO, "a", FileKind::File);
    let b = t.create(ROOT_INO, "b", FileKind::File);
    let r = t.ok(7, Op::Rename(rename(ROOT_INO, "a", ROOT_INO, "b")));
    assert_eq!(r.reply, Ok(Reply::Renamed { replaced: Some(b) }));
    let c = changed(&r);
    for want in [
        (ROOT_INO, Some("a".to_string())),
        (ROOT_INO, Some("b".to_string())),
        (a, None),
        (b, None),
    ] {
        assert!(c.contains(&want), "{want:?} not in {c:?}");
    }
    assert!(t.inode(b).is_none(), "the replaced file is deleted");
}

/// A file unlinked while open stays (an orphan) until purged; the purge drops its
/// chunks, leases and extended attributes.
#[test]
fn orphans_keep_their_data_until_purged() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    assert!(t.alloc(f, 0, 5, 9).reply.is_ok());
    t.ok(
        7,
        Op::SetXattr(SetXattr {
            ino: f,
            name: "user.k".into(),
            value: b"v".to_vec(),
            mode: XattrMode::Either,
        }),
    );
    let u = t.ok(
        7,
        Op::Unlink(Unlink {
            parent: ROOT_INO,
            name: "f".into(),
            dir: false,
            keep_open: true,
        }),
    );
    assert_eq!(u.reply, Ok(Reply::Unlinked { ino: f, nlink: 0 }));
    assert!(dropped(&u).is_empty());
    assert!(t.inode(f).is_some() && t.keys_with(&db::orphan_key(f)) == 1);
    // Still writable while open: a new chunk may be allocated.
    assert!(t.alloc(f, 1, 6, 9).reply.is_ok());
    let p = t.ok(0, Op::PurgeOrphan { ino: f });
    assert_eq!(dropped(&p), vec![5, 6]);
    assert!(t.inode(f).is_none());
    assert_eq!(t.keys_with(&db::xattr_prefix(f)), 0);
    assert_eq!(t.keys_with(&db::file_chunk_prefix(f)), 0);
    assert_eq!(t.keys_with(b"L"), 0);
    assert_eq!(t.keys_with(b"K"), 0);
}

/// A chunk allocated for a file that was deleted meanwhile is refused: no chunk record
/// without an owner (the leader's replicas become garbage).
#[test]
fn allocation_for_a_deleted_file_writes_nothing() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    t.ok(
        7,
        Op::Unlink(Unlink {
            parent: ROOT_INO,
            name: "f".into(),
            dir: false,
            keep_open: false,
        }),
    );
    let a = t.alloc(f, 0, 5, 9);
    assert_eq!(a.reply.unwrap_err().code, ErrorCode::NotFound);
    assert!(a.writes.is_empty());
    assert_eq!(t.keys_with(b"K"), 0);
    // The same for a grant on a chunk whose file was truncated away.
    let g = t.create(ROOT_INO, "g", FileKind::File);
    assert!(t.alloc(g, 3, 8, 9).reply.is_ok());
    t.ok(
        9,
        Op::Commit(Commit {
            ino: g,
            size: 4 * CS,
            mtime: None,
            chunks: vec![ChunkRef { index: 3, chunk: 8 }],
            end_leases: false,
        }),
    );
    t.ok(
        7,
        Op::Setattr(Setattr {
            ino: g,
            size: Some(10),
            ..Default::default()
        }),
    );
    let r = t.refused(
        0,
        Op::GrantLease(GrantLease {
            ino: g,
            index: 3,
            chunk: 8,
            from: 1,
            version: 2,
            replicas: vec!["a".into()],
            holder: 9,
            until_ms: u64::MAX / 2,
        }),
        ErrorCode::NotFound,
    );
    assert!(r.writes.is_empty());
}

/// Two writers hold one lease; one closing ends only its own hold.
#[test]
fn closing_ends_only_the_closers_hold() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    t.alloc(f, 0, 5, 100);
    let g = t.ok(
        0,
        Op::GrantLease(GrantLease {
            ino: f,
            index: 0,
            chunk: 5,
            from: 1,
            version: 1,
            replicas: vec!["a".into(), "b".into()],
            holder: 200,
            until_ms: u64::MAX / 2,
        }),
    );
    let Ok(Reply::Lease(l)) = &g.reply else {
        panic!("{:?}", g.reply)
    };
    assert_eq!(l.holders.len(), 2);
    // Client 100 closes: its hold ends, 200's goes on.
    let ctx = t.ctx(100);
    let c = t.run_ctx(
        ctx,
        Op::Commit(Commit {
            ino: f,
            size: 10,
            mtime: None,
            chunks: vec![ChunkRef { index: 0, chunk: 5 }],
            end_leases: true,
        }),
    );
    assert!(c.reply.is_ok());
    let lease = c.effects.iter().find_map(|e| match e {
        Effect::LeaseChanged { lease, .. } => Some(lease.clone()),
        _ => None,
    });
    let lease = lease.expect("lease changed").expect("still leased");
    assert_eq!(
        lease.holders.iter().map(|h| h.client).collect::<Vec<_>>(),
        [200]
    );
    // 200 closes: the lease is gone.
    let e = t.ok(
        200,
        Op::EndLeases {
            ino: f,
            holder: 200,
        },
    );
    assert!(e.effects.contains(&Effect::LeaseChanged {
        chunk: 5,
        lease: None
    }));
    assert_eq!(t.keys_with(b"L"), 0);
}

/// A commit naming a chunk the file no longer holds fails (EIO) rather than answering
/// success over lost data, and does not grow the size.
#[test]
fn commit_checks_its_chunks() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    let r = t.refused(
        7,
        Op::Commit(Commit {
            ino: f,
            size: 100,
            mtime: None,
            chunks: vec![ChunkRef {
                index: 0,
                chunk: 77,
            }],
            end_leases: false,
        }),
        ErrorCode::ChunkLost,
    );
    assert_eq!(r.writes.len(), 1, "only the retry-cache entry");
    assert_eq!(t.inode(f).unwrap().size, 0);
}

/// Truncating down drops whole chunks past the end; growing drops nothing (another
/// writer's chunk past the old end is kept).
#[test]
fn truncate_drops_only_when_shrinking() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    t.alloc(f, 0, 5, 9);
    t.alloc(f, 3, 6, 9); // written by another client, not committed yet
    let grow = t.ok(
        7,
        Op::Setattr(Setattr {
            ino: f,
            size: Some(2 * CS),
            ..Default::default()
        }),
    );
    assert!(dropped(&grow).is_empty());
    let shrink = t.ok(
        7,
        Op::Setattr(Setattr {
            ino: f,
            size: Some(10),
            ..Default::default()
        }),
    );
    assert_eq!(dropped(&shrink), vec![6]);
    assert_eq!(t.inode(f).unwrap().size, 10);
}

/// The grant of a lease at a version the chunk has moved past is refused.
#[test]
fn stale_grants_are_refused() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    t.alloc(f, 0, 5, 9);
    let grant = |from, version| {
        Op::GrantLease(GrantLease {
            ino: f,
            index: 0,
            chunk: 5,
            from,
            version,
            replicas: vec!["a".into()],
            holder: 9,
            until_ms: u64::MAX / 2,
        })
    };
    let g = t.ok(0, grant(1, 2));
    assert!(
        g.effects
            .iter()
            .any(|e| matches!(e, Effect::ChunkVersion { version: 2, .. }))
    );
    t.refused(0, grant(1, 3), ErrorCode::StaleVersion);
    // A version reported above the master's is adopted.
    let a = t.ok(
        0,
        Op::AdoptVersion {
            chunk: 5,
            version: 4,
        },
    );
    assert!(
        a.effects
            .iter()
            .any(|e| matches!(e, Effect::ChunkVersion { version: 4, .. }))
    );
}

/// Old retry-cache entries are expired; a client's window is bounded.
#[test]
fn retry_cache_is_bounded() {
    let mut t = T::new();
    for i in 0..3 {
        t.ok(
            42,
            Op::Create(create(ROOT_INO, &format!("f{i}"), FileKind::File)),
        );
    }
    assert_eq!(t.keys_with(&[db::RETRY_PREFIX]), 3);
    let now = t.clock as u64 * 1000 + 10_000;
    t.ok(0, Op::ExpireRetries { before_ms: now });
    assert_eq!(t.keys_with(&[db::RETRY_PREFIX]), 0);
}

/// A batch (a writer's commit with the chmod and utimes it made before closing) is one
/// command: each op sees the ones before it, the reply holds every reply, and a refusal
/// of any op writes nothing, not even the ops before it.
#[test]
fn batches_apply_in_order_all_or_nothing() {
    let mut t = T::new();
    let f = t.create(ROOT_INO, "f", FileKind::File);
    let commit = |size| {
        Op::Commit(Commit {
            ino: f,
            size,
            mtime: Some(Timespec { sec: 50, nsec: 0 }),
            chunks: vec![],
            end_leases: true,
        })
    };
    let attrs = Op::Setattr(Setattr {
        ino: f,
        mode: Some(0o640),
        mtime: Some(TimeSet::At(Timespec { sec: 7, nsec: 0 })),
        ..Default::default()
    });
    let a = t.ok(7, Op::Batch(vec![commit(100), attrs.clone()]));
    let Ok(Reply::Batch(replies)) = &a.reply else {
        panic!("{:?}", a.reply)
    };
    assert_eq!(replies.len(), 2);
    let rec = t.inode(f).unwrap();
    assert_eq!(rec.size, 100, "the commit applied");
    assert_eq!(rec.mode, 0o640, "then the chmod");
    assert_eq!(rec.mtime.sec, 7, "the utimes after the commit's mtime wins");

    let gone = Op::Setattr(Setattr {
        ino: 999,
        mode: Some(0o600),
        ..Default::default()
    });
    let r = t.refused(7, Op::Batch(vec![commit(500), gone]), ErrorCode::NotFound);
    assert_eq!(r.writes.len(), 1, "only the retry-cache entry");
    assert_eq!(
        t.inode(f).unwrap().size,
        100,
        "the commit before it is undone"
    );
    assert!(r.effects.is_empty());

    t.refused(
        7,
        Op::Batch(vec![Op::Batch(vec![attrs])]),
        ErrorCode::BadRequest,
    );
}

fn reserve(t: &mut T, client: u64, count: u64) -> (u64, u64) {
    match t.ok(client, Op::ReserveInos { count }).reply {
        Ok(Reply::Inos { first, count }) => (first, count),
        r => panic!("{r:?}"),
    }
}

fn create_at(ino: u64, parent: u64, name: &str, kind: FileKind) -> Op {
    Op::CreateAt {
        ino,
        create: create(parent, name, kind),
    }
}

/// Reserved numbers come off the inode counter, so nothing else is given them; the
/// client names its creates with them, in increasing order, each once.
#[test]
fn reserved_inode_numbers_name_a_clients_creates() {
    let mut t = T::new();
    let before = t.create(ROOT_INO, "before", FileKind::File);
    let (first, count) = reserve(&mut t, 9, 4);
    assert_eq!((first, count), (before + 1, 4));
    // The counter moved past the reservation: a plain create gets the next number.
    assert_eq!(t.create(ROOT_INO, "plain", FileKind::File), first + 4);

    let a = t.ok(9, create_at(first, ROOT_INO, "d", FileKind::Dir));
    match a.reply {
        Ok(Reply::Created { attr, created }) => {
            assert!(created);
            assert_eq!((attr.ino, attr.kind, attr.nlink), (first, FileKind::Dir, 2));
        }
        r => panic!("{r:?}"),
    }
    assert!(
        a.effects
            .iter()
            .any(|e| matches!(e, Effect::Changed { .. }))
    );
    // A later number inside the new directory; skipping one is allowed.
    t.ok(9, create_at(first + 2, first, "f", FileKind::File));
    assert_eq!(t.inode(first + 2).unwrap().parent, first);
    assert_eq!(t.inode(ROOT_INO).unwrap().nlink, 3);

    // Used, skipped, outside the range, or another client's: refused, nothing written.
    for (client, ino) in [(9, first), (9, first + 1), (9, first + 4), (8, first + 3)] {
        let r = t.refused(
            client,
            create_at(ino, ROOT_INO, "x", FileKind::File),
            ErrorCode::BadRequest,
        );
        assert_eq!(r.writes.len(), 1, "only the retry-cache entry");
    }
    assert!(t.inode(first + 3).is_none());
    // The last number still works.
    t.ok(9, create_at(first + 3, ROOT_INO, "last", FileKind::File));
}

/// A deferred create never opens an existing file (its client already answered with
/// its own number): an existing name is refused, `exclusive` or not.
#[test]
fn create_at_of_an_existing_name_is_refused() {
    let mut t = T::new();
    t.create(ROOT_INO, "taken", FileKind::File);
    let (first, _) = reserve(&mut t, 9, 8);
    let mut c = create(ROOT_INO, "taken", FileKind::File);
    c.exclusive = false;
    t.refused(
        9,
        Op::CreateAt {
            ino: first,
            create: c,
        },
        ErrorCode::AlreadyExists,
    );
    // The number was not used up by the refusal.
    t.ok(9, create_at(first, ROOT_INO, "free", FileKind::File));
}

/// Reservations need a client and a sane size; the last two stay usable (creates
/// named from the older one may still be on their way when the client refills).
#[test]
fn inode_reservations_are_checked_and_the_last_two_kept() {
    let mut t = T::new();
    t.refused(0, Op::ReserveInos { count: 4 }, ErrorCode::BadRequest);
    t.refused(9, Op::ReserveInos { count: 0 }, ErrorCode::BadRequest);
    t.refused(
        9,
        Op::ReserveInos {
            count: (1 << 16) + 1,
        },
        ErrorCode::BadRequest,
    );
    let (a, _) = reserve(&mut t, 9, 4);
    let (b, _) = reserve(&mut t, 9, 4);
    assert_eq!(b, a + 4);
    t.ok(9, create_at(b, ROOT_INO, "new", FileKind::File));
    t.ok(9, create_at(a + 1, ROOT_INO, "older", FileKind::File));
    let (c, _) = reserve(&mut t, 9, 4);
    t.refused(
        9,
        create_at(a + 2, ROOT_INO, "oldest", FileKind::File),
        ErrorCode::BadRequest,
    );
    t.ok(9, create_at(b + 1, ROOT_INO, "b", FileKind::File));
    t.ok(9, create_at(c, ROOT_INO, "c", FileKind::File));
    assert_eq!(t.keys_with(b"N"), 1);
}

/// Deferred operations travel as one batch: a create of a directory, creates in it and
/// an unlink apply in order; a refusal anywhere writes none of them.
#[test]
fn a_batch_of_deferred_creates_is_all_or_nothing() {
    let mut t = T::new();
    let (first, _) = reserve(&mut t, 9, 16);
    let ops = vec![
        create_at(first, ROOT_INO, "dir", FileKind::Dir),
        create_at(first + 1, first, "a", FileKind::File),
        create_at(first + 2, first, "b", FileKind::File),
        Op::Unlink(Unlink {
            parent: first,
            name: "a".into(),
            dir: false,
            keep_open: false,
        }),
    ];
    let a = t.ok(9, Op::Batch(ops));
    match a.reply {
        Ok(Reply::Batch(rs)) => assert_eq!(rs.len(), 4),
        r => panic!("{r:?}"),
    }
    assert!(t.inode(first + 1).is_none() && t.inode(first + 2).is_some());
    let bad = vec![
        create_at(first + 3, first, "c", FileKind::File),
        create_at(first + 4, first, "b", FileKind::File),
    ];
    t.refused(9, Op::Batch(bad), ErrorCode::AlreadyExists);
    assert!(t.inode(first + 3).is_none());
    t.ok(9, create_at(first + 3, first, "c", FileKind::File));
}

/// A batch sees its own writes in range reads too: `rm -rf` deferred by a mount sends
/// a directory's unlinks and then its rmdir in one batch, and the rmdir's emptiness
/// check must not find the entries the batch already removed (nor miss one it made).
#[test]
fn a_batch_removes_a_directory_it_emptied() {
    let mut t = T::new();
    let (first, _) = reserve(&mut t, 9, 16);
    t.ok(9, create_at(first, ROOT_INO, "d", FileKind::Dir));
    t.ok(9, create_at(first + 1, first, "a", FileKind::File));
    t.ok(9, create_at(first + 2, first, "b", FileKind::File));
    let unlink = |parent, name: &str, dir| {
        Op::Unlink(Unlink {
            parent,
            name: name.into(),
            dir,
            keep_open: false,
        })
    };
    // Made in the batch, then the directory is not empty.
    let full = vec![
        unlink(first, "a", false),
        unlink(first, "b", false),
        create_at(first + 3, first, "c", FileKind::File),
        unlink(ROOT_INO, "d", true),
    ];
    t.refused(9, Op::Batch(full), ErrorCode::NotEmpty);
    assert!(
        t.inode(first + 1).is_some(),
        "the refused batch changed nothing"
    );
    let emptied = vec![
        unlink(first, "a", false),
        unlink(first, "b", false),
        unlink(ROOT_INO, "d", true),
    ];
    t.ok(9, Op::Batch(emptied));
    assert!(t.inode(first).is_none() && t.inode(first + 2).is_none());
}
