//! Extended attributes. Names in the `user.` and `trusted.` namespaces are stored on the
//! master, beside the inode, and every call asks it (nothing is cached here, so another
//! mount's change is seen at once). `security.` and `system.` are answered here: no
//! value is stored and setting one is EOPNOTSUPP. The kernel asks for
//! `security.capability` before writes, and POSIX ACLs (`system.posix_acl_*`) stored
//! without the kernel enforcing them would mislead; neither costs a master round trip.
//! Permission checks (`trusted.` needs CAP_SYS_ADMIN, `user.` the file's read or write
//! permission) are the kernel's, under `default_permissions`.

use crate::core::{Core, R, name_str};
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::XattrMode;
use fuser::Errno;
use std::ffi::OsStr;

/// Whether the master stores attributes named `name`.
fn stored(name: &str) -> bool {
    name.starts_with("user.") || name.starts_with("trusted.")
}

/// `name` if the master may hold it; anything else is never set (ENODATA).
fn stored_name(name: &OsStr) -> R<&str> {
    match name_str(name) {
        Ok(name) if stored(name) => Ok(name),
        _ => Err(Errno::from_i32(libc::ENODATA)),
    }
}

impl Core {
    pub fn getxattr(&self, ino: Ino, name: &OsStr) -> R<Vec<u8>> {
        let name = stored_name(name)?;
        self.call_here("getxattr", |c| async move { c.getxattr(ino, name).await })
    }

    /// The names, each followed by a NUL, as listxattr(2) returns them. As on ext4,
    /// `trusted.` names are listed only to a caller with CAP_SYS_ADMIN (here: uid 0).
    pub fn listxattr(&self, ino: Ino, uid: u32) -> R<Vec<u8>> {
        let names = self.call_here("listxattr", |c| async move { c.listxattr(ino).await })?;
        let mut out = Vec::with_capacity(names.iter().map(|n| n.len() + 1).sum());
        let visible = |n: &&String| stored(n) && (uid == 0 || !n.starts_with("trusted."));
        for n in names.iter().filter(visible) {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        Ok(out)
    }

    pub fn setxattr(&self, ino: Ino, name: &OsStr, value: &[u8], flags: i32) -> R<()> {
        let mode = match flags & (libc::XATTR_CREATE | libc::XATTR_REPLACE) {
            0 => XattrMode::Either,
            libc::XATTR_CREATE => XattrMode::Create,
            libc::XATTR_REPLACE => XattrMode::Replace,
            _ => return Err(Errno::EINVAL),
        };
        let name = name_str(name)?;
        if !stored(name) {
            return Err(Errno::from_i32(libc::EOPNOTSUPP));
        }
        let value = value.to_vec();
        let r = self.call_here("setxattr", |c| async move {
            c.setxattr(ino, name, value, mode).await
        });
        // The ctime moved (or may have).
        self.md.invalidate(&[ino], &[]);
        r.map(drop)
    }

    pub fn removexattr(&self, ino: Ino, name: &OsStr) -> R<()> {
        let name = stored_name(name)?;
        let r = self.call_here(
            "removexattr",
            |c| async move { c.removexattr(ino, name).await },
        );
        self.md.invalidate(&[ino], &[]);
        r.map(drop)
    }
}
