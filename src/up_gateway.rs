//! The gateway `ferrofs up` runs beside the cluster: S3 and WebHDFS on loopback, with
//! an access key made on first start and kept in the data directory's `gateway.toml`
//! (so a restarted `up` keeps it; the gateway reads it as its config, so the secret is
//! never on a command line), unless FERROFS_S3_ACCESS_KEY/FERROFS_S3_SECRET_KEY are set
//! (the gateway reads those itself).

use crate::up::{Proc, free_port, spawn, wait_for};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

pub struct Started {
    s3: String,
    webhdfs: String,
    access_key: String,
    secret_key: String,
}

impl Started {
    pub fn print_banner(&self) {
        outln!(
            "  S3:        {}  (access key {}, secret {})",
            self.s3,
            self.access_key,
            self.secret_key
        );
        outln!("  WebHDFS:   {}/webhdfs/v1/", self.webhdfs);
    }
}

/// The key pair of this cluster directory: from the environment, else from its
/// `gateway.toml`, else a new one written there (readable by its owner only).
fn key_pair(dir: &Path) -> Result<(String, String)> {
    if let (Ok(ak), Ok(sk)) = (
        std::env::var("FERROFS_S3_ACCESS_KEY"),
        std::env::var("FERROFS_S3_SECRET_KEY"),
    ) {
        return Ok((ak, sk));
    }
    let file = dir.join("gateway.toml");
    if let Ok(cfg) = crate::servers::load::<ferrofs_gateway::GatewayConfig>(Some(&file), "gateway")
        && let Some(k) = cfg.keys.first()
    {
        return Ok((k.access_key.clone(), k.secret_key.clone()));
    }
    let ak = format!("FERRO{:015X}", rand::random::<u64>() >> 4);
    let sk = hex::encode(rand::random::<[u8; 20]>());
    let text = format!(
        "# Written by `ferrofs up`: the S3 key of this cluster.\n[gateway]\nkeys = [{{ access_key = \"{ak}\", secret_key = \"{sk}\" }}]\n"
    );
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("{}", file.display()))?;
    Ok((ak, sk))
}

/// Start the gateway as one of `procs` and wait until both endpoints accept.
pub async fn start(
    dir: &Path,
    master: &str,
    (s3, hdfs): (u16, u16),
    tls: &crate::up_tls::UpTls,
    procs: &mut Vec<Proc>,
) -> Result<Started> {
    let (access_key, secret_key) = key_pair(dir)?;
    let s3_port = free_port(s3)?;
    let hdfs_port = free_port(hdfs)?;
    let mut args = vec![
        "gateway".to_string(),
        "--master".into(),
        master.to_string(),
        "--s3-listen".into(),
        format!("127.0.0.1:{s3_port}"),
        "--webhdfs-listen".into(),
        format!("127.0.0.1:{hdfs_port}"),
    ];
    args.extend(tls.args());
    let config = dir.join("gateway.toml");
    if config.exists() {
        args.extend(["--config".into(), config.display().to_string()]);
    }
    procs.push(spawn("gateway", &args, &dir.join("gateway.log"))?);
    for port in [s3_port, hdfs_port] {
        wait_for("the gateway", Duration::from_secs(30), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await
        .with_context(|| format!("see {}", dir.join("gateway.log").display()))?;
    }
    Ok(Started {
        s3: format!("{}://127.0.0.1:{s3_port}", tls.scheme()),
        webhdfs: format!("{}://127.0.0.1:{hdfs_port}", tls.scheme()),
        access_key,
        secret_key,
    })
}
