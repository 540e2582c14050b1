//! RPC routes: the namespace and file calls clients make (each bound to its `Rpc` type
//! in proto), and chunkserver registration and heartbeats (which need the cluster
//! secret).

use super::{ApiJson, HttpError, HttpResult, check_secret};
use crate::error::MasterError;
use crate::sm::Ctx;
use crate::state::Master;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrofs_proto::heartbeat::{
    self, HeartbeatReq, HeartbeatResp, PresenceReq, PresenceResp, RegisterReq, RegisterResp,
};
use ferrofs_proto::namespace::*;
use ferrofs_proto::rpc::{self, CLIENT_HEADER, PACKED_TYPE, Rpc, SEQ_HEADER};
use ferrofs_proto::{ApiError, ErrorCode};
use std::future::Future;
use std::sync::Arc;

type S = State<Arc<Master>>;
type M = Arc<Master>;

/// A u64 header (0 if absent or malformed).
fn header_u64(h: &HeaderMap, name: &str) -> u64 {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Who asks, for the retry cache and the change feed, and the leader's clock.
fn ctx<R: Rpc>(h: &HeaderMap) -> Ctx {
    let client = header_u64(h, CLIENT_HEADER);
    Ctx {
        // Only mutations are deduplicated; a seq of 0 is no sequence at all.
        client: if R::MUTATES && header_u64(h, SEQ_HEADER) != 0 {
            client
        } else {
            0
        },
        seq: header_u64(h, SEQ_HEADER),
        origin: header_u64(h, ORIGIN_HEADER),
        now: Timespec::now(),
    }
}

/// Fault hook for tests: `PATH:N` makes the next N calls of that path run and then
/// lose their reply (the connection breaks mid-body), as a reply lost to a dying
/// connection or a leader killed after committing would.
pub const FAULT_DROP_REPLY: &str = "FERROFS_FAULT_DROP_REPLY";

fn drop_this_reply(path: &str) -> bool {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LEFT: std::sync::OnceLock<(String, AtomicI64)> = std::sync::OnceLock::new();
    let (p, left) = LEFT.get_or_init(|| {
        let v = std::env::var(FAULT_DROP_REPLY).unwrap_or_default();
        let (p, n) = v.rsplit_once(':').unwrap_or((&v, "1"));
        (p.to_string(), AtomicI64::new(n.parse().unwrap_or(1)))
    });
    p == path && left.fetch_sub(1, Ordering::AcqRel) > 0
}

/// A 200 whose body fails: the client sees the connection break before the reply.
fn broken_reply() -> axum::response::Response {
    let body = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other("fault: reply dropped"))
    });
    axum::response::Response::new(axum::body::Body::from_stream(body))
}

/// The caller takes a postcard reply (`Rpc::PACKED`).
fn wants_packed(h: &HeaderMap) -> bool {
    h.get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim() == PACKED_TYPE))
}

/// `resp` as a postcard body.
fn packed<T: serde::Serialize>(resp: &T) -> axum::response::Response {
    use axum::response::IntoResponse;
    match postcard::to_allocvec(resp) {
        Ok(body) => ([(axum::http::header::CONTENT_TYPE, PACKED_TYPE)], body).into_response(),
        Err(e) => HttpError(ApiError::new(
            ErrorCode::Internal,
            format!("reply not encodable as postcard: {e}"),
        ))
        .into_response(),
    }
}

/// Route `R::PATH` to `f`, which takes and returns exactly `R`'s types.
fn route<R, F, Fut>(router: Router<M>, f: F) -> Router<M>
where
    R: Rpc + 'static,
    F: Fn(M, Ctx, R::Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R::Resp, MasterError>> + Send + 'static,
{
    use axum::response::IntoResponse;
    router.route(
        R::PATH,
        post(
            move |State(m): S, h: HeaderMap, ApiJson(req): ApiJson<R::Req>| async move {
                let res = f(m, ctx::<R>(&h), req).await;
                if drop_this_reply(R::PATH) {
                    tracing::warn!(path = R::PATH, "fault hook: dropping the reply");
                    return broken_reply();
                }
                match res {
                    Ok(resp) if R::PACKED && wants_packed(&h) => packed(&resp),
                    res => res.map(Json).map_err(HttpError::from).into_response(),
                }
            },
        ),
    )
}

pub fn routes() -> Router<M> {
    let r = Router::new();
    let r = route::<rpc::Lookup, _, _>(
        r,
        |m, _, q| async move { m.lookup(q.parent, &q.name).await },
    );
    let r = route::<rpc::Getattr, _, _>(r, |m, _, q| async move { m.getattr(q.ino).await });
    let r = route::<rpc::Resolve, _, _>(r, |m, _, q| async move { m.resolve(&q.path).await });
    let r = route::<rpc::Readdir, _, _>(r, |m, _, q| async move { m.readdir(&q).await });
    let r = route::<rpc::Readlink, _, _>(r, |m, _, q| async move { m.readlink(q.ino).await });
    let r = route::<rpc::Chunks, _, _>(r, |m, _, q| async move { m.chunk_locations(&q).await });
    let r = route::<rpc::Lease, _, _>(r, |m, _, q| async move { m.lease(&q).await });
    let r = route::<rpc::Changes, _, _>(r, |m, _, q| async move {
        m.leader_or_redirect().await?;
        Ok(m.views.changes.poll(&q).await)
    });
    let r =
        route::<rpc::Getxattr, _, _>(r, |m, _, q| async move { m.getxattr(q.ino, &q.name).await });
    let r = route::<rpc::Listxattr, _, _>(r, |m, _, q| async move { m.listxattr(q.ino).await });
    let r = route::<rpc::Session, _, _>(r, |m, _, q| async move {
        m.leader_or_redirect().await?;
        m.claim(q.client, &q.open);
        Ok(Empty {})
    });
    let r = route::<rpc::Setattr, _, _>(r, |m, c, q| async move { m.setattr(c, &q).await });
    let r = route::<rpc::Create, _, _>(r, |m, c, q| async move { m.create(c, &q).await });
    let r = route::<rpc::Unlink, _, _>(r, |m, c, q| async move { m.unlink(c, &q).await });
    let r =
        route::<rpc::ReserveInos, _, _>(r, |m, c, q| async move { m.reserve_inos(c, &q).await });
    let r = route::<rpc::NsBatch, _, _>(r, |m, c, q| async move { m.ns_batch(c, &q).await });
    let r = route::<rpc::Rename, _, _>(r, |m, c, q| async move { m.rename(c, &q).await });
    let r = route::<rpc::Link, _, _>(r, |m, c, q| async move { m.link(c, &q).await });
    let r = route::<rpc::Release, _, _>(r, |m, c, q| async move {
        m.release(c, q.ino).await?;
        Ok(Empty {})
    });
    let r = route::<rpc::Commit, _, _>(r, |m, c, q| async move { m.commit(c, &q).await });
    let r = route::<rpc::Setxattr, _, _>(r, |m, c, q| async move { m.setxattr(c, &q).await });
    let r = route::<rpc::Removexattr, _, _>(r, |m, c, q| async move {
        m.removexattr(c, q.ino, &q.name).await
    });
    r.route(rpc::Statfs::PATH, post(statfs).get(statfs))
        .route(heartbeat::REGISTER, post(register))
        .route(heartbeat::HEARTBEAT, post(beat))
        .route(heartbeat::PRESENCE, post(presence))
        .route(ferrofs_proto::chunk::HEALTH, get(health))
}

async fn health(State(m): S) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "role": "master",
        "id": m.id,
        "leader": m.is_leader(),
        "safe_mode": m.cluster().safe_mode,
    }))
}

/// Statfs takes no body (some clients send `{}`, some nothing).
async fn statfs(State(m): S) -> HttpResult<StatfsResp> {
    m.leader_or_redirect().await?;
    Ok(Json(m.statfs()?))
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
    m.history.note_io(&r.id, r.read_bytes, r.written_bytes);
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
