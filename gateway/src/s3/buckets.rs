//! Buckets (top-level directories) and the listing of their objects.

use super::errors::{bucket_err, key_err};
use super::keys::{self, INTERNAL_PREFIX};
use super::list::{self, After, Item, Query, Tree};
use super::{FerroS3, etag, size_i64, timestamp};
use ferrofs_client::Client;
use ferrofs_proto::namespace::{Attr, DirEntry, FileKind};
use ferrofs_proto::{ErrorCode, Ino, ROOT_INO};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3Result, s3_error};

/// Most keys one listing page returns (S3's limit).
const MAX_KEYS: usize = 1000;
/// Extended attribute reads in flight while a listing page collects ETags.
const META_READS: usize = 32;

struct ClusterTree<'a>(&'a Client);

impl Tree for ClusterTree<'_> {
    async fn children(&self, dir: Ino) -> Result<Vec<DirEntry>, S3Error> {
        self.0.readdir_all(dir).await.map_err(key_err)
    }
}

/// Percent-encode for `encoding-type=url` replies (aws-cli asks for it).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct Encoder(bool);

impl Encoder {
    fn new(t: &Option<EncodingType>) -> Encoder {
        Encoder(t.as_ref().is_some_and(|t| t.as_str() == EncodingType::URL))
    }
    fn enc(&self, s: &str) -> String {
        if self.0 { url_encode(s) } else { s.to_string() }
    }
    fn opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.enc(s))
    }
}

struct Listed {
    contents: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
    page: list::Page,
}

impl FerroS3 {
    pub(super) async fn do_list_buckets(&self, _: ListBucketsInput) -> S3Result<ListBucketsOutput> {
        let entries = self
            .client
            .readdir_all(ROOT_INO)
            .await
            .map_err(bucket_err)?;
        let buckets = entries
            .into_iter()
            .filter(|e| e.attr.kind == FileKind::Dir && s3s::path::check_bucket_name(&e.name))
            .map(|e| Bucket {
                creation_date: Some(timestamp(e.attr.ctime)),
                name: Some(e.name),
                bucket_region: None,
            })
            .collect();
        Ok(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner {
                display_name: Some("ferrofs".into()),
                id: Some("ferrofs".into()),
            }),
            ..Default::default()
        })
    }

    pub(super) async fn do_create_bucket(
        &self,
        i: CreateBucketInput,
    ) -> S3Result<CreateBucketOutput> {
        let path = keys::bucket_path(&i.bucket)?;
        debug_assert!(!i.bucket.starts_with(INTERNAL_PREFIX));
        match self.client.mkdir(&path, 0o755).await {
            Ok(_) => Ok(CreateBucketOutput {
                location: Some(path),
            }),
            Err(e) if e.is(ErrorCode::AlreadyExists) => match self.bucket(&i.bucket).await {
                Ok(_) => Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "bucket {:?} exists",
                    i.bucket
                )),
                Err(_) => Err(s3_error!(
                    BucketAlreadyExists,
                    "{path} exists and is not a directory"
                )),
            },
            Err(e) => Err(bucket_err(e)),
        }
    }

    pub(super) async fn do_delete_bucket(
        &self,
        i: DeleteBucketInput,
    ) -> S3Result<DeleteBucketOutput> {
        let b = self.bucket(&i.bucket).await?;
        let page = self
            .client
            .readdir(b.ino, None, 1)
            .await
            .map_err(bucket_err)?;
        if !page.entries.is_empty() {
            return Err(s3_error!(
                BucketNotEmpty,
                "bucket {:?} is not empty",
                i.bucket
            ));
        }
        self.client
            .remove(&keys::bucket_path(&i.bucket)?)
            .await
            .map_err(bucket_err)?;
        Ok(DeleteBucketOutput {})
    }

    async fn list_page(&self, bucket: &str, q: &Query, enc: &Encoder) -> S3Result<Listed> {
        let b = self.bucket(bucket).await?;
        let page = list::list(&ClusterTree(&self.client), b.ino, q).await?;
        let mut contents = vec![];
        let mut prefixes = vec![];
        let objects: Vec<_> = page
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Object { key, attr } => Some((key.clone(), attr.clone())),
                Item::Prefix(p) => {
                    prefixes.push(CommonPrefix {
                        prefix: Some(enc.enc(p)),
                    });
                    None
                }
            })
            .collect();
        // ETags need each file's metadata attribute: read them concurrently.
        let attrs: Vec<Attr> = objects.iter().map(|(_, a)| a.clone()).collect();
        let me = self.clone();
        let metas: Vec<_> = futures::stream::iter(attrs)
            .map(move |a| {
                let me = me.clone();
                async move { me.meta_of(&a).await }
            })
            .buffered(META_READS)
            .collect()
            .await;
        for ((key, attr), meta) in objects.into_iter().zip(metas) {
            let meta = meta?;
            contents.push(Object {
                key: Some(enc.enc(&key)),
                size: Some(size_i64(attr.size)),
                last_modified: Some(timestamp(attr.mtime)),
                e_tag: Some(etag(&attr, meta.as_ref())),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            });
        }
        Ok(Listed {
            contents,
            prefixes,
            page,
        })
    }

    pub(super) async fn do_list_objects_v2(
        &self,
        i: ListObjectsV2Input,
    ) -> S3Result<ListObjectsV2Output> {
        let enc = Encoder::new(&i.encoding_type);
        let after = match (&i.continuation_token, &i.start_after) {
            (Some(t), _) => After::from_token(t)?,
            (None, Some(s)) => After::Key(s.clone()),
            (None, None) => After::Start,
        };
        let q = Query {
            prefix: i.prefix.clone().unwrap_or_default(),
            delimiter: i.delimiter.clone(),
            after,
            max_keys: max_keys(i.max_keys)?,
        };
        let l = self.list_page(&i.bucket, &q, &enc).await?;
        Ok(ListObjectsV2Output {
            key_count: Some(l.page.items.len() as i32),
            max_keys: Some(q.max_keys as i32),
            is_truncated: Some(l.page.truncated),
            next_continuation_token: l.page.next_token(),
            continuation_token: i.continuation_token,
            start_after: enc.opt(i.start_after.as_deref()),
            contents: Some(l.contents),
            common_prefixes: Some(l.prefixes),
            delimiter: enc.opt(i.delimiter.as_deref()),
            encoding_type: i.encoding_type,
            name: Some(i.bucket),
            prefix: Some(enc.enc(&q.prefix)),
            ..Default::default()
        })
    }

    pub(super) async fn do_list_objects_v1(
        &self,
        i: ListObjectsInput,
    ) -> S3Result<ListObjectsOutput> {
        let enc = Encoder::new(&i.encoding_type);
        // A marker we handed out after a common prefix resumes past everything under it.
        let after = match (&i.marker, &i.delimiter) {
            (None, _) => After::Start,
            (Some(m), Some(d)) if !d.is_empty() && m.ends_with(d.as_str()) => {
                After::Prefix(m.clone())
            }
            (Some(m), _) => After::Key(m.clone()),
        };
        let q = Query {
            prefix: i.prefix.clone().unwrap_or_default(),
            delimiter: i.delimiter.clone(),
            after,
            max_keys: max_keys(i.max_keys)?,
        };
        let l = self.list_page(&i.bucket, &q, &enc).await?;
        let next_marker = l
            .page
            .truncated
            .then(|| l.page.last_name().map(|n| enc.enc(n)))
            .flatten();
        Ok(ListObjectsOutput {
            max_keys: Some(q.max_keys as i32),
            is_truncated: Some(l.page.truncated),
            next_marker,
            marker: enc.opt(i.marker.as_deref()),
            contents: Some(l.contents),
            common_prefixes: Some(l.prefixes),
            delimiter: enc.opt(i.delimiter.as_deref()),
            encoding_type: i.encoding_type,
            name: Some(i.bucket),
            prefix: Some(enc.enc(&q.prefix)),
            ..Default::default()
        })
    }
}

fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative")),
        Some(n) => Ok((n as usize).min(MAX_KEYS)),
    }
}
