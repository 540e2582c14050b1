//! Durability on a majority, for fsync. An entry counts as committed once it is in the
//! log of a majority, written but not necessarily synced (it survives any process
//! being killed). A client's fsync needs more: the entries it depends on on disk on a
//! majority. The leader syncs its own log and asks the other voters to sync theirs
//! through the entry (`ferrofs_proto::raft::SYNC`); a member answers only when it holds
//! that very entry (same leader term), so a majority of confirmations means the entry
//! survives a power loss of any minority.

use crate::error::{MasterError, Result};
use crate::raft::LogId;
use crate::state::Master;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::raft::{SYNC, SyncReq, SyncResp};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::Arc;
use std::time::Duration;

/// How long a member waits for the entry to reach its log before it says no.
const ENTRY_WAIT: Duration = Duration::from_secs(2);

pub async fn sync_majority(m: &Arc<Master>, log_id: LogId) -> Result<()> {
    let metrics = m.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership().clone();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let need = voters.len() / 2 + 1;
    let req = SyncReq {
        term: log_id.leader_id.term,
        leader: log_id.leader_id.node_id,
        index: log_id.index,
    };
    let mut calls = FuturesUnordered::new();
    for id in voters {
        if id == m.id {
            let db = m.db.clone();
            calls.push(Box::pin(async move {
                db.sync_all().await;
                true
            })
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = bool> + Send>,
                >);
            continue;
        }
        let Some(node) = membership.get_node(&id) else {
            continue;
        };
        let url = m.transport.url(&node.addr, SYNC);
        let (http, secret, body) = (m.http.clone(), m.cfg.secret.clone(), req.clone());
        calls.push(Box::pin(async move {
            let r = http
                .post(url)
                .header(ferrofs_proto::SECRET_HEADER, secret)
                .timeout(ENTRY_WAIT + Duration::from_secs(3))
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().is_success() => {
                    r.json::<SyncResp>().await.is_ok_and(|s| s.synced)
                }
                _ => false,
            }
        }));
    }
    let mut ok = 0;
    while let Some(synced) = calls.next().await {
        ok += usize::from(synced);
        if ok >= need {
            return Ok(());
        }
    }
    Err(MasterError::code(
        ErrorCode::NoQuorum,
        format!(
            "only {ok} of the {need} masters needed confirmed the log synced through entry {}",
            log_id.index
        ),
    ))
}

/// A member's side of `SYNC`: wait (briefly) for the entry, check it is the same one,
/// sync the log.
pub async fn sync_local(m: &Master, req: &SyncReq) -> Result<SyncResp> {
    let mut rx = m.raft.metrics();
    let reached = tokio::time::timeout(
        ENTRY_WAIT,
        rx.wait_for(|mt| mt.last_log_index.is_some_and(|i| i >= req.index)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !reached {
        return Ok(SyncResp { synced: false });
    }
    let entry = m
        .log
        .entry(req.index)
        .map_err(|e| MasterError::code(ErrorCode::Internal, e.to_string()))?;
    // An entry already folded into a snapshot was synced with it.
    let snapshotted = m
        .raft
        .metrics()
        .borrow()
        .snapshot
        .is_some_and(|s| s.index >= req.index);
    let same = snapshotted
        || entry.is_some_and(|e| {
            e.log_id.leader_id.term == req.term && e.log_id.leader_id.node_id == req.leader
        });
    if same {
        m.db.sync_all().await;
    }
    Ok(SyncResp { synced: same })
}
