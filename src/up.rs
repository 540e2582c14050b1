//! `ferrofs up`: a local cluster (master + N chunkservers, optionally a FUSE mount) as
//! child processes on loopback, stopped cleanly on Ctrl-C / SIGTERM.

use crate::cli::UpArgs;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

struct Proc {
    name: String,
    child: Child,
}

fn spawn(name: &str, args: &[String], log: &Path) -> Result<Proc> {
    let exe = std::env::current_exe()?;
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Proc {
        name: name.to_string(),
        child,
    })
}

fn free_port(preferred: u16) -> Result<u16> {
    if preferred != 0 && std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_for(what: &str, deadline: Duration, mut f: impl AsyncFnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("timed out after {deadline:?} waiting for {what}")
}

async fn stop(p: &mut Proc) {
    if let Some(pid) = p.child.id() {
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(Duration::from_secs(10), p.child.wait())
        .await
        .is_err()
    {
        tracing::warn!(process = %p.name, "did not stop in 10s, killing");
        let _ = p.child.kill().await;
    }
}

pub async fn run(a: UpArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("{}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let port = free_port(a.port)?;
    let url = format!("http://127.0.0.1:{port}");
    let mut procs: Vec<Proc> = vec![];
    let replication = a.replication.unwrap_or(3.min(a.chunkservers.max(1) as u8));
    let mut margs = vec![
        "master".to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--data".into(),
        dir.join("master").display().to_string(),
        "--replication".into(),
        replication.to_string(),
    ];
    if let Some(d) = &a.dead_timeout {
        margs.extend(["--dead-timeout".into(), d.clone()]);
    }
    if let Some(cs) = a.chunk_size {
        margs.extend(["--chunk-size".into(), cs.to_string()]);
    }
    procs.push(spawn("master", &margs, &dir.join("master.log"))?);
    let http = reqwest::Client::new();
    wait_for("the master", Duration::from_secs(60), async || {
        http.get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await?;
    for i in 0..a.chunkservers {
        let cport = free_port(0)?;
        let args = vec![
            "chunkserver".to_string(),
            "--master".into(),
            url.clone(),
            "--listen".into(),
            format!("127.0.0.1:{cport}"),
            "--data".into(),
            dir.join(format!("cs{i}")).display().to_string(),
        ];
        procs.push(spawn(
            &format!("chunkserver {i}"),
            &args,
            &dir.join(format!("cs{i}.log")),
        )?);
    }
    let want = a.chunkservers;
    wait_for(
        "chunkservers to register",
        Duration::from_secs(60),
        async || {
            let Ok(r) = http.get(format!("{url}/api/v1/status")).send().await else {
                return false;
            };
            let Ok(s) = r.json::<ferrofs_proto::admin::Status>().await else {
                return false;
            };
            s.chunkservers.iter().filter(|c| c.alive).count() >= want
        },
    )
    .await?;
    let mut mounted: Option<PathBuf> = None;
    if let Some(mnt) = &a.mount {
        std::fs::create_dir_all(mnt)?;
        let mnt = mnt.canonicalize()?;
        let args = vec![
            "mount".to_string(),
            "--master".into(),
            url.clone(),
            mnt.display().to_string(),
        ];
        procs.push(spawn("mount", &args, &dir.join("mount.log"))?);
        let m2 = mnt.clone();
        wait_for("the FUSE mount", Duration::from_secs(30), async || {
            crate::mount_cmd::is_ferrofs_mount(&m2)
        })
        .await
        .with_context(|| format!("see {}", dir.join("mount.log").display()))?;
        mounted = Some(mnt);
    }
    println!(
        "ferrofs is up: {} chunkservers, replication {replication}",
        a.chunkservers
    );
    println!("  master:    {url}");
    println!("  dashboard: {url}/");
    println!("  admin API: {url}/api/v1/status");
    if let Some(m) = &mounted {
        println!("  mounted:   {}", m.display());
    }
    println!("  data/logs: {}", dir.display());
    println!("  try:       FERROFS_MASTER={url} ferrofs ls /");
    println!("Ctrl-C stops everything.");

    let stopped = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => None,
            _ = term.recv() => None,
            r = procs[0].child.wait() => Some(r),
        }
    }
    .await;
    if let Some(r) = stopped {
        eprintln!("master exited ({r:?}); stopping the cluster");
    }
    println!("stopping...");
    // Unmount first, then chunkservers, the master last.
    for p in procs.iter_mut().rev() {
        stop(p).await;
    }
    if let Some(m) = mounted {
        crate::mount_cmd::cleanup_stale(&m);
    }
    println!("stopped");
    Ok(())
}
