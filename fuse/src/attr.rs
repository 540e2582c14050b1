//! Conversion of the master's `Attr` to the kernel's `FileAttr`.

use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use fuser::{FileAttr, FileType, INodeNo};

/// Block size reported in `st_blksize` and used for `st_blocks` accounting.
pub const BLOCK_SIZE: u32 = 4096;

pub fn file_type(k: FileKind) -> FileType {
    match k {
        FileKind::File => FileType::RegularFile,
        FileKind::Dir => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::Fifo => FileType::NamedPipe,
        FileKind::Socket => FileType::Socket,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
    }
}

/// The kind encoded in the `S_IFMT` bits of a mode (mknod), if it is one we store.
pub fn kind_of_mode(mode: u32) -> Option<FileKind> {
    match mode & libc::S_IFMT {
        libc::S_IFREG | 0 => Some(FileKind::File),
        libc::S_IFDIR => Some(FileKind::Dir),
        libc::S_IFLNK => Some(FileKind::Symlink),
        libc::S_IFIFO => Some(FileKind::Fifo),
        libc::S_IFSOCK => Some(FileKind::Socket),
        libc::S_IFCHR => Some(FileKind::CharDevice),
        libc::S_IFBLK => Some(FileKind::BlockDevice),
        _ => None,
    }
}

/// A time from the kernel. fuser 0.18 builds a pre-1970 `SystemTime` from (sec, nsec)
/// as `EPOCH - (|sec| + nsec)` instead of `EPOCH - |sec| + nsec`; undo that here so
/// e.g. (-1e9 s, 123 ns) is stored as given. (Times going to the kernel convert right.)
/// Times past what the master stores (`MAX_TIME_SEC`) are clamped to it, as a local file
/// system clamps to the range its inodes hold.
pub fn timespec_from_kernel(t: std::time::SystemTime) -> Timespec {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(_) => Timespec::from_system_time(t),
        Err(e) => {
            let d = e.duration();
            Timespec {
                sec: i64::try_from(d.as_secs()).map_or(i64::MIN, |s| -s),
                nsec: d.subsec_nanos(),
            }
            .clamped()
        }
    }
}

pub fn to_file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        // st_blocks counts 512-byte units.
        blocks: a.size.div_ceil(512),
        atime: a.atime.to_system_time(),
        mtime: a.mtime.to_system_time(),
        ctime: a.ctime.to_system_time(),
        crtime: a.ctime.to_system_time(),
        kind: file_type(a.kind),
        perm: (a.mode & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn kernel_times_before_1970_keep_their_nanoseconds() {
        // What fuser 0.18 hands us for (sec -1e9, nsec 123).
        let t = UNIX_EPOCH - Duration::new(1_000_000_000, 123);
        assert_eq!(
            timespec_from_kernel(t),
            Timespec {
                sec: -1_000_000_000,
                nsec: 123
            }
        );
        let t = UNIX_EPOCH + Duration::new(5, 6);
        assert_eq!(timespec_from_kernel(t), Timespec { sec: 5, nsec: 6 });
        // Far past what the master stores either way: clamped, as ext4 clamps.
        use ferrofs_proto::namespace::MAX_TIME_SEC;
        let far = Duration::from_secs(1 << 60);
        let (late, early) = (UNIX_EPOCH + far, UNIX_EPOCH - far);
        assert_eq!(timespec_from_kernel(late).sec, MAX_TIME_SEC);
        assert_eq!(timespec_from_kernel(early).sec, -MAX_TIME_SEC);
    }

    #[test]
    fn negative_times_and_modes_convert() {
        let t = Timespec {
            sec: -86_400,
            nsec: 5,
        };
        let a = Attr {
            ino: 7,
            kind: FileKind::File,
            mode: 0o4755,
            uid: 1,
            gid: 2,
            size: 1025,
            atime: t,
            mtime: t,
            ctime: t,
            nlink: 1,
            rdev: 0,
            replication: 3,
        };
        let f = to_file_attr(&a);
        assert_eq!(f.perm, 0o4755);
        assert_eq!(f.blocks, 3);
        assert_eq!(Timespec::from_system_time(f.mtime), t);
        assert_eq!(kind_of_mode(libc::S_IFIFO | 0o644), Some(FileKind::Fifo));
        assert_eq!(kind_of_mode(0o644), Some(FileKind::File));
    }
}
