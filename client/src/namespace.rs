//! Namespace calls, by inode (for FUSE) and by path (for the CLI).

use crate::Client;
use crate::error::{ClientError, Result};
use ferrofs_proto::namespace::*;
use ferrofs_proto::rpc;
use ferrofs_proto::{ApiError, ErrorCode, Ino, ROOT_INO};

impl Client {
    pub async fn lookup(&self, parent: Ino, name: &str) -> Result<Attr> {
        self.master
            .rpc::<rpc::Lookup>(&LookupReq {
                parent,
                name: name.to_string(),
            })
            .await
    }

    pub async fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.master.rpc::<rpc::Getattr>(&GetattrReq { ino }).await
    }

    pub async fn resolve(&self, path: &str) -> Result<Attr> {
        self.master
            .rpc::<rpc::Resolve>(&ResolveReq {
                path: path.to_string(),
            })
            .await
    }

    pub async fn setattr(&self, req: SetattrReq) -> Result<Attr> {
        self.master.rpc::<rpc::Setattr>(&req).await
    }

    pub async fn create(&self, req: CreateReq) -> Result<CreateResp> {
        self.master.rpc::<rpc::Create>(&req).await
    }

    pub async fn unlink(
        &self,
        parent: Ino,
        name: &str,
        dir: bool,
        keep_open: bool,
    ) -> Result<UnlinkResp> {
        self.master
            .rpc::<rpc::Unlink>(&UnlinkReq {
                parent,
                name: name.to_string(),
                dir,
                keep_open,
            })
            .await
    }

    pub async fn rename(&self, req: RenameReq) -> Result<RenameResp> {
        self.master.rpc::<rpc::Rename>(&req).await
    }

    pub async fn link(&self, ino: Ino, new_parent: Ino, new_name: &str) -> Result<Attr> {
        self.master
            .rpc::<rpc::Link>(&LinkReq {
                ino,
                new_parent,
                new_name: new_name.to_string(),
            })
            .await
    }

    pub async fn readdir(
        &self,
        ino: Ino,
        after: Option<String>,
        limit: u32,
    ) -> Result<ReaddirResp> {
        self.master
            .rpc::<rpc::Readdir>(&ReaddirReq { ino, after, limit })
            .await
    }

    /// Every entry of a directory, following pagination.
    pub async fn readdir_all(&self, ino: Ino) -> Result<Vec<DirEntry>> {
        let mut out = vec![];
        let mut after = None;
        loop {
            // Whole pages: a listing of 10,000 entries is one call, not ten.
            let r = self
                .readdir(
                    ino,
                    after.clone(),
                    ferrofs_proto::namespace::READDIR_MAX_LIMIT,
                )
                .await?;
            after = r.entries.last().map(|e| e.name.clone());
            out.extend(r.entries);
            if !r.more {
                return Ok(out);
            }
        }
    }

    pub async fn readlink(&self, ino: Ino) -> Result<String> {
        let r: ReadlinkResp = self
            .master
            .rpc::<rpc::Readlink>(&GetattrReq { ino })
            .await?;
        Ok(r.target)
    }

    /// Value of extended attribute `name` (`NoSuchAttribute` if unset).
    pub async fn getxattr(&self, ino: Ino, name: &str) -> Result<Vec<u8>> {
        let req = XattrReq {
            ino,
            name: name.to_string(),
        };
        let r: XattrValue = self.master.rpc::<rpc::Getxattr>(&req).await?;
        Ok(r.value)
    }

    pub async fn listxattr(&self, ino: Ino) -> Result<Vec<String>> {
        let r: XattrList = self
            .master
            .rpc::<rpc::Listxattr>(&GetattrReq { ino })
            .await?;
        Ok(r.names)
    }

    pub async fn setxattr(
        &self,
        ino: Ino,
        name: &str,
        value: Vec<u8>,
        mode: XattrMode,
    ) -> Result<Attr> {
        let req = SetxattrReq {
            ino,
            name: name.to_string(),
            value,
            mode,
        };
        self.master.rpc::<rpc::Setxattr>(&req).await
    }

    pub async fn removexattr(&self, ino: Ino, name: &str) -> Result<Attr> {
        let req = XattrReq {
            ino,
            name: name.to_string(),
        };
        self.master.rpc::<rpc::Removexattr>(&req).await
    }

    pub async fn release(&self, ino: Ino) -> Result<()> {
        self.master.rpc::<rpc::Release>(&ReleaseReq { ino }).await?;
        Ok(())
    }

    pub async fn statfs(&self) -> Result<StatfsResp> {
        self.master.rpc::<rpc::Statfs>(&Empty {}).await
    }

    /// Resolve the parent directory of `path` and return it with the last name.
    pub async fn parent_of(&self, path: &str) -> Result<(Attr, String)> {
        let (dir, name) = ferrofs_proto::path::split_parent(path)?;
        let parent = self.resolve(&dir).await?;
        if parent.kind != FileKind::Dir {
            return Err(ClientError::Api(ApiError::new(
                ErrorCode::NotADirectory,
                format!("{dir}: not a directory"),
            )));
        }
        Ok((parent, name))
    }

    pub async fn mkdir(&self, path: &str, mode: u32) -> Result<Attr> {
        let (parent, name) = self.parent_of(path).await?;
        let r = self
            .create(CreateReq {
                parent: parent.ino,
                name,
                kind: FileKind::Dir,
                mode,
                uid: 0,
                gid: 0,
                rdev: 0,
                symlink_target: None,
                exclusive: true,
                replication: None,
            })
            .await
            .map_err(|e| with_path(e, path))?;
        Ok(r.attr)
    }

    /// Create a directory and its missing parents; existing directories are fine.
    pub async fn mkdir_p(&self, path: &str) -> Result<Attr> {
        let parts = ferrofs_proto::path::components(path)?;
        let mut ino = ROOT_INO;
        let mut attr = self.getattr(ROOT_INO).await?;
        for p in parts {
            attr = match self.lookup(ino, p).await {
                Ok(a) => a,
                Err(e) if e.is(ErrorCode::NotFound) => {
                    match self
                        .create(CreateReq {
                            parent: ino,
                            name: p.to_string(),
                            kind: FileKind::Dir,
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            rdev: 0,
                            symlink_target: None,
                            exclusive: true,
                            replication: None,
                        })
                        .await
                    {
                        Ok(r) => r.attr,
                        Err(e) if e.is(ErrorCode::AlreadyExists) => self.lookup(ino, p).await?,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            if attr.kind != FileKind::Dir {
                return Err(ClientError::Api(ApiError::new(
                    ErrorCode::NotADirectory,
                    format!("{p}: not a directory"),
                )));
            }
            ino = attr.ino;
        }
        Ok(attr)
    }

    /// Remove a file or an empty directory by path.
    pub async fn remove(&self, path: &str) -> Result<()> {
        let (parent, name) = self.parent_of(path).await?;
        let a = self
            .lookup(parent.ino, &name)
            .await
            .map_err(|e| with_path(e, path))?;
        self.unlink(parent.ino, &name, a.kind == FileKind::Dir, false)
            .await
            .map_err(|e| with_path(e, path))?;
        Ok(())
    }

    /// Remove a tree, depth first.
    pub async fn remove_all(&self, path: &str) -> Result<u64> {
        let a = self.resolve(path).await.map_err(|e| with_path(e, path))?;
        let mut removed = 0;
        if a.kind == FileKind::Dir {
            // Files go as they are found; directories after, deepest first.
            let mut stack = vec![a.ino];
            let mut parents: Vec<(Ino, String)> = vec![];
            while let Some(ino) = stack.pop() {
                for e in self.readdir_all(ino).await? {
                    if e.attr.kind == FileKind::Dir {
                        stack.push(e.attr.ino);
                        parents.push((ino, e.name));
                    } else {
                        self.unlink(ino, &e.name, false, false).await?;
                        removed += 1;
                    }
                }
            }
            for (parent, name) in parents.into_iter().rev() {
                self.unlink(parent, &name, true, false).await?;
                removed += 1;
            }
            if path != "/" {
                self.remove(path).await?;
                removed += 1;
            }
        } else {
            self.remove(path).await?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Rename by path. If `to` is an existing directory, move into it (like `mv`).
    pub async fn rename_path(&self, from: &str, to: &str) -> Result<()> {
        let (fp, fname) = self.parent_of(from).await?;
        self.lookup(fp.ino, &fname)
            .await
            .map_err(|e| with_path(e, from))?;
        let (tp, tname) = match self.resolve(to).await {
            Ok(a) if a.kind == FileKind::Dir && to != "/" => (a, fname.clone()),
            Ok(_) | Err(_) if to == "/" => (self.resolve("/").await?, fname.clone()),
            _ => self.parent_of(to).await?,
        };
        self.rename(RenameReq {
            parent: fp.ino,
            name: fname,
            new_parent: tp.ino,
            new_name: tname,
            noreplace: false,
            exchange: false,
            keep_open: false,
        })
        .await
        .map_err(|e| with_path(e, to))?;
        Ok(())
    }
}

/// Prefix a refusal's message with the path the user gave.
pub(crate) fn with_path(e: ClientError, path: &str) -> ClientError {
    match e {
        ClientError::Api(mut a) => {
            let short = match a.code {
                ErrorCode::NotFound => Some("no such file or directory"),
                ErrorCode::AlreadyExists => Some("already exists"),
                ErrorCode::NotADirectory => Some("not a directory"),
                ErrorCode::IsADirectory => Some("is a directory"),
                ErrorCode::NotEmpty => Some("directory not empty"),
                _ => None,
            };
            a.message = match short {
                Some(s) => format!("{path}: {s}"),
                None => format!("{path}: {}", a.message),
            };
            ClientError::Api(a)
        }
        other => other,
    }
}
