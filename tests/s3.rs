//! The S3 gateway with the clients people use: boto3 (every operation and its errors),
//! aws-cli (cp, ls, sync, rm, multipart above its threshold), rclone, and pyarrow's S3
//! filesystem with Parquet; what goes in through S3 is a file for every other client
//! and the reverse. Python packages and rclone come from scripts/install-deps.sh; a
//! missing one skips its test outside CI and fails it in CI.

mod common;
#[path = "common/gateway.rs"]
mod gateway;

use common::*;
use gateway::*;
use std::time::Duration;

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .chunkservers(3)
        .replication(2)
        .start()
        .await
}

/// Nothing is left in the gateways' hidden directories once uploads have finished.
async fn no_leftovers(c: &TestCluster) {
    let cl = c.client();
    for dir in ["/.ferrofs-staging", "/.ferrofs-multipart"] {
        if let Ok(a) = cl.resolve(dir).await {
            let left = cl.readdir_all(a.ino).await.unwrap();
            let names: Vec<_> = left.iter().map(|e| e.name.clone()).collect();
            assert!(names.is_empty(), "{dir} still holds {names:?}");
        }
    }
}

/// boto3 drives every implemented operation, including multipart and the error codes
/// NoSuchKey, NoSuchBucket, BucketNotEmpty, InvalidRange, SignatureDoesNotMatch.
#[tokio::test(flavor = "multi_thread")]
async fn boto3_every_operation_and_error() {
    if !have_python_module("boto3") {
        return eprintln!("boto3 missing: skipping");
    }
    let c = cluster().await;
    let gw = Gateway::start(&c, &[]);
    phase!("run tests/clients/s3_boto3.py");
    let out = tokio::task::spawn_blocking({
        let (gw_env, script) = (gw.env(), script("s3_boto3.py"));
        move || {
            let out = std::process::Command::new("python3")
                .arg(script)
                .envs(gw_env)
                .output()
                .unwrap();
            (
                out.status,
                String::from_utf8_lossy(&out.stdout).to_string(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.0.success(),
        "boto3 script failed:\n{}\n{}",
        out.1,
        out.2
    );
    assert!(out.1.contains("boto3: all checks passed"), "{}", out.1);
    phase!("the objects are files");
    let cl = c.client();
    assert_eq!(&cl.get_bytes("/boto/empty").await.unwrap()[..], b"now full");
    let big = cl.resolve("/boto/big/multi.bin").await.unwrap();
    assert_eq!(big.size, 2 * 5 * 1024 * 1024 + 12345);
    assert_eq!(
        big.replication, 2,
        "a completed upload takes its directory's goal"
    );
    assert!(
        cl.resolve("/boto/list").await.is_err(),
        "emptied prefix directories are removed"
    );
    assert!(
        gw.log_text().contains("completing by rename"),
        "equal parts should complete without a copy:\n{}",
        gw.log_text()
    );
    no_leftovers(&c).await;
}

fn aws(gw: &Gateway, cfg: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["--endpoint-url", gw.s3.as_str()];
    all.extend_from_slice(args);
    run(
        gw,
        "aws",
        &all,
        &[("AWS_CONFIG_FILE", cfg.to_str().unwrap())],
    )
}

/// aws-cli's high-level commands, with a file above the multipart threshold.
#[tokio::test(flavor = "multi_thread")]
async fn aws_cli_cp_ls_sync_rm_and_multipart() {
    if !have_program("aws") {
        return eprintln!("aws-cli missing: skipping");
    }
    let c = cluster().await;
    let gw = Gateway::start(&c, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("aws.config");
    std::fs::write(
        &cfg,
        "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n",
    )
    .unwrap();
    let big = random_bytes(20 << 20, 7);
    std::fs::write(tmp.path().join("big.bin"), &big).unwrap();
    let tree = tmp.path().join("tree");
    for (p, seed) in [("a.txt", 1u64), ("sub/b.bin", 2), ("sub/deeper/c.bin", 3)] {
        let f = tree.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, random_bytes(100_000 + seed as usize, seed)).unwrap();
    }
    let b = |p: &str| format!("s3://cli/{p}");
    phase!("mb, cp (multipart), ls");
    aws(&gw, &cfg, &["s3", "mb", "s3://cli"]);
    aws(
        &gw,
        &cfg,
        &[
            "s3",
            "cp",
            tmp.path().join("big.bin").to_str().unwrap(),
            &b("big.bin"),
        ],
    );
    let ls = aws(&gw, &cfg, &["s3", "ls", "s3://cli/"]);
    assert!(ls.contains(&format!("{} big.bin", 20 << 20)), "{ls}");
    let head = aws(
        &gw,
        &cfg,
        &[
            "s3api",
            "head-object",
            "--bucket",
            "cli",
            "--key",
            "big.bin",
        ],
    );
    assert!(
        head.contains("-3\\\""),
        "a 20 MiB upload in 8 MiB parts has a 3-part ETag: {head}"
    );
    assert_eq!(
        sha256(&c.client().get_bytes("/cli/big.bin").await.unwrap()),
        sha256(&big)
    );
    assert!(
        gw.log_text().contains("completing by rename"),
        "{}",
        gw.log_text()
    );
    phase!("cp back");
    let back = tmp.path().join("back.bin");
    aws(
        &gw,
        &cfg,
        &["s3", "cp", &b("big.bin"), back.to_str().unwrap()],
    );
    assert_eq!(sha256(&std::fs::read(&back).unwrap()), sha256(&big));
    phase!("sync up, sync down, compare");
    aws(
        &gw,
        &cfg,
        &["s3", "sync", tree.to_str().unwrap(), &b("tree/")],
    );
    let ls = aws(&gw, &cfg, &["s3", "ls", "--recursive", "s3://cli/tree/"]);
    for p in ["tree/a.txt", "tree/sub/b.bin", "tree/sub/deeper/c.bin"] {
        assert!(ls.contains(p), "{p} missing:\n{ls}");
    }
    let again = aws(
        &gw,
        &cfg,
        &["s3", "sync", tree.to_str().unwrap(), &b("tree/")],
    );
    assert!(
        again.trim().is_empty(),
        "a second sync should copy nothing: {again}"
    );
    let down = tmp.path().join("down");
    aws(
        &gw,
        &cfg,
        &["s3", "sync", &b("tree/"), down.to_str().unwrap()],
    );
    for p in ["a.txt", "sub/b.bin", "sub/deeper/c.bin"] {
        assert_eq!(
            std::fs::read(down.join(p)).unwrap(),
            std::fs::read(tree.join(p)).unwrap(),
            "{p}"
        );
    }
    phase!("rm --recursive leaves nothing to list");
    aws(&gw, &cfg, &["s3", "rm", "--recursive", &b("tree/")]);
    let ls = aws(&gw, &cfg, &["s3", "ls", "--recursive", "s3://cli/"]);
    assert!(!ls.contains("tree/"), "{ls}");
    aws(&gw, &cfg, &["s3", "rm", &b("big.bin")]);
    aws(&gw, &cfg, &["s3", "rb", "s3://cli"]);
    assert!(c.client().resolve("/cli").await.is_err());
    no_leftovers(&c).await;
}

/// rclone copies a tree up and down, checks it by hash, and deletes it.
#[tokio::test(flavor = "multi_thread")]
async fn rclone_copy_check_delete() {
    if !have_program("rclone") {
        return eprintln!("rclone missing: skipping");
    }
    let c = cluster().await;
    let gw = Gateway::start(&c, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for (p, n) in [
        ("one.bin", 1usize),
        ("d/two.bin", 300_000),
        ("d/e/three.bin", 7 << 20),
    ] {
        let f = src.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, random_bytes(n, n as u64)).unwrap();
    }
    let env: Vec<(&str, &str)> = vec![
        ("RCLONE_CONFIG_FERRO_TYPE", "s3"),
        ("RCLONE_CONFIG_FERRO_PROVIDER", "Other"),
        ("RCLONE_CONFIG_FERRO_ACCESS_KEY_ID", ACCESS_KEY),
        ("RCLONE_CONFIG_FERRO_SECRET_ACCESS_KEY", SECRET_KEY),
        ("RCLONE_CONFIG_FERRO_ENDPOINT", &gw.s3),
        ("RCLONE_CONFIG_FERRO_FORCE_PATH_STYLE", "true"),
        ("RCLONE_CONFIG_FERRO_UPLOAD_CUTOFF", "5M"),
        ("RCLONE_CONFIG_FERRO_CHUNK_SIZE", "5M"),
        ("RCLONE_CONFIG", "/dev/null"),
    ];
    let rc = |args: &[&str]| run(&gw, "rclone", args, &env);
    phase!("mkdir, copy up (one file multipart), lsf");
    rc(&["mkdir", "ferro:rcl"]);
    rc(&["copy", src.to_str().unwrap(), "ferro:rcl/data"]);
    let lsf = rc(&["lsf", "-R", "--files-only", "ferro:rcl/data"]);
    let mut got: Vec<&str> = lsf.lines().collect();
    got.sort();
    assert_eq!(got, ["d/e/three.bin", "d/two.bin", "one.bin"]);
    phase!("check by hash, copy down");
    rc(&["check", src.to_str().unwrap(), "ferro:rcl/data"]);
    let down = tmp.path().join("down");
    rc(&["copy", "ferro:rcl/data", down.to_str().unwrap()]);
    for p in ["one.bin", "d/two.bin", "d/e/three.bin"] {
        assert_eq!(
            std::fs::read(down.join(p)).unwrap(),
            std::fs::read(src.join(p)).unwrap(),
            "{p}"
        );
    }
    phase!("the files are in the namespace; purge removes them");
    assert_eq!(
        c.client()
            .resolve("/rcl/data/d/e/three.bin")
            .await
            .unwrap()
            .size,
        7 << 20
    );
    rc(&["purge", "ferro:rcl/data"]);
    assert!(c.client().resolve("/rcl/data").await.is_err());
    no_leftovers(&c).await;
}

/// pyarrow writes and reads Parquet through its S3 filesystem.
#[tokio::test(flavor = "multi_thread")]
async fn pyarrow_parquet_round_trip() {
    if !have_python_module("pyarrow") {
        return eprintln!("pyarrow missing: skipping");
    }
    let c = cluster().await;
    let gw = Gateway::start(&c, &[]);
    c.client().mkdir_p("/arrow").await.unwrap();
    let out = tokio::task::spawn_blocking({
        let env = gw.env();
        move || {
            std::process::Command::new("python3")
                .arg(script("s3_pyarrow.py"))
                .envs(env)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(so.contains("pyarrow: round trip ok"), "{so}");
    let a = c.client().resolve("/arrow/t/part-0.parquet").await.unwrap();
    assert!(a.size > 1000, "parquet file of {} bytes", a.size);
}

/// A file written by another client is an object (with a non-MD5 ETag), an object is
/// a file, and an overwrite through S3 is atomic for readers of the file.
#[tokio::test(flavor = "multi_thread")]
async fn files_and_objects_are_the_same_thing() {
    if !have_python_module("boto3") {
        return eprintln!("boto3 missing: skipping");
    }
    let c = cluster().await;
    let gw = Gateway::start(&c, &[]);
    let cl = c.client();
    cl.mkdir_p("/shared/in").await.unwrap();
    let data = random_bytes(3 << 20, 11);
    cl.put_bytes("/shared/in/from-client.bin", data.clone().into())
        .await
        .unwrap();
    let py = r#"
import boto3, hashlib, os
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["FERROFS_S3_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["FERROFS_S3_ACCESS_KEY"], aws_secret_access_key=os.environ["FERROFS_S3_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}))
o = s3.get_object(Bucket="shared", Key="in/from-client.bin")
body = o["Body"].read()
print("sha256", hashlib.sha256(body).hexdigest())
print("etag", o["ETag"])
lst = s3.list_objects_v2(Bucket="shared")
print("keys", [x["Key"] for x in lst["Contents"]])
s3.put_object(Bucket="shared", Key="in/from-s3.txt", Body=b"written through S3")
"#;
    let out = run(&gw, "python3", &["-c", py], &[]);
    assert!(out.contains(&format!("sha256 {}", sha256(&data))), "{out}");
    assert!(
        out.contains("-1\""),
        "a file written elsewhere has a non-MD5 ETag: {out}"
    );
    assert!(out.contains("keys ['in/from-client.bin']"), "{out}");
    assert_eq!(
        &cl.get_bytes("/shared/in/from-s3.txt").await.unwrap()[..],
        b"written through S3"
    );
    phase!("a file changed by another client gets a new ETag");
    cl.put_bytes(
        "/shared/in/from-s3.txt",
        bytes::Bytes::from_static(b"changed"),
    )
    .await
    .unwrap();
    let py2 = r#"
import boto3, os
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["FERROFS_S3_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["FERROFS_S3_ACCESS_KEY"], aws_secret_access_key=os.environ["FERROFS_S3_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"}))
o = s3.get_object(Bucket="shared", Key="in/from-s3.txt")
print(o["Body"].read(), o["ETag"])
"#;
    let out = run(&gw, "python3", &["-c", py2], &[]);
    assert!(out.contains("b'changed'") && out.contains("-1\""), "{out}");
}

/// Without keys the S3 endpoint refuses to start (anonymous access is off by default),
/// and unsigned or garbage requests are 4xx replies, never a crash.
#[tokio::test(flavor = "multi_thread")]
async fn no_keys_no_start_and_bad_requests_are_4xx() {
    let c = cluster().await;
    let out = std::process::Command::new(BIN)
        .args(["s3", "--master", &c.master_url(), "--listen", "127.0.0.1:0"])
        .env_remove("FERROFS_S3_ACCESS_KEY")
        .env_remove("FERROFS_S3_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs an access key"), "{err}");
    let gw = Gateway::start(&c, &[]);
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/"),
        ("PUT", "/newbucket"),
        ("GET", "/b/%ff%fe"),
        ("POST", "/b/k?uploads"),
        ("GET", "/b?list-type=2&max-keys=nope"),
        ("DELETE", "/b/k?uploadId=../../etc"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{}{path}", gw.s3))
            .body("junk")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{method} {path}: {status} {text}"
        );
        assert!(
            text.contains("<Code>"),
            "{method} {path}: not an S3 error body: {text}"
        );
    }
    let r = http
        .get(format!("{}/webhdfs/v1/x?op=NOSUCHOP", gw.webhdfs))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("RemoteException"));
    // Still serving.
    tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("{}/", gw.s3)).send(),
    )
    .await
    .unwrap()
    .unwrap();
}
