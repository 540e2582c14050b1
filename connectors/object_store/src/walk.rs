//! Listings: `list` walks the tree under a prefix depth first, one directory read at a
//! time as the stream is polled; `list_with_delimiter` reads one directory. Paths are
//! built from file names as stored (object_store's encoded segments); a name that is
//! not a valid encoded segment (written by another client) is encoded.

use crate::errors::to_os;
use crate::{FerroStore, meta};

use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, DirEntry, FileKind};
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{ListResult, ObjectMeta, Result};
use std::collections::VecDeque;

/// Whether a root-level name is one the gateways keep for themselves.
fn internal(store: &FerroStore, base: &Path, name: &str) -> bool {
    store.root.is_empty() && base.as_ref().is_empty() && name.starts_with(".ferrofs-")
}

fn child(base: &Path, name: &str) -> Path {
    let joined = if base.as_ref().is_empty() {
        name.to_string()
    } else {
        format!("{}/{name}", base.as_ref())
    };
    Path::parse(&joined).unwrap_or_else(|_| base.clone().join(name))
}

/// What `prefix` names: a directory to walk, a file, or nothing.
async fn lookup(store: &FerroStore, prefix: &Path) -> Result<Option<Attr>> {
    match store.client().resolve(&store.fs_path(prefix)).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if e.is(ErrorCode::NotFound) || e.is(ErrorCode::NotADirectory) => Ok(None),
        Err(e) => Err(to_os(e, prefix)),
    }
}

struct Walk {
    store: FerroStore,
    prefix: Path,
    started: bool,
    dirs: Vec<(u64, Path)>,
    ready: VecDeque<ObjectMeta>,
}

impl Walk {
    async fn next(&mut self) -> Option<Result<ObjectMeta>> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(Ok(m));
            }
            if !self.started {
                self.started = true;
                match lookup(&self.store, &self.prefix).await {
                    Err(e) => return Some(Err(e)),
                    Ok(None) => return None,
                    Ok(Some(a)) if a.kind == FileKind::Dir => {
                        self.dirs.push((a.ino, self.prefix.clone()))
                    }
                    // A prefix naming a file lists nothing: prefixes are directories.
                    Ok(Some(_)) => return None,
                }
            }
            let (ino, base) = self.dirs.pop()?;
            let entries: Vec<DirEntry> = match self.store.client().readdir_all(ino).await {
                Ok(e) => e,
                Err(e) if e.is(ErrorCode::NotFound) => continue, // removed meanwhile
                Err(e) => return Some(Err(to_os(e, &base))),
            };
            for e in entries {
                if internal(&self.store, &base, &e.name) {
                    continue;
                }
                let p = child(&base, &e.name);
                match e.attr.kind {
                    FileKind::Dir => self.dirs.push((e.attr.ino, p)),
                    FileKind::File => self.ready.push_back(meta(p, &e.attr)),
                    _ => {}
                }
            }
        }
    }
}

pub fn list(store: FerroStore, prefix: Path) -> BoxStream<'static, Result<ObjectMeta>> {
    let walk = Walk {
        store,
        prefix,
        started: false,
        dirs: vec![],
        ready: VecDeque::new(),
    };
    futures::stream::unfold(
        walk,
        |mut w| async move { w.next().await.map(|item| (item, w)) },
    )
    .boxed()
}

pub async fn list_with_delimiter(store: &FerroStore, prefix: Path) -> Result<ListResult> {
    let mut out = ListResult {
        common_prefixes: vec![],
        objects: vec![],
    };
    let Some(a) = lookup(store, &prefix).await? else {
        return Ok(out);
    };
    if a.kind != FileKind::Dir {
        return Ok(out);
    }
    let entries = store
        .client()
        .readdir_all(a.ino)
        .await
        .map_err(|e| to_os(e, &prefix))?;
    for e in entries {
        if internal(store, &prefix, &e.name) {
            continue;
        }
        let p = child(&prefix, &e.name);
        match e.attr.kind {
            FileKind::Dir => out.common_prefixes.push(p),
            FileKind::File => out.objects.push(meta(p, &e.attr)),
            _ => {}
        }
    }
    Ok(out)
}
