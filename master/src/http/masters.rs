//! The membership API: `GET /api/v1/masters` on any member, add and remove (admin token).

use super::admin::check_admin;
use super::{ApiJson, HttpResult};
use crate::members::SELF_PATH;
use crate::state::Master;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferrofs_proto::raft::{
    AddMasterReq, MASTERS, MASTERS_ADD, MASTERS_REMOVE, MasterMember, MastersResp, RemoveMasterReq,
};
use std::sync::Arc;

type S = State<Arc<Master>>;

pub fn routes() -> Router<Arc<Master>> {
    Router::new()
        .route(MASTERS, get(masters))
        .route(SELF_PATH, get(this))
        .route(MASTERS_ADD, post(add))
        .route(MASTERS_REMOVE, post(remove))
}

async fn masters(State(m): S) -> Json<MastersResp> {
    Json(m.masters().await)
}

async fn this(State(m): S) -> Json<MasterMember> {
    Json(m.member_self())
}

async fn add(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<AddMasterReq>,
) -> HttpResult<MastersResp> {
    check_admin(&m, &h)?;
    Ok(Json(m.add_master(r.id, r.addr).await?))
}

async fn remove(
    State(m): S,
    h: HeaderMap,
    ApiJson(r): ApiJson<RemoveMasterReq>,
) -> HttpResult<MastersResp> {
    check_admin(&m, &h)?;
    Ok(Json(m.remove_master(r.id).await?))
}
