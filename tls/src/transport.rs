//! How one process speaks HTTP to the others: plain, or HTTPS with the cluster's
//! material (mutual TLS). Every role, the CLI and the mount hold one `Transport` and
//! take from it the three things that differ: the scheme of the URLs they build, the
//! reqwest client they call with, and how they serve their listener.

use crate::{Result, TlsDir, TlsError};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// Install rustls's ring provider as the process default, once. reqwest (built with
/// `rustls-no-provider`) needs a process default to build any client, even one that
/// speaks only plain HTTP; every entry point calls this before its first client.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Clone, Default)]
pub struct Transport {
    tls: Option<Arc<Material>>,
}

struct Material {
    dir: TlsDir,
    server: Arc<rustls::ServerConfig>,
    public: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tls {
            None => f.write_str("Transport(plain)"),
            Some(m) => write!(f, "Transport(tls {})", m.dir.dir.display()),
        }
    }
}

impl Transport {
    /// HTTPS with the material in `dir` (`ca.pem`, `cert.pem`, `key.pem`); plain HTTP
    /// (`Transport::default()`) for `None`.
    pub fn load(dir: Option<&Path>) -> Result<Transport> {
        let Some(dir) = dir else {
            return Ok(Transport::default());
        };
        let dir = TlsDir::load(dir)?;
        let server = dir.server_config()?;
        let public = dir.public_server_config()?;
        Ok(Transport {
            tls: Some(Arc::new(Material {
                dir,
                server,
                public,
            })),
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        crate::scheme(self.is_tls())
    }

    /// The URL of `path` on the node at `addr` (`host:port`).
    pub fn url(&self, addr: &str, path: &str) -> String {
        format!("{}://{addr}{path}", self.scheme())
    }

    /// A base URL (`http[s]://host:port`, no trailing slash) for an address given by a
    /// person or a config file: `host:port` gets this transport's scheme, and so does
    /// an `http://` URL under TLS (the cluster speaks nothing else then). An `https://`
    /// URL without TLS is an error: there is no certificate to offer.
    pub fn base_url(&self, s: &str) -> Result<String> {
        let s = s.trim().trim_end_matches('/');
        let rest = if let Some(r) = s.strip_prefix("https://") {
            if !self.is_tls() {
                return Err(TlsError::Usage(format!(
                    "{s}: an https:// address needs --tls DIR (or FERROFS_TLS)"
                )));
            }
            r
        } else {
            s.strip_prefix("http://").unwrap_or(s)
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(TlsError::Usage(format!(
                "{s:?}: expected HOST:PORT or a URL"
            )));
        }
        Ok(format!("{}://{rest}", self.scheme()))
    }

    /// Finish a reqwest client: under TLS it trusts the cluster CA only and presents
    /// this node's certificate.
    pub fn client(&self, b: reqwest::ClientBuilder) -> Result<reqwest::Client> {
        install_provider();
        let b = match &self.tls {
            None => b,
            Some(m) => b.tls_backend_preconfigured(m.dir.client_config()?),
        };
        b.build()
            .map_err(|e| TlsError::Usage(format!("HTTP client: {e}")))
    }

    /// Serve `app` on `listener` until `shutdown` resolves: HTTPS requiring a client
    /// certificate from the cluster CA under TLS, plain HTTP otherwise.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cfg = self.tls.as_ref().map(|m| m.server.clone());
        crate::serve(listener, app, cfg, shutdown).await
    }

    /// Serve a public endpoint (S3, WebHDFS): HTTPS under TLS without asking for a
    /// client certificate, plain HTTP otherwise.
    pub async fn serve_public(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cfg = self.tls.as_ref().map(|m| m.public.clone());
        crate::serve(listener, app, cfg, shutdown).await
    }
}
