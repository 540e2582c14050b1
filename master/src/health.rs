//! Chunk health for the status: one pass over the chunk table, and the rule for when
//! the last pass still stands.
//!
//! The status (the dashboard's sampler takes one every second; operators, scripts and
//! tests poll it) classifies every chunk by its current replicas on servers that
//! count. The walk holds the cluster lock, so every lease, report and commit waits for
//! it. It is memory-bound (each chunk's replica map and each server id is an
//! allocation of its own): about 0.5 µs a chunk, 20 ms at 40k chunks. So:
//! - which servers count is settled once per survey, and looked up per replica in an
//!   FxHash set (SipHash was half the walk);
//! - when nothing changed (the table's generation, the servers that count, the servers
//!   that accept copies) the last survey stands;
//! - a survey that took `LONG` or more stands for `REUSE` times as long against
//!   changes to the table alone, so walking holds the lock at most 1/`REUSE` of the
//!   time; a server that stops or starts counting always gets a fresh walk. Tables
//!   small enough to walk in under `LONG` are always fresh.

use crate::chunks::{ChunkState, Liveness};
use crate::registry::Registry;
use ferrofs_proto::CsId;
use ferrofs_proto::admin::ChunkHealth;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A walk at least this long is reused for table changes (see the module doc).
pub const LONG: Duration = Duration::from_millis(2);
/// ... for this many times its duration.
pub const REUSE: u32 = 20;

/// What a survey finds.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub health: ChunkHealth,
    /// Goal -> chunks below it that cannot be healed: fewer servers accept copies.
    pub stuck: BTreeMap<u8, u64>,
}

/// The last survey, kept by the chunk table.
#[derive(Debug, Default)]
pub struct Surveys {
    last: Mutex<Option<Last>>,
}

#[derive(Debug)]
struct Last {
    generation: u64,
    counting: Vec<CsId>,
    targets: u32,
    at: Instant,
    took: Duration,
    survey: Survey,
}

impl Surveys {
    /// The health of `chunks` (the table at `generation`): replicas on servers that
    /// count (decommissioning ones included: the data is still safe there), and the
    /// chunks below a goal above `targets`, the servers accepting copies.
    pub fn survey<'a>(
        &self,
        chunks: impl Iterator<Item = &'a ChunkState>,
        generation: u64,
        reg: &Registry,
        l: Liveness,
        targets: u32,
    ) -> Survey {
        // Sorted: the registry is a BTreeMap.
        let counting: Vec<&str> = reg
            .servers
            .keys()
            .filter(|id| reg.counts(id, l.dead, l.window, true))
            .map(String::as_str)
            .collect();
        let mut last = self.last.lock();
        if let Some(x) = last.as_ref() {
            let servers_same = x.targets == targets
                && x.counting
                    .iter()
                    .map(String::as_str)
                    .eq(counting.iter().copied());
            let table_same = x.generation == generation;
            let recent = x.took >= LONG && x.at.elapsed() < x.took * REUSE;
            if servers_same && (table_same || recent) {
                return x.survey.clone();
            }
        }
        let t0 = Instant::now();
        let survey = walk(chunks, &counting, targets);
        *last = Some(Last {
            generation,
            counting: counting.iter().map(|s| s.to_string()).collect(),
            targets,
            at: Instant::now(),
            took: t0.elapsed(),
            survey: survey.clone(),
        });
        survey
    }
}

fn walk<'a>(
    chunks: impl Iterator<Item = &'a ChunkState>,
    counting: &[&str],
    targets: u32,
) -> Survey {
    let counting: rustc_hash::FxHashSet<&str> = counting.iter().copied().collect();
    let mut s = Survey::default();
    let h = &mut s.health;
    for c in chunks.filter(|c| !c.allocating) {
        let n = c
            .current()
            .filter(|id| counting.contains(id.as_str()))
            .count() as u32;
        let goal = u32::from(c.goal);
        h.total += 1;
        if n == 0 {
            h.missing += 1;
        } else if n < goal {
            h.under_replicated += 1;
            if n == 1 {
                h.endangered += 1;
            }
            if goal > targets {
                *s.stuck.entry(c.goal).or_default() += 1;
            }
        } else if n > goal {
            h.over_replicated += 1;
            h.healthy += 1;
        } else {
            h.healthy += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::ChunkTable;
    use crate::chunks::tests::{chunk, server};

    fn setup() -> (ChunkTable, Registry, Liveness) {
        let mut reg = Registry::default();
        for id in ["a", "b", "c"] {
            reg.servers.insert(id.into(), server(id, true));
        }
        let mut t = ChunkTable::default();
        t.insert(1, chunk(3, &[("a", 1), ("b", 1), ("c", 1)], 1));
        let l = Liveness {
            dead: Duration::from_secs(10),
            window: Duration::from_secs(0),
        };
        (t, reg, l)
    }

    /// Pretend the last survey was a long walk, taken just now.
    fn make_last_long(t: &ChunkTable) {
        let mut last = t.surveys_for_tests().last.lock();
        let x = last.as_mut().unwrap();
        x.took = Duration::from_secs(60);
        x.at = Instant::now();
    }

    #[test]
    fn a_small_table_is_always_fresh() {
        let (mut t, reg, l) = setup();
        assert_eq!(t.survey(&reg, l, 3).health.healthy, 1);
        t.insert(2, chunk(3, &[("a", 1)], 1));
        let h = t.survey(&reg, l, 3).health;
        assert_eq!((h.total, h.healthy, h.endangered), (2, 1, 1));
        t.get_mut(&2).unwrap().replicas.insert("b".into(), 1);
        assert_eq!(t.survey(&reg, l, 3).health.endangered, 0);
    }

    #[test]
    fn a_long_walk_stands_for_table_changes_but_not_for_server_changes() {
        let (mut t, mut reg, l) = setup();
        assert_eq!(t.survey(&reg, l, 3).health.total, 1);
        make_last_long(&t);
        t.insert(2, chunk(3, &[("a", 1)], 1));
        assert_eq!(
            t.survey(&reg, l, 3).health.total,
            1,
            "a long walk is not redone for one more chunk"
        );
        // A server stops counting: walked again at once, the new chunk included.
        reg.servers.insert("c".into(), server("c", false));
        let h = t.survey(&reg, l, 2).health;
        assert_eq!((h.total, h.under_replicated, h.endangered), (2, 2, 1));
        // Fewer servers accepting copies is a change too.
        make_last_long(&t);
        assert_eq!(t.survey(&reg, l, 1).stuck, BTreeMap::from([(3, 2)]));
    }
}
