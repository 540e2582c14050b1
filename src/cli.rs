//! Command-line interface definition (clap).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ferrofs",
    version,
    about = "ferrofs: a GFS/HDFS-style distributed file system"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
    /// TLS directory (`ca.pem`, `cert.pem`, `key.pem`, from `ferrofs ca issue`): speak
    /// only HTTPS, with mutual TLS between nodes. Also `dir` in a --config file's
    /// `[tls]` section. `ferrofs up --tls` (no directory) makes a CA and certificates.
    #[arg(long, env = "FERROFS_TLS", global = true, value_name = "DIR",
          num_args = 0..=1, default_missing_value = crate::tls_opt::AUTO)]
    pub tls: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct MasterUrl {
    /// The master group: one URL, or several comma-separated (the leader is found).
    #[arg(
        long,
        env = "FERROFS_MASTER",
        default_value = "http://127.0.0.1:9000",
        global = true
    )]
    pub master: String,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a master.
    Master(MasterArgs),
    /// Run a chunkserver.
    Chunkserver(ChunkserverArgs),
    /// Start a local cluster (master + chunkservers), optionally mounted.
    Up(UpArgs),
    /// Mount the namespace with FUSE.
    Mount(MountArgs),
    /// Serve the cluster over S3 (buckets are top-level directories).
    S3(GatewayArgs),
    /// Serve the cluster over WebHDFS (`/webhdfs/v1/PATH?op=...`).
    Webhdfs(GatewayArgs),
    /// Serve both S3 (`--s3-listen`) and WebHDFS (`--webhdfs-listen`) in one process.
    Gateway(GatewayArgs),
    /// Copy a local file or directory tree into the cluster (`-` reads standard input).
    Put {
        local: PathBuf,
        remote: String,
        /// Replication goal of the new file.
        #[arg(long, short = 'r')]
        replication: Option<u8>,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Copy a file or directory tree out of the cluster (`-` writes standard output).
    Get {
        remote: String,
        local: PathBuf,
        /// Accepted for habit's sake: directories are always copied whole.
        #[arg(short = 'r')]
        recursive: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Print a file.
    Cat {
        remote: String,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// List a directory.
    #[command(disable_help_flag = true)]
    Ls {
        #[arg(default_value = "/")]
        path: String,
        /// Long format: mode, links, owner, group, size, time, name.
        #[arg(short = 'l')]
        long: bool,
        /// With -l: numeric user and group ids.
        #[arg(short = 'n')]
        numeric: bool,
        /// With -l: sizes like 1.5K, 12M.
        #[arg(short = 'h')]
        human: bool,
        /// JSON array of entries.
        #[arg(long)]
        json: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Space used under a path: each entry's size and its size on the disks (all
    /// replicas), as `hdfs dfs -du`.
    #[command(disable_help_flag = true)]
    Du {
        #[arg(default_value = "/")]
        path: String,
        /// One total for the path.
        #[arg(short = 's')]
        summary: bool,
        /// Sizes like 1.5K, 12M.
        #[arg(short = 'h')]
        human: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// The cluster's capacity, used and available space.
    #[command(disable_help_flag = true)]
    Df {
        /// Sizes like 1.5K, 12M.
        #[arg(short = 'h')]
        human: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, action = clap::ArgAction::Help, help = "Print help")]
        help: Option<bool>,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Change permissions: octal (755) or symbolic (u+x, go-w, a=r).
    Chmod {
        mode: String,
        path: String,
        #[arg(short = 'R')]
        recursive: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Change owner and/or group: OWNER, OWNER:GROUP or :GROUP (names or numbers).
    Chown {
        owner: String,
        path: String,
        #[arg(short = 'R')]
        recursive: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Create an empty file, or set an existing one's times to now.
    Touch {
        path: String,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Print the end of a file; -f keeps printing what is appended.
    Tail {
        path: String,
        #[arg(short = 'f')]
        follow: bool,
        /// Bytes from the end to start at.
        #[arg(short = 'c', default_value_t = 1024)]
        bytes: u64,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Copy inside the cluster (-r for directories).
    Cp {
        from: String,
        to: String,
        #[arg(short = 'r', short_alias = 'R')]
        recursive: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Show a file's attributes and chunk placement.
    Stat {
        path: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Create a directory.
    Mkdir {
        path: String,
        /// Create parents as needed; no error if it exists.
        #[arg(short = 'p')]
        parents: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Remove a file or an empty directory.
    Rm {
        path: String,
        /// Remove a directory tree.
        #[arg(short = 'r')]
        recursive: bool,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Rename or move.
    Mv {
        from: String,
        to: String,
        #[command(flatten)]
        m: MasterUrl,
    },
    /// Cluster administration.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
        #[command(flatten)]
        m: MasterUrl,
        /// Admin bearer token for mutating calls.
        #[arg(long, env = "FERROFS_ADMIN_TOKEN", global = true)]
        token: Option<String>,
    },
    /// The cluster's certificate authority (TLS between every node).
    Ca {
        #[command(subcommand)]
        cmd: CaCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum CaCmd {
    /// Make a cluster CA in CA_DIR (`ca.pem`, and `ca-key.pem`: keep it safe).
    Init { ca_dir: PathBuf },
    /// Issue a certificate signed by the CA into OUT_DIR (`ca.pem`, `cert.pem`,
    /// `key.pem`), for a node (its host names and addresses) or a client (none).
    Issue {
        ca_dir: PathBuf,
        out_dir: PathBuf,
        /// The certificate's name (e.g. master1, cs3, admin).
        #[arg(long)]
        name: String,
        /// A DNS name or IP address the node is reached at (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Cluster health: chunkservers and chunk counts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Per-file health under a path.
    Fsck {
        #[arg(default_value = "/")]
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// Set the replication goal of a file or directory.
    SetReplication {
        path: String,
        replication: u8,
        #[arg(short = 'r')]
        recursive: bool,
    },
    /// Planned restart of a chunkserver: no re-replication storm while it is down.
    Maintenance {
        id: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Drain a chunkserver.
    Decommission { id: String },
    /// The master group: members, roles, the leader, each one's log position.
    Masters {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        change: Option<MastersCmd>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MastersCmd {
    /// Add a master (started with `ferrofs master --id ID --join`): it catches up as a
    /// learner, then votes.
    Add { id: u64, addr: String },
    /// Remove a master from the group.
    Remove { id: u64 },
}

#[derive(Args, Debug)]
pub struct MasterArgs {
    /// TOML config file (see etc/ferrofs.toml); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: String,
    /// Data directory (RocksDB namespace).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Chunk size for new chunks, e.g. 64MiB.
    #[arg(long, value_parser = parse_size)]
    pub chunk_size: Option<u64>,
    /// Default replication goal.
    #[arg(long)]
    pub replication: Option<u8>,
    /// Chunkserver heartbeat interval, e.g. 1s.
    #[arg(long, value_parser = parse_duration)]
    pub heartbeat_interval: Option<std::time::Duration>,
    /// Silence after which a chunkserver is dead, e.g. 30s.
    #[arg(long, value_parser = parse_duration)]
    pub dead_timeout: Option<std::time::Duration>,
    /// Cluster secret (also FERROFS_SECRET).
    #[arg(long, env = "FERROFS_SECRET")]
    pub secret: Option<String>,
    /// Admin bearer token for mutating admin calls (also FERROFS_ADMIN_TOKEN).
    #[arg(long, env = "FERROFS_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Write the bound address to this file once listening.
    #[arg(long)]
    pub addr_file: Option<PathBuf>,
    /// This master's id in its group (default 1).
    #[arg(long)]
    pub id: Option<u64>,
    /// Every member of the group, `1=HOST:PORT,2=HOST:PORT,3=HOST:PORT` (the same on
    /// every member); omitted: a group of one.
    #[arg(long)]
    pub peers: Option<String>,
    /// `HOST:PORT` the others reach this master at, if not the listen address.
    #[arg(long)]
    pub advertise: Option<String>,
    /// Join an existing group instead of forming one: wait to be added with
    /// `ferrofs admin masters add`.
    #[arg(long)]
    pub join: bool,
    /// Election timeout (min; max is twice this), e.g. 800ms.
    #[arg(long, value_parser = parse_duration)]
    pub election_timeout: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct ChunkserverArgs {
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The master group: one URL, or every member's, comma-separated.
    #[arg(long, env = "FERROFS_MASTER")]
    pub master: Option<String>,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Capacity to report, e.g. 10GiB (default: the disk's size).
    #[arg(long, value_parser = parse_size)]
    pub capacity: Option<u64>,
    #[arg(long, env = "FERROFS_SECRET")]
    pub secret: Option<String>,
    #[arg(long)]
    pub addr_file: Option<PathBuf>,
    /// The rack (failure domain) this chunkserver is in (config `rack`).
    #[arg(long, env = "FERROFS_RACK")]
    pub rack: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Directory for the cluster's data (created if missing).
    #[arg(long, default_value = "./ferrofs-data")]
    pub dir: PathBuf,
    /// Number of chunkservers.
    #[arg(long, default_value_t = 4)]
    pub chunkservers: usize,
    /// Master port (0 picks a free one); with several masters, the first's (the others
    /// take the next ports).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Masters in the group (1, 3 or 5).
    #[arg(long, default_value_t = 1)]
    pub masters: usize,
    #[arg(long, value_parser = parse_size)]
    pub chunk_size: Option<u64>,
    #[arg(long)]
    pub replication: Option<u8>,
    /// Mount the cluster here too.
    #[arg(long)]
    pub mount: Option<PathBuf>,
    /// Silence after which the master declares a chunkserver dead, e.g. 5s.
    #[arg(long)]
    pub dead_timeout: Option<String>,
    /// Serve extended attributes on the mount (see `ferrofs mount --xattr`).
    #[arg(long)]
    pub xattr: bool,
    /// S3 gateway port (0 picks a free one).
    #[arg(long, default_value_t = 9100)]
    pub s3_port: u16,
    /// WebHDFS gateway port (0 picks a free one).
    #[arg(long, default_value_t = 9870)]
    pub webhdfs_port: u16,
}

#[derive(Args, Debug)]
pub struct MountArgs {
    pub mountpoint: PathBuf,
    #[command(flatten)]
    pub m: MasterUrl,
    /// TOML config file: its `[mount]` section (see etc/ferrofs.toml); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Let other users use the mount (kernel checks permissions). Default true.
    #[arg(long, action = clap::ArgAction::Set)]
    pub allow_other: Option<bool>,
    /// Worker threads serving kernel requests. Default 16.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Memory for verified 64 KiB blocks of small (random) reads, e.g. 1GiB; 0 turns
    /// the cache off.
    #[arg(long, env = "FERROFS_BLOCK_CACHE", default_value = "256MiB", value_parser = parse_size)]
    pub block_cache: u64,
    /// Serve extended attributes (`user.*`, `trusted.*`). Off by default, as on JuiceFS:
    /// with them on, the kernel asks the mount for `security.capability` before every
    /// write(2) and `ls -l` asks for two attributes per file, one FUSE round trip each
    /// (4 KiB writes 45% slower, `ls -l` of 10,000 files 0.08 s -> 0.42 s here).
    #[arg(long, env = "FERROFS_XATTR", value_parser = clap::builder::BoolishValueParser::new())]
    pub xattr: bool,
    /// close(2) makes the file's data durable as fsync(2) does: fsynced on every
    /// replica and the master group's log synced (HDFS's synconclose). Off by default,
    /// as in HDFS, MooseFS and ext4: close returns once every replica holds the bytes
    /// and the master group's log the size; chunkservers write back within 5 s.
    #[arg(long, env = "FERROFS_SYNC_ON_CLOSE", value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_on_close: bool,
    /// Every create, mkdir, unlink and rmdir waits for the master (CephFS's `wsync`). Off by
    /// default: where the mount knows the outcome (a new name in a directory it holds
    /// every entry of, an unlink of a cached single-link file not open here) it answers
    /// at once and sends the operations to the master in the background, in order, in
    /// batches; fsync(2) of the file or directory waits for them.
    #[arg(long, env = "FERROFS_SYNC_NAMESPACE", value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_namespace: bool,
    /// A small read fetches the whole 64 KiB blocks it touches and gives their other
    /// pages to the kernel's page cache (files no handle of this mount may write).
    /// Default true.
    #[arg(long, env = "FERROFS_PAGE_FILL", action = clap::ArgAction::Set)]
    pub page_fill: Option<bool>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    ferrofs_proto::units::parse_size(s)
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    ferrofs_proto::units::parse_duration(s)
}

/// Flags of `ferrofs s3`, `ferrofs webhdfs` and `ferrofs gateway` (both endpoints in
/// one process). Flags override the `[gateway]` section of `--config`.
#[derive(Args, Debug, Default)]
pub struct GatewayArgs {
    /// TOML config file (see the `[gateway]` section of etc/ferrofs.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Master URL.
    #[arg(long, env = "FERROFS_MASTER")]
    pub master: Option<String>,
    /// Address to listen on (`ferrofs s3` and `ferrofs webhdfs`).
    #[arg(long)]
    pub listen: Option<String>,
    /// S3 address (`ferrofs gateway`).
    #[arg(long)]
    pub s3_listen: Option<String>,
    /// WebHDFS address (`ferrofs gateway`).
    #[arg(long)]
    pub webhdfs_listen: Option<String>,
    /// S3 access key (added to the config's keys).
    #[arg(long, env = "FERROFS_S3_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// Secret of `--access-key`.
    #[arg(long, env = "FERROFS_S3_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Accept unsigned S3 requests (off by default).
    #[arg(long)]
    pub anonymous: bool,
    /// Region GetBucketLocation reports.
    #[arg(long)]
    pub region: Option<String>,
    /// Write the S3 endpoint's bound address to this file once listening.
    #[arg(long)]
    pub s3_addr_file: Option<PathBuf>,
    /// Write the WebHDFS endpoint's bound address to this file once listening.
    #[arg(long)]
    pub webhdfs_addr_file: Option<PathBuf>,
}
