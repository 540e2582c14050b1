# ferrofs: the two set-up commands, the local cluster, and the test suite.
# `make setup` installs system packages and builds; `make up` starts a local cluster
# mounted at ./mnt; `make test` runs the whole test suite.

DIR ?= ./ferrofs-data
MNT ?= ./mnt
CHUNKSERVERS ?= 4

.PHONY: setup deps build up test lint bench

deps:
	bash scripts/install-deps.sh

build:
	cargo build --bins

setup: deps build

up: build
	./target/debug/ferrofs up --dir $(DIR) --mount $(MNT) --chunkservers $(CHUNKSERVERS)

test:
	cargo test --workspace --all-targets --no-fail-fast

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	bash bench/run-all.sh
