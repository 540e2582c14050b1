//! The WebHDFS operations, each on the ferrofs namespace.

use super::json::{ContentSummary, FileStatus, HdfsError};
use super::{Params, WebHdfs};
use crate::fsio::{Staged, read_stream, try_resolve};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrofs_client::ClientError;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, FileKind, SetattrReq, TimeSet, Timespec};
use futures::TryStreamExt;
use serde_json::json;

type R = Result<Response, HdfsError>;

fn boolean(b: bool) -> R {
    Ok(axum::Json(json!({ "boolean": b })).into_response())
}

/// Paths the gateways keep for themselves (staging, multipart uploads).
fn internal(path: &str) -> bool {
    path.strip_prefix('/')
        .is_some_and(|p| p.starts_with(crate::s3::keys::INTERNAL_PREFIX))
}

fn body_reader(body: Body) -> impl tokio::io::AsyncRead + Unpin + Send {
    tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other))
}

impl WebHdfs {
    fn err(&self, path: &str) -> impl Fn(ClientError) -> HdfsError + '_ {
        let path = path.to_string();
        move |e| HdfsError::from_client(e, &path)
    }

    async fn attr(&self, path: &str) -> Result<Attr, HdfsError> {
        if internal(path) {
            return Err(HdfsError::not_found(path));
        }
        try_resolve(&self.client, path)
            .await
            .map_err(self.err(path))?
            .ok_or_else(|| HdfsError::not_found(path))
    }

    async fn block_size(&self) -> u64 {
        self.client
            .chunk_size()
            .await
            .unwrap_or(ferrofs_proto::DEFAULT_CHUNK_SIZE)
    }

    pub(super) async fn get_file_status(&self, path: &str) -> R {
        let a = self.attr(path).await?;
        let st = FileStatus::new(&a, "", self.block_size().await, &self.names);
        Ok(axum::Json(json!({ "FileStatus": st })).into_response())
    }

    pub(super) async fn list_status(&self, path: &str) -> R {
        let a = self.attr(path).await?;
        let bs = self.block_size().await;
        let statuses: Vec<FileStatus> = if a.kind == FileKind::Dir {
            self.client
                .readdir_all(a.ino)
                .await
                .map_err(self.err(path))?
                .into_iter()
                .filter(|e| !(path == "/" && internal(&format!("/{}", e.name))))
                .map(|e| FileStatus::new(&e.attr, &e.name, bs, &self.names))
                .collect()
        } else {
            vec![FileStatus::new(&a, "", bs, &self.names)]
        };
        Ok(axum::Json(json!({ "FileStatuses": { "FileStatus": statuses } })).into_response())
    }

    pub(super) async fn content_summary(&self, path: &str) -> R {
        let a = self.attr(path).await?;
        let mut s = ContentSummary {
            directory_count: 0,
            file_count: 0,
            length: 0,
            quota: -1,
            space_consumed: 0,
            space_quota: -1,
        };
        let mut stack = vec![a];
        while let Some(a) = stack.pop() {
            match a.kind {
                FileKind::Dir => {
                    s.directory_count += 1;
                    let kids = self
                        .client
                        .readdir_all(a.ino)
                        .await
                        .map_err(self.err(path))?;
                    stack.extend(kids.into_iter().map(|e| e.attr));
                }
                _ => {
                    s.file_count += 1;
                    s.length += a.size;
                    s.space_consumed += a.size * u64::from(a.replication);
                }
            }
        }
        Ok(axum::Json(json!({ "ContentSummary": s })).into_response())
    }

    pub(super) async fn open(&self, path: &str, p: &Params) -> R {
        let a = self.attr(path).await?;
        if a.kind != FileKind::File {
            return Err(HdfsError {
                status: StatusCode::NOT_FOUND,
                exception: "FileNotFoundException",
                java_class: "java.io.FileNotFoundException",
                message: format!("Path is not a file: {path}"),
            });
        }
        let offset = p.number::<u64>("offset")?.unwrap_or(0);
        if offset > a.size {
            return Err(HdfsError {
                status: StatusCode::FORBIDDEN,
                exception: "IOException",
                java_class: "java.io.IOException",
                message: format!(
                    "Offset={offset} out of the range [0, {}); OPEN, path={path}",
                    a.size
                ),
            });
        }
        let len = p.number::<u64>("length")?.unwrap_or(u64::MAX);
        let end = offset.saturating_add(len).min(a.size);
        let stream = read_stream(&self.client, &a, offset, end);
        Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_LENGTH, (end - offset).to_string()),
            ],
            Body::from_stream(stream),
        )
            .into_response())
    }

    pub(super) async fn create(&self, path: &str, p: &Params, body: Body) -> R {
        if internal(path) || path == "/" {
            return Err(HdfsError::illegal_argument(format!("cannot create {path}")));
        }
        let overwrite = p.flag("overwrite", false)?;
        let replication = p.number::<u8>("replication")?;
        if replication == Some(0) {
            return Err(HdfsError::illegal_argument(
                "replication must be at least 1",
            ));
        }
        let mode = p.permission()?.unwrap_or(0o644);
        match try_resolve(&self.client, path)
            .await
            .map_err(self.err(path))?
        {
            Some(a) if a.kind == FileKind::Dir => return Err(HdfsError::exists(path)),
            Some(_) if !overwrite => return Err(HdfsError::exists(path)),
            _ => {}
        }
        let (dir, name) = ferrofs_proto::path::split_parent(path)
            .map_err(|e| HdfsError::illegal_argument(e.message))?;
        let parent = self.client.mkdir_p(&dir).await.map_err(self.err(&dir))?;
        let staged = Staged::create(&self.client, replication.unwrap_or(parent.replication))
            .await
            .map_err(self.err(path))?;
        let ino = staged.attr.ino;
        let written = async {
            self.client
                .write_stream(ino, 0, body_reader(body), true)
                .await?;
            self.client
                .setattr(SetattrReq {
                    ino,
                    mode: Some(mode),
                    ..Default::default()
                })
                .await
        }
        .await;
        if let Err(e) = written {
            staged.discard(&self.client).await;
            return Err(self.err(path)(e));
        }
        staged
            .publish(&self.client, &parent, &name, overwrite)
            .await
            .map_err(self.err(path))?;
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("hdfs://{path}"))],
        )
            .into_response())
    }

    pub(super) async fn append(&self, path: &str, _p: &Params, body: Body) -> R {
        let a = self.attr(path).await?;
        if a.kind != FileKind::File {
            return Err(HdfsError::not_found(path));
        }
        if !self.appending.lock().insert(a.ino) {
            return Err(HdfsError {
                status: StatusCode::FORBIDDEN,
                exception: "AlreadyBeingCreatedException",
                java_class: "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
                message: format!("{path} is being appended to by another client"),
            });
        }
        // The size now, with this append the only writer we know of.
        let r = async {
            let a = self.client.getattr(a.ino).await?;
            self.client
                .write_stream(a.ino, a.size, body_reader(body), true)
                .await
        }
        .await;
        self.appending.lock().remove(&a.ino);
        r.map_err(self.err(path))?;
        Ok(StatusCode::OK.into_response())
    }

    pub(super) async fn mkdirs(&self, path: &str, p: &Params) -> R {
        if internal(path) {
            return Err(HdfsError::illegal_argument(format!("cannot create {path}")));
        }
        let mode = p.permission()?;
        let existed = try_resolve(&self.client, path)
            .await
            .map_err(self.err(path))?;
        let a = self.client.mkdir_p(path).await.map_err(self.err(path))?;
        if let (None, Some(m)) = (existed, mode) {
            self.client
                .setattr(SetattrReq {
                    ino: a.ino,
                    mode: Some(m),
                    ..Default::default()
                })
                .await
                .map_err(self.err(path))?;
        }
        boolean(true)
    }

    /// Hadoop's rename: false (not an error) when the source is missing, the target
    /// exists as a file, or the target's parent is missing; into an existing directory
    /// the source moves inside it.
    pub(super) async fn rename(&self, path: &str, p: &Params) -> R {
        let dest = p
            .get("destination")
            .filter(|d| d.starts_with('/'))
            .ok_or_else(|| HdfsError::illegal_argument("RENAME needs an absolute destination"))?;
        if internal(path) || internal(dest) || path == "/" {
            return boolean(false);
        }
        if try_resolve(&self.client, path)
            .await
            .map_err(self.err(path))?
            .is_none()
        {
            return boolean(false);
        }
        match try_resolve(&self.client, dest)
            .await
            .map_err(self.err(dest))?
        {
            Some(d) if d.kind != FileKind::Dir => return boolean(false),
            Some(_) => {}
            None => {
                let parent = ferrofs_proto::path::split_parent(dest)
                    .map_err(|e| HdfsError::illegal_argument(e.message))?
                    .0;
                match try_resolve(&self.client, &parent)
                    .await
                    .map_err(self.err(dest))?
                {
                    Some(d) if d.kind == FileKind::Dir => {}
                    _ => return boolean(false),
                }
            }
        }
        match self.client.rename_path(path, dest).await {
            Ok(()) => boolean(true),
            Err(e) if e.is(ErrorCode::InvalidArgument) || e.is(ErrorCode::NotEmpty) => {
                boolean(false)
            }
            Err(e) => Err(self.err(path)(e)),
        }
    }

    pub(super) async fn delete(&self, path: &str, p: &Params) -> R {
        let recursive = p.flag("recursive", false)?;
        if path == "/" || internal(path) {
            return boolean(false);
        }
        let Some(a) = try_resolve(&self.client, path)
            .await
            .map_err(self.err(path))?
        else {
            return boolean(false);
        };
        let r = if recursive && a.kind == FileKind::Dir {
            self.client.remove_all(path).await.map(|_| ())
        } else {
            self.client.remove(path).await
        };
        match r {
            Ok(()) => boolean(true),
            Err(e) if e.is(ErrorCode::NotEmpty) => Err(HdfsError::not_empty(path)),
            Err(e) if e.is(ErrorCode::NotFound) => boolean(false),
            Err(e) => Err(self.err(path)(e)),
        }
    }

    pub(super) async fn set_permission(&self, path: &str, p: &Params) -> R {
        let a = self.attr(path).await?;
        let mode = p.permission()?.unwrap_or(if a.kind == FileKind::Dir {
            0o755
        } else {
            0o644
        });
        self.setattr(
            path,
            SetattrReq {
                ino: a.ino,
                mode: Some(mode),
                ..Default::default()
            },
        )
        .await
    }

    pub(super) async fn set_replication(&self, path: &str, p: &Params) -> R {
        let a = self.attr(path).await?;
        let r = p.number::<u8>("replication")?.unwrap_or(3);
        if r == 0 {
            return Err(HdfsError::illegal_argument(
                "replication must be at least 1",
            ));
        }
        if a.kind != FileKind::File {
            return boolean(false);
        }
        self.client
            .setattr(SetattrReq {
                ino: a.ino,
                replication: Some(r),
                ..Default::default()
            })
            .await
            .map_err(self.err(path))?;
        boolean(true)
    }

    pub(super) async fn set_owner(&self, path: &str, p: &Params) -> R {
        let a = self.attr(path).await?;
        let uid = match p.get("owner").filter(|s| !s.is_empty()) {
            None => None,
            Some(o) => Some(
                self.names
                    .uid(o)
                    .ok_or_else(|| HdfsError::illegal_argument(format!("unknown user {o:?}")))?,
            ),
        };
        let gid = match p.get("group").filter(|s| !s.is_empty()) {
            None => None,
            Some(g) => Some(
                self.names
                    .gid(g)
                    .ok_or_else(|| HdfsError::illegal_argument(format!("unknown group {g:?}")))?,
            ),
        };
        if uid.is_none() && gid.is_none() {
            return Err(HdfsError::illegal_argument("SETOWNER needs owner or group"));
        }
        self.setattr(
            path,
            SetattrReq {
                ino: a.ino,
                uid,
                gid,
                ..Default::default()
            },
        )
        .await
    }

    pub(super) async fn set_times(&self, path: &str, p: &Params) -> R {
        let a = self.attr(path).await?;
        let at = |k: &str| -> Result<Option<TimeSet>, HdfsError> {
            Ok(p.number::<i64>(k)?.filter(|ms| *ms >= 0).map(|ms| {
                TimeSet::At(Timespec {
                    sec: ms / 1000,
                    nsec: ((ms % 1000) * 1_000_000) as u32,
                })
            }))
        };
        self.setattr(
            path,
            SetattrReq {
                ino: a.ino,
                mtime: at("modificationtime")?,
                atime: at("accesstime")?,
                ..Default::default()
            },
        )
        .await
    }

    async fn setattr(&self, path: &str, req: SetattrReq) -> R {
        self.client.setattr(req).await.map_err(self.err(path))?;
        Ok(StatusCode::OK.into_response())
    }
}
