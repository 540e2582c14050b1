//! Hadoop's WebHDFS JSON shapes (`FileStatus`, `ContentSummary`, `boolean`) and its
//! error body (`RemoteException` with the Java exception a Hadoop client maps back).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrofs_client::ClientError;
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{Attr, FileKind, Timespec};
use serde::Serialize;

/// Block size reported for files (WebHDFS clients show it; chunks play that role).
pub type BlockSize = u64;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStatus {
    pub access_time: i64,
    pub block_size: BlockSize,
    pub children_num: u64,
    pub file_id: u64,
    pub group: String,
    pub length: u64,
    pub modification_time: i64,
    pub owner: String,
    pub path_suffix: String,
    pub permission: String,
    pub replication: u8,
    pub storage_policy: u8,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

fn millis(t: Timespec) -> i64 {
    t.sec * 1000 + i64::from(t.nsec / 1_000_000)
}

impl FileStatus {
    pub fn new(
        a: &Attr,
        suffix: &str,
        block_size: BlockSize,
        names: &super::names::Names,
    ) -> FileStatus {
        let dir = a.kind == FileKind::Dir;
        FileStatus {
            access_time: if dir { 0 } else { millis(a.atime) },
            block_size: if dir { 0 } else { block_size },
            children_num: if dir {
                u64::from(a.nlink.saturating_sub(2))
            } else {
                0
            },
            file_id: a.ino,
            group: names.group(a.gid),
            length: if dir { 0 } else { a.size },
            modification_time: millis(a.mtime),
            owner: names.user(a.uid),
            path_suffix: suffix.to_string(),
            permission: format!("{:o}", a.mode & 0o7777),
            replication: if dir { 0 } else { a.replication },
            storage_policy: 0,
            kind: match a.kind {
                FileKind::Dir => "DIRECTORY",
                FileKind::Symlink => "SYMLINK",
                _ => "FILE",
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentSummary {
    pub directory_count: u64,
    pub file_count: u64,
    pub length: u64,
    pub quota: i64,
    pub space_consumed: u64,
    pub space_quota: i64,
}

/// A WebHDFS error: status plus the Java exception Hadoop clients expect.
#[derive(Debug)]
pub struct HdfsError {
    pub status: StatusCode,
    pub exception: &'static str,
    pub java_class: &'static str,
    pub message: String,
}

impl HdfsError {
    pub fn illegal_argument(msg: impl Into<String>) -> HdfsError {
        HdfsError {
            status: StatusCode::BAD_REQUEST,
            exception: "IllegalArgumentException",
            java_class: "java.lang.IllegalArgumentException",
            message: msg.into(),
        }
    }

    pub fn not_found(path: &str) -> HdfsError {
        HdfsError {
            status: StatusCode::NOT_FOUND,
            exception: "FileNotFoundException",
            java_class: "java.io.FileNotFoundException",
            message: format!("File does not exist: {path}"),
        }
    }

    pub fn exists(path: &str) -> HdfsError {
        HdfsError {
            status: StatusCode::FORBIDDEN,
            exception: "FileAlreadyExistsException",
            java_class: "org.apache.hadoop.fs.FileAlreadyExistsException",
            message: format!("{path} already exists"),
        }
    }

    pub fn not_empty(path: &str) -> HdfsError {
        HdfsError {
            status: StatusCode::FORBIDDEN,
            exception: "PathIsNotEmptyDirectoryException",
            java_class: "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
            message: format!("`{path} is non empty': Directory is not empty"),
        }
    }

    pub fn unsupported(msg: impl Into<String>) -> HdfsError {
        HdfsError {
            status: StatusCode::BAD_REQUEST,
            exception: "UnsupportedOperationException",
            java_class: "java.lang.UnsupportedOperationException",
            message: msg.into(),
        }
    }

    /// A cluster error on `path`.
    pub fn from_client(e: ClientError, path: &str) -> HdfsError {
        let msg = e.to_string();
        let (status, exception, java_class) = match e.code() {
            Some(ErrorCode::NotFound) => return HdfsError::not_found(path),
            Some(ErrorCode::AlreadyExists) => return HdfsError::exists(path),
            Some(ErrorCode::NotEmpty) => return HdfsError::not_empty(path),
            Some(ErrorCode::NotADirectory) => (
                StatusCode::FORBIDDEN,
                "ParentNotDirectoryException",
                "org.apache.hadoop.fs.ParentNotDirectoryException",
            ),
            Some(ErrorCode::PermissionDenied | ErrorCode::Unauthorized) => (
                StatusCode::FORBIDDEN,
                "AccessControlException",
                "org.apache.hadoop.security.AccessControlException",
            ),
            Some(ErrorCode::BadRequest | ErrorCode::InvalidArgument | ErrorCode::NameTooLong) => {
                return HdfsError::illegal_argument(msg);
            }
            Some(ErrorCode::SafeMode) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SafeModeException",
                "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
            ),
            Some(ErrorCode::NoSpace) => (
                StatusCode::FORBIDDEN,
                "DSQuotaExceededException",
                "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException",
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "IOException",
                "java.io.IOException",
            ),
        };
        HdfsError {
            status,
            exception,
            java_class,
            message: format!("{path}: {msg}"),
        }
    }
}

impl IntoResponse for HdfsError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(exception = self.exception, message = %self.message, "WebHDFS request failed");
        } else {
            tracing::info!(exception = self.exception, message = %self.message, "WebHDFS request refused");
        }
        let body = serde_json::json!({
            "RemoteException": {
                "exception": self.exception,
                "javaClassName": self.java_class,
                "message": self.message,
            }
        });
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_has_hadoops_field_names() {
        let a = Attr {
            ino: 5,
            kind: FileKind::File,
            mode: 0o640,
            uid: 0,
            gid: 0,
            size: 12,
            atime: Timespec {
                sec: 1,
                nsec: 2_000_000,
            },
            mtime: Timespec { sec: 3, nsec: 0 },
            ctime: Timespec::default(),
            nlink: 1,
            rdev: 0,
            replication: 2,
        };
        let v = serde_json::to_value(FileStatus::new(&a, "f", 64, &Default::default())).unwrap();
        assert_eq!(v["type"], "FILE");
        assert_eq!(v["permission"], "640");
        assert_eq!(v["accessTime"], 1002);
        assert_eq!(v["modificationTime"], 3000);
        assert_eq!(v["pathSuffix"], "f");
        assert_eq!(v["length"], 12);
        assert_eq!(v["replication"], 2);
        assert_eq!(v["owner"], "root");
    }

    #[test]
    fn errors_carry_the_java_exception() {
        let e = HdfsError::from_client(
            ClientError::Api(ferrofs_proto::ApiError::new(ErrorCode::NotFound, "x")),
            "/a",
        );
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.java_class, "java.io.FileNotFoundException");
        assert_eq!(e.message, "File does not exist: /a");
    }
}
