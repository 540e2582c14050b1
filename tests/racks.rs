//! Rack-aware placement: chunkservers name their rack (`--rack`), the master keeps every
//! chunk's replicas in at least two racks when there are two, and a whole rack can fail
//! at once without losing a byte.

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::admin::Status;
use std::collections::HashMap;
use std::time::Duration;

const MIB: usize = 1 << 20;

/// Chunks of `files` whose current replicas sit in fewer than two racks.
async fn one_rack_chunks(c: &TestCluster, files: &[(String, String)]) -> Vec<String> {
    let s = c.status().await;
    let rack: HashMap<&str, &str> = s
        .chunkservers
        .iter()
        .map(|x| (x.id.as_str(), x.rack.as_str()))
        .collect();
    let mut out = vec![];
    for (p, _) in files {
        for ch in c.file_info(p).await.chunks {
            let mut racks: Vec<&str> = ch.replicas.iter().map(|r| rack[r.as_str()]).collect();
            racks.sort();
            racks.dedup();
            if racks.len() < 2 {
                out.push(format!("{p}#{} on {:?} ({racks:?})", ch.index, ch.replicas));
            }
        }
    }
    out
}

async fn verify(c: &ferrofs_client::Client, files: &[(String, String)]) {
    for (p, h) in files {
        let got = c.get_bytes(p).await.unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(&sha256(&got), h, "{p} differs");
    }
}

fn rack_ids(s: &Status, rack: &str) -> Vec<String> {
    s.chunkservers
        .iter()
        .filter(|x| x.rack == rack)
        .map(|x| x.id.clone())
        .collect()
}

/// Six chunkservers in racks a and b (three each), replication 3: the status and
/// `admin status` show each server's rack; every chunk spans both racks; killing all of
/// rack b at once loses nothing (every file reads back bit-exact at once), and the
/// chunks return to 3 replicas within rack a. A file written meanwhile sits in rack a
/// only; when rack b returns, it gets a copy there, the surplus is trimmed, and every
/// chunk ends at exactly 3 identical replicas spanning both racks.
#[tokio::test(flavor = "multi_thread")]
async fn a_whole_rack_fails() {
    let mut c = TestCluster::builder()
        .chunkservers(6)
        .racks(&["a", "a", "a", "b", "b", "b"])
        .start()
        .await;
    let s = c.status().await;
    assert_eq!(rack_ids(&s, "a").len(), 3, "{:?}", s.chunkservers);
    assert_eq!(rack_ids(&s, "b").len(), 3);
    let out = c.run_in(
        Node::Host,
        &["admin", "status", "--master", &c.master_url()],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RACK") && text.contains("  b"), "{text}");

    phase!("write 40 chunks: each spans both racks");
    let client = c.client();
    client.mkdir_p("/r").await.unwrap();
    let mut files = vec![];
    for i in 0..10 {
        let data = random_bytes(4 * MIB - 1000, i);
        let p = format!("/r/f{i}");
        client
            .put_bytes(&p, Bytes::from(data.clone()))
            .await
            .unwrap();
        files.push((p, sha256(&data)));
    }
    let bad = one_rack_chunks(&c, &files).await;
    assert!(bad.is_empty(), "chunks in one rack: {bad:?}");

    phase!("kill rack b (chunkservers 3, 4, 5) at once");
    for i in 3..6 {
        c.kill_chunkserver(i);
    }
    verify(&c.client(), &files).await;
    c.wait_until("healed within rack a", Duration::from_secs(60), |s| {
        s.chunkservers.iter().filter(|x| x.alive).count() == 3
            && s.chunks.under_replicated == 0
            && s.chunks.missing == 0
    })
    .await;
    let a = rack_ids(&c.status().await, "a");
    wait_for(
        "3 live replicas in rack a",
        Duration::from_secs(30),
        || async {
            for (p, _) in &files {
                for ch in c.file_info(p).await.chunks {
                    if ch.live_replicas.len() != 3
                        || !ch.live_replicas.iter().all(|r| a.contains(r))
                    {
                        return false;
                    }
                }
            }
            true
        },
    )
    .await;
    verify(&c.client(), &files).await;
    let data = random_bytes(2 * MIB, 99);
    client
        .put_bytes("/r/while-b-was-down", Bytes::from(data.clone()))
        .await
        .unwrap();
    files.push(("/r/while-b-was-down".into(), sha256(&data)));

    phase!("rack b returns: surplus trimmed, every chunk spans both racks again");
    for i in 3..6 {
        c.start_chunkserver_again(i).await;
    }
    c.wait_until(
        "rack b back, nothing over or under",
        Duration::from_secs(60),
        |s| {
            s.chunkservers.iter().filter(|x| x.alive).count() == 6
                && s.chunks.under_replicated == 0
                && s.chunks.over_replicated == 0
        },
    )
    .await;
    wait_for(
        "every chunk spans both racks",
        Duration::from_secs(60),
        || async { one_rack_chunks(&c, &files).await.is_empty() },
    )
    .await;
    wait_for(
        "every chunk at 3 identical replicas",
        Duration::from_secs(30),
        || async {
            for (p, _) in &files {
                if !c.file_at_goal(p, 3).await {
                    return false;
                }
            }
            true
        },
    )
    .await;
    verify(&c.client(), &files).await;
}

/// Decommissioning a server keeps the rack rule: with racks a (2 servers) and b (3),
/// draining one of rack a moves each of its replicas so that every chunk still spans
/// both racks (its copy goes to the other server of rack a whenever the chunk would
/// otherwise be left in rack b alone), nothing is under-replicated meanwhile, and the
/// server ends empty.
#[tokio::test(flavor = "multi_thread")]
async fn decommission_keeps_chunks_in_two_racks() {
    let c = TestCluster::builder()
        .chunkservers(5)
        .racks(&["a", "a", "b", "b", "b"])
        .start()
        .await;
    let client = c.client();
    client.mkdir_p("/d").await.unwrap();
    let mut files = vec![];
    for i in 0..8 {
        let data = random_bytes(3 * MIB, 200 + i);
        let p = format!("/d/f{i}");
        client
            .put_bytes(&p, Bytes::from(data.clone()))
            .await
            .unwrap();
        files.push((p, sha256(&data)));
    }
    assert!(one_rack_chunks(&c, &files).await.is_empty());
    let id = c.chunkserver_id(0);
    phase!("decommission {id} (rack a)");
    let out = c.run_in(
        Node::Host,
        &["admin", "decommission", &id, "--master", &c.master_url()],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    c.wait_until(&format!("{id} drained"), Duration::from_secs(60), |s| {
        assert_eq!(s.chunks.missing, 0, "{:?}", s.chunks);
        let cs = s.chunkservers.iter().find(|x| x.id == id).unwrap();
        cs.chunks == 0 && cs.state == ferrofs_proto::admin::CsState::Decommissioned
    })
    .await;
    wait_for(
        "every chunk at 3 replicas off the drained server, in both racks",
        Duration::from_secs(30),
        || async {
            for (p, _) in &files {
                for ch in c.file_info(p).await.chunks {
                    if ch.live_replicas.len() != 3 || ch.replicas.contains(&id) {
                        return false;
                    }
                }
            }
            one_rack_chunks(&c, &files).await.is_empty()
        },
    )
    .await;
    verify(&client, &files).await;
}
