//! Two real chunkservers (`ferrofs_chunkserver::run` on 127.0.0.1:0) and a tiny fake
//! master that answers register/heartbeat, records what it hears and hands out commands.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use ferrofs_chunkserver::{ChunkserverConfig, run};
use ferrofs_proto::chunk::{self as api, ChunkInfo, WriteResp};
use ferrofs_proto::heartbeat::{
    ChunkReport, Command, HEARTBEAT, HeartbeatReq, HeartbeatResp, REGISTER, RegisterReq,
    RegisterResp,
};
use ferrofs_proto::namespace::ReplicaLoc;
use ferrofs_proto::token::{Access, issue};
use ferrofs_proto::{ApiError, ErrorCode, SECRET_HEADER};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const SECRET: &str = "test-secret";
const CHUNK_SIZE: u64 = 4 << 20;

#[derive(Default)]
struct Master {
    /// cs id -> addr
    registered: HashMap<String, String>,
    corrupt: Vec<(String, u64)>,
    commands: HashMap<String, Vec<Command>>,
}

type M = Arc<Mutex<Master>>;

async fn register(State(m): State<M>, Json(r): Json<RegisterReq>) -> Json<RegisterResp> {
    m.lock().registered.insert(r.id, r.addr);
    Json(RegisterResp {
        heartbeat_interval_ms: 100,
        chunk_size: CHUNK_SIZE,
    })
}

async fn heartbeat(State(m): State<M>, Json(r): Json<HeartbeatReq>) -> Json<HeartbeatResp> {
    let mut m = m.lock();
    for c in &r.corrupt {
        m.corrupt.push((r.id.clone(), *c));
    }
    let commands = m.commands.remove(&r.id).unwrap_or_default();
    Json(HeartbeatResp {
        reregister: false,
        commands,
        term: 1,
    })
}

struct Cs {
    addr: String,
    dir: PathBuf,
    _stop: oneshot::Sender<()>,
}

async fn start_cs(master: &str, root: &std::path::Path, i: usize) -> Cs {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let dir = root.join(format!("cs{i}"));
    let config = ChunkserverConfig {
        data_dir: dir.clone(),
        master: master.to_string(),
        secret: SECRET.into(),
        reserve_bytes: 0,
        heartbeat_interval: Duration::from_millis(100),
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        run(config, listener, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Cs {
        addr,
        dir,
        _stop: tx,
    }
}

async fn wait_until(what: &str, deadline: Duration, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !f().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn url(cs: &Cs, path: &str) -> String {
    format!("http://{}{path}", cs.addr)
}

async fn api_err(resp: reqwest::Response, status: u16, code: ErrorCode) -> ApiError {
    assert_eq!(resp.status().as_u16(), status);
    let e: ApiError = resp.json().await.expect("error body is JSON ApiError");
    assert_eq!(e.code, code, "{e:?}");
    e
}

/// `GET info_path(id)`: the replica's version, length and SHA-256.
async fn info(http: &reqwest::Client, cs: &Cs, id: u64) -> ChunkInfo {
    let token = issue(SECRET.as_bytes(), id, Access::Read, 60_000);
    http.get(url(cs, &api::info_path(id)))
        .query(&api::TokenParam { token })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn read(
    http: &reqwest::Client,
    cs: &Cs,
    id: u64,
    version: u64,
    len: u64,
) -> reqwest::Response {
    let token = issue(SECRET.as_bytes(), id, Access::Read, 60_000);
    http.get(url(cs, &api::read_path(id)))
        .query(&api::ReadParams {
            version,
            offset: 0,
            len,
            token,
            whole_blocks: false,
        })
        .send()
        .await
        .unwrap()
}

/// Chained write lands on both replicas, reads verify, bad input gives JSON 4xx, a
/// dead downstream gives 502 naming it, a flipped byte gives 422 and a corrupt report,
/// and a master-ordered copy rebuilds the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_write_read_corrupt_replicate() {
    let tmp = tempfile::tempdir().unwrap();
    let m: M = Arc::default();
    let ml = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let master = format!("http://{}", ml.local_addr().unwrap());
    let app = Router::new()
        .route(REGISTER, post(register))
        .route(HEARTBEAT, post(heartbeat))
        .with_state(m.clone());
    tokio::spawn(async move { axum::serve(ml, app).await.unwrap() });

    let a = start_cs(&master, tmp.path(), 0).await;
    let b = start_cs(&master, tmp.path(), 1).await;
    wait_until("both registered", Duration::from_secs(10), async || {
        m.lock().registered.len() == 2
    })
    .await;
    ferrofs_tls::install_provider();
    let http = reqwest::Client::new();
    let id = 42u64;

    // --- create on both (internal: secret required)
    let r = http
        .post(url(&a, &api::create_path(id)))
        .json(&api::CreateChunkReq { version: 1 })
        .send()
        .await
        .unwrap();
    api_err(r, 401, ErrorCode::Unauthorized).await;
    for cs in [&a, &b] {
        let r = http
            .post(url(cs, &api::create_path(id)))
            .header(SECRET_HEADER, SECRET)
            .json(&api::CreateChunkReq { version: 1 })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // --- chained write a -> b
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let wtoken = issue(SECRET.as_bytes(), id, Access::Write, 60_000);
    let put = |cs: &Cs, chain: &str, version: u64, offset: u64, body: Vec<u8>| {
        http.put(url(cs, &api::data_path(id)))
            .query(&api::WriteParams {
                version,
                offset,
                sync: true,
                chain: chain.to_string(),
                token: wtoken.clone(),
            })
            .body(body)
            .send()
    };
    let r = put(&a, &b.addr, 1, 0, data.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<WriteResp>().await.unwrap().replicas, 2);
    for cs in [&a, &b] {
        let r = read(&http, cs, id, 1, 1 << 30).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    }
    let ia = info(&http, &a, id).await;
    let ib = info(&http, &b, id).await;
    assert_eq!((ia.length, &ia.sha256), (data.len() as u64, &ib.sha256));

    // --- a multi-MiB write at an unaligned offset (batched local writes, streamed
    // forwarding, multi-piece reads), then a chained truncate and sync
    let big: Vec<u8> = (0..3_000_123u32).map(|i| (i % 253) as u8).collect();
    let r = put(&a, &b.addr, 1, 12_345, big.clone()).await.unwrap();
    assert_eq!(r.json::<WriteResp>().await.unwrap().replicas, 2);
    let mut want = data.clone();
    want.resize(12_345 + big.len(), 0);
    want[12_345..].copy_from_slice(&big);
    let chained =
        |path: String, q: Vec<(&'static str, String)>| http.post(url(&a, &path)).query(&q).send();
    let q = |len: &str| {
        vec![
            ("version", "1".to_string()),
            ("len", len.to_string()),
            ("chain", b.addr.clone()),
            ("token", wtoken.clone()),
        ]
    };
    let r = chained(api::truncate_path(id), q("2000000")).await.unwrap();
    assert_eq!(r.json::<WriteResp>().await.unwrap().replicas, 2);
    want.truncate(2_000_000);
    let r = chained(api::sync_path(id), q("0")).await.unwrap();
    assert_eq!(r.json::<WriteResp>().await.unwrap().replicas, 2);
    for cs in [&a, &b] {
        let r = read(&http, cs, id, 1, 1 << 30).await;
        assert_eq!(r.bytes().await.unwrap().as_ref(), &want[..]);
    }

    // --- bad input: every error is a JSON ApiError
    let r = put(&a, "", 9, 0, vec![1]).await.unwrap();
    api_err(r, 400, ErrorCode::StaleVersion).await;
    let r = http
        .put(url(&a, &api::data_path(id)))
        .query(&[("version", "1"), ("offset", "abc")])
        .body("x")
        .send()
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = http
        .get(url(
            &a,
            "/v1/chunk/notanumber/data?version=1&offset=0&len=1",
        ))
        .send()
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = http
        .get(url(&a, &api::read_path(id)))
        .query(&[("version", "1"), ("offset", "0"), ("len", "1")])
        .send()
        .await
        .unwrap();
    api_err(r, 403, ErrorCode::PermissionDenied).await;
    let r = put(&a, "", 1, CHUNK_SIZE - 10, vec![0; 100]).await.unwrap();
    api_err(r, 413, ErrorCode::PayloadTooLarge).await;
    let r = http.get(url(&a, "/nope")).send().await.unwrap();
    api_err(r, 404, ErrorCode::NotFound).await;
    let r = http
        .post(url(&a, &api::bump_path(id)))
        .header(SECRET_HEADER, SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;

    // --- dead downstream: 502 naming it
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let r = put(
        &a,
        &format!("{},{}", b.addr, dead_addr),
        1,
        0,
        vec![7; 1000],
    )
    .await
    .unwrap();
    let e = api_err(r, 502, ErrorCode::PipelineFailed).await;
    assert_eq!(e.failed.as_deref(), Some(dead_addr.as_str()));

    // --- corrupt a byte of b's replica: 422, quarantined, reported
    let dat = b
        .dir
        .join(format!("chunks/{:02x}/{id:016x}_1.dat", id & 0xff));
    let mut bytes = std::fs::read(&dat).unwrap();
    bytes[200_000] ^= 0xff;
    std::fs::write(&dat, &bytes).unwrap();
    let r = read(&http, &b, id, 1, 1 << 30).await;
    api_err(r, 422, ErrorCode::ChunkCorrupt).await;
    let r = read(&http, &b, id, 1, 10).await;
    api_err(r, 404, ErrorCode::NotFound).await;
    wait_until("corrupt report", Duration::from_secs(10), async || {
        m.lock().corrupt.iter().any(|(_, c)| *c == id)
    })
    .await;

    // --- master orders a copy a -> b; b's replica comes back intact
    let (a_id, b_id) = {
        let m = m.lock();
        let find = |addr: &str| {
            m.registered
                .iter()
                .find(|(_, v)| *v == addr)
                .map(|(k, _)| k.clone())
                .unwrap()
        };
        (find(&a.addr), find(&b.addr))
    };
    m.lock().commands.insert(
        a_id,
        vec![Command::Replicate {
            chunk_id: id,
            version: 1,
            target: ReplicaLoc {
                id: b_id,
                addr: b.addr.clone(),
            },
        }],
    );
    wait_until("replica copied", Duration::from_secs(10), async || {
        let r = http
            .get(url(&b, "/v1/chunks"))
            .header(SECRET_HEADER, SECRET)
            .send()
            .await
            .unwrap();
        let list: Vec<ChunkReport> = r.json().await.unwrap();
        list.iter().any(|c| c.chunk_id == id && c.version == 1)
    })
    .await;
    let r = read(&http, &b, id, 1, 1 << 30).await;
    assert_eq!(r.status(), 200);
    let got = r.bytes().await.unwrap();
    let ra = read(&http, &a, id, 1, 1 << 30).await.bytes().await.unwrap();
    assert_eq!(got, ra);

    // --- bump on a: old version is stale
    let r = http
        .post(url(&a, &api::bump_path(id)))
        .header(SECRET_HEADER, SECRET)
        .json(&api::BumpVersionReq { from: 1, to: 2 })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = read(&http, &a, id, 1, 10).await;
    api_err(r, 400, ErrorCode::StaleVersion).await;
    let r = read(&http, &a, id, 2, 10).await;
    assert_eq!(r.status(), 200);

    // --- master orders deletes: an older max_version is ignored, None deletes
    let a_id = m
        .lock()
        .registered
        .iter()
        .find(|(_, v)| **v == a.addr)
        .unwrap()
        .0
        .clone();
    m.lock().commands.insert(
        a_id,
        vec![
            Command::Delete {
                chunk_id: id,
                max_version: Some(1),
            },
            Command::Delete {
                chunk_id: id,
                max_version: None,
            },
        ],
    );
    wait_until("replica deleted", Duration::from_secs(10), async || {
        read(&http, &a, id, 2, 10).await.status() == 404
    })
    .await;
}

/// A replica sent with its SHA-256 (or its block CRC32Cs) as a body trailer is installed
/// only if the bytes match the trailer and the body has exactly `length` bytes plus the
/// trailer; one with the SHA-256 declared up front still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_sha_trailer_is_verified() {
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let m: M = Arc::default();
    let ml = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let master = format!("http://{}", ml.local_addr().unwrap());
    let app = Router::new()
        .route(REGISTER, post(register))
        .route(HEARTBEAT, post(heartbeat))
        .with_state(m.clone());
    tokio::spawn(async move { axum::serve(ml, app).await.unwrap() });
    let cs = start_cs(&master, tmp.path(), 0).await;
    wait_until("registered", Duration::from_secs(10), async || {
        m.lock().registered.len() == 1
    })
    .await;
    ferrofs_tls::install_provider();
    let http = reqwest::Client::new();
    let data: Vec<u8> = (0..1_500_001u32).map(|i| (i * 7 % 241) as u8).collect();
    let sha: [u8; 32] = Sha256::digest(&data).into();
    let send = |id: u64, params: api::ReplicaParams, body: Vec<u8>| {
        http.put(url(&cs, &api::replica_path(id)))
            .header(SECRET_HEADER, SECRET)
            .query(&params)
            .body(body)
            .send()
    };
    let trailer = |length: u64| api::ReplicaParams {
        version: 1,
        length,
        sha256: String::new(),
        sha_trailer: true,
        crc_trailer: false,
    };
    let with = |tail: &[u8]| [&data[..], tail].concat();

    let mut wrong = sha;
    wrong[0] ^= 1;
    let r = send(1, trailer(data.len() as u64), with(&wrong))
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = send(1, trailer(data.len() as u64), with(&sha[..31]))
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = send(
        1,
        trailer(data.len() as u64),
        with(&[sha.as_slice(), b"x"].concat()),
    )
    .await
    .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = read(&http, &cs, 1, 1, 1 << 30).await;
    api_err(r, 404, ErrorCode::NotFound).await;

    let r = send(1, trailer(data.len() as u64), with(&sha))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = read(&http, &cs, 1, 1, 1 << 30).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    let declared = api::ReplicaParams {
        version: 1,
        length: data.len() as u64,
        sha256: hex::encode(sha),
        sha_trailer: false,
        crc_trailer: false,
    };
    let r = send(2, declared, data.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = read(&http, &cs, 2, 1, 1 << 30).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    // The CRC32C trailer: one per 64 KiB block (23 here, the last one short).
    let crcs: Vec<u8> = data
        .chunks(64 << 10)
        .flat_map(|b| crc32c::crc32c(b).to_le_bytes())
        .collect();
    assert_eq!(crcs.len(), 4 * 23);
    let crc_trailer = api::ReplicaParams {
        version: 1,
        length: data.len() as u64,
        sha256: String::new(),
        sha_trailer: false,
        crc_trailer: true,
    };
    let mut wrong = crcs.clone();
    wrong[4 * 22] ^= 1; // the last, short block
    let r = send(3, crc_trailer.clone(), with(&wrong)).await.unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = send(3, crc_trailer.clone(), with(&crcs[..crcs.len() - 4]))
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let mut flipped = data.clone();
    flipped[70_000] ^= 0x40;
    let r = send(3, crc_trailer.clone(), [&flipped[..], &crcs].concat())
        .await
        .unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = read(&http, &cs, 3, 1, 1 << 30).await;
    api_err(r, 404, ErrorCode::NotFound).await;
    let both = api::ReplicaParams {
        sha_trailer: true,
        ..crc_trailer.clone()
    };
    let r = send(3, both, with(&crcs)).await.unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let r = send(3, crc_trailer.clone(), with(&crcs)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = read(&http, &cs, 3, 1, 1 << 30).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    // With the CRC trailer, the sender's SHA-256 (if it has one) travels with the
    // replica; a malformed one is refused. Either way the receiver reports the right one
    // (kept, or computed when asked).
    let bad_hex = api::ReplicaParams {
        sha256: "zz".into(),
        ..crc_trailer.clone()
    };
    let r = send(4, bad_hex, with(&crcs)).await.unwrap();
    api_err(r, 400, ErrorCode::BadRequest).await;
    let with_sha = api::ReplicaParams {
        sha256: hex::encode(sha),
        ..crc_trailer
    };
    let r = send(4, with_sha, with(&crcs)).await.unwrap();
    assert_eq!(r.status(), 200);
    for id in [3, 4] {
        let info = info(&http, &cs, id).await;
        assert_eq!(info.sha256, hex::encode(sha), "chunk {id}");
    }
}
