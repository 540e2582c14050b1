//! Write leases with holders: a closed file's chunks heal at once after a kill during
//! writes; two mounts writing one file while copies run never leave a replica that
//! passes for current without their bytes; unlinks and truncates racing lease grants
//! leave no chunk without an owner.

mod common;

use bytes::Bytes;
use common::*;
use std::time::{Duration, Instant};

/// Files written through a mount while a chunkserver is killed: once they are closed,
/// their chunks are copied at once (they are no longer leased), so healing does not
/// wait for leases to run out.
#[tokio::test(flavor = "multi_thread")]
async fn closed_files_heal_at_once_after_a_kill_during_writes() {
    let mut cluster = TestCluster::builder()
        .chunkservers(4)
        .master_config("lease_duration = \"60s\"")
        .start()
        .await;
    let mnt = cluster.mount().await;
    let dir = mnt.join("t");
    std::fs::create_dir(&dir).unwrap();
    let mut files = vec![];
    for i in 0..60 {
        if i == 20 {
            phase!("kill -9 chunkserver 1 mid-way");
            cluster.kill_chunkserver(1);
        }
        let data = random_bytes(10_000 + i * 997, i as u64);
        std::fs::write(dir.join(format!("f{i}")), &data).unwrap();
        files.push(data);
    }
    let closed = Instant::now();
    let s = cluster
        .wait_until("every chunk back at goal", Duration::from_secs(20), |s| {
            s.chunks.under_replicated == 0
                && s.chunks.missing == 0
                && s.chunkservers.iter().filter(|c| c.alive).count() == 3
        })
        .await;
    phase!(
        "healed {:?} after the last close ({} chunks)",
        closed.elapsed(),
        s.chunks.total
    );
    for (i, data) in files.iter().enumerate() {
        assert_eq!(&std::fs::read(dir.join(format!("f{i}"))).unwrap(), data);
    }
}

/// Two mounts write disjoint halves of one file over and over (open, write, fsync,
/// close) while a chunkserver is killed and restarted and re-replication and the
/// balancer copy chunks: the file ends up exactly the last writes of each, and every
/// current replica is byte-identical on disk.
#[tokio::test(flavor = "multi_thread")]
async fn two_mounts_write_one_file_while_copies_run() {
    const HALF: usize = 600_000;
    let mut cluster = TestCluster::builder()
        .chunkservers(4)
        .replication(2)
        .master_config("balance_spread = 0.01")
        .start()
        .await;
    let a = cluster.mount().await;
    let b = cluster.mount().await;
    std::fs::write(a.join("shared"), vec![0u8; 2 * HALF]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = |mnt: std::path::PathBuf,
                  half: usize,
                  stop: std::sync::Arc<std::sync::atomic::AtomicBool>| {
        std::thread::spawn(move || -> Result<u8, String> {
            use std::io::{Seek, SeekFrom, Write};
            let mut round = 0u8;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                round = round.wrapping_add(1);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(mnt.join("shared"))
                    .map_err(|e| e.to_string())?;
                f.seek(SeekFrom::Start((half * HALF) as u64))
                    .map_err(|e| e.to_string())?;
                f.write_all(&vec![round; HALF]).map_err(|e| e.to_string())?;
                f.sync_all().map_err(|e| format!("fsync: {e}"))?;
            }
            Ok(round)
        })
    };
    let wa = writer(a.clone(), 0, stop.clone());
    let wb = writer(b.clone(), 1, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    phase!("kill -9 chunkserver 0, then bring it back");
    cluster.kill_chunkserver(0);
    tokio::time::sleep(Duration::from_secs(4)).await;
    cluster.restart_chunkserver(0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    let ra = wa.join().unwrap().expect("writer a");
    let rb = wb.join().unwrap().expect("writer b");
    phase!("last rounds: a {ra}, b {rb}");
    let mut want = vec![ra; HALF];
    want.extend(vec![rb; HALF]);
    let c = cluster.client();
    assert!(
        c.get_bytes("/shared").await.unwrap() == want,
        "wrong bytes through the client"
    );
    assert!(
        std::fs::read(b.join("shared")).unwrap() == want,
        "wrong bytes through a mount"
    );
    wait_for(
        "replicas at goal and identical",
        Duration::from_secs(30),
        || {
            let cluster = &cluster;
            async move { cluster.file_at_goal("/shared", 2).await }
        },
    )
    .await;
}

/// Writers, unlinkers and truncaters race on the same files: afterwards every chunk
/// the master holds belongs to a file (no record left behind by a lease granted after
/// its file was purged or truncated away).
#[tokio::test(flavor = "multi_thread")]
async fn unlinks_and_truncates_racing_leases_leave_no_ownerless_chunk() {
    let cluster = TestCluster::builder()
        .chunkservers(3)
        .replication(2)
        .start()
        .await;
    let c = cluster.client();
    c.mkdir_p("/r").await.unwrap();
    let mut tasks = vec![];
    for t in 0..4u64 {
        let c = cluster.client();
        tasks.push(tokio::spawn(async move {
            for i in 0..40u64 {
                let p = format!("/r/f{}", i % 10);
                match (t + i) % 4 {
                    0 | 1 => {
                        let _ = c.put_bytes(&p, Bytes::from(random_bytes(3 << 20, i))).await;
                    }
                    2 => {
                        let _ = c.remove(&p).await;
                    }
                    _ => {
                        if let Ok(a) = c.resolve(&p).await {
                            let _ = c.truncate(a.ino, (i % 3) << 20).await;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut owned = 0;
    for e in c
        .readdir_all(c.resolve("/r").await.unwrap().ino)
        .await
        .unwrap()
    {
        owned += cluster
            .file_info(&format!("/r/{}", e.name))
            .await
            .chunks
            .len();
    }
    let s = cluster.status().await;
    assert_eq!(
        s.chunks.total as usize, owned,
        "the master holds chunks no file owns"
    );
}
