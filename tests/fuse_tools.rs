//! Everyday tools on a `ferrofs mount`: `cp -a` + `diff -r` of a tree of ~2,000 files,
//! `git clone` + `git fsck` + a commit, `tar` round trips, and `rsync -a` when installed.

mod common;
use common::*;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const CHUNK: usize = 1 << 20;

/// The harness kills every mount process of the test binary when any cluster drops,
/// so tests that mount run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .chunkservers(3)
        .chunk_size(CHUNK as u64)
        .start()
        .await
}

/// Run a command; panic with its output if it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(script: &str) -> String {
    run(Command::new("sh").args(["-c", script]))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tree of `files` files in nested directories: mostly small, some of 1 to 3
/// chunks, with symlinks, an empty directory and varied modes. Returns total bytes.
fn make_tree(root: &Path, files: usize) -> u64 {
    let mut total = 0;
    for i in 0..files {
        let dir = root.join(format!("d{:02}/s{}", i % 20, i % 3));
        fs::create_dir_all(&dir).unwrap();
        let len = match i % 50 {
            0 => CHUNK + (i * 7919) % (2 * CHUNK), // 1 to 3 chunks
            1 => CHUNK,
            2 => 0,
            _ => (i * 131) % 20_000,
        };
        let p = dir.join(format!("file-{i:05}.dat"));
        fs::write(&p, random_bytes(len, i as u64)).unwrap();
        if i % 7 == 0 {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        }
        if i % 97 == 0 {
            std::os::unix::fs::symlink(format!("file-{i:05}.dat"), dir.join(format!("link-{i}")))
                .unwrap();
        }
        total += len as u64;
    }
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    total
}

/// `cp -a` of ~2,000 files of mixed sizes into the mount, `diff -r` against the
/// source, modes and mtimes preserved; then a copy back out compares equal too.
#[tokio::test(flavor = "multi_thread")]
async fn cp_a_and_diff_r() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let src = tempfile::tempdir().unwrap();
    let total = make_tree(src.path(), 2000);
    phase!("cp -a {} MiB in 2000 files", total >> 20);
    let t = std::time::Instant::now();
    let dst = mnt.join("copy");
    run(Command::new("cp").arg("-a").arg(src.path()).arg(&dst));
    phase!("copied in {:?}", t.elapsed());
    run(Command::new("diff").arg("-r").arg(src.path()).arg(&dst));
    for rel in [
        "d00/s0/file-00000.dat",
        "d07/s1/file-00007.dat",
        "d01/s1/file-00001.dat",
    ] {
        let (a, b) = (
            fs::metadata(src.path().join(rel)).unwrap(),
            fs::metadata(dst.join(rel)).unwrap(),
        );
        assert_eq!(a.mode(), b.mode(), "{rel}");
        assert_eq!(
            (a.mtime(), a.mtime_nsec()),
            (b.mtime(), b.mtime_nsec()),
            "{rel}"
        );
        assert_eq!(a.len(), b.len(), "{rel}");
    }
    assert!(
        fs::symlink_metadata(dst.join("d00/s0/link-0"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(dst.join("empty/dir").is_dir());

    phase!("copy back out");
    let back = tempfile::tempdir().unwrap();
    run(Command::new("cp")
        .arg("-a")
        .arg(&dst)
        .arg(back.path().join("c")));
    run(Command::new("diff")
        .arg("-r")
        .arg(src.path())
        .arg(back.path().join("c")));
}

/// `git clone` of a local repository into the mount passes `git fsck`, and a commit
/// made inside the mount works.
#[tokio::test(flavor = "multi_thread")]
async fn git_clone_and_fsck() {
    if !have("git") {
        eprintln!("NOTE: git is not installed; skipping git_clone_and_fsck");
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path().display().to_string();
    let git = "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main";
    sh(&format!("{git} init -q {r}"));
    for i in 0..5 {
        let dir = repo.path().join(format!("src{i}"));
        fs::create_dir_all(&dir).unwrap();
        for j in 0..20 {
            fs::write(
                dir.join(format!("f{j}.txt")),
                random_bytes(100 + j * 1000 + i, (i * 100 + j) as u64),
            )
            .unwrap();
        }
        fs::write(
            repo.path().join("big.bin"),
            random_bytes(CHUNK + i * 1000, i as u64),
        )
        .unwrap();
        sh(&format!(
            "cd {r} && {git} add -A && {git} commit -q -m 'commit {i}'"
        ));
    }
    sh(&format!("cd {r} && {git} gc -q"));

    phase!("git clone into the mount");
    let clone = mnt.join("clone");
    let cl = clone.display().to_string();
    sh(&format!("{git} clone -q --no-local {r} {cl}"));
    sh(&format!("{git} -C {cl} fsck --full --strict"));
    let n = sh(&format!("{git} -C {cl} rev-list --count HEAD"));
    assert_eq!(n.trim(), "5");
    run(Command::new("diff")
        .arg("-r")
        .arg("--exclude=.git")
        .arg(repo.path())
        .arg(&clone));

    phase!("commit inside the mount");
    fs::write(clone.join("new.txt"), b"made on ferrofs\n").unwrap();
    sh(&format!(
        "cd {cl} && {git} add new.txt && {git} commit -q -m inside && {git} gc -q"
    ));
    sh(&format!("{git} -C {cl} fsck --full --strict"));
    assert_eq!(
        sh(&format!("{git} -C {cl} rev-list --count HEAD")).trim(),
        "6"
    );
    assert_eq!(sh(&format!("{git} -C {cl} status --porcelain")).trim(), "");
}

/// `tar c | tar x` into the mount and back out reproduces the tree.
#[tokio::test(flavor = "multi_thread")]
async fn tar_round_trip() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path(), 300);
    let s = src.path().display().to_string();
    let into = mnt.join("untarred");
    fs::create_dir(&into).unwrap();
    let i = into.display().to_string();
    sh(&format!("tar cf - -C {s} . | tar xpf - -C {i}"));
    run(Command::new("diff").arg("-r").arg(src.path()).arg(&into));
    phase!("tar out of the mount");
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    sh(&format!("tar cf - -C {i} . | tar xpf - -C {o}"));
    run(Command::new("diff")
        .arg("-r")
        .arg(src.path())
        .arg(out.path()));
}

/// `rsync -a` into the mount, then a second run transfers nothing.
#[tokio::test(flavor = "multi_thread")]
async fn rsync_archive() {
    if !have("rsync") {
        eprintln!("NOTE: rsync is not installed; skipping rsync_archive");
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path(), 300);
    let s = format!("{}/", src.path().display());
    let d = mnt.join("synced");
    run(Command::new("rsync").arg("-a").arg(&s).arg(&d));
    run(Command::new("diff").arg("-r").arg(src.path()).arg(&d));
    let again = run(Command::new("rsync")
        .arg("-a")
        .arg("--itemize-changes")
        .arg(&s)
        .arg(&d));
    assert_eq!(again.trim(), "", "second rsync should find nothing to do");
}
