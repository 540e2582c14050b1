//! S3 names as ferrofs paths: a bucket is a top-level directory, an object key is the
//! path below it (`/` separates directories), and a key ending in `/` (a "directory
//! marker") is a directory. Keys a path cannot hold (empty segments as in `a//b`, `.`
//! or `..` segments, a leading `/`, NUL, segments past 255 bytes) are refused with
//! `InvalidArgument` rather than mapped to something else, so two keys never alias.

use s3s::{S3Error, s3_error};

/// Names at the root starting with this are the gateways' own (multipart staging,
/// uploads in progress); they are never valid bucket names (those start with a letter
/// or digit), so no bucket can collide with them.
pub const INTERNAL_PREFIX: &str = ".ferrofs-";

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Path of a bucket's directory (`/<bucket>`).
pub fn bucket_path(bucket: &str) -> Result<String, S3Error> {
    if !s3s::path::check_bucket_name(bucket) {
        return Err(s3_error!(
            InvalidBucketName,
            "invalid bucket name {bucket:?}"
        ));
    }
    Ok(format!("/{bucket}"))
}

/// Path of an object, and whether the key names a directory (ends in `/`).
pub fn object_path(bucket: &str, key: &str) -> Result<(String, bool), S3Error> {
    let dir = bucket_path(bucket)?;
    check_key(key)?;
    let is_dir = key.ends_with('/');
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    Ok((format!("{dir}/{trimmed}"), is_dir))
}

/// Check that `key` maps to a path (see the module doc).
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "empty object key"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(s3_error!(
            KeyTooLongError,
            "object key longer than {MAX_KEY_LEN} bytes"
        ));
    }
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    for seg in trimmed.split('/') {
        let bad = seg.is_empty() || seg == "." || seg == ".." || seg.contains('\0');
        if bad {
            return Err(s3_error!(
                InvalidArgument,
                "object key {key:?} cannot be stored as a path: empty, \".\" and \"..\" \
                 segments (and a leading \"/\") are not allowed"
            ));
        }
        if seg.len() > ferrofs_proto::MAX_NAME_LEN {
            return Err(s3_error!(
                KeyTooLongError,
                "a segment of object key {key:?} is longer than {} bytes",
                ferrofs_proto::MAX_NAME_LEN
            ));
        }
    }
    Ok(())
}

/// Parent directories of an object path, outermost first, below the bucket.
pub fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_paths() {
        let cases = [
            ("a", Some(("/bkt/a", false))),
            ("a/b/c.txt", Some(("/bkt/a/b/c.txt", false))),
            ("dir/", Some(("/bkt/dir", true))),
            ("a/b/", Some(("/bkt/a/b", true))),
            ("with space & ü", Some(("/bkt/with space & ü", false))),
            ("", None),
            ("/lead", None),
            ("a//b", None),
            ("a/./b", None),
            ("../x", None),
            ("a/..", None),
            ("dir//", None),
            ("nul\0", None),
        ];
        for (key, want) in cases {
            let got = object_path("bkt", key).ok();
            let got = got.as_ref().map(|(p, d)| (p.as_str(), *d));
            assert_eq!(got, want, "key {key:?}");
        }
    }

    #[test]
    fn long_keys_are_refused_with_the_s3_code() {
        let long = "x".repeat(MAX_KEY_LEN + 1);
        let e = object_path("bkt", &long).unwrap_err();
        assert_eq!(e.code().as_str(), "KeyTooLongError");
        let seg = "y".repeat(300);
        let e = object_path("bkt", &seg).unwrap_err();
        assert_eq!(e.code().as_str(), "KeyTooLongError");
    }

    #[test]
    fn bucket_names_follow_s3_rules_and_never_hit_internal_dirs() {
        assert!(bucket_path("my-bucket.1").is_ok());
        for bad in ["", "A", "ab", ".ferrofs-multipart", "-x-y", "a_b"] {
            assert!(bucket_path(bad).is_err(), "{bad:?}");
        }
        assert!(
            !s3s::path::check_bucket_name(&format!("{INTERNAL_PREFIX}tmp")),
            "internal names must not be bucket names"
        );
    }

    #[test]
    fn parent_dirs() {
        assert_eq!(parent_dir("/b/a/c"), "/b/a");
        assert_eq!(parent_dir("/b"), "/");
    }
}
