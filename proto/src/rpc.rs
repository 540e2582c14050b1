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
    /// The reply may travel as postcard instead of JSON: a client that sends
    /// `Accept: PACKED_TYPE` gets it so (everyone else, curl included, gets JSON; errors
    /// are always JSON). For replies large enough that JSON's cost shows in a profile
    /// (a listing of 10,000 entries is 2-3 MB of JSON, encoded and decoded on two
    /// cores). `Resp` must then be postcard-safe: no `skip_serializing_if`, `flatten`,
    /// untagged enums or `serde_json::Value` (`tests::packed_replies_round_trip`).
    const PACKED: bool = false;
}

/// Media type of a postcard-encoded reply (`Rpc::PACKED`).
pub const PACKED_TYPE: &str = "application/x-ferrofs-postcard";

/// Header carrying the calling client's id (random per client process).
pub const CLIENT_HEADER: &str = "x-ferrofs-client";
/// Header carrying the client's sequence number of a mutating call.
pub const SEQ_HEADER: &str = "x-ferrofs-seq";

/// `rpc!(Name, PATH, Req => Resp)`, with `, MUTATES` or `, PACKED` after it to set
/// that flag of `Rpc`.
macro_rules! rpc {
    ($(#[$doc:meta])* $name:ident, $path:expr, $req:ty => $resp:ty $(, $flag:ident)*) => {
        $(#[$doc])*
        pub struct $name;
        impl Rpc for $name {
            const PATH: &'static str = $path;
            type Req = $req;
            type Resp = $resp;
            $(const $flag: bool = true;)*
        }
    };
}

rpc!(Lookup, LOOKUP, LookupReq => Attr);
rpc!(Getattr, GETATTR, GetattrReq => Attr);
rpc!(Resolve, RESOLVE, ResolveReq => Attr);
rpc!(Readdir, READDIR, ReaddirReq => ReaddirResp, PACKED);
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
rpc!(Setattr, SETATTR, SetattrReq => Attr, MUTATES);
rpc!(Create, CREATE, CreateReq => CreateResp, MUTATES);
rpc!(Unlink, UNLINK, UnlinkReq => UnlinkResp, MUTATES);
rpc!(Rename, RENAME, RenameReq => RenameResp, MUTATES);
rpc!(Link, LINK, LinkReq => Attr, MUTATES);
rpc!(Release, RELEASE, ReleaseReq => Empty, MUTATES);
rpc!(Commit, COMMIT, CommitReq => Attr, MUTATES);
rpc!(Setxattr, SETXATTR, SetxattrReq => Attr, MUTATES);
rpc!(Removexattr, REMOVEXATTR, XattrReq => Attr, MUTATES);
rpc!(ReserveInos, RESERVE_INOS, ReserveInosReq => ReserveInosResp, MUTATES);
rpc!(NsBatch, NS_BATCH, NsBatchReq => NsBatchResp, MUTATES);

#[cfg(test)]
mod tests {
    use super::*;

    /// What a packed reply carries comes back whole through postcard (a type with a
    /// `skip_serializing_if` or an untagged enum would fail here, not on the wire).
    #[test]
    fn packed_replies_round_trip() {
        let attr = |ino, kind| Attr {
            ino,
            kind,
            mode: 0o4755,
            uid: u32::MAX,
            gid: 7,
            size: u64::MAX,
            atime: Timespec {
                sec: -1,
                nsec: 999_999_999,
            },
            mtime: Timespec {
                sec: i64::MAX,
                nsec: 0,
            },
            ctime: Timespec { sec: 0, nsec: 1 },
            nlink: 2,
            rdev: 0x0801,
            replication: 3,
        };
        let resp = ReaddirResp {
            entries: vec![
                DirEntry {
                    name: "dir".into(),
                    attr: attr(2, FileKind::Dir),
                },
                DirEntry {
                    name: "ünïcode file".into(),
                    attr: attr(3, FileKind::File),
                },
                DirEntry {
                    name: "l".into(),
                    attr: attr(u64::MAX, FileKind::Symlink),
                },
            ],
            more: true,
        };
        const { assert!(Readdir::PACKED && !Lookup::PACKED) };
        let bytes = postcard::to_allocvec(&resp).unwrap();
        let back: ReaddirResp = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.more, resp.more);
        assert_eq!(back.entries.len(), 3);
        for (a, b) in back.entries.iter().zip(&resp.entries) {
            assert_eq!((&a.name, &a.attr), (&b.name, &b.attr));
        }
        let json = serde_json::to_vec(&resp).unwrap();
        assert!(
            bytes.len() * 3 < json.len(),
            "{} vs {} bytes",
            bytes.len(),
            json.len()
        );
    }
}
