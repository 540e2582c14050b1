//! The dashboard at the master's `/` renders the live chunkserver list in a real browser
//! (headless Chromium), and shows a killed chunkserver as dead.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Load the page in headless Chromium, let its scripts run, and return the DOM.
fn dump_dom(url: &str, profile: &std::path::Path) -> String {
    let bin = chromium().expect("chromium is installed by scripts/install-deps.sh");
    let out = std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The dashboard lists every chunkserver as alive, then shows a killed one as dead.
#[tokio::test(flavor = "multi_thread")]
async fn dashboard_shows_live_chunkservers() {
    if chromium().is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium missing in CI: scripts/install-deps.sh should install it");
        }
        eprintln!("chromium not installed: skipping (run scripts/install-deps.sh)");
        return;
    }
    let mut cluster = TestCluster::builder().chunkservers(3).start().await;
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/", cluster.master_url());
    let ids: Vec<String> = (0..3).map(|i| cluster.chunkserver_id(i)).collect();
    phase!("load the dashboard");
    let dom = tokio::task::spawn_blocking({
        let (url, p) = (url.clone(), profile.path().to_path_buf());
        move || dump_dom(&url, &p)
    })
    .await
    .unwrap();
    for id in &ids {
        assert!(
            dom.contains(&format!("data-id=\"{id}\"")),
            "{id} missing from the dashboard:\n{dom}"
        );
    }
    assert!(
        dom.contains("3/3 chunkservers up"),
        "summary missing:\n{dom}"
    );
    assert_eq!(dom.matches(">alive<").count(), 3, "{dom}");
    phase!("kill one chunkserver and reload");
    cluster.kill_chunkserver(1);
    cluster
        .wait_until("dead server noticed", Duration::from_secs(20), |s| {
            s.chunkservers.iter().any(|c| !c.alive)
        })
        .await;
    let start = Instant::now();
    let dom = loop {
        let dom = tokio::task::spawn_blocking({
            let (url, p) = (url.clone(), profile.path().to_path_buf());
            move || dump_dom(&url, &p)
        })
        .await
        .unwrap();
        if dom.contains(">dead<") || start.elapsed() > Duration::from_secs(30) {
            break dom;
        }
    };
    assert!(
        dom.contains(">dead<"),
        "killed server not shown dead:\n{dom}"
    );
    assert!(dom.contains("2/3 chunkservers up"), "{dom}");
}
