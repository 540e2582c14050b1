//! New chunks made ahead of need. A file's first lease used to create its chunk on
//! every chosen replica (a call to each) before recording it; for small files that was
//! a third of each close. The leader now keeps, per goal, a few empty chunks already
//! created on their replicas: a first lease takes one and only records it (the
//! `AllocChunk` command), asking no chunkserver anything. The pool is refilled in the
//! background, a batch at a time, with one create call per chunkserver per batch
//! (`CREATE_CHUNKS`), so the creates cost a fraction of the calls they did.
//!
//! Pooled chunks are in the chunk table as `allocating`: reports of them are not
//! garbage, and health, re-replication and the balancer leave them alone. The pool is
//! the leader's memory only: a new leader starts with none and deletes a deposed
//! leader's as garbage (they are in no file). A chunk left unused for `POOL_TTL` is
//! deleted, so a cluster that stops writing soon holds no chunk that is no file's.

use crate::chunks::ChunkState;
use crate::state::Master;
use ferrofs_proto::chunk::{CREATE_CHUNKS, CreateChunksReq, CreateChunksResp};
use ferrofs_proto::namespace::{LeaseReq, ReplicaLoc};
use ferrofs_proto::{ChunkId, CsId, Version};
use futures::future::join_all;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Chunks made per refill (and so per create call to each chunkserver).
const BATCH: usize = 32;
/// A refill starts when fewer than this are left.
const LOW: usize = 12;
/// An unused pooled chunk is deleted after this.
pub const POOL_TTL: Duration = Duration::from_secs(5);
/// Pooled chunks are created at this version.
const VERSION: Version = 1;

/// One empty chunk on its replicas, ready for a file.
#[derive(Debug, Clone)]
pub struct Pooled {
    pub id: ChunkId,
    pub replicas: Vec<ReplicaLoc>,
    made: Instant,
}

/// The leader's pooled chunks per goal, oldest first, and which goals are being
/// refilled.
#[derive(Debug, Default)]
pub struct ChunkPool {
    by_goal: HashMap<u8, VecDeque<Pooled>>,
    refilling: HashSet<u8>,
}

impl ChunkPool {
    /// The oldest chunk of `goal` whose every replica passes `usable`, and the ones
    /// passed over for failing it (to be deleted).
    pub fn take(
        &mut self,
        goal: u8,
        usable: impl Fn(&ReplicaLoc) -> bool,
    ) -> (Option<Pooled>, Vec<Pooled>) {
        let mut dropped = vec![];
        let Some(q) = self.by_goal.get_mut(&goal) else {
            return (None, dropped);
        };
        while let Some(p) = q.pop_front() {
            if p.replicas.iter().all(&usable) {
                return (Some(p), dropped);
            }
            dropped.push(p);
        }
        (None, dropped)
    }

    /// Should a refill of `goal` start now (few left and none under way)? If so it is
    /// marked under way until `refilled`.
    pub fn wants_refill(&mut self, goal: u8) -> bool {
        let left = self.by_goal.get(&goal).map_or(0, VecDeque::len);
        left < LOW && self.refilling.insert(goal)
    }

    /// A refill of `goal` ended with these chunks.
    pub fn refilled(&mut self, goal: u8, made: Vec<Pooled>) {
        self.refilling.remove(&goal);
        self.by_goal.entry(goal).or_default().extend(made);
    }

    /// The chunks made more than `ttl` before `now`, taken out.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<Pooled> {
        let mut old = vec![];
        for q in self.by_goal.values_mut() {
            while q
                .front()
                .is_some_and(|p| now.saturating_duration_since(p.made) > ttl)
            {
                old.extend(q.pop_front());
            }
        }
        self.by_goal.retain(|_, q| !q.is_empty());
        old
    }

    /// Every pooled chunk, taken out.
    pub fn drain(&mut self) -> Vec<Pooled> {
        self.by_goal.drain().flat_map(|(_, q)| q).collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_goal.values().map(VecDeque::len).sum()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Master {
    /// A pooled chunk for chunk `req.index` of `req.ino`, if one of `goal` is at hand
    /// on servers that take new chunks now, entered in the table at that position;
    /// starts a refill when the pool runs low.
    pub(crate) fn take_pooled(
        self: &Arc<Self>,
        req: &LeaseReq,
        goal: u8,
    ) -> Option<(ChunkId, Vec<ReplicaLoc>)> {
        let chunk_size = self.chunk_size();
        let (got, dropped, refill) = {
            let mut cl = self.cluster();
            // The servers a new chunk could be placed on now (as `placement::choose`
            // picks them: room for the chunk beyond a chunk's reserve).
            let usable: HashSet<CsId> = cl
                .reg
                .candidates(self.cfg.dead_timeout, chunk_size)
                .into_iter()
                .filter(|c| c.free_bytes >= chunk_size)
                .map(|c| c.id)
                .collect();
            let (got, dropped) = cl.pool.take(goal, |r| {
                usable.contains(&r.id) && !req.exclude.contains(&r.id)
            });
            let got = got.filter(|p| match cl.chunks.get_mut(&p.id) {
                Some(st) if st.allocating => {
                    st.ino = req.ino;
                    st.index = req.index;
                    true
                }
                _ => false,
            });
            (got, dropped, cl.pool.wants_refill(goal))
        };
        for d in dropped {
            self.forget_allocation(d.id, &d.replicas);
        }
        if refill {
            tokio::spawn(self.clone().refill_pool(goal));
        }
        got.map(|p| (p.id, p.replicas))
    }

    async fn refill_pool(self: Arc<Self>, goal: u8) {
        let made = if self.is_leader() {
            self.make_pooled(goal).await
        } else {
            vec![]
        };
        let stale = {
            let mut cl = self.cluster();
            if self.is_leader() {
                cl.pool.refilled(goal, made);
                vec![]
            } else {
                cl.pool.refilled(goal, vec![]);
                made
            }
        };
        for p in stale {
            self.forget_allocation(p.id, &p.replicas);
        }
    }

    /// Create `BATCH` chunks of `goal` on replicas chosen as for a new chunk. Those
    /// every replica created are returned; the others are forgotten (and deleted where
    /// they may exist).
    async fn make_pooled(&self, goal: u8) -> Vec<Pooled> {
        let mut ids = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            match self.alloc_chunk_id().await {
                Ok(id) => ids.push(id),
                Err(e) => {
                    tracing::warn!(error = %e, "no chunk ids for the pool");
                    break;
                }
            }
        }
        let chunk_size = self.chunk_size();
        let plan: Vec<(ChunkId, Vec<ReplicaLoc>)> = {
            let mut cl = self.cluster();
            let mut plan = vec![];
            for id in ids {
                let cands = cl.reg.candidates(self.cfg.dead_timeout, chunk_size);
                let chosen = crate::placement::choose(&cands, goal as usize, &[], chunk_size, id);
                if chosen.len() < goal as usize {
                    // Short of servers: a lease allocates such chunks itself.
                    break;
                }
                let mut st = ChunkState::recorded(0, 0, VERSION, goal);
                st.allocating = true;
                st.copied = false;
                cl.chunks.insert(id, st);
                let locs: Vec<ReplicaLoc> = chosen
                    .iter()
                    .filter_map(|c| {
                        let s = cl.reg.servers.get_mut(c)?;
                        s.recent_allocs += 1;
                        Some(s.loc())
                    })
                    .collect();
                plan.push((id, locs));
            }
            plan
        };
        let mut per_server: BTreeMap<CsId, (String, Vec<ChunkId>)> = BTreeMap::new();
        for (id, locs) in &plan {
            for l in locs {
                per_server
                    .entry(l.id.clone())
                    .or_insert_with(|| (l.addr.clone(), vec![]))
                    .1
                    .push(*id);
            }
        }
        let asks = per_server
            .into_iter()
            .map(|(cs, (addr, chunks))| async move {
                let req = CreateChunksReq {
                    chunks,
                    version: VERSION,
                };
                let r = self
                    .internal_post_reply::<_, CreateChunksResp>(&addr, CREATE_CHUNKS, &req)
                    .await;
                (cs, r)
            });
        let mut held: HashMap<CsId, HashSet<ChunkId>> = HashMap::new();
        for (cs, r) in join_all(asks).await {
            match r {
                Ok(r) => {
                    held.insert(cs, r.created.into_iter().collect());
                }
                Err(e) => tracing::warn!(cs = %cs, error = %e, "pool: chunk creates failed"),
            }
        }
        let now = Instant::now();
        let mut made = vec![];
        for (id, replicas) in plan {
            let whole = replicas
                .iter()
                .all(|l| held.get(&l.id).is_some_and(|h| h.contains(&id)));
            if whole {
                made.push(Pooled {
                    id,
                    replicas,
                    made: now,
                });
            } else {
                self.forget_allocation(id, &replicas);
            }
        }
        tracing::debug!(goal, made = made.len(), "pooled new chunks");
        made
    }

    /// Delete pooled chunks unused for `POOL_TTL` (leader, periodically).
    pub(crate) fn expire_pool(&self) {
        let old = self.cluster().pool.expire(Instant::now(), POOL_TTL);
        for p in old {
            self.forget_allocation(p.id, &p.replicas);
        }
    }

    /// Forget every pooled chunk (a change of leader): out of the table, their copies
    /// are garbage to whoever leads next.
    pub(crate) fn clear_pool(&self) {
        let mut cl = self.cluster();
        for p in cl.pool.drain() {
            if cl.chunks.get(&p.id).is_some_and(|c| c.allocating) {
                cl.chunks.remove(&p.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled(id: ChunkId, on: &[&str], made: Instant) -> Pooled {
        Pooled {
            id,
            replicas: on
                .iter()
                .map(|s| ReplicaLoc {
                    id: s.to_string(),
                    addr: format!("{s}:1"),
                })
                .collect(),
            made,
        }
    }

    /// Taken oldest first, per goal; a chunk with a replica that may not take new
    /// chunks is passed over and handed back for deletion.
    #[test]
    fn take_passes_over_unusable_replicas() {
        let now = Instant::now();
        let mut p = ChunkPool::default();
        p.refilled(
            3,
            vec![
                pooled(1, &["a", "b", "c"], now),
                pooled(2, &["a", "b", "d"], now),
                pooled(3, &["b", "c", "d"], now),
            ],
        );
        p.refilled(2, vec![pooled(9, &["a", "b"], now)]);
        let (got, dropped) = p.take(3, |r| r.id != "a");
        assert_eq!(got.map(|g| g.id), Some(3));
        assert_eq!(dropped.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2]);
        assert!(p.take(3, |_| true).0.is_none(), "goal 3 is used up");
        assert_eq!(p.take(2, |_| true).0.map(|g| g.id), Some(9));
        assert!(p.take(1, |_| true).0.is_none());
    }

    /// One refill per goal at a time, and only when the pool runs low.
    #[test]
    fn one_refill_at_a_time_when_low() {
        let now = Instant::now();
        let mut p = ChunkPool::default();
        assert!(p.wants_refill(3));
        assert!(!p.wants_refill(3), "already under way");
        assert!(p.wants_refill(2), "another goal refills on its own");
        let full: Vec<Pooled> = (0..LOW as u64 + 1)
            .map(|i| pooled(i, &["a"], now))
            .collect();
        p.refilled(3, full);
        assert!(!p.wants_refill(3), "enough left");
        p.take(3, |_| true);
        p.take(3, |_| true);
        assert!(p.wants_refill(3), "low again");
        p.refilled(3, vec![]);
        assert!(
            p.wants_refill(3),
            "a refill that made nothing is asked again"
        );
    }

    /// Chunks older than the TTL come out; younger ones stay.
    #[test]
    fn unused_chunks_expire() {
        let t0 = Instant::now();
        let mut p = ChunkPool::default();
        p.refilled(3, vec![pooled(1, &["a"], t0)]);
        p.refilled(3, vec![pooled(2, &["a"], t0 + Duration::from_secs(3))]);
        let old = p.expire(t0 + POOL_TTL + Duration::from_secs(1), POOL_TTL);
        assert_eq!(old.iter().map(|o| o.id).collect::<Vec<_>>(), [1]);
        assert_eq!(p.len(), 1);
        assert_eq!(p.drain().len(), 1);
        assert!(p.is_empty());
    }
}
