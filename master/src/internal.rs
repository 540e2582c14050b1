//! The master's calls to a chunkserver's internal API (creates, version bumps), with
//! the cluster secret; a refusal carries the chunkserver's error code.

use crate::state::Master;
use ferrofs_proto::ErrorCode;

impl Master {
    /// POST a JSON body to a chunkserver's internal API with the cluster secret. A
    /// refusal carries the chunkserver's error code.
    pub(crate) async fn internal_post<T: serde::Serialize>(
        &self,
        addr: &str,
        path: &str,
        body: &T,
    ) -> std::result::Result<(), InternalError> {
        self.internal_send(addr, path, body).await.map(|_| ())
    }

    /// `internal_post`, with the reply's JSON body.
    pub(crate) async fn internal_post_reply<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        body: &T,
    ) -> std::result::Result<R, InternalError> {
        let resp = self.internal_send(addr, path, body).await?;
        resp.json::<R>().await.map_err(|e| InternalError {
            code: None,
            msg: format!("bad reply: {e}"),
        })
    }

    async fn internal_send<T: serde::Serialize>(
        &self,
        addr: &str,
        path: &str,
        body: &T,
    ) -> std::result::Result<reqwest::Response, InternalError> {
        let resp = self
            .http
            .post(self.transport.url(addr, path))
            .header(ferrofs_proto::SECRET_HEADER, &self.cfg.secret)
            // Creates and version bumps are small: a server that does not answer
            // quickly is left out rather than stalling the lease.
            .timeout(self.cfg.rpc_timeout.min(std::time::Duration::from_secs(3)))
            .json(body)
            .send()
            .await
            .map_err(|e| InternalError {
                code: None,
                msg: e.to_string(),
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let code = serde_json::from_str::<ferrofs_proto::ApiError>(&text)
            .ok()
            .map(|e| e.code);
        Err(InternalError {
            code,
            msg: format!("{status}: {text}"),
        })
    }
}

/// A failed master -> chunkserver call.
#[derive(Debug)]
pub(crate) struct InternalError {
    pub code: Option<ErrorCode>,
    pub msg: String,
}

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}
