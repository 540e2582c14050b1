//! `ferrofs up`, the README's front door, as a user runs it: it starts a mounted local
//! cluster, starts a `kill -9`ed master again on the same port and data (the mount goes
//! on working and no closed file is lost), leaves a killed chunkserver down until
//! SIGHUP, prints its S3 and WebHDFS gateway in the banner, and on SIGTERM stops
//! everything and unmounts; `up --masters 3` runs a master group through kills of its
//! members.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Child processes of `parent` running subcommand `sub` ("" for any).
fn children(parent: u32, sub: &str) -> Vec<i32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv1 = cmd.split(|b| *b == 0).nth(1).unwrap_or_default();
        if ppid == Some(parent) && (sub.is_empty() || argv1 == sub.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

fn is_mounted(p: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let p = p.display().to_string();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(p.as_str()))
}

async fn alive_chunkservers(url: &str) -> usize {
    let Ok(r) = reqwest::get(format!("{url}/api/v1/status")).await else {
        return 0;
    };
    let Ok(s) = r.json::<ferrofs_proto::admin::Status>().await else {
        return 0;
    };
    s.chunkservers.iter().filter(|c| c.alive).count()
}

/// SIGTERMs `ferrofs up` if the test fails before it does (so no cluster or mount
/// outlives a failed run), and waits up to 30 s for it to stop.
struct StopOnDrop(Option<i32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let Some(pid) = self.0 else { return };
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..300 {
            let mut status = 0;
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("`ferrofs up` (pid {pid}) did not stop within 30 s of SIGTERM");
    }
}

/// A running `ferrofs up` and the lines it printed (stdout and stderr, in order).
struct Up {
    child: std::process::Child,
    guard: StopOnDrop,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Up {
    fn start(args: &[&str]) -> Up {
        let mut child = Command::new(BIN)
            .args(["up", "--port", "0", "--s3-port", "0", "--webhdfs-port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let guard = StopOnDrop(Some(child.id() as i32));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        for r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    eprintln!("up| {l}");
                    let _ = tx.send(l);
                }
            });
        }
        Up {
            child,
            guard,
            lines,
            seen: vec![],
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line containing `what`, within `secs`.
    async fn wait_line(&mut self, what: &str, secs: u64) -> String {
        let (lines, seen) = (&mut self.lines, &mut self.seen);
        let found = tokio::time::timeout(Duration::from_secs(secs), async {
            loop {
                match lines.recv().await {
                    Some(l) if l.contains(what) => return l,
                    Some(l) => seen.push(l),
                    None => panic!("`ferrofs up` closed its output before {what:?}"),
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no line with {what:?} from `ferrofs up` in {secs}s"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_supervises_its_cluster() {
    ferrofs_tls::install_provider();
    let dir = tempfile::Builder::new()
        .prefix("ferrofs-up-")
        .tempdir()
        .unwrap();
    let mnt = dir.path().join("mnt");
    let data = dir.path().join("data");
    let mut up = Up::start(&[
        "--chunkservers",
        "2",
        "--dir",
        data.to_str().unwrap(),
        "--mount",
        mnt.to_str().unwrap(),
    ]);
    let pid = up.pid();
    let url = up.wait_line("master:", 120).await;
    let url = url.split_whitespace().nth(1).unwrap().to_string();
    let s3 = up.wait_line("S3:", 60).await;
    assert!(
        s3.contains("http://127.0.0.1:") && s3.contains("access key"),
        "{s3}"
    );
    up.wait_line("WebHDFS:", 60).await;
    up.wait_line("Ctrl-C", 60).await;
    assert!(is_mounted(&mnt));

    phase!("write through the mount, kill -9 the master, write and read again");
    let a = random_bytes(3 << 20, 1);
    std::fs::write(mnt.join("a"), &a).unwrap();
    let masters = children(pid, "master");
    assert_eq!(masters.len(), 1, "one master child");
    unsafe { libc::kill(masters[0], libc::SIGKILL) };
    up.wait_line("started it again", 30).await;
    let b = random_bytes(2 << 20, 2);
    std::fs::write(mnt.join("b"), &b).unwrap();
    assert_eq!(sha256(&std::fs::read(mnt.join("a")).unwrap()), sha256(&a));
    assert_eq!(sha256(&std::fs::read(mnt.join("b")).unwrap()), sha256(&b));
    let again = children(pid, "master");
    assert!(again.len() == 1 && again[0] != masters[0], "{again:?}");

    phase!("a killed chunkserver stays down until SIGHUP");
    let cs = children(pid, "chunkserver");
    assert_eq!(cs.len(), 2);
    unsafe { libc::kill(cs[0], libc::SIGKILL) };
    up.wait_line("left down", 30).await;
    assert_eq!(children(pid, "chunkserver").len(), 1);
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    up.wait_line("started again (SIGHUP)", 30).await;
    wait_for(
        "both chunkservers alive again",
        Duration::from_secs(60),
        async || alive_chunkservers(&url).await == 2,
    )
    .await;

    phase!("SIGTERM stops everything and unmounts");
    let kids = children(pid, "");
    assert_eq!(
        kids.len(),
        5,
        "master, 2 chunkservers, gateway, mount: {kids:?}"
    );
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    up.wait_line("stopped", 60).await;
    up.guard.0 = None;
    let mut child = up.child;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!is_mounted(&mnt), "still mounted after up stopped");
    wait_for(
        "every child of `ferrofs up` gone",
        Duration::from_secs(10),
        async || {
            kids.iter()
                .all(|k| !Path::new(&format!("/proc/{k}")).exists())
        },
    )
    .await;
}

/// `ferrofs up --masters 3` starts a group of three, prints every member, and the mount
/// goes on through a `kill -9` of any one of them (the leader or a follower): `up`
/// starts it again, and the files written before and after read back whole.
#[tokio::test(flavor = "multi_thread")]
async fn up_runs_a_master_group() {
    ferrofs_tls::install_provider();
    let dir = tempfile::Builder::new()
        .prefix("ferrofs-up3-")
        .tempdir()
        .unwrap();
    let mnt = dir.path().join("mnt");
    let data = dir.path().join("data");
    let mut up = Up::start(&[
        "--masters",
        "3",
        "--chunkservers",
        "3",
        "--dir",
        data.to_str().unwrap(),
        "--mount",
        mnt.to_str().unwrap(),
    ]);
    let pid = up.pid();
    let mut urls = vec![];
    for i in 1..=3 {
        let l = up.wait_line(&format!("master {i}:"), 120).await;
        urls.push(l.split_whitespace().last().unwrap().to_string());
    }
    up.wait_line("Ctrl-C", 60).await;
    assert!(is_mounted(&mnt));
    assert_eq!(children(pid, "master").len(), 3, "three master children");
    let a = random_bytes(3 << 20, 1);
    std::fs::write(mnt.join("a"), &a).unwrap();
    for round in 0..2u64 {
        phase!("kill -9 master child {round}; the mount goes on");
        let victim = children(pid, "master")[round as usize];
        unsafe { libc::kill(victim, libc::SIGKILL) };
        up.wait_line("started it again", 30).await;
        let b = random_bytes(1 << 20, 10 + round);
        std::fs::write(mnt.join(format!("b{round}")), &b).unwrap();
        assert_eq!(sha256(&std::fs::read(mnt.join("a")).unwrap()), sha256(&a));
        assert_eq!(
            sha256(&std::fs::read(mnt.join(format!("b{round}"))).unwrap()),
            sha256(&b)
        );
    }
    phase!("every member answers and names the same leader");
    wait_for(
        "all three members to name one leader",
        Duration::from_secs(30),
        async || {
            let mut leaders = std::collections::BTreeSet::new();
            for u in &urls {
                let Ok(r) = reqwest::get(format!("{u}/api/v1/masters")).await else {
                    return false;
                };
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    return false;
                };
                if v["leader"].is_null() {
                    return false;
                }
                leaders.insert(v["leader"].to_string());
            }
            leaders.len() == 1
        },
    )
    .await;
}

/// `ferrofs up --tls`: it makes a CA and certificates under its data directory, every
/// child speaks HTTPS with mutual TLS (the banner's URLs are https), the mount works,
/// and the CLI reads the mount's file back with the client certificate it printed.
#[tokio::test(flavor = "multi_thread")]
async fn up_tls_makes_its_own_certificates() {
    ferrofs_tls::install_provider();
    let dir = tempfile::Builder::new()
        .prefix("ferrofs-uptls-")
        .tempdir()
        .unwrap();
    let mnt = dir.path().join("mnt");
    let data = dir.path().join("data");
    let mut up = Up::start(&[
        "--tls",
        "--chunkservers",
        "2",
        "--replication",
        "2",
        "--dir",
        data.to_str().unwrap(),
        "--mount",
        mnt.to_str().unwrap(),
    ]);
    let l = up.wait_line("master:", 120).await;
    let url = l.split_whitespace().last().unwrap().to_string();
    assert!(url.starts_with("https://"), "{l}");
    let s3 = up.wait_line("S3", 60).await;
    assert!(s3.contains("https://"), "{s3}");
    let curl = up.wait_line("curl:", 60).await;
    up.wait_line("Ctrl-C", 60).await;
    let client_dir = data.canonicalize().unwrap().join("tls/client");
    assert!(curl.contains(&client_dir.display().to_string()), "{curl}");
    assert!(is_mounted(&mnt));
    let a = random_bytes(2 << 20, 4);
    std::fs::write(mnt.join("a"), &a).unwrap();
    let out = Command::new(BIN)
        .args(["cat", "/a", "--master", &url, "--tls"])
        .arg(&client_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&a));
    phase!("plain HTTP to the master gets nothing");
    let plain = url.replacen("https://", "http://", 1);
    assert!(reqwest::get(format!("{plain}/health")).await.is_err());
}
