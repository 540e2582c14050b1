//! Streaming writes into an existing file at any offset, for gateways (S3 parts,
//! WebHDFS appends, object_store puts): the bytes come from an `AsyncRead` and go out
//! in pieces that never cross a chunk boundary, several pipelined writes in flight,
//! so nothing holds more than `write_concurrency` pieces in memory.

use crate::Client;
use crate::error::Result;
use bytes::{Bytes, BytesMut};
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Attr, Timespec};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use tokio::io::{AsyncRead, AsyncReadExt};

impl Client {
    /// Write everything `reader` yields into file `ino` starting at `offset`, then
    /// sync the chunks written on every replica and commit the new size (grow only) at
    /// the master, durably if `durable`. Returns the bytes written and the file's
    /// attributes after the commit. The file must exist (see `create`); its other
    /// bytes are untouched. Several of these may run at once on one file (S3 parts
    /// written in place): a durable commit ends the file's write leases, so the others
    /// would have to take new ones; commit those with `durable = false` and make the
    /// final size durable once at the end.
    pub async fn write_stream<R: AsyncRead + Unpin>(
        &self,
        ino: Ino,
        offset: u64,
        mut reader: R,
        durable: bool,
    ) -> Result<(u64, Attr)> {
        let cs = self.chunk_size().await?;
        let piece = (self.inner.cfg.write_piece as u64).clamp(64 << 10, cs);
        let mut pos = offset;
        let mut touched = BTreeSet::new();
        let mut inflight = FuturesUnordered::new();
        loop {
            let want = piece.min(cs - pos % cs) as usize;
            let mut buf = BytesMut::zeroed(want);
            let mut got = 0;
            while got < want {
                let n = reader.read(&mut buf[got..]).await?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            buf.truncate(got);
            if got > 0 {
                let data: Bytes = buf.freeze();
                let index = pos / cs;
                touched.insert(index);
                inflight.push(self.write_chunk(ino, index, pos % cs, data, false));
                pos += got as u64;
            }
            while inflight.len() >= self.inner.cfg.write_concurrency.max(1)
                || (got < want && !inflight.is_empty())
            {
                if let Some(r) = inflight.next().await {
                    r?;
                }
            }
            if got < want {
                break;
            }
        }
        let touched: Vec<u64> = touched.into_iter().collect();
        if !touched.is_empty() {
            self.sync_chunks(ino, &touched).await?;
        }
        let attr = self
            .commit(ino, pos, Some(Timespec::now()), durable)
            .await?;
        Ok((pos - offset, attr))
    }
}
