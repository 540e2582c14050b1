# ferrofs: the local cluster and the test suite. `make up` starts a local cluster
# mounted at ./mnt and `make test` runs the whole test suite; each first installs what
# it needs (idempotent), so either works as the first command on a fresh machine.
# `make setup` does only the install and build.

DIR ?= ./ferrofs-data
MNT ?= ./mnt
CHUNKSERVERS ?= 4
MASTERS ?= 1

.PHONY: setup deps build up test lint bench

deps:
	bash scripts/install-deps.sh

build:
	cargo build --bins

setup: deps build

up: deps build
	./target/debug/ferrofs up --dir $(DIR) --mount $(MNT) --chunkservers $(CHUNKSERVERS) --masters $(MASTERS)

test: deps
	cargo test --workspace --all-targets --no-fail-fast

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	bash bench/run-all.sh
