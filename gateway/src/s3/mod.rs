//! The S3 gateway: an `s3s::S3` implementation over the ferrofs client. s3s parses the
//! HTTP requests, checks SigV4 signatures against the configured keys and writes the
//! XML; this module maps operations onto the namespace (see `keys`) and streams
//! bodies through the client. The operations aws-cli, boto3, rclone and pyarrow use
//! are implemented; the rest answer `NotImplemented` (s3s's default).

mod buckets;
pub mod checksums;
mod errors;
pub mod keys;
pub mod list;
pub mod meta;
pub mod multipart;
mod objects;

use crate::fsio::try_resolve;
use errors::{bucket_err, key_err};
use ferrofs_client::Client;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use meta::{META_XATTR, ObjectMeta};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

/// Settings of the S3 service itself (keys and listeners are the server's).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Region reported by GetBucketLocation; `us-east-1` reports none, as AWS does.
    pub region: String,
    /// Smallest part other than the last that CompleteMultipartUpload accepts.
    pub min_part_size: u64,
}

/// The S3 service over one cluster.
#[derive(Clone)]
pub struct FerroS3 {
    client: Client,
    settings: S3Settings,
}

impl FerroS3 {
    pub fn new(client: Client, settings: S3Settings) -> FerroS3 {
        FerroS3 { client, settings }
    }

    /// The bucket's directory, or `NoSuchBucket`.
    async fn bucket(&self, bucket: &str) -> S3Result<Attr> {
        let path = keys::bucket_path(bucket)?;
        match try_resolve(&self.client, &path).await.map_err(bucket_err)? {
            Some(a) if a.kind == FileKind::Dir => Ok(a),
            _ => Err(s3_error!(NoSuchBucket, "bucket {bucket:?} does not exist")),
        }
    }

    /// An object's attributes and stored metadata: `NoSuchBucket` or `NoSuchKey` if
    /// absent. A key ending in `/` names a directory; others name regular files.
    async fn object(&self, bucket: &str, key: &str) -> S3Result<(Attr, Option<ObjectMeta>)> {
        let (path, is_dir) = keys::object_path(bucket, key)?;
        let found = try_resolve(&self.client, &path).await.map_err(key_err)?;
        let want = if is_dir {
            FileKind::Dir
        } else {
            FileKind::File
        };
        match found {
            Some(a) if a.kind == want => {
                let meta = self.meta_of(&a).await?;
                Ok((a, meta))
            }
            _ => {
                self.bucket(bucket).await?;
                Err(s3_error!(
                    NoSuchKey,
                    "no object {key:?} in bucket {bucket:?}"
                ))
            }
        }
    }

    async fn meta_of(&self, a: &Attr) -> S3Result<Option<ObjectMeta>> {
        if a.kind != FileKind::File {
            return Ok(None);
        }
        match self.client.getxattr(a.ino, META_XATTR).await {
            Ok(v) => Ok(ObjectMeta::decode(&v)),
            Err(e) if e.is(ErrorCode::NoSuchAttribute) || e.is(ErrorCode::NotFound) => Ok(None),
            Err(e) => Err(key_err(e)),
        }
    }
}

/// ETag of empty content (directory markers).
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

fn etag(attr: &Attr, meta: Option<&ObjectMeta>) -> ETag {
    if attr.kind == FileKind::Dir {
        return ETag::Strong(EMPTY_MD5.into());
    }
    ETag::Strong(meta::etag_for(attr, meta))
}

fn timestamp(t: Timespec) -> Timestamp {
    Timestamp::from(t.to_system_time())
}

/// Size as S3's signed type.
fn size_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl S3 for FerroS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.do_list_buckets(req.input).await.map(S3Response::new)
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.do_create_bucket(req.input).await.map(S3Response::new)
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.do_delete_bucket(req.input).await.map(S3Response::new)
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.bucket(&req.input.bucket).await?;
        let region = &self.settings.region;
        let location_constraint =
            (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.do_list_objects_v1(req.input)
            .await
            .map(S3Response::new)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.do_list_objects_v2(req.input)
            .await
            .map(S3Response::new)
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.do_put_object(req.input, req.trailing_headers)
            .await
            .map(S3Response::new)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.do_get_object(req.input).await.map(S3Response::new)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.do_head_object(req.input).await.map(S3Response::new)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = req.input;
        self.do_delete_object(&i.bucket, &i.key).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.do_delete_objects(req.input).await.map(S3Response::new)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.do_copy_object(req.input).await.map(S3Response::new)
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.do_create_multipart(req.input)
            .await
            .map(S3Response::new)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.do_upload_part(req.input, req.trailing_headers)
            .await
            .map(S3Response::new)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.do_list_parts(req.input).await.map(S3Response::new)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.do_complete_multipart(req.input)
            .await
            .map(S3Response::new)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.do_abort_multipart(req.input)
            .await
            .map(S3Response::new)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.do_list_uploads(req.input).await.map(S3Response::new)
    }
}
