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
    Attr, SetxattrReq, Timespec, XATTR_COUNT_MAX, XATTR_NAME_MAX, XATTR_SIZE_MAX, XattrList,
    XattrMode, XattrValue,
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
        if !exists && self.db.scan(&db::xattr_prefix(req.ino)).count() >= XATTR_COUNT_MAX {
            return Err(err(
                ErrorCode::NoSpace,
                format!("an inode carries at most {XATTR_COUNT_MAX} extended attributes"),
            ));
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
