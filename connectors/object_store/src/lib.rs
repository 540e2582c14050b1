//! `object_store::ObjectStore` over a ferrofs cluster, so Rust data tools (DataFusion,
//! Polars, delta-rs) read and write ferrofs files directly through the client: no
//! gateway between, reads go to the chunkservers.
//!
//! A store is rooted at a directory (`/` or, matching the S3 gateway, a bucket's
//! `/<bucket>`); an object path's segments are file names there (as object_store
//! encodes them, like its `LocalFileSystem`). Directories are implied: a put creates
//! them, a delete removes the ones it leaves empty, listings never show them as
//! objects. Puts and copies are written in the client's staging directory and renamed
//! into place, so no reader sees half an object; multipart uploads write each part
//! at its offset as it comes (no copy at completion).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use object_store::{ObjectStore, ObjectStoreExt, path::Path};
//! let client = ferrofs_client::Client::new(ferrofs_client::ClientConfig::new("http://127.0.0.1:9000"))?;
//! let store = ferrofs_object_store::FerroStore::new(client, "/data")?;
//! store.put(&Path::from("t/hello.txt"), "hello".into()).await?;
//! # Ok(()) }
//! ```

mod errors;
mod multipart;
mod walk;

use async_trait::async_trait;
use bytes::Bytes;
use errors::{generic, to_os};
use ferrofs_client::staged::Staged;
use ferrofs_client::{Client, ClientError};
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, FileKind, RenameReq};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, RenameTargetMode, Result,
};

/// Bytes per read request of a streamed get.
const READ_PIECE: u64 = 4 << 20;
/// Read requests in flight per get.
const READ_AHEAD: usize = 4;

/// An object store on a ferrofs directory tree.
#[derive(Clone)]
pub struct FerroStore {
    client: Client,
    /// Absolute directory the store is rooted at, without a trailing `/` ("" is `/`).
    root: String,
}

impl std::fmt::Debug for FerroStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FerroStore({}, {})",
            self.client.config().master,
            self.root_path()
        )
    }
}

impl std::fmt::Display for FerroStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ferrofs({}{})",
            self.client.config().master,
            self.root_path()
        )
    }
}

impl FerroStore {
    /// A store rooted at directory `root` (absolute; created on the first put).
    pub fn new(client: Client, root: &str) -> Result<FerroStore> {
        if !root.starts_with('/') {
            return Err(generic(format!(
                "the root {root:?} must be an absolute path"
            )));
        }
        if root != "/" {
            ferrofs_proto::path::components(root).map_err(|e| generic(e.message))?;
        }
        Ok(FerroStore {
            client,
            root: root.trim_end_matches('/').to_string(),
        })
    }

    fn root_path(&self) -> &str {
        if self.root.is_empty() {
            "/"
        } else {
            &self.root
        }
    }

    /// The ferrofs path of an object path.
    fn fs_path(&self, p: &Path) -> String {
        if p.as_ref().is_empty() {
            self.root_path().to_string()
        } else {
            format!("{}/{}", self.root, p.as_ref())
        }
    }

    /// Attributes of the file at `location` (NotFound for directories, as for S3).
    async fn file(&self, location: &Path) -> Result<Attr> {
        let path = self.fs_path(location);
        let a = self
            .client
            .resolve(&path)
            .await
            .map_err(|e| to_os(e, location))?;
        if a.kind != FileKind::File {
            return Err(to_os(not_found(), location));
        }
        Ok(a)
    }

    /// Parent directory of an object (created) and its file name.
    async fn parent_of(&self, location: &Path) -> Result<(Attr, String)> {
        let path = self.fs_path(location);
        let (dir, name) =
            ferrofs_proto::path::split_parent(&path).map_err(|e| generic(e.message))?;
        let parent = self
            .client
            .mkdir_p(&dir)
            .await
            .map_err(|e| to_os(e, location))?;
        Ok((parent, name))
    }

    /// Write `reader` into a staged file and rename it to `location`.
    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &self,
        location: &Path,
        reader: R,
        replace: bool,
    ) -> Result<Attr> {
        let (parent, name) = self.parent_of(location).await?;
        if !replace && self.client.lookup(parent.ino, &name).await.is_ok() {
            return Err(to_os(exists(), location));
        }
        let staged = Staged::create(&self.client, parent.replication)
            .await
            .map_err(|e| to_os(e, location))?;
        let written = self
            .client
            .write_stream(staged.attr.ino, 0, reader, true)
            .await;
        let attr = match written {
            Ok((_, a)) => a,
            Err(e) => {
                staged.discard(&self.client).await;
                return Err(to_os(e, location));
            }
        };
        staged
            .publish(&self.client, &parent, &name, replace)
            .await
            .map_err(|e| to_os(e, location))?;
        Ok(attr)
    }

    /// Remove the directories above `path` that are now empty, up to the root.
    async fn prune(&self, path: &str) {
        let mut dir = ferrofs_proto::path::split_parent(path)
            .map(|d| d.0)
            .unwrap_or_default();
        while dir.len() > self.root.len() && dir.starts_with(&self.root) && dir != "/" {
            let Ok(a) = self.client.resolve(&dir).await else {
                return;
            };
            match self.client.readdir(a.ino, None, 1).await {
                Ok(p) if p.entries.is_empty() => {}
                _ => return,
            }
            if self.client.remove(&dir).await.is_err() {
                return;
            }
            dir = ferrofs_proto::path::split_parent(&dir)
                .map(|d| d.0)
                .unwrap_or_default();
        }
    }

    async fn delete_one(&self, location: &Path) -> Result<()> {
        let path = self.fs_path(location);
        self.file(location).await?;
        self.client
            .remove(&path)
            .await
            .map_err(|e| to_os(e, location))?;
        self.prune(&path).await;
        Ok(())
    }
}

pub(crate) fn not_found() -> ClientError {
    ClientError::Api(ferrofs_proto::ApiError::new(
        ErrorCode::NotFound,
        "not a file",
    ))
}

fn exists() -> ClientError {
    ClientError::Api(ferrofs_proto::ApiError::new(
        ErrorCode::AlreadyExists,
        "exists",
    ))
}

/// Object metadata of a file. The e-tag names this version of the file (inode, size,
/// mtime), as `LocalFileSystem`'s does.
pub(crate) fn meta(location: Path, a: &Attr) -> ObjectMeta {
    ObjectMeta {
        location,
        last_modified: chrono::DateTime::<chrono::Utc>::from(a.mtime.to_system_time()),
        size: a.size,
        e_tag: Some(format!(
            "{:x}-{:x}.{:x}-{:x}",
            a.ino, a.mtime.sec, a.mtime.nsec, a.size
        )),
        version: None,
    }
}

/// A reader over a payload's pieces.
fn payload_reader(p: PutPayload) -> impl tokio::io::AsyncRead + Unpin {
    let parts: Vec<Bytes> = p.into_iter().collect();
    tokio_util::io::StreamReader::new(futures::stream::iter(
        parts.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

#[async_trait]
impl ObjectStore for FerroStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let replace = match opts.mode {
            PutMode::Overwrite => true,
            PutMode::Create => false,
            PutMode::Update(_) => {
                return Err(object_store::Error::NotImplemented {
                    operation: "put with PutMode::Update".into(),
                    implementer: "FerroStore".into(),
                });
            }
        };
        let a = self
            .store(location, payload_reader(payload), replace)
            .await?;
        Ok(PutResult {
            e_tag: meta(location.clone(), &a).e_tag,
            version: None,
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let (parent, name) = self.parent_of(location).await?;
        let staged = Staged::create(&self.client, parent.replication)
            .await
            .map_err(|e| to_os(e, location))?;
        Ok(Box::new(multipart::Upload::new(
            self.client.clone(),
            location.clone(),
            staged,
            parent,
            name,
        )))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let a = self.file(location).await?;
        let m = meta(location.clone(), &a);
        options.check_preconditions(&m)?;
        let range = match &options.range {
            Some(r) => r
                .as_range(a.size)
                .map_err(|e| object_store::Error::Generic {
                    store: "ferrofs",
                    source: Box::new(e),
                })?,
            None => 0..a.size,
        };
        let payload = if options.head || range.is_empty() {
            futures::stream::empty().boxed()
        } else {
            let (client, ino, size, end) = (self.client.clone(), a.ino, a.size, range.end);
            client.invalidate(ino);
            futures::stream::iter((range.start..end).step_by(READ_PIECE as usize))
                .map(move |off| {
                    let c = client.clone();
                    async move { c.read_at(ino, off, READ_PIECE.min(end - off), size).await }
                })
                .buffered(READ_AHEAD)
                .map_err(generic_err)
                .boxed()
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta: m,
            range,
            attributes: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let me = self.clone();
        locations
            .and_then(move |p| {
                let me = me.clone();
                async move { me.delete_one(&p).await.map(|_| p) }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        walk::list(self.clone(), prefix.cloned().unwrap_or_default())
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        walk::list_with_delimiter(self, prefix.cloned().unwrap_or_default()).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let src = self.file(from).await?;
        let (client, ino, size) = (self.client.clone(), src.ino, src.size);
        client.invalidate(ino);
        let pieces = futures::stream::iter((0..size).step_by(READ_PIECE as usize))
            .map(move |off| {
                let c = client.clone();
                async move {
                    c.read_at(ino, off, READ_PIECE.min(size - off), size)
                        .await
                        .map_err(std::io::Error::other)
                }
            })
            .buffered(READ_AHEAD)
            .boxed();
        let replace = matches!(options.mode, CopyMode::Overwrite);
        self.store(to, tokio_util::io::StreamReader::new(pieces), replace)
            .await?;
        Ok(())
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.file(from).await?;
        let from_path = self.fs_path(from);
        let (fdir, fname) =
            ferrofs_proto::path::split_parent(&from_path).map_err(|e| generic(e.message))?;
        let fparent = self
            .client
            .resolve(&fdir)
            .await
            .map_err(|e| to_os(e, from))?;
        let (tparent, tname) = self.parent_of(to).await?;
        self.client
            .rename(RenameReq {
                parent: fparent.ino,
                name: fname,
                new_parent: tparent.ino,
                new_name: tname,
                noreplace: matches!(options.target_mode, RenameTargetMode::Create),
                exchange: false,
                keep_open: false,
            })
            .await
            .map_err(|e| to_os(e, to))?;
        self.prune(&from_path).await;
        Ok(())
    }
}

fn generic_err(e: ClientError) -> object_store::Error {
    object_store::Error::Generic {
        store: "ferrofs",
        source: Box::new(e),
    }
}

impl FerroStore {
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}
