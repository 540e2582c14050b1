//! Extended attributes through a real mount: set, get, list and remove with the
//! XATTR_CREATE / XATTR_REPLACE rules and ERANGE for short buffers; values seen at
//! once by a second mount and kept across a master crash; `security.` and `system.`
//! refused; and mounts without `--xattr` (the default) refusing them all.

mod common;
use common::*;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

fn res(rc: isize) -> Result<usize, i32> {
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(rc as usize)
    }
}

fn set(p: &Path, name: &str, value: &[u8], flags: i32) -> Result<(), i32> {
    let rc = unsafe {
        libc::setxattr(
            path(p).as_ptr(),
            c(name).as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    res(rc as isize).map(drop)
}

/// getxattr with a buffer of `cap` bytes (0 asks for the size only).
fn get_cap(p: &Path, name: &str, cap: usize) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; cap];
    let n = res(unsafe {
        libc::getxattr(
            path(p).as_ptr(),
            c(name).as_ptr(),
            buf.as_mut_ptr().cast(),
            cap,
        )
    })?;
    buf.truncate(if cap == 0 { 0 } else { n });
    if cap == 0 {
        buf = vec![0; n];
    }
    Ok(buf)
}

fn get(p: &Path, name: &str) -> Result<Vec<u8>, i32> {
    let size = get_cap(p, name, 0)?.len();
    get_cap(p, name, size)
}

fn list(p: &Path) -> Result<Vec<String>, i32> {
    let size = res(unsafe { libc::listxattr(path(p).as_ptr(), std::ptr::null_mut(), 0) })?;
    let mut buf = vec![0u8; size];
    let n = res(unsafe { libc::listxattr(path(p).as_ptr(), buf.as_mut_ptr().cast(), size) })?;
    buf.truncate(n);
    let mut names: Vec<String> = buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    names.sort();
    Ok(names)
}

fn remove(p: &Path, name: &str) -> Result<(), i32> {
    res(unsafe { libc::removexattr(path(p).as_ptr(), c(name).as_ptr()) } as isize).map(drop)
}

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn xattrs_round_trip_and_errors() {
    let _serial = SERIAL.lock().await;
    let mut cl = cluster().await;
    let m1 = cl.mount_with(&["--xattr"]).await;
    let m2 = cl.mount_with(&["--xattr"]).await;
    let f = m1.join("f");
    fs::write(&f, b"data").unwrap();
    let d = m1.join("d");
    fs::create_dir(&d).unwrap();

    phase!("set, get, list");
    let big: Vec<u8> = random_bytes(65536, 1);
    set(&f, "user.small", b"v1", 0).unwrap();
    set(&f, "user.big", &big, 0).unwrap();
    set(&f, "user.empty", b"", 0).unwrap();
    set(&d, "user.dir", b"on a directory", 0).unwrap();
    assert_eq!(get(&f, "user.small").unwrap(), b"v1");
    assert_eq!(sha256(&get(&f, "user.big").unwrap()), sha256(&big));
    assert_eq!(get(&f, "user.empty").unwrap(), b"");
    assert_eq!(get(&d, "user.dir").unwrap(), b"on a directory");
    assert_eq!(list(&f).unwrap(), ["user.big", "user.empty", "user.small"]);

    phase!("errno rules");
    assert_eq!(get_cap(&f, "user.small", 1), Err(libc::ERANGE));
    assert_eq!(get(&f, "user.missing"), Err(libc::ENODATA));
    assert_eq!(remove(&f, "user.missing"), Err(libc::ENODATA));
    assert_eq!(
        set(&f, "user.small", b"x", libc::XATTR_CREATE),
        Err(libc::EEXIST)
    );
    assert_eq!(
        set(&f, "user.new", b"x", libc::XATTR_REPLACE),
        Err(libc::ENODATA)
    );
    assert_eq!(set(&f, "security.x", b"x", 0), Err(libc::EOPNOTSUPP));
    assert_eq!(set(&f, "system.ferrofs", b"x", 0), Err(libc::EOPNOTSUPP));
    assert_eq!(get(&f, "security.capability"), Err(libc::ENODATA));
    set(&f, "user.small", b"v2", libc::XATTR_REPLACE).unwrap();
    set(&f, "user.new", b"n", libc::XATTR_CREATE).unwrap();

    phase!("a second user reads user.* of a file it can read, but may not set them");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(cl.root(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&m1, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    set(&f, "trusted.t", b"root only", 0).unwrap();
    assert_eq!(
        list(&f).unwrap(),
        [
            "trusted.t",
            "user.big",
            "user.empty",
            "user.new",
            "user.small"
        ]
    );
    let f2 = f.clone();
    let as_nobody = std::thread::spawn(move || unsafe {
        // Thread-local credentials: the raw syscall, not libc's process-wide wrapper.
        assert_eq!(libc::syscall(libc::SYS_setresuid, 65534, 65534, 0), 0);
        let r = (
            get(&f2, "user.small"),
            set(&f2, "user.nobody", b"x", 0),
            list(&f2),
        );
        assert_eq!(libc::syscall(libc::SYS_setresuid, 0, 0, 0), 0);
        r
    })
    .join()
    .unwrap();
    assert_eq!(as_nobody.0, Ok(b"v2".to_vec()));
    assert_eq!(as_nobody.1, Err(libc::EACCES));
    // As on ext4, trusted.* names are listed only to root.
    let names = ["user.big", "user.empty", "user.new", "user.small"];
    assert_eq!(as_nobody.2, Ok(names.map(String::from).to_vec()));
    remove(&f, "trusted.t").unwrap();

    phase!("remove moves ctime and is seen by the other mount at once");
    let before =
        fs::metadata(&f).unwrap().ctime_nsec() + fs::metadata(&f).unwrap().ctime() * 1_000_000_000;
    // The clock must have moved past the old ctime for a change to show.
    while (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH))
        .unwrap()
        .as_nanos()
        <= before as u128
    {
        std::thread::yield_now();
    }
    remove(&f, "user.new").unwrap();
    let m = fs::metadata(&f).unwrap();
    assert!(
        m.ctime() * 1_000_000_000 + m.ctime_nsec() > before,
        "ctime did not move"
    );
    let g = m2.join("f");
    assert_eq!(list(&g).unwrap(), ["user.big", "user.empty", "user.small"]);
    assert_eq!(get(&g, "user.small").unwrap(), b"v2");
    set(&g, "user.from2", b"2", 0).unwrap();
    assert_eq!(get(&f, "user.from2").unwrap(), b"2");

    phase!("xattrs survive a master crash; a renamed file keeps them");
    cl.kill_master();
    cl.restart_master().await;
    fs::rename(&f, m1.join("g")).unwrap();
    let f = m1.join("g");
    assert_eq!(get(&f, "user.small").unwrap(), b"v2");
    assert_eq!(sha256(&get(&f, "user.big").unwrap()), sha256(&big));

    phase!("a new file of the same name starts without them");
    // (That the master deletes an unlinked inode's attributes is checked in
    // master/src/xattr.rs, where the keys can be seen.)
    fs::remove_file(&f).unwrap();
    fs::write(&f, b"again").unwrap();
    assert_eq!(list(&f).unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn default_mount_refuses_xattrs() {
    let _serial = SERIAL.lock().await;
    let mut cl = cluster().await;
    let on = cl.mount_with(&["--xattr"]).await;
    let off = cl.mount().await;
    fs::write(on.join("f"), b"x").unwrap();
    set(&on.join("f"), "user.a", b"1", 0).unwrap();
    assert_eq!(
        set(&off.join("f"), "user.b", b"1", 0),
        Err(libc::EOPNOTSUPP)
    );
    assert_eq!(get(&off.join("f"), "user.a"), Err(libc::EOPNOTSUPP));
    // Writes still work there.
    fs::write(off.join("g"), b"data").unwrap();
    assert_eq!(fs::read(on.join("g")).unwrap(), b"data");
}
