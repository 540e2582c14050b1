//! Files written in a hidden staging directory and renamed into place when complete,
//! so no reader ever sees half of one and a failed write leaves nothing under its
//! name (the S3 and WebHDFS gateways and the object_store backend write this way).

use crate::Client;
use crate::error::ClientError;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, CreateReq, FileKind, RenameReq};

/// Directory (at the root) where staged files live. Its name starts with `.ferrofs-`,
/// which the gateways keep for themselves (no S3 bucket name can start with a dot).
pub const STAGING_DIR: &str = "/.ferrofs-staging";

/// A file being uploaded in `STAGING_DIR`: write it, then `publish` it under its
/// real name, or `discard` it.
pub struct Staged {
    pub attr: Attr,
    staging: Attr,
    name: String,
}

impl Staged {
    /// Create an empty staged file with the given replication goal (that of the
    /// directory the file will land in, so it is born with the right goal).
    pub async fn create(client: &Client, replication: u8) -> Result<Staged, ClientError> {
        let staging = match client.resolve(STAGING_DIR).await {
            Ok(a) => a,
            Err(e) if e.is(ErrorCode::NotFound) => client.mkdir_p(STAGING_DIR).await?,
            Err(e) => return Err(e),
        };
        let name = format!("{:032x}", rand::random::<u128>());
        let created = client
            .create(CreateReq {
                parent: staging.ino,
                name: name.clone(),
                kind: FileKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                rdev: 0,
                symlink_target: None,
                exclusive: true,
                replication: Some(replication),
            })
            .await?;
        Ok(Staged {
            attr: created.attr,
            staging,
            name,
        })
    }

    /// Rename the staged file to `name` in directory `parent`, replacing a file there
    /// if `replace` (else failing with `AlreadyExists`).
    pub async fn publish(
        self,
        client: &Client,
        parent: &Attr,
        name: &str,
        replace: bool,
    ) -> Result<(), ClientError> {
        let r = client
            .rename(RenameReq {
                parent: self.staging.ino,
                name: self.name.clone(),
                new_parent: parent.ino,
                new_name: name.to_string(),
                noreplace: !replace,
                exchange: false,
                keep_open: false,
            })
            .await;
        if r.is_err() {
            self.discard(client).await;
        }
        r.map(|_| ())
    }

    /// Remove the staged file (best effort: a leftover is only wasted space).
    pub async fn discard(self, client: &Client) {
        if let Err(e) = client
            .unlink(self.staging.ino, &self.name, false, false)
            .await
        {
            tracing::warn!(name = %self.name, error = %e, "could not remove a staged upload");
        }
    }
}
