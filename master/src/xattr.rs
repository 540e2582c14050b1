//! Extended attributes as the master serves them: `X ino name` -> value beside the
//! inode (stored by the state machine, `sm::xattr`). The master stores any namespace
//! the caller sends; which namespaces a mount passes through (and the permission
//! checks) are the mount's and the kernel's business.

use crate::db;
use crate::error::{Result, err};
use crate::sm::{self, Ctx, Op, Reply};
use crate::state::Master;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{
    Attr, SetxattrReq, XATTR_NAME_MAX, XATTR_SIZE_MAX, XattrList, XattrValue,
};

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
    pub async fn getxattr(&self, ino: Ino, name: &str) -> Result<XattrValue> {
        check_name(name)?;
        self.read_barrier().await?;
        self.inode(ino)?;
        match self.db.get_raw(&db::xattr_key(ino, name))? {
            Some(value) => Ok(XattrValue { value }),
            None => Err(no_attr(name)),
        }
    }

    pub async fn listxattr(&self, ino: Ino) -> Result<XattrList> {
        self.read_barrier().await?;
        self.inode(ino)?;
        let prefix = db::xattr_prefix(ino);
        let mut names = vec![];
        for kv in self.db.scan(&prefix) {
            let (k, _) = kv?;
            names.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(XattrList { names })
    }

    pub async fn setxattr(&self, ctx: Ctx, req: &SetxattrReq) -> Result<Attr> {
        check_name(&req.name)?;
        if req.value.len() > XATTR_SIZE_MAX {
            return Err(err(
                ErrorCode::PayloadTooLarge,
                format!("extended attribute value larger than {XATTR_SIZE_MAX} bytes"),
            ));
        }
        let op = Op::SetXattr(sm::SetXattr {
            ino: req.ino,
            name: req.name.clone(),
            value: req.value.clone(),
            mode: req.mode,
        });
        match self.propose(ctx, op).await?.0 {
            Reply::Attr(a) => Ok(a),
            r => Err(err(ErrorCode::Internal, format!("unexpected reply {r:?}"))),
        }
    }

    pub async fn removexattr(&self, ctx: Ctx, ino: Ino, name: &str) -> Result<Attr> {
        check_name(name)?;
        let op = Op::RemoveXattr(sm::RemoveXattr {
            ino,
            name: name.to_string(),
        });
        match self.propose(ctx, op).await?.0 {
            Reply::Attr(a) => Ok(a),
            r => Err(err(ErrorCode::Internal, format!("unexpected reply {r:?}"))),
        }
    }
}
