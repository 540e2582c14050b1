//! Chunkserver registry: who is registered, their capacity, liveness and state, and the
//! commands queued for their next heartbeat reply. Liveness is soft state, as in GFS.

use crate::placement::Candidate;
use crate::sm::ServerModeRec;
use ferrofs_proto::admin::{ChunkserverStatus, CsState};
use ferrofs_proto::heartbeat::Command;
use ferrofs_proto::namespace::ReplicaLoc;
use ferrofs_proto::{ChunkId, CsId};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Server {
    pub id: CsId,
    pub addr: String,
    /// Its rack (failure domain); `DEFAULT_RACK` when it names none.
    pub rack: String,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub last_heartbeat: Instant,
    pub copies_in_flight: u32,
    /// Chunks this server reported holding (any version).
    pub chunks: HashSet<ChunkId>,
    /// Commands for the next heartbeat reply.
    pub commands: Vec<Command>,
    /// Allocations since the last heartbeat (used bytes not yet reported).
    pub recent_allocs: u32,
    pub maintenance: bool,
    /// When maintenance mode was switched on.
    pub maintenance_since: Option<Instant>,
    pub decommission: bool,
    /// Its presence poll (see `heartbeat::PRESENCE`).
    pub presence: Presence,
    /// This member has its full chunk report since it last became leader: only then
    /// does it decide about the server's replicas (deletes, copies, trims).
    pub full_report: bool,
}

/// The state of a chunkserver's presence poll.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Presence {
    /// None has arrived since it registered.
    #[default]
    Never,
    Open,
    /// Its connection closed at this moment: a server that has not heartbeated since is
    /// probed at once.
    Lost(Instant),
}

impl Server {
    /// Take the operator modes the state machine records for it.
    pub fn apply_mode(&mut self, m: &ServerModeRec) {
        self.decommission = m.decommission;
        self.maintenance = m.maintenance_since_ms.is_some();
        self.maintenance_since = m.maintenance_since_ms.map(|ms| {
            let ago = crate::db::now_ms().saturating_sub(ms);
            Instant::now()
                .checked_sub(Duration::from_millis(ago))
                .unwrap_or_else(Instant::now)
        });
    }

    pub fn loc(&self) -> ReplicaLoc {
        ReplicaLoc {
            id: self.id.clone(),
            addr: self.addr.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Registry {
    pub servers: BTreeMap<CsId, Server>,
}

impl Registry {
    pub fn set_mode(&mut self, id: &str, m: &ServerModeRec) {
        if let Some(s) = self.servers.get_mut(id) {
            s.apply_mode(m);
        }
    }

    pub fn is_alive(&self, id: &str, dead_timeout: Duration) -> bool {
        self.servers
            .get(id)
            .is_some_and(|s| s.last_heartbeat.elapsed() < dead_timeout)
    }

    /// Does a replica on `id` count toward the goal? Live servers count, and so does a
    /// server in maintenance that has been down for less than the maintenance window.
    /// Decommissioning servers count only when `with_decom` (for health: the replica is
    /// still there) and never for re-replication (their chunks must be copied away).
    pub fn counts(&self, id: &str, dead: Duration, window: Duration, with_decom: bool) -> bool {
        let Some(s) = self.servers.get(id) else {
            return false;
        };
        if s.decommission && !with_decom {
            return false;
        }
        if s.last_heartbeat.elapsed() < dead {
            return true;
        }
        s.maintenance && s.maintenance_since.is_some_and(|t| t.elapsed() < window)
    }

    pub fn counts_for_goal(&self, id: &str, dead: Duration, window: Duration) -> bool {
        self.counts(id, dead, window, false)
    }

    pub fn state(&self, s: &Server, dead: Duration) -> CsState {
        let alive = s.last_heartbeat.elapsed() < dead;
        if s.decommission {
            if s.chunks.is_empty() {
                CsState::Decommissioned
            } else {
                CsState::Decommissioning
            }
        } else if s.maintenance {
            CsState::Maintenance
        } else if alive {
            CsState::Alive
        } else {
            CsState::Dead
        }
    }

    /// Servers that may receive new replicas.
    pub fn candidates(&self, dead: Duration, reserve: u64) -> Vec<Candidate> {
        self.servers
            .values()
            .filter(|s| s.last_heartbeat.elapsed() < dead && !s.maintenance && !s.decommission)
            .map(|s| Candidate {
                id: s.id.clone(),
                free_bytes: s
                    .capacity_bytes
                    .saturating_sub(s.used_bytes)
                    .saturating_sub(reserve),
                capacity_bytes: s.capacity_bytes,
                recent_allocs: s.recent_allocs,
                rack: s.rack.clone(),
            })
            .collect()
    }

    /// The rack of server `id` (`DEFAULT_RACK` if unknown).
    pub fn rack_of(&self, id: &str) -> &str {
        self.servers
            .get(id)
            .map_or(ferrofs_proto::heartbeat::DEFAULT_RACK, |s| s.rack.as_str())
    }

    pub fn push_command(&mut self, id: &str, cmd: Command) {
        if let Some(s) = self.servers.get_mut(id) {
            s.commands.push(cmd);
        }
    }

    pub fn status(&self, dead: Duration) -> Vec<ChunkserverStatus> {
        self.servers
            .values()
            .map(|s| ChunkserverStatus {
                id: s.id.clone(),
                addr: s.addr.clone(),
                alive: s.last_heartbeat.elapsed() < dead,
                state: self.state(s, dead),
                chunks: s.chunks.len() as u64,
                used_bytes: s.used_bytes,
                capacity_bytes: s.capacity_bytes,
                copies_in_flight: s.copies_in_flight,
                last_heartbeat_ms_ago: s.last_heartbeat.elapsed().as_millis() as u64,
                presence: s.presence == Presence::Open,
                rack: s.rack.clone(),
            })
            .collect()
    }
}
