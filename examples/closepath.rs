//! Where the time of a small-file close goes: times each client call of one
//! create + 10 KiB write + sync + commit, sequentially, N times.
use ferrofs_client::{Client, ClientConfig};
use ferrofs_proto::namespace::{CreateReq, FileKind};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let master = std::env::args()
        .nth(1)
        .unwrap_or("http://127.0.0.1:9000".into());
    let n: u32 = 300;
    let c = Client::new(ClientConfig::new(master))?;
    let dir = c.mkdir_p(&format!("/cp{}", std::process::id())).await?;
    let mut t = [0f64; 5];
    let data = bytes::Bytes::from(vec![7u8; 10000]);
    for i in 0..n {
        let t0 = Instant::now();
        let a = c
            .create(CreateReq {
                parent: dir.ino,
                name: format!("f{i}"),
                kind: FileKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                rdev: 0,
                symlink_target: None,
                exclusive: true,
                replication: None,
            })
            .await?
            .attr;
        let t1 = Instant::now();
        c.write_chunk(a.ino, 0, 0, data.slice(0..1), false).await?;
        let t2 = Instant::now();
        c.write_chunk(a.ino, 0, 0, data.clone(), true).await?;
        let t3 = Instant::now();
        c.write_chunk(a.ino, 0, 0, data.clone(), false).await?;
        let t4 = Instant::now();
        c.commit(a.ino, 10000, None, true).await?;
        let t5 = Instant::now();
        for (k, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]
            .iter()
            .enumerate()
        {
            t[k] += d.as_secs_f64();
        }
    }
    let names = [
        "create",
        "lease+write 1 byte",
        "write(sync) 10k",
        "write(nosync) 10k",
        "commit(sync)",
    ];
    for (k, name) in names.iter().enumerate() {
        println!("{name}: {:.0} us", t[k] / n as f64 * 1e6);
    }
    Ok(())
}
