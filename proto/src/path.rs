//! Path handling shared by the master, client and CLI. A path is absolute, `/`-separated;
//! empty components, `.` and `..` are rejected rather than interpreted, so a path can never
//! escape or alias.

use crate::{ApiError, ErrorCode, MAX_NAME_LEN};

/// Check one directory entry name.
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(ErrorCode::BadRequest, "empty name"));
    }
    if name == "." || name == ".." {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid name {name:?}"),
        ));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid name {name:?}"),
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::new(ErrorCode::NameTooLong, "name too long"));
    }
    Ok(())
}

/// Split an absolute path into validated components. `/` gives no components.
pub fn components(path: &str) -> Result<Vec<&str>, ApiError> {
    if !path.starts_with('/') {
        return Err(ApiError::bad_request(format!(
            "path must be absolute: {path:?}"
        )));
    }
    if path == "/" {
        return Ok(vec![]);
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let parts: Vec<&str> = trimmed[1..].split('/').collect();
    for p in &parts {
        validate_name(p)
            .map_err(|e| ApiError::new(e.code, format!("bad path {path:?}: {}", e.message)))?;
    }
    Ok(parts)
}

/// Split into (parent path, last name). Fails on `/`.
pub fn split_parent(path: &str) -> Result<(String, String), ApiError> {
    let parts = components(path)?;
    let Some((last, dirs)) = parts.split_last() else {
        return Err(ApiError::bad_request("the root has no parent"));
    };
    Ok((format!("/{}", dirs.join("/")), last.to_string()))
}

/// Join a directory path and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_paths() {
        assert_eq!(components("/").unwrap(), Vec::<&str>::new());
        assert_eq!(components("/a/b").unwrap(), vec!["a", "b"]);
        assert_eq!(components("/a/b/").unwrap(), vec!["a", "b"]);
        assert_eq!(split_parent("/a/b").unwrap(), ("/a".into(), "b".into()));
        assert_eq!(split_parent("/a").unwrap(), ("/".into(), "a".into()));
    }

    #[test]
    fn bad_paths() {
        for p in ["", "a/b", "/a//b", "/a/../b", "/./a", "/a/..", "/a\0b"] {
            assert!(components(p).is_err(), "{p:?} should be rejected");
        }
        assert_eq!(
            validate_name(&"x".repeat(300)).unwrap_err().code,
            ErrorCode::NameTooLong
        );
    }
}
