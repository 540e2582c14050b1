//! The mount's metadata cache: inode attributes and directory entries the master sent,
//! kept until the master's change feed (`CHANGES`) says they changed. The kernel's own
//! caches still expire after their 1 s TTL; this one answers the LOOKUP and GETATTR that
//! follow without a round trip to the master, and survives `drop_caches`.
//!
//! Coherence: `follow` long-polls the feed and drops whatever another client changed,
//! within milliseconds of the change. While the feed cannot be read (master down or
//! restarting, a poll failed) the cache is off and empty, and it starts empty again on
//! a new feed epoch or when this mount fell behind the feed's backlog. Changes this
//! mount makes are applied by the operation itself (`invalidate`, `put_created`), so
//! the feed's copies of them (tagged with this mount's origin) are skipped.
//!
//! Races: a reply is cached only if nothing was invalidated while its call was in
//! flight (`stamp` / `put_read`), so an answer that predates a change never outlives
//! the change's invalidation. As a safety net under all of that, nothing is served from
//! the cache once it is `MAX_AGE` old. What is not cached: attributes at open (`open`
//! always asks the master), and negative lookups in general (a name another mount just
//! created must be found at once, close-to-open), with one exception: a directory this
//! mount created, or listed whole with nothing invalidated meanwhile, is *complete*
//! (every entry of it is in the cache) until any other client changes an entry in it,
//! this mount changes one in any way but creating or removing it, the cache starts
//! over, or `MAX_AGE` passes without this mount creating a name in it; a name missing
//! from a complete directory is answered "absent" without asking the master. That turns
//! the LOOKUP the kernel sends before every CREATE, MKDIR and SYMLINK into no round trip
//! while a tree is unpacked or copied, and lets the mount defer the create itself. A
//! stale "absent" lasts as long as a stale positive entry can (the feed's delay), and a
//! create it misleads is still decided by the master (an existing name is opened,
//! EEXIST for O_EXCL and mkdir, a refused deferred create).

use crate::dentries::{Dentries, Dentry};
use ferrofs_client::Client;
use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Attr, Change, ChangesReq, FileKind, Timespec};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Cached attributes (and as many entries) before the cache starts over.
const MAX_ENTRIES: usize = 200_000;
/// Longest a cached attribute or entry is served: a bound on staleness should an
/// invalidation ever be missed (the feed is the mechanism; this is the net).
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// How long a poll of the feed may wait for a change.
const POLL_WAIT: Duration = Duration::from_secs(20);
/// Pause before polling again after a failed poll.
const RETRY: Duration = Duration::from_millis(200);

#[derive(Default)]
struct State {
    attrs: HashMap<Ino, (Attr, Instant)>,
    entries: Dentries,
    /// Directories whose every entry is in `entries`, since when (see the module docs).
    complete: HashMap<Ino, Instant>,
    /// Bumped by every invalidation (see `stamp`).
    generation: u64,
    /// Bumped by invalidations from other clients and resets only.
    foreign: u64,
}

/// When a call started, for `put_read` / `put_created`.
#[derive(Clone, Copy)]
pub struct Stamp {
    generation: u64,
    foreign: u64,
}

pub struct MdCache {
    state: Mutex<State>,
    /// On while the feed is being followed.
    enabled: AtomicBool,
    origin: u64,
}

impl MdCache {
    pub fn new(origin: u64) -> Self {
        MdCache {
            state: Default::default(),
            enabled: AtomicBool::new(false),
            origin,
        }
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The attributes of `name` in `parent`, if cached (and young enough).
    pub fn entry(&self, parent: Ino, name: &str) -> Option<Attr> {
        if !self.on() {
            return None;
        }
        let st = self.state.lock();
        let e = st.entries.get(parent, name)?;
        if e.at.elapsed() >= MAX_AGE {
            return None;
        }
        st.attrs
            .get(&e.ino)
            .filter(|(_, t)| t.elapsed() < MAX_AGE)
            .map(|(a, _)| a.clone())
    }

    /// Is `name` known to be absent from `parent` (a complete directory without it)?
    pub fn absent(&self, parent: Ino, name: &str) -> bool {
        if !self.on() {
            return false;
        }
        let st = self.state.lock();
        st.complete
            .get(&parent)
            .is_some_and(|t| t.elapsed() < MAX_AGE)
            && !st.entries.contains(parent, name)
    }

    /// The whole listing of a complete directory, sorted by name: names, inodes and
    /// kinds (CephFS answers readdir of a complete directory from its dentry cache the
    /// same way); None sends the caller to the master. Attributes are not looked up
    /// here: a READDIR needs none, and a READDIRPLUS asks `attr` (or the master) for
    /// the few entries of its reply, not for all of a directory of 10,000.
    pub fn listing(&self, dir: Ino) -> Option<Vec<(Arc<str>, Ino, FileKind)>> {
        if !self.on() {
            return None;
        }
        let st = self.state.lock();
        if st.complete.get(&dir).is_none_or(|t| t.elapsed() >= MAX_AGE) {
            return None;
        }
        let now = Instant::now();
        let fresh = |t: &Instant| now.duration_since(*t) < MAX_AGE;
        let entries = st.entries.dir(dir);
        let mut out = Vec::with_capacity(entries.len());
        for (name, e) in entries {
            if !fresh(&e.at) {
                return None;
            }
            out.push((name.clone(), e.ino, e.kind));
        }
        Some(out)
    }

    /// Is `dir` complete and without a single entry (known to be empty)?
    pub fn known_empty(&self, dir: Ino) -> bool {
        if !self.on() {
            return false;
        }
        let st = self.state.lock();
        st.complete.get(&dir).is_some_and(|t| t.elapsed() < MAX_AGE)
            && st.entries.dir(dir).next().is_none()
    }

    /// A directory this mount just created (empty, all its entries to come from this
    /// mount) is complete, unless other clients changed anything since `stamp`.
    pub fn put_new_dir(&self, stamp: Stamp, dir: Ino) {
        if !self.on() {
            return;
        }
        let mut st = self.state.lock();
        if st.foreign == stamp.foreign {
            if st.complete.len() >= MAX_ENTRIES {
                st.complete.clear();
            }
            st.complete.insert(dir, Instant::now());
        }
    }

    pub fn attr(&self, ino: Ino) -> Option<Attr> {
        if !self.on() {
            return None;
        }
        self.state
            .lock()
            .attrs
            .get(&ino)
            .filter(|(_, t)| t.elapsed() < MAX_AGE)
            .map(|(a, _)| a.clone())
    }

    /// Take before a call whose reply may be cached.
    pub fn stamp(&self) -> Stamp {
        let st = self.state.lock();
        Stamp {
            generation: st.generation,
            foreign: st.foreign,
        }
    }

    fn insert(st: &mut State, entry: Option<(Ino, &str)>, a: &Attr) {
        if st.attrs.len() >= MAX_ENTRIES || st.entries.len() >= MAX_ENTRIES {
            st.attrs.clear();
            st.entries.clear();
            st.complete.clear();
        }
        let now = Instant::now();
        if let Some((parent, name)) = entry {
            let d = Dentry {
                ino: a.ino,
                kind: a.kind,
                at: now,
            };
            st.entries.insert(parent, name, d);
        }
        st.attrs.insert(a.ino, (a.clone(), now));
    }

    /// Cache what a lookup / getattr / readdir answered, unless anything was
    /// invalidated since `stamp` (the answer may predate that change).
    pub fn put_read(&self, stamp: Stamp, entry: Option<(Ino, &str)>, a: &Attr) {
        if !self.on() {
            return;
        }
        let mut st = self.state.lock();
        if st.generation == stamp.generation {
            Self::insert(&mut st, entry, a);
        }
    }

    /// Cache a node this mount just created: nothing else of this mount can have
    /// changed it yet, so only changes by other clients since `stamp` forbid it. A
    /// complete directory stays complete for another `MAX_AGE` from here.
    pub fn put_created(&self, stamp: Stamp, parent: Ino, name: &str, a: &Attr) {
        if !self.on() {
            return;
        }
        let mut st = self.state.lock();
        if st.foreign == stamp.foreign {
            Self::insert(&mut st, Some((parent, name)), a);
            if let Some(t) = st.complete.get_mut(&parent)
                && t.elapsed() < MAX_AGE
            {
                *t = Instant::now();
            }
        }
    }

    /// Cache a whole listing of `dir`; unless anything was invalidated since `stamp`
    /// (taken before the listing was asked for), the directory is complete: every
    /// change after the master read it reaches this cache through the feed.
    pub fn put_listing<'a>(
        &self,
        stamp: Stamp,
        dir: Ino,
        entries: impl ExactSizeIterator<Item = (&'a str, &'a Attr)>,
    ) {
        if !self.on() {
            return;
        }
        let mut st = self.state.lock();
        if st.generation != stamp.generation {
            return;
        }
        let n = entries.len();
        if n >= MAX_ENTRIES / 2 {
            return;
        }
        if st.attrs.len() + n >= MAX_ENTRIES || st.entries.len() + n >= MAX_ENTRIES {
            st.attrs.clear();
            st.entries.clear();
            st.complete.clear();
        }
        for (name, a) in entries {
            Self::insert(&mut st, Some((dir, name)), a);
        }
        if st.complete.len() >= MAX_ENTRIES {
            st.complete.clear();
        }
        st.complete.insert(dir, Instant::now());
    }

    /// A directory this mount changed without asking the master (a deferred create or
    /// unlink in it): its cached mtime and ctime become `now`, its link count moves by
    /// `links` (a subdirectory's `..`). Nothing happens if it is not cached.
    pub fn touch_dir(&self, dir: Ino, now: Timespec, links: i32) {
        let mut st = self.state.lock();
        if let Some((a, _)) = st.attrs.get_mut(&dir) {
            a.mtime = now;
            a.ctime = now;
            a.nlink = a.nlink.saturating_add_signed(links);
        }
    }

    /// This mount removed `name` (inode `ino`) from `parent` without asking the master
    /// (a deferred unlink or rmdir): the entry, the inode's attributes and (a
    /// directory's) completeness go, and a complete `parent` stays complete (the name
    /// is known to be absent now).
    pub fn put_removed(&self, parent: Ino, name: &str, ino: Ino) {
        let mut st = self.state.lock();
        st.generation += 1;
        st.entries.remove(parent, name);
        st.attrs.remove(&ino);
        st.complete.remove(&ino);
    }

    /// This mount renamed `from` to `to` (inode `ino`), nothing else since `stamp`:
    /// the entries follow, the attributes of `inos` (the moved inode's ctime, the
    /// directories', a replaced inode's) go, and complete directories stay complete.
    /// Otherwise (another client changed things meanwhile) it is `invalidate`.
    pub fn put_renamed(
        &self,
        stamp: Stamp,
        from: (Ino, &str),
        to: (Ino, &str),
        ino: Ino,
        inos: &[Ino],
    ) {
        let mut st = self.state.lock();
        if !self.on() || st.foreign != stamp.foreign {
            Self::drop_changed(&mut st, inos, &[from, to]);
            return;
        }
        st.generation += 1;
        for i in inos {
            st.attrs.remove(i);
        }
        let kind = st.entries.get(from.0, from.1).map(|e| e.kind);
        st.entries.remove(from.0, from.1);
        match kind {
            Some(kind) => {
                let at = Instant::now();
                st.entries.insert(to.0, to.1, Dentry { ino, kind, at });
            }
            // The moved entry was not cached: the new name cannot be either, so its
            // directory is not known whole any more.
            None => {
                st.entries.remove(to.0, to.1);
                st.complete.remove(&to.0);
            }
        }
    }

    /// `invalidate`, then cache `fresh` (the attributes the master sent back with the
    /// change, e.g. the directory of a create) if nothing else was invalidated since
    /// `stamp`, when the call started: otherwise it may be older than another change.
    pub fn invalidate_fresh(
        &self,
        stamp: Stamp,
        inos: &[Ino],
        entries: &[(Ino, &str)],
        fresh: Option<&Attr>,
    ) {
        let mut st = self.state.lock();
        Self::drop_changed(&mut st, inos, entries);
        if let Some(a) = fresh
            && self.on()
            && st.generation == stamp.generation + 1
            && st.foreign == stamp.foreign
        {
            Self::insert(&mut st, None, a);
        }
    }

    /// This mount changed these inodes' attributes and these entries (a changed entry's
    /// directory is no longer complete: the name may exist now without being cached).
    pub fn invalidate(&self, inos: &[Ino], entries: &[(Ino, &str)]) {
        Self::drop_changed(&mut self.state.lock(), inos, entries);
    }

    fn drop_changed(st: &mut State, inos: &[Ino], entries: &[(Ino, &str)]) {
        st.generation += 1;
        for i in inos {
            st.attrs.remove(i);
        }
        for (p, n) in entries {
            st.entries.remove(*p, n);
            st.complete.remove(p);
        }
    }

    /// Changes from the feed; this mount's own are skipped.
    fn apply(&self, changes: Vec<Change>) {
        let mut st = self.state.lock();
        let mut any = false;
        for c in changes.into_iter().filter(|c| c.origin != self.origin) {
            any = true;
            match c.name {
                Some(name) => {
                    st.entries.remove(c.ino, &name);
                    st.attrs.remove(&c.ino);
                    st.complete.remove(&c.ino);
                }
                None => {
                    st.attrs.remove(&c.ino);
                }
            }
        }
        if any {
            st.generation += 1;
            st.foreign += 1;
        }
    }

    /// Forget everything; cache again only if `enable`.
    fn reset(&self, enable: bool) {
        let mut st = self.state.lock();
        st.attrs.clear();
        st.entries.clear();
        st.complete.clear();
        st.generation += 1;
        st.foreign += 1;
        self.enabled.store(enable, Ordering::Release);
    }
}

/// Follow the master's change feed for as long as the mount lives.
pub async fn follow(cache: Arc<MdCache>, client: Client) {
    let (mut epoch, mut since) = (0u64, 0u64);
    let mut failing = false;
    loop {
        let req = ChangesReq {
            epoch,
            since,
            wait_ms: POLL_WAIT.as_millis() as u64,
            origin: cache.origin,
        };
        let poll = client.master.rpc_once::<ferrofs_proto::rpc::Changes>(&req);
        match tokio::time::timeout(POLL_WAIT + Duration::from_secs(10), poll).await {
            Ok(Ok(r)) => {
                if r.reset || r.epoch != epoch {
                    tracing::debug!(epoch = r.epoch, next = r.next, "metadata cache starts over");
                    cache.reset(true);
                } else {
                    cache.apply(r.changes);
                }
                (epoch, since) = (r.epoch, r.next);
                if failing {
                    tracing::info!("master change feed back: metadata cache on");
                    failing = false;
                }
            }
            other => {
                // Off before anything else can be served from it.
                cache.reset(false);
                if !failing {
                    let why = match other {
                        Ok(Err(e)) => e.to_string(),
                        _ => "poll timed out".into(),
                    };
                    tracing::warn!(error = %why, "master change feed unavailable: metadata cache off");
                    failing = true;
                }
                epoch = 0;
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofs_proto::namespace::FileKind;

    fn attr(ino: Ino) -> Attr {
        Attr {
            ino,
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            atime: Default::default(),
            mtime: Default::default(),
            ctime: Default::default(),
            nlink: 1,
            rdev: 0,
            replication: 3,
        }
    }

    /// A listing taken with nothing invalidated meanwhile makes its directory complete;
    /// one that raced an invalidation does not; creating names keeps it complete.
    #[test]
    fn whole_listings_make_a_directory_complete() {
        let c = MdCache::new(1);
        c.reset(true);
        let (a, b) = (attr(20), attr(21));
        c.put_listing(c.stamp(), 9, [("a", &a), ("b", &b)].into_iter());
        assert!(c.absent(9, "x") && !c.absent(9, "a"));
        assert_eq!(c.entry(9, "b").map(|x| x.ino), Some(21));

        let s = c.stamp();
        c.invalidate(&[30], &[]);
        c.put_listing(s, 8, [("a", &a)].into_iter());
        assert!(!c.absent(8, "x"), "an invalidation raced the listing");
        assert!(c.entry(8, "a").is_none(), "and nothing of it is cached");

        // Old, but a create in it renews the mark.
        let old = Instant::now()
            .checked_sub(MAX_AGE - Duration::from_secs(1))
            .expect("clock far enough from boot");
        c.state.lock().complete.insert(9, old);
        c.put_created(c.stamp(), 9, "c", &attr(22));
        assert!(c.state.lock().complete[&9] > old);
        assert!(c.absent(9, "x"));
    }

    /// An own rename keeps both directories complete, the names moved; with another
    /// client's change meanwhile it does not.
    #[test]
    fn own_renames_keep_directories_complete() {
        let c = MdCache::new(1);
        c.reset(true);
        c.put_new_dir(c.stamp(), 10);
        c.put_new_dir(c.stamp(), 11);
        c.put_created(c.stamp(), 10, "tmp", &attr(12));
        c.put_renamed(c.stamp(), (10, "tmp"), (11, "final"), 12, &[12, 10, 11]);
        assert!(c.absent(10, "tmp") && !c.absent(11, "final") && c.absent(11, "x"));
        assert!(c.attr(12).is_none(), "the moved inode's ctime changed");
        c.put_renamed(c.stamp(), (1, "uncached"), (10, "in"), 30, &[30]);
        assert!(
            !c.absent(10, "x") && c.entry(10, "in").is_none(),
            "an entry moved in whose kind is unknown: the directory is not whole"
        );
        c.put_new_dir(c.stamp(), 10);

        let s = c.stamp();
        c.apply(vec![Change {
            origin: 2,
            ino: 99,
            name: None,
        }]);
        c.put_renamed(s, (11, "final"), (10, "back"), 12, &[12]);
        assert!(!c.absent(10, "x") && !c.absent(11, "x"));
    }

    /// A complete directory is listed from the cache, sorted, with its entries' kinds,
    /// whether or not their attributes are cached; without completeness, or with an
    /// entry grown old, it asks the master.
    #[test]
    fn complete_directories_list_from_the_cache() {
        let c = MdCache::new(1);
        c.reset(true);
        c.put_new_dir(c.stamp(), 10);
        c.put_created(c.stamp(), 10, "b", &attr(12));
        c.put_created(c.stamp(), 10, "a", &attr(11));
        c.put_created(c.stamp(), 1, "elsewhere", &attr(13));
        let l = c.listing(10).expect("complete, all attributes cached");
        let names: Vec<&str> = l.iter().map(|(n, _, _)| &**n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!((l[1].1, l[1].2), (12, FileKind::File));
        assert!(c.listing(1).is_none(), "the root is not complete");
        c.invalidate(&[12], &[]);
        let l = c
            .listing(10)
            .expect("an attribute gone does not uncomplete it");
        assert_eq!(l.len(), 2);
        assert!(c.attr(12).is_none() && c.attr(11).is_some());
        let old = Instant::now()
            .checked_sub(MAX_AGE)
            .expect("clock far enough from boot");
        c.state.lock().entries.get_mut(10, "b").unwrap().at = old;
        assert!(
            c.listing(10).is_none(),
            "an old entry sends it to the master"
        );
    }

    /// A deferred unlink keeps a complete directory complete: the removed name is
    /// answered absent at once; the directory's cached times move.
    #[test]
    fn removed_names_of_a_complete_directory_are_absent() {
        let c = MdCache::new(1);
        c.reset(true);
        let mut dir = attr(7);
        dir.kind = FileKind::Dir;
        dir.nlink = 2;
        c.put_created(c.stamp(), 1, "d", &dir);
        c.put_new_dir(c.stamp(), 7);
        c.put_created(c.stamp(), 7, "f", &attr(8));
        assert!(c.entry(7, "f").is_some() && !c.absent(7, "f"));
        c.put_removed(7, "f", 8);
        assert!(c.entry(7, "f").is_none() && c.attr(8).is_none());
        assert!(c.absent(7, "f"), "still complete, the name absent");
        let t = Timespec { sec: 99, nsec: 5 };
        c.touch_dir(7, t, 1);
        let d = c.attr(7).unwrap();
        assert_eq!((d.mtime, d.ctime, d.nlink), (t, t, 3));
        // Another client's change in it ends that, as before.
        c.apply(vec![Change {
            origin: 2,
            ino: 7,
            name: Some("g".into()),
        }]);
        assert!(!c.absent(7, "f"));
    }

    /// Nothing older than `MAX_AGE` is served, whatever the feed said (or missed).
    #[test]
    fn old_entries_are_not_served() {
        let c = MdCache::new(1);
        c.reset(true);
        c.put_read(c.stamp(), Some((1, "a")), &attr(5));
        assert!(c.entry(1, "a").is_some());
        let old = Instant::now()
            .checked_sub(MAX_AGE + Duration::from_secs(1))
            .expect("clock far enough from boot");
        {
            let mut st = c.state.lock();
            st.attrs.get_mut(&5).unwrap().1 = old;
        }
        assert!(c.attr(5).is_none(), "an old attribute is not served");
        assert!(
            c.entry(1, "a").is_none(),
            "an entry whose attribute is old is not"
        );
        c.put_read(c.stamp(), Some((1, "a")), &attr(5));
        c.state.lock().entries.get_mut(1, "a").unwrap().at = old;
        assert!(c.entry(1, "a").is_none(), "an old entry is not served");
        assert!(c.attr(5).is_some());
    }

    /// A directory's attributes that came back with this mount's change are cached,
    /// unless another invalidation (this mount's or another client's) happened while
    /// the call was in flight: the reply may then predate it.
    #[test]
    fn fresh_attributes_only_without_a_change_in_between() {
        let c = MdCache::new(1);
        c.reset(true);
        let mut dir = attr(1);
        dir.nlink = 3;
        c.put_read(c.stamp(), None, &attr(1));
        let s = c.stamp();
        c.invalidate_fresh(s, &[1], &[(1, "a")], Some(&dir));
        assert_eq!(
            c.attr(1).unwrap().nlink,
            3,
            "the reply's attributes are served"
        );

        let s = c.stamp();
        c.invalidate(&[7], &[]); // another operation of this mount meanwhile
        c.invalidate_fresh(s, &[1], &[], Some(&dir));
        assert!(
            c.attr(1).is_none(),
            "dropped, not replaced, after a concurrent change"
        );

        let s = c.stamp();
        c.apply(vec![Change {
            ino: 9,
            name: None,
            origin: 2,
        }]);
        c.invalidate_fresh(s, &[1], &[], Some(&dir));
        assert!(c.attr(1).is_none(), "nor after another client's change");
    }

    #[test]
    fn off_until_enabled_and_after_reset() {
        let c = MdCache::new(1);
        c.put_read(c.stamp(), Some((1, "a")), &attr(5));
        assert!(c.entry(1, "a").is_none(), "off: nothing cached");
        c.reset(true);
        c.put_read(c.stamp(), Some((1, "a")), &attr(5));
        assert_eq!(c.entry(1, "a").unwrap().ino, 5);
        assert_eq!(c.attr(5).unwrap().ino, 5);
        c.reset(false);
        assert!(c.entry(1, "a").is_none() && c.attr(5).is_none());
    }

    #[test]
    fn a_reply_older_than_an_invalidation_is_not_cached() {
        let c = MdCache::new(1);
        c.reset(true);
        let s = c.stamp();
        c.invalidate(&[5], &[]);
        c.put_read(s, Some((1, "a")), &attr(5));
        assert!(c.entry(1, "a").is_none());
        // Own creates only yield to other clients' changes.
        let s = c.stamp();
        c.invalidate(&[1], &[]);
        c.put_created(s, 1, "b", &attr(6));
        assert_eq!(c.entry(1, "b").unwrap().ino, 6);
        let s = c.stamp();
        c.apply(vec![Change {
            origin: 2,
            ino: 9,
            name: None,
        }]);
        c.put_created(s, 1, "c", &attr(7));
        assert!(c.entry(1, "c").is_none());
    }

    #[test]
    fn feed_changes_drop_entries_and_attrs_but_not_own_ones() {
        let c = MdCache::new(1);
        c.reset(true);
        c.put_read(c.stamp(), Some((1, "a")), &attr(5));
        c.put_read(c.stamp(), Some((1, "b")), &attr(6));
        c.apply(vec![Change {
            origin: 1,
            ino: 1,
            name: Some("a".into()),
        }]);
        assert!(c.entry(1, "a").is_some(), "own change skipped");
        c.apply(vec![
            Change {
                origin: 2,
                ino: 1,
                name: Some("a".into()),
            },
            Change {
                origin: 0,
                ino: 6,
                name: None,
            },
        ]);
        assert!(c.entry(1, "a").is_none());
        assert!(c.attr(6).is_none() && c.entry(1, "b").is_none());
    }

    /// A directory this mount made answers "absent" for names it lacks, until anyone
    /// else changes an entry in it, this mount changes one other than by creating it,
    /// the cache starts over or the mark grows old.
    #[test]
    fn new_directories_are_complete_until_touched() {
        let c = MdCache::new(1);
        c.reset(true);
        let s = c.stamp();
        c.put_created(s, 1, "d", &attr(10));
        c.put_new_dir(s, 10);
        assert!(c.absent(10, "x"), "a new directory has no entries");
        assert!(
            !c.absent(1, "x"),
            "the root was not made here: ask the master"
        );
        let s = c.stamp();
        c.put_created(s, 10, "x", &attr(11));
        assert!(!c.absent(10, "x") && c.absent(10, "y"));
        c.invalidate(&[10], &[(10, "y")]);
        assert!(
            !c.absent(10, "z"),
            "an own rename or link into it: not complete"
        );

        c.put_new_dir(c.stamp(), 12);
        c.apply(vec![Change {
            origin: 2,
            ino: 12,
            name: Some("z".into()),
        }]);
        assert!(!c.absent(12, "z"), "another client created a name in it");

        let s = c.stamp();
        c.apply(vec![Change {
            origin: 2,
            ino: 99,
            name: None,
        }]);
        c.put_new_dir(s, 13);
        assert!(
            !c.absent(13, "a"),
            "other clients changed things during the mkdir"
        );

        c.put_new_dir(c.stamp(), 14);
        c.reset(true);
        assert!(!c.absent(14, "a"), "the cache started over");

        c.put_new_dir(c.stamp(), 15);
        c.state.lock().complete.insert(
            15,
            Instant::now()
                .checked_sub(MAX_AGE + Duration::from_secs(1))
                .expect("clock far enough from boot"),
        );
        assert!(!c.absent(15, "a"), "an old mark is not trusted");
        c.reset(false);
        c.put_new_dir(c.stamp(), 16);
        assert!(!c.absent(16, "a"), "off: nothing answered");
    }
}
