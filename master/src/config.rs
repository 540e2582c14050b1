//! Master configuration: one serde struct, every field documented with its default.

use ferrofs_proto::units::{serde_duration, serde_size};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterConfig {
    /// This member's id in the master group. Default 1.
    pub id: u64,
    /// Every member of the group as `ID=HOST:PORT`, comma-separated, the same on every
    /// member (e.g. `1=10.0.0.1:9000,2=10.0.0.2:9000,3=10.0.0.3:9000`). Starting each
    /// member of a fresh group with the same list forms the group. Empty: a group of
    /// one, this master alone. Default empty.
    pub peers: String,
    /// `HOST:PORT` other masters, chunkservers and clients reach this master at, when it
    /// is not the listen address (e.g. listening on 0.0.0.0). Default: the listen address.
    pub advertise: String,
    /// TLS directory (`ca.pem`, `cert.pem`, `key.pem`, from `ferrofs ca issue`): every
    /// listener and call is then HTTPS with mutual TLS. Set from `--tls` / `FERROFS_TLS`
    /// or the config file's `[tls]` section, not from `[master]`. Default: plain HTTP.
    #[serde(skip)]
    pub tls_dir: Option<PathBuf>,
    /// Start without forming a group: wait to be added to an existing one
    /// (`ferrofs admin masters add ID HOST:PORT` on the group). Default false.
    pub join: bool,
    /// Directory holding the RocksDB namespace and Raft log. Default `./data/master`.
    pub data_dir: PathBuf,
    /// Chunk size for new files. Default 64MiB. Tests use 1MiB.
    #[serde(with = "serde_size")]
    pub chunk_size: u64,
    /// Replication goal for new files unless a directory or the create call says otherwise.
    /// Default 3.
    pub default_replication: u8,
    /// How often chunkservers heartbeat. Default 1s.
    #[serde(with = "serde_duration")]
    pub heartbeat_interval: Duration,
    /// A chunkserver silent this long is dead and its replicas stop counting. Default 30s.
    #[serde(with = "serde_duration")]
    pub dead_timeout: Duration,
    /// A chunkserver that missed a heartbeat, or whose presence poll's connection closed
    /// (a killed process's kernel closes it), and then refuses TCP connections to its
    /// address twice in a row is dead at once instead of after `dead_timeout`: its
    /// process is gone (crashed, killed), nothing will answer there.
    /// A server that is merely unreachable (partition, hung host) still gets the full
    /// `dead_timeout`. Servers in maintenance are not probed. Default true.
    pub dead_on_refused: bool,
    /// Longest time between syncs of the RocksDB write-ahead log (group commit).
    /// A client's fsync/close waits for the next sync. Default 5ms.
    #[serde(with = "serde_duration")]
    pub wal_sync_interval: Duration,
    /// How long a write lease lasts before the client must ask again. Default 60s.
    #[serde(with = "serde_duration")]
    pub lease_duration: Duration,
    /// Cluster secret shared with chunkservers: signs chunk access tokens and authenticates
    /// internal calls. Empty disables both (development only). Default empty.
    pub secret: String,
    /// Bearer token required by mutating admin calls (`Authorization: Bearer ...`).
    /// Empty means no token is required (development only). Default empty.
    pub admin_token: String,
    /// After a restart, make no re-replication decisions until chunkservers have reported,
    /// or this long has passed. Default 10s.
    #[serde(with = "serde_duration")]
    pub safe_mode_timeout: Duration,
    /// Concurrent replica copies a chunkserver may be source or target of (the balancer
    /// also keeps its moves below this many in total). Each chunkserver runs at most
    /// its `max_concurrent_copies` at once and queues the rest, so a limit above that
    /// keeps the next copy waiting there instead of a heartbeat away. Default 8.
    pub max_copies_per_server: u32,
    /// How often the re-replication worker scans chunk health. Default 200ms.
    #[serde(with = "serde_duration")]
    pub rereplication_interval: Duration,
    /// A chunkserver down in maintenance mode for less than this does not trigger
    /// re-replication. Default 15m.
    #[serde(with = "serde_duration")]
    pub maintenance_window: Duration,
    /// Balancer moves chunks until every server's usage is within this fraction of the
    /// mean. Default 0.10.
    pub balance_spread: f64,
    /// Lifetime of chunk access tokens handed to clients. Default 10m.
    #[serde(with = "serde_duration")]
    pub token_ttl: Duration,
    /// Timeout of master -> chunkserver calls. Default 10s.
    #[serde(with = "serde_duration")]
    pub rpc_timeout: Duration,
    /// How often the leader heartbeats the other masters. Default 100ms.
    #[serde(with = "serde_duration")]
    pub raft_heartbeat: Duration,
    /// A follower that hears nothing from a leader for between this and twice this
    /// starts an election, and no member votes for a new leader within twice this of
    /// hearing from the old one (openraft's leader lease). Failover after a leader dies
    /// takes a little over twice this: once the lease has run out, the follower with the
    /// longest log whose leader's port refuses connections (the process is gone) asks
    /// for votes, without waiting out its election timer (failover.rs). Default 400ms.
    #[serde(with = "serde_duration")]
    pub election_timeout: Duration,
    /// A proposed change not committed within this is answered `NoQuorum` (503): a
    /// leader cut off from the rest of its group cannot commit, and openraft keeps
    /// the call waiting until the partition heals; the client tries another member
    /// (the retry cache applies a retried change once). Default 3s.
    #[serde(with = "serde_duration")]
    pub propose_timeout: Duration,
    /// Sync the Raft log to disk before every append is acknowledged. Off: an entry
    /// counts once it is in the log of a majority (it survives any process being
    /// killed), and a client's fsync syncs the log on a majority explicitly; only a power
    /// loss of a majority within `wal_sync_interval` could lose an acknowledged change
    /// that no fsync covered. Default false.
    pub sync_log: bool,
    /// Log entries between two snapshots of the state machine. Default 20000.
    pub snapshot_every: u64,
    /// A file unlinked while open is deleted once no client has reported holding it for
    /// this long (clients report every 5 s); a new leader waits this long before
    /// deleting any. Default 30s.
    #[serde(with = "serde_duration")]
    pub orphan_grace: Duration,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            id: 1,
            peers: String::new(),
            advertise: String::new(),
            tls_dir: None,
            join: false,
            data_dir: PathBuf::from("./data/master"),
            chunk_size: ferrofs_proto::DEFAULT_CHUNK_SIZE,
            default_replication: 3,
            heartbeat_interval: Duration::from_secs(1),
            dead_timeout: Duration::from_secs(30),
            dead_on_refused: true,
            wal_sync_interval: Duration::from_millis(5),
            lease_duration: Duration::from_secs(60),
            secret: String::new(),
            admin_token: String::new(),
            safe_mode_timeout: Duration::from_secs(10),
            max_copies_per_server: 8,
            rereplication_interval: Duration::from_millis(200),
            maintenance_window: Duration::from_secs(15 * 60),
            balance_spread: 0.10,
            token_ttl: Duration::from_secs(600),
            rpc_timeout: Duration::from_secs(10),
            raft_heartbeat: Duration::from_millis(100),
            election_timeout: Duration::from_millis(400),
            propose_timeout: Duration::from_secs(3),
            sync_log: false,
            snapshot_every: 20_000,
            orphan_grace: Duration::from_secs(30),
        }
    }
}

impl MasterConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk_size < ferrofs_proto::BLOCK_SIZE
            || !self.chunk_size.is_multiple_of(ferrofs_proto::BLOCK_SIZE)
        {
            return Err(format!(
                "chunk_size must be a multiple of {} bytes, got {}",
                ferrofs_proto::BLOCK_SIZE,
                self.chunk_size
            ));
        }
        if self.default_replication == 0 || self.default_replication > 16 {
            return Err("default_replication must be between 1 and 16".into());
        }
        if self.dead_timeout <= self.heartbeat_interval {
            return Err("dead_timeout must be longer than heartbeat_interval".into());
        }
        if self.max_copies_per_server == 0 {
            return Err("max_copies_per_server must be at least 1".into());
        }
        if self.id == 0 {
            return Err("id must be at least 1".into());
        }
        let peers = self.peer_map()?;
        if !peers.is_empty() && !peers.contains_key(&self.id) {
            return Err(format!("peers does not list this master's id {}", self.id));
        }
        if self.election_timeout < self.raft_heartbeat * 3 {
            return Err("election_timeout must be at least 3 raft_heartbeat".into());
        }
        if self.propose_timeout < self.election_timeout * 2 {
            return Err("propose_timeout must be at least 2 election_timeout".into());
        }
        if self.snapshot_every == 0 {
            return Err("snapshot_every must be at least 1".into());
        }
        Ok(())
    }

    /// `peers` parsed: id -> `host:port` (empty for a group of one).
    pub fn peer_map(&self) -> Result<std::collections::BTreeMap<u64, String>, String> {
        parse_peers(&self.peers)
    }
}

/// Parse `ID=HOST:PORT[,ID=HOST:PORT...]`.
pub fn parse_peers(s: &str) -> Result<std::collections::BTreeMap<u64, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("peer {part:?} is not ID=HOST:PORT"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("peer id {id:?} is not a number"))?;
        let addr = addr.trim().trim_start_matches("http://").to_string();
        if id == 0
            || addr
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            return Err(format!("peer {part:?} is not ID=HOST:PORT (id >= 1)"));
        }
        if out.insert(id, addr).is_some() {
            return Err(format!("peer id {id} is listed twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The annotated example config lists every master setting, each at its default:
    /// the defaults are declared once (here) and the example cannot drift from them.
    #[test]
    fn example_config_lists_every_default() {
        let text = include_str!("../../etc/ferrofs.toml");
        let doc: toml::Table = toml::from_str(text).expect("etc/ferrofs.toml parses");
        let example = doc["master"].as_table().expect("[master] section").clone();
        let defaults: toml::Table =
            toml::from_str(&toml::to_string(&MasterConfig::default()).unwrap()).unwrap();
        for key in defaults.keys() {
            assert!(
                example.contains_key(key),
                "etc/ferrofs.toml does not list master setting {key}"
            );
        }
        let parsed: MasterConfig = example.try_into().expect("the example is a valid config");
        let parsed: toml::Table = toml::from_str(&toml::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(
            parsed, defaults,
            "etc/ferrofs.toml differs from the defaults"
        );
        assert!(MasterConfig::default().validate().is_ok());
    }

    /// The deployment example for a group of three (docs/DEPLOY.md) is a valid config.
    #[test]
    fn deploy_example_is_valid() {
        let doc: toml::Table = toml::from_str(include_str!("../../etc/master.toml")).unwrap();
        let c: MasterConfig = doc["master"].clone().try_into().expect("etc/master.toml");
        c.validate().unwrap();
        assert_eq!(c.peer_map().unwrap().len(), 3);
    }

    #[test]
    fn peers_parse_and_refuse_nonsense() {
        let m = parse_peers("1=a:1, 2=b:2,3=http://c:3").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[&3], "c:3");
        assert!(parse_peers("").unwrap().is_empty());
        for bad in ["1=a", "x=a:1", "0=a:1", "1=a:1,1=b:2", "1=:5", "1=a:99999"] {
            assert!(parse_peers(bad).is_err(), "{bad} accepted");
        }
    }
}
