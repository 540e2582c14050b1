//! The sales-per-product job: generate a transactions table, write it into ferrofs as
//! CSV and Parquet files, and total the sales per product with DataFusion SQL reading
//! through the ferrofs `object_store` backend; check the totals against the ones
//! computed while generating. Shared by the example's `main` and its CI test.

use datafusion::arrow::array::{Array, Int32Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use ferrofs_client::{Client, ClientConfig};
use ferrofs_object_store::FerroStore;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use std::sync::Arc;
use std::time::Instant;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Job {
    pub master: String,
    pub rows: u64,
    pub products: u32,
    /// Files per format (DataFusion reads them in parallel).
    pub files: u32,
    /// Directory in ferrofs the tables go under (the store's root).
    pub dir: String,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: u64,
    pub csv_bytes: u64,
    pub parquet_bytes: u64,
    pub write_secs: f64,
    pub csv_query_secs: f64,
    pub parquet_query_secs: f64,
    /// Products whose total matched (all of them, or the job fails).
    pub products_checked: usize,
}

const SQL: &str = "SELECT product_id, SUM(CAST(quantity AS BIGINT) * unit_price_cents) AS sales \
                   FROM {t} GROUP BY product_id ORDER BY product_id";

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("txn_id", DataType::Int64, false),
        Field::new("product_id", DataType::Int32, false),
        Field::new("quantity", DataType::Int32, false),
        Field::new("unit_price_cents", DataType::Int64, false),
    ]))
}

/// splitmix64: a small deterministic generator, so every run writes the same table.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One file's rows, adding each sale to `totals`.
fn generate(first: u64, n: u64, products: u32, totals: &mut [i64]) -> RecordBatch {
    let mut rng = Rng(first ^ 0x0FE2_20F5);
    let mut ids = Vec::with_capacity(n as usize);
    let mut prod = Vec::with_capacity(n as usize);
    let mut qty = Vec::with_capacity(n as usize);
    let mut price = Vec::with_capacity(n as usize);
    for i in 0..n {
        let r = rng.next();
        // A skewed product mix: low ids sell more, as real catalogues do.
        let p = ((r % u64::from(products)) * (r >> 40 & 0xff) / 255) as i32;
        let q = 1 + (r >> 8 & 0x7) as i32;
        let c = 99 + (r >> 16 & 0x3fff) as i64;
        totals[p as usize] += i64::from(q) * c;
        ids.push((first + i) as i64);
        prod.push(p);
        qty.push(q);
        price.push(c);
    }
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Int32Array::from(prod)),
            Arc::new(Int32Array::from(qty)),
            Arc::new(Int64Array::from(price)),
        ],
    )
    .expect("columns match the schema")
}

fn to_csv(b: &RecordBatch) -> Vec<u8> {
    let col = |i: usize| b.column(i).as_any();
    let ids = col(0).downcast_ref::<Int64Array>().expect("txn_id");
    let prod = col(1).downcast_ref::<Int32Array>().expect("product_id");
    let qty = col(2).downcast_ref::<Int32Array>().expect("quantity");
    let price = col(3).downcast_ref::<Int64Array>().expect("price");
    let mut out = String::with_capacity(b.num_rows() * 32);
    out.push_str("txn_id,product_id,quantity,unit_price_cents\n");
    use std::fmt::Write;
    for i in 0..b.num_rows() {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            ids.value(i),
            prod.value(i),
            qty.value(i),
            price.value(i)
        );
    }
    out.into_bytes()
}

fn to_parquet(b: &RecordBatch) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    // No compression codec is built in (each is a C library to compile); delta-packed
    // integers are what makes these columns small.
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_dictionary_enabled(false)
        .set_encoding(datafusion::parquet::basic::Encoding::DELTA_BINARY_PACKED)
        .build();
    let mut w = ArrowWriter::try_new(&mut buf, schema(), Some(props))?;
    w.write(b)?;
    w.close()?;
    Ok(buf)
}

/// Run the SQL over table `t` and return (product, total) rows.
async fn totals_by_sql(ctx: &SessionContext, t: &str) -> anyhow::Result<Vec<(i32, i64)>> {
    let batches = ctx.sql(&SQL.replace("{t}", t)).await?.collect().await?;
    let mut out = vec![];
    for b in batches {
        let p = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("product_id");
        let s = b
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("sales");
        for i in 0..b.num_rows() {
            out.push((p.value(i), s.value(i)));
        }
    }
    Ok(out)
}

fn check(got: &[(i32, i64)], want: &[i64], what: &str) -> anyhow::Result<usize> {
    let want: Vec<(i32, i64)> = want
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != 0)
        .map(|(p, s)| (p as i32, *s))
        .collect();
    if got != want {
        let first = got.iter().zip(&want).find(|(a, b)| a != b);
        anyhow::bail!(
            "{what}: totals differ from the direct computation ({} vs {} products; first difference {first:?})",
            got.len(),
            want.len()
        );
    }
    Ok(want.len())
}

pub async fn run(job: &Job) -> anyhow::Result<Report> {
    let client = Client::new(ClientConfig::new(job.master.clone()))?;
    client.mkdir_p(&job.dir).await?;
    let store = Arc::new(FerroStore::new(client, &job.dir)?);
    // Start clean: a previous run's files would be read too.
    let old: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(store.list(None)).await?;
    for m in old {
        store.delete(&m.location).await?;
    }

    let mut totals = vec![0i64; job.products as usize];
    let files = u64::from(job.files.max(1));
    let per_file = job.rows.div_ceil(files);
    let (mut csv_bytes, mut parquet_bytes) = (0u64, 0u64);
    let start = Instant::now();
    let mut first = 0;
    let mut i = 0;
    while first < job.rows {
        let n = per_file.min(job.rows - first);
        let batch = generate(first, n, job.products, &mut totals);
        let csv = to_csv(&batch);
        let pq = to_parquet(&batch)?;
        csv_bytes += csv.len() as u64;
        parquet_bytes += pq.len() as u64;
        let (cp, pp) = (
            Path::from(format!("csv/part-{i:04}.csv")),
            Path::from(format!("parquet/part-{i:04}.parquet")),
        );
        futures::try_join!(store.put(&cp, csv.into()), store.put(&pp, pq.into()))?;
        first += n;
        i += 1;
    }
    let write_secs = start.elapsed().as_secs_f64();

    let ctx = SessionContext::new();
    let url = url::Url::parse("ferrofs://sales")?;
    ctx.register_object_store(&url, store.clone());
    ctx.register_csv(
        "tx_csv",
        "ferrofs://sales/csv/",
        CsvReadOptions::new().schema(&schema()).has_header(true),
    )
    .await?;
    ctx.register_parquet(
        "tx_parquet",
        "ferrofs://sales/parquet/",
        ParquetReadOptions::default(),
    )
    .await?;

    let t = Instant::now();
    let got = totals_by_sql(&ctx, "tx_csv").await?;
    let csv_query_secs = t.elapsed().as_secs_f64();
    let products_checked = check(&got, &totals, "CSV")?;
    let t = Instant::now();
    let got = totals_by_sql(&ctx, "tx_parquet").await?;
    let parquet_query_secs = t.elapsed().as_secs_f64();
    check(&got, &totals, "Parquet")?;
    Ok(Report {
        rows: job.rows,
        csv_bytes,
        parquet_bytes,
        write_secs,
        csv_query_secs,
        parquet_query_secs,
        products_checked,
    })
}
