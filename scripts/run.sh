#!/usr/bin/env bash
# Runs wallsocket (release build) on http://127.0.0.1:3000 with its SQLite file in ./data/.
# Installs missing tools first. Pass flags through to the server after `--`, e.g.
#   scripts/run.sh -- --listen 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh
source scripts/env.sh
cargo leptos build --release --split
[[ "${1:-}" == "--" ]] && shift
exec target/release/wallsocket --site-root target/site "$@"
