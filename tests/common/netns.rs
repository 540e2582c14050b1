//! The multi-host harness: every node of a `TestCluster` built with `.hosts()` runs in a
//! network namespace of its own, with its own address from 198.18.0.0/15, all joined by
//! a bridge (scripts/netns-cluster.sh, the same steps people run, does the work). The
//! test process itself is the node `Host` (198.18.N.1). Partitions and packet loss are
//! nftables rules in the nodes' namespaces; `Drop` removes every namespace, interface
//! and rule, also when the test fails.

use std::path::PathBuf;
use std::process::Command;

/// A node of the multi-host cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The test process (the root namespace).
    Host,
    Master(usize),
    Chunkserver(usize),
    /// The client namespace (mounts and CLI calls made with `run_in`).
    Client,
}

impl Node {
    /// The script's name of the node (`m1`, `c3`, `k1`, `host`).
    pub fn name(self) -> String {
        match self {
            Node::Host => "host".into(),
            Node::Master(i) => format!("m{}", i + 1),
            Node::Chunkserver(i) => format!("c{}", i + 1),
            Node::Client => "k1".into(),
        }
    }
}

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/netns-cluster.sh")
}

fn run(args: &[String]) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("FERROFS_NETNS_OWNER", std::process::id().to_string())
        .output()
        .expect("run scripts/netns-cluster.sh")
}

fn must(args: &[String]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "netns-cluster.sh {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Can this process make network namespaces (root, `ip` and `nft` present)?
pub fn available() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let tool = |t: &str| {
        Command::new(t)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    root && tool("ip") && tool("nft")
}

/// One network of namespaces, 198.18.N.0/24.
#[derive(Debug)]
pub struct Net {
    n: u8,
}

impl Net {
    /// Make a network with these nodes (the host always joins it). Picks a free N.
    pub fn up(nodes: &[Node]) -> Net {
        let start = (std::process::id() % 200) as u8;
        for k in 0..250u16 {
            let n = ((start as u16 + k) % 250 + 1) as u8;
            let mut args = vec!["net-up".to_string(), n.to_string()];
            args.extend(nodes.iter().filter(|x| **x != Node::Host).map(|x| x.name()));
            let out = run(&args);
            match out.status.code() {
                Some(0) => return Net { n },
                Some(3) => continue, // taken by another test
                _ => {
                    let _ = run(&["net-down".into(), n.to_string()]);
                    panic!(
                        "could not make network {n}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        panic!("no free network 198.18.N.0/24");
    }

    /// The node's address.
    pub fn ip(&self, node: Node) -> String {
        let n = self.n;
        match node {
            Node::Host => format!("198.18.{n}.1"),
            Node::Master(i) => format!("198.18.{n}.{}", 11 + i),
            Node::Chunkserver(i) => format!("198.18.{n}.{}", 21 + i),
            Node::Client => format!("198.18.{n}.41"),
        }
    }

    /// The namespace file to enter for `node` (None: the host).
    pub fn ns_path(&self, node: Node) -> Option<PathBuf> {
        (node != Node::Host)
            .then(|| PathBuf::from(format!("/run/netns/ff{}-{}", self.n, node.name())))
    }

    /// A command that runs `program` in `node`'s network namespace only (mounts made
    /// there stay visible to the host).
    pub fn command(&self, node: Node, program: &str) -> Command {
        match self.ns_path(node) {
            None => Command::new(program),
            Some(p) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", p.display())).arg(program);
                c
            }
        }
    }

    /// No packet passes between a node of `a` and a node of `b` (silently dropped:
    /// connections time out, none is refused). Adds to earlier cuts.
    pub fn partition(&self, a: &[Node], b: &[Node]) {
        let mut args = vec!["cut".to_string(), self.n.to_string()];
        args.extend(a.iter().map(|x| x.name()));
        args.push("--".into());
        args.extend(b.iter().map(|x| x.name()));
        must(&args);
    }

    /// Remove every cut and every loss rule.
    pub fn heal(&self) {
        must(&["heal".into(), self.n.to_string()]);
    }

    /// Drop `percent`% of the packets arriving at `node` (at random).
    pub fn loss(&self, node: Node, percent: u8) {
        must(&[
            "loss".into(),
            self.n.to_string(),
            node.name(),
            percent.to_string(),
        ]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = run(&["net-down".into(), self.n.to_string()]);
    }
}
