//! File I/O both gateways share, on top of `ferrofs_client::Client`: streaming reads
//! (a task reads ahead into a small channel, so a slow HTTP client holds at most a few
//! pieces), a reader adaptor that hashes what passes through, and uploads staged in
//! a hidden directory and renamed into place (`Staged`, from the client), so a reader
//! never sees half an object and a failed upload leaves nothing behind.

use bytes::Bytes;
use ferrofs_client::{Client, ClientError};
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::Attr;
use futures::{Stream, StreamExt};
use s3s::crypto::{Checksum, Md5};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

pub use ferrofs_client::staged::{STAGING_DIR, Staged};

/// Bytes per read request of a streamed read.
const READ_PIECE: u64 = 4 << 20;
/// Read requests in flight per streamed read.
const READ_AHEAD: usize = 2;

/// `Stream` over a channel's receiver (a `Receiver` is `Sync`, which s3s wants of a
/// body; a stream of futures generally is not).
pub struct ChannelStream(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl Stream for ChannelStream {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Stream bytes `[start, end)` of a file whose attributes are `attr`. Errors end the
/// stream (the HTTP reply is cut short, so the client sees a short body, not bad data).
pub fn read_stream(client: &Client, attr: &Attr, start: u64, end: u64) -> ChannelStream {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let (client, ino, size) = (client.clone(), attr.ino, attr.size);
    client.invalidate(ino);
    tokio::spawn(async move {
        let pieces = (start..end).step_by(READ_PIECE as usize);
        let mut reads = futures::stream::iter(pieces)
            .map(|off| {
                let c = client.clone();
                async move { c.read_at(ino, off, READ_PIECE.min(end - off), size).await }
            })
            .buffered(READ_AHEAD);
        while let Some(r) = reads.next().await {
            let item = r.map_err(std::io::Error::other);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return; // the HTTP client went away, or the read failed
            }
        }
    });
    ChannelStream(rx)
}

/// An `AsyncRead` that feeds what it passes on to an MD5 and S3's other checksums, and
/// counts it.
pub struct HashingReader<R> {
    inner: R,
    pub md5: Md5,
    pub sums: s3s::checksum::ChecksumHasher,
    pub bytes: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R, sums: s3s::checksum::ChecksumHasher) -> Self {
        HashingReader {
            inner,
            md5: Md5::new(),
            sums,
            bytes: 0,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            let n = new.len() as u64;
            // Split borrows: hash the new bytes, then count them.
            let me = &mut *self;
            me.md5.update(new);
            me.sums.update(new);
            me.bytes += n;
        }
        r
    }
}

/// Resolve `path`, None if it does not exist.
pub async fn try_resolve(client: &Client, path: &str) -> Result<Option<Attr>, ClientError> {
    match client.resolve(path).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if e.is(ErrorCode::NotFound) || e.is(ErrorCode::NotADirectory) => Ok(None),
        Err(e) => Err(e),
    }
}
