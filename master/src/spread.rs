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
    /// Looks at the chunks `ids`; those it could not look at yet are kept for the next
    /// pass (`crate::scan`).
    pub(crate) fn spread_step(&self, cl: &mut Cluster, queued: usize, ids: &[ChunkId]) -> usize {
        let l = self.liveness();
        let cands = cl.reg.candidates(l.dead, self.chunk_size());
        // With one rack there is nothing to spread to; a second rack's arrival changes
        // the servers' standing, and the next pass looks at every chunk.
        if placement::distinct(cands.iter().map(|c| c.rack.as_str())) < 2 {
            return 0;
        }
        let limit = self.cfg.max_copies_per_server as usize;
        let in_flight: usize = cl.copies.values().map(|v| v.len()).sum();
        if queued > 0 || cl.safe_mode || in_flight >= limit {
            for id in ids {
                cl.scan.keep(*id);
            }
            return 0;
        }
        let mut todo: Vec<(ChunkId, u64, Vec<String>)> = vec![];
        let mut later = vec![];
        for (n, id) in ids.iter().enumerate() {
            if todo.len() + in_flight >= limit {
                later.extend_from_slice(&ids[n..]);
                break;
            }
            let Some(c) = cl.chunks.get(id) else {
                continue;
            };
            if cl.copies.contains_key(id) || c.bumping.is_some() || c.allocating {
                continue;
            }
            if c.leased() {
                later.push(*id);
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
        for id in later {
            cl.scan.keep(id);
        }
        let mut started = 0;
        for (id, version, holders) in todo {
            let Some(c) = cl.chunks.get(&id) else {
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
            if let Some(c) = cl.chunks.get_mut(&id) {
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
