//! Calls to the master per everyday operation through the mount, counted on the
//! master's own request counters: a file written as `tar` and `cp -p` write one costs a
//! deferred create (sent in a batch), a lease and one commit (its chmod, chown and
//! utimes go with the commit); creates and unlinks in a directory the mount made go in
//! batches, none waited for; with `--sync-namespace` each is one call (the directory's
//! new attributes come back with it, so the kernel's GETATTR of the directory needs
//! none); a stat of a file this mount just wrote needs none (the commit's reply is
//! cached).

mod common;

use common::*;
use std::collections::HashMap;
use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The master's request counts by route.
async fn calls(cl: &TestCluster) -> HashMap<String, u64> {
    let text = cl.master_metrics().await;
    text.lines()
        .filter_map(|l| l.strip_prefix("ferrofs_master_request_seconds_count{op=\""))
        .filter_map(|l| {
            let (route, n) = l.split_once("\"} ")?;
            Some((route.to_string(), n.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// Calls to each route between two counts (routes with none left out).
fn made(a: &HashMap<String, u64>, b: &HashMap<String, u64>) -> HashMap<String, u64> {
    b.iter()
        .filter(|(k, _)| k.starts_with("/rpc/v1/ns/") || k.starts_with("/rpc/v1/file/"))
        .filter(|(k, _)| !k.ends_with("/changes") && !k.ends_with("/session"))
        .map(|(k, n)| (k.clone(), n - a.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

const T0: u64 = 1_500_000_000;

/// Write `p` as tar extracts a file: create O_EXCL 0600, write, futimens, fchown,
/// fchmod, close. Returns what this mount showed before the close.
fn write_like_tar(p: &Path, data: &[u8], then_write: bool) -> std::fs::Metadata {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .unwrap();
    f.write_all(data).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
        .unwrap();
    std::os::unix::fs::fchown(&f, Some(0), Some(0)).unwrap();
    f.set_permissions(Permissions::from_mode(0o644)).unwrap();
    if then_write {
        f.write_all(b"more").unwrap();
    }
    let seen = f.metadata().unwrap();
    drop(f);
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_written_files_attributes_go_with_its_close() {
    let mut cl = TestCluster::builder().chunkservers(3).start().await;
    let mnt = cl.mount().await;
    std::fs::create_dir(mnt.join("d")).unwrap();
    let data = random_bytes(20_000, 1);

    phase!("tar's create, write, futimens, fchown, fchmod, close");
    let before = calls(&cl).await;
    let (p, d) = (mnt.join("d/f"), data.clone());
    let seen = tokio::task::spawn_blocking(move || write_like_tar(&p, &d, false))
        .await
        .unwrap();
    let after = calls(&cl).await;
    assert_eq!(
        seen.mode() & 0o7777,
        0o644,
        "the mount shows the chmod before close"
    );
    assert_eq!(seen.mtime(), T0 as i64, "and the utimes");
    let m = made(&before, &after);
    let want: HashMap<String, u64> = [
        ("/rpc/v1/ns/batch", 1),
        ("/rpc/v1/file/lease", 1),
        ("/rpc/v1/file/commit", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(
        m, want,
        "master calls for one file written as tar writes it"
    );

    phase!("a stat after the close, the kernel's caches dropped, needs no master call");
    std::fs::write("/proc/sys/vm/drop_caches", "2").unwrap();
    let before = calls(&cl).await;
    let st = std::fs::metadata(mnt.join("d/f")).unwrap();
    let after = calls(&cl).await;
    assert_eq!(
        made(&before, &after),
        HashMap::new(),
        "the commit's reply is cached"
    );
    assert_eq!(
        (st.mode() & 0o7777, st.mtime(), st.len()),
        (0o644, T0 as i64, data.len() as u64)
    );

    phase!("another client sees the attributes and the bytes once it is closed");
    let c = cl.client();
    let a = c.resolve("/d/f").await.unwrap();
    assert_eq!((a.mode & 0o7777, a.uid, a.gid), (0o644, 0, 0));
    assert_eq!(a.mtime.sec, T0 as i64);
    assert_eq!(a.size, data.len() as u64);
    assert_eq!(sha256(&c.get_bytes("/d/f").await.unwrap()), sha256(&data));

    phase!("a write after the utimes moves the mtime on, as it would have");
    let (p, d) = (mnt.join("d/g"), data.clone());
    tokio::task::spawn_blocking(move || write_like_tar(&p, &d, true))
        .await
        .unwrap();
    let a = c.resolve("/d/g").await.unwrap();
    assert!(
        a.mtime.sec > T0 as i64,
        "the write's mtime should win over the earlier utimes: {:?}",
        a.mtime
    );
    assert_eq!(a.mode & 0o7777, 0o644);
    assert_eq!(a.size, data.len() as u64 + 4);

    phase!("chmod of a file open but not written here is its own call, at once");
    let f = OpenOptions::new().read(true).open(mnt.join("d/f")).unwrap();
    f.set_permissions(Permissions::from_mode(0o600)).unwrap();
    assert_eq!(c.resolve("/d/f").await.unwrap().mode & 0o7777, 0o600);
    drop(f);
}

/// Create and unlink `n` files in `dir` one at a time; the master calls each phase made.
async fn create_then_unlink(
    cl: &TestCluster,
    dir: &Path,
    n: u64,
) -> (HashMap<String, u64>, HashMap<String, u64>) {
    std::fs::create_dir(dir).unwrap();
    let before = calls(cl).await;
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            std::fs::File::create_new(d.join(format!("f{i}"))).unwrap();
        }
        // Everything deferred is applied once fsync of the directory returns.
        std::fs::File::open(&d).unwrap().sync_all().unwrap();
    })
    .await
    .unwrap();
    let created = calls(cl).await;
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            std::fs::remove_file(d.join(format!("f{i}"))).unwrap();
        }
        std::fs::File::open(&d).unwrap().sync_all().unwrap();
    })
    .await
    .unwrap();
    let unlinked = calls(cl).await;
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
    (made(&before, &created), made(&created, &unlinked))
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_and_unlinks_go_in_batches() {
    let mut cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cl.mount().await;
    let n = 200u64;
    let (created, unlinked) = create_then_unlink(&cl, &mnt.join("many"), n).await;
    for (what, m) in [("creates", &created), ("unlinks", &unlinked)] {
        let batches = m.get("/rpc/v1/ns/batch").copied().unwrap_or(0);
        assert!(
            m.keys().all(|k| k == "/rpc/v1/ns/batch") && (1..=n).contains(&batches),
            "{n} {what} in a new directory: only batches of deferred operations, got {m:?}"
        );
    }

    phase!("another client sees them applied");
    let c = cl.client();
    assert!(
        c.readdir_all(c.resolve("/many").await.unwrap().ino)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_sync_namespace_create_and_unlink_are_one_call_each() {
    let mut cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cl.mount_with(&["--sync-namespace"]).await;
    let n = 50u64;
    let (created, unlinked) = create_then_unlink(&cl, &mnt.join("many"), n).await;
    assert_eq!(
        created,
        HashMap::from([("/rpc/v1/ns/create".to_string(), n)]),
        "one master call per created file"
    );
    assert_eq!(
        unlinked,
        HashMap::from([("/rpc/v1/ns/unlink".to_string(), n)]),
        "one master call per unlinked file"
    );
}

/// `rm -rf` of a tree this mount made: every unlink and rmdir is deferred (a directory
/// whose complete listing the mount holds and that has no entry left is known empty),
/// so the removal waits for the master nowhere and sends only batches.
#[tokio::test(flavor = "multi_thread")]
async fn rm_rf_of_a_tree_goes_in_batches() {
    let mut cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cl.mount().await;
    let tree = mnt.join("tree");
    let t = tree.clone();
    tokio::task::spawn_blocking(move || {
        for d in 0..5 {
            let sub = t.join(format!("d{d}")).join("deeper");
            std::fs::create_dir_all(&sub).unwrap();
            for i in 0..20 {
                std::fs::File::create_new(sub.join(format!("f{i}"))).unwrap();
            }
        }
        std::fs::File::open(&t).unwrap().sync_all().unwrap();
    })
    .await
    .unwrap();
    let before = calls(&cl).await;
    let (t, m) = (tree.clone(), mnt.clone());
    tokio::task::spawn_blocking(move || {
        std::fs::remove_dir_all(&t).unwrap();
        // Everything deferred is applied once fsync of a directory returns.
        std::fs::File::open(&m).unwrap().sync_all().unwrap();
    })
    .await
    .unwrap();
    let m = made(&before, &calls(&cl).await);
    let batches = m.get("/rpc/v1/ns/batch").copied().unwrap_or(0);
    assert!(
        m.keys().all(|k| k == "/rpc/v1/ns/batch") && batches >= 1,
        "rm -rf of 100 files in 11 directories: only batches of deferred operations, got {m:?}"
    );

    assert!(!tree.exists(), "gone from this mount");

    phase!("another client sees the tree gone");
    let c = cl.client();
    let root = c.readdir_all(ferrofs_proto::ROOT_INO).await.unwrap();
    assert!(
        root.iter().all(|e| e.name != "tree"),
        "the master still lists /tree: {:?}",
        root.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
}

/// A counter of the master's `/metrics` (0 if absent).
async fn counter(cl: &TestCluster, name: &str) -> u64 {
    let text = cl.master_metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// New files' chunks come ready-made from the leader's pool (their first lease asks no
/// chunkserver to create anything); every file reads back whole at its goal; and once
/// writing stops, the pool's unused chunks are deleted: every chunk on disk is a file's.
#[tokio::test(flavor = "multi_thread")]
async fn new_chunks_come_from_the_pool_and_unused_ones_go() {
    let mut cl = TestCluster::builder().chunkservers(3).start().await;
    let mnt = cl.mount().await;
    std::fs::create_dir(mnt.join("d")).unwrap();
    let n = 40;
    phase!("write {n} small files as tar does");
    let dir = mnt.join("d");
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            write_like_tar(&dir.join(format!("f{i}")), &random_bytes(3000, i), false);
        }
    })
    .await
    .unwrap();
    let pooled = counter(&cl, "ferrofs_master_chunks_from_pool_total").await;
    let allocated = counter(&cl, "ferrofs_master_chunks_allocated_total").await;
    phase!("{allocated} chunks allocated, {pooled} of them from the pool");
    assert_eq!(allocated, n);
    assert!(
        pooled >= n - 2,
        "only {pooled} of {n} new chunks came from the pool"
    );
    let c = cl.client();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..n {
        let p = format!("/d/f{i}");
        assert_eq!(
            sha256(&c.get_bytes(&p).await.unwrap()),
            sha256(&random_bytes(3000, i)),
            "{p} read back wrong"
        );
        assert!(cl.file_at_goal(&p, 3).await, "{p} is not at 3 replicas");
        ids.extend(cl.file_info(&p).await.chunks.iter().map(|ch| ch.id));
    }
    phase!("writing stopped: the unused pooled chunks are deleted");
    wait_for(
        "every chunk on disk belongs to a file",
        Duration::from_secs(30),
        || async { (0..3).all(|i| cl.chunks_on_disk(i).iter().all(|d| ids.contains(&d.id))) },
    )
    .await;
    for i in 0..3 {
        assert_eq!(cl.chunks_on_disk(i).len(), n as usize, "chunkserver {i}");
    }
}

/// A listing travels as postcard to a client that asks for it (the mount's readdir)
/// and as JSON to everyone else (curl), with the same entries either way; an error
/// stays JSON.
#[tokio::test(flavor = "multi_thread")]
async fn listings_are_packed_for_clients_that_ask() {
    use ferrofs_proto::namespace::{READDIR, ReaddirResp};
    use ferrofs_proto::rpc::PACKED_TYPE;
    let mut cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cl.mount().await;
    let dir = mnt.join("list");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..300 {
        std::fs::write(dir.join(format!("f{i:03}")), b"x").unwrap();
    }
    let c = cl.client();
    let ino = c.resolve("/list").await.unwrap().ino;
    let url = format!("{}{READDIR}", cl.master_urls()[0]);
    let ask = |accept: Option<&'static str>, ino: u64| {
        let mut rb = cl
            .http()
            .post(&url)
            .json(&serde_json::json!({ "ino": ino, "limit": 10000 }));
        if let Some(a) = accept {
            rb = rb.header("accept", a);
        }
        async move {
            let r = rb.send().await.expect("readdir");
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), ct, r.bytes().await.expect("body"))
        }
    };
    let (st, ct, json) = ask(None, ino).await;
    assert_eq!((st, ct.as_deref()), (200, Some("application/json")));
    let (st, ct, packed) = ask(
        Some("application/json, application/x-ferrofs-postcard"),
        ino,
    )
    .await;
    assert_eq!((st, ct.as_deref()), (200, Some(PACKED_TYPE)));
    let a: ReaddirResp = serde_json::from_slice(&json).unwrap();
    let b: ReaddirResp = postcard::from_bytes(&packed).unwrap();
    assert_eq!(a.entries.len(), 300);
    let key = |r: &ReaddirResp| -> Vec<_> {
        r.entries
            .iter()
            .map(|e| (e.name.clone(), e.attr.clone()))
            .collect()
    };
    assert_eq!(key(&a), key(&b));
    assert!(
        packed.len() * 3 < json.len(),
        "{} vs {} bytes",
        packed.len(),
        json.len()
    );
    let (st, ct, body) = ask(Some(PACKED_TYPE), 999_999_999).await;
    assert_eq!(
        (st, ct.as_deref()),
        (404, Some("application/json")),
        "{body:?}"
    );
    let n = c.readdir_all(ino).await.unwrap().len();
    assert_eq!(n, 300, "the client library reads the packed listing");
}
