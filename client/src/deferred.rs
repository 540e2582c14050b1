//! Deferred namespace operations: creates, unlinks and rmdirs a mount answered at
//! once, sent to the master in order and in batches by one background task (CephFS's
//! asynchronous directory operations). Every other master call of this client waits until the
//! deferred operations queued before it have been answered (`MasterClient::rpc` runs
//! `barrier` first), so nothing the client does after a deferred operation can overtake
//! it: a write's lease, a rename, a readdir or a lookup all find it applied.
//!
//! Creates are named by inode numbers the master reserved to this client
//! (`ReserveInos`); the pool is refilled in the background before it runs out, through
//! the barrier, so a refill (which retires the reservation before the previous one)
//! lands only after every create named from that older one.
//!
//! An operation the master refuses after its caller was answered (another client took
//! the name meanwhile, the master group stayed unreachable past `master_retry`) is
//! reported to the `on_fail` callback given to `start`, which the mount uses to drop
//! what it cached; the batch it was in is retried one operation at a time so the
//! others still land.

use crate::error::ClientError;
use crate::master::MasterClient;
use ferrofs_proto::namespace::{NsBatchReq, NsOp, ReserveInosReq};
use ferrofs_proto::rpc;
use ferrofs_proto::{ErrorCode, Ino};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Notify, watch};

/// Most operations sent in one batch.
const MAX_BATCH: usize = 256;
/// How long the flusher lets operations gather before it sends a batch (or until
/// `GATHERED` are queued), unless a caller waits for them (`barrier`). Sending each as
/// soon as it came, a single-threaded `rm -rf` or untar produced batches of one or
/// two: the master then spent its CPU on the per-batch costs (a log entry, RocksDB
/// writes, the reply, about 0.3-0.5 ms) of 10,000 batches, and on two cores that CPU
/// was taken from the mount and the removal itself.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);
const GATHERED: usize = MAX_BATCH / 2;
/// Inode numbers asked for at a time.
const RESERVE: u32 = 4096;
/// Refill when fewer numbers than this are left.
const LOW: u64 = 1024;
/// Most operations queued and not yet answered; past it callers make their calls
/// directly (and wait), so a master that stopped answering bounds what is at risk.
const MAX_BACKLOG: u64 = 8192;

/// Called with an operation the master did not apply, and why.
pub type OnFail = dyn Fn(&NsOp, &ClientError) + Send + Sync;

/// The queue shared by every clone of a `MasterClient`.
pub struct Deferred {
    queue: Mutex<VecDeque<NsOp>>,
    /// Operations queued so far.
    queued: AtomicU64,
    /// Operations answered so far (applied or failed), for `barrier`.
    done: watch::Sender<u64>,
    wake: Notify,
    /// A caller waits for the queue (`barrier`): send without lingering.
    urgent: Notify,
    /// Reserved inode numbers not yet used, oldest range first.
    inos: Mutex<InoPool>,
    /// Where the flusher runs (set by `start`; without it nothing is deferred).
    rt: std::sync::OnceLock<tokio::runtime::Handle>,
    stopped: AtomicBool,
}

impl Default for Deferred {
    fn default() -> Self {
        Deferred {
            queue: Default::default(),
            queued: AtomicU64::new(0),
            done: watch::channel(0).0,
            wake: Notify::new(),
            urgent: Notify::new(),
            inos: Default::default(),
            rt: Default::default(),
            stopped: AtomicBool::new(false),
        }
    }
}

impl Deferred {
    /// Deferring is on and the backlog below `MAX_BACKLOG`.
    fn running(&self) -> bool {
        self.rt.get().is_some()
            && !self.stopped.load(Ordering::Acquire)
            && self.backlog() < MAX_BACKLOG
    }

    /// Wait until every operation queued before this call has been answered.
    pub async fn barrier(&self) {
        let target = self.queued.load(Ordering::Acquire);
        if *self.done.borrow() >= target {
            return;
        }
        self.urgent.notify_one();
        self.wake.notify_one();
        let mut rx = self.done.subscribe();
        // The sender lives as long as `self`.
        let _ = rx.wait_for(|d| *d >= target).await;
    }

    /// Operations queued and not yet answered.
    pub fn backlog(&self) -> u64 {
        self.queued
            .load(Ordering::Acquire)
            .saturating_sub(*self.done.borrow())
    }
}

impl MasterClient {
    /// Start sending deferred operations from the current runtime (a mount does, once),
    /// with a first reservation of inode numbers; until then `defer` and `defer_create`
    /// refuse and callers make their calls directly.
    pub async fn start_deferred(&self, on_fail: Arc<OnFail>) {
        let d = self.deferred();
        let rt = tokio::runtime::Handle::current();
        if d.rt.set(rt.clone()).is_err() {
            return;
        }
        rt.spawn(flush_loop(self.clone(), on_fail));
        d.inos.lock().refilling = true;
        self.reserve().await;
    }

    /// Stop deferring: later `defer` and `defer_create` calls refuse (what is queued is
    /// still sent; `barrier` waits for it).
    pub fn stop_deferred(&self) {
        self.deferred().stopped.store(true, Ordering::Release);
    }

    /// Queue `op` (an unlink; creates go through `defer_create`) behind the ones
    /// queued before; false (and nothing queued) when deferring is off.
    pub fn defer(&self, op: NsOp) -> bool {
        let d = self.deferred();
        if !d.running() {
            return false;
        }
        {
            let mut q = d.queue.lock();
            q.push_back(op);
            d.queued.fetch_add(1, Ordering::AcqRel);
        }
        d.wake.notify_one();
        true
    }

    /// Queue a create named by a reserved inode number: `build` gets the number and
    /// makes the operation. The number is taken and the operation queued under one
    /// lock, so operations reach the master in the order of their numbers (the master
    /// takes a reservation's numbers in increasing order only). None (and nothing
    /// queued) when deferring is off or no number is at hand; the pool is refilled in
    /// the background when it runs low.
    pub fn defer_create(&self, build: impl FnOnce(Ino) -> NsOp) -> Option<Ino> {
        let d = self.deferred();
        if !d.running() {
            return None;
        }
        let (ino, refill) = {
            let mut q = d.queue.lock();
            let (ino, refill) = d.inos.lock().take();
            if let Some(ino) = ino {
                q.push_back(build(ino));
                d.queued.fetch_add(1, Ordering::AcqRel);
            }
            (ino, refill)
        };
        if ino.is_some() {
            d.wake.notify_one();
        }
        if refill && let Some(rt) = d.rt.get() {
            let mc = self.clone();
            rt.spawn(async move { mc.reserve().await });
        }
        ino
    }

    /// One reservation, through the barrier (`rpc`): see the module doc.
    async fn reserve(&self) {
        let r = self
            .rpc::<rpc::ReserveInos>(&ReserveInosReq { count: RESERVE })
            .await;
        let d = self.deferred();
        let got = match r {
            Ok(r) => {
                tracing::debug!(first = r.first, count = r.count, "reserved inode numbers");
                Some(r.first..r.first + r.count)
            }
            Err(e) => {
                tracing::warn!(error = %e, "reserving inode numbers failed");
                None
            }
        };
        d.inos.lock().refilled(got);
    }
}

/// The inode numbers reserved to this client and not used yet, oldest range first,
/// and whether a reservation is on its way. One lock decides both: a refill decided
/// from a count read before the previous refill landed asked for a second range at
/// once, and the master (which keeps a client's last two) then retired the range still
/// in use, refusing the creates already named from it.
#[derive(Default)]
struct InoPool {
    ranges: VecDeque<Range<Ino>>,
    refilling: bool,
}

impl InoPool {
    /// The next number, if any, and whether the caller must now ask for more (at most
    /// one caller at a time is told to).
    fn take(&mut self) -> (Option<Ino>, bool) {
        while self.ranges.front().is_some_and(|r| r.is_empty()) {
            self.ranges.pop_front();
        }
        let ino = self.ranges.front_mut().map(|r| {
            let i = r.start;
            r.start += 1;
            i
        });
        let left: u64 = self.ranges.iter().map(|r| r.end - r.start).sum();
        let refill = left < LOW && !self.refilling;
        self.refilling |= refill;
        (ino, refill)
    }

    /// A reservation came back (or failed: None). Only the last two reservations are
    /// the master's; anything older is dropped here too.
    fn refilled(&mut self, got: Option<Range<Ino>>) {
        if let Some(r) = got {
            self.ranges.push_back(r);
            while self.ranges.len() > 2 {
                self.ranges.pop_front();
            }
        }
        self.refilling = false;
    }
}

async fn flush_loop(mc: MasterClient, on_fail: Arc<OnFail>) {
    let d = mc.deferred().clone();
    loop {
        let queued = d.queue.lock().len();
        if queued == 0 {
            d.wake.notified().await;
            continue;
        }
        if queued < GATHERED {
            // Let more gather, up to LINGER; a caller waiting for the queue ends it.
            let deadline = tokio::time::Instant::now() + LINGER;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = d.urgent.notified() => break,
                    _ = d.wake.notified() => if d.queue.lock().len() >= GATHERED { break },
                }
            }
        }
        let batch: Vec<NsOp> = {
            let mut q = d.queue.lock();
            let n = q.len().min(MAX_BATCH);
            q.drain(..n).collect()
        };
        let n = batch.len() as u64;
        send(&mc, batch, &*on_fail).await;
        d.done.send_modify(|done| *done += n);
    }
}

/// Send one batch; if the master refuses it, each operation alone, so one refusal
/// costs only its own operation.
async fn send(mc: &MasterClient, ops: Vec<NsOp>, on_fail: &OnFail) {
    let r = mc
        .rpc_unordered::<rpc::NsBatch>(&NsBatchReq { ops: ops.clone() })
        .await;
    match r {
        Ok(_) => {}
        Err(ClientError::Api(e)) if ops.len() > 1 => {
            tracing::warn!(ops = ops.len(), error = %e, "a batch of deferred operations was refused; sending them one at a time");
            for op in ops {
                let one = NsBatchReq {
                    ops: vec![op.clone()],
                };
                if let Err(e) = mc.rpc_unordered::<rpc::NsBatch>(&one).await {
                    fail(&op, &e, on_fail);
                }
            }
        }
        Err(e) => ops.iter().for_each(|op| fail(op, &e, on_fail)),
    }
}

fn fail(op: &NsOp, e: &ClientError, on_fail: &OnFail) {
    match op {
        NsOp::Create(c) => tracing::error!(
            parent = c.create.parent, name = %c.create.name, ino = c.ino, error = %e,
            "a deferred create was not applied"
        ),
        // Another client removed it first: the outcome the caller was told.
        NsOp::Unlink(u) if matches!(e, ClientError::Api(a) if a.code == ErrorCode::NotFound) => {
            tracing::debug!(parent = u.parent, name = %u.name, "a deferred unlink found the name gone")
        }
        NsOp::Unlink(u) if u.dir => tracing::error!(
            parent = u.parent, name = %u.name, error = %e,
            "a deferred rmdir was not applied"
        ),
        NsOp::Unlink(u) => tracing::error!(
            parent = u.parent, name = %u.name, error = %e,
            "a deferred unlink was not applied"
        ),
    }
    on_fail(op, e);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One refill at a time, decided under the pool's lock: however many callers find
    /// the pool low, one is told to refill until the reservation lands.
    #[test]
    fn one_refill_at_a_time() {
        let mut p = InoPool::default();
        assert_eq!(p.take(), (None, true), "empty: the first caller refills");
        assert_eq!(p.take(), (None, false), "the refill is on its way");
        p.refilled(Some(100..100 + RESERVE as u64));
        let mut refills = 0;
        for i in 0..RESERVE as u64 {
            let (ino, refill) = p.take();
            assert_eq!(ino, Some(100 + i));
            refills += u32::from(refill);
        }
        assert_eq!(refills, 1, "told once when fewer than LOW were left");
        assert_eq!(p.take(), (None, false));
        p.refilled(None);
        assert_eq!(p.take(), (None, true), "a failed refill is asked again");
        p.refilled(Some(10_000..10_010));
        p.refilled(Some(20_000..20_010));
        p.refilled(Some(30_000..30_010));
        assert_eq!(p.ranges.len(), 2, "only the master's last two are kept");
        assert_eq!(p.take().0, Some(20_000));
    }
}
