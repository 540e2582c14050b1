"""Every S3 operation the gateway implements, through boto3, with the errors a client
must see. Run by tests/s3.rs with FERROFS_S3_ENDPOINT, FERROFS_S3_ACCESS_KEY and
FERROFS_S3_SECRET_KEY set; exits non-zero (an assertion) on the first mismatch."""

import hashlib
import os
import sys

import boto3
import botocore
from botocore.config import Config

endpoint = os.environ["FERROFS_S3_ENDPOINT"]
ak = os.environ["FERROFS_S3_ACCESS_KEY"]
sk = os.environ["FERROFS_S3_SECRET_KEY"]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})


def client(secret=sk, signed=True):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", config=cfg)
    if signed:
        kw.update(aws_access_key_id=ak, aws_secret_access_key=secret)
    else:
        kw.update(config=cfg.merge(Config(signature_version=botocore.UNSIGNED)))
    return boto3.client("s3", **kw)


s3 = client()


def phase(msg):
    print("---", msg, flush=True)


def error_code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} succeeded, an error was expected")


phase("buckets: create, head, location, list, duplicate")
s3.create_bucket(Bucket="boto")
s3.head_bucket(Bucket="boto")
loc = s3.get_bucket_location(Bucket="boto")
assert loc.get("LocationConstraint") in (None, ""), loc
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert "boto" in names, names
assert error_code(s3.create_bucket, Bucket="boto") == "BucketAlreadyOwnedByYou"
assert error_code(s3.head_bucket, Bucket="nobucket") in ("404", "NoSuchBucket")
assert error_code(s3.list_objects_v2, Bucket="nobucket") == "NoSuchBucket"
assert error_code(s3.create_bucket, Bucket="Bad_Name") in ("InvalidBucketName",)

phase("put/get/head with metadata; ETag is the MD5")
body = os.urandom(300_000)
r = s3.put_object(Bucket="boto", Key="dir/sub/obj.bin", Body=body,
                  ContentType="application/x-test", Metadata={"color": "blue"})
md5 = hashlib.md5(body).hexdigest()
assert r["ETag"].strip('"') == md5, (r["ETag"], md5)
g = s3.get_object(Bucket="boto", Key="dir/sub/obj.bin")
assert g["Body"].read() == body
assert g["ETag"].strip('"') == md5
assert g["ContentType"] == "application/x-test", g["ContentType"]
assert g["Metadata"] == {"color": "blue"}, g["Metadata"]
h = s3.head_object(Bucket="boto", Key="dir/sub/obj.bin")
assert h["ContentLength"] == len(body)
assert error_code(s3.head_object, Bucket="boto", Key="dir/sub/none") in ("404", "NoSuchKey")
assert error_code(s3.get_object, Bucket="boto", Key="dir/sub/none") == "NoSuchKey"
assert error_code(s3.get_object, Bucket="nobucket", Key="x") == "NoSuchBucket"
assert error_code(s3.put_object, Bucket="boto", Key="a//b", Body=b"x") == "InvalidArgument"

phase("ranges and InvalidRange")
g = s3.get_object(Bucket="boto", Key="dir/sub/obj.bin", Range="bytes=1000-1999")
assert g["Body"].read() == body[1000:2000]
assert g["ContentRange"] == f"bytes 1000-1999/{len(body)}", g["ContentRange"]
g = s3.get_object(Bucket="boto", Key="dir/sub/obj.bin", Range="bytes=-10")
assert g["Body"].read() == body[-10:]
g = s3.get_object(Bucket="boto", Key="dir/sub/obj.bin", Range=f"bytes={len(body) - 5}-")
assert g["Body"].read() == body[-5:]
assert error_code(s3.get_object, Bucket="boto", Key="dir/sub/obj.bin",
                  Range=f"bytes={len(body)}-") == "InvalidRange"

phase("empty object, directory marker, overwrite")
s3.put_object(Bucket="boto", Key="empty", Body=b"")
assert s3.get_object(Bucket="boto", Key="empty")["Body"].read() == b""
s3.put_object(Bucket="boto", Key="folder/", Body=b"")
lst = s3.list_objects_v2(Bucket="boto", Prefix="folder/")
assert [o["Key"] for o in lst["Contents"]] == ["folder/"], lst
s3.put_object(Bucket="boto", Key="empty", Body=b"now full")
assert s3.get_object(Bucket="boto", Key="empty")["Body"].read() == b"now full"

phase("copy: same bucket, metadata kept; replace; copy onto itself")
s3.create_bucket(Bucket="boto2")
c = s3.copy_object(Bucket="boto2", Key="copied", CopySource={"Bucket": "boto", "Key": "dir/sub/obj.bin"})
assert c["CopyObjectResult"]["ETag"].strip('"') == md5
g = s3.get_object(Bucket="boto2", Key="copied")
assert g["Body"].read() == body and g["Metadata"] == {"color": "blue"}
s3.copy_object(Bucket="boto2", Key="copied", CopySource={"Bucket": "boto2", "Key": "copied"},
               MetadataDirective="REPLACE", Metadata={"color": "red"})
assert s3.head_object(Bucket="boto2", Key="copied")["Metadata"] == {"color": "red"}
assert error_code(s3.copy_object, Bucket="boto2", Key="x",
                  CopySource={"Bucket": "boto", "Key": "missing"}) == "NoSuchKey"

phase("listing: v1 and v2, prefix, delimiter, pagination")
keys = [f"list/{d}/k{i:03d}" for d in ("a", "b") for i in range(25)] + ["list/top"]
for k in keys:
    s3.put_object(Bucket="boto", Key=k, Body=k.encode())
got, token = [], None
while True:
    kw = dict(Bucket="boto", Prefix="list/", MaxKeys=7)
    if token:
        kw["ContinuationToken"] = token
    p = s3.list_objects_v2(**kw)
    got += [o["Key"] for o in p.get("Contents", [])]
    assert p["KeyCount"] <= 7
    if not p["IsTruncated"]:
        break
    token = p["NextContinuationToken"]
assert got == sorted(keys), got
p = s3.list_objects_v2(Bucket="boto", Prefix="list/", Delimiter="/")
assert [c["Prefix"] for c in p["CommonPrefixes"]] == ["list/a/", "list/b/"], p
assert [o["Key"] for o in p["Contents"]] == ["list/top"]
pages = s3.get_paginator("list_objects").paginate(Bucket="boto", Prefix="list/", PaginationConfig={"PageSize": 6})
got1 = [o["Key"] for pg in pages for o in pg.get("Contents", [])]
assert got1 == sorted(keys), got1
pages = s3.get_paginator("list_objects").paginate(Bucket="boto", Prefix="list/", Delimiter="/",
                                                    PaginationConfig={"PageSize": 1})
cps = [c["Prefix"] for pg in pages for c in pg.get("CommonPrefixes", [])]
assert cps == ["list/a/", "list/b/"], cps
p = s3.list_objects_v2(Bucket="boto", Prefix="list/a/", StartAfter="list/a/k020")
assert [o["Key"] for o in p["Contents"]] == [f"list/a/k{i:03d}" for i in range(21, 25)]

phase("multipart: upload, list parts, complete; abort")
part = 5 * 1024 * 1024
data = os.urandom(2 * part + 12345)
mpu = s3.create_multipart_upload(Bucket="boto", Key="big/multi.bin", ContentType="x/y")
uid = mpu["UploadId"]
etags = []
for n, off in enumerate(range(0, len(data), part), start=1):
    r = s3.upload_part(Bucket="boto", Key="big/multi.bin", UploadId=uid, PartNumber=n, Body=data[off:off + part])
    assert r["ETag"].strip('"') == hashlib.md5(data[off:off + part]).hexdigest()
    etags.append(r["ETag"])
lp = s3.list_parts(Bucket="boto", Key="big/multi.bin", UploadId=uid)
assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3], lp
ups = s3.list_multipart_uploads(Bucket="boto")
assert uid in [u["UploadId"] for u in ups.get("Uploads", [])]
assert error_code(s3.complete_multipart_upload, Bucket="boto", Key="big/multi.bin", UploadId=uid,
                  MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]},
                                             {"PartNumber": 1, "ETag": etags[0]}]}) == "InvalidPartOrder"
assert error_code(s3.complete_multipart_upload, Bucket="boto", Key="big/multi.bin", UploadId=uid,
                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[1]}]}) == "InvalidPart"
s3.complete_multipart_upload(Bucket="boto", Key="big/multi.bin", UploadId=uid,
                             MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
g = s3.get_object(Bucket="boto", Key="big/multi.bin")
assert g["Body"].read() == data
want = hashlib.md5(b"".join(hashlib.md5(data[o:o + part]).digest() for o in range(0, len(data), part))).hexdigest()
assert g["ETag"].strip('"') == f"{want}-3", (g["ETag"], want)
assert g["ContentType"] == "x/y"
assert error_code(s3.list_parts, Bucket="boto", Key="big/multi.bin", UploadId=uid) == "NoSuchUpload"
small = s3.create_multipart_upload(Bucket="boto", Key="big/small.bin")["UploadId"]
e1 = s3.upload_part(Bucket="boto", Key="big/small.bin", UploadId=small, PartNumber=1, Body=b"x" * 100)["ETag"]
e2 = s3.upload_part(Bucket="boto", Key="big/small.bin", UploadId=small, PartNumber=2, Body=b"y")["ETag"]
assert error_code(s3.complete_multipart_upload, Bucket="boto", Key="big/small.bin", UploadId=small,
                  MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}) == "EntityTooSmall"
s3.abort_multipart_upload(Bucket="boto", Key="big/small.bin", UploadId=small)
assert error_code(s3.list_parts, Bucket="boto", Key="big/small.bin", UploadId=small) == "NoSuchUpload"
assert error_code(s3.head_object, Bucket="boto", Key="big/small.bin") in ("404", "NoSuchKey")
assert error_code(s3.upload_part, Bucket="boto", Key="big/x", UploadId="0" * 32, PartNumber=1, Body=b"") == "NoSuchUpload"

phase("integrity: a wrong Content-MD5 is BadDigest and stores nothing")
import base64
bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
assert error_code(s3.put_object, Bucket="boto", Key="digest", Body=b"payload", ContentMD5=bad) == "BadDigest"
assert error_code(s3.head_object, Bucket="boto", Key="digest") in ("404", "NoSuchKey")

phase("auth: a wrong secret and an unsigned request are refused")
assert error_code(client(secret="wrong").list_buckets) == "SignatureDoesNotMatch"
assert error_code(client(signed=False).list_objects_v2, Bucket="boto") == "AccessDenied"

phase("delete: one, many, bucket not empty, bucket delete")
s3.delete_object(Bucket="boto", Key="dir/sub/obj.bin")
assert error_code(s3.get_object, Bucket="boto", Key="dir/sub/obj.bin") == "NoSuchKey"
s3.delete_object(Bucket="boto", Key="never-existed")  # deleting nothing succeeds
assert error_code(s3.delete_bucket, Bucket="boto2") == "BucketNotEmpty"
r = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": k} for k in keys]})
assert len(r["Deleted"]) == len(keys), r
p = s3.list_objects_v2(Bucket="boto", Prefix="list/")
assert p["KeyCount"] == 0, p  # emptied directories are gone with their objects
s3.delete_object(Bucket="boto2", Key="copied")
s3.delete_bucket(Bucket="boto2")
assert error_code(s3.head_bucket, Bucket="boto2") in ("404", "NoSuchBucket")
print("boto3: all checks passed")
