//! `ferrofs up`: a local cluster (a master group of 1, 3 or 5, N chunkservers,
//! optionally a FUSE mount) as child processes on loopback, stopped cleanly on Ctrl-C /
//! SIGTERM.
//!
//! It also supervises them, as a service manager would: a master killed by SIGKILL is
//! started again at once on the same port and data (the mount and chunkservers wait for
//! it); one that fails by itself (an error exit, SIGSEGV, SIGABRT) is started again up
//! to `MASTER_RESTARTS` times a minute, then `up` stops the cluster; one that exits
//! cleanly (SIGTERM to it) was stopped on purpose, and `up` stops the cluster. A chunkserver or mount
//! that dies is reported and left down, so the master's re-replication can be watched;
//! SIGHUP to `ferrofs up` starts every exited process again.

use crate::cli::UpArgs;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Most restarts within a minute of a master that keeps failing by itself (a crash
/// loop, not `kill -9`) before `up` gives up.
const MASTER_RESTARTS: usize = 5;

pub(crate) struct Proc {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Child,
    /// Exited and not started again yet.
    down: bool,
    /// When the process failed by itself (not SIGKILL) and was started again.
    restarts: Vec<Instant>,
}

fn start(name: &str, args: &[String], log: &Path, append: bool) -> Result<Child> {
    let exe = std::env::current_exe()?;
    let out = std::fs::File::options()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))
}

pub(crate) fn spawn(name: &str, args: &[String], log: &Path) -> Result<Proc> {
    Ok(Proc {
        name: name.to_string(),
        args: args.to_vec(),
        log: log.to_path_buf(),
        child: start(name, args, log, false)?,
        down: false,
        restarts: vec![],
    })
}

impl Proc {
    /// Start the process again with the same arguments, appending to its log.
    fn restart(&mut self) -> Result<()> {
        self.child = start(&self.name, &self.args, &self.log, true)?;
        self.down = false;
        Ok(())
    }

    fn restarts_last_minute(&self) -> usize {
        self.restarts
            .iter()
            .filter(|t| t.elapsed() < Duration::from_secs(60))
            .count()
    }
}

/// How a child ended, for people.
fn how(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (_, Some(sig)) => format!("signal {sig}"),
        _ => s.to_string(),
    }
}

pub(crate) fn free_port(preferred: u16) -> Result<u16> {
    if preferred != 0 && std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) async fn wait_for(
    what: &str,
    deadline: Duration,
    mut f: impl AsyncFnMut() -> bool,
) -> Result<()> {
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

/// Ports for `n` masters: `first` and the ones after it when free, else any free ones.
/// A restarted `up` finds the same ports in its data directory's `masters` file.
fn master_ports(dir: &Path, first: u16, n: usize) -> Result<Vec<u16>> {
    let file = dir.join("masters");
    if let Ok(s) = std::fs::read_to_string(&file) {
        let ports: Vec<u16> = s.split(',').filter_map(|p| p.trim().parse().ok()).collect();
        if ports.len() == n {
            return Ok(ports);
        }
        bail!(
            "{} was a group of {} masters; start it with --masters {} (or a new --dir)",
            dir.display(),
            ports.len(),
            ports.len()
        );
    }
    let mut ports: Vec<u16> = vec![];
    for i in 0..n {
        let want = if first == 0 { 0 } else { first + i as u16 };
        let mut p = free_port(want)?;
        while ports.contains(&p) {
            p = free_port(0)?;
        }
        ports.push(p);
    }
    let list: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    std::fs::write(&file, list.join(","))?;
    Ok(ports)
}

pub async fn run(a: UpArgs) -> Result<()> {
    if !matches!(a.masters, 1 | 3 | 5) {
        bail!("--masters must be 1, 3 or 5 (a group needs a majority)");
    }
    std::fs::create_dir_all(&a.dir).with_context(|| format!("{}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let ports = master_ports(&dir, a.port, a.masters)?;
    let tls = crate::up_tls::UpTls::prepare(crate::tls_opt::flag(), &dir)?;
    let scheme = tls.scheme();
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("{scheme}://127.0.0.1:{p}"))
        .collect();
    let url = urls.join(",");
    let mut procs: Vec<Proc> = vec![];
    let replication = a.replication.unwrap_or(3.min(a.chunkservers.max(1) as u8));
    let peers: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect();
    for (i, port) in ports.iter().enumerate() {
        let id = i + 1;
        let mut margs = vec![
            "master".to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--data".into(),
            if a.masters == 1 {
                dir.join("master").display().to_string()
            } else {
                dir.join(format!("master{id}")).display().to_string()
            },
            "--replication".into(),
            replication.to_string(),
        ];
        margs.extend(tls.args());
        if a.masters > 1 {
            margs.extend([
                "--id".into(),
                id.to_string(),
                "--peers".into(),
                peers.join(","),
            ]);
        }
        if let Some(d) = &a.dead_timeout {
            margs.extend(["--dead-timeout".into(), d.clone()]);
        }
        if let Some(cs) = a.chunk_size {
            margs.extend(["--chunk-size".into(), cs.to_string()]);
        }
        let (name, log) = if a.masters == 1 {
            ("master".to_string(), dir.join("master.log"))
        } else {
            (format!("master {id}"), dir.join(format!("master{id}.log")))
        };
        procs.push(spawn(&name, &margs, &log)?);
    }
    let http = tls.transport()?.client(reqwest::Client::builder())?;
    wait_for("a master leader", Duration::from_secs(60), async || {
        for u in &urls {
            if let Ok(r) = http
                .get(format!("{u}{}", ferrofs_proto::raft::MASTERS))
                .send()
                .await
                && let Ok(m) = r.json::<ferrofs_proto::raft::MastersResp>().await
                && m.leader.is_some()
            {
                return true;
            }
        }
        false
    })
    .await?;
    let leader_url = async || -> String {
        for u in &urls {
            if let Ok(r) = http.get(format!("{u}/health")).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["leader"].as_bool() == Some(true)
            {
                return u.clone();
            }
        }
        urls[0].clone()
    };
    for i in 0..a.chunkservers {
        let cport = free_port(0)?;
        let mut args = vec![
            "chunkserver".to_string(),
            "--master".into(),
            url.clone(),
            "--listen".into(),
            format!("127.0.0.1:{cport}"),
            "--data".into(),
            dir.join(format!("cs{i}")).display().to_string(),
        ];
        args.extend(tls.args());
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
            let leader = leader_url().await;
            let Ok(r) = http.get(format!("{leader}/api/v1/status")).send().await else {
                return false;
            };
            let Ok(s) = r.json::<ferrofs_proto::admin::Status>().await else {
                return false;
            };
            s.chunkservers.iter().filter(|c| c.alive).count() >= want
        },
    )
    .await?;
    let gateway =
        crate::up_gateway::start(&dir, &url, (a.s3_port, a.webhdfs_port), &tls, &mut procs).await?;
    let mut mounted: Option<PathBuf> = None;
    if let Some(mnt) = &a.mount {
        std::fs::create_dir_all(mnt)?;
        let mnt = mnt.canonicalize()?;
        let mut args = vec![
            "mount".to_string(),
            "--master".into(),
            url.clone(),
            mnt.display().to_string(),
        ];
        if a.xattr {
            args.push("--xattr".into());
        }
        args.extend(tls.args());
        procs.push(spawn("mount", &args, &dir.join("mount.log"))?);
        let m2 = mnt.clone();
        wait_for("the FUSE mount", Duration::from_secs(30), async || {
            crate::mount_cmd::is_ferrofs_mount(&m2)
        })
        .await
        .with_context(|| format!("see {}", dir.join("mount.log").display()))?;
        mounted = Some(mnt);
    }
    outln!(
        "ferrofs is up: {} master{}, {} chunkservers, replication {replication}",
        a.masters,
        if a.masters == 1 { "" } else { "s" },
        a.chunkservers
    );
    if a.masters == 1 {
        outln!("  master:    {url}");
    } else {
        for (i, u) in urls.iter().enumerate() {
            outln!("  master {}:  {u}", i + 1);
        }
    }
    let first = &urls[0];
    outln!("  dashboard: {first}/");
    outln!("  admin API: {first}/api/v1/status");
    gateway.print_banner();
    tls.banner(first);
    if let Some(m) = &mounted {
        outln!("  mounted:   {}", m.display());
    }
    outln!("  data/logs: {}", dir.display());
    match &tls.client {
        Some(c) => outln!(
            "  try:       FERROFS_MASTER={url} FERROFS_TLS={} ferrofs ls /",
            c.display()
        ),
        None => outln!("  try:       FERROFS_MASTER={url} ferrofs ls /"),
    }
    outln!(
        "Ctrl-C stops everything; `kill -HUP {}` starts exited processes again.",
        std::process::id()
    );

    supervise(&mut procs, a.masters, mounted.as_deref()).await;
    outln!("stopping...");
    // Unmount first, then chunkservers, the master last.
    for p in procs.iter_mut().rev() {
        stop(p).await;
    }
    if let Some(m) = mounted {
        crate::mount_cmd::cleanup_stale(&m);
    }
    outln!("stopped");
    Ok(())
}

/// Watch the children until Ctrl-C or SIGTERM (see the module doc).
async fn supervise(procs: &mut [Proc], masters: usize, mounted: Option<&Path>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let me = std::process::id();
    loop {
        tokio::select! {
            _ = int.recv() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                for p in procs.iter_mut().filter(|p| p.down) {
                    if p.name == "mount"
                        && let Some(m) = mounted
                    {
                        crate::mount_cmd::cleanup_stale(m);
                    }
                    match p.restart() {
                        Ok(()) => eprintln!("{} started again (SIGHUP)", p.name),
                        Err(e) => eprintln!("could not start {} again: {e:#}", p.name),
                    }
                }
            }
            _ = tick.tick() => {
                for (i, p) in procs.iter_mut().enumerate() {
                    if p.down {
                        continue;
                    }
                    let Ok(Some(status)) = p.child.try_wait() else { continue };
                    p.down = true;
                    if i < masters {
                        if !master_exited(p, status) {
                            return;
                        }
                    } else {
                        eprintln!(
                            "{} exited ({}); left down (`kill -HUP {me}` starts it again; \
                             log: {})",
                            p.name,
                            how(status),
                            p.log.display()
                        );
                    }
                }
            }
        }
    }
}

/// Start the exited master again; false if the cluster should stop instead.
fn master_exited(p: &mut Proc, status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        // A clean exit is a deliberate stop (SIGTERM to the master, or a Ctrl-C that
        // reached it before this process saw it).
        eprintln!("{} exited cleanly; stopping the cluster", p.name);
        return false;
    }
    // kill -9 (the demo, an OOM kill) is always worth a restart; a crash of its own (an
    // error exit, SIGSEGV, SIGABRT) may repeat.
    if status.signal() != Some(libc::SIGKILL) {
        if p.restarts_last_minute() >= MASTER_RESTARTS {
            eprintln!(
                "master exited ({}) {MASTER_RESTARTS} times within a minute; stopping the \
                 cluster (see {})",
                how(status),
                p.log.display()
            );
            return false;
        }
        p.restarts.push(Instant::now());
    }
    match p.restart() {
        Ok(()) => {
            eprintln!(
                "master exited ({}); started it again on the same port and data",
                how(status)
            );
            true
        }
        Err(e) => {
            eprintln!("master exited and could not be started again: {e:#}");
            false
        }
    }
}
