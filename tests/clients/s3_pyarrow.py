"""pyarrow's S3 filesystem writes a Parquet table to the gateway and reads it back.
Run by tests/s3.rs with FERROFS_S3_ENDPOINT and the test keys set."""

import os
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ep = urlparse(os.environ["FERROFS_S3_ENDPOINT"])
fs = pafs.S3FileSystem(
    access_key=os.environ["FERROFS_S3_ACCESS_KEY"],
    secret_key=os.environ["FERROFS_S3_SECRET_KEY"],
    endpoint_override=ep.netloc,
    scheme=ep.scheme,
    region="us-east-1",
    allow_bucket_creation=True,
)
n = 200_000
table = pa.table({
    "id": pa.array(range(n), pa.int64()),
    "product": pa.array([f"p{i % 997}" for i in range(n)]),
    "amount": pa.array([(i * 37 % 1000) / 10 for i in range(n)], pa.float64()),
})
pq.write_table(table, "arrow/t/part-0.parquet", filesystem=fs, row_group_size=50_000)
info = fs.get_file_info("arrow/t/part-0.parquet")
assert info.type == pafs.FileType.File and info.size > 0, info
back = pq.read_table("arrow/t/part-0.parquet", filesystem=fs)
assert back.equals(table), "table read back differs"
# A dataset scan lists the prefix and reads row groups by range.
d = ds.dataset("arrow/t/", filesystem=fs, format="parquet")
assert d.count_rows() == n
sel = fs.get_file_info(pafs.FileSelector("arrow/t", recursive=True))
assert [f.path for f in sel] == ["arrow/t/part-0.parquet"], sel
print("pyarrow: round trip ok")
