//! Cluster core: round trips, replication, namespace commands, failures, bad input.

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::namespace::FileKind;
use std::time::Duration;

const MIB: usize = 1 << 20;

/// Files of 0 B, 1 B, chunk-1, chunk, chunk+1 and 50 MiB round-trip bit-exact, and every
/// chunk has 3 replicas on 3 distinct chunkservers whose on-disk bytes match.
#[tokio::test(flavor = "multi_thread")]
async fn round_trips_and_replication() {
    let cluster = TestCluster::builder().chunkservers(3).start().await;
    let c = cluster.client();
    let sizes = [0, 1, MIB - 1, MIB, MIB + 1, 50 * MIB];
    for (i, size) in sizes.iter().enumerate() {
        phase!("put/get {size} bytes");
        let data = random_bytes(*size, i as u64);
        let path = format!("/f{i}");
        let attr = c.put_bytes(&path, Bytes::from(data.clone())).await.unwrap();
        assert_eq!(attr.size, *size as u64);
        let back = c.get_bytes(&path).await.unwrap();
        assert_eq!(back.len(), data.len());
        assert_eq!(sha256(&back), sha256(&data), "content of {path}");
    }
    phase!("check placement of every chunk");
    let ids: Vec<String> = (0..3).map(|i| cluster.chunkserver_id(i)).collect();
    for (i, size) in sizes.iter().enumerate() {
        let info: ferrofs_proto::admin::FileInfo =
            reqwest::get(format!("{}/api/v1/files?path=/f{i}", cluster.master_url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(info.size, *size as u64);
        assert_eq!(info.chunks.len(), size.div_ceil(MIB));
        for ch in &info.chunks {
            let mut reps = ch.replicas.clone();
            reps.sort();
            reps.dedup();
            assert_eq!(reps.len(), 3, "chunk {} replicas {:?}", ch.id, ch.replicas);
            // The bytes on each chunkserver's disk are identical.
            let mut contents = vec![];
            for (n, id) in ids.iter().enumerate() {
                assert!(ch.replicas.contains(id));
                let p = cluster.chunk_file(n, ch.id, ch.version);
                contents.push(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
            }
            assert!(
                contents.windows(2).all(|w| w[0] == w[1]),
                "replicas of chunk {} differ",
                ch.id
            );
        }
    }
}

/// Many files in nested directories, listed and read back; mv, rm, rm -r, mkdir -p.
#[tokio::test(flavor = "multi_thread")]
async fn namespace_operations() {
    let cluster = TestCluster::builder().chunkservers(3).start().await;
    let c = cluster.client();
    phase!("nested tree");
    c.mkdir_p("/a/b/c").await.unwrap();
    c.mkdir_p("/a/b/c").await.unwrap(); // idempotent
    for d in 0..5 {
        c.mkdir_p(&format!("/t/d{d}")).await.unwrap();
        for f in 0..20 {
            let data = format!("file {d}/{f}");
            c.put_bytes(&format!("/t/d{d}/f{f}"), Bytes::from(data))
                .await
                .unwrap();
        }
    }
    let root = c.resolve("/t").await.unwrap();
    let dirs = c.readdir_all(root.ino).await.unwrap();
    assert_eq!(dirs.len(), 5);
    assert_eq!(root.nlink, 2 + 5);
    for d in 0..5 {
        let a = c.resolve(&format!("/t/d{d}")).await.unwrap();
        let files = c.readdir_all(a.ino).await.unwrap();
        assert_eq!(files.len(), 20);
        for f in [0, 7, 19] {
            let got = c.get_bytes(&format!("/t/d{d}/f{f}")).await.unwrap();
            assert_eq!(got, Bytes::from(format!("file {d}/{f}")));
        }
    }
    phase!("errors");
    let e = c.mkdir("/a", 0o755).await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::AlreadyExists), "{e}");
    let e = c.resolve("/nope/x").await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::NotFound), "{e}");
    let e = c.mkdir("/t/d0/f0/x", 0o755).await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::NotADirectory), "{e}");
    let e = c.remove("/t").await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::NotEmpty), "{e}");
    let e = c.get_bytes("/t").await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::IsADirectory), "{e}");

    phase!("mv");
    c.rename_path("/t/d0/f0", "/t/d1/moved").await.unwrap();
    assert_eq!(
        c.get_bytes("/t/d1/moved").await.unwrap(),
        Bytes::from("file 0/0")
    );
    assert!(c.resolve("/t/d0/f0").await.is_err());
    c.rename_path("/t/d1/moved", "/a").await.unwrap(); // into a directory
    assert_eq!(
        c.get_bytes("/a/moved").await.unwrap(),
        Bytes::from("file 0/0")
    );
    c.rename_path("/t/d2", "/a/b").await.unwrap();
    assert_eq!(
        c.get_bytes("/a/b/d2/f3").await.unwrap(),
        Bytes::from("file 2/3")
    );
    let e = c.rename_path("/a", "/a/b/c/inside").await.unwrap_err();
    assert!(e.is(ferrofs_proto::ErrorCode::InvalidArgument), "{e}");
    phase!("overwrite via put");
    c.put_bytes("/a/moved", Bytes::from_static(b"new"))
        .await
        .unwrap();
    assert_eq!(
        c.get_bytes("/a/moved").await.unwrap(),
        Bytes::from_static(b"new")
    );
    phase!("rm and rm -r");
    c.remove("/a/moved").await.unwrap();
    assert!(c.resolve("/a/moved").await.is_err());
    let n = c.remove_all("/t").await.unwrap();
    assert_eq!(n, 19 + 20 * 3 + 4 + 1);
    assert!(c.resolve("/t").await.is_err());
    let st = cluster.status().await;
    let _ = st;
}

/// The CLI: put/get/cat/ls/stat/mkdir/rm/mv print what a user expects and fail with a
/// clear one-line message and a non-zero exit.
#[tokio::test(flavor = "multi_thread")]
async fn cli_commands() {
    let cluster = TestCluster::builder().chunkservers(3).start().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let data = random_bytes(3 * MIB + 17, 9);
    std::fs::write(&src, &data).unwrap();
    let url = cluster.master_url();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("FERROFS_MASTER", &url)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(run(&["mkdir", "-p", "/x/y"]).0);
    let (ok, _, err) = run(&["put", src.to_str().unwrap(), "/x/y/data.bin"]);
    assert!(ok, "{err}");
    let dst = dir.path().join("back.bin");
    assert!(run(&["get", "/x/y/data.bin", dst.to_str().unwrap()]).0);
    assert_eq!(sha256(&std::fs::read(&dst).unwrap()), sha256(&data));
    let (_, out, _) = run(&["ls", "/x/y"]);
    assert_eq!(out.trim(), "data.bin");
    let (_, out, _) = run(&["ls", "-l", "/x/y"]);
    assert!(out.contains(&format!("{}", data.len())), "{out}");
    let (ok, out, _) = run(&["stat", "/x/y/data.bin"]);
    assert!(ok && out.contains("chunk    3"), "{out}");
    let (ok, out, _) = run(&["cat", "/x/y/data.bin"]);
    assert!(ok);
    assert_eq!(out.len(), String::from_utf8_lossy(&data).len());
    assert!(run(&["mv", "/x/y/data.bin", "/x/z.bin"]).0);
    let (ok, _, err) = run(&["get", "/x/y/data.bin", "/dev/null"]);
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "ferrofs: /x/y/data.bin: no such file or directory"
    );
    let (ok, _, err) = run(&["mkdir", "/x"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&["rm", "/x"]);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = run(&["mkdir", "/x/z.bin/sub"]);
    assert!(!ok && err.contains("not a directory"), "{err}");
    assert!(run(&["rm", "-r", "/x"]).0);
    let (ok, out, _) = run(&["admin", "status"]);
    assert!(ok && out.contains("chunks:"), "{out}");
    let (ok, out, _) = run(&["admin", "status", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chunkservers"].as_array().unwrap().len(), 3);
    phase!("unreachable master");
    let out = std::process::Command::new(BIN)
        .args(["ls", "/", "--master", "http://127.0.0.1:1"])
        .env("FERROFS_MASTER", "http://127.0.0.1:1")
        .env("FERROFS_MASTER_TIMEOUT", "1s")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no master quorum (reached: http://127.0.0.1:1 unreachable"),
        "{err}"
    );
}

/// Kill -9 one chunkserver: every file still reads back bit-exact. Kill -9 and restart
/// the master: every file is still there.
#[tokio::test(flavor = "multi_thread")]
async fn survives_chunkserver_and_master_kill() {
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let c = cluster.client();
    let mut files = vec![];
    for i in 0..6 {
        let data = random_bytes(MIB * i + 1234, 100 + i as u64);
        let p = format!("/k/file{i}");
        c.mkdir_p("/k").await.unwrap();
        c.put_bytes(&p, Bytes::from(data.clone())).await.unwrap();
        files.push((p, sha256(&data)));
    }
    phase!("kill -9 chunkserver 1");
    cluster.kill_chunkserver(1);
    for (p, h) in &files {
        assert_eq!(
            &sha256(&c.get_bytes(p).await.unwrap()),
            h,
            "{p} after chunkserver kill"
        );
    }
    phase!("kill -9 and restart master");
    cluster.restart_master().await;
    let c = cluster.client();
    for (p, h) in &files {
        assert_eq!(
            &sha256(&c.get_bytes(p).await.unwrap()),
            h,
            "{p} after master restart"
        );
    }
    phase!("write after master restart");
    c.put_bytes("/k/after", Bytes::from_static(b"after restart"))
        .await
        .unwrap();
    assert_eq!(
        c.get_bytes("/k/after").await.unwrap(),
        Bytes::from_static(b"after restart")
    );
    let root = c.resolve("/k").await.unwrap();
    assert_eq!(root.kind, FileKind::Dir);
    assert_eq!(c.readdir_all(root.ino).await.unwrap().len(), 7);
    let _ = Duration::from_secs(0);
}

/// The annotated example config (etc/ferrofs.toml) is accepted by both roles.
#[tokio::test(flavor = "multi_thread")]
async fn example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/ferrofs.toml");
    for role in ["master", "chunkserver"] {
        let addr_file = dir.path().join(format!("{role}.addr"));
        let mut child = std::process::Command::new(BIN)
            .args([role, "--config", cfg, "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join(role))
            .arg("--addr-file")
            .arg(&addr_file)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !addr_file.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("{role} rejected etc/ferrofs.toml ({status}): {err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{role} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
