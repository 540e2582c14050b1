#!/usr/bin/env python3
"""Build the deterministic git repository that bench/git.sh clones:

    gitrepo.py OUT_DIR MIN_FILES [CARGO_LOCK]

Real source trees, from cargo's registry (the crates a build of this project has
unpacked under $CARGO_HOME/registry/src, ~/.cargo by default): the crates of CRATES,
in that order, at the versions CARGO_LOCK (default: the project's Cargo.lock) names,
until the tree holds at least MIN_FILES files. Each crate goes to vendor/<name>/.

Two commits, like a dependency upgrade:
  1. "older": each crate at the oldest version the lock has of it;
  2. "newer" (HEAD): each crate at the newest (crates the lock has in one version only
     are the same in both).
Fixed author, committer and dates, so the same lock and MIN_FILES give the same commit
ids on any machine. A crate (or a version) of the list that is not unpacked here is
skipped (the commit ids printed then tell the difference).

Prints "<older commit> <newer commit> <files at HEAD> <crates> <crates that differ>",
and on stderr the crates used.
"""
import os
import re
import shutil
import subprocess
import sys

# Crates that come in two or three versions in the lock first (the upgrade commit
# changes them, so even a small tree has a diff to check out), then large trees built
# on Linux. Platform-specific crates (windows-*, winapi*, web-sys, r-efi) are left out:
# cargo does not unpack them on Linux.
CRATES = """
syn hashbrown rand rand_core rand_chacha getrandom itertools nom winnow thiserror
thiserror-impl base64 digest crypto-common toml_datetime synstructure foldhash
num-bigint spin shlex
tokio libc rustix zerocopy ring futures-util rustls regex-automata regex-syntax regex
serde serde_core serde_json hyper h2 axum fuser clap_builder reqwest bindgen
librocksdb-sys linux-raw-sys
""".split()

ENV = {
    "GIT_AUTHOR_NAME": "ferrofs bench",
    "GIT_AUTHOR_EMAIL": "bench@ferrofs.invalid",
    "GIT_COMMITTER_NAME": "ferrofs bench",
    "GIT_COMMITTER_EMAIL": "bench@ferrofs.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def vkey(v):
    """Sort key for a semver string (pre-release and build tags ignored)."""
    core = re.split(r"[-+]", v, maxsplit=1)[0]
    return [int(x) if x.isdigit() else 0 for x in core.split(".")]


def git(repo, *args, date=None):
    env = dict(os.environ, **ENV)
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(["git", "-C", repo, *args], env=env, check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def count_files(d):
    return sum(sum(1 for f in fs if f != ".cargo-ok") for _, _, fs in os.walk(d))


def main():
    out, min_files = sys.argv[1], int(sys.argv[2])
    here = os.path.dirname(os.path.abspath(__file__))
    lock = sys.argv[3] if len(sys.argv) > 3 else os.path.join(here, "..", "Cargo.lock")
    cargo_home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
    src_root = os.path.join(cargo_home, "registry", "src")
    indexes = sorted(os.path.join(src_root, d) for d in os.listdir(src_root)) if os.path.isdir(src_root) else []

    versions = {}
    text = open(lock).read()
    for name, ver in re.findall(
            r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"\nsource = "registry\+', text):
        versions.setdefault(name, []).append(ver)

    def unpacked(name, ver):
        for idx in indexes:
            p = os.path.join(idx, f"{name}-{ver}")
            if os.path.isfile(os.path.join(p, "Cargo.toml")):
                return p
        return None

    picked, total = [], 0  # (name, oldest dir, newest dir)
    for name in CRATES:
        # The versions of it the lock names and cargo has unpacked here.
        vs = [v for v in sorted(versions.get(name, []), key=vkey) if unpacked(name, v)]
        dirs = [unpacked(name, v) for v in vs]
        if not vs:
            print(f"gitrepo: skipping {name} (not in the lock, or not unpacked)", file=sys.stderr)
            continue
        picked.append((name, vs[0], dirs[0], vs[-1], dirs[-1]))
        total += count_files(dirs[-1])
        if total >= min_files:
            break
    if not picked:
        sys.exit(f"gitrepo: none of the crates is unpacked under {src_root} (build the project once, or set GIT_REPO)")
    if total < min_files:
        print(f"gitrepo: only {total} files from the crates found (asked for {min_files})", file=sys.stderr)

    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    git(out, "init", "-q", "-b", "main")
    commits = []
    for i, (label, date) in enumerate((("older", "2026-01-01T00:00:00Z"), ("newer", "2026-02-01T00:00:00Z"))):
        vendor = os.path.join(out, "vendor")
        if os.path.exists(vendor):
            shutil.rmtree(vendor)
        for name, old_v, old_d, new_v, new_d in picked:
            shutil.copytree(new_d if i else old_d, os.path.join(vendor, name), symlinks=True,
                            ignore=shutil.ignore_patterns(".cargo-ok"))
        with open(os.path.join(out, "README"), "w") as f:
            f.write(f"bench/gitrepo.py: {len(picked)} crates from cargo's registry, {label} versions\n")
            for name, old_v, _, new_v, _ in picked:
                f.write(f"{name} {new_v if i else old_v}\n")
        git(out, "add", "-A", "-f", ".")
        git(out, "commit", "-q", "-m", f"vendor: {label} versions", date=date)
        commits.append(git(out, "rev-parse", "HEAD"))
    nfiles = len(git(out, "ls-files").splitlines())
    differ = sum(1 for p in picked if p[1] != p[3])
    print("gitrepo: crates: " + ", ".join(
        f"{name} {old_v}" + (f"->{new_v}" if old_v != new_v else "") for name, old_v, _, new_v, _ in picked),
        file=sys.stderr)
    print(f"{commits[0]} {commits[1]} {nfiles} {len(picked)} {differ}")


if __name__ == "__main__":
    main()
