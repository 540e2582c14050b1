//! Property tests of the wire contract: path handling, chunk access tokens, and decoding
//! of every request body from arbitrary bytes. None of these may panic on any input, and
//! none may accept what it should refuse.

use ferrofs_proto::path::{components, split_parent, validate_name};
use ferrofs_proto::token::{self, Access};
use proptest::prelude::*;
use serde::de::DeserializeOwned;

/// Path-like strings: mostly separators, dots and short names, with the odd NUL.
fn pathish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => Just("/".to_string()),
            2 => Just(".".to_string()),
            2 => Just("..".to_string()),
            1 => Just("\0".to_string()),
            6 => "[a-zA-Z0-9_ é-]{1,6}",
            1 => any::<String>(),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

/// A valid name: 1..=255 bytes, no `/` or NUL, not `.` or `..`.
fn good_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ .é-]{1,40}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Never panics; whatever it accepts has only valid components.
    #[test]
    fn components_never_panic(p in pathish()) {
        if let Ok(parts) = components(&p) {
            prop_assert!(p.starts_with('/'));
            for c in parts {
                prop_assert!(!c.is_empty() && c != "." && c != "..");
                prop_assert!(!c.contains('/') && !c.contains('\0'));
                prop_assert!(validate_name(c).is_ok());
            }
        }
        let _ = split_parent(&p);
        let _ = validate_name(&p);
    }

    /// Arbitrary unicode too.
    #[test]
    fn any_string_never_panics(p in any::<String>()) {
        let _ = components(&p);
        let _ = split_parent(&p);
        let _ = validate_name(&p);
        let _ = components(&format!("/{p}"));
    }

    /// A path containing a `.`, `..` or empty component, or a NUL, is always refused.
    #[test]
    fn bad_components_rejected(
        pre in prop::collection::vec(good_name(), 0..4),
        bad in prop_oneof![Just(""), Just("."), Just(".."), Just("a\0b"), Just("\0")],
        post in prop::collection::vec(good_name(), 0..4),
    ) {
        let mut parts = pre.clone();
        parts.push(bad.to_string());
        parts.extend(post.iter().cloned());
        let p = format!("/{}", parts.join("/"));
        // A single trailing empty component is a trailing slash (or the root "/"), which
        // is allowed.
        let trailing_slash_only = bad.is_empty() && post.is_empty();
        if !trailing_slash_only {
            prop_assert!(components(&p).is_err(), "{p:?} accepted");
            prop_assert!(split_parent(&p).is_err(), "{p:?} accepted by split_parent");
        }
        prop_assert!(validate_name(bad).is_err());
    }

    /// Valid components round-trip through components and split_parent.
    #[test]
    fn good_paths_round_trip(parts in prop::collection::vec(good_name(), 1..6)) {
        let p = format!("/{}", parts.join("/"));
        let got = components(&p).unwrap();
        prop_assert_eq!(&got, &parts.iter().map(String::as_str).collect::<Vec<_>>());
        let (parent, name) = split_parent(&p).unwrap();
        prop_assert_eq!(&name, parts.last().unwrap());
        prop_assert_eq!(components(&parent).unwrap().len(), parts.len() - 1);
    }

    /// verify never panics on arbitrary strings and never accepts them (with a secret).
    #[test]
    fn token_verify_arbitrary(t in any::<String>(), chunk in any::<u64>()) {
        prop_assert!(token::verify(b"secret", &t, chunk, Access::Read).is_err());
        prop_assert!(token::verify(b"secret", &t, chunk, Access::Write).is_err());
    }

    /// Token-shaped strings with made-up fields and MACs are refused.
    #[test]
    fn token_verify_shaped(
        chunk in any::<u64>(),
        exp in any::<u64>(),
        mode in "[rwx]",
        mac in "[0-9a-f]{0,70}",
    ) {
        let t = format!("{chunk}.{exp}.{mode}.{mac}");
        prop_assert!(token::verify(b"secret", &t, chunk, Access::Read).is_err());
    }

    /// Any single-character change to a valid token makes it invalid.
    #[test]
    fn mutated_token_rejected(
        chunk in any::<u64>(),
        write in any::<bool>(),
        pos in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let access = if write { Access::Write } else { Access::Read };
        let t = token::issue(b"secret", chunk, access, 60_000);
        prop_assert!(token::verify(b"secret", &t, chunk, Access::Read).is_ok());
        let chars: Vec<char> = t.chars().collect();
        let i = pos.index(chars.len());
        prop_assume!(chars[i] != replacement);
        let mut m = chars.clone();
        m[i] = replacement;
        let mutated: String = m.into_iter().collect();
        prop_assert!(token::verify(b"secret", &mutated, chunk, Access::Read).is_err(), "{mutated:?} accepted");
        // Truncations and extensions too.
        prop_assert!(token::verify(b"secret", &t[..t.len() - 1], chunk, Access::Read).is_err());
        let extended = format!("{t}0");
        prop_assert!(token::verify(b"secret", &extended, chunk, Access::Read).is_err());
        // And it never works for another chunk or with another secret.
        prop_assert!(token::verify(b"secret", &t, chunk.wrapping_add(1), Access::Read).is_err());
        prop_assert!(token::verify(b"other", &t, chunk, Access::Read).is_err());
    }
}

fn decode_all(bytes: &[u8]) {
    fn d<T: DeserializeOwned>(b: &[u8]) {
        let _ = serde_json::from_slice::<T>(b);
    }
    use ferrofs_proto::{admin, chunk, heartbeat, namespace as ns};
    d::<ns::LookupReq>(bytes);
    d::<ns::GetattrReq>(bytes);
    d::<ns::ResolveReq>(bytes);
    d::<ns::SetattrReq>(bytes);
    d::<ns::CreateReq>(bytes);
    d::<ns::UnlinkReq>(bytes);
    d::<ns::RenameReq>(bytes);
    d::<ns::LinkReq>(bytes);
    d::<ns::ReaddirReq>(bytes);
    d::<ns::ReleaseReq>(bytes);
    d::<ns::ChunksReq>(bytes);
    d::<ns::LeaseReq>(bytes);
    d::<ns::CommitReq>(bytes);
    d::<chunk::WriteParams>(bytes);
    d::<chunk::ReadParams>(bytes);
    d::<chunk::TruncateParams>(bytes);
    d::<chunk::SyncParams>(bytes);
    d::<chunk::TokenParam>(bytes);
    d::<chunk::CreateChunkReq>(bytes);
    d::<chunk::BumpVersionReq>(bytes);
    d::<chunk::ReplicaParams>(bytes);
    d::<heartbeat::RegisterReq>(bytes);
    d::<heartbeat::HeartbeatReq>(bytes);
    d::<heartbeat::HeartbeatResp>(bytes);
    d::<heartbeat::Command>(bytes);
    d::<admin::PathQuery>(bytes);
    d::<admin::SetReplicationReq>(bytes);
    d::<admin::MaintenanceReq>(bytes);
    d::<ferrofs_proto::ApiError>(bytes);
}

/// JSON-ish text: braces, keys the request types use, numbers at the edges, strings.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(":".to_string()),
            Just("null".to_string()),
            Just("true".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("1e400".to_string()),
            Just("\"\\u0000\"".to_string()),
            Just("\"\\ud800\"".to_string()),
            prop::sample::select(vec![
                "\"ino\"",
                "\"parent\"",
                "\"name\"",
                "\"path\"",
                "\"size\"",
                "\"mode\"",
                "\"kind\"",
                "\"version\"",
                "\"offset\"",
                "\"len\"",
                "\"token\"",
                "\"op\"",
                "\"chunk_id\"",
                "\"exclude\"",
                "\"mtime\"",
                "\"sec\"",
                "\"nsec\"",
                "\"delete\"",
                "\"replicate\"",
                "\"target\"",
                "\"chunks\"",
                "\"added\"",
                "\"code\"",
                "\"file\"",
            ])
            .prop_map(str::to_string),
            any::<u64>().prop_map(|n| n.to_string()),
            "\"[a-z0-9/._]{0,8}\"",
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Decoding any request type from arbitrary bytes never panics.
    #[test]
    fn decode_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    /// Nor from JSON-shaped text built from the fields the types use.
    #[test]
    fn decode_jsonish(text in jsonish()) {
        decode_all(text.as_bytes());
    }
}
