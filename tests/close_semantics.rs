//! close(2) as HDFS and MooseFS ship it: a close returns once every replica holds the
//! bytes and the master group's log the size; the chunkservers' write-back puts the
//! data on disk within `writeback_interval`; fsync(2) and `--sync-on-close` sync at
//! once. A `kill -9` of every process loses nothing that was closed.

mod common;

use common::*;
use std::time::Duration;

/// Replicas written since their last fsync, per chunkserver (its health reply).
async fn unsynced(cl: &TestCluster) -> Vec<u64> {
    let mut out = vec![];
    for i in 0..cl.chunkserver_count() {
        let v: serde_json::Value =
            reqwest::get(format!("http://{}/health", cl.chunkserver_addr(i)))
                .await
                .expect("chunkserver health")
                .json()
                .await
                .expect("health JSON");
        out.push(v["unsynced"].as_u64().expect("unsynced in health"));
    }
    out
}

/// By default close does not fsync: right after it the three replicas hold unsynced
/// data (the write-back window is long here); fsync(2) syncs them. Killing every process
/// with SIGKILL then loses none of the closed files, synced or not.
#[tokio::test(flavor = "multi_thread")]
async fn close_does_not_sync_and_kill_9_loses_nothing() {
    let mut cl = TestCluster::builder()
        .chunkservers(3)
        .start_with_chunkserver_env(&[("FERROFS_WRITEBACK_INTERVAL", "1h")])
        .await;
    let mnt = cl.mount().await;
    phase!("a closed file's replicas are not yet synced");
    let mut files = vec![];
    for i in 0..20u64 {
        let data = random_bytes(100_000 + i as usize * 777, i);
        std::fs::write(mnt.join(format!("f{i}")), &data).unwrap();
        files.push((format!("f{i}"), sha256(&data)));
    }
    let before = unsynced(&cl).await;
    assert!(
        before.iter().all(|&n| n >= 1),
        "every replica should still hold unsynced data after close: {before:?}"
    );
    phase!("fsync(2) of a reopened file syncs what earlier handles wrote");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(mnt.join("f0"))
        .unwrap();
    f.sync_all().unwrap();
    drop(f);
    let after = unsynced(&cl).await;
    assert!(
        after.iter().zip(&before).all(|(a, b)| a < b),
        "fsync should sync f0's chunk on every replica: {before:?} -> {after:?}"
    );
    phase!("kill -9 of every process loses no closed file");
    cl.kill_master();
    for i in 0..3 {
        cl.kill_chunkserver(i);
    }
    cl.restart_master().await;
    for i in 0..3 {
        cl.restart_chunkserver(i).await;
    }
    let c = cl.client();
    for (name, want) in &files {
        let got = c.get_bytes(&format!("/{name}")).await.unwrap();
        assert_eq!(&sha256(&got), want, "{name} changed");
    }
}

/// The write-back worker syncs closed files' replicas within its interval; with
/// `--sync-on-close` a close leaves nothing unsynced.
#[tokio::test(flavor = "multi_thread")]
async fn write_back_and_sync_on_close() {
    let mut cl = TestCluster::builder()
        .chunkservers(3)
        .start_with_chunkserver_env(&[("FERROFS_WRITEBACK_INTERVAL", "1s")])
        .await;
    let mnt = cl.mount().await;
    phase!("the write-back syncs within its interval");
    std::fs::write(mnt.join("a"), random_bytes(300_000, 1)).unwrap();
    wait_for(
        "the write-back to sync a",
        Duration::from_secs(10),
        || async { unsynced(&cl).await.iter().all(|&n| n == 0) },
    )
    .await;
    phase!("--sync-on-close syncs at close");
    let strict = cl.mount_with(&["--sync-on-close"]).await;
    let big = random_bytes(2 << 20, 2);
    // A window of 1 s could hide an unsynced close: check at once, several times.
    for i in 0..5 {
        std::fs::write(strict.join(format!("s{i}")), &big).unwrap();
        let left = unsynced(&cl).await;
        assert!(
            left.iter().all(|&n| n == 0),
            "sync-on-close left replicas unsynced: {left:?}"
        );
    }
}
