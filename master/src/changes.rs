//! The namespace change feed: every namespace mutation appends what it changed (an entry
//! of a directory, or an inode's attributes) to an in-memory log; mounts long-poll it
//! (`CHANGES`) to drop what they cached, so their metadata caches stay coherent within
//! milliseconds instead of living for a fixed TTL. The log keeps the last `BACKLOG`
//! changes; a reader further behind, or one that polled a previous master process (a
//! new epoch), is told to reset.

use ferrofs_proto::Ino;
use ferrofs_proto::namespace::{Change, ChangesReq, ChangesResp};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::time::Duration;

/// Changes kept for readers that are behind.
pub const BACKLOG: usize = 100_000;
/// Most changes handed out per poll.
const MAX_PER_POLL: usize = 10_000;
/// Longest a poll waits for a change.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub struct ChangeFeed {
    epoch: std::sync::atomic::AtomicU64,
    log: Mutex<Log>,
    /// Carries `Log::next` to waiting polls.
    tx: tokio::sync::watch::Sender<u64>,
    /// Set when the master shuts down: polls return at once (a graceful shutdown waits
    /// for requests in flight).
    closed: std::sync::atomic::AtomicBool,
}

struct Log {
    /// Sequence number of the next change; `changes` holds `next - len .. next`.
    next: u64,
    changes: VecDeque<Change>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        // Distinct per process start: a reader of a previous master must reset.
        ChangeFeed {
            epoch: new_epoch().into(),
            log: Mutex::new(Log {
                next: 1,
                changes: VecDeque::new(),
            }),
            tx: tokio::sync::watch::channel(1).0,
            closed: Default::default(),
        }
    }
}

/// Distinct per process start and per restart of the feed: a reader of another feed
/// must reset.
fn new_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        .max(1)
}

impl ChangeFeed {
    fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Start over with a new epoch (the state was replaced by a snapshot): every reader
    /// resets its cache at its next poll.
    pub fn restart(&self) {
        let mut log = self.log.lock();
        log.changes.clear();
        self.epoch
            .store(new_epoch(), std::sync::atomic::Ordering::Release);
        drop(log);
        self.tx.send_modify(|_| {});
    }

    /// End every waiting poll now and every later one at once.
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.tx.send_modify(|_| {});
    }

    /// Record changes made by one call from `origin`.
    pub fn push(&self, origin: u64, changed: impl IntoIterator<Item = (Ino, Option<String>)>) {
        let mut log = self.log.lock();
        for (ino, name) in changed {
            if log.changes.len() == BACKLOG {
                log.changes.pop_front();
            }
            log.changes.push_back(Change { origin, ino, name });
            log.next += 1;
        }
        let next = log.next;
        drop(log);
        self.tx.send_replace(next);
    }

    fn take(&self, req: &ChangesReq) -> Option<ChangesResp> {
        let log = self.log.lock();
        let first = log.next - log.changes.len() as u64;
        if req.epoch != self.epoch() || req.since < first || req.since > log.next {
            return Some(ChangesResp {
                epoch: self.epoch(),
                next: log.next,
                reset: true,
                changes: vec![],
            });
        }
        if req.since == log.next {
            return None;
        }
        let skip = (req.since - first) as usize;
        let mut next = req.since;
        let mut changes = Vec::new();
        for c in log.changes.iter().skip(skip) {
            if changes.len() == MAX_PER_POLL {
                break;
            }
            next += 1;
            if req.origin == 0 || c.origin != req.origin {
                changes.push(c.clone());
            }
        }
        Some(ChangesResp {
            epoch: self.epoch(),
            next,
            reset: false,
            changes,
        })
    }

    /// Changes after `req.since`, waiting up to `req.wait_ms` (capped) for one.
    pub async fn poll(&self, req: &ChangesReq) -> ChangesResp {
        let mut rx = self.tx.subscribe();
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(req.wait_ms).min(MAX_WAIT);
        let mut req = req.clone();
        loop {
            rx.borrow_and_update();
            if let Some(r) = self.take(&req) {
                if r.reset || !r.changes.is_empty() {
                    return r;
                }
                // Only the reader's own changes: skip them and keep waiting.
                req.since = r.next;
            }
            if self.closed.load(std::sync::atomic::Ordering::Acquire)
                || tokio::time::timeout_at(deadline, rx.changed())
                    .await
                    .is_err()
            {
                return ChangesResp {
                    epoch: self.epoch(),
                    next: req.since,
                    reset: false,
                    changes: vec![],
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(f: &ChangeFeed, since: u64) -> ChangesReq {
        ChangesReq {
            epoch: f.epoch(),
            since,
            wait_ms: 0,
            origin: 9,
        }
    }

    #[tokio::test]
    async fn readers_get_changes_in_order_and_reset_when_behind() {
        let f = ChangeFeed::default();
        // A new reader (epoch 0) resets and starts at the end.
        let r = f
            .poll(&ChangesReq {
                epoch: 0,
                since: 0,
                wait_ms: 0,
                origin: 0,
            })
            .await;
        assert!(r.reset);
        let start = r.next;
        f.push(7, [(1, Some("a".into())), (1, None)]);
        let r = f.poll(&req(&f, start)).await;
        assert!(!r.reset);
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[0].name.as_deref(), Some("a"));
        assert_eq!(r.changes[1].origin, 7);
        // Nothing new: an empty answer after the wait.
        let r2 = f.poll(&req(&f, r.next)).await;
        assert!(r2.changes.is_empty() && !r2.reset && r2.next == r.next);
        // The reader's own changes are skipped, but `next` moves past them.
        f.push(9, [(3, None)]);
        let r3 = f.poll(&req(&f, r2.next)).await;
        assert!(r3.changes.is_empty() && r3.next == r2.next + 1);
        // Fall behind the backlog: reset.
        f.push(0, (0..BACKLOG as u64).map(|i| (i, None)));
        assert!(f.poll(&req(&f, r.next)).await.reset);
    }

    #[tokio::test]
    async fn a_waiting_poll_wakes_on_a_change() {
        let f = std::sync::Arc::new(ChangeFeed::default());
        let since = f.poll(&req(&f, 0)).await.next;
        let f2 = f.clone();
        let waiter = tokio::spawn(async move {
            f2.poll(&ChangesReq {
                epoch: f2.epoch(),
                since,
                wait_ms: 10_000,
                origin: 0,
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.push(1, [(5, None)]);
        let r = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("poll woke up")
            .unwrap();
        assert_eq!(r.changes.len(), 1);
        assert_eq!(r.changes[0].ino, 5);
    }

    #[tokio::test]
    async fn close_ends_waiting_polls() {
        let f = std::sync::Arc::new(ChangeFeed::default());
        let since = f.poll(&req(&f, 0)).await.next;
        let f2 = f.clone();
        let waiter = tokio::spawn(async move {
            f2.poll(&ChangesReq {
                epoch: f2.epoch(),
                since,
                wait_ms: 30_000,
                origin: 0,
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.close();
        let r = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("poll ended by close")
            .unwrap();
        assert!(r.changes.is_empty() && !r.reset);
    }
}
