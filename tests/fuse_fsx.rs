//! The randomized file-system exerciser `fsx` (crate `fsx` 0.3, installed by
//! scripts/install-deps.sh) against files in the mount: every operation kind fsx has
//! (pread/pwrite, mapped reads and writes, truncate up and down, posix_fallocate,
//! fsync, fdatasync, sendfile, copy_file_range, posix_fadvise, msync(MS_INVALIDATE),
//! close/open), checked against fsx's own model of each file after every step. Several
//! seeds run at once, each on its own file of one mount.
//!
//! Not weighted in: hole punching. fsx aborts on the EOPNOTSUPP the mount answers for
//! fallocate modes other than 0 instead of skipping the operation.
//!
//! `FSX_OPS` overrides the operation count, `FSX_SEEDS` (comma-separated) the seeds,
//! `FSX_CHUNK_SIZE` the cluster's chunk size in bytes (default 1 MiB: the 256 KiB file is
//! one chunk; 131072 makes it two); FERROFS_TEST_KEEP=1 keeps fsx's `.fsxgood` files and
//! the cluster's logs.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SEEDS: &[&str] = &["1", "2", "3", "4242", "20261124"];

/// fsx's configuration: a 256 KiB file, operations of 1 byte to 64 KiB, every kind but
/// punch_hole weighted in. (fsx 0.3.2 would issue zero-length posix_fallocates, which
/// every file system refuses with EINVAL, and then stops as if it were unsupported.)
const CONFIG: &str = "\
flen = 262144
[opsize]
min = 1
max = 65536
[weights]
close_open = 1
read = 10
write = 10
mapread = 10
mapwrite = 10
invalidate = 1
truncate = 10
fsync = 1
fdatasync = 1
posix_fallocate = 1
punch_hole = 0
sendfile = 1
posix_fadvise = 1
copy_file_range = 1
";

fn fsx_bin() -> Option<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let candidates = [
        PathBuf::from(home).join(".cargo/bin/fsx"),
        "/usr/local/bin/fsx".into(),
    ];
    candidates.into_iter().find(|p| p.exists())
}

/// Run fsx with `ops` operations for every seed at once, each on its own file in the
/// mount; panic with each failing seed's output.
async fn run_seeds(default_ops: u64) {
    let Some(fsx) = fsx_bin() else {
        if std::env::var_os("CI").is_some() {
            panic!("fsx missing in CI: scripts/install-deps.sh installs it");
        }
        eprintln!("fsx not installed: skipping (cargo install fsx)");
        return;
    };
    let ops = std::env::var("FSX_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_ops)
        .to_string();
    let seeds: Vec<String> = match std::env::var("FSX_SEEDS") {
        Ok(s) => s.split(',').map(|s| s.trim().to_string()).collect(),
        Err(_) => SEEDS.iter().map(|s| s.to_string()).collect(),
    };
    let chunk_size = std::env::var("FSX_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20);
    let mut cluster = TestCluster::builder()
        .chunkservers(3)
        .chunk_size(chunk_size)
        .start()
        .await;
    let mnt = cluster.mount().await;
    let work = cluster.root().join("fsx");
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("fsx.toml");
    std::fs::write(&config, CONFIG).unwrap();

    phase!(
        "fsx, {ops} operations for each of the seeds {seeds:?} at once ({chunk_size}-byte chunks)"
    );
    let start = Instant::now();
    let runs = seeds.iter().map(|seed| {
        let (fsx, config, ops) = (fsx.clone(), config.clone(), ops.clone());
        let file = mnt.join(format!("fsx-{seed}"));
        let artifacts = work.join(format!("seed-{seed}"));
        std::fs::create_dir_all(&artifacts).unwrap();
        async move {
            let out = tokio::process::Command::new(&fsx)
                .args(["-N", &ops, "-S", seed, "-f"])
                .arg(&config)
                .arg("-P")
                .arg(&artifacts)
                .arg(&file)
                .output()
                .await
                .expect("run fsx");
            (seed.clone(), out)
        }
    });
    let results = futures::future::join_all(runs).await;
    phase!("done in {:.0?}", start.elapsed());
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, out)| !out.status.success())
        .map(|(seed, out)| report(seed, out, &mnt.join(format!("fsx-{seed}"))))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

/// What a failed seed printed (its last lines: the miscompare and the operations before
/// it), and the file's size now.
fn report(seed: &str, out: &std::process::Output, file: &Path) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    // fsx's operation log lines are "[ERROR fsx] <step> <op> ..."; the rest say what broke.
    let is_log = |l: &str| {
        l.trim_start_matches("[ERROR fsx]")
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit())
    };
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !is_log(l))
        .take(12)
        .collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    let size = std::fs::metadata(file).map(|m| m.len());
    format!(
        "=== seed {seed}: {} (file size now {size:?})\n{}\n...\n{}",
        out.status,
        errors.join("\n"),
        tail.join("\n")
    )
}

/// 20,000 fsx operations per seed, every operation kind, five seeds at once: no
/// miscompare, no size error, no I/O error.
#[tokio::test(flavor = "multi_thread")]
async fn fsx_every_operation_kind() {
    run_seeds(20_000).await;
}

/// The soak run (scripts/fsx-soak.sh): 100,000 operations per seed.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "soak: about 25 minutes here; run by scripts/fsx-soak.sh"]
async fn fsx_every_operation_kind_soak() {
    run_seeds(100_000).await;
}
