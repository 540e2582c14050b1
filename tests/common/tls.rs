//! The TLS material of a `.tls()` cluster: a cluster CA, one node certificate every
//! process shares, and a client certificate for the harness's own calls; the client
//! side is loaded once and reused by every helper call.

use super::netns::{Net, Node};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Tls {
    pub ca: PathBuf,
    pub node: PathBuf,
    pub client: PathBuf,
    /// The client directory loaded (`client`'s material).
    pub transport: ferrofs_tls::Transport,
}

impl Tls {
    /// Make the CA and certificates under `root/tls`, valid for loopback and (for a
    /// `.hosts()` cluster) every address a node of `net` may have (see `Net::ip`).
    pub fn make(root: &Path, net: Option<&Net>) -> Tls {
        let dir = root.join("tls");
        let (ca, node, client) = (dir.join("ca"), dir.join("node"), dir.join("client"));
        let mut hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        if let Some(net) = net {
            let host = net.ip(Node::Host);
            let prefix = host.trim_end_matches(".1");
            hosts.push(host.clone());
            hosts.extend((11..=41).map(|k| format!("{prefix}.{k}")));
        }
        ferrofs_tls::ca::init(&ca).expect("cluster CA");
        ferrofs_tls::ca::issue(&ca, &node, "node", &hosts).expect("node certificate");
        ferrofs_tls::ca::issue(&ca, &client, "client", &hosts).expect("client certificate");
        let transport = ferrofs_tls::Transport::load(Some(&client)).expect("client TLS material");
        Tls {
            ca,
            node,
            client,
            transport,
        }
    }
}
