//! Objects: PUT (streamed into a staged file, hashed on the way, renamed into place),
//! GET with ranges (streamed out), HEAD, DELETE (one or many), and CopyObject (a
//! server-side stream copy).
//!
//! A delete removes the directories it leaves empty, up to the bucket: in S3 a prefix
//! exists only while objects are under it, and `aws s3 rm --recursive` should leave
//! nothing to list. A directory marker (`dir/`) is deleted only while its directory is
//! empty, and never takes the objects under it along.

use super::checksums::Expected;
use super::errors::key_err;
use super::keys::{self, parent_dir};
use super::meta::{META_XATTR, ObjectMeta};
use super::{EMPTY_MD5, FerroS3, etag, size_i64, timestamp};
use crate::fsio::{HashingReader, Staged, read_stream, try_resolve};
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, FileKind, XattrMode};
use futures::TryStreamExt;
use s3s::dto::*;
use s3s::{S3Result, TrailingHeaders, s3_error};
use tokio::io::AsyncRead;

/// Metadata given with an upload.
#[derive(Default)]
pub(super) struct NewMeta {
    pub content_type: Option<String>,
    pub metadata: Option<Metadata>,
}

/// An object body on its way in: the bytes, the checksums the request declared (and its
/// trailers may add), and the length it promised.
pub(super) struct Body<'a, R> {
    pub reader: R,
    pub expected: Expected,
    pub trailers: Option<&'a TrailingHeaders>,
    pub length: Option<u64>,
}

impl NewMeta {
    pub(super) fn into_meta(self, etag: String, attr: &Attr) -> ObjectMeta {
        let mut m = ObjectMeta::new(etag, attr);
        m.content_type = self.content_type;
        m.metadata = self
            .metadata
            .map(|h| h.into_iter().collect())
            .unwrap_or_default();
        m
    }
}

/// The request body as an `AsyncRead`.
pub(super) fn body_reader(body: Option<StreamingBlob>) -> impl AsyncRead + Unpin + Send {
    let stream =
        futures::StreamExt::flatten(futures::stream::iter(body)).map_err(std::io::Error::other);
    tokio_util::io::StreamReader::new(stream)
}

/// Read a body to its end (an empty one, or trailers only) so the connection is
/// ready for the next request.
async fn drain(body: Option<StreamingBlob>) {
    if let Some(mut b) = body {
        while let Some(Ok(_)) = futures::StreamExt::next(&mut b).await {}
    }
}

fn http_date_range(start: u64, end: u64, size: u64) -> String {
    format!("bytes {start}-{}/{size}", end.saturating_sub(1))
}

impl FerroS3 {
    /// Make the object's parent directories (the bucket must exist) and return the
    /// parent and the file name.
    pub(super) async fn parent_for(&self, bucket: &str, key: &str) -> S3Result<(Attr, String)> {
        let (path, _) = keys::object_path(bucket, key)?;
        self.bucket(bucket).await?;
        let dir = parent_dir(&path);
        let parent = self.client.mkdir_p(dir).await.map_err(|e| {
            if e.is(ErrorCode::NotADirectory) {
                s3_error!(
                    InvalidRequest,
                    "cannot store {key:?}: a file is in the way of its directories"
                )
            } else {
                key_err(e)
            }
        })?;
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        Ok((parent, name))
    }

    /// Stream `body` into a staged file, check it, label it and rename it to `key`.
    /// Returns the object's attributes, metadata and the checksums computed.
    pub(super) async fn store<R: AsyncRead + Unpin>(
        &self,
        bucket: &str,
        key: &str,
        body: Body<'_, R>,
        new: NewMeta,
    ) -> S3Result<(Attr, ObjectMeta, Checksum)> {
        let Body {
            reader,
            mut expected,
            trailers,
            length,
        } = body;
        let (parent, name) = self.parent_for(bucket, key).await?;
        let staged = Staged::create(&self.client, parent.replication)
            .await
            .map_err(key_err)?;
        let mut hr = HashingReader::new(reader, expected.hasher()?);
        let written = self
            .client
            .write_stream(staged.attr.ino, 0, &mut hr, true)
            .await;
        let checked = match written {
            Err(e) => Err(key_err(e)),
            Ok((n, attr)) => match length {
                Some(want) if want != n => Err(s3_error!(
                    IncompleteBody,
                    "the body had {n} bytes, Content-Length said {want}"
                )),
                _ => Ok(attr),
            },
        };
        let attr = match checked {
            Ok(a) => a,
            Err(e) => {
                staged.discard(&self.client).await;
                return Err(e);
            }
        };
        let HashingReader { md5, sums, .. } = hr;
        let md5 = s3s::crypto::Checksum::finalize(md5);
        let sums = sums.finalize();
        let labelled = async {
            expected.add_trailers(trailers)?;
            expected.verify(&md5, &sums)?;
            let meta = new.into_meta(hex::encode(md5), &attr);
            self.client
                .setxattr(attr.ino, META_XATTR, meta.encode(), XattrMode::Either)
                .await
                .map_err(key_err)?;
            Ok(meta)
        }
        .await;
        let meta = match labelled {
            Ok(m) => m,
            Err(e) => {
                staged.discard(&self.client).await;
                return Err(e);
            }
        };
        staged
            .publish(&self.client, &parent, &name, true)
            .await
            .map_err(|e| {
                if e.is(ErrorCode::IsADirectory) || e.is(ErrorCode::NotEmpty) {
                    s3_error!(
                        InvalidRequest,
                        "cannot store {key:?}: a directory of that name exists"
                    )
                } else {
                    key_err(e)
                }
            })?;
        Ok((attr, meta, sums))
    }

    pub(super) async fn do_put_object(
        &self,
        i: PutObjectInput,
        trailers: Option<TrailingHeaders>,
    ) -> S3Result<PutObjectOutput> {
        let (path, is_dir) = keys::object_path(&i.bucket, &i.key)?;
        let length = i.content_length.map(|n| n.max(0) as u64);
        if is_dir {
            if length.unwrap_or(0) > 0 {
                return Err(s3_error!(
                    InvalidRequest,
                    "a key ending in \"/\" is a directory and takes no content"
                ));
            }
            drain(i.body).await;
            self.bucket(&i.bucket).await?;
            self.client.mkdir_p(&path).await.map_err(|e| {
                if e.is(ErrorCode::NotADirectory) {
                    s3_error!(
                        InvalidRequest,
                        "cannot create {:?}: a file is in the way",
                        i.key
                    )
                } else {
                    key_err(e)
                }
            })?;
            return Ok(PutObjectOutput {
                e_tag: Some(ETag::Strong(EMPTY_MD5.into())),
                ..Default::default()
            });
        }
        let expected = Expected {
            content_md5: i.content_md5.clone(),
            sums: Checksum {
                checksum_crc32: i.checksum_crc32.clone(),
                checksum_crc32c: i.checksum_crc32c.clone(),
                checksum_sha1: i.checksum_sha1.clone(),
                checksum_sha256: i.checksum_sha256.clone(),
                checksum_crc64nvme: i.checksum_crc64nvme.clone(),
                ..Default::default()
            },
            algorithm: i.checksum_algorithm.clone(),
        };
        let new = NewMeta {
            content_type: i.content_type.clone(),
            metadata: i.metadata,
        };
        let (attr, meta, sums) = self
            .store(
                &i.bucket,
                &i.key,
                Body {
                    reader: body_reader(i.body),
                    expected,
                    trailers: trailers.as_ref(),
                    length,
                },
                new,
            )
            .await?;
        Ok(PutObjectOutput {
            e_tag: Some(ETag::Strong(meta.etag)),
            size: Some(size_i64(attr.size)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            ..Default::default()
        })
    }

    pub(super) async fn do_get_object(&self, i: GetObjectInput) -> S3Result<GetObjectOutput> {
        let (attr, meta) = self.object(&i.bucket, &i.key).await?;
        let size = attr.size;
        let (start, end) = match &i.range {
            None => (0, size),
            Some(r) => {
                let r = r.check(size)?;
                (r.start, r.end)
            }
        };
        let body = if attr.kind == FileKind::File && end > start {
            StreamingBlob::wrap(read_stream(&self.client, &attr, start, end))
        } else {
            StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
        };
        let m = meta.as_ref();
        Ok(GetObjectOutput {
            body: Some(body),
            content_length: Some(size_i64(end - start)),
            content_range: i.range.is_some().then(|| http_date_range(start, end, size)),
            accept_ranges: Some("bytes".into()),
            last_modified: Some(timestamp(attr.mtime)),
            e_tag: Some(etag(&attr, m)),
            content_type: m.and_then(|m| m.content_type.clone()),
            metadata: m.map(|m| m.metadata.clone().into_iter().collect()),
            ..Default::default()
        })
    }

    pub(super) async fn do_head_object(&self, i: HeadObjectInput) -> S3Result<HeadObjectOutput> {
        let (attr, meta) = self.object(&i.bucket, &i.key).await?;
        let m = meta.as_ref();
        let (len, range) = match &i.range {
            None => (attr.size, None),
            Some(r) => {
                let r = r.check(attr.size)?;
                (
                    r.end - r.start,
                    Some(http_date_range(r.start, r.end, attr.size)),
                )
            }
        };
        Ok(HeadObjectOutput {
            content_length: Some(size_i64(len)),
            content_range: range,
            accept_ranges: Some("bytes".into()),
            last_modified: Some(timestamp(attr.mtime)),
            e_tag: Some(etag(&attr, m)),
            content_type: m.and_then(|m| m.content_type.clone()),
            metadata: m.map(|m| m.metadata.clone().into_iter().collect()),
            ..Default::default()
        })
    }

    /// Delete one key; deleting a key that does not exist succeeds, as in S3.
    pub(super) async fn do_delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        let (path, is_dir) = keys::object_path(bucket, key)?;
        let b = self.bucket(bucket).await?;
        let Some(a) = try_resolve(&self.client, &path).await.map_err(key_err)? else {
            return Ok(());
        };
        let removed = match (a.kind, is_dir) {
            (FileKind::Dir, true) => match self.client.remove(&path).await {
                Ok(()) => true,
                Err(e) if e.is(ErrorCode::NotEmpty) => false,
                Err(e) if e.is(ErrorCode::NotFound) => false,
                Err(e) => return Err(key_err(e)),
            },
            (FileKind::Dir, false) | (_, true) => false, // not the object named
            (_, false) => match self.client.remove(&path).await {
                Ok(()) => true,
                Err(e) if e.is(ErrorCode::NotFound) => false,
                Err(e) => return Err(key_err(e)),
            },
        };
        if removed {
            self.prune_empty_parents(&path, b.ino).await;
        }
        Ok(())
    }

    /// Remove the directories above `path` that are now empty, up to the bucket.
    async fn prune_empty_parents(&self, path: &str, bucket_ino: ferrofs_proto::Ino) {
        let mut dir = parent_dir(path).to_string();
        while dir.matches('/').count() > 1 {
            let Ok(Some(a)) = try_resolve(&self.client, &dir).await else {
                return;
            };
            if a.ino == bucket_ino {
                return;
            }
            match self.client.readdir(a.ino, None, 1).await {
                Ok(p) if p.entries.is_empty() => {}
                _ => return,
            }
            // A put racing into it makes this fail with NotEmpty: then it stays.
            if self.client.remove(&dir).await.is_err() {
                return;
            }
            dir = parent_dir(&dir).to_string();
        }
    }

    pub(super) async fn do_delete_objects(
        &self,
        i: DeleteObjectsInput,
    ) -> S3Result<DeleteObjectsOutput> {
        self.bucket(&i.bucket).await?;
        let quiet = i.delete.quiet.unwrap_or(false);
        let mut deleted = vec![];
        let mut errors = vec![];
        for o in i.delete.objects {
            match self.do_delete_object(&i.bucket, &o.key).await {
                Ok(()) if quiet => {}
                Ok(()) => deleted.push(DeletedObject {
                    key: Some(o.key),
                    ..Default::default()
                }),
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_string()),
                    message: e.message().map(str::to_string),
                    key: Some(o.key),
                    version_id: None,
                }),
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            ..Default::default()
        })
    }

    pub(super) async fn do_copy_object(&self, i: CopyObjectInput) -> S3Result<CopyObjectOutput> {
        let (src_bucket, src_key) = match &i.copy_source {
            CopySource::Bucket { bucket, key, .. } => (bucket.to_string(), key.to_string()),
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "only bucket/key copy sources are supported"
                ));
            }
        };
        let (src, src_meta) = self.object(&src_bucket, &src_key).await?;
        if src.kind != FileKind::File {
            return Err(s3_error!(InvalidRequest, "only files can be copied"));
        }
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let same = src_bucket == i.bucket && src_key == i.key;
        if same && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "copying an object onto itself needs the REPLACE metadata directive"
            ));
        }
        let new = if replace {
            NewMeta {
                content_type: i.content_type,
                metadata: i.metadata,
            }
        } else {
            let m = src_meta.unwrap_or_default();
            NewMeta {
                content_type: m.content_type,
                metadata: Some(m.metadata.into_iter().collect()),
            }
        };
        let stream = read_stream(&self.client, &src, 0, src.size);
        let reader = tokio_util::io::StreamReader::new(stream);
        let (attr, meta, _) = self
            .store(
                &i.bucket,
                &i.key,
                Body {
                    reader,
                    expected: Expected::default(),
                    trailers: None,
                    length: Some(src.size),
                },
                new,
            )
            .await?;
        Ok(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(meta.etag)),
                last_modified: Some(timestamp(attr.mtime)),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}
