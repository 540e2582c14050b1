//! Bad input never panics a server: malformed JSON, unknown routes and chunk ids, bad
//! path components, oversize bodies, stale versions and missing secrets each get a 4xx
//! with a JSON error body, and the servers stay healthy.

mod common;

use bytes::Bytes;
use common::*;
use ferrofs_proto::ApiError;

async fn expect_error(resp: reqwest::Response, status: u16, what: &str) -> ApiError {
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: body {body}");
    serde_json::from_str::<ApiError>(&body)
        .unwrap_or_else(|e| panic!("{what}: error body is not a JSON ApiError ({e}): {body}"))
}

/// Master: malformed and hostile requests get JSON 4xx replies.
#[tokio::test(flavor = "multi_thread")]
async fn master_rejects_bad_input() {
    let cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let m = cluster.master_url();
    // No pooled connections: the server closes the one an oversize body arrived on.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let post = |path: &str, body: &'static str| {
        http.post(format!("{m}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    phase!("malformed JSON");
    expect_error(
        post("/rpc/v1/ns/lookup", "{not json").await.unwrap(),
        400,
        "malformed",
    )
    .await;
    expect_error(
        post("/rpc/v1/ns/lookup", r#"{"parent": "x"}"#)
            .await
            .unwrap(),
        400,
        "wrong type",
    )
    .await;
    expect_error(
        post("/rpc/v1/ns/create", "{}").await.unwrap(),
        400,
        "missing fields",
    )
    .await;
    phase!("bad names and paths");
    for name in ["..", ".", "", "a/b"] {
        let body = serde_json::json!({"parent": 1, "name": name, "kind": "file", "mode": 420, "uid": 0, "gid": 0});
        let r = http
            .post(format!("{m}/rpc/v1/ns/create"))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, &format!("name {name:?}")).await;
    }
    for path in ["/a/../b", "relative", "/a//b", ""] {
        let r = http
            .post(format!("{m}/rpc/v1/ns/resolve"))
            .json(&serde_json::json!({"path": path}))
            .send()
            .await
            .unwrap();
        expect_error(r, 400, &format!("path {path:?}")).await;
    }
    let long = "x".repeat(300);
    let r = http
        .post(format!("{m}/rpc/v1/ns/create"))
        .json(&serde_json::json!({"parent": 1, "name": long, "kind": "dir", "mode": 493, "uid": 0, "gid": 0}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "long name").await;
    phase!("unknown inode, unknown route");
    let r = http
        .post(format!("{m}/rpc/v1/ns/getattr"))
        .json(&serde_json::json!({"ino": 999999}))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "unknown inode").await;
    expect_error(
        http.get(format!("{m}/nope")).send().await.unwrap(),
        404,
        "route",
    )
    .await;
    let r = http
        .get(format!("{m}/api/v1/files?path=/missing"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "files of a missing path").await;
    let r = http.get(format!("{m}/api/v1/files")).send().await.unwrap();
    expect_error(r, 400, "files without path").await;
    phase!("extended attributes: bad hex, empty or long names, oversize value, size limit");
    for (body, status, what) in [
        (
            serde_json::json!({"ino": 1, "name": "user.a", "value": "zz"}),
            400,
            "bad hex",
        ),
        (
            serde_json::json!({"ino": 1, "name": "", "value": ""}),
            400,
            "empty name",
        ),
        (
            serde_json::json!({"ino": 1, "name": "user.".repeat(60), "value": ""}),
            400,
            "long name",
        ),
        (
            serde_json::json!({"ino": 1, "name": "user.a", "value": "00".repeat(65537)}),
            413,
            "oversize value",
        ),
        (
            serde_json::json!({"ino": 999999, "name": "user.a", "value": ""}),
            404,
            "no inode",
        ),
    ] {
        let r = http
            .post(format!("{m}/rpc/v1/ns/setxattr"))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(r, status, what).await;
    }
    let r = http
        .post(format!("{m}/rpc/v1/ns/getxattr"))
        .json(&serde_json::json!({"ino": 1, "name": "user.none"}))
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 404, "unset attribute").await;
    assert_eq!(e.code, ferrofs_proto::ErrorCode::NoSuchAttribute);
    let f: serde_json::Value = http
        .post(format!("{m}/rpc/v1/ns/create"))
        .json(&serde_json::json!({"parent": 1, "name": "xf", "kind": "file", "mode": 420, "uid": 0, "gid": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ino = f["attr"]["ino"].as_u64().unwrap();
    let r = http
        .post(format!("{m}/rpc/v1/ns/setattr"))
        .json(&serde_json::json!({"ino": ino, "size": 1u64 << 60}))
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 413, "size past the largest file").await;
    assert_eq!(e.code, ferrofs_proto::ErrorCode::FileTooLarge);

    phase!("oversize body");
    let big = vec![b' '; 8 << 20];
    // The server may answer 413 and close while the body is still being sent; the
    // client then sees the connection reset instead. Both are refusals.
    match http
        .post(format!("{m}/rpc/v1/ns/lookup"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
    {
        Ok(r) => {
            expect_error(r, 413, "oversize").await;
        }
        Err(e) => eprintln!("oversize body refused by closing the connection: {e}"),
    }
    phase!("chunkserver calls without the secret");
    let r = http
        .post(format!("{m}/rpc/v1/cs/heartbeat"))
        .json(&serde_json::json!({"id": "x", "addr": "y", "capacity_bytes": 1, "used_bytes": 0}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "heartbeat without secret").await;
    phase!("still healthy");
    let c = cluster.client();
    c.put_bytes("/ok", Bytes::from_static(b"fine"))
        .await
        .unwrap();
    assert_eq!(
        c.get_bytes("/ok").await.unwrap(),
        Bytes::from_static(b"fine")
    );
}

/// Chunkserver: unknown chunk ids, stale versions, missing or bad tokens, bad queries and
/// oversize writes get JSON 4xx replies; it keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn chunkserver_rejects_bad_input() {
    let cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let c = cluster.client();
    c.put_bytes("/f", Bytes::from(random_bytes(1000, 1)))
        .await
        .unwrap();
    let info: ferrofs_proto::admin::FileInfo =
        reqwest::get(format!("{}/api/v1/files?path=/f", cluster.master_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let ch = &info.chunks[0];
    let cs = cluster.chunkserver_addr(0);
    let http = reqwest::Client::new();
    let attr = c.resolve("/f").await.unwrap();
    let locs: ferrofs_proto::namespace::ChunksResp = c
        .master
        .rpc::<ferrofs_proto::rpc::Chunks>(&ferrofs_proto::namespace::ChunksReq {
            ino: attr.ino,
            first_index: 0,
            count: 1,
        })
        .await
        .unwrap();
    let token = locs.chunks[0].token.clone();
    let data = |id: u64| format!("http://{cs}/v1/chunk/{id}/data");
    phase!("valid read works");
    let r = http
        .get(data(ch.id))
        .query(&[
            ("version", ch.version.to_string()),
            ("offset", "0".into()),
            ("len", "10".into()),
            ("token", token.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    phase!("unknown chunk id");
    let r = http
        .get(data(987654))
        .query(&[
            ("version", "1"),
            ("offset", "0"),
            ("len", "10"),
            ("token", &token),
        ])
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert!(st == 404 || st == 403, "unknown chunk: {st}");
    let _ = expect_error(r, st, "unknown chunk").await;
    phase!("stale version");
    let r = http
        .get(data(ch.id))
        .query(&[
            ("version", (ch.version + 5).to_string()),
            ("offset", "0".into()),
            ("len", "10".into()),
            ("token", token.clone()),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "stale version read").await;
    let r = http
        .put(data(ch.id))
        .query(&[("version", "0"), ("offset", "0"), ("token", &token)])
        .body("x")
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert!((400..500).contains(&st), "stale write: {st}");
    expect_error(r, st, "stale version write").await;
    phase!("tokens");
    let r = http
        .get(data(ch.id))
        .query(&[
            ("version", ch.version.to_string()),
            ("offset", "0".into()),
            ("len", "10".into()),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "no token").await;
    let r = http
        .get(data(ch.id))
        .query(&[
            ("version", ch.version.to_string()),
            ("offset", "0".into()),
            ("len", "10".into()),
            ("token", format!("{}0", token)),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "forged token").await;
    let r = http
        .put(data(ch.id))
        .query(&[
            ("version", ch.version.to_string()),
            ("offset", "0".into()),
            ("token", token.clone()),
        ])
        .body("read tokens cannot write")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "read token used to write").await;
    phase!("malformed query");
    let r = http
        .get(data(ch.id))
        .query(&[("version", "abc")])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "malformed query").await;
    let r = http
        .get(format!("http://{cs}/v1/chunk/notanumber/data"))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert!((400..500).contains(&st), "non-numeric id: {st}");
    expect_error(r, st, "non-numeric id").await;
    let r = http
        .get(format!("http://{cs}/v1/chunk/..%2F..%2Fetc%2Fpasswd/data"))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    assert!((400..500).contains(&st), "path in id: {st}");
    phase!("internal calls without the secret");
    let r = http
        .post(format!("http://{cs}/v1/internal/chunk/5/create"))
        .json(&serde_json::json!({"version": 1}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "create without secret").await;
    phase!("still healthy");
    assert_eq!(c.get_bytes("/f").await.unwrap().len(), 1000);
}

/// Stat a path through a mount with a deadline: a mount whose request handler panicked
/// never answers (or is gone), which must fail the test rather than hang it.
async fn stat_within(p: std::path::PathBuf, what: &str) -> std::fs::Metadata {
    let task = tokio::task::spawn_blocking(move || std::fs::metadata(p));
    match tokio::time::timeout(std::time::Duration::from_secs(10), task).await {
        Ok(Ok(Ok(m))) => m,
        Ok(Ok(Err(e))) => panic!("{what}: stat through the mount failed: {e}"),
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what}: the mount did not answer a stat within 10 s"),
    }
}

/// Times no clock can hold (`sec: i64::MAX` with `nsec` past a second, `nsec` of a
/// second or more, seconds far past any calendar) in a setattr or a commit are refused
/// with a JSON 400 and never stored; a mount that stats the file afterwards keeps
/// serving. (Such a time used to be stored, and every mount that then converted it
/// for the kernel panicked in `Timespec::to_system_time`.)
#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_times_are_refused_and_mounts_survive() {
    use ferrofs_proto::namespace::{CommitReq, SetattrReq, TimeSet, Timespec};
    use std::os::unix::fs::MetadataExt;
    let mut cluster = TestCluster::builder()
        .chunkservers(1)
        .replication(1)
        .start()
        .await;
    let mnt = cluster.mount().await;
    std::fs::write(mnt.join("f"), b"x").unwrap();
    let ino = std::fs::metadata(mnt.join("f")).unwrap().ino();
    let m = cluster.master_url();
    let http = reqwest::Client::new();
    let bad = [
        Timespec {
            sec: i64::MAX,
            nsec: 1_500_000_000,
        },
        Timespec {
            sec: 0,
            nsec: 1_000_000_000,
        },
        Timespec {
            sec: 5,
            nsec: u32::MAX,
        },
        Timespec {
            sec: i64::MAX,
            nsec: 0,
        },
        Timespec {
            sec: i64::MIN,
            nsec: 999_999_999,
        },
    ];
    for t in bad {
        phase!("setattr and commit with {t:?}");
        let setattr = SetattrReq {
            ino,
            mtime: Some(TimeSet::At(t)),
            atime: Some(TimeSet::At(t)),
            ..Default::default()
        };
        let commit = CommitReq {
            ino,
            size: 1,
            mtime: Some(t),
            sync: false,
            chunks: vec![],
            close: false,
            attrs: None,
        };
        // The same times as attribute changes carried by a commit.
        let commit_attrs = CommitReq {
            mtime: None,
            attrs: Some(setattr.clone()),
            ..commit.clone()
        };
        let r3 = http
            .post(format!("{m}/rpc/v1/file/commit"))
            .json(&commit_attrs)
            .send()
            .await
            .unwrap();
        let r1 = http
            .post(format!("{m}/rpc/v1/ns/setattr"))
            .json(&setattr)
            .send()
            .await
            .unwrap();
        let r2 = http
            .post(format!("{m}/rpc/v1/file/commit"))
            .json(&commit)
            .send()
            .await
            .unwrap();
        phase!("the mount still answers a stat of the file and of the root");
        std::fs::write("/proc/sys/vm/drop_caches", "2").unwrap();
        stat_within(mnt.join("f"), "stat of the file").await;
        stat_within(mnt.clone(), "stat of the root").await;
        expect_error(r1, 400, &format!("setattr {t:?}")).await;
        expect_error(r3, 400, &format!("commit with attrs {t:?}")).await;
        expect_error(r2, 400, &format!("commit {t:?}")).await;
    }
}
