//! Checksum math, free of I/O: one CRC32C per 64 KiB block of a chunk (the last partial
//! block's CRC covers only the bytes up to the chunk's length), which blocks a write or
//! read touches, where each affected block's new CRC comes from after a write, and
//! SHA-256 of whole chunks.

use ferrofs_proto::BLOCK_SIZE;
use sha2::{Digest, Sha256};
use std::ops::Range;

/// Block size as a `usize`, for slicing.
pub const BLOCK: usize = BLOCK_SIZE as usize;

static ZEROS: [u8; BLOCK] = [0u8; BLOCK];

/// CRC32C of one block's bytes.
pub fn crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// CRC32C of `len` zero bytes (`len <= BLOCK`).
pub fn zero_crc(len: usize) -> u32 {
    crc32c::crc32c(&ZEROS[..len.min(BLOCK)])
}

/// Number of blocks a chunk of `length` bytes has.
pub fn num_blocks(length: u64) -> u64 {
    length.div_ceil(BLOCK_SIZE)
}

/// Block indexes touched by the byte range `[offset, offset + len)`. Empty when `len == 0`.
pub fn blocks_touched(offset: u64, len: u64) -> Range<u64> {
    if len == 0 {
        return 0..0;
    }
    offset / BLOCK_SIZE..(offset + len).div_ceil(BLOCK_SIZE)
}

/// Byte range of block `b` in a chunk of `length` bytes (the last one may be partial).
pub fn block_bytes(b: u64, length: u64) -> Range<u64> {
    let start = b * BLOCK_SIZE;
    start..((b + 1) * BLOCK_SIZE).min(length).max(start)
}

/// CRCs of consecutive blocks of `data`, which must start on a block boundary.
#[cfg(test)]
pub fn block_crcs(data: &[u8]) -> Vec<u32> {
    data.chunks(BLOCK).map(crc).collect()
}

/// Check `data` (starting at block `first_block`, whole blocks except possibly the last,
/// which ends at the chunk's length) against `crcs` (indexed by block number).
/// Returns the first bad block number.
pub fn verify(data: &[u8], first_block: u64, crcs: &[u32]) -> Result<(), u64> {
    for (i, piece) in data.chunks(BLOCK).enumerate() {
        let b = first_block + i as u64;
        match crcs.get(b as usize) {
            Some(&c) if c == crc(piece) => {}
            _ => return Err(b),
        }
    }
    Ok(())
}

/// Where the new CRC of a block affected by a write comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrcSource {
    /// Entirely covered by the written data: this range of the write buffer.
    Data(Range<usize>),
    /// Entirely in the zero gap between the old length and the write's offset.
    Zeros(usize),
    /// Mixes old and new bytes: read these chunk bytes back after writing.
    Disk(Range<u64>),
}

/// Plan the CRC update for writing `len` bytes at `offset` into a chunk of `old_len`
/// bytes. Returns `(block, source)` for every block whose CRC changes. Only blocks at
/// the edges need a read-modify-write from disk.
pub fn plan_write(old_len: u64, offset: u64, len: u64) -> Vec<(u64, CrcSource)> {
    let new_len = old_len.max(offset + len);
    let lo = old_len.min(offset);
    let hi = offset + len;
    if hi <= lo {
        return Vec::new();
    }
    blocks_touched(lo, hi - lo)
        .map(|b| {
            let r = block_bytes(b, new_len);
            let src = if r.start >= offset && r.end <= hi {
                CrcSource::Data((r.start - offset) as usize..(r.end - offset) as usize)
            } else if r.start >= old_len && r.end <= offset {
                CrcSource::Zeros((r.end - r.start) as usize)
            } else {
                CrcSource::Disk(r)
            };
            (b, src)
        })
        .collect()
}

/// Incremental per-block CRCs of a byte stream that starts at chunk offset 0.
#[derive(Debug, Default)]
pub struct CrcBuilder {
    crcs: Vec<u32>,
    partial: u32,
    partial_len: usize,
}

impl CrcBuilder {
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK - self.partial_len).min(data.len());
            self.partial = crc32c::crc32c_append(self.partial, &data[..take]);
            self.partial_len += take;
            data = &data[take..];
            if self.partial_len == BLOCK {
                self.crcs.push(self.partial);
                self.partial = 0;
                self.partial_len = 0;
            }
        }
    }

    pub fn finish(mut self) -> Vec<u32> {
        if self.partial_len > 0 {
            self.crcs.push(self.partial);
        }
        self.crcs
    }
}

/// Streaming SHA-256 with raw output, for the cached header field.
#[derive(Default)]
pub struct ShaBuilder(Sha256);

impl ShaBuilder {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 13) as u8).collect()
    }

    #[test]
    fn crc_per_block_with_partial_last() {
        let d = pattern(2 * BLOCK + 100);
        let c = block_crcs(&d);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2], crc32c::crc32c(&d[2 * BLOCK..]));
        assert_eq!(num_blocks(d.len() as u64), 3);
        assert_eq!(num_blocks(0), 0);
        assert_eq!(num_blocks(BLOCK_SIZE), 1);
        assert!(verify(&d, 0, &c).is_ok());
        assert!(verify(&d[BLOCK..], 1, &c).is_ok());
        let mut bad = d.clone();
        bad[BLOCK + 5] ^= 1;
        assert_eq!(verify(&bad, 0, &c), Err(1));
        assert_eq!(verify(&d, 0, &c[..2]), Err(2));
    }

    #[test]
    fn builder_matches_block_crcs() {
        let d = pattern(3 * BLOCK + 17);
        let mut b = CrcBuilder::default();
        for piece in d.chunks(1000) {
            b.update(piece);
        }
        assert_eq!(b.finish(), block_crcs(&d));
        assert_eq!(zero_crc(10), crc32c::crc32c(&[0u8; 10]));
    }

    #[test]
    fn touched_and_bytes() {
        assert_eq!(blocks_touched(0, 0), 0..0);
        assert_eq!(blocks_touched(0, 1), 0..1);
        assert_eq!(blocks_touched(BLOCK_SIZE - 1, 2), 0..2);
        assert_eq!(blocks_touched(BLOCK_SIZE, BLOCK_SIZE), 1..2);
        assert_eq!(block_bytes(1, BLOCK_SIZE + 10), BLOCK_SIZE..BLOCK_SIZE + 10);
        assert_eq!(block_bytes(0, 5), 0..5);
    }

    /// Simulate a chunk as a Vec, apply a write, update CRCs per the plan and compare with
    /// CRCs computed from scratch: covers RMW of partial edge blocks and zero gaps.
    #[test]
    fn plan_write_rmw_matches_full_recompute() {
        let b = BLOCK as u64;
        let cases = [
            (0u64, 0u64, 10u64),
            (100, 50, 10),             // inside one block
            (100, 90, 20),             // extends a partial block
            (b + 3, b - 2, 10),        // straddles a boundary
            (10, 3 * b + 7, 100),      // gap of whole zero blocks
            (3 * b, b, 2 * b),         // aligned full blocks
            (2 * b + 1, 0, 5 * b + 9), // overwrite and extend
            (5 * b, 2 * b + 10, 20),   // write inside, no extension
        ];
        for (old_len, off, len) in cases {
            let mut chunk = pattern(old_len as usize);
            let mut crcs = block_crcs(&chunk);
            let data: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ 0x5a)
                .collect();
            let new_len = old_len.max(off + len) as usize;
            chunk.resize(new_len, 0);
            chunk[off as usize..(off + len) as usize].copy_from_slice(&data);
            crcs.resize(num_blocks(new_len as u64) as usize, 0);
            for (blk, src) in plan_write(old_len, off, len) {
                crcs[blk as usize] = match src {
                    CrcSource::Data(r) => crc(&data[r]),
                    CrcSource::Zeros(n) => zero_crc(n),
                    CrcSource::Disk(r) => crc(&chunk[r.start as usize..r.end as usize]),
                };
            }
            assert_eq!(crcs, block_crcs(&chunk), "case {old_len} {off} {len}");
            let disk = plan_write(old_len, off, len)
                .iter()
                .filter(|(_, s)| matches!(s, CrcSource::Disk(_)))
                .count();
            assert!(disk <= 3, "too many RMW blocks: {disk}");
        }
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn sha() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut s = ShaBuilder::default();
        s.update(b"a");
        s.update(b"bc");
        assert_eq!(hex::encode(s.finish()), sha256_hex(b"abc"));
    }
}
