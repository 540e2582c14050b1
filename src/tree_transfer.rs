//! `put` and `get` of directory trees, like `hdfs dfs -put/-get`: every file, with one
//! progress bar for the whole transfer (bytes of all files), several files at a time.

use anyhow::{Context, Result};
use ferrofs_client::{Client, Progress};
use ferrofs_proto::namespace::FileKind;
use futures::stream::{StreamExt, TryStreamExt};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Files transferred at once.
const FILES_IN_FLIGHT: usize = 4;

/// One bar for `total` bytes (when stderr is a terminal), and a way for each file's
/// transfer to report its own progress into it.
struct Bar {
    pb: Option<indicatif::ProgressBar>,
    done: Arc<AtomicU64>,
}

impl Bar {
    fn new(total: u64, files: usize) -> Bar {
        let pb = std::io::stderr().is_terminal().then(|| {
            let pb = indicatif::ProgressBar::new(total);
            pb.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} eta {{eta}} ({files} files)"
                ))
                .expect("valid template"),
            );
            pb
        });
        Bar {
            pb,
            done: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A per-file callback (given that file's bytes so far) that moves the bar.
    fn file(&self) -> Option<Progress> {
        let pb = self.pb.clone()?;
        let done = self.done.clone();
        let mine = Arc::new(AtomicU64::new(0));
        Some(Arc::new(move |n| {
            let before = mine.swap(n, Ordering::Relaxed);
            let all = done.fetch_add(n.saturating_sub(before), Ordering::Relaxed)
                + n.saturating_sub(before);
            pb.set_position(all);
        }))
    }

    fn finish(self) {
        if let Some(pb) = self.pb {
            pb.finish_and_clear();
        }
    }
}

/// A local file to upload: where it is, its path relative to the tree, its size.
type LocalFile = (PathBuf, String, u64);

/// Local files under `dir`, with their paths relative to it; and the directories.
fn local_tree(dir: &Path) -> Result<(Vec<LocalFile>, Vec<String>)> {
    let mut files = vec![];
    let mut dirs = vec![];
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        dirs.push(rel.clone());
        for e in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push((e.path(), r));
            } else if t.is_file() {
                files.push((e.path(), r, e.metadata()?.len()));
            } else {
                eprintln!(
                    "ferrofs: skipping {}: not a regular file or directory",
                    e.path().display()
                );
            }
        }
    }
    Ok((files, dirs))
}

/// Upload directory `local` as `remote` (created, with its subdirectories).
pub async fn put_dir(
    c: &Client,
    local: &Path,
    remote: &str,
    replication: Option<u8>,
) -> Result<()> {
    let (files, dirs) = local_tree(local)?;
    let base = remote.trim_end_matches('/');
    for d in &dirs {
        let p = if d.is_empty() {
            base.to_string()
        } else {
            format!("{base}/{d}")
        };
        c.mkdir_p(if p.is_empty() { "/" } else { &p }).await?;
    }
    let bar = Bar::new(files.iter().map(|f| f.2).sum(), files.len());
    futures::stream::iter(files)
        .map(|(path, rel, _)| {
            let progress = bar.file();
            async move {
                let f = tokio::fs::File::open(&path)
                    .await
                    .with_context(|| format!("{}", path.display()))?;
                let r = tokio::io::BufReader::with_capacity(1 << 20, f);
                c.put(&format!("{base}/{rel}"), r, replication, progress)
                    .await
                    .with_context(|| format!("{base}/{rel}"))?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(FILES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    bar.finish();
    Ok(())
}

/// Download directory `remote` into `local` (created).
pub async fn get_dir(c: &Client, remote: &str, local: &Path) -> Result<()> {
    let root = c.resolve(remote).await?;
    let mut files = vec![];
    let mut stack = vec![(
        root.ino,
        local.to_path_buf(),
        remote.trim_end_matches('/').to_string(),
    )];
    while let Some((ino, dir, rpath)) = stack.pop() {
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        for e in c.readdir_all(ino).await? {
            let (l, r) = (dir.join(&e.name), format!("{rpath}/{}", e.name));
            match e.attr.kind {
                FileKind::Dir => stack.push((e.attr.ino, l, r)),
                FileKind::File => files.push((r, l, e.attr.size)),
                _ => eprintln!("ferrofs: skipping {r}: not a regular file or directory"),
            }
        }
    }
    let bar = Bar::new(files.iter().map(|f| f.2).sum(), files.len());
    futures::stream::iter(files)
        .map(|(r, l, _)| {
            let progress = bar.file();
            async move {
                let tmp = l.with_extension("ferrofs-partial");
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .with_context(|| format!("{}", tmp.display()))?;
                if let Err(e) = c.get(&r, &mut f, progress).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(anyhow::Error::from(e).context(r));
                }
                f.sync_all().await?;
                tokio::fs::rename(&tmp, &l).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(FILES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    bar.finish();
    Ok(())
}
