//! RPC routes: the namespace and file calls clients make, and chunkserver registration
//! and heartbeats (which need the cluster secret).

use super::{ApiJson, HttpError, HttpResult};
use crate::state::Master;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrofs_proto::heartbeat::{
    self, HeartbeatReq, HeartbeatResp, PresenceReq, PresenceResp, RegisterReq, RegisterResp,
};
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
        .route(CHANGES, post(changes))
        .route(GETXATTR, post(getxattr))
        .route(SETXATTR, post(setxattr))
        .route(LISTXATTR, post(listxattr))
        .route(REMOVEXATTR, post(removexattr))
        .route(heartbeat::REGISTER, post(register))
        .route(heartbeat::HEARTBEAT, post(beat))
        .route(heartbeat::PRESENCE, post(presence))
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

/// The caller's `ORIGIN_HEADER` (0 if absent or malformed).
fn origin(h: &HeaderMap) -> u64 {
    h.get(ORIGIN_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An entry of a directory changed (and so did the directory's attributes).
fn entry(parent: u64, name: &str) -> (u64, Option<String>) {
    (parent, Some(name.to_string()))
}

async fn setattr(State(m): S, h: HeaderMap, ApiJson(r): ApiJson<SetattrReq>) -> HttpResult<Attr> {
    let a = m.setattr(&r)?;
    m.changes.push(origin(&h), [(r.ino, None)]);
    Ok(Json(a))
}

async fn create(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<CreateReq>,
) -> HttpResult<CreateResp> {
    let c = m.create(&r)?;
    if c.created {
        m.changes
            .push(origin(&h), [entry(r.parent, &r.name), (r.parent, None)]);
    }
    Ok(Json(c))
}

async fn unlink(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<UnlinkReq>,
) -> HttpResult<UnlinkResp> {
    let u = m.unlink(&r)?;
    m.changes.push(
        origin(&h),
        [entry(r.parent, &r.name), (r.parent, None), (u.ino, None)],
    );
    Ok(Json(u))
}

async fn rename(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<RenameReq>,
) -> HttpResult<RenameResp> {
    // The moved inode(s) are only known by name: look them up before (their ctime and,
    // for a directory, `..` change).
    let moved = [
        m.lookup(r.parent, &r.name).ok().map(|a| a.ino),
        m.lookup(r.new_parent, &r.new_name).ok().map(|a| a.ino),
    ];
    let resp = m.rename(&r)?;
    let mut changed = vec![
        entry(r.parent, &r.name),
        entry(r.new_parent, &r.new_name),
        (r.parent, None),
        (r.new_parent, None),
    ];
    changed.extend(moved.into_iter().flatten().map(|i| (i, None)));
    m.changes.push(origin(&h), changed);
    Ok(Json(resp))
}

async fn link(State(m): S, h: HeaderMap, ApiJson(r): ApiJson<LinkReq>) -> HttpResult<Attr> {
    let a = m.link(&r)?;
    m.changes.push(
        origin(&h),
        [
            entry(r.new_parent, &r.new_name),
            (r.new_parent, None),
            (r.ino, None),
        ],
    );
    Ok(Json(a))
}

async fn readdir(State(m): S, ApiJson(r): ApiJson<ReaddirReq>) -> HttpResult<ReaddirResp> {
    Ok(Json(m.readdir(&r)?))
}

async fn readlink(State(m): S, ApiJson(r): ApiJson<GetattrReq>) -> HttpResult<ReadlinkResp> {
    Ok(Json(m.readlink(r.ino)?))
}

async fn release(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<ReleaseReq>,
) -> HttpResult<serde_json::Value> {
    m.release(r.ino)?;
    m.changes.push(origin(&h), [(r.ino, None)]);
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

async fn commit(State(m): S, h: HeaderMap, ApiJson(r): ApiJson<CommitReq>) -> HttpResult<Attr> {
    let a = m.commit(&r).await?;
    m.changes.push(origin(&h), [(r.ino, None)]);
    Ok(Json(a))
}

async fn changes(State(m): S, ApiJson(r): ApiJson<ChangesReq>) -> HttpResult<ChangesResp> {
    Ok(Json(m.changes.poll(&r).await))
}

async fn getxattr(State(m): S, ApiJson(r): ApiJson<XattrReq>) -> HttpResult<XattrValue> {
    Ok(Json(m.getxattr(r.ino, &r.name)?))
}

async fn listxattr(State(m): S, ApiJson(r): ApiJson<GetattrReq>) -> HttpResult<XattrList> {
    Ok(Json(m.listxattr(r.ino)?))
}

async fn setxattr(State(m): S, h: HeaderMap, ApiJson(r): ApiJson<SetxattrReq>) -> HttpResult<Attr> {
    let a = m.setxattr(&r)?;
    m.changes.push(origin(&h), [(r.ino, None)]);
    Ok(Json(a))
}

async fn removexattr(State(m): S, h: HeaderMap, ApiJson(r): ApiJson<XattrReq>) -> HttpResult<Attr> {
    let a = m.removexattr(r.ino, &r.name)?;
    m.changes.push(origin(&h), [(r.ino, None)]);
    Ok(Json(a))
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
    m.history.io.note(&r.id, r.read_bytes, r.written_bytes);
    Ok(Json(m.heartbeat(r)))
}

/// Marks the server's presence lost when dropped before the poll was answered: hyper
/// drops a handler's future when its connection closes, as a killed process's does.
struct PresenceGuard {
    m: Arc<Master>,
    id: String,
    answered: bool,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        if !self.answered {
            self.m.presence_lost(&self.id);
        }
    }
}

async fn presence(
    State(m): S,
    headers: HeaderMap,
    ApiJson(r): ApiJson<PresenceReq>,
) -> HttpResult<PresenceResp> {
    check_secret(&m, &headers)?;
    if !m.presence_found(&r.id) {
        return Err(HttpError(ApiError::new(
            ErrorCode::NotFound,
            format!("chunkserver {} has not registered", r.id),
        )));
    }
    let mut stopping = m.stopping.subscribe();
    let mut guard = PresenceGuard {
        m: m.clone(),
        id: r.id,
        answered: false,
    };
    let hold = std::time::Duration::from_millis(heartbeat::PRESENCE_HOLD_MS);
    tokio::select! {
        _ = tokio::time::sleep(hold) => {}
        _ = stopping.wait_for(|s| *s) => {}
    }
    guard.answered = true;
    Ok(Json(PresenceResp {}))
}
