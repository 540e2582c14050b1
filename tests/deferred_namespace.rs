//! Deferred creates and unlinks (the mount answers them at once where it knows the
//! outcome and sends them to the master in order, in batches): what they must keep.
//! Every later call of the mount finds them applied (a write's lease, a rename, a
//! readdir), other clients see them within moments without anything being synced, the
//! inode numbers the mount gave out are the ones the master keeps, fsync of the
//! directory and an unmount wait for them, and a refused one costs only itself.

mod common;

use common::*;
use ferrofs_proto::namespace::{CreateAtReq, CreateReq, FileKind, NsOp};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn names(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn deferred_operations_land_in_order_and_are_seen_elsewhere() {
    let mut cl = TestCluster::builder().chunkservers(3).start().await;
    let (a, b) = (cl.mount().await, cl.mount().await);
    let data = random_bytes(100_000, 7);

    phase!("mount A: a tree made and changed without waiting for the master");
    let (ta, d) = (a.join("t"), data.clone());
    let inos = tokio::task::spawn_blocking(move || {
        std::fs::create_dir(&ta).unwrap();
        std::fs::create_dir(ta.join("sub")).unwrap();
        for i in 0..300 {
            std::fs::File::create_new(ta.join(format!("sub/f{i}"))).unwrap();
        }
        // Data into a deferred file: its lease waits for the create.
        std::fs::write(ta.join("sub/data"), &d).unwrap();
        // A rename (a call of its own) after deferred creates finds them.
        std::fs::rename(ta.join("sub/f0"), ta.join("moved")).unwrap();
        // Unlink, then the same name again: applied in this order.
        std::fs::remove_file(ta.join("sub/f1")).unwrap();
        std::fs::File::create_new(ta.join("sub/f1")).unwrap();
        for i in 2..100 {
            std::fs::remove_file(ta.join(format!("sub/f{i}"))).unwrap();
        }
        let mut inos = vec![];
        for n in ["sub/f1", "sub/f150", "sub/data", "moved"] {
            inos.push((n, std::fs::metadata(ta.join(n)).unwrap().ino()));
        }
        inos
    })
    .await
    .unwrap();
    let mut want: BTreeSet<String> = (100..300).map(|i| format!("f{i}")).collect();
    want.extend(["f1".to_string(), "data".to_string()]);
    assert_eq!(names(&a.join("t/sub")), want, "mount A's own view");

    phase!("mount B sees the same tree without any sync on A");
    let sub_b = b.join("t/sub");
    wait_for(
        "mount B's listing of t/sub matches A's",
        Duration::from_secs(10),
        || {
            let (sub_b, want) = (sub_b.clone(), want.clone());
            async move { sub_b.exists() && names(&sub_b) == want }
        },
    )
    .await;
    assert!(b.join("t/moved").exists());
    assert_eq!(
        sha256(&std::fs::read(b.join("t/sub/data")).unwrap()),
        sha256(&data)
    );

    phase!("the inode numbers A gave out are the master's");
    let c = cl.client();
    for (n, ino) in inos {
        let attr = c.resolve(&format!("/t/{n}")).await.unwrap();
        assert_eq!(attr.ino, ino, "{n}: inode number on A vs the master");
    }

    phase!("unmounting right after more creates loses none of them");
    let ta = a.join("t");
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir(ta.join("late")).unwrap();
        for i in 0..1000 {
            std::fs::File::create_new(ta.join(format!("late/g{i}"))).unwrap();
        }
    })
    .await
    .unwrap();
    let path = std::ffi::CString::new(a.display().to_string()).unwrap();
    assert_eq!(unsafe { libc::umount2(path.as_ptr(), 0) }, 0, "umount A");
    let late = c.resolve("/t/late").await.unwrap().ino;
    // The mount process sends what is queued after the kernel let go of it.
    wait_for(
        "creates answered before the unmount to reach the master",
        Duration::from_secs(10),
        || {
            let c = c.clone();
            async move { c.readdir_all(late).await.unwrap().len() == 1000 }
        },
    )
    .await;
}

/// The client library's half, driven directly: a deferred create whose name another
/// call took first is reported to `on_fail`; the operations around it still land.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_deferred_create_costs_only_itself() {
    let cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let c = cl.client();
    let dir = c.mkdir("/d", 0o755).await.unwrap();
    c.put_bytes("/d/taken", bytes::Bytes::from_static(b"first"))
        .await
        .unwrap();
    let failed: Arc<Mutex<Vec<String>>> = Default::default();
    let f2 = failed.clone();
    c.master
        .start_deferred(Arc::new(move |op, _e| {
            if let NsOp::Create(cr) = op {
                f2.lock().unwrap().push(cr.create.name.clone());
            }
        }))
        .await;
    let create = |name: &str| {
        let op = |ino| {
            NsOp::Create(CreateAtReq {
                ino,
                create: CreateReq {
                    parent: dir.ino,
                    name: name.into(),
                    kind: FileKind::File,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    rdev: 0,
                    symlink_target: None,
                    exclusive: true,
                    replication: None,
                },
            })
        };
        c.master.defer_create(op).expect("a reserved inode number")
    };
    let a = create("a");
    create("taken");
    let z = create("z");
    c.master.barrier().await;
    assert_eq!(*failed.lock().unwrap(), vec!["taken".to_string()]);
    assert_eq!(c.resolve("/d/a").await.unwrap().ino, a);
    assert_eq!(c.resolve("/d/z").await.unwrap().ino, z);
    assert_eq!(&c.get_bytes("/d/taken").await.unwrap()[..], b"first");
}

/// Many threads creating at once, in one shared directory and in one each: every
/// create the mount answered is applied under the number it gave (numbers are taken
/// and queued together, so they reach the master in order).
#[tokio::test(flavor = "multi_thread")]
async fn parallel_deferred_creates_all_land() {
    let mut cl = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cl.mount().await;
    let (threads, per) = (8, 600);
    let root = mnt.join("p");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(root.join("shared")).unwrap();
    let mut handles = vec![];
    for t in 0..threads {
        let root = root.clone();
        handles.push(std::thread::spawn(move || {
            let own = root.join(format!("own{t}"));
            std::fs::create_dir(&own).unwrap();
            let mut inos = vec![];
            for i in 0..per {
                for (dir, name) in [
                    (&own, format!("f{i}")),
                    (&root.join("shared"), format!("t{t}-{i}")),
                ] {
                    let p = dir.join(&name);
                    std::fs::File::create_new(&p).unwrap();
                    inos.push((p, std::fs::metadata(dir.join(&name)).unwrap().ino()));
                }
            }
            inos
        }));
    }
    let inos: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    std::fs::File::open(&root).unwrap().sync_all().unwrap();
    let c = cl.client();
    let shared = c.resolve("/p/shared").await.unwrap().ino;
    assert_eq!(c.readdir_all(shared).await.unwrap().len(), threads * per);
    for t in 0..threads {
        let own = c.resolve(&format!("/p/own{t}")).await.unwrap().ino;
        assert_eq!(c.readdir_all(own).await.unwrap().len(), per, "own{t}");
    }
    // A sample of the numbers the mount gave out, against the master's.
    for (p, ino) in inos.iter().step_by(97) {
        let rel = p.strip_prefix(&mnt).unwrap().display().to_string();
        assert_eq!(
            c.resolve(&format!("/{rel}")).await.unwrap().ino,
            *ino,
            "{rel}"
        );
    }
}
