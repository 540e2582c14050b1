//! The one mapping from client errors (and the wire's `ErrorCode`) to errno.

use ferrofs_client::ClientError;
use ferrofs_proto::ErrorCode;
use fuser::Errno;

/// Map a client error to the errno the caller of the system call sees; EIO when
/// nothing more specific fits.
///
/// Choices worth knowing: `NoChunkservers` (no chunkserver alive at all) is EIO, not
/// ENOSPC, because the cluster is unavailable rather than full (`NoSpace` is what the
/// master answers when live chunkservers have no room). `SafeMode` (the master refuses
/// mutations while it starts) is EROFS. Unreachable servers and timeouts are EIO.
pub fn errno_of(e: &ClientError) -> Errno {
    use ErrorCode::*;
    let code = match e {
        ClientError::Api(api) => match api.code {
            NotFound => libc::ENOENT,
            NoSuchAttribute => libc::ENODATA,
            AlreadyExists => libc::EEXIST,
            NotADirectory => libc::ENOTDIR,
            IsADirectory => libc::EISDIR,
            NotEmpty => libc::ENOTEMPTY,
            PermissionDenied | Unauthorized => libc::EACCES,
            NoSpace => libc::ENOSPC,
            NameTooLong => libc::ENAMETOOLONG,
            InvalidArgument | BadRequest => libc::EINVAL,
            PayloadTooLarge | FileTooLarge => libc::EFBIG,
            SafeMode => libc::EROFS,
            NoChunkservers | ChunkCorrupt | StaleVersion | PipelineFailed | Timeout | Internal
            | NotLeader | NoQuorum | ChunkLost => libc::EIO,
        },
        ClientError::Io(io) => io.raw_os_error().unwrap_or(libc::EIO),
        ClientError::MasterUnreachable { .. }
        | ClientError::ChunkserverUnreachable { .. }
        | ClientError::NoReplica { .. }
        | ClientError::WriteFailed { .. }
        | ClientError::Protocol { .. }
        | ClientError::Config(_) => libc::EIO,
    };
    Errno::from_i32(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofs_proto::ApiError;

    fn api(code: ErrorCode) -> ClientError {
        ClientError::Api(ApiError::new(code, "x"))
    }

    #[test]
    fn codes_map_to_their_errno() {
        assert_eq!(errno_of(&api(ErrorCode::NotFound)), Errno::ENOENT);
        assert_eq!(errno_of(&api(ErrorCode::AlreadyExists)), Errno::EEXIST);
        assert_eq!(errno_of(&api(ErrorCode::NotEmpty)).code(), libc::ENOTEMPTY);
        assert_eq!(errno_of(&api(ErrorCode::NoSpace)).code(), libc::ENOSPC);
        assert_eq!(errno_of(&api(ErrorCode::NoChunkservers)), Errno::EIO);
        assert_eq!(
            errno_of(&api(ErrorCode::NameTooLong)).code(),
            libc::ENAMETOOLONG
        );
    }

    #[test]
    fn unreachable_is_eio() {
        let e = ClientError::MasterUnreachable {
            url: "u".into(),
            msg: "refused".into(),
        };
        assert_eq!(errno_of(&e), Errno::EIO);
    }
}
