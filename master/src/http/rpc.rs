//! RPC routes: the namespace and file calls clients make, and chunkserver registration
//! and heartbeats (which need the cluster secret).

use super::{ApiJson, HttpError, HttpResult};
use crate::state::Master;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrofs_proto::heartbeat::{self, HeartbeatReq, HeartbeatResp, RegisterReq, RegisterResp};
use ferrofs_proto::namespace::*;
use ferrofs_proto::{ApiError, ErrorCode};
use std::sync::Arc;

type S = State<Arc<Master>>;

pub fn routes() -> Router<Arc<Master>> {
    Router::new()
        .route(LOOKUP, post(lookup))
        .route(GETATTR, post(getattr))
        .route(RESOLVE, post(resolve))
        .route(SETATTR, post(setattr))
        .route(CREATE, post(create))
        .route(UNLINK, post(unlink))
        .route(RENAME, post(rename))
        .route(LINK, post(link))
        .route(READDIR, post(readdir))
        .route(READLINK, post(readlink))
        .route(RELEASE, post(release))
        .route(STATFS, post(statfs).get(statfs))
        .route(CHUNKS, post(chunks))
        .route(LEASE, post(lease))
        .route(COMMIT, post(commit))
        .route(heartbeat::REGISTER, post(register))
        .route(heartbeat::HEARTBEAT, post(beat))
        .route(ferrofs_proto::chunk::HEALTH, get(health))
}

async fn health(State(m): S) -> Json<serde_json::Value> {
    Json(
        serde_json::json!({"status": "ok", "role": "master", "safe_mode": m.cluster.lock().safe_mode}),
    )
}

async fn lookup(State(m): S, ApiJson(r): ApiJson<LookupReq>) -> HttpResult<Attr> {
    Ok(Json(m.lookup(r.parent, &r.name)?))
}

async fn getattr(State(m): S, ApiJson(r): ApiJson<GetattrReq>) -> HttpResult<Attr> {
    Ok(Json(m.getattr(r.ino)?))
}

async fn resolve(State(m): S, ApiJson(r): ApiJson<ResolveReq>) -> HttpResult<Attr> {
    Ok(Json(m.resolve(&r.path)?))
}

async fn setattr(State(m): S, ApiJson(r): ApiJson<SetattrReq>) -> HttpResult<Attr> {
    Ok(Json(m.setattr(&r)?))
}

async fn create(State(m): S, ApiJson(r): ApiJson<CreateReq>) -> HttpResult<CreateResp> {
    Ok(Json(m.create(&r)?))
}

async fn unlink(State(m): S, ApiJson(r): ApiJson<UnlinkReq>) -> HttpResult<UnlinkResp> {
    Ok(Json(m.unlink(&r)?))
}

async fn rename(State(m): S, ApiJson(r): ApiJson<RenameReq>) -> HttpResult<RenameResp> {
    Ok(Json(m.rename(&r)?))
}

async fn link(State(m): S, ApiJson(r): ApiJson<LinkReq>) -> HttpResult<Attr> {
    Ok(Json(m.link(&r)?))
}

async fn readdir(State(m): S, ApiJson(r): ApiJson<ReaddirReq>) -> HttpResult<ReaddirResp> {
    Ok(Json(m.readdir(&r)?))
}

async fn readlink(State(m): S, ApiJson(r): ApiJson<GetattrReq>) -> HttpResult<ReadlinkResp> {
    Ok(Json(m.readlink(r.ino)?))
}

async fn release(State(m): S, ApiJson(r): ApiJson<ReleaseReq>) -> HttpResult<serde_json::Value> {
    m.release(r.ino)?;
    Ok(Json(serde_json::json!({})))
}

async fn statfs(State(m): S) -> HttpResult<StatfsResp> {
    Ok(Json(m.statfs()))
}

async fn chunks(State(m): S, ApiJson(r): ApiJson<ChunksReq>) -> HttpResult<ChunksResp> {
    Ok(Json(m.chunk_locations(&r)?))
}

async fn lease(State(m): S, ApiJson(r): ApiJson<LeaseReq>) -> HttpResult<WriteLease> {
    Ok(Json(m.lease(&r).await?))
}

async fn commit(State(m): S, ApiJson(r): ApiJson<CommitReq>) -> HttpResult<Attr> {
    Ok(Json(m.commit(&r).await?))
}

fn check_secret(m: &Master, headers: &HeaderMap) -> Result<(), HttpError> {
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
            "chunkserver calls need the cluster secret",
        )))
    }
}

async fn register(
    State(m): S,
    headers: HeaderMap,
    ApiJson(r): ApiJson<RegisterReq>,
) -> HttpResult<RegisterResp> {
    check_secret(&m, &headers)?;
    if r.id.is_empty() || r.addr.is_empty() {
        return Err(HttpError(ApiError::bad_request("id and addr are required")));
    }
    Ok(Json(m.register(r)))
}

async fn beat(
    State(m): S,
    headers: HeaderMap,
    ApiJson(r): ApiJson<HeartbeatReq>,
) -> HttpResult<HeartbeatResp> {
    check_secret(&m, &headers)?;
    Ok(Json(m.heartbeat(r)))
}
