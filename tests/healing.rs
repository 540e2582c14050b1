//! Self-healing: failure detection, re-replication by urgency, stale and surplus replica
//! cleanup, replication goals, decommission, balancing, and admin authentication.

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::admin::FileInfo;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

async fn write_files(
    c: &ferrofs_client::Client,
    dir: &str,
    n: usize,
    size: usize,
) -> Vec<(String, String)> {
    c.mkdir_p(dir).await.unwrap();
    let mut out = vec![];
    for i in 0..n {
        let data = random_bytes(size, i as u64 + 7);
        let p = format!("{dir}/f{i}");
        c.put_bytes(&p, Bytes::from(data.clone())).await.unwrap();
        out.push((p, sha256(&data)));
    }
    out
}

async fn verify(c: &ferrofs_client::Client, files: &[(String, String)]) {
    for (p, h) in files {
        let got = c.get_bytes(p).await.unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(&sha256(&got), h, "{p} differs");
    }
}

async fn file_info(cluster: &TestCluster, path: &str) -> FileInfo {
    reqwest::get(format!("{}/api/v1/files?path={path}", cluster.master_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// 4 chunkservers, replication 3: kill -9 one; the under-replicated count rises, then
/// every chunk is back to 3 replicas on live servers and all files read back bit-exact.
#[tokio::test(flavor = "multi_thread")]
async fn heals_after_chunkserver_kill() {
    let mut cluster = TestCluster::builder().chunkservers(4).start().await;
    let c = cluster.client();
    let files = write_files(&c, "/h", 8, 3 * MIB + 100).await;
    let victim = cluster.chunkserver_id(2);
    phase!("kill -9 chunkserver {victim}");
    cluster.kill_chunkserver(2);
    let s = cluster
        .wait_until(
            "the dead server noticed and chunks under-replicated",
            Duration::from_secs(20),
            |s| s.chunks.under_replicated > 0,
        )
        .await;
    phase!("under-replicated rose to {}", s.chunks.under_replicated);
    cluster
        .wait_until("every chunk back at goal", Duration::from_secs(60), |s| {
            s.chunks.under_replicated == 0 && s.chunks.missing == 0
        })
        .await;
    for (p, _) in &files {
        for ch in file_info(&cluster, p).await.chunks {
            assert_eq!(ch.live_replicas.len(), 3, "{p} chunk {}", ch.id);
            assert!(
                !ch.live_replicas.contains(&victim),
                "{p} chunk {} still counts the dead server",
                ch.id
            );
        }
    }
    verify(&c, &files).await;
    let st = cluster.status().await;
    assert!(st.rereplication.completed > 0 && st.rereplication.bytes_copied > 0);
}

/// 5 chunkservers, kill two: chunks with one live replica left are repaired before those
/// with two (copies throttled to one per server so the order is observable).
#[tokio::test(flavor = "multi_thread")]
async fn repairs_most_endangered_first() {
    let mut cluster = TestCluster::builder()
        .chunkservers(5)
        .master_config("max_copies_per_server = 1")
        .start()
        .await;
    let c = cluster.client();
    let files = write_files(&c, "/e", 6, 4 * MIB).await;
    // Kill two holders of one chunk, so at least that chunk is left with one replica.
    let first = file_info(&cluster, "/e/f0").await.chunks[0]
        .replicas
        .clone();
    let victims: Vec<usize> = (0..5)
        .filter(|i| first.contains(&cluster.chunkserver_id(*i)))
        .take(2)
        .collect();
    phase!("kill chunkservers {victims:?}");
    for v in &victims {
        cluster.kill_chunkserver(*v);
    }
    let s = cluster
        .wait_until("endangered chunks", Duration::from_secs(20), |s| {
            s.chunks.endangered > 0
        })
        .await;
    phase!(
        "endangered {} under-replicated {}",
        s.chunks.endangered,
        s.chunks.under_replicated
    );
    let s = cluster
        .wait_until(
            "no chunk left with one replica",
            Duration::from_secs(60),
            |s| s.chunks.endangered == 0,
        )
        .await;
    assert!(
        s.chunks.under_replicated > 0,
        "one-replica chunks should be fixed while two-replica ones still wait: {:?}",
        s.chunks
    );
    cluster
        .wait_until("all chunks at goal", Duration::from_secs(90), |s| {
            s.chunks.under_replicated == 0 && s.chunks.missing == 0
        })
        .await;
    verify(&c, &files).await;
}

/// A dead server comes back after chunks were overwritten and re-replicated: its stale
/// and surplus replicas are deleted and every chunk has exactly its goal.
#[tokio::test(flavor = "multi_thread")]
async fn returning_server_is_trimmed() {
    let mut cluster = TestCluster::builder().chunkservers(4).start().await;
    let c = cluster.client();
    let files = write_files(&c, "/r", 4, 2 * MIB).await;
    let victim_id = cluster.chunkserver_id(3);
    phase!("kill {victim_id}, overwrite part of every file");
    cluster.kill_chunkserver(3);
    cluster
        .wait_until("healed without it", Duration::from_secs(60), |s| {
            s.chunkservers.iter().any(|x| x.id == victim_id && !x.alive)
                && s.chunks.under_replicated == 0
        })
        .await;
    let mut expected = vec![];
    for (p, _) in &files {
        let a = c.resolve(p).await.unwrap();
        let mut data = c.get_bytes(p).await.unwrap().to_vec();
        data[10..20].copy_from_slice(b"0123456789");
        c.write_at(a.ino, 10, Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        c.sync_chunks(a.ino, &[0]).await.unwrap();
        c.commit(a.ino, a.size, None, true).await.unwrap();
        expected.push((p.clone(), sha256(&data)));
    }
    phase!("restart {victim_id}");
    let start = Instant::now();
    cluster.restart_chunkserver(3).await;
    cluster
        .wait_until(
            "stale and surplus replicas gone",
            Duration::from_secs(20),
            |s| s.chunks.over_replicated == 0 && s.chunks.under_replicated == 0,
        )
        .await;
    phase!("converged {:?} after restart", start.elapsed());
    for (p, _) in &expected {
        for ch in file_info(&cluster, p).await.chunks {
            assert_eq!(
                ch.replicas.len(),
                3,
                "{p} chunk {} has {:?}",
                ch.id,
                ch.replicas
            );
        }
    }
    // No stale version left on the returned server's disk.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stale = 0;
        for (p, _) in &expected {
            for ch in file_info(&cluster, p).await.chunks {
                let dir = cluster.chunk_dir(3, ch.id);
                for e in std::fs::read_dir(&dir).unwrap().flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if name.starts_with(&format!("{:016x}_", ch.id))
                        && !name.starts_with(&format!("{:016x}_{}.", ch.id, ch.version))
                    {
                        stale += 1;
                    }
                }
            }
        }
        if stale == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stale} stale replica files remain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    verify(&c, &expected).await;
}

/// set-replication 1 -> 3 -> 2 on a directory is honoured for every chunk below it.
#[tokio::test(flavor = "multi_thread")]
async fn replication_goal_changes() {
    let cluster = TestCluster::builder()
        .chunkservers(3)
        .admin_token("tok")
        .start()
        .await;
    let c = cluster.client();
    let files = write_files(&c, "/g", 3, 2 * MIB).await;
    let set = |n: u8| {
        let url = cluster.master_url();
        async move {
            let out = tokio::process::Command::new(BIN)
                .args([
                    "admin",
                    "set-replication",
                    "/g",
                    &n.to_string(),
                    "-r",
                    "--master",
                    &url,
                    "--token",
                    "tok",
                ])
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    for goal in [1usize, 3, 2] {
        phase!("goal {goal}");
        set(goal as u8).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut ok = true;
            for (p, _) in &files {
                for ch in file_info(&cluster, p).await.chunks {
                    ok &= ch.live_replicas.len() == goal;
                }
            }
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "goal {goal} not reached");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    phase!("new files inherit the directory's goal");
    c.put_bytes("/g/new", Bytes::from(random_bytes(1000, 1)))
        .await
        .unwrap();
    let info = file_info(&cluster, "/g/new").await;
    assert_eq!(info.replication, 2);
    assert_eq!(info.chunks[0].replicas.len(), 2);
    verify(&c, &files).await;
}

/// Decommission a chunkserver while a writer runs: under-replicated stays 0 throughout
/// and the server ends empty and reported as decommissioned.
#[tokio::test(flavor = "multi_thread")]
async fn decommission_under_writer() {
    let cluster = TestCluster::builder().chunkservers(4).start().await;
    let c = cluster.client();
    let files = write_files(&c, "/d", 6, 2 * MIB).await;
    let id = cluster.chunkserver_id(1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (c, stop) = (c.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = vec![];
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let data = random_bytes(300_000, 1000 + i);
                let p = format!("/d/w{i}");
                c.put_bytes(&p, Bytes::from(data.clone())).await.unwrap();
                written.push((p, sha256(&data)));
                i += 1;
            }
            written
        })
    };
    phase!("decommission {id}");
    let out = tokio::process::Command::new(BIN)
        .args([
            "admin",
            "decommission",
            &id,
            "--master",
            &cluster.master_url(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = cluster.status().await;
        assert_eq!(
            s.chunks.under_replicated, 0,
            "under-replicated during decommission: {:?}",
            s.chunks
        );
        assert_eq!(s.chunks.missing, 0);
        let cs = s.chunkservers.iter().find(|x| x.id == id).unwrap();
        if cs.chunks == 0 && cs.state == ferrofs_proto::admin::CsState::Decommissioned {
            break;
        }
        assert!(Instant::now() < deadline, "not drained: {cs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    phase!("writer stored {} files during the drain", written.len());
    verify(&c, &files).await;
    verify(&c, &written).await;
}

/// The balancer evens out a lopsided cluster: data written to two servers spreads to two
/// new empty ones.
#[tokio::test(flavor = "multi_thread")]
async fn balancer_evens_out() {
    let mut cluster = TestCluster::builder()
        .chunkservers(2)
        .replication(1)
        .capacity(1 << 30)
        .start()
        .await;
    let c = cluster.client();
    let files = write_files(&c, "/b", 8, 4 * MIB).await;
    phase!("add two empty chunkservers");
    cluster.add_chunkserver().await;
    cluster.add_chunkserver().await;
    cluster
        .wait_until("usage spread out", Duration::from_secs(60), |s| {
            s.chunkservers.len() == 4 && {
                let used: Vec<u64> = s.chunkservers.iter().map(|x| x.used_bytes).collect();
                let max = *used.iter().max().unwrap();
                let min = *used.iter().min().unwrap();
                min > 0 && max - min <= 4 * MIB as u64
            }
        })
        .await;
    cluster
        .wait_until("no surplus replicas", Duration::from_secs(20), |s| {
            s.chunks.over_replicated == 0
        })
        .await;
    verify(&c, &files).await;
}

/// Mutating admin calls without the token get 401; reads stay open; with it they work.
#[tokio::test(flavor = "multi_thread")]
async fn admin_token_required() {
    let cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .admin_token("s3cret")
        .start()
        .await;
    let m = cluster.master_url();
    let http = reqwest::Client::new();
    let id = cluster.chunkserver_id(0);
    for (path, body) in [
        (
            "/api/v1/replication".to_string(),
            serde_json::json!({"path": "/", "replication": 1}),
        ),
        (
            format!("/api/v1/chunkservers/{id}/maintenance"),
            serde_json::json!({"on": true}),
        ),
        (
            format!("/api/v1/chunkservers/{id}/decommission"),
            serde_json::json!({}),
        ),
    ] {
        let r = http
            .post(format!("{m}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} without token");
        let e: ferrofs_proto::ApiError = r.json().await.unwrap();
        assert_eq!(e.code, ferrofs_proto::ErrorCode::Unauthorized);
        let r = http
            .post(format!("{m}{path}"))
            .bearer_auth("wrong")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
    }
    let r = http
        .post(format!("{m}/api/v1/chunkservers/{id}/maintenance"))
        .bearer_auth("s3cret")
        .json(&serde_json::json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        http.get(format!("{m}/api/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = http
        .get(format!("{m}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ferrofs_master_chunks"), "{metrics}");
}

/// Maintenance mode: a server in maintenance that goes down causes no re-replication.
#[tokio::test(flavor = "multi_thread")]
async fn maintenance_suppresses_rereplication() {
    let mut cluster = TestCluster::builder().chunkservers(4).start().await;
    let c = cluster.client();
    let files = write_files(&c, "/m", 3, 2 * MIB).await;
    let id = cluster.chunkserver_id(0);
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/chunkservers/{id}/maintenance",
            cluster.master_url()
        ))
        .json(&serde_json::json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    cluster.kill_chunkserver(0);
    cluster
        .wait_until("server seen down", Duration::from_secs(20), |s| {
            s.chunkservers.iter().any(|x| x.id == id && !x.alive)
        })
        .await;
    // Give the worker many passes to (wrongly) start copies.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let s = cluster.status().await;
        assert_eq!(
            s.rereplication.completed + s.rereplication.in_flight,
            0,
            "copies started during maintenance"
        );
        assert_eq!(s.chunks.under_replicated, 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    verify(&c, &files).await;
    cluster.restart_chunkserver(0).await;
}

/// A killed chunkserver's presence connection closes with it: the master probes it at
/// once, without waiting for a missed heartbeat (here 3 s apart, so only the presence
/// path can be this fast), and declares it dead within a second.
#[tokio::test(flavor = "multi_thread")]
async fn killed_server_is_dead_within_a_second() {
    let mut cluster = TestCluster::builder()
        .chunkservers(3)
        .heartbeat(Duration::from_secs(3))
        .dead_timeout(Duration::from_secs(60))
        .start()
        .await;
    let id = cluster.chunkserver_id(2);
    cluster
        .wait_until(
            "every chunkserver's presence poll open",
            Duration::from_secs(10),
            |s| s.chunkservers.iter().all(|x| x.presence),
        )
        .await;
    let killed = Instant::now();
    cluster.kill_chunkserver(2);
    cluster
        .wait_until(
            "killed server declared dead within a second",
            Duration::from_secs(1),
            |s| s.chunkservers.iter().any(|x| x.id == id && !x.alive),
        )
        .await;
    phase!("declared dead {:?} after the kill", killed.elapsed());
    let alive = cluster
        .status()
        .await
        .chunkservers
        .iter()
        .filter(|x| x.alive)
        .count();
    assert!(alive == 2, "a live server was declared dead");
}

/// A killed chunkserver (its port now refuses connections) is declared dead within
/// seconds although the dead timeout is a minute, and its chunks are healed; a server
/// that is merely silent is not (covered by `maintenance_suppresses_rereplication` and
/// the dead-timeout path of the other tests).
#[tokio::test(flavor = "multi_thread")]
async fn crashed_server_is_dead_before_the_timeout() {
    let mut cluster = TestCluster::builder()
        .chunkservers(4)
        .dead_timeout(Duration::from_secs(60))
        .start()
        .await;
    let c = cluster.client();
    let files = write_files(&c, "/crash", 3, 2 * MIB).await;
    let id = cluster.chunkserver_id(1);
    let killed = Instant::now();
    cluster.kill_chunkserver(1);
    cluster
        .wait_until(
            "killed server declared dead long before the 60 s timeout",
            Duration::from_secs(10),
            |s| s.chunkservers.iter().any(|x| x.id == id && !x.alive),
        )
        .await;
    phase!("declared dead {:?} after the kill", killed.elapsed());
    cluster
        .wait_until("healed", Duration::from_secs(30), |s| {
            s.chunks.under_replicated == 0 && s.chunks.missing == 0
        })
        .await;
    verify(&c, &files).await;
}
