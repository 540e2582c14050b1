//! The commands that make the CLI feel like `hdfs dfs` and coreutils: `ls -l` with
//! names and times (`-n` numeric, `-h` sizes, `--json`), `du`, `df`, `chmod`, `chown`,
//! `touch`, `tail [-f]`, `cp` inside the cluster, and `rm -r` with progress.

use crate::attr_fmt::{self, LongOpts, Names, human, json_entry, long_line};
use anyhow::{Context, Result, bail};
use ferrofs_client::Client;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Attr, DirEntry, FileKind, SetattrReq, TimeSet, Timespec};
use std::io::IsTerminal;

/// A spinner counting items when stderr is a terminal (rm -r, cp -r of many files).
pub fn counter(what: &'static str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} {{pos}} ({{per_sec}}) {{elapsed}}"
        ))
        .expect("valid template"),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(pb)
}

pub async fn ls(c: &Client, path: &str, long: bool, o: LongOpts, json: bool) -> Result<()> {
    let a = c.resolve(path).await?;
    let entries = if a.kind == FileKind::Dir {
        c.readdir_all(a.ino).await?
    } else {
        vec![DirEntry {
            name: path.to_string(),
            attr: a,
        }]
    };
    let names = Names::default();
    if json {
        let base = path.trim_end_matches('/');
        let v: Vec<_> = entries
            .iter()
            .map(|e| {
                let p = if e.name.starts_with('/') {
                    e.name.clone()
                } else {
                    format!("{base}/{}", e.name)
                };
                json_entry(&p, &e.attr, &names)
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let now = Timespec::now();
    for e in entries {
        if long {
            outln!("{}", long_line(&e.attr, &e.name, o, &names, now));
        } else {
            outln!("{}", e.name);
        }
    }
    Ok(())
}

/// Totals of a tree: logical bytes, bytes on disks (times replication), files, dirs.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Usage {
    pub bytes: u64,
    pub disk_bytes: u64,
    pub files: u64,
    pub dirs: u64,
}

pub async fn usage(c: &Client, a: &Attr) -> Result<Usage> {
    let mut u = Usage::default();
    let mut stack = vec![a.clone()];
    while let Some(a) = stack.pop() {
        if a.kind == FileKind::Dir {
            u.dirs += 1;
            stack.extend(c.readdir_all(a.ino).await?.into_iter().map(|e| e.attr));
        } else {
            u.files += 1;
            u.bytes += a.size;
            u.disk_bytes += a.size * u64::from(a.replication);
        }
    }
    Ok(u)
}

/// `du`: each entry under `path` (a file: itself) with its size and its size on the
/// disks (replicas counted), as `hdfs dfs -du`; `-s` one line for the whole path.
pub async fn du(c: &Client, path: &str, summary: bool, h: bool, json: bool) -> Result<()> {
    let a = c.resolve(path).await?;
    let rows: Vec<(String, Usage)> = if summary || a.kind != FileKind::Dir {
        vec![(path.to_string(), usage(c, &a).await?)]
    } else {
        let base = path.trim_end_matches('/');
        let mut rows = vec![];
        for e in c.readdir_all(a.ino).await? {
            rows.push((format!("{base}/{}", e.name), usage(c, &e.attr).await?));
        }
        rows
    };
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(p, u)| serde_json::json!({"path": p, "bytes": u.bytes, "disk_bytes": u.disk_bytes, "files": u.files, "dirs": u.dirs}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let f = |n: u64| if h { human(n) } else { n.to_string() };
    for (p, u) in rows {
        outln!("{:<12} {:<12} {p}", f(u.bytes), f(u.disk_bytes));
    }
    Ok(())
}

/// `df`: the cluster's capacity, used and free space.
pub async fn df(c: &Client, master: &str, h: bool, json: bool) -> Result<()> {
    let s = c.statfs().await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let f = |n: u64| if h { human(n) } else { n.to_string() };
    let pct = (100 * s.used_bytes)
        .checked_div(s.capacity_bytes)
        .unwrap_or(0);
    outln!(
        "{:<32} {:>12} {:>12} {:>12} {:>5}",
        "Filesystem",
        "Size",
        "Used",
        "Available",
        "Use%"
    );
    outln!(
        "{:<32} {:>12} {:>12} {:>12} {:>4}%",
        master,
        f(s.capacity_bytes),
        f(s.used_bytes),
        f(s.free_bytes),
        pct
    );
    Ok(())
}

/// Apply a chmod mode (`755`, `u+x`, `go-w`, `a=r,u+w`) to `old`.
pub fn parse_mode(spec: &str, old: u32, is_dir: bool) -> Result<u32> {
    if !spec.is_empty() && spec.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        let m = u32::from_str_radix(spec, 8)?;
        if m > 0o7777 {
            bail!("invalid mode {spec:?}");
        }
        return Ok(m);
    }
    let mut mode = old & 0o7777;
    for clause in spec.split(',') {
        let op_at = clause.find(['+', '-', '=']).with_context(|| {
            format!("invalid mode {spec:?}: expected [ugoa][+-=][rwxXst] or octal")
        })?;
        let (who, rest) = clause.split_at(op_at);
        let (op, perms) = rest.split_at(1);
        let mut mask = 0u32;
        for w in if who.is_empty() {
            "a".chars()
        } else {
            who.chars()
        } {
            mask |= match w {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => bail!("invalid mode {spec:?}: bad who {w:?}"),
            };
        }
        let mut bits = 0u32;
        for p in perms.chars() {
            bits |= match p {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || old & 0o111 != 0 => 0o111,
                'X' => 0,
                's' => 0o6000,
                't' => 0o1000,
                _ => bail!("invalid mode {spec:?}: bad permission {p:?}"),
            };
        }
        let bits = bits & mask;
        mode = match op {
            "+" => mode | bits,
            "-" => mode & !bits,
            _ => (mode & !mask) | bits,
        };
    }
    Ok(mode)
}

/// Every inode of a tree (the root first), for `-R`.
async fn tree(c: &Client, a: Attr) -> Result<Vec<Attr>> {
    let mut out = vec![];
    let mut stack = vec![a];
    while let Some(a) = stack.pop() {
        if a.kind == FileKind::Dir {
            stack.extend(c.readdir_all(a.ino).await?.into_iter().map(|e| e.attr));
        }
        out.push(a);
    }
    Ok(out)
}

pub async fn chmod(c: &Client, spec: &str, path: &str, recursive: bool) -> Result<()> {
    let a = c.resolve(path).await?;
    let all = if recursive {
        tree(c, a).await?
    } else {
        vec![a]
    };
    for a in all {
        let mode = parse_mode(spec, a.mode, a.kind == FileKind::Dir)?;
        c.setattr(SetattrReq {
            ino: a.ino,
            mode: Some(mode),
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}

/// `OWNER`, `OWNER:GROUP` or `:GROUP`, names or numbers.
pub fn parse_owner(spec: &str) -> Result<(Option<u32>, Option<u32>)> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = match u {
        "" => None,
        u => Some(attr_fmt::uid_of(u).with_context(|| format!("unknown user {u:?}"))?),
    };
    let gid = match g {
        None | Some("") => None,
        Some(g) => Some(attr_fmt::gid_of(g).with_context(|| format!("unknown group {g:?}"))?),
    };
    if uid.is_none() && gid.is_none() {
        bail!("chown needs an owner, a group or both: {spec:?}");
    }
    Ok((uid, gid))
}

pub async fn chown(c: &Client, spec: &str, path: &str, recursive: bool) -> Result<()> {
    let (uid, gid) = parse_owner(spec)?;
    let a = c.resolve(path).await?;
    let all = if recursive {
        tree(c, a).await?
    } else {
        vec![a]
    };
    for a in all {
        c.setattr(SetattrReq {
            ino: a.ino,
            uid,
            gid,
            ..Default::default()
        })
        .await?;
    }
    Ok(())
}

/// Create an empty file, or set an existing one's times to now.
pub async fn touch(c: &Client, path: &str) -> Result<()> {
    match c.resolve(path).await {
        Ok(a) => {
            c.setattr(SetattrReq {
                ino: a.ino,
                atime: Some(TimeSet::Now),
                mtime: Some(TimeSet::Now),
                ..Default::default()
            })
            .await?;
        }
        Err(e) if e.is(ferrofs_proto::ErrorCode::NotFound) => {
            c.put_bytes(path, bytes::Bytes::new()).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Print the last `bytes` of a file; with `follow`, keep printing what is appended.
pub async fn tail(c: &Client, path: &str, bytes: u64, follow: bool) -> Result<()> {
    let a = c.resolve(path).await?;
    if a.kind != FileKind::File {
        bail!("{path}: not a regular file");
    }
    let ino: Ino = a.ino;
    let mut pos = a.size.saturating_sub(bytes);
    let mut out = crate::out::async_stdout();
    loop {
        c.invalidate(ino);
        let size = c.getattr(ino).await?.size;
        if size < pos {
            eprintln!("ferrofs: {path}: file truncated");
            pos = 0;
        }
        while pos < size {
            let n = (size - pos).min(4 << 20);
            let data = c.read_at(ino, pos, n, size).await?;
            tokio::io::AsyncWriteExt::write_all(&mut out, &data).await?;
            pos += data.len() as u64;
            if data.is_empty() {
                break;
            }
        }
        tokio::io::AsyncWriteExt::flush(&mut out).await?;
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Copy a file or (with `recursive`) a tree inside the cluster. Into an existing
/// directory the source keeps its name, as with `cp`.
pub async fn cp(c: &Client, from: &str, to: &str, recursive: bool) -> Result<()> {
    let src = c.resolve(from).await?;
    let name = from
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let dest = match c.resolve(to).await {
        Ok(d) if d.kind == FileKind::Dir => format!("{}/{name}", to.trim_end_matches('/')),
        _ => to.to_string(),
    };
    if src.kind == FileKind::Dir && !recursive {
        bail!("{from}: is a directory (use cp -r)");
    }
    if dest == from || dest.starts_with(&format!("{}/", from.trim_end_matches('/'))) {
        bail!("cannot copy {from} into itself");
    }
    let pb = counter("copied");
    let mut stack = vec![(src, dest)];
    while let Some((a, to)) = stack.pop() {
        match a.kind {
            FileKind::Dir => {
                c.mkdir_p(&to).await?;
                for e in c.readdir_all(a.ino).await? {
                    stack.push((e.attr, format!("{to}/{}", e.name)));
                }
            }
            FileKind::File => {
                copy_file(c, &a, &to)
                    .await
                    .with_context(|| format!("copying to {to}"))?;
                if let Some(p) = &pb {
                    p.inc(1);
                }
            }
            _ => eprintln!("ferrofs: skipping {to}: not a regular file or directory"),
        }
    }
    if let Some(p) = pb {
        p.finish_and_clear();
    }
    Ok(())
}

async fn copy_file(c: &Client, a: &Attr, to: &str) -> Result<()> {
    let (rd, wr) = tokio::io::duplex(8 << 20);
    let reader = {
        let (c, ino, size) = (c.clone(), a.ino, a.size);
        async move {
            let mut wr = wr;
            let mut pos = 0;
            c.invalidate(ino);
            while pos < size {
                let data = c.read_at(ino, pos, (size - pos).min(8 << 20), size).await?;
                if data.is_empty() {
                    anyhow::bail!("source shrank while copying");
                }
                tokio::io::AsyncWriteExt::write_all(&mut wr, &data).await?;
                pos += data.len() as u64;
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    let (r, w) = tokio::join!(reader, c.put(to, rd, Some(a.replication), None));
    r?;
    let attr = w?;
    c.setattr(SetattrReq {
        ino: attr.ino,
        mode: Some(a.mode),
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// `rm -r`: remove a tree depth first, counting on stderr when it is a terminal.
pub async fn rm_recursive(c: &Client, path: &str) -> Result<u64> {
    let root = c.resolve(path).await?;
    if root.kind != FileKind::Dir {
        c.remove(path).await?;
        return Ok(1);
    }
    let pb = counter("removed");
    let mut removed = 0u64;
    let bump = |n: &mut u64| {
        *n += 1;
        if let Some(p) = &pb {
            p.inc(1);
        }
    };
    let mut stack = vec![root.ino];
    let mut dirs: Vec<(Ino, String)> = vec![];
    while let Some(ino) = stack.pop() {
        for e in c.readdir_all(ino).await? {
            if e.attr.kind == FileKind::Dir {
                stack.push(e.attr.ino);
                dirs.push((ino, e.name));
            } else {
                c.unlink(ino, &e.name, false, false).await?;
                bump(&mut removed);
            }
        }
    }
    for (parent, name) in dirs.into_iter().rev() {
        c.unlink(parent, &name, true, false).await?;
        bump(&mut removed);
    }
    if path != "/" {
        c.remove(path).await?;
        bump(&mut removed);
    }
    if let Some(p) = pb {
        p.finish_and_clear();
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_modes_octal_and_symbolic() {
        let m = |s: &str, old: u32| parse_mode(s, old, false).unwrap();
        assert_eq!(m("755", 0o600), 0o755);
        assert_eq!(m("u+x", 0o644), 0o744);
        assert_eq!(m("go-w", 0o666), 0o644);
        assert_eq!(m("a=r", 0o777), 0o444);
        assert_eq!(m("u=rwx,g=rx,o=", 0o000), 0o750);
        assert_eq!(m("+x", 0o644), 0o755);
        assert_eq!(m("u+s", 0o755), 0o4755);
        assert_eq!(m("+t", 0o777), 0o1777);
        assert_eq!(m("a+X", 0o644), 0o644, "X on a file without x is nothing");
        assert_eq!(parse_mode("a+X", 0o644, true).unwrap(), 0o755);
        for bad in ["", "8", "77777", "u*x", "q+r", "u+z"] {
            assert!(parse_mode(bad, 0o644, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chown_specs() {
        assert_eq!(parse_owner("0").unwrap(), (Some(0), None));
        assert_eq!(parse_owner("root:0").unwrap(), (Some(0), Some(0)));
        assert_eq!(parse_owner(":5").unwrap(), (None, Some(5)));
        assert!(parse_owner(":").is_err());
        assert!(parse_owner("no-such-user-xyz").is_err());
    }
}
