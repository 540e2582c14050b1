//! Chunk access tokens (as HDFS block tokens): `"{chunk_id}.{expiry_unix_ms}.{mode}.{mac}"`
//! where `mac` is hex HMAC-SHA256 over the first three fields with the cluster secret.
//! With an empty secret, tokens are not checked (development clusters).

use crate::ChunkId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Read => "r",
            Access::Write => "w",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing chunk access token")]
    Missing,
    #[error("malformed chunk access token")]
    Malformed,
    #[error("chunk access token is for another chunk")]
    WrongChunk,
    #[error("chunk access token does not allow this access")]
    WrongAccess,
    #[error("chunk access token expired")]
    Expired,
    #[error("chunk access token signature is invalid")]
    BadSignature,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn mac(secret: &[u8], msg: &str) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("hmac accepts any key");
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Compare secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Issue a token for `chunk` valid for `ttl_ms`.
pub fn issue(secret: &[u8], chunk: ChunkId, access: Access, ttl_ms: u64) -> String {
    if secret.is_empty() {
        return String::new();
    }
    let msg = format!("{chunk}.{}.{}", now_ms() + ttl_ms, access.as_str());
    let m = mac(secret, &msg);
    format!("{msg}.{m}")
}

/// Verify a token for `chunk`. A write token also allows reads.
pub fn verify(
    secret: &[u8],
    token: &str,
    chunk: ChunkId,
    access: Access,
) -> Result<(), TokenError> {
    if secret.is_empty() {
        return Ok(());
    }
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let mut parts = token.rsplitn(2, '.');
    let sig = parts.next().ok_or(TokenError::Malformed)?;
    let msg = parts.next().ok_or(TokenError::Malformed)?;
    let f: Vec<&str> = msg.split('.').collect();
    if f.len() != 3 {
        return Err(TokenError::Malformed);
    }
    let id: ChunkId = f[0].parse().map_err(|_| TokenError::Malformed)?;
    let exp: u64 = f[1].parse().map_err(|_| TokenError::Malformed)?;
    let expected = mac(secret, msg);
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(TokenError::BadSignature);
    }
    if id != chunk {
        return Err(TokenError::WrongChunk);
    }
    if access == Access::Write && f[2] != "w" {
        return Err(TokenError::WrongAccess);
    }
    if exp < now_ms() {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejections() {
        let s = b"secret";
        let t = issue(s, 7, Access::Write, 60_000);
        assert!(verify(s, &t, 7, Access::Write).is_ok());
        assert!(verify(s, &t, 7, Access::Read).is_ok());
        assert_eq!(verify(s, &t, 8, Access::Read), Err(TokenError::WrongChunk));
        assert_eq!(verify(s, "", 7, Access::Read), Err(TokenError::Missing));
        assert_eq!(
            verify(b"other", &t, 7, Access::Read),
            Err(TokenError::BadSignature)
        );
        let r = issue(s, 7, Access::Read, 60_000);
        assert_eq!(
            verify(s, &r, 7, Access::Write),
            Err(TokenError::WrongAccess)
        );
        let mut forged = t.clone();
        forged.replace_range(0..1, "9");
        assert!(verify(s, &forged, 7, Access::Read).is_err());
        assert!(verify(s, "1.2.r", 1, Access::Read).is_err());
        assert!(verify(b"", "", 1, Access::Write).is_ok());
    }

    #[test]
    fn expired() {
        let s = b"k";
        let msg = format!("5.{}.r", now_ms() - 1000);
        let t = format!("{msg}.{}", mac(s, &msg));
        assert_eq!(verify(s, &t, 5, Access::Read), Err(TokenError::Expired));
    }
}
