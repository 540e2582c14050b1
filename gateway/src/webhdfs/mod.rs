//! WebHDFS: the REST subset Hadoop clients use, `/webhdfs/v1/PATH?op=...`, over the
//! ferrofs client. CREATE, APPEND and OPEN take two steps as on a NameNode: the first
//! request answers `307` with a `Location` on this same gateway (marked `data=true`),
//! the second carries the bytes (streamed both ways). Replies use Hadoop's JSON shapes
//! and errors its `RemoteException` body. Authentication is Hadoop's "simple" kind:
//! `user.name` is accepted and not checked, so listen on a trusted address only.

mod json;
pub mod names;
mod ops;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use ferrofs_client::Client;
use json::HdfsError;
use std::collections::HashMap;
use std::sync::Arc;

pub const PREFIX: &str = "/webhdfs/v1";

/// The WebHDFS service's state.
pub struct WebHdfs {
    pub(crate) client: Client,
    pub(crate) names: names::Names,
    /// Base URL of data redirects; empty: the `Host` the request came to.
    pub(crate) data_url: String,
    /// `http` or `https`: the scheme of redirects to the `Host` the request came to.
    pub(crate) scheme: &'static str,
    /// Files with an APPEND running (one writer at a time, as HDFS leases allow).
    pub(crate) appending: parking_lot::Mutex<std::collections::HashSet<u64>>,
}

pub fn router(client: Client, data_url: String, scheme: &'static str) -> Router {
    let state = Arc::new(WebHdfs {
        client,
        names: names::Names::load(),
        data_url,
        scheme,
        appending: Default::default(),
    });
    Router::new()
        .route(PREFIX, any(root))
        .route("/webhdfs/v1/", any(root))
        .route("/webhdfs/v1/{*path}", any(at_path))
        .with_state(state)
}

/// Query parameters, names lower-cased (Hadoop treats them case-insensitively).
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub fn flag(&self, k: &str, default: bool) -> Result<bool, HdfsError> {
        match self.get(k).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(HdfsError::illegal_argument(format!(
                "Invalid value for webhdfs parameter \"{k}\": {v}"
            ))),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>, HdfsError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                HdfsError::illegal_argument(format!(
                    "Invalid value for webhdfs parameter \"{k}\": {v}"
                ))
            }),
        }
    }

    /// An octal permission (`permission=755`).
    pub fn permission(&self) -> Result<Option<u32>, HdfsError> {
        match self.get("permission") {
            None | Some("") => Ok(None),
            Some(v) => match u32::from_str_radix(v, 8) {
                Ok(m) if m <= 0o7777 => Ok(Some(m)),
                _ => Err(HdfsError::illegal_argument(format!(
                    "Invalid value for webhdfs parameter \"permission\": {v}"
                ))),
            },
        }
    }
}

async fn root(
    State(s): State<Arc<WebHdfs>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    dispatch(s, method, headers, "/".to_string(), q, req).await
}

async fn at_path(
    State(s): State<Arc<WebHdfs>>,
    method: Method,
    headers: HeaderMap,
    Path(path): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let path = format!("/{}", path.trim_end_matches('/'));
    dispatch(s, method, headers, path, q, req).await
}

async fn dispatch(
    s: Arc<WebHdfs>,
    method: Method,
    headers: HeaderMap,
    path: String,
    q: Option<String>,
    req: Request,
) -> Response {
    let q: Vec<(String, String)> = match serde_urlencoded::from_str(q.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            return HdfsError::illegal_argument(format!("bad query string: {e}")).into_response();
        }
    };
    let params = Params(
        q.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
    );
    let op = params.get("op").unwrap_or("").to_ascii_uppercase();
    let data_step = params.flag("data", false).unwrap_or(false);
    let r = match (method.as_str(), op.as_str()) {
        ("GET", "GETFILESTATUS") => s.get_file_status(&path).await,
        ("GET", "LISTSTATUS") => s.list_status(&path).await,
        ("GET", "GETCONTENTSUMMARY") => s.content_summary(&path).await,
        ("GET", "GETHOMEDIRECTORY") => Ok(home(&params)),
        ("GET", "OPEN") if data_step => s.open(&path, &params).await,
        ("PUT", "CREATE") if data_step => s.create(&path, &params, req.into_body()).await,
        ("POST", "APPEND") if data_step => s.append(&path, &params, req.into_body()).await,
        ("GET", "OPEN") | ("PUT", "CREATE") | ("POST", "APPEND") => {
            s.redirect(&headers, &path, &q, &params).await
        }
        ("PUT", "MKDIRS") => s.mkdirs(&path, &params).await,
        ("PUT", "RENAME") => s.rename(&path, &params).await,
        ("PUT", "SETPERMISSION") => s.set_permission(&path, &params).await,
        ("PUT", "SETREPLICATION") => s.set_replication(&path, &params).await,
        ("PUT", "SETOWNER") => s.set_owner(&path, &params).await,
        ("PUT", "SETTIMES") => s.set_times(&path, &params).await,
        ("DELETE", "DELETE") => s.delete(&path, &params).await,
        (_, "") => Err(HdfsError::illegal_argument(
            "Invalid value for webhdfs parameter \"op\": none given",
        )),
        (m, op) if KNOWN.contains(&op) => Err(HdfsError::unsupported(format!(
            "{op} is not a {m} operation"
        ))),
        (_, op) => Err(HdfsError::illegal_argument(format!(
            "Invalid value for webhdfs parameter \"op\": No enum constant {op}"
        ))),
    };
    r.unwrap_or_else(IntoResponse::into_response)
}

const KNOWN: &[&str] = &[
    "GETFILESTATUS",
    "LISTSTATUS",
    "GETCONTENTSUMMARY",
    "GETHOMEDIRECTORY",
    "OPEN",
    "CREATE",
    "APPEND",
    "MKDIRS",
    "RENAME",
    "SETPERMISSION",
    "SETREPLICATION",
    "SETOWNER",
    "SETTIMES",
    "DELETE",
];

fn home(p: &Params) -> Response {
    let user = p
        .get("user.name")
        .filter(|u| !u.is_empty())
        .unwrap_or("root");
    axum::Json(serde_json::json!({ "Path": format!("/user/{user}") })).into_response()
}

impl WebHdfs {
    /// Step one of CREATE, APPEND and OPEN: send the client to the data URL.
    async fn redirect(
        &self,
        headers: &HeaderMap,
        path: &str,
        q: &[(String, String)],
        p: &Params,
    ) -> Result<Response, HdfsError> {
        let base = if self.data_url.is_empty() {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| HdfsError::illegal_argument("the request has no Host header"))?;
            format!("{}://{host}", self.scheme)
        } else {
            self.data_url.trim_end_matches('/').to_string()
        };
        let mut query: Vec<(&str, &str)> = q
            .iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("data") && !k.eq_ignore_ascii_case("noredirect")
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        query.push(("data", "true"));
        let qs = serde_urlencoded::to_string(&query)
            .map_err(|e| HdfsError::illegal_argument(e.to_string()))?;
        let location = format!("{base}{PREFIX}{}?{qs}", encode_path(path));
        if p.flag("noredirect", false)? {
            return Ok(axum::Json(serde_json::json!({ "Location": location })).into_response());
        }
        Ok((
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response())
    }
}

/// Percent-encode a path for a URL, keeping `/`.
fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> Params {
        Params(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn parameters_parse_or_refuse_clearly() {
        let p = params(&[
            ("overwrite", "TRUE"),
            ("permission", "750"),
            ("replication", "x"),
        ]);
        assert!(p.flag("overwrite", false).unwrap());
        assert!(!p.flag("recursive", false).unwrap());
        assert_eq!(p.permission().unwrap(), Some(0o750));
        let e = p.number::<u8>("replication").unwrap_err();
        assert_eq!(e.exception, "IllegalArgumentException");
        assert!(params(&[("permission", "999")]).permission().is_err());
        assert!(params(&[("permission", "17777")]).permission().is_err());
        assert!(
            params(&[("overwrite", "maybe")])
                .flag("overwrite", false)
                .is_err()
        );
    }

    #[test]
    fn paths_are_encoded_for_locations() {
        assert_eq!(encode_path("/a b/ü%"), "/a%20b/%C3%BC%25");
    }
}
