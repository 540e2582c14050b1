//! Routes between master members: Raft messages (postcard bodies) and the durability
//! barrier, all behind the cluster secret.

use super::{HttpError, check_secret};
use crate::raft::TypeConfig;
use crate::raft::network::POSTCARD;
use crate::state::Master;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ferrofs_proto::raft::{APPEND, SNAPSHOT, SYNC, SyncReq, VOTE};
use ferrofs_proto::{ApiError, ErrorCode};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

type S = State<Arc<Master>>;

pub fn routes() -> Router<Arc<Master>> {
    Router::new()
        .route(APPEND, post(append))
        .route(VOTE, post(vote))
        .route(SNAPSHOT, post(snapshot))
        .route(SYNC, post(sync))
        .layer(axum::extract::DefaultBodyLimit::max(super::MAX_RAFT_BODY))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    postcard::from_bytes(body).map_err(|e| {
        HttpError(ApiError::new(
            ErrorCode::BadRequest,
            format!("undecodable Raft message: {e}"),
        ))
    })
}

fn reply<T: Serialize>(v: &T) -> Response {
    match postcard::to_allocvec(v) {
        Ok(b) => (StatusCode::OK, [(header::CONTENT_TYPE, POSTCARD)], b).into_response(),
        Err(e) => HttpError(ApiError::internal(e)).into_response(),
    }
}

async fn append(State(m): S, h: HeaderMap, body: Bytes) -> Result<Response, HttpError> {
    check_secret(&m, &h)?;
    let req: AppendEntriesRequest<TypeConfig> = decode(&body)?;
    Ok(reply(&m.raft.append_entries(req).await))
}

async fn vote(State(m): S, h: HeaderMap, body: Bytes) -> Result<Response, HttpError> {
    check_secret(&m, &h)?;
    let req: VoteRequest<u64> = decode(&body)?;
    Ok(reply(&m.raft.vote(req).await))
}

async fn snapshot(State(m): S, h: HeaderMap, body: Bytes) -> Result<Response, HttpError> {
    check_secret(&m, &h)?;
    let req: InstallSnapshotRequest<TypeConfig> = decode(&body)?;
    Ok(reply(&m.raft.install_snapshot(req).await))
}

async fn sync(
    State(m): S,
    h: HeaderMap,
    super::ApiJson(req): super::ApiJson<SyncReq>,
) -> Result<axum::Json<ferrofs_proto::raft::SyncResp>, HttpError> {
    check_secret(&m, &h)?;
    Ok(axum::Json(crate::durable::sync_local(&m, &req).await?))
}
