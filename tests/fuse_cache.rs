//! The mount's metadata cache stays coherent: what one mount changes, another mount
//! that has the entries and attributes cached sees within a bound (the kernel's 1 s
//! TTL plus the change feed's delay), never later, including across a master restart.
//! Each check first drops the kernel's caches, so the answers come from the mount.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Longest another mount may show a stale answer: kernel TTL (1 s) + feed delay.
const BOUND: Duration = Duration::from_secs(3);

fn drop_kernel_caches() {
    fs::write("/proc/sys/vm/drop_caches", "2").expect("drop dentries and inodes");
}

/// Poll `f` (kernel caches dropped each time) until it holds; panic with `reason`.
fn eventually(reason: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        drop_kernel_caches();
        if f() {
            return;
        }
        assert!(
            start.elapsed() < BOUND,
            "not seen within {BOUND:?}: {reason}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mode(p: &Path) -> Option<u32> {
    fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_mounts_changes_reach_a_cached_mount() {
    let _serial = SERIAL.lock().await;
    let mut c = TestCluster::builder().chunkservers(3).start().await;
    let (m1, m2) = (c.mount().await, c.mount().await);
    fs::create_dir(m1.join("d")).unwrap();
    fs::write(m1.join("d/f"), b"one").unwrap();
    fs::write(m1.join("d/g"), b"gee").unwrap();
    // Mount 2 caches the directory's entries and attributes, and keeps answering from
    // its cache once the kernel's are dropped.
    assert_eq!(fs::read_dir(m2.join("d")).unwrap().count(), 2);
    assert_eq!(fs::metadata(m2.join("d/f")).unwrap().len(), 3);
    drop_kernel_caches();
    assert_eq!(fs::metadata(m2.join("d/f")).unwrap().len(), 3);

    phase!("attributes: chmod, chown, size and mtime after a rewrite");
    fs::set_permissions(m1.join("d/f"), fs::Permissions::from_mode(0o600)).unwrap();
    eventually("chmod on mount 1", || mode(&m2.join("d/f")) == Some(0o600));
    std::os::unix::fs::chown(m1.join("d/f"), Some(4321), None).unwrap();
    eventually("chown on mount 1", || {
        fs::metadata(m2.join("d/f")).is_ok_and(|m| m.uid() == 4321)
    });
    fs::write(m1.join("d/f"), b"longer contents").unwrap();
    eventually("rewrite on mount 1", || {
        fs::metadata(m2.join("d/f")).is_ok_and(|m| m.len() == 15)
    });
    assert_eq!(fs::read(m2.join("d/f")).unwrap(), b"longer contents");

    phase!("entries: rename, unlink, a new name, a replaced name");
    fs::rename(m1.join("d/f"), m1.join("d/h")).unwrap();
    eventually("rename on mount 1", || {
        !m2.join("d/f").exists() && fs::read(m2.join("d/h")).is_ok_and(|b| b == b"longer contents")
    });
    fs::remove_file(m1.join("d/h")).unwrap();
    eventually("unlink on mount 1", || !m2.join("d/h").exists());
    // A name created elsewhere is found at once: negative answers are never cached.
    assert!(!m2.join("d/new").exists());
    fs::write(m1.join("d/new"), b"n").unwrap();
    assert_eq!(fs::read(m2.join("d/new")).unwrap(), b"n");
    fs::write(m1.join("d/tmp"), b"replacement").unwrap();
    fs::rename(m1.join("d/tmp"), m1.join("d/g")).unwrap();
    eventually("rename over a cached name", || {
        fs::metadata(m2.join("d/g")).is_ok_and(|m| m.len() == 11)
    });

    phase!("master restart: a mount's cache starts over");
    assert_eq!(mode(&m2.join("d/g")), Some(0o644));
    c.restart_master().await;
    fs::set_permissions(m1.join("d/g"), fs::Permissions::from_mode(0o640)).unwrap();
    eventually("chmod after a master restart", || {
        mode(&m2.join("d/g")) == Some(0o640)
    });
}

/// Calls the master answered on `op` so far (its request counter).
async fn master_calls(c: &TestCluster, op: &str) -> u64 {
    let text = c.master_metrics().await;
    let key = format!("ferrofs_master_request_seconds_count{{op=\"{op}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0, |n| n.trim().parse::<f64>().expect("a count") as u64)
}

/// A directory the mount holds whole is listed from its cache even when another
/// client's changes dropped its entries' attributes: READDIRPLUS then fetches them a
/// page (512 entries) at a time, not one call per entry, and shows the new ones.
#[tokio::test(flavor = "multi_thread")]
async fn a_cached_listing_fetches_missing_attributes_by_the_page() {
    let _serial = SERIAL.lock().await;
    let mut c = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let (m1, m2) = (c.mount().await, c.mount().await);
    let n = 520;
    fs::create_dir(m1.join("d")).unwrap();
    for i in 0..n {
        fs::write(m1.join(format!("d/f{i:03}")), b"").unwrap();
    }
    for i in 0..n {
        let p = m2.join(format!("d/f{i:03}"));
        fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The feed is ordered: once mount 1 shows the last change, it has had them all.
    let last = m1.join(format!("d/f{:03}", n - 1));
    eventually("the last chmod reaches mount 1", || {
        mode(&last) == Some(0o600)
    });

    drop_kernel_caches();
    let (readdirs, getattrs) = (
        master_calls(&c, "/rpc/v1/ns/readdir").await,
        master_calls(&c, "/rpc/v1/ns/getattr").await,
    );
    let modes: Vec<u32> = fs::read_dir(m1.join("d"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().permissions().mode() & 0o7777)
        .collect();
    assert_eq!(modes.len(), n);
    assert!(modes.iter().all(|m| *m == 0o600), "every new mode is shown");
    let readdirs = master_calls(&c, "/rpc/v1/ns/readdir").await - readdirs;
    let getattrs = master_calls(&c, "/rpc/v1/ns/getattr").await - getattrs;
    assert_eq!(
        readdirs, 2,
        "{n} entries listed from the cache with their attributes in pages of 512"
    );
    assert!(
        getattrs < 10,
        "attributes come by the page: {getattrs} getattrs"
    );
}
