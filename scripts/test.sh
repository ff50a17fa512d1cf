#!/usr/bin/env bash
# Runs every test: unit and integration tests (cargo), then the browser tests (Playwright
# with Debian's Chromium) against a release build. Installs missing tools first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh --browser
source scripts/env.sh

echo "==> unit and integration tests"
RUSTFLAGS="--cfg erase_components" cargo test --workspace --exclude frontend --features app/ssr

echo "==> release build (server + WASM bundle)"
cargo leptos build --release --split

echo "==> browser tests"
(cd end2end && npx playwright test)

echo "==> every benchmark once, at a toy size (so the harness cannot rot)"
scripts/bench.sh --tiny
