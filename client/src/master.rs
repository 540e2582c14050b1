//! Calls to the master group: JSON in, JSON out, to whichever member leads. A call
//! follows `NotLeader` answers to the leader they name, tries the other members when
//! one cannot be reached, and keeps retrying through an election; it fails only when no
//! member has led for `master_retry` (then with `no master quorum (reached: ...)`).
//! Mutations carry this client's id and a sequence number, the same on every retry, so
//! the master's retry cache applies a retried create or rename once.

use crate::config::ClientConfig;
use crate::deferred::Deferred;
use crate::error::{ClientError, Result};
use ferrofs_proto::rpc::{CLIENT_HEADER, PACKED_TYPE, Rpc, SEQ_HEADER};
use ferrofs_proto::{ApiError, ErrorCode};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Normalize one master address to a base URL.
fn base_url(s: &str) -> String {
    let mut s = s.trim().to_string();
    if !s.starts_with("http://") && !s.starts_with("https://") {
        s = format!("http://{s}");
    }
    while s.ends_with('/') {
        s.pop();
    }
    s
}

/// Parse `URL[,URL...]` into base URLs (at least one).
pub fn parse_masters(list: &str) -> Vec<String> {
    let v: Vec<String> = list
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(base_url)
        .collect();
    if v.is_empty() {
        vec![base_url("127.0.0.1:9000")]
    } else {
        v
    }
}

/// A call the master has not answered within this is checked against the others: is
/// another member leading (the one asked hung, or cut off)?
const HEDGE_AFTER: Duration = Duration::from_millis(700);

#[derive(Clone)]
pub struct MasterClient {
    http: reqwest::Client,
    masters: Arc<Mutex<Vec<String>>>,
    /// The member believed to lead (a base URL).
    leader: Arc<Mutex<String>>,
    retry_for: Duration,
    /// Sent as `ORIGIN_HEADER` when non-zero (see `with_origin`).
    origin: u64,
    id: u64,
    seq: Arc<AtomicU64>,
    /// Namespace operations answered before the master applied them (`deferred`).
    deferred: Arc<Deferred>,
}

impl MasterClient {
    pub fn new(cfg: &ClientConfig, http: reqwest::Client) -> Self {
        let masters = parse_masters(&cfg.master);
        MasterClient {
            http,
            leader: Arc::new(Mutex::new(masters[0].clone())),
            masters: Arc::new(Mutex::new(masters)),
            retry_for: cfg.master_retry,
            origin: 0,
            id: rand::random::<u64>().max(1),
            seq: Arc::new(AtomicU64::new(0)),
            deferred: Default::default(),
        }
    }

    pub(crate) fn deferred(&self) -> &Arc<Deferred> {
        &self.deferred
    }

    /// Wait until the deferred operations queued so far have been answered (every
    /// `rpc` does first; fsync of a directory does, too).
    pub async fn barrier(&self) {
        self.deferred.barrier().await
    }

    /// Deferred operations not yet answered.
    pub fn deferred_backlog(&self) -> u64 {
        self.deferred.backlog()
    }

    /// Name this client's namespace calls with `origin` in the master's change feed.
    pub fn with_origin(mut self, origin: u64) -> Self {
        self.origin = origin;
        self
    }

    /// The same masters, over another connection pool.
    pub fn with_http(&self, http: reqwest::Client) -> Self {
        MasterClient {
            http,
            ..self.clone()
        }
    }

    /// This client's id (lease holder, retry-cache key).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Base URL of the member this client believes leads.
    pub fn base(&self) -> String {
        self.leader.lock().clone()
    }

    pub fn masters(&self) -> Vec<String> {
        self.masters.lock().clone()
    }

    fn follow(&self, leader: &str) {
        let l = base_url(leader);
        let mut ms = self.masters.lock();
        if !ms.contains(&l) {
            ms.push(l.clone());
        }
        *self.leader.lock() = l;
    }

    /// Move on to the next member after `from`.
    fn rotate(&self, from: &str) {
        let ms = self.masters.lock();
        let i = ms.iter().position(|m| m == from).unwrap_or(0);
        *self.leader.lock() = ms[(i + 1) % ms.len()].clone();
    }

    /// Call `R` on the leader, following and retrying as the module doc says, after
    /// the deferred operations queued before it (`crate::deferred`).
    pub async fn rpc<R: Rpc>(&self, req: &R::Req) -> Result<R::Resp> {
        self.deferred.barrier().await;
        self.rpc_unordered::<R>(req).await
    }

    /// `rpc` without waiting for deferred operations (the flusher's own calls).
    pub(crate) async fn rpc_unordered<R: Rpc>(&self, req: &R::Req) -> Result<R::Resp> {
        let seq = if R::MUTATES {
            self.seq.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            0
        };
        let start = Instant::now();
        let mut delay = Duration::from_millis(20);
        let mut seen: Vec<(String, String)> = vec![];
        loop {
            let base = self.base();
            let res = self.post_hedged::<R>(&base, req, seq).await;
            let (again, rotate) = match &res {
                Ok(_) => return res,
                Err(ClientError::MasterUnreachable { msg, .. }) => {
                    note(&mut seen, &base, format!("unreachable ({msg})"));
                    (true, true)
                }
                Err(ClientError::Api(e)) if e.code == ErrorCode::NotLeader => {
                    note(&mut seen, &base, "not the leader".into());
                    match &e.leader {
                        Some(l) if base_url(l) != base => {
                            self.follow(l);
                            continue; // straight to the named leader
                        }
                        _ => (true, true),
                    }
                }
                Err(ClientError::Api(e)) if e.code == ErrorCode::NoQuorum => {
                    note(&mut seen, &base, format!("no quorum ({})", e.message));
                    (true, true)
                }
                Err(ClientError::Api(e)) => (
                    matches!(e.code, ErrorCode::SafeMode | ErrorCode::NoChunkservers),
                    false,
                ),
                Err(_) => (false, false),
            };
            if !again {
                return res;
            }
            if start.elapsed() + delay > self.retry_for {
                if let Err(ClientError::Api(e)) = &res
                    && matches!(e.code, ErrorCode::SafeMode | ErrorCode::NoChunkservers)
                {
                    return res;
                }
                return Err(ClientError::Api(ApiError::new(
                    ErrorCode::NoQuorum,
                    format!(
                        "no master quorum (reached: {}) after {:?}",
                        seen.iter()
                            .map(|(m, what)| format!("{m} {what}"))
                            .collect::<Vec<_>>()
                            .join("; "),
                        start.elapsed()
                    ),
                )));
            }
            if rotate {
                self.rotate(&base);
            }
            // Try every member quickly once; then back off between rounds.
            let round = self.masters.lock().len();
            if seen.len() >= round {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
        }
    }

    /// One attempt of `R` at the member believed to lead (no retries; a `NotLeader`
    /// answer still moves the client to the leader for the next call).
    pub async fn rpc_once<R: Rpc>(&self, req: &R::Req) -> Result<R::Resp> {
        let base = self.base();
        let res = self.post_to::<R>(&base, req, 0).await;
        match &res {
            Err(ClientError::Api(e)) if e.code == ErrorCode::NotLeader => match &e.leader {
                Some(l) => self.follow(l),
                None => self.rotate(&base),
            },
            Err(ClientError::MasterUnreachable { .. }) => self.rotate(&base),
            _ => {}
        }
        res
    }

    /// `post_to`, but if `base` has not answered within `HEDGE_AFTER` and another
    /// member says it leads (the one asked is hung or cut off), give up on `base` and
    /// answer `NotLeader` naming that member, so the call goes there (a mutation keeps
    /// its sequence number: it is applied once wherever it lands).
    async fn post_hedged<R: Rpc>(&self, base: &str, req: &R::Req, seq: u64) -> Result<R::Resp> {
        let call = self.post_to::<R>(base, req, seq);
        tokio::pin!(call);
        loop {
            tokio::select! {
                r = &mut call => return r,
                _ = tokio::time::sleep(HEDGE_AFTER) => {
                    if let Some(l) = self.other_leader(base).await {
                        let mut e = ApiError::new(
                            ErrorCode::NotLeader,
                            format!("{base} did not answer within {HEDGE_AFTER:?}; {l} leads"),
                        );
                        e.leader = Some(l);
                        return Err(ClientError::Api(e));
                    }
                }
            }
        }
    }

    /// A member other than `not` that says it leads, if any answers quickly.
    async fn other_leader(&self, not: &str) -> Option<String> {
        let others: Vec<String> = self
            .masters
            .lock()
            .iter()
            .filter(|m| m.as_str() != not)
            .cloned()
            .collect();
        let asks = others.into_iter().map(|m| async move {
            let r = self
                .http
                .get(format!("{m}/health"))
                .timeout(Duration::from_millis(500))
                .send()
                .await
                .ok()?;
            let v: serde_json::Value = r.json().await.ok()?;
            (v["leader"].as_bool() == Some(true)).then_some(m)
        });
        futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .next()
    }

    async fn post_to<R: Rpc>(&self, base: &str, req: &R::Req, seq: u64) -> Result<R::Resp> {
        let mut rb = self
            .http
            .post(format!("{base}{}", R::PATH))
            .json(req)
            .header(CLIENT_HEADER, self.id);
        if R::PACKED {
            rb = rb.header(reqwest::header::ACCEPT, PACKED_TYPE);
        }
        if seq != 0 {
            rb = rb.header(SEQ_HEADER, seq);
        }
        if self.origin != 0 {
            rb = rb.header(ferrofs_proto::namespace::ORIGIN_HEADER, self.origin);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| ClientError::MasterUnreachable {
                url: base.to_string(),
                msg: root_cause(&e),
            })?;
        decode(resp, base).await
    }

    /// GET a JSON document (admin API) from the leader.
    pub async fn get<R: DeserializeOwned>(&self, path_and_query: &str) -> Result<R> {
        self.admin(|base| self.http.get(format!("{base}{path_and_query}")))
            .await
    }

    /// GET from one member, whichever it is (e.g. the membership view).
    pub async fn get_from<R: DeserializeOwned>(&self, base: &str, path: &str) -> Result<R> {
        let resp = self
            .http
            .get(format!("{}{path}", base_url(base)))
            .send()
            .await
            .map_err(|e| ClientError::MasterUnreachable {
                url: base.to_string(),
                msg: root_cause(&e),
            })?;
        decode(resp, base).await
    }

    /// POST JSON with an optional admin bearer token (admin API), at the leader.
    pub async fn admin_post<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        req: &Q,
        token: Option<&str>,
    ) -> Result<R> {
        self.admin(|base| {
            let mut rb = self.http.post(format!("{base}{path}")).json(req);
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            rb
        })
        .await
    }

    /// Send an admin request to the leader, following `NotLeader` and trying every
    /// member once before giving up.
    async fn admin<R: DeserializeOwned>(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<R> {
        let start = Instant::now();
        loop {
            let base = self.base();
            let res = match build(&base).send().await {
                Ok(resp) => decode(resp, &base).await,
                Err(e) => Err(ClientError::MasterUnreachable {
                    url: base.clone(),
                    msg: root_cause(&e),
                }),
            };
            match &res {
                Err(ClientError::Api(e)) if e.code == ErrorCode::NotLeader => match &e.leader {
                    Some(l) if base_url(l) != base => self.follow(l),
                    _ => self.rotate(&base),
                },
                Err(ClientError::MasterUnreachable { .. }) => self.rotate(&base),
                _ => return res,
            }
            if start.elapsed() > self.retry_for {
                return res;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn note(seen: &mut Vec<(String, String)>, base: &str, what: String) {
    match seen.iter_mut().find(|(m, _)| m == base) {
        Some(e) => e.1 = what,
        None => seen.push((base.to_string(), what)),
    }
}

/// Decode a JSON reply, or the `ApiError` of a non-2xx reply.
/// A reply cut off mid-body counts as unreachable (the call may be retried: a mutation
/// is deduplicated by the master's retry cache).
pub(crate) async fn decode<R: DeserializeOwned>(resp: reqwest::Response, from: &str) -> Result<R> {
    let status = resp.status();
    let packed = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|t| t == PACKED_TYPE);
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ClientError::MasterUnreachable {
            url: from.to_string(),
            msg: format!("reply cut off: {}", root_cause(&e)),
        })?;
    if status.is_success() && packed {
        postcard::from_bytes(&bytes).map_err(|e| ClientError::Protocol {
            from: from.to_string(),
            msg: format!("undecodable packed reply: {e}"),
        })
    } else if status.is_success() {
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            from: from.to_string(),
            msg: format!("undecodable reply: {e}"),
        })
    } else {
        Err(ClientError::Api(api_error(status, &bytes)))
    }
}

pub(crate) fn api_error(status: reqwest::StatusCode, body: &[u8]) -> ApiError {
    serde_json::from_slice::<ApiError>(body).unwrap_or_else(|_| {
        ApiError::new(
            ErrorCode::Internal,
            format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
        )
    })
}

/// The innermost cause of a reqwest error, which is the informative part
/// ("Connection refused" rather than "error sending request").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if e.to_string() == cur.to_string() {
        e.to_string()
    } else {
        format!("{e}: {cur}")
    }
}
