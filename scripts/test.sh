#!/usr/bin/env bash
# The project's one test command: every crate's tests (both store backends), then the
# shared conformance scenarios when a `shared/` folder sits beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase says when it starts and how far into the run that is, so a slow phase shows in the log.
started=$SECONDS
phase() { echo "== [$((SECONDS - started)) s] $*"; }

# PostgreSQL backs the second store; start the local cluster if it is installed but down.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
    [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
fi

# The tests get a PostgreSQL database of their own, made here and dropped at the end, so a
# schema another checkout's tests left in the shared database cannot get in the way.
if [ -z "${PORTCULLIS_TEST_POSTGRES:-}" ] && command -v psql >/dev/null 2>&1 \
  && psql -h 127.0.0.1 -U postgres -d test -qtAc 'SELECT 1' >/dev/null 2>&1; then
  test_db="portcullis_test_$$"
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $test_db" >/dev/null
  export PORTCULLIS_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/$test_db"
  trap 'psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $test_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
fi

# Style first (cheap, and a red here says what to fix): formatting, lints with warnings denied,
# and the documentation (private items included: it is written for the people changing the code).
# The benchmark crate (Cedar side by side) stays out: it is heavy and only for measuring.
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
phase style: fmt, clippy, rustdoc
cargo fmt --all --check
cargo fmt --all --check --manifest-path fuzz/Cargo.toml
cargo clippy --workspace --exclude portcullis-bench --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings -A rustdoc::private-intra-doc-links" \
  cargo doc --workspace --exclude portcullis-bench --no-deps --document-private-items --locked --quiet

phase "every crate's tests"
cargo test --workspace --exclude portcullis-bench --locked

# The official @qlik/api client against the real server (needs Node 20+ and the npm registry).
phase the @qlik/api e2e
scripts/e2e-qlik-api.sh

# The same APIs driven by Qlik's Python SDK (`qlik-sdk`; needs python3 and the package index).
phase the Python SDK e2e
scripts/e2e-qlik-sdk.sh

# The web console in a real headless Chromium (Debian's), with axe-core on every page (needs
# Node 20+, the npm registry, and chromium or apt-get to install it).
phase the console e2e
scripts/e2e-console.sh

# HTTP API fuzzing: schemathesis against /openapi.json, bounded (needs python3 and the package index).
phase schemathesis
scripts/schemathesis.sh

# Three nodes on one PostgreSQL behind nginx: the change feed, consistency tokens, revocation,
# a node killed and PostgreSQL restarted under writes (needs PostgreSQL's programs and nginx).
phase three nodes
scripts/three-nodes.sh

# The fuzz targets (their own workspace) must keep type-checking; fuzzing itself is `cargo +nightly fuzz run`.
phase the fuzz build
cargo check --quiet --locked --manifest-path fuzz/Cargo.toml --bins

# The AuthZEN working group's interop suites (Todo, API gateway, Search) against the real
# server, each scenario a rule site (needs python3).
phase AuthZEN interop
scripts/authzen-interop.sh

if [ -d ../shared/conformance ]; then
  phase "shared conformance scenarios"
  cargo run --quiet --locked -p portcullis-cli -- test ../shared/conformance
fi
phase done
