//! The re-replication worker: brings every chunk back to its goal. Each pass it
//! - leaves safe mode once chunkservers have reported (or the timeout passed),
//! - queues copies for chunks below goal, one-live-replica chunks first, throttled to
//!   `max_copies_per_server` per source and target; copies go chunkserver to chunkserver
//!   via heartbeat-reply commands and count only once the target reports the chunk,
//! - trims surplus replicas (decommissioning servers first, then the fullest),
//! - expires copies that never completed.
//!
//! A pass runs every `rereplication_interval`, and at once when a heartbeat reports a
//! finished copy, so a freed slot does not wait for the next tick.
//!
//! Chunks under an active write lease are left alone: a copy taken mid-write could miss
//! bytes, and the next lease's version bump would make it stale anyway.

use crate::placement;
use crate::state::Master;
use crate::views::{Cluster, CopyJob};
use ferrofs_proto::heartbeat::Command;
use ferrofs_proto::{ChunkId, CsId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const COPY_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn run(master: Arc<Master>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(master.cfg.rereplication_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = master.rereplication_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if !master.is_leader() {
            master.set_worker_status("rereplication", "idle: not the leader");
            continue;
        }
        let (status, kick) = master.replication_pass();
        master.set_worker_status("rereplication", status);
        for addr in kick {
            let m = master.clone();
            tokio::spawn(async move {
                let _ = m
                    .internal_post(&addr, ferrofs_proto::chunk::HEARTBEAT_NOW, &())
                    .await;
            });
        }
        let p = master.cluster().progress.clone();
        master
            .metrics
            .rereplication_copies
            .inc_by(p.completed.saturating_sub(last.0));
        master
            .metrics
            .rereplication_bytes
            .inc_by(p.bytes_copied.saturating_sub(last.1));
        last = (p.completed, p.bytes_copied);
    }
}

impl Master {
    /// One pass of the worker; returns its status line and the addresses of servers
    /// that were given commands (to nudge into heartbeating now).
    pub fn replication_pass(&self) -> (String, Vec<String>) {
        let l = self.liveness();
        let leading_for = self
            .leader_since
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        let mut cl = self.cluster();
        if cl.safe_mode {
            let reported = cl
                .chunks
                .values()
                .filter(|c| !c.replicas.is_empty())
                .count();
            let all = cl.chunks.len();
            // Every server alive has sent this leader its full report.
            let full = cl
                .reg
                .servers
                .values()
                .all(|s| s.full_report || !cl.reg.is_alive(&s.id, l.dead));
            let waited = leading_for >= self.cfg.safe_mode_timeout;
            let settled = !cl.reg.servers.is_empty()
                && full
                && reported == all
                && leading_for >= self.cfg.heartbeat_interval * 3;
            if waited || settled {
                cl.safe_mode = false;
                cl.scan.look_at_all();
                tracing::info!(reported, all, "leaving safe mode");
            } else {
                return (
                    format!("safe mode: {reported}/{all} chunks reported"),
                    vec![],
                );
            }
        }
        // Expire copies that never completed, and forget those whose source or target
        // has since been declared dead: no report will ever end them, and until then
        // they hold the chunk and the servers' copy slots. (A server that dies right
        // after it was picked can be either, as it still looked alive.)
        let Cluster {
            copies,
            reg,
            chunks,
            scan,
            ..
        } = &mut *cl;
        let mut ended = vec![];
        copies.retain(|id, jobs| {
            let before = jobs.len();
            jobs.retain(|j| {
                j.started.elapsed() < COPY_TIMEOUT
                    && reg.is_alive(&j.source, l.dead)
                    && reg.is_alive(&j.target, l.dead)
            });
            if jobs.len() < before {
                ended.push(*id);
            }
            !jobs.is_empty()
        });
        // The chunks to look at: what changed, what still needed work, and chunks whose
        // copies were just given up on (see `crate::scan`).
        let (mut ids, full) = scan.begin(chunks, reg, l);
        if !full {
            ids.extend(ended);
            ids.sort_unstable();
            ids.dedup();
        }
        let mut busy: HashMap<CsId, u32> = HashMap::new();
        for j in cl.copies.values().flatten() {
            *busy.entry(j.source.clone()).or_default() += 1;
            *busy.entry(j.target.clone()).or_default() += 1;
        }
        let under = cl.chunks.under_replicated(&ids, &cl.reg, l);
        let queued = under.len();
        // Below goal: looked at again until it is not (copies end with a report).
        for (id, _) in &under {
            cl.scan.keep(*id);
        }
        let mut started = 0;
        let limit = self.cfg.max_copies_per_server;
        let cands = cl.reg.candidates(l.dead, self.chunk_size());
        for (id, urgency) in &under {
            if urgency.live == 0 && !has_any_source(&cl, *id, l.dead) {
                continue; // missing: nothing to copy from
            }
            let Some(c) = cl.chunks.get(id) else {
                continue;
            };
            if c.leased() {
                continue;
            }
            let in_flight = cl.copies.get(id).map(|v| v.len() as u32).unwrap_or(0);
            let need = urgency.missing_copies.saturating_sub(in_flight);
            if need == 0 {
                continue;
            }
            let version = c.version;
            // Sources: live holders of the current version (decommissioning ones too).
            let mut sources: Vec<CsId> = c
                .current()
                .filter(|s| cl.reg.is_alive(s, l.dead))
                .cloned()
                .collect();
            sources.sort_by_key(|s| busy.get(s).copied().unwrap_or(0));
            let mut exclude: Vec<CsId> = c.replicas.keys().cloned().collect();
            if let Some(jobs) = cl.copies.get(id) {
                exclude.extend(jobs.iter().map(|j| j.target.clone()));
            }
            exclude.extend(
                busy.iter()
                    .filter(|(_, n)| **n >= limit)
                    .map(|(s, _)| s.clone()),
            );
            // Racks of the replicas that stay (counting ones): the copies complete a
            // spread over two racks.
            let have: Vec<&str> = c
                .current()
                .filter(|s| cl.reg.counts_for_goal(s, l.dead, l.window))
                .map(|s| cl.reg.rack_of(s))
                .collect();
            let targets = placement::choose_spread(
                &cands,
                need as usize,
                &exclude,
                self.chunk_size(),
                *id,
                &have,
            );
            for target in targets {
                let Some(source) = sources
                    .iter()
                    .find(|s| busy.get(*s).copied().unwrap_or(0) < limit)
                    .cloned()
                else {
                    break;
                };
                let Some(tloc) = cl.reg.servers.get(&target).map(|s| s.loc()) else {
                    continue;
                };
                cl.reg.push_command(
                    &source,
                    Command::Replicate {
                        chunk_id: *id,
                        version,
                        target: tloc,
                    },
                );
                *busy.entry(source.clone()).or_default() += 1;
                *busy.entry(target.clone()).or_default() += 1;
                if let Some(c) = cl.chunks.get_mut(id) {
                    c.copied = true;
                }
                cl.copies.entry(*id).or_default().push(CopyJob {
                    source,
                    target,
                    started: Instant::now(),
                });
                started += 1;
            }
        }
        let trimmed = self.trim_surplus(&mut cl, &ids);
        let moved = self.balance_step(&mut cl, queued);
        let spread = self.spread_step(&mut cl, queued, &ids);
        let in_flight: usize = cl.copies.values().map(|v| v.len()).sum();
        cl.progress.queued = queued as u64;
        cl.progress.in_flight = in_flight as u64;
        self.metrics.rereplication_queue.set(queued as i64);
        let kick = cl
            .reg
            .servers
            .values()
            .filter(|s| !s.commands.is_empty() && s.last_heartbeat.elapsed() < l.dead)
            .map(|s| s.addr.clone())
            .collect();
        (
            format!(
                "{queued} chunks below goal, {in_flight} copies in flight ({started} new), {trimmed} surplus replicas trimmed, {moved} balancer moves, {spread} copies to a second rack"
            ),
            kick,
        )
    }

    /// Delete replicas beyond the goal, and replicas on decommissioning servers once the
    /// chunk is at goal elsewhere (among the chunks `ids`).
    fn trim_surplus(&self, cl: &mut Cluster, ids: &[ChunkId]) -> usize {
        let l = self.liveness();
        let mut deletes: Vec<(ChunkId, CsId, u64)> = vec![];
        let mut later = vec![];
        for id in ids {
            let Some(c) = cl.chunks.get(id) else {
                continue;
            };
            let counted = cl.chunks.counted(c, &cl.reg, l);
            let goal = u32::from(c.goal);
            // Decommissioning holders go first once the goal is met without them.
            let decom: Vec<&CsId> = c
                .current()
                .filter(|s| cl.reg.servers.get(*s).is_some_and(|x| x.decommission))
                .collect();
            if counted < goal || counted == goal && decom.is_empty() {
                continue;
            }
            if cl.copies.contains_key(id) || c.leased() || c.bumping.is_some() {
                // A copy's end, a bump's end are changes; a lease's expiry is not.
                later.push(*id);
                continue;
            }
            for s in decom {
                if cl.reg.is_alive(s, l.dead) {
                    deletes.push((*id, s.clone(), c.version));
                }
            }
            if counted > goal {
                // Only trim among live, counting replicas: fullest server first.
                let mut live: Vec<&CsId> = c
                    .current()
                    .filter(|s| {
                        cl.reg.is_alive(s, l.dead) && cl.reg.counts_for_goal(s, l.dead, l.window)
                    })
                    .collect();
                let hint = cl.prefer_trim.get(id);
                live.sort_by(|a, b| {
                    let fa = fullness(cl, a);
                    let fb = fullness(cl, b);
                    (Some(*b) == hint)
                        .cmp(&(Some(*a) == hint))
                        .then(fb.partial_cmp(&fa).unwrap_or(std::cmp::Ordering::Equal))
                });
                let surplus = (counted - goal) as usize;
                let holders: Vec<(CsId, String)> = live
                    .into_iter()
                    .map(|s| (s.clone(), cl.reg.rack_of(s).to_string()))
                    .collect();
                for s in placement::trim_choice(&holders, surplus) {
                    deletes.push((*id, s, c.version));
                }
            }
        }
        for id in later {
            cl.scan.keep(id);
        }
        for (id, s, v) in &deletes {
            cl.prefer_trim.remove(id);
            if let Some(c) = cl.chunks.get_mut(id) {
                c.replicas.remove(s);
            }
            if let Some(srv) = cl.reg.servers.get_mut(s) {
                srv.chunks.remove(id);
            }
            cl.reg.push_command(
                s,
                Command::Delete {
                    chunk_id: *id,
                    max_version: Some(*v),
                },
            );
        }
        deletes.len()
    }
}

fn fullness(cl: &Cluster, id: &str) -> f64 {
    cl.reg
        .servers
        .get(id)
        .map(|s| s.used_bytes as f64 / s.capacity_bytes.max(1) as f64)
        .unwrap_or(0.0)
}

fn has_any_source(cl: &Cluster, id: ChunkId, dead: Duration) -> bool {
    cl.chunks
        .get(&id)
        .is_some_and(|c| c.current().any(|s| cl.reg.is_alive(s, dead)))
}
