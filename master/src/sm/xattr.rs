//! Extended attributes in the state machine: `X ino name` -> value beside the inode.
//! Setting or removing one moves the inode's ctime in the same command.

use super::apply::{Res, St};
use super::command::*;
use crate::db;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{XATTR_COUNT_MAX, XATTR_LIST_MAX, XattrMode};

fn no_attr(name: &str) -> Refusal {
    refuse(
        ErrorCode::NoSuchAttribute,
        format!("no extended attribute {name:?}"),
    )
}

impl St<'_> {
    pub(crate) fn setxattr(&mut self, req: &SetXattr) -> Res<Reply> {
        let mut rec = self.inode(req.ino)?;
        let key = db::xattr_key(req.ino, &req.name);
        let exists = self.tx.get(&key)?.is_some();
        match req.mode {
            XattrMode::Create if exists => {
                return Err(refuse(
                    ErrorCode::AlreadyExists,
                    format!("extended attribute {:?} exists", req.name),
                )
                .into());
            }
            XattrMode::Replace if !exists => return Err(no_attr(&req.name).into()),
            _ => {}
        }
        if !exists {
            let prefix = db::xattr_prefix(req.ino);
            let (mut count, mut list) = (0, req.name.len() + 1);
            for (k, _) in self.tx.scan(&prefix, &prefix, usize::MAX)? {
                count += 1;
                list += k.len() - prefix.len() + 1;
            }
            if count >= XATTR_COUNT_MAX {
                return Err(refuse(
                    ErrorCode::NoSpace,
                    format!("an inode carries at most {XATTR_COUNT_MAX} extended attributes"),
                )
                .into());
            }
            if list > XATTR_LIST_MAX {
                return Err(refuse(
                    ErrorCode::NoSpace,
                    format!("an inode's attribute names take at most {XATTR_LIST_MAX} bytes"),
                )
                .into());
            }
        }
        rec.ctime = self.ctx.now;
        self.tx.put(key, req.value.clone());
        self.put_inode(req.ino, &rec);
        self.changed(vec![(req.ino, None)]);
        Ok(Reply::Attr(rec.attr(req.ino)))
    }

    pub(crate) fn removexattr(&mut self, req: &RemoveXattr) -> Res<Reply> {
        let mut rec = self.inode(req.ino)?;
        let key = db::xattr_key(req.ino, &req.name);
        if self.tx.get(&key)?.is_none() {
            return Err(no_attr(&req.name).into());
        }
        rec.ctime = self.ctx.now;
        self.tx.delete(key);
        self.put_inode(req.ino, &rec);
        self.changed(vec![(req.ino, None)]);
        Ok(Reply::Attr(rec.attr(req.ino)))
    }
}
