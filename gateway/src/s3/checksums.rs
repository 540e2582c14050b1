//! Integrity checks of uploaded bodies: `Content-MD5` and the `x-amz-checksum-*`
//! values a client sends as headers or, with aws-chunked bodies, as trailers (boto3
//! and aws-cli send a CRC32 trailer by default). Each is computed while the body
//! streams in and compared at its end; a mismatch is `BadDigest` and nothing is kept.

use base64::Engine;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm};
use s3s::{S3Error, S3Result, s3_error};

/// The checksums a client announced for a body.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    pub content_md5: Option<String>,
    pub sums: Checksum,
    pub algorithm: Option<ChecksumAlgorithm>,
}

impl Expected {
    /// A hasher computing every checksum that was announced.
    pub fn hasher(&self) -> S3Result<ChecksumHasher> {
        let mut h = ChecksumHasher::default();
        let s = &self.sums;
        if s.checksum_crc32.is_some() {
            h.crc32 = Some(Default::default());
        }
        if s.checksum_crc32c.is_some() {
            h.crc32c = Some(Default::default());
        }
        if s.checksum_sha1.is_some() {
            h.sha1 = Some(Default::default());
        }
        if s.checksum_sha256.is_some() {
            h.sha256 = Some(Default::default());
        }
        if s.checksum_crc64nvme.is_some() {
            h.crc64nvme = Some(Default::default());
        }
        if let Some(alg) = &self.algorithm {
            match alg.as_str() {
                ChecksumAlgorithm::CRC32 => h.crc32 = Some(Default::default()),
                ChecksumAlgorithm::CRC32C => h.crc32c = Some(Default::default()),
                ChecksumAlgorithm::SHA1 => h.sha1 = Some(Default::default()),
                ChecksumAlgorithm::SHA256 => h.sha256 = Some(Default::default()),
                ChecksumAlgorithm::CRC64NVME => h.crc64nvme = Some(Default::default()),
                other => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "unsupported checksum algorithm {other:?}"
                    ));
                }
            }
        }
        Ok(h)
    }

    /// Take the values sent as trailers (they arrive after the body).
    pub fn add_trailers(&mut self, trailers: Option<&s3s::TrailingHeaders>) -> S3Result<()> {
        let Some(map) = trailers.and_then(|t| t.take()) else {
            return Ok(());
        };
        let get = |name: &str| -> S3Result<Option<String>> {
            match map.get(name) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.to_string()))
                    .map_err(|_| s3_error!(InvalidArgument, "trailer {name} is not text")),
            }
        };
        let s = &mut self.sums;
        for (name, slot) in [
            ("x-amz-checksum-crc32", &mut s.checksum_crc32),
            ("x-amz-checksum-crc32c", &mut s.checksum_crc32c),
            ("x-amz-checksum-sha1", &mut s.checksum_sha1),
            ("x-amz-checksum-sha256", &mut s.checksum_sha256),
            ("x-amz-checksum-crc64nvme", &mut s.checksum_crc64nvme),
        ] {
            if let Some(v) = get(name)? {
                *slot = Some(v);
            }
        }
        Ok(())
    }

    /// Compare what was announced with what was computed.
    pub fn verify(&self, md5: &[u8; 16], got: &Checksum) -> S3Result<()> {
        if let Some(want) = &self.content_md5 {
            let have = base64::engine::general_purpose::STANDARD.encode(md5);
            if *want != have {
                return Err(mismatch("Content-MD5", want, &have));
            }
        }
        let w = &self.sums;
        for (name, want, have) in [
            ("CRC32", &w.checksum_crc32, &got.checksum_crc32),
            ("CRC32C", &w.checksum_crc32c, &got.checksum_crc32c),
            ("SHA1", &w.checksum_sha1, &got.checksum_sha1),
            ("SHA256", &w.checksum_sha256, &got.checksum_sha256),
            ("CRC64NVME", &w.checksum_crc64nvme, &got.checksum_crc64nvme),
        ] {
            if let Some(want) = want
                && Some(want) != have.as_ref()
            {
                return Err(mismatch(name, want, have.as_deref().unwrap_or("")));
            }
        }
        Ok(())
    }
}

fn mismatch(what: &str, want: &str, have: &str) -> S3Error {
    s3_error!(
        BadDigest,
        "the {what} you specified ({want}) did not match what was received ({have})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::crypto::Checksum as _;

    #[test]
    fn content_md5_and_crc32_are_checked() {
        let body = b"hello";
        let md5 = s3s::crypto::Md5::checksum(body);
        let good = base64::engine::general_purpose::STANDARD.encode(md5);
        let mut e = Expected {
            content_md5: Some(good),
            ..Default::default()
        };
        e.sums.checksum_crc32 = Some("NhCmhg==".into()); // CRC32 of "hello"
        let mut h = e.hasher().unwrap();
        h.update(body);
        let got = h.finalize();
        e.verify(&md5, &got).unwrap();

        let mut h = e.hasher().unwrap();
        h.update(b"hellO");
        let err = e.verify(&md5, &h.finalize()).unwrap_err();
        assert_eq!(err.code().as_str(), "BadDigest");

        e.content_md5 = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
        let err = e.verify(&md5, &got).unwrap_err();
        assert_eq!(err.code().as_str(), "BadDigest");
    }

    #[test]
    fn an_announced_algorithm_without_value_is_computed_not_checked() {
        let e = Expected {
            algorithm: Some(ChecksumAlgorithm::from_static(ChecksumAlgorithm::CRC32C)),
            ..Default::default()
        };
        let mut h = e.hasher().unwrap();
        h.update(b"x");
        let got = h.finalize();
        assert!(got.checksum_crc32c.is_some());
        e.verify(&s3s::crypto::Md5::checksum(b"x"), &got).unwrap();
    }
}
