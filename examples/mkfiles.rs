//! Load generator for `bench/master-scale.sh`: creates many empty files through the client
//! library (`ferrofs_client::Client::create`, one master call per file), with a fixed number
//! of creates in flight, in directories of `--per-dir` files each, and reports the create
//! rate over the first and the last `--window` files as well as overall.
//!
//! ```text
//! cargo run --release --example mkfiles -- --master http://127.0.0.1:9000 --files 1000000
//! ```
//!
//! The last line of output is machine-readable:
//! `RESULT files=N dirs=D seconds=S rate=R first_rate=F last_rate=L window=W errors=0`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use ferrofs_client::{Client, ClientConfig};
use ferrofs_proto::ErrorCode;
use ferrofs_proto::namespace::{CreateReq, FileKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Create many empty files through the ferrofs client API")]
struct Args {
    /// Master URL.
    #[arg(long, env = "FERROFS_MASTER", default_value = "http://127.0.0.1:9000")]
    master: String,
    /// Number of files to create.
    #[arg(long, default_value_t = 1_000_000)]
    files: u64,
    /// Files per directory.
    #[arg(long, default_value_t = 10_000)]
    per_dir: u64,
    /// Creates in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Directory (created if missing) that receives the numbered subdirectories.
    #[arg(long, default_value = "/scale")]
    root: String,
    /// Size of the first/last windows the rate is reported for.
    #[arg(long, default_value_t = 50_000)]
    window: u64,
    /// Print progress every this many files.
    #[arg(long, default_value_t = 100_000)]
    progress: u64,
}

fn file_req(parent: u64, name: String) -> CreateReq {
    CreateReq {
        parent,
        name,
        kind: FileKind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        rdev: 0,
        symlink_target: None,
        exclusive: true,
        replication: None,
    }
}

/// One create, retried on transport errors. A retry that finds the name taken means the
/// earlier attempt went through.
async fn create_one(c: &Client, parent: u64, name: String) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match c.create(file_req(parent, name.clone())).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt > 1 && e.is(ErrorCode::AlreadyExists) => return Ok(()),
            Err(e) if e.code().is_none() && attempt < 5 => {
                eprintln!("mkfiles: create {name}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("create {name} in dir ino {parent}")),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    if a.files == 0 || a.per_dir == 0 || a.concurrency == 0 {
        bail!("--files, --per-dir and --concurrency must be positive");
    }
    let window = a.window.min(a.files).max(1);
    let c = Client::new(ClientConfig::new(&a.master))?;
    c.mkdir_p(&a.root)
        .await
        .context("creating the root directory")?;

    let ndirs = a.files.div_ceil(a.per_dir);
    let mut dirs = Vec::with_capacity(ndirs as usize);
    for d in 0..ndirs {
        let path = format!("{}/d{d:05}", a.root.trim_end_matches('/'));
        let attr = match c.mkdir(&path, 0o755).await {
            Ok(attr) => attr,
            Err(e) if e.is(ErrorCode::AlreadyExists) => c.resolve(&path).await?,
            Err(e) => return Err(e).with_context(|| format!("mkdir {path}")),
        };
        dirs.push(attr.ino);
    }
    eprintln!(
        "mkfiles: {} files in {ndirs} directories of {} under {} on {}, {} in flight",
        a.files, a.per_dir, a.root, a.master, a.concurrency
    );

    let dirs = Arc::new(dirs);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    // Completion times (ns since start) at the window edges: [first window done,
    // files - window done, all done].
    let marks: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let first_mark = window;
    let last_mark = a.files - window;

    let mut tasks = Vec::with_capacity(a.concurrency);
    for _ in 0..a.concurrency {
        let (c, dirs, next, done, marks) = (
            c.clone(),
            dirs.clone(),
            next.clone(),
            done.clone(),
            marks.clone(),
        );
        let (files, per_dir, progress) = (a.files, a.per_dir, a.progress);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= files {
                    return Ok::<(), anyhow::Error>(());
                }
                create_one(&c, dirs[(i / per_dir) as usize], format!("f{i:07}")).await?;
                let n = done.fetch_add(1, Ordering::AcqRel) + 1;
                let t = start.elapsed().as_nanos() as u64;
                if n == first_mark {
                    marks[0].store(t, Ordering::Release);
                }
                if n == last_mark {
                    marks[1].store(t, Ordering::Release);
                }
                if n == files {
                    marks[2].store(t, Ordering::Release);
                }
                if progress > 0 && n % progress == 0 {
                    let secs = start.elapsed().as_secs_f64();
                    eprintln!(
                        "mkfiles: {n} files in {secs:.1}s ({:.0}/s overall)",
                        n as f64 / secs
                    );
                }
            }
        }));
    }
    let mut errors = 0u64;
    let mut first_err = None;
    for t in tasks {
        match t.await? {
            Ok(()) => {}
            Err(e) => {
                errors += 1;
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        eprintln!("mkfiles: {errors} worker(s) stopped on an error; first: {e:#}");
        println!(
            "RESULT files={} errors={errors}",
            done.load(Ordering::Acquire)
        );
        std::process::exit(1);
    }
    let total = start.elapsed().as_secs_f64();
    let ns = |i: usize| marks[i].load(Ordering::Acquire) as f64 / 1e9;
    let first_rate = window as f64 / ns(0);
    // The last window runs from the moment files - window were done to the end.
    let last_rate = window as f64 / (ns(2) - ns(1)).max(1e-9);
    let rate = a.files as f64 / total;
    println!(
        "mkfiles: {} files in {total:.2}s: {rate:.0} creates/s overall, {first_rate:.0}/s over the first {window}, {last_rate:.0}/s over the last {window}",
        a.files
    );
    println!(
        "RESULT files={} dirs={ndirs} seconds={total:.3} rate={rate:.1} first_rate={first_rate:.1} last_rate={last_rate:.1} window={window} errors=0",
        a.files
    );
    Ok(())
}
