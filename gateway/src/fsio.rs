//! File I/O both gateways share, on top of `ferrofs_client::Client`: streaming reads
//! (a task reads ahead into a small channel, so a slow HTTP client holds at most a few
//! pieces), a reader adaptor that hashes what passes through, and uploads staged in
//! a hidden directory and renamed into place, so a reader never sees half an object
//! and a failed upload leaves nothing behind.

use bytes::Bytes;
use ferrofs_client::{Client, ClientError};
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, CreateReq, FileKind, RenameReq};
use futures::{Stream, StreamExt};
use s3s::crypto::{Checksum, Md5};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Directory (at the root) where uploads are written before they are renamed into
/// place. Its name can never be a bucket (see `s3::keys::INTERNAL_PREFIX`).
pub const STAGING_DIR: &str = "/.ferrofs-staging";

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

/// A file being uploaded in `STAGING_DIR`: write it, then `publish` it under its
/// real name, or `discard` it.
pub struct Staged {
    pub attr: Attr,
    staging: Attr,
    name: String,
}

impl Staged {
    /// Create an empty staged file with the given replication goal (that of the
    /// directory the file will land in, so it is born with the right goal).
    pub async fn create(client: &Client, replication: u8) -> Result<Staged, ClientError> {
        let staging = match client.resolve(STAGING_DIR).await {
            Ok(a) => a,
            Err(e) if e.is(ErrorCode::NotFound) => client.mkdir_p(STAGING_DIR).await?,
            Err(e) => return Err(e),
        };
        let name = format!("{:032x}", rand::random::<u128>());
        let created = client
            .create(CreateReq {
                parent: staging.ino,
                name: name.clone(),
                kind: FileKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                rdev: 0,
                symlink_target: None,
                exclusive: true,
                replication: Some(replication),
            })
            .await?;
        Ok(Staged {
            attr: created.attr,
            staging,
            name,
        })
    }

    /// Rename the staged file to `name` in directory `parent`, replacing a file there
    /// if `replace` (else failing with `AlreadyExists`).
    pub async fn publish(
        self,
        client: &Client,
        parent: &Attr,
        name: &str,
        replace: bool,
    ) -> Result<(), ClientError> {
        let r = client
            .rename(RenameReq {
                parent: self.staging.ino,
                name: self.name.clone(),
                new_parent: parent.ino,
                new_name: name.to_string(),
                noreplace: !replace,
                exchange: false,
                keep_open: false,
            })
            .await;
        if r.is_err() {
            self.discard(client).await;
        }
        r.map(|_| ())
    }

    /// Remove the staged file (best effort: a leftover is only wasted space).
    pub async fn discard(self, client: &Client) {
        if let Err(e) = client
            .unlink(self.staging.ino, &self.name, false, false)
            .await
        {
            tracing::warn!(name = %self.name, error = %e, "could not remove a staged upload");
        }
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
