//! Extended attributes: `X ino name` -> value in RocksDB, beside the inode. Setting or
//! removing one changes the inode's ctime, in the same batch. The master stores any
//! namespace the caller sends; which namespaces a mount passes through (and the
//! permission checks) are the mount's and the kernel's business.

use crate::db;
use crate::error::{Result, err};
use crate::state::Master;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{
    Attr, SetxattrReq, Timespec, XATTR_COUNT_MAX, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_SIZE_MAX,
    XattrList, XattrMode, XattrValue,
};
use rocksdb::WriteBatch;

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('\0') {
        return Err(err(
            ErrorCode::InvalidArgument,
            "extended attribute name must be non-empty and contain no NUL",
        ));
    }
    if name.len() > XATTR_NAME_MAX {
        return Err(err(
            ErrorCode::NameTooLong,
            format!("extended attribute name longer than {XATTR_NAME_MAX} bytes"),
        ));
    }
    Ok(())
}

fn no_attr(name: &str) -> crate::error::MasterError {
    err(
        ErrorCode::NoSuchAttribute,
        format!("no extended attribute {name:?}"),
    )
}

impl Master {
    pub fn getxattr(&self, ino: Ino, name: &str) -> Result<XattrValue> {
        check_name(name)?;
        self.inode(ino)?;
        match self.db.get_raw(&db::xattr_key(ino, name))? {
            Some(value) => Ok(XattrValue { value }),
            None => Err(no_attr(name)),
        }
    }

    pub fn listxattr(&self, ino: Ino) -> Result<XattrList> {
        self.inode(ino)?;
        let prefix = db::xattr_prefix(ino);
        let mut names = vec![];
        for kv in self.db.scan(&prefix) {
            let (k, _) = kv?;
            names.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(XattrList { names })
    }

    pub fn setxattr(&self, req: &SetxattrReq) -> Result<Attr> {
        check_name(&req.name)?;
        if req.value.len() > XATTR_SIZE_MAX {
            return Err(err(
                ErrorCode::PayloadTooLarge,
                format!("extended attribute value larger than {XATTR_SIZE_MAX} bytes"),
            ));
        }
        let _g = self.ns_lock.lock();
        let mut rec = self.inode(req.ino)?;
        let key = db::xattr_key(req.ino, &req.name);
        let exists = self.db.get_raw(&key)?.is_some();
        match req.mode {
            XattrMode::Create if exists => {
                return Err(err(
                    ErrorCode::AlreadyExists,
                    format!("extended attribute {:?} exists", req.name),
                ));
            }
            XattrMode::Replace if !exists => return Err(no_attr(&req.name)),
            _ => {}
        }
        if !exists {
            let prefix = db::xattr_prefix(req.ino);
            let (mut count, mut list) = (0, req.name.len() + 1);
            for kv in self.db.scan(&prefix) {
                count += 1;
                list += kv?.0.len() - prefix.len() + 1;
            }
            if count >= XATTR_COUNT_MAX {
                return Err(err(
                    ErrorCode::NoSpace,
                    format!("an inode carries at most {XATTR_COUNT_MAX} extended attributes"),
                ));
            }
            if list > XATTR_LIST_MAX {
                return Err(err(
                    ErrorCode::NoSpace,
                    format!("an inode's attribute names take at most {XATTR_LIST_MAX} bytes"),
                ));
            }
        }
        rec.ctime = Timespec::now();
        let mut b = WriteBatch::default();
        b.put(&key, &req.value);
        b.put(db::inode_key(req.ino), db::encode(&rec));
        self.db.write(b)?;
        Ok(rec.attr(req.ino))
    }

    pub fn removexattr(&self, ino: Ino, name: &str) -> Result<Attr> {
        check_name(name)?;
        let _g = self.ns_lock.lock();
        let mut rec = self.inode(ino)?;
        let key = db::xattr_key(ino, name);
        if self.db.get_raw(&key)?.is_none() {
            return Err(no_attr(name));
        }
        rec.ctime = Timespec::now();
        let mut b = WriteBatch::default();
        b.delete(&key);
        b.put(db::inode_key(ino), db::encode(&rec));
        self.db.write(b)?;
        Ok(rec.attr(ino))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MasterConfig;
    use ferrofs_proto::ROOT_INO;
    use ferrofs_proto::namespace::{CreateReq, FileKind, UnlinkReq};
    use std::sync::Arc;

    fn open(dir: &std::path::Path) -> Arc<Master> {
        Master::open(MasterConfig {
            data_dir: dir.to_path_buf(),
            ..Default::default()
        })
        .unwrap()
    }

    fn create(m: &Master, name: &str) -> Ino {
        m.create(&CreateReq {
            parent: ROOT_INO,
            name: name.into(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            symlink_target: None,
            exclusive: true,
            replication: None,
        })
        .unwrap()
        .attr
        .ino
    }

    fn set(m: &Master, ino: Ino, name: &str) -> Result<Attr> {
        m.setxattr(&SetxattrReq {
            ino,
            name: name.into(),
            value: b"v".to_vec(),
            mode: XattrMode::Either,
        })
    }

    fn unlink(m: &Master, name: &str, keep_open: bool) {
        m.unlink(&UnlinkReq {
            parent: ROOT_INO,
            name: name.into(),
            dir: false,
            keep_open,
        })
        .unwrap();
    }

    fn stored(m: &Master, ino: Ino) -> usize {
        m.db.scan(&db::xattr_prefix(ino)).count()
    }

    /// An inode's attributes go with it: at unlink, at the release of a file unlinked
    /// while open, and when a restarted master purges such a file.
    #[test]
    fn attributes_are_deleted_with_their_inode() {
        let dir = tempfile::tempdir().unwrap();
        let m = open(dir.path());
        let a = create(&m, "a");
        set(&m, a, "user.x").unwrap();
        set(&m, a, "trusted.y").unwrap();
        assert_eq!(stored(&m, a), 2);
        unlink(&m, "a", false);
        assert_eq!(stored(&m, a), 0, "unlink left attributes behind");

        let b = create(&m, "b");
        set(&m, b, "user.x").unwrap();
        unlink(&m, "b", true);
        assert_eq!(
            stored(&m, b),
            1,
            "an open unlinked file keeps its attributes"
        );
        m.release(b).unwrap();
        assert_eq!(stored(&m, b), 0, "release left attributes behind");

        let c = create(&m, "c");
        set(&m, c, "user.x").unwrap();
        unlink(&m, "c", true);
        drop(m);
        let m = open(dir.path());
        assert_eq!(stored(&m, c), 0, "the orphan purge left attributes behind");
    }

    #[test]
    fn name_list_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let m = open(dir.path());
        let f = create(&m, "f");
        // 256 names of 255 bytes (+ NUL) fill the 65,536 bytes exactly.
        let name = |i: usize| format!("user.{i:0>250}");
        for i in 0..256 {
            set(&m, f, &name(i)).unwrap();
        }
        for more in [name(256), "user.s".to_string()] {
            let e = set(&m, f, &more).unwrap_err();
            assert_eq!(e.to_api().code, ErrorCode::NoSpace, "{e}");
        }
        // Replacing an existing one is still fine; removing one makes room.
        set(&m, f, &name(3)).unwrap();
        m.removexattr(f, &name(3)).unwrap();
        set(&m, f, "user.s").unwrap();
    }
}
