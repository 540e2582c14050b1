//! `ferrofs ca init|issue`: the cluster CA and node certificates on disk, as the TLS
//! directories every role will take (`ca.pem`, `cert.pem`, `key.pem`).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ferrofs");

fn ferrofs(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run ferrofs")
}

/// `ca init` makes `ca.pem` and a private `ca-key.pem` and refuses to overwrite them;
/// `ca issue` writes a node's directory (IP and DNS names) and a client's (no hosts),
/// the key readable by its owner only; bad input exits 1 with a message, no panic.
#[test]
fn ca_init_and_issue() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let ca = d.path().join("ca");
    let ca_s = ca.to_str().unwrap();
    let out = ferrofs(&["ca", "init", ca_s]);
    assert!(out.status.success(), "{out:?}");
    let mode = std::fs::metadata(ca.join("ca-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = ferrofs(&["ca", "init", ca_s]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a CA"));

    let node = d.path().join("m1");
    let out = ferrofs(&[
        "ca",
        "issue",
        ca_s,
        node.to_str().unwrap(),
        "--name",
        "master1",
        "--host",
        "198.18.0.11",
        "--host",
        "m1.example.net",
    ]);
    assert!(out.status.success(), "{out:?}");
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        let text = std::fs::read_to_string(node.join(f)).unwrap();
        assert!(text.starts_with("-----BEGIN"), "{f}: {text}");
    }
    assert_eq!(
        std::fs::read(node.join("ca.pem")).unwrap(),
        std::fs::read(ca.join("ca.pem")).unwrap()
    );
    let mode = std::fs::metadata(node.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let client = d.path().join("admin");
    let out = ferrofs(&[
        "ca",
        "issue",
        ca_s,
        client.to_str().unwrap(),
        "--name",
        "admin",
    ]);
    assert!(out.status.success(), "{out:?}");

    let x = d.path().join("x").display().to_string();
    let bad = ferrofs(&[
        "ca",
        "issue",
        d.path().join("nope").to_str().unwrap(),
        &x,
        "--name",
        "n",
    ]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ca.pem"));
    let bad = ferrofs(&[
        "ca",
        "issue",
        ca_s,
        &x,
        "--name",
        "n",
        "--host",
        "bad name!",
    ]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
}
