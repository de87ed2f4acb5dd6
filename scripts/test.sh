#!/usr/bin/env bash
# The whole test suite. Needs only a Rust toolchain and Python 3 (with venv); installs the rest
# (a project-local .venv with the broker, moto and fakesnow) by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "python venv (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements-test.txt tests/sql/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-test.txt
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

step "chromium (headless, for the report page test)"
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "apt-get install chromium"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The binary cargo builds, wherever CARGO_TARGET_DIR puts it (the Python tests and check-deploy run it).
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
export PLAYSTREAM_BIN="$target/debug/playstream"

step "rustfmt"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
# The root crate's dev-dependency turns on the SDK's disk-queue and kafka features, so this also
# runs the kafka emitter's tests against tansu (tests/sdk_kafka.rs) and clippy above checked it.
cargo test --workspace

step "client SDK alone: default features (no kafka) lint-clean, all features tested"
cargo clippy -p playstream-sdk --lib -- -D warnings
cargo test -p playstream-sdk --all-features

step "operators' kit (docker-compose config, promtool, kubectl kustomize, CRD schemas, live Prometheus)"
bash scripts/check-deploy.sh

step "sql tests (fakesnow), the report against the views, the report page in headless Chromium"
.venv/bin/python -m pytest -q tests/sql

step "all tests passed"
