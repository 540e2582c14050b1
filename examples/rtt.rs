//! Master round-trip latency from the client library: N sequential getattr calls.
use ferrofs_client::{Client, ClientConfig};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let flavor = std::env::args().nth(1).unwrap_or("multi".into());
    let rt = if flavor == "current" {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        let c = Client::new(ClientConfig::new("http://127.0.0.1:9000"))?;
        let n = 5000;
        c.getattr(1).await?;
        let t = Instant::now();
        for _ in 0..n {
            c.getattr(1).await?;
        }
        println!(
            "{flavor}: getattr {:.1} us",
            t.elapsed().as_secs_f64() / n as f64 * 1e6
        );
        anyhow::Ok(())
    })
}
