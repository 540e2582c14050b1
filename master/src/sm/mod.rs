//! The master's replicated state machine: every namespace mutation is a [`Command`] in
//! the Raft log, and [`apply`] turns a command plus the current state into the writes
//! to make, the reply for the client, and the [`Effect`]s on in-memory views (chunk
//! table, change feed). `apply` does no I/O of its own: it reads through a [`View`] and
//! emits; the Raft store (`crate::raft::sm_store`) writes the emitted batch to RocksDB,
//! and every member applies the same log to the same state, so every member ends up with
//! the same namespace.
//!
//! Everything nondeterministic travels in the command: the leader's clock (`Ctx::now`),
//! chunk ids it reserved, the versions and replicas it agreed with chunkservers. Inode
//! numbers come from a counter in the state itself, so apply can pick them.
//!
//! Leader-only work (leases, chunk allocation, version bumps, every chunkserver call)
//! happens before a command is proposed; apply re-checks its outcome against the
//! namespace (the file may be gone by then) and answers an error instead of writing a
//! record nobody owns.
//!
//! Log format: commands are encoded with postcard, whose encoding follows field and
//! variant order. Never reorder or change an existing variant or struct here: add a new
//! variant at the end of [`Op`] (a `CreateV2` rather than a new field in `Create`).

mod apply;
mod command;
mod file;
mod ns;
mod records;
mod view;
mod xattr;

#[cfg(test)]
mod tests;

pub use apply::{Applied, apply};
pub use command::*;
pub(crate) use file::check_size;
pub use records::{
    ChunkRec, DentryRec, Holder, InoRange, InoReservation, InodeRec, LeaseRec, ServerModeRec,
};
pub use view::{MemView, StorageFailure, Tx, View, ViewResult, Write};
