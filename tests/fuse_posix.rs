//! POSIX behaviour through a real `ferrofs mount`: data round trips, overwrites,
//! holes, truncate, append, exclusive create, directories, rename flags, links,
//! special files, ownership and times, statfs, large listings, permissions of a second
//! user, two mounts, and fsync durability across a master crash.

mod common;
use common::*;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const CHUNK: usize = 1 << 20;

/// The harness kills every mount process of the test binary when any cluster drops,
/// so tests that mount run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .chunkservers(3)
        .chunk_size(CHUNK as u64)
        .start()
        .await
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// Files of sizes 0, 1, chunk-1, chunk, chunk+1 and 5 MiB read back identical.
#[tokio::test(flavor = "multi_thread")]
async fn round_trip_sizes() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    for (i, len) in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 << 20]
        .into_iter()
        .enumerate()
    {
        phase!("size {len}");
        let data = random_bytes(len, i as u64);
        let p = mnt.join(format!("f{i}"));
        fs::write(&p, &data).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().len(), len as u64);
        let back = fs::read(&p).unwrap();
        assert_eq!(sha256(&back), sha256(&data), "size {len}");
    }
    // And through the client library: the size is committed at the master.
    let a = c.client().resolve("/f5").await.unwrap();
    assert_eq!(a.size, 5 << 20);
}

fn cstr(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

fn renameat2(from: &Path, to: &Path, flags: u32) -> std::io::Result<()> {
    let (a, b) = (cstr(from), cstr(to));
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Overwrites in the middle (across a chunk boundary), holes, and truncate down and up.
#[tokio::test(flavor = "multi_thread")]
async fn overwrite_holes_truncate() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let p = mnt.join("f");
    let mut data = random_bytes(3 * CHUNK, 1);
    fs::write(&p, &data).unwrap();

    phase!("overwrite across the first chunk boundary");
    let patch = random_bytes(100, 2);
    let mut f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.seek(SeekFrom::Start(CHUNK as u64 - 50)).unwrap();
    f.write_all(&patch).unwrap();
    drop(f);
    data[CHUNK - 50..CHUNK + 50].copy_from_slice(&patch);
    assert_eq!(sha256(&fs::read(&p).unwrap()), sha256(&data));

    phase!("holes read as zeros");
    let h = mnt.join("holes");
    let mut f = fs::File::create(&h).unwrap();
    f.seek(SeekFrom::Start(10 * CHUNK as u64 + 7)).unwrap();
    f.write_all(b"tail").unwrap();
    f.seek(SeekFrom::Start(100)).unwrap();
    f.write_all(b"head").unwrap();
    drop(f);
    let back = fs::read(&h).unwrap();
    assert_eq!(back.len(), 10 * CHUNK + 11);
    assert_eq!(&back[100..104], b"head");
    assert_eq!(&back[10 * CHUNK + 7..], b"tail");
    assert!(back[..100].iter().all(|&b| b == 0));
    assert!(back[104..10 * CHUNK + 7].iter().all(|&b| b == 0));

    phase!("truncate down into the middle of a chunk, then up");
    let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(CHUNK as u64 + 12345).unwrap();
    drop(f);
    assert_eq!(fs::read(&p).unwrap(), data[..CHUNK + 12345]);
    let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(4 * CHUNK as u64).unwrap();
    drop(f);
    let back = fs::read(&p).unwrap();
    assert_eq!(back.len(), 4 * CHUNK);
    assert_eq!(back[..CHUNK + 12345], data[..CHUNK + 12345]);
    assert!(
        back[CHUNK + 12345..].iter().all(|&b| b == 0),
        "truncated bytes come back as zeros"
    );

    phase!("O_TRUNC empties the file");
    fs::write(&p, b"short").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"short");

    phase!("write then read on one descriptor sees the write");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    f.seek(SeekFrom::Start(2)).unwrap();
    f.write_all(b"OR").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "shORt");
}

/// O_APPEND writes land at the end even from two descriptors; O_EXCL on an existing
/// name fails with EEXIST.
#[tokio::test(flavor = "multi_thread")]
async fn append_and_exclusive_create() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let p = mnt.join("log");
    fs::write(&p, b"start\n").unwrap();
    let mut a = fs::OpenOptions::new().append(true).open(&p).unwrap();
    let mut b = fs::OpenOptions::new().append(true).open(&p).unwrap();
    a.write_all(b"a1\n").unwrap();
    b.write_all(b"b1\n").unwrap();
    a.write_all(b"a2\n").unwrap();
    drop((a, b));
    assert_eq!(fs::read_to_string(&p).unwrap(), "start\na1\nb1\na2\n");

    let e = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .unwrap_err();
    assert_eq!(errno_of(&e), libc::EEXIST);
    let q = mnt.join("new");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&q)
        .unwrap();
    assert_eq!(fs::metadata(&q).unwrap().len(), 0);
}

/// mkdir/rmdir: a non-empty directory is ENOTEMPTY, unlink of a directory EISDIR,
/// rmdir of a file ENOTDIR, and directory link counts follow subdirectories.
#[tokio::test(flavor = "multi_thread")]
async fn directories() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let d = mnt.join("d");
    fs::create_dir(&d).unwrap();
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(d.join("sub/file"), b"x").unwrap();
    assert_eq!(
        errno_of(&fs::remove_dir(d.join("sub")).unwrap_err()),
        libc::ENOTEMPTY
    );
    assert_eq!(
        errno_of(&fs::remove_file(d.join("sub")).unwrap_err()),
        libc::EISDIR
    );
    assert_eq!(
        errno_of(&fs::remove_dir(d.join("sub/file")).unwrap_err()),
        libc::ENOTDIR
    );
    assert_eq!(errno_of(&fs::create_dir(&d).unwrap_err()), libc::EEXIST);
    assert_eq!(fs::metadata(&d).unwrap().nlink(), 3);
    fs::remove_file(d.join("sub/file")).unwrap();
    fs::remove_dir(d.join("sub")).unwrap();
    assert_eq!(fs::metadata(&d).unwrap().nlink(), 2);
    let names: Vec<_> = fs::read_dir(&d).unwrap().collect();
    assert!(names.is_empty());
    fs::remove_dir(&d).unwrap();
    assert_eq!(errno_of(&fs::metadata(&d).unwrap_err()), libc::ENOENT);
}

/// An unlinked file stays readable (and writable) through an open descriptor and is
/// deleted at the master after the last close.
#[tokio::test(flavor = "multi_thread")]
async fn unlink_open_file() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let p = mnt.join("victim");
    let data = random_bytes(2 * CHUNK + 5, 3);
    fs::write(&p, &data).unwrap();
    let ino = fs::metadata(&p).unwrap().ino();
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    fs::remove_file(&p).unwrap();
    assert_eq!(errno_of(&fs::metadata(&p).unwrap_err()), libc::ENOENT);
    let mut back = vec![];
    f.read_to_end(&mut back).unwrap();
    assert_eq!(sha256(&back), sha256(&data));
    f.write_all(b"more").unwrap();
    f.sync_all().unwrap();
    let client = c.client();
    assert_eq!(
        client.getattr(ino).await.unwrap().nlink,
        0,
        "kept while open"
    );
    drop(f);
    let start = std::time::Instant::now();
    while client.getattr(ino).await.is_ok() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "inode not deleted after close"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// rename replaces a file and an empty directory; RENAME_NOREPLACE fails with EEXIST;
/// RENAME_EXCHANGE swaps; a replaced open file stays readable.
#[tokio::test(flavor = "multi_thread")]
async fn rename_flags() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let (a, b) = (mnt.join("a"), mnt.join("b"));
    fs::write(&a, b"A").unwrap();
    fs::write(&b, b"B").unwrap();
    let mut held = fs::File::open(&b).unwrap();
    fs::rename(&a, &b).unwrap();
    assert_eq!(fs::read(&b).unwrap(), b"A");
    assert!(!a.exists());
    let mut s = String::new();
    held.read_to_string(&mut s).unwrap();
    assert_eq!(s, "B", "replaced file readable through its descriptor");
    drop(held);

    phase!("replace an empty directory, not a full one");
    let (d1, d2, d3) = (mnt.join("d1"), mnt.join("d2"), mnt.join("d3"));
    fs::create_dir(&d1).unwrap();
    fs::write(d1.join("in"), b"1").unwrap();
    fs::create_dir(&d2).unwrap();
    fs::rename(&d1, &d2).unwrap();
    assert_eq!(fs::read(d2.join("in")).unwrap(), b"1");
    fs::create_dir(&d3).unwrap();
    assert_eq!(
        errno_of(&fs::rename(&d3, &d2).unwrap_err()),
        libc::ENOTEMPTY
    );
    assert_eq!(errno_of(&fs::rename(&b, &d3).unwrap_err()), libc::EISDIR);

    phase!("RENAME_NOREPLACE and RENAME_EXCHANGE");
    let c1 = mnt.join("c1");
    fs::write(&c1, b"C").unwrap();
    let e = renameat2(&c1, &b, libc::RENAME_NOREPLACE).unwrap_err();
    assert_eq!(errno_of(&e), libc::EEXIST);
    assert_eq!(fs::read(&b).unwrap(), b"A");
    renameat2(&c1, &b, libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(fs::read(&b).unwrap(), b"C");
    assert_eq!(fs::read(&c1).unwrap(), b"A");
    renameat2(&c1, &mnt.join("fresh"), libc::RENAME_NOREPLACE).unwrap();
    assert_eq!(fs::read(mnt.join("fresh")).unwrap(), b"A");

    phase!("move a directory to another parent");
    fs::create_dir(mnt.join("p")).unwrap();
    fs::rename(&d2, mnt.join("p/moved")).unwrap();
    assert_eq!(fs::read(mnt.join("p/moved/in")).unwrap(), b"1");
    assert_eq!(fs::read(mnt.join("p/moved/../moved/in")).unwrap(), b"1");
}

/// Hard links share data and count links; symlinks read back; FIFOs and sockets can
/// be created.
#[tokio::test(flavor = "multi_thread")]
async fn links_and_special_files() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let f = mnt.join("f");
    fs::write(&f, b"data").unwrap();
    fs::hard_link(&f, mnt.join("g")).unwrap();
    fs::hard_link(&f, mnt.join("h")).unwrap();
    assert_eq!(fs::metadata(&f).unwrap().nlink(), 3);
    assert_eq!(
        fs::metadata(mnt.join("g")).unwrap().ino(),
        fs::metadata(&f).unwrap().ino()
    );
    fs::remove_file(&f).unwrap();
    assert_eq!(fs::metadata(mnt.join("g")).unwrap().nlink(), 2);
    assert_eq!(fs::read(mnt.join("h")).unwrap(), b"data");

    phase!("symlink");
    std::os::unix::fs::symlink("g", mnt.join("s")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", mnt.join("dangling")).unwrap();
    assert_eq!(fs::read_link(mnt.join("s")).unwrap(), Path::new("g"));
    assert_eq!(
        fs::read_link(mnt.join("dangling")).unwrap(),
        Path::new("/nowhere/at/all")
    );
    assert!(
        fs::symlink_metadata(mnt.join("s"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(mnt.join("s")).unwrap(), b"data");

    phase!("fifo and socket");
    let fifo = cstr(&mnt.join("fifo"));
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o640) }, 0);
    let m = fs::metadata(mnt.join("fifo")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
    assert_eq!(m.permissions().mode() & 0o777, 0o640 & !umask());
    let sock = mnt.join("sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_socket(
        &fs::metadata(&sock).unwrap().file_type()
    ));
}

fn umask() -> u32 {
    let m = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(m) };
    m
}

/// chmod, chown, nanosecond times via utimensat (including UTIME_NOW and a time
/// before 1970), and statfs.
#[tokio::test(flavor = "multi_thread")]
async fn attributes_times_statfs() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let p = mnt.join("f");
    fs::write(&p, b"x").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o4751)).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o4751);
    std::os::unix::fs::chown(&p, Some(1234), Some(5678)).unwrap();
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));

    phase!("utimensat with nanoseconds and before the epoch");
    let ts = [
        libc::timespec {
            tv_sec: -1_000_000_000,
            tv_nsec: 123,
        },
        libc::timespec {
            tv_sec: 1_700_000_000,
            tv_nsec: 987_654_321,
        },
    ];
    let cp = cstr(&p);
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, cp.as_ptr(), ts.as_ptr(), 0) },
        0
    );
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.atime(), m.atime_nsec()), (-1_000_000_000, 123));
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_700_000_000, 987_654_321));
    let now = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
    ];
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, cp.as_ptr(), now.as_ptr(), 0) },
        0
    );
    let m = fs::metadata(&p).unwrap();
    assert_eq!(m.atime(), -1_000_000_000, "UTIME_OMIT keeps atime");
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (m.mtime() - wall).abs() < 60,
        "UTIME_NOW: {} vs {wall}",
        m.mtime()
    );

    phase!("times set on an open, written file survive its close");
    let mut f = fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.write_all(b"more data").unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 5);
    f.set_modified(t).unwrap();
    drop(f);
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_600_000_000, 5));

    phase!("statfs");
    let cm = cstr(&mnt);
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(cm.as_ptr(), &mut sv) }, 0);
    assert!(
        sv.f_blocks > 0 && sv.f_bfree > 0 && sv.f_bsize > 0,
        "blocks {} free {}",
        sv.f_blocks,
        sv.f_bfree
    );
    assert!(sv.f_namemax >= 255);
}

/// A directory of 2,000 entries lists exactly, with no duplicates or omissions, even
/// while new names are created during the listing.
#[tokio::test(flavor = "multi_thread")]
async fn large_directory_listing() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let d = mnt.join("big");
    fs::create_dir(&d).unwrap();
    let mut want = std::collections::BTreeSet::new();
    for i in 0..2000 {
        let n = format!("entry-{i:05}");
        fs::File::create(d.join(&n)).unwrap();
        want.insert(n);
    }
    let mut got = std::collections::BTreeSet::new();
    let mut extra = 0;
    for (i, e) in fs::read_dir(&d).unwrap().enumerate() {
        let n = e.unwrap().file_name().into_string().unwrap();
        if i % 100 == 0 {
            fs::File::create(d.join(format!("late-{i}"))).unwrap();
            extra += 1;
        }
        assert!(got.insert(n.clone()), "duplicate {n}");
    }
    got.retain(|n| !n.starts_with("late-"));
    assert_eq!(got, want);
    assert_eq!(fs::read_dir(&d).unwrap().count(), 2000 + extra);
}

/// As user nobody, writing a root-owned 0644 file is EACCES; creating in a 0777
/// directory works and the new file belongs to nobody.
#[tokio::test(flavor = "multi_thread")]
async fn second_user_permissions() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    fs::set_permissions(c.root(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&mnt, fs::Permissions::from_mode(0o755)).unwrap();
    let f = mnt.join("rootfile");
    fs::write(&f, b"root").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let shared = mnt.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let as_nobody = |script: String| {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                &script,
            ])
            .output()
            .expect("setpriv")
    };
    let out = as_nobody(format!("echo x > {}", f.display()));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );
    assert_eq!(fs::read(&f).unwrap(), b"root");
    let out = as_nobody(format!("cat {}", f.display()));
    assert_eq!(out.stdout, b"root");

    let mine = shared.join("mine");
    let out = as_nobody(format!("echo hello > {0} && cat {0}", mine.display()));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"hello\n");
    let m = fs::metadata(&mine).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    let out = as_nobody(format!(
        "mkdir {0}/sub && touch {0}/sub/x",
        shared.display()
    ));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::metadata(shared.join("sub/x")).unwrap().uid(), 65534);

    phase!("a write by another user clears setuid and setgid, appending or not");
    // `>` truncates first (a setattr clears the bits); `1<>` opens read-write without
    // truncating, so only the write(2) itself can clear them.
    for (name, redirect) in [
        ("suid-append", ">>"),
        ("suid-truncate", ">"),
        ("suid-write", "1<>"),
    ] {
        let p = shared.join(name);
        fs::write(&p, b"x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o6777)).unwrap();
        let out = as_nobody(format!("echo y {redirect} {}", p.display()));
        assert!(out.status.success(), "{out:?}");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o777, "{name}: mode {mode:o}");
    }

    phase!(
        "a set-group-ID directory hands its group to new entries, and the bit to subdirectories"
    );
    let sgid = mnt.join("sgid");
    fs::create_dir(&sgid).unwrap();
    std::os::unix::fs::chown(&sgid, None, Some(12345)).unwrap();
    fs::set_permissions(&sgid, fs::Permissions::from_mode(0o2777)).unwrap();
    let out = as_nobody(format!(
        "umask 022 && touch {0}/f && mkdir {0}/d",
        sgid.display()
    ));
    assert!(out.status.success(), "{out:?}");
    let f = fs::metadata(sgid.join("f")).unwrap();
    assert_eq!((f.uid(), f.gid()), (65534, 12345));
    let d = fs::metadata(sgid.join("d")).unwrap();
    assert_eq!(
        (d.uid(), d.gid(), d.mode() & 0o7777),
        (65534, 12345, 0o2755)
    );
}

/// Sizes and writes past the largest file size (128 PiB) are EFBIG, not accepted.
#[tokio::test(flavor = "multi_thread")]
async fn file_size_limit() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let p = mnt.join("big");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    let max = ferrofs_proto::MAX_FILE_SIZE;
    assert_eq!(errno_of(&f.set_len(max + 1).unwrap_err()), libc::EFBIG);
    use std::os::unix::fs::FileExt;
    assert_eq!(errno_of(&f.write_at(b"x", max).unwrap_err()), libc::EFBIG);
    // Right up to the limit is fine (a sparse file).
    f.set_len(max).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), max);
    f.set_len(0).unwrap();
    drop(f);
    assert_eq!(fs::metadata(&p).unwrap().len(), 0);
}

/// A file written and closed on one mount reads back whole on another, including a
/// rewrite after the second mount had the old version cached (close-to-open).
#[tokio::test(flavor = "multi_thread")]
async fn two_mounts_close_to_open() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let m1 = c.mount().await;
    let m2 = c.mount().await;
    let data = random_bytes(3 * CHUNK + 77, 9);
    fs::write(m1.join("shared"), &data).unwrap();
    assert_eq!(sha256(&fs::read(m2.join("shared")).unwrap()), sha256(&data));

    phase!("rewrite on mount 1 while mount 2 has it cached");
    let v2 = random_bytes(4 * CHUNK + 1, 10);
    fs::write(m1.join("shared"), &v2).unwrap();
    assert_eq!(sha256(&fs::read(m2.join("shared")).unwrap()), sha256(&v2));

    phase!("append on mount 2, read on mount 1");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(m2.join("shared"))
        .unwrap();
    f.write_all(b"appended").unwrap();
    drop(f);
    let back = fs::read(m1.join("shared")).unwrap();
    assert_eq!(back.len(), v2.len() + 8);
    assert_eq!(&back[v2.len()..], b"appended");
}

/// Data written and fsynced survives SIGKILL of the master and of a chunkserver.
#[tokio::test(flavor = "multi_thread")]
async fn fsync_survives_master_and_chunkserver_crash() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let mnt = c.mount().await;
    let data = random_bytes(2 * CHUNK + 333, 11);
    let p = mnt.join("durable");
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(&data).unwrap();
    f.sync_all().unwrap();

    phase!("kill -9 master and chunkserver 0");
    c.kill_master();
    c.kill_chunkserver(0);
    drop(f);
    c.restart_master().await;

    phase!("read back through the mount");
    let back = tokio::task::spawn_blocking(move || fs::read(&p).unwrap())
        .await
        .unwrap();
    assert_eq!(sha256(&back), sha256(&data));
}

/// A full cluster reports ENOSPC by the time the file is closed.
///
/// Ignored: when every chunkserver refuses a new chunk for space, the master answers
/// `NoChunkservers` (master/src/lease.rs, "could not create the chunk on any
/// chunkserver"), which the client retries for 20 s per call and which means EIO.
#[tokio::test(flavor = "multi_thread")]
async fn no_space_surfaces_at_close() {
    let _serial = SERIAL.lock().await;
    let mut c = TestCluster::builder()
        .chunkservers(3)
        .chunk_size(CHUNK as u64)
        .capacity(3 * CHUNK as u64)
        .start()
        .await;
    let mnt = c.mount().await;
    let data = random_bytes(12 * CHUNK, 12);
    let r = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(mnt.join("big"))?;
        f.write_all(&data)?;
        f.sync_all()?;
        Ok(())
    })();
    let e = r.expect_err("12 MiB cannot fit in 3 x 3 MiB with 3 replicas");
    assert_eq!(errno_of(&e), libc::ENOSPC, "{e}");
}

/// Stores through a shared writable mmap reach the cluster (msync, then a second
/// mount reads them).
#[tokio::test(flavor = "multi_thread")]
async fn shared_mmap_writes() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let m1 = c.mount().await;
    let m2 = c.mount().await;
    let p = m1.join("mapped");
    let len = 3 * 4096 + 100;
    fs::write(&p, vec![b'.'; len]).unwrap();
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    use std::os::fd::AsRawFd;
    unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(ptr, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
        let s = std::slice::from_raw_parts_mut(ptr as *mut u8, len);
        s[0] = b'A';
        s[4096 * 2 + 5] = b'B';
        s[len - 1] = b'Z';
        assert_eq!(libc::msync(ptr, len, libc::MS_SYNC), 0);
        assert_eq!(libc::munmap(ptr, len), 0);
    }
    drop(f);
    let back = fs::read(m2.join("mapped")).unwrap();
    assert_eq!(back.len(), len);
    assert_eq!(
        (back[0], back[4096 * 2 + 5], back[len - 1]),
        (b'A', b'B', b'Z')
    );
    assert_eq!(back.iter().filter(|&&b| b == b'.').count(), len - 3);
}

/// O_APPEND on a mount whose kernel cache has an old size still appends at the real
/// end (another mount grew the file meanwhile), and both mounts then agree.
#[tokio::test(flavor = "multi_thread")]
async fn append_after_growth_elsewhere() {
    let _serial = SERIAL.lock().await;
    let mut c = cluster().await;
    let m1 = c.mount().await;
    let m2 = c.mount().await;
    fs::write(m1.join("log"), b"one\n").unwrap();
    assert_eq!(fs::read(m2.join("log")).unwrap(), b"one\n");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(m1.join("log"))
        .unwrap();
    f.write_all(b"two\n").unwrap();
    drop(f);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(m2.join("log"))
        .unwrap();
    f.write_all(b"three\n").unwrap();
    drop(f);
    assert_eq!(fs::read(m2.join("log")).unwrap(), b"one\ntwo\nthree\n");
    assert_eq!(fs::read(m1.join("log")).unwrap(), b"one\ntwo\nthree\n");
}

/// ioctl(2) on a file of the mount is "not a terminal", as on a local file, without a
/// warning in the mount's log per call (stdio asks TCGETS of every file it opens).
#[tokio::test(flavor = "multi_thread")]
async fn ioctl_is_not_a_terminal_quietly() {
    use std::os::fd::AsRawFd;
    let _serial = SERIAL.lock().await;
    let mut cl = cluster().await;
    let mnt = cl.mount().await;
    let f = std::fs::File::create(mnt.join("tty?")).unwrap();
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    for _ in 0..3 {
        let r = unsafe { libc::ioctl(f.as_raw_fd(), libc::TCGETS, &mut t) };
        assert_eq!(r, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOTTY)
        );
    }
    let log = std::fs::read_to_string(cl.root().join("mount0.log")).unwrap();
    assert!(
        !log.contains("Not Implemented"),
        "the mount logged unimplemented calls:\n{log}"
    );
}
