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

/// Bytes appended through an O_APPEND handle (FOPEN_DIRECT_IO: the kernel's page cache
/// is bypassed) are seen through another handle of the same file whose pages are
/// cached, and through a shared mapping of it: the page holding the old end of file
/// is not served with the zeros it held past that end.
#[tokio::test(flavor = "multi_thread")]
async fn append_beside_cached_and_mapped_pages() {
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let mnt = cluster.mount().await;
    let p = mnt.join("f");
    let f = open_rw(&p);
    let mut model = vec![0x11u8; 6000];
    f.write_all_at(&model, 0).unwrap();
    f.sync_all().unwrap();

    phase!("cache the pages (read and map), then append through another handle");
    check("before", &pread(&f, 0, 8192), &model, 0);
    let len = 3 * 4096;
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "mmap");
    let mapped = |n: usize| unsafe { std::slice::from_raw_parts(map as *const u8, n).to_vec() };
    check("mapped before", &mapped(model.len()), &model, 0);
    let tail = vec![0x22u8; 3000];
    {
        use std::io::Write;
        let mut a = OpenOptions::new().append(true).open(&p).unwrap();
        a.write_all(&tail).unwrap();
    }
    model.extend_from_slice(&tail);

    phase!("read back through the first handle and the mapping");
    check("pread after append", &pread(&f, 0, 16384), &model, 0);
    check("mapped after append", &mapped(model.len()), &model, 0);
    unsafe { libc::munmap(map, len) };
}

/// Close-to-open across mounts while the file stays open here: another mount
/// overwrites the file in place (same size, new mtime) and closes it; this mount, which
/// has the old bytes in the kernel's page cache through a descriptor it keeps open,
/// stats the file (learning the new mtime) and then opens it again: the new
/// descriptor reads the new bytes (the open must not keep the page cache just because
/// a stat already reported the new mtime).
#[tokio::test(flavor = "multi_thread")]
async fn reopen_after_another_mounts_overwrite_sees_it() {
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let (a, b) = (cluster.mount().await, cluster.mount().await);
    let old = vec![0x33u8; 10_000];
    let new = vec![0x44u8; 10_000];
    std::fs::write(a.join("f"), &old).unwrap();

    phase!("mount A keeps the file open with its pages cached");
    let held = open_rw(&a.join("f"));
    check("A first read", &pread(&held, 0, 16384), &old, 0);
    let mtime0 = held.metadata().unwrap().modified().unwrap();

    phase!("mount B overwrites it in place and closes");
    std::fs::write(b.join("f"), &new).unwrap();

    phase!("A stats the file until it reports B's mtime");
    wait_for(
        "A's stat shows B's mtime",
        std::time::Duration::from_secs(10),
        || {
            let m = std::fs::metadata(a.join("f")).unwrap().modified().unwrap();
            async move { m != mtime0 }
        },
    )
    .await;

    phase!("a new descriptor on A reads B's bytes");
    let fresh = File::open(a.join("f")).unwrap();
    check("A after reopen", &pread(&fresh, 0, 16384), &new, 0);
}

/// A file opened O_RDWR|O_APPEND maps shared, as on a local file system (the mount
/// serves O_APPEND handles with FOPEN_DIRECT_IO, which the kernel maps only with
/// FUSE_DIRECT_IO_ALLOW_MMAP); bytes written through the mapping land at their own
/// offsets, not at the end of the file like the handle's write(2)s, even when the
/// kernel writes the mapped pages back through the append handle.
#[tokio::test(flavor = "multi_thread")]
async fn shared_mapping_of_an_append_handle() {
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let mnt = cluster.mount().await;
    let p = mnt.join("f");
    let mut model = vec![b'a'; 8192];
    std::fs::write(&p, &model).unwrap();

    phase!("map an O_RDWR|O_APPEND descriptor shared, write through the map");
    let f = OpenOptions::new().read(true).append(true).open(&p).unwrap();
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(
        map,
        libc::MAP_FAILED,
        "shared mmap of an append descriptor: {}",
        std::io::Error::last_os_error()
    );
    unsafe {
        std::ptr::write_bytes((map as *mut u8).add(100), b'm', 100);
        assert_eq!(libc::msync(map, 8192, libc::MS_SYNC), 0, "msync");
    }
    model[100..200].fill(b'm');

    phase!("append through the descriptor; read back through another and the map");
    {
        use std::io::Write;
        (&f).write_all(&[b'z'; 50]).unwrap();
    }
    model.extend_from_slice(&[b'z'; 50]);
    let mapped = unsafe { std::slice::from_raw_parts(map as *const u8, 8192).to_vec() };
    check("mapped", &mapped, &model[..8192], 0);
    unsafe { libc::munmap(map, 8192) };
    drop(f);
    check("reopened", &std::fs::read(&p).unwrap(), &model, 0);
}
