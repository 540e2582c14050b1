//! Replica placement: pick N distinct live chunkservers, preferring free space and
//! spreading new chunks across servers, and keep each chunk's replicas in at least two
//! racks when the cluster has two (HDFS's default policy: a rack's switch or power can
//! fail as one). Pure functions, unit-tested without I/O: `choose_spread` for new
//! replicas, `trim_choice` for surplus ones, `move_keeps_spread` for the balancer,
//! `needs_spread` for chunks whose replicas all sit in one rack.

use ferrofs_proto::CsId;

#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: CsId,
    /// Free bytes, minus what recent allocations will use.
    pub free_bytes: u64,
    pub capacity_bytes: u64,
    /// Chunks allocated here recently (not yet visible in `free_bytes`).
    pub recent_allocs: u32,
    /// Its rack (failure domain).
    pub rack: String,
}

/// Distinct racks among these.
pub fn distinct<'a>(racks: impl IntoIterator<Item = &'a str>) -> usize {
    let mut v: Vec<&str> = racks.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Choose up to `n` servers for a new replica, never one in `exclude`, never one without
/// room for `need_bytes`. Best first: most free space after counting recent allocations,
/// ties broken by `seed` so equal servers share the load.
pub fn choose(
    candidates: &[Candidate],
    n: usize,
    exclude: &[CsId],
    need_bytes: u64,
    seed: u64,
) -> Vec<CsId> {
    choose_spread(candidates, n, exclude, need_bytes, seed, &[])
}

/// `choose` for a chunk whose kept replicas are in racks `have`: the replicas kept and
/// chosen together span two racks whenever the candidates and `have` offer two (else
/// as many as there are). Otherwise best first, as `choose`: a slot goes to another
/// rack only when the slots left are all that can still reach two.
pub fn choose_spread(
    candidates: &[Candidate],
    n: usize,
    exclude: &[CsId],
    need_bytes: u64,
    seed: u64,
    have: &[&str],
) -> Vec<CsId> {
    let ordered = ranked(candidates, exclude, need_bytes, seed);
    let offered = ordered.iter().map(|c| c.rack.as_str());
    let want = distinct(offered.chain(have.iter().copied())).min(2);
    let mut racks: Vec<&str> = have.to_vec();
    let mut chosen: Vec<&Candidate> = vec![];
    for slot in 0..n {
        let spread = distinct(racks.iter().copied());
        let must_new = spread < want && n - slot <= want - spread;
        let free = |c: &&&Candidate| !chosen.iter().any(|x| x.id == c.id);
        let pick = ordered
            .iter()
            .filter(free)
            .find(|c| !must_new || !racks.contains(&c.rack.as_str()))
            .or_else(|| ordered.iter().find(free));
        let Some(c) = pick else { break };
        racks.push(c.rack.as_str());
        chosen.push(c);
    }
    chosen.into_iter().map(|c| c.id.clone()).collect()
}

/// Which of `holders` (in the order they should go first, with their racks) to delete
/// as `surplus`: never one whose removal leaves the rest in fewer than two racks (or
/// fewer than the holders span now, if one).
pub fn trim_choice(holders: &[(CsId, String)], surplus: usize) -> Vec<CsId> {
    let want = distinct(holders.iter().map(|(_, r)| r.as_str())).min(2);
    let mut kept: Vec<&(CsId, String)> = holders.iter().collect();
    let mut out = vec![];
    for h in holders {
        if out.len() == surplus {
            break;
        }
        let rest = kept.iter().filter(|k| k.0 != h.0).map(|k| k.1.as_str());
        if distinct(rest) >= want {
            kept.retain(|k| k.0 != h.0);
            out.push(h.0.clone());
        }
    }
    out
}

/// May a replica move from a server in `from` to one in `to`, for a chunk whose
/// replicas are in `racks`? Not if the move leaves it in fewer racks than two (or than
/// now, if one).
pub fn move_keeps_spread(racks: &[&str], from: &str, to: &str) -> bool {
    let mut after: Vec<&str> = racks.to_vec();
    if let Some(i) = after.iter().position(|r| *r == from) {
        after.remove(i);
    }
    after.push(to);
    distinct(after) >= distinct(racks.iter().copied()).min(2)
}

/// A chunk at its goal whose replicas (in `racks`) all sit in one rack while a
/// candidate in another rack exists needs one copy there (the trimmer then removes one
/// from the crowded rack).
pub fn needs_spread(racks: &[&str], candidates: &[Candidate]) -> bool {
    distinct(racks.iter().copied()) == 1
        && candidates.iter().any(|c| !racks.contains(&c.rack.as_str()))
}

/// Candidates outside `exclude` with room for `need_bytes`, best first.
fn ranked<'a>(
    candidates: &'a [Candidate],
    exclude: &[CsId],
    need_bytes: u64,
    seed: u64,
) -> Vec<&'a Candidate> {
    let mut scored: Vec<(u128, u64, &Candidate)> = candidates
        .iter()
        .filter(|c| !exclude.contains(&c.id))
        .filter(|c| c.free_bytes >= need_bytes)
        .map(|c| {
            let effective = c
                .free_bytes
                .saturating_sub(u64::from(c.recent_allocs) * need_bytes);
            // Score by free fraction so unequal disks fill evenly; bucket it coarsely so
            // near-equal servers tie and the seed rotates among them.
            let frac = if c.capacity_bytes == 0 {
                0
            } else {
                (effective as u128 * 64) / c.capacity_bytes as u128
            };
            let tiebreak = hash(seed ^ hash_str(&c.id));
            (frac, tiebreak, c)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, c)| c).collect()
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn hash(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, free: u64, cap: u64) -> Candidate {
        Candidate {
            id: id.into(),
            free_bytes: free,
            capacity_bytes: cap,
            recent_allocs: 0,
            rack: "default".into(),
        }
    }

    fn in_rack(id: &str, free: u64, rack: &str) -> Candidate {
        Candidate {
            rack: rack.into(),
            ..cand(id, free, 100)
        }
    }

    fn racks_of<'a>(cs: &'a [Candidate], ids: &[CsId]) -> Vec<&'a str> {
        ids.iter()
            .map(|id| cs.iter().find(|c| &c.id == id).unwrap().rack.as_str())
            .collect()
    }

    /// Two racks, however lopsided the free space: every choice of 2 or 3 spans both;
    /// with one rack it is the plain best-first choice.
    #[test]
    fn new_chunks_span_two_racks() {
        // Rack a is much emptier, so best-first alone would put everything there.
        let cs = vec![
            in_rack("a1", 100, "a"),
            in_rack("a2", 100, "a"),
            in_rack("a3", 100, "a"),
            in_rack("b1", 10, "b"),
            in_rack("b2", 10, "b"),
        ];
        for n in [2, 3, 4] {
            for seed in 0..20 {
                let got = choose(&cs, n, &[], 1, seed);
                assert_eq!(got.len(), n);
                assert_eq!(
                    distinct(racks_of(&cs, &got)),
                    2,
                    "n={n} seed={seed}: {got:?}"
                );
            }
        }
        // Only as many from the far rack as needed: 3 replicas = 2 in a, 1 in b.
        let got = choose(&cs, 3, &[], 1, 1);
        assert_eq!(racks_of(&cs, &got).iter().filter(|r| **r == "b").count(), 1);
        // One rack: best first.
        let one: Vec<_> = (0..4)
            .map(|i| in_rack(&format!("s{i}"), 100 - i, "a"))
            .collect();
        assert_eq!(
            choose(&one, 2, &[], 1, 0),
            vec!["s0".to_string(), "s1".to_string()]
        );
    }

    /// Re-replication: the kept replicas' racks count. Kept in a only: the new copy
    /// goes to b; kept in a and b: best first (a); rack b excluded or full: a.
    #[test]
    fn rereplication_counts_kept_racks() {
        let cs = vec![
            in_rack("a1", 100, "a"),
            in_rack("a2", 100, "a"),
            in_rack("b1", 10, "b"),
        ];
        let table: &[(&[&str], &[&str], &str)] = &[
            (&["a"], &[], "b"),
            (&["a", "b"], &[], "a"),
            (&["a"], &["b1"], "a"),
            (&["a", "a"], &[], "b"),
        ];
        for (have, exclude, want) in table {
            let ex: Vec<CsId> = exclude.iter().map(|s| s.to_string()).collect();
            for seed in 0..10 {
                let got = choose_spread(&cs, 1, &ex, 1, seed, have);
                assert_eq!(
                    racks_of(&cs, &got),
                    vec![*want],
                    "have {have:?} exclude {exclude:?}"
                );
            }
        }
        // The far rack has no room: the rule cannot hold, the copy is still made.
        let full = vec![in_rack("a1", 100, "a"), in_rack("b1", 0, "b")];
        assert_eq!(
            choose_spread(&full, 1, &[], 1, 0, &["a"]),
            vec!["a1".to_string()]
        );
    }

    /// The trimmer never removes the last replica of a second rack.
    #[test]
    fn trim_keeps_two_racks() {
        let h = |v: &[(&str, &str)]| -> Vec<(CsId, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        // (holders in trim order with their racks, surplus, expected deletions)
        type Case<'a> = (&'a [(&'a str, &'a str)], usize, &'a [&'a str]);
        let table: &[Case] = &[
            // b1 would go first (fullest) but is rack b's only replica.
            (
                &[("b1", "b"), ("a1", "a"), ("a2", "a"), ("a3", "a")],
                1,
                &["a1"],
            ),
            (
                &[("b1", "b"), ("a1", "a"), ("a2", "a"), ("a3", "a")],
                2,
                &["a1", "a2"],
            ),
            (
                &[("b1", "b"), ("b2", "b"), ("a1", "a"), ("a2", "a")],
                1,
                &["b1"],
            ),
            (
                &[("a1", "a"), ("a2", "a"), ("a3", "a"), ("a4", "a")],
                1,
                &["a1"],
            ),
            (&[("b1", "b"), ("a1", "a")], 1, &[]),
        ];
        for (holders, surplus, want) in table {
            let got = trim_choice(&h(holders), *surplus);
            assert_eq!(
                got,
                want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{holders:?}"
            );
        }
    }

    #[test]
    fn moves_and_spread_needs() {
        assert!(move_keeps_spread(&["a", "a", "b"], "a", "a"));
        assert!(move_keeps_spread(&["a", "a", "b"], "a", "b"));
        assert!(!move_keeps_spread(&["a", "a", "b"], "b", "a"));
        assert!(move_keeps_spread(&["a", "a", "a"], "a", "a"));
        assert!(move_keeps_spread(&["a", "a", "a"], "a", "b"));
        let cs = vec![in_rack("a1", 100, "a"), in_rack("b1", 100, "b")];
        assert!(needs_spread(&["a", "a"], &cs));
        assert!(!needs_spread(&["a", "b"], &cs));
        assert!(!needs_spread(&["a", "a"], &cs[..1]));
    }

    #[test]
    fn distinct_and_excluded() {
        let cs = vec![
            cand("a", 100, 100),
            cand("b", 100, 100),
            cand("c", 100, 100),
        ];
        let got = choose(&cs, 3, &[], 1, 7);
        assert_eq!(got.len(), 3);
        let mut s = got.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 3);
        let got = choose(&cs, 3, &["b".into()], 1, 7);
        assert_eq!(got.len(), 2);
        assert!(!got.contains(&"b".to_string()));
    }

    #[test]
    fn prefers_free_space_and_skips_full() {
        let cs = vec![
            cand("full", 0, 100),
            cand("half", 50, 100),
            cand("empty", 100, 100),
        ];
        assert_eq!(choose(&cs, 1, &[], 1, 1), vec!["empty".to_string()]);
        assert_eq!(choose(&cs, 3, &[], 1, 1).len(), 2);
    }

    #[test]
    fn seed_spreads_ties() {
        let cs: Vec<_> = (0..6).map(|i| cand(&format!("s{i}"), 100, 100)).collect();
        let mut firsts = std::collections::HashSet::new();
        for seed in 0..50 {
            firsts.insert(choose(&cs, 1, &[], 1, seed)[0].clone());
        }
        assert!(firsts.len() >= 4, "ties should rotate, got {firsts:?}");
    }

    #[test]
    fn recent_allocations_count() {
        let mut a = cand("a", 100, 100);
        a.recent_allocs = 10;
        let cs = vec![a, cand("b", 90, 100)];
        assert_eq!(choose(&cs, 1, &[], 5, 3), vec!["b".to_string()]);
    }
}
