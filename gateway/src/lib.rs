//! Gateways into a ferrofs cluster for the tools people already use: an S3 endpoint
//! (aws-cli, boto3, rclone, pyarrow, DuckDB, Spark) and a WebHDFS endpoint (Hadoop
//! clients, HdfsCLI). Both are clients of the cluster like a mount is, through
//! `ferrofs_client::Client`: a bucket is a top-level directory and an object a file,
//! so what one writes through S3 is a file in the mount, WebHDFS and the CLI.

pub mod config;
pub mod error;
pub mod fsio;
pub mod s3;
pub mod webhdfs;

pub use config::{GatewayConfig, S3Key};
pub use error::{GatewayError, Result};

use axum::Router;
use axum::error_handling::HandleError;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ferrofs_client::{Client, ClientConfig};
use std::future::Future;

/// The S3 service (s3s with SigV4 over the configured keys) as an axum router.
pub fn s3_router(client: Client, cfg: &GatewayConfig) -> Router {
    let backend = s3::FerroS3::new(
        client,
        s3::S3Settings {
            region: cfg.region.clone(),
            min_part_size: cfg.min_part_size,
        },
    );
    let mut b = s3s::service::S3ServiceBuilder::new(backend);
    if !cfg.keys.is_empty() {
        let mut auth = s3s::auth::SimpleAuth::new();
        for k in &cfg.keys {
            auth.register(k.access_key.clone(), k.secret_key.clone().into());
        }
        b.set_auth(auth);
    }
    let service = HandleError::new(b.build(), |e: s3s::HttpError| async move {
        tracing::warn!(error = ?e, "S3 request failed below the S3 layer");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
    });
    Router::new()
        .fallback_service(service)
        .layer(axum::middleware::from_fn(log_status))
}

/// One log line per refused or failed request: 5xx at warn, 4xx at info (s3s's own
/// logs say ERROR for every 4xx; `ferrofs` turns them off unless RUST_LOG asks).
///
/// A refused upload may leave its body unread (a part for an unknown upload is refused
/// before its bytes are looked at), and an unread aws-chunked body with trailers
/// leaves the HTTP/1 connection stuck for the client's next request (boto3 waits out
/// its read timeout). So an error reply to a request with a body closes the connection.
async fn log_status(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let has_body = matches!(method, axum::http::Method::PUT | axum::http::Method::POST);
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    if status >= 400 && has_body {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    if status >= 500 {
        tracing::warn!(%method, %path, status, "S3 request failed");
    } else if status >= 400 {
        tracing::info!(%method, %path, status, "S3 request refused");
    }
    resp
}

/// Run the configured endpoints on pre-bound listeners until `shutdown` resolves.
pub async fn run(
    cfg: GatewayConfig,
    s3_listener: Option<tokio::net::TcpListener>,
    webhdfs_listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    cfg.validate().map_err(GatewayError::Config)?;
    let transport = ferrofs_tls::Transport::load(cfg.tls_dir.as_deref())
        .map_err(|e| GatewayError::Config(e.to_string()))?;
    let mut ccfg = ClientConfig::new(cfg.master.clone());
    ccfg.transport = transport.clone();
    let client = Client::new(ccfg)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut servers = vec![];
    if let Some(l) = s3_listener {
        let app = s3_router(client.clone(), &cfg);
        tracing::info!(addr = %l.local_addr()?, keys = cfg.keys.len(), anonymous = cfg.anonymous, "S3 endpoint listening");
        let t = transport.clone();
        let stop = stopped();
        servers.push(tokio::spawn(
            async move { t.serve_public(l, app, stop).await },
        ));
    }
    if let Some(l) = webhdfs_listener {
        let app = webhdfs::router(
            client.clone(),
            cfg.webhdfs_data_url.clone(),
            transport.scheme(),
        );
        tracing::info!(addr = %l.local_addr()?, "WebHDFS endpoint listening");
        let t = transport.clone();
        let stop = stopped();
        servers.push(tokio::spawn(
            async move { t.serve_public(l, app, stop).await },
        ));
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    for s in servers {
        match s.await {
            Ok(r) => r?,
            Err(e) => return Err(GatewayError::Io(std::io::Error::other(e))),
        }
    }
    tracing::info!("gateway stopped");
    Ok(())
}
