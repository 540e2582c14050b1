//! Fast failure detection for crashed chunkserver processes. Heartbeats alone cannot
//! tell a dead process from a slow network, so a silent server normally gets the whole
//! `dead_timeout`. But a server whose address refuses TCP connections has no process
//! listening: it crashed or was killed, and no answer will come. A server becomes a
//! suspect, and is probed, when it missed a heartbeat, or at once when the connection of
//! its presence poll closed (`heartbeat::PRESENCE`: a killed process's kernel closes its
//! sockets) and it has not heartbeated since. After two refusals in a row it is declared
//! dead (its last heartbeat is moved back by `dead_timeout`, so every liveness check
//! agrees), and re-replication starts seconds earlier. A timeout or any other error
//! proves nothing and changes nothing; a server that comes back simply heartbeats again
//! and is alive.

use crate::registry::{Presence, Server};
use crate::state::Master;
use ferrofs_proto::CsId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often suspects are probed.
const PERIOD: Duration = Duration::from_millis(500);
/// Probe spacing while a server whose presence connection closed has been refused once.
const FAST_PERIOD: Duration = Duration::from_millis(100);
/// Refusals in a row that prove the process is gone.
const REFUSALS: u32 = 2;

pub async fn run(master: Arc<Master>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    if !master.cfg.dead_on_refused {
        return;
    }
    let mut refusals: HashMap<CsId, u32> = HashMap::new();
    let mut period = PERIOD;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = master.prober_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        let suspects = suspects(&master);
        refusals.retain(|id, _| suspects.iter().any(|(s, _, _)| s == id));
        period = PERIOD;
        for (id, addr, presence_lost) in suspects {
            let refused = matches!(
                tokio::time::timeout(PERIOD, tokio::net::TcpStream::connect(&addr)).await,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
            );
            if !refused {
                refusals.remove(&id);
                continue;
            }
            let n = refusals.entry(id.clone()).or_default();
            *n += 1;
            if *n >= REFUSALS {
                refusals.remove(&id);
                declare_dead(&master, &id);
            } else if presence_lost {
                period = FAST_PERIOD;
            }
        }
    }
}

/// Whether a server (not in maintenance, not yet dead) should be probed, and whether
/// because its presence connection closed.
fn suspect(master: &Master, s: &Server) -> Option<bool> {
    let late = master.cfg.heartbeat_interval + PERIOD;
    let age = s.last_heartbeat.elapsed();
    let lost = matches!(s.presence, Presence::Lost(t) if s.last_heartbeat < t);
    (!s.maintenance && age < master.cfg.dead_timeout && (age > late || lost)).then_some(lost)
}

/// The suspects: (id, address, presence lost).
fn suspects(master: &Master) -> Vec<(CsId, String, bool)> {
    let cl = master.cluster();
    cl.reg
        .servers
        .values()
        .filter_map(|s| suspect(master, s).map(|lost| (s.id.clone(), s.addr.clone(), lost)))
        .collect()
}

impl Master {
    /// A presence poll from `id` arrived: its process is up. False if `id` has not
    /// registered yet.
    pub(crate) fn presence_found(&self, id: &str) -> bool {
        let mut cl = self.cluster();
        let Some(s) = cl.reg.servers.get_mut(id) else {
            return false;
        };
        s.presence = Presence::Open;
        true
    }

    /// The connection of `id`'s presence poll closed: probe it now.
    pub(crate) fn presence_lost(&self, id: &str) {
        if let Some(s) = self.cluster().reg.servers.get_mut(id) {
            tracing::debug!(cs = %id, "presence connection closed; probing");
            s.presence = Presence::Lost(Instant::now());
        }
        self.prober_wake.notify_one();
    }
}

fn declare_dead(master: &Master, id: &str) {
    let mut cl = master.cluster();
    let Some(s) = cl.reg.servers.get_mut(id) else {
        return;
    };
    // It may have heartbeated while we probed.
    if suspect(master, s).is_none() {
        return;
    }
    if let Some(t) = Instant::now().checked_sub(master.cfg.dead_timeout) {
        tracing::warn!(cs = %id, addr = %s.addr, silent_ms = s.last_heartbeat.elapsed().as_millis() as u64,
            "chunkserver refuses connections: declared dead without waiting for the dead timeout");
        s.last_heartbeat = t;
    }
}
