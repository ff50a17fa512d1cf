#!/usr/bin/env bash
# Runs every test: formatting, line width and lints, unit and integration tests (cargo), the
# tests that need services (PostgreSQL, started by the tests themselves), a browser
# smoke test against a debug build made without `--split`, then the browser tests (Playwright with
# Debian's Chromium) against a release build, then every benchmark at a toy size. Installs missing
# tools first. Each step runs under its own time limit, so a hang fails with the step's name
# instead of eating the whole CI budget.
set -euo pipefail
cd "$(dirname "$0")/.."

# step NAME LIMIT COMMAND...: runs COMMAND, failing with NAME if it takes longer than LIMIT.
step() {
  local name=$1 limit=$2 status=0
  shift 2
  echo "==> $name (limit $limit)"
  timeout --kill-after=30s "$limit" "$@" || status=$?
  if [[ $status == 124 || $status == 137 ]]; then
    echo "FAILED: '$name' did not finish within $limit" >&2
  fi
  if [[ $status != 0 ]]; then
    exit "$status"
  fi
}

step "install missing tools" 60m scripts/install-tools.sh --browser --cluster
source scripts/env.sh

# The RUSTFLAGS value is the one `cargo leptos` uses for debug builds: one set of compiled
# dependencies for lints, tests and `cargo leptos watch`.
export RUSTFLAGS="--cfg erase_components"
step "formatting (cargo fmt --check)" 5m cargo fmt --all --check
step "lines at most 120 columns" 1m scripts/check-line-width.sh
step "lints, server side (cargo clippy -D warnings)" 30m \
  cargo clippy --workspace --exclude frontend --features app/ssr --all-targets -- -D warnings
step "lints, browser side (cargo clippy -D warnings, wasm32)" 20m \
  cargo clippy -p app -p frontend --target wasm32-unknown-unknown --features app/hydrate -- -D warnings
step "unit and integration tests" 30m cargo test --workspace --exclude frontend --features app/ssr
step "cluster tests" 15m \
  cargo test -p wallsocket --features app/ssr --test cluster -- --ignored --test-threads=1
unset RUSTFLAGS

# The developer's plain `cargo leptos build` (no `--split`: the lesson pages in the one bundle),
# into a site directory of its own so the release build's split bundle below is untouched.
step "debug build without --split (server + one WASM bundle)" 30m \
  env LEPTOS_SITE_ROOT=target/site-nosplit cargo leptos build
step "browser smoke test against it" 5m bash -c \
  'cd end2end && E2E_SERVER=../target/debug/wallsocket E2E_SITE_ROOT=../target/site-nosplit npx playwright test smoke.spec.ts'
step "release build (server + WASM bundle)" 40m cargo leptos build --release --split
step "browser tests" 20m bash -c 'cd end2end && npx playwright test'
step "browser tests behind nginx" 15m bash -c 'cd end2end && npx playwright test -c playwright.cluster.config.ts'
step "every benchmark once, at a toy size (so the harness cannot rot)" 20m scripts/bench.sh --tiny
