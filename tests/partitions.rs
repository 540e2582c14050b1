//! Partitions between hosts (`TestCluster::builder().hosts()`: every node in a network
//! namespace of its own; a cut is nftables dropping packets, so connections time out
//! and none is refused). A chunkserver cut from the masters but not from clients, and
//! the master leader cut from the other masters and from a client, with every
//! acknowledged operation recorded and checked against the final state. Needs root
//! (skipped otherwise, with a line saying so).

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::namespace::{CreateReq, FileKind};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn skip() -> bool {
    if netns::available() {
        return false;
    }
    eprintln!("skipped: needs root, ip and nft");
    true
}

/// Replica files on chunkserver `i` whose version is older than the file's current one.
async fn stale_on(c: &TestCluster, i: usize, files: &[(String, String)]) -> usize {
    let disk = c.chunks_on_disk(i);
    let mut stale = 0;
    for (p, _) in files {
        for ch in c.file_info(p).await.chunks {
            stale += disk
                .iter()
                .filter(|d| d.id == ch.id && d.version != ch.version)
                .count();
        }
    }
    stale
}

/// A chunkserver cut off from every master but still reachable by the client and the
/// other chunkservers: the masters declare it dead only after `dead_timeout` (a silent
/// network is not a refused port, so the fast path must not fire), its chunks are
/// re-replicated on the other three; files overwritten meanwhile leave it stale
/// replicas. After the heal it is alive again, its stale replicas are deleted and never
/// served (every read, from the first moment of the heal on, is bit-exact), and its
/// surplus is trimmed: every chunk ends with exactly 3 identical replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunkserver_cut_from_masters() {
    if skip() {
        return;
    }
    let dead_timeout = Duration::from_secs(4);
    let c = TestCluster::builder()
        .hosts()
        .masters(3)
        .chunkservers(4)
        .dead_timeout(dead_timeout)
        .start()
        .await;
    let client = c.client();
    client.mkdir_p("/p").await.unwrap();
    let mut files = vec![];
    for i in 0..6 {
        let data = random_bytes(2 * MIB + 1000, i);
        let p = format!("/p/f{i}");
        client
            .put_bytes(&p, Bytes::from(data.clone()))
            .await
            .unwrap();
        files.push((p, sha256(&data)));
    }
    let victim = 0;
    let victim_id = c.chunkserver_id(victim);
    assert!(
        !c.chunks_on_disk(victim).is_empty(),
        "the victim holds chunks"
    );

    phase!("cut chunkserver {victim_id} from the masters");
    let masters: Vec<Node> = (0..3).map(Node::Master).collect();
    let cut = Instant::now();
    c.net().partition(&[Node::Chunkserver(victim)], &masters);
    c.wait_until("the victim declared dead", Duration::from_secs(30), |s| {
        s.chunkservers.iter().any(|x| x.id == victim_id && !x.alive)
    })
    .await;
    let dead_after = cut.elapsed();
    phase!("declared dead after {dead_after:?} (dead_timeout {dead_timeout:?})");
    // The last heartbeat may have been up to one interval (300 ms) before the cut.
    assert!(
        dead_after >= dead_timeout - Duration::from_millis(600),
        "declared dead after {dead_after:?}: the refused-connection fast path fired on a silent network"
    );
    c.wait_until("re-replicated without it", Duration::from_secs(60), |s| {
        s.chunks.under_replicated == 0 && s.chunks.missing == 0
    })
    .await;

    phase!("overwrite the first chunk of half the files (the victim's copies go stale)");
    for (p, h) in files.iter_mut().step_by(2) {
        let a = client.resolve(p).await.unwrap();
        let mut data = client.get_bytes(p).await.unwrap().to_vec();
        data[100..110].copy_from_slice(b"0123456789");
        client
            .write_at(a.ino, 100, Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        client.sync_chunks(a.ino, &[0]).await.unwrap();
        client.commit(a.ino, a.size, None, true).await.unwrap();
        *h = sha256(&data);
    }
    assert!(
        stale_on(&c, victim, &files).await > 0,
        "the victim holds stale replicas before the heal"
    );

    phase!("heal; read everything while the victim rejoins");
    let healed = Instant::now();
    c.net().heal();
    let mut rounds = 0;
    loop {
        // A fresh client each round: locations come from the master, not a cache.
        let reader = c.client();
        for (p, h) in &files {
            let got = reader
                .get_bytes(p)
                .await
                .unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(&sha256(&got), h, "{p} read back wrong after the heal");
        }
        rounds += 1;
        let s = c.status().await;
        let back = s.chunkservers.iter().any(|x| x.id == victim_id && x.alive);
        if back && s.chunks.over_replicated == 0 && s.chunks.under_replicated == 0 && rounds >= 3 {
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(40),
            "not converged 40 s after the heal: {s:?}"
        );
    }
    phase!(
        "victim back and converged {:?} after the heal ({rounds} read rounds)",
        healed.elapsed()
    );
    wait_for(
        "stale replicas deleted",
        Duration::from_secs(20),
        || async { stale_on(&c, victim, &files).await == 0 },
    )
    .await;
    // The counts have converged; the replica lists and the files on disk follow within
    // a heartbeat or two (a trimmed copy leaves the list when its server reports).
    for (p, _) in &files {
        wait_for(
            &format!("{p} at 3 identical replicas"),
            Duration::from_secs(20),
            || c.file_at_goal(p, 3),
        )
        .await;
    }
}

/// One operation a worker attempted: when it started and ended, and whether the cluster
/// acknowledged it.
#[derive(Clone, Debug)]
struct Op {
    name: String,
    start: Instant,
    end: Instant,
    acked: bool,
}

type Log = Arc<Mutex<Vec<Op>>>;

/// The master leader cut from the other two masters and from the client namespace
/// (which can reach only it), with two writers: the test process on the majority side
/// (a client with every master's URL) and the CLI in the client namespace on the
/// minority side, each making uniquely named directories and recording every attempt.
/// Checks: the majority elects a new leader and its writer carries on; a call to the
/// cut-off leader is answered (an error) within a bound instead of hanging; no
/// operation started during the partition is acknowledged by the minority; on heal the
/// old leader is a follower, the minority's writer carries on through the group; and
/// every acknowledged operation on either side is in the final namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn master_leader_cut_from_the_group() {
    if skip() {
        return;
    }
    let c = Arc::new(
        TestCluster::builder()
            .hosts()
            .masters(3)
            .chunkservers(3)
            .start()
            .await,
    );
    let old = c.leader_index().await;
    let urls = c.master_urls();
    let client = c.client();
    client.mkdir_p("/maj").await.unwrap();
    let min_ino = client.mkdir_p("/min").await.unwrap().ino;
    let stop = Arc::new(AtomicBool::new(false));
    // Stops the writers also when the test fails (the cluster goes with the last one).
    let _stop_guard = StopOnDrop(stop.clone());

    let maj: Log = Default::default();
    let maj_task = {
        let (log, stop) = (maj.clone(), stop.clone());
        tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::Acquire) {
                let name = format!("d{k}");
                let start = Instant::now();
                let r = client.mkdir(&format!("/maj/{name}"), 0o755).await;
                if let Err(e) = &r {
                    assert!(
                        !e.to_string().contains("exists"),
                        "/maj/{name} applied twice: {e}"
                    );
                }
                let end = Instant::now();
                log.lock().push(Op {
                    name,
                    start,
                    end,
                    acked: r.is_ok(),
                });
                k += 1;
            }
        })
    };
    let min: Log = Default::default();
    let min_task = {
        let (log, stop, c, all) = (min.clone(), stop.clone(), c.clone(), c.master_url());
        tokio::task::spawn_blocking(move || {
            let mut k = 0;
            while !stop.load(Ordering::Acquire) {
                let name = format!("d{k}");
                let start = Instant::now();
                let out = c.run_in(
                    Node::Client,
                    &["mkdir", "--master", &all, &format!("/min/{name}")],
                    &[("FERROFS_MASTER_TIMEOUT", "3s")],
                );
                let end = Instant::now();
                log.lock().push(Op {
                    name,
                    start,
                    end,
                    acked: out.status.success(),
                });
                k += 1;
            }
        })
    };
    let acked_after = |log: &Log, t: Instant| {
        log.lock()
            .iter()
            .filter(|o| o.acked && o.start >= t)
            .count()
    };
    let t0 = Instant::now();
    wait_for(
        "both writers acknowledged",
        Duration::from_secs(30),
        || async { acked_after(&maj, t0) >= 5 && acked_after(&min, t0) >= 2 },
    )
    .await;

    phase!(
        "cut master {} (the leader) and the client namespace from the others",
        old + 1
    );
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    let minority = vec![Node::Master(old), Node::Client];
    let majority = vec![Node::Master(others[0]), Node::Master(others[1]), Node::Host];
    c.net().partition(&minority, &majority);
    // Taken once every rule is in place: an operation started while `partition` was
    // still adding them may rightly be committed by the whole group.
    let cut = Instant::now();
    let new = loop {
        if let Some(i) = c.leader_index_excluding(old).await {
            break i;
        }
        assert!(
            cut.elapsed() < Duration::from_secs(20),
            "no new leader on the majority side"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    phase!("master {} leads after {:?}", new + 1, cut.elapsed());
    wait_for(
        "the majority's writer carries on",
        Duration::from_secs(20),
        || async { acked_after(&maj, cut) >= 10 },
    )
    .await;

    phase!("a create sent straight to the cut-off leader is answered within a bound");
    let probe = {
        let body = serde_json::to_string(&CreateReq {
            parent: min_ino,
            name: "probe".into(),
            kind: FileKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            rdev: 0,
            symlink_target: None,
            exclusive: true,
            replication: None,
        })
        .unwrap();
        let url = format!("{}{}", urls[old], ferrofs_proto::namespace::CREATE);
        let mut cmd = c.net().command(Node::Client, "curl");
        cmd.args(["-s", "-m", "30", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["-H", "content-type: application/json", "-d", &body, &url]);
        tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let out = cmd.output().expect("curl");
            (
                String::from_utf8_lossy(&out.stdout).to_string(),
                start.elapsed(),
            )
        })
        .await
        .unwrap()
    };
    phase!("answered HTTP {} after {:?}", probe.0, probe.1);
    assert!(
        probe.1 < Duration::from_secs(8) && probe.0 != "000",
        "the cut-off leader kept the call {:?} (HTTP {})",
        probe.1,
        probe.0
    );
    assert!(
        !probe.0.starts_with('2'),
        "the minority acknowledged /min/probe"
    );

    phase!("heal");
    let healed = Instant::now();
    c.net().heal();
    let http = reqwest::Client::new();
    wait_for(
        "the old leader is a follower",
        Duration::from_secs(20),
        || async {
            let Ok(r) = http.get(format!("{}/health", urls[old])).send().await else {
                return false;
            };
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            v["leader"].as_bool() == Some(false)
        },
    )
    .await;
    assert_eq!(c.leader_index().await, new, "the new leader keeps leading");
    wait_for(
        "the minority's writer carries on",
        Duration::from_secs(30),
        || async { min.lock().iter().any(|o| o.acked && o.start >= healed) },
    )
    .await;
    let n_maj = acked_after(&maj, healed);
    wait_for(
        "the majority's writer after the heal",
        Duration::from_secs(20),
        || async { acked_after(&maj, healed) > n_maj + 5 },
    )
    .await;
    stop.store(true, Ordering::Release);
    maj_task.await.unwrap();
    min_task.await.unwrap();

    phase!("check every acknowledged operation");
    let check = c.client();
    for (dir, log) in [("/maj", &maj), ("/min", &min)] {
        let ino = check.resolve(dir).await.unwrap().ino;
        let present: BTreeSet<String> = check
            .readdir_all(ino)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        let log = log.lock();
        let acked: Vec<&Op> = log.iter().filter(|o| o.acked).collect();
        for o in &acked {
            assert!(
                present.contains(&o.name),
                "{dir}/{} was acknowledged but is gone",
                o.name
            );
        }
        let during: Vec<&&Op> = acked
            .iter()
            .filter(|o| o.start >= cut && o.end <= healed)
            .collect();
        phase!(
            "{dir}: {} attempts, {} acknowledged ({} within the partition), {} present",
            log.len(),
            acked.len(),
            during.len(),
            present.len()
        );
        if dir == "/min" {
            assert!(during.is_empty(), "the minority acknowledged {during:?}");
        }
    }
    assert!(
        !client_has(&check, "/min/probe").await,
        "the probe the minority refused was applied later"
    );
}

async fn client_has(c: &ferrofs_client::Client, path: &str) -> bool {
    c.resolve(path).await.is_ok()
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A client (a mount on its own host) cut from one chunkserver in the middle of writing
/// a file, while that chunkserver still reaches the masters and the other chunkservers:
/// the writes go on (a pipeline whose head is the unreachable server is rebuilt without
/// it), fsync and close succeed, every byte reads back bit-exact from the host, and
/// after the heal every chunk ends at its goal of 3 identical replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_cut_from_one_replica_mid_write() {
    if skip() {
        return;
    }
    let mut c = TestCluster::builder()
        .hosts()
        .chunkservers(4)
        .replication(3)
        .start()
        .await;
    let mnt = c.mount().await;
    let net = c.net();
    let data = random_bytes(24 * MIB, 42);
    let path = mnt.join("w.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    use std::io::Write;
    phase!("the first 6 MiB with every link up");
    f.write_all(&data[..6 * MIB]).unwrap();
    f.sync_all().unwrap();
    let info = c.file_info("/w.bin").await;
    let victim_id = info.chunks.last().unwrap().replicas[0].clone();
    let victim = c.chunkserver_index(&victim_id).unwrap();
    phase!("cut the client from chunkserver {victim} ({victim_id}), write 18 MiB more");
    net.partition(&[Node::Client], &[Node::Chunkserver(victim)]);
    let t = Instant::now();
    f.write_all(&data[6 * MIB..]).unwrap();
    f.sync_all().unwrap();
    drop(f);
    phase!("written and synced in {:?} with the link cut", t.elapsed());
    let back = c.client().get_bytes("/w.bin").await.unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(sha256(&back), sha256(&data), "the file differs");
    phase!("heal: every chunk back at 3 identical replicas");
    net.heal();
    wait_for("/w.bin at goal 3", Duration::from_secs(60), || {
        c.file_at_goal("/w.bin", 3)
    })
    .await;
    assert_eq!(sha256(&std::fs::read(&path).unwrap()), sha256(&data));
}
