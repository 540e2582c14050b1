use super::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cluster(dir: &Path) -> (TlsDir, TlsDir) {
    ca::init(&dir.join("ca")).unwrap();
    ca::issue(
        &dir.join("ca"),
        &dir.join("node"),
        "node",
        &["127.0.0.1".into()],
    )
    .unwrap();
    ca::issue(&dir.join("ca"), &dir.join("client"), "client", &[]).unwrap();
    (
        TlsDir::load(&dir.join("node")).unwrap(),
        TlsDir::load(&dir.join("client")).unwrap(),
    )
}

async fn server(tls: Option<&TlsDir>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = axum::Router::new().route("/hi", axum::routing::get(|| async { "hello" }));
    let cfg = tls.map(|t| t.server_config().unwrap());
    tokio::spawn(serve(l, app, cfg, std::future::pending()));
    addr
}

const GET: &[u8] = b"GET /hi HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";

/// GET /hi over TLS with `cfg`: the response, or the error that ended the exchange.
async fn get(addr: SocketAddr, mut cfg: rustls::ClientConfig) -> std::io::Result<String> {
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await?;
    s.write_all(GET).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

fn no_cert(trust: &TlsDir) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(trust.roots().unwrap())
        .with_no_client_auth()
}

/// A client with a certificate from the cluster CA is served over TLS; one without a
/// certificate, or with one from another CA, is refused; a client trusting another CA
/// refuses the server; `ca init` will not overwrite a CA.
#[tokio::test]
async fn mutual_tls_between_cluster_members_only() {
    let d = tempfile::tempdir().unwrap();
    let (node, client) = cluster(d.path());
    let addr = server(Some(&node)).await;
    let r = get(addr, client.client_config().unwrap()).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("hello"), "{r}");

    let r = get(addr, no_cert(&client)).await;
    assert!(
        r.is_err() || !r.as_ref().unwrap().contains("hello"),
        "served a client without a certificate: {r:?}"
    );

    let other = tempfile::tempdir().unwrap();
    let (_, stranger) = cluster(other.path());
    let r = get(addr, stranger.client_config().unwrap()).await;
    assert!(r.is_err(), "served (or trusted) a stranger: {r:?}");
    let r = get(addr, no_cert(&stranger)).await;
    assert!(
        r.is_err(),
        "a client of another CA trusted this server: {r:?}"
    );

    let e = ca::init(&d.path().join("ca")).unwrap_err();
    assert!(e.to_string().contains("already holds a CA"), "{e}");
}

/// Plain HTTP when no TLS config is given.
#[tokio::test]
async fn plain_without_tls() {
    let addr = server(None).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(GET).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with("hello"), "{out}");
}

/// Bad input: a missing directory names the file; an empty name is refused.
#[test]
fn clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let e = TlsDir::load(&d.path().join("nope")).unwrap_err();
    assert!(e.to_string().contains("key.pem"), "{e}");
    ca::init(&d.path().join("ca")).unwrap();
    let e = ca::issue(&d.path().join("ca"), &d.path().join("x"), "", &[]).unwrap_err();
    assert!(e.to_string().contains("--name"), "{e}");
}
