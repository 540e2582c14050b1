//! The CLI's `hdfs dfs`/coreutils habits against a real cluster: `ls -l` with names
//! and times (`-n`, `-h`, `--json`), `stat` times, `du`, `df`, `chmod`, `chown`, `touch`,
//! `tail [-f]`, `cp [-r]`, `rm -r` of a big tree, and `put`/`get` of directory trees.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn cli(c: &TestCluster, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("FERROFS_MASTER", c.master_url())
        .output()
        .expect("run ferrofs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn ok(c: &TestCluster, args: &[&str]) -> String {
    let (good, out, err) = cli(c, args);
    assert!(good, "ferrofs {args:?} failed: {err}");
    out
}

/// A `Mon DD HH:MM` or `Mon DD  YYYY` time as `ls -l` prints it.
fn has_ls_time(line: &str) -> bool {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    months.iter().any(|m| line.contains(&format!(" {m} "))) && line.contains(':')
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_stat_du_df() {
    let c = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .start()
        .await;
    let cl = c.client();
    cl.mkdir_p("/p/sub").await.unwrap();
    cl.put_bytes("/p/one.bin", random_bytes(1536, 1).into())
        .await
        .unwrap();
    cl.put_bytes("/p/sub/two.bin", random_bytes(3 << 20, 2).into())
        .await
        .unwrap();
    phase!("ls -l: names, times; -n numbers; -h sizes");
    let out = ok(&c, &["ls", "-l", "/p"]);
    let line = out.lines().find(|l| l.ends_with("one.bin")).expect(&out);
    assert!(line.starts_with("-rw-r--r--"), "{line}");
    assert!(line.contains(" root     root "), "owner names: {line}");
    assert!(line.contains(" 1536 "), "{line}");
    assert!(has_ls_time(line), "human time: {line}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("drwxr-xr-x") && l.ends_with(" sub")),
        "{out}"
    );
    let out = ok(&c, &["ls", "-ln", "/p"]);
    assert!(out.contains(" 0        0 "), "numeric ids: {out}");
    let out = ok(&c, &["ls", "-lh", "/p/sub"]);
    assert!(out.contains(" 3.0M "), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(&c, &["ls", "--json", "/p"])).unwrap();
    let one = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/p/one.bin")
        .expect("entry");
    assert_eq!(
        (
            one["size"].as_u64(),
            one["owner"].as_str(),
            one["mode"].as_str()
        ),
        (Some(1536), Some("root"), Some("0644"))
    );
    phase!("stat shows human times");
    let out = ok(&c, &["stat", "/p/one.bin"]);
    let year = out.lines().find(|l| l.starts_with("modify: ")).expect(&out);
    assert!(
        year.len() > 30 && year.contains('-') && year.contains(':'),
        "{year}"
    );
    assert!(out.contains("owner: root (0)"), "{out}");
    phase!("du: per entry, -s, -h, --json");
    let out = ok(&c, &["du", "/p"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("1536 ") && l.contains("3072") && l.ends_with("/p/one.bin")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{} ", 3 << 20)) && l.ends_with("/p/sub")),
        "{out}"
    );
    let out = ok(&c, &["du", "-s", "-h", "/p"]);
    assert!(
        out.starts_with("3.0M") && out.trim_end().ends_with("/p"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&c, &["du", "-s", "--json", "/p"])).unwrap();
    assert_eq!(v[0]["bytes"], 1536 + (3 << 20));
    assert_eq!(v[0]["files"], 2);
    phase!("df");
    let out = ok(&c, &["df", "-h"]);
    assert!(
        out.contains("Filesystem") && out.contains(&c.master_url()),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&c, &["df", "--json"])).unwrap();
    assert!(v["capacity_bytes"].as_u64().unwrap() > 0);
    let (good, _, err) = cli(&c, &["du", "/nope"]);
    assert!(!good && err.contains("no such file"), "{err}");

    phase!("a reader that stops early (| head) ends the CLI quietly, no panic");
    for args in [
        &["admin", "status", "--json"][..],
        &["ls", "-l", "/p"],
        &["cat", "/p/sub/two.bin"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .env("FERROFS_MASTER", c.master_url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the pipe's reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "ferrofs {args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "ferrofs {args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chmod_chown_touch_tail_cp() {
    let c = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .start()
        .await;
    let cl = c.client();
    cl.mkdir_p("/q/t/deep").await.unwrap();
    cl.put_bytes(
        "/q/f.txt",
        bytes::Bytes::from_static(b"line one\nline two\n"),
    )
    .await
    .unwrap();
    cl.put_bytes("/q/t/deep/x.bin", random_bytes(2 << 20, 3).into())
        .await
        .unwrap();
    phase!("chmod octal and symbolic, -R");
    ok(&c, &["chmod", "750", "/q/f.txt"]);
    assert_eq!(cl.resolve("/q/f.txt").await.unwrap().mode, 0o750);
    ok(&c, &["chmod", "o+r,g-x", "/q/f.txt"]);
    assert_eq!(cl.resolve("/q/f.txt").await.unwrap().mode, 0o744);
    ok(&c, &["chmod", "-R", "go-rx", "/q/t"]);
    assert_eq!(cl.resolve("/q/t/deep").await.unwrap().mode, 0o700);
    let (good, _, err) = cli(&c, &["chmod", "u*x", "/q/f.txt"]);
    assert!(!good && err.contains("invalid mode"), "{err}");
    phase!("chown names and numbers");
    ok(&c, &["chown", "nobody:65534", "/q/f.txt"]);
    let a = cl.resolve("/q/f.txt").await.unwrap();
    assert_eq!((a.uid, a.gid), (65534, 65534));
    ok(&c, &["chown", "-R", ":7", "/q/t"]);
    assert_eq!(cl.resolve("/q/t/deep/x.bin").await.unwrap().gid, 7);
    phase!("touch new and existing");
    ok(&c, &["touch", "/q/new"]);
    assert_eq!(cl.resolve("/q/new").await.unwrap().size, 0);
    let before = cl.resolve("/q/f.txt").await.unwrap().mtime;
    wait_for(
        "the clock passed the file's mtime",
        Duration::from_secs(5),
        || async { ferrofs_proto::namespace::Timespec::now() > before },
    )
    .await;
    ok(&c, &["touch", "/q/f.txt"]);
    assert!(cl.resolve("/q/f.txt").await.unwrap().mtime > before);
    phase!("tail -c and tail -f");
    assert_eq!(ok(&c, &["tail", "-c", "9", "/q/f.txt"]), "line two\n");
    // `tail -f -c 9` prints the last line first: once that is out, it is following, and
    // the append cannot slip in before it looked at the file's size.
    let mut child = Command::new(BIN)
        .args(["tail", "-f", "-c", "9", "/q/f.txt"])
        .env("FERROFS_MASTER", c.master_url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (started, following) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let mut announced = false;
        while !String::from_utf8_lossy(&got).contains("appended") {
            match std::io::Read::read(&mut stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if !announced && got.ends_with(b"line two\n") {
                announced = true;
                let _ = started.send(());
            }
        }
        String::from_utf8_lossy(&got).to_string()
    });
    tokio::task::spawn_blocking(move || following.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("tail -f printed the last line within 20 s");
    let a = cl.resolve("/q/f.txt").await.unwrap();
    cl.write_stream(a.ino, a.size, &b"appended\n"[..], true)
        .await
        .unwrap();
    let got = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || reader.join().unwrap()),
    )
    .await
    .expect("tail -f printed the appended line within 20 s")
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, "line two\nappended\n");
    phase!("cp a file into a directory, cp -r a tree, no cp into itself");
    ok(&c, &["cp", "/q/f.txt", "/q/t"]);
    assert_eq!(
        &cl.get_bytes("/q/t/f.txt").await.unwrap()[..],
        b"line one\nline two\nappended\n"
    );
    ok(&c, &["cp", "-r", "/q/t", "/copy"]);
    assert_eq!(
        sha256(&cl.get_bytes("/copy/deep/x.bin").await.unwrap()),
        sha256(&random_bytes(2 << 20, 3))
    );
    let (good, _, err) = cli(&c, &["cp", "/q/t", "/x"]);
    assert!(!good && err.contains("cp -r"), "{err}");
    let (good, _, err) = cli(&c, &["cp", "-r", "/q", "/q/t/inner"]);
    assert!(!good && err.contains("into itself"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn trees_put_get_and_rm_r() {
    let c = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .start()
        .await;
    let cl = c.client();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut want = vec![];
    for i in 0..40 {
        let p = src.join(format!("d{}/e{}/f{i}.bin", i % 3, i % 5));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let data = random_bytes(1000 + i * 5000, i as u64);
        std::fs::write(&p, &data).unwrap();
        want.push((format!("d{}/e{}/f{i}.bin", i % 3, i % 5), data));
    }
    std::fs::create_dir_all(src.join("empty")).unwrap();
    phase!("put a directory tree");
    ok(&c, &["put", src.to_str().unwrap(), "/tree"]);
    for (rel, data) in &want {
        assert_eq!(
            sha256(&cl.get_bytes(&format!("/tree/{rel}")).await.unwrap()),
            sha256(data),
            "{rel}"
        );
    }
    assert!(
        cl.resolve("/tree/empty").await.is_ok(),
        "empty directories come along"
    );
    phase!("get -r it back");
    let back = tmp.path().join("back");
    ok(&c, &["get", "-r", "/tree", back.to_str().unwrap()]);
    for (rel, data) in &want {
        assert_eq!(&std::fs::read(back.join(rel)).unwrap(), data, "{rel}");
    }
    phase!("rm -r of a tree of 300 entries");
    for d in 0..7 {
        cl.mkdir_p(&format!("/tree/many/{d}")).await.unwrap();
    }
    for i in 0..250 {
        cl.put_bytes(&format!("/tree/many/{}/{i}", i % 7), bytes::Bytes::new())
            .await
            .unwrap();
    }
    ok(&c, &["rm", "-r", "/tree"]);
    assert!(cl.resolve("/tree").await.is_err());
}
