//! The sales-per-product job (examples/sales_per_product) end to end on a real cluster,
//! small: 100k transactions written as CSV and Parquet through the object_store
//! backend, totalled per product by DataFusion SQL, checked against the totals
//! computed while generating (the job fails on any difference).

mod common;
#[path = "../examples/sales_per_product/job.rs"]
mod job;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn sales_per_product_small() {
    let c = TestCluster::builder()
        .chunkservers(3)
        .replication(2)
        .start()
        .await;
    let j = job::Job {
        master: c.master_url(),
        rows: 100_000,
        products: 1000,
        files: 4,
        dir: "/sales".into(),
    };
    phase!("run the job");
    let r = job::run(&j).await.expect("the job");
    eprintln!("{r:?}");
    assert_eq!(r.rows, 100_000);
    assert!(
        r.parquet_bytes > 0 && r.parquet_bytes < r.csv_bytes,
        "{r:?}"
    );
    assert!(r.write_secs > 0.0 && r.csv_query_secs > 0.0 && r.parquet_query_secs > 0.0);
    assert!(
        r.products_checked > 900,
        "only {} products had sales",
        r.products_checked
    );
    phase!("the tables are files in the namespace");
    let cl = c.client();
    let csv = cl.resolve("/sales/csv").await.unwrap();
    let parts = cl.readdir_all(csv.ino).await.unwrap();
    assert_eq!(parts.len(), 4);
    assert_eq!(parts.iter().map(|e| e.attr.size).sum::<u64>(), r.csv_bytes);
    phase!("a second run replaces the first run's files");
    let r2 = job::run(&j).await.expect("the job again");
    assert_eq!(r2.products_checked, r.products_checked);
}
