//! Whole-file transfers for the CLI: `put` streams a local reader into a new file with
//! several pipelined writes in flight; `get` reads ahead several pieces at once.

use crate::Client;
use crate::error::{ClientError, Result};
use crate::namespace::with_path;
use bytes::{Bytes, BytesMut};
use ferrofs_proto::namespace::{Attr, CreateReq, FileKind, Timespec};
use ferrofs_proto::{ApiError, ErrorCode};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Called with the number of bytes transferred so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Bytes per read request in `get`.
const READ_PIECE: u64 = 8 << 20;
/// Read requests in flight in `get`.
const READ_AHEAD: usize = 4;

impl Client {
    /// Create (or replace the contents of) a file at `path` from `reader`. Returns once
    /// the data is on disk on every replica and the size is durable at the master.
    pub async fn put<R: AsyncRead + Unpin>(
        &self,
        path: &str,
        mut reader: R,
        replication: Option<u8>,
        progress: Option<Progress>,
    ) -> Result<Attr> {
        let (parent, name) = self.parent_of(path).await?;
        let created = self
            .create(CreateReq {
                parent: parent.ino,
                name,
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
            .map_err(|e| with_path(e, path))?;
        let ino = created.attr.ino;
        if !created.created {
            self.truncate(ino, 0).await?;
        }
        let cs = self.chunk_size().await?;
        let piece = (self.inner.cfg.write_piece as u64).clamp(64 << 10, cs);
        let mut offset = 0u64;
        let mut touched = BTreeSet::new();
        let mut inflight = FuturesUnordered::new();
        let mut done = 0u64;
        loop {
            // Never cross a chunk boundary inside one piece.
            let room = cs - offset % cs;
            let want = piece.min(room) as usize;
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
                let index = offset / cs;
                touched.insert(index);
                let len = data.len() as u64;
                let fut = self.write_chunk(ino, index, offset % cs, data, false);
                inflight.push(async move { fut.await.map(|_| len) });
                offset += len;
            }
            while inflight.len() >= self.inner.cfg.write_concurrency.max(1)
                || (got < want && !inflight.is_empty())
            {
                if let Some(r) = inflight.next().await {
                    done += r?;
                    if let Some(p) = &progress {
                        p(done);
                    }
                }
            }
            if got < want {
                break;
            }
        }
        let touched: Vec<u64> = touched.into_iter().collect();
        self.sync_chunks(ino, &touched).await?;
        self.close(ino, offset, Some(Timespec::now()), true).await
    }

    pub async fn put_bytes(&self, path: &str, data: Bytes) -> Result<Attr> {
        self.put(path, &data[..], None, None).await
    }

    /// Stream a file's contents to `writer`. Returns the number of bytes written.
    pub async fn get<W: AsyncWrite + Unpin>(
        &self,
        path: &str,
        writer: &mut W,
        progress: Option<Progress>,
    ) -> Result<u64> {
        let a = self.resolve(path).await.map_err(|e| with_path(e, path))?;
        if a.kind != FileKind::File {
            return Err(ClientError::Api(ApiError::new(
                if a.kind == FileKind::Dir {
                    ErrorCode::IsADirectory
                } else {
                    ErrorCode::InvalidArgument
                },
                format!("{path}: not a regular file"),
            )));
        }
        self.invalidate(a.ino);
        let size = a.size;
        let pieces = size.div_ceil(READ_PIECE);
        let mut stream = futures::stream::iter(0..pieces)
            .map(|i| {
                let off = i * READ_PIECE;
                self.read_at(a.ino, off, READ_PIECE.min(size - off), size)
            })
            .buffered(READ_AHEAD);
        let mut done = 0u64;
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            writer.write_all(&piece).await?;
            done += piece.len() as u64;
            if let Some(p) = &progress {
                p(done);
            }
        }
        writer.flush().await?;
        Ok(done)
    }

    pub async fn get_bytes(&self, path: &str) -> Result<Bytes> {
        let mut out = Vec::new();
        self.get(path, &mut out, None).await?;
        Ok(Bytes::from(out))
    }
}
