//! Which chunks a re-replication pass looks at. A pass runs every 200 ms under the
//! cluster lock, and looking at every chunk each time cost the master a third of a core
//! at 26,000 chunks and held every lease up behind it: a tree unpacked into the mount
//! slowed from 224 to 80 files a second as it grew (perf: `Registry::counts` from
//! `ChunkTable::under_replicated` and `counted`, 30% of the master's samples).
//!
//! A pass looks at the chunks changed since the last pass (`ChunkTable` notes every
//! mutable access: reports, copies, deletes, leases, versions, goals) and at those that
//! still needed work when last looked at (`keep`: below or above goal, copies in
//! flight, a second rack missing). It looks at every chunk when anything else that
//! decides a chunk's health moved: a server's standing (alive, counted for goal or for
//! health, decommissioning, in maintenance, its rack, a server added or gone), a new
//! chunk table (a new leader, a snapshot), leaving safe mode, and every `FULL_EVERY` as
//! a net under all of that.

use crate::chunks::{Changed, ChunkTable, Liveness};
use crate::registry::Registry;
use ferrofs_proto::{ChunkId, CsId};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Longest time between two passes that look at every chunk.
pub const FULL_EVERY: Duration = Duration::from_secs(30);

/// What decides whether a server's replicas count.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Standing {
    id: CsId,
    alive: bool,
    counts: bool,
    present: bool,
    maintenance: bool,
    decommission: bool,
    rack: String,
}

#[derive(Debug, Default)]
pub struct Scan {
    keep: HashSet<ChunkId>,
    servers: Vec<Standing>,
    last_full: Option<Instant>,
    full_next: bool,
}

impl Scan {
    /// The chunks this pass looks at, and whether that is every chunk.
    pub fn begin(
        &mut self,
        table: &mut ChunkTable,
        reg: &Registry,
        l: Liveness,
    ) -> (Vec<ChunkId>, bool) {
        let mut servers: Vec<Standing> = reg
            .servers
            .values()
            .map(|s| Standing {
                id: s.id.clone(),
                alive: reg.is_alive(&s.id, l.dead),
                counts: reg.counts(&s.id, l.dead, l.window, false),
                present: reg.counts(&s.id, l.dead, l.window, true),
                maintenance: s.maintenance,
                decommission: s.decommission,
                rack: s.rack.clone(),
            })
            .collect();
        servers.sort_by(|a, b| a.id.cmp(&b.id));
        let changed = table.take_changed();
        let full = std::mem::take(&mut self.full_next)
            || changed == Changed::All
            || servers != self.servers
            || self.last_full.is_none_or(|t| t.elapsed() >= FULL_EVERY);
        self.servers = servers;
        if full {
            self.last_full = Some(Instant::now());
            self.keep.clear();
            return (table.ids().collect(), true);
        }
        let mut ids = std::mem::take(&mut self.keep);
        if let Changed::Some(c) = changed {
            ids.extend(c);
        }
        (
            ids.into_iter().filter(|id| table.contains(id)).collect(),
            false,
        )
    }

    /// Look at `id` again next pass: it still needs work.
    pub fn keep(&mut self, id: ChunkId) {
        self.keep.insert(id);
    }

    /// The next pass looks at every chunk.
    pub fn look_at_all(&mut self) {
        self.full_next = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::ChunkState;
    use crate::registry::Server;

    fn server(id: &str) -> Server {
        crate::chunks::tests::server(id, true)
    }

    fn l() -> Liveness {
        Liveness {
            dead: Duration::from_secs(10),
            window: Duration::from_secs(0),
        }
    }

    fn sorted(mut v: Vec<ChunkId>) -> Vec<ChunkId> {
        v.sort();
        v
    }

    /// A new table is looked at whole; then only what changed and what was kept; a
    /// server's change of standing makes the next pass look at everything again.
    #[test]
    fn looks_at_what_changed_and_what_was_kept() {
        let mut reg = Registry::default();
        reg.servers.insert("a".into(), server("a"));
        let mut t = ChunkTable::default();
        for id in 1..=5 {
            t.insert(id, ChunkState::recorded(2, id, 1, 1));
        }
        let mut s = Scan::default();
        let (ids, full) = s.begin(&mut t, &reg, l());
        assert_eq!((sorted(ids), full), (vec![1, 2, 3, 4, 5], true));
        // Nothing changed, nothing kept: nothing to look at.
        assert_eq!(s.begin(&mut t, &reg, l()), (vec![], false));
        // A read does not count as a change; a mutable access does.
        let _ = t.get(&1);
        t.get_mut(&2).unwrap().goal = 3;
        s.keep(4);
        let (ids, full) = s.begin(&mut t, &reg, l());
        assert_eq!((sorted(ids), full), (vec![2, 4], false));
        // Kept ones are looked at once per keep; removed chunks drop out.
        s.keep(3);
        t.remove(&3);
        assert_eq!(s.begin(&mut t, &reg, l()), (vec![], false));
        // A server marked for decommission changes every chunk's count.
        reg.servers.get_mut("a").unwrap().decommission = true;
        let (ids, full) = s.begin(&mut t, &reg, l());
        assert_eq!((sorted(ids), full), (vec![1, 2, 4, 5], true));
        // A server that stops heartbeating does, too (once declared dead).
        assert_eq!(s.begin(&mut t, &reg, l()), (vec![], false));
        reg.servers.get_mut("a").unwrap().last_heartbeat = Instant::now() - Duration::from_secs(11);
        assert!(s.begin(&mut t, &reg, l()).1);
        // A new server, too; and a request for it.
        reg.servers.insert("b".into(), server("b"));
        assert!(s.begin(&mut t, &reg, l()).1);
        assert!(!s.begin(&mut t, &reg, l()).1);
        s.look_at_all();
        assert!(s.begin(&mut t, &reg, l()).1);
        // Changing every chunk at once is looked at whole.
        for (_, c) in t.iter_mut() {
            c.copied = true;
        }
        assert!(s.begin(&mut t, &reg, l()).1);
    }
}
