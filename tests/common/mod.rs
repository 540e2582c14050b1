//! `TestCluster`: a real ferrofs cluster for integration tests. Every node is the real
//! `ferrofs` binary as a child process, on a 127.0.0.1 ephemeral port, in its own temp
//! directory. Waits are conditions with a reason and a deadline, never bare sleeps.
//! Logs go to files in the cluster's directory; they are printed if a test panics (and
//! streamed live with FERROFS_TEST_LOGS=1). FERROFS_TEST_KEEP=1 keeps the directories
//! (data and logs) after the test.

#![allow(dead_code)]

pub mod netns;
pub mod tls;

pub use netns::{Net, Node};
pub use tls::Tls;

use ferrofs_client::{Client, ClientConfig};
use ferrofs_proto::admin::Status;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrofs");

/// Log a test phase.
#[macro_export]
macro_rules! phase {
    ($($t:tt)*) => { eprintln!("--- {}", format!($($t)*)) };
}

#[derive(Clone, Debug)]
pub struct Builder {
    chunkservers: usize,
    chunk_size: u64,
    replication: u8,
    dead_timeout: Duration,
    heartbeat: Duration,
    secret: String,
    admin_token: String,
    capacity: Option<u64>,
    extra_master_config: String,
    chunkserver_env: Vec<(String, String)>,
    masters: usize,
    master_env: Vec<(String, String)>,
    hosts: bool,
    racks: Vec<String>,
    tls: bool,
}

impl Builder {
    /// Extra environment of every master (fault hooks).
    pub fn master_env(mut self, env: &[(&str, &str)]) -> Self {
        self.master_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Every node on a "host" of its own: a network namespace with its own address
    /// (see `netns`), so tests can cut links with `net().partition(..)`. Needs root.
    pub fn hosts(mut self) -> Self {
        self.hosts = true;
        self
    }

    /// The rack of each chunkserver (`--rack`), by index; those beyond the list name
    /// none (the default rack).
    pub fn racks(mut self, racks: &[&str]) -> Self {
        self.racks = racks.iter().map(|r| r.to_string()).collect();
        self
    }

    /// Mutual TLS on every connection: a cluster CA and certificates are made in the
    /// cluster's directory, every process gets `--tls`, and the harness's own calls
    /// (and `client()`) present the client certificate.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Members of the master group (default 1).
    pub fn masters(mut self, n: usize) -> Self {
        self.masters = n;
        self
    }
    pub fn chunkservers(mut self, n: usize) -> Self {
        self.chunkservers = n;
        self
    }
    pub fn chunk_size(mut self, b: u64) -> Self {
        self.chunk_size = b;
        self
    }
    pub fn replication(mut self, r: u8) -> Self {
        self.replication = r;
        self
    }
    pub fn dead_timeout(mut self, d: Duration) -> Self {
        self.dead_timeout = d;
        self
    }
    /// Heartbeat interval (default 300 ms).
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = d;
        self
    }
    pub fn secret(mut self, s: &str) -> Self {
        self.secret = s.into();
        self
    }
    pub fn admin_token(mut self, t: &str) -> Self {
        self.admin_token = t.into();
        self
    }
    /// Capacity each chunkserver reports (to test full disks).
    pub fn capacity(mut self, b: u64) -> Self {
        self.capacity = Some(b);
        self
    }
    /// Extra lines for the master's `[master]` TOML section.
    pub fn master_config(mut self, toml: &str) -> Self {
        self.extra_master_config.push_str(toml);
        self.extra_master_config.push('\n');
        self
    }

    pub async fn start(self) -> TestCluster {
        let keep = std::env::var_os("FERROFS_TEST_KEEP").is_some();
        let dir = tempfile::Builder::new()
            .prefix("ferrofs-test-")
            .disable_cleanup(keep)
            .tempdir()
            .expect("temp dir");
        if keep {
            eprintln!("cluster directory (kept): {}", dir.path().display());
        }
        let mut c = TestCluster {
            root: dir.path().to_path_buf(),
            _dir: dir,
            opts: self.clone(),
            masters: vec![],
            master_addrs: vec![],
            chunkservers: vec![],
            mounts: vec![],
            mount_children: vec![],
            cs_env: Default::default(),
            net: None,
            tls: None,
        };
        if self.hosts {
            let mut nodes = vec![Node::Client];
            nodes.extend((0..self.masters).map(Node::Master));
            nodes.extend((0..self.chunkservers).map(Node::Chunkserver));
            c.net = Some(Net::up(&nodes));
        }
        if self.tls {
            c.tls = Some(Tls::make(&c.root, c.net.as_ref()));
        }
        c.start_masters().await;
        for i in 0..self.chunkservers {
            c.chunkservers.push(None);
            c.start_chunkserver(i).await;
        }
        let n = self.chunkservers;
        c.wait_until(
            &format!("{n} chunkservers alive"),
            Duration::from_secs(30),
            |s| s.chunkservers.iter().filter(|c| c.alive).count() == n,
        )
        .await;
        c
    }
}

pub struct TestCluster {
    root: PathBuf,
    _dir: tempfile::TempDir,
    opts: Builder,
    masters: Vec<Option<Child>>,
    /// `host:port` of each master (empty until the first start of a group of one).
    master_addrs: Vec<String>,
    chunkservers: Vec<Option<Child>>,
    mounts: Vec<PathBuf>,
    mount_children: Vec<Child>,
    /// Extra environment of single chunkservers (see `set_chunkserver_env`).
    cs_env: std::collections::HashMap<usize, Vec<(String, String)>>,
    /// The namespaces of a `.hosts()` cluster (dropped after the processes).
    net: Option<Net>,
    /// `.tls()`: the node and client TLS directories.
    tls: Option<Tls>,
}

fn spawn(args: &[String], log: &Path, env: &[(String, String)]) -> Child {
    spawn_at(None, Node::Host, args, log, env)
}

/// Spawn `ferrofs` in `node`'s network namespace (`net` None: on the host).
fn spawn_at(
    net: Option<&Net>,
    node: Node,
    args: &[String],
    log: &Path,
    env: &[(String, String)],
) -> Child {
    let mut cmd = match net {
        Some(n) => n.command(node, BIN),
        None => Command::new(BIN),
    };
    cmd.args(args).stdin(Stdio::null());
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if std::env::var_os("FERROFS_TEST_LOGS").is_some() {
        cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        cmd.stdout(f.try_clone().expect("dup")).stderr(f);
    }
    cmd.env(
        "RUST_LOG",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
    );
    cmd.spawn().expect("spawn ferrofs")
}

/// Wait for a file to appear (an --addr-file) and return its contents.
fn wait_file(p: &Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && !s.is_empty()
        {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what} to listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl TestCluster {
    pub fn builder() -> Builder {
        // reqwest (rustls-no-provider) needs the process's crypto provider before any
        // client is built, `reqwest::get` included.
        ferrofs_tls::install_provider();
        Builder {
            chunkservers: 3,
            chunk_size: 1 << 20,
            replication: 3,
            dead_timeout: Duration::from_secs(3),
            heartbeat: Duration::from_millis(300),
            secret: "test-secret".into(),
            admin_token: String::new(),
            capacity: None,
            extra_master_config: String::new(),
            chunkserver_env: vec![],
            masters: 1,
            master_env: vec![],
            hosts: false,
            racks: vec![],
            tls: false,
        }
    }

    /// The namespaces of a `.hosts()` cluster.
    pub fn net(&self) -> &Net {
        self.net.as_ref().expect("a cluster built with .hosts()")
    }

    /// Run `ferrofs ARGS` in `node`'s namespace (the host without `.hosts()`), with
    /// `env`, and wait for it.
    pub fn run_in(&self, node: Node, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = match &self.net {
            Some(n) => n.command(node, BIN),
            None => Command::new(BIN),
        };
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        cmd.output().expect("run ferrofs")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every master's URL, comma-separated (what `--master` takes).
    pub fn master_url(&self) -> String {
        self.master_urls().join(",")
    }

    pub fn master_urls(&self) -> Vec<String> {
        self.master_addrs.iter().map(|a| self.url(a)).collect()
    }

    /// The first master's `/metrics` page.
    pub async fn master_metrics(&self) -> String {
        self.http()
            .get(format!("{}/metrics", self.master_urls()[0]))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn master_count(&self) -> usize {
        self.opts.masters
    }

    /// The URL of the master that leads now (waits up to 30 s for one).
    pub async fn leader_url(&self) -> String {
        let i = self.leader_index().await;
        self.url(&self.master_addrs[i])
    }

    /// Index of the master that leads now (waits up to 30 s for one).
    pub async fn leader_index(&self) -> usize {
        let start = Instant::now();
        let http = self.http_with(reqwest::Client::builder().timeout(Duration::from_millis(500)));
        loop {
            for (i, a) in self.master_addrs.iter().enumerate() {
                if self.masters.get(i).is_none_or(|m| m.is_none()) {
                    continue;
                }
                if let Ok(r) = http.get(format!("{}/health", self.url(a))).send().await
                    && let Ok(v) = r.json::<serde_json::Value>().await
                    && v["leader"].as_bool() == Some(true)
                {
                    return i;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no master became the leader within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn client(&self) -> Client {
        let mut cfg = ClientConfig::new(self.master_url());
        cfg.transport = self.transport();
        cfg.request_timeout = Duration::from_secs(10);
        Client::new(cfg).expect("client")
    }

    /// `https://ADDR` under `.tls()`, else `http://ADDR`.
    pub fn url(&self, addr: &str) -> String {
        format!("{}://{addr}", ferrofs_tls::scheme(self.tls.is_some()))
    }

    /// The TLS directories of a `.tls()` cluster.
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// `--tls DIR` for a node's command line (nothing without `.tls()`).
    pub fn tls_args(&self) -> Vec<String> {
        match &self.tls {
            Some(t) => vec!["--tls".into(), t.node.display().to_string()],
            None => vec![],
        }
    }

    /// An HTTP client for the cluster's endpoints (with the client certificate under
    /// `.tls()`).
    pub fn http(&self) -> reqwest::Client {
        self.http_with(reqwest::Client::builder())
    }

    pub fn http_with(&self, b: reqwest::ClientBuilder) -> reqwest::Client {
        self.transport().client(b).expect("HTTP client")
    }

    /// The harness's client transport: the client certificate under `.tls()`.
    fn transport(&self) -> ferrofs_tls::Transport {
        self.tls
            .as_ref()
            .map(|t| t.transport.clone())
            .unwrap_or_default()
    }

    pub fn master_dir(&self, i: usize) -> PathBuf {
        if self.opts.masters == 1 {
            self.root.join("master")
        } else {
            self.root.join(format!("master{}", i + 1))
        }
    }

    fn master_log(&self, i: usize) -> PathBuf {
        if self.opts.masters == 1 {
            self.root.join("master.log")
        } else {
            self.root.join(format!("master{}.log", i + 1))
        }
    }

    async fn start_masters(&mut self) {
        let n = self.opts.masters;
        self.masters = (0..n).map(|_| None).collect();
        if let Some(net) = &self.net {
            // Each member has an address of its own: the port can be fixed.
            self.master_addrs = (0..n)
                .map(|i| format!("{}:9000", net.ip(Node::Master(i))))
                .collect();
        } else if n > 1 {
            // A group's members must know each other's addresses before they start.
            self.master_addrs = (0..n)
                .map(|_| {
                    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
                    l.local_addr().unwrap().to_string()
                })
                .collect();
        } else {
            self.master_addrs = vec![String::new()];
        }
        for i in 0..n {
            self.spawn_master(i);
        }
        for i in 0..n {
            self.wait_master(i).await;
        }
        let _ = self.leader_index().await;
    }

    fn spawn_master(&mut self, i: usize) {
        let data = self.master_dir(i);
        let addr_file = self.root.join(format!("master{i}.addr"));
        let _ = std::fs::remove_file(&addr_file);
        let cfg = self.root.join("ferrofs.toml");
        // The harness's own settings, unless the test sets them itself.
        let extra = &self.opts.extra_master_config;
        let mut text = String::from("[master]\n");
        for (key, value) in [
            ("safe_mode_timeout", "\"2s\""),
            ("rereplication_interval", "\"100ms\""),
        ] {
            if !extra.lines().any(|l| l.trim_start().starts_with(key)) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text.push_str(extra);
        std::fs::write(&cfg, text).expect("config");
        let listen = if self.master_addrs[i].is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.master_addrs[i].clone()
        };
        let mut args: Vec<String> = vec![
            "master".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--listen".into(),
            listen,
            "--data".into(),
            data.display().to_string(),
            "--addr-file".into(),
            addr_file.display().to_string(),
            "--chunk-size".into(),
            self.opts.chunk_size.to_string(),
            "--replication".into(),
            self.opts.replication.to_string(),
            "--dead-timeout".into(),
            format!("{}ms", self.opts.dead_timeout.as_millis()),
            "--heartbeat-interval".into(),
            format!("{}ms", self.opts.heartbeat.as_millis()),
            "--secret".into(),
            self.opts.secret.clone(),
        ];
        if self.opts.masters > 1 {
            let peers: Vec<String> = self
                .master_addrs
                .iter()
                .enumerate()
                .map(|(j, a)| format!("{}={a}", j + 1))
                .collect();
            args.extend([
                "--id".into(),
                (i + 1).to_string(),
                "--peers".into(),
                peers.join(","),
            ]);
        }
        if !self.opts.admin_token.is_empty() {
            args.extend(["--admin-token".into(), self.opts.admin_token.clone()]);
        }
        args.extend(self.tls_args());
        self.masters[i] = Some(spawn_at(
            self.net.as_ref(),
            Node::Master(i),
            &args,
            &self.master_log(i),
            &self.opts.master_env,
        ));
    }

    /// Start a fresh master with id `id` that joins no group by itself (`--join`), to be
    /// added with the membership API. Returns its `host:port` and data directory.
    pub async fn spawn_extra_master(&mut self, id: u64) -> (String, PathBuf) {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().unwrap().to_string()
        };
        let data = self.root.join(format!("master{id}"));
        let addr_file = self.root.join(format!("master-extra{id}.addr"));
        let mut args: Vec<String> = vec![
            "master".into(),
            "--listen".into(),
            addr.clone(),
            "--data".into(),
            data.display().to_string(),
            "--addr-file".into(),
            addr_file.display().to_string(),
            "--id".into(),
            id.to_string(),
            "--join".into(),
            "--secret".into(),
            self.opts.secret.clone(),
            "--heartbeat-interval".into(),
            format!("{}ms", self.opts.heartbeat.as_millis()),
            "--dead-timeout".into(),
            format!("{}ms", self.opts.dead_timeout.as_millis()),
        ];
        args.extend(self.tls_args());
        let child = spawn(&args, &self.root.join(format!("master{id}.log")), &[]);
        self.masters.push(Some(child));
        self.master_addrs.push(addr.clone());
        wait_file(&addr_file, "extra master");
        wait_http(
            &self.http(),
            &format!("{}/health", self.url(&addr)),
            "extra master health",
        )
        .await;
        (addr, data)
    }

    /// The leader's index, if one leads right now among members other than `except`.
    pub async fn leader_index_excluding(&self, except: usize) -> Option<usize> {
        let http = self.http_with(reqwest::Client::builder().timeout(Duration::from_millis(500)));
        for (i, a) in self.master_addrs.iter().enumerate() {
            if i == except || self.masters.get(i).is_none_or(|m| m.is_none()) {
                continue;
            }
            if let Ok(r) = http.get(format!("{}/health", self.url(a))).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["leader"].as_bool() == Some(true)
            {
                return Some(i);
            }
        }
        None
    }

    async fn wait_master(&mut self, i: usize) {
        let addr_file = self.root.join(format!("master{i}.addr"));
        self.master_addrs[i] = wait_file(&addr_file, "master");
        let url = self.url(&self.master_addrs[i]);
        wait_http(&self.http(), &format!("{url}/health"), "master health").await;
    }

    /// SIGKILL master `i`.
    pub fn kill_master_at(&mut self, i: usize) {
        if let Some(mut m) = self.masters[i].take() {
            let _ = m.kill();
            let _ = m.wait();
        }
    }

    /// Start master `i` again on its address and data (it rejoins the group).
    pub async fn start_master_at(&mut self, i: usize) {
        self.kill_master_at(i);
        self.spawn_master(i);
        self.wait_master(i).await;
    }

    /// How master `i` exited, if it has.
    pub fn master_exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        self.masters[i].as_mut()?.try_wait().ok().flatten()
    }

    /// The `--chunk-size` masters get from their next start on.
    pub fn set_chunk_size(&mut self, b: u64) {
        self.opts.chunk_size = b;
    }

    pub fn master_pid(&self, i: usize) -> Option<i32> {
        self.masters[i].as_ref().map(|c| c.id() as i32)
    }

    /// SIGSTOP master `i` (a hung machine: its sockets stay open, nothing answers).
    pub fn pause_master(&self, i: usize) {
        let pid = self.master_pid(i).expect("master running");
        // SAFETY: plain kill(2) on a child we spawned.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    }

    pub fn resume_master(&self, i: usize) {
        if let Some(pid) = self.master_pid(i) {
            // SAFETY: plain kill(2) on a child we spawned.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }

    pub fn chunkserver_dir(&self, i: usize) -> PathBuf {
        self.root.join(format!("cs{i}"))
    }

    /// The chunkserver's persistent id (from its data dir).
    pub fn chunkserver_id(&self, i: usize) -> String {
        std::fs::read_to_string(self.chunkserver_dir(i).join("cs_id"))
            .expect("cs_id")
            .trim()
            .to_string()
    }

    async fn start_chunkserver(&mut self, i: usize) {
        let addr_file = self.root.join(format!("cs{i}.addr"));
        // Reuse the previous port on restart when possible.
        let any_port = match &self.net {
            Some(n) => format!("{}:0", n.ip(Node::Chunkserver(i))),
            None => "127.0.0.1:0".into(),
        };
        let listen = std::fs::read_to_string(&addr_file).unwrap_or_else(|_| any_port.clone());
        let _ = std::fs::remove_file(&addr_file);
        let mut args: Vec<String> = vec![
            "chunkserver".into(),
            "--master".into(),
            self.master_url(),
            "--listen".into(),
            listen.clone(),
            "--data".into(),
            self.chunkserver_dir(i).display().to_string(),
            "--addr-file".into(),
            addr_file.display().to_string(),
            "--secret".into(),
            self.opts.secret.clone(),
        ];
        if let Some(c) = self.opts.capacity {
            args.extend(["--capacity".into(), c.to_string()]);
        }
        if let Some(r) = self.opts.racks.get(i) {
            args.extend(["--rack".into(), r.clone()]);
        }
        args.extend(self.tls_args());
        let mut env = self.opts.chunkserver_env.clone();
        env.extend(self.cs_env.get(&i).cloned().unwrap_or_default());
        let log = self.root.join(format!("cs{i}.log"));
        let net = self.net.as_ref();
        let mut child = spawn_at(net, Node::Chunkserver(i), &args, &log, &env);
        // A reused port may still be taken: fall back to a fresh one.
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(&addr_file).is_ok_and(|s| !s.is_empty()) {
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                assert!(listen != any_port, "chunkserver {i} exited at start");
                let pos = args.iter().position(|a| a == "--listen").unwrap() + 1;
                args[pos] = any_port.clone();
                child = spawn_at(net, Node::Chunkserver(i), &args, &log, &env);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "chunkserver {i} did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.chunkservers[i] = Some(child);
    }

    pub fn chunkserver_addr(&self, i: usize) -> String {
        std::fs::read_to_string(self.root.join(format!("cs{i}.addr"))).unwrap_or_default()
    }

    pub fn chunkserver_count(&self) -> usize {
        self.chunkservers.len()
    }

    /// SIGKILL chunkserver `i`.
    pub fn kill_chunkserver(&mut self, i: usize) {
        if let Some(mut c) = self.chunkservers[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restart chunkserver `i` on the same data dir and wait until the master sees it.
    pub async fn restart_chunkserver(&mut self, i: usize) {
        self.kill_chunkserver(i);
        self.start_chunkserver(i).await;
        let id = self.chunkserver_id(i);
        self.wait_until(
            &format!("chunkserver {id} alive"),
            Duration::from_secs(30),
            |s| s.chunkservers.iter().any(|c| c.id == id && c.alive),
        )
        .await;
    }

    /// Add one more chunkserver; returns its index.
    pub async fn add_chunkserver(&mut self) -> usize {
        let i = self.chunkservers.len();
        self.chunkservers.push(None);
        self.start_chunkserver(i).await;
        i
    }

    /// SIGKILL every master.
    pub fn kill_master(&mut self) {
        for i in 0..self.masters.len() {
            self.kill_master_at(i);
        }
    }

    /// Restart every master on the same addresses and data dirs.
    pub async fn restart_master(&mut self) {
        self.kill_master();
        for i in 0..self.masters.len() {
            self.spawn_master(i);
        }
        for i in 0..self.masters.len() {
            self.wait_master(i).await;
        }
        let _ = self.leader_index().await;
    }

    pub async fn status(&self) -> Status {
        self.http()
            .get(format!("{}/api/v1/status", self.leader_url().await))
            .send()
            .await
            .expect("status request")
            .json()
            .await
            .expect("status json")
    }

    /// Poll the admin status until `f` holds; panics with `reason` after `deadline`.
    pub async fn wait_until(
        &self,
        reason: &str,
        deadline: Duration,
        f: impl Fn(&Status) -> bool,
    ) -> Status {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < deadline {
            if let Some(url) = self.leader_url_now().await
                && let Ok(r) = self.http().get(format!("{url}/api/v1/status")).send().await
                && let Ok(s) = r.json::<Status>().await
            {
                if f(&s) {
                    return s;
                }
                last = Some(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out after {deadline:?} waiting for {reason}; last status: {}",
            serde_json::to_string_pretty(&last).unwrap_or_default()
        );
    }

    /// Mount the cluster with `ferrofs mount` at a fresh directory; unmounted on drop.
    pub async fn mount(&mut self) -> PathBuf {
        self.mount_with(&[]).await
    }

    /// Mount with extra `ferrofs mount` flags.
    pub async fn mount_with(&mut self, extra: &[&str]) -> PathBuf {
        let n = self.mounts.len();
        let mnt = self.root.join(format!("mnt{n}"));
        std::fs::create_dir_all(&mnt).expect("mountpoint");
        let mut args: Vec<String> = vec![
            "mount".into(),
            "--master".into(),
            self.master_url(),
            mnt.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(self.tls_args());
        let child = spawn_at(
            self.net.as_ref(),
            Node::Client,
            &args,
            &self.root.join(format!("mount{n}.log")),
            &[],
        );
        let start = Instant::now();
        let target = mnt.display().to_string();
        loop {
            let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
            if mounts
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(target.as_str()))
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "mount did not appear; see {}",
                self.root.join(format!("mount{n}.log")).display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.mounts.push(mnt.clone());
        self.mount_children.push(child);
        mnt
    }

    /// Print the last lines of every log (called on panic).
    pub fn dump_logs(&self) {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!(
                    "===== {} (last {} lines)\n{}",
                    p.display(),
                    tail.len(),
                    tail.join("\n")
                );
            }
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        for m in &self.mounts {
            let c = std::ffi::CString::new(m.display().to_string()).unwrap();
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
        for mut c in self.mount_children.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        for i in 0..self.chunkservers.len() {
            self.kill_chunkserver(i);
        }
        self.kill_master();
    }
}

async fn wait_http(http: &reqwest::Client, url: &str, what: &str) {
    let start = Instant::now();
    loop {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

// ---- Helpers for the integrity and chaos tests ----

/// A chunk replica file found in a chunkserver's `chunks/` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskChunk {
    pub id: u64,
    pub version: u64,
}

/// Poll an async condition until it holds; panics with `reason` after `deadline`.
pub async fn wait_for<F, Fut>(reason: &str, deadline: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {deadline:?} waiting for {reason}");
}

impl Builder {
    /// Start the cluster with extra environment variables for every chunkserver (e.g.
    /// `FERROFS_SCRUB_INTERVAL`, see `ferrofs_chunkserver::config::ENV_OVERRIDES`).
    pub async fn start_with_chunkserver_env(mut self, env: &[(&str, &str)]) -> TestCluster {
        self.chunkserver_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.start().await
    }
}

impl TestCluster {
    /// Process id of chunkserver `i`, if running.
    pub fn chunkserver_pid(&self, i: usize) -> Option<i32> {
        self.chunkservers[i].as_ref().map(|c| c.id() as i32)
    }

    /// SIGSTOP chunkserver `i`: it keeps its sockets (connections are accepted by the
    /// kernel) but answers nothing, like a hung machine.
    pub fn pause_chunkserver(&self, i: usize) {
        let pid = self.chunkserver_pid(i).expect("chunkserver running");
        // SAFETY: plain kill(2) on a child we spawned.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGSTOP) },
            0,
            "SIGSTOP {pid}"
        );
    }

    /// SIGCONT chunkserver `i` after `pause_chunkserver`.
    pub fn resume_chunkserver(&self, i: usize) {
        if let Some(pid) = self.chunkserver_pid(i) {
            // SAFETY: plain kill(2) on a child we spawned.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }

    pub fn chunkserver_running(&self, i: usize) -> bool {
        self.chunkservers[i].is_some()
    }

    pub fn master_running(&self) -> bool {
        self.masters.iter().any(|m| m.is_some())
    }

    /// The leader's URL if one leads right now (no waiting).
    pub async fn leader_url_now(&self) -> Option<String> {
        let http = self.http_with(reqwest::Client::builder().timeout(Duration::from_millis(500)));
        for (i, a) in self.master_addrs.iter().enumerate() {
            if self.masters.get(i).is_none_or(|m| m.is_none()) {
                continue;
            }
            if let Ok(r) = http.get(format!("{}/health", self.url(a))).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["leader"].as_bool() == Some(true)
            {
                return Some(self.url(a));
            }
        }
        None
    }

    /// Extra environment for chunkserver `i` from its next start on (replaces earlier).
    pub fn set_chunkserver_env(&mut self, i: usize, env: &[(&str, &str)]) {
        self.cs_env.insert(
            i,
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// Start a stopped (killed) chunkserver `i` again without waiting for the master.
    pub async fn start_chunkserver_again(&mut self, i: usize) {
        self.kill_chunkserver(i);
        self.start_chunkserver(i).await;
    }

    /// Start a killed master again (same address and data dir) without killing anything.
    pub async fn start_master_again(&mut self) {
        self.restart_master().await;
    }

    /// Chunk replica files (`{id:016x}_{version}.dat`) on chunkserver `i`'s disk.
    pub fn chunks_on_disk(&self, i: usize) -> Vec<DiskChunk> {
        let mut out = vec![];
        let Ok(rd) = std::fs::read_dir(self.chunkserver_dir(i).join("chunks")) else {
            return out;
        };
        let files = rd
            .flatten()
            .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten());
        for e in files {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".dat") else {
                continue;
            };
            let Some((id, v)) = stem.split_once('_') else {
                continue;
            };
            if let (Ok(id), Ok(version)) = (u64::from_str_radix(id, 16), v.parse()) {
                out.push(DiskChunk { id, version });
            }
        }
        out.sort();
        out
    }

    /// Path of a replica's data file on chunkserver `i`.
    pub fn chunk_file(&self, i: usize, id: u64, version: u64) -> PathBuf {
        self.chunk_dir(i, id)
            .join(format!("{id:016x}_{version}.dat"))
    }

    /// The directory of chunk `id`'s files on chunkserver `i` (`chunks/XX`, by the id's
    /// low byte).
    pub fn chunk_dir(&self, i: usize, id: u64) -> PathBuf {
        self.chunkserver_dir(i)
            .join("chunks")
            .join(format!("{:02x}", id & 0xff))
    }

    /// Index of the chunkserver with this id.
    pub fn chunkserver_index(&self, id: &str) -> Option<usize> {
        (0..self.chunkservers.len()).find(|i| {
            std::fs::read_to_string(self.chunkserver_dir(*i).join("cs_id"))
                .is_ok_and(|s| s.trim() == id)
        })
    }

    /// `GET /api/v1/files?path=`.
    pub async fn file_info(&self, path: &str) -> ferrofs_proto::admin::FileInfo {
        let r = self
            .http()
            .get(format!(
                "{}{}",
                self.leader_url().await,
                ferrofs_proto::admin::FILES
            ))
            .query(&[("path", path)])
            .send()
            .await
            .expect("file info request");
        assert!(r.status().is_success(), "file info {path}: {}", r.status());
        r.json().await.expect("file info json")
    }

    /// `GET /api/v1/fsck?path=`.
    pub async fn fsck(&self, path: &str) -> ferrofs_proto::admin::FsckResp {
        let r = self
            .http()
            .get(format!(
                "{}{}",
                self.leader_url().await,
                ferrofs_proto::admin::FSCK
            ))
            .query(&[("path", path)])
            .send()
            .await
            .expect("fsck request");
        assert!(r.status().is_success(), "fsck {path}: {}", r.status());
        r.json().await.expect("fsck json")
    }

    /// True when every chunk of `path` has exactly `goal` current replicas, each on a
    /// distinct chunkserver, whose data files are byte-identical on disk.
    pub async fn file_at_goal(&self, path: &str, goal: usize) -> bool {
        let info = self.file_info(path).await;
        for ch in &info.chunks {
            let mut reps = ch.live_replicas.clone();
            reps.sort();
            reps.dedup();
            if reps.len() != goal || ch.replicas.len() != goal {
                return false;
            }
            let mut contents = vec![];
            for r in &reps {
                let Some(i) = self.chunkserver_index(r) else {
                    return false;
                };
                match std::fs::read(self.chunk_file(i, ch.id, ch.version)) {
                    Ok(b) => contents.push(b),
                    Err(_) => return false,
                }
            }
            if !contents.windows(2).all(|w| w[0] == w[1]) {
                return false;
            }
        }
        true
    }
}
