//! Integrity and fault tolerance: corrupt replicas, chunkservers killed mid-write or hung,
//! stale replicas, master crashes, full disks, and chunk access tokens.

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::admin::FileHealth;
use ferrofs_proto::chunk::read_path;
use ferrofs_proto::namespace::{ChunksReq, ChunksResp};
use ferrofs_proto::token::{self, Access};
use ferrofs_proto::{ErrorCode, Version};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const SECRET: &[u8] = b"test-secret";

/// Clusters with short write leases: re-replication leaves chunks under a live lease
/// alone, and a put's lease would otherwise outlive it by the default 60 s.
fn builder() -> Builder {
    TestCluster::builder().master_config("lease_duration = \"3s\"")
}

/// GET a range of a chunk straight from one chunkserver: (HTTP status, body).
async fn direct_read(addr: &str, id: u64, version: Version, len: u64, tok: &str) -> (u16, Bytes) {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{}", read_path(id)))
        .query(&[
            ("version", version.to_string()),
            ("offset", "0".into()),
            ("len", len.to_string()),
            ("token", tok.to_string()),
        ])
        .send()
        .await
        .expect("chunkserver reachable");
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap_or_default())
}

/// Flip a few bytes in the middle of a replica's data file.
fn corrupt_file(p: &std::path::Path) {
    let mut b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(b.len() > 1000, "{} too small to corrupt", p.display());
    for i in [b.len() / 2, b.len() / 2 + 1, 17] {
        b[i] ^= 0x5a;
    }
    std::fs::write(p, b).expect("write corrupted replica");
}

/// (chunk id -> current version) of every chunk of these files, per the master.
async fn current_versions(cluster: &TestCluster, paths: &[String]) -> BTreeMap<u64, Version> {
    let mut m = BTreeMap::new();
    for p in paths {
        for ch in cluster.file_info(p).await.chunks {
            m.insert(ch.id, ch.version);
        }
    }
    m
}

/// Every replica file on a running chunkserver is the current version of a chunk of
/// `paths` (no stale or garbage copies left).
async fn no_stale_files(cluster: &TestCluster, paths: &[String]) -> bool {
    let cur = current_versions(cluster, paths).await;
    (0..cluster.chunkserver_count())
        .filter(|i| cluster.chunkserver_running(*i))
        .all(|i| {
            cluster
                .chunks_on_disk(i)
                .iter()
                .all(|d| cur.get(&d.id) == Some(&d.version))
        })
}

async fn all_at_goal(cluster: &TestCluster, paths: &[String], goal: usize) -> bool {
    for p in paths {
        if !cluster.file_at_goal(p, goal).await {
            return false;
        }
    }
    true
}

/// Wait until no stale or garbage copy is left and every chunk of `paths` has `goal`
/// identical replicas; on timeout, print what the master and the disks hold.
async fn wait_healed(cluster: &TestCluster, paths: &[String], goal: usize, deadline: Duration) {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if no_stale_files(cluster, paths).await && all_at_goal(cluster, paths, goal).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for p in paths {
        eprintln!("{p}: {:#?}", cluster.file_info(p).await.chunks);
    }
    for i in 0..cluster.chunkserver_count() {
        eprintln!(
            "cs{i} ({}): {:?}",
            cluster.chunkserver_id(i),
            cluster.chunks_on_disk(i)
        );
    }
    eprintln!("status: {:#?}", cluster.status().await);
    panic!("timed out after {deadline:?} waiting for {paths:?} to heal to {goal} replicas");
}

async fn fsck_healthy(cluster: &TestCluster) -> bool {
    let f = cluster.fsck("/").await;
    f.under_replicated == 0
        && f.missing == 0
        && f.files.iter().all(|f| f.health == FileHealth::Healthy)
}

/// A corrupt replica (bytes flipped on disk) is never returned: a direct read of it fails
/// with 422, client reads fail over and return the right bytes; the replica is reported
/// corrupt, dropped, and re-replicated back to 3 byte-identical copies; fsck is healthy.
#[tokio::test(flavor = "multi_thread")]
async fn corrupt_replica_is_detected_and_repaired() {
    let cluster = builder().chunkservers(3).start().await;
    let c = cluster.client();
    let data = random_bytes(3 * MIB + 4321, 1);
    c.mkdir_p("/c").await.unwrap();
    c.put_bytes("/c/file", Bytes::from(data.clone()))
        .await
        .unwrap();
    let info = cluster.file_info("/c/file").await;
    let ch = info.chunks[1].clone();
    let victim = cluster.chunkserver_index(&ch.replicas[0]).unwrap();
    phase!(
        "corrupt chunk {} v{} on chunkserver {victim}",
        ch.id,
        ch.version
    );
    corrupt_file(&cluster.chunk_file(victim, ch.id, ch.version));

    phase!("direct read of the corrupt replica is refused");
    let tok = token::issue(SECRET, ch.id, Access::Read, 60_000);
    let (status, _) = direct_read(
        &cluster.chunkserver_addr(victim),
        ch.id,
        ch.version,
        MIB as u64,
        &tok,
    )
    .await;
    assert_eq!(status, 422, "corrupt replica served");

    phase!("client reads return the right bytes");
    for _ in 0..5 {
        let back = cluster.client().get_bytes("/c/file").await.unwrap();
        assert_eq!(sha256(&back), sha256(&data));
    }

    phase!("corrupt replica quarantined, reported and re-replicated");
    let q = cluster
        .chunk_dir(victim, ch.id)
        .join(format!("{:016x}_{}.dat.corrupt", ch.id, ch.version));
    assert!(q.exists(), "quarantined file {}", q.display());
    let paths = vec!["/c/file".to_string()];
    wait_for(
        "corrupt chunk re-replicated to 3 identical copies",
        Duration::from_secs(30),
        || all_at_goal(&cluster, &paths, 3),
    )
    .await;
    cluster
        .wait_until("no chunk under-replicated", Duration::from_secs(10), |s| {
            s.chunks.under_replicated == 0 && s.chunks.missing == 0
        })
        .await;
    assert!(
        fsck_healthy(&cluster).await,
        "fsck after repair: {:?}",
        cluster.fsck("/").await
    );
    let healed = std::fs::read(cluster.chunk_file(victim, ch.id, ch.version)).unwrap();
    assert_eq!(
        &healed[..],
        &data[MIB..2 * MIB],
        "re-replicated copy on chunkserver {victim}"
    );
    let back = cluster.client().get_bytes("/c/file").await.unwrap();
    assert_eq!(sha256(&back), sha256(&data));
}

/// The scrubber (every 300 ms here, via FERROFS_SCRUB_INTERVAL) finds corruption in a
/// chunk nobody reads; the replica is quarantined and re-replicated, fsck ends healthy.
#[tokio::test(flavor = "multi_thread")]
async fn scrubber_finds_corruption_nobody_reads() {
    let cluster = builder()
        .chunkservers(3)
        .start_with_chunkserver_env(&[("FERROFS_SCRUB_INTERVAL", "300ms")])
        .await;
    let c = cluster.client();
    let data = random_bytes(2 * MIB, 2);
    c.mkdir_p("/s").await.unwrap();
    c.put_bytes("/s/cold", Bytes::from(data.clone()))
        .await
        .unwrap();
    let ch = cluster.file_info("/s/cold").await.chunks[0].clone();
    let victim = cluster.chunkserver_index(&ch.replicas[1]).unwrap();
    phase!(
        "corrupt chunk {} on chunkserver {victim} without reading it",
        ch.id
    );
    corrupt_file(&cluster.chunk_file(victim, ch.id, ch.version));
    let q = cluster
        .chunk_dir(victim, ch.id)
        .join(format!("{:016x}_{}.dat.corrupt", ch.id, ch.version));
    wait_for(
        "scrubber quarantines the corrupt replica",
        Duration::from_secs(20),
        || async { q.exists() },
    )
    .await;
    phase!("re-replicated");
    let paths = vec!["/s/cold".to_string()];
    wait_for(
        "re-replication after scrub",
        Duration::from_secs(30),
        || all_at_goal(&cluster, &paths, 3),
    )
    .await;
    assert!(fsck_healthy(&cluster).await);
    assert_eq!(
        sha256(&c.get_bytes("/s/cold").await.unwrap()),
        sha256(&data)
    );
}

/// A chunkserver SIGKILLed in the middle of a 40 MiB put: the put still succeeds and
/// reads back bit-exact; the chunks heal to 3 replicas on the other servers; once the
/// dead server returns its stale copies are deleted and every chunk is at goal.
#[tokio::test(flavor = "multi_thread")]
async fn pipeline_survives_chunkserver_kill() {
    let mut cluster = builder().chunkservers(4).start().await;
    let data = Bytes::from(random_bytes(40 * MIB, 3));
    let c = cluster.client();
    c.mkdir_p("/p").await.unwrap();
    let put = {
        let (c, data) = (c.clone(), data.clone());
        tokio::spawn(async move { c.put_bytes("/p/big", data).await })
    };
    phase!("wait for the first chunks on chunkserver 1, then kill it");
    wait_for(
        "first chunks on chunkserver 1",
        Duration::from_secs(30),
        || async { cluster.chunks_on_disk(1).len() >= 3 },
    )
    .await;
    cluster.kill_chunkserver(1);
    let started = Instant::now();
    let attr = put.await.unwrap().expect("put survives a chunkserver kill");
    phase!("put finished {:?} after the kill", started.elapsed());
    assert_eq!(attr.size, data.len() as u64);
    let back = c.get_bytes("/p/big").await.unwrap();
    assert_eq!(
        sha256(&back),
        sha256(&data),
        "content after pipeline recovery"
    );

    phase!("heal to goal on the 3 live servers");
    cluster
        .wait_until(
            "every chunk at goal without chunkserver 1",
            Duration::from_secs(60),
            |s| s.chunks.under_replicated == 0 && s.chunks.missing == 0 && s.chunks.total >= 40,
        )
        .await;

    phase!("chunkserver 1 returns: stale copies deleted, chunks at goal");
    cluster.restart_chunkserver(1).await;
    let paths = vec!["/p/big".to_string()];
    wait_healed(&cluster, &paths, 3, Duration::from_secs(60)).await;
    assert!(fsck_healthy(&cluster).await);
    let back = cluster.client().get_bytes("/p/big").await.unwrap();
    assert_eq!(sha256(&back), sha256(&data));
}

/// A chunkserver is down while a chunk is overwritten in place (write_at + sync +
/// commit) and while another file is replaced by put. After it restarts, reads never
/// return the old bytes, it refuses (or serves only the new bytes of) the current
/// version, and its stale copies are deleted.
#[tokio::test(flavor = "multi_thread")]
async fn stale_replicas_are_never_served() {
    let mut cluster = builder().chunkservers(3).start().await;
    let c = cluster.client();
    let old = random_bytes(2 * MIB, 4);
    c.mkdir_p("/st").await.unwrap();
    c.put_bytes("/st/inplace", Bytes::from(old.clone()))
        .await
        .unwrap();
    c.put_bytes("/st/replaced", Bytes::from(old.clone()))
        .await
        .unwrap();
    let before = cluster.file_info("/st/inplace").await.chunks[0].clone();
    let replaced_before = cluster.file_info("/st/replaced").await.chunks[0].clone();

    phase!("kill chunkserver 2 and overwrite");
    cluster.kill_chunkserver(2);
    let new = random_bytes(2 * MIB, 5);
    let a = c.resolve("/st/inplace").await.unwrap();
    c.write_at(a.ino, 0, Bytes::from(new.clone()))
        .await
        .unwrap();
    c.sync_chunks(a.ino, &[0, 1]).await.unwrap();
    c.commit(a.ino, new.len() as u64, None, true).await.unwrap();
    c.put_bytes("/st/replaced", Bytes::from(new.clone()))
        .await
        .unwrap();
    let after = cluster.file_info("/st/inplace").await.chunks[0].clone();
    assert_eq!(after.id, before.id);
    assert!(
        after.version > before.version,
        "version bumped: {} -> {}",
        before.version,
        after.version
    );
    let stale = cluster.chunks_on_disk(2);
    assert!(stale.contains(&DiskChunk {
        id: before.id,
        version: before.version
    }));

    phase!("restart chunkserver 2");
    cluster.restart_chunkserver(2).await;
    let addr = cluster.chunkserver_addr(2);
    let tok = token::issue(SECRET, after.id, Access::Read, 60_000);
    let (status, body) = direct_read(&addr, after.id, after.version, MIB as u64, &tok).await;
    assert!(
        status == 400 || status == 404 || (status == 200 && body[..] == new[..MIB]),
        "restarted chunkserver served the current version with status {status}"
    );
    for i in 0..20 {
        let fresh = cluster.client();
        for p in ["/st/inplace", "/st/replaced"] {
            let back = fresh.get_bytes(p).await.unwrap();
            assert_eq!(
                sha256(&back),
                sha256(&new),
                "{p} read {i} returned old bytes"
            );
        }
    }
    phase!("stale copies deleted, chunks back at goal");
    let paths = vec!["/st/inplace".to_string(), "/st/replaced".to_string()];
    wait_for("stale copies deleted", Duration::from_secs(30), || async {
        let disk = cluster.chunks_on_disk(2);
        !disk.contains(&DiskChunk {
            id: before.id,
            version: before.version,
        }) && !disk.iter().any(|d| d.id == replaced_before.id)
    })
    .await;
    wait_healed(&cluster, &paths, 3, Duration::from_secs(30)).await;
    let (status, body) = direct_read(&addr, after.id, after.version, MIB as u64, &tok).await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], &new[..MIB]);
}

/// kill -9 of the master during concurrent puts: after restart every put acknowledged
/// before (or after) the kill reads back with its SHA-256, every listed file reads, no
/// chunk is missing once chunkservers re-register, and chunks no file references
/// (orphans of the crash) are deleted from the chunkservers.
#[tokio::test(flavor = "multi_thread")]
async fn master_crash_during_writes() {
    let mut cluster = builder().chunkservers(3).start().await;
    cluster.client().mkdir_p("/m").await.unwrap();
    let acked: Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![];
    for t in 0..4u64 {
        let (c, acked, stop) = (cluster.client(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut failed = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let size = (200_000 + (t * 7919 + n * 104_729) % (3 * MIB as u64)) as usize;
                let data = random_bytes(size, t * 1000 + n);
                let p = format!("/m/w{t}-{n}");
                match c.put_bytes(&p, Bytes::from(data.clone())).await {
                    Ok(_) => acked.lock().unwrap().push((p, sha256(&data))),
                    Err(e) => {
                        failed += 1;
                        eprintln!("put {p} failed (allowed during the crash): {e}");
                    }
                }
                n += 1;
            }
            failed
        }));
    }
    let acked_now = || acked.lock().unwrap().len();
    wait_for(
        "some puts acknowledged",
        Duration::from_secs(60),
        || async { acked_now() >= 8 },
    )
    .await;
    phase!("kill -9 master with {} puts acknowledged", acked_now());
    cluster.kill_master();
    tokio::time::sleep(Duration::from_millis(1500)).await; // the outage
    phase!("restart master");
    cluster.restart_master().await;
    let at_restart = acked_now();
    wait_for(
        "puts resume after the restart",
        Duration::from_secs(60),
        || async { acked_now() >= at_restart + 8 },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    phase!("verify {} acknowledged puts", acked.len());
    let c = cluster.client();
    for (p, h) in &acked {
        let back = c.get_bytes(p).await.unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(&sha256(&back), h, "{p}");
    }
    phase!("namespace consistent");
    let dir = c.resolve("/m").await.unwrap();
    let listed: Vec<String> = c
        .readdir_all(dir.ino)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("/m/{}", e.name))
        .collect();
    for (p, _) in &acked {
        assert!(listed.contains(p), "{p} not listed");
    }
    for p in &listed {
        c.get_bytes(p)
            .await
            .unwrap_or_else(|e| panic!("listed file {p} unreadable: {e}"));
    }
    cluster
        .wait_until(
            "no missing chunks after re-registration",
            Duration::from_secs(30),
            |s| !s.safe_mode && s.chunks.missing == 0,
        )
        .await;
    phase!("orphans deleted");
    wait_for(
        "every chunk on disk belongs to a file",
        Duration::from_secs(30),
        || async {
            let referenced: BTreeSet<u64> = current_versions(&cluster, &listed)
                .await
                .into_keys()
                .collect();
            (0..3).all(|i| {
                cluster
                    .chunks_on_disk(i)
                    .iter()
                    .all(|d| referenced.contains(&d.id))
            })
        },
    )
    .await;
}

/// Chunkservers with little room (16 MiB usable each): filling the cluster makes puts
/// fail with NoSpace (and the CLI says "no space"), and files written before are intact.
#[tokio::test(flavor = "multi_thread")]
async fn full_disks_fail_cleanly() {
    // 64 MiB of each capacity is the chunkserver's default reserve.
    let cluster = builder().chunkservers(3).capacity(80 << 20).start().await;
    let c = cluster.client();
    c.mkdir_p("/full").await.unwrap();
    let mut kept = vec![];
    for i in 0..4u64 {
        let data = random_bytes(MIB, 100 + i);
        let p = format!("/full/keep{i}");
        c.put_bytes(&p, Bytes::from(data.clone())).await.unwrap();
        kept.push((p, sha256(&data)));
    }
    phase!("fill the cluster");
    let mut err = None;
    for i in 0..40u64 {
        match c
            .put_bytes(&format!("/full/fill{i}"), Bytes::from(random_bytes(MIB, i)))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let e = err.expect("a full cluster refuses puts");
    phase!("put failed with: {e}");
    assert!(e.is(ErrorCode::NoSpace), "want NoSpace, got {e:?}");
    assert!(e.to_string().contains("space"), "{e}");

    phase!("the CLI says so");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("more.bin");
    std::fs::write(&src, random_bytes(2 * MIB, 9)).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["put", src.to_str().unwrap(), "/full/cli.bin"])
        .env("FERROFS_MASTER", cluster.master_url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("space"), "CLI message: {stderr}");

    phase!("earlier files intact");
    for (p, h) in &kept {
        assert_eq!(&sha256(&c.get_bytes(p).await.unwrap()), h, "{p}");
    }
}

/// A hung chunkserver (SIGSTOP): reads fail over within a bounded time (the client's
/// read stall timeout), writes whose pipeline includes it are rebuilt without it, and
/// after SIGCONT the cluster heals to goal with every file intact.
#[tokio::test(flavor = "multi_thread")]
async fn hung_chunkserver_is_bypassed() {
    let cluster = builder()
        .chunkservers(4)
        .start_with_chunkserver_env(&[("FERROFS_PIPELINE_TIMEOUT", "2s")])
        .await;
    let c = cluster.client();
    let a = random_bytes(3 * MIB, 6);
    c.mkdir_p("/h").await.unwrap();
    c.put_bytes("/h/a", Bytes::from(a.clone())).await.unwrap();
    // Hang the replica the client tries first for chunk 0 (see `read_order`).
    let ino = c.resolve("/h/a").await.unwrap().ino;
    let locs: ChunksResp = c
        .master
        .rpc::<ferrofs_proto::rpc::Chunks>(&ChunksReq {
            ino,
            first_index: 0,
            count: 1,
        })
        .await
        .unwrap();
    let l0 = &locs.chunks[0];
    let first = &l0.replicas[l0.chunk_id as usize % l0.replicas.len()];
    let hung = cluster.chunkserver_index(&first.id).unwrap();
    // Warm the client's location cache so it still lists the hung server.
    assert_eq!(sha256(&c.get_bytes("/h/a").await.unwrap()), sha256(&a));

    phase!("SIGSTOP chunkserver {hung}");
    cluster.pause_chunkserver(hung);
    let guard = ResumeOnDrop(cluster.chunkserver_pid(hung));
    for round in 0..3 {
        let t = Instant::now();
        let back = c.get_bytes("/h/a").await.unwrap();
        assert_eq!(sha256(&back), sha256(&a));
        phase!("read {round} took {:?}", t.elapsed());
        assert!(
            t.elapsed() < Duration::from_secs(12),
            "read {round} took {:?}",
            t.elapsed()
        );
    }

    phase!("overwrite a chunk whose pipeline includes the hung server");
    let t = Instant::now();
    let b = random_bytes(MIB, 7);
    c.write_at(ino, 0, Bytes::from(b.clone())).await.unwrap();
    c.sync_chunks(ino, &[0]).await.unwrap();
    c.commit(ino, a.len() as u64, None, true).await.unwrap();
    phase!("overwrite took {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(40),
        "overwrite took {:?}",
        t.elapsed()
    );
    let mut expect = a.clone();
    expect[..MIB].copy_from_slice(&b);

    phase!("new put while the server is hung");
    let t = Instant::now();
    let d = random_bytes(4 * MIB, 8);
    c.put_bytes("/h/d", Bytes::from(d.clone())).await.unwrap();
    phase!("put took {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(40),
        "put took {:?}",
        t.elapsed()
    );

    phase!("SIGCONT and heal");
    drop(guard);
    let paths = vec!["/h/a".to_string(), "/h/d".to_string()];
    wait_healed(&cluster, &paths, 3, Duration::from_secs(60)).await;
    let fresh = cluster.client();
    assert_eq!(
        sha256(&fresh.get_bytes("/h/a").await.unwrap()),
        sha256(&expect)
    );
    assert_eq!(sha256(&fresh.get_bytes("/h/d").await.unwrap()), sha256(&d));
}

/// SIGCONTs a paused chunkserver even if the test fails, so teardown can kill it.
struct ResumeOnDrop(Option<i32>);

impl Drop for ResumeOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: plain kill(2) on a child the harness spawned.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

/// Chunk access tokens: no token, an expired token, a token for another chunk, one
/// signed with another secret and a forged signature all get 403 from the chunkserver,
/// on reads, writes and info; the genuine token works.
#[tokio::test(flavor = "multi_thread")]
async fn chunkserver_rejects_bad_tokens() {
    let cluster = builder().chunkservers(3).start().await;
    let c = cluster.client();
    let data = random_bytes(100_000, 11);
    c.mkdir_p("/t").await.unwrap();
    c.put_bytes("/t/f", Bytes::from(data.clone()))
        .await
        .unwrap();
    let ino = c.resolve("/t/f").await.unwrap().ino;
    let locs: ChunksResp = c
        .master
        .rpc::<ferrofs_proto::rpc::Chunks>(&ChunksReq {
            ino,
            first_index: 0,
            count: 1,
        })
        .await
        .unwrap();
    let ch = locs.chunks[0].clone();
    let addr = ch.replicas[0].addr.clone();
    let (status, body) = direct_read(&addr, ch.chunk_id, ch.version, 100, &ch.token).await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], &data[..100]);

    let expired = token::issue(SECRET, ch.chunk_id, Access::Write, 0);
    wait_for("token expiry", Duration::from_secs(5), || async {
        token::verify(SECRET, &expired, ch.chunk_id, Access::Read)
            == Err(token::TokenError::Expired)
    })
    .await;
    let other_chunk = token::issue(SECRET, ch.chunk_id + 1, Access::Write, 60_000);
    let other_secret = token::issue(b"not-the-secret", ch.chunk_id, Access::Write, 60_000);
    let mut forged = token::issue(SECRET, ch.chunk_id, Access::Write, 60_000);
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let cases = [
        ("no token", String::new()),
        ("expired", expired),
        ("another chunk", other_chunk),
        ("another secret", other_secret),
        ("forged signature", forged),
    ];
    let http = reqwest::Client::new();
    for (what, tok) in &cases {
        let (status, _) = direct_read(&addr, ch.chunk_id, ch.version, 100, tok).await;
        assert_eq!(status, 403, "read with {what}");
        let r = http
            .put(format!(
                "http://{addr}{}",
                ferrofs_proto::chunk::data_path(ch.chunk_id)
            ))
            .query(&[
                ("version", ch.version.to_string()),
                ("offset", "0".into()),
                ("token", tok.clone()),
            ])
            .body("must not land")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "write with {what}");
        let r = http
            .get(format!(
                "http://{addr}{}",
                ferrofs_proto::chunk::info_path(ch.chunk_id)
            ))
            .query(&[("token", tok.clone())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "info with {what}");
    }
    assert_eq!(
        sha256(&c.get_bytes("/t/f").await.unwrap()),
        sha256(&data),
        "file untouched"
    );
}
