//! What S3 keeps beside an object's bytes: its ETag, content type and user metadata,
//! in one extended attribute (`user.ferrofs.s3`, JSON with a format version) on the
//! file, set before the file is renamed into place, so it travels with the inode.
//!
//! The ETag is the MD5 of the content, computed while the bytes stream in (the value
//! aws-cli and boto3 check after a single-part PUT), or for a multipart upload the MD5
//! of the parts' MD5s with `-<parts>`, as S3 does. It is recorded with the size and
//! mtime the file had then: a file changed since through the mount or WebHDFS no
//! longer matches, and neither does a file that never went through S3. Such files get
//! an ETag derived from inode, size and mtime, with a `-1` suffix so clients that
//! treat a plain 32-hex ETag as an MD5 (rclone) do not check the content against it.
//! An xattr rather than a sidecar file: one master call reads it, and renames, links
//! and deletes of the file carry it along.

use ferrofs_proto::namespace::{Attr, Timespec};
use s3s::crypto::{Checksum, Md5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The extended attribute holding `ObjectMeta`.
pub const META_XATTR: &str = "user.ferrofs.s3";
const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Format version.
    pub v: u8,
    /// ETag value without quotes.
    pub etag: String,
    /// Size and mtime of the file the ETag was computed for.
    pub size: u64,
    pub mtime: Timespec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl ObjectMeta {
    pub fn new(etag: String, attr: &Attr) -> ObjectMeta {
        ObjectMeta {
            v: VERSION,
            etag,
            size: attr.size,
            mtime: attr.mtime,
            ..Default::default()
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain struct serializes")
    }

    /// Decode a stored value; None if it is not ours or of a newer format.
    pub fn decode(raw: &[u8]) -> Option<ObjectMeta> {
        serde_json::from_slice::<ObjectMeta>(raw)
            .ok()
            .filter(|m| m.v == VERSION)
    }

    /// Whether the recorded ETag still describes the file.
    pub fn matches(&self, attr: &Attr) -> bool {
        self.size == attr.size && self.mtime == attr.mtime
    }
}

/// The ETag to show for a file with these attributes and stored metadata.
pub fn etag_for(attr: &Attr, meta: Option<&ObjectMeta>) -> String {
    match meta {
        Some(m) if m.matches(attr) => m.etag.clone(),
        _ => {
            let id = format!(
                "{}:{}:{}.{}",
                attr.ino, attr.size, attr.mtime.sec, attr.mtime.nsec
            );
            format!("{}-1", hex::encode(Md5::checksum(id.as_bytes())))
        }
    }
}

/// ETag of a multipart object: MD5 of the concatenated binary part MD5s, `-<count>`.
pub fn multipart_etag(part_etags: &[String]) -> Option<String> {
    let mut h = Md5::new();
    for e in part_etags {
        h.update(&hex::decode(e).ok()?);
    }
    Some(format!(
        "{}-{}",
        hex::encode(h.finalize()),
        part_etags.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofs_proto::namespace::FileKind;

    fn attr(size: u64, sec: i64) -> Attr {
        Attr {
            ino: 7,
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            atime: Timespec::default(),
            mtime: Timespec { sec, nsec: 5 },
            ctime: Timespec::default(),
            nlink: 1,
            rdev: 0,
            replication: 3,
        }
    }

    #[test]
    fn stored_etag_holds_until_the_file_changes() {
        let a = attr(10, 100);
        let mut m = ObjectMeta::new("0123456789abcdef0123456789abcdef".into(), &a);
        m.content_type = Some("text/plain".into());
        let back = ObjectMeta::decode(&m.encode()).unwrap();
        assert_eq!(back, m);
        assert_eq!(etag_for(&a, Some(&back)), m.etag);
        for changed in [attr(11, 100), attr(10, 101)] {
            let e = etag_for(&changed, Some(&back));
            assert_ne!(e, m.etag);
            assert!(e.ends_with("-1") && e.len() == 34, "{e}");
        }
    }

    #[test]
    fn foreign_or_newer_values_are_ignored() {
        assert!(ObjectMeta::decode(b"not json").is_none());
        assert!(
            ObjectMeta::decode(br#"{"v":2,"etag":"x","size":1,"mtime":{"sec":0,"nsec":0}}"#)
                .is_none()
        );
    }

    #[test]
    fn multipart_etag_is_md5_of_part_md5s() {
        // Two parts "a" and "b": md5(md5("a") ++ md5("b")) - 2, as S3 computes it.
        let pa = hex::encode(Md5::checksum(b"a"));
        let pb = hex::encode(Md5::checksum(b"b"));
        let mut cat = Md5::checksum(b"a").to_vec();
        cat.extend(Md5::checksum(b"b"));
        let want = format!("{}-2", hex::encode(Md5::checksum(&cat)));
        assert_eq!(multipart_etag(&[pa, pb]).unwrap(), want);
        assert!(multipart_etag(&["zz".into()]).is_none());
    }
}
