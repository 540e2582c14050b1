//! The dashboard's history charts in headless Chromium: they render from the master's
//! one-second samples, and during a heal (a chunkserver killed) the chunk-health and
//! re-replication curves move: under-replicated chunks rise and fall back to zero,
//! re-replication bytes/s rise. Takes a screenshot of the heal (kept in the cluster's
//! directory; with FERROFS_SCREENSHOT=path, also copied there: docs/dashboard-heal.png
//! is made this way).

mod common;

use common::*;
use ferrofs_proto::admin::HistoryResp;
use std::time::Duration;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

fn chromium_args(profile: &std::path::Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=4000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

async fn dump_dom(url: String, profile: std::path::PathBuf) -> String {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(chromium().unwrap())
            .args(chromium_args(&profile))
            .args(["--dump-dom", &url])
            .output()
            .expect("run chromium");
        String::from_utf8_lossy(&out.stdout).to_string()
    })
    .await
    .unwrap()
}

async fn screenshot(url: String, profile: std::path::PathBuf, png: std::path::PathBuf) {
    tokio::task::spawn_blocking(move || {
        let status = std::process::Command::new(chromium().unwrap())
            .args(chromium_args(&profile))
            .args([
                "--window-size=1280,1250",
                &format!("--screenshot={}", png.display()),
                &url,
            ])
            .output()
            .expect("run chromium");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    })
    .await
    .unwrap()
}

/// `data-<attr>` of the chart `key` in the dumped DOM.
fn chart_attr(dom: &str, key: &str, attr: &str) -> f64 {
    let at = dom
        .find(&format!("data-chart=\"{key}\""))
        .unwrap_or_else(|| panic!("no chart {key:?} in the page:\n{dom}"));
    let rest = &dom[at..];
    let end = rest.find('>').unwrap();
    let tag = &rest[..end];
    let pat = format!("data-{attr}=\"");
    let v = &tag[tag
        .find(&pat)
        .unwrap_or_else(|| panic!("{key}: no {attr} in {tag}"))
        + pat.len()..];
    v[..v.find('"').unwrap()].parse().unwrap()
}

async fn history(url: &str) -> HistoryResp {
    reqwest::get(format!("{url}/api/v1/history"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_move_during_a_heal() {
    if chromium().is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium missing in CI: scripts/install-deps.sh should install it");
        }
        return eprintln!("chromium not installed: skipping (run scripts/install-deps.sh)");
    }
    // A slow re-replication scan, so the under-replicated chunks stay visible for a
    // few samples before the heal starts; no balancing (6 chunks on 4 servers are never
    // within 10% of the mean), whose moves would show as re-replication before the kill.
    let mut c = TestCluster::builder()
        .chunkservers(4)
        .replication(3)
        .master_config("rereplication_interval = \"2s\"\nbalance_spread = 100.0")
        .start()
        .await;
    let url = c.master_url();
    let profile = tempfile::tempdir().unwrap();
    phase!("write 24 MiB and read some back, so throughput and metadata charts have data");
    let cl = c.client();
    cl.mkdir_p("/heal").await.unwrap();
    for i in 0..6 {
        cl.put_bytes(&format!("/heal/f{i}"), random_bytes(4 << 20, i).into())
            .await
            .unwrap();
    }
    for i in 0..6 {
        cl.get_bytes(&format!("/heal/f{i}")).await.unwrap();
    }
    // Writes and reads reach the master with chunkserver heartbeats, namespace calls as
    // they are served: each chart needs a sample of its own, not one with all three.
    wait_for(
        "samples with write and read throughput and metadata calls",
        Duration::from_secs(20),
        async || {
            let h = history(&url).await.samples;
            h.iter().any(|s| s.write_bps > 0.0)
                && h.iter().any(|s| s.read_bps > 0.0)
                && h.iter().any(|s| s.meta_ops > 0.0)
        },
    )
    .await;
    phase!("load the dashboard: every chart renders");
    let dom = dump_dom(format!("{url}/"), profile.path().into()).await;
    for key in ["throughput", "meta", "health", "rereplication", "disks"] {
        assert!(
            chart_attr(&dom, key, "points") >= 2.0,
            "{key} has no points"
        );
    }
    assert!(chart_attr(&dom, "throughput", "max") > 0.0);
    assert!(chart_attr(&dom, "meta", "max") > 0.0);
    assert!(chart_attr(&dom, "disks", "max") > 0.0);
    assert_eq!(
        chart_attr(&dom, "health", "max"),
        0.0,
        "healthy before the kill"
    );
    assert_eq!(chart_attr(&dom, "rereplication", "max"), 0.0);
    let points_before = chart_attr(&dom, "health", "points");
    phase!("kill a chunkserver and wait for the heal");
    c.kill_chunkserver(0);
    c.wait_until("chunks under-replicated", Duration::from_secs(30), |s| {
        s.chunks.under_replicated > 0
    })
    .await;
    c.wait_until("healed", Duration::from_secs(90), |s| {
        s.chunks.under_replicated == 0 && s.chunks.missing == 0 && s.rereplication.completed > 0
    })
    .await;
    wait_for(
        "the history to show the whole heal",
        Duration::from_secs(20),
        async || {
            let h = history(&url).await.samples;
            h.iter().any(|s| s.under_replicated > 0)
                && h.iter().any(|s| s.rereplication_bps > 0.0)
                && h.last().is_some_and(|s| s.under_replicated == 0)
        },
    )
    .await;
    phase!("reload: the health and re-replication curves moved");
    let dom = dump_dom(format!("{url}/"), profile.path().into()).await;
    assert!(
        chart_attr(&dom, "health", "points") > points_before,
        "the charts advance"
    );
    assert!(
        chart_attr(&dom, "health", "max") > 0.0,
        "under-replicated chunks were drawn"
    );
    assert!(
        chart_attr(&dom, "rereplication", "max") > 0.0,
        "re-replication was drawn"
    );
    assert!(
        dom.contains("under-replicated 0"),
        "the legend shows the healed state"
    );
    phase!("screenshot");
    let png = c.root().join("dashboard-heal.png");
    screenshot(format!("{url}/"), profile.path().into(), png.clone()).await;
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real picture: {} bytes",
        bytes.len()
    );
    if let Some(dest) = std::env::var_os("FERROFS_SCREENSHOT") {
        std::fs::copy(&png, dest).unwrap();
    }
}
