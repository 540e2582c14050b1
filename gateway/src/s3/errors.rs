//! The one mapping from ferrofs client errors to S3 error codes. What "not found" means
//! depends on what was looked up, so the caller names it.

use ferrofs_client::ClientError;
use ferrofs_proto::ErrorCode;
use s3s::{S3Error, S3ErrorCode};

/// What a `NotFound` from the cluster means for this call.
#[derive(Debug, Clone, Copy)]
pub enum Missing {
    Bucket,
    Key,
    Upload,
}

pub fn s3_err(e: ClientError, missing: Missing) -> S3Error {
    let msg = e.to_string();
    let code = match e.code() {
        Some(ErrorCode::NotFound) | Some(ErrorCode::NotADirectory) => match missing {
            Missing::Bucket => S3ErrorCode::NoSuchBucket,
            Missing::Key => S3ErrorCode::NoSuchKey,
            Missing::Upload => S3ErrorCode::NoSuchUpload,
        },
        Some(ErrorCode::NotEmpty) => S3ErrorCode::BucketNotEmpty,
        Some(ErrorCode::NameTooLong) => S3ErrorCode::KeyTooLongError,
        Some(ErrorCode::FileTooLarge) => S3ErrorCode::EntityTooLarge,
        Some(ErrorCode::BadRequest | ErrorCode::InvalidArgument) => S3ErrorCode::InvalidArgument,
        Some(ErrorCode::AlreadyExists | ErrorCode::IsADirectory) => S3ErrorCode::InvalidRequest,
        Some(ErrorCode::PermissionDenied | ErrorCode::Unauthorized) => S3ErrorCode::AccessDenied,
        Some(
            ErrorCode::NoSpace
            | ErrorCode::NoChunkservers
            | ErrorCode::SafeMode
            | ErrorCode::Timeout,
        ) => S3ErrorCode::ServiceUnavailable,
        Some(_) => S3ErrorCode::InternalError,
        None => match e {
            ClientError::MasterUnreachable { .. }
            | ClientError::ChunkserverUnreachable { .. }
            | ClientError::NoReplica { .. }
            | ClientError::WriteFailed { .. } => S3ErrorCode::ServiceUnavailable,
            _ => S3ErrorCode::InternalError,
        },
    };
    if matches!(
        code,
        S3ErrorCode::InternalError | S3ErrorCode::ServiceUnavailable
    ) {
        tracing::warn!(error = %msg, "S3 request failed");
    }
    S3Error::with_message(code, msg)
}

/// `s3_err` for calls whose `NotFound` means the key.
pub fn key_err(e: ClientError) -> S3Error {
    s3_err(e, Missing::Key)
}

/// `s3_err` for calls whose `NotFound` means the bucket.
pub fn bucket_err(e: ClientError) -> S3Error {
    s3_err(e, Missing::Bucket)
}
