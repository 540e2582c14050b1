//! Chain replication of client mutations. A write's body is streamed frame by frame both
//! to the local writer (batched ~1 MiB disk writes) and to the next chunkserver in the
//! chain; the reply is 200 only when every replica applied it, else 502 naming the first
//! replica that failed. Truncate and sync are forwarded as simple calls.

use crate::checksum::BLOCK;
use crate::error::{ChunkserverError as E, Result};
use crate::node::Node;
use crate::store::Chunk;
use axum::body::Body;
use bytes::Bytes;
use ferrofs_proto::chunk::{self as api, SyncParams, TruncateParams, WriteParams, WriteResp};
use ferrofs_proto::token::Access;
use ferrofs_proto::{ApiError, ChunkId, Version};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Local writes are batched to about this size.
const BATCH: usize = 1 << 20;

/// How long to wait on a downstream chain of `chain_len` replicas (for it to take more
/// bytes, or to reply): `pipeline_timeout` for the last replica, half as much again per
/// replica further down. A hung replica is then reported by its nearest upstream
/// neighbour, which names it, before a replica further up gives up on its own neighbour
/// and names the wrong one.
pub fn reply_wait(node: &Node, chain_len: usize) -> std::time::Duration {
    let t = node.config.pipeline_timeout;
    let below = chain_len.saturating_sub(1) as u32;
    t + t * below / 2
}

/// Parse and sanity-check the comma-separated downstream chain.
pub fn parse_chain(chain: &str) -> Result<Vec<String>> {
    chain
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let ok = a.len() <= 255
                && a.contains(':')
                && a.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
                });
            if ok {
                Ok(a.to_string())
            } else {
                Err(E::BadRequest(format!("bad chain address {a:?}")))
            }
        })
        .collect()
}

/// Send a request to the next replica and read its reply as a replica count.
async fn forward(req: reqwest::RequestBuilder, addr: String) -> Result<u32> {
    let fail = |message: String, failed: Option<String>| E::Pipeline {
        failed: failed.unwrap_or_else(|| addr.clone()),
        message,
    };
    let resp = req
        .send()
        .await
        .map_err(|e| fail(format!("forwarding to {addr}: {e}"), None))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| fail(format!("reading reply of {addr}: {e}"), None))?;
    if status.is_success() {
        return serde_json::from_slice::<WriteResp>(&body)
            .map(|r| r.replicas)
            .map_err(|e| fail(format!("bad reply from {addr}: {e}"), None));
    }
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(api) => Err(fail(
            format!("{addr} replied {status}: {}", api.message),
            api.failed,
        )),
        Err(_) => Err(fail(format!("{addr} replied {status}"), None)),
    }
}

/// Combine the local outcome with the downstream one into the pipeline reply.
fn combine(node: &Node, local: Result<()>, down: Option<Result<u32>>) -> Result<WriteResp> {
    if let Err(e) = local {
        return Err(E::Pipeline {
            failed: node.addr.clone(),
            message: format!("local replica {}: {e}", node.addr),
        });
    }
    let downstream = match down {
        None => 0,
        Some(r) => r?,
    };
    Ok(WriteResp {
        replicas: 1 + downstream,
    })
}

async fn join<T>(h: JoinHandle<Result<T>>) -> Result<T> {
    h.await
        .map_err(|e| E::Internal(format!("task failed: {e}")))?
}

/// Receive frames and write them locally in batches cut at block boundaries, so CRCs
/// rarely need a read-modify-write.
async fn local_writer(
    node: Arc<Node>,
    c: Arc<Chunk>,
    version: Version,
    offset: u64,
    mut rx: mpsc::Receiver<Bytes>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH + BLOCK);
    let mut pos = offset;
    loop {
        let next = rx.recv().await;
        let done = next.is_none();
        if let Some(b) = next {
            buf.extend_from_slice(&b);
        }
        if buf.is_empty() || (!done && buf.len() < BATCH) {
            if done {
                return Ok(());
            }
            continue;
        }
        let end = pos + buf.len() as u64;
        let aligned = end / BLOCK as u64 * BLOCK as u64;
        let cut = if done || aligned <= pos {
            buf.len()
        } else {
            (aligned - pos) as usize
        };
        let rest = buf.split_off(cut);
        let data = std::mem::replace(&mut buf, rest);
        let c2 = c.clone();
        let at = pos;
        node.blocking(move |s| s.write(&c2, version, at, &data))
            .await?;
        pos += cut as u64;
        if done && buf.is_empty() {
            return Ok(());
        }
    }
}

/// Streamed, chain-replicated write.
pub async fn write(
    node: Arc<Node>,
    id: ChunkId,
    p: WriteParams,
    content_length: Option<u64>,
    body: Body,
) -> Result<WriteResp> {
    node.check_token(&p.token, id, Access::Write)?;
    let chunk_size = node.chunk_size()?;
    let too_large = |n: u64| {
        E::TooLarge(format!(
            "write of {n} bytes at offset {} exceeds chunk size {chunk_size}",
            p.offset
        ))
    };
    if let Some(n) = content_length
        && p.offset.saturating_add(n) > chunk_size
    {
        return Err(too_large(n));
    }
    let chain = parse_chain(&p.chain)?;
    let c = node.store.get(id)?;
    let _op = c.op.lock().await;
    c.check_version(p.version)?;
    let length = c.snapshot().1;
    if content_length.is_none_or(|n| p.offset + n > length) {
        node.check_space(0)?;
    }
    // A downstream that takes no bytes, or does not reply, for this long has failed.
    let rt = reply_wait(&node, chain.len());

    let upstream_aborted = Arc::new(AtomicBool::new(false));
    let mut down = None;
    if let Some((next, rest)) = chain.split_first() {
        let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(16);
        let aborted = upstream_aborted.clone();
        let stream = futures::stream::poll_fn(move |cx| match rx.poll_recv(cx) {
            // Make the downstream see a broken body rather than a short valid one.
            Poll::Ready(None) if aborted.load(Ordering::Acquire) => {
                Poll::Ready(Some(Err(std::io::Error::other("upstream aborted"))))
            }
            other => other,
        });
        let params = WriteParams {
            chain: rest.join(","),
            ..p.clone()
        };
        let req = node
            .http
            .put(node.transport.url(next, &api::data_path(id)))
            .query(&params)
            .body(reqwest::Body::wrap_stream(stream));
        down = Some((tx, tokio::spawn(forward(req, next.clone()))));
    }
    let (ltx, lrx) = mpsc::channel::<Bytes>(16);
    let local = tokio::spawn(local_writer(
        node.clone(),
        c.clone(),
        p.version,
        p.offset,
        lrx,
    ));

    let mut frames = body.into_data_stream();
    let mut total = 0u64;
    let mut abort: Option<E> = None;
    let mut complete = false;
    loop {
        let bytes = match frames.next().await {
            None => {
                complete = true;
                break;
            }
            Some(Err(e)) => {
                abort = Some(E::BadRequest(format!("reading request body: {e}")));
                break;
            }
            Some(Ok(b)) => b,
        };
        total += bytes.len() as u64;
        if p.offset.saturating_add(total) > chunk_size {
            abort = Some(too_large(total));
            break;
        }
        if let Some((tx, _)) = &down {
            // A dead or stalled downstream ends the loop; its task reports why.
            match timeout(rt, tx.send(Ok(bytes.clone()))).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        if ltx.send(bytes).await.is_err() {
            break; // the local writer failed; its result says why
        }
    }
    drop(ltx);
    let down = match down {
        Some((tx, task)) => {
            upstream_aborted.store(!complete, Ordering::Release);
            drop(tx);
            Some(task)
        }
        None => None,
    };
    if let Some(e) = abort {
        if let Some(task) = down {
            task.abort();
        }
        let _ = local.await;
        return Err(e);
    }
    let mut local_result = join(local).await;
    if local_result.is_ok() && p.sync {
        let c2 = c.clone();
        let v = p.version;
        local_result = node.blocking(move |s| s.sync(&c2, v)).await;
    }
    node.io_bytes.fetch_add(total, Ordering::Relaxed);
    node.written_bytes.fetch_add(total, Ordering::Relaxed);
    let down_result = match down {
        None => None,
        Some(task) => Some(match timeout(rt, join(task)).await {
            Ok(r) => r,
            Err(_) => Err(E::Pipeline {
                failed: chain[0].clone(),
                message: format!("{} did not reply within {rt:?}", chain[0]),
            }),
        }),
    };
    if !complete && local_result.is_ok() && down_result.as_ref().is_none_or(|r| r.is_ok()) {
        local_result = Err(E::Internal(
            "write stopped before the end of the body".into(),
        ));
    }
    combine(&node, local_result, down_result)
}

/// Run a local operation and forward the same call down the chain concurrently.
async fn local_and_forward(
    node: &Arc<Node>,
    chain: &[String],
    local: impl Future<Output = Result<()>>,
    make_req: impl FnOnce(&str, String) -> reqwest::RequestBuilder,
) -> Result<WriteResp> {
    let down = chain.split_first().map(|(next, rest)| {
        let req = make_req(next, rest.join(",")).timeout(reply_wait(node, chain.len()));
        forward(req, next.clone())
    });
    let (l, d) = match down {
        Some(d) => {
            let (l, d) = tokio::join!(local, d);
            (l, Some(d))
        }
        None => (local.await, None),
    };
    combine(node, l, d)
}

/// Pipelined truncate: set the chunk length on every replica.
pub async fn truncate(node: Arc<Node>, id: ChunkId, p: TruncateParams) -> Result<WriteResp> {
    node.check_token(&p.token, id, Access::Write)?;
    let chunk_size = node.chunk_size()?;
    if p.len > chunk_size {
        return Err(E::TooLarge(format!(
            "length {} exceeds chunk size {chunk_size}",
            p.len
        )));
    }
    let chain = parse_chain(&p.chain)?;
    let c = node.store.get(id)?;
    let _op = c.op.lock().await;
    c.check_version(p.version)?;
    if p.len > c.snapshot().1 {
        node.check_space(p.len - c.snapshot().1)?;
    }
    let (c2, v, len) = (c.clone(), p.version, p.len);
    let local = node.blocking(move |s| s.truncate(&c2, v, len));
    local_and_forward(&node, &chain, local, |next, rest| {
        let q = TruncateParams {
            chain: rest,
            ..p.clone()
        };
        node.http
            .post(node.transport.url(next, &api::truncate_path(id)))
            .query(&q)
    })
    .await
}

/// Pipelined fsync of data and checksums.
pub async fn sync(node: Arc<Node>, id: ChunkId, p: SyncParams) -> Result<WriteResp> {
    node.check_token(&p.token, id, Access::Write)?;
    let chain = parse_chain(&p.chain)?;
    let c = node.store.get(id)?;
    c.check_version(p.version)?;
    let (c2, v) = (c.clone(), p.version);
    let local = node.blocking(move |s| s.sync(&c2, v));
    local_and_forward(&node, &chain, local, |next, rest| {
        let q = SyncParams {
            chain: rest,
            ..p.clone()
        };
        node.http
            .post(node.transport.url(next, &api::sync_path(id)))
            .query(&q)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_parsing() {
        assert_eq!(parse_chain("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_chain("a:1, b.c:2").unwrap(),
            vec!["a:1".to_string(), "b.c:2".to_string()]
        );
        assert!(parse_chain("evil.com/x?:1").is_err());
        assert!(parse_chain("user@host:1").is_err());
        assert!(parse_chain("nohostport").is_err());
    }
}
