//! The master group's consensus, on openraft: the log and vote in RocksDB
//! (`log_store`), the state machine that applies [`crate::sm`] commands
//! (`sm_store`), snapshots of it (`snapshot`), and the HTTP transport between members
//! (`network`, routes in `crate::http::raft`). A single master is a group of one.

// openraft's storage traits return its `StorageError` (over 200 bytes): the helpers
// here return what the traits return rather than box it to unbox it again.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod network;
pub mod sm_store;
pub mod snapshot;

use crate::sm::{Command, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type NodeId = u64;

/// A member of the master group as the others reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `host:port` of the member's HTTP listener (its advertised address).
    pub addr: String,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Command,
        R = Outcome,
        Node = Member,
        SnapshotData = tokio::fs::File,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type Membership = openraft::StoredMembership<NodeId, Member>;

/// A storage failure of the Raft stores, as openraft takes it.
pub(crate) fn write_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    openraft::StorageIOError::<NodeId>::write(openraft::AnyError::new(e)).into()
}

pub(crate) fn read_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    openraft::StorageIOError::<NodeId>::read(openraft::AnyError::new(e)).into()
}
