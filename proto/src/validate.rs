//! Checks of every request body the master accepts, run at its HTTP edge (the `ApiJson`
//! extractor) before a handler sees the request. A value the master would store, and
//! every mount would later hand to the kernel, is in range here or the request is
//! refused with a 4xx `ApiError` (`InvalidArgument` unless said otherwise). What each
//! field may carry:
//!
//! - times (`Timespec`, in setattr and commit): `nsec < 1e9`, `|sec| <= MAX_TIME_SEC`;
//! - modes (create, setattr): permission bits only (`07777`); the file type travels as
//!   `kind`;
//! - uid, gid: any id but `u32::MAX`, which is no id (chown's "unchanged", the kernel's
//!   invalid id);
//! - sizes (setattr, commit): at most `MAX_FILE_SIZE` (`FileTooLarge`, 413);
//! - names (lookup, create, unlink, rename, link, the readdir cursor): `validate_name`
//!   (`NameTooLong` past 255 bytes); paths (resolve, set replication): `components`;
//! - symlink targets: only on symlinks, 1..=`MAX_SYMLINK_LEN` bytes, no NUL;
//! - rdev: only on character and block devices (the kernel passes 0 for the rest);
//! - replication goals: 1..=`MAX_REPLICATION`;
//! - rename: RENAME_EXCHANGE and RENAME_NOREPLACE not both (EINVAL, as rename(2));
//! - counts: at most `MAX_LEASE_EXCLUDES` replicas excluded from a lease. Readdir and
//!   chunk-location counts and long-poll waits are clamped by the master; extended
//!   attribute names and values are checked where they are stored (`master/src/xattr.rs`).
//!
//! Requests from chunkservers (register, heartbeat, presence) carry the cluster secret
//! and are checked by their handlers.

use crate::admin::{MaintenanceReq, SetReplicationReq};
use crate::heartbeat::{HeartbeatReq, PresenceReq, RegisterReq};
use crate::namespace::*;
use crate::path::{components, validate_name};
use crate::{ApiError, ErrorCode, MAX_FILE_SIZE};

/// Longest symlink target, in bytes (Linux's `PATH_MAX` less the NUL).
pub const MAX_SYMLINK_LEN: usize = 4095;
/// Largest replication goal.
pub const MAX_REPLICATION: u8 = 16;
/// Most replicas one lease request may exclude.
pub const MAX_LEASE_EXCLUDES: usize = 64;
/// Most open inodes one session report may name.
pub const MAX_SESSION_INODES: usize = 1_000_000;

/// A request body that can say whether its values are in range.
pub trait Validate {
    /// `Ok` if every field is in range; the master refuses the request otherwise.
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, msg)
}

impl Timespec {
    /// `Ok` for a valid time (see `Timespec`), `InvalidArgument` otherwise.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.nsec >= NSEC_PER_SEC {
            return Err(invalid(format!(
                "time {}.{}: nanoseconds must be below 1000000000",
                self.sec, self.nsec
            )));
        }
        if !self.is_valid() {
            return Err(invalid(format!(
                "time {} s is more than {MAX_TIME_SEC} s from the epoch",
                self.sec
            )));
        }
        Ok(())
    }
}

fn time_set(t: &Option<TimeSet>) -> Result<(), ApiError> {
    match t {
        Some(TimeSet::At(t)) => t.validate(),
        _ => Ok(()),
    }
}

fn mode(m: u32) -> Result<(), ApiError> {
    if m & !0o7777 != 0 {
        return Err(invalid(format!(
            "mode {m:o}: only permission bits (07777) are accepted"
        )));
    }
    Ok(())
}

fn id(what: &str, v: u32) -> Result<(), ApiError> {
    if v == u32::MAX {
        return Err(invalid(format!("{what} {v} is not a valid id")));
    }
    Ok(())
}

fn size(s: u64) -> Result<(), ApiError> {
    if s > MAX_FILE_SIZE {
        return Err(ApiError::new(
            ErrorCode::FileTooLarge,
            format!("size {s} is past the largest file size, {MAX_FILE_SIZE}"),
        ));
    }
    Ok(())
}

fn replication(r: Option<u8>) -> Result<(), ApiError> {
    match r {
        Some(r) if r == 0 || r > MAX_REPLICATION => Err(ApiError::bad_request(format!(
            "replication must be 1..={MAX_REPLICATION}"
        ))),
        _ => Ok(()),
    }
}

impl Validate for SetattrReq {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(m) = self.mode {
            mode(m)?;
        }
        if let Some(u) = self.uid {
            id("uid", u)?;
        }
        if let Some(g) = self.gid {
            id("gid", g)?;
        }
        if let Some(s) = self.size {
            size(s)?;
        }
        time_set(&self.atime)?;
        time_set(&self.mtime)?;
        replication(self.replication)
    }
}

impl Validate for CreateReq {
    fn validate(&self) -> Result<(), ApiError> {
        validate_name(&self.name)?;
        mode(self.mode)?;
        id("uid", self.uid)?;
        id("gid", self.gid)?;
        replication(self.replication)?;
        if self.rdev != 0 && !matches!(self.kind, FileKind::CharDevice | FileKind::BlockDevice) {
            return Err(invalid("rdev is only for character and block devices"));
        }
        match (&self.symlink_target, self.kind) {
            (None, FileKind::Symlink) => Err(ApiError::bad_request("symlink needs a target")),
            (Some(_), k) if k != FileKind::Symlink => Err(invalid("only a symlink has a target")),
            (Some(t), _) if t.is_empty() => Err(ApiError::bad_request("symlink needs a target")),
            (Some(t), _) if t.len() > MAX_SYMLINK_LEN => Err(ApiError::new(
                ErrorCode::NameTooLong,
                format!("symlink target longer than {MAX_SYMLINK_LEN} bytes"),
            )),
            (Some(t), _) if t.contains('\0') => Err(invalid("symlink target contains NUL")),
            _ => Ok(()),
        }
    }
}

impl Validate for CommitReq {
    fn validate(&self) -> Result<(), ApiError> {
        size(self.size)?;
        if let Some(t) = &self.mtime {
            t.validate()?;
        }
        match &self.attrs {
            None => Ok(()),
            Some(a) if a.ino != self.ino => Err(invalid("attrs.ino is not the committed file")),
            Some(a) if a.size.is_some() || a.replication.is_some() => Err(invalid(
                "a commit's attrs may not change size or replication (use setattr)",
            )),
            Some(a) => a.validate(),
        }
    }
}

impl Validate for LookupReq {
    fn validate(&self) -> Result<(), ApiError> {
        validate_name(&self.name)
    }
}

impl Validate for ResolveReq {
    fn validate(&self) -> Result<(), ApiError> {
        components(&self.path).map(|_| ())
    }
}

impl Validate for UnlinkReq {
    fn validate(&self) -> Result<(), ApiError> {
        validate_name(&self.name)
    }
}

/// Most inode numbers one reservation may ask for (the master's `MAX_RESERVE`).
pub const MAX_RESERVE_INOS: u32 = 1 << 16;
/// Most operations in one namespace batch.
pub const MAX_NS_BATCH: usize = 1024;

impl Validate for ReserveInosReq {
    fn validate(&self) -> Result<(), ApiError> {
        if !(1..=MAX_RESERVE_INOS).contains(&self.count) {
            return Err(invalid(format!(
                "count must be 1..={MAX_RESERVE_INOS}, not {}",
                self.count
            )));
        }
        Ok(())
    }
}

impl Validate for NsBatchReq {
    fn validate(&self) -> Result<(), ApiError> {
        if self.ops.is_empty() || self.ops.len() > MAX_NS_BATCH {
            return Err(invalid(format!(
                "a batch holds 1..={MAX_NS_BATCH} operations, not {}",
                self.ops.len()
            )));
        }
        for op in &self.ops {
            match op {
                NsOp::Create(c) => c.create.validate()?,
                NsOp::Unlink(u) => u.validate()?,
            }
        }
        Ok(())
    }
}

impl Validate for RenameReq {
    fn validate(&self) -> Result<(), ApiError> {
        validate_name(&self.name)?;
        validate_name(&self.new_name)?;
        if self.exchange && self.noreplace {
            return Err(invalid("exchange and noreplace exclude each other"));
        }
        Ok(())
    }
}

impl Validate for LinkReq {
    fn validate(&self) -> Result<(), ApiError> {
        validate_name(&self.new_name)
    }
}

impl Validate for ReaddirReq {
    fn validate(&self) -> Result<(), ApiError> {
        match &self.after {
            Some(a) => validate_name(a),
            None => Ok(()),
        }
    }
}

impl Validate for LeaseReq {
    fn validate(&self) -> Result<(), ApiError> {
        if self.exclude.len() > MAX_LEASE_EXCLUDES {
            return Err(invalid(format!(
                "at most {MAX_LEASE_EXCLUDES} replicas may be excluded"
            )));
        }
        Ok(())
    }
}

impl Validate for SetReplicationReq {
    fn validate(&self) -> Result<(), ApiError> {
        components(&self.path)?;
        replication(Some(self.replication))
    }
}

// Nothing to check beyond what decoding did, or checked by the handler (see above).
impl Validate for GetattrReq {}
impl Validate for ReleaseReq {}
impl Validate for ChunksReq {}
impl Validate for ChangesReq {}
impl Validate for XattrReq {}
impl Validate for SetxattrReq {}
impl Validate for RegisterReq {}
impl Validate for HeartbeatReq {}
impl Validate for PresenceReq {}
impl Validate for MaintenanceReq {}
impl Validate for Empty {}

impl Validate for SessionReq {
    fn validate(&self) -> Result<(), ApiError> {
        if self.open.len() > MAX_SESSION_INODES {
            return Err(invalid(format!(
                "a session report names at most {MAX_SESSION_INODES} open inodes"
            )));
        }
        Ok(())
    }
}

impl Validate for crate::raft::SyncReq {}
impl Validate for crate::raft::RemoveMasterReq {}

impl Validate for crate::raft::AddMasterReq {
    fn validate(&self) -> Result<(), ApiError> {
        if self.id == 0 {
            return Err(invalid("master ids start at 1"));
        }
        match self.addr.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(()),
            _ => Err(invalid(format!(
                "master address {:?} is not HOST:PORT",
                self.addr
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sec: i64, nsec: u32) -> Timespec {
        Timespec { sec, nsec }
    }

    #[test]
    fn times_in_and_out_of_range() {
        for ok in [
            t(0, 0),
            t(-1, 999_999_999),
            t(MAX_TIME_SEC, 0),
            t(-MAX_TIME_SEC, 5),
        ] {
            assert!(ok.validate().is_ok(), "{ok:?}");
            assert_eq!(ok.clamped(), ok);
        }
        for bad in [
            t(i64::MAX, 1_500_000_000),
            t(0, NSEC_PER_SEC),
            t(MAX_TIME_SEC + 1, 0),
            t(i64::MIN, 0),
        ] {
            let e = bad.validate().unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad:?}");
            assert!(bad.clamped().is_valid());
        }
    }

    #[test]
    fn conversions_are_total_and_round_trip_valid_times() {
        for v in [
            t(i64::MAX, u32::MAX),
            t(i64::MIN, u32::MAX),
            t(i64::MAX, 0),
            t(i64::MIN, 0),
            t(0, u32::MAX),
        ] {
            let back = Timespec::from_system_time(v.to_system_time());
            assert_eq!(back, v.clamped(), "{v:?}");
        }
        for v in [
            t(0, 0),
            t(-1, 5),
            t(1_600_000_000, 123),
            t(-MAX_TIME_SEC, 1),
        ] {
            assert_eq!(Timespec::from_system_time(v.to_system_time()), v);
        }
    }

    /// A commit's attribute changes are checked as a setattr's, must name the committed
    /// file, and may not truncate or change the goal.
    #[test]
    fn commit_attrs() {
        let ok = SetattrReq {
            ino: 2,
            mode: Some(0o644),
            mtime: Some(TimeSet::At(t(5, 0))),
            ..Default::default()
        };
        let commit = |attrs: SetattrReq| CommitReq {
            ino: 2,
            size: 10,
            mtime: None,
            sync: false,
            chunks: vec![],
            close: true,
            attrs: Some(attrs),
        };
        assert!(commit(ok.clone()).validate().is_ok());
        for bad in [
            SetattrReq {
                ino: 3,
                ..ok.clone()
            },
            SetattrReq {
                size: Some(0),
                ..ok.clone()
            },
            SetattrReq {
                replication: Some(2),
                ..ok.clone()
            },
            SetattrReq {
                mode: Some(0o100644),
                ..ok.clone()
            },
        ] {
            assert!(commit(bad.clone()).validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn setattr_and_create_fields() {
        let base = SetattrReq {
            ino: 2,
            ..Default::default()
        };
        assert!(base.validate().is_ok());
        let bad = [
            SetattrReq {
                mode: Some(0o100644),
                ..base.clone()
            },
            SetattrReq {
                uid: Some(u32::MAX),
                ..base.clone()
            },
            SetattrReq {
                mtime: Some(TimeSet::At(t(0, NSEC_PER_SEC))),
                ..base.clone()
            },
            SetattrReq {
                replication: Some(0),
                ..base.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?}");
        }
        let e = SetattrReq {
            size: Some(MAX_FILE_SIZE + 1),
            ..base
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::FileTooLarge);
        let c = CreateReq {
            parent: 1,
            name: "a".into(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            rdev: 0,
            symlink_target: None,
            exclusive: true,
            replication: None,
        };
        assert!(c.validate().is_ok());
        let link = |t: &str| CreateReq {
            kind: FileKind::Symlink,
            symlink_target: Some(t.into()),
            ..c.clone()
        };
        assert!(link("/x").validate().is_ok());
        for bad in [
            CreateReq {
                rdev: 7,
                ..c.clone()
            },
            CreateReq {
                symlink_target: Some("x".into()),
                ..c.clone()
            },
            link(""),
            link("a\0b"),
            link(&"x".repeat(MAX_SYMLINK_LEN + 1)),
            CreateReq {
                name: "..".into(),
                ..c.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let dev = CreateReq {
            kind: FileKind::CharDevice,
            rdev: 7,
            ..c
        };
        assert!(dev.validate().is_ok());
    }
}
