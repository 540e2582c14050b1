//! The dashboard's history: a ring buffer of one-second samples (about an hour) of
//! throughput, metadata operations, chunk health, re-replication and disk usage.
//!
//! Three pieces, so the master's state need only hold a `Recorder` and call it:
//! - `History`: the ring buffer; `record` turns cumulative counters into per-second
//!   rates against the previous sample, `since` answers the JSON route. Pure.
//! - `IoTotals`: per-chunkserver byte counters from heartbeats, summed into totals
//!   that never go backwards when a chunkserver restarts and starts again from zero.
//! - `run`: the worker that samples the master every interval.

use crate::state::Master;
use ferrofs_proto::CsId;
use ferrofs_proto::admin::{DiskSample, HistorySample};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Samples kept: an hour of them.
pub const CAPACITY: usize = 3600;

/// Cumulative counters at one instant; `History::record` differentiates them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub read_bytes: u64,
    pub written_bytes: u64,
    pub meta_ops: u64,
    pub rereplication_bytes: u64,
}

/// Instantaneous values of a sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub chunks: u64,
    pub under_replicated: u64,
    pub missing: u64,
    pub disks: Vec<DiskSample>,
}

#[derive(Debug)]
pub struct History {
    capacity: usize,
    samples: VecDeque<HistorySample>,
    last: Option<(u64, Totals)>,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History {
            capacity: capacity.max(1),
            samples: VecDeque::with_capacity(capacity.min(CAPACITY)),
            last: None,
        }
    }

    /// Add the sample taken at `t_ms` (unix ms). The first one has zero rates; a clock
    /// that did not move forward gives zero rates rather than infinities.
    pub fn record(&mut self, t_ms: u64, totals: Totals, g: Gauges) -> &HistorySample {
        let rate = |now: u64, before: u64, dt: f64| {
            if dt > 0.0 {
                now.saturating_sub(before) as f64 / dt
            } else {
                0.0
            }
        };
        let (read_bps, write_bps, meta_ops, rereplication_bps) = match self.last {
            Some((t0, p)) => {
                let dt = t_ms.saturating_sub(t0) as f64 / 1000.0;
                (
                    rate(totals.read_bytes, p.read_bytes, dt),
                    rate(totals.written_bytes, p.written_bytes, dt),
                    rate(totals.meta_ops, p.meta_ops, dt),
                    rate(totals.rereplication_bytes, p.rereplication_bytes, dt),
                )
            }
            None => (0.0, 0.0, 0.0, 0.0),
        };
        self.last = Some((t_ms, totals));
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(HistorySample {
            t: t_ms,
            read_bps,
            write_bps,
            meta_ops,
            rereplication_bps,
            chunks: g.chunks,
            under_replicated: g.under_replicated,
            missing: g.missing,
            disks: g.disks,
        });
        self.samples.back().expect("just pushed")
    }

    /// Samples taken after `t_ms`, oldest first.
    pub fn since(&self, t_ms: u64) -> Vec<HistorySample> {
        let start = self.samples.partition_point(|s| s.t <= t_ms);
        self.samples.range(start..).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Byte counters the chunkservers report, summed over servers and restarts.
#[derive(Debug, Default)]
pub struct IoTotals {
    inner: Mutex<IoSums>,
}

#[derive(Debug, Default)]
struct IoSums {
    /// Last reported (read, written) per server.
    last: HashMap<CsId, (u64, u64)>,
    read: u64,
    written: u64,
}

impl IoTotals {
    /// A heartbeat's counters. A value below the last one means the server restarted
    /// and counts from zero again: all of it is new.
    pub fn note(&self, id: &CsId, read: u64, written: u64) {
        let mut g = self.inner.lock();
        let (last_r, last_w) = g.last.get(id).copied().unwrap_or((0, 0));
        let dr = if read >= last_r { read - last_r } else { read };
        let dw = if written >= last_w {
            written - last_w
        } else {
            written
        };
        g.last.insert(id.clone(), (read, written));
        g.read += dr;
        g.written += dw;
    }

    /// (read, written) bytes so far.
    pub fn sums(&self) -> (u64, u64) {
        let g = self.inner.lock();
        (g.read, g.written)
    }
}

/// What the master keeps for the history: the buffer and the counters feeding it.
#[derive(Debug)]
pub struct Recorder {
    history: Mutex<History>,
    io: IoTotals,
    /// Namespace calls served (counted by the HTTP layer).
    meta_ops: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            history: Mutex::new(History::new(CAPACITY)),
            io: IoTotals::default(),
            meta_ops: AtomicU64::new(0),
        }
    }
}

impl Recorder {
    pub fn count_meta_op(&self) {
        self.meta_ops.fetch_add(1, Ordering::Relaxed);
    }

    /// A chunkserver's cumulative read and written bytes, from its heartbeat.
    pub fn note_io(&self, cs: &CsId, read_bytes: u64, written_bytes: u64) {
        self.io.note(cs, read_bytes, written_bytes);
    }

    /// The samples taken after `t_ms` (unix ms), oldest first.
    pub fn since(&self, t_ms: u64) -> Vec<HistorySample> {
        self.history.lock().since(t_ms)
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Take one sample of the master now.
pub fn sample(m: &Master) {
    let status = m.status();
    let (read_bytes, written_bytes) = m.history.io.sums();
    let totals = Totals {
        read_bytes,
        written_bytes,
        meta_ops: m.history.meta_ops.load(Ordering::Relaxed),
        rereplication_bytes: m.metrics.rereplication_bytes.get(),
    };
    let gauges = Gauges {
        chunks: status.chunks.total,
        under_replicated: status.chunks.under_replicated,
        missing: status.chunks.missing,
        disks: status
            .chunkservers
            .iter()
            .map(|c| DiskSample {
                id: c.id.clone(),
                used_bytes: c.used_bytes,
                capacity_bytes: c.capacity_bytes,
                alive: c.alive,
            })
            .collect(),
    };
    m.history.history.lock().record(unix_ms(), totals, gauges);
}

/// Sample the master every `INTERVAL` until `stop` turns true.
pub async fn run(m: Arc<Master>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let m2 = m.clone();
        // status() walks the chunk table: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || sample(&m2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(r: u64, w: u64, ops: u64, rr: u64) -> Totals {
        Totals {
            read_bytes: r,
            written_bytes: w,
            meta_ops: ops,
            rereplication_bytes: rr,
        }
    }

    #[test]
    fn rates_come_from_the_previous_sample() {
        let mut h = History::new(10);
        let s = h.record(1_000, totals(100, 0, 5, 0), Gauges::default());
        assert_eq!(
            (s.read_bps, s.meta_ops),
            (0.0, 0.0),
            "the first sample has no rate"
        );
        let s = h.record(3_000, totals(2_100, 400, 25, 1 << 20), Gauges::default());
        assert_eq!(s.read_bps, 1000.0);
        assert_eq!(s.write_bps, 200.0);
        assert_eq!(s.meta_ops, 10.0);
        assert_eq!(s.rereplication_bps, (1 << 19) as f64);
        let s = h.record(3_000, totals(9_999, 400, 25, 1 << 20), Gauges::default());
        assert_eq!(s.read_bps, 0.0, "no time passed: no rate, not infinity");
    }

    #[test]
    fn the_ring_keeps_the_newest_and_since_is_exclusive() {
        let mut h = History::new(3);
        for t in 1..=5u64 {
            h.record(
                t * 1000,
                Totals::default(),
                Gauges {
                    chunks: t,
                    ..Default::default()
                },
            );
        }
        assert_eq!(h.len(), 3);
        let all: Vec<u64> = h.since(0).iter().map(|s| s.t).collect();
        assert_eq!(all, [3000, 4000, 5000]);
        let newer: Vec<u64> = h.since(4000).iter().map(|s| s.chunks).collect();
        assert_eq!(newer, [5]);
        assert!(h.since(5000).is_empty());
    }

    #[test]
    fn io_totals_survive_a_chunkserver_restart() {
        let io = IoTotals::default();
        let a: CsId = "cs-a".into();
        let b: CsId = "cs-b".into();
        io.note(&a, 100, 10);
        io.note(&b, 50, 5);
        io.note(&a, 150, 10);
        assert_eq!(io.sums(), (200, 15));
        io.note(&a, 30, 1); // restarted: counts from zero
        assert_eq!(io.sums(), (230, 16));
    }
}
