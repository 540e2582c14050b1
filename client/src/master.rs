//! Calls to the master: JSON in, JSON out, retried while the master is unreachable.

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use ferrofs_proto::{ApiError, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct MasterClient {
    http: reqwest::Client,
    base: String,
    retry_for: Duration,
    /// Sent as `ORIGIN_HEADER` when non-zero (see `with_origin`).
    origin: u64,
}

impl MasterClient {
    pub fn new(cfg: &ClientConfig, http: reqwest::Client) -> Self {
        MasterClient {
            http,
            base: cfg.master.clone(),
            retry_for: cfg.master_retry,
            origin: 0,
        }
    }

    /// Name this client's namespace calls with `origin` in the master's change feed.
    pub fn with_origin(mut self, origin: u64) -> Self {
        self.origin = origin;
        self
    }

    /// The same master, over another connection pool.
    pub fn with_http(&self, http: reqwest::Client) -> Self {
        MasterClient {
            http,
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// POST `req` as JSON to `path`; retries connection failures (and safe-mode or
    /// no-chunkserver refusals, which pass) until `retry_for` has elapsed.
    pub async fn call<Q: Serialize, R: DeserializeOwned>(&self, path: &str, req: &Q) -> Result<R> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            let res = self.call_once(path, req).await;
            let retry = match &res {
                Err(ClientError::MasterUnreachable { .. }) => true,
                Err(ClientError::Api(e)) => {
                    matches!(e.code, ErrorCode::SafeMode | ErrorCode::NoChunkservers)
                }
                _ => false,
            };
            if !retry || start.elapsed() + delay > self.retry_for {
                return res;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// One POST, no retries.
    pub async fn call_once<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        req: &Q,
    ) -> Result<R> {
        let url = format!("{}{}", self.base, path);
        let mut rb = self.http.post(&url).json(req);
        if self.origin != 0 {
            rb = rb.header(ferrofs_proto::namespace::ORIGIN_HEADER, self.origin);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| ClientError::MasterUnreachable {
                url: self.base.clone(),
                msg: root_cause(&e),
            })?;
        decode(resp, &self.base).await
    }

    /// GET a JSON document (admin API).
    pub async fn get<R: DeserializeOwned>(&self, path_and_query: &str) -> Result<R> {
        let resp = self
            .http
            .get(format!("{}{}", self.base, path_and_query))
            .send()
            .await
            .map_err(|e| ClientError::MasterUnreachable {
                url: self.base.clone(),
                msg: root_cause(&e),
            })?;
        decode(resp, &self.base).await
    }

    /// POST JSON with an optional admin bearer token (admin API).
    pub async fn admin_post<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        req: &Q,
        token: Option<&str>,
    ) -> Result<R> {
        let mut rb = self.http.post(format!("{}{}", self.base, path)).json(req);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| ClientError::MasterUnreachable {
                url: self.base.clone(),
                msg: root_cause(&e),
            })?;
        decode(resp, &self.base).await
    }
}

/// Decode a JSON reply, or the `ApiError` of a non-2xx reply.
pub(crate) async fn decode<R: DeserializeOwned>(resp: reqwest::Response, from: &str) -> Result<R> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| ClientError::Protocol {
        from: from.to_string(),
        msg: root_cause(&e),
    })?;
    if status.is_success() {
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            from: from.to_string(),
            msg: format!("undecodable reply: {e}"),
        })
    } else {
        Err(ClientError::Api(api_error(status, &bytes)))
    }
}

pub(crate) fn api_error(status: reqwest::StatusCode, body: &[u8]) -> ApiError {
    serde_json::from_slice::<ApiError>(body).unwrap_or_else(|_| {
        ApiError::new(
            ErrorCode::Internal,
            format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
        )
    })
}

/// The innermost cause of a reqwest error, which is the informative part
/// ("Connection refused" rather than "error sending request").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if e.to_string() == cur.to_string() {
        e.to_string()
    } else {
        format!("{e}: {cur}")
    }
}
