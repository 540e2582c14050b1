//! Fast failure detection for crashed chunkserver processes. Heartbeats alone cannot
//! tell a dead process from a slow network, so a silent server normally gets the whole
//! `dead_timeout`. But a server that missed a heartbeat and whose address refuses TCP
//! connections has no process listening: it crashed or was killed, and no answer will
//! come. After two refusals in a row it is declared dead at once (its last heartbeat
//! is moved back by `dead_timeout`, so every liveness check agrees), and re-replication
//! starts seconds earlier. A timeout or any other error proves nothing and changes
//! nothing; a server that comes back simply heartbeats again and is alive.

use crate::state::Master;
use ferrofs_proto::CsId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often suspects are probed.
const PERIOD: Duration = Duration::from_millis(500);
/// Refusals in a row that prove the process is gone.
const REFUSALS: u32 = 2;

pub async fn run(master: Arc<Master>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    if !master.cfg.dead_on_refused {
        return;
    }
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refusals: HashMap<CsId, u32> = HashMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let suspects = suspects(&master);
        refusals.retain(|id, _| suspects.iter().any(|(s, _)| s == id));
        for (id, addr) in suspects {
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
            }
        }
    }
}

/// Live servers that missed a heartbeat (not in maintenance): (id, address).
fn suspects(master: &Master) -> Vec<(CsId, String)> {
    let late = master.cfg.heartbeat_interval + PERIOD;
    let dead = master.cfg.dead_timeout;
    let cl = master.cluster.lock();
    cl.reg
        .servers
        .values()
        .filter(|s| {
            let age = s.last_heartbeat.elapsed();
            age > late && age < dead && !s.maintenance
        })
        .map(|s| (s.id.clone(), s.addr.clone()))
        .collect()
}

fn declare_dead(master: &Master, id: &str) {
    let late = master.cfg.heartbeat_interval + PERIOD;
    let mut cl = master.cluster.lock();
    let Some(s) = cl.reg.servers.get_mut(id) else {
        return;
    };
    // It may have heartbeated while we probed.
    if s.last_heartbeat.elapsed() <= late {
        return;
    }
    if let Some(t) = Instant::now().checked_sub(master.cfg.dead_timeout) {
        tracing::warn!(cs = %id, addr = %s.addr, silent_ms = s.last_heartbeat.elapsed().as_millis() as u64,
            "chunkserver refuses connections: declared dead without waiting for the dead timeout");
        s.last_heartbeat = t;
    }
}
