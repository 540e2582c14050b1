//! `ferrofs s3`, `ferrofs webhdfs`, `ferrofs gateway`: load the `[gateway]` config,
//! apply flags, bind, and serve until SIGINT/SIGTERM.

use crate::cli::GatewayArgs;
use anyhow::{Result, bail};
use ferrofs_gateway::{GatewayConfig, S3Key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    S3,
    WebHdfs,
    Both,
}

/// The config these flags describe (file first, flags over it).
pub fn config(a: &GatewayArgs, mode: Mode) -> Result<GatewayConfig> {
    let mut cfg: GatewayConfig = crate::servers::load(a.config.as_deref(), "gateway")?;
    if let Some(m) = &a.master {
        cfg.master = m.clone();
    }
    match mode {
        Mode::S3 | Mode::WebHdfs => {
            if a.s3_listen.is_some() || a.webhdfs_listen.is_some() {
                bail!("--s3-listen/--webhdfs-listen are for `ferrofs gateway`; use --listen");
            }
            let listen = a.listen.clone();
            if mode == Mode::S3 {
                cfg.webhdfs_listen.clear();
                if let Some(l) = listen {
                    cfg.s3_listen = l;
                }
            } else {
                cfg.s3_listen.clear();
                if let Some(l) = listen {
                    cfg.webhdfs_listen = l;
                }
            }
        }
        Mode::Both => {
            if a.listen.is_some() {
                bail!("`ferrofs gateway` takes --s3-listen and --webhdfs-listen, not --listen");
            }
            if let Some(l) = &a.s3_listen {
                cfg.s3_listen = l.clone();
            }
            if let Some(l) = &a.webhdfs_listen {
                cfg.webhdfs_listen = l.clone();
            }
        }
    }
    match (&a.access_key, &a.secret_key) {
        (Some(ak), Some(sk)) => cfg.keys.push(S3Key {
            access_key: ak.clone(),
            secret_key: sk.clone(),
        }),
        (None, None) => {}
        _ => bail!("--access-key and --secret-key go together"),
    }
    if a.anonymous {
        cfg.anonymous = true;
    }
    if let Some(r) = &a.region {
        cfg.region = r.clone();
    }
    cfg.tls_dir = crate::tls_opt::dir(a.config.as_deref())?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("invalid gateway config: {e}"))?;
    Ok(cfg)
}

pub async fn run(a: GatewayArgs, mode: Mode) -> Result<()> {
    let cfg = config(&a, mode)?;
    let s3 = match cfg.s3_listen.as_str() {
        "" => None,
        l => Some(crate::servers::bind(l, a.s3_addr_file.as_deref()).await?),
    };
    let webhdfs = match cfg.webhdfs_listen.as_str() {
        "" => None,
        l => Some(crate::servers::bind(l, a.webhdfs_addr_file.as_deref()).await?),
    };
    ferrofs_gateway::run(cfg, s3, webhdfs, crate::servers::shutdown_signal()).await?;
    Ok(())
}
