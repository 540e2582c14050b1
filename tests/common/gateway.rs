//! A `ferrofs gateway` process (S3 + WebHDFS) in front of a `TestCluster`, on ephemeral
//! ports, with its log in the cluster's directory; killed when dropped. Included by
//! the tests that need it with `#[path = "common/gateway.rs"] mod gateway;`.

#![allow(dead_code)]

use super::common::{BIN, TestCluster};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "ferrofs-test-key";
pub const SECRET_KEY: &str = "ferrofs-test-secret";

pub struct Gateway {
    child: Child,
    pub s3: String,
    pub webhdfs: String,
    pub log: PathBuf,
}

fn wait_file(p: &Path, what: &str, child: &mut Child, log: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && !s.is_empty()
        {
            return s;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "gateway exited ({st}) before {what} listened:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what} to listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Gateway {
    /// Start a gateway with the test key (and any extra flags) for `cluster`.
    pub fn start(cluster: &TestCluster, extra: &[&str]) -> Gateway {
        let dir = cluster.root();
        let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let s3_file = dir.join(format!("gateway-{n}.s3"));
        let hdfs_file = dir.join(format!("gateway-{n}.webhdfs"));
        let log = dir.join(format!("gateway-{n}.log"));
        let out = std::fs::File::create(&log).expect("gateway log");
        let mut child = Command::new(BIN)
            .args([
                "gateway",
                "--master",
                &cluster.master_url(),
                "--s3-listen",
                "127.0.0.1:0",
                "--webhdfs-listen",
                "127.0.0.1:0",
                "--access-key",
                ACCESS_KEY,
                "--secret-key",
                SECRET_KEY,
                "--s3-addr-file",
                s3_file.to_str().unwrap(),
                "--webhdfs-addr-file",
                hdfs_file.to_str().unwrap(),
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,s3s=off".into()),
            )
            .env_remove("FERROFS_S3_ACCESS_KEY")
            .env_remove("FERROFS_S3_SECRET_KEY")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn ferrofs gateway");
        let s3 = wait_file(&s3_file, "the S3 endpoint", &mut child, &log);
        let webhdfs = wait_file(&hdfs_file, "the WebHDFS endpoint", &mut child, &log);
        Gateway {
            child,
            s3: format!("http://{s3}"),
            webhdfs: format!("http://{webhdfs}"),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Environment for the client scripts in tests/clients.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FERROFS_S3_ENDPOINT", self.s3.clone()),
            ("FERROFS_S3_ACCESS_KEY", ACCESS_KEY.into()),
            ("FERROFS_S3_SECRET_KEY", SECRET_KEY.into()),
            ("FERROFS_WEBHDFS", self.webhdfs.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "===== gateway log ({}) =====\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Whether a Python module can be imported; in CI a missing one is a failure.
pub fn have_python_module(m: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {m}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("python module {m} missing in CI: scripts/install-deps.sh should install it");
    }
    ok
}

/// Whether a program is on PATH; in CI a missing one is a failure.
pub fn have_program(p: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {p}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("{p} missing in CI: scripts/install-deps.sh should install it");
    }
    ok
}

/// Run a program to completion with the gateway's environment; panic with its output
/// if it fails. Returns stdout.
pub fn run(gw: &Gateway, prog: &str, args: &[&str], extra_env: &[(&str, &str)]) -> String {
    let out = Command::new(prog)
        .args(args)
        .envs(gw.env())
        .envs(extra_env.iter().copied())
        // A CA bundle set for this machine's own AWS access breaks plain-HTTP clients.
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    let so = String::from_utf8_lossy(&out.stdout).to_string();
    let se = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{prog} {args:?} failed ({}):\n--- stdout\n{so}\n--- stderr\n{se}",
        out.status
    );
    eprint!("{se}");
    so
}

/// The path of a script in tests/clients.
pub fn script(name: &str) -> String {
    format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"))
}
