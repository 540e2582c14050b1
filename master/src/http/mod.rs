//! The master's HTTP server: RPC routes for clients and chunkservers, the admin API, the
//! dashboard and `/metrics`. Every error is a JSON `ApiError` with its code's status;
//! malformed input is a 4xx, never a panic.

mod admin;
mod masters;
mod raft;
mod rpc;

use crate::state::Master;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrofs_proto::validate::Validate;
use ferrofs_proto::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Instant;

/// Largest JSON body the master accepts.
pub const MAX_BODY: usize = 4 << 20;
/// Largest body between masters (a Raft snapshot piece is 3 MiB, an append batch more).
pub const MAX_RAFT_BODY: usize = 64 << 20;

/// An error reply: JSON `ApiError` with the status its code maps to.
pub struct HttpError(pub ApiError);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0)).into_response()
    }
}

impl From<crate::error::MasterError> for HttpError {
    fn from(e: crate::error::MasterError) -> Self {
        HttpError(e.to_api())
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

pub type HttpResult<T> = Result<axum::Json<T>, HttpError>;

fn rejection(status: StatusCode, text: String) -> HttpError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::PayloadTooLarge
    } else {
        ErrorCode::BadRequest
    };
    HttpError(ApiError::new(code, text))
}

/// `axum::Json` whose rejections are JSON `ApiError`s, and whose values are in range
/// (`ferrofs_proto::validate`) before any handler sees them.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => {
                v.validate()?;
                Ok(ApiJson(v))
            }
            Err(rej) => Err(rejection(rej.status(), rej.body_text())),
        }
    }
}

/// `axum::extract::Query` whose rejections are JSON `ApiError`s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(rejection(rej.status(), rej.body_text())),
        }
    }
}

async fn not_found(req: Request) -> HttpError {
    HttpError(ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {} {}", req.method(), req.uri().path()),
    ))
}

/// Count and time every request; 5xx at warn, 4xx at info.
async fn observe(State(m): State<Arc<Master>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    if route.starts_with("/rpc/v1/ns/") && route != ferrofs_proto::namespace::CHANGES {
        m.history.count_meta_op();
    }
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    m.metrics
        .requests
        .get_or_create(&crate::metrics::RouteLabel {
            route: route.clone(),
            status,
        })
        .inc();
    m.metrics
        .latency
        .get_or_create(&crate::metrics::OpLabel { op: route.clone() })
        .observe(secs);
    if status >= 500 {
        tracing::warn!(%method, %route, status, "request failed");
    } else if status >= 400 {
        tracing::info!(%method, %route, status, "request refused");
    }
    resp
}

/// Internal calls (chunkservers, other masters) carry the cluster secret.
pub(crate) fn check_secret(m: &Master, headers: &axum::http::HeaderMap) -> Result<(), HttpError> {
    if m.cfg.secret.is_empty() {
        return Ok(());
    }
    let given = headers
        .get(ferrofs_proto::SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ferrofs_proto::token::constant_time_eq(given.as_bytes(), m.cfg.secret.as_bytes()) {
        Ok(())
    } else {
        Err(HttpError(ApiError::new(
            ErrorCode::Unauthorized,
            "internal calls need the cluster secret",
        )))
    }
}

pub fn router(master: Arc<Master>) -> Router {
    Router::new()
        .merge(rpc::routes())
        .merge(admin::routes())
        .merge(masters::routes())
        .merge(raft::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            master.clone(),
            observe,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(master)
}
