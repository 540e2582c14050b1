//! The master's request handlers under arbitrary values: random namespace calls (create,
//! setattr, commit, rename, link, unlink, lookup, readdir, setxattr) whose fields range
//! over everything their types can carry (extreme times and nanoseconds, every mode bit,
//! `u32::MAX` ids, sizes past the limit, bad names, targets on non-symlinks, rdev on
//! files ...) go to a real master over HTTP. Every reply must be a success or a JSON
//! 4xx; afterwards every stored value, read back through getattr and readdir and
//! through a mount's stat, readdir and readlink, must be in range, and neither the
//! master nor the mount may die. (The decoders themselves are fuzzed in
//! proto/tests/fuzz.rs.) `FUZZ_CASES` sets the number of calls (default 1000), `FUZZ_SEED`
//! replays a run (each run prints its seed).

mod common;

use common::*;
use ferrofs_proto::namespace::*;
use ferrofs_proto::{ApiError, Ino, MAX_FILE_SIZE, ROOT_INO};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use std::path::PathBuf;
use std::time::Duration;

fn time() -> impl Strategy<Value = Timespec> {
    let sec = prop_oneof![
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => Just(MAX_TIME_SEC),
        1 => Just(MAX_TIME_SEC + 1),
        1 => Just(-MAX_TIME_SEC - 1),
        2 => Just(0i64),
        20 => -3_000_000_000i64..3_000_000_000,
        1 => any::<i64>(),
    ];
    let nsec = prop_oneof![
        4 => Just(0u32),
        2 => Just(999_999_999),
        1 => Just(1_000_000_000),
        1 => Just(u32::MAX),
        20 => 0u32..1_000_000_000,
        1 => any::<u32>(),
    ];
    (sec, nsec).prop_map(|(sec, nsec)| Timespec { sec, nsec })
}

fn time_set() -> impl Strategy<Value = Option<TimeSet>> {
    prop_oneof![
        Just(None),
        Just(Some(TimeSet::Now)),
        time().prop_map(|t| Some(TimeSet::At(t))),
    ]
}

fn id() -> impl Strategy<Value = u32> {
    prop_oneof![8 => Just(0u32), 8 => 0u32..70_000, 1 => Just(u32::MAX), 1 => any::<u32>()]
}

fn mode() -> impl Strategy<Value = u32> {
    prop_oneof![16 => 0u32..0o10000, 1 => Just(0o100644), 1 => any::<u32>()]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        16 => 0u64..(3 << 20),
        1 => Just(MAX_FILE_SIZE),
        1 => Just(MAX_FILE_SIZE + 1),
        1 => any::<u64>(),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => "[a-e]{1,2}",
        1 => Just(String::new()),
        1 => Just(".".to_string()),
        1 => Just("..".to_string()),
        1 => Just("a/b".to_string()),
        1 => Just("a\0b".to_string()),
        1 => Just("x".repeat(256)),
        1 => any::<String>(),
    ]
}

fn kind() -> impl Strategy<Value = FileKind> {
    prop_oneof![
        4 => Just(FileKind::File),
        3 => Just(FileKind::Dir),
        1 => Just(FileKind::Symlink),
        1 => Just(FileKind::Fifo),
        1 => Just(FileKind::Socket),
        1 => Just(FileKind::CharDevice),
        1 => Just(FileKind::BlockDevice),
    ]
}

/// An inode number: one of those created so far (by index), or any number.
fn ino() -> impl Strategy<Value = Result<usize, Ino>> {
    prop_oneof![
        8 => any::<usize>().prop_map(Ok),
        1 => any::<u64>().prop_map(Err),
    ]
}

#[derive(Debug, Clone)]
enum Call {
    Create(Result<usize, Ino>, CreateReq),
    Setattr(Result<usize, Ino>, SetattrReq),
    Commit(Result<usize, Ino>, CommitReq),
    Rename(Result<usize, Ino>, Result<usize, Ino>, RenameReq),
    Link(Result<usize, Ino>, Result<usize, Ino>, LinkReq),
    Unlink(Result<usize, Ino>, UnlinkReq),
    Lookup(Result<usize, Ino>, LookupReq),
    Readdir(Result<usize, Ino>, ReaddirReq),
    Setxattr(Result<usize, Ino>, SetxattrReq),
    /// A reservation of inode numbers, then a batch creating under `first + offset`
    /// (inside or past the reservation) and unlinking the same name.
    Deferred(Result<usize, Ino>, CreateReq, u64, bool),
}

fn call() -> impl Strategy<Value = Call> {
    let create = (
        ino(),
        name(),
        kind(),
        mode(),
        id(),
        id(),
        prop_oneof![9 => Just(0u32), 1 => any::<u32>()],
        prop::option::of(prop_oneof![
            Just("/t".to_string()),
            Just(String::new()),
            Just("a\0".to_string()),
            Just("y".repeat(5000)),
            any::<String>(),
        ]),
        any::<bool>(),
        prop::option::weighted(0.2, any::<u8>()),
    )
        .prop_map(
            |(p, name, kind, mode, uid, gid, rdev, mut target, exclusive, replication)| {
                // Symlinks mostly get a target, the rest mostly none.
                if kind == FileKind::Symlink && target.is_none() && uid % 4 != 0 {
                    target = Some("/t".into());
                } else if kind != FileKind::Symlink && gid % 4 != 0 {
                    target = None;
                }
                (
                    p,
                    CreateReq {
                        parent: 0,
                        name,
                        kind,
                        mode,
                        uid,
                        gid,
                        rdev,
                        symlink_target: target,
                        exclusive,
                        replication,
                    },
                )
            },
        )
        .boxed();
    let deferred = (create.clone(), 0..24u64, any::<bool>())
        .prop_map(|((p, r), off, unlink)| Call::Deferred(p, r, off, unlink));
    let create = create.prop_map(|(p, r)| Call::Create(p, r));
    let setattr = (
        ino(),
        prop::option::of(mode()),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::weighted(0.3, size()),
        time_set(),
        time_set(),
        prop::option::weighted(0.2, any::<u8>()),
    )
        .prop_map(|(i, mode, uid, gid, size, atime, mtime, replication)| {
            Call::Setattr(
                i,
                SetattrReq {
                    ino: 0,
                    mode,
                    uid,
                    gid,
                    size,
                    atime,
                    mtime,
                    replication,
                },
            )
        });
    let commit = (ino(), size(), prop::option::of(time()), any::<bool>()).prop_map(
        |(i, size, mtime, sync)| {
            Call::Commit(
                i,
                CommitReq {
                    ino: 0,
                    size,
                    mtime,
                    sync,
                    chunks: vec![],
                    close: false,
                    attrs: None,
                },
            )
        },
    );
    let rename = (ino(), ino(), name(), name(), any::<bool>(), any::<bool>()).prop_map(
        |(a, b, name, new_name, noreplace, exchange)| {
            Call::Rename(
                a,
                b,
                RenameReq {
                    parent: 0,
                    name,
                    new_parent: 0,
                    new_name,
                    noreplace,
                    exchange,
                    keep_open: false,
                },
            )
        },
    );
    let link = (ino(), ino(), name()).prop_map(|(a, b, new_name)| {
        Call::Link(
            a,
            b,
            LinkReq {
                ino: 0,
                new_parent: 0,
                new_name,
            },
        )
    });
    let unlink = (ino(), name(), any::<bool>()).prop_map(|(p, name, dir)| {
        Call::Unlink(
            p,
            UnlinkReq {
                parent: 0,
                name,
                dir,
                keep_open: false,
            },
        )
    });
    let lookup =
        (ino(), name()).prop_map(|(p, name)| Call::Lookup(p, LookupReq { parent: 0, name }));
    let readdir = (ino(), prop::option::of(name()), any::<u32>()).prop_map(|(i, after, limit)| {
        Call::Readdir(
            i,
            ReaddirReq {
                ino: 0,
                after,
                limit,
            },
        )
    });
    let setxattr =
        (ino(), name(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(i, n, value)| {
            Call::Setxattr(
                i,
                SetxattrReq {
                    ino: 0,
                    name: format!("user.{n}"),
                    value,
                    mode: XattrMode::Either,
                },
            )
        });
    prop_oneof![
        5 => create,
        5 => setattr,
        2 => commit,
        2 => rename,
        1 => link,
        2 => unlink,
        1 => lookup,
        1 => readdir,
        1 => setxattr,
        2 => deferred,
    ]
}

/// The inode a generated reference names: one created so far, or a raw number.
fn pick(known: &[Ino], r: Result<usize, Ino>) -> Ino {
    match r {
        Ok(i) => known[i % known.len()],
        Err(raw) => raw,
    }
}

/// Is every stored value of `a` in range?
fn check_attr(a: &Attr, what: &str) {
    for (n, t) in [("atime", a.atime), ("mtime", a.mtime), ("ctime", a.ctime)] {
        assert!(t.is_valid(), "{what}: stored {n} {t:?}");
    }
    assert_eq!(a.mode & !0o7777, 0, "{what}: stored mode {:o}", a.mode);
    assert_ne!(a.uid, u32::MAX, "{what}: stored uid");
    assert_ne!(a.gid, u32::MAX, "{what}: stored gid");
    assert!(a.size <= MAX_FILE_SIZE, "{what}: stored size {}", a.size);
    assert!((1..=16).contains(&a.replication), "{what}: replication");
    if !matches!(a.kind, FileKind::CharDevice | FileKind::BlockDevice) {
        assert_eq!(a.rdev, 0, "{what}: rdev on a {:?}", a.kind);
    }
}

/// Send one call; the reply must be a success or a JSON 4xx. Returns the refusal's
/// code (None: accepted), and the inode it created.
async fn send(
    http: &reqwest::Client,
    m: &str,
    known: &[Ino],
    c: &Call,
) -> (Option<ferrofs_proto::ErrorCode>, Option<Ino>) {
    let post =
        |path: &str, body: serde_json::Value| http.post(format!("{m}{path}")).json(&body).send();
    let j = |v: &dyn erased::Ser| v.json();
    let resp = match c.clone() {
        Call::Create(p, mut r) => {
            r.parent = pick(known, p);
            post(CREATE, j(&r)).await
        }
        Call::Setattr(i, mut r) => {
            r.ino = pick(known, i);
            post(SETATTR, j(&r)).await
        }
        Call::Commit(i, mut r) => {
            r.ino = pick(known, i);
            post(COMMIT, j(&r)).await
        }
        Call::Rename(a, b, mut r) => {
            (r.parent, r.new_parent) = (pick(known, a), pick(known, b));
            post(RENAME, j(&r)).await
        }
        Call::Link(a, b, mut r) => {
            (r.ino, r.new_parent) = (pick(known, a), pick(known, b));
            post(LINK, j(&r)).await
        }
        Call::Unlink(p, mut r) => {
            r.parent = pick(known, p);
            post(UNLINK, j(&r)).await
        }
        Call::Lookup(p, mut r) => {
            r.parent = pick(known, p);
            post(LOOKUP, j(&r)).await
        }
        Call::Readdir(i, mut r) => {
            r.ino = pick(known, i);
            post(READDIR, j(&r)).await
        }
        Call::Deferred(p, mut r, off, unlink) => {
            use std::sync::atomic::{AtomicU64, Ordering};
            static SEQ: AtomicU64 = AtomicU64::new(0);
            let signed = |path: &str, body: serde_json::Value| {
                http.post(format!("{m}{path}"))
                    .header(ferrofs_proto::rpc::CLIENT_HEADER, 77)
                    .header(
                        ferrofs_proto::rpc::SEQ_HEADER,
                        SEQ.fetch_add(1, Ordering::Relaxed) + 1,
                    )
                    .json(&body)
                    .send()
            };
            let resv: ReserveInosResp = signed(RESERVE_INOS, serde_json::json!({"count": 16}))
                .await
                .expect("reserve sent")
                .json()
                .await
                .expect("a reservation");
            r.parent = pick(known, p);
            let mut ops = vec![NsOp::Create(CreateAtReq {
                ino: resv.first + off,
                create: r.clone(),
            })];
            if unlink {
                ops.push(NsOp::Unlink(UnlinkReq {
                    parent: r.parent,
                    name: r.name.clone(),
                    dir: r.kind == FileKind::Dir,
                    keep_open: false,
                }));
            }
            signed(NS_BATCH, j(&NsBatchReq { ops })).await
        }
        Call::Setxattr(i, mut r) => {
            r.ino = pick(known, i);
            post(SETXATTR, j(&r)).await
        }
    }
    .unwrap_or_else(|e| panic!("{c:?}: no reply from the master: {e}"));
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    if status >= 400 {
        assert!(status < 500, "{c:?}: {status} {body}");
        let e = serde_json::from_str::<ApiError>(&body)
            .unwrap_or_else(|e| panic!("{c:?}: {status} body is not an ApiError ({e}): {body}"));
        return (Some(e.code), None);
    }
    match c {
        Call::Create(..) => {
            let r: CreateResp = serde_json::from_str(&body).unwrap();
            check_attr(&r.attr, &format!("reply to {c:?}"));
            (None, Some(r.attr.ino))
        }
        Call::Deferred(..) => {
            let r: NsBatchResp = serde_json::from_str(&body).unwrap();
            match r.replies.first() {
                Some(NsReply::Created(c)) if r.replies.len() == 1 => {
                    check_attr(&c.attr, &format!("reply to {c:?}"));
                    (None, Some(c.attr.ino))
                }
                _ => (None, None),
            }
        }
        Call::Setattr(..) | Call::Commit(..) | Call::Lookup(..) | Call::Link(..) => {
            let a: Attr = serde_json::from_str(&body).unwrap();
            check_attr(&a, &format!("reply to {c:?}"));
            (None, None)
        }
        _ => (None, None),
    }
}

/// Serialize any request body (the calls hold different types).
mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializable")
        }
    }
}

/// Every inode reachable from the root through the master (readdir and getattr), with
/// its path, each checked.
async fn walk_master(c: &ferrofs_client::Client) -> Vec<(String, Attr)> {
    let root = c.getattr(ROOT_INO).await.expect("getattr root");
    check_attr(&root, "root");
    let mut out = vec![];
    let mut dirs = vec![(String::new(), ROOT_INO)];
    while let Some((path, ino)) = dirs.pop() {
        for e in c.readdir_all(ino).await.expect("readdir") {
            let p = format!("{path}/{}", e.name);
            check_attr(&e.attr, &format!("readdir entry {p}"));
            let again = c
                .getattr(e.attr.ino)
                .await
                .expect("getattr of a listed inode");
            check_attr(&again, &format!("getattr {p}"));
            if e.attr.kind == FileKind::Dir && out.len() < 10_000 {
                dirs.push((p.clone(), e.attr.ino));
            }
            out.push((p, e.attr));
        }
    }
    out
}

/// Stat, list and readlink everything through the mount, with a deadline (a handler
/// that panicked never answers).
async fn walk_mount(mnt: PathBuf, paths: Vec<(String, Attr)>) {
    let task = tokio::task::spawn_blocking(move || {
        std::fs::write("/proc/sys/vm/drop_caches", "2").expect("drop dentries and inodes");
        std::fs::metadata(&mnt).expect("stat of the mount's root");
        let mut dirs = vec![mnt.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("readdir through the mount") {
                let e = e.expect("directory entry");
                match std::fs::symlink_metadata(e.path()) {
                    Ok(m) if m.is_dir() => dirs.push(e.path()),
                    Ok(m) if m.file_type().is_symlink() => {
                        std::fs::read_link(e.path()).expect("readlink");
                    }
                    Ok(_) => {}
                    Err(err) => panic!("stat {}: {err}", e.path().display()),
                }
            }
        }
        for (p, _) in paths {
            let _ = std::fs::symlink_metadata(mnt.join(p.trim_start_matches('/')));
        }
    });
    match tokio::time::timeout(Duration::from_secs(30), task).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("walking the mount: {e}"),
        Err(_) => panic!("the mount did not answer within 30 s"),
    }
}

/// Arbitrary values thrown at the master's handlers are refused or stored in range, and
/// what is stored reads back through the master and a mount without a panic.
#[tokio::test(flavor = "multi_thread")]
async fn arbitrary_requests_store_only_valid_values() {
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cluster.mount().await;
    let m = cluster.master_url();
    let client = cluster.client();
    let http = reqwest::Client::new();
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    phase!("seed {seed} (FUZZ_SEED={seed} replays this run)");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Default::default(), rng);
    let strategy = call();
    let mut known: Vec<Ino> = vec![ROOT_INO];
    let mut accepted = 0;
    let mut refusals = std::collections::BTreeMap::new();
    phase!("{cases} arbitrary calls, checking the namespace every 50");
    for i in 0..cases {
        let c = strategy.new_tree(&mut runner).expect("case").current();
        let (refused, created) = send(&http, &m, &known, &c).await;
        match refused {
            None => accepted += 1,
            Some(code) => *refusals.entry(format!("{code:?}")).or_insert(0usize) += 1,
        }
        known.extend(created);
        if i % 50 == 49 || i + 1 == cases {
            let all = walk_master(&client).await;
            walk_mount(mnt.clone(), all).await;
        }
    }
    phase!(
        "{accepted} calls accepted, {} inodes created; refusals: {refusals:?}",
        known.len() - 1
    );
    // Not a fuzz of refusals only: a good share of the calls must land.
    assert!(
        accepted * 10 >= cases,
        "only {accepted} of {cases} calls accepted"
    );
    phase!("master and mount still serve");
    client
        .put_bytes("/after", bytes::Bytes::from_static(b"ok"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(mnt.join("after")).unwrap(), b"ok");
}
