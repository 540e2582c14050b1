//! Unit tests of the chunk store against a temp dir: every mutation is checked by
//! comparing the meta file's CRCs with CRCs recomputed from the `.dat` from scratch.

use crate::checksum::{BLOCK, CrcBuilder, ShaBuilder};
use crate::error::ChunkserverError as E;
use crate::meta::{self, HEADER_LEN, Header};
use crate::store::Store;
use std::path::Path;

const B: u64 = BLOCK as u64;

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(13) ^ seed).collect()
}

/// Meta CRCs and header length agree with the data file.
fn assert_consistent(s: &Store, id: u64, v: u64) -> Vec<u8> {
    let dat = std::fs::read(s.dat_path(id, v)).unwrap();
    let m = std::fs::read(s.meta_path(id, v)).unwrap();
    let h = Header::decode(&m).unwrap();
    assert_eq!(h.length, dat.len() as u64);
    let mut b = CrcBuilder::default();
    b.update(&dat);
    assert_eq!(meta::decode_crcs(&m[HEADER_LEN as usize..]), b.finish());
    dat
}

fn open(dir: &Path) -> Store {
    Store::open(dir).unwrap()
}

#[test]
fn write_read_extend_truncate() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    assert!(s.create(1, 5).unwrap());
    assert!(!s.create(1, 5).unwrap());
    assert!(matches!(s.create(1, 6), Err(E::AlreadyExists { .. })));
    let c = s.get(1).unwrap();
    let mut model = Vec::new();
    let apply = |off: u64, data: &[u8], model: &mut Vec<u8>| {
        s.write(&c, 5, off, data).unwrap();
        let end = off as usize + data.len();
        if model.len() < end {
            model.resize(end, 0);
        }
        model[off as usize..end].copy_from_slice(data);
        assert_eq!(assert_consistent(&s, 1, 5), *model);
    };
    apply(0, &pattern(100, 1), &mut model);
    apply(50, &pattern(B as usize, 2), &mut model); // straddles, extends
    apply(3 * B + 17, &pattern(10, 3), &mut model); // gap of zeros
    apply(B - 3, &pattern(2 * B as usize + 6, 4), &mut model); // RMW at both edges
    apply(0, &[], &mut model);
    assert_eq!(s.read(&c, 5, 0, u64::MAX).unwrap(), model);
    assert_eq!(
        s.read(&c, 5, B - 1, 3).unwrap(),
        model[B as usize - 1..B as usize + 2]
    );
    assert_eq!(s.read(&c, 5, 10 * B, 3).unwrap(), Vec::<u8>::new());
    assert!(matches!(s.read(&c, 4, 0, 1), Err(E::StaleVersion { .. })));

    s.truncate(&c, 5, B + 5).unwrap();
    model.truncate(B as usize + 5);
    assert_eq!(assert_consistent(&s, 1, 5), model);
    s.truncate(&c, 5, 2 * B + 9).unwrap();
    model.resize(2 * B as usize + 9, 0);
    assert_eq!(assert_consistent(&s, 1, 5), model);
    s.truncate(&c, 5, 2 * B).unwrap();
    model.truncate(2 * B as usize);
    assert_eq!(assert_consistent(&s, 1, 5), model);
    assert_eq!(s.read(&c, 5, 0, u64::MAX).unwrap(), model);
    s.sync(&c, 5).unwrap();
}

#[test]
fn bump_delete_and_reopen() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    let log = s.changes.subscribe();
    s.create(7, 1).unwrap();
    let c = s.get(7).unwrap();
    s.write(&c, 1, 0, &pattern(3 * BLOCK + 1, 9)).unwrap();
    s.bump(&c, 1, 2).unwrap();
    s.bump(&c, 1, 2).unwrap(); // already there: ok
    assert!(matches!(s.bump(&c, 5, 6), Err(E::StaleVersion { .. })));
    assert!(s.dat_path(7, 2).exists() && !s.dat_path(7, 1).exists());
    s.create(8, 1).unwrap();
    assert!(!s.delete(8, Some(0)).unwrap());
    assert!(s.delete(8, Some(1)).unwrap());
    assert!(s.get(8).is_err());
    let d = log.take();
    assert!(d.removed.contains(&8) && d.added.get(&7).unwrap().version == 2);
    let (sha, _) = s.sha256(&c, 2).unwrap();
    drop((s, c));

    // Leave debris an interrupted bump / copy would: stale lower version, meta at the old
    // version, a temp file.
    // (in the flat layout of older versions, which open moves into `chunks/07`)
    let (chunks, sub) = (t.path().join("chunks"), t.path().join("chunks/07"));
    std::fs::write(chunks.join("0000000000000007_1.dat"), b"old").unwrap();
    std::fs::rename(
        sub.join("0000000000000007_2.meta"),
        chunks.join("0000000000000007_1.meta"),
    )
    .unwrap();
    std::fs::write(chunks.join("0000000000000007_3.1234abcd.tmp"), b"x").unwrap();
    let s = open(t.path());
    let r = s.report();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].chunk_id, r[0].version, r[0].length),
        (7, 2, 3 * B + 1)
    );
    assert!(!sub.join("0000000000000007_1.dat").exists());
    assert!(!sub.join("0000000000000007_3.1234abcd.tmp").exists());
    assert!(!chunks.join("0000000000000007_1.dat").exists());
    assert_consistent(&s, 7, 2);
    let c = s.get(7).unwrap();
    assert_eq!(s.sha256(&c, 2).unwrap().0, sha); // cached sha survived
    drop((s, c));

    // Missing meta: recomputed from the data.
    std::fs::remove_file(sub.join("0000000000000007_2.meta")).unwrap();
    let s = open(t.path());
    assert_consistent(&s, 7, 2);
    let c = s.get(7).unwrap();
    assert_eq!(
        s.read(&c, 2, 0, u64::MAX).unwrap(),
        pattern(3 * BLOCK + 1, 9)
    );
}

#[test]
fn corruption_is_detected_and_quarantined() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    let log = s.changes.subscribe();
    s.create(3, 1).unwrap();
    let c = s.get(3).unwrap();
    s.write(&c, 1, 0, &pattern(2 * BLOCK, 5)).unwrap();
    let p = s.dat_path(3, 1);
    let mut dat = std::fs::read(&p).unwrap();
    dat[BLOCK + 10] ^= 0xff;
    std::fs::write(&p, &dat).unwrap();
    // The untouched block still reads; the flipped one fails.
    assert!(s.read(&c, 1, 0, B).is_ok());
    match s.read(&c, 1, B + 5, 1) {
        Err(E::Corrupt { block, .. }) => assert_eq!(block, 1),
        other => panic!("expected corrupt, got {other:?}"),
    }
    assert!(matches!(s.sha256(&c, 1), Err(E::Corrupt { .. })));
    s.quarantine(3, 1).unwrap();
    assert!(s.get(3).is_err());
    assert!(matches!(s.read(&c, 1, 0, 1), Err(E::NotFound(3))));
    assert!(log.take().corrupt.contains(&3));
    let mut q = p.into_os_string();
    q.push(".corrupt");
    assert!(Path::new(&q).exists());
    drop(s);
    assert!(open(t.path()).report().is_empty());
}

#[test]
fn sha_cache_invalidated_by_write_and_install() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    s.create(4, 1).unwrap();
    let c = s.get(4).unwrap();
    s.write(&c, 1, 0, b"hello").unwrap();
    let sha = |d: &[u8]| {
        let mut b = ShaBuilder::default();
        b.update(d);
        b.finish()
    };
    assert_eq!(s.sha256(&c, 1).unwrap(), (sha(b"hello"), 5));
    s.write(&c, 1, 5, b" world").unwrap();
    assert_eq!(s.sha256(&c, 1).unwrap().0, sha(b"hello world"));

    // Install a newer version from a temp file: replaces the old one.
    let data = pattern(BLOCK + 3, 7);
    let tmp = s.temp_path(4, 3);
    std::fs::write(&tmp, &data).unwrap();
    let mut crcs = CrcBuilder::default();
    crcs.update(&data);
    s.take_dirty();
    s.install(
        4,
        3,
        &tmp,
        data.len() as u64,
        &crcs.finish(),
        Some(sha(&data)),
    )
    .unwrap();
    assert!(!s.dat_path(4, 1).exists());
    assert_consistent(&s, 4, 3);
    assert_eq!(s.read(&c, 3, 0, u64::MAX).unwrap(), data);
    // Not fsynced yet: left to the write-back worker, as a write closed without fsync.
    assert_eq!(s.take_dirty(), vec![4]);
    s.sync(&c, 3).unwrap();
    // Installed without a known SHA-256 (the sender had none): computed when asked.
    let data = pattern(2 * BLOCK, 9);
    let tmp = s.temp_path(4, 5);
    std::fs::write(&tmp, &data).unwrap();
    let mut crcs = CrcBuilder::default();
    crcs.update(&data);
    s.install(4, 5, &tmp, data.len() as u64, &crcs.finish(), None)
        .unwrap();
    assert_consistent(&s, 4, 5);
    assert_eq!(s.sha256(&c, 5).unwrap(), (sha(&data), data.len() as u64));
    let tmp = s.temp_path(4, 2);
    std::fs::write(&tmp, b"x").unwrap();
    assert!(matches!(
        s.install(4, 2, &tmp, 1, &[0], Some([0; 32])),
        Err(E::StaleVersion { .. })
    ));
}

/// The used-bytes sum follows every change of a replica's length: writes that extend
/// (and ones that do not), truncates both ways, installs (new and replacing), deletes,
/// quarantines, and a reopen.
#[test]
fn used_bytes_follows_every_length_change() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    let total = |s: &Store| s.report().iter().map(|r| r.length).sum::<u64>();
    s.create(1, 1).unwrap();
    s.create(2, 1).unwrap();
    let (c1, c2) = (s.get(1).unwrap(), s.get(2).unwrap());
    s.write(&c1, 1, 0, &pattern(1000, 1)).unwrap();
    s.write(&c1, 1, 10, &pattern(10, 2)).unwrap(); // inside: no growth
    s.write(&c2, 1, B, &pattern(5, 3)).unwrap(); // past the end: a gap of zeros
    assert_eq!(s.used_bytes(), 1000 + B + 5);
    s.truncate(&c2, 1, 7).unwrap();
    assert_eq!(s.used_bytes(), 1007);
    s.truncate(&c1, 1, 3 * B).unwrap();
    assert_eq!(s.used_bytes(), 3 * B + 7);
    let data = pattern(BLOCK + 3, 7);
    let mut crcs = CrcBuilder::default();
    crcs.update(&data);
    let crcs = crcs.finish();
    let sha = {
        let mut b = ShaBuilder::default();
        b.update(&data);
        b.finish()
    };
    for (id, v) in [(1, 2), (3, 1)] {
        let tmp = s.temp_path(id, v);
        std::fs::write(&tmp, &data).unwrap();
        s.install(id, v, &tmp, data.len() as u64, &crcs, Some(sha))
            .unwrap();
    }
    assert_eq!(s.used_bytes(), 2 * (B + 3) + 7);
    assert_eq!(s.used_bytes(), total(&s));
    assert!(s.delete(2, None).unwrap());
    s.quarantine(3, 1).unwrap();
    assert_eq!(s.used_bytes(), B + 3);
    assert_eq!(s.used_bytes(), total(&s));
    drop(s);
    assert_eq!(open(t.path()).used_bytes(), B + 3);
}

#[test]
fn sync_all_covers_replicas_and_their_directories() {
    let t = tempfile::tempdir().unwrap();
    let s = open(t.path());
    for id in [1, 2, 300] {
        assert!(s.create(id, 1).unwrap());
        s.write(&s.get(id).unwrap(), 1, 0, b"closed, not fsynced")
            .unwrap();
    }
    let mut dirty = s.take_dirty();
    dirty.sort();
    assert_eq!(dirty, vec![1, 2, 300]);
    assert!(!s.dir_synced(1) && !s.dir_synced(300));
    s.sync_all().unwrap();
    assert!(s.dir_synced(1) && s.dir_synced(2) && s.dir_synced(300));
    // A create after the pass leaves its directory to the next one.
    assert!(s.create(4, 1).unwrap());
    assert!(!s.dir_synced(4));
}
