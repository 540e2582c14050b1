//! ListObjects (v1 and v2) over a directory tree: a depth-first walk that yields keys
//! in S3's order (bytewise), filtered by prefix, rolled up at a delimiter, and cut
//! into pages. Children of a directory are visited in the order of their keys (a
//! directory `a` sorts as `a/`), so the walk's order is the keys' order and a page
//! can resume from the last item without listing what came before: subtrees wholly
//! before the resume point, or outside the prefix, are never read.
//!
//! An empty directory is listed as its marker object (`dir/`, size 0); a non-empty one
//! has no object of its own. The continuation token is the last item returned, marked
//! as a key or as a common prefix (a resumed page skips everything under a prefix
//! already returned).

use base64::Engine;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Attr, DirEntry, FileKind};
use s3s::{S3Error, s3_error};
use std::future::Future;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum After {
    #[default]
    Start,
    /// Keys bytewise greater than this (`start-after`, a v1 marker, a key token).
    Key(String),
    /// Keys greater than this that do not start with it (a common prefix returned
    /// on the previous page).
    Prefix(String),
}

impl After {
    fn skips(&self, key: &str) -> bool {
        match self {
            After::Start => false,
            After::Key(a) => key <= a.as_str(),
            After::Prefix(p) => key <= p.as_str() || key.starts_with(p.as_str()),
        }
    }

    /// Whether every key under directory key `dir` (all start with it) is skipped.
    fn skips_subtree(&self, dir: &str) -> bool {
        match self {
            After::Start => false,
            After::Key(a) => !a.starts_with(dir) && a.as_str() > dir,
            After::Prefix(p) => {
                dir.starts_with(p.as_str()) || (!p.starts_with(dir) && p.as_str() > dir)
            }
        }
    }

    /// Parse a continuation token made by `Page::next_token`.
    pub fn from_token(token: &str) -> Result<After, S3Error> {
        let bad = || s3_error!(InvalidArgument, "invalid continuation token");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad())?;
        let s = String::from_utf8(raw).map_err(|_| bad())?;
        match s.split_at_checked(2) {
            Some(("k:", k)) => Ok(After::Key(k.to_string())),
            Some(("p:", p)) => Ok(After::Prefix(p.to_string())),
            _ => Err(bad()),
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub after: After,
    pub max_keys: usize,
}

#[derive(Debug, Clone)]
pub enum Item {
    Object { key: String, attr: Attr },
    Prefix(String),
}

#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub truncated: bool,
}

impl Page {
    /// Token that resumes after the last item (None if the listing is complete).
    pub fn next_token(&self) -> Option<String> {
        if !self.truncated {
            return None;
        }
        let raw = match self.items.last()? {
            Item::Object { key, .. } => format!("k:{key}"),
            Item::Prefix(p) => format!("p:{p}"),
        };
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    /// The last item's key or prefix (a v1 `NextMarker`).
    pub fn last_name(&self) -> Option<&str> {
        self.items.last().map(|i| match i {
            Item::Object { key, .. } => key.as_str(),
            Item::Prefix(p) => p.as_str(),
        })
    }
}

/// The directory tree being listed (the cluster, or a table in tests).
pub trait Tree: Sync {
    fn children(&self, dir: Ino) -> impl Future<Output = Result<Vec<DirEntry>, S3Error>> + Send;
}

/// Key a child sorts by: a directory `a` holds keys `a/...`.
fn sort_key(e: &DirEntry) -> String {
    if e.attr.kind == FileKind::Dir {
        format!("{}/", e.name)
    } else {
        e.name.clone()
    }
}

struct Collector<'a> {
    q: &'a Query,
    page: Page,
}

impl Collector<'_> {
    fn full(&self) -> bool {
        self.page.items.len() > self.q.max_keys
    }

    fn object(&mut self, key: String, attr: Attr) {
        if !key.starts_with(&self.q.prefix) || self.q.after.skips(&key) {
            return;
        }
        if let Some(d) = self.q.delimiter.as_deref().filter(|d| !d.is_empty())
            && let Some(pos) = key[self.q.prefix.len()..].find(d)
        {
            let cp = key[..self.q.prefix.len() + pos + d.len()].to_string();
            return self.prefix(cp);
        }
        self.page.items.push(Item::Object { key, attr });
    }

    fn prefix(&mut self, cp: String) {
        if self.q.after.skips(&cp) {
            return;
        }
        if let Some(Item::Prefix(last)) = self.page.items.last()
            && *last == cp
        {
            return;
        }
        self.page.items.push(Item::Prefix(cp));
    }
}

/// Sorted children worth visiting, or the directory's marker if it is empty.
async fn open_dir<T: Tree>(
    tree: &T,
    ino: Ino,
    key: &str,
    attr: Option<&Attr>,
    out: &mut Collector<'_>,
) -> Result<std::vec::IntoIter<(String, DirEntry)>, S3Error> {
    let mut kids: Vec<(String, DirEntry)> = tree
        .children(ino)
        .await?
        .into_iter()
        .filter(|e| matches!(e.attr.kind, FileKind::File | FileKind::Dir))
        .map(|e| (sort_key(&e), e))
        .collect();
    if kids.is_empty()
        && let Some(a) = attr
    {
        out.object(key.to_string(), a.clone());
    }
    kids.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(kids.into_iter())
}

/// One page of the listing of the tree under directory `root` (the bucket).
pub async fn list<T: Tree>(tree: &T, root: Ino, q: &Query) -> Result<Page, S3Error> {
    let mut out = Collector {
        q,
        page: Page::default(),
    };
    if q.max_keys == 0 {
        return Ok(out.page);
    }
    let slash_rollup = q.delimiter.as_deref() == Some("/");
    let first = open_dir(tree, root, "", None, &mut out).await?;
    let mut stack = vec![(first, String::new())];
    while !out.full() {
        let Some((iter, dir_key)) = stack.last_mut() else {
            break;
        };
        let Some((sk, e)) = iter.next() else {
            stack.pop();
            continue;
        };
        let key = format!("{dir_key}{sk}");
        if e.attr.kind != FileKind::Dir {
            out.object(key, e.attr);
            continue;
        }
        let related = key.starts_with(&q.prefix) || q.prefix.starts_with(&key);
        if !related || q.after.skips_subtree(&key) {
            continue;
        }
        if slash_rollup && key.len() > q.prefix.len() {
            out.prefix(key);
            continue;
        }
        let kids = open_dir(tree, e.attr.ino, &key, Some(&e.attr), &mut out).await?;
        stack.push((kids, key));
    }
    let mut page = out.page;
    if page.items.len() > q.max_keys {
        page.items.truncate(q.max_keys);
        page.truncated = true;
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofs_proto::namespace::Timespec;
    use std::collections::BTreeMap;

    /// A tree built from a list of keys (a key ending in `/` is an empty directory).
    struct Table {
        dirs: BTreeMap<Ino, Vec<DirEntry>>,
    }

    fn attr(ino: Ino, kind: FileKind) -> Attr {
        Attr {
            ino,
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            atime: Timespec::default(),
            mtime: Timespec::default(),
            ctime: Timespec::default(),
            nlink: 1,
            rdev: 0,
            replication: 1,
        }
    }

    impl Table {
        fn new(keys: &[&str]) -> Table {
            let mut t = Table {
                dirs: BTreeMap::from([(1, vec![])]),
            };
            let mut paths: BTreeMap<String, Ino> = BTreeMap::from([(String::new(), 1)]);
            for k in keys {
                let (dirs, file) = match k.strip_suffix('/') {
                    Some(d) => (d.split('/').collect::<Vec<_>>(), None),
                    None => {
                        let mut v: Vec<&str> = k.split('/').collect();
                        let f = v.pop();
                        (v, f)
                    }
                };
                let mut cur = String::new();
                for d in dirs {
                    let parent = paths[&cur];
                    cur = format!("{cur}/{d}");
                    if !paths.contains_key(&cur) {
                        let ino = 100 + paths.len() as u64;
                        paths.insert(cur.clone(), ino);
                        t.dirs.insert(ino, vec![]);
                        t.dirs.get_mut(&parent).unwrap().push(DirEntry {
                            name: d.to_string(),
                            attr: attr(ino, FileKind::Dir),
                        });
                    }
                }
                if let Some(f) = file {
                    let ino = 10_000 + t.dirs.values().map(Vec::len).sum::<usize>() as u64;
                    t.dirs.get_mut(&paths[&cur]).unwrap().push(DirEntry {
                        name: f.to_string(),
                        attr: attr(ino, FileKind::File),
                    });
                }
            }
            // readdir order is by name, not by key: keep it so.
            for v in t.dirs.values_mut() {
                v.sort_by(|a, b| a.name.cmp(&b.name));
            }
            t
        }
    }

    impl Tree for Table {
        async fn children(&self, dir: Ino) -> Result<Vec<DirEntry>, S3Error> {
            Ok(self.dirs.get(&dir).cloned().unwrap_or_default())
        }
    }

    fn names(p: &Page) -> Vec<String> {
        p.items
            .iter()
            .map(|i| match i {
                Item::Object { key, .. } => key.clone(),
                Item::Prefix(p) => format!("[{p}]"),
            })
            .collect()
    }

    async fn all_pages(t: &Table, mut q: Query) -> Vec<String> {
        let mut out = vec![];
        for _ in 0..1000 {
            let p = list(t, 1, &q).await.unwrap();
            out.extend(names(&p));
            match p.next_token() {
                Some(tok) => q.after = After::from_token(&tok).unwrap(),
                None => return out,
            }
        }
        panic!("listing did not end");
    }

    const KEYS: &[&str] = &[
        "a-b", "a/x", "a/y/z", "a0", "b/", "c/d/e", "c/d/f", "c/g", "top", "x-1", "x-2", "y",
    ];

    fn q(prefix: &str, delimiter: Option<&str>, max: usize) -> Query {
        Query {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            after: After::Start,
            max_keys: max,
        }
    }

    #[tokio::test]
    async fn full_listing_is_in_bytewise_key_order() {
        let t = Table::new(KEYS);
        let got = all_pages(&t, q("", None, 1000)).await;
        let mut want: Vec<String> = KEYS.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn every_page_size_gives_the_same_listing() {
        let t = Table::new(KEYS);
        for (prefix, delim) in [
            ("", None),
            ("", Some("/")),
            ("c/", Some("/")),
            ("", Some("-")),
            ("a", Some("/")),
        ] {
            let whole = all_pages(&t, q(prefix, delim, 1000)).await;
            for max in 1..6 {
                let paged = all_pages(&t, q(prefix, delim, max)).await;
                assert_eq!(
                    paged, whole,
                    "prefix {prefix:?} delimiter {delim:?} max {max}"
                );
            }
        }
    }

    #[tokio::test]
    async fn delimiter_rolls_up_directories_and_prefixes() {
        let t = Table::new(KEYS);
        assert_eq!(
            all_pages(&t, q("", Some("/"), 1000)).await,
            [
                "a-b", "[a/]", "a0", "[b/]", "[c/]", "top", "x-1", "x-2", "y"
            ]
        );
        assert_eq!(
            all_pages(&t, q("c/", Some("/"), 1000)).await,
            ["[c/d/]", "c/g"]
        );
        assert_eq!(
            all_pages(&t, q("a", Some("/"), 1000)).await,
            ["a-b", "[a/]", "a0"]
        );
        assert_eq!(
            all_pages(&t, q("", Some("-"), 1000)).await,
            [
                "[a-]", "a/x", "a/y/z", "a0", "b/", "c/d/e", "c/d/f", "c/g", "top", "[x-]", "y"
            ]
        );
        // The empty directory's marker is an object under its own prefix.
        assert_eq!(all_pages(&t, q("b/", Some("/"), 1000)).await, ["b/"]);
        assert_eq!(
            all_pages(&t, q("c/d", None, 1000)).await,
            ["c/d/e", "c/d/f"]
        );
        assert!(all_pages(&t, q("nothing", None, 1000)).await.is_empty());
    }

    #[tokio::test]
    async fn start_after_is_strict_and_skips_subtrees() {
        let t = Table::new(KEYS);
        let mut query = q("", None, 1000);
        query.after = After::Key("c/d/e".into());
        assert_eq!(
            names(&list(&t, 1, &query).await.unwrap()),
            ["c/d/f", "c/g", "top", "x-1", "x-2", "y"]
        );
        query.after = After::Key("zzz".into());
        assert!(list(&t, 1, &query).await.unwrap().items.is_empty());
    }

    #[tokio::test]
    async fn max_keys_zero_and_bad_tokens() {
        let t = Table::new(KEYS);
        let p = list(&t, 1, &q("", None, 0)).await.unwrap();
        assert!(p.items.is_empty() && !p.truncated);
        assert!(After::from_token("!!!").is_err());
        assert!(After::from_token("eHl6").is_err()); // "xyz": no kind mark
    }
}
