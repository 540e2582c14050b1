//! Every master RPC bound once to its path, request and reply types: the master routes
//! on these and the client calls through them, so a path and its reply type cannot
//! drift apart (Garage's `Rpc`).

use crate::namespace::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One master RPC: `POST` JSON `Req` to `PATH`, JSON `Resp` back (or an `ApiError`).
pub trait Rpc {
    const PATH: &'static str;
    type Req: Serialize + DeserializeOwned + crate::validate::Validate + Send + Sync + 'static;
    type Resp: Serialize + DeserializeOwned + Send + 'static;
    /// A mutation of the namespace: the client tags it with `CLIENT_HEADER` and
    /// `SEQ_HEADER`, and a retry (after a timeout, a dropped connection or a leader
    /// change) gets the first attempt's result instead of running twice.
    const MUTATES: bool = false;
}

/// Header carrying the calling client's id (random per client process).
pub const CLIENT_HEADER: &str = "x-ferrofs-client";
/// Header carrying the client's sequence number of a mutating call.
pub const SEQ_HEADER: &str = "x-ferrofs-seq";

macro_rules! rpc {
    ($(#[$doc:meta])* $name:ident, $path:expr, $req:ty => $resp:ty $(, mutates)?) => {
        $(#[$doc])*
        pub struct $name;
        impl Rpc for $name {
            const PATH: &'static str = $path;
            type Req = $req;
            type Resp = $resp;
        }
    };
}

macro_rules! mutation {
    ($(#[$doc:meta])* $name:ident, $path:expr, $req:ty => $resp:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Rpc for $name {
            const PATH: &'static str = $path;
            type Req = $req;
            type Resp = $resp;
            const MUTATES: bool = true;
        }
    };
}

rpc!(Lookup, LOOKUP, LookupReq => Attr);
rpc!(Getattr, GETATTR, GetattrReq => Attr);
rpc!(Resolve, RESOLVE, ResolveReq => Attr);
rpc!(Readdir, READDIR, ReaddirReq => ReaddirResp);
rpc!(Readlink, READLINK, GetattrReq => ReadlinkResp);
rpc!(Statfs, STATFS, Empty => StatfsResp);
rpc!(Chunks, CHUNKS, ChunksReq => ChunksResp);
rpc!(
    /// Leader-side work (chunk creation, version bumps) decided anew on a retry.
    Lease, LEASE, LeaseReq => WriteLease
);
rpc!(Changes, CHANGES, ChangesReq => ChangesResp);
rpc!(Getxattr, GETXATTR, XattrReq => XattrValue);
rpc!(Listxattr, LISTXATTR, GetattrReq => XattrList);
rpc!(Session, SESSION, SessionReq => Empty);
mutation!(Setattr, SETATTR, SetattrReq => Attr);
mutation!(Create, CREATE, CreateReq => CreateResp);
mutation!(Unlink, UNLINK, UnlinkReq => UnlinkResp);
mutation!(Rename, RENAME, RenameReq => RenameResp);
mutation!(Link, LINK, LinkReq => Attr);
mutation!(Release, RELEASE, ReleaseReq => Empty);
mutation!(Commit, COMMIT, CommitReq => Attr);
mutation!(Setxattr, SETXATTR, SetxattrReq => Attr);
mutation!(Removexattr, REMOVEXATTR, XattrReq => Attr);
mutation!(ReserveInos, RESERVE_INOS, ReserveInosReq => ReserveInosResp);
mutation!(NsBatch, NS_BATCH, NsBatchReq => NsBatchResp);
