//! The `ferrofs` binary: every role and tool as a subcommand.

mod admin_cmd;
mod cli;
mod files;
mod mount_cmd;
mod servers;
mod up;

use clap::Parser;
use cli::{Cli, Cmd};
use tracing_subscriber::EnvFilter;

fn init_logging(server: bool) {
    // openraft logs every vote and state change at info.
    let default = if server { "info,openraft=warn" } else { "warn" };
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
    let server = matches!(
        cli.cmd,
        Cmd::Master(_) | Cmd::Chunkserver(_) | Cmd::Up(_) | Cmd::Mount(_)
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
            println!("cluster CA in {}", ca_dir.display());
        }
        cli::CaCmd::Issue {
            ca_dir,
            out_dir,
            name,
            hosts,
        } => {
            ferrofs_tls::ca::issue(&ca_dir, &out_dir, &name, &hosts)?;
            println!("{name}: {}/{{ca,cert,key}}.pem", out_dir.display());
        }
    }
    Ok(())
}
