//! The WebHDFS endpoint with HdfsCLI (upload, download, list, status, walk, content,
//! rename, delete, permissions, replication, append, errors) and with curl-style raw
//! requests for the protocol details (the two-step CREATE, JSON shapes, errors).

mod common;
#[path = "common/gateway.rs"]
mod gateway;

use common::*;
use gateway::*;

/// HdfsCLI drives every operation; what it wrote is visible to the ferrofs client.
#[tokio::test(flavor = "multi_thread")]
async fn hdfscli_round_trip() {
    if !have_python_module("hdfs") {
        return eprintln!("hdfs (HdfsCLI) missing: skipping");
    }
    let c = TestCluster::builder().chunkservers(3).start().await;
    let gw = Gateway::start(&c, &[]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking({
        let gw_env = gw.env();
        move || {
            std::process::Command::new("python3")
                .arg(script("webhdfs_hdfscli.py"))
                .envs(gw_env)
                .env("FERROFS_WORK", w)
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
    assert!(so.contains("hdfscli: all checks passed"), "{so}");
    let cl = c.client();
    let a = cl.resolve("/hd/in/renamed.txt").await.unwrap();
    assert_eq!(
        (a.size, a.mode, a.replication, a.uid),
        (10, 0o600, 1, 65534)
    );
    assert_eq!(cl.resolve("/hd/in").await.unwrap().mode, 0o750);
}

/// CREATE answers 307 to a data URL on the gateway, the data step answers 201; the
/// JSON replies have Hadoop's shapes; errors are RemoteException bodies with the
/// Java class and status Hadoop uses.
#[tokio::test(flavor = "multi_thread")]
async fn protocol_shapes_and_errors() {
    let c = TestCluster::builder()
        .chunkservers(2)
        .replication(2)
        .start()
        .await;
    let gw = Gateway::start(&c, &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let u = |p: &str| format!("{}/webhdfs/v1{p}", gw.webhdfs);
    phase!("two-step CREATE");
    let r = http
        .put(u("/raw/a%20b.txt?op=CREATE&user.name=root&replication=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&gw.webhdfs) && loc.contains("data=true") && loc.contains("/raw/a%20b.txt"),
        "{loc}"
    );
    let r = http.put(&loc).body("0123456789").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let a = c.client().resolve("/raw/a b.txt").await.unwrap();
    assert_eq!((a.size, a.replication), (10, 1));
    phase!("noredirect gives the Location as JSON; OPEN with offset and length");
    let r = http
        .get(u(
            "/raw/a%20b.txt?op=OPEN&noredirect=true&offset=2&length=3",
        ))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let loc = v["Location"].as_str().unwrap();
    let body = http.get(loc).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], b"234");
    phase!("APPEND two-step");
    let r = http
        .post(u("/raw/a%20b.txt?op=APPEND"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        http.post(&loc)
            .body("ab")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        &c.client().get_bytes("/raw/a b.txt").await.unwrap()[..],
        b"0123456789ab"
    );
    phase!("GETFILESTATUS and LISTSTATUS shapes");
    let v: serde_json::Value = http
        .get(u("/raw/a%20b.txt?op=GETFILESTATUS"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let st = &v["FileStatus"];
    for k in [
        "accessTime",
        "blockSize",
        "fileId",
        "group",
        "length",
        "modificationTime",
        "owner",
        "pathSuffix",
        "permission",
        "replication",
        "type",
    ] {
        assert!(st.get(k).is_some(), "FileStatus lacks {k}: {v}");
    }
    assert_eq!(st["length"], 12);
    assert_eq!(st["type"], "FILE");
    let v: serde_json::Value = http
        .get(u("/raw?op=LISTSTATUS"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["FileStatuses"]["FileStatus"][0]["pathSuffix"], "a b.txt",
        "{v}"
    );
    let v: serde_json::Value = http
        .get(u("/?op=LISTSTATUS"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = v["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pathSuffix"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["raw"], "internal directories stay hidden: {v}");
    let v: serde_json::Value = http
        .get(u("/?op=GETHOMEDIRECTORY&user.name=alice"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Path"], "/user/alice");
    phase!("errors");
    let cases: &[(&str, &str, u16, &str)] = &[
        (
            "GET",
            "/nope?op=GETFILESTATUS",
            404,
            "java.io.FileNotFoundException",
        ),
        (
            "GET",
            "/raw?op=BOGUS",
            400,
            "java.lang.IllegalArgumentException",
        ),
        ("GET", "/raw", 400, "java.lang.IllegalArgumentException"),
        (
            "DELETE",
            "/raw?op=MKDIRS",
            400,
            "java.lang.UnsupportedOperationException",
        ),
        (
            "PUT",
            "/raw?op=SETPERMISSION&permission=999",
            400,
            "java.lang.IllegalArgumentException",
        ),
        (
            "DELETE",
            "/raw?op=DELETE&recursive=false",
            403,
            "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
        ),
        (
            "PUT",
            "/raw/a%20b.txt/x?op=MKDIRS",
            403,
            "org.apache.hadoop.fs.ParentNotDirectoryException",
        ),
        (
            "PUT",
            "/raw?op=RENAME&destination=relative",
            400,
            "java.lang.IllegalArgumentException",
        ),
        (
            "GET",
            "/raw/a%20b.txt?op=OPEN&data=true&offset=99",
            403,
            "java.io.IOException",
        ),
        (
            "PUT",
            "/raw/x?op=CREATE&data=true&replication=abc",
            400,
            "java.lang.IllegalArgumentException",
        ),
    ];
    for (m, p, status, class) in cases {
        let r = http.request(m.parse().unwrap(), u(p)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{m} {p}");
        let v: serde_json::Value = r.json().await.unwrap_or_else(|e| panic!("{m} {p}: {e}"));
        assert_eq!(
            v["RemoteException"]["javaClassName"], *class,
            "{m} {p}: {v}"
        );
    }
    phase!("CREATE without overwrite on an existing file");
    let r = http
        .put(u("/raw/a%20b.txt?op=CREATE&data=true"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        &c.client().get_bytes("/raw/a b.txt").await.unwrap()[..],
        b"0123456789ab"
    );
    let v: serde_json::Value = http
        .delete(u("/nope?op=DELETE"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["boolean"], false);
}
