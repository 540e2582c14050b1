//! TLS on every connection (`--tls DIR`, material from `ferrofs ca`): a master group,
//! chunkservers and a mount that speak only HTTPS with mutual TLS. Data moves over every
//! kind of link (client to master and to chunkservers, the chunkservers' write
//! pipeline and their re-replication copies, Raft between masters, heartbeats), and
//! whoever has no certificate from the cluster CA is refused.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn https_only(url: &str) {
    assert!(url.starts_with("https://"), "{url}");
}

/// Every byte through TLS: writes through a mount and the client library on a group of
/// three masters, a kill -9 of a chunkserver healed by chunkserver-to-chunkserver copies,
/// a leader kill -9 (Raft between members), then everything read back bit-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_speaks_only_mutual_tls() {
    let mut c = TestCluster::builder()
        .tls()
        .masters(3)
        .chunkservers(4)
        .replication(3)
        .chunk_size(64 << 20)
        .start()
        .await;
    for u in c.master_urls() {
        https_only(&u);
    }
    let tls = c.tls().unwrap().clone();

    phase!("writes through the client library and a mount");
    let cl = c.client();
    let a = random_bytes(5 << 20, 1);
    cl.mkdir_p("/t").await.unwrap();
    cl.put_bytes("/t/a", a.clone().into()).await.unwrap();
    let mnt = c.mount().await;
    // Big enough for several write pieces in flight into one chunk: over HTTP/2 they
    // shared one connection's flow-control window and stalled behind the chunk's
    // write order (the first bench run over TLS timed out).
    let b = random_bytes(40 << 20, 2);
    {
        // fsync, so a failed write-out is an error here (close's is dropped by Rust).
        use std::io::Write;
        let mut f = std::fs::File::create(mnt.join("t/b")).unwrap();
        f.write_all(&b).unwrap();
        f.sync_all().expect("fsync of /t/b");
    }
    assert_eq!(sha256(&std::fs::read(mnt.join("t/a")).unwrap()), sha256(&a));
    assert_eq!(sha256(&cl.get_bytes("/t/b").await.unwrap()), sha256(&b));
    let log = std::fs::read_to_string(c.root().join("mount0.log")).unwrap_or_default();
    assert!(
        !log.contains("rebuilding pipeline"),
        "a healthy cluster needed pipeline rebuilds: {}",
        log.lines()
            .filter(|l| l.contains("rebuilding"))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );

    phase!("the CLI with --tls, and without it");
    let out = Command::new(BIN)
        .args(["cat", "/t/b", "--master", &c.master_url()])
        .args(["--tls", &tls.client.display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&b));
    let out = Command::new(BIN)
        .args(["ls", "/", "--master", &c.master_url()])
        .env_remove("FERROFS_TLS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("needs --tls"),
        "an https master without --tls: {err}"
    );

    phase!("kill -9 a chunkserver: its replicas come back by TLS copies");
    let victim = c.chunkserver_id(0);
    c.kill_chunkserver(0);
    c.wait_until(
        "every chunk back at goal without the killed server",
        Duration::from_secs(60),
        |s| {
            s.chunkservers.iter().any(|x| x.id == victim && !x.alive)
                && s.chunks.under_replicated == 0
                && s.chunks.missing == 0
        },
    )
    .await;
    for f in ["/t/a", "/t/b"] {
        wait_for(
            &format!("{f}: 3 live replicas off the killed server"),
            Duration::from_secs(30),
            || async {
                c.file_info(f)
                    .await
                    .chunks
                    .iter()
                    .all(|ch| ch.live_replicas.len() == 3 && !ch.live_replicas.contains(&victim))
            },
        )
        .await;
    }

    phase!("kill -9 the leader: the group elects another over TLS");
    let l = c.leader_index().await;
    c.kill_master_at(l);
    let cdata = random_bytes(1 << 20, 3);
    cl.put_bytes("/t/c", cdata.clone().into()).await.unwrap();
    c.start_master_at(l).await;
    for (f, d) in [("/t/a", &a), ("/t/b", &b), ("/t/c", &cdata)] {
        assert_eq!(sha256(&cl.get_bytes(f).await.unwrap()), sha256(d), "{f}");
    }
}

/// The listeners refuse plain HTTP, a client without a certificate and one whose
/// certificate comes from another CA; the cluster's own client certificate works.
#[tokio::test(flavor = "multi_thread")]
async fn strangers_are_refused() {
    let c = TestCluster::builder()
        .tls()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let tls = c.tls().unwrap().clone();
    let leader = c.leader_url().await;
    let addr = leader.trim_start_matches("https://").to_string();
    let cs = c.chunkserver_addr(0);
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(tls.node.join("ca.pem")).unwrap()).unwrap();

    phase!("the cluster's client certificate is accepted");
    let r = c
        .http()
        .get(format!("{leader}/health"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let other = c.root().join("other");
    ferrofs_tls::ca::init(&other.join("ca")).unwrap();
    ferrofs_tls::ca::issue(
        &other.join("ca"),
        &other.join("client"),
        "intruder",
        &["127.0.0.1".into()],
    )
    .unwrap();
    for target in [addr.clone(), cs.clone()] {
        phase!("{target}: plain HTTP gets no answer");
        let plain = reqwest::Client::new();
        let r = plain.get(format!("http://{target}/health")).send().await;
        assert!(r.is_err(), "plain HTTP answered: {r:?}");

        phase!("{target}: TLS without a client certificate is refused");
        let anon = reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .build()
            .unwrap();
        let r = anon.get(format!("https://{target}/health")).send().await;
        assert!(r.is_err(), "no client certificate, yet: {r:?}");

        phase!("{target}: a certificate from another CA is refused");
        let mut pem = std::fs::read(other.join("client/cert.pem")).unwrap();
        pem.extend(std::fs::read(other.join("client/key.pem")).unwrap());
        let intruder = reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .identity(reqwest::Identity::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let r = intruder
            .get(format!("https://{target}/health"))
            .send()
            .await;
        assert!(r.is_err(), "a foreign certificate, yet: {r:?}");
    }
}
