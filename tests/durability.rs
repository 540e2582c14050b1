//! What the master keeps through failures of its own: a failed log sync stops it
//! instead of answering fsyncs it cannot honour; the cluster's chunk size survives a
//! config change; a file unlinked while a mount holds it open survives a master restart.

mod common;

use bytes::Bytes;
use common::*;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

/// Once the write-ahead log cannot be synced, the master exits (code 74) rather than
/// retry the sync and later report a durability that is not real; the fsync that
/// needed the sync is not acknowledged.
#[tokio::test(flavor = "multi_thread")]
async fn failed_log_sync_stops_the_master() {
    let trigger = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let trigger_path = trigger.to_path_buf();
    std::fs::remove_file(&trigger_path).unwrap();
    let mut cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .master_env(&[(
            "FERROFS_FAULT_WAL_SYNC_FAIL",
            trigger_path.to_str().unwrap(),
        )])
        .start()
        .await;
    let c = cluster.client();
    c.put_bytes("/before", Bytes::from_static(b"synced"))
        .await
        .unwrap();
    phase!("syncs fail from now on");
    std::fs::write(&trigger_path, b"").unwrap();
    let mut cfg = ferrofs_client::ClientConfig::new(cluster.master_url());
    cfg.master_retry = Duration::from_secs(2);
    let short = ferrofs_client::Client::new(cfg).unwrap();
    let r = short
        .put_bytes("/after", Bytes::from_static(b"never"))
        .await;
    assert!(
        r.is_err(),
        "an fsync was acknowledged without a sync: {r:?}"
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = cluster.master_exited(0) {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the master kept running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(74), "exit status {status:?}");
    let log = std::fs::read_to_string(cluster.root().join("master.log")).unwrap();
    assert!(log.contains("WAL sync failed"), "no reason in the log");
    phase!("restarted, it serves what was synced");
    std::fs::remove_file(&trigger_path).unwrap();
    cluster.restart_master().await;
    assert_eq!(&c.get_bytes("/before").await.unwrap()[..], b"synced");
}

/// The chunk size is the cluster's, fixed when it was formatted: a master restarted
/// with another `--chunk-size` keeps it, and every file reads back bit-exact.
#[tokio::test(flavor = "multi_thread")]
async fn chunk_size_survives_a_config_change() {
    let mut cluster = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .chunk_size(1 << 20)
        .start()
        .await;
    let c = cluster.client();
    let data = random_bytes(3 * (1 << 20) + 12_345, 9);
    c.put_bytes("/f", Bytes::from(data.clone())).await.unwrap();
    phase!("restart the master with --chunk-size 4MiB");
    cluster.set_chunk_size(4 << 20);
    cluster.restart_master().await;
    let c = cluster.client();
    assert_eq!(c.statfs().await.unwrap().chunk_size, 1 << 20);
    assert_eq!(c.get_bytes("/f").await.unwrap(), data);
    let log = std::fs::read_to_string(cluster.root().join("master.log")).unwrap();
    assert!(
        log.contains("keeping the cluster's"),
        "no warning about the ignored setting"
    );
}

/// A file unlinked while a mount holds it open survives a kill -9 and restart of the
/// master (the mount reports what it holds open): it can still be read and written
/// after the master's grace period, and is deleted once closed.
#[tokio::test(flavor = "multi_thread")]
async fn unlinked_open_file_survives_a_master_restart() {
    let mut cluster = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .master_config("orphan_grace = \"6s\"")
        .start()
        .await;
    let mnt = cluster.mount().await;
    let path = mnt.join("held");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let data = random_bytes(300_000, 3);
    f.write_all(&data).unwrap();
    f.sync_all().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!path.exists());
    phase!("kill -9 the master and restart it");
    cluster.kill_master();
    cluster.start_master_again().await;
    phase!("wait out the grace period (and then some)");
    tokio::time::sleep(Duration::from_secs(14)).await;
    let mut back = vec![];
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the unlinked file's data changed");
    f.write_all(b"more").unwrap();
    f.sync_all().expect("fsync of the unlinked open file");
    phase!("close it: its chunks go");
    drop(f);
    cluster
        .wait_until(
            "the orphan's chunks deleted",
            Duration::from_secs(30),
            |s| s.chunks.total == 0,
        )
        .await;
}
