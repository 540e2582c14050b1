//! Raw calls to chunkservers: read a range from one replica, push bytes down a write
//! pipeline, and pipelined sync/truncate. Retry policy lives in `file.rs`.

use crate::error::{ClientError, Result};
use crate::master::{api_error, root_cause};
use bytes::{Bytes, BytesMut};
use ferrofs_proto::chunk::*;
use ferrofs_proto::namespace::{ReplicaLoc, WriteLease};
use ferrofs_proto::{ApiError, ChunkId, ErrorCode, Version};
use std::time::Duration;
use tokio::time::timeout;

#[derive(Clone)]
pub struct ChunkIo {
    http: reqwest::Client,
    /// Plain HTTP or TLS: the scheme of the chunkservers' URLs.
    transport: ferrofs_tls::Transport,
    /// Longest a read waits for the reply or the next bytes of its body.
    read_stall: Duration,
}

/// Why a pipelined operation failed, and which replica to leave out next time.
#[derive(Debug)]
pub struct PipelineError {
    pub error: ClientError,
    /// Replica that failed, if known.
    pub failed: Option<ReplicaLoc>,
}

impl ChunkIo {
    pub fn new(http: reqwest::Client, transport: ferrofs_tls::Transport) -> Self {
        ChunkIo {
            http,
            transport,
            read_stall: Duration::from_secs(5),
        }
    }

    /// The same settings over another connection pool.
    pub fn with_http(&self, http: reqwest::Client) -> Self {
        ChunkIo {
            http,
            ..self.clone()
        }
    }

    /// Give up on a replica that sends nothing for `d` during a read.
    pub fn with_read_stall_timeout(mut self, d: Duration) -> Self {
        self.read_stall = d;
        self
    }

    pub async fn read(
        &self,
        replica: &ReplicaLoc,
        chunk: ChunkId,
        version: Version,
        offset: u64,
        len: u64,
        token: &str,
    ) -> Result<Bytes> {
        let p = ReadParams {
            version,
            offset,
            len,
            token: token.to_string(),
            whole_blocks: false,
        };
        Ok(self.get(replica, chunk, &p).await?.1)
    }

    /// Read the whole verified blocks covering `[offset, offset+len)` (the last one
    /// clipped to the chunk's length), with the chunk offset the bytes start at. A
    /// chunkserver that predates the flag answers with the range as asked and no
    /// offset: `None`, and the bytes start at `offset`.
    pub async fn read_blocks(
        &self,
        replica: &ReplicaLoc,
        chunk: ChunkId,
        version: Version,
        offset: u64,
        len: u64,
        token: &str,
    ) -> Result<(Option<u64>, Bytes)> {
        let p = ReadParams {
            version,
            offset,
            len,
            token: token.to_string(),
            whole_blocks: true,
        };
        self.get(replica, chunk, &p).await
    }

    async fn get(
        &self,
        replica: &ReplicaLoc,
        chunk: ChunkId,
        params: &ReadParams,
    ) -> Result<(Option<u64>, Bytes)> {
        let len = params.len;
        let url = self.transport.url(&replica.addr, &read_path(chunk));
        let unreachable = |msg: String| ClientError::ChunkserverUnreachable {
            addr: replica.addr.clone(),
            msg,
        };
        let stalled = || unreachable(format!("sent nothing for {:?}", self.read_stall));
        let send = self.http.get(&url).query(params).send();
        // A hung (stopped, overloaded) chunkserver still accepts connections: bound the
        // wait for every step rather than only the whole request.
        let mut resp = timeout(self.read_stall, send)
            .await
            .map_err(|_| stalled())?
            .map_err(|e| unreachable(root_cause(&e)))?;
        let status = resp.status();
        let start = resp
            .headers()
            .get(DATA_OFFSET_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = BytesMut::with_capacity(if status.is_success() {
            len.min(16 << 20) as usize
        } else {
            0
        });
        while let Some(piece) = timeout(self.read_stall, resp.chunk())
            .await
            .map_err(|_| stalled())?
            .map_err(|e| unreachable(root_cause(&e)))?
        {
            body.extend_from_slice(&piece);
        }
        let body = body.freeze();
        if status.is_success() {
            Ok((start, body))
        } else {
            Err(ClientError::Api(api_error(status, &body)))
        }
    }

    /// The replicas after the first, as the first forwards to them (none for a lease of
    /// zero or one replica).
    fn chain(lease: &WriteLease) -> String {
        lease
            .replicas
            .get(1..)
            .unwrap_or_default()
            .iter()
            .map(|r| r.addr.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Send a pipelined request to the first replica of `lease` and map failures to the
    /// replica to exclude.
    async fn pipelined(
        &self,
        lease: &WriteLease,
        rb: reqwest::RequestBuilder,
    ) -> std::result::Result<WriteResp, PipelineError> {
        let first = lease.replicas.first().cloned();
        let resp = rb.send().await.map_err(|e| PipelineError {
            error: ClientError::ChunkserverUnreachable {
                addr: first.as_ref().map(|f| f.addr.clone()).unwrap_or_default(),
                msg: root_cause(&e),
            },
            failed: first.clone(),
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| PipelineError {
            error: ClientError::ChunkserverUnreachable {
                addr: first.as_ref().map(|f| f.addr.clone()).unwrap_or_default(),
                msg: root_cause(&e),
            },
            failed: first.clone(),
        })?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| PipelineError {
                error: ClientError::Protocol {
                    from: first.as_ref().map(|f| f.addr.clone()).unwrap_or_default(),
                    msg: e.to_string(),
                },
                failed: None,
            });
        }
        let err: ApiError = api_error(status, &body);
        let failed = match (&err.code, &err.failed) {
            (ErrorCode::PipelineFailed, Some(addr)) => {
                lease.replicas.iter().find(|r| &r.addr == addr).cloned()
            }
            // A replica that refused on its own (disk error, no space, restarted and not
            // registered yet) is the first one.
            (
                ErrorCode::Internal
                | ErrorCode::NoSpace
                | ErrorCode::ChunkCorrupt
                | ErrorCode::SafeMode,
                _,
            ) => first,
            _ => None,
        };
        Err(PipelineError {
            error: ClientError::Api(err),
            failed,
        })
    }

    pub async fn write(
        &self,
        lease: &WriteLease,
        offset: u64,
        data: Bytes,
        sync: bool,
    ) -> std::result::Result<WriteResp, PipelineError> {
        let first = lease.replicas.first().ok_or_else(|| no_replica(lease))?;
        let url = self.transport.url(&first.addr, &data_path(lease.chunk_id));
        let rb = self
            .http
            .put(&url)
            .query(&WriteParams {
                version: lease.version,
                offset,
                sync,
                chain: Self::chain(lease),
                token: lease.token.clone(),
            })
            .body(data);
        self.pipelined(lease, rb).await
    }

    pub async fn sync(&self, lease: &WriteLease) -> std::result::Result<WriteResp, PipelineError> {
        let first = lease.replicas.first().ok_or_else(|| no_replica(lease))?;
        let url = self.transport.url(&first.addr, &sync_path(lease.chunk_id));
        let rb = self.http.post(&url).query(&SyncParams {
            version: lease.version,
            chain: Self::chain(lease),
            token: lease.token.clone(),
        });
        self.pipelined(lease, rb).await
    }

    pub async fn truncate(
        &self,
        lease: &WriteLease,
        len: u64,
    ) -> std::result::Result<WriteResp, PipelineError> {
        let first = lease.replicas.first().ok_or_else(|| no_replica(lease))?;
        let url = self
            .transport
            .url(&first.addr, &truncate_path(lease.chunk_id));
        let rb = self.http.post(&url).query(&TruncateParams {
            version: lease.version,
            len,
            chain: Self::chain(lease),
            token: lease.token.clone(),
        });
        self.pipelined(lease, rb).await
    }
}

/// A lease without replicas (the master knew none of them alive) is a retryable
/// refusal, not a panic.
fn no_replica(lease: &WriteLease) -> PipelineError {
    PipelineError {
        error: ClientError::Api(ApiError::new(
            ErrorCode::NoChunkservers,
            format!("the lease on chunk {} names no replica", lease.chunk_id),
        )),
        failed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(n: usize) -> WriteLease {
        WriteLease {
            chunk_id: 7,
            version: 1,
            replicas: (0..n)
                .map(|i| ReplicaLoc {
                    id: format!("cs{i}"),
                    addr: format!("127.0.0.1:{}", 1000 + i),
                })
                .collect(),
            token: String::new(),
            chunk_size: 1 << 20,
            lease_ms: 1000,
        }
    }

    /// A lease with no replicas is refused without a panic; chains skip the head.
    #[tokio::test]
    async fn empty_leases_are_refused() {
        assert_eq!(ChunkIo::chain(&lease(0)), "");
        assert_eq!(ChunkIo::chain(&lease(1)), "");
        assert_eq!(ChunkIo::chain(&lease(3)), "127.0.0.1:1001,127.0.0.1:1002");
        let plain = ferrofs_tls::Transport::default();
        let io = ChunkIo::new(plain.client(reqwest::Client::builder()).unwrap(), plain);
        for r in [
            io.sync(&lease(0)).await,
            io.truncate(&lease(0), 5).await,
            io.write(&lease(0), 0, Bytes::from_static(b"x"), false)
                .await,
        ] {
            let e = r.expect_err("an empty lease must be refused");
            assert!(e.error.is(ErrorCode::NoChunkservers), "{:?}", e.error);
        }
    }
}
