//! File commands: put, get, cat, ls, stat, mkdir, rm, mv (and, in `dfs_cmds`, du, df,
//! chmod, chown, touch, tail, cp).

use crate::cli::Cmd;
use anyhow::{Context, Result};
use ferrofs_client::{Client, ClientConfig, Progress};
use ferrofs_proto::namespace::FileKind;
use std::io::IsTerminal;
use std::sync::Arc;

pub fn client(master: &str) -> Result<Client> {
    let mut cfg = ClientConfig::new(master)
        .with_env()
        .map_err(anyhow::Error::msg)?;
    cfg.transport = crate::tls_opt::transport(None)?;
    Ok(Client::new(cfg)?)
}

fn bar(total: u64) -> Option<(indicatif::ProgressBar, Progress)> {
    if !std::io::stderr().is_terminal() || total < (8 << 20) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    let p2 = pb.clone();
    Some((pb, Arc::new(move |n| p2.set_position(n))))
}

pub async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Put {
            local,
            remote,
            replication,
            m,
        } => {
            let c = client(&m.master)?;
            if local.is_dir() {
                return crate::tree_transfer::put_dir(&c, &local, &remote, replication).await;
            }
            let attr = if local.as_os_str() == "-" {
                c.put(&remote, tokio::io::stdin(), replication, None)
                    .await?
            } else {
                let f = tokio::fs::File::open(&local)
                    .await
                    .with_context(|| format!("{}", local.display()))?;
                let len = f.metadata().await?.len();
                let pb = bar(len);
                let r = c
                    .put(
                        &remote,
                        tokio::io::BufReader::with_capacity(1 << 20, f),
                        replication,
                        pb.as_ref().map(|p| p.1.clone()),
                    )
                    .await;
                if let Some((pb, _)) = pb {
                    pb.finish_and_clear();
                }
                r?
            };
            tracing::info!(path = %remote, size = attr.size, "stored");
        }
        Cmd::Get {
            remote, local, m, ..
        } => {
            let c = client(&m.master)?;
            if c.resolve(&remote).await?.kind == FileKind::Dir {
                return crate::tree_transfer::get_dir(&c, &remote, &local).await;
            }
            if local.as_os_str() == "-" {
                c.get(&remote, &mut crate::out::async_stdout(), None)
                    .await?;
            } else {
                let size = c.resolve(&remote).await?.size;
                let tmp = local.with_extension("ferrofs-partial");
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .with_context(|| format!("{}", tmp.display()))?;
                let pb = bar(size);
                let r = c
                    .get(&remote, &mut f, pb.as_ref().map(|p| p.1.clone()))
                    .await;
                if let Some((pb, _)) = pb {
                    pb.finish_and_clear();
                }
                if let Err(e) = r {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e.into());
                }
                f.sync_all().await?;
                tokio::fs::rename(&tmp, &local).await?;
            }
        }
        Cmd::Cat { remote, m } => {
            client(&m.master)?
                .get(&remote, &mut crate::out::async_stdout(), None)
                .await?;
        }
        Cmd::Ls {
            path,
            long,
            numeric,
            human,
            json,
            m,
            ..
        } => {
            let o = crate::attr_fmt::LongOpts { numeric, human };
            crate::dfs_cmds::ls(&client(&m.master)?, &path, long, o, json).await?;
        }
        Cmd::Du {
            path,
            summary,
            human,
            json,
            m,
            ..
        } => crate::dfs_cmds::du(&client(&m.master)?, &path, summary, human, json).await?,
        Cmd::Df { human, json, m, .. } => {
            crate::dfs_cmds::df(&client(&m.master)?, &m.master, human, json).await?
        }
        Cmd::Chmod {
            mode,
            path,
            recursive,
            m,
        } => crate::dfs_cmds::chmod(&client(&m.master)?, &mode, &path, recursive).await?,
        Cmd::Chown {
            owner,
            path,
            recursive,
            m,
        } => crate::dfs_cmds::chown(&client(&m.master)?, &owner, &path, recursive).await?,
        Cmd::Touch { path, m } => crate::dfs_cmds::touch(&client(&m.master)?, &path).await?,
        Cmd::Tail {
            path,
            follow,
            bytes,
            m,
        } => crate::dfs_cmds::tail(&client(&m.master)?, &path, bytes, follow).await?,
        Cmd::Cp {
            from,
            to,
            recursive,
            m,
        } => crate::dfs_cmds::cp(&client(&m.master)?, &from, &to, recursive).await?,
        Cmd::Stat { path, json, m } => {
            let c = client(&m.master)?;
            let a = c.resolve(&path).await?;
            let info: Option<ferrofs_proto::admin::FileInfo> = if a.kind == FileKind::File {
                Some(
                    c.master
                        .get(&format!(
                            "{}?path={}",
                            ferrofs_proto::admin::FILES,
                            urlencode(&path)
                        ))
                        .await?,
                )
            } else {
                None
            };
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"attr": a, "placement": info})
                    )?
                );
            } else {
                outln!("  path: {path}");
                outln!(
                    " inode: {}  type: {:?}  mode: {:o}  links: {}",
                    a.ino,
                    a.kind,
                    a.mode,
                    a.nlink
                );
                outln!(
                    "  size: {}  uid: {}  gid: {}  replication: {}",
                    a.size,
                    a.uid,
                    a.gid,
                    a.replication
                );
                let names = crate::attr_fmt::Names::default();
                outln!(
                    " owner: {} ({})  group: {} ({})  perms: {}",
                    names.user(a.uid),
                    a.uid,
                    names.group(a.gid),
                    a.gid,
                    crate::attr_fmt::mode_string(a.kind, a.mode)
                );
                outln!("access: {}", crate::attr_fmt::stat_time(a.atime));
                outln!("modify: {}", crate::attr_fmt::stat_time(a.mtime));
                outln!("change: {}", crate::attr_fmt::stat_time(a.ctime));
                if let Some(info) = info {
                    for ch in info.chunks {
                        outln!(
                            "  chunk {:>4}: id {} v{} replicas [{}]",
                            ch.index,
                            ch.id,
                            ch.version,
                            ch.replicas.join(", ")
                        );
                    }
                }
            }
        }
        Cmd::Mkdir { path, parents, m } => {
            let c = client(&m.master)?;
            if parents {
                c.mkdir_p(&path).await?;
            } else {
                c.mkdir(&path, 0o755).await?;
            }
        }
        Cmd::Rm { path, recursive, m } => {
            let c = client(&m.master)?;
            if recursive {
                crate::dfs_cmds::rm_recursive(&c, &path).await?;
            } else {
                c.remove(&path).await?;
            }
        }
        Cmd::Mv { from, to, m } => {
            client(&m.master)?.rename_path(&from, &to).await?;
        }
        _ => unreachable!("not a file command"),
    }
    Ok(())
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
