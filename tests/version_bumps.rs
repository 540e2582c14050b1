//! A replica that applied a version bump but died before answering (killed at that
//! instant, or its reply lost) must never come back as a current replica: it missed the
//! data the new lease holder wrote. The master bumps the replicas that did answer once
//! more, so the doubtful copy is a version behind. Found by the chaos test as reads of
//! zeros; here it is made to happen deterministically with the chunkserver's
//! `FERROFS_FAULT_EXIT_AFTER_BUMP` hook.

mod common;

use bytes::Bytes;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_bump_without_reply_leaves_the_replica_stale() {
    let mut c = TestCluster::builder().chunkservers(3).start().await;
    let client = c.client();
    let old = random_bytes(300_000, 1);
    client
        .put_bytes("/f", Bytes::from(old.clone()))
        .await
        .unwrap();
    let before = c.file_info("/f").await.chunks[0].clone();
    assert_eq!(before.live_replicas.len(), 3);

    phase!("chunkserver 2 now exits right after applying a bump, before replying");
    c.set_chunkserver_env(2, &[("FERROFS_FAULT_EXIT_AFTER_BUMP", "1")]);
    c.start_chunkserver_again(2).await;
    let cs2 = c.chunkserver_id(2);
    c.wait_until("chunkserver 2 back", Duration::from_secs(20), |s| {
        s.chunkservers.iter().any(|x| x.id == cs2 && x.alive)
    })
    .await;
    wait_for(
        "chunkserver 2 holds the chunk again",
        Duration::from_secs(20),
        || async {
            c.file_info("/f").await.chunks[0]
                .live_replicas
                .contains(&cs2)
        },
    )
    .await;

    // A lease keeps the chunk's version when every replica is current and nothing was
    // copied; a master that just took over cannot know that, so its first lease bumps.
    phase!("restart the master: its first lease on the chunk bumps the version");
    c.restart_master().await;
    c.wait_until("every chunkserver reported", Duration::from_secs(20), |s| {
        !s.safe_mode && s.chunkservers.iter().filter(|x| x.alive).count() == 3
    })
    .await;

    phase!("overwrite: the lease bumps every holder; chunkserver 2 dies mid-bump");
    let new = random_bytes(300_000, 2);
    let ino = client.resolve("/f").await.unwrap().ino;
    client
        .write_at(ino, 0, Bytes::from(new.clone()))
        .await
        .unwrap();
    // Durable, and closed: the lease ends (so the chunk may be re-replicated).
    client.sync_chunks(ino, &[0]).await.unwrap();
    client
        .close(ino, new.len() as u64, None, true)
        .await
        .unwrap();
    c.wait_until("chunkserver 2 gone", Duration::from_secs(20), |s| {
        s.chunkservers.iter().any(|x| x.id == cs2 && !x.alive)
    })
    .await;
    let after = c.file_info("/f").await.chunks[0].clone();
    assert_eq!(after.id, before.id);
    // Left behind: chunkserver 2 has the bumped-to version at most, never the current.
    let on_disk = c.chunks_on_disk(2);
    let cs2_version = on_disk
        .iter()
        .find(|d| d.id == before.id)
        .map(|d| d.version)
        .expect("chunkserver 2 still has a copy");
    assert!(
        cs2_version < after.version,
        "chunkserver 2 applied version {cs2_version} without the data, and the chunk's \
         current version is {}: it would pass for a current replica",
        after.version
    );

    phase!("chunkserver 2 returns; every copy at the current version has the new data");
    c.set_chunkserver_env(2, &[]);
    c.start_chunkserver_again(2).await;
    c.wait_until("healed, chunkserver 2 back", Duration::from_secs(30), |s| {
        s.chunkservers.iter().all(|x| x.alive) && s.chunks.under_replicated == 0
    })
    .await;
    let current = c.file_info("/f").await.chunks[0].version;
    for i in 0..3 {
        let p = c.chunk_file(i, before.id, current);
        if let Ok(bytes) = std::fs::read(&p) {
            assert_eq!(
                sha256(&bytes[..new.len().min(bytes.len())]),
                sha256(&new),
                "chunkserver {i} holds stale bytes under the current version {current}"
            );
        }
    }
    for _ in 0..10 {
        client.invalidate(ino);
        assert_eq!(sha256(&client.get_bytes("/f").await.unwrap()), sha256(&new));
    }
}
