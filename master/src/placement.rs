//! Replica placement: pick N distinct live chunkservers, preferring free space and
//! spreading new chunks across servers (a pure function, unit-tested without I/O).

use ferrofs_proto::CsId;

#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: CsId,
    /// Free bytes, minus what recent allocations will use.
    pub free_bytes: u64,
    pub capacity_bytes: u64,
    /// Chunks allocated here recently (not yet visible in `free_bytes`).
    pub recent_allocs: u32,
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
    scored
        .into_iter()
        .take(n)
        .map(|(_, _, c)| c.id.clone())
        .collect()
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
        }
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
