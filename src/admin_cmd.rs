//! `ferrofs admin ...`: status, fsck, replication goals, maintenance, decommission, and
//! the master group's membership.

use crate::cli::{AdminCmd, MastersCmd};
use crate::files::{client, urlencode};
use anyhow::Result;
use ferrofs_proto::admin::*;
use ferrofs_proto::raft::{
    AddMasterReq, MASTERS, MASTERS_ADD, MASTERS_REMOVE, MastersResp, RemoveMasterReq,
};

fn print_masters(m: &MastersResp) {
    match m.leader {
        Some(l) => outln!("leader: master {l}  term: {}", m.term),
        None => outln!(
            "leader: none (election under way or no quorum)  term: {}",
            m.term
        ),
    }
    outln!(
        "{:<4} {:<22} {:<10} {:<6} {:>10} {:>10}",
        "ID",
        "ADDRESS",
        "ROLE",
        "ALIVE",
        "LOG",
        "APPLIED"
    );
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for x in &m.members {
        outln!(
            "{:<4} {:<22} {:<10} {:<6} {:>10} {:>10}",
            x.id,
            x.addr,
            format!("{:?}", x.role).to_lowercase(),
            if x.alive { "yes" } else { "no" },
            opt(x.last_log_index),
            opt(x.last_applied)
        );
    }
}

fn human(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// The cluster's status as the leader sees it: a follower answers with its own view
/// (no re-replication, chunkservers as its heartbeats saw them), so when the member
/// that answered is not the leader, ask the leader it names.
async fn leader_status(c: &ferrofs_client::Client) -> Result<Status> {
    let s: Status = c.master.get(STATUS).await?;
    if s.leader {
        return Ok(s);
    }
    let from = c.master.base();
    let Ok(m) = c.master.get_from::<MastersResp>(&from, MASTERS).await else {
        return Ok(s);
    };
    let leader = m.leader.and_then(|l| m.members.iter().find(|x| x.id == l));
    match leader {
        Some(l) => match c
            .master
            .get_from::<Status>(&c.config().transport.url(&l.addr, ""), STATUS)
            .await
        {
            Ok(ls) => Ok(ls),
            Err(_) => Ok(s),
        },
        None => Ok(s),
    }
}

pub async fn run(cmd: AdminCmd, master: &str, token: Option<String>) -> Result<()> {
    let c = client(master)?;
    let tok = token.as_deref();
    match cmd {
        AdminCmd::Status { json } => {
            let s = leader_status(&c).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            outln!(
                "files: {}  chunks: {} total, {} healthy, {} under-replicated ({} endangered), {} over-replicated, {} missing{}",
                s.files,
                s.chunks.total,
                s.chunks.healthy,
                s.chunks.under_replicated,
                s.chunks.endangered,
                s.chunks.over_replicated,
                s.chunks.missing,
                if s.safe_mode { "  [SAFE MODE]" } else { "" }
            );
            outln!(
                "{:<14} {:<22} {:<16} {:>8} {:>12} {:>12}  RACK",
                "ID",
                "ADDRESS",
                "STATE",
                "CHUNKS",
                "USED",
                "CAPACITY"
            );
            for cs in &s.chunkservers {
                outln!(
                    "{:<14} {:<22} {:<16} {:>8} {:>12} {:>12}  {}",
                    cs.id,
                    cs.addr,
                    format!("{:?}", cs.state).to_lowercase(),
                    cs.chunks,
                    human(cs.used_bytes),
                    human(cs.capacity_bytes),
                    cs.rack
                );
            }
            for w in &s.workers {
                outln!("worker {}: {}", w.name, w.status);
            }
            for w in &s.warnings {
                outln!("WARNING: {w}");
            }
        }
        AdminCmd::Fsck { path, json } => {
            let r: FsckResp = c
                .master
                .get(&format!("{FSCK}?path={}", urlencode(&path)))
                .await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for f in &r.files {
                    if f.health != FileHealth::Healthy {
                        outln!(
                            "{:?}: {} ({} chunks, {} under-replicated, {} missing)",
                            f.health,
                            f.path,
                            f.chunks,
                            f.under_replicated,
                            f.missing
                        );
                    }
                }
                outln!(
                    "{} healthy, {} under-replicated, {} missing",
                    r.healthy,
                    r.under_replicated,
                    r.missing
                );
            }
            if r.missing > 0 {
                anyhow::bail!("{} files have missing chunks", r.missing);
            }
        }
        AdminCmd::SetReplication {
            path,
            replication,
            recursive,
        } => {
            let r: SetReplicationResp = c
                .master
                .admin_post(
                    SET_REPLICATION,
                    &SetReplicationReq {
                        path,
                        replication,
                        recursive,
                    },
                    tok,
                )
                .await?;
            outln!(
                "{} inodes set to replication {replication}",
                r.files_changed
            );
        }
        AdminCmd::Maintenance { id, state } => {
            let _: serde_json::Value = c
                .master
                .admin_post(
                    &maintenance_path(&id),
                    &MaintenanceReq { on: state == "on" },
                    tok,
                )
                .await?;
            outln!("{id}: maintenance {state}");
        }
        AdminCmd::Masters { json, change } => {
            let m: MastersResp = match change {
                None => {
                    // Any member answers; ask the ones given until one does.
                    let mut last = None;
                    let mut found = None;
                    for base in c.master.masters() {
                        match c.master.get_from::<MastersResp>(&base, MASTERS).await {
                            Ok(m) => {
                                found = Some(m);
                                break;
                            }
                            Err(e) => last = Some(e),
                        }
                    }
                    match (found, last) {
                        (Some(m), _) => m,
                        (None, Some(e)) => return Err(e.into()),
                        (None, None) => anyhow::bail!("no master given"),
                    }
                }
                Some(MastersCmd::Add { id, addr }) => {
                    c.master
                        .admin_post(MASTERS_ADD, &AddMasterReq { id, addr }, tok)
                        .await?
                }
                Some(MastersCmd::Remove { id }) => {
                    c.master
                        .admin_post(MASTERS_REMOVE, &RemoveMasterReq { id }, tok)
                        .await?
                }
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                print_masters(&m);
            }
        }
        AdminCmd::Decommission { id } => {
            let _: serde_json::Value = c
                .master
                .admin_post(&decommission_path(&id), &serde_json::json!({}), tok)
                .await?;
            outln!(
                "{id}: decommissioning; `ferrofs admin status` shows it as decommissioned when it is safe to remove"
            );
        }
    }
    Ok(())
}
