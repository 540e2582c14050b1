//! `ferrofs admin ...`: status, fsck, replication goals, maintenance, decommission.

use crate::cli::AdminCmd;
use crate::files::{client, urlencode};
use anyhow::Result;
use ferrofs_proto::admin::*;

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

pub async fn run(cmd: AdminCmd, master: &str, token: Option<String>) -> Result<()> {
    let c = client(master)?;
    let tok = token.as_deref();
    match cmd {
        AdminCmd::Status { json } => {
            let s: Status = c.master.get(STATUS).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            println!(
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
            println!(
                "{:<14} {:<22} {:<16} {:>8} {:>12} {:>12}",
                "ID", "ADDRESS", "STATE", "CHUNKS", "USED", "CAPACITY"
            );
            for cs in &s.chunkservers {
                println!(
                    "{:<14} {:<22} {:<16} {:>8} {:>12} {:>12}",
                    cs.id,
                    cs.addr,
                    format!("{:?}", cs.state).to_lowercase(),
                    cs.chunks,
                    human(cs.used_bytes),
                    human(cs.capacity_bytes)
                );
            }
            for w in &s.workers {
                println!("worker {}: {}", w.name, w.status);
            }
        }
        AdminCmd::Fsck { path, json } => {
            let r: FsckResp = c
                .master
                .get(&format!("{FSCK}?path={}", urlencode(&path)))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for f in &r.files {
                    if f.health != FileHealth::Healthy {
                        println!(
                            "{:?}: {} ({} chunks, {} under-replicated, {} missing)",
                            f.health, f.path, f.chunks, f.under_replicated, f.missing
                        );
                    }
                }
                println!(
                    "{} healthy, {} under-replicated, {} missing",
                    r.healthy, r.under_replicated, r.missing
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
            println!(
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
            println!("{id}: maintenance {state}");
        }
        AdminCmd::Decommission { id } => {
            let _: serde_json::Value = c
                .master
                .admin_post(&decommission_path(&id), &serde_json::json!({}), tok)
                .await?;
            println!(
                "{id}: decommissioning; `ferrofs admin status` shows it as decommissioned when it is safe to remove"
            );
        }
    }
    Ok(())
}
