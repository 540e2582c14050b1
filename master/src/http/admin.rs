//! Admin API routes, `/metrics` and the dashboard. Reads are open; mutations need the
//! admin bearer token when one is configured.

use super::{ApiJson, ApiQuery, HttpError, HttpResult};
use crate::state::Master;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrofs_proto::admin::*;
use ferrofs_proto::{ApiError, ErrorCode};
use std::sync::Arc;

type S = State<Arc<Master>>;

pub fn routes() -> Router<Arc<Master>> {
    Router::new()
        .route("/", get(dashboard))
        .route(STATUS, get(status))
        .route(FILES, get(files))
        .route(CHUNKSERVERS, get(chunkservers))
        .route(UNDER_REPLICATED, get(under_replicated))
        .route(FSCK, get(fsck))
        .route(SET_REPLICATION, post(set_replication))
        .route("/api/v1/chunkservers/{id}/maintenance", post(maintenance))
        .route("/api/v1/chunkservers/{id}/decommission", post(decommission))
        .route(METRICS, get(metrics))
        .route(HISTORY, get(history))
}

pub(super) fn check_admin(m: &Master, headers: &HeaderMap) -> Result<(), HttpError> {
    if m.cfg.admin_token.is_empty() {
        return Ok(());
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = ferrofs_proto::token::constant_time_eq(given.as_bytes(), m.cfg.admin_token.as_bytes());
    if ok {
        Ok(())
    } else {
        Err(HttpError(ApiError::new(
            ErrorCode::Unauthorized,
            "this admin call needs `Authorization: Bearer <admin_token>`",
        )))
    }
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../dashboard.html"))
}

async fn status(State(m): S) -> Json<Status> {
    Json(m.status())
}

async fn files(State(m): S, ApiQuery(q): ApiQuery<PathQuery>) -> HttpResult<FileInfo> {
    Ok(Json(m.file_info(&q.path)?))
}

async fn chunkservers(State(m): S) -> Json<Vec<ChunkserverStatus>> {
    Json(m.status().chunkservers)
}

async fn under_replicated(State(m): S) -> Json<Vec<UnderReplicatedChunk>> {
    Json(m.under_replicated_list())
}

async fn fsck(State(m): S, ApiQuery(q): ApiQuery<PathQuery>) -> HttpResult<FsckResp> {
    Ok(Json(m.fsck(&q.path)?))
}

async fn set_replication(
    State(m): S,
    headers: HeaderMap,
    ApiJson(r): ApiJson<SetReplicationReq>,
) -> HttpResult<SetReplicationResp> {
    check_admin(&m, &headers)?;
    Ok(Json(m.set_replication(&r).await?))
}

async fn maintenance(
    State(m): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<MaintenanceReq>,
) -> HttpResult<serde_json::Value> {
    check_admin(&m, &headers)?;
    m.set_maintenance(&id, r.on).await?;
    Ok(Json(serde_json::json!({"id": id, "maintenance": r.on})))
}

async fn decommission(
    State(m): S,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> HttpResult<serde_json::Value> {
    check_admin(&m, &headers)?;
    m.decommission(&id).await?;
    Ok(Json(serde_json::json!({"id": id, "decommissioning": true})))
}

async fn metrics(State(m): S) -> impl IntoResponse {
    let _ = m.status(); // refresh the health gauges
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.metrics.encode(),
    )
}

async fn history(State(m): S, ApiQuery(q): ApiQuery<HistoryQuery>) -> Json<HistoryResp> {
    Json(HistoryResp {
        interval_ms: crate::history::INTERVAL.as_millis() as u64,
        samples: m.history.since(q.since),
    })
}
