//! The one mapping from ferrofs client errors to `object_store::Error`.

use ferrofs_client::ClientError;
use ferrofs_proto::ErrorCode;
use object_store::path::Path;

/// A client error about `location`.
pub fn to_os(e: ClientError, location: &Path) -> object_store::Error {
    let path = location.to_string();
    match e.code() {
        Some(ErrorCode::NotFound | ErrorCode::NotADirectory | ErrorCode::IsADirectory) => {
            object_store::Error::NotFound {
                path,
                source: Box::new(e),
            }
        }
        Some(ErrorCode::AlreadyExists) => object_store::Error::AlreadyExists {
            path,
            source: Box::new(e),
        },
        Some(ErrorCode::PermissionDenied | ErrorCode::Unauthorized) => {
            object_store::Error::PermissionDenied {
                path,
                source: Box::new(e),
            }
        }
        _ => object_store::Error::Generic {
            store: "ferrofs",
            source: Box::new(e),
        },
    }
}

/// An error of this crate's own.
pub fn generic(msg: impl Into<String>) -> object_store::Error {
    object_store::Error::Generic {
        store: "ferrofs",
        source: msg.into().into(),
    }
}
