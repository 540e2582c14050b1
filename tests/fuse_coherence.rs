//! Bytes read through one mount are always the bytes last written through it, whatever
//! the mount's block cache and the kernel's page cache hold: each test replays a
//! sequence fsx found (a short cached block beside later blocks, truncates and extends
//! beside mapped and cached pages, ...) on a real mount, and checks every byte.
//! `drop_pages` makes the kernel forget its clean pages of a file where a test needs the
//! next read to reach the mount.

mod common;

use common::*;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

const KIB: usize = 1 << 10;

/// Drop the kernel's clean cached pages of `f`, so the next read asks the mount.
fn drop_pages(f: &File) {
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(r, 0, "posix_fadvise(DONTNEED)");
}

fn open_rw(p: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(p)
        .expect("open")
}

/// `len` bytes at `off`, read with one pread.
fn pread(f: &File, off: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = f.read_at(&mut buf, off as u64).expect("pread");
    buf.truncate(n);
    buf
}

/// Compare a read with the model, naming the first wrong byte.
fn check(what: &str, got: &[u8], model: &[u8], off: usize) {
    assert_eq!(got.len(), model.len(), "{what}: read length");
    if let Some(i) = got.iter().zip(model).position(|(a, b)| a != b) {
        panic!(
            "{what}: byte {:#x} is {:#04x}, want {:#04x}",
            off + i,
            got[i],
            model[i]
        );
    }
}

/// A block the mount cached while it was the file's short last block stays right once
/// the file grows past it: a read spanning it and a later block gets the later block's
/// bytes at their own offsets, not shifted down to the short block's end (fsx seeds 1,
/// 2 and 3: stale-looking bytes inside a hole).
#[tokio::test(flavor = "multi_thread")]
async fn short_cached_block_followed_by_a_cached_block() {
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let mnt = cluster.mount().await;
    let p = mnt.join("f");
    let f = open_rw(&p);
    let mut model = vec![0xaau8; 100 * KIB];

    phase!("100 KiB file: its block 1 (64-128 KiB) is short; cache it");
    f.write_all_at(&model, 0).unwrap();
    drop_pages(&f);
    check(
        "first read",
        &pread(&f, 64 * KIB, 36 * KIB),
        &model[64 * KIB..],
        64 * KIB,
    );

    phase!("write into block 2 past a hole; cache block 2");
    let tail = vec![0xccu8; 4 * KIB];
    f.write_all_at(&tail, 130 * KIB as u64).unwrap();
    model.resize(130 * KIB, 0);
    model.extend_from_slice(&tail);
    drop_pages(&f);
    check(
        "block 2",
        &pread(&f, 128 * KIB, 6 * KIB),
        &model[128 * KIB..],
        128 * KIB,
    );

    phase!("one read across the short block and block 2");
    drop_pages(&f);
    check(
        "across",
        &pread(&f, 96 * KIB, 38 * KIB),
        &model[96 * KIB..],
        96 * KIB,
    );
}
