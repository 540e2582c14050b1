//! `ferrofs up --tls`: the TLS material of a local cluster. With `--tls DIR` every child
//! uses DIR; with a bare `--tls` a cluster CA and certificates are made once under the
//! data directory's `tls/` (a node certificate for 127.0.0.1 and localhost shared by
//! every child, and a client one for curl and the CLI) and kept for later starts.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub(crate) struct UpTls {
    /// The directory every child gets as `--tls`; None: plain HTTP.
    pub node: Option<PathBuf>,
    /// The directory to give curl and the CLI (the same as `node` with `--tls DIR`).
    pub client: Option<PathBuf>,
}

impl UpTls {
    pub fn plain() -> UpTls {
        UpTls {
            node: None,
            client: None,
        }
    }

    /// From `--tls` as given (`AUTO`: make the material under `dir/tls`).
    pub fn prepare(flag: Option<PathBuf>, dir: &Path) -> Result<UpTls> {
        let Some(f) = flag else {
            return Ok(UpTls::plain());
        };
        if f.as_os_str() != crate::tls_opt::AUTO {
            let d = crate::tls_opt::dir(None)?;
            return Ok(UpTls {
                node: d.clone(),
                client: d,
            });
        }
        let root = dir.join("tls");
        let (ca, node, client) = (root.join("ca"), root.join("node"), root.join("client"));
        if !ca.join("ca.pem").exists() {
            ferrofs_tls::ca::init(&ca).context("making the cluster CA")?;
        }
        let hosts = ["127.0.0.1".to_string(), "localhost".to_string()];
        if !node.join("cert.pem").exists() {
            ferrofs_tls::ca::issue(&ca, &node, "node", &hosts).context("node certificate")?;
        }
        if !client.join("cert.pem").exists() {
            ferrofs_tls::ca::issue(&ca, &client, "client", &hosts).context("client certificate")?;
        }
        Ok(UpTls {
            node: Some(node),
            client: Some(client),
        })
    }

    /// `--tls DIR` for a child's command line (empty for plain HTTP).
    pub fn args(&self) -> Vec<String> {
        match &self.node {
            Some(d) => vec!["--tls".into(), d.display().to_string()],
            None => vec![],
        }
    }

    pub fn scheme(&self) -> &'static str {
        ferrofs_tls::scheme(self.node.is_some())
    }

    /// The transport `up` itself calls the cluster with.
    pub fn transport(&self) -> Result<ferrofs_tls::Transport> {
        Ok(ferrofs_tls::Transport::load(self.client.as_deref())?)
    }

    /// What the banner says about TLS.
    pub fn banner(&self, first: &str) {
        if let Some(c) = &self.client {
            let d = c.display();
            outln!("  TLS:       mutual TLS on every connection; client material in {d}");
            outln!(
                "  curl:      curl --cacert {d}/ca.pem --cert {d}/cert.pem --key {d}/key.pem \
                 {first}/api/v1/status"
            );
        }
    }
}
