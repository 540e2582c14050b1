//! The balancer: when disk usage across live chunkservers is uneven, move chunks from the
//! fullest server to the emptiest. A move is a copy to the emptiest server (same command
//! and verification as re-replication) plus a hint that the surplus replica to trim is the
//! one on the fullest; the surplus trimmer then deletes it. Runs only when nothing is
//! below goal, with few moves in flight, so healing always comes first.

use crate::state::Master;
use crate::views::{Cluster, CopyJob};
use ferrofs_proto::heartbeat::Command;
use ferrofs_proto::{ChunkId, CsId};
use std::time::Instant;

/// Usage of one server as the balancer sees it.
#[derive(Debug, Clone)]
pub struct Usage {
    pub id: CsId,
    pub used: u64,
    pub capacity: u64,
}

/// Pick (from, to) if the spread between the fullest and emptiest server exceeds
/// `spread` (a fraction of the mean usage) and more than `min_gap` bytes. Pure.
pub fn pick_move(servers: &[Usage], spread: f64, min_gap: u64) -> Option<(CsId, CsId)> {
    if servers.len() < 2 {
        return None;
    }
    let frac = |u: &Usage| u.used as f64 / u.capacity.max(1) as f64;
    let mean = servers.iter().map(frac).sum::<f64>() / servers.len() as f64;
    let full = servers.iter().max_by(|a, b| frac(a).total_cmp(&frac(b)))?;
    let empty = servers.iter().min_by(|a, b| frac(a).total_cmp(&frac(b)))?;
    let gap = frac(full) - frac(empty);
    let gap_bytes = full.used.saturating_sub(empty.used);
    if full.id == empty.id || gap <= spread * mean || gap_bytes <= min_gap {
        return None;
    }
    Some((full.id.clone(), empty.id.clone()))
}

impl Master {
    /// One balancer step (called from the re-replication pass). Returns moves started.
    pub(crate) fn balance_step(&self, cl: &mut Cluster, queued: usize) -> usize {
        let l = self.liveness();
        if queued > 0 || cl.safe_mode {
            return 0;
        }
        // Never balance a degraded cluster: a dead or maintenance server's data will
        // come back or be re-replicated, and moves now would be churn.
        if cl
            .reg
            .servers
            .values()
            .any(|s| !s.decommission && (s.maintenance || s.last_heartbeat.elapsed() >= l.dead))
        {
            return 0;
        }
        let in_flight: usize = cl.copies.values().map(|v| v.len()).sum();
        if in_flight >= self.cfg.max_copies_per_server as usize {
            return 0;
        }
        let usage: Vec<Usage> = cl
            .reg
            .servers
            .values()
            .filter(|s| s.last_heartbeat.elapsed() < l.dead && !s.maintenance && !s.decommission)
            .map(|s| {
                // Count copies in flight toward their target so one pass does not overshoot.
                let incoming = cl
                    .copies
                    .values()
                    .flatten()
                    .filter(|j| j.target == s.id)
                    .count() as u64;
                Usage {
                    id: s.id.clone(),
                    used: s.used_bytes + incoming * self.chunk_size(),
                    capacity: s.capacity_bytes,
                }
            })
            .collect();
        let Some((from, to)) = pick_move(&usage, self.cfg.balance_spread, 2 * self.chunk_size())
        else {
            return 0;
        };
        // A chunk on `from`, not on `to`, at goal, not being written or copied.
        let candidate: Option<(ChunkId, u64)> = cl.reg.servers.get(&from).and_then(|s| {
            s.chunks
                .iter()
                .copied()
                .find(|id| {
                    cl.chunks.get(id).is_some_and(|c| {
                        !c.allocating
                            && c.replicas.get(&from) == Some(&c.version)
                            && !c.replicas.contains_key(&to)
                            && !cl.copies.contains_key(id)
                            && !c.leased()
                            && c.bumping.is_none()
                            && cl.chunks.counted(c, &cl.reg, l) >= u32::from(c.goal)
                            && crate::placement::move_keeps_spread(
                                &c.current().map(|s| cl.reg.rack_of(s)).collect::<Vec<_>>(),
                                cl.reg.rack_of(&from),
                                cl.reg.rack_of(&to),
                            )
                    })
                })
                .map(|id| (id, cl.chunks.get(&id).expect("filtered above").version))
        });
        let Some((id, version)) = candidate else {
            return 0;
        };
        let Some(target) = cl.reg.servers.get(&to).map(|s| s.loc()) else {
            return 0;
        };
        cl.reg.push_command(
            &from,
            Command::Replicate {
                chunk_id: id,
                version,
                target,
            },
        );
        if let Some(c) = cl.chunks.get_mut(&id) {
            c.copied = true;
        }
        cl.copies.entry(id).or_default().push(CopyJob {
            source: from.clone(),
            target: to.clone(),
            started: Instant::now(),
        });
        cl.prefer_trim.insert(id, from.clone());
        tracing::info!(chunk = id, from = %from, to = %to, "balancer moving chunk");
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(id: &str, used: u64) -> Usage {
        Usage {
            id: id.into(),
            used,
            capacity: 1000,
        }
    }

    #[test]
    fn moves_from_fullest_to_emptiest() {
        let s = vec![u("a", 500), u("b", 100), u("c", 0)];
        assert_eq!(pick_move(&s, 0.1, 10), Some(("a".into(), "c".into())));
    }

    #[test]
    fn balanced_cluster_stays_put() {
        let s = vec![u("a", 500), u("b", 480), u("c", 490)];
        assert_eq!(pick_move(&s, 0.1, 10), None);
        // Tiny absolute gaps do not cause churn.
        let s = vec![u("a", 5), u("b", 0)];
        assert_eq!(pick_move(&s, 0.1, 10), None);
        assert_eq!(pick_move(&[u("a", 5)], 0.1, 0), None);
    }
}
