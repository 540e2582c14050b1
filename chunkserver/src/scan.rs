//! Startup scan of the chunk directory: per chunk id keep the highest version whose
//! `.dat` exists, repair its `.meta` (rename one left at another version by an
//! interrupted bump, or recompute CRCs if missing or inconsistent), delete lower
//! versions and stray temp files. Quarantined `*.corrupt` files are left for inspection.

use crate::error::{IoContext, Result};
use crate::meta::{self, Header};
use crate::store::crcs_of_file;
use ferrofs_proto::ids::chunk_name;
use ferrofs_proto::{ChunkId, Version};
use std::collections::BTreeMap;
use std::path::Path;
use tracing::{debug, info, warn};

/// One replica found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: ChunkId,
    pub version: Version,
    pub length: u64,
    pub sha: Option<[u8; 32]>,
}

#[derive(Default)]
struct Files {
    dat: Vec<Version>,
    meta: Vec<Version>,
}

/// Parse `{id:016x}_{version}.{dat|meta}`.
fn parse_name(name: &str) -> Option<(ChunkId, Version, bool)> {
    let (stem, is_dat) = if let Some(s) = name.strip_suffix(".dat") {
        (s, true)
    } else {
        (name.strip_suffix(".meta")?, false)
    };
    let (id, v) = stem.split_once('_')?;
    if id.len() != 16 || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((u64::from_str_radix(id, 16).ok()?, v.parse().ok()?, is_dat))
}

fn remove(p: &Path) {
    if let Err(e) = std::fs::remove_file(p) {
        warn!(path = %p.display(), error = %e, "could not delete stale file");
    }
}

pub fn scan(dir: &Path) -> Result<Vec<Found>> {
    let mut groups: BTreeMap<ChunkId, Files> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))?;
    for e in entries {
        let e = e.ctx(|| format!("list {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            info!(file = %name, "deleting stray temp file");
            remove(&e.path());
        } else if name.ends_with(".corrupt") {
            continue;
        } else if let Some((id, v, is_dat)) = parse_name(&name) {
            let g = groups.entry(id).or_default();
            if is_dat { &mut g.dat } else { &mut g.meta }.push(v);
        } else {
            warn!(file = %name, "ignoring unknown file in chunk directory");
        }
    }
    let path =
        |id: ChunkId, v: Version, ext: &str| dir.join(format!("{}_{v}.{ext}", chunk_name(id)));
    let mut found = Vec::with_capacity(groups.len());
    for (id, mut g) in groups {
        g.meta.sort_unstable();
        let Some(&best) = g.dat.iter().max() else {
            for v in g.meta {
                remove(&path(id, v, "meta"));
            }
            continue;
        };
        for &v in g.dat.iter().filter(|&&v| v != best) {
            info!(chunk = %chunk_name(id), version = v, "deleting older version");
            remove(&path(id, v, "dat"));
        }
        if !g.meta.contains(&best)
            && let Some(&other) = g.meta.last()
        {
            warn!(chunk = %chunk_name(id), from = other, to = best, "repairing meta version");
            std::fs::rename(path(id, other, "meta"), path(id, best, "meta"))
                .ctx(|| format!("rename meta of {}", chunk_name(id)))?;
            g.meta.retain(|&v| v != other);
            g.meta.push(best);
        }
        for &v in g.meta.iter().filter(|&&v| v != best) {
            remove(&path(id, v, "meta"));
        }
        let (dp, mp) = (path(id, best, "dat"), path(id, best, "meta"));
        let dat_len = std::fs::metadata(&dp)
            .ctx(|| format!("stat {}", dp.display()))?
            .len();
        let header = std::fs::read(&mp).ok().and_then(|b| {
            let h = Header::decode(&b).ok()?;
            (h.length == dat_len && b.len() as u64 == meta::meta_len(h.length)).then_some(h)
        });
        let (length, sha) = match header {
            Some(h) => (h.length, h.sha),
            None => {
                warn!(chunk = %chunk_name(id), version = best, "meta missing or inconsistent: recomputing checksums");
                let (length, crcs) = crcs_of_file(&dp)?;
                let mut bytes = Header {
                    flags: 0,
                    length,
                    sha: None,
                }
                .encode()
                .to_vec();
                bytes.extend_from_slice(&meta::encode_crcs(&crcs));
                std::fs::write(&mp, bytes).ctx(|| format!("write {}", mp.display()))?;
                (length, None)
            }
        };
        found.push(Found {
            id,
            version: best,
            length,
            sha,
        });
    }
    debug!(dir = %dir.display(), chunks = found.len(), "scanned chunk directory");
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("000000000000000a_3.dat"), Some((10, 3, true)));
        assert_eq!(parse_name("000000000000000a_3.meta"), Some((10, 3, false)));
        assert_eq!(parse_name("00000000000000a_3.dat"), None);
        assert_eq!(parse_name("000000000000000a_.dat"), None);
        assert_eq!(parse_name("000000000000000a_3.dat.corrupt"), None);
        assert_eq!(parse_name("../../etc_1.dat"), None);
    }
}
