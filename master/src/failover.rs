//! A follower's watch on its leader's process: fast failover when the leader is gone.
//!
//! When the leader's port refuses connections twice in a row, no process listens there
//! (killed, crashed), so waiting out openraft's election timer (the leader lease plus a
//! randomized timeout: 1.2-1.6 s by default) only adds to the outage. But asking for
//! votes at once fails just as surely: every other follower still holds the dead
//! leader's lease (`election_timeout_max` from when it last heard from it) and refuses,
//! and the failed candidate then waits a whole timeout. And when every follower asks at
//! once, they split the vote, and the ones with the shorter log are told so and wait
//! longer still (openraft adds twice `election_timeout_max`): that race cost 3.4 s in a
//! CI run. So exactly one member asks, and only once the lease has run out: the
//! reachable voter with the longest log, the lowest id among equals. The others ask no
//! one; openraft's own timers remain the fallback if that member fails too.
//!
//! A timeout proves nothing and changes nothing (a paused or cut-off leader may be
//! alive), as for chunkservers.

use crate::state::Master;
use ferrofs_proto::raft::{MasterMember, MasterRole};
use openraft::ServerState;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a follower checks that its leader's process is still there.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How long a connection attempt to the leader may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

pub async fn watch_leader(m: Arc<Master>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    // openraft's leader lease is `election_timeout_max`, twice `election_timeout` here
    // (state.rs); a little margin for the dead leader's last message still in flight.
    let lease = m.cfg.election_timeout * 2 + m.cfg.raft_heartbeat / 2;
    // The first of an unbroken run of refusals (a run as long as the lease spans many
    // probes, so "twice in a row" holds whenever it is long enough).
    let mut first_refused: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        let (state, leader, addr, voter) = {
            let mt = m.raft.metrics().borrow().clone();
            let membership = mt.membership_config.membership();
            let addr = mt
                .current_leader
                .and_then(|l| membership.get_node(&l).map(|n| n.addr.clone()));
            let voter = membership.voter_ids().any(|v| v == m.id);
            (mt.state, mt.current_leader, addr, voter)
        };
        if state != ServerState::Follower || leader == Some(m.id) || !voter {
            first_refused = None;
            continue;
        }
        let (Some(leader), Some(addr)) = (leader, addr) else {
            continue;
        };
        let probe =
            tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await;
        match probe {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                first_refused.get_or_insert_with(Instant::now);
            }
            _ => first_refused = None,
        }
        let gone_for = first_refused.map(|t| t.elapsed()).unwrap_or_default();
        if gone_for < lease {
            continue;
        }
        let peers = peers(&m, leader).await;
        if !first_in_line(&m.member_self(), &peers) {
            continue;
        }
        tracing::info!(leader, %addr, ?gone_for, "the leader's port refuses connections: asking for votes");
        let _ = m.raft.trigger().elect().await;
    }
}

/// Every other voter but the old leader that answers for itself (`Master::masters`,
/// which asks each member; one that does not answer shows as not alive).
async fn peers(m: &Master, leader: u64) -> Vec<MasterMember> {
    m.masters()
        .await
        .members
        .into_iter()
        .filter(|p| p.alive && p.id != m.id && p.id != leader && p.role != MasterRole::Learner)
        .collect()
}

/// Whether `me` is the one to ask for votes: no peer already leads, and none has a
/// longer log, or as long a one and a lower id.
fn first_in_line(me: &MasterMember, peers: &[MasterMember]) -> bool {
    let rank = |p: &MasterMember| (p.last_log_index, std::cmp::Reverse(p.id));
    peers
        .iter()
        .all(|p| p.role != MasterRole::Leader && rank(p) < rank(me))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, role: MasterRole, last_log_index: Option<u64>) -> MasterMember {
        MasterMember {
            id,
            addr: format!("127.0.0.1:{}", 9000 + id),
            role,
            alive: true,
            last_log_index,
            last_applied: last_log_index,
        }
    }

    #[test]
    fn the_longest_log_then_the_lowest_id_asks() {
        use MasterRole::*;
        let me = member(2, Follower, Some(540));
        assert!(first_in_line(&me, &[]), "alone: ask");
        assert!(first_in_line(&me, &[member(3, Follower, Some(540))]));
        assert!(!first_in_line(&me, &[member(1, Follower, Some(540))]));
        assert!(first_in_line(&me, &[member(1, Follower, Some(539))]));
        assert!(!first_in_line(&me, &[member(3, Follower, Some(541))]));
        assert!(first_in_line(&me, &[member(1, Follower, None)]));
        assert!(
            !first_in_line(&me, &[member(3, Leader, Some(1))]),
            "a peer already leads"
        );
        assert!(
            !first_in_line(
                &me,
                &[
                    member(4, Follower, Some(1)),
                    member(5, Candidate, Some(541))
                ]
            ),
            "any better-placed peer defers me"
        );
    }
}
