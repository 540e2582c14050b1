//! Membership of the master group: who is in it and in what role (asked of every
//! member, so a dead one shows as not alive), and changes through openraft's learner
//! and joint-consensus path (a new member catches up by log or snapshot as a learner
//! before it counts in any quorum).

use crate::error::{MasterError, Result, err};
use crate::raft::Member;
use crate::state::Master;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::raft::{MasterMember, MasterRole, MastersResp};
use openraft::{ChangeMembers, ServerState};
use std::collections::BTreeSet;
use std::time::Duration;

pub use ferrofs_proto::raft::MASTER_SELF as SELF_PATH;

impl Master {
    /// This member as it sees itself.
    pub fn member_self(&self) -> MasterMember {
        let mt = self.raft.metrics().borrow().clone();
        MasterMember {
            id: self.id,
            addr: self.addr.clone(),
            role: match mt.state {
                ServerState::Leader => MasterRole::Leader,
                ServerState::Candidate => MasterRole::Candidate,
                ServerState::Learner => MasterRole::Learner,
                _ => MasterRole::Follower,
            },
            alive: true,
            last_log_index: mt.last_log_index,
            last_applied: mt.last_applied.map(|l| l.index),
        }
    }

    /// Every member of the group, each as it answers for itself (or not alive).
    pub async fn masters(&self) -> MastersResp {
        let mt = self.raft.metrics().borrow().clone();
        let membership = mt.membership_config.membership().clone();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let mut calls = vec![];
        for (id, node) in membership.nodes() {
            let (id, addr) = (*id, node.addr.clone());
            let fallback = MasterMember {
                id,
                addr: addr.clone(),
                role: if voters.contains(&id) {
                    MasterRole::Follower
                } else {
                    MasterRole::Learner
                },
                alive: false,
                last_log_index: None,
                last_applied: None,
            };
            if id == self.id {
                calls.push(futures::future::Either::Left(std::future::ready(
                    self.member_self(),
                )));
                continue;
            }
            let http = self.http.clone();
            calls.push(futures::future::Either::Right(async move {
                let r = http
                    .get(self.transport.url(&addr, SELF_PATH))
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => r
                        .json::<MasterMember>()
                        .await
                        .map(|mut m| {
                            m.addr = addr;
                            m
                        })
                        .unwrap_or(fallback),
                    _ => fallback,
                }
            }));
        }
        let members = futures::future::join_all(calls).await;
        MastersResp {
            leader: mt.current_leader,
            term: mt.current_term,
            this: self.id,
            members,
        }
    }

    fn membership_error(&self, e: impl std::fmt::Display) -> MasterError {
        err(ErrorCode::BadRequest, format!("membership change: {e}"))
    }

    /// Add member `id` at `addr`: as a learner until it has caught up, then a voter.
    pub async fn add_master(&self, id: u64, addr: String) -> Result<MastersResp> {
        self.leader_or_redirect().await?;
        if id == 0 {
            return Err(err(ErrorCode::BadRequest, "member ids start at 1"));
        }
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err(err(ErrorCode::BadRequest, "address must be HOST:PORT"));
        }
        tracing::info!(id, %addr, "adding a master (learner first)");
        self.raft
            .add_learner(id, Member { addr }, true)
            .await
            .map_err(|e| self.membership_error(e))?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| self.membership_error(e))?;
        tracing::info!(id, "master added as a voter");
        Ok(self.masters().await)
    }

    pub async fn remove_master(&self, id: u64) -> Result<MastersResp> {
        self.leader_or_redirect().await?;
        let voters: BTreeSet<u64> = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if !voters.contains(&id) {
            return Err(err(
                ErrorCode::NotFound,
                format!("master {id} is not a member"),
            ));
        }
        if voters.len() == 1 {
            return Err(err(ErrorCode::BadRequest, "cannot remove the last master"));
        }
        tracing::info!(id, "removing a master");
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(|e| self.membership_error(e))?;
        Ok(self.masters().await)
    }
}
