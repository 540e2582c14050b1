//! The randomized file-system exerciser `fsx` (crate `fsx`, installed by
//! scripts/install-deps.sh) against a file in the mount: reads, writes, truncates and
//! mapped I/O, checked against fsx's own model of the file.

mod common;

use common::*;

fn fsx_bin() -> Option<std::path::PathBuf> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let candidates = [
        std::path::PathBuf::from(home).join(".cargo/bin/fsx"),
        "/usr/local/bin/fsx".into(),
    ];
    candidates.into_iter().find(|p| p.exists())
}

/// Several thousand fsx operations on one file (two seeds) complete without a mismatch.
#[tokio::test(flavor = "multi_thread")]
async fn fsx_random_operations() {
    let Some(fsx) = fsx_bin() else {
        if std::env::var_os("CI").is_some() {
            panic!("fsx missing in CI: scripts/install-deps.sh installs it");
        }
        eprintln!("fsx not installed: skipping (cargo install fsx)");
        return;
    };
    let mut cluster = TestCluster::builder()
        .chunkservers(3)
        .chunk_size(1 << 20)
        .start()
        .await;
    let mnt = cluster.mount().await;
    let ops = std::env::var("FSX_OPS").unwrap_or_else(|_| "3000".into());
    for seed in ["1", "20261124"] {
        phase!("fsx seed {seed}, {ops} operations");
        let file = mnt.join(format!("fsx-{seed}"));
        let artifacts = tempfile::tempdir().unwrap();
        let out = tokio::process::Command::new(&fsx)
            .args(["-N", &ops, "-S", seed, "-P"])
            .arg(artifacts.path())
            .arg(&file)
            .output()
            .await
            .expect("run fsx");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "fsx failed (seed {seed}):\n{stdout}\n{stderr}"
        );
    }
}
