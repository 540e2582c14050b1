//! A small read through the mount hands the rest of its verified 64 KiB block to the
//! kernel's page cache (`fuse/src/pagefill.rs`), and never overwrites pages of a file
//! a handle of the mount may write.
//!
//! Residency is read with mincore(2) on a read-only mapping, which looks at the page
//! cache without faulting pages in. Each check reads through a second mount, whose
//! page cache starts empty.

mod common;

use common::*;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const KIB: usize = 1 << 10;
const BLOCK: usize = 64 * KIB;
const PAGE: usize = 4 * KIB;

/// Which pages of the file's first `len` bytes the kernel holds.
fn resident(f: &File, len: usize) -> Vec<bool> {
    // SAFETY: a private read-only mapping of an open file, unmapped before returning;
    // mincore writes one byte per page into `vec`, which has room for them all.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let mut vec = vec![0u8; len.div_ceil(PAGE)];
        let r = libc::mincore(p, len, vec.as_mut_ptr());
        let err = std::io::Error::last_os_error();
        libc::munmap(p, len);
        assert_eq!(r, 0, "mincore: {err}");
        vec.into_iter().map(|b| b & 1 == 1).collect()
    }
}

fn pages(r: &[bool], range: std::ops::Range<usize>) -> Vec<usize> {
    range.filter(|&i| r[i]).collect()
}

/// Wait (10 s at most) until every page of `range` is cached.
async fn wait_resident(f: &File, len: usize, range: std::ops::Range<usize>, reason: &str) {
    let want: Vec<usize> = range.clone().collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = resident(f, len);
        if pages(&r, range.clone()) == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not within 10 s: {reason}; cached pages: {:?}",
            pages(&r, 0..r.len())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Three chunkservers and two mounts: files are written through the first and read
/// through the second, whose page cache starts empty.
async fn two_mounts() -> (TestCluster, PathBuf, PathBuf) {
    let mut c = TestCluster::builder().chunkservers(3).start().await;
    let (m1, m2) = (c.mount().await, c.mount().await);
    (c, m1, m2)
}

/// Wait until every fill queued so far has been stored: fills are stored in order, so
/// once the fill of a small read of a new file `name` made now is in, so are they.
async fn fills_drained(m1: &Path, m2: &Path, name: &str) {
    fs::write(m1.join(name), random_bytes(2 * BLOCK, 99)).unwrap();
    let f = File::open(m2.join(name)).unwrap();
    let mut buf = vec![0u8; PAGE];
    f.read_exact_at(&mut buf, (2 * PAGE) as u64).unwrap();
    wait_resident(&f, 2 * BLOCK, 0..BLOCK / PAGE, "a later fill is stored").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_read_fills_its_block_into_the_page_cache() {
    let (_c, m1, m2) = two_mounts().await;
    let len = 4 * BLOCK + 5000; // a short last block
    let data = random_bytes(len, 7);
    fs::write(m1.join("f"), &data).unwrap();

    let f = File::open(m2.join("f")).unwrap();
    assert!(
        pages(&resident(&f, len), 0..len.div_ceil(PAGE)).is_empty(),
        "a new mount holds none of the file"
    );
    let mut buf = vec![0u8; PAGE];
    f.read_exact_at(&mut buf, (2 * PAGE) as u64).unwrap();
    assert_eq!(buf, data[2 * PAGE..3 * PAGE]);
    wait_resident(&f, len, 0..BLOCK / PAGE, "the read's whole block is cached").await;
    let r = resident(&f, len);
    assert!(
        pages(&r, BLOCK / PAGE..len.div_ceil(PAGE)).is_empty(),
        "only the block read is filled: {:?}",
        pages(&r, 0..r.len())
    );

    // The last, short block: filled to the end of the file.
    f.read_exact_at(&mut buf[..100], (4 * BLOCK + 10) as u64)
        .unwrap();
    assert_eq!(buf[..100], data[4 * BLOCK + 10..4 * BLOCK + 110]);
    let last = 4 * BLOCK / PAGE..len.div_ceil(PAGE);
    wait_resident(&f, len, last, "the short last block is cached").await;

    // What the kernel now serves without asking is the file's bytes.
    let mut all = vec![0u8; BLOCK];
    f.read_exact_at(&mut all, 0).unwrap();
    assert_eq!(all, data[..BLOCK], "block 0 from the page cache");
    let mut tail = vec![0u8; len - 4 * BLOCK];
    f.read_exact_at(&mut tail, (4 * BLOCK) as u64).unwrap();
    assert_eq!(
        tail,
        data[4 * BLOCK..],
        "the last block from the page cache"
    );
    assert_eq!(fs::metadata(m2.join("f")).unwrap().len(), len as u64);
}

/// A handle that may write keeps the file out of page fills: a fill of bytes read
/// from the chunkservers would overwrite the handle's dirty pages.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_open_for_writing_is_not_filled() {
    let (_c, m1, m2) = two_mounts().await;
    let data = random_bytes(2 * BLOCK, 8);
    fs::write(m1.join("w"), &data).unwrap();

    let w_ro = File::open(m2.join("w")).unwrap();
    let w_rw = OpenOptions::new().write(true).open(m2.join("w")).unwrap();
    // Dirty in the kernel's cache (the mount caches writes): not on any chunkserver.
    let mine = vec![0xa5u8; PAGE];
    w_rw.write_all_at(&mine, (5 * PAGE) as u64).unwrap();
    let mut buf = vec![0u8; PAGE];
    w_ro.read_exact_at(&mut buf, (2 * PAGE) as u64).unwrap();
    assert_eq!(buf, data[2 * PAGE..3 * PAGE]);

    // A fill for `w`, had one been queued, has been stored by now.
    fills_drained(&m1, &m2, "r").await;
    let got = resident(&w_ro, 2 * BLOCK);
    assert_eq!(
        pages(&got, 0..BLOCK / PAGE),
        vec![2, 5],
        "only the page read and the page written are cached"
    );
    w_ro.read_exact_at(&mut buf, (5 * PAGE) as u64).unwrap();
    assert_eq!(buf, mine, "the handle's unwritten page is intact");
    drop(w_rw);
    let mut want = data.clone();
    want[5 * PAGE..6 * PAGE].copy_from_slice(&mine);
    assert_eq!(
        fs::read(m1.join("w")).unwrap(),
        want,
        "the write reached the file"
    );
}

/// Another client's truncate leaves this mount's idea of the file's length behind for
/// a while; a fill must not give the kernel pages past the length it was told.
#[tokio::test(flavor = "multi_thread")]
async fn a_fill_never_lengthens_a_file_another_client_truncated() {
    let (_c, m1, m2) = two_mounts().await;
    let data = random_bytes(4 * BLOCK, 9);
    fs::write(m1.join("t"), &data).unwrap();
    let h = File::open(m2.join("t")).unwrap();
    let mut buf = vec![0u8; PAGE];
    // A read far from the one below, so that one is small and random.
    h.read_exact_at(&mut buf, (3 * BLOCK + 2 * PAGE) as u64)
        .unwrap();

    let short = BLOCK + 100;
    OpenOptions::new()
        .write(true)
        .open(m1.join("t"))
        .unwrap()
        .set_len(short as u64)
        .unwrap();
    wait_for("mount 2 sees the truncate", Duration::from_secs(10), || {
        let len = fs::metadata(m2.join("t")).map(|m| m.len()).unwrap_or(0);
        async move { len == short as u64 }
    })
    .await;
    // A small read just inside the new end: its block runs on past it.
    let n = h.read_at(&mut buf, BLOCK as u64).unwrap();
    assert_eq!(n, short - BLOCK, "the read stops at the new end");
    assert!(
        buf[..n] == data[BLOCK..short],
        "the bytes up to the new end"
    );
    // The fill of that read, had it gone past the new end, has been stored by now.
    fills_drained(&m1, &m2, "other").await;
    // The kernel reads from its own pages up to the length it has (it refreshes the
    // attributes only for a read that ends past that length).
    assert_eq!(
        h.read_at(&mut buf[..1], short as u64).unwrap(),
        0,
        "end of file"
    );
    assert_eq!(
        h.metadata().unwrap().len(),
        short as u64,
        "the length the kernel has"
    );
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut File::open(m2.join("t")).unwrap(), &mut all).unwrap();
    assert_eq!(all, data[..short], "the file after the truncate");
}
