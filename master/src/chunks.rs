//! The chunk table: every chunk's file position, current version and goal (persisted),
//! plus where its replicas are (soft state, rebuilt from chunkserver reports), and the
//! health classification re-replication works from.

pub use crate::health::Survey;
use crate::health::Surveys;
use crate::registry::Registry;
use crate::sm::LeaseRec;
use ferrofs_proto::namespace::ReplicaLoc;
use ferrofs_proto::{ChunkId, CsId, Ino, Version};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ChunkState {
    pub ino: Ino,
    pub index: u64,
    pub version: Version,
    pub goal: u8,
    /// Replica holder -> version it reported (soft state).
    pub replicas: BTreeMap<CsId, Version>,
    /// Largest length any replica reported.
    pub length: u64,
    /// The write lease, as the state machine has it.
    pub lease: Option<LeaseRec>,
    /// Being created on its first replicas: not yet counted in health.
    pub allocating: bool,
    /// Leader: the replicas are being moved to this version. Until the grant is
    /// recorded, a replica reporting any version from the current one up to this one is
    /// neither stale nor newer (it is mid-bump).
    pub bumping: Option<Version>,
    /// A copy of this chunk may have been made, or be under way, since its version last
    /// changed. The copy holds the current version, so a lease granted without a bump
    /// would let writes miss it while it still passes for current: the next lease must
    /// bump. True for every chunk a master loads (it cannot know).
    pub copied: bool,
}

impl ChunkState {
    /// A chunk as the state machine records it, with no replicas known yet.
    pub fn recorded(ino: Ino, index: u64, version: Version, goal: u8) -> ChunkState {
        ChunkState {
            ino,
            index,
            version,
            goal,
            replicas: BTreeMap::new(),
            length: 0,
            lease: None,
            allocating: false,
            bumping: None,
            copied: true,
        }
    }

    /// Is a writer possibly writing it now?
    pub fn leased(&self) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|l| l.live_at(crate::db::now_ms()))
    }

    /// Holders of the current version.
    pub fn current(&self) -> impl Iterator<Item = &CsId> {
        self.replicas
            .iter()
            .filter(move |(_, v)| **v == self.version)
            .map(|(id, _)| id)
    }
}

/// How urgently a chunk needs copies: fewer live replicas first (MooseFS's endangered
/// before undergoal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Urgency {
    pub live: u32,
    pub missing_copies: u32,
}

/// Every chunk the master knows. Mutable access goes through methods that note the
/// chunk as changed, so the re-replication pass can look at what changed since its last
/// pass instead of at every chunk (`crate::scan`).
#[derive(Debug)]
pub struct ChunkTable {
    chunks: HashMap<ChunkId, ChunkState>,
    /// Chunks mutably accessed since the last `take_changed`.
    changed: HashSet<ChunkId>,
    /// Every chunk may have changed (a new table, a leader's reset).
    all_changed: bool,
    /// Bumped by every change to the table (what a cached survey was taken at).
    generation: u64,
    surveys: Surveys,
}

impl Default for ChunkTable {
    fn default() -> ChunkTable {
        ChunkTable {
            chunks: HashMap::new(),
            changed: HashSet::new(),
            all_changed: true,
            generation: 0,
            surveys: Surveys::default(),
        }
    }
}

/// What changed in the table since the last look.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    All,
    Some(HashSet<ChunkId>),
}

/// Liveness parameters used to classify replicas.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    pub dead: Duration,
    pub window: Duration,
}

impl ChunkTable {
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn get(&self, id: &ChunkId) -> Option<&ChunkState> {
        self.chunks.get(id)
    }

    pub fn contains(&self, id: &ChunkId) -> bool {
        self.chunks.contains_key(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ChunkId, &ChunkState)> {
        self.chunks.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &ChunkState> {
        self.chunks.values()
    }

    pub fn ids(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.chunks.keys().copied()
    }

    /// Note `id` as changed. Once most chunks are (a follower notes every change and
    /// nobody takes them until it leads), everything is: the set stops growing.
    fn note(&mut self, id: ChunkId) {
        self.generation += 1;
        if self.all_changed {
            return;
        }
        self.changed.insert(id);
        if self.changed.len() > self.chunks.len() / 2 + 1024 {
            self.all_changed = true;
            self.changed.clear();
        }
    }

    /// The chunk, to change: it is noted as changed.
    pub fn get_mut(&mut self, id: &ChunkId) -> Option<&mut ChunkState> {
        if self.chunks.contains_key(id) {
            self.note(*id);
        }
        self.chunks.get_mut(id)
    }

    pub fn entry(&mut self, id: ChunkId) -> Entry<'_, ChunkId, ChunkState> {
        self.note(id);
        self.chunks.entry(id)
    }

    pub fn insert(&mut self, id: ChunkId, c: ChunkState) {
        self.note(id);
        self.chunks.insert(id, c);
    }

    pub fn remove(&mut self, id: &ChunkId) -> Option<ChunkState> {
        self.generation += 1;
        self.changed.remove(id);
        self.chunks.remove(id)
    }

    /// Every chunk, to change: all are noted as changed.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&ChunkId, &mut ChunkState)> {
        self.generation += 1;
        self.all_changed = true;
        self.changed.clear();
        self.chunks.iter_mut()
    }

    /// What changed since the last call (and start noting afresh).
    pub fn take_changed(&mut self) -> Changed {
        if std::mem::take(&mut self.all_changed) {
            self.changed.clear();
            return Changed::All;
        }
        Changed::Some(std::mem::take(&mut self.changed))
    }

    /// Replicas that count toward the goal (current version, on a server that counts;
    /// not on a decommissioning server, whose copies must move).
    pub fn counted(&self, c: &ChunkState, reg: &Registry, l: Liveness) -> u32 {
        c.current()
            .filter(|id| reg.counts(id, l.dead, l.window, false))
            .count() as u32
    }

    /// Replicas a client may read from right now.
    pub fn readable(&self, c: &ChunkState, reg: &Registry, dead: Duration) -> Vec<ReplicaLoc> {
        c.current()
            .filter(|id| reg.is_alive(id, dead))
            .filter_map(|id| reg.servers.get(id).map(|s| s.loc()))
            .collect()
    }

    /// Every chunk's health, as `crate::health` surveys it (or its last survey, when
    /// that still stands).
    pub fn survey(&self, reg: &Registry, l: Liveness, targets: u32) -> Survey {
        self.surveys
            .survey(self.chunks.values(), self.generation, reg, l, targets)
    }

    #[cfg(test)]
    pub(crate) fn surveys_for_tests(&self) -> &Surveys {
        &self.surveys
    }

    /// Chunks among `ids` below goal, most urgent first.
    pub fn under_replicated(
        &self,
        ids: &[ChunkId],
        reg: &Registry,
        l: Liveness,
    ) -> Vec<(ChunkId, Urgency)> {
        let mut v: Vec<(ChunkId, Urgency)> = ids
            .iter()
            .filter_map(|id| {
                let c = self.chunks.get(id)?;
                let live = self.counted(c, reg, l);
                let goal = u32::from(c.goal);
                (live < goal && !c.allocating).then(|| {
                    (
                        *id,
                        Urgency {
                            live,
                            missing_copies: goal - live,
                        },
                    )
                })
            })
            .collect();
        v.sort_by(|a, b| {
            a.1.live
                .cmp(&b.1.live)
                .then(b.1.missing_copies.cmp(&a.1.missing_copies))
                .then(a.0.cmp(&b.0))
        });
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::Server;
    use std::collections::HashSet;
    use std::time::Instant;

    /// A registered server, heartbeating now or long dead.
    pub(crate) fn server(id: &str, alive: bool) -> Server {
        Server {
            id: id.into(),
            rack: "default".into(),
            addr: format!("{id}:1"),
            capacity_bytes: 100,
            used_bytes: 0,
            last_heartbeat: if alive {
                Instant::now()
            } else {
                Instant::now() - Duration::from_secs(100)
            },
            copies_in_flight: 0,
            chunks: HashSet::new(),
            commands: vec![],
            recent_allocs: 0,
            maintenance: false,
            maintenance_since: None,
            decommission: false,
            presence: Default::default(),
            full_report: true,
        }
    }

    pub(crate) fn chunk(goal: u8, reps: &[(&str, Version)], version: Version) -> ChunkState {
        let mut c = ChunkState::recorded(2, 0, version, goal);
        c.replicas = reps.iter().map(|(s, v)| (s.to_string(), *v)).collect();
        c
    }

    #[test]
    fn urgency_orders_one_left_first() {
        let mut reg = Registry::default();
        for (id, alive) in [("a", true), ("b", true), ("c", false), ("d", false)] {
            reg.servers.insert(id.into(), server(id, alive));
        }
        let mut t = ChunkTable::default();
        t.insert(1, chunk(3, &[("a", 1), ("b", 1), ("c", 1)], 1)); // 2 live
        t.insert(2, chunk(3, &[("a", 1), ("c", 1), ("d", 1)], 1)); // 1 live
        t.insert(3, chunk(3, &[("a", 1), ("b", 1)], 1)); // 2 live
        t.insert(4, chunk(2, &[("a", 1), ("b", 1)], 1)); // healthy
        let l = Liveness {
            dead: Duration::from_secs(10),
            window: Duration::from_secs(0),
        };
        let all: Vec<ChunkId> = t.ids().collect();
        let order: Vec<ChunkId> = t
            .under_replicated(&all, &reg, l)
            .iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(order, vec![2, 1, 3]);
        let s = t.survey(&reg, l, 3);
        let h = s.health;
        assert_eq!((h.under_replicated, h.endangered, h.healthy), (3, 1, 1));
        assert!(
            s.stuck.is_empty(),
            "3 servers accept copies: goal 3 can heal"
        );
        assert_eq!(t.survey(&reg, l, 2).stuck, BTreeMap::from([(3, 3)]));
    }

    #[test]
    fn stale_versions_do_not_count() {
        let mut reg = Registry::default();
        for id in ["a", "b", "c"] {
            reg.servers.insert(id.into(), server(id, true));
        }
        let mut t = ChunkTable::default();
        t.insert(1, chunk(3, &[("a", 2), ("b", 2), ("c", 1)], 2));
        let l = Liveness {
            dead: Duration::from_secs(10),
            window: Duration::from_secs(0),
        };
        assert_eq!(t.counted(&t.chunks[&1], &reg, l), 2);
        assert_eq!(t.readable(&t.chunks[&1], &reg, l.dead).len(), 2);
    }

    #[test]
    fn maintenance_counts_within_window() {
        let mut reg = Registry::default();
        let mut m = server("m", false);
        m.maintenance = true;
        m.maintenance_since = Some(Instant::now());
        reg.servers.insert("m".into(), m);
        reg.servers.insert("a".into(), server("a", true));
        let mut t = ChunkTable::default();
        t.insert(1, chunk(2, &[("a", 1), ("m", 1)], 1));
        let l = Liveness {
            dead: Duration::from_secs(10),
            window: Duration::from_secs(60),
        };
        assert_eq!(t.counted(&t.chunks[&1], &reg, l), 2);
        assert_eq!(t.readable(&t.chunks[&1], &reg, l.dead).len(), 1);
    }
}
