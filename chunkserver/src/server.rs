//! HTTP front: the axum router over the paths in `ferrofs_proto::chunk`, extractors that
//! turn every malformed input into a JSON `ApiError` 400, and the small handlers. The
//! streamed write lives in `pipeline.rs`, replica transfer in `replication.rs`.

use crate::error::{ChunkserverError as E, Result};
use crate::node::Node;
use crate::store::PIECE;
use crate::{pipeline, replication};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use ferrofs_proto::chunk::{self as api, ChunkInfo, SyncParams, TokenParam, TruncateParams};
use ferrofs_proto::heartbeat::ChunkReport;
use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::token::Access;
use ferrofs_proto::{ApiError, BLOCK_SIZE, ChunkId, ErrorCode};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tracing::{info, warn};

type Node_ = State<Arc<Node>>;

impl IntoResponse for E {
    fn into_response(self) -> Response {
        let api = self.to_api();
        let status = StatusCode::from_u16(api.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            warn!(code = ?api.code, status = status.as_u16(), failed = ?api.failed, "{}", api.message);
        } else {
            info!(code = ?api.code, status = status.as_u16(), "{}", api.message);
        }
        (status, axum::Json(api)).into_response()
    }
}

/// Query string parsed into `T`; failures become a JSON 400.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = E;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e| E::BadRequest(e.body_text()))
    }
}

/// The `{id}` path segment: a decimal chunk id, the only name taken from a request.
pub struct Id(pub ChunkId);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = E;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Path(s) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| E::BadRequest(e.body_text()))?;
        s.parse()
            .map(Id)
            .map_err(|_| E::BadRequest(format!("bad chunk id {s:?}")))
    }
}

/// JSON body parsed into `T`; failures become a JSON 400 (413 when too large).
pub struct J<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for J<T> {
    type Rejection = E;
    async fn from_request(req: Request, state: &S) -> Result<Self> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| J(j.0))
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    E::TooLarge(e.body_text())
                } else {
                    E::BadRequest(e.body_text())
                }
            })
    }
}

/// Route pattern of a proto path function: its output with the id replaced by `{id}`.
fn route(f: fn(ChunkId) -> String) -> String {
    f(ChunkId::MAX).replace(&ChunkId::MAX.to_string(), "{id}")
}

pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route(&route(api::data_path), put(write).get(read))
        .route(&route(api::truncate_path), post(truncate))
        .route(&route(api::sync_path), post(sync))
        .route(&route(api::info_path), get(info))
        .route(&route(api::create_path), post(create))
        .route(api::CREATE_CHUNKS, post(create_many))
        .route(&route(api::bump_path), post(bump))
        .route(&route(api::replica_path), put(replica))
        .route(api::HEALTH, get(health))
        .route(api::HEARTBEAT_NOW, post(heartbeat_now))
        .route("/v1/chunks", get(list))
        .fallback(|| async {
            let api = ApiError::new(ErrorCode::NotFound, "no such route");
            (StatusCode::NOT_FOUND, axum::Json(api))
        })
        .method_not_allowed_fallback(|| async {
            E::BadRequest("method not allowed on this path".into())
        })
        .with_state(node)
}

fn json<T: serde::Serialize>(v: T) -> Response {
    axum::Json(v).into_response()
}

async fn health(State(node): Node_) -> Response {
    // `unsynced`: replicas written since their last fsync (the write-back's backlog).
    json(serde_json::json!({
        "status": "ok",
        "id": node.id,
        "unsynced": node.store.dirty_count(),
    }))
}

async fn heartbeat_now(State(node): Node_, headers: HeaderMap) -> Result<Response> {
    node.check_secret(&headers)?;
    node.store.changes.notify_all();
    Ok(json(serde_json::json!({})))
}

async fn list(State(node): Node_, headers: HeaderMap) -> Result<Response> {
    node.check_secret(&headers)?;
    Ok(json(node.store.report()))
}

async fn write(
    State(node): Node_,
    Id(id): Id,
    Q(p): Q<api::WriteParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    Ok(json(
        pipeline::write(node, id, p, content_length, body).await?,
    ))
}

async fn read(State(node): Node_, Id(id): Id, Q(p): Q<api::ReadParams>) -> Result<Response> {
    node.check_token(&p.token, id, Access::Read)?;
    let c = node.store.get(id)?;
    c.check_version(p.version)?;
    let length = c.snapshot().1;
    let (start, end) = read_span(p.offset, p.len, length, p.whole_blocks);
    let total = end.saturating_sub(start);
    let version = p.version;
    // Read and verify the first piece before answering, so a corrupt block in a small
    // read becomes a proper 422; later pieces abort the stream if they fail.
    let n = total.min(PIECE);
    let c1 = c.clone();
    let first = node
        .blocking(move |s| s.read(&c1, version, start, n))
        .await?;
    let pos = start + first.len() as u64;
    node.io_bytes.fetch_add(total, Ordering::Relaxed);
    node.read_bytes.fetch_add(total, Ordering::Relaxed);
    let first = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) });
    let rest = futures::stream::try_unfold(pos, move |at| {
        let (node, c) = (node.clone(), c.clone());
        async move {
            if at >= end {
                return Ok(None);
            }
            let n = (end - at).min(PIECE);
            let piece = node
                .blocking(move |s| s.read(&c, version, at, n))
                .await
                .map_err(std::io::Error::other)?;
            if piece.is_empty() {
                return Err(std::io::Error::other("chunk shrank during read"));
            }
            let next = at + piece.len() as u64;
            Ok(Some((Bytes::from(piece), next)))
        }
    });
    let body = Body::from_stream(futures::StreamExt::chain(first, rest));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, total.to_string()),
            (
                header::HeaderName::from_static(api::DATA_OFFSET_HEADER),
                start.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// The chunk range `[start, end)` a read returns: the asked range clipped to the stored
/// `length`, or with `whole_blocks` the blocks it touches (which the store reads and
/// verifies anyway), so a client can cache whole verified blocks.
fn read_span(offset: u64, len: u64, length: u64, whole_blocks: bool) -> (u64, u64) {
    let end = offset.saturating_add(len).min(length);
    if !whole_blocks || offset >= end {
        return (offset, end);
    }
    let start = offset / BLOCK_SIZE * BLOCK_SIZE;
    let end = end
        .div_ceil(BLOCK_SIZE)
        .saturating_mul(BLOCK_SIZE)
        .min(length);
    (start, end)
}

async fn truncate(State(node): Node_, Id(id): Id, Q(p): Q<TruncateParams>) -> Result<Response> {
    Ok(json(pipeline::truncate(node, id, p).await?))
}

async fn sync(State(node): Node_, Id(id): Id, Q(p): Q<SyncParams>) -> Result<Response> {
    Ok(json(pipeline::sync(node, id, p).await?))
}

async fn info(State(node): Node_, Id(id): Id, Q(p): Q<TokenParam>) -> Result<Response> {
    node.check_token(&p.token, id, Access::Read)?;
    let c = node.store.get(id)?;
    // Holding the op lock keeps writes out, so the hash is of one consistent state.
    let _op = c.op.lock().await;
    let version = c.snapshot().0;
    let c2 = c.clone();
    let (sha, length) = node.blocking(move |s| s.sha256(&c2, version)).await?;
    Ok(json(ChunkInfo {
        chunk_id: id,
        version,
        length,
        sha256: hex::encode(sha),
    }))
}

async fn create(
    State(node): Node_,
    Id(id): Id,
    headers: HeaderMap,
    J(req): J<api::CreateChunkReq>,
) -> Result<Response> {
    node.check_secret(&headers)?;
    if node.store.get(id).is_err() {
        node.check_space(0)?;
    }
    let created = node.blocking(move |s| s.create(id, req.version)).await?;
    if created {
        info!(chunk = %chunk_name(id), version = req.version, "created chunk");
    }
    Ok(json(ChunkReport {
        chunk_id: id,
        version: req.version,
        length: 0,
    }))
}

/// Several empty chunks at once (the master's pool): one reply naming those now held
/// at the asked version. A chunk that could not be created is left out, not an error.
async fn create_many(
    State(node): Node_,
    headers: HeaderMap,
    J(req): J<api::CreateChunksReq>,
) -> Result<Response> {
    node.check_secret(&headers)?;
    req.check().map_err(E::BadRequest)?;
    node.check_space(0)?;
    let version = req.version;
    let asked = req.chunks.len();
    let created = node
        .blocking(move |s| {
            Ok(req
                .chunks
                .into_iter()
                .filter(|id| match s.create(*id, version) {
                    Ok(_) => true,
                    Err(e) => {
                        warn!(chunk = %chunk_name(*id), error = %e, "chunk create failed");
                        false
                    }
                })
                .collect::<Vec<_>>())
        })
        .await?;
    info!(asked, created = created.len(), version, "created chunks");
    Ok(json(api::CreateChunksResp { created }))
}

async fn bump(
    State(node): Node_,
    Id(id): Id,
    headers: HeaderMap,
    J(req): J<api::BumpVersionReq>,
) -> Result<Response> {
    node.check_secret(&headers)?;
    let c = node.store.get(id)?;
    let _op = c.op.lock().await;
    let c2 = c.clone();
    node.blocking(move |s| s.bump(&c2, req.from, req.to))
        .await?;
    if std::env::var_os(crate::config::FAULT_EXIT_AFTER_BUMP).is_some() {
        tracing::error!(chunk = %chunk_name(id), to = req.to, "fault injection: exiting after the bump, before replying");
        std::process::exit(86);
    }
    let (version, length) = c.snapshot();
    Ok(json(ChunkReport {
        chunk_id: id,
        version,
        length,
    }))
}

async fn replica(
    State(node): Node_,
    Id(id): Id,
    headers: HeaderMap,
    Q(p): Q<api::ReplicaParams>,
    body: Body,
) -> Result<Response> {
    node.check_secret(&headers)?;
    Ok(json(replication::receive(node, id, p, body).await?))
}

#[cfg(test)]
mod tests {
    use super::read_span;
    const B: u64 = ferrofs_proto::BLOCK_SIZE;

    #[test]
    fn read_span_widens_to_blocks_within_the_chunk() {
        // Off: the asked range, clipped to the stored length.
        assert_eq!(read_span(5000, 4096, 10 * B, false), (5000, 9096));
        assert_eq!(read_span(5000, 4096, 6000, false), (5000, 6000));
        // On: whole blocks covering the range.
        assert_eq!(read_span(5000, 4096, 10 * B, true), (0, B));
        assert_eq!(read_span(B - 1, 2, 10 * B, true), (0, 2 * B));
        assert_eq!(read_span(3 * B, B, 10 * B, true), (3 * B, 4 * B));
        // The last block is as long as the chunk.
        assert_eq!(read_span(B + 10, 4096, B + 100, true), (B, B + 100));
        // Past the end: nothing, as without the flag.
        assert_eq!(read_span(2 * B, 10, B, true), (2 * B, B));
    }
}
