//! The `ferrofs` binary: every role and tool as a subcommand.

#[macro_use]
mod out;
mod admin_cmd;
mod attr_fmt;
mod cli;
mod dfs_cmds;
mod files;
mod gateway_cmd;
mod mount_cmd;
mod servers;
mod tls_opt;
mod tree_transfer;
mod up;
mod up_gateway;
mod up_tls;

use clap::Parser;
use cli::{Cli, Cmd};
use tracing_subscriber::EnvFilter;

fn init_logging(server: bool) {
    // openraft logs every vote and state change at info; s3s logs every refused
    // request at ERROR (the gateway logs them itself).
    let default = if server {
        "info,openraft=warn,s3s=off"
    } else {
        "warn,s3s=off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: `up` and services write logs to files.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn main() {
    let cli = Cli::parse();
    ferrofs_tls::install_provider();
    tls_opt::set(cli.tls.clone());
    let server = matches!(
        cli.cmd,
        Cmd::Master(_)
            | Cmd::Chunkserver(_)
            | Cmd::Up(_)
            | Cmd::Mount(_)
            | Cmd::S3(_)
            | Cmd::Webhdfs(_)
            | Cmd::Gateway(_)
    );
    init_logging(server);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let res = rt.block_on(async move {
        match cli.cmd {
            Cmd::Master(a) => servers::master(a).await,
            Cmd::Chunkserver(a) => servers::chunkserver(a).await,
            Cmd::Up(a) => up::run(a).await,
            Cmd::Mount(a) => mount_cmd::run(a).await,
            Cmd::S3(a) => gateway_cmd::run(a, gateway_cmd::Mode::S3).await,
            Cmd::Webhdfs(a) => gateway_cmd::run(a, gateway_cmd::Mode::WebHdfs).await,
            Cmd::Gateway(a) => gateway_cmd::run(a, gateway_cmd::Mode::Both).await,
            Cmd::Admin { cmd, m, token } => admin_cmd::run(cmd, &m.master, token).await,
            Cmd::Ca { cmd } => ca_cmd(cmd),
            other => files::run(other).await,
        }
    });
    if let Err(e) = res {
        eprintln!("ferrofs: {e:#}");
        std::process::exit(1);
    }
}

/// `ferrofs ca init|issue`.
fn ca_cmd(cmd: cli::CaCmd) -> anyhow::Result<()> {
    match cmd {
        cli::CaCmd::Init { ca_dir } => {
            ferrofs_tls::ca::init(&ca_dir)?;
            outln!("cluster CA in {}", ca_dir.display());
        }
        cli::CaCmd::Issue {
            ca_dir,
            out_dir,
            name,
            hosts,
        } => {
            ferrofs_tls::ca::issue(&ca_dir, &out_dir, &name, &hosts)?;
            outln!("{name}: {}/{{ca,cert,key}}.pem", out_dir.display());
        }
    }
    Ok(())
}
