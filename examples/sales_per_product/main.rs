//! Total sales per product over a large transactions table stored in ferrofs, with
//! DataFusion SQL reading through the ferrofs `object_store` backend: the word count
//! of data engineering (map each transaction to (product, amount), reduce by sum, in
//! parallel over the files' chunks).
//!
//! ```text
//! cargo run --release --example sales_per_product              # its own cluster
//! FERROFS_MASTER=http://127.0.0.1:9000 cargo run --release --example sales_per_product
//! cargo run --release --example sales_per_product -- --rows 100000 --products 100
//! ```
//!
//! Without `FERROFS_MASTER` it starts a temporary cluster in this process (a master and
//! three chunkservers on loopback, data in a temporary directory).

mod job;

use anyhow::Context;
use std::time::Duration;

struct Args {
    rows: u64,
    products: u32,
    files: u32,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        rows: 10_000_000,
        products: 1000,
        files: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = val()?.replace('_', "").parse()?,
            "--products" => a.products = val()?.parse()?,
            "--files" => a.files = val()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: sales_per_product [--rows N (10000000)] [--products N (1000)] [--files N (8)]"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    anyhow::ensure!(
        a.products > 0 && a.files > 0,
        "--products and --files must be positive"
    );
    Ok(a)
}

/// A master and three chunkservers in this process, until the returned guard drops.
async fn local_cluster()
-> anyhow::Result<(String, tempfile::TempDir, tokio::sync::watch::Sender<bool>)> {
    let dir = tempfile::tempdir()?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let ml = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", ml.local_addr()?);
    let mcfg = ferrofs_master::MasterConfig {
        data_dir: dir.path().join("master"),
        ..Default::default()
    };
    tokio::spawn(ferrofs_master::run(mcfg, ml, until(rx.clone())));
    for i in 0..3 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let cfg = ferrofs_chunkserver::ChunkserverConfig {
            data_dir: dir.path().join(format!("cs{i}")),
            master: url.clone(),
            ..Default::default()
        };
        tokio::spawn(ferrofs_chunkserver::run(cfg, l, until(rx.clone())));
    }
    ferrofs_tls::install_provider();
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s: Option<ferrofs_proto::admin::Status> =
            match http.get(format!("{url}/api/v1/status")).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
        if s.is_some_and(|s| s.chunkservers.iter().filter(|c| c.alive).count() == 3 && !s.safe_mode)
        {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the local cluster did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((url, dir, stop))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let (master, _guard) = match std::env::var("FERROFS_MASTER") {
        Ok(m) => (m, None),
        Err(_) => {
            eprintln!(
                "FERROFS_MASTER not set: starting a local cluster (1 master, 3 chunkservers)"
            );
            let (url, dir, stop) = local_cluster().await?;
            (url, Some((dir, stop)))
        }
    };
    let job = job::Job {
        master,
        rows: a.rows,
        products: a.products,
        files: a.files,
        dir: "/sales".into(),
    };
    println!(
        "sales_per_product: {} rows over {} products in {} files per format",
        job.rows, job.products, job.files
    );
    let r = job::run(&job).await?;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "  generated and wrote CSV ({:.1} MiB) + Parquet ({:.1} MiB) in {:.2} s: {:.0} rows/s",
        mib(r.csv_bytes),
        mib(r.parquet_bytes),
        r.write_secs,
        r.rows as f64 / r.write_secs
    );
    println!(
        "  SQL over CSV:     {:.2} s, {:.0} rows/s ({:.0} MiB/s)",
        r.csv_query_secs,
        r.rows as f64 / r.csv_query_secs,
        mib(r.csv_bytes) / r.csv_query_secs
    );
    println!(
        "  SQL over Parquet: {:.2} s, {:.0} rows/s",
        r.parquet_query_secs,
        r.rows as f64 / r.parquet_query_secs
    );
    println!(
        "  totals of all {} products match the direct computation",
        r.products_checked
    );
    Ok(())
}
