//! Chaos: concurrent writers and readers through the client while a nemesis kills -9 and
//! restarts random chunkservers and, less often, masters of the group: the leader, a
//! follower, or all of them at once. Every acknowledged put must read back with its
//! recorded SHA-256 once everything is back and healed.
//!
//! `CHAOS_SEED` replays a nemesis schedule and workload, `CHAOS_SECS` sets the duration
//! (default 60), `CHAOS_MASTERS` the group size (default 3). `scripts/chaos-long.sh`
//! runs it for half an hour.

mod common;

use bytes::Bytes;
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const CHUNKSERVERS: usize = 5;
/// At most this many chunkservers down at once: with 3 replicas on distinct servers,
/// every chunk keeps a live replica.
const MAX_DOWN: usize = 2;
/// Files each writer keeps; older ones are deleted (also exercising garbage collection).
const MAX_FILES: usize = 200;

/// The last acknowledged content of each path: (SHA-256, size, generation). A path is
/// dropped while it is being overwritten and stays dropped if the overwrite fails (its
/// content is then undefined); generations are unique, so a reader can tell whether the
/// content it checks against changed during its read.
type Acked = Arc<Mutex<BTreeMap<String, (String, u64, u64)>>>;

/// Content hash -> seed of the bytes, so a wrong read can be compared byte by byte.
static DATA_SEEDS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn hash_of(d: &[u8]) -> String {
    sha256(d)
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct Counters {
    puts_ok: AtomicU64,
    puts_failed: AtomicU64,
    reads_ok: AtomicU64,
    reads_failed: AtomicU64,
    /// Reads that returned bytes other than the acknowledged ones: must stay 0.
    reads_wrong: AtomicU64,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

async fn writer(
    c: ferrofs_client::Client,
    t: u64,
    seed: u64,
    acked: Acked,
    stop: Arc<AtomicBool>,
    n: Arc<Counters>,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut mine: Vec<String> = vec![];
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Bound disk use on long runs: past MAX_FILES, delete one of ours first.
        if mine.len() >= MAX_FILES {
            let p = mine.swap_remove(rng.random_range(0..mine.len()));
            acked.lock().unwrap().remove(&p);
            if let Err(e) = c.remove(&p).await {
                eprintln!("rm {p} failed (allowed under faults): {e}");
            }
        }
        // Mostly new files; sometimes replace one of ours.
        let path = if !mine.is_empty() && rng.random_bool(0.15) {
            let p = mine[rng.random_range(0..mine.len())].clone();
            acked.lock().unwrap().remove(&p);
            p
        } else {
            i += 1;
            let p = format!("/chaos/w{t}/f{i}");
            mine.push(p.clone());
            p
        };
        let size = match rng.random_range(0..20) {
            0 => 0,
            1..=4 => rng.random_range(1..4096),
            5 => 2 * MIB + rng.random_range(0..2 * MIB),
            _ => rng.random_range(4096..MIB + MIB / 2),
        };
        let data_seed: u64 = rng.random();
        let data = random_bytes(size, data_seed);
        DATA_SEEDS.lock().unwrap().insert(hash_of(&data), data_seed);
        let hash = sha256(&data);
        match c.put_bytes(&path, Bytes::from(data)).await {
            Ok(_) => {
                n.puts_ok.fetch_add(1, Ordering::Relaxed);
                let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
                acked
                    .lock()
                    .unwrap()
                    .insert(path, (hash, size as u64, generation));
            }
            Err(e) => {
                n.puts_failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("put {path} failed (allowed under faults): {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Keep the data volume (and disk use) of long runs moderate.
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..60))).await;
    }
}

async fn reader(
    c: ferrofs_client::Client,
    t: u64,
    seed: u64,
    acked: Acked,
    stop: Arc<AtomicBool>,
    n: Arc<Counters>,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ (t + 101).wrapping_mul(0xc2b2_ae3d_27d4_eb4f));
    while !stop.load(Ordering::Relaxed) {
        let pick = {
            let a = acked.lock().unwrap();
            if a.is_empty() {
                None
            } else {
                let k = rng.random_range(0..a.len());
                a.iter().nth(k).map(|(p, e)| (p.clone(), e.clone()))
            }
        };
        let Some((path, (hash, size, generation))) = pick else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match c.get_bytes(&path).await {
            Ok(b) => {
                // Only judge reads the writer did not overwrite meanwhile.
                let unchanged = acked
                    .lock()
                    .unwrap()
                    .get(&path)
                    .is_some_and(|e| e.2 == generation);
                if unchanged && sha256(&b) != hash {
                    n.reads_wrong.fetch_add(1, Ordering::Relaxed);
                    // Describe the damage: length, and whether the bad region is zeros.
                    let again = c.get_bytes(&path).await.ok();
                    let fixed = again.as_ref().is_some_and(|a| sha256(a) == hash);
                    let diff = again
                        .as_ref()
                        .filter(|_| fixed)
                        .and_then(|good| b.iter().zip(good.iter()).position(|(x, y)| x != y));
                    let zeros = diff.is_some_and(|d| b[d..].iter().take(4096).all(|x| *x == 0));
                    let want = DATA_SEEDS
                        .lock()
                        .unwrap()
                        .get(&hash)
                        .map(|s| random_bytes(size as usize, *s));
                    let first_bad = want
                        .as_ref()
                        .and_then(|w| b.iter().zip(w.iter()).position(|(x, y)| x != y));
                    let bad_len = want.as_ref().zip(first_bad).map(|(w, f)| {
                        b[f..]
                            .iter()
                            .zip(w[f..].iter())
                            .filter(|(x, y)| x != y)
                            .count()
                    });
                    let info = c
                        .master
                        .get::<serde_json::Value>(&format!("/api/v1/files?path={path}"))
                        .await
                        .ok();
                    eprintln!(
                        "WRONG BYTES reading {path} (generation {generation}): got {} bytes, expected {}, first difference at {diff:?} (zeros after it: {zeros}), a re-read is {}; vs expected: first bad byte {first_bad:?}, {bad_len:?} bad bytes after it; placement {info:?}",
                        b.len(),
                        size,
                        if fixed { "right" } else { "still wrong" }
                    );
                } else {
                    n.reads_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                n.reads_failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("read {path} failed (allowed under faults): {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Writers and readers under a seeded nemesis (kill -9 / restart chunkservers and the
/// master at random moments): no acknowledged put is lost or reads back wrong, and the
/// cluster heals to goal once every node is back.
#[tokio::test(flavor = "multi_thread")]
async fn chaos() {
    let seed = env_u64("CHAOS_SEED").unwrap_or_else(rand::random);
    let secs = env_u64("CHAOS_SECS").unwrap_or(60);
    eprintln!("chaos: seed {seed} (replay with CHAOS_SEED={seed}), {secs} s");
    let masters = env_u64("CHAOS_MASTERS").unwrap_or(3) as usize;
    let mut cluster = TestCluster::builder()
        .masters(masters)
        .chunkservers(CHUNKSERVERS)
        .master_config("lease_duration = \"3s\"")
        .start()
        .await;
    let setup = cluster.client();
    for t in 0..3 {
        setup.mkdir_p(&format!("/chaos/w{t}")).await.unwrap();
    }
    let acked: Acked = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let n = Arc::new(Counters::default());
    let mut tasks = vec![];
    for t in 0..3 {
        tasks.push(tokio::spawn(writer(
            cluster.client(),
            t,
            seed,
            acked.clone(),
            stop.clone(),
            n.clone(),
        )));
    }
    for t in 0..2 {
        tasks.push(tokio::spawn(reader(
            cluster.client(),
            t,
            seed,
            acked.clone(),
            stop.clone(),
            n.clone(),
        )));
    }

    phase!("nemesis for {secs} s");
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut cs_kills, mut cs_restarts, mut master_kills) = (0u32, 0u32, 0u32);
    let mut leader_kills = 0u32;
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..3000))).await;
        let down: Vec<usize> = (0..CHUNKSERVERS)
            .filter(|i| !cluster.chunkserver_running(*i))
            .collect();
        let roll = rng.random_range(0..100);
        if roll < 10 {
            let outage = Duration::from_millis(rng.random_range(200..2500));
            let which = if masters == 1 {
                0
            } else {
                rng.random_range(0..3)
            };
            if which == 0 {
                phase!("kill -9 every master for {outage:?}");
                cluster.kill_master();
                tokio::time::sleep(outage).await;
                cluster.start_master_again().await;
            } else {
                let leader = cluster.leader_index().await;
                let victim = if which == 1 {
                    leader_kills += 1;
                    leader
                } else {
                    (leader + 1 + rng.random_range(0..masters - 1)) % masters
                };
                phase!(
                    "kill -9 master {} ({}) for {outage:?}",
                    victim + 1,
                    if victim == leader {
                        "the leader"
                    } else {
                        "a follower"
                    }
                );
                cluster.kill_master_at(victim);
                tokio::time::sleep(outage).await;
                cluster.start_master_at(victim).await;
            }
            master_kills += 1;
        } else if roll < 55 && down.len() < MAX_DOWN {
            let up: Vec<usize> = (0..CHUNKSERVERS)
                .filter(|i| cluster.chunkserver_running(*i))
                .collect();
            let i = up[rng.random_range(0..up.len())];
            phase!("kill -9 chunkserver {i}");
            cluster.kill_chunkserver(i);
            cs_kills += 1;
        } else if !down.is_empty() {
            let i = down[rng.random_range(0..down.len())];
            phase!("restart chunkserver {i}");
            cluster.start_chunkserver_again(i).await;
            cs_restarts += 1;
        }
    }

    phase!("stop the workload, bring every node back");
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    if !cluster.master_running() {
        cluster.start_master_again().await;
    }
    for i in 0..CHUNKSERVERS {
        if !cluster.chunkserver_running(i) {
            cluster.start_chunkserver_again(i).await;
            cs_restarts += 1;
        }
    }
    cluster
        .wait_until("every chunkserver alive", Duration::from_secs(60), |s| {
            s.chunkservers.iter().filter(|c| c.alive).count() == CHUNKSERVERS
        })
        .await;
    cluster
        .wait_until(
            "healed: nothing under goal or missing",
            Duration::from_secs(120),
            |s| !s.safe_mode && s.chunks.under_replicated == 0 && s.chunks.missing == 0,
        )
        .await;

    phase!("verify every acknowledged put");
    let acked = acked.lock().unwrap().clone();
    let c = cluster.client();
    let (mut files, mut bytes, mut lost_files, mut lost_bytes) = (0u64, 0u64, 0u64, 0u64);
    for (path, (hash, size, _)) in &acked {
        match c.get_bytes(path).await {
            Ok(b) if sha256(&b) == *hash => {
                files += 1;
                bytes += size;
            }
            Ok(b) => {
                eprintln!(
                    "LOST {path}: {} bytes back, want {size} with sha {hash}",
                    b.len()
                );
                describe_replicas(&c, path, hash, *size).await;
                lost_files += 1;
                lost_bytes += size;
            }
            Err(e) => {
                eprintln!("LOST {path}: {e}");
                lost_files += 1;
                lost_bytes += size;
            }
        }
    }
    let wrong = n.reads_wrong.load(Ordering::Relaxed);
    eprintln!(
        "chaos summary: seed {seed}, {secs} s; faults: {cs_kills} chunkserver kills, {cs_restarts} restarts, \
         {master_kills} master kills ({leader_kills} of the leader alone); puts {} ok / {} failed, reads {} ok / {} failed / {wrong} wrong; \
         verified {files} files, {bytes} bytes; lost {lost_files} files, {lost_bytes} bytes",
        n.puts_ok.load(Ordering::Relaxed),
        n.puts_failed.load(Ordering::Relaxed),
        n.reads_ok.load(Ordering::Relaxed),
        n.reads_failed.load(Ordering::Relaxed),
    );
    assert!(files > 0, "no put was acknowledged");
    assert_eq!(lost_bytes, 0, "acknowledged data lost (seed {seed})");
    assert_eq!(lost_files, 0, "acknowledged files lost (seed {seed})");
    assert_eq!(wrong, 0, "reads returned wrong bytes (seed {seed})");
}

/// For a file that reads back wrong: each replica's bytes of each chunk, compared with the
/// expected content (regenerated from its seed).
async fn describe_replicas(c: &ferrofs_client::Client, path: &str, hash: &str, size: u64) {
    let want = DATA_SEEDS
        .lock()
        .unwrap()
        .get(hash)
        .map(|s| random_bytes(size as usize, *s));
    let Ok(a) = c.resolve(path).await else { return };
    let Ok(locs) = c
        .master
        .rpc::<ferrofs_proto::rpc::Chunks>(&ferrofs_proto::namespace::ChunksReq {
            ino: a.ino,
            first_index: 0,
            count: 64,
        })
        .await
    else {
        return;
    };
    let info = c
        .master
        .get::<serde_json::Value>(&format!("/api/v1/files?path={path}"))
        .await
        .ok();
    eprintln!("  placement: {info:?}");
    for l in &locs.chunks {
        let start = (l.index * locs.chunk_size) as usize;
        for r in &l.replicas {
            let got = c
                .chunks
                .read(r, l.chunk_id, l.version, 0, locs.chunk_size, &l.token)
                .await;
            let verdict = match (&got, &want) {
                (Ok(b), Some(w)) => {
                    let end = (start + locs.chunk_size as usize).min(w.len());
                    let exp = &w[start..end];
                    let first_bad = b.iter().zip(exp.iter()).position(|(x, y)| x != y);
                    let zeros = b.iter().all(|x| *x == 0);
                    format!(
                        "len {} (want {}), first bad byte {first_bad:?}, all zeros {zeros}",
                        b.len(),
                        exp.len()
                    )
                }
                (Ok(b), None) => format!("len {}", b.len()),
                (Err(e), _) => format!("error {e}"),
            };
            eprintln!(
                "  chunk {} v{} on {} ({}): {verdict}",
                l.chunk_id, l.version, r.id, r.addr
            );
        }
    }
}
