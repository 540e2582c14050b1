//! Per-handle read-ahead: when reads are sequential, fetch a window larger than asked
//! (doubling up to `MAX_WINDOW`) and serve the following reads from it. A window is
//! tagged with the inode's data generation at fetch time; any write or truncate on this
//! mount bumps the generation, so a stale window is never served.

use bytes::Bytes;

/// Largest read-ahead window.
pub const MAX_WINDOW: u64 = 8 << 20;
/// First window once reads look sequential.
const MIN_WINDOW: u64 = 256 << 10;

/// A window being fetched in the background: (offset, generation, task).
pub type Prefetch = (
    u64,
    u64,
    tokio::task::JoinHandle<Result<Bytes, ferrofs_client::ClientError>>,
);

#[derive(Default)]
pub struct ReadAhead {
    /// End of the last read served: a read starting here is sequential.
    last_end: u64,
    /// Current window size; 0 until reads are sequential.
    window: u64,
    buf: Option<(u64, Bytes, u64)>, // (offset, data, generation)
    /// The next window, fetched while the current one is being consumed.
    pub next: Option<Prefetch>,
}

impl ReadAhead {
    /// Serve `[off, off+len)` from the window if it holds it (or holds the file's end).
    pub fn serve(&mut self, off: u64, len: u64, gen_now: u64, size: u64) -> Option<Bytes> {
        let (boff, data, g) = self.buf.as_ref()?;
        if *g != gen_now || off < *boff {
            return None;
        }
        let bend = boff + data.len() as u64;
        let want_end = (off + len).min(size);
        if want_end > bend || off > bend {
            return None;
        }
        let a = (off - boff) as usize;
        let b = (want_end.max(off) - boff) as usize;
        let out = data.slice(a..b);
        self.last_end = off + out.len() as u64;
        Some(out)
    }

    /// Where the next window should start, and how long it should be, once a sequential
    /// reader has consumed half of the current one (None: no prefetch is due).
    pub fn prefetch_due(&self, gen_now: u64, size: u64) -> Option<(u64, u64)> {
        let (boff, data, g) = self.buf.as_ref()?;
        if self.next.is_some() || *g != gen_now || self.window < MAX_WINDOW / 2 {
            return None;
        }
        let bend = boff + data.len() as u64;
        if bend >= size || self.last_end < boff + data.len() as u64 / 2 {
            return None;
        }
        Some((bend, self.window.min(size - bend)))
    }

    /// Take the prefetched window if it starts at `off` and is still current.
    pub fn take_prefetch(&mut self, off: u64, gen_now: u64) -> Option<Prefetch> {
        match &self.next {
            Some((o, g, _)) if *o == off && *g == gen_now => self.next.take(),
            Some((o, g, _)) if *o != off || *g != gen_now => {
                if let Some((_, _, h)) = self.next.take() {
                    h.abort();
                }
                None
            }
            _ => None,
        }
    }

    /// How many bytes to fetch for a read of `len` at `off` that missed the window.
    pub fn plan(&mut self, off: u64, len: u64) -> u64 {
        if off == self.last_end && off != 0 || (off == 0 && self.window > 0) {
            self.window = (self.window * 2).clamp(MIN_WINDOW, MAX_WINDOW);
        } else if off == 0 {
            // A read from the start is likely the start of a sequential scan.
            self.window = MIN_WINDOW;
        } else {
            self.window = 0;
        }
        len.max(self.window)
    }

    /// Keep fetched bytes as the window; returns what the caller asked for.
    pub fn store(&mut self, off: u64, data: Bytes, len: u64, gen_now: u64) -> Bytes {
        let out = data.slice(..(len as usize).min(data.len()));
        self.last_end = off + out.len() as u64;
        self.buf = (data.len() > out.len()).then_some((off, data, gen_now));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_reads_grow_the_window_and_hit_it() {
        let mut ra = ReadAhead::default();
        let size = 100 << 20;
        let want = ra.plan(0, 4096);
        assert_eq!(want, MIN_WINDOW);
        let got = ra.store(0, Bytes::from(vec![7u8; want as usize]), 4096, 1);
        assert_eq!(got.len(), 4096);
        let hit = ra.serve(4096, 4096, 1, size).expect("served from window");
        assert_eq!(hit.len(), 4096);
        assert!(ra.serve(4096, 4096, 2, size).is_none(), "stale generation");
        // Miss at the window's end: sequential, so the window doubles.
        assert!(ra.serve(MIN_WINDOW, 4096, 1, size).is_none());
        ra.last_end = MIN_WINDOW;
        assert_eq!(ra.plan(MIN_WINDOW, 4096), 2 * MIN_WINDOW);
        for _ in 0..10 {
            ra.plan(ra.last_end, 4096);
        }
        assert_eq!(ra.window, MAX_WINDOW);
    }

    #[test]
    fn random_reads_fetch_only_what_is_asked() {
        let mut ra = ReadAhead {
            last_end: 10,
            ..Default::default()
        };
        assert_eq!(ra.plan(5000, 100), 100);
        assert_eq!(ra.plan(90000, 100), 100);
    }

    #[test]
    fn window_serves_up_to_end_of_file() {
        let mut ra = ReadAhead::default();
        ra.plan(0, 10);
        ra.store(0, Bytes::from(vec![1u8; 50]), 10, 0);
        // File is 50 bytes: a read past the end is short, from the window.
        assert_eq!(ra.serve(40, 100, 0, 50).unwrap().len(), 10);
        assert_eq!(ra.serve(50, 100, 0, 50).unwrap().len(), 0);
    }
}
