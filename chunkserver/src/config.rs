//! Chunkserver configuration: one serde struct, every field defaulted, sizes such as
//! "64MiB" and durations such as "1s" parsed at load.

use crate::error::ChunkserverError;
use ferrofs_proto::units::{serde_duration, serde_size};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChunkserverConfig {
    /// Directory holding `cs_id` and `chunks/`. Default `./data/chunkserver`.
    pub data_dir: PathBuf,
    /// The master group: a base URL, or every member's, comma-separated (heartbeats go to
    /// each, so standby masters keep a warm replica map). Default `http://127.0.0.1:9000`.
    pub master: String,
    /// `host:port` registered with the master for clients and peers to reach this
    /// chunkserver. Default: the listener's local address.
    pub advertise_addr: Option<String>,
    /// TLS directory (`ca.pem`, `cert.pem`, `key.pem`, from `ferrofs ca issue`): the
    /// listener and every call are then HTTPS with mutual TLS, and `master` URLs are
    /// taken as https. Set from `--tls` / `FERROFS_TLS` or the config file's `[tls]`
    /// section, not from `[chunkserver]`. Default: plain HTTP.
    #[serde(skip)]
    pub tls_dir: Option<PathBuf>,
    /// Capacity reported to the master. Default: total size of the data dir's filesystem.
    #[serde(with = "opt_size")]
    pub capacity_bytes: Option<u64>,
    /// Refuse new chunk data when free space (capacity minus used, and the filesystem's
    /// real free space) is below this. Default 64MiB.
    #[serde(with = "serde_size")]
    pub reserve_bytes: u64,
    /// Interval between heartbeats; the master's register reply overrides it. Default 1s.
    #[serde(with = "serde_duration")]
    pub heartbeat_interval: Duration,
    /// Cluster secret for internal calls and access tokens. Default empty (no auth).
    pub secret: String,
    /// Replica copies to peers running at once. Default 4.
    pub max_concurrent_copies: usize,
    /// Scrubber read rate; 0 disables the scrubber. Default 32MiB.
    #[serde(with = "serde_size")]
    pub scrub_bytes_per_sec: u64,
    /// Pause between full scrub passes. Default 1h.
    #[serde(with = "serde_duration")]
    pub scrub_interval: Duration,
    /// Timeout of outgoing calls to peers and the master. Default 30s.
    #[serde(with = "serde_duration")]
    pub request_timeout: Duration,
    /// How long a write pipeline waits on a downstream replica that stops taking bytes
    /// or does not reply before reporting it failed (502 naming it), so the client can
    /// rebuild the pipeline without it. The wait for a reply grows with the number of
    /// replicas further down, so the replica nearest a hung one reports it first.
    /// Default 5s.
    #[serde(with = "serde_duration")]
    pub pipeline_timeout: Duration,
    /// Data written without an fsync (a file closed without fsync(2), as HDFS and
    /// MooseFS close by default) is synced to disk by a write-back worker within this
    /// window, as ext4 commits every 5 s. Default 5s.
    #[serde(with = "serde_duration")]
    pub writeback_interval: Duration,
    /// The rack (failure domain: a switch, a power feed) this chunkserver is in. With
    /// chunkservers in two or more racks, the master keeps every chunk's replicas in at
    /// least two. Default "default" (one rack).
    pub rack: String,
}

impl Default for ChunkserverConfig {
    fn default() -> Self {
        ChunkserverConfig {
            data_dir: PathBuf::from("./data/chunkserver"),
            master: "http://127.0.0.1:9000".into(),
            advertise_addr: None,
            tls_dir: None,
            capacity_bytes: None,
            reserve_bytes: 64 << 20,
            heartbeat_interval: Duration::from_secs(1),
            secret: String::new(),
            max_concurrent_copies: 4,
            scrub_bytes_per_sec: 32 << 20,
            scrub_interval: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(30),
            pipeline_timeout: Duration::from_secs(5),
            writeback_interval: Duration::from_secs(5),
            rack: ferrofs_proto::heartbeat::DEFAULT_RACK.into(),
        }
    }
}

/// Fault injection for tests, never for production: a chunkserver started with this
/// variable set exits (status 86) right after applying a version bump, before replying,
/// as if killed at that instant (tests/version_bumps.rs).
pub const FAULT_EXIT_AFTER_BUMP: &str = "FERROFS_FAULT_EXIT_AFTER_BUMP";

/// Environment variables that override config fields (after the file, before flags are
/// validated): for operators and test harnesses that cannot pass a config file.
/// `FERROFS_SCRUB_INTERVAL` ("1s"), `FERROFS_SCRUB_BYTES_PER_SEC` ("32MiB", 0 disables),
/// `FERROFS_PIPELINE_TIMEOUT` ("5s"), `FERROFS_CS_REQUEST_TIMEOUT` ("30s"),
/// `FERROFS_WRITEBACK_INTERVAL` ("5s").
pub const ENV_OVERRIDES: [&str; 5] = [
    "FERROFS_SCRUB_INTERVAL",
    "FERROFS_SCRUB_BYTES_PER_SEC",
    "FERROFS_PIPELINE_TIMEOUT",
    "FERROFS_CS_REQUEST_TIMEOUT",
    "FERROFS_WRITEBACK_INTERVAL",
];

impl ChunkserverConfig {
    /// Apply the `ENV_OVERRIDES` variables found by `get` (normally `std::env::var`).
    pub fn apply_env(
        &mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ChunkserverError> {
        use ferrofs_proto::units::{parse_duration, parse_size};
        let bad = |var: &str, e: String| ChunkserverError::Config(format!("{var}: {e}"));
        for var in ENV_OVERRIDES {
            let Some(v) = get(var) else { continue };
            match var {
                "FERROFS_SCRUB_INTERVAL" => {
                    self.scrub_interval = parse_duration(&v).map_err(|e| bad(var, e))?
                }
                "FERROFS_SCRUB_BYTES_PER_SEC" => {
                    self.scrub_bytes_per_sec = parse_size(&v).map_err(|e| bad(var, e))?
                }
                "FERROFS_PIPELINE_TIMEOUT" => {
                    self.pipeline_timeout = parse_duration(&v).map_err(|e| bad(var, e))?
                }
                "FERROFS_CS_REQUEST_TIMEOUT" => {
                    self.request_timeout = parse_duration(&v).map_err(|e| bad(var, e))?
                }
                "FERROFS_WRITEBACK_INTERVAL" => {
                    self.writeback_interval = parse_duration(&v).map_err(|e| bad(var, e))?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The master group's members (`master` may list several, comma-separated).
    pub fn masters(&self) -> Vec<String> {
        self.master
            .split(',')
            .map(|m| m.trim().trim_end_matches('/').to_string())
            .filter(|m| !m.is_empty())
            .collect()
    }

    /// Check the values make sense, with a message naming the field.
    pub fn validate(&self) -> Result<(), ChunkserverError> {
        let bad = |m: String| Err(ChunkserverError::Config(m));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir must not be empty".into());
        }
        for m in self.masters() {
            if !(m.starts_with("http://") || m.starts_with("https://")) {
                return bad(format!("master must be an http:// URL, got {m:?}"));
            }
        }
        if let Some(a) = &self.advertise_addr
            && (a.is_empty() || a.contains('/') || !a.contains(':'))
        {
            return bad(format!("advertise_addr must be host:port, got {a:?}"));
        }
        if !ferrofs_proto::heartbeat::valid_rack(&self.rack) {
            return bad(format!(
                "rack must be 1 to 64 of A-Z a-z 0-9 . _ -, got {:?}",
                self.rack
            ));
        }
        if self.capacity_bytes == Some(0) {
            return bad("capacity_bytes must be positive".into());
        }
        if self.heartbeat_interval.is_zero() {
            return bad("heartbeat_interval must be positive".into());
        }
        if self.max_concurrent_copies == 0 {
            return bad("max_concurrent_copies must be at least 1".into());
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout must be positive".into());
        }
        if self.pipeline_timeout.is_zero() {
            return bad("pipeline_timeout must be positive".into());
        }
        if self.writeback_interval.is_zero() {
            return bad("writeback_interval must be positive".into());
        }
        if self.scrub_bytes_per_sec > 0 && self.scrub_interval.is_zero() {
            return bad("scrub_interval must be positive when the scrubber is on".into());
        }
        Ok(())
    }
}

/// `Option<u64>` size: absent/null or "10GiB" / 1234.
mod opt_size {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "ferrofs_proto::units::serde_size")] u64);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parsing() {
        let c: ChunkserverConfig = toml::from_str(
            "data_dir = \"/x\"\nreserve_bytes = \"1MiB\"\ncapacity_bytes = \"2GiB\"\nheartbeat_interval = \"500ms\"",
        )
        .unwrap();
        assert_eq!(c.reserve_bytes, 1 << 20);
        assert_eq!(c.capacity_bytes, Some(2 << 30));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.max_concurrent_copies, 4);
        c.validate().unwrap();
        let d: ChunkserverConfig = toml::from_str("").unwrap();
        assert_eq!(d.capacity_bytes, None);
        let bad = ChunkserverConfig {
            master: "localhost:9000".into(),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    /// The deployment example (docs/DEPLOY.md) is a valid config; a bad rack is refused.
    #[test]
    fn deploy_example_and_racks() {
        let doc: toml::Table = toml::from_str(include_str!("../../etc/chunkserver.toml")).unwrap();
        let c: ChunkserverConfig = doc["chunkserver"].clone().try_into().unwrap();
        c.validate().unwrap();
        assert_eq!(ChunkserverConfig::default().rack, "default");
        for bad in ["", "a b", "r/1", &"x".repeat(65)] {
            let c = ChunkserverConfig {
                rack: bad.to_string(),
                ..Default::default()
            };
            assert!(c.validate().is_err(), "rack {bad:?} accepted");
        }
    }

    #[test]
    fn env_overrides() {
        let mut c = ChunkserverConfig::default();
        let env = |k: &str| match k {
            "FERROFS_SCRUB_INTERVAL" => Some("2s".to_string()),
            "FERROFS_SCRUB_BYTES_PER_SEC" => Some("1MiB".to_string()),
            "FERROFS_PIPELINE_TIMEOUT" => Some("750ms".to_string()),
            _ => None,
        };
        c.apply_env(env).unwrap();
        assert_eq!(c.scrub_interval, Duration::from_secs(2));
        assert_eq!(c.scrub_bytes_per_sec, 1 << 20);
        assert_eq!(c.pipeline_timeout, Duration::from_millis(750));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        let err = c
            .apply_env(|k| (k == "FERROFS_SCRUB_INTERVAL").then(|| "soon".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("FERROFS_SCRUB_INTERVAL"), "{err}");
    }
}
