//! A cluster across "hosts": every node in a network namespace of its own, with its own
//! address from 198.18.0.0/15 (`TestCluster::builder().hosts()`). Nothing may assume
//! loopback: members advertise their own addresses, chunkservers register theirs, a
//! mount in the client's namespace is visible on the host. Needs root (skipped
//! otherwise, with a line saying so).

mod common;

use common::*;

/// A group of 3 masters and 3 chunkservers on six hosts and a mount on a seventh:
/// the masters and chunkservers report their namespace addresses (no 127.0.0.1
/// anywhere in the status), a file written through the mount reads back bit-exact
/// through the client on the host, and the CLI in the client namespace sees it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_across_namespaces() {
    if !netns::available() {
        eprintln!("skipped: needs root, ip and nft");
        return;
    }
    let mut c = TestCluster::builder()
        .hosts()
        .masters(3)
        .chunkservers(3)
        .start()
        .await;
    let net = c.net();
    phase!("addresses are the namespaces' own");
    let s = c.status().await;
    for cs in &s.chunkservers {
        assert!(
            cs.addr.starts_with("198.18."),
            "chunkserver addr {}",
            cs.addr
        );
    }
    for (i, u) in c.master_urls().iter().enumerate() {
        assert_eq!(u, &format!("http://{}:9000", net.ip(Node::Master(i))));
    }
    let health: serde_json::Value = reqwest::get(format!("{}/health", c.leader_url().await))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !health.to_string().contains("127.0.0.1"),
        "health names loopback: {health}"
    );

    phase!("write through a mount in the client namespace");
    let mnt = c.mount().await;
    let data = random_bytes(3 << 20, 7);
    std::fs::write(mnt.join("f"), &data).unwrap();
    let back = c.client().get_bytes("/f").await.expect("read /f");
    assert_eq!(sha256(&back), sha256(&data));

    phase!("the CLI in the client namespace");
    let out = c.run_in(Node::Client, &["ls", "--master", &c.master_url(), "/"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains('f'));
}

/// Write, read back and heal on the clean network and then with 2% of the packets
/// arriving at every chunkserver dropped (nftables `numgen random mod 100 < 2`):
/// everything still works (bit-exact, back at goal), and the figures are printed side
/// by side (throughput of a 32 MiB put and get; heal time after a chunkserver is killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn works_under_packet_loss() {
    if !netns::available() {
        eprintln!("skipped: needs root, ip and nft");
        return;
    }
    use std::time::{Duration, Instant};
    let mut c = TestCluster::builder()
        .hosts()
        .masters(3)
        .chunkservers(5)
        .start()
        .await;
    let client = c.client();
    let mut figures = vec![];
    for (round, loss) in [(0u64, 0u8), (1, 2)] {
        if loss > 0 {
            for i in 0..5 {
                c.net().loss(Node::Chunkserver(i), loss);
            }
        }
        let data = bytes::Bytes::from(random_bytes(32 << 20, round));
        let p = format!("/loss{loss}");
        let t = Instant::now();
        client.put_bytes(&p, data.clone()).await.expect("put");
        let put = t.elapsed();
        let t = Instant::now();
        let back = c.client().get_bytes(&p).await.expect("get");
        let get = t.elapsed();
        assert_eq!(sha256(&back), sha256(&data), "{p} read back wrong");
        let victim = round as usize;
        let t = Instant::now();
        c.kill_chunkserver(victim);
        c.wait_until("healed", Duration::from_secs(60), |s| {
            s.chunkservers.iter().filter(|x| x.alive).count() == 4
                && s.chunks.under_replicated == 0
                && s.chunks.missing == 0
        })
        .await;
        let heal = t.elapsed();
        let mib = |d: Duration| 32.0 / d.as_secs_f64();
        figures.push(format!(
            "loss {loss}%: put {:.0} MiB/s, get {:.0} MiB/s, heal after a kill {heal:.1?}",
            mib(put),
            mib(get)
        ));
        c.net().heal();
        c.restart_chunkserver(victim).await;
    }
    for f in &figures {
        phase!("{f}");
    }
}

/// Tests of one binary run at once and pick networks from the same start: concurrent
/// claims of one network have one winner, the others move on to free networks, and no
/// claim tears down the network another has just made.
#[test]
fn concurrent_network_claims_do_not_collide() {
    if !netns::available() {
        eprintln!("skipped: needs root, ip and nft");
        return;
    }
    let nets: Vec<Net> = std::thread::scope(|s| {
        let claims: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Net::up(&[Node::Chunkserver(0)])))
            .collect();
        claims.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut seen = std::collections::HashSet::new();
    for net in &nets {
        let ns = net.ns_path(Node::Chunkserver(0)).unwrap();
        assert!(ns.exists(), "{} is gone", ns.display());
        assert!(
            seen.insert(net.ip(Node::Host)),
            "two claims won one network"
        );
    }
}
