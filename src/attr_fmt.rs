//! How the CLI shows attributes: `ls -l` lines (mode string, user and group names,
//! `ls`-style times), `stat` times, human sizes, and JSON entries for `--json`.

use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use std::collections::HashMap;
use std::sync::Mutex;

/// Sizes as `du -h`/`ls -h` print them: 1023, 1.0K, 12M, 3.4G.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{:.0}{}", v.round(), UNITS[i])
    }
}

/// `drwxr-xr-x` from a kind and permission bits (with setuid/setgid/sticky).
pub fn mode_string(kind: FileKind, mode: u32) -> String {
    let t = match kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::Fifo => 'p',
        FileKind::Socket => 's',
        FileKind::CharDevice => 'c',
        FileKind::BlockDevice => 'b',
        FileKind::File => '-',
    };
    let mut s = String::from(t);
    for (shift, special, on, off) in [
        (6, 0o4000, 's', 'S'),
        (3, 0o2000, 's', 'S'),
        (0, 0o1000, 't', 'T'),
    ] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        s.push(match (mode & special != 0, x) {
            (true, true) => on,
            (true, false) => off,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// Broken-down local time of a timestamp.
fn local(t: Timespec) -> libc::tm {
    let secs = t.sec as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own; a zeroed tm is a valid value.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    }
}

fn strftime(tm: &libc::tm, fmt: &str) -> String {
    let fmt = std::ffi::CString::new(fmt).expect("no NUL in formats");
    let mut buf = [0u8; 64];
    // SAFETY: the buffer's length is passed; strftime writes at most that many bytes.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `ls -l` time: `Dec  1 08:44` within six months of now, else `Dec  1  2025`.
pub fn ls_time(t: Timespec, now: Timespec) -> String {
    let half_year = 182 * 24 * 3600;
    let tm = local(t);
    if (now.sec - t.sec).abs() < half_year {
        strftime(&tm, "%b %e %H:%M")
    } else {
        strftime(&tm, "%b %e  %Y")
    }
}

/// `stat` time: `2026-12-01 08:44:12.123456789 +0000`.
pub fn stat_time(t: Timespec) -> String {
    let tm = local(t);
    format!(
        "{}.{:09} {}",
        strftime(&tm, "%Y-%m-%d %H:%M:%S"),
        t.nsec,
        strftime(&tm, "%z")
    )
}

/// User and group names of this host (NSS: files, LDAP ...), cached per run.
#[derive(Default)]
pub struct Names {
    users: Mutex<HashMap<u32, Option<String>>>,
    groups: Mutex<HashMap<u32, Option<String>>>,
}

fn c_str(p: *const libc::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null pw_name/gr_name points at a NUL-terminated string in `buf`.
    Some(
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: getpwuid_r fills `pw` with pointers into `buf`, which outlives their use.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) != 0
            || out.is_null()
        {
            return None;
        }
        c_str(pw.pw_name)
    }
}

fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in user_name.
    unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        if libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) != 0
            || out.is_null()
        {
            return None;
        }
        c_str(gr.gr_name)
    }
}

/// A user name (or number) as a uid.
pub fn uid_of(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in user_name.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        if libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) != 0
            || out.is_null()
        {
            return None;
        }
        Some(pw.pw_uid)
    }
}

/// A group name (or number) as a gid.
pub fn gid_of(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in user_name.
    unsafe {
        let mut gr: libc::group = std::mem::zeroed();
        let mut out = std::ptr::null_mut();
        if libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) != 0
            || out.is_null()
        {
            return None;
        }
        Some(gr.gr_gid)
    }
}

impl Names {
    pub fn user(&self, uid: u32) -> String {
        let mut m = self.users.lock().expect("not poisoned");
        m.entry(uid)
            .or_insert_with(|| user_name(uid))
            .clone()
            .unwrap_or_else(|| uid.to_string())
    }

    pub fn group(&self, gid: u32) -> String {
        let mut m = self.groups.lock().expect("not poisoned");
        m.entry(gid)
            .or_insert_with(|| group_name(gid))
            .clone()
            .unwrap_or_else(|| gid.to_string())
    }
}

/// How `ls -l` shows owners and sizes.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongOpts {
    /// `-n`: numeric uid/gid.
    pub numeric: bool,
    /// `-h`: human sizes.
    pub human: bool,
}

/// One `ls -l` line.
pub fn long_line(a: &Attr, name: &str, o: LongOpts, names: &Names, now: Timespec) -> String {
    let (user, group) = if o.numeric {
        (a.uid.to_string(), a.gid.to_string())
    } else {
        (names.user(a.uid), names.group(a.gid))
    };
    let size = if o.human {
        human(a.size)
    } else {
        a.size.to_string()
    };
    format!(
        "{} {:>3} {:<8} {:<8} {:>10} {} {name}",
        mode_string(a.kind, a.mode),
        a.nlink,
        user,
        group,
        size,
        ls_time(a.mtime, now)
    )
}

/// An entry for `--json` listings: the attributes plus readable owner and times.
pub fn json_entry(path: &str, a: &Attr, names: &Names) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "type": a.kind,
        "mode": format!("{:04o}", a.mode),
        "permissions": mode_string(a.kind, a.mode),
        "owner": names.user(a.uid),
        "group": names.group(a.gid),
        "uid": a.uid,
        "gid": a.gid,
        "size": a.size,
        "replication": a.replication,
        "nlink": a.nlink,
        "ino": a.ino,
        "mtime": stat_time(a.mtime),
        "mtime_unix": a.mtime.sec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_look_like_coreutils() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1024), "1.0K");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(12 << 20), "12M");
        assert_eq!(human(3 * (1 << 30) + (1 << 29)), "3.5G");
    }

    #[test]
    fn mode_strings_carry_special_bits() {
        assert_eq!(mode_string(FileKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(FileKind::File, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(FileKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(FileKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(FileKind::File, 0o2640), "-rw-r-S---");
    }

    #[test]
    fn ls_times_show_the_year_only_when_old() {
        let now = Timespec {
            sec: 1_800_000_000,
            nsec: 0,
        };
        let recent = ls_time(
            Timespec {
                sec: now.sec - 3600,
                nsec: 0,
            },
            now,
        );
        assert!(recent.contains(':'), "{recent}");
        let old = ls_time(
            Timespec {
                sec: now.sec - 400 * 24 * 3600,
                nsec: 0,
            },
            now,
        );
        assert!(!old.contains(':') && old.ends_with("2025"), "{old}");
        let s = stat_time(Timespec { sec: 0, nsec: 5 });
        assert!(s.contains(".000000005 "), "{s}");
    }

    #[test]
    fn root_has_a_name() {
        assert_eq!(Names::default().user(0), "root");
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("1234"), Some(1234));
        assert_eq!(uid_of("no-such-user-xyz"), None);
    }
}
