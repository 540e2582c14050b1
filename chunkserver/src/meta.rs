//! The `.meta` file format next to each chunk's `.dat`: a 64-byte versioned header
//! (magic, format version, flags, length, cached SHA-256) followed by one little-endian
//! CRC32C per 64 KiB block. Pure encoding; the store does the I/O.

use crate::checksum::num_blocks;

/// Size of the fixed header; CRC entries follow it.
pub const HEADER_LEN: u64 = 64;
/// File magic: identifies a ferrofs chunk meta file, format 1.
pub const MAGIC: &[u8; 8] = b"FFSCHNK1";
/// Bump when the layout changes; readers refuse versions they do not know.
pub const FORMAT_VERSION: u32 = 1;

/// Decoded meta header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub flags: u32,
    pub length: u64,
    /// SHA-256 of bytes `[0, length)`, if computed since the last write.
    pub sha: Option<[u8; 32]>,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.length.to_le_bytes());
        if let Some(sha) = &self.sha {
            b[24] = 1;
            b[25..57].copy_from_slice(sha);
        }
        b
    }

    pub fn decode(b: &[u8]) -> Result<Header, String> {
        if b.len() < HEADER_LEN as usize {
            return Err(format!(
                "meta header is {} bytes, want {HEADER_LEN}",
                b.len()
            ));
        }
        if &b[0..8] != MAGIC {
            return Err("bad meta magic".into());
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if version != FORMAT_VERSION {
            return Err(format!("unknown meta format version {version}"));
        }
        let flags = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&b[16..24]);
        let sha = (b[24] == 1).then(|| {
            let mut s = [0u8; 32];
            s.copy_from_slice(&b[25..57]);
            s
        });
        Ok(Header {
            flags,
            length: u64::from_le_bytes(len),
            sha,
        })
    }
}

/// File offset of block `b`'s CRC entry.
pub fn crc_offset(b: u64) -> u64 {
    HEADER_LEN + 4 * b
}

/// Expected meta file size for a chunk of `length` bytes.
pub fn meta_len(length: u64) -> u64 {
    crc_offset(num_blocks(length))
}

pub fn encode_crcs(crcs: &[u32]) -> Vec<u8> {
    crcs.iter().flat_map(|c| c.to_le_bytes()).collect()
}

pub fn decode_crcs(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let h = Header {
            flags: 0,
            length: 12345,
            sha: Some([7u8; 32]),
        };
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let h2 = Header { sha: None, ..h };
        assert_eq!(Header::decode(&h2.encode()).unwrap(), h2);
        let mut bad = h.encode();
        bad[0] = b'X';
        assert!(Header::decode(&bad).is_err());
        assert!(Header::decode(&bad[..10]).is_err());
        assert_eq!(
            decode_crcs(&encode_crcs(&[1, 2, u32::MAX])),
            vec![1, 2, u32::MAX]
        );
        assert_eq!(meta_len(0), 64);
        assert_eq!(meta_len(1), 68);
    }
}
