//! Multipart uploads, written so that completing one usually copies nothing.
//!
//! An upload is a directory `/.ferrofs-multipart/<upload-id>/` holding a `data` file
//! and one `part-NNNNN` entry per part. Clients (aws-cli, boto3, rclone) cut an object
//! into parts of one size `S` except a shorter last one, so part 1's length fixes `S`
//! (an extended attribute created once; part 1 is the one part that is never a short
//! last part, unless it is the only one) and every part no longer than `S` is written
//! straight into `data` at `(N-1)*S`, its entry an empty file labelled with its size,
//! MD5 and offset. Clients send their parts concurrently, so a part that arrives before
//! part 1 waits for it a moment (`SLOT_WAIT`). If the parts completed are all in place
//! and consecutive, completion truncates `data` to the total and renames it to the
//! key: no byte is copied. A part that cannot go in place (part 1 never came, or it is
//! longer than `S`, or of unknown length) is parked in its own entry; completion then
//! copies just the parked parts into their places in `data`, and only a part list
//! that disagrees with the in-place layout (parts skipped) makes it copy every part
//! into a new file.
//!
//! A part that fails its checksum loses its entry (its in-place bytes may have been
//! overwritten), so it must be sent again. Two uploads of the same part running at
//! the same moment (a client retrying a request the gateway is still serving) may mix
//! their bytes in place; the entry then names whichever finished last, whose MD5 may
//! not match the mixed bytes. Clients retry only after a failure, so this needs a
//! gateway that keeps writing after its client gave up.

use super::checksums::Expected;
use super::errors::{Missing, key_err, s3_err};
use super::keys;
use super::meta::{META_XATTR, multipart_etag};
use super::objects::{NewMeta, body_reader};
use super::{FerroS3, size_i64, timestamp};
use crate::fsio::{HashingReader, read_stream, try_resolve};
use ferrofs_client::Client;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{
    Attr, CreateReq, FileKind, RenameReq, SetattrReq, Timespec, XattrMode,
};
use s3s::dto::*;
use s3s::{S3Error, S3Result, TrailingHeaders, s3_error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where uploads in progress live.
pub const UPLOADS_DIR: &str = "/.ferrofs-multipart";
const UPLOAD_XATTR: &str = "user.ferrofs.s3.upload";
const SLOT_XATTR: &str = "user.ferrofs.s3.slot";
const PART_XATTR: &str = "user.ferrofs.s3.part";
const DATA: &str = "data";
/// Highest part number S3 allows.
pub const MAX_PART: i32 = 10_000;
/// How long a part that arrives before part 1 waits for part 1 to fix the slot size.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadRecord {
    v: u8,
    bucket: String,
    key: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    initiated: Timespec,
}

/// What is known of one uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub size: u64,
    /// MD5 of the part, hex.
    pub etag: String,
    /// Offset in `data` where the part was written; None: parked in its own entry.
    pub offset: Option<u64>,
}

/// Offset in `data` for part `n` of `len` bytes when parts are `slot` bytes apart, or
/// None if it must be parked (longer than a slot, or of unknown length).
pub fn slot_offset(slot: u64, n: u32, len: Option<u64>) -> Option<u64> {
    match len {
        Some(l) if slot > 0 && l <= slot => Some(u64::from(n - 1) * slot),
        _ => None,
    }
}

/// How a completed upload's bytes come together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every part already sits at its offset in `data`: rename it.
    InPlace,
    /// Parts in `data` are at their offsets, the others parked: copy those in.
    Patch,
    /// Some part in `data` is not where the object needs it: copy every part.
    Copy,
}

/// How to assemble a completed upload.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Parts in order with the offset each has in the object.
    pub parts: Vec<(u32, PartRecord, u64)>,
    pub total: u64,
    pub layout: Layout,
    pub etag: String,
}

/// Check the part list of a CompleteMultipartUpload against the parts received.
pub fn plan(
    listed: &[(i32, Option<String>)],
    have: &BTreeMap<u32, PartRecord>,
    min_part: u64,
) -> S3Result<Plan> {
    if listed.is_empty() {
        return Err(s3_error!(InvalidRequest, "the part list is empty"));
    }
    let mut parts = vec![];
    let mut total = 0u64;
    let mut last = 0i32;
    for (i, (n, etag)) in listed.iter().enumerate() {
        if *n <= last {
            return Err(s3_error!(
                InvalidPartOrder,
                "parts must be listed in ascending order"
            ));
        }
        last = *n;
        let rec = u32::try_from(*n)
            .ok()
            .and_then(|n| have.get(&n))
            .ok_or_else(|| s3_error!(InvalidPart, "part {n} was not uploaded"))?;
        if let Some(e) = etag
            && e.trim_matches('"') != rec.etag
        {
            return Err(s3_error!(
                InvalidPart,
                "part {n}: ETag {e} does not match the part uploaded"
            ));
        }
        if i + 1 < listed.len() && rec.size < min_part {
            return Err(s3_error!(
                EntityTooSmall,
                "part {n} has {} bytes; every part but the last needs at least {min_part}",
                rec.size
            ));
        }
        parts.push((*n as u32, rec.clone(), total));
        total += rec.size;
    }
    let layout = if parts.iter().all(|(_, r, off)| r.offset == Some(*off)) {
        Layout::InPlace
    } else if parts
        .iter()
        .all(|(_, r, off)| r.offset.is_none_or(|o| o == *off))
    {
        Layout::Patch
    } else {
        Layout::Copy
    };
    let etag = multipart_etag(
        &parts
            .iter()
            .map(|(_, r, _)| r.etag.clone())
            .collect::<Vec<_>>(),
    )
    .ok_or_else(|| s3_error!(InternalError, "a part has a malformed ETag"))?;
    Ok(Plan {
        parts,
        total,
        layout,
        etag,
    })
}

fn part_name(n: u32) -> String {
    format!("part-{n:05}")
}

fn upload_err(e: ferrofs_client::ClientError) -> S3Error {
    s3_err(e, Missing::Upload)
}

fn check_upload_id(id: &str) -> S3Result<()> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(s3_error!(NoSuchUpload, "no upload {id:?}"))
    }
}

async fn get_json<T: for<'de> Deserialize<'de>>(
    c: &Client,
    ino: u64,
    name: &str,
) -> S3Result<Option<T>> {
    match c.getxattr(ino, name).await {
        Ok(v) => Ok(serde_json::from_slice(&v).ok()),
        Err(e) if e.is(ErrorCode::NoSuchAttribute) => Ok(None),
        Err(e) => Err(upload_err(e)),
    }
}

async fn create_file(
    c: &Client,
    parent: u64,
    name: &str,
    replication: Option<u8>,
) -> S3Result<Attr> {
    let r = c
        .create(CreateReq {
            parent,
            name: name.to_string(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            symlink_target: None,
            exclusive: false,
            replication,
        })
        .await
        .map_err(upload_err)?;
    Ok(r.attr)
}

impl FerroS3 {
    /// The upload's directory and record; `NoSuchUpload` unless it is for this key.
    async fn upload(&self, bucket: &str, key: &str, id: &str) -> S3Result<(Attr, UploadRecord)> {
        check_upload_id(id)?;
        let dir = try_resolve(&self.client, &format!("{UPLOADS_DIR}/{id}"))
            .await
            .map_err(upload_err)?
            .ok_or_else(|| s3_error!(NoSuchUpload, "no upload {id:?}"))?;
        let rec: UploadRecord = get_json(&self.client, dir.ino, UPLOAD_XATTR)
            .await?
            .filter(|r: &UploadRecord| r.bucket == bucket && r.key == key)
            .ok_or_else(|| s3_error!(NoSuchUpload, "no upload {id:?} for {bucket}/{key}"))?;
        Ok((dir, rec))
    }

    /// Every part entry of an upload.
    async fn parts_of(&self, dir: &Attr) -> S3Result<BTreeMap<u32, (PartRecord, Attr)>> {
        let mut out = BTreeMap::new();
        for e in self.client.readdir_all(dir.ino).await.map_err(upload_err)? {
            let Some(n) = e
                .name
                .strip_prefix("part-")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(r) = get_json::<PartRecord>(&self.client, e.attr.ino, PART_XATTR).await? {
                out.insert(n, (r, e.attr));
            }
        }
        Ok(out)
    }

    pub(super) async fn do_create_multipart(
        &self,
        i: CreateMultipartUploadInput,
    ) -> S3Result<CreateMultipartUploadOutput> {
        let (_, is_dir) = keys::object_path(&i.bucket, &i.key)?;
        if is_dir {
            return Err(s3_error!(
                InvalidRequest,
                "a key ending in \"/\" is a directory"
            ));
        }
        let bucket = self.bucket(&i.bucket).await?;
        let id = format!("{:032x}", rand::random::<u128>());
        let root = self.client.mkdir_p(UPLOADS_DIR).await.map_err(key_err)?;
        let dir = self
            .client
            .mkdir(&format!("{UPLOADS_DIR}/{id}"), 0o755)
            .await
            .map_err(key_err)?;
        debug_assert_ne!(root.ino, dir.ino);
        let rec = UploadRecord {
            v: 1,
            bucket: i.bucket.clone(),
            key: i.key.clone(),
            content_type: i.content_type,
            metadata: i
                .metadata
                .map(|m| m.into_iter().collect())
                .unwrap_or_default(),
            initiated: Timespec::now(),
        };
        let raw = serde_json::to_vec(&rec).expect("plain struct");
        self.client
            .setxattr(dir.ino, UPLOAD_XATTR, raw, XattrMode::Create)
            .await
            .map_err(key_err)?;
        create_file(&self.client, dir.ino, DATA, Some(bucket.replication)).await?;
        Ok(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(id),
            ..Default::default()
        })
    }

    /// The upload's slot size: part 1's length. Other parts wait for it a moment;
    /// 0 if it is not known (the part is then parked).
    async fn slot(&self, dir: &Attr, n: u32, len: Option<u64>) -> S3Result<u64> {
        if let Some(s) = get_json::<u64>(&self.client, dir.ino, SLOT_XATTR).await? {
            return Ok(s);
        }
        let len = match len.filter(|l| *l > 0) {
            Some(l) if n == 1 => l,
            None if n == 1 => return Ok(0),
            _ => {
                let deadline = tokio::time::Instant::now() + SLOT_WAIT;
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    if let Some(s) = get_json::<u64>(&self.client, dir.ino, SLOT_XATTR).await? {
                        return Ok(s);
                    }
                }
                return Ok(0);
            }
        };
        match self
            .client
            .setxattr(
                dir.ino,
                SLOT_XATTR,
                len.to_string().into_bytes(),
                XattrMode::Create,
            )
            .await
        {
            Ok(_) => Ok(len),
            Err(e) if e.is(ErrorCode::AlreadyExists) => {
                Ok(get_json::<u64>(&self.client, dir.ino, SLOT_XATTR)
                    .await?
                    .unwrap_or(0))
            }
            Err(e) => Err(upload_err(e)),
        }
    }

    pub(super) async fn do_upload_part(
        &self,
        i: UploadPartInput,
        trailers: Option<TrailingHeaders>,
    ) -> S3Result<UploadPartOutput> {
        if !(1..=MAX_PART).contains(&i.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number must be between 1 and {MAX_PART}"
            ));
        }
        let n = i.part_number as u32;
        let (dir, _) = self.upload(&i.bucket, &i.key, &i.upload_id).await?;
        let len = i.content_length.map(|l| l.max(0) as u64);
        let slot = self.slot(&dir, n, len).await?;
        let offset = slot_offset(slot, n, len);
        let mut expected = Expected {
            content_md5: i.content_md5,
            sums: Checksum {
                checksum_crc32: i.checksum_crc32,
                checksum_crc32c: i.checksum_crc32c,
                checksum_sha256: i.checksum_sha256,
                ..Default::default()
            },
            algorithm: i.checksum_algorithm,
        };
        let mut hr = HashingReader::new(body_reader(i.body), expected.hasher()?);
        let name = part_name(n);
        // Where the bytes go: `data` at the part's slot, or a parked file renamed over
        // the part's entry once complete.
        let (target, at, parked) = match offset {
            Some(off) => {
                let data = self
                    .client
                    .lookup(dir.ino, DATA)
                    .await
                    .map_err(upload_err)?;
                (data, off, None)
            }
            None => {
                let tmp = format!("tmp-{:016x}", rand::random::<u64>());
                let f = create_file(&self.client, dir.ino, &tmp, None).await?;
                (f, 0, Some(tmp))
            }
        };
        let result = async {
            let (got, _) = self
                .client
                .write_stream(target.ino, at, &mut hr, parked.is_some())
                .await
                .map_err(upload_err)?;
            if let Some(want) = len.filter(|w| *w != got) {
                return Err(s3_error!(
                    IncompleteBody,
                    "the part had {got} bytes, Content-Length said {want}"
                ));
            }
            let md5 = s3s::crypto::Checksum::finalize(std::mem::take(&mut hr.md5));
            let sums = std::mem::take(&mut hr.sums).finalize();
            expected.add_trailers(trailers.as_ref())?;
            expected.verify(&md5, &sums)?;
            Ok((got, hex::encode(md5), sums))
        }
        .await;
        let (size, etag, sums) = match result {
            Ok(r) => r,
            Err(e) => {
                // The part's old bytes may be overwritten: forget it.
                let _ = self.client.unlink(dir.ino, &name, false, false).await;
                if let Some(tmp) = &parked {
                    let _ = self.client.unlink(dir.ino, tmp, false, false).await;
                }
                return Err(e);
            }
        };
        let rec = PartRecord { size, etag, offset };
        let raw = serde_json::to_vec(&rec).expect("plain struct");
        match &parked {
            Some(tmp) => {
                self.client
                    .setxattr(target.ino, PART_XATTR, raw, XattrMode::Either)
                    .await
                    .map_err(upload_err)?;
                self.client
                    .rename(RenameReq {
                        parent: dir.ino,
                        name: tmp.clone(),
                        new_parent: dir.ino,
                        new_name: name,
                        noreplace: false,
                        exchange: false,
                        keep_open: false,
                    })
                    .await
                    .map_err(upload_err)?;
            }
            None => {
                let entry = create_file(&self.client, dir.ino, &name, None).await?;
                if entry.size > 0 {
                    self.client
                        .truncate(entry.ino, 0)
                        .await
                        .map_err(upload_err)?;
                }
                self.client
                    .setxattr(entry.ino, PART_XATTR, raw, XattrMode::Either)
                    .await
                    .map_err(upload_err)?;
            }
        }
        Ok(UploadPartOutput {
            e_tag: Some(ETag::Strong(rec.etag)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha256: sums.checksum_sha256,
            ..Default::default()
        })
    }

    pub(super) async fn do_list_parts(&self, i: ListPartsInput) -> S3Result<ListPartsOutput> {
        let (dir, _) = self.upload(&i.bucket, &i.key, &i.upload_id).await?;
        let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let all = self.parts_of(&dir).await?;
        let mut parts: Vec<Part> = all
            .iter()
            .filter(|(n, _)| **n > marker)
            .take(max + 1)
            .map(|(n, (r, a))| Part {
                part_number: Some(*n as i32),
                size: Some(size_i64(r.size)),
                e_tag: Some(ETag::Strong(r.etag.clone())),
                last_modified: Some(timestamp(a.ctime)),
                ..Default::default()
            })
            .collect();
        let truncated = parts.len() > max;
        parts.truncate(max);
        let next = parts.last().and_then(|p| p.part_number);
        Ok(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            parts: Some(parts),
            is_truncated: Some(truncated),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: if truncated { next } else { None },
            max_parts: Some(max as i32),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        })
    }

    pub(super) async fn do_complete_multipart(
        &self,
        i: CompleteMultipartUploadInput,
    ) -> S3Result<CompleteMultipartUploadOutput> {
        let (dir, rec) = self.upload(&i.bucket, &i.key, &i.upload_id).await?;
        let listed: Vec<(i32, Option<String>)> = i
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                (
                    p.part_number.unwrap_or(0),
                    p.e_tag.map(|e| e.value().to_string()),
                )
            })
            .collect();
        let have = self.parts_of(&dir).await?;
        let records = have.iter().map(|(n, (r, _))| (*n, r.clone())).collect();
        let plan = plan(&listed, &records, self.settings.min_part_size)?;
        let (parent, name) = self.parent_for(&i.bucket, &i.key).await?;
        let new = NewMeta {
            content_type: rec.content_type.clone(),
            metadata: Some(rec.metadata.clone().into_iter().collect()),
        };
        let data = self
            .client
            .lookup(dir.ino, DATA)
            .await
            .map_err(upload_err)?;
        let parked = plan
            .parts
            .iter()
            .filter(|(_, r, _)| r.offset.is_none())
            .count();
        let (upload, parts) = (&i.upload_id, plan.parts.len());
        let assembled = match plan.layout {
            Layout::InPlace => {
                tracing::info!(%upload, parts, "parts in place: completing by rename");
                self.client
                    .truncate(data.ino, plan.total)
                    .await
                    .map_err(upload_err)?
            }
            Layout::Patch => {
                tracing::info!(%upload, parts, parked, "copying the parked parts into place");
                self.patch_parked(&data, &have, &plan).await?
            }
            Layout::Copy => {
                tracing::info!(%upload, parts, "parts out of place: copying them all");
                self.assemble_by_copy(&dir, &data, &have, &plan).await?
            }
        };
        let meta = new.into_meta(plan.etag.clone(), &assembled);
        self.client
            .setxattr(assembled.ino, META_XATTR, meta.encode(), XattrMode::Either)
            .await
            .map_err(key_err)?;
        let name_in_dir = if plan.layout != Layout::Copy {
            DATA.to_string()
        } else {
            COPY.to_string()
        };
        self.client
            .rename(RenameReq {
                parent: dir.ino,
                name: name_in_dir,
                new_parent: parent.ino,
                new_name: name,
                noreplace: false,
                exchange: false,
                keep_open: false,
            })
            .await
            .map_err(|e| {
                if e.is(ErrorCode::IsADirectory) || e.is(ErrorCode::NotEmpty) {
                    s3_error!(
                        InvalidRequest,
                        "cannot store {:?}: a directory of that name exists",
                        i.key
                    )
                } else {
                    key_err(e)
                }
            })?;
        if assembled.replication != parent.replication {
            let _ = self
                .client
                .setattr(SetattrReq {
                    ino: assembled.ino,
                    replication: Some(parent.replication),
                    ..Default::default()
                })
                .await;
        }
        self.remove_upload(&i.upload_id).await;
        Ok(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            e_tag: Some(ETag::Strong(plan.etag)),
            ..Default::default()
        })
    }

    /// Copy the parked parts into their places in `data` (the others are there).
    async fn patch_parked(
        &self,
        data: &Attr,
        have: &BTreeMap<u32, (PartRecord, Attr)>,
        plan: &Plan,
    ) -> S3Result<Attr> {
        for (n, r, at) in plan.parts.iter().filter(|(_, r, _)| r.offset.is_none()) {
            let src = &have[n].1;
            let reader =
                tokio_util::io::StreamReader::new(read_stream(&self.client, src, 0, r.size));
            let (got, _) = self
                .client
                .write_stream(data.ino, *at, reader, false)
                .await
                .map_err(upload_err)?;
            if got != r.size {
                return Err(s3_error!(
                    InternalError,
                    "part {n} read back {got} of {} bytes",
                    r.size
                ));
            }
        }
        self.client
            .truncate(data.ino, plan.total)
            .await
            .map_err(upload_err)
    }

    /// Copy every part, in order, into a new file `COPY` in the upload directory.
    async fn assemble_by_copy(
        &self,
        dir: &Attr,
        data: &Attr,
        have: &BTreeMap<u32, (PartRecord, Attr)>,
        plan: &Plan,
    ) -> S3Result<Attr> {
        let out = create_file(&self.client, dir.ino, COPY, None).await?;
        if out.size > 0 {
            self.client.truncate(out.ino, 0).await.map_err(upload_err)?;
        }
        let data = self.client.getattr(data.ino).await.map_err(upload_err)?;
        let mut attr = out;
        for (n, r, at) in &plan.parts {
            let (src, start) = match r.offset {
                Some(off) => (&data, off),
                None => (&have[n].1, 0),
            };
            let stream = read_stream(&self.client, src, start, start + r.size);
            let reader = tokio_util::io::StreamReader::new(stream);
            let (got, a) = self
                .client
                .write_stream(attr.ino, *at, reader, false)
                .await
                .map_err(upload_err)?;
            if got != r.size {
                return Err(s3_error!(
                    InternalError,
                    "part {n} read back {got} of {} bytes",
                    r.size
                ));
            }
            attr = a;
        }
        self.client
            .truncate(attr.ino, plan.total)
            .await
            .map_err(upload_err)
    }

    async fn remove_upload(&self, id: &str) {
        if let Err(e) = self.client.remove_all(&format!("{UPLOADS_DIR}/{id}")).await {
            tracing::warn!(upload = %id, error = %e, "could not remove a finished upload's directory");
        }
    }

    pub(super) async fn do_abort_multipart(
        &self,
        i: AbortMultipartUploadInput,
    ) -> S3Result<AbortMultipartUploadOutput> {
        self.upload(&i.bucket, &i.key, &i.upload_id).await?;
        self.client
            .remove_all(&format!("{UPLOADS_DIR}/{}", i.upload_id))
            .await
            .map_err(upload_err)?;
        Ok(AbortMultipartUploadOutput::default())
    }

    pub(super) async fn do_list_uploads(
        &self,
        i: ListMultipartUploadsInput,
    ) -> S3Result<ListMultipartUploadsOutput> {
        self.bucket(&i.bucket).await?;
        let mut uploads = vec![];
        if let Some(root) = try_resolve(&self.client, UPLOADS_DIR)
            .await
            .map_err(key_err)?
        {
            for e in self.client.readdir_all(root.ino).await.map_err(key_err)? {
                let Some(r) =
                    get_json::<UploadRecord>(&self.client, e.attr.ino, UPLOAD_XATTR).await?
                else {
                    continue;
                };
                let prefix_ok = i.prefix.as_deref().is_none_or(|p| r.key.starts_with(p));
                if r.bucket == i.bucket && prefix_ok {
                    uploads.push(MultipartUpload {
                        key: Some(r.key),
                        upload_id: Some(e.name),
                        initiated: Some(timestamp(r.initiated)),
                        ..Default::default()
                    });
                }
            }
        }
        uploads.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            uploads: Some(uploads),
            is_truncated: Some(false),
            prefix: i.prefix,
            ..Default::default()
        })
    }
}

/// Name of the file a copying completion assembles into.
const COPY: &str = "assembled";

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(size: u64, etag: &str, offset: Option<u64>) -> PartRecord {
        PartRecord {
            size,
            etag: etag.into(),
            offset,
        }
    }

    const E1: &str = "0cc175b9c0f1b6a831c399e269772661";
    const E2: &str = "92eb5ffee6ae2fec3ad71c777531578f";
    const E3: &str = "4a8a08f09d37b73795649038408b5f33";

    #[test]
    fn parts_go_to_their_slot_unless_longer_or_unknown() {
        assert_eq!(slot_offset(8, 1, Some(8)), Some(0));
        assert_eq!(slot_offset(8, 3, Some(8)), Some(16));
        assert_eq!(slot_offset(8, 4, Some(5)), Some(24)); // a last part
        assert_eq!(slot_offset(8, 2, Some(9)), None);
        assert_eq!(slot_offset(8, 2, None), None);
        assert_eq!(slot_offset(0, 1, Some(3)), None);
    }

    #[test]
    fn equal_parts_in_place_complete_without_copy() {
        let have = BTreeMap::from([
            (1, rec(8, E1, Some(0))),
            (2, rec(8, E2, Some(8))),
            (3, rec(3, E3, Some(16))),
        ]);
        let listed = [
            (1, Some(format!("\"{E1}\""))),
            (2, None),
            (3, Some(E3.to_string())),
        ];
        let p = plan(&listed, &have, 8).unwrap();
        assert_eq!(p.layout, Layout::InPlace);
        assert_eq!(p.total, 19);
        assert_eq!(
            p.parts.iter().map(|(_, _, o)| *o).collect::<Vec<_>>(),
            [0, 8, 16]
        );
        assert!(p.etag.ends_with("-3"));
    }

    #[test]
    fn parked_parts_are_patched_in_and_misplaced_ones_force_a_copy() {
        // Part 2 came before part 1 and was parked: copy only it.
        let have = BTreeMap::from([
            (1, rec(8, E1, Some(0))),
            (2, rec(8, E2, None)),
            (3, rec(3, E3, Some(16))),
        ]);
        let p = plan(&[(1, None), (2, None), (3, None)], &have, 1).unwrap();
        assert_eq!(p.layout, Layout::Patch);
        assert_eq!(p.total, 19);
        // A slot of 3 (from a client whose part 1 was short): part 3 sits at 6, where
        // part 1's bytes belong.
        let have = BTreeMap::from([
            (1, rec(3, E1, Some(0))),
            (2, rec(8, E2, None)),
            (3, rec(3, E3, Some(6))),
        ]);
        let p = plan(&[(1, None), (2, None), (3, None)], &have, 1).unwrap();
        assert_eq!(p.layout, Layout::Copy);
    }

    #[test]
    fn skipping_a_part_is_not_in_place() {
        let have = BTreeMap::from([(1, rec(8, E1, Some(0))), (3, rec(8, E3, Some(16)))]);
        let p = plan(&[(1, None), (3, None)], &have, 1).unwrap();
        assert_eq!(
            p.layout,
            Layout::Copy,
            "part 3 belongs at 8 in the object, not 16"
        );
    }

    #[test]
    fn bad_part_lists_are_refused_with_s3_codes() {
        let have = BTreeMap::from([(1, rec(8, E1, Some(0))), (2, rec(2, E2, Some(8)))]);
        let code = |l: &[(i32, Option<String>)], min| {
            plan(l, &have, min).unwrap_err().code().as_str().to_string()
        };
        assert_eq!(code(&[(2, None), (1, None)], 1), "InvalidPartOrder");
        assert_eq!(code(&[(1, None), (1, None)], 1), "InvalidPartOrder");
        assert_eq!(code(&[(1, None), (5, None)], 1), "InvalidPart");
        assert_eq!(code(&[(1, Some(E2.into()))], 1), "InvalidPart");
        assert_eq!(code(&[(1, None), (2, None)], 9), "EntityTooSmall");
        assert_eq!(code(&[], 1), "InvalidRequest");
        // The last part may be small.
        assert!(plan(&[(1, None), (2, None)], &have, 8).is_ok());
    }
}
