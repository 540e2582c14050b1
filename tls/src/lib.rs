//! ferrofs's TLS plumbing, in one place for every role: the cluster CA and node
//! certificates (`ca`, rcgen), a node's TLS directory (`TlsDir`: `ca.pem`, `cert.pem`,
//! `key.pem`), the rustls server config (mutual TLS: a peer must present a certificate
//! from the cluster CA), the client config (trusts the cluster CA only and presents the
//! node's certificate; for reqwest, `ClientBuilder::tls_backend_preconfigured`), and
//! serving an axum `Router` over TLS (`serve`).
//! No hand-written crypto: rustls with the ring provider, rcgen.

pub mod ca;
mod serve;
mod transport;

pub use serve::serve;
pub use transport::{Transport, install_provider};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable naming a TLS directory (what `--tls` takes).
pub const TLS_ENV: &str = "FERROFS_TLS";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Pem { path: PathBuf, msg: String },
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls client verifier: {0}")]
    Verifier(String),
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, TlsError>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A node's TLS material, loaded from its directory.
#[derive(Debug)]
pub struct TlsDir {
    pub dir: PathBuf,
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for TlsDir {
    fn clone(&self) -> Self {
        TlsDir {
            dir: self.dir.clone(),
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem_err = |msg: String| TlsError::Pem {
        path: path.to_path_buf(),
        msg,
    };
    let data = std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let v: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if v.is_empty() {
        return Err(pem_err("no certificate in it".into()));
    }
    Ok(v)
}

impl TlsDir {
    /// Load `dir/ca.pem` (the cluster CA), `dir/cert.pem` and `dir/key.pem`.
    pub fn load(dir: &Path) -> Result<TlsDir> {
        let key_path = dir.join("key.pem");
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::Pem {
            path: key_path.clone(),
            msg: e.to_string(),
        })?;
        Ok(TlsDir {
            dir: dir.to_path_buf(),
            ca: certs(&dir.join("ca.pem"))?,
            chain: certs(&dir.join("cert.pem"))?,
            key,
        })
    }

    fn roots(&self) -> Result<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        for c in &self.ca {
            roots.add(c.clone())?;
        }
        Ok(roots)
    }

    /// The server side: this node's certificate; every client must present one from
    /// the cluster CA (mutual TLS). ALPN offers http/1.1 (see `alpn`).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider(),
        )
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = alpn();
        Ok(Arc::new(cfg))
    }

    /// The server side of a public endpoint (the S3 and WebHDFS gateways): this node's
    /// certificate, no client certificate asked for (those clients authenticate by
    /// signature or not at all, and aws-cli or a browser has no cluster certificate).
    pub fn public_server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = alpn();
        Ok(Arc::new(cfg))
    }

    /// The client side: trusts the cluster CA only, presents this node's certificate.
    pub fn client_config(&self) -> Result<rustls::ClientConfig> {
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = alpn();
        Ok(cfg)
    }
}

/// HTTP/1.1 only, as over plain HTTP: concurrent requests get connections of their own.
/// Under HTTP/2 the write pieces of one chunk in flight on one connection share its
/// flow-control window, and a piece the chunkserver does not read yet (it waits for the
/// one before it, in the chunk's write order) can hold back the one it waits for: the
/// first TLS benchmark stalled that way until requests timed out.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"http/1.1".to_vec()]
}

/// `http` or `https`: the scheme of every URL a node builds.
pub fn scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

#[cfg(test)]
mod tests;
