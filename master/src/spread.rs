//! Rack spread: a chunk at its goal whose counting replicas all sit in one rack, while
//! a live chunkserver in another rack could take one, gets one copy there (the same
//! command and verification as re-replication); the surplus trimmer then removes one
//! from the crowded rack, never the new one (`placement::trim_choice`). This mends
//! chunks written while only one rack was up, or left in one rack after a rack failed
//! and healed within the others. Runs after healing (nothing below goal), a few copies
//! at a time.

use crate::placement;
use crate::state::Master;
use crate::views::{Cluster, CopyJob};
use ferrofs_proto::ChunkId;
use ferrofs_proto::heartbeat::Command;
use std::time::Instant;

impl Master {
    /// One spread step (called from the re-replication pass). Returns copies started.
    pub(crate) fn spread_step(&self, cl: &mut Cluster, queued: usize) -> usize {
        let l = self.liveness();
        if queued > 0 || cl.safe_mode {
            return 0;
        }
        let limit = self.cfg.max_copies_per_server as usize;
        let in_flight: usize = cl.copies.values().map(|v| v.len()).sum();
        if in_flight >= limit {
            return 0;
        }
        let cands = cl.reg.candidates(l.dead, self.chunk_size());
        if placement::distinct(cands.iter().map(|c| c.rack.as_str())) < 2 {
            return 0;
        }
        let mut todo: Vec<(ChunkId, u64, Vec<String>)> = vec![];
        for (id, c) in &cl.chunks.chunks {
            if todo.len() + in_flight >= limit {
                break;
            }
            if cl.copies.contains_key(id) || c.leased() || c.bumping.is_some() {
                continue;
            }
            if cl.chunks.counted(c, &cl.reg, l) < u32::from(c.goal) {
                continue;
            }
            let holders: Vec<String> = c
                .current()
                .filter(|s| cl.reg.counts_for_goal(s, l.dead, l.window))
                .cloned()
                .collect();
            let racks: Vec<&str> = holders.iter().map(|s| cl.reg.rack_of(s)).collect();
            if placement::needs_spread(&racks, &cands) {
                todo.push((*id, c.version, holders));
            }
        }
        let mut started = 0;
        for (id, version, holders) in todo {
            let Some(c) = cl.chunks.chunks.get(&id) else {
                continue;
            };
            let exclude: Vec<String> = c.replicas.keys().cloned().collect();
            let racks: Vec<&str> = holders.iter().map(|s| cl.reg.rack_of(s)).collect();
            let Some(target) =
                placement::choose_spread(&cands, 1, &exclude, self.chunk_size(), id, &racks).pop()
            else {
                continue;
            };
            let (Some(source), Some(tloc)) = (
                holders.iter().find(|s| cl.reg.is_alive(s, l.dead)).cloned(),
                cl.reg.servers.get(&target).map(|s| s.loc()),
            ) else {
                continue;
            };
            cl.reg.push_command(
                &source,
                Command::Replicate {
                    chunk_id: id,
                    version,
                    target: tloc,
                },
            );
            if let Some(c) = cl.chunks.chunks.get_mut(&id) {
                c.copied = true;
            }
            tracing::info!(chunk = id, from = %source, to = %target, "copying to a second rack");
            cl.copies.entry(id).or_default().push(CopyJob {
                source,
                target,
                started: Instant::now(),
            });
            started += 1;
        }
        started
    }
}
